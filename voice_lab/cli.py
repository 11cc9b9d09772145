"""Command-line tools: `voice-lab run|doctor|export|import|db upgrade` (installed with the
package), and the same commands under `flask --app app` in a checkout."""

from __future__ import annotations

import os
import time

import click
from flask import Flask, current_app
from flask.cli import ScriptInfo, with_appcontext

from . import azure_auth, mint_errors, providers
from .config import configured_providers, mask
from .emulator import ears, voice
from .exchange.bundle import bundle_chunks, read_import
from .exchange.export import export_chunks
from .exchange.otlp import otlp_lines
from .exchange.reader import ImportRefused
from .ingest import panel_state
from .protocol.record import from_row
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
            bearer=current_app.extensions["voice_lab_entra"].bearer,
        )
    except mint_errors.MintError as exc:
        click.echo(f"mint:      FAILED after {_ms(started)} ms", err=True)
        click.echo(
            f"problem:   {exc.source} said {exc.status or ''} {exc.code or ''}: {exc.message}",
            err=True,
        )
        click.echo(f"fix:       {_fix(exc, cfg)}", err=True)
        raise SystemExit(1) from None
    click.echo(
        f"mint:      ok in {_ms(started)} ms (key {mask(key.value)}, expires in "
        f"{key.expires_at - int(time.time())} s)"
    )
    if provider.startswith("azure") and cfg["VOICE_LAB_AZURE_AUTH"] == "entra":
        click.echo(f"credential: {current_app.extensions['voice_lab_entra'].used()}")
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
            _azure_auth_line(cfg),
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
        f"ears:      {_ears(cfg)}",
    ]


def _azure_auth_line(cfg) -> str:
    """How Azure mints authenticate: the key (masked), or Entra ID and its scope."""
    if cfg["VOICE_LAB_AZURE_AUTH"] == "entra":
        return f"auth:      Microsoft Entra ID token (DefaultAzureCredential, {azure_auth.SCOPE})"
    return f"api key:   {mask(cfg.get('AZURE_OPENAI_API_KEY'))}"


def _ears(cfg) -> str:
    """Which recogniser transcribes callers, loaded once to prove it can be."""
    if not cfg["VOICE_LAB_ASR"]:
        return 'off (VOICE_LAB_ASR=off): transcripts say "(speech, N s)"'
    found = ears.locate(cfg["VOICE_LAB_ASR_MODEL"])
    if found is None:
        return f'none installed, transcripts say "(speech, N s)": {ears.INSTALL}'
    started = time.perf_counter()
    try:
        found.load()
    except Exception as exc:
        return f"{found.name} FAILED to load: {exc}"
    return f"{found.name}, loaded in {_ms(started)} ms"


def _fix(exc: mint_errors.MintError, cfg) -> str:
    if isinstance(exc, mint_errors.NotConfigured) or exc.source == "entra":
        return exc.message  # it says what to set up
    if (
        exc.source == "azure"
        and exc.status in (401, 403)
        and cfg["VOICE_LAB_AZURE_AUTH"] == "entra"
    ):
        return (
            "the Entra ID token is not accepted here: give the identity the Cognitive Services "
            "OpenAI User role on this resource (role assignments take minutes to apply)"
        )
    if isinstance(exc, mint_errors.UpstreamUnreachable):
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
@click.option(
    "--format",
    "format_",
    type=click.Choice(["json", "otlp"]),
    default="json",
    help="json: Voice Lab's format; otlp: OpenTelemetry traces, OTLP JSON Lines.",
)
@with_appcontext
def export_command(session_id: str, output, bundle: bool, format_: str) -> None:
    """Write a session's events in Voice Lab's JSON format, with --bundle its bundle, or with
    --format otlp its traces."""
    if bundle and format_ == "otlp":
        raise click.UsageError("--bundle is a Voice Lab export: leave out --format otlp")
    store = open_store()
    try:
        session = store.get_session(session_id)
        if session is None:
            raise click.ClickException(f"no session {session_id!r} (see the list at /)")
        if format_ == "otlp":
            events = [from_row(row) for row in store.iter_events(session_id)]
            for line in otlp_lines(session, events):
                output.write(line.encode())
            return
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


COMMANDS = (doctor_command, export_command, import_command, db_group)


def init_app(app: Flask) -> None:
    """Register the commands on the app, for `flask --app app ...`."""
    for command in COMMANDS:
        app.cli.add_command(command)


def _setting(name: str):
    """An option's callback that sets the Voice Lab setting `name` before the app is built, so
    the command line wins over the environment and .env."""

    def remember(ctx: click.Context, param: click.Parameter, value: object) -> None:
        if value is not None:
            os.environ[name] = str(value)

    return remember


DATABASE = click.option(
    "--database",
    metavar="PATH_OR_URL",
    expose_value=False,
    is_eager=True,
    callback=_setting("VOICE_LAB_DATABASE"),
    help="The database (VOICE_LAB_DATABASE): a SQLite file's path.",
)


def _create_app() -> Flask:
    from . import create_app
    from .config import ConfigError

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(f"Voice Lab cannot start: {exc}") from None


@click.command("run")
@click.option(
    "--host",
    expose_value=False,
    callback=_setting("VOICE_LAB_HOST"),
    help="The address to serve on (VOICE_LAB_HOST, default 127.0.0.1).",
)
@click.option(
    "--port",
    type=int,
    expose_value=False,
    callback=_setting("VOICE_LAB_PORT"),
    help="The port (VOICE_LAB_PORT, default 5000).",
)
@DATABASE
def run_command() -> None:
    """Serve Voice Lab, as `python app.py` does in a checkout."""
    app = _create_app()
    app.run(host=app.config["VOICE_LAB_HOST"], port=app.config["VOICE_LAB_PORT"], threaded=True)


@click.group()
@DATABASE
def cli() -> None:
    """Voice Lab: a debugging dashboard for realtime voice sessions. Settings come from the
    environment and a .env file in the working directory (see the README)."""


cli.add_command(run_command)
for _command in COMMANDS:
    cli.add_command(_command)


def main() -> None:
    """The `voice-lab` command."""
    cli(obj=ScriptInfo(create_app=_create_app, set_debug_flag=False), prog_name="voice-lab")
