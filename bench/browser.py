"""Figures 2 and 5, which need Chromium on the call page: not measured yet.

Live latency is from an event entering mirror.js (its `t`, the browser clock) to its row in the
DOM of a dashboard tab following the session; the mirror's cost is main-thread time per recorded
event from performance marks around Mirror.record. Both need a Playwright harness on an emulator
call; until it exists these figures say so instead of printing a number.
"""

from __future__ import annotations

from .common import Figure

REASON = "needs a Playwright harness on an emulator call; not written yet"


def run_live(quick: bool = False) -> list[Figure]:
    """Live latency, mirror to dashboard DOM: not measured yet."""
    return [Figure("live latency p50/p95", None, "ms", target="p95 <= 250 ms", note=REASON)]


def run_mirror(quick: bool = False) -> list[Figure]:
    """Main-thread time per mirrored event: not measured yet."""
    return [
        Figure("mirror main-thread per event", None, "us", target="< 50 us", note=REASON),
    ]
