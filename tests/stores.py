"""A test's database on the backend it runs on (a file, or a fresh PostgreSQL database made
from a migrated template), and a test app's database reached through its own Store."""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from flask import Flask

from voice_lab.storage import open_store
from voice_lab.storage.base import Store
from voice_lab.storage.postgres import PostgresStore
from voice_lab.storage.sqlite import SQLiteStore

BACKENDS = ("sqlite", "postgresql")
POSTGRES = os.environ.get("VOICE_LAB_TEST_POSTGRES", "")
HOW_TO_RUN = (
    "run them with `make test-pg` (a throwaway cluster), or point VOICE_LAB_TEST_POSTGRES at "
    "a server (postgresql://USER@HOST/DB)"
)
TEMPLATE = f"voice_lab_test_template_{os.getpid()}"  # runs sharing a server keep apart

_numbers = count(1)
_template_lock = threading.Lock()
_template_made: list[bool] = []


def on_database(url: str, name: str) -> str:
    """The server URL with another database name in its path."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _admin() -> psycopg.Connection:
    return psycopg.connect(POSTGRES, autocommit=True)


def _template() -> None:
    """The migrated database every test's is copied from, made once per run (a copy is much
    quicker than migrating each one)."""
    with _template_lock:
        if _template_made:
            return
        with _admin() as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
            admin.execute(f"CREATE DATABASE {TEMPLATE}")
        atexit.register(_drop, TEMPLATE)
        store = PostgresStore(on_database(POSTGRES, TEMPLATE))
        try:
            store.migrate()
        finally:
            store.close()
        _template_made.append(True)


def _drop(name: str) -> None:
    with _admin() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def postgres_wanted() -> bool:
    """Whether the PostgreSQL tests run: with a server to run them on, and always under CI
    (where they never skip: without a server, they fail)."""
    return bool(POSTGRES) or os.environ.get("CI") == "true"


def postgres_url() -> str:
    """VOICE_LAB_TEST_POSTGRES, or the test failed saying how to set it."""
    if not POSTGRES:
        pytest.fail("VOICE_LAB_TEST_POSTGRES is not set: run the tests under .ci/postgres.sh")
    return POSTGRES


@contextmanager
def fresh_database(backend: str, folder: Path, migrated: bool = True) -> Iterator[str]:
    """The VOICE_LAB_DATABASE of a database of the test's own on `backend`: a file in
    `folder`, or a PostgreSQL database (migrated, unless not `migrated`) dropped afterwards."""
    if backend == "sqlite":
        yield str(folder / "voice_lab.sqlite3")
        return
    url = postgres_url()
    if migrated:
        _template()
    name = f"voice_lab_test_{os.getpid()}_{next(_numbers)}"
    with _admin() as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE if migrated else 'template0'}")
    try:
        yield on_database(url, name)
    finally:
        _drop(name)


def store_on(database: str) -> Store:
    """A Store on a test database, by its setting."""
    if database.startswith("postgresql://"):
        return PostgresStore(database)
    return SQLiteStore(database)


@contextmanager
def opened(app: Flask) -> Iterator[Store]:
    """The app's store, closed after the block."""
    store = open_store(app)
    try:
        yield store
    finally:
        store.close()


def writable_session(app: Flask, provider: str = "openai") -> tuple[str, str]:
    """A live session the mirror may write into: its id and write secret."""
    with opened(app) as store:
        return store.create_writable_session(provider=provider)


def plain_session(app: Flask, provider: str = "emulator") -> str:
    """A session row with nothing in it (no write secret, no events, no recording)."""
    with opened(app) as store:
        return store.create_session(provider=provider)


def stored_seqs(app: Flask, session_id: str) -> list[int]:
    """The seqs stored for a session, in order."""
    with opened(app) as store:
        return [row["seq"] for row in store.iter_events(session_id)]


def stop_news(app: Flask) -> None:
    """Close the app's listening connection, if it has one (before its database is dropped)."""
    listener = app.extensions.get("voice_lab_news")
    if listener is not None:
        listener.stop()
