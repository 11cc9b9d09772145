"""CapturedSession.compare and the assertions a CI job fails on: assert_not_slower (a latency
figure's p95, heard ones too) and assert_same_tools, failing when they should and passing when
they should."""

from __future__ import annotations

import pytest

from tests import eventlogs
from tests.test_compare import conversation, slowed
from voice_lab.analysis.call_times import hearing_json
from voice_lab.analysis.heard import HeardLatency, Hearing
from voice_lab.protocol.record import Event
from voice_lab.testing import CapturedSession


def captured(
    events: list[Event], heard_ms: list[float] | None = None, **session
) -> CapturedSession:
    """A CapturedSession from the export document of these events (a recording heard with
    these to-first-audio figures when given)."""
    document = {
        "format": "voice-lab.session",
        "version": 1,
        "session": {"id": "s", "provider": "emulator", "model": "gpt-realtime", **session},
        "events": [
            {"seq": e.seq, "dir": e.direction, "t": e.t, "type": e.type, "event": e.data}
            for e in events
        ],
    }
    if heard_ms is not None:
        heard = tuple(HeardLatency(f"r{i}", 0.0, ms, ms) for i, ms in enumerate(heard_ms))
        hearing = Hearing(10_000.0, (), (), heard, (), (), ())
        document["recording"] = {"t0": eventlogs.T0, "hearing": hearing_json(hearing)}
    return CapturedSession.from_export(document)


BASE = conversation([1000, 6000])


def test_compare_makes_self_side_a_and_other_side_b():
    new = captured(slowed(BASE, 120), id="new")
    comparison = new.compare(captured(BASE, id="old"))
    assert (comparison.a["id"], comparison.b["id"]) == ("new", "old")
    row = comparison.figure("to_first_audio_ms")
    assert (row.a.p95, row.b.p95, row.p95_change) == (620, 500, -120)


def test_not_slower_passes_within_the_budget_and_when_faster():
    old, new = captured(BASE), captured(slowed(BASE, 120))
    new.assert_not_slower(old, "to_first_audio_ms", by_ms=120)
    old.assert_not_slower(new, "to_first_audio_ms", by_ms=0)
    old.assert_not_slower(old, "to_first_audio_ms", by_ms=0)


def test_not_slower_fails_past_the_budget_naming_the_figure_both_p95s_and_the_budget():
    old, new = captured(BASE), captured(slowed(BASE, 120))
    with pytest.raises(AssertionError) as failed:
        new.assert_not_slower(old, "to_first_audio_ms", by_ms=100)
    assert str(failed.value) == (
        "to_first_audio_ms p95 is 620 ms here against 500 ms in the other: 120 ms slower "
        "(budget 100 ms)"
    )


def test_not_slower_fails_when_either_side_lacks_the_figure():
    voice, typed = captured(BASE), captured(eventlogs.text_response_log().events)
    with pytest.raises(AssertionError, match=r"to_first_audio_ms: this session measured none"):
        typed.assert_not_slower(voice, "to_first_audio_ms", by_ms=1000)
    with pytest.raises(AssertionError, match=r"to_first_audio_ms: the other measured none"):
        voice.assert_not_slower(typed, "to_first_audio_ms", by_ms=1000)
    with pytest.raises(AssertionError, match=r"budget 1000 ms"):
        typed.assert_not_slower(typed, "to_first_audio_ms", by_ms=1000)


def test_not_slower_reads_the_heard_figures_by_name():
    old, new = captured(BASE, [600.0, 640.0]), captured(BASE, [700.0, 760.0])
    new.assert_not_slower(old, "heard_to_first_audio_ms", by_ms=120)
    with pytest.raises(AssertionError, match="heard_to_first_audio_ms p95 is 760 ms"):
        new.assert_not_slower(old, "heard_to_first_audio_ms", by_ms=100)
    with pytest.raises(AssertionError, match="the other measured none"):
        new.assert_not_slower(captured(BASE), "heard_to_first_audio_ms", by_ms=1000)


def test_not_slower_refuses_a_figure_it_does_not_know():
    with pytest.raises(ValueError, match="use one of to_created_ms, .*heard_to_first_audio_ms"):
        captured(BASE).assert_not_slower(captured(BASE), "first_audio", by_ms=0)


def test_same_tools_passes_for_the_same_calls_in_order_and_fails_otherwise():
    calls = captured(eventlogs.function_call_log().events)
    calls.assert_same_tools(captured(eventlogs.function_call_log(ga=False).events))
    captured(BASE).assert_same_tools(captured(eventlogs.voice_turn_log().events))
    with pytest.raises(AssertionError) as failed:
        calls.assert_same_tools(captured(BASE))
    assert str(failed.value) == "functions called here ['get_weather'], in the other []"
