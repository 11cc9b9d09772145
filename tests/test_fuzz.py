"""Fuzzing the two ways data comes in: mirror frames and imported files.

Whatever arrives, the mirror answers with a welcome, an ack or an error it names (never an
exception, never a dropped connection), the importer stores a whole file or nothing, no route
answers 500, and afterwards every session's counters agree with its rows.
"""

from __future__ import annotations

import io
import json
import re
import sqlite3

import pytest
import websocket
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.eventlogs import barge_in_log, function_call_log, voice_turn_log
from tests.figures import count, inconsistencies
from voice_lab import create_app
from voice_lab.exchange.export import export_chunks
from voice_lab.exchange.imports import parse_import
from voice_lab.exchange.reader import ImportRefused
from voice_lab.ingest.frames import to_events
from voice_lab.ingest.mirror import Mirror
from voice_lab.protocol.names import DIRECTIONS
from voice_lab.storage import open_store
from voice_lab.testing import LiveServer

pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
# Every error code the mirror may answer with when nothing is wrong with the server itself.
FRAME_CODES = {
    "not_json",
    "bad_frame",
    "unknown_op",
    "bad_hello",
    "session_not_found",
    "secret_required",
    "wrong_secret",
    "session_read_only",
    "no_session",
    "frame_too_large",
    "too_deep",
    "bad_events",
    "batch_too_large",
    "bad_event",
}
# A hello refused leaves the socket on no session.
HELLO_REFUSALS = {
    "bad_hello",
    "session_not_found",
    "secret_required",
    "wrong_secret",
    "session_read_only",
}
REAL_TEXTS = [
    e.raw for log in (voice_turn_log(), barge_in_log(), function_call_log()) for e in log.events
]

# Text a websocket can carry: any code point but lone surrogates (JSON escapes make those).
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats()
    | text
    | st.sampled_from(["\\ud800", "ek_" + "a1" * 12, "sk-proj-" + "b2" * 12])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=10,
)
data_channel_text = st.one_of(
    st.sampled_from(REAL_TEXTS),
    text,
    json_values.map(json.dumps),
    st.integers(1, 300).map(lambda n: "[" * n + "]" * (n % 2) * n),
    st.sampled_from(REAL_TEXTS).map(lambda t: t.replace('"', "\\u0022", 1)),
)
local_events = st.fixed_dictionaries(
    {"type": st.sampled_from(["voicelab.stats", "voicelab.pc_state", "voicelab.error", "x"])},
    optional={"state": text, "rtt_ms": scalars, "nested": json_values},
)
valid_events = st.fixed_dictionaries(
    {
        "seq": st.integers(1, 60),
        "dir": st.sampled_from(DIRECTIONS),
        "t": st.floats(1e12, 2e12) | st.none(),
        "data": data_channel_text | local_events.filter(lambda e: e["type"] != "x"),
    }
)
events = valid_events | st.fixed_dictionaries(
    {
        "seq": st.integers(1, 60) | st.integers(-2, 0) | st.just(2**53) | json_values,
        "dir": st.sampled_from(DIRECTIONS) | text,
        "t": st.floats(1e12, 2e12) | st.none() | scalars,
        "data": data_channel_text | local_events | json_values,
    }
)
frame_objects = st.one_of(
    st.fixed_dictionaries({"op": st.just("events"), "events": st.lists(valid_events, max_size=8)}),
    st.fixed_dictionaries(
        {"op": st.just("events"), "events": st.lists(events, max_size=8) | json_values}
    ),
    st.fixed_dictionaries(
        {"op": st.just("hello")},
        optional={
            "session": text | scalars,
            "secret": text | scalars,
            "create": st.dictionaries(
                st.sampled_from(["label", "provider", "model", "voice", "x"]), scalars, max_size=3
            )
            | json_values,
        },
    ),
    st.fixed_dictionaries({"op": text | scalars}, optional={"events": json_values}),
    json_values,
)


@st.composite
def mutated(draw, frames):
    """A frame's JSON text with a slice cut out or replaced, as a broken client might send."""
    serialized = json.dumps(draw(frames))
    start = draw(st.integers(0, len(serialized)))
    end = draw(st.integers(start, min(len(serialized), start + 8)))
    return serialized[:start] + draw(text) + serialized[end:]


frame_texts = st.one_of(
    frame_objects.map(json.dumps),
    mutated(frame_objects),
    text,
    st.integers(1, 200_000).map(lambda n: "[" * n),
    st.integers(60, 80).map(lambda n: '{"op": "events", "x": ' + "[" * n + "]" * n + "}"),
)


class Model:
    """What the mirror promised: every acked seq stored with the text it first accepted."""

    def __init__(self, store, session_id):
        self.store, self.session_id, self.first = store, session_id, {}

    def sent(self, frame_text, reply):
        """Check a reply against the model and remember what a stored batch held."""
        assert reply["op"] in ("welcome", "ack", "error"), reply
        if reply["op"] == "error":
            assert reply["code"] in FRAME_CODES and reply["message"], reply
            return
        if reply["op"] != "ack" or reply.get("upto") is None:
            return
        # Within a batch the last of a duplicate seq counts; across batches the first stored.
        batch = {e.seq: e.raw for e in to_events(json.loads(frame_text)["events"])}
        for seq, payload in batch.items():
            self.first.setdefault(seq, payload)
        assert reply["upto"] == self.store.contiguous_seq(self.session_id)

    def check(self):
        """Stored rows are exactly the accepted ones, each once, with their first text."""
        rows = {r["seq"]: r["payload"] for r in self.store.iter_events(self.session_id)}
        assert rows == self.first


@pytest.fixture
def fuzz_app(tmp_path):
    """An app on a fresh database with a cloud provider that is never called."""
    return create_app(
        {
            "VOICE_LAB_DATABASE": str(tmp_path / "fuzz.sqlite3"),
            "TESTING": True,
            "OPENAI_API_KEY": "sk-unused",
        }
    )


def _check_database(app):
    db = sqlite3.connect(app.config["VOICE_LAB_DATABASE"])
    try:
        assert inconsistencies(db) == []
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


def test_frames_in_process(fuzz_app):
    store = open_store(fuzz_app)
    session_id, secret = store.create_writable_session(provider="openai")
    model = Model(store, session_id)
    hello = json.dumps({"op": "hello", "session": session_id, "secret": secret})

    @settings(FUZZ, max_examples=2500)
    @given(frame=frame_texts | st.binary(max_size=60))
    def run(frame):
        mirror = Mirror(store)
        assert mirror.handle(hello)["op"] == "welcome"
        reply = mirror.handle(frame)
        count("mirror frames fuzzed (in process)")
        json.dumps(reply)  # every reply can be sent
        if mirror.session_id == session_id:
            model.sent(frame, reply)
        else:
            assert reply["op"] != "ack"

    run()
    model.check()
    count("events stored by fuzzed frames", len(model.first))
    store.close()
    _check_database(fuzz_app)


def test_frames_over_a_real_websocket(fuzz_app):
    store = open_store(fuzz_app)
    session_id, secret = store.create_writable_session(provider="openai")
    model = Model(store, session_id)
    with LiveServer(fuzz_app) as server:
        ws = websocket.create_connection(
            server.url.replace("http", "ws", 1) + "/ws/mirror", timeout=10
        )
        hello = json.dumps({"op": "hello", "session": session_id, "secret": secret})
        ws.send(hello)
        assert json.loads(ws.recv())["op"] == "welcome"

        @settings(FUZZ, max_examples=400)
        @given(frame=frame_texts, binary=st.booleans())
        def run(frame, binary):
            if binary:
                ws.send_binary(frame.encode())
            else:
                ws.send(frame)
            reply = json.loads(ws.recv())  # an answer to every frame: the socket is still up
            count("mirror frames fuzzed (websocket)")
            moved = reply["op"] == "welcome" and reply["session"] != session_id
            if moved or reply.get("code") in HELLO_REFUSALS:
                # The frame moved the socket to another session, or to none: come back.
                ws.send(hello)
                assert json.loads(ws.recv())["op"] == "welcome"
                return
            model.sent(frame, reply)

        run()
        last = json.dumps({"op": "events", "events": [{"seq": 61, "dir": "server", "data": ""}]})
        ws.send(last)
        reply = json.loads(ws.recv())
        assert reply["op"] == "ack"
        model.sent(last, reply)
        ws.close()
    model.check()
    count("events stored by fuzzed frames", len(model.first))
    store.close()
    _check_database(fuzz_app)


export_rows = st.fixed_dictionaries(
    {
        "seq": st.integers(1, 40) | scalars,
        "dir": st.sampled_from(DIRECTIONS) | text,
        "t": st.floats(1e12, 2e12) | st.none() | scalars,
        "event": data_channel_text | json_values,
    }
)
documents = st.one_of(
    st.fixed_dictionaries(
        {
            "format": st.just("voice-lab.session"),
            "version": st.just(1) | scalars,
            "session": st.dictionaries(
                st.sampled_from(["label", "created_at", "ended_at", "model", "id", "x"]),
                scalars,
                max_size=4,
            )
            | json_values,
            "events": st.lists(export_rows, max_size=6) | json_values,
        }
    ),
    st.lists(st.fixed_dictionaries({"type": text | scalars}, optional={"x": json_values})),
    st.lists(json_values, max_size=5),
)
file_bytes = st.one_of(
    documents.map(lambda d: json.dumps(d).encode()),
    st.lists(export_rows.map(json.dumps), min_size=1, max_size=6).map(
        lambda lines: "\n".join(lines).encode()
    ),
    mutated(documents).map(str.encode),
    st.binary(max_size=80),
    st.integers(1, 100_000).map(lambda n: b"[" * n + b"]" * n),
)


def test_import_parser(fuzz_app):
    store = open_store(fuzz_app)

    @settings(FUZZ, max_examples=1000)
    @given(data=file_bytes)
    def run(data):
        count("import files fuzzed (parser)")
        try:
            fields, rows = parse_import(data, "fuzz.json")
        except ImportRefused as exc:
            assert str(exc)
            return
        session_id = store.import_session(fields, rows)
        session = store.get_session(session_id)
        exported = "".join(export_chunks(session, store.export_rows(session_id)))
        again = store.import_session(*parse_import(exported.encode(), "again.json"))
        second = store.get_session(again)
        exported_again = "".join(export_chunks(second, store.export_rows(again)))
        assert exported.split('"events": [')[1] == exported_again.split('"events": [')[1]
        assert second["label"] == session["label"]

    run()
    store.close()
    _check_database(fuzz_app)


def test_import_route(fuzz_app):
    client = fuzz_app.test_client()
    page = client.get("/").get_data(as_text=True)
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    store = open_store(fuzz_app)

    @settings(FUZZ, max_examples=250)
    @given(data=file_bytes, name=st.sampled_from(["x.json", "<b>x</b>.jsonl", "é.json"]))
    def run(data, name):
        before = len(store.list_sessions())
        reply = client.post(
            "/import",
            data={"file": (io.BytesIO(data), name), "csrf_token": csrf},
            content_type="multipart/form-data",
        )
        count("import files fuzzed (route)")
        assert reply.status_code in (303, 400), reply.get_data(as_text=True)[:500]
        after = len(store.list_sessions())
        if reply.status_code == 400:
            assert after == before and "Nothing imported" in reply.get_data(as_text=True)
            return
        assert after == before + 1
        session_url = reply.headers["Location"]
        for path in ("", "/panels", "/export.json", "/events/1"):
            assert client.get(session_url + path).status_code in (200, 404)
        assert client.get("/").status_code == 200

    run()
    store.close()
    _check_database(fuzz_app)
