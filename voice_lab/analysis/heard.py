"""What the recording says against what the events say: latency as the user heard it, overlaps,
silences, and the protocol checks only the audio can make.

The events give the times (plain numbers in `CallTimes`, on the events' clock); the audio gives
the sound (`speech.segments` of each channel). Everything returned is in ms from the
recording's start: add `CallTimes.t0` for the events' clock.

Pure: numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .speech import DEFAULT, Levels, Span, channel_segments

USER, MODEL = "user", "model"


@dataclass(frozen=True, slots=True)
class ResponseTimes:
    """A response on the events' clock: `response.created`, `response.done` (None if it never
    came), and whether it reported audio (an output audio delta or an audio content part)."""

    response_id: str
    created: float
    done: float | None
    reported_audio: bool


@dataclass(frozen=True, slots=True)
class Playback:
    """`output_audio_buffer.started` to `.stopped` or `.cleared` (None: neither came) on the
    events' clock, for the response it names."""

    response_id: str | None
    started: float
    ended: float | None
    cleared: bool = False


@dataclass(frozen=True, slots=True)
class CallTimes:
    """The event times a recording is checked against, as plain data.

    `t0` is the recording's start on the events' clock (the `voicelab.recording` start event's
    t0). `vad` holds each `speech_started.audio_start_ms` with its `speech_stopped.audio_end_ms`
    (None if it never stopped): ms of the input audio on the service's clock, which start at
    `input_t0` on the events' clock (None: the recording's start, as the microphone track and
    the recording begin together).
    """

    t0: float
    vad: Sequence[tuple[float, float | None]] = ()
    responses: Sequence[ResponseTimes] = ()
    playback: Sequence[Playback] = ()
    input_t0: float | None = None


@dataclass(frozen=True, slots=True)
class HeardLatency:
    """To first audio, heard: from the end of the user's speech (in the audio) to the first
    model audio of the response; negative when the model spoke before the user stopped.
    None where the response had no user speech before it or no audio was heard."""

    response_id: str
    user_end_ms: float | None
    first_audio_ms: float | None
    to_first_audio_ms: float | None


@dataclass(frozen=True, slots=True)
class Overlap:
    """A stretch where both sides sound; `started_by` is the side that began while the other
    was already sounding (the user for a barge-in)."""

    start_ms: float
    end_ms: float
    started_by: str


@dataclass(frozen=True, slots=True)
class AudioCheck:
    """A protocol check made from the audio: whether it holds, a one-line detail, the stretches
    of the recording and the responses that break it."""

    name: str
    ok: bool
    detail: str
    spans: tuple[Span, ...] = ()
    response_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Hearing:
    """Everything the recording says: sound per channel (left = user, right = model), heard
    latency per response, overlaps, silences longer than the threshold, and the checks."""

    duration_ms: float
    user: tuple[Span, ...]
    model: tuple[Span, ...]
    heard: tuple[HeardLatency, ...]
    overlaps: tuple[Overlap, ...]
    silences: tuple[Span, ...]
    checks: tuple[AudioCheck, ...]
    playout_ms: float = 0.0  # how long after output_audio_buffer.started the model is heard


def hear(
    samples: np.ndarray,
    rate: int,
    times: CallTimes,
    silence_ms: float = 2000,
    slack_ms: float = 150,
    levels: Levels = DEFAULT,
) -> Hearing:
    """The recording (int16, shape (n, 2)) against the call's event times. `slack_ms` is how
    far an event may stand from the sound it marks (playout buffering, the events' transit)."""
    user, model = channel_segments(samples, rate, levels)
    duration = len(samples) * 1000 / rate
    responses = sorted(times.responses, key=lambda r: r.created)
    lag = playout_delay(model, times, slack_ms)
    return Hearing(
        duration_ms=duration,
        user=tuple(user),
        model=tuple(model),
        heard=tuple(heard_latencies(user, model, responses, times.t0, slack_ms)),
        overlaps=tuple(overlaps(user, model)),
        silences=tuple(silences([*user, *model], duration, silence_ms)),
        checks=tuple(checks(user, model, times, duration, slack_ms, lag)),
        playout_ms=lag,
    )


# The page plays the model's audio through its jitter buffer: measured 140-290 ms after
# output_audio_buffer.started in Chromium. A lag past this is not playout but a fault.
MAX_PLAYOUT_MS = 500


def playout_delay(model: Sequence[Span], times: CallTimes, slack_ms: float = 150) -> float:
    """How long after output_audio_buffer.started the model's audio was heard: the median, over
    the playbacks whose sound began within MAX_PLAYOUT_MS of their start, of that lag (0 when
    none did). The buffer's events mark when the service sends; the recording, when it played."""
    lags = []
    for playback in times.playback:
        start = playback.started - times.t0
        heard = [
            s.start_ms for s in model if start - slack_ms <= s.start_ms <= start + MAX_PLAYOUT_MS
        ]
        if heard:
            lags.append(max(0.0, min(heard) - start))
    return float(np.median(lags)) if lags else 0.0


def heard_latencies(
    user: Sequence[Span],
    model: Sequence[Span],
    responses: Sequence[ResponseTimes],
    t0: float,
    slack_ms: float = 150,
) -> list[HeardLatency]:
    """Per response (by created time): the end of the last user speech that began after the
    previous response was created and before this one, and the first model sound that began
    from this response's creation (less the slack) up to the next response's."""
    out = []
    for index, response in enumerate(responses):
        created = response.created - t0
        after = responses[index - 1].created - t0 if index else -np.inf
        until = responses[index + 1].created - t0 if index + 1 < len(responses) else np.inf
        said = [s for s in user if after < s.start_ms < created]
        user_end = said[-1].end_ms if said else None
        played = [s for s in model if created - slack_ms <= s.start_ms < until]
        first = played[0].start_ms if played else None
        gap = None if user_end is None or first is None else first - user_end
        out.append(HeardLatency(response.response_id, user_end, first, gap))
    return out


def overlaps(user: Sequence[Span], model: Sequence[Span]) -> list[Overlap]:
    """Where a user span and a model span intersect, with the side that came in second."""
    out = []
    for u in user:
        for m in model:
            start, end = max(u.start_ms, m.start_ms), min(u.end_ms, m.end_ms)
            if start < end:
                out.append(Overlap(start, end, USER if u.start_ms > m.start_ms else MODEL))
    return sorted(out, key=lambda o: o.start_ms)


def silences(sounds: Sequence[Span], duration_ms: float, longer_than_ms: float) -> list[Span]:
    """Stretches of the recording where no channel sounds, longer than `longer_than_ms`."""
    out, heard_until = [], 0.0
    for span in sorted(sounds, key=lambda s: s.start_ms):
        if span.start_ms - heard_until > longer_than_ms:
            out.append(Span(heard_until, span.start_ms))
        heard_until = max(heard_until, span.end_ms)
    if duration_ms - heard_until > longer_than_ms:
        out.append(Span(heard_until, duration_ms))
    return out


def checks(
    user: Sequence[Span],
    model: Sequence[Span],
    times: CallTimes,
    duration_ms: float,
    slack_ms: float = 150,
    playout_ms: float = 0.0,
) -> list[AudioCheck]:
    """The audio's protocol checks: model audio only while the output buffer plays (its windows
    moved by the playout delay), every response that reported audio played some, and VAD
    reported all the user's speech."""
    t0 = times.t0
    # A playback is heard from its start moved by the playout delay; its end drains what the
    # jitter buffer held at that moment, which grows on a loaded host: up to MAX_PLAYOUT_MS.
    drain = max(playout_ms + slack_ms, MAX_PLAYOUT_MS)
    playing = [
        Span(p.started - t0 + playout_ms - slack_ms, _or(p.ended, t0 + duration_ms) - t0 + drain)
        for p in times.playback
    ]
    outside = [gap for span in model for gap in _outside(span, playing) if gap.ms > slack_ms]
    silent = [r.response_id for r in times.responses if r.reported_audio]
    silent = [rid for rid in silent if not _touches(model, _windows(rid, times, duration_ms))]
    origin = (t0 if times.input_t0 is None else times.input_t0) - t0
    vad = [
        Span(origin + a - slack_ms, origin + _or(b, duration_ms - origin) + slack_ms)
        for a, b in times.vad
    ]
    unreported = [s for s in user if not _touches(vad, [s])]
    return [
        _check(
            "model audio while the buffer plays",
            "model audio only between output_audio_buffer.started and stopped/cleared",
            f"{len(outside)} stretch(es) of model audio outside output_audio_buffer playback",
            spans=outside,
        ),
        _check(
            "reported audio played",
            "every response that reported audio was heard",
            f"{len(silent)} response(s) reported audio none of which played",
            response_ids=silent,
        ),
        _check(
            "user speech reported",
            "VAD reported every stretch of user speech",
            f"{len(unreported)} stretch(es) of user speech VAD never reported",
            spans=unreported,
        ),
    ]


def _check(
    name: str,
    ok_detail: str,
    bad_detail: str,
    spans: Sequence[Span] = (),
    response_ids: Sequence[str] = (),
) -> AudioCheck:
    """An AudioCheck that fails when it has spans or responses that break it."""
    bad = bool(spans or response_ids)
    return AudioCheck(
        name, not bad, bad_detail if bad else ok_detail, tuple(spans), tuple(response_ids)
    )


def _windows(response_id: str, times: CallTimes, duration_ms: float) -> list[Span]:
    """Where a response's audio may sound: its playback, or created to done without one."""
    t0, end = times.t0, times.t0 + duration_ms
    own = [p for p in times.playback if p.response_id == response_id]
    if own:
        return [Span(p.started - t0, _or(p.ended, end) - t0) for p in own]
    return [
        Span(r.created - t0, _or(r.done, end) - t0)
        for r in times.responses
        if r.response_id == response_id
    ]


def _outside(span: Span, allowed: Sequence[Span]) -> list[Span]:
    """The parts of `span` that no allowed span covers."""
    parts = [span]
    for cover in allowed:
        parts = [
            piece
            for part in parts
            for piece in (
                Span(part.start_ms, min(part.end_ms, cover.start_ms)),
                Span(max(part.start_ms, cover.end_ms), part.end_ms),
            )
            if piece.ms > 0
        ]
    return parts


def _touches(spans: Sequence[Span], windows: Sequence[Span]) -> bool:
    """Whether any span intersects any window."""
    return any(s.start_ms < w.end_ms and w.start_ms < s.end_ms for s in spans for w in windows)


def _or(value: float | None, default: float) -> float:
    """value, or default for None."""
    return default if value is None else value
