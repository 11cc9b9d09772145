"""News of stored events, from the mirror to the dashboard tabs that follow a session.

A tab's live tail asks for events after the last one it shows; with none yet, the request
waits here until the mirror stores something (or a while passes) instead of polling.
"""

from __future__ import annotations

import threading

from flask import Flask


class Broker:
    """Wakes waiting requests whenever any session gets events (they then look for theirs)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()

    def publish(self) -> None:
        """Say that events were stored."""
        with self._changed:
            self._changed.notify_all()

    def wait(self, timeout: float) -> None:
        """Wait for the next publish, at most `timeout` seconds."""
        with self._changed:
            self._changed.wait(timeout)


def init_app(app: Flask) -> Broker:
    """One broker per app, for its mirror and its dashboard."""
    broker = app.extensions["voice_lab_broker"] = Broker()
    return broker
