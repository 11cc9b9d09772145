"""The preparer: a recording's files are made in the background once its call is complete (its
stop stored by the mirror, the session ended, or left unprepared by a previous run), one job a
session, which requests wait for or are told to come back after; and what they read then."""

from __future__ import annotations

import json
import threading

import pytest
import requests
import websocket

from tests.recordings import CALL_SECONDS, T0, call_chunks, call_events, store_call
from tests.waiting import until
from voice_lab import create_app
from voice_lab.analysis.call_times import lanes
from voice_lab.ingest import recordings
from voice_lab.ingest.preparer import Preparer
from voice_lab.protocol.record import from_row
from voice_lab.storage import database_path, open_store
from voice_lab.storage.rows import AudioChunk


@pytest.fixture(scope="module")
def chunks() -> list[bytes]:
    """The chunks MediaRecorder would send for the call of tests/recordings.py."""
    return call_chunks()


def prepared(app, session_id: str) -> bool:
    """Whether the session's recording files are made for the chunks stored now."""
    store = open_store(app)
    try:
        return recordings.facts(store, recordings.cache_root(database_path(app)), session_id)
    except recordings.NotReady:
        return False
    finally:
        store.close()


def recorded(app, chunks: list[bytes]) -> str:
    """A session holding the recorded call, stored directly (nothing asks for its files)."""
    store = open_store(app)
    try:
        return store_call(store, chunks)
    finally:
        store.close()


def test_the_recording_is_prepared_once_the_mirror_stores_its_stop(live_server, app, chunks):
    store = open_store(app)
    try:
        session_id, secret = store.create_writable_session(provider="emulator")
        store.insert_chunks(session_id, [AudioChunk(n, T0, c) for n, c in enumerate(chunks, 1)])
    finally:
        store.close()
    *before, stop = [
        {"seq": e.seq, "dir": e.direction, "t": e.t, "data": json.loads(e.raw)}
        if e.direction == "local"
        else {"seq": e.seq, "dir": e.direction, "t": e.t, "data": e.raw}
        for e in call_events()
    ]
    ws = websocket.create_connection(live_server.url.replace("http", "ws", 1) + "/ws/mirror")
    try:
        ws.send(json.dumps({"op": "hello", "session": session_id, "secret": secret}))
        assert json.loads(ws.recv())["op"] == "welcome"
        ws.send(json.dumps({"op": "events", "events": before}))
        assert json.loads(ws.recv())["upto"] == len(before)
        assert not prepared(app, session_id)  # the call goes on: nothing is made yet
        ws.send(json.dumps({"op": "events", "events": [stop]}))
        assert json.loads(ws.recv())["upto"] == stop["seq"]  # acked before the job is done
    finally:
        ws.close()
    until(lambda: prepared(app, session_id), "the recording prepared after its stop, unasked")


def test_ending_the_session_prepares_it(app, client, chunks):
    store = open_store(app)
    try:
        session_id, secret = store.create_writable_session(provider="emulator")
        store.insert_chunks(session_id, [AudioChunk(n, T0, c) for n, c in enumerate(chunks, 1)])
    finally:
        store.close()
    assert client.post(f"/api/sessions/{session_id}/end", json={"secret": secret}).status_code
    until(lambda: prepared(app, session_id), "the recording prepared once its session ended")


def test_a_request_during_preparation_waits_for_that_job_and_starts_none(live_server, app, chunks):
    release, jobs = threading.Event(), []
    root = recordings.cache_root(database_path(app))

    def held(session_id: str) -> None:
        """The app's own preparation, held until the test lets it go."""
        jobs.append(session_id)
        release.wait()
        store = open_store(app)
        try:
            recordings.prepare(store, root, session_id)
        finally:
            store.close()

    app.extensions["voice_lab_preparer"] = Preparer(held)
    session_id = recorded(app, chunks)
    url = f"{live_server.url}/sessions/{session_id}/recording/peaks"
    for _ in range(2):
        reply = requests.get(url, timeout=30)
        assert reply.status_code == 503 and reply.headers["Retry-After"] == "2"
        assert "being prepared" in reply.json()["error"]["message"]
    assert requests.get(url.removesuffix("/peaks"), timeout=30).status_code == 503
    assert jobs == [session_id]  # one job, however many asked
    release.set()
    until(lambda: requests.get(url, timeout=30).status_code == 200, "the peaks once prepared")
    assert jobs == [session_id]


def test_a_restart_prepares_what_was_left_unprepared(settings, app, chunks):
    session_id = recorded(app, chunks)
    assert not prepared(app, session_id)
    restarted = create_app(settings)  # no request: its start-up finds the recording
    until(lambda: prepared(restarted, session_id), "the unprepared recording prepared at start")


def test_chunks_stored_after_preparation_rebuild_it(live_server, app, chunks):
    session_id = recorded(app, chunks[:6])
    url = f"{live_server.url}/sessions/{session_id}/recording/peaks"
    until(lambda: requests.get(url, timeout=30).status_code == 200, "the short one prepared")
    short = requests.get(url, timeout=30).json()["duration_ms"]
    store = open_store(app)
    try:  # a late resend: the rest of the chunks
        store.insert_chunks(session_id, [AudioChunk(n, T0, c) for n, c in enumerate(chunks, 1)])
    finally:
        store.close()
    assert not prepared(app, session_id)
    until(lambda: requests.get(url, timeout=30).status_code == 200, "the longer one prepared")
    longer = requests.get(url, timeout=30).json()["duration_ms"]
    assert short < longer == pytest.approx(CALL_SECONDS * 1000, abs=50)


def test_the_metadata_answers_without_the_webm(live_server, app, chunks):
    session_id = recorded(app, chunks)
    url = f"{live_server.url}/sessions/{session_id}/recording/peaks"
    until(lambda: requests.get(url, timeout=30).status_code == 200, "the recording prepared")
    whole = requests.get(url, timeout=30).json()
    for webm in recordings.cache_root(database_path(app)).glob("*/*.webm"):
        webm.unlink()  # a peaks request reads the metadata and the levels, never the WebM
    window = requests.get(url, params={"start_ms": 2000, "end_ms": 4000, "bins": 500}, timeout=30)
    assert window.status_code == 200
    found = window.json()
    assert found["duration_ms"] == whole["duration_ms"] == pytest.approx(12000, abs=50)
    assert found["channels"]["user"]["max"] == whole["channels"]["user"]["max"][200:400]


def test_one_job_a_session_and_a_full_queue_refuses_without_blocking():
    release, ran = threading.Event(), []
    preparer = Preparer(lambda session_id: (ran.append(session_id), release.wait()), size=1)
    first = preparer.ask("a")
    until(lambda: ran == ["a"], "the first job running")
    assert preparer.ask("a") is first  # running: the same job
    queued = preparer.ask("b")
    assert queued is not None and preparer.ask("b") is queued  # queued: the same job
    assert preparer.ask("c") is None  # the queue holds one: refused, not waited for
    release.set()
    assert first is not None and first.wait(30) and queued.wait(30)
    assert ran == ["a", "b"]


def test_the_time_view_reads_the_lanes_kept_at_preparation(app, client, chunks):
    """A long call's time view lays its lanes once, when the recording is prepared, not from
    every event on each open: the kept lanes are what the partial serves."""
    session_id = recorded(app, chunks)
    root = recordings.cache_root(database_path(app))
    store = open_store(app)
    try:
        assert recordings.prepare(store, root, session_id)
        events = [from_row(row) for row in store.iter_events(session_id)]
    finally:
        store.close()
    (kept,) = recordings.folder(root, session_id).glob("*.lanes.json")
    laid = json.loads(kept.read_text())
    assert laid == json.loads(json.dumps(lanes(events))) and laid["audio"]
    laid["errors"] = [{"start_ms": 1.0, "end_ms": None, "label": "from the kept lanes"}]
    kept.write_text(json.dumps(laid))
    assert "from the kept lanes" in client.get(f"/sessions/{session_id}/timeview").text
