"""Pages: the sessions list and a session's timeline, with its htmx partials."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.datastructures import MultiDict
from werkzeug.routing import BaseConverter, ValidationError

from .. import exchange
from ..analysis import timeline
from ..config import configured_providers
from ..ingest import panel_state
from ..protocol.events import CATEGORIES, CATEGORY_LABELS, DIRECTIONS, from_row, loads, storable
from ..storage import database_path, get_store
from ..storage.sqlite import EventQuery, Store
from . import panels

bp = Blueprint("dashboard", __name__)

WINDOW = 300  # events per window of the timeline; the last window polls while a call is live
RECHECK = 0.5  # seconds a live tail waits for news before it looks at the store anyway
MAX_SEQ = 2**63 - 1  # SQLite's largest integer: a seq past it is no event's


def parse_seq(text: str) -> int:
    """A seq in a URL: digits, at most MAX_SEQ; ValueError otherwise."""
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(MAX_SEQ))
    if not digits or int(text) > MAX_SEQ:  # the length first: int() of a huge text is slow
        raise ValueError(f"a seq is a number from 0 to {MAX_SEQ} (got {text[:40]!r})")
    return int(text)


class SeqConverter(BaseConverter):
    """`<seq:name>` in a route: a seq the store can look up; anything else is a 404."""

    regex = r"\d+"

    def to_python(self, value: str) -> int:
        """The seq, or no match."""
        try:
            return parse_seq(value)
        except ValueError:
            raise ValidationError() from None

    def to_url(self, value: int) -> str:
        """The seq as digits."""
        return str(value)


@bp.record_once
def _add_converter(state) -> None:
    # Runs before the routes below are added, which need the converter.
    state.app.url_map.converters["seq"] = SeqConverter


def seq_arg(name: str, default: int | None) -> int | None:
    """A seq query argument, `default` when absent; a 400 naming it when out of range."""
    text = request.args.get(name)
    if text is None:
        return default
    try:
        return parse_seq(text)
    except ValueError as exc:
        abort(400, description=f"{name}: {exc}")


@dataclass(frozen=True)
class Filters:
    """The timeline's filters, as they appear in the URL."""

    categories: tuple[str, ...] = ()
    directions: tuple[str, ...] = ()
    type: str = ""
    text: str = ""
    view: str = "grouped"

    @classmethod
    def from_args(cls, args: MultiDict) -> Filters:
        """Filters from query arguments; unknown values are dropped, not errors."""
        return cls(
            categories=tuple(c for c in args.getlist("cat") if c in CATEGORIES),
            directions=tuple(d for d in args.getlist("dir") if d in DIRECTIONS),
            type=args.get("type", "").strip()[:200],
            text=args.get("q", "").strip()[:200],
            view="flat" if args.get("view") == "flat" else "grouped",
        )

    def query(self) -> EventQuery:
        """The store query these filters make."""
        return EventQuery(self.categories, self.directions, self.type, self.text)

    def params(self) -> list[tuple[str, str]]:
        """The filters as query arguments (what a link needs to reproduce the view)."""
        pairs = [("cat", c) for c in self.categories] + [("dir", d) for d in self.directions]
        pairs += [(k, v) for k, v in (("type", self.type), ("q", self.text)) if v]
        return pairs + ([("view", "flat")] if self.view == "flat" else [])

    def url(self, endpoint: str, **values) -> str:
        """A URL of `endpoint` carrying these filters."""
        base = url_for(endpoint, **values)
        params = self.params()
        return f"{base}{'&' if '?' in base else '?'}{urlencode(params)}" if params else base


@bp.app_template_filter("iso")
def iso(seconds: float | None) -> str:
    """Unix seconds as an ISO 8601 UTC timestamp."""
    return datetime.fromtimestamp(seconds or 0, UTC).isoformat(timespec="seconds")


@bp.app_template_filter("iso_ms")
def iso_ms(ms: float | None) -> str:
    """Milliseconds since the epoch (the browser clock) as an ISO 8601 UTC timestamp."""
    return datetime.fromtimestamp((ms or 0) / 1000, UTC).isoformat(timespec="milliseconds")


@bp.app_template_filter("clock")
def clock(seconds: float | None) -> str:
    """Unix seconds as a short UTC date and time."""
    return datetime.fromtimestamp(seconds or 0, UTC).strftime("%Y-%m-%d %H:%M:%S")


@bp.app_template_filter("ms")
def ms(value: float | None) -> str:
    """A duration in milliseconds, grouped by thousands (a dash when unknown)."""
    return "–" if value is None else f"{value:,.0f} ms"


@bp.app_template_filter("status")
def session_status(session: dict) -> str:
    """live, ended or imported."""
    if session["origin"] == "imported":
        return "imported"
    return "ended" if session["ended_at"] else "live"


@bp.app_template_filter("duration")
def duration(session: dict) -> str:
    """How long a session ran (or has been running)."""
    end = session["ended_at"] or (time.time() if session["origin"] != "imported" else None)
    if end is None:
        return "–"
    seconds = max(0, int(end - session["created_at"]))
    return f"{seconds // 60}:{seconds % 60:02d}"


def is_partial(target: str) -> bool:
    """Whether htmx asked for just the element `target` (not a whole page)."""
    return request.headers.get("HX-Request") == "true" and (
        request.headers.get("HX-Target") == target
    )


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


@bp.get("/")
def index():
    """The sessions list, newest first, searchable; its table polls while calls are live."""
    search = request.args.get("q", "").strip()[:200]
    sessions = get_store().list_sessions(search)
    context = {"sessions": sessions, "search": search}
    if is_partial("sessions"):
        return render_template("_sessions.html", **context)
    return render_template(
        "index.html",
        providers=configured_providers(current_app.config),
        import_error=None,
        **context,
    )


@bp.delete("/sessions/<session_id>")
def delete_session(session_id: str):
    """Delete a session and its events (the page asked for confirmation)."""
    if not get_store().delete_session(session_id):
        abort(404, description=f"There is no session {session_id}.")
    if request.headers.get("HX-Request") == "true":
        return ""
    return redirect(url_for("dashboard.index"), 303)


@bp.post("/import")
def import_file():
    """Import an uploaded log as a new session, or show what is wrong with it."""
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise exchange.ImportRefused("choose a file to import")
        data = upload.stream.read(exchange.MAX_FILE_BYTES + 1)
        fields, rows = exchange.parse_import(data, upload.filename)
    except exchange.ImportRefused as exc:
        store = get_store()
        return render_template(
            "index.html",
            sessions=store.list_sessions(),
            search="",
            providers=configured_providers(current_app.config),
            import_error=f"Nothing imported: {exc}",
        ), 400
    if request.form.get("label"):
        fields["label"] = request.form["label"][:200]
    session_id = get_store().import_session(fields, rows)
    panel_state.prepare(get_store(), session_id)
    return redirect(url_for("dashboard.session_page", session_id=session_id), 303)


@bp.get("/sessions/<session_id>")
def session_page(session_id: str):
    """A session's page: filters, panels and the timeline (or just the timeline, for htmx)."""
    session = _session_or_404(session_id)
    filters = Filters.from_args(request.args)
    window = _window(session, filters, after=0)
    if is_partial("timeline"):
        return render_template("_timeline.html", session=session, filters=filters, window=window)
    store = get_store()
    return render_template(
        "session.html",
        session=session,
        filters=filters,
        window=window,
        counts=store.category_counts(session_id),
        types=store.event_types(session_id),
        categories=CATEGORIES,
        labels=CATEGORY_LABELS,
        directions=DIRECTIONS,
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
        # Short waits: another process (a second worker) may store events without telling us.
        broker.wait(news, min(left, RECHECK))
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


@bp.get("/sessions/<session_id>/panels")
def panels_partial(session_id: str):
    """The panels: latency, usage, rate limits, errors, config, transcript, checks, WebRTC."""
    session = _session_or_404(session_id)
    # Panels change only with the events: the live page polls them, and an unchanged session
    # (an ended or imported one, or a quiet moment) is answered from the last rendering.
    key = (store_key(), session_id, session["event_count"], session["max_seq"])
    html = _rendered_panels.get(key)
    if html is None:
        store = get_store()
        fold = panel_state.current(store, session_id)
        built = panels.view(fold, store.missing_seqs(session_id))
        html = render_template("_panels.html", session=session, panels=built)
        _rendered_panels.put(key, html)
    return html


class _Recent:
    """A small least-recently-used map, safe across request threads."""

    def __init__(self, size: int):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        """The value for key, or None."""
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
            return self.items.get(key)

    def put(self, key, value) -> None:
        """Remember a value, forgetting the least recently used past the size."""
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


_rendered_panels = _Recent(32)


def store_key() -> str:
    """Which database this app uses (apps in one process may use different ones)."""
    return str(database_path(current_app))


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
    path = database_path(current_app)

    def chunks():
        store = Store(path)  # the stream outlives the request and its connection
        try:
            yield from exchange.export_chunks(session, store.export_rows(session_id, query))
        finally:
            store.close()

    name = f"voice-lab-{session_id}{'-filtered' if query else ''}.json"
    return Response(
        chunks(),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
