"""Pages: the sessions list."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from .config import configured_providers
from .store import get_store

bp = Blueprint("dashboard", __name__)


@bp.get("/")
def index():
    """The sessions list, newest first."""
    search = request.args.get("q", "").strip()
    sessions = get_store().list_sessions(search)
    return render_template(
        "index.html",
        sessions=sessions,
        search=search,
        providers=configured_providers(current_app.config),
    )
