"""A whole session with canary secrets, then a scan of everything Voice Lab wrote: replies, logs,
the export, the database file and its write-ahead log. The API key is in none of them; the full
ephemeral key and the write secret only in the one reply the browser needs them from."""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from pathlib import Path

import pytest
import websocket

from tests.figures import count

API_KEY = "AZKEY-scan-" + "q9" * 14
EPHEMERAL = "ek_scanCanary" + "Z3" * 12
CLIENT_SECRET = "ek_secondCanary" + "W8" * 12


@pytest.fixture
def azure(azure_stub):
    """Azure GA pointed at a local stand-in whose mint reply carries the canary keys."""
    session = {"id": "sess_1", "client_secret": {"value": CLIENT_SECRET}}
    reply = {"value": EPHEMERAL, "expires_at": 1900000000, "session": session}
    return azure_stub(API_KEY, mint_reply=reply)


def mirrored_events() -> list[dict]:
    """Events as a page would mirror them, with the keys wherever they could turn up."""
    texts = [
        {"type": "session.created", "session": {"client_secret": {"value": EPHEMERAL}}},
        {"type": "session.updated", "session": {"client_secret": CLIENT_SECRET}},
        {"type": "error", "error": {"message": f"bad key {EPHEMERAL}", "code": "auth"}},
        {"type": "x", "headers": {"Authorization": f"Bearer {EPHEMERAL}", "api-key": API_KEY}},
    ]
    events = [
        {"seq": n, "dir": "server", "t": 1.0 * n, "data": json.dumps(text)}
        for n, text in enumerate(texts, start=1)
    ]
    events.append({"seq": 5, "dir": "client", "t": 5.0, "data": f"raw text {EPHEMERAL}"})
    events.append(
        {
            "seq": 6,
            "dir": "local",
            "t": 6.0,
            "data": {"type": "voicelab.error", "message": f"Authorization: Bearer {EPHEMERAL}"},
        }
    )
    return events


def test_no_secret_anywhere_voice_lab_writes(azure, app, live_server, client, caplog):
    caplog.set_level(logging.DEBUG)
    database = Path(app.config["VOICE_LAB_DATABASE"])
    # While a connection stays open the write-ahead log is kept, not folded in and removed.
    keeper = sqlite3.connect(database)
    keeper.execute("SELECT count(*) FROM sessions").fetchone()
    replies = []
    minted = client.post("/api/sessions", json={"label": "scan"})
    assert minted.status_code == 201 and minted.get_json()["ephemeral_key"] == EPHEMERAL
    session_id, write_secret = minted.get_json()["id"], minted.get_json()["write_secret"]

    ws = websocket.create_connection(live_server.url.replace("http", "ws") + "/ws/mirror")
    for frame in (
        {"op": "hello", "session": session_id, "secret": write_secret},
        {"op": "events", "events": mirrored_events()},
    ):
        ws.send(json.dumps(frame))
        replies.append(ws.recv())
    ws.close()
    assert json.loads(replies[-1]) == {"op": "ack", "upto": 6}

    for url in (
        "/",
        f"/sessions/{session_id}",
        f"/sessions/{session_id}?view=flat",
        f"/sessions/{session_id}/panels",
        f"/sessions/{session_id}/export.json",
        f"/api/sessions/{session_id}",
        *(f"/sessions/{session_id}/events/{n}" for n in range(1, 7)),
    ):
        reply = client.get(url)
        assert reply.status_code == 200, url
        replies.append(reply.get_data(as_text=True) + json.dumps(dict(reply.headers)))
    export = client.get(f"/sessions/{session_id}/export.json").get_data(as_text=True)
    assert len(json.loads(export)["events"]) == 6

    files = {path.name: path.read_bytes() for path in database.parent.glob(database.name + "*")}
    keeper.close()
    assert database.name + "-wal" in files and b"session.created" in files[database.name + "-wal"]

    written = {"replies": "\n".join(replies), "logs": caplog.text}
    written.update({name: data.decode("utf-8", "replace") for name, data in files.items()})
    # The write secret's hash is in the database (as the hello's check needs), nowhere else.
    written_hash = hashlib.sha256(write_secret.encode()).hexdigest()
    assert any(written_hash in written[name] for name in files)
    assert written_hash not in written["replies"] + written["logs"]
    for where, text in written.items():
        for secret in (API_KEY, EPHEMERAL, CLIENT_SECRET, write_secret):
            assert secret not in text, f"{secret[:12]}… found in {where}"
            count("secret scans")
    assert "ek_sc" in written["replies"]  # the hint is there: the redaction kept the clue
