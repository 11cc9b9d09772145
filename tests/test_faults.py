"""Faults and load: a locked or refusing database, the service unreachable at mint time, and
many sessions mirrored at once while a dashboard follows each; nothing acked is ever lost."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import threading

import pytest
import requests
import websocket

from tests.figures import count, inconsistencies
from tests.stores import stored_seqs
from tests.waiting import until
from voice_lab import create_app
from voice_lab.ingest.mirror import Mirror
from voice_lab.storage import open_store
from voice_lab.testing import LiveServer


@pytest.fixture
def settings(settings):
    """A cloud provider that is never called (the mint test points it somewhere)."""
    settings["OPENAI_API_KEY"] = "sk-unused"
    settings["VOICE_LAB_LIVE_WAIT"] = "1"  # a tab's last wait, once its session has all it gets
    return settings


def batch(seqs) -> str:
    """An events frame of realistic deltas."""
    events = [
        {
            "seq": n,
            "dir": "server",
            "t": 1763900000000.0 + n,
            "data": json.dumps({"type": "response.output_text.delta", "delta": str(n)}),
        }
        for n in seqs
    ]
    return json.dumps({"op": "events", "events": events})


def hold_lock(app) -> sqlite3.Connection:
    """Another connection holding the database's write lock, as another process might."""
    db = sqlite3.connect(app.config["VOICE_LAB_DATABASE"], isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")
    count("faults injected")
    return db


def mirroring(app, live_server) -> tuple[str, websocket.WebSocket]:
    """A new session and a websocket already welcomed to mirror it."""
    store = open_store(app)
    session_id, secret = store.create_writable_session(provider="openai")
    store.close()
    ws = websocket.create_connection(live_server.url.replace("http", "ws") + "/ws/mirror")
    ws.send(json.dumps({"op": "hello", "session": session_id, "secret": secret}))
    json.loads(ws.recv())
    return session_id, ws


def test_locked_past_the_busy_timeout_is_not_acked_and_the_resend_is(app):
    store = open_store(app)
    # The store waits 10 s for a lock; a short wait here reaches the timeout quickly.
    store.writer.db.execute("PRAGMA busy_timeout = 50")
    session_id, secret = store.create_writable_session(provider="openai")
    mirror = Mirror(store)
    mirror.handle(json.dumps({"op": "hello", "session": session_id, "secret": secret}))
    assert mirror.handle(batch([1, 2])) == {"op": "ack", "upto": 2}
    locker = hold_lock(app)
    reply = mirror.handle(batch([3, 4]))
    assert reply["op"] == "error" and reply["code"] == "storage_unavailable"
    assert "send it again" in reply["message"]
    locker.execute("ROLLBACK")
    locker.close()
    assert mirror.handle(batch([3, 4])) == {"op": "ack", "upto": 4}
    assert stored_seqs(app, session_id) == [1, 2, 3, 4]
    count("events sent (faults)", 4)
    count("events stored (faults)", len(stored_seqs(app, session_id)))
    store.close()


def test_locked_for_a_moment_the_batch_waits_and_is_acked(app, live_server):
    session_id, ws = mirroring(app, live_server)
    locker = hold_lock(app)
    ws.send(batch([1, 2, 3]))
    store = open_store(app)  # its writer is the server's: a process has one per file
    # The writer holds its lock while it writes a group: the batch is now waiting on ours.
    until(store.writer.lock.locked, "the server's writer is writing the batch")
    locker.execute("ROLLBACK")
    locker.close()
    assert json.loads(ws.recv()) == {"op": "ack", "upto": 3}
    ws.close()
    assert stored_seqs(app, session_id) == [1, 2, 3]
    store.close()
    count("events sent (faults)", 3)
    count("events stored (faults)", 3)


def test_a_failing_write_is_not_acked_and_nothing_half_stored(app, live_server):
    session_id, ws = mirroring(app, live_server)
    ws.send(batch([1, 2]))
    assert json.loads(ws.recv()) == {"op": "ack", "upto": 2}
    db = sqlite3.connect(app.config["VOICE_LAB_DATABASE"], isolation_level=None)
    # The fourth row of the batch fails, as a full disk would: the first three must not stay.
    db.execute(
        "CREATE TRIGGER full_disk BEFORE INSERT ON events WHEN NEW.seq = 6 "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full (injected)'); END"
    )
    count("faults injected")
    ws.send(batch([3, 4, 5, 6]))
    reply = json.loads(ws.recv())
    assert reply["op"] == "error" and reply["code"] == "storage_unavailable"
    assert stored_seqs(app, session_id) == [1, 2]
    db.execute("DROP TRIGGER full_disk")
    ws.send(batch([3, 4, 5, 6]))
    assert json.loads(ws.recv()) == {"op": "ack", "upto": 6}
    ws.close()
    assert stored_seqs(app, session_id) == [1, 2, 3, 4, 5, 6]
    assert inconsistencies(db) == []
    db.close()
    count("events sent (faults)", 6)
    count("events stored (faults)", 6)


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def unreachable(settings):
    """OpenAI pointed at a port nothing listens on: the network to the service is gone."""
    settings["OPENAI_BASE_URL"] = f"http://127.0.0.1:{closed_port()}/v1"
    return settings


def test_service_unreachable_at_mint_time_is_a_clear_504(unreachable, client, app):
    reply = client.post("/api/sessions", json={"label": "offline"})
    count("faults injected")
    assert reply.status_code == 504
    error = reply.get_json()["error"]
    assert error["code"] == "unreachable" and error["message"].startswith("could not reach")
    store = open_store(app)
    assert store.list_sessions() == []  # no session for a key that was never minted
    store.close()


SESSIONS = 8
EVENTS_EACH = 300


def mirror_session(url, session_id, secret, sent, errors):
    """Mirror EVENTS_EACH events in batches of varying size, resending one batch on purpose."""
    ws = websocket.create_connection(url.replace("http", "ws") + "/ws/mirror", timeout=20)
    try:
        ws.send(json.dumps({"op": "hello", "session": session_id, "secret": secret}))
        json.loads(ws.recv())
        seq, size = 0, 1
        while seq < EVENTS_EACH:
            seqs = list(range(seq + 1, min(EVENTS_EACH, seq + size) + 1))
            ws.send(_tagged(session_id, seqs))
            reply = json.loads(ws.recv())
            if reply != {"op": "ack", "upto": seqs[-1]}:
                errors.append(f"{session_id}: {reply}")
                return
            if size == 7:  # a resend after an ack that was lost on the way: stored once
                ws.send(_tagged(session_id, seqs))
                json.loads(ws.recv())
            sent[session_id] += len(seqs)
            seq, size = seqs[-1], size % 40 + 1
    finally:
        ws.close()


def _tagged(session_id, seqs) -> str:
    events = [
        {"seq": n, "dir": "server", "t": 1.0 * n, "data": json.dumps({"type": session_id, "n": n})}
        for n in seqs
    ]
    return json.dumps({"op": "events", "events": events})


def follow(url, session_id, done, seen, errors):
    """A dashboard tab's live tail: ask for the window after the last seq it has, which waits
    for the mirror's news; once the mirrors are done, look until nothing is left."""
    http = requests.Session()
    after = 0
    while True:
        finished = done.is_set()
        params = {"after": after, "view": "flat", **({} if finished else {"upto": after})}
        reply = http.get(f"{url}/sessions/{session_id}/window", params=params)
        if reply.status_code != 200:
            errors.append(f"{session_id} window: {reply.status_code}")
            return
        seqs = [int(s) for s in _seqs(reply.text)]
        if any(session_id != other for other in _types(reply.text)):
            errors.append(f"{session_id} shows another session's events")
        seen[session_id].extend(seqs)
        after = seqs[-1] if seqs else after
        if finished and not seqs:
            return


def _seqs(html: str) -> list[str]:
    return re.findall(r'data-testid="event-row" data-seq="(\d+)"', html)


def _types(html: str) -> set[str]:
    return set(re.findall(r"vl_[0-9a-f]{16}", html))


def test_many_sessions_at_once_no_cross_talk_each_event_once(app, live_server):
    store = open_store(app)
    made = [
        store.create_writable_session(provider="openai", label=f"load {n}") for n in range(SESSIONS)
    ]
    ids = [sid for sid, _ in made]
    store.close()
    sent = {sid: 0 for sid in ids}
    seen = {sid: [] for sid in ids}
    errors: list[str] = []
    done = threading.Event()
    mirrors = [
        threading.Thread(target=mirror_session, args=(live_server.url, sid, secret, sent, errors))
        for sid, secret in made
    ]
    tabs = [
        threading.Thread(target=follow, args=(live_server.url, sid, done, seen, errors))
        for sid in ids
    ]
    for thread in mirrors + tabs:
        thread.start()
    for thread in mirrors:
        thread.join(60)
    done.set()
    for thread in tabs:
        thread.join(60)
    assert errors == []
    store = open_store(app)
    for sid in ids:
        rows = list(store.iter_events(sid))
        assert [r["seq"] for r in rows] == list(range(1, EVENTS_EACH + 1))
        assert {json.loads(r["payload"])["type"] for r in rows} == {sid}
        assert store.get_session(sid)["event_count"] == EVENTS_EACH
        assert seen[sid] == list(range(1, EVENTS_EACH + 1))  # the tab saw each once, in order
    assert inconsistencies(store.db) == []
    store.close()
    count("events sent (concurrent sessions)", sum(sent.values()))
    count("events stored (concurrent sessions)", SESSIONS * EVENTS_EACH)


def test_a_resume_after_a_server_restart_carries_the_write_secret(app, settings):
    def connect(server) -> websocket.WebSocket:
        return websocket.create_connection(server.url.replace("http", "ws") + "/ws/mirror")

    with LiveServer(app) as server:
        ws = connect(server)
        ws.send(json.dumps({"op": "hello", "create": {"label": "restarted"}}))
        welcome = json.loads(ws.recv())
        ws.send(batch([1, 2, 3]))
        assert json.loads(ws.recv()) == {"op": "ack", "upto": 3}
        ws.close()
    count("faults injected")  # the server went away with the page still holding the call
    restarted = create_app(settings)  # a new process's app on the same database
    with LiveServer(restarted) as server:
        ws = connect(server)
        ws.send(json.dumps({"op": "hello", "session": welcome["session"]}))
        assert json.loads(ws.recv())["code"] == "secret_required"
        ws.send(
            json.dumps({"op": "hello", "session": welcome["session"], "secret": welcome["secret"]})
        )
        assert json.loads(ws.recv()) == {
            "op": "welcome",
            "session": welcome["session"],
            "acked": 3,
            "audio_acked": 0,
        }
        ws.send(batch([3, 4]))
        assert json.loads(ws.recv()) == {"op": "ack", "upto": 4}
        ws.close()
    assert stored_seqs(app, welcome["session"]) == [1, 2, 3, 4]
