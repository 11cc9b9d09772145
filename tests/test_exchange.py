"""Export and import: the versioned format, other tools' logs, and files we refuse."""

import json

import pytest

from voice_lab.exchange import reader
from voice_lab.exchange.export import EventLines, export_chunks
from voice_lab.exchange.imports import parse_import
from voice_lab.exchange.reader import ImportRefused
from voice_lab.protocol.record import parse_event
from voice_lab.storage.errors import StorageError
from voice_lab.storage.rows import EventRow

TURN = [
    (
        "server",
        '{"type":"session.created","event_id":"event_1","session":{"id":"sess_1",'
        '"client_secret":{"value":"ek_abcdefghijklmnop","expires_at":1}}}',
    ),
    ("client", '{"type": "session.update", "session": {"instructions": "héllo"}}'),
    (
        "server",
        '{"type":"input_audio_buffer.speech_started","event_id":"event_2",'
        '"audio_start_ms":1200,"item_id":"item_1"}',
    ),
    (
        "server",
        '{"type":"response.output_audio_transcript.delta","event_id":"event_3",'
        '"response_id":"resp_1","item_id":"item_2","output_index":0,"content_index":0,"delta":"Hi"}',
    ),
    ("server", "not json {"),
    ("local", '{"type":"voicelab.stats","rtt_ms":2.5}'),
    ("server", '{"no_type": true}'),
]


def live_session(store) -> str:
    sid = store.create_session(provider="emulator", label="turn", model="gpt-realtime")
    rows = []
    for seq, (direction, text) in enumerate(TURN, start=1):
        event = parse_event(seq, direction, 1763900000000.5 + seq, text)
        rows.append(EventRow.of(event))
    store.insert_events(sid, rows)
    return sid


def export_text(store, sid) -> str:
    return "".join(export_chunks(store.get_session(sid), store.export_rows(sid)))


def test_export_format(store):
    sid = live_session(store)
    document = json.loads(export_text(store, sid))
    assert document["format"] == "voice-lab.session" and document["version"] == 1
    assert document["session"]["id"] == sid and document["session"]["label"] == "turn"
    assert "key_hint" not in document["session"]
    events = document["events"]
    assert [e["seq"] for e in events] == list(range(1, len(TURN) + 1))
    assert events[0]["type"] == "session.created" and events[0]["dir"] == "server"
    assert events[0]["t"] == 1763900000001.5
    assert events[1]["event"]["session"]["instructions"] == "héllo"
    assert events[4]["event"] == "not json {" and events[4]["type"] is None
    assert events[6]["event"] == {"no_type": True}
    assert "ek_abcdefghijklmnop" not in export_text(store, sid)


def test_export_import_export_is_stable(store):
    first = export_text(store, live_session(store))
    fields, rows = parse_import(first.encode(), "first.json")
    again = store.import_session(fields, rows)
    second = export_text(store, again)
    assert json.loads(second)["session"]["origin"] == "imported"
    assert first.split('"events": [')[1] == second.split('"events": [')[1]
    assert store.get_session(again)["label"] == "turn"


def test_a_replay_exports_and_imports_with_its_original(store):
    original = live_session(store)
    replay = live_session(store)
    store.update_session(replay, replay_of=original)
    document = json.loads(export_text(store, replay))
    assert document["session"]["replay_of"] == original
    fields, rows = parse_import(export_text(store, replay).encode(), "replay.json")
    assert store.get_session(store.import_session(fields, rows))["replay_of"] == original


def test_json_lines_of_event_rows(store):
    lines = "\n".join(
        json.dumps(
            {"seq": n, "dir": "server", "t": 5.0 * n, "event": {"type": "response.done", "n": n}}
        )
        for n in (2, 1, 3)
    )
    fields, rows = parse_import(lines.encode() + b"\n\n", "log.jsonl")
    assert [r.seq for r in rows] == [1, 2, 3] and fields["label"] == "log.jsonl"
    assert rows[0].type == "response.done" and rows[0].payload == '{"type":"response.done","n":1}'


def test_bare_array_of_realtime_events(store):
    events = [
        {"type": "session.created", "event_id": "e1"},
        {"type": "session.update", "session": {}},
        {"type": "response.create"},
        {"type": "response.created", "response": {"id": "resp_9"}},
    ]
    fields, rows = parse_import(json.dumps(events).encode(), "capture.json")
    assert [(r.seq, r.direction) for r in rows] == [
        (1, "server"),
        (2, "client"),
        (3, "client"),
        (4, "server"),
    ]
    assert rows[3].response_id == "resp_9"
    sid = store.import_session(fields, rows)
    assert store.get_session(sid)["event_count"] == 4


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "is empty"),
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"{nope", "not valid JSON"),
        (b'{"format": "voice-lab.session", "version": 9, "events": []}', "version 9"),
        (b'{"format": "voice-lab.session", "version": 1, "events": {}}', '"events" must be a list'),
        (b'{"format": "voice-lab.session", "version": 1, "events": []}', "holds no events"),
        (b'{"hello": "world"}', "expected a voice-lab.session export"),
        (b'[{"type": "a"}, 5]', "item 1 is not a realtime event"),
        (
            b'{"seq": 1, "dir": "server", "t": 1, "event": {}}\n'
            b'{"seq": 1, "dir": "server", "t": 2, "event": {}}',
            "seq 1 appears twice",
        ),
        (b'{"seq": 0, "dir": "server", "t": 1, "event": {}}\n', "seq must be"),
        (b'{"seq": 1, "dir": "up", "t": 1, "event": {}}\n{"seq": 2}', "dir must be"),
        (b'{"seq": 1, "dir": "server", "t": "x", "event": {}}\n', "t must be"),
        (b'{"seq": 1, "dir": "server", "t": 1, "event": 7}\n', "event must be"),
        (b'{"seq": 1, "dir": "server", "t": 1, "event": {}}\nnot json\n', "line 2"),
        (b'[{"type": "a", "x": NaN}]', "NaN is not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
        (b'[{"type": "a", "x": ' + b"[" * 70 + b"]" * 70 + b"}]", "nested deeper than 64"),
    ],
)
def test_bad_files_are_refused_with_a_reason(store, data, fragment):
    with pytest.raises(ImportRefused) as info:
        parse_import(data, "bad.json")
    assert fragment in str(info.value)


def test_too_big_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(reader, "MAX_FILE_BYTES", 10)
    with pytest.raises(ImportRefused, match="the limit is 10"):
        parse_import(b"[" + b" " * 20 + b"]")


def test_import_is_all_or_nothing(store):
    rows = [
        EventRow(1, "server", 1.0, "a", "unknown", None, None, "{}"),
        EventRow(2, "server", 1.0, "a", None, None, None, "{}"),
    ]  # category NOT NULL
    with pytest.raises(StorageError, match="NOT NULL"):
        store.import_session({"label": "x"}, rows)
    assert store.list_sessions() == []


def test_cli_export_and_import(app, runner, tmp_path):
    path = tmp_path / "events.json"
    path.write_text(json.dumps([{"type": "session.created"}, {"type": "response.create"}]))
    result = runner.invoke(args=["import", str(path), "--label", "from cli"])
    assert result.exit_code == 0, result.output
    session_id = result.output.strip().rsplit(" ", 1)[-1]
    exported = runner.invoke(args=["export", session_id])
    assert exported.exit_code == 0
    document = json.loads(exported.output)
    assert document["session"]["label"] == "from cli" and len(document["events"]) == 2
    assert runner.invoke(args=["export", "vl_nope"]).exit_code == 1
    path.write_text("{broken")
    refused = runner.invoke(args=["import", str(path)])
    assert refused.exit_code == 1 and "nothing imported" in refused.output


def test_deep_or_odd_text_exports_and_imports_again(store):
    bomb, odd = "[" * 100_000, '{"type": "x\\ud800"}'
    sid = store.create_session(provider="openai")
    store.insert_events(
        sid,
        [
            EventRow(1, "server", 1.0, None, "unknown", None, None, bomb),
            EventRow(2, "server", 2.0, "x\\ud800", "unknown", None, None, odd),
        ],
    )
    first = "".join(export_chunks(store.get_session(sid), store.export_rows(sid)))
    fields, rows = parse_import(first.encode(), "x.json")
    assert [r.payload for r in rows] == [bomb, '{"type":"x\\ud800"}']
    again = store.import_session(fields, rows)
    second = "".join(export_chunks(store.get_session(again), store.export_rows(again)))
    assert first.split('"events": [')[1] == second.split('"events": [')[1]


def test_lone_surrogates_in_a_file_are_stored_as_escapes(store):
    data = b'{"format": "voice-lab.session", "version": 1, "session": {"label": "a\\udc00"},'
    data += b' "events": [{"seq": 1, "dir": "server", "t": 1, "event": "\\ud800"}]}'
    fields, rows = parse_import(data, "x.json")
    sid = store.import_session(fields, rows)
    assert store.get_session(sid)["label"] == "a\\udc00"
    assert rows[0].payload == "\\ud800"


@pytest.mark.parametrize(
    ("t", "type_"),
    [(1763900000123.4, "response.done"), (None, None), (5, 'odd "type" é\\u2028'), (0.1, "")],
)
def test_event_line_is_the_json_of_its_fields(t, type_):
    row = (7, "client", t, type_, '{"a":1}', 1)
    expected = (
        json.dumps(
            {"seq": 7, "dir": "client", "t": None if t is None else float(t), "type": type_},
            ensure_ascii=False,
        )[:-1]
        + ', "event": {"a":1}}'
    )
    assert EventLines()(row) == expected


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({"session": {"created_at": 1e20}}, "session.created_at must be seconds"),
        ({"session": {"ended_at": -5}}, "session.ended_at must be seconds"),
        ({"session": {"label": 5}}, "session.label must be text"),
        ({"t": 1e20}, "t must be milliseconds"),
    ],
)
def test_times_dates_cannot_show_are_refused(document, fragment):
    export = {
        "format": "voice-lab.session",
        "version": 1,
        "session": document.get("session", {}),
        "events": [{"seq": 1, "dir": "server", "t": document.get("t", 1.0), "event": {}}],
    }
    with pytest.raises(ImportRefused, match=fragment):
        parse_import(json.dumps(export).encode())
