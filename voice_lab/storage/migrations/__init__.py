"""The schema's migrations, named and listed once, in the order they run: a database at version
n has run the first n. Each backend has its own script of each name, in its dialect, in the
folder named after it; the SQLite backend counts them in PRAGMA user_version."""

from __future__ import annotations

from functools import cache
from importlib import resources

NAMES = (
    "0001_schema",
    "0002_event_counts",
    "0003_compact_payloads",
    "0004_panel_states",
    "0005_write_secrets",
    "0006_recordings",
    "0007_rate_hits",
    "0008_replays",
)


@cache
def scripts(dialect: str) -> tuple[str, ...]:
    """A dialect's migration scripts, in the order they run."""
    folder = resources.files(__package__).joinpath(dialect)
    return tuple(folder.joinpath(f"{name}.sql").read_text() for name in NAMES)
