"""A test app's database reached through its own Store, opened and closed around each use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from voice_lab.storage import open_store
from voice_lab.storage.base import Store


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
