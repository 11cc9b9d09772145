"""The sessions list's figures of a session, filled where they are missing: a session stored
before they were kept (migration 0009), or whose fold was saved before it counted everything.

The mirror and the panels save the fold's figures with the fold (panel_state.save), and the
preparer the heard ones with the recording's hearing (recordings.prepare); this is the pass,
run in the background from start-up and asked for by the list, for the sessions they missed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..analysis.figures import heard
from ..analysis.recording import RecordingError
from ..storage.base import Store
from . import panel_state, recordings


def unknown(row: dict[str, Any]) -> bool:
    """Whether a listed session's figures are not known yet (the list shows … for them)."""
    return bool(row["event_count"]) and (
        not row["figured"] or row["turns"] is None or row["interruptions"] is None
    )


def fill(store: Store, root: Path, session_id: str) -> None:
    """Fold a session's events again and save its figures, and those of its recording's
    hearing if it was made (else the preparer saves them when it makes it)."""
    panel_state.refold(store, session_id)
    try:
        found = recordings.hearing(store, root, session_id)
    except (recordings.NotReady, RecordingError):
        return
    if found is not None:
        store.save_heard(session_id, heard(found))
