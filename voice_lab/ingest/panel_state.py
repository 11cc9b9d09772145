"""A session's panel fold as stored: loaded, advanced by the events stored since, saved again.

The fold itself (analysis/aggregates.py) knows nothing of the store; this is where it meets it.
"""

from __future__ import annotations

import logging
from typing import overload

from ..analysis.aggregates import Aggregates
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
            store.save_aggregates(session_id, fold.upto, fold.folded, fold.dumps(), wait=False)
        except StorageError:
            pass  # saved by the next look, or by the mirror
    return fold


def prepare(store: Store, session_id: str) -> None:
    """Fold an imported session now, so that its panels open at once; a failure (logged) only
    leaves that to the panels."""
    try:
        current(store, session_id)
    except Exception:
        logger.exception("panel figures of %s not folded", session_id)
