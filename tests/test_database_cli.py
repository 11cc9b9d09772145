"""The database from the command line: what doctor says of it, and `db upgrade`."""

import sqlite3

import pytest

from voice_lab import create_app
from voice_lab.config import ConfigError
from voice_lab.storage import migrations
from voice_lab.storage.migrations import NAMES

from .stores import opened

pytestmark = pytest.mark.backends()  # on each storage backend


@pytest.fixture
def emulator_provider(settings):
    """The app under test mints from the emulator: doctor's mint needs nothing else."""
    settings["VOICE_LAB_PROVIDER"] = "emulator"


def set_version(app, backend: str, version: int) -> None:
    """Put the database back to where its first `version` migrations left it. SQLite's is
    rebuilt from them: its ALTER TABLE cannot run twice, as PostgreSQL's IF NOT EXISTS can."""
    if backend == "sqlite":
        behind = sqlite3.connect(":memory:")
        for number, script in enumerate(migrations.scripts("sqlite")[:version], start=1):
            behind.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
        target = sqlite3.connect(app.config["VOICE_LAB_DATABASE"])
        behind.backup(target)
        target.close()
        behind.close()
        return
    with opened(app) as store, store.transaction() as db:
        db.execute("UPDATE schema_version SET version = %s", (version,))


def test_doctor_names_the_database_and_its_schema(emulator_provider, runner, backend):
    result = runner.invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    engine = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[backend]
    assert f"database:  {engine} " in result.output
    assert f"schema:    at version {len(NAMES)} of {len(NAMES)} (up to date)" in result.output


def test_doctor_sends_a_database_behind_to_db_upgrade(emulator_provider, app, runner, backend):
    set_version(app, backend, len(NAMES) - 1)
    result = runner.invoke(args=["doctor"])
    assert result.exit_code == 1
    assert f"at version {len(NAMES) - 1} of {len(NAMES)}" in result.output
    assert "run `flask --app app db upgrade`" in result.output
    upgraded = runner.invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert upgraded.output.endswith(f": ran 1 migrations, at version {len(NAMES)}\n")
    assert runner.invoke(args=["db", "upgrade"]).output.endswith(
        f": nothing to run, at version {len(NAMES)}\n"
    )
    assert runner.invoke(args=["doctor"]).exit_code == 0


@pytest.mark.backends("postgresql")
def test_doctor_never_prints_the_password(app, runner, settings):
    # The test server trusts every local user, so a password in the URL is only ever printed.
    settings["VOICE_LAB_DATABASE"] = settings["VOICE_LAB_DATABASE"].replace(
        "postgresql://postgres@", "postgresql://postgres:hunter2-secret@"
    )
    app = create_app(settings)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "hunter2" not in result.output and "postgres:***@" in result.output


def test_a_database_that_cannot_be_opened_stops_the_start(tmp_path, backend):
    unreachable = {
        "sqlite": str(tmp_path),  # a folder, not a file
        "postgresql": f"postgresql://nobody@/voice_lab?host={tmp_path}",
    }[backend]
    with pytest.raises(ConfigError, match="VOICE_LAB_DATABASE: cannot open the database"):
        create_app({"VOICE_LAB_DATABASE": unreachable, "TESTING": True})
