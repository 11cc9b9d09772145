"""The mirror over real websockets: stored once, resumable, and every bad frame answered."""

import base64
import hashlib
import json
import sqlite3

import pytest
import websocket

from tests.figures import count
from tests.stores import opened
from tests.waiting import until
from voice_lab.exchange.export import export_chunks
from voice_lab.exchange.reader import MAX_EVENT_BYTES
from voice_lab.ingest.frames import MAX_FRAME_BYTES, MirrorError, parse_frame
from voice_lab.ingest.mirror import Mirror
from voice_lab.storage import open_store
from voice_lab.storage.rows import MAX_CHUNK_BYTES
from voice_lab.web.security import origin_allowed

pytestmark = pytest.mark.backends()  # the app on each storage backend


@pytest.fixture
def settings(settings):
    """No emulator needed here: a cloud provider configuration that is never called."""
    settings.update(
        {"OPENAI_API_KEY": "sk-unused", "VOICE_LAB_ALLOWED_ORIGINS": "https://app.example.com"}
    )
    return settings


@pytest.fixture
def new_session(app):
    """A function that creates a live session row and returns its id and the hello that
    attaches a mirror to it (with its write secret)."""

    def make(**fields):
        store = open_store(app)
        try:
            sid, secret = store.create_writable_session(provider="openai", **fields)
        finally:
            store.close()
        return sid, {"op": "hello", "session": sid, "secret": secret}

    return make


class Client:
    """A websocket client speaking the mirror protocol."""

    def __init__(self, url: str, **options):
        self.ws = websocket.create_connection(
            url.replace("http", "ws", 1) + "/ws/mirror", timeout=5, **options
        )

    def call(self, frame) -> dict:
        self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))
        return json.loads(self.ws.recv())

    def batch(self, seqs, **extra) -> dict:
        return self.call({"op": "events", "events": [event(n, **extra) for n in seqs]})

    def close(self):
        self.ws.close()


def event(seq: int, data=None, direction="server") -> dict:
    if data is None:
        data = json.dumps(
            {
                "type": "response.output_audio_transcript.delta",
                "event_id": f"event_{seq}",
                "response_id": "resp_1",
                "delta": "hi",
            }
        )
    return {"seq": seq, "dir": direction, "t": 1763900000000.0 + seq, "data": data}


def stored(app, session_id):
    store = open_store(app)
    try:
        return [dict(row) for row in store.iter_events(session_id)]
    finally:
        store.close()


def test_batches_stored_once_and_acked(live_server, app, new_session):
    sid, hello = new_session()
    client = Client(live_server.url)
    assert client.call(hello) == {
        "op": "welcome",
        "session": sid,
        "acked": 0,
        "audio_acked": 0,
    }
    assert client.batch([1, 2, 3]) == {"op": "ack", "upto": 3}
    assert client.batch([1, 2, 3]) == {"op": "ack", "upto": 3}
    assert client.batch([3, 4]) == {"op": "ack", "upto": 4}
    client.close()
    rows = stored(app, sid)
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]
    assert {r["category"] for r in rows} == {"delta"} and rows[0]["response_id"] == "resp_1"


def test_resume_after_disconnect_loses_nothing(live_server, app, new_session):
    sid, hello = new_session()
    first = Client(live_server.url)
    first.call(hello)
    first.batch([1, 2])
    first.ws.send(json.dumps({"op": "events", "events": [event(3), event(4)]}))
    first.ws.close()  # maybe before the ack came back: the browser keeps 3 and 4
    second = Client(live_server.url)
    welcome = second.call(hello)
    assert welcome["acked"] in (2, 4)
    assert second.batch(range(welcome["acked"] + 1, 7)) == {"op": "ack", "upto": 6}
    assert [r["seq"] for r in stored(app, sid)] == [1, 2, 3, 4, 5, 6]


def test_a_gap_is_not_acked_past(live_server, new_session):
    sid, hello = new_session()
    client = Client(live_server.url)
    client.call(hello)
    assert client.batch([1, 2, 4]) == {"op": "ack", "upto": 2}
    assert client.call(hello)["acked"] == 2
    assert client.batch([3]) == {"op": "ack", "upto": 4}


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("not json at all", "not_json"),
        ("[1, 2]", "bad_frame"),
        ('{"op": "subscribe"}', "unknown_op"),
        ('{"op": "hello"}', "bad_hello"),
        ('{"op": "hello", "session": "vl_nope"}', "session_not_found"),
        ('{"op": "events", "events": []}', "no_session"),
        ("x" * (MAX_FRAME_BYTES + 1), "frame_too_large"),
        ("[" * 100_000, "too_deep"),
        ('{"op": "hello", "x": ' + "[" * 80 + "]" * 80 + "}", "too_deep"),
    ],
)
def test_bad_frames_get_their_error_and_the_connection_stays(live_server, new_session, frame, code):
    sid, hello = new_session()
    client = Client(live_server.url)
    reply = client.call(frame)
    assert reply["op"] == "error" and reply["code"] == code and reply["message"]
    assert client.call(hello)["op"] == "welcome"
    assert client.batch([1]) == {"op": "ack", "upto": 1}


@pytest.mark.parametrize(
    ("events", "fragment"),
    [
        ("nope", "non-empty list"),
        ([{"seq": 0, "dir": "server", "t": 1, "data": "{}"}], "seq must be"),
        ([{"seq": True, "dir": "server", "t": 1, "data": "{}"}], "seq must be"),
        ([{"seq": 1, "dir": "sideways", "t": 1, "data": "{}"}], "dir must be"),
        ([{"seq": 1, "dir": "server", "t": "noon", "data": "{}"}], "t must be"),
        ([{"seq": 1, "dir": "server", "t": 1, "data": 5}], "data must be"),
        ([{"seq": 1, "dir": "local", "t": 1, "data": {"type": "x"}}], "voicelab.*"),
        ([event(n) for n in range(1, 502)], "a batch may hold 500"),
    ],
)
def test_bad_batches_refused_whole(live_server, app, new_session, events, fragment):
    sid, hello = new_session()
    client = Client(live_server.url)
    client.call(hello)
    reply = client.call({"op": "events", "events": events})
    assert reply["op"] == "error" and fragment in reply["message"]
    assert stored(app, sid) == []


def test_text_that_is_not_json_is_stored_as_received(live_server, app, new_session):
    sid, hello = new_session()
    client = Client(live_server.url)
    client.call(hello)
    odd = "\u00ff not json { at all"
    client.call(
        {
            "op": "events",
            "events": [event(1, odd), event(2, {"type": "voicelab.stats", "rtt_ms": 3}, "local")],
        }
    )
    rows = stored(app, sid)
    assert rows[0]["payload"] == odd and rows[0]["category"] == "unknown"
    assert json.loads(rows[1]["payload"]) == {"type": "voicelab.stats", "rtt_ms": 3}
    assert rows[1]["category"] == "webrtc" and rows[1]["direction"] == "local"


def test_text_nested_too_deep_is_stored_as_text(live_server, app, new_session):
    sid, hello = new_session()
    client = Client(live_server.url)
    client.call(hello)
    bomb, deep = "[" * 100_000, '{"type": "x", "a": ' + "[" * 70 + "]" * 70 + "}"
    assert client.batch([1], data=bomb) == {"op": "ack", "upto": 1}
    assert client.batch([2], data=deep) == {"op": "ack", "upto": 2}
    rows = stored(app, sid)
    assert [(r["payload"], r["type"], r["category"]) for r in rows] == [
        (bomb, None, "unknown"),
        (deep, None, "unknown"),
    ]


def test_one_event_as_big_as_a_frame_is_stored_whole(live_server, app, new_session):
    sid, hello = new_session()
    client = Client(live_server.url)
    client.call(hello)
    frame = json.dumps({"op": "events", "events": [event(1, "")]})
    text = "é" * ((MAX_FRAME_BYTES - len(frame)) // 2)
    frame = json.dumps({"op": "events", "events": [event(1, text)]}, ensure_ascii=False)
    assert client.call(frame) == {"op": "ack", "upto": 1}
    assert stored(app, sid)[0]["payload"] == text
    assert len(text.encode()) <= MAX_EVENT_BYTES  # so its export imports again


def test_lone_surrogates_are_stored_as_their_escapes(live_server, app, new_session):
    sid, hello = new_session()
    client = Client(live_server.url)
    client.call(hello)
    text = '{"type": "x\\ud800", "item_id": "\\udfff"}'
    frame = json.dumps({"op": "events", "events": [event(1, text), event(2, "\ud800 raw")]})
    assert client.call(frame) == {"op": "ack", "upto": 2}
    local = {"type": "voicelab.error", "message": "\udc00"}
    assert client.batch([3], data=local, direction="local") == {"op": "ack", "upto": 3}
    rows = stored(app, sid)
    assert rows[0]["type"] == "x\\ud800" and rows[0]["item_id"] == "\\udfff"
    assert rows[1]["payload"] == "\\ud800 raw"
    assert json.loads(rows[2]["payload"])["message"] == "\udc00"


def test_nul_characters_are_stored_as_their_escapes(live_server, app, new_session):
    # PostgreSQL's text cannot hold NUL: refused, the batch would be resent for ever. Both
    # backends store its escape instead, where the text had to change, and ack at once.
    sid, hello = new_session()
    client = Client(live_server.url)
    client.call(hello)
    text = '{"type": "x\\u0000", "item_id": "i\\u0000"}'
    frame = json.dumps({"op": "events", "events": [event(1, text), event(2, "a\x00b raw")]})
    assert client.call(frame) == {"op": "ack", "upto": 2}
    local = {"type": "voicelab.error", "message": "\x00"}
    assert client.batch([3], data=local, direction="local") == {"op": "ack", "upto": 3}
    rows = stored(app, sid)
    assert rows[0]["type"] == "x\\u0000" and rows[0]["item_id"] == "i\\u0000"
    assert rows[0]["payload"] == text
    assert rows[1]["payload"] == "a\\u0000b raw"
    assert json.loads(rows[2]["payload"])["message"] == "\x00"


@pytest.mark.backends("sqlite")  # a SQLite trigger refuses the write
def test_a_refused_write_is_not_acked_and_the_resend_is(live_server, app, new_session):
    sid, hello = new_session()
    client = Client(live_server.url)
    client.call(hello)
    db = sqlite3.connect(app.config["VOICE_LAB_DATABASE"], isolation_level=None)
    db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON events "
        "BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END"
    )
    reply = client.batch([1, 2])
    assert reply["op"] == "error" and reply["code"] == "storage_unavailable"
    db.execute("DROP TRIGGER refuse")
    db.close()
    assert client.batch([1, 2]) == {"op": "ack", "upto": 2}


def test_secrets_redacted_before_storage(live_server, app, new_session):
    sid, hello = new_session()
    client = Client(live_server.url)
    client.call(hello)
    secret = "ek_68af2c9b5f0c8191a9c6b5e0d1f2a3b4"
    data = json.dumps(
        {
            "type": "session.created",
            "event_id": "event_1",
            "session": {"client_secret": {"value": secret, "expires_at": 1}},
        }
    )
    client.call({"op": "events", "events": [event(1, data), event(2, f"raw {secret} text")]})
    payloads = " ".join(r["payload"] for r in stored(app, sid))
    assert secret not in payloads and "ek_68" in payloads


@pytest.mark.parametrize(
    "frame",
    [
        # A secret spelled with a JSON escape inside the event's text, and in the frame's own.
        '{"op":"events","events":[{"seq":1,"dir":"server","t":1,'
        '"data":"{\\"type\\":\\"x\\",\\"note\\":\\"\\\\u0065k_abcdefgh12345678\\"}"}]}',
        '{"op":"events","events":[{"seq":1,"dir":"server","t":1,'
        '"data":"{\\"type\\":\\"x\\",\\"note\\":\\"\\u0065k_abcdefgh12345678\\"}"}]}',
        # A secret in a local event, and a header in upper case.
        '{"op":"events","events":[{"seq":1,"dir":"local","t":1,'
        '"data":{"type":"voicelab.x","key":"ek_abcdefgh12345678"}}]}',
        '{"op":"events","events":[{"seq":1,"dir":"server","t":1,'
        '"data":"{\\"type\\":\\"x\\",\\"API-KEY\\":\\"abcdefgh12345678\\"}"}]}',
    ],
)
def test_secrets_escaped_or_local_are_redacted_too(store, frame):
    sid, secret = store.create_writable_session(provider="emulator")
    mirror = Mirror(store)
    mirror.handle(json.dumps({"op": "hello", "session": sid, "secret": secret}))
    assert mirror.handle(frame) == {"op": "ack", "upto": 1}
    payload = store.get_event(sid, 1)["payload"]
    assert "abcdefgh12345678" not in payload and "ab…78" in payload


def test_a_session_deleted_under_the_mirror_is_said_to_be_gone(store):
    sid, secret = store.create_writable_session(provider="emulator")
    mirror = Mirror(store)
    mirror.handle(json.dumps({"op": "hello", "session": sid, "secret": secret}))
    store.delete_session(sid)
    batch = '{"op":"events","events":[{"seq":1,"dir":"server","t":1,"data":"{}"}]}'
    reply = mirror.handle(batch)
    assert reply["code"] == "session_not_found" and "was deleted" in reply["message"]


def test_two_sessions_at_once_stay_apart(live_server, app, new_session):
    (a, hello_a), (b, hello_b) = new_session(), new_session()
    ca, cb = Client(live_server.url), Client(live_server.url)
    ca.call(hello_a)
    cb.call(hello_b)
    for n in range(1, 21):
        ca.batch([n], data=json.dumps({"type": "a", "n": n}))
        cb.batch([n, n + 100], data=json.dumps({"type": "b", "n": n}))
    assert {json.loads(r["payload"])["type"] for r in stored(app, a)} == {"a"}
    assert len(stored(app, a)) == 20 and len(stored(app, b)) == 40


def test_external_session_created_by_hello(live_server, app):
    client = Client(live_server.url, origin="https://app.example.com")
    welcome = client.call({"op": "hello", "create": {"label": "my app", "model": "gpt-realtime"}})
    assert welcome["op"] == "welcome" and welcome["acked"] == 0
    assert client.batch([1]) == {"op": "ack", "upto": 1}
    store = open_store(app)
    session = store.get_session(welcome["session"])
    store.close()
    assert (session["origin"], session["provider"], session["label"]) == (
        "external",
        "external",
        "my app",
    )


def test_cross_origin_refused_unless_allowed(live_server):
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        Client(live_server.url, origin="https://evil.example.net")
    assert info.value.status_code == 403
    Client(live_server.url, origin="https://app.example.com").close()
    Client(live_server.url, origin=live_server.url).close()


def test_origin_rules():
    allowed = ("https://a.example.com",)
    assert origin_allowed(None, "127.0.0.1:5000", allowed)
    assert origin_allowed("http://127.0.0.1:5000", "127.0.0.1:5000", allowed)
    assert origin_allowed("https://a.example.com", "127.0.0.1:5000", allowed)
    assert not origin_allowed("https://b.example.com", "127.0.0.1:5000", allowed)
    assert origin_allowed("https://b.example.com", "h", ("*",))


def test_handle_without_a_socket(app, new_session):
    sid, hello = new_session()
    store = open_store(app)
    mirror = Mirror(store)
    assert mirror.handle(json.dumps(hello))["acked"] == 0
    assert mirror.handle(json.dumps({"op": "events", "events": [event(1)]})) == {
        "op": "ack",
        "upto": 1,
    }
    store.close()
    with pytest.raises(MirrorError):
        parse_frame(b"\xff\xfe")


def test_frames_sent_ahead_are_answered_in_order(live_server, app, new_session):
    (sid, hello), (other, hello_other) = new_session(), new_session()
    client = Client(live_server.url)
    client.call(hello)
    frames = [
        {"op": "events", "events": [event(1), event(2)]},
        {"op": "events", "events": "nope"},
        {"op": "events", "events": [event(4)]},
        {"op": "events", "events": [event(3)]},
        hello_other,
        {"op": "events", "events": [event(1)]},
    ]
    for frame in frames:  # all sent before the first reply is read
        client.ws.send(json.dumps(frame))
    replies = [json.loads(client.ws.recv()) for _ in frames]
    client.close()
    assert [r.get("upto", r.get("code")) for r in replies[:2]] == [2, "bad_events"]
    # Seq 4 is stored with 3 missing: its ack says 2, or 4 when 3 committed in the same group.
    assert replies[2]["upto"] in (2, 4) and replies[3]["upto"] == 4
    assert replies[4] == {"op": "welcome", "session": other, "acked": 0, "audio_acked": 0}
    assert replies[5] == {"op": "ack", "upto": 1}
    assert [row["seq"] for row in stored(app, sid)] == [1, 2, 3, 4]
    assert [row["seq"] for row in stored(app, other)] == [1]


def test_a_welcome_counts_the_batches_taken_before_it(app, new_session):
    sid, hello = new_session()
    store = open_store(app)
    mirror = Mirror(store)
    mirror.take(json.dumps(hello))
    mirror.take(json.dumps({"op": "events", "events": [event(1), event(2)]}))
    mirror.take(json.dumps(hello))
    assert [mirror.reply() for _ in range(3)] == [
        {"op": "welcome", "session": sid, "acked": 0, "audio_acked": 0},
        {"op": "ack", "upto": 2},
        {"op": "welcome", "session": sid, "acked": 2, "audio_acked": 0},
    ]
    assert mirror.unanswered == 0
    store.close()


def test_a_hello_without_the_right_write_secret_is_refused_and_nothing_stored(
    live_server, app, new_session
):
    sid, hello = new_session()
    other, other_hello = new_session()
    secret = hello["secret"]
    with opened(app) as store:
        (stored_hash,) = store._one("SELECT write_hash FROM sessions WHERE id = ?", (sid,))
    assert secret not in stored_hash  # kept hashed, not in clear
    refusals = [
        (None, "secret_required"),
        ("", "secret_required"),
        (12345, "secret_required"),
        ([secret], "secret_required"),
        ({"value": secret}, "secret_required"),
        (other_hello["secret"], "wrong_secret"),  # another session's
        (stored_hash, "wrong_secret"),  # what the database holds
        (secret[:-1] + ("A" if secret[-1] != "A" else "B"), "wrong_secret"),
        (secret[:-1], "wrong_secret"),
        (secret + "x", "wrong_secret"),
        (secret.upper(), "wrong_secret"),
        (f" {secret}", "wrong_secret"),
        ("\ud800", "wrong_secret"),
    ]
    client = Client(live_server.url)
    for wrong, code in refusals:
        # Attached to a session of its own first: a refused hello must not leave it there.
        assert client.call(other_hello)["op"] == "welcome"
        frame = {k: v for k, v in {**hello, "secret": wrong}.items() if v is not None}
        reply = client.call(frame)
        assert (reply["op"], reply["code"]) == ("error", code), wrong
        assert sid in reply["message"] and "secret" in reply["message"]
        assert client.batch([1])["code"] == "no_session"
        count("wrong write secrets tried")
    assert stored(app, sid) == [] and stored(app, other) == []
    assert client.call(hello) == {"op": "welcome", "session": sid, "acked": 0, "audio_acked": 0}
    assert client.batch([1]) == {"op": "ack", "upto": 1}
    client.close()
    assert [row["seq"] for row in stored(app, sid)] == [1]


def test_an_imported_session_takes_no_mirror(live_server, app):
    store = open_store(app)
    sid = store.import_session({"label": "imported"}, [])
    store.close()
    client = Client(live_server.url)
    for secret in (None, "vlw_anything"):
        reply = client.call({"op": "hello", "session": sid, "secret": secret})
        assert reply["code"] == ("secret_required" if secret is None else "session_read_only")
        assert client.batch([1])["code"] == "no_session"
    client.close()
    assert stored(app, sid) == []


def test_a_session_created_by_hello_resumes_with_the_welcomes_secret(live_server, app):
    first = Client(live_server.url)
    welcome = first.call({"op": "hello", "create": {"label": "my app"}})
    assert welcome["secret"].startswith("vlw_") and len(welcome["secret"]) > 40
    assert first.batch([1, 2]) == {"op": "ack", "upto": 2}
    first.close()
    second = Client(live_server.url)
    refused = second.call({"op": "hello", "session": welcome["session"]})
    assert refused["code"] == "secret_required"
    resumed = {"op": "hello", "session": welcome["session"], "secret": welcome["secret"]}
    assert second.call(resumed) == {
        "op": "welcome",
        "session": welcome["session"],
        "acked": 2,
        "audio_acked": 0,
    }
    assert second.batch([3]) == {"op": "ack", "upto": 3}
    second.close()
    assert [row["seq"] for row in stored(app, welcome["session"])] == [1, 2, 3]


def test_the_write_secret_is_in_no_row_read_and_no_export(store):
    sid, secret = store.create_writable_session(provider="emulator", label="x")
    written = hashlib.sha256(secret.encode()).hexdigest()
    rows = [store.get_session(sid), *store.list_sessions()]
    assert all("write_hash" not in row for row in rows)
    export = "".join(export_chunks(store.get_session(sid), store.export_rows(sid)))
    assert secret not in export and written not in export
    assert store.write_allowed(sid, secret) is True


def audio(*seqs: int, data: bytes | None = None) -> str:
    """An audio frame of chunks with these seqs (each its own bytes unless `data` is given)."""
    chunks = [
        {
            "seq": n,
            "t": 1763900000000.0 + 1000 * n,
            "data": base64.b64encode(data if data is not None else b"chunk %d" % n).decode(),
        }
        for n in seqs
    ]
    return json.dumps({"op": "audio", "chunks": chunks})


@pytest.fixture
def mirrored(app, new_session):
    """A Mirror welcomed to a new session, without a socket: (mirror, its store, session id)."""
    sid, hello = new_session()
    store = open_store(app)
    mirror = Mirror(store)
    assert mirror.handle(json.dumps(hello))["audio_acked"] == 0
    yield mirror, store, sid
    mirror.close()
    store.close()


def test_audio_chunks_are_stored_once_and_acked(mirrored):
    mirror, store, sid = mirrored
    assert mirror.handle(audio(1, 2)) == {"op": "audio_ack", "upto": 2}
    assert mirror.handle(audio(1, 2)) == {"op": "audio_ack", "upto": 2}  # a resend: nothing new
    assert mirror.handle(audio(4)) == {"op": "audio_ack", "upto": 2}
    assert mirror.handle(audio(2, 3)) == {"op": "audio_ack", "upto": 4}
    assert list(store.recording_chunks(sid)) == [b"chunk %d" % n for n in (1, 2, 3, 4)]
    assert store.recording_info(sid)["first_t"] == 1763900001000.0
    assert store.contiguous_seq(sid) == 0  # audio has a sequence of its own


@pytest.mark.parametrize(
    ("frame", "code", "fragment"),
    [
        ('{"op": "audio", "chunks": []}', "bad_chunks", "non-empty list"),
        (
            '{"op": "audio", "chunks": [{"seq": 1, "t": 1, "data": "not base64!"}]}',
            "bad_chunk",
            "chunks[0]: data is not base64",
        ),
        ('{"op": "audio", "chunks": [{"seq": 0, "t": 1, "data": "AAAA"}]}', "bad_chunk", "seq"),
        ('{"op": "audio", "chunks": [{"seq": 1, "data": "AAAA"}]}', "bad_chunk", "t must"),
        ('{"op": "audio", "chunks": [{"seq": 1, "t": 1, "data": ""}]}', "bad_chunk", "empty"),
        (audio(1, data=b"x" * (MAX_CHUNK_BYTES + 3)), "bad_chunk", "shorter timeslice"),
        (audio(*range(1, 102)), "batch_too_large", "more frames"),
    ],
)
def test_bad_audio_is_refused_whole_and_the_mirror_goes_on(mirrored, frame, code, fragment):
    mirror, store, sid = mirrored
    reply = mirror.handle(frame)
    assert reply["op"] == "error" and reply["code"] == code and fragment in reply["message"]
    assert store.recording_info(sid) is None
    assert mirror.handle(audio(1)) == {"op": "audio_ack", "upto": 1}


def test_audio_before_hello_is_refused(app):
    store = open_store(app)
    try:
        reply = Mirror(store).handle(audio(1))
    finally:
        store.close()
    assert reply["code"] == "no_session" and "hello" in reply["message"]


def test_audio_into_a_deleted_session_is_said_to_be_gone(mirrored):
    mirror, store, sid = mirrored
    store.delete_session(sid)
    assert mirror.handle(audio(1))["code"] == "session_not_found"


def test_audio_over_a_real_socket_resumes_after_a_reconnect(live_server, app, new_session):
    sid, hello = new_session()
    first = Client(live_server.url)
    first.call(hello)
    assert first.call(audio(1, 2)) == {"op": "audio_ack", "upto": 2}
    first.close()
    second = Client(live_server.url)
    assert second.call(hello)["audio_acked"] == 2
    assert second.call(audio(3)) == {"op": "audio_ack", "upto": 3}
    assert second.call({"op": "events", "events": [event(1)]}) == {"op": "ack", "upto": 1}
    second.close()


@pytest.fixture
def recording_off(settings):
    """The app records nothing."""
    settings["VOICE_LAB_RECORDING"] = "off"


def test_the_call_page_offers_recording(client):
    assert 'data-testid="record"' in client.get("/call").get_data(as_text=True)


def test_an_app_that_records_nothing_offers_no_recording_and_refuses_audio(
    recording_off, client, live_server, app, new_session
):
    assert 'data-testid="record"' not in client.get("/call").get_data(as_text=True)
    sid, hello = new_session()
    ws = Client(live_server.url)
    assert ws.call(hello)["op"] == "welcome"
    reply = ws.call(audio(1))
    assert reply["code"] == "recording_off" and "VOICE_LAB_RECORDING" in reply["message"]
    assert ws.call({"op": "events", "events": [event(1)]}) == {"op": "ack", "upto": 1}
    ws.close()
    store = open_store(app)
    try:
        assert store.recording_info(sid) is None
    finally:
        store.close()


def test_an_end_frame_ends_the_session_after_its_batches(live_server, app, new_session):
    sid, hello = new_session()
    client = Client(live_server.url)
    client.call(hello)
    client.ws.send(json.dumps({"op": "events", "events": [event(1), event(2)]}))
    client.ws.send(json.dumps({"op": "end"}))
    assert json.loads(client.ws.recv()) == {"op": "ack", "upto": 2}
    assert json.loads(client.ws.recv()) == {"op": "ended", "session": sid}
    client.close()
    with opened(app) as store:
        assert store.get_session(sid)["ended_at"] is not None
    assert [row["seq"] for row in stored(app, sid)] == [1, 2]


def test_an_end_frame_before_hello_is_refused(live_server):
    client = Client(live_server.url)
    assert client.call({"op": "end"})["code"] == "no_session"
    client.close()


@pytest.mark.parametrize("timeout", ["0.05"])
def test_a_silent_session_is_ended_at_its_last_event(live_server, app, settings, timeout):
    """A page that crashed mid-call sends no end: once it is silent past the timeout the
    sessions list shows it ended, at the time of its last event."""
    app.config["VOICE_LAB_SESSION_TIMEOUT"] = float(timeout)
    client = Client(live_server.url, origin="https://app.example.com")
    welcome = client.call({"op": "hello", "create": {"label": "crashed app"}})
    assert client.batch([1]) == {"op": "ack", "upto": 1}
    client.ws.sock.close()  # gone without a close frame, as a crashed page's socket is
    (row,) = stored(app, welcome["session"])

    def ended() -> float | None:
        html = app.test_client().get("/").get_data(as_text=True)
        assert "crashed app" in html
        with opened(app) as store:
            return store.get_session(welcome["session"])["ended_at"]

    until(lambda: ended() is not None, "the silent session ended")
    assert ended() == row["received_at"]
