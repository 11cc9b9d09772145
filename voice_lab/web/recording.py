"""A session's recording: the seekable two-channel WebM, with Range requests, its peaks, and the
time view that plays it against the events."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import NoReturn, TypeVar

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    send_file,
)

from ..analysis.call_times import lanes
from ..analysis.recording import MIME
from ..ingest import recordings
from ..ingest.preparer import Preparer
from ..protocol.record import from_row
from ..storage import database_path, get_store, open_store
from .errors import error_reply

bp = Blueprint("recording", __name__)
WAIT_S = 2.0  # a request waits this long for the recording's job before it answers 503
RETRY_AFTER_S = 2
T = TypeVar("T")


def cache_root() -> Path:
    """Where this app keeps its recordings' files."""
    return recordings.cache_root(database_path(current_app))


def preparer() -> Preparer:
    """This app's preparer of recordings."""
    return current_app.extensions["voice_lab_preparer"]


def ready(session_id: str, read: Callable[[], T], wait: float = WAIT_S) -> T:
    """What `read` gives once the recording's files are made: at once, or after waiting up to
    `wait` seconds for its job (asked for if none is under way); NotReady after that, as a
    request never makes them beside the job."""
    try:
        return read()
    except recordings.NotReady:
        preparer().wait(session_id, wait)
    return read()


def when_ready(session_id: str, read: Callable[[], T]) -> T:
    """ready(), or a 503 with Retry-After that the time view answers by asking again."""
    try:
        return ready(session_id, read)
    except recordings.NotReady:
        reply, _ = error_reply(
            503,
            "recording_preparing",
            f"the recording of {session_id} is being prepared: ask again in {RETRY_AFTER_S} s",
            retry_after=RETRY_AFTER_S,
        )
        reply.status_code = 503
        reply.headers["Retry-After"] = str(RETRY_AFTER_S)
        abort(reply)


def no_recording(session_id: str) -> NoReturn:
    """A 404 that says why: no such session, or a session that recorded nothing."""
    if get_store().get_session(session_id) is None:
        abort(404, description=f"There is no session {session_id}.")
    abort(
        404,
        description=f"Session {session_id} has no recording: its call was made with recording "
        "off (the call page's checkbox, or VOICE_LAB_RECORDING=off), or before recordings.",
    )


@bp.get("/sessions/<session_id>/recording")
def recording(session_id: str):
    """The call's recording (left = microphone, right = model), seekable, with Range support."""
    root = cache_root()
    path = when_ready(session_id, lambda: recordings.media(get_store(), root, session_id))
    if path is None:
        no_recording(session_id)
    # conditional=True answers Range with 206 and If-None-Match with 304 from the file itself.
    return send_file(
        path,
        mimetype=MIME,
        conditional=True,
        download_name=f"voice-lab-{session_id}.webm",
        max_age=0,
    )


@bp.get("/sessions/<session_id>/recording/peaks")
def peaks(session_id: str):
    """The recording's peaks as JSON: t0, duration_ms, per_second, finest, start_ms and each
    channel's min and max; `bins=N` gives the finest level with at most N bins (a view N
    pixels wide), and `start_ms` with `end_ms` (and bins) only that window of the call."""
    bins = _bins(request.args.get("bins"))
    window = _window(request.args.get("start_ms"), request.args.get("end_ms"))
    if window is not None and bins is None:
        abort(400, description="a window (start_ms, end_ms) needs bins=N: the view's width in px")
    root = cache_root()
    found = when_ready(
        session_id, lambda: recordings.peaks(get_store(), root, session_id, bins, window)
    )
    if found is None:
        no_recording(session_id)
    return jsonify(found)


def _bins(raw: str | None) -> int | None:
    """The bins parameter: a whole number from 1 (up to 9 digits), or None when absent (else a
    400)."""
    if raw is None:
        return None
    # ASCII digits, and few: int() refuses "²" and texts of thousands of digits.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or int(raw) < 1:
        abort(400, description=f"bins must be a whole number from 1 (got {raw[:40]!r})")
    return int(raw)


def _window(start: str | None, end: str | None) -> tuple[float, float] | None:
    """The start_ms and end_ms parameters: both or neither, ms from the recording's start
    with 0 <= start_ms < end_ms (else a 400)."""
    if start is None and end is None:
        return None
    if start is None or end is None:
        abort(400, description="give start_ms and end_ms together (ms from the recording's start)")
    got = f"(got {start[:40]!r}, {end[:40]!r})"
    try:
        window = float(start), float(end)
    except ValueError:
        abort(400, description=f"start_ms and end_ms must be numbers {got}")
    if not (math.isfinite(window[1]) and 0 <= window[0] < window[1]):
        abort(400, description=f"need 0 <= start_ms < end_ms {got}")
    return window


@bp.get("/sessions/<session_id>/timeview")
def timeview(session_id: str):
    """The time view: the recording's waveforms, the event lanes and a player, as a partial the
    session page loads when the session has a recording."""
    store = get_store()
    if not store.recording_chunk_count(session_id):
        no_recording(session_id)
    found = recordings.prepared_lanes(store, cache_root(), session_id)
    if found is None:
        found = lanes([from_row(row) for row in store.iter_events(session_id)])
    if found is None:
        abort(
            404,
            description=f"Session {session_id} has audio but no voicelab.recording start "
            "event to place it on the events' clock; re-import it from a bundle export.",
        )
    return render_template("_timeview.html", session_id=session_id, lanes=found)


def init_app(app: Flask) -> None:
    """Register the routes and the preparer, started now when a previous run left recordings
    unprepared."""
    app.register_blueprint(bp)
    root = recordings.cache_root(database_path(app))

    def work(session_id: str) -> None:
        store = open_store(app)  # the preparer's thread has its own connection
        try:
            recordings.prepare(store, root, session_id)
        finally:
            store.close()

    store = open_store(app)
    try:  # one query and a file's stat a recording: the preparing is what waits for the thread
        backlog = recordings.unprepared(store, root)
    finally:
        store.close()
    app.extensions["voice_lab_preparer"] = Preparer(work, backlog)
    app.extensions["voice_lab_preparer"].start()
