"""Retention: VOICE_LAB_RETENTION_DAYS deletes old sessions, their events, their recording and
its files, on each backend."""

from __future__ import annotations

import time

import pytest

from tests.stores import opened, stop_news
from tests.waiting import until
from voice_lab import create_app
from voice_lab.ingest import recordings
from voice_lab.ingest.retention import prune
from voice_lab.storage import database_path
from voice_lab.storage.rows import AudioChunk, EventRow

pytestmark = pytest.mark.backends()

DAY = 86400


def _session(app, age_days: float) -> str:
    """A session created `age_days` ago, with an event, a recording chunk and a cached file."""
    with opened(app) as store:
        sid = store.create_session(provider="emulator", created_at=time.time() - age_days * DAY)
        store.insert_events(sid, [EventRow(1, "server", 0.0, "x", "other", None, None, "{}")])
        store.insert_chunks(sid, [AudioChunk(1, 0.0, b"opus")])
    files = recordings.folder(recordings.cache_root(database_path(app)), sid)
    files.mkdir(parents=True)
    (files / "recording.webm").write_bytes(b"opus")
    return sid


def test_old_sessions_and_their_audio_go_at_start_up(app, settings):
    old, recent = _session(app, 40), _session(app, 2)
    settings["VOICE_LAB_RETENTION_DAYS"] = "30"
    kept = create_app(settings)
    try:
        with opened(kept) as store:
            assert store.get_session(old) is None and store.get_session(recent) is not None
            assert list(store.iter_events(old)) == [] and store.recording_info(old) is None
            assert store.recording_info(recent) is not None
        root = recordings.cache_root(database_path(kept))
        assert not recordings.folder(root, old).exists()
        # The recent one's files stay (the preparer may remake them from its chunks meanwhile).
        until(lambda: recordings.folder(root, recent).exists(), "the recent recording's files")
        assert prune(kept) == []  # nothing more to delete: again it deletes nothing
    finally:
        kept.extensions["voice_lab_retention"].set()
        stop_news(kept)


def test_without_the_setting_nothing_is_deleted(app):
    old = _session(app, 4000)
    assert app.extensions["voice_lab_retention"] is None
    with opened(app) as store:
        assert store.get_session(old) is not None
