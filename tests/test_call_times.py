"""CallTimes read from a session's events, and a Hearing through JSON and back."""

from __future__ import annotations

import json

from tests.recordings import CALL_MODEL, CALL_SECONDS, CALL_USER, RATE, T0, call_events, stereo
from voice_lab.analysis.call_times import call_times, hearing_from_json, hearing_json, lanes
from voice_lab.analysis.heard import Playback, ResponseTimes, hear
from voice_lab.protocol.record import parse_event


def test_call_times_are_read_from_the_events():
    times = call_times(call_events())
    assert times is not None and times.t0 == T0 and times.input_t0 is None
    assert list(times.vad) == [(950.0, 2550.0), (6020.0, 7050.0)]
    assert list(times.responses) == [
        ResponseTimes("r1", T0 + 3000, T0 + 3400, reported_audio=True),
        ResponseTimes("r2", T0 + 5300, T0 + 6450, reported_audio=True),
        ResponseTimes("r3", T0 + 7600, T0 + 8000, reported_audio=True),
    ]
    assert list(times.playback) == [
        Playback("r1", T0 + 3150, T0 + 5050),
        Playback("r2", T0 + 5450, T0 + 6450, cleared=True),
        Playback("r3", T0 + 7850, T0 + 9050),
    ]


def test_a_response_without_audio_events_reported_none():
    events = [e for e in call_events() if e.type != "response.content_part.added"]
    times = call_times(events)
    assert times is not None
    assert [r.reported_audio for r in times.responses] == [False, True, True]


def test_events_without_a_recording_start_give_no_times():
    assert call_times([e for e in call_events() if e.type != "voicelab.recording"]) is None


def test_the_time_views_lanes_are_ms_from_the_recordings_start():
    error = parse_event(99, "server", T0 + 4000, {"type": "error", "error": {"message": "x"}})
    found = lanes([*call_events(), error])
    assert found is not None and found["t0"] == T0

    def spans(name: str) -> list[tuple]:
        return [(s["start_ms"], s["end_ms"], s["label"]) for s in found[name]]

    assert spans("vad") == [(950.0, 2550.0, None), (6020.0, 7050.0, None)]
    assert spans("responses") == [
        (3000.0, 3400.0, "r1"),
        (5300.0, 6450.0, "r2"),
        (7600.0, 8000.0, "r3"),
    ]
    assert spans("audio") == [
        (3150.0, 5050.0, "r1"),
        (5450.0, 6450.0, "cleared"),
        (7850.0, 9050.0, "r3"),
    ]
    assert spans("errors") == [(4000.0, 4000.0, "error")]
    assert json.loads(json.dumps(found)) == found  # it travels as JSON in a data attribute


def test_events_without_a_recording_start_have_no_lanes():
    assert lanes([e for e in call_events() if e.type != "voicelab.recording"]) is None


def test_a_hearing_comes_back_from_its_json():
    samples = stereo(CALL_SECONDS, CALL_USER, CALL_MODEL)
    hearing = hear(samples, RATE, call_times(call_events()))
    assert hearing.heard and hearing.checks and hearing.user and hearing.overlaps
    assert hearing_from_json(json.loads(json.dumps(hearing_json(hearing)))) == hearing


def _at(seq: int, direction: str, ms: float, data: dict):
    """An event of the call at T0 + ms."""
    return parse_event(seq, direction, T0 + ms, data)


def _call(call_id: str, name: str, ms: float, seq: int) -> list:
    """The server's side of one function call (section 6 of the protocol), from ms on."""
    item = {"type": "function_call", "id": f"i-{call_id}", "call_id": call_id, "name": name}
    ids = {"response_id": "r9", "item_id": f"i-{call_id}", "call_id": call_id}
    return [
        _at(seq, "server", ms, {"type": "response.output_item.added", "item": item}),
        _at(seq + 1, "server", ms + 10, {"type": "response.function_call_arguments.delta", **ids}),
        _at(seq + 2, "server", ms + 20, {"type": "response.function_call_arguments.done", **ids}),
    ]


def _output(call_id: str, ms: float, seq: int):
    """The client's answer to a function call."""
    item = {"type": "function_call_output", "call_id": call_id, "output": "{}"}
    return _at(seq, "client", ms, {"type": "conversation.item.create", "item": item})


def test_tool_calls_run_from_the_call_to_the_clients_output():
    events = [
        *call_events(),
        *_call("c1", "get_weather", 3100, 100),
        *_call("c2", "lookup", 3200, 110),
        _output("c2", 3900, 120),
        _output("c1", 4500, 121),
        _output("c1", 4800, 122),  # a second answer does not move the end
    ]
    found = lanes(events)
    assert found is not None
    assert found["tools"] == [
        {
            "start_ms": 3100.0,
            "end_ms": 4500.0,
            "label": "get_weather",
            "call_id": "c1",
            "error": False,
        },
        {"start_ms": 3200.0, "end_ms": 3900.0, "label": "lookup", "call_id": "c2", "error": False},
    ]


def test_a_tool_call_never_answered_runs_to_the_end_as_an_error():
    done = {"type": "response.function_call_arguments.done", "call_id": "c3", "name": "book"}
    server_output = {  # the server echoing an output is not the client's answer
        "type": "conversation.item.added",
        "item": {"type": "function_call_output", "call_id": "c3"},
    }
    events = [
        *call_events(),
        _at(100, "server", 5000, done),
        _at(101, "server", 5100, server_output),
        _output("other", 5200, 102),
        _at(
            103, "server", 5300, {"type": "response.output_item.added", "item": {"type": "message"}}
        ),
    ]
    found = lanes(events)
    assert found is not None
    assert found["tools"] == [
        {"start_ms": 5000.0, "end_ms": None, "label": "book", "call_id": "c3", "error": True}
    ]


def test_the_transcript_holds_both_sides_at_their_speech_ga_names():
    events = [
        *call_events(),
        _at(
            100,
            "server",
            3300,
            {
                "type": "response.output_audio_transcript.done",
                "response_id": "r1",
                "transcript": "It is sunny.",
            },
        ),
        _at(
            101,
            "server",
            3500,
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "u1",
                "transcript": "Weather?",
            },
        ),
        _at(
            102,
            "server",
            8500,
            {
                "type": "conversation.item.input_audio_transcription.completed",
                "item_id": "unknown",
                "transcript": "Where was I?",
            },
        ),
    ]
    # VAD names the first user item: its speech places the words.
    vad = ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped")
    first = [e.seq for e in events if e.type in vad][:2]
    events = [e for e in events if e.seq not in first] + [
        _at(first[0], "server", 1000, {"type": vad[0], "audio_start_ms": 950, "item_id": "u1"}),
        _at(first[1], "server", 2600, {"type": vad[1], "audio_end_ms": 2550, "item_id": "u1"}),
    ]
    found = lanes(events)
    assert found is not None
    assert found["transcript"] == [
        {"start_ms": 3150.0, "end_ms": 5050.0, "label": "It is sunny.", "side": "model"},
        {"start_ms": 950.0, "end_ms": 2550.0, "label": "Weather?", "side": "user"},
        {"start_ms": 8500.0, "end_ms": 8500.0, "label": "Where was I?", "side": "user"},
    ]


def test_the_transcript_reads_beta_names_and_skips_empty_words():
    events = [
        *call_events(),
        _at(
            100,
            "server",
            6400,
            {
                "type": "response.audio_transcript.done",
                "response_id": "r2",
                "transcript": "Let me tell you about",
            },
        ),
        _at(
            101,
            "server",
            8100,
            {"type": "response.audio_transcript.done", "response_id": "r3", "transcript": ""},
        ),
        _at(
            102,
            "server",
            8200,
            {
                "type": "response.audio_transcript.done",
                "response_id": "r-silent",
                "transcript": "No audio played.",
            },
        ),
    ]
    found = lanes(events)
    assert found is not None
    assert found["transcript"] == [
        {"start_ms": 5450.0, "end_ms": 6450.0, "label": "Let me tell you about", "side": "model"},
        {"start_ms": 8200.0, "end_ms": 8200.0, "label": "No audio played.", "side": "model"},
    ]
