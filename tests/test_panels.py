"""The panels' data: figures over the whole session, lists and charts kept to a readable size."""

from tests.eventlogs import barge_in_log
from voice_lab.analysis import aggregates, metrics
from voice_lab.web import panels


def test_latest_rows_shown_and_totals_kept(monkeypatch):
    monkeypatch.setattr(aggregates, "LATEST_RESPONSES", 1)
    built = panels.build(barge_in_log().events)
    assert len(built["usages"]) == 1 and built["hidden"]["responses"] == 1
    assert built["usage_total"].total_tokens == 575  # both responses count
    assert len(built["waterfall"]["rows"]) == 1
    assert built["latency_stats"][0].count == 2


def test_gaps_are_found_in_the_events_unless_given():
    events = [e for e in barge_in_log().events if e.seq != 3]
    (gaps,) = [c for c in panels.build(events)["checks"] if c.name == "seq contiguous"]
    assert not gaps.ok and gaps.seqs == (3,)
    (given,) = [c for c in panels.build(events, missing=[])["checks"] if c.name == "seq contiguous"]
    assert given.ok


def test_a_lone_point_is_drawn_in_the_middle():
    assert panels.stats_chart([]) == []
    (series,) = panels.rate_limit_chart([metrics.RateLimit(1, 5.0, 5.0, "tokens", 100, 40, 1.0)])
    ((x, y),) = series.points
    assert x == panels.CHART_W / 2 and 0 < y < panels.CHART_H
    assert series.markers == series.points and series.last == 40


def test_stats_ranges_cover_every_sample_not_only_those_drawn():
    points = [metrics.StatsPoint(1, 0.0, 0.0, 50.0, None, None, None, None, None, None)]
    (rtt,) = panels.stats_chart(points, {"rtt_ms": [10.0, 90.0, 50.0]})
    assert (rtt.low, rtt.high, rtt.last) == (10.0, 90.0, 50.0)
