"""News of stored events, from the mirror to the dashboard tabs that follow a session.

A tab's live tail asks for events after the last one it shows; with none yet, the request
waits here until the mirror stores something (or a while passes) instead of polling. With
PostgreSQL, several workers share the database: each one's broker also hears, through the
database (storage/news.py), what the mirrors of the others stored.
"""

from __future__ import annotations

import threading

from flask import Flask

from .. import storage


class Broker:
    """Wakes waiting requests whenever any session gets events (they then look for theirs).

    News is counted: a request reads the count before it looks at the store and waits for a
    count past it, so news published between its look and its wait still wakes it at once.
    """

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.news = 0  # publishes so far
        self.waiting = 0  # requests waiting now: how a test knows one is parked here

    def publish(self) -> None:
        """Say that events were stored."""
        with self._changed:
            self.news += 1
            self._changed.notify_all()

    def wait(self, seen: int, timeout: float) -> None:
        """Wait until there is news past `seen` (the count read before looking), at most
        `timeout` seconds."""
        with self._changed:
            self.waiting += 1
            try:
                self._changed.wait_for(lambda: self.news != seen, timeout)
            finally:
                self.waiting -= 1


def init_app(app: Flask) -> Broker:
    """One broker per app, for its mirror and its dashboard, woken by every worker's mirror."""
    broker = app.extensions["voice_lab_broker"] = Broker()
    app.extensions["voice_lab_news"] = storage.listen(app, broker.publish)
    return broker
