"""Storage: the Flask glue that opens the app's database. The SQLite backend is in sqlite.py, the
rows every backend shares in rows.py, the migrations in migrations/."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, g

from .sqlite import Store


def database_path(app: Flask) -> Path:
    """Where the database lives: VOICE_LAB_DATABASE or instance/voice_lab.sqlite3."""
    configured = app.config.get("VOICE_LAB_DATABASE")
    return Path(configured) if configured else Path(app.instance_path) / "voice_lab.sqlite3"


def open_store(app: Flask | None = None) -> Store:
    """A new Store on the app's database, for work outside a request (sockets, CLI)."""
    return Store(database_path(app or current_app))


def get_store() -> Store:
    """The request's Store, opened once per request and closed at teardown."""
    if "store" not in g:
        g.store = open_store()
    return g.store


def _close_store(_exc: BaseException | None = None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


def init_app(app: Flask) -> None:
    """Create or migrate the database and close each request's connection after it."""
    path = database_path(app)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(path)
    try:
        store.migrate()
    finally:
        store.close()
    app.teardown_appcontext(_close_store)
