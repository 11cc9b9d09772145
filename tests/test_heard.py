"""What the recording says against the events: heard latency, overlaps, silences, checks.

The call below, in seconds from the recording's start: the user speaks 1.0-2.5; response r1 is
created at 3.0 and plays 3.2-5.0; r2 is created at 5.3 and plays from 5.5 until the user talks
over it at 6.0 and it is cleared at 6.45; the user speaks 6.0-7.0; r3 is created at 7.6 and
plays 7.9-9.0; then silence to 12.0.
"""

from __future__ import annotations

import pytest

from tests.recordings import RATE, T0, assert_spans, recorder_chunks, stereo
from voice_lab.analysis.heard import (
    CallTimes,
    Hearing,
    Playback,
    ResponseTimes,
    hear,
    heard_latencies,
)
from voice_lab.analysis.recording import decode, remux
from voice_lab.analysis.speech import Span

SECONDS = 12.0
USER = [(1.0, 2.5), (6.0, 7.0)]
MODEL = [(3.2, 5.0), (5.5, 6.4), (7.9, 9.0)]
RESPONSES = [
    ResponseTimes("r1", T0 + 3000, T0 + 3400, reported_audio=True),
    ResponseTimes("r2", T0 + 5300, T0 + 6450, reported_audio=True),
    ResponseTimes("r3", T0 + 7600, T0 + 8000, reported_audio=True),
]
PLAYBACK = [
    Playback("r1", T0 + 3150, T0 + 5050),
    Playback("r2", T0 + 5450, T0 + 6450, cleared=True),
    Playback("r3", T0 + 7850, T0 + 9050),
]
VAD = [(950.0, 2550.0), (6020.0, 7050.0)]  # ms of input audio, which starts with the recording
TIMES = CallTimes(T0, VAD, RESPONSES, PLAYBACK)
WITHIN_MS = 30  # Opus and 10 ms frames


def seconds(ms: float | None) -> float:
    """ms as seconds (the tests' times are in seconds)."""
    assert ms is not None
    return ms / 1000


@pytest.fixture(scope="module")
def heard(tmp_path_factory) -> Hearing:
    """The call recorded as MediaRecorder would, remuxed, decoded and heard."""
    path = tmp_path_factory.mktemp("heard") / "call.webm"
    remux(recorder_chunks(stereo(SECONDS, USER, MODEL)), path)
    rate, samples = decode(path)
    return hear(samples, rate, TIMES)


def check(hearing: Hearing, name: str):
    """The check of that name."""
    return next(c for c in hearing.checks if c.name == name)


def test_each_sides_sound_is_where_it_was_played(heard):
    assert heard.duration_ms == pytest.approx(SECONDS * 1000, abs=WITHIN_MS)
    assert_spans(heard.user, USER, WITHIN_MS)
    assert_spans(heard.model, MODEL, WITHIN_MS)


def test_to_first_audio_heard_runs_from_the_users_last_sound(heard):
    latency = {h.response_id: h for h in heard.heard}
    assert seconds(latency["r1"].user_end_ms) == pytest.approx(2.5, abs=0.03)
    assert seconds(latency["r1"].first_audio_ms) == pytest.approx(3.2, abs=0.03)
    assert seconds(latency["r1"].to_first_audio_ms) == pytest.approx(0.7, abs=0.03)
    assert seconds(latency["r3"].to_first_audio_ms) == pytest.approx(0.9, abs=0.03)


def test_a_response_with_no_user_speech_before_it_has_no_heard_latency(heard):
    """r2 followed r1 with no user speech between them (a follow-up, say)."""
    r2 = next(h for h in heard.heard if h.response_id == "r2")
    assert r2.user_end_ms is None and r2.to_first_audio_ms is None
    assert seconds(r2.first_audio_ms) == pytest.approx(5.5, abs=0.03)


def test_the_barge_in_is_an_overlap_the_user_started(heard):
    assert len(heard.overlaps) == 1
    overlap = heard.overlaps[0]
    assert (seconds(overlap.start_ms), seconds(overlap.end_ms)) == pytest.approx(
        (6.0, 6.4), abs=0.03
    )
    assert overlap.started_by == "user"


def test_silences_longer_than_the_threshold(heard):
    assert_spans(heard.silences, [(9.0, 12.0)], WITHIN_MS)


def test_a_healthy_call_passes_every_audio_check(heard):
    assert [(c.name, c.ok) for c in heard.checks] == [
        ("model audio while the buffer plays", True),
        ("reported audio played", True),
        ("user speech reported", True),
    ]


# ---------------------------------------------------------------- checks that fail
# Added to the call: model sound at 10.0-10.5 with no playback; r4 created at 10.6, reporting
# audio and playing 10.7-11.2, silent; the user speaking at 11.3-11.8 with VAD saying nothing.


@pytest.fixture(scope="module")
def broken() -> Hearing:
    """The call with three faults the events alone cannot show."""
    samples = stereo(SECONDS, [*USER, (11.3, 11.8)], [*MODEL, (10.0, 10.5)])
    r4 = ResponseTimes("r4", T0 + 10_600, T0 + 10_700, reported_audio=True)
    times = CallTimes(T0, VAD, [*RESPONSES, r4], [*PLAYBACK, Playback("r4", T0 + 10_700, None)])
    return hear(samples, RATE, times)


def test_model_audio_outside_the_buffers_playback_is_found(broken):
    found = check(broken, "model audio while the buffer plays")
    assert not found.ok
    assert_spans(found.spans, [(10.0, 10.5)], WITHIN_MS)
    assert "1 stretch(es)" in found.detail


def test_a_response_that_reported_audio_none_of_which_played_is_found(broken):
    found = check(broken, "reported audio played")
    assert (found.ok, found.response_ids) == (False, ("r4",))


def test_user_speech_vad_never_reported_is_found(broken):
    found = check(broken, "user speech reported")
    assert not found.ok
    assert_spans(found.spans, [(11.3, 11.8)], WITHIN_MS)


def test_vad_times_count_from_where_the_input_audio_started():
    """Input audio that began 400 ms before the recording puts VAD's ms 400 later."""
    samples = stereo(4, [(1.0, 2.0)])
    early = CallTimes(T0, [(1400.0, 2400.0)], input_t0=T0 - 400)
    assert check(hear(samples, RATE, early), "user speech reported").ok
    late = CallTimes(T0, [(1400.0, 2400.0)], input_t0=T0 + 1000)
    assert not check(hear(samples, RATE, late), "user speech reported").ok


def test_model_audio_before_the_user_stopped_is_a_negative_latency():
    """A VAD cut-off: the model's reply started while the user was still talking."""
    responses = [ResponseTimes("r1", T0 + 2000, T0 + 3000, reported_audio=True)]
    latency = heard_latencies([Span(1000, 2500)], [Span(2200, 3000)], responses, T0)
    assert latency[0].to_first_audio_ms == -300


# ---------------------------------------------------------------- playout
# The page plays the model's audio through its jitter buffer: what the recording hears lags the
# output_audio_buffer events by that delay, and the checks must not take it for a fault.


def lagging(lag_s: float, extra: list[tuple[float, float]] = ()) -> Hearing:
    """The healthy call with every model sound heard `lag_s` later, plus `extra` sounds."""
    model = [(a + lag_s, b + lag_s) for a, b in MODEL]
    return hear(stereo(SECONDS, USER, [*model, *extra]), RATE, TIMES)


def test_the_playout_delay_is_measured_and_not_a_fault():
    hearing = lagging(0.25)
    assert hearing.playout_ms == pytest.approx(300, abs=WITHIN_MS)  # 50 ms in TIMES, plus 250
    assert check(hearing, "model audio while the buffer plays").ok


def test_model_audio_past_the_playout_delay_is_still_a_fault():
    hearing = lagging(0.25, extra=[(10.0, 10.5)])
    found = check(hearing, "model audio while the buffer plays")
    assert not found.ok
    assert_spans(found.spans, [(10.0, 10.5)], WITHIN_MS)
