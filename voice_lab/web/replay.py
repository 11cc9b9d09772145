"""A recorded call's replay plan, which the call page loads to run the call again with the
recording's user channel as its microphone."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, url_for

from ..analysis import replay
from ..protocol.record import from_row
from ..storage import get_store
from .recording import no_recording

bp = Blueprint("replay", __name__)


@bp.get("/sessions/<session_id>/replay.json")
def replay_plan(session_id: str):
    """The plan: the original's settings as the call page's fields, its recording's URL, and
    the client events sent by hand with their offsets in ms from the recording's start."""
    store = get_store()
    session = store.get_session(session_id)
    if session is None or not store.recording_chunk_count(session_id):
        no_recording(session_id)
    found = replay.plan(session, (from_row(row) for row in store.iter_events(session_id)))
    if found is None:
        abort(
            404,
            description=f"Session {session_id} has audio but no voicelab.recording start "
            "event to place its client events on the recording; re-import it from a bundle "
            "export.",
        )
    return jsonify(
        {
            **found,
            "recording": url_for("recording.recording", session_id=session_id),
            "page": url_for("session.session_page", session_id=session_id),
        }
    )
