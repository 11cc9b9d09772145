"""The schema's migrations, named and listed once, in the order they run: a database at version
n has run the first n. The SQLite backend counts them in PRAGMA user_version."""

from __future__ import annotations

from importlib import resources

NAMES = (
    "0001_schema",
    "0002_event_counts",
    "0003_compact_payloads",
    "0004_panel_states",
    "0005_write_secrets",
    "0006_recordings",
)
MIGRATIONS: tuple[str, ...] = tuple(
    resources.files(__package__).joinpath(f"{name}.sql").read_text() for name in NAMES
)
