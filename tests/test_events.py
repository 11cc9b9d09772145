"""Tests for voice_lab.protocol and analysis.summary: categories of every protocol event, names,
ids, the codec, the record, summaries."""

from __future__ import annotations

import itertools
import json
import re
import typing

import pytest

from tests import eventlogs
from voice_lab.analysis.summary import summary
from voice_lab.protocol import codec
from voice_lab.protocol.names import (
    CATEGORIES,
    CATEGORY_LABELS,
    category_of,
    ids_of,
    normalize_type,
)
from voice_lab.protocol.record import parse_event

KEY = eventlogs.EPHEMERAL_KEY
KEY_HINT = "ek_68…0b"

# Every event name of the protocol reference: (name, who sends it, category).
CLIENT_EVENTS = [
    ("session.update", "session"),
    ("transcription_session.update", "session"),
    ("input_audio_buffer.append", "vad"),
    ("input_audio_buffer.commit", "vad"),
    ("input_audio_buffer.clear", "vad"),
    ("output_audio_buffer.clear", "audio-out"),
    ("conversation.item.create", "conversation"),
    ("conversation.item.retrieve", "conversation"),
    ("conversation.item.truncate", "conversation"),
    ("conversation.item.delete", "conversation"),
    ("response.create", "response"),
    ("response.cancel", "response"),
]
SERVER_EVENTS = [
    ("session.created", "session"),
    ("session.updated", "session"),
    ("transcription_session.updated", "session"),
    ("conversation.created", "session"),
    ("conversation.item.created", "conversation"),
    ("conversation.item.added", "conversation"),
    ("conversation.item.done", "conversation"),
    ("conversation.item.retrieved", "conversation"),
    ("conversation.item.truncated", "conversation"),
    ("conversation.item.deleted", "conversation"),
    ("input_audio_buffer.speech_started", "vad"),
    ("input_audio_buffer.speech_stopped", "vad"),
    ("input_audio_buffer.committed", "vad"),
    ("input_audio_buffer.cleared", "vad"),
    ("input_audio_buffer.timeout_triggered", "vad"),
    ("input_audio_buffer.dtmf_event_received", "vad"),
    ("conversation.item.input_audio_transcription.delta", "delta"),
    ("conversation.item.input_audio_transcription.completed", "transcription"),
    ("conversation.item.input_audio_transcription.failed", "error"),
    ("conversation.item.input_audio_transcription.segment", "transcription"),
    ("response.created", "response"),
    ("response.done", "response"),
    ("response.output_item.added", "response"),
    ("response.output_item.done", "response"),
    ("response.content_part.added", "response"),
    ("response.content_part.done", "response"),
    ("response.text.delta", "delta"),
    ("response.text.done", "response"),
    ("response.output_text.delta", "delta"),
    ("response.output_text.done", "response"),
    ("response.audio_transcript.delta", "delta"),
    ("response.audio_transcript.done", "response"),
    ("response.output_audio_transcript.delta", "delta"),
    ("response.output_audio_transcript.done", "response"),
    ("response.audio.delta", "delta"),
    ("response.audio.done", "response"),
    ("response.output_audio.delta", "delta"),
    ("response.output_audio.done", "response"),
    ("response.function_call_arguments.delta", "delta"),
    ("response.function_call_arguments.done", "tools"),
    ("mcp_list_tools.in_progress", "tools"),
    ("mcp_list_tools.completed", "tools"),
    ("mcp_list_tools.failed", "error"),
    ("response.mcp_call_arguments.delta", "delta"),
    ("response.mcp_call_arguments.done", "tools"),
    ("response.mcp_call.in_progress", "tools"),
    ("response.mcp_call.completed", "tools"),
    ("response.mcp_call.failed", "error"),
    ("rate_limits.updated", "rate-limits"),
    ("output_audio_buffer.started", "audio-out"),
    ("output_audio_buffer.stopped", "audio-out"),
    ("output_audio_buffer.cleared", "audio-out"),
    ("error", "error"),
    ("session.error", "unknown"),
    ("session.end", "unknown"),
]
OTHER_TYPES = [
    ("voicelab.stats", "webrtc"),
    ("voicelab.pc_state", "webrtc"),
    ("voicelab.error", "webrtc"),
    ("response.brand_new_event", "response"),
    ("something.else", "unknown"),
    ("", "unknown"),
    (None, "unknown"),
]


@pytest.mark.parametrize(("type_", "category"), CLIENT_EVENTS + SERVER_EVENTS + OTHER_TYPES)
def test_category_of_every_event(type_, category):
    assert category_of(type_) == category
    assert category in CATEGORIES


def test_categories_have_labels_in_order():
    assert list(CATEGORY_LABELS) == list(CATEGORIES)
    assert CATEGORY_LABELS["vad"] == "VAD" and CATEGORY_LABELS["delta"] == "Deltas"


def _sdk_names(union: object) -> set[str]:
    """The `type` literals of an SDK event union."""
    if typing.get_origin(union) is typing.Annotated:
        union = typing.get_args(union)[0]
    return {
        name
        for model in typing.get_args(union)
        for name in typing.get_args(model.model_fields["type"].annotation)
    }


def test_table_covers_every_sdk_event_name():
    realtime = pytest.importorskip("openai.types.realtime")
    beta = pytest.importorskip("openai.types.beta.realtime")
    unions = (realtime.RealtimeServerEvent, realtime.RealtimeClientEvent)
    unions += (beta.RealtimeServerEvent, beta.RealtimeClientEvent)
    sdk = set().union(*(_sdk_names(union) for union in unions))
    assert sdk - {name for name, _ in CLIENT_EVENTS + SERVER_EVENTS} == set()


@pytest.mark.parametrize(
    ("status", "category"),
    [
        ("completed", "response"),
        ("cancelled", "response"),
        ("failed", "error"),
        ("incomplete", "error"),
    ],
)
def test_response_done_status_decides_error(status, category):
    data = {"type": "response.done", "response": {"id": "resp_1", "status": status}}
    assert category_of("response.done", data) == category
    assert parse_event(1, "server", 0.0, json.dumps(data)).category == category


@pytest.mark.parametrize(
    ("beta", "ga"),
    [
        ("response.text.delta", "response.output_text.delta"),
        ("response.text.done", "response.output_text.done"),
        ("response.audio.delta", "response.output_audio.delta"),
        ("response.audio.done", "response.output_audio.done"),
        ("response.audio_transcript.delta", "response.output_audio_transcript.delta"),
        ("response.audio_transcript.done", "response.output_audio_transcript.done"),
        ("conversation.item.created", "conversation.item.added"),
        ("transcription_session.update", "session.update"),
        ("transcription_session.updated", "session.updated"),
    ],
)
def test_normalize_type_renames_beta_names(beta, ga):
    assert normalize_type(beta) == ga
    assert normalize_type(ga) == ga
    assert category_of(beta) == category_of(ga)


@pytest.mark.parametrize(
    "name", ["response.output_audio_transcript.delta", "error", "session.end", "voicelab.stats"]
)
def test_normalize_type_keeps_other_names(name):
    assert normalize_type(name) == name


def test_normalize_type_of_none():
    assert normalize_type(None) is None


@pytest.mark.parametrize(
    ("data", "ids"),
    [
        ({"type": "response.created", "response": {"id": "resp_1"}}, ("resp_1", None)),
        ({"type": "response.done", "response": {"id": "resp_1", "output": []}}, ("resp_1", None)),
        (
            {"type": "response.output_item.added", "response_id": "resp_1", "item": {"id": "it_2"}},
            ("resp_1", "it_2"),
        ),
        ({"type": "conversation.item.added", "item": {"id": "it_3"}}, (None, "it_3")),
        ({"type": "conversation.item.truncated", "item_id": "it_4"}, (None, "it_4")),
        ({"type": "input_audio_buffer.committed", "item_id": "it_5"}, (None, "it_5")),
        (
            {"type": "response.output_audio_transcript.delta", "response_id": "r", "item_id": "i"},
            ("r", "i"),
        ),
        ({"type": "response.cancel", "response_id": "resp_9"}, ("resp_9", None)),
        ({"type": "response.create", "response": {"instructions": "hi"}}, (None, None)),
        ({"type": "conversation.item.create", "item": {"type": "message"}}, (None, None)),
        ({"type": "output_audio_buffer.started", "response_id": "resp_1"}, ("resp_1", None)),
        ({"type": "session.created", "session": {"id": "sess_1"}}, (None, None)),
        (None, (None, None)),
    ],
)
def test_ids_of(data, ids):
    assert ids_of(data) == ids


def test_parse_event_keeps_raw_byte_for_byte():
    raw = '{ "type": "input_audio_buffer.speech_started",  "item_id": "item_1", "x": "é" }'
    event = parse_event(5, "server", 12.5, raw)
    assert event.raw == raw
    assert (event.seq, event.direction, event.t) == (5, "server", 12.5)
    assert (event.type, event.category, event.item_id) == (
        "input_audio_buffer.speech_started",
        "vad",
        "item_1",
    )
    assert event.data == json.loads(raw)


def test_parse_event_reserialises_only_when_redacted():
    raw = json.dumps({"type": "session.created", "session": {"client_secret": {"value": KEY}}})
    event = parse_event(1, "server", 0.0, raw)
    assert KEY not in event.raw
    assert json.loads(event.raw) == event.data
    assert event.data["session"]["client_secret"]["value"] == KEY_HINT


def test_parse_event_non_json_text():
    event = parse_event(2, "server", 1.0, f"not json at all {KEY}")
    assert (event.type, event.category, event.data) == (None, "unknown", None)
    assert event.raw == f"not json at all {KEY_HINT}"
    assert (event.response_id, event.item_id) == (None, None)


def test_parse_event_json_that_is_not_an_object():
    event = parse_event(3, "server", 1.0, "[1, 2]")
    assert (event.type, event.data, event.raw) == (None, None, "[1, 2]")


def test_parse_event_local_object():
    event = parse_event(4, "local", 2.0, {"type": "voicelab.key_minted", "key": KEY, "ms": 80})
    assert event.category == "webrtc"
    assert event.data == {"type": "voicelab.key_minted", "key": KEY_HINT, "ms": 80}
    assert json.loads(event.raw) == event.data


def _event(data: dict, dir_: str = "server"):
    """An Event of a data dict."""
    return parse_event(1, dir_, 0.0, json.dumps(data))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"type": "response.output_audio_transcript.delta", "delta": " sunny"}, "“ sunny”"),
        (
            {"type": "conversation.item.input_audio_transcription.completed", "transcript": "Hi"},
            "“Hi”",
        ),
        (
            {"type": "input_audio_buffer.speech_started", "audio_start_ms": 1200},
            "audio_start_ms=1200",
        ),
        ({"type": "input_audio_buffer.speech_stopped", "audio_end_ms": 2200}, "audio_end_ms=2200"),
        (
            {
                "type": "response.done",
                "response": {
                    "status": "cancelled",
                    "status_details": {"type": "cancelled", "reason": "turn_detected"},
                    "usage": eventlogs.usage(input_text=10, output_audio=5),
                },
            },
            "cancelled (turn_detected) · 15 tokens (in 10 / out 5)",
        ),
        (
            {
                "type": "response.done",
                "response": {
                    "status": "failed",
                    "status_details": {"type": "failed", "error": eventlogs.SERVER_ERROR},
                },
            },
            "failed · The server had an error while processing your request. (server_error)",
        ),
        ({"type": "error", "error": {"message": "Bad thing", "code": "bad"}}, "Bad thing (bad)"),
        (
            {
                "type": "rate_limits.updated",
                "rate_limits": [
                    {"name": "requests", "limit": 5000, "remaining": 4999},
                    {"name": "tokens", "limit": 40000, "remaining": 35904},
                ],
            },
            "requests 4999/5000 · tokens 35904/40000",
        ),
        (
            {
                "type": "session.created",
                "session": {"model": "gpt-realtime", "audio": {"output": {"voice": "marin"}}},
            },
            "gpt-realtime · marin",
        ),
        ({"type": "session.updated", "session": {"model": "m", "voice": "verse"}}, "m · verse"),
        ({"type": "session.update", "session": {"type": "realtime", "tools": []}}, "sets tools"),
        (
            {"type": "response.function_call_arguments.done", "name": "f", "arguments": "{}"},
            "f({})",
        ),
        (
            {"type": "conversation.item.truncated", "item_id": "i", "audio_end_ms": 400},
            "audio_end_ms=400",
        ),
        (
            {"type": "conversation.item.added", "item": {"type": "message", "role": "user"}},
            "user message",
        ),
        ({"type": "voicelab.pc_state", "state": "connected", "ms": 12}, "state=connected ms=12"),
    ],
)
def test_summary(data, expected):
    dir_ = "local" if data["type"].startswith("voicelab.") else "server"
    assert summary(_event(data, dir_)) == expected


def test_summary_is_one_short_line():
    event = _event({"type": "response.output_text.done", "text": "word\nline " * 100})
    text = summary(event)
    assert len(text) == 160 and text.endswith("…") and "\n" not in text


def test_summary_of_non_json_is_the_text():
    assert summary(parse_event(1, "server", 0.0, "hello\nthere")) == "hello there"


@pytest.mark.parametrize("ga", [True, False], ids=["ga", "beta"])
@pytest.mark.parametrize("scenario", sorted(eventlogs.SCENARIOS))
def test_event_logs_match_the_sdk_models(scenario, ga):
    """The test logs are what a service sends: every event validates against the openai SDK."""
    realtime = pytest.importorskip(
        "openai.types.beta.realtime" if not ga else "openai.types.realtime"
    )
    pydantic = pytest.importorskip("pydantic")
    server = pydantic.TypeAdapter(realtime.RealtimeServerEvent)
    client = pydantic.TypeAdapter(realtime.RealtimeClientEvent)
    log = eventlogs.SCENARIOS[scenario](ga)
    for event in log.events:
        if event.direction != "local":
            (server if event.direction == "server" else client).validate_python(event.data)
    assert [e.seq for e in log.events] == list(range(1, len(log.events) + 1))
    assert all(a.t < b.t for a, b in itertools.pairwise(log.events))


@pytest.mark.parametrize(
    "text", ["[" * 100_000, "[" * 65 + "]" * 65, '{"a": ' * 65 + "1" + "}" * 65]
)
def test_loads_refuses_what_nests_too_deep(text):
    with pytest.raises(codec.TooDeep, match="nested deeper than 64"):
        codec.loads(text)


def test_loads_takes_what_nests_to_the_limit():
    assert codec.loads("[" * 64 + "]" * 64) is not None
    assert codec.loads("[" * 70 + "]" * 70, max_depth=70) is not None
    assert codec.loads('"' + "[" * 500 + '"') == "[" * 500  # brackets in text do not nest


def test_data_channel_text_too_deep_is_kept_as_text():
    bomb = "[" * 100_000
    event = parse_event(1, "server", 1.0, bomb)
    assert (event.raw, event.data, event.type, event.category) == (bomb, None, None, "unknown")


def test_storable_escapes_lone_surrogates_only():
    assert codec.storable("héllo 😀") == "héllo 😀"
    assert codec.storable("a\ud800b") == "a\\ud800b"
    event = parse_event(1, "server", 1.0, '{"type": "x\\udfff"}')
    assert event.type == "x\\udfff" and event.raw == '{"type": "x\\udfff"}'


def test_from_row_matches_parse_event_for_stored_payloads():
    from voice_lab.protocol.record import from_row

    for text in ('{"type":"response.done","response":{"id":"r1","status":"failed"}}', "not json"):
        event = parse_event(4, "server", 12.5, text)
        row = {
            "seq": 4,
            "direction": "server",
            "t": 12.5,
            "type": event.type,
            "category": event.category,
            "response_id": event.response_id,
            "item_id": event.item_id,
            "payload": event.raw,
            "compact": event.compact,
        }
        assert from_row(row) == event


def test_nan_is_not_json_so_it_is_kept_as_text():
    event = parse_event(1, "server", 1.0, '{"type": "x", "v": NaN}')
    assert event.data is None and event.category == "unknown"
    assert event.raw == '{"type": "x", "v": NaN}'


@pytest.mark.parametrize(
    "text", ['{"a":[1,2.5,"é"]}', ' {"a": 1} ', "[1] x", "", " ", '"\\ud800"', "{"]
)
def test_loads_and_dumps_read_and_write_as_json_does(text):
    try:
        expected = json.loads(text)
    except ValueError as exc:
        with pytest.raises(ValueError, match=re.escape(str(exc))):
            codec.loads(text)
    else:
        assert codec.loads(text) == expected
        assert codec.dumps(expected) == json.dumps(
            expected, ensure_ascii=False, separators=(",", ":")
        )
