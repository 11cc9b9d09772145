"""The session page's panels: the timeline's figures, plus the geometry of their small charts.

Pure: takes Events (the store leaves most deltas out: see Store.panel_events) and returns plain
data for `_panels.html`. Charts are server-rendered SVG, so there is no charting library.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import metrics, review, timeline
from .events import Event

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


# A long session keeps its panels readable and quick to send: the latest rows of each list
# (figures and totals still cover the whole session) and charts thinned to a drawable size.
LATEST_RESPONSES, LATEST_LINES, LATEST_CHANGES, FIRST_ERRORS = 30, 200, 30, 200
CHART_POINTS = 400


def build(events: Sequence[Event], missing: Sequence[int] = ()) -> dict[str, Any]:
    """Everything the panels show, computed once per render."""
    latencies = metrics.latencies(events)
    usages = metrics.usage_by_response(events)
    config = review.session_config(events)
    errors = review.errors(events)
    lines = timeline.transcript(events)
    return {
        "latencies": latencies,
        "latency_stats": metrics.latency_stats(latencies),
        "waterfall": waterfall(latencies[-LATEST_RESPONSES:]),
        "usages": usages[-LATEST_RESPONSES:],
        "usage_total": metrics.usage_total(usages),
        "rate_limits": rate_limit_chart(_thin(metrics.rate_limit_series(events))),
        "errors": errors[:FIRST_ERRORS],
        "config": json.dumps(config.effective, indent=2, ensure_ascii=False),
        "config_changes": config.changes[-LATEST_CHANGES:],
        "transcript": lines[-LATEST_LINES:],
        "checks": review.protocol_checks(events, missing),
        "webrtc": stats_chart(_thin(metrics.stats_series(events))),
        "hidden": {
            "responses": max(0, len(usages) - LATEST_RESPONSES),
            "lines": max(0, len(lines) - LATEST_LINES),
            "changes": max(0, len(config.changes) - LATEST_CHANGES),
            "errors": max(0, len(errors) - FIRST_ERRORS),
        },
    }


def _thin(points: Sequence[Any]) -> Sequence[Any]:
    """Every k-th point (and the last), so a chart never draws more than CHART_POINTS."""
    step = -(-len(points) // CHART_POINTS)
    if step <= 1:
        return points
    return [*points[::step], *([points[-1]] if (len(points) - 1) % step else [])]


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


def stats_chart(points: Sequence[metrics.StatsPoint]) -> list[Series]:
    """RTT, jitter, packet loss and audio levels over time, each on its own scale."""
    span = _span([p.rel_ms for p in points])
    charts = []
    for name in ("rtt_ms", "jitter_ms", "packets_lost", "audio_level_in", "audio_level_out"):
        values = [(p.rel_ms, float(v)) for p in points if (v := getattr(p, name)) is not None]
        if not values:
            continue
        low, high = min(v for _, v in values), max(v for _, v in values)
        charts.append(
            Series(
                name, _points(values, span, (min(low, 0.0), high or 1.0)), low, high, values[-1][1]
            )
        )
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
