"""Retention: with VOICE_LAB_RETENTION_DAYS set, sessions older than that many days are
deleted, with their events, their recording and its files, at start-up and every hour after.

Every worker prunes on its own: deleting what another worker deleted already deletes nothing,
so they need no turn-taking.
"""

from __future__ import annotations

import logging
import threading
import time

from flask import Flask

from ..storage import database_path, open_store
from . import recordings

EVERY = 3600.0  # seconds between prunes: sessions are kept for days, an hour late is nothing

log = logging.getLogger(__name__)


def prune(app: Flask) -> list[str]:
    """Delete the sessions older than VOICE_LAB_RETENTION_DAYS now; their ids."""
    days = app.config["VOICE_LAB_RETENTION_DAYS"]
    store = open_store(app)
    try:
        gone = store.delete_sessions_before(time.time() - days * 86400)
    finally:
        store.close()
    root = recordings.cache_root(database_path(app))
    for session_id in gone:
        recordings.forget(root, session_id)
    if gone:
        log.info("retention: deleted %d sessions older than %g days", len(gone), days)
    return gone


def _every_hour(app: Flask, stop: threading.Event) -> None:
    while not stop.wait(EVERY):
        try:
            prune(app)
        except Exception:  # the database away for a moment: the next hour tries again
            log.exception("retention: could not delete old sessions")


def init_app(app: Flask) -> threading.Event | None:
    """Prune now and then every hour, when VOICE_LAB_RETENTION_DAYS is set; the event that
    stops the hourly prunes."""
    if app.config.get("VOICE_LAB_RETENTION_DAYS") is None:
        return None
    prune(app)
    stop = threading.Event()
    threading.Thread(
        target=_every_hour, args=(app, stop), name="voice-lab-retention", daemon=True
    ).start()
    return stop
