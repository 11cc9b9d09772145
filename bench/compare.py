"""Figure: the compare page of two long sessions, against two short ones and against one long
session's panels.

The compare page reads both sessions' saved folds (as the panels do), their counts per type and
their recordings' hearing, so it reads no event rows; what grows is what it shows: both
transcripts, turn by turn (the long pair has about 250 turns each). One scratch
database holds two ended sessions of 20,000 events and two of 200, stored through the mirror's
code (their folds saved as a call saves them). The server (its own process) answers
/compare for each pair, and the panels' partial of one long session: the compare page against
the short pair says how it grows with the events, against the panels what comparing adds to
reading one session. Best of a few tries each, the servers asked in turn.
"""

from __future__ import annotations

from voice_lab.storage.sqlite import SQLiteStore

from .common import Figure, fill_store, scratch, serving
from .long import timed

TRIES = 15
LONG, SHORT = 20_000, 200


def run(quick: bool = False) -> list[Figure]:
    """The compare page of two long sessions against two short ones, and against the panels."""
    long_events = 4_000 if quick else LONG
    with scratch() as folder:
        database = folder / "compare.sqlite3"
        store = SQLiteStore(database)
        try:
            store.migrate()
            long_pair = [fill_store(store, long_events) for _ in range(2)]
            short_pair = [fill_store(store, SHORT) for _ in range(2)]
        finally:
            store.close()
        paths = {
            "long": "/compare?a={}&b={}".format(*long_pair),
            "short": "/compare?a={}&b={}".format(*short_pair),
            "panels": f"/sessions/{long_pair[0]}/panels",
        }
        best = dict.fromkeys(paths, float("inf"))
        with serving(database) as server:
            for _ in range(TRIES + 1):  # the first pays for the templates' compile
                for name, path in paths.items():
                    best[name] = min(best[name], timed(server, path)[1] * 1000)
    note = f"two sessions of {long_events:,} events, best of {TRIES}"
    return [
        Figure(
            "compare page of two long sessions",
            best["long"],
            "ms",
            best["short"],
            best["long"] / best["short"],
            "",
            f"{note}; baseline two sessions of {SHORT} events; what grows is the transcripts, "
            "rendered turn by turn",
        ),
        Figure(
            "compare page against one session's panels",
            best["long"],
            "ms",
            best["panels"],
            best["long"] / best["panels"],
            "",
            f"{note}; baseline the panels' partial of one of them (its render cached, as a "
            "second look finds it)",
        ),
    ]
