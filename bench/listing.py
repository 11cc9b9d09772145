"""Figure: the sessions list with 200 sessions of 2,000 events each, against 200 empty ones.

The list shows each session's figures (turns, p95 to first audio, interruptions, failed checks,
cost), sorted and filtered in SQL from what the fold saved: it must not read the events. Two
scratch databases: one of 200 ended sessions stored through the mirror's code (their figures
saved as a call saves them), one of 200 ended sessions without events. The server (its own
process) answers the list's htmx partial sorted by p95, and searched and sorted by cost (every
session matches, so both databases list as many rows); each figure is the full database's
against the empty one's, best of a few tries, so the ratio is how the list grows
with the events behind it.
"""

from __future__ import annotations

from pathlib import Path

from voice_lab.storage.sqlite import SQLiteStore

from .common import Figure, best_of, fill_store, scratch, serving
from .long import timed

TRIES = 7
PARTIAL = {"HX-Request": "true", "HX-Target": "sessions"}
QUERIES = {"sorted by p95": "/?sort=p95", "searched, cheapest first": "/?q=bench&sort=cost&dir=asc"}


def fill(path: Path, sessions: int, events: int) -> None:
    """A database of `sessions` ended sessions, each of `events` realistic events (none: empty
    sessions)."""
    store = SQLiteStore(path)
    try:
        store.migrate()
        for _ in range(sessions):
            if events:
                fill_store(store, events)
            else:
                store.end_session(store.create_session(provider="emulator", label="bench"))
    finally:
        store.close()


def measure(path: Path) -> dict[str, float]:
    """ms to answer each query's partial, best of TRIES."""
    with serving(path) as server:
        found = {}
        for name, query in QUERIES.items():
            timed(server, query, PARTIAL)  # the first pays for the templates' compile

            def ask(query: str = query) -> None:
                timed(server, query, PARTIAL)

            found[name] = best_of(TRIES, ask) * 1000
        return found


def run(quick: bool = False) -> list[Figure]:
    """The list's figures with events behind it, against without."""
    sessions, events = (40, 500) if quick else (200, 2000)
    with scratch() as folder:
        full, empty = folder / "full.sqlite3", folder / "empty.sqlite3"
        fill(full, sessions, events)
        fill(empty, sessions, 0)
        with_events, without = measure(full), measure(empty)
    return [
        Figure(
            f"sessions list {name}",
            with_events[name],
            "ms",
            without[name],
            with_events[name] / without[name],
            "ratio <= 1.5 (flat in the events)",
            f"{sessions} sessions of {events:,} events against {sessions} empty ones",
        )
        for name in QUERIES
    ]
