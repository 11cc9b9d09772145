"""Storage: the Flask glue that opens the app's database with the backend its setting names.
The interface every caller uses is base.Store; the backends are in sqlite.py and postgres.py,
the rows every backend shares in rows.py, the migrations in migrations/, the errors every
backend raises in errors.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask, current_app, g

from ..config import ConfigError
from ..protocol.limits import RateLimiter
from .base import Store
from .errors import Unavailable
from .news import Listener
from .postgres import PostgresStore
from .sqlite import SQLiteStore

# The backends by the scheme VOICE_LAB_DATABASE starts with ("NAME://..."); a file path, with no
# scheme, is SQLite's. Each is built with what the setting says: a file's path, or a URL.
BACKENDS: dict[str, Callable[[str], Store]] = {
    "": SQLiteStore,
    "sqlite": SQLiteStore,
    "postgresql": PostgresStore,
    "postgres": PostgresStore,
}
SQLITE_URL = "sqlite:///"  # then the path: sqlite:///relative/file, sqlite:////absolute/file


def _scheme(setting: str) -> str:
    return setting.split("://", 1)[0] if "://" in setting else ""


def backend(app: Flask) -> Callable[[str], Store]:
    """The backend class the app's VOICE_LAB_DATABASE names, or ConfigError naming the fix."""
    setting = str(app.config.get("VOICE_LAB_DATABASE") or "")
    scheme = _scheme(setting)
    if scheme not in BACKENDS:
        raise ConfigError(
            "VOICE_LAB_DATABASE",
            f"no storage backend for {scheme}:// databases: give a postgresql:// URL or the "
            f"path of a SQLite file (got {setting!r})",
        )
    if scheme == "sqlite" and not setting.startswith(SQLITE_URL):
        raise ConfigError("VOICE_LAB_DATABASE", f"a SQLite URL is sqlite:///PATH (got {setting!r})")
    return BACKENDS[scheme]


def database(app: Flask) -> str:
    """What the backend opens: the SQLite file's path, or the server's URL."""
    setting = str(app.config.get("VOICE_LAB_DATABASE") or "")
    if _scheme(setting) in ("", "sqlite"):
        return str(database_path(app))
    return setting


def database_path(app: Flask) -> Path:
    """Where the database lives: VOICE_LAB_DATABASE or instance/voice_lab.sqlite3. For a server
    database, the path its local files (the recordings' cache) are named after, in the folder
    VOICE_LAB_FILES names or the instance folder: instance/postgresql."""
    setting = str(app.config.get("VOICE_LAB_DATABASE") or "")
    if not setting:
        return Path(app.instance_path) / "voice_lab.sqlite3"
    scheme = _scheme(setting)
    if scheme == "sqlite":
        return Path(setting.removeprefix(SQLITE_URL))
    if scheme == "":
        return Path(setting)
    return Path(app.config.get("VOICE_LAB_FILES") or app.instance_path) / scheme


def open_store(app: Flask | None = None) -> Store:
    """A new Store on the app's database, for work outside a request (sockets, CLI)."""
    app = app or current_app
    return backend(app)(database(app))


def get_store() -> Store:
    """The request's Store, opened once per request and closed at teardown."""
    if "store" not in g:
        g.store = open_store()
    return g.store


def _close_store(_exc: BaseException | None = None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


def listen(app: Flask, on_news: Callable[[], None]) -> Listener | None:
    """Call `on_news` whenever any process stores events in the app's database: a listener
    for a PostgreSQL one (stopped with its stop()), None for SQLite (one process, whose mirror
    tells its broker itself)."""
    if backend(app) is not PostgresStore:
        return None
    return Listener(database(app), on_news)


class SharedRateLimiter:
    """A RateLimiter's retry_after, counted in the app's PostgreSQL database: every worker on
    it shares the count (called inside a request, on the request's Store)."""

    def __init__(self, limit: int, window: float, scope: str):
        self.limit, self.window, self.scope = limit, window, scope

    def retry_after(self, client: str) -> int:
        """0 if the client may go on now (and count it), else seconds until it may."""
        store = get_store()
        assert isinstance(store, PostgresStore)  # only rate_limiter() builds one, for those
        return store.rate_wait(self.scope, client, self.limit, self.window)


def rate_limiter(app: Flask, scope: str) -> RateLimiter | SharedRateLimiter:
    """The VOICE_LAB_MINT_RATE limit for `scope` (whose mints it counts): in the database with
    PostgreSQL, which several workers share; in memory with SQLite, which one process serves."""
    limit, window = app.config["VOICE_LAB_MINT_RATE"]
    if backend(app) is PostgresStore:
        return SharedRateLimiter(limit, window, scope)
    return RateLimiter(limit, window)


def init_app(app: Flask) -> None:
    """Create or migrate the database and close each request's connection after it."""
    opened = backend(app)  # a setting no backend takes stops the start here
    database_path(app).parent.mkdir(parents=True, exist_ok=True)
    try:
        store = opened(database(app))
        try:
            store.migrate()
        finally:
            store.close()
    except Unavailable as exc:
        raise ConfigError(
            "VOICE_LAB_DATABASE",
            f"cannot open the database: check the setting and that the database is up ({exc})",
        ) from exc
    app.teardown_appcontext(_close_store)
