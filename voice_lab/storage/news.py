"""News of stored events between processes: each worker's listening connection to PostgreSQL.

The writer NOTIFYs inside each group's transaction, so the news is delivered at the COMMIT and
never for rows a rollback took back. Every worker on the database LISTENs on one connection of
its own and wakes its broker with what it hears; SQLite has no such channel, and needs none with
one process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg

CHANNEL = "voice_lab_events"
NOTIFY = f"NOTIFY {CHANNEL}"
RECONNECT = (0.5, 30.0)  # seconds before the first try after a cut, and the most between tries
HEARD = 1.0  # seconds a listener waits for news before it checks whether it should stop

log = logging.getLogger(__name__)


class Listener:
    """A thread holding a LISTEN connection to one database; calls `on_news` for each
    notification, and once after every reconnect (news sent while it was away is lost)."""

    def __init__(self, url: str, on_news: Callable[[], None]):
        self.url, self.on_news = url, on_news
        self._stop = threading.Event()
        self.listening = threading.Event()  # set once LISTEN runs: a test waits for it
        self._thread = threading.Thread(target=self._run, name="voice-lab-news", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pause = RECONNECT[0]
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as db:
                    db.execute(f"LISTEN {CHANNEL}")
                    if self.listening.is_set():
                        log.warning("live news from PostgreSQL back")
                        self.on_news()  # back after a cut: what it missed may be stored
                    self.listening.set()
                    pause = RECONNECT[0]
                    while not self._stop.is_set():
                        for _ in db.notifies(timeout=HEARD):
                            self.on_news()
            except psycopg.Error as exc:
                if pause == RECONNECT[0] and not self._stop.is_set():  # once per cut
                    log.warning("live news from PostgreSQL cut (%s): reconnecting", exc)
                self._stop.wait(pause)
                pause = min(pause * 2, RECONNECT[1])

    def stop(self) -> None:
        """Close the connection and end the thread (within HEARD seconds)."""
        self._stop.set()
        self._thread.join(HEARD + 1)
