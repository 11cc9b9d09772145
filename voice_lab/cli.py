"""Command-line tools: `flask --app app doctor`, `export ID [--bundle]`, `import FILE`,
`db upgrade`."""

from __future__ import annotations

import time

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from . import providers
from .config import configured_providers, mask
from .emulator import voice
from .exchange.bundle import bundle_chunks, read_import
from .exchange.export import export_chunks
from .exchange.reader import ImportRefused
from .ingest import panel_state
from .storage import open_store
from .storage.errors import StorageError
from .storage.migrations import NAMES

# What to do about each kind of failure, keyed by the service's status.
FIXES = {
    401: "the API key is not accepted here: check that it belongs to this endpoint",
    403: "the key has no access to realtime: check the resource's permissions",
    404: "nothing at that path: check the endpoint and that the deployment is a realtime model",
    429: "the service is rate limiting: wait and retry, or raise the deployment's quota",
}


@click.command("doctor")
@click.option("--provider", help="Check this provider instead of the configured default.")
@with_appcontext
def doctor_command(provider: str | None) -> None:
    """Check the configuration: mint one key and say how long it took, or what to fix."""
    cfg = current_app.config
    provider = provider or cfg["VOICE_LAB_PROVIDER"]
    click.echo(f"provider:  {provider} (configured: {', '.join(configured_providers(cfg))})")
    for line in _describe(provider, cfg):
        click.echo(line)
    emulator = current_app.extensions.get("voice_lab_emulator")
    base = f"http://{cfg['VOICE_LAB_HOST']}:{cfg['VOICE_LAB_PORT']}/"
    started = time.perf_counter()
    try:
        key = providers.mint(
            provider,
            cfg,
            providers.MintOptions(),
            emulator=emulator.mint if emulator else None,
            emulator_base=base,
        )
    except providers.MintError as exc:
        click.echo(f"mint:      FAILED after {_ms(started)} ms", err=True)
        click.echo(
            f"problem:   {exc.source} said {exc.status or ''} {exc.code or ''}: {exc.message}",
            err=True,
        )
        click.echo(f"fix:       {_fix(exc)}", err=True)
        raise SystemExit(1) from None
    click.echo(
        f"mint:      ok in {_ms(started)} ms (key {mask(key.value)}, expires in "
        f"{key.expires_at - int(time.time())} s)"
    )
    click.echo(f"protocol:  {key.protocol}  model: {key.model}  voice: {key.voice}")
    click.echo(f"webrtc:    {key.webrtc_url}")
    _check_database()


def _check_database() -> None:
    """Say which database the app uses, that it answers and how far it is migrated, or what
    to fix."""
    try:
        store = open_store()
        try:
            where, version = store.describe(), store.version()
        finally:
            store.close()
    except StorageError as exc:
        click.echo(f"database:  FAILED: {exc}", err=True)
        click.echo("fix:       check VOICE_LAB_DATABASE and that the database is up", err=True)
        raise SystemExit(1) from None
    click.echo(f"database:  {where}")
    if version < len(NAMES):
        click.echo(f"schema:    at version {version} of {len(NAMES)}", err=True)
        click.echo("fix:       run `flask --app app db upgrade`", err=True)
        raise SystemExit(1)
    click.echo(f"schema:    at version {version} of {len(NAMES)} (up to date)")


def _describe(provider: str, cfg) -> list[str]:
    if provider.startswith("azure"):
        return [
            f"endpoint:  {cfg.get('AZURE_OPENAI_ENDPOINT')}",
            f"api key:   {mask(cfg.get('AZURE_OPENAI_API_KEY'))}",
            f"deployment: {cfg.get('AZURE_OPENAI_REALTIME_DEPLOYMENT')}",
        ]
    if provider == "openai":
        return [
            f"base url:  {cfg.get('OPENAI_BASE_URL')}",
            f"api key:   {mask(cfg.get('OPENAI_API_KEY'))}",
        ]
    return [
        "endpoint:  the embedded emulator (no credentials needed)",
        f"speech:    replies spoken by {voice.default().name}",
    ]


def _fix(exc: providers.MintError) -> str:
    if isinstance(exc, providers.NotConfigured):
        return exc.message
    if isinstance(exc, providers.UpstreamUnreachable):
        return "check the endpoint URL and that this machine can reach it"
    if exc.code == "DeploymentNotFound":
        return "AZURE_OPENAI_REALTIME_DEPLOYMENT must name a realtime deployment of this resource"
    hint = FIXES.get(exc.status or 0, "see the service's message above")
    return f"{hint} (retry after {exc.retry_after} s)" if exc.retry_after else hint


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


@click.command("export")
@click.argument("session_id")
@click.option(
    "-o",
    "--output",
    type=click.File("wb"),
    default="-",
    help="Write here instead of standard output.",
)
@click.option("--bundle", is_flag=True, help="Write a ZIP of the JSON export and the recording.")
@with_appcontext
def export_command(session_id: str, output, bundle: bool) -> None:
    """Write a session's events in Voice Lab's JSON format, or with --bundle its bundle."""
    store = open_store()
    try:
        session = store.get_session(session_id)
        if session is None:
            raise click.ClickException(f"no session {session_id!r} (see the list at /)")
        rows = store.export_rows(session_id)
        if bundle:
            for piece in bundle_chunks(session, rows, store.audio_chunks(session_id)):
                output.write(piece)
        else:
            for chunk in export_chunks(session, rows):
                output.write(chunk.encode())
    finally:
        store.close()


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--label", help="Label for the new session (default: the file name).")
@with_appcontext
def import_command(path: str, label: str | None) -> None:
    """Import a Voice Lab export or bundle, JSON Lines of event rows, or a JSON array of events."""
    try:
        with open(path, "rb") as file:
            imported = read_import(file, click.format_filename(path, shorten=True))
    except ImportRefused as exc:
        raise click.ClickException(f"nothing imported: {exc}") from None
    fields = {**imported.fields, **({"label": label} if label else {})}
    store = open_store()
    try:
        session_id = store.import_session(fields, imported.rows, imported.chunks)
        panel_state.prepare(store, session_id)
    finally:
        store.close()
    audio = f" and {len(imported.chunks)} recording chunks" if imported.chunks else ""
    click.echo(f"imported {len(imported.rows)} events{audio} as session {session_id}")


@click.group("db")
def db_group() -> None:
    """The database: `flask --app app db upgrade`."""


@db_group.command("upgrade")
@with_appcontext
def upgrade_command() -> None:
    """Run the migrations the database has not run yet (the server runs them at start too)."""
    store = open_store()
    try:
        before = store.version()
        after = store.migrate()
        where = store.describe()
    finally:
        store.close()
    ran = f"ran {after - before} migrations" if after > before else "nothing to run"
    click.echo(f"{where}: {ran}, at version {after}")


def init_app(app: Flask) -> None:
    """Register the commands."""
    for command in (doctor_command, export_command, import_command, db_group):
        app.cli.add_command(command)
