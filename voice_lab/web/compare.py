"""The compare page: two sessions side by side (analysis/compare.py), with their time views.

It reads what the panels read (the saved fold, the per-type counts, the kept hearing) and, for
the notes the fold lacks, only the events of a few types, so it opens as fast as two panels.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, render_template, request

from ..analysis import compare as comparing
from ..analysis.call_times import hearing_from_json
from ..ingest import panel_state
from ..protocol.record import from_row
from ..storage import get_store
from ..storage.base import Store
from ..storage.query import EventQuery
from .filters import session_status
from .session import hearing_of

bp = Blueprint("compare", __name__)

USAGE = "pass two different session ids: /compare?a=ID&b=ID"


@bp.get("/compare")
def compare_page():
    """Session b against session a: config, latency, usage and cost, errors and checks, counts
    per type, the transcripts turn by turn, and both time views."""
    a_id, b_id = (request.args.get(name, "").strip() for name in ("a", "b"))
    if not a_id or not b_id:
        missing = " and ".join(name for name, value in (("a", a_id), ("b", b_id)) if not value)
        abort(400, description=f"{missing} missing: {USAGE}")
    if a_id == b_id:
        abort(400, description=f"a and b are both {a_id}: {USAGE}")
    store = get_store()
    sessions = [_session_or_404(store, name, sid) for name, sid in (("a", a_id), ("b", b_id))]
    a, b = (_side(store, session) for session in sessions)
    comparison = comparing.compare(a, b, current_app.config["VOICE_LAB_PRICES"])
    return render_template(
        "compare.html",
        comparison=comparison,
        sessions=sessions,
        recorded=[store.recording_chunk_count(s["id"]) > 0 for s in sessions],
    )


def _session_or_404(store: Store, name: str, session_id: str) -> dict[str, Any]:
    session = store.get_session(session_id)
    if session is None:
        abort(404, description=f"There is no session {session_id} (given as {name}).")
    return session


def _side(store: Store, session: dict[str, Any]) -> comparing.Side:
    """A session's figures as stored: its fold, counts, gaps, hearing and notes."""
    session_id = session["id"]
    counts = store.type_counts(session_id)
    # As on the panels, a live call's recording is not heard: it is still growing.
    live = session_status(session) == "live"
    heard = None if live else hearing_of(store, session_id)[0]
    noted = [
        from_row(row)
        for type_ in comparing.NOTE_TYPES
        if counts.get(type_)
        for row in store.query_events(session_id, EventQuery(type=type_), 0, counts[type_])
    ]
    return comparing.Side(
        session=session,
        fold=panel_state.current(store, session_id),
        counts=counts,
        missing=store.missing_seqs(session_id),
        hearing=None if heard is None else hearing_from_json(heard),
        notes=comparing.notes(noted),
    )
