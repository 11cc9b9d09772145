"""Template filters: times, durations and a session's status, as the pages show them."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Flask


def iso(seconds: float | None) -> str:
    """Unix seconds as an ISO 8601 UTC timestamp."""
    return datetime.fromtimestamp(seconds or 0, UTC).isoformat(timespec="seconds")


def iso_ms(ms: float | None) -> str:
    """Milliseconds since the epoch (the browser clock) as an ISO 8601 UTC timestamp."""
    return datetime.fromtimestamp((ms or 0) / 1000, UTC).isoformat(timespec="milliseconds")


def clock(seconds: float | None) -> str:
    """Unix seconds as a short UTC date and time."""
    return datetime.fromtimestamp(seconds or 0, UTC).strftime("%Y-%m-%d %H:%M:%S")


def ms(value: float | None) -> str:
    """A duration in milliseconds, grouped by thousands (a dash when unknown)."""
    return "–" if value is None else f"{value:,.0f} ms"


def dollars(value: float | None) -> str:
    """An estimate in dollars: cents for a dollar or more, else four decimals (a dash when
    there is none)."""
    if value is None:
        return "–"
    return f"${value:,.2f}" if value >= 1 else f"${value:.4f}"


def session_status(session: dict) -> str:
    """live, ended or imported."""
    if session["origin"] == "imported":
        return "imported"
    return "ended" if session["ended_at"] else "live"


def duration(session: dict) -> str:
    """How long a session ran (or has been running)."""
    end = session["ended_at"] or (time.time() if session["origin"] != "imported" else None)
    if end is None:
        return "–"
    seconds = max(0, int(end - session["created_at"]))
    return f"{seconds // 60}:{seconds % 60:02d}"


# The name each filter has in the templates.
FILTERS: dict[str, Callable[..., str]] = {
    "iso": iso,
    "iso_ms": iso_ms,
    "clock": clock,
    "ms": ms,
    "dollars": dollars,
    "status": session_status,
    "duration": duration,
}


def init_app(app: Flask) -> None:
    """Make the filters known to the app's templates."""
    for name, function in FILTERS.items():
        app.add_template_filter(function, name)
