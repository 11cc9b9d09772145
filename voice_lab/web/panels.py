"""The session page's panels: the figures Aggregates keeps, plus the geometry of their charts.

Pure: reads an Aggregates (the fold of a session's events) and returns plain data for
`_panels.html`. Charts are server-rendered SVG, so there is no charting library. A long session
keeps its panels readable and quick to send: the latest rows of each list (figures and totals
still cover the whole session) and charts thinned to a drawable size (see aggregates.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..analysis import aggregates, cost, metrics, review, tools
from ..analysis.aggregates import Aggregates
from ..analysis.review import missing_seqs
from ..analysis.timeline import sorted_events
from ..protocol.record import Event

CHART_W, CHART_H = 320, 72


@dataclass(frozen=True)
class Series:
    """One line of a chart: its name, its points in the chart's box, the range they came from."""

    name: str
    points: tuple[tuple[float, float], ...]
    low: float
    high: float
    last: float | None

    @property
    def polyline(self) -> str:
        """The points as an SVG polyline's attribute."""
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.points)

    @property
    def markers(self) -> tuple[tuple[float, float], ...]:
        """Points worth a dot: all of a sparse series (one point draws no line), else none."""
        return self.points if len(self.points) <= 60 else ()


def build(events: Sequence[Event], missing: Sequence[int] | None = None) -> dict[str, Any]:
    """The panels of a list of events (gaps in their seqs found from them unless given)."""
    ordered = sorted_events(events)
    if missing is None:
        missing = missing_seqs(e.seq for e in ordered)
    return view(Aggregates().feed_all(ordered), missing)


def view(
    fold: Aggregates,
    missing: Sequence[int] = (),
    hearing: Mapping[str, Any] | None = None,
    prices: cost.PriceTable | None = None,
    model: str | None = None,
) -> dict[str, Any]:
    """Everything the panels show, from a session's fold, the seqs the store misses, what
    its recording says (hearing_json's data, when it has been heard), and the price table and
    model its cost is estimated with (the shipped table and the model its config names, unless
    given)."""
    latencies = fold.latencies()
    recording = recording_view(latencies, hearing)
    calls = tools.calls(fold.tools)
    return {
        "latency_stats": fold.latency_stats(),
        "waterfall": waterfall(latencies[-aggregates.LATEST_RESPONSES :]),
        "usages": fold.usages(),
        "usage_total": fold.usage_total(),
        "cost": estimate(fold, prices or cost.shipped(), model),
        "rate_limits": rate_limit_chart(fold.rate_limit_points()),
        "errors": fold.session_errors(),
        "config": json.dumps(fold.config, indent=2, ensure_ascii=False),
        "config_changes": fold.config_changes(),
        "transcript": fold.transcript(),
        "checks": fold.session_checks(missing) + (recording["checks"] if recording else []),
        "tool_calls": calls,
        "tool_count": fold.tools["count"],
        "recording": recording,
        "webrtc": stats_chart(fold.stats_points(), fold.stats_range),
        "hidden": {**fold.hidden(), "tool_calls": fold.tools["count"] - len(calls)},
    }


def estimate(fold: Aggregates, prices: cost.PriceTable, model: str | None) -> dict[str, Any]:
    """The cost of the session and of its latest responses (cost.session_cost's JSON), for the
    session's model, or the model its config names when the session row has none."""
    chosen = cost.priced_model(model, fold.config)
    return cost.session_cost(prices, chosen, fold.usages(), fold.usage_total())


def waterfall(latencies: Sequence[metrics.Latency]) -> dict[str, Any]:
    """Bars of every response on one shared scale, as percentages of the longest turn."""
    longest = max((b.start_ms + b.ms for lat in latencies for b in lat.bars), default=0.0)
    scale = 100 / longest if longest else 0.0
    rows = [
        {
            "response_id": lat.response_id,
            "status": lat.status,
            "bars": [
                {
                    "label": b.label,
                    "x": round(b.start_ms * scale, 2),
                    "w": max(round(b.ms * scale, 2), 0.6),
                    "ms": b.ms,
                    "start_ms": b.start_ms,
                }
                for b in lat.bars
            ],
        }
        for lat in latencies
    ]
    return {"rows": rows, "longest_ms": longest}


def recording_view(
    latencies: Sequence[metrics.Latency], hearing: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The recording's figures beside the events': to first audio per response as the events
    and as the audio say, the audio's checks, overlaps and silences (the latest of each)."""
    if hearing is None:
        return None
    by_events = {lat.response_id: lat.to_first_audio_ms for lat in latencies}
    latest = aggregates.LATEST_RESPONSES
    return {
        "duration_ms": hearing["duration_ms"],
        "heard": [
            {
                "response_id": h["response_id"],
                "events_ms": by_events.get(h["response_id"]),
                "heard_ms": h["to_first_audio_ms"],
            }
            for h in hearing["heard"][-latest:]
        ],
        "checks": [review.Check(c["name"], c["ok"], c["detail"], ()) for c in hearing["checks"]],
        "overlaps": hearing["overlaps"][-latest:],
        "silences": hearing["silences"][-latest:],
    }


def rate_limit_chart(points: Sequence[metrics.RateLimit]) -> list[Series]:
    """Remaining requests and tokens over time, each as a fraction of its limit."""
    by_name: dict[str, list[tuple[float, float]]] = {}
    last: dict[str, float] = {}
    for point in points:
        if point.remaining is None or not point.limit:
            continue
        by_name.setdefault(point.name or "?", []).append(
            (point.rel_ms, point.remaining / point.limit)
        )
        last[point.name or "?"] = point.remaining
    span = _span([x for series in by_name.values() for x, _ in series])
    return [
        Series(name, _points(values, span, _padded(values)), 0.0, 1.0, last[name])
        for name, values in by_name.items()
    ]


def _padded(values: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """A y range around the values with some air, so that small changes stay visible."""
    low, high = min(v for _, v in values), max(v for _, v in values)
    pad = (high - low) * 0.15 or 0.05
    return low - pad, high + pad


def stats_chart(
    points: Sequence[metrics.StatsPoint], ranges: Mapping[str, Sequence[float]] | None = None
) -> list[Series]:
    """RTT, jitter, packet loss and audio levels over time, each on its own scale: `ranges`
    gives each figure's low, high and last over every sample (the points may be thinned)."""
    span = _span([p.rel_ms for p in points])
    charts = []
    for name in ("rtt_ms", "jitter_ms", "packets_lost", "audio_level_in", "audio_level_out"):
        values = [(p.rel_ms, float(v)) for p in points if (v := getattr(p, name)) is not None]
        if not values:
            continue
        low, high, last = (ranges or {}).get(name) or (
            min(v for _, v in values),
            max(v for _, v in values),
            values[-1][1],
        )
        yspan = (min(low, 0.0), high or 1.0)
        charts.append(Series(name, _points(values, span, yspan), low, high, last))
    return charts


def _span(xs: Sequence[float]) -> tuple[float, float]:
    return (min(xs), max(xs)) if xs else (0.0, 1.0)


def _points(
    values: Sequence[tuple[float, float]], xspan: tuple[float, float], yspan: tuple[float, float]
) -> tuple[tuple[float, float], ...]:
    """Values scaled into the chart's box (y grows downwards); a lone point sits in the middle."""
    (x0, x1), (y0, y1) = xspan, yspan
    dx, dy = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    if x1 == x0:
        x0 -= dx / 2
    return tuple(((x - x0) / dx * CHART_W, CHART_H - (y - y0) / dy * CHART_H) for x, y in values)
