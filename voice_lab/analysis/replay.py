"""A replay's plan: what the call page needs to run a recorded call again. The original's
settings as the page's form fields, read from its session row, its `voicelab.mint` event and
the page's own first session.update; and the client events the page sent by hand, each at its
offset from the recording's start, so a replay can send them again at the same moment of the
microphone's audio.

Pure: reads a session's fields and its `Event`s, no Flask, no database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..protocol.names import dig
from ..protocol.record import Event
from .call_times import recording_start
from .timeline import sorted_events
from .tools import tool_calls

# The local event the call page records right after its own session.update: its `seq` is that
# client event's. Older sessions have none; their page's own is their first session.update.
CONFIGURE = "voicelab.configure"
MINT = "voicelab.mint"
SESSION_UPDATE = "session.update"
OUTPUT = "function_call_output"


def page_events(events: Sequence[Event]) -> set[int]:
    """The seqs of the client events the page sent by itself (its session.update on opening),
    as its `voicelab.configure` events name them, or else its first client session.update."""
    named = {
        seq for e in events if e.type == CONFIGURE and isinstance(seq := dig(e.data, "seq"), int)
    }
    if named:
        return named
    first = next((e.seq for e in events if _client(e) and e.type == SESSION_UPDATE), None)
    return set() if first is None else {first}


def hand_sent(events: Sequence[Event], t0: float) -> list[dict[str, Any]]:
    """The client events sent by hand, in order: {"offset_ms": from the recording's start
    (negative when sent before it), "event": the event as sent (redacted)}, and for a function
    call's output, "answers": {"call": the call's place among the original's function calls
    (from 0), "name"}: a replay's model gives its calls ids of its own, so the page answers
    the replay's call in that place instead."""
    own = page_events(events)
    made = {call.call_id: (place, call.name) for place, call in enumerate(tool_calls(events))}
    planned = []
    for e in events:
        if not _client(e) or e.seq in own or e.t is None or e.data is None:
            continue
        step: dict[str, Any] = {"offset_ms": round(e.t - t0, 1), "event": e.data}
        call_id = _output_of(e.data)
        answered = made.get(call_id) if call_id else None
        if answered is not None:
            step["answers"] = {"call": answered[0], "name": answered[1]}
        planned.append(step)
    return planned


def _output_of(data: Any) -> str | None:
    """The call id a conversation.item.create of a function_call_output answers."""
    item = dig(data, "item")
    if dig(data, "type") != "conversation.item.create" or dig(item, "type") != OUTPUT:
        return None
    call_id = dig(item, "call_id")
    return call_id if isinstance(call_id, str) else None


def settings(session: Mapping[str, Any], events: Sequence[Event]) -> dict[str, Any]:
    """The original's settings as the call page's form fields (names of its inputs); those
    the events do not tell are left out, so the page keeps its defaults for them."""
    own = page_events(events)
    update = next((e.data for e in events if e.seq in own and _client(e)), None)
    mint = next((e.data for e in events if e.type == MINT), None) or {}
    fields: dict[str, Any] = {
        "provider": session.get("provider"),
        "protocol": session.get("protocol"),
        "model": session.get("model"),
        "voice": session.get("voice"),
        "scenario": mint.get("scenario"),
        "script": mint.get("script") or "",
        "label": f"replay of {session.get('label') or session.get('id')}",
    }
    if "scenario" not in mint:  # not an emulator call, or one from before mints named it
        del fields["scenario"], fields["script"]
    config = dig(update, "session")
    if isinstance(config, dict):
        fields |= _configured(config)
    return {k: v for k, v in fields.items() if v is not None}


def _configured(config: Mapping[str, Any]) -> dict[str, Any]:
    """Form fields from a session.update's `session`, in GA's nested or beta's flat shape."""
    nested = isinstance(config.get("audio"), dict)
    voice = dig(config, "audio", "output", "voice") if nested else config.get("voice")
    detection_key = ("audio", "input", "turn_detection") if nested else ("turn_detection",)
    transcription_key = (
        ("audio", "input", "transcription") if nested else ("input_audio_transcription",)
    )
    fields: dict[str, Any] = {"instructions": config.get("instructions"), "voice": voice}
    if _has(config, transcription_key):
        fields["transcription"] = dig(config, *transcription_key) is not None
    if _has(config, detection_key):
        fields |= _vad(dig(config, *detection_key))
    return {k: v for k, v in fields.items() if v is not None}


def _vad(detection: Any) -> dict[str, Any]:
    """The form's turn-detection fields for a turn_detection object (null: none)."""
    if not isinstance(detection, dict):
        return {"vad_type": "none"}
    return {
        "vad_type": detection.get("type"),
        **{
            k: detection.get(k)
            for k in ("threshold", "prefix_padding_ms", "silence_duration_ms", "eagerness")
        },
    }


def _has(config: Mapping[str, Any], keys: Iterable[str]) -> bool:
    """Whether the nested key path is present (its value may be null)."""
    *parents, last = keys
    parent = dig(config, *parents) if parents else config
    return isinstance(parent, dict) and last in parent


def _client(event: Event) -> bool:
    return event.direction == "client"


def plan(session: Mapping[str, Any], events: Iterable[Event]) -> dict[str, Any] | None:
    """The replay plan of a recorded session (without URLs: the web layer adds them), or None
    when its events hold no recording start to measure offsets from."""
    ordered = sorted_events(list(events))
    t0 = recording_start(ordered)
    if t0 is None:
        return None
    return {
        "session": session.get("id"),
        "label": session.get("label"),
        "settings": settings(session, ordered),
        "client_events": hand_sent(ordered, t0),
    }
