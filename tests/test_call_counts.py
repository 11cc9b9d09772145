"""Turns and barge-ins as the fold counts them (analysis/call_counts.py)."""

from __future__ import annotations

import json

import pytest

from tests.eventlogs import SCENARIOS, LogBuilder, barge_in_log, voice_turn, voice_turn_log
from voice_lab.analysis.aggregates import Aggregates
from voice_lab.analysis.timeline import group_events

INTERRUPTIONS = {"barge_in": 1}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_turns_are_the_grouped_timelines_and_barge_ins_are_counted(name):
    events = SCENARIOS[name]().events
    fold = Aggregates().feed_all(events)
    assert fold.turns == len([g for g in group_events(events) if g.kind == "turn"])
    assert fold.interruptions == INTERRUPTIONS.get(name, 0)


def test_barge_in_log_has_two_turns():
    assert Aggregates().feed_all(barge_in_log().events).turns == 2


def test_speech_while_the_reply_still_plays_after_its_response_is_done_is_a_barge_in():
    b = LogBuilder()
    b.connect()
    voice_turn(b, 1000, "Hello.", "Hi there, how can I help you today?")
    # response.done at 3340, output_audio_buffer.stopped at 5300: the audio still plays
    b.speech_started(4000, audio_ms=4000)
    fold = Aggregates().feed_all(b.build().events)
    assert fold.interruptions == 1


def test_speech_after_the_reply_stopped_playing_is_no_barge_in():
    b = LogBuilder()
    b.connect()
    voice_turn(b, 1000, "Hello.", "Hi there.")
    b.speech_started(6000, audio_ms=6000)
    assert Aggregates().feed_all(b.build().events).interruptions == 0


def test_repeated_speech_started_before_speech_stopped_is_one_barge_in():
    b = LogBuilder()
    b.connect()
    voice_turn(b, 1000, "Hello.", "Hi there, how can I help you today?")
    b.speech_started(4000, audio_ms=4000)
    b.speech_started(4100, audio_ms=4100)  # semantic VAD, no speech_stopped between
    assert Aggregates().feed_all(b.build().events).interruptions == 1


def test_counts_survive_a_save_and_go_on():
    events = barge_in_log().events
    half = len(events) // 2
    saved = Aggregates().feed_all(events[:half]).dumps()
    fold = Aggregates.loads(saved)
    assert fold is not None
    fold.feed_all(events[half:])
    whole = Aggregates().feed_all(events)
    assert (fold.turns, fold.interruptions) == (whole.turns, whole.interruptions) == (2, 1)


def test_a_fold_saved_before_the_counts_loads_with_them_unknown():
    events = voice_turn_log().events
    state = json.loads(Aggregates().feed_all(events).dumps())
    for name in ("turns", "turn_items", "interruptions", "sounding", "speaking"):
        del state[name]
    fold = Aggregates.loads(json.dumps(state))
    assert fold is not None and fold.upto == events[-1].seq
    assert fold.turns is None and fold.interruptions is None
    assert fold.latency_stats() == Aggregates().feed_all(events).latency_stats()
