"""The panels' data: figures over the whole session, lists and charts kept to a readable size."""

from tests.eventlogs import barge_in_log
from voice_lab import metrics, panels


def test_latest_rows_shown_and_totals_kept(monkeypatch):
    monkeypatch.setattr(panels, "LATEST_RESPONSES", 1)
    built = panels.build(barge_in_log().events)
    assert len(built["usages"]) == 1 and built["hidden"]["responses"] == 1
    assert built["usage_total"].total_tokens == 575  # both responses count
    assert len(built["waterfall"]["rows"]) == 1
    assert built["latency_stats"][0].count == 2


def test_thin_keeps_first_and_last_and_bounds_the_count(monkeypatch):
    monkeypatch.setattr(panels, "CHART_POINTS", 10)
    thinned = panels._thin(list(range(95)))
    assert len(thinned) <= 11 and thinned[0] == 0 and thinned[-1] == 94
    assert panels._thin([1, 2, 3]) == [1, 2, 3]


def test_a_lone_point_is_drawn_in_the_middle():
    assert panels.stats_chart([]) == []
    (series,) = panels.rate_limit_chart([metrics.RateLimit(1, 5.0, 5.0, "tokens", 100, 40, 1.0)])
    ((x, y),) = series.points
    assert x == panels.CHART_W / 2 and 0 < y < panels.CHART_H
    assert series.markers == series.points and series.last == 40
