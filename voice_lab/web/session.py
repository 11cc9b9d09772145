"""A session's page: its timeline in windows, the live tail, an event's JSON, a run of deltas,
the panels and the export."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from typing import TypeVar

from flask import Blueprint, Response, abort, current_app, render_template, request

from ..analysis import timeline, tools
from ..analysis.recording import RecordingError
from ..exchange.bundle import bundle_chunks
from ..exchange.export import export_chunks
from ..exchange.otlp import otlp_lines
from ..ingest import panel_state, recordings
from ..protocol.codec import loads, storable
from ..protocol.names import CATEGORIES, CATEGORY_LABELS, DIRECTIONS
from ..protocol.record import from_row
from ..storage import database, get_store, open_store
from ..storage.base import Store
from ..storage.query import EventQuery
from . import panels
from .arguments import Filters, add_converter, seq_arg
from .filters import session_status
from .recording import cache_root, preparer, ready
from .sessions import is_partial

bp = Blueprint("session", __name__)
bp.record_once(add_converter)  # before the routes below are added, which need the converter

WINDOW = 300  # events per window of the timeline; the last window polls while a call is live
T = TypeVar("T")
EXPORT_WAIT_S = 300.0  # an export waits this long for its recording to be prepared


def _event_or_404(session_id: str, seq: int):
    row = get_store().get_event(session_id, seq)
    if row is None:
        abort(404, description=f"Session {session_id} has no event {seq}.")
    return row


def _session_or_404(session_id: str) -> dict:
    session = get_store().get_session(session_id)
    if session is None:
        abort(404, description=f"There is no session {session_id}.")
    return session


@bp.get("/sessions/<session_id>")
def session_page(session_id: str):
    """A session's page: filters, panels and the timeline (or just the timeline, for htmx)."""
    session = _session_or_404(session_id)
    filters = Filters.from_args(request.args)
    if is_partial("timeline"):
        window = _window(session, filters, after=0)
        return render_template("_timeline.html", session=session, filters=filters, window=window)
    store = get_store()
    recorded = store.recording_chunk_count(session_id) > 0
    # The time view goes in the page when its lanes are prepared (a file read), and the events
    # follow from htmx (window None); else htmx loads the view, as laying its lanes from the
    # events waits for the preparation.
    timeview_lanes = recorded and recordings.prepared_lanes(store, cache_root(), session_id)
    return render_template(
        "session.html",
        session=session,
        filters=filters,
        window=None if timeview_lanes else _window(session, filters, after=0),
        counts=store.category_counts(session_id),
        types=store.event_types(session_id),
        categories=CATEGORIES,
        labels=CATEGORY_LABELS,
        directions=DIRECTIONS,
        recorded=recorded,
        timeview_lanes=timeview_lanes,
        original=session["replay_of"] and store.get_session(session["replay_of"]),
    )


@bp.get("/sessions/<session_id>/window")
def window(session_id: str):
    """The timeline after a seq: the next page, or the live tail once it has events past `upto`.

    The live tail waits here (up to VOICE_LAB_LIVE_WAIT seconds) for the mirror to store more,
    so a following tab shows an event moments after it happened without polling; it answers
    the same window when nothing came, and the page asks again.
    """
    session = _session_or_404(session_id)
    filters = Filters.from_args(request.args)
    after = seq_arg("after", 0)
    upto = seq_arg("upto", None)
    broker = current_app.extensions["voice_lab_broker"]
    news = broker.news  # read before the store, so news stored after this look wakes the wait
    found = _window(session, filters, after)
    deadline = time.monotonic() + current_app.config["VOICE_LAB_LIVE_WAIT"]
    while upto is not None and found["last_seq"] <= upto and found["live"]:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        # Every worker's mirror wakes this broker (the others' through the database), so the
        # store is looked at again only on news.
        broker.wait(news, left)
        news = broker.news
        session = _session_or_404(session_id)
        if session["max_seq"] > found["seen_seq"] or session["ended_at"]:  # news for this one
            found = _window(session, filters, after)
    return render_template("_window.html", session=session, filters=filters, window=found)


def start_ms(session: dict) -> float:
    """Where a session's relative times count from: its first browser time, or its creation."""
    return session["first_t"] or session["created_at"] * 1000


def _window(session: dict, filters: Filters, after: int) -> dict:
    """The events of one window as rows or groups, and where the next window starts."""
    rows = get_store().query_events(session["id"], filters.query(), after, WINDOW + 1)
    full = len(rows) > WINDOW
    events = [from_row(row) for row in rows[:WINDOW]]
    t0 = start_ms(session)
    return {
        "after": after,
        "events": len(events),
        "last_seq": events[-1].seq if events else after,
        "seen_seq": session["max_seq"],  # the newest stored when this window was read
        "full": full,
        "live": not full and session_status(session) == "live",
        "groups": timeline.group_events(events, t0) if filters.view == "grouped" else None,
        # The grouped view leaves the periodic samples to their lanes; the page says how many.
        "samples": sum(map(timeline.is_periodic, events)) if filters.view == "grouped" else 0,
        "rows": timeline.rows(events, t0) if filters.view == "flat" else None,
    }


@bp.get("/sessions/<session_id>/events/<seq:seq>")
def event_json(session_id: str, seq: int):
    """One event's payload, pretty-printed, for a row being expanded."""
    row = _event_or_404(session_id, seq)
    try:
        pretty = storable(json.dumps(loads(row["payload"]), indent=2, ensure_ascii=False))
    except ValueError:
        pretty = row["payload"]
    return render_template("_event_json.html", session_id=session_id, seq=seq, pretty=pretty)


HEARING_ASKS = 30  # the panels' own asks again while the recording is prepared, 2 s apart


@bp.get("/sessions/<session_id>/panels")
def panels_partial(session_id: str):
    """The panels: latency, usage, rate limits, errors, config, transcript, checks, WebRTC."""
    session = _session_or_404(session_id)
    # Panels change only with the events: the live page polls them, and an unchanged session
    # (an ended or imported one, or a quiet moment) is answered from the last rendering.
    # A call's recording is heard once it has ended: hearing a growing one at every poll would
    # decode it all each time.
    status = session_status(session)
    key = (store_key(), session_id, session["event_count"], session["max_seq"], status)
    html = _rendered_panels.get(key)
    if html is None:
        store = get_store()
        fold = panel_state.current(store, session_id)
        heard, settled = (None, True) if status == "live" else hearing_of(store, session_id)
        prices = current_app.config["VOICE_LAB_PRICES"]
        built = panels.view(fold, store.missing_seqs(session_id), heard, prices, session["model"])
        # Pending, the panels ask again by themselves, up to HEARING_ASKS times (a minute).
        asked = min(max(request.args.get("asked", 0, type=int), 0), HEARING_ASKS)
        html = render_template(
            "_panels.html",
            session=session,
            panels=built,
            hearing_pending=not settled,
            hearing_asked=asked + 1 if asked < HEARING_ASKS else None,
        )
        if settled:  # not while the recording is being prepared: the next ones hear it
            _rendered_panels.put(key, html)
    return html


def hearing_of(store: Store, session_id: str) -> tuple[dict | None, bool]:
    """What the session's recording says (None without one), and whether that is settled; a
    recording that cannot be read leaves the panels as the events alone make them (and is
    logged), and one being prepared too, for now: the panels never wait for it."""
    try:
        return recordings.hearing(store, cache_root(), session_id), True
    except RecordingError:
        current_app.logger.exception("the recording of %s could not be heard", session_id)
        return None, True
    except recordings.NotReady:
        preparer().ask(session_id)
        return None, False


def _recording_summary(session_id: str) -> dict | None:
    """The export's "recording" object; one that cannot be read says why instead."""
    root = cache_root()
    try:
        return ready(
            session_id, lambda: recordings.summary(get_store(), root, session_id), EXPORT_WAIT_S
        )
    except recordings.NotReady:
        return {"error": "the recording is still being prepared: export again in a minute"}
    except RecordingError as error:
        return {"error": f"the recording could not be read: {error}"}


class _Recent:
    """A small least-recently-used map, safe across request threads."""

    def __init__(self, size: int):
        self.size, self.lock = size, threading.Lock()
        self.items: OrderedDict[Hashable, str] = OrderedDict()

    def get(self, key: Hashable) -> str | None:
        """The value for key, or None."""
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
            return self.items.get(key)

    def put(self, key: Hashable, value: str) -> None:
        """Remember a value, forgetting the least recently used past the size."""
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


_rendered_panels = _Recent(32)


def store_key() -> str:
    """Which database this app uses (apps in one process may use different ones)."""
    return database(current_app)


@bp.get("/sessions/<session_id>/run/<seq:seq>")
def run(session_id: str, seq: int):
    """The individual deltas of the collapsed run that starts at `seq`."""
    session = _session_or_404(session_id)
    first = from_row(_event_or_404(session_id, seq))
    if first.category != "delta" or first.type is None:
        abort(404, description=f"Event {seq} of session {session_id} starts no run of deltas.")
    same_type = get_store().query_events(session_id, EventQuery(type=first.type), seq - 1, 5000)
    key = timeline.delta_key(first)
    events = [e for e in map(from_row, same_type) if timeline.delta_key(e) == key]
    rows = timeline.rows(events, start_ms(session), collapse=False)
    return render_template("_run.html", session=session, rows=rows)


@bp.get("/sessions/<session_id>/export.json")
def export(session_id: str):
    """The session as a download in Voice Lab's format, streamed; `filtered=1` keeps the filters."""
    session = _session_or_404(session_id)
    query = Filters.from_args(request.args).query() if request.args.get("filtered") else None
    name = f"voice-lab-{session_id}{'-filtered' if query else ''}.json"
    recording = _recording_summary(session_id)
    fold = panel_state.current(get_store(), session_id)
    calls = tools.as_json(tools.calls(fold.tools))
    cost = panels.estimate(fold, current_app.config["VOICE_LAB_PRICES"], session["model"])
    chunks = _streamed(
        lambda store: export_chunks(
            session, store.export_rows(session_id, query), recording, calls, cost
        )
    )
    return _download(chunks, "application/json", name)


@bp.get("/sessions/<session_id>/export.zip")
def export_bundle(session_id: str):
    """The session and its recording as one ZIP download (see exchange/bundle.py), streamed."""
    session = _session_or_404(session_id)
    chunks = _streamed(
        lambda store: bundle_chunks(
            session, store.export_rows(session_id), store.audio_chunks(session_id)
        )
    )
    return _download(chunks, "application/zip", f"voice-lab-{session_id}.zip")


@bp.get("/sessions/<session_id>/export.otlp.jsonl")
def export_otlp(session_id: str):
    """The session's traces as a download in the OTLP JSON file format (see exchange/otlp.py)."""
    session = _session_or_404(session_id)
    chunks = _streamed(
        lambda store: otlp_lines(session, [from_row(row) for row in store.iter_events(session_id)])
    )
    return _download(chunks, "application/x-ndjson", f"voice-lab-{session_id}.otlp.jsonl")


def _streamed(produce: Callable[[Store], Iterator[T]]) -> Iterator[T]:
    """What `produce` yields from a Store of its own: the stream outlives the request and its
    connection (and the app context: the app is taken before it ends)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def stream() -> Iterator[T]:
        store = open_store(app)
        try:
            yield from produce(store)
        finally:
            store.close()

    return stream()


def _download(chunks: Iterator[str] | Iterator[bytes], mimetype: str, name: str) -> Response:
    """A streamed response the browser saves as `name`."""
    return Response(
        chunks, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
