"""The sessions list: search it, delete a session, import a log as a new one."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from .. import exchange
from ..analysis import aggregates
from ..config import configured_providers
from ..storage import get_store

bp = Blueprint("sessions", __name__)


def is_partial(target: str) -> bool:
    """Whether htmx asked for just the element `target` (not a whole page)."""
    return request.headers.get("HX-Request") == "true" and (
        request.headers.get("HX-Target") == target
    )


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
    return redirect(url_for("sessions.index"), 303)


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
    aggregates.prepare(get_store(), session_id)
    return redirect(url_for("session.session_page", session_id=session_id), 303)
