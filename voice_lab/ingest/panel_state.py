"""A session's panel fold as stored: loaded, advanced by the events stored since, saved again,
with the sessions list's figures of it (analysis/figures.py) in the same write.

The fold itself (analysis/aggregates.py) knows nothing of the store; this is where it meets it.
"""

from __future__ import annotations

import logging
from typing import overload

from flask import current_app, has_app_context

from ..analysis import cost
from ..analysis.aggregates import Aggregates
from ..analysis.figures import figures
from ..protocol.record import from_row
from ..storage.base import Store
from ..storage.errors import StorageError

logger = logging.getLogger(__name__)


@overload
def current(store: Store, session_id: str) -> Aggregates: ...


@overload
def current(store: Store, session_id: str, most: int) -> Aggregates | None: ...


def current(store: Store, session_id: str, most: int | None = None) -> Aggregates | None:
    """A session's fold with every stored event in it: the saved one, advanced by the events
    stored since (and saved again), or rebuilt when events arrived below what it folded.
    None when that means folding more than `most` events."""
    saved = store.load_aggregates(session_id)
    fold = Aggregates.loads(saved[2]) if saved else None
    if fold is None or store.count_upto(session_id, fold.upto) != fold.folded:
        fold = Aggregates()
    if most is not None:
        session = store.get_session(session_id) or {"event_count": 0}
        if session["event_count"] - fold.folded > most:
            return None
    before = fold.folded
    for row in store.iter_events(session_id, after=fold.upto):
        fold.feed(from_row(row))
    if fold.folded != before:
        try:  # a cache: a read that finds the database busy does not wait to write it
            save(store, session_id, fold, wait=False)
        except StorageError:
            pass  # saved by the next look, or by the mirror
    return fold


def save(store: Store, session_id: str, fold: Aggregates, wait: bool = True) -> None:
    """Save a session's fold and its figures for the sessions list (StorageError if not)."""
    session = store.get_session(session_id)
    model = session["model"] if session else None
    found = figures(fold, store.missing_seqs(session_id), prices(), model)
    store.save_aggregates(session_id, fold.upto, fold.folded, fold.dumps(), wait, found)


def prices() -> cost.PriceTable:
    """The app's price table (VOICE_LAB_PRICES) inside the app, else the shipped one."""
    return current_app.config["VOICE_LAB_PRICES"] if has_app_context() else cost.shipped()


def refold(store: Store, session_id: str) -> None:
    """Fold a session's events from the first and save the fold and its figures: for a session
    whose saved fold does not know every figure (saved before it was counted)."""
    fold = Aggregates().feed_all(from_row(row) for row in store.iter_events(session_id))
    save(store, session_id, fold)


def prepare(store: Store, session_id: str) -> None:
    """Fold an imported session now, so that its panels open at once; a failure (logged) only
    leaves that to the panels."""
    try:
        current(store, session_id)
    except Exception:
        logger.exception("panel figures of %s not folded", session_id)
