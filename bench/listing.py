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

from .common import Figure, fill_store, scratch, serving
from .long import timed

TRIES = 15
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


def measure(full: Path, empty: Path) -> dict[str, tuple[float, float]]:
    """ms to answer each query's partial on each database, best of TRIES: both servers up at
    once and asked in turn, so a noisy moment of the host falls on both."""
    with serving(full) as with_events, serving(empty) as without:
        found = {}
        for name, query in QUERIES.items():
            best = [float("inf"), float("inf")]
            for _ in range(TRIES + 1):  # the first pays for the templates' compile
                for index, server in enumerate((with_events, without)):
                    best[index] = min(best[index], timed(server, query, PARTIAL)[1])
            found[name] = (best[0] * 1000, best[1] * 1000)
        return found


def run(quick: bool = False) -> list[Figure]:
    """The list's figures with events behind it, against without."""
    sessions, events = (40, 500) if quick else (200, 2000)
    with scratch() as folder:
        full, empty = folder / "full.sqlite3", folder / "empty.sqlite3"
        fill(full, sessions, events)
        fill(empty, sessions, 0)
        found = measure(full, empty)
    return [
        Figure(
            f"sessions list {name}",
            found[name][0],
            "ms",
            found[name][1],
            found[name][0] / found[name][1],
            "ratio <= 1.5 (flat in the events)",
            f"{sessions} sessions of {events:,} events against {sessions} empty ones",
        )
        for name in QUERIES
    ]
