"""CallTimes read from a session's events, and a Hearing through JSON and back."""

from __future__ import annotations

import json

from tests.recordings import RATE, T0, stereo
from voice_lab.analysis.call_times import call_times, hearing_from_json, hearing_json
from voice_lab.analysis.heard import Playback, ResponseTimes, hear
from voice_lab.protocol.record import parse_event

START = {"type": "voicelab.recording", "phase": "start", "t0": T0 + 100, "mime": "x", "channels": 2}


def events(*specs: tuple[float, str, dict]) -> list:
    """Server events (local for voicelab.*) at T0 + ms, seq in order."""
    out = []
    for seq, (ms, type_, fields) in enumerate(specs, 1):
        direction = "local" if type_.startswith("voicelab.") else "server"
        out.append(parse_event(seq, direction, T0 + ms, {"type": type_, **fields}))
    return out


CALL = events(
    (50, "voicelab.call", {"phase": "start"}),
    (120, "voicelab.recording", START),
    (900, "input_audio_buffer.speech_started", {"audio_start_ms": 950}),
    (2600, "input_audio_buffer.speech_stopped", {"audio_end_ms": 2550}),
    (3000, "response.created", {"response": {"id": "r1"}}),
    (3050, "response.content_part.added", {"response_id": "r1", "part": {"type": "audio"}}),
    (3150, "output_audio_buffer.started", {"response_id": "r1"}),
    (3400, "response.done", {"response": {"id": "r1", "status": "completed"}}),
    (5050, "output_audio_buffer.stopped", {"response_id": "r1"}),
    (5300, "response.created", {"response": {"id": "r2"}}),
    (5310, "response.output_audio.delta", {"response_id": "r2", "delta": ""}),
    (5450, "output_audio_buffer.started", {"response_id": "r2"}),
    (6000, "input_audio_buffer.speech_started", {"audio_start_ms": 6020}),
    (6450, "output_audio_buffer.cleared", {"response_id": "r2"}),
    (6460, "response.done", {"response": {"id": "r2", "status": "cancelled"}}),
    (7300, "response.created", {"response": {"id": "r3"}}),
)


def test_call_times_are_read_from_the_events():
    times = call_times(CALL)
    assert times is not None and times.t0 == T0 + 100
    assert list(times.vad) == [(950.0, 2550.0), (6020.0, None)]
    assert list(times.responses) == [
        ResponseTimes("r1", T0 + 3000, T0 + 3400, True),
        ResponseTimes("r2", T0 + 5300, T0 + 6460, True),
        ResponseTimes("r3", T0 + 7300, None, False),
    ]
    assert list(times.playback) == [
        Playback("r1", T0 + 3150, T0 + 5050),
        Playback("r2", T0 + 5450, T0 + 6450, cleared=True),
    ]


def test_events_without_a_recording_start_give_no_times():
    assert call_times([e for e in CALL if e.type != "voicelab.recording"]) is None


def test_a_hearing_comes_back_from_its_json():
    samples = stereo(8.0, [(1.0, 2.5)], [(3.2, 5.0)])
    hearing = hear(samples, RATE, call_times(CALL))
    assert hearing.heard and hearing.checks and hearing.user
    assert hearing_from_json(json.loads(json.dumps(hearing_json(hearing)))) == hearing
