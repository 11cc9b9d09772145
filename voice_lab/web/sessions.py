"""The sessions list: search, sort and filter it by its figures, delete a session, import a log
as a new one."""

from __future__ import annotations

import threading

from flask import (
    Blueprint,
    Flask,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)

from ..config import configured_providers
from ..exchange.bundle import read_import
from ..exchange.reader import ImportRefused
from ..ingest import figures, panel_state, recordings
from ..ingest.preparer import Preparer
from ..protocol.redaction import field_text
from ..storage import database_path, get_store, open_store
from ..storage.listing import SessionQuery
from . import session_list
from .recording import cache_root, preparer

bp = Blueprint("sessions", __name__)


def is_partial(target: str) -> bool:
    """Whether htmx asked for just the element `target` (not a whole page)."""
    return request.headers.get("HX-Request") == "true" and (
        request.headers.get("HX-Target") == target
    )


@bp.get("/")
def index():
    """The sessions list, newest first unless sorted by a column, searchable and filterable;
    its table polls while calls are live."""
    query = session_list.query_from(request.args)
    store = get_store()
    # A page that crashed or lost its network never says it ended: the list, which polls while
    # any session is live, ends those silent past the timeout, so none stays live forever.
    store.end_silent_sessions(current_app.config["VOICE_LAB_SESSION_TIMEOUT"])
    sessions = store.list_sessions(query)
    for row in sessions:
        if row["ended_at"] is not None and figures.unknown(row):
            filler().ask(row["id"])  # shown as … meanwhile; never blocks
    context = list_context(sessions, query)
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
    """Delete a session, its events and its recording (the page asked for confirmation)."""
    if not get_store().delete_session(session_id):
        abort(404, description=f"There is no session {session_id}.")
    recordings.forget(cache_root(), session_id)
    if request.headers.get("HX-Request") == "true":
        return ""
    return redirect(url_for("sessions.index"), 303)


# Imports at once: each holds up to MAX_EVENTS rows until its one transaction, and more at once
# would only share the cores while multiplying that memory.
MAX_IMPORTS = 2
IMPORT_RETRY_SECONDS = 5
_imports = threading.BoundedSemaphore(MAX_IMPORTS)


@bp.post("/import")
def import_file():
    """Import an uploaded log as a new session, or show what is wrong with it."""
    # The form is read first: werkzeug spools the upload to a file as it arrives, so an upload
    # that is slow or never ends holds its own thread, never one of the import slots.
    upload = request.files.get("file")
    label = request.form.get("label")
    if not _imports.acquire(blocking=False):
        return _import_refused(
            f"{MAX_IMPORTS} imports are running already: try again in "
            f"{IMPORT_RETRY_SECONDS} seconds, when one has finished",
            503,
            {"Retry-After": str(IMPORT_RETRY_SECONDS)},
        )
    try:
        try:
            if upload is None or not upload.filename:
                raise ImportRefused("choose a file to import")
            imported = read_import(upload.stream, upload.filename)
        except ImportRefused as exc:
            return _import_refused(str(exc), 400)
        if label:
            imported.fields["label"] = field_text(label)  # redacted, then cut, as the mirror does
        session_id = get_store().import_session(*imported)
        del imported  # the store has it: let go of its memory before the panels' figures
        panel_state.prepare(get_store(), session_id)
        preparer().ask(session_id)  # a bundle's recording is complete: prepare it meanwhile
    finally:
        _imports.release()
    return redirect(url_for("session.session_page", session_id=session_id), 303)


def _import_refused(reason: str, status: int, headers: dict[str, str] | None = None):
    """The sessions page with why nothing was imported."""
    query = SessionQuery()
    page = render_template(
        "index.html",
        providers=configured_providers(current_app.config),
        import_error=f"Nothing imported: {reason}",
        **list_context(get_store().list_sessions(query), query),
    )
    return page, status, headers or {}


def list_context(sessions: list[dict], query: SessionQuery) -> dict:
    """What _sessions.html renders: the rows, the query, and the URLs that keep it."""
    return {
        "sessions": sessions,
        "query": query,
        "search": query.search,
        "list_params": session_list.params(query),
        "filtered": query != SessionQuery(sort=query.sort, descending=query.descending),
        "sort_params": lambda column: session_list.sort_params(query, column),
    }


def filler() -> Preparer:
    """This app's filler of the list's figures for sessions stored before they were kept."""
    return current_app.extensions["voice_lab_figures"]


def init_app(app: Flask) -> None:
    """Register the routes, and fill the figures of sessions stored before they were kept, in
    the background from start-up, as the recordings' preparer does."""
    app.register_blueprint(bp)
    root = recordings.cache_root(database_path(app))

    def work(session_id: str) -> None:
        store = open_store(app)  # the filler's thread has its own connection
        try:
            with app.app_context():  # the app's price table
                figures.fill(store, root, session_id)
        finally:
            store.close()

    store = open_store(app)
    try:
        backlog = store.unfigured_sessions()
    finally:
        store.close()
    app.extensions["voice_lab_figures"] = Preparer(work, backlog, name="figures")
    app.extensions["voice_lab_figures"].start()
