"""Figures of one session: latency per response, tokens used, rate limits, WebRTC stats.

Pure functions over lists of `Event`, like timeline.py, whose ordering and turns they share.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields

from ..protocol.names import dig
from ..protocol.record import Event
from .timeline import TEXT_DELTAS, ga_name, response_turns, sorted_events, start_time, time_of

# ---------------------------------------------------------------- latency


@dataclass(frozen=True, slots=True)
class Bar:
    """A waterfall segment: start and length in ms from the response's anchor (0 length: mark)."""

    label: str
    start_ms: float
    ms: float


@dataclass(frozen=True, slots=True)
class Latency:
    """Latency of one response, in ms of browser time.

    anchor is what the wait is measured from: the user's `input_audio_buffer.speech_stopped`
    (voice) or the client's `response.create` (text, or a follow-up after a function call),
    whichever came last between the previous response.created and this one. Without an anchor
    the `to_*` figures are None and the bars start at response.created.
    """

    response_id: str
    turn: str | None
    status: str | None
    anchor: str | None
    anchor_seq: int | None
    to_created_ms: float | None
    to_first_text_ms: float | None
    to_first_audio_ms: float | None
    duration_ms: float | None
    playback_ms: float | None
    bars: tuple[Bar, ...]


# (GA name, direction) of the events a response's wait is measured from.
ANCHORS = (("input_audio_buffer.speech_stopped", "server"), ("response.create", "client"))


def _anchors(ordered: Sequence[Event]) -> dict[str, Event | None]:
    """response id -> the event its latency is measured from (see Latency)."""
    anchors: dict[str, Event | None] = {}
    anchor: Event | None = None
    for event in ordered:
        name = ga_name(event)
        if (name, event.direction) in ANCHORS:
            anchor = event
        elif name == "response.created" and event.response_id:
            anchors[event.response_id] = anchor
            anchor = None
    return anchors


def _first_times(ordered: Sequence[Event]) -> dict[tuple[str, str], Event]:
    """(response id, GA type) -> the first such event; text deltas share the key "text"."""
    firsts: dict[tuple[str, str], Event] = {}
    for event in ordered:
        if event.response_id:
            name = "text" if ga_name(event) in TEXT_DELTAS else ga_name(event)
            firsts.setdefault((event.response_id, name), event)
    return firsts


def latencies(events: Sequence[Event]) -> list[Latency]:
    """Latency of every response (ordered by response.created), with its waterfall bars."""
    ordered = sorted_events(events)
    anchors, firsts, turns = _anchors(ordered), _first_times(ordered), response_turns(ordered)
    result = []
    for rid, anchor in anchors.items():
        times = {
            key: time_of(event)
            for key, name in RESPONSE_TIMES.items()
            if (event := firsts.get((rid, name))) is not None
        }
        done = firsts.get((rid, "response.done"))
        result.append(
            latency_of(
                rid,
                turns.get(rid),
                dig(done.data, "response", "status") if done else None,
                (ga_name(anchor), anchor.seq, time_of(anchor)) if anchor else None,
                times,
            )
        )
    return result


# The times a response's latency is made of: key -> the GA type whose first event gives it.
RESPONSE_TIMES = {
    "created": "response.created",
    "done": "response.done",
    "text": "text",  # the first text delta (see _first_times)
    "audio": "output_audio_buffer.started",
    "stopped": "output_audio_buffer.stopped",
    "cleared": "output_audio_buffer.cleared",
}


def latency_of(
    response_id: str,
    turn: str | None,
    status: str | None,
    anchor: Sequence | None,
    times: Mapping[str, float],
) -> Latency:
    """A response's Latency from its first times (keys of RESPONSE_TIMES) and the anchor its
    wait is measured from, as (GA name, seq, t)."""
    anchor_t = anchor[2] if anchor else None
    created, done, text, audio = (times.get(k) for k in ("created", "done", "text", "audio"))
    audio_end = times.get("stopped", times.get("cleared"))
    origin = anchor_t if anchor else created
    bars = [
        Bar(label, start - origin, _span(start, end) or 0.0)
        for label, start, end in (
            ("wait", anchor_t, created),
            ("response", created, done),
            ("first text", text, text),
            ("audio", audio, audio_end),
        )
        if start is not None and end is not None and origin is not None
    ]
    return Latency(
        response_id=response_id,
        turn=turn,
        status=status,
        anchor=anchor[0] if anchor else None,
        anchor_seq=anchor[1] if anchor else None,
        to_created_ms=_span(anchor_t, created),
        to_first_text_ms=_span(anchor_t, text),
        to_first_audio_ms=_span(anchor_t, audio),
        duration_ms=_span(created, done),
        playback_ms=_span(audio, audio_end),
        bars=tuple(bars),
    )


def _span(start: float | None, end: float | None) -> float | None:
    """end - start, None unless both happened."""
    return end - start if start is not None and end is not None else None


def percentile(values: Iterable[float], p: float) -> float | None:
    """The p-th percentile (0 < p <= 100) by nearest rank: the smallest value with at least
    p % of the values at or below it; None for no values. Always an observed value."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Stat:
    """p50/p95 of one latency figure across a session."""

    name: str
    count: int
    p50: float | None
    p95: float | None


LATENCY_FIGURES = ("to_created_ms", "to_first_text_ms", "to_first_audio_ms", "duration_ms")


def latency_stats(rows_: Sequence[Latency]) -> list[Stat]:
    """p50 and p95 of each latency figure over the responses that have it."""
    stats = []
    for name in LATENCY_FIGURES:
        values = [v for r in rows_ if (v := getattr(r, name)) is not None]
        stats.append(Stat(name, len(values), percentile(values, 50), percentile(values, 95)))
    return stats


# ---------------------------------------------------------------- usage and rate limits


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one response (from response.done usage), or a session total (response_id None)."""

    response_id: str | None
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_text: int = 0
    input_audio: int = 0
    input_cached: int = 0
    output_text: int = 0
    output_audio: int = 0
    # Of input_cached, what the service split by modality (cached_tokens_details), when it did.
    input_cached_text: int = 0
    input_cached_audio: int = 0


def usage_of(response_id: str | None, usage: dict) -> Usage:
    """A Usage from the protocol's usage object (missing figures count 0)."""

    def n(*path: str) -> int:
        value = dig(usage, *path)  # a count of tokens: a whole number a total cannot overflow
        return value if isinstance(value, int) and 0 <= value < 2**53 else 0

    return Usage(
        response_id=response_id,
        input_tokens=n("input_tokens"),
        output_tokens=n("output_tokens"),
        total_tokens=n("total_tokens"),
        input_text=n("input_token_details", "text_tokens"),
        input_audio=n("input_token_details", "audio_tokens"),
        input_cached=n("input_token_details", "cached_tokens"),
        output_text=n("output_token_details", "text_tokens"),
        output_audio=n("output_token_details", "audio_tokens"),
        input_cached_text=n("input_token_details", "cached_tokens_details", "text_tokens"),
        input_cached_audio=n("input_token_details", "cached_tokens_details", "audio_tokens"),
    )


def usage_by_response(events: Sequence[Event]) -> list[Usage]:
    """Tokens of every response.done that reports usage, in seq order."""
    return [
        usage_of(event.response_id, usage)
        for event in sorted_events(events)
        if ga_name(event) == "response.done"
        and isinstance(usage := dig(event.data, "response", "usage"), dict)
    ]


def usage_total(usages: Iterable[Usage]) -> Usage:
    """The sum of per-response usages (response_id None)."""
    totals = {f.name: 0 for f in fields(Usage) if f.name != "response_id"}
    for usage in usages:
        for name in totals:
            totals[name] += getattr(usage, name)
    return Usage(None, **totals)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One figure of a rate_limits.updated event."""

    seq: int
    t: float
    rel_ms: float
    name: str | None
    limit: float | None
    remaining: float | None
    reset_seconds: float | None


_LIMIT_FIELDS = ("name", "limit", "remaining", "reset_seconds")


def rate_limit_series(events: Sequence[Event]) -> list[RateLimit]:
    """Every rate limit figure reported, in seq order (one point per name per event)."""
    t0 = start_time(events)
    return [
        point
        for event in sorted_events(events)
        if ga_name(event) == "rate_limits.updated"
        for point in rate_limit_points(event, t0)
    ]


def rate_limit_points(event: Event, t0: float) -> list[RateLimit]:
    """The figures of one rate_limits.updated event (entries that are not objects skipped)."""
    limits = dig(event.data, "rate_limits")
    return [
        RateLimit(
            event.seq,
            time_of(event),
            time_of(event) - t0,
            name if isinstance(name := dig(limit, "name"), str) else None,
            *(number(limit, field) for field in _LIMIT_FIELDS[1:]),
        )
        for limit in (limits if isinstance(limits, list) else [])
        if isinstance(limit, dict)
    ]


# ---------------------------------------------------------------- WebRTC stats


@dataclass(frozen=True, slots=True)
class StatsPoint:
    """One `voicelab.stats` sample. The browser's contract (local event object, every field
    optional, null when getStats() lacks it):

    - rtt_ms: selected candidate pair currentRoundTripTime x 1000
    - jitter_ms: inbound-rtp audio jitter x 1000
    - packets_lost: inbound-rtp audio packetsLost (cumulative)
    - audio_level_in: 0..1, the microphone (media-source audioLevel)
    - audio_level_out: 0..1, the remote voice (inbound-rtp audioLevel)
    - bytes_in / bytes_out: transport bytesReceived / bytesSent (cumulative)
    """

    seq: int
    t: float
    rel_ms: float
    rtt_ms: float | None
    jitter_ms: float | None
    packets_lost: float | None
    audio_level_in: float | None
    audio_level_out: float | None
    bytes_in: float | None
    bytes_out: float | None


STATS_FIELDS = tuple(f.name for f in fields(StatsPoint))[3:]


def stats_series(events: Sequence[Event]) -> list[StatsPoint]:
    """The voicelab.stats samples in seq order (non-numeric values read as None)."""
    t0 = start_time(events)
    return [
        StatsPoint(
            event.seq,
            time_of(event),
            time_of(event) - t0,
            *(number(event.data, f) for f in STATS_FIELDS),
        )
        for event in sorted_events(events)
        if event.type == "voicelab.stats"
    ]


def number(data: dict | None, key: str) -> float | int | None:
    """data[key] if it is a finite number a chart can draw (booleans are not numbers here)."""
    value = dig(data, key)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return value if abs(value) < 1e300 else None
