"""The sessions list's figures of a session, from its events and its hearing
(analysis/figures.py)."""

from __future__ import annotations

import pytest

from tests.eventlogs import SCENARIOS, barge_in_log, voice_turn_log
from voice_lab.analysis import cost, metrics
from voice_lab.analysis.aggregates import Aggregates
from voice_lab.analysis.figures import figures, heard
from voice_lab.analysis.timeline import group_events
from voice_lab.web import panels

PRICES = cost.shipped()
MODEL = "gpt-realtime"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_figures_are_what_the_session_page_shows(name):
    events = SCENARIOS[name]().events
    found = figures(Aggregates().feed_all(events), (), PRICES, MODEL)
    page = panels.build(events, ())
    stats = {s.name: s for s in metrics.latency_stats(metrics.latencies(events))}
    assert found.turns == len([g for g in group_events(events) if g.kind == "turn"])
    assert found.p95_ms == stats["to_first_audio_ms"].p95
    assert found.failed_checks == sum(not check.ok for check in page["checks"])
    assert found.cost == pytest.approx(page["cost"]["session"]["dollars"])
    assert (found.upto_seq, found.folded) == (events[-1].seq, len(events))


def test_a_voice_turn_costs_something_and_fails_nothing():
    found = figures(Aggregates().feed_all(voice_turn_log().events), (), PRICES, MODEL)
    assert found.turns == 1 and found.interruptions == 0 and found.failed_checks == 0
    assert found.p95_ms is not None and found.p95_ms > 0
    assert found.cost is not None and found.cost > 0


def test_a_barge_in_is_an_interruption_and_a_gap_a_failed_check():
    fold = Aggregates().feed_all(barge_in_log().events)
    assert figures(fold, (), PRICES, MODEL).interruptions == 1
    assert figures(fold, [3], PRICES, MODEL).failed_checks == (
        figures(fold, (), PRICES, MODEL).failed_checks + 1
    )


def test_the_cost_is_for_the_configured_model_when_the_session_names_none():
    fold = Aggregates().feed_all(voice_turn_log().events)
    configured = fold.config.get("model")
    assert (
        configured
        and figures(fold, (), PRICES, None).cost == figures(fold, (), PRICES, configured).cost
    )
    assert figures(fold, (), PRICES, "a-model-with-no-price").cost is None


def test_heard_figures_are_the_recordings_p95_and_its_failed_audio_checks():
    hearing = {
        "heard": [
            {"response_id": "r1", "user_end_ms": 0, "first_audio_ms": 1, "to_first_audio_ms": 900},
            {
                "response_id": "r2",
                "user_end_ms": None,
                "first_audio_ms": None,
                "to_first_audio_ms": None,
            },
            {"response_id": "r3", "user_end_ms": 0, "first_audio_ms": 1, "to_first_audio_ms": 400},
        ],
        "checks": [
            {"name": "a", "ok": True, "detail": "", "spans": [], "response_ids": []},
            {"name": "b", "ok": False, "detail": "", "spans": [], "response_ids": []},
        ],
    }
    found = heard(hearing)
    assert found.p95_ms == 900 and found.failed_checks == 1
    assert heard({"heard": [], "checks": []}).p95_ms is None
