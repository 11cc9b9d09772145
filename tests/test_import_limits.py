"""Imports a hostile file cannot turn into memory, numbers JSON cannot hold, and JSON Lines."""

import html
import io
import json
import re
import socket
import sys
import traceback
import tracemalloc
import urllib.request

import pytest
import websocket

from tests.waiting import until
from voice_lab.exchange import imports, reader
from voice_lab.exchange.export import export_chunks
from voice_lab.exchange.imports import parse_import
from voice_lab.exchange.reader import ImportRefused
from voice_lab.protocol.codec import dumps, loads
from voice_lab.protocol.record import parse_event
from voice_lab.storage import get_store
from voice_lab.storage.rows import EventRow
from voice_lab.web import sessions
from voice_lab.web.sessions import MAX_IMPORTS

TOO_LARGE = ["1e400", "-1e400", "1" + "0" * 400 + ".0", "0.1e310", "1E+999"]

pytestmark = pytest.mark.backends()  # the app on each storage backend


@pytest.mark.parametrize("number", TOO_LARGE)
def test_numbers_a_float_cannot_hold_are_not_json(number):
    with pytest.raises(ValueError, match="too large"):
        loads(f'{{"type":"x","v":{number}}}')
    event = parse_event(1, "server", 1.0, f'{{"type":"x","v":{number}}}')
    assert (event.data, event.compact) == (None, False)  # kept as the text that came


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan")])
def test_the_encoder_refuses_what_json_cannot_say(value):
    with pytest.raises(ValueError):
        dumps({"type": "voicelab.stats", "v": value})


def strict(text: str):
    """json.loads as RFC 8259 reads it: no NaN, no Infinity, no number that overflows."""

    def refuse(token):
        raise AssertionError(f"{token} in an export")

    def finite(token):
        value = float(token)
        assert value not in (float("inf"), float("-inf")), f"{token} in an export"
        return value

    return json.loads(text, parse_constant=refuse, parse_float=finite)


def mirror(url: str, frames: list[dict]) -> tuple[str, list[dict]]:
    """Send frames over a real mirror socket: the session id and each reply."""
    ws = websocket.create_connection(url.replace("http", "ws", 1) + "/ws/mirror", timeout=10)
    try:
        ws.send(json.dumps({"op": "hello", "create": {"label": "numbers"}}))
        session_id = json.loads(ws.recv())["session"]
        replies = []
        for frame in frames:
            ws.send(frame if isinstance(frame, str) else json.dumps(frame))
            replies.append(json.loads(ws.recv()))
        return session_id, replies
    finally:
        ws.close()


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def events_of(export: str) -> list:
    return strict(export)["events"]


def test_export_import_export_holds_for_every_number_the_mirror_acked(live_server, client, csrf):
    odd = ["1e400", "-1e400", "1e308", "-0.0", "5e-324", "1" + "0" * 40, "123456789.123456789e-5"]
    texts = [f'{{"type":"x","n":{n}}}' for n in odd]
    batch = [{"seq": i, "dir": "server", "t": 1.5, "data": t} for i, t in enumerate(texts, 1)]
    local = {"type": "voicelab.stats", "rtt_ms": 1e308, "tiny": 5e-324, "big": 10**40, "z": -0.0}
    batch.append({"seq": len(batch) + 1, "dir": "local", "t": 2.5, "data": local})
    # A local event is an object in the frame: a number no float holds makes the frame not JSON.
    bad_local = (
        '{"op":"events","events":[{"seq":99,"dir":"local","t":1,'
        '"data":{"type":"voicelab.x","v":1e400}}]}'
    )
    session_id, replies = mirror(live_server.url, [{"op": "events", "events": batch}, bad_local])
    assert replies[0] == {"op": "ack", "upto": len(batch)}
    assert replies[1]["op"] == "error" and "too large" in replies[1]["message"]

    first = get(f"{live_server.url}/sessions/{session_id}/export.json")
    acked = events_of(first)
    assert [e["seq"] for e in acked] == list(range(1, len(batch) + 1))  # nothing of seq 99
    assert acked[0]["event"] == texts[0]  # not JSON a reader can hold: kept as its text
    assert acked[-1]["event"]["big"] == 10**40

    upload = {"file": (io.BytesIO(first.encode()), "numbers.json")}
    imported = client.post("/import", data={**upload, "csrf_token": csrf})
    assert imported.status_code == 303, imported.get_data(as_text=True)
    again = imported.headers["Location"].rsplit("/", 1)[-1]
    second = get(f"{live_server.url}/sessions/{again}/export.json")
    assert events_of(second) == acked
    assert first.split('"events": [')[1] == second.split('"events": [')[1]


def test_json_lines_end_only_at_newlines():
    texts = ["a\u2028b", "c\u0085d", "e\u2029f\x1cg\x1dh\x1ei\x0bj\x0ck"]
    lines = [
        json.dumps(
            {"seq": n, "dir": "server", "t": 1, "event": {"type": "x", "text": text}},
            ensure_ascii=False,
        )
        for n, text in enumerate(texts, 1)
    ]
    data = ("\r\n".join(lines[:2]) + "\n" + lines[2]).encode()  # no \n after the last
    _, rows = parse_import(data, "log.jsonl")
    assert [json.loads(r.payload)["text"] for r in rows] == texts


def bomb(path, events: int) -> int:
    """A bare array of `events` tiny events written to path: its size in bytes."""
    with open(path, "wb") as file:
        file.write(b"[")
        file.write(b",".join([b'{"type":"a"}'] * events))
        file.write(b"]")
    return path.stat().st_size


def test_a_bomb_is_refused_while_it_is_read(tmp_path, monkeypatch):
    monkeypatch.setattr(imports, "MAX_EVENTS", 1_000)
    monkeypatch.setattr(reader, "READ_BYTES", 4096)
    size = bomb(tmp_path / "bomb.json", 100_000)
    with open(tmp_path / "bomb.json", "rb") as file:
        with pytest.raises(ImportRefused, match="more than 1000 events"):
            parse_import(file, "bomb.json")
        # 1,001 events of 13 bytes and one read ahead, not the 1.3 MB after them.
        assert file.tell() <= 1_001 * 13 + 2 * 4096 < size


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b'[{"type": "a"}' + b" " * 10, "expected ','"),
        (b'[{"type": "a"} {"type": "b"}]', "expected ','"),
        (b'[{"type": "a"}] x', "more text after"),
        (
            b'{"format": "voice-lab.session", "version": 1, "events": '
            b'[{"seq": 1, "dir": "server", "t": 1, "event": {}}]} {}',
            "more text after",
        ),
        (b'{"format": "voice-lab.session", 5: 1}', "field name in quotes"),
        (
            b'{"format": "voice-lab.session", "version": 1, "events": [{"seq": 1, "dir": '
            b'"server", "t": 1, "event": {}}], "events": [{"seq": 2, "dir": "server", "t": 1, '
            b'"event": {}}]}',
            '"events" appears twice',
        ),
        (b"\xef\xbb\xbf[" + b'{"type": "\xc3"}]', "at byte 14"),
        (b'[{"type": "a", "v": 1e999}]', "too large"),
    ],
)
def test_files_cut_or_padded_are_refused_with_where(data, fragment):
    with pytest.raises(ImportRefused) as info:
        parse_import(data, "bad.json")
    assert fragment in str(info.value)


@pytest.mark.parametrize("piece", [1, 7, 4096])
def test_any_read_size_gives_the_same_rows(store, monkeypatch, piece):
    sid = store.create_session(provider="openai", label="pieces")
    texts = ['{"type":"x","v":12345.678e-2}', "not json {", '{"type":"é\u2028","n":[1,2,[3]]}']
    store.insert_events(
        sid,
        [EventRow.of(parse_event(n, "server", 1.0, t)) for n, t in enumerate(texts, 1)],
    )
    export = "".join(export_chunks(store.get_session(sid), store.export_rows(sid)))
    whole = parse_import(export.encode(), "x.json")
    monkeypatch.setattr(reader, "READ_BYTES", piece)
    assert parse_import(export.encode(), "x.json") == whole
    assert [r.payload for r in whole[1]] == ['{"type":"x","v":123.45678}', *texts[1:]]


def post_start(url: str, csrf: str, cookie: str) -> socket.socket:
    """An import whose upload has begun and not ended: the server waits on its body."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=30)
    boundary = "b0undary"
    head = (
        f"POST /import HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n"
        f"X-CSRF-Token: {csrf}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
        "Content-Length: 100000\r\n\r\n"
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.json"\r\n\r\n['
    )
    sock.sendall(head.encode())
    return sock


def handling(view: str) -> int:
    """How many of the server's threads are inside the view function `view` right now."""
    return sum(
        any(frame.f_code.co_name == view for frame, _ in traceback.walk_stack(top))
        for top in sys._current_frames().values()
    )


def import_page(url: str) -> tuple[str, str]:
    """The session cookie and CSRF token a browser gets from the sessions page."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    with opener.open(url + "/", timeout=30) as page:
        cookie = page.headers["Set-Cookie"].split(";", 1)[0]
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.read().decode()).group(1)
    return cookie, csrf


def test_stalled_uploads_hold_no_import_slot(live_server):
    cookie, csrf = import_page(live_server.url)
    held = [post_start(live_server.url, csrf, cookie) for _ in range(MAX_IMPORTS)]
    try:
        until(lambda: handling("import_file") >= MAX_IMPORTS, "the server waits on both bodies")
        body = (
            '--x\r\nContent-Disposition: form-data; name="file"; filename="real.json"\r\n'
            '\r\n[{"type": "a"}]\r\n--x--\r\n'
        )
        request = urllib.request.Request(
            live_server.url + "/import",
            data=body.encode(),
            headers={
                "X-CSRF-Token": csrf,
                "Cookie": cookie,
                "Content-Type": "multipart/form-data; boundary=x",
            },
        )
        with urllib.request.urlopen(request, timeout=30) as page:  # 303 to the new session
            assert "/sessions/vl_" in page.url and "real.json" in page.read().decode()
    finally:
        for sock in held:
            sock.close()


def test_imports_at_once_are_bounded_and_the_next_is_told_when_to_retry(client, csrf):
    def another():
        upload = {"file": (io.BytesIO(b'[{"type": "a"}]'), "a.json"), "csrf_token": csrf}
        return client.post("/import", data=upload)

    for _ in range(MAX_IMPORTS):  # the slots two imports would hold while they parse
        assert sessions._imports.acquire(blocking=False)
    try:
        refused = another()
    finally:
        for _ in range(MAX_IMPORTS):
            sessions._imports.release()
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "5"
    page = refused.get_data(as_text=True)
    assert "imports are running already: try again in 5 seconds" in page
    assert another().status_code == 303


def export_with(tmp_path, extra: dict[str, str], session: str = '{"label": "kept"}') -> str:
    """An export of 1,000 events with the top-level fields `extra` (name: JSON text), one a line
    before its events, as a file: its path. (A long first line would be tried as JSON Lines
    first, and that costs one line's parse whatever the fields are.)"""
    path = tmp_path / "extra.json"
    rows = ",\n".join(
        json.dumps({"seq": n, "dir": "server", "t": n, "event": {"type": "x", "n": n}})
        for n in range(1, 1001)
    )
    fields = "".join(f'"{name}": {text},\n' for name, text in extra.items())
    path.write_text(
        f'{{"format": "voice-lab.session", "version": 1,\n{fields}"session": {session}, '
        f'"events": [\n{rows}\n]}}'
    )
    return str(path)


def import_peak(client, csrf, path: str) -> tuple[int, str, int]:
    """Import the file at path through the route: the status, the page and the peak of what
    Python held meanwhile (tracemalloc), in bytes."""
    tracemalloc.start()
    try:
        with open(path, "rb") as file:
            reply = client.post("/import", data={"file": (file, "extra.json"), "csrf_token": csrf})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return reply.status_code, html.unescape(reply.get_data(as_text=True)), peak


def brackets(chars: int) -> str:
    """The tester's filler: `[[],[],...]` of about `chars` characters."""
    return "[" + ",".join(["[]"] * (chars // 3)) + "]"


@pytest.mark.parametrize(
    ("extra", "status", "said"),
    [
        ({f"k{n}": brackets(15_000) for n in range(300)}, 303, ""),  # many, each small: dropped
        ({f"k{n}": brackets(1_000_000) for n in range(4)}, 400, 'the field "k0" is over 16384'),
    ],
    ids=["many-small", "few-large"],
)
def test_fields_an_import_does_not_use_are_not_kept(
    tmp_path, client, csrf, monkeypatch, extra, status, said
):
    monkeypatch.setattr(reader, "READ_BYTES", 64 * 1024)  # so the window is not what is measured
    plain = import_peak(client, csrf, export_with(tmp_path, {}))
    assert plain[0] == 303
    got, page, peak = import_peak(client, csrf, export_with(tmp_path, extra))
    assert got == status and said in page
    # The unknown fields are 4.5 MB of text that would be about 100 MB as lists; what is
    # held is what the same export without them holds, and one field at a time.
    assert peak < 2 * plain[2], (peak, plain[2])


def test_a_session_value_larger_than_any_real_one_is_refused(tmp_path, client, csrf):
    session = json.dumps({"label": "x", "notes": "y" * 20_000})
    got, page, _ = import_peak(client, csrf, export_with(tmp_path, {}, session))
    assert got == 400 and 'the field "session" is over 16384 characters' in page


KEY = "ek_" + "a1" * 20  # redacted by its shape: no 7 characters of it may stay


def test_labels_are_redacted_before_they_are_cut(tmp_path, client, csrf, app):
    near_the_cut = "x" * 189 + " " + KEY  # the key starts 10 characters before 200
    session = json.dumps({"label": "y" * 10_000 + KEY, "model": near_the_cut})
    from_file = import_peak(client, csrf, export_with(tmp_path, {}, session))
    with open(export_with(tmp_path, {}), "rb") as file:
        upload = {"file": (file, "x.json"), "csrf_token": csrf, "label": near_the_cut}
        from_form = client.post("/import", data=upload)
    events = io.BytesIO(b'[{"type": "a"}]')  # no session in it: the file's name is its label
    upload = {"file": (events, near_the_cut + ".json"), "csrf_token": csrf}
    from_name = client.post("/import", data=upload)
    assert from_file[0] == from_form.status_code == from_name.status_code == 303
    with app.app_context():
        stored = get_store().list_sessions()
    assert len(stored) == 3
    for session in stored:
        for field in ("label", "model"):
            text = session[field] or ""
            assert len(text) <= 200 and "a1a1a1a" not in text, (field, text)
    ends = sorted(session["label"][-14:] for session in stored)
    assert ends == ["xxx ek_a1…a1.…", "xxxxx ek_a1…a1", "yyyyyyyyyyyyy…"]
