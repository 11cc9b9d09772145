"""The event side of hearing a call: `CallTimes` read from a session's events, and a `Hearing`
as plain JSON and back (it is kept beside the recording, exported, and read by tests).

Pure: reads `Event`s and dicts, no Flask, no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from typing import Any

from ..protocol.names import dig
from ..protocol.record import Event
from .heard import AudioCheck, CallTimes, HeardLatency, Hearing, Overlap, Playback, ResponseTimes
from .speech import Span
from .timeline import ga_name, sorted_events, time_of

RECORDING = "voicelab.recording"
# Events that say a response made audio: its deltas, or an audio content part.
_AUDIO_DELTA = "response.output_audio.delta"
_AUDIO_PARTS = ("audio", "output_audio")


def recording_start(events: Iterable[Event]) -> float | None:
    """The recording's start on the events' clock: the first voicelab.recording start's t0."""
    for event in events:
        if event.type == RECORDING and dig(event.data, "phase") == "start":
            t0 = dig(event.data, "t0")
            if isinstance(t0, int | float) and not isinstance(t0, bool):
                return float(t0)
    return None


def call_times(events: Sequence[Event]) -> CallTimes | None:
    """The times a recording is checked against, from the session's events; None when they
    hold no recording start."""
    ordered = sorted_events(events)
    t0 = recording_start(ordered)
    if t0 is None:
        return None
    vad: list[tuple[float, float | None]] = []
    created: dict[str, float] = {}
    done: dict[str, float] = {}
    audio: set[str] = set()
    playback: list[Playback] = []
    for event in ordered:
        name, rid = ga_name(event), event.response_id
        if name == "input_audio_buffer.speech_started":
            start = _number(event.data, "audio_start_ms")
            if start is not None:
                vad.append((start, None))
        elif name == "input_audio_buffer.speech_stopped" and vad and vad[-1][1] is None:
            vad[-1] = (vad[-1][0], _number(event.data, "audio_end_ms"))
        elif name == "response.created" and rid:
            created.setdefault(rid, time_of(event))
        elif name == "response.done" and rid:
            done.setdefault(rid, time_of(event))
        elif rid and (
            name == _AUDIO_DELTA
            or (
                name == "response.content_part.added"
                and dig(event.data, "part", "type") in _AUDIO_PARTS
            )
        ):
            audio.add(rid)
        elif name == "output_audio_buffer.started":
            playback.append(Playback(rid, time_of(event), None))
        elif name in ("output_audio_buffer.stopped", "output_audio_buffer.cleared"):
            _end_playback(playback, rid, time_of(event), name.endswith("cleared"))
    responses = [ResponseTimes(rid, t, done.get(rid), rid in audio) for rid, t in created.items()]
    return CallTimes(t0, vad, responses, playback)


def _end_playback(playback: list[Playback], rid: str | None, t: float, cleared: bool) -> None:
    """End the latest open playback of the response (or the latest open one, when the event
    names none)."""
    for index in range(len(playback) - 1, -1, -1):
        open_ = playback[index]
        if open_.ended is None and (rid is None or open_.response_id in (rid, None)):
            playback[index] = Playback(open_.response_id or rid, open_.started, t, cleared)
            return


def _number(data: dict | None, key: str) -> float | None:
    """A number field of an event's data, or None."""
    value = dig(data, key)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def lanes(events: Sequence[Event]) -> dict[str, Any] | None:
    """The time view's lanes in ms from the recording's start (`t0`, on the events' clock):
    VAD speech, responses (created to done), output audio (started to stopped or cleared),
    errors, tool calls and the transcript of both sides; an end of None runs to the recording's
    end. None without a recording start."""
    times = call_times(events)
    if times is None:
        return None
    t0 = times.t0
    # VAD's ms count from the input audio's start: the recording's, unless input_t0 says else.
    origin = (t0 if times.input_t0 is None else times.input_t0) - t0

    def span(start: float, end: float | None, label: str | None) -> dict[str, Any]:
        return {"start_ms": start, "end_ms": end, "label": label}

    def since(t: float | None) -> float | None:
        return None if t is None else t - t0

    return {
        "t0": t0,
        "vad": [span(a + origin, None if b is None else b + origin, None) for a, b in times.vad],
        "responses": [span(r.created - t0, since(r.done), r.response_id) for r in times.responses],
        "audio": [
            span(p.started - t0, since(p.ended), "cleared" if p.cleared else p.response_id)
            for p in times.playback
        ],
        "errors": [
            span(time_of(e) - t0, time_of(e) - t0, e.type)
            for e in sorted_events(events)
            if e.category == "error"
        ],
        "tools": tool_calls(events, t0),
        "transcript": transcript(events, times, origin),
    }


def tool_calls(events: Sequence[Event], t0: float) -> list[dict[str, Any]]:
    """Each function call, in ms from t0: from the first server event naming its call_id
    (output_item.added or the arguments' delta/done) to the client's function_call_output
    for it, labelled with the function's name; a call never answered has no end and is an
    error."""
    calls: dict[str, dict[str, Any]] = {}
    for event in sorted_events(events):
        called, answered = _called(event), _answered(event)
        if called is not None:
            call = calls.setdefault(called[0], _call(time_of(event) - t0, called[0]))
            call["label"] = called[1] or call["label"]
        elif answered in calls and calls[answered]["end_ms"] is None:
            calls[answered]["end_ms"] = time_of(event) - t0
            calls[answered]["error"] = False
    return list(calls.values())


_CALL_ARGUMENTS = (
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
)
_CALL_ITEM = "response.output_item.added"
_OUTPUT = "function_call_output"


def _called(event: Event) -> tuple[str, str | None] | None:
    """(call_id, function name if given) of a server event of a function call, or None."""
    name = ga_name(event)
    if event.direction != "server" or name not in (*_CALL_ARGUMENTS, _CALL_ITEM):
        return None
    item = dig(event.data, "item") if name == _CALL_ITEM else event.data
    if name == _CALL_ITEM and dig(item, "type") != "function_call":
        return None
    call_id = dig(item, "call_id")
    return (call_id, _text(item, "name")) if isinstance(call_id, str) else None


def _answered(event: Event) -> str | None:
    """The call_id a client's conversation.item.create answers with a function_call_output."""
    if event.direction != "client" or ga_name(event) != "conversation.item.create":
        return None
    item = dig(event.data, "item")
    call_id = dig(item, "call_id") if dig(item, "type") == _OUTPUT else None
    return call_id if isinstance(call_id, str) else None


def _call(start: float, call_id: str) -> dict[str, Any]:
    """A tool call's lane item before its answer: no end yet, an error until answered."""
    return {"start_ms": start, "end_ms": None, "label": call_id, "call_id": call_id, "error": True}


def transcript(events: Sequence[Event], times: CallTimes, origin: float) -> list[dict[str, Any]]:
    """Both sides' words, in ms from the recording's start: the user's completed input
    transcription at its item's VAD speech (audio_start_ms..audio_end_ms, moved by `origin`)
    where VAD named the item, else at the transcript's arrival; the model's audio transcript
    at its response's output audio, else at its arrival (an end of None: to the end)."""
    t0 = times.t0
    speech: dict[str, list[float | None]] = {}
    played = {p.response_id: p for p in times.playback if p.response_id}
    found: list[dict[str, Any]] = []
    for event in sorted_events(events):
        name, at = ga_name(event), time_of(event) - t0
        if name == "input_audio_buffer.speech_started" and event.item_id:
            speech[event.item_id] = [_shifted(event.data, "audio_start_ms", origin), None]
        elif name == "input_audio_buffer.speech_stopped" and event.item_id in speech:
            speech[event.item_id][1] = _shifted(event.data, "audio_end_ms", origin)
        elif name == "conversation.item.input_audio_transcription.completed":
            start, end = speech.get(event.item_id or "", [None, None])
            found.append(_words("user", _text(event.data, "transcript"), start, end, at))
        elif name == "response.output_audio_transcript.done":
            playback = played.get(event.response_id or "")
            start = None if playback is None else playback.started - t0
            end = None if playback is None or playback.ended is None else playback.ended - t0
            found.append(_words("model", _text(event.data, "transcript"), start, end, at))
    return [item for item in found if item["label"]]


def _words(
    side: str, text: str | None, start: float | None, end: float | None, at: float
) -> dict[str, Any]:
    """A transcript lane item: at start..end where known, else a moment at `at`."""
    if start is None:
        start, end = at, at
    return {"start_ms": start, "end_ms": end, "label": text, "side": side}


def _shifted(data: dict | None, key: str, origin: float) -> float | None:
    """A VAD ms field moved onto the recording's ms, or None."""
    value = _number(data, key)
    return None if value is None else value + origin


def _text(data: Any, key: str) -> str | None:
    """A non-empty string field of an event's data, or None."""
    value = dig(data, key)
    return value if isinstance(value, str) and value else None


# ---------------------------------------------------------------- as JSON


def hearing_json(hearing: Hearing) -> dict[str, Any]:
    """A Hearing as JSON-ready data (ms from the recording's start, like the Hearing)."""
    return asdict(hearing)


def hearing_from_json(data: Mapping[str, Any]) -> Hearing:
    """A Hearing back from hearing_json's data."""

    def spans(items: Sequence[Mapping[str, float]]) -> tuple[Span, ...]:
        return tuple(Span(s["start_ms"], s["end_ms"]) for s in items)

    return Hearing(
        duration_ms=data["duration_ms"],
        user=spans(data["user"]),
        model=spans(data["model"]),
        heard=tuple(HeardLatency(**h) for h in data["heard"]),
        overlaps=tuple(Overlap(**o) for o in data["overlaps"]),
        silences=spans(data["silences"]),
        checks=tuple(
            AudioCheck(c["name"], c["ok"], c["detail"], spans(c["spans"]), tuple(c["response_ids"]))
            for c in data["checks"]
        ),
        playout_ms=data.get("playout_ms", 0.0),  # kept since the lag was measured
    )
