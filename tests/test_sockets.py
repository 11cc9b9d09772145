"""The mirror's ceilings over real websockets: bytes read ahead, sockets per client and in all,
idle sockets closed and resumed from."""

from __future__ import annotations

import json
import sqlite3
import struct
import threading
from contextlib import suppress

import pytest
import websocket

from tests.stores import stored_seqs, writable_session
from tests.waiting import until
from voice_lab.ingest.frames import MAX_FRAME_BYTES
from voice_lab.web.sockets import IDLE_CLOSE, MESSAGE_LIMIT, TOO_BIG_CLOSE, TOO_MANY_CLOSE

CHUNK = 1 << 16  # the server's receive_bytes: what one read may add past a budget


@pytest.fixture
def limits() -> dict:
    """The socket settings of a test (parametrized); the defaults otherwise."""
    return {}


@pytest.fixture
def settings(settings, limits):
    """A cloud provider that is never called keeps the emulator off."""
    settings.update({"OPENAI_API_KEY": "sk-unused", **limits})
    return settings


def connect(url: str, session: tuple[str, str] | None = None) -> websocket.WebSocket:
    """A socket to the mirror, welcomed to `session` (id, write secret) when one is given."""
    ws = websocket.create_connection(url.replace("http", "ws", 1) + "/ws/mirror", timeout=30)
    if session is not None:
        sid, secret = session
        ws.send(json.dumps({"op": "hello", "session": sid, "secret": secret}))
        assert json.loads(ws.recv())["op"] == "welcome"
    return ws


def big_frame(seq: int) -> str:
    """An events frame of one event, nearly as large as a frame may be."""
    data = json.dumps({"type": "x", "pad": "p" * (MAX_FRAME_BYTES - 4096)})
    return json.dumps(
        {"op": "events", "events": [{"seq": seq, "dir": "server", "t": 1.0, "data": data}]}
    )


def closing(ws: websocket.WebSocket) -> tuple[int, str]:
    """The close code and reason the server sends next (frames before it are skipped)."""
    while True:
        frame = ws.recv_frame()
        if frame.opcode == websocket.ABNF.OPCODE_CLOSE:
            with suppress(OSError):  # answered, as a browser does, unless the server hung up
                ws.send_close()
            return struct.unpack("!H", frame.data[:2])[0], frame.data[2:].decode()


@pytest.mark.parametrize(
    ("sockets", "limits"),
    [
        (1, {"VOICE_LAB_SOCKET_READ_AHEAD": "1", "VOICE_LAB_READ_AHEAD_TOTAL": "32"}),
        (3, {"VOICE_LAB_SOCKET_READ_AHEAD": "32", "VOICE_LAB_READ_AHEAD_TOTAL": "1.5"}),
    ],
    ids=["per socket", "in all"],
)
def test_frames_sent_without_reading_acks_are_read_no_further_than_the_budget(
    app, live_server, sockets
):
    gate = app.extensions["voice_lab_sockets"]
    frames = 48
    sessions = [writable_session(app) for _ in range(sockets)]
    clients = [connect(live_server.url, session) for session in sessions]
    # The store cannot commit: nothing is answered, so what is read stays held.
    db = sqlite3.connect(app.config["VOICE_LAB_DATABASE"], isolation_level=None)
    db.execute("BEGIN EXCLUSIVE")

    def pipeline(ws):
        for seq in range(1, frames + 1):
            ws.send(big_frame(seq))

    senders = [threading.Thread(target=pipeline, args=(ws,)) for ws in clients]
    for sender in senders:
        sender.start()
    until(lambda: gate.waiting == sockets, "every reader waits for room")
    # Each socket may finish the frame it is in (and one read more) past the budget, no further.
    most = min(gate.read_ahead * sockets, gate.read_ahead_total)
    assert gate.held() <= most + sockets * (MAX_FRAME_BYTES + CHUNK)
    db.execute("ROLLBACK")
    db.close()
    for ws in clients:
        replies = [json.loads(ws.recv()) for _ in range(frames)]
        assert {r["op"] for r in replies} == {"ack"} and replies[-1]["upto"] == frames
    for sender, ws in zip(senders, clients, strict=True):
        sender.join(30)
        ws.close()
    for sid, _ in sessions:
        assert stored_seqs(app, sid) == list(range(1, frames + 1))


@pytest.mark.parametrize(
    ("variable", "limits"),
    [
        ("VOICE_LAB_SOCKETS_PER_CLIENT", {"VOICE_LAB_SOCKETS_PER_CLIENT": "2"}),
        ("VOICE_LAB_SOCKETS", {"VOICE_LAB_SOCKETS": "2"}),
    ],
)
def test_a_socket_past_the_cap_gets_an_error_and_a_close_reason(live_server, app, variable):
    gate = app.extensions["voice_lab_sockets"]
    session = writable_session(app)
    first, second = connect(live_server.url, session), connect(live_server.url, session)
    third = connect(live_server.url)
    error = json.loads(third.recv())
    assert error["op"] == "error" and error["code"] == "too_many_sockets"
    assert variable in error["message"]
    code, reason = closing(third)
    assert code == TOO_MANY_CLOSE and variable in reason and len(reason.encode()) <= 123
    first.close()
    until(lambda: gate.sockets == 1, "one socket left")
    fourth = connect(live_server.url, session)  # a slot came free
    for ws in (second, third, fourth):
        ws.close()


@pytest.mark.parametrize("limits", [{"VOICE_LAB_SOCKET_IDLE": "0.2"}])
def test_an_idle_socket_is_closed_its_threads_end_and_a_hello_resumes(live_server, app):
    gate = app.extensions["voice_lab_sockets"]
    sid, secret = writable_session(app)
    threads = threading.active_count()  # before any socket: the server's own
    ws = connect(live_server.url, (sid, secret))
    ws.send(big_frame(1))
    assert json.loads(ws.recv()) == {"op": "ack", "upto": 1}
    assert closing(ws) == (IDLE_CLOSE, "idle for 0.2 s: reconnect to send more")
    ws.close()
    until(lambda: gate.sockets == 0, "no socket left")
    # Both of a socket's threads (the request's and its reader's) end with it.
    until(lambda: threading.active_count() == threads, "the first socket's threads ended")
    again = connect(live_server.url)
    again.send(json.dumps({"op": "hello", "session": sid, "secret": secret}))
    welcome = {"op": "welcome", "session": sid, "acked": 1, "audio_acked": 0}
    assert json.loads(again.recv()) == welcome
    again.send(big_frame(2))
    assert json.loads(again.recv()) == {"op": "ack", "upto": 2}
    assert threading.active_count() >= threads + 2
    assert closing(again)[0] == IDLE_CLOSE
    again.close()
    until(lambda: threading.active_count() == threads, "the socket's threads ended")
    assert stored_seqs(app, sid) == [1, 2]


def _whole(ws: websocket.WebSocket, size: int) -> None:
    ws.send("x" * size)


def _never_ending(ws: websocket.WebSocket, size: int) -> None:
    """`size` bytes of a text frame that claims twice as many: it never ends."""
    header = b"\x81\xff" + struct.pack("!Q", 2 * size) + bytes(4)  # an all-zero mask
    ws.sock.sendall(header + b"x" * size)


@pytest.mark.parametrize("send", [_whole, _never_ending], ids=["whole", "never ending"])
def test_a_frame_far_over_the_limit_closes_the_socket_with_1009(live_server, app, send):
    gate = app.extensions["voice_lab_sockets"]
    ws = connect(live_server.url, writable_session(app))
    sender = threading.Thread(target=lambda: suppress_closed(send, ws, 4 * MESSAGE_LIMIT))
    sender.start()
    code, reason = closing(ws)
    assert code == TOO_BIG_CLOSE and str(MESSAGE_LIMIT) in reason and len(reason.encode()) <= 123
    sender.join(30)
    ws.close()
    until(lambda: gate.sockets == 0, "the socket's slot is free")
    assert gate.held() == 0
    # A frame just over the mirror's own limit is answered, and the socket stays up.
    again = connect(live_server.url, writable_session(app))
    again.send("x" * (MAX_FRAME_BYTES + 1))
    assert json.loads(again.recv())["code"] == "frame_too_large"
    again.send(json.dumps({"op": "events", "events": []}))
    assert json.loads(again.recv())["op"] in {"ack", "error"}
    again.close()


def suppress_closed(send, ws: websocket.WebSocket, size: int) -> None:
    """send(ws, size), the server closing the socket under it allowed."""
    with suppress(OSError, websocket.WebSocketException):
        send(ws, size)
