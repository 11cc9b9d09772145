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
