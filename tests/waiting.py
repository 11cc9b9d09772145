"""Waiting on a condition instead of sleeping: a test that sleeps to order its steps tests
nothing on a slow host, and one that waits for the condition itself cannot be too early."""

from __future__ import annotations

import time
from collections.abc import Callable

GIVE_UP = 30  # seconds; a guard against hanging, far past any real wait


def until(condition: Callable[[], object], what: str) -> None:
    """Return once `condition()` is true; fail naming `what` if it never becomes true."""
    deadline = time.monotonic() + GIVE_UP
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.005)  # a poll of the condition, not a guess at how long a step takes
