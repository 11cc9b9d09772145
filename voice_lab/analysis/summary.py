"""One-line summaries of events, as the timeline shows them."""

from __future__ import annotations

from typing import Any

from ..protocol.codec import clip
from ..protocol.names import dig, normalize_type
from ..protocol.record import Event

SUMMARY_MAX = 160


def _quoted(text: Any) -> str:
    """A transcript or delta in quotes (deltas keep their meaningful spaces)."""
    return f"“{text}”" if isinstance(text, str) else ""


def _error_text(error: Any) -> str:
    """`message (code)` of an error object."""
    message = dig(error, "message") or dig(error, "type") or "error"
    code = dig(error, "code")
    return f"{message} ({code})" if code else str(message)


def _usage_text(usage: Any) -> str:
    """`N tokens (in X / out Y)` of a response usage object."""
    if not isinstance(usage, dict):
        return ""
    return (
        f"{usage.get('total_tokens', 0)} tokens "
        f"(in {usage.get('input_tokens', 0)} / out {usage.get('output_tokens', 0)})"
    )


def _response_text(response: Any) -> str:
    """`status (reason)` of a response, with its error and usage when there are any."""
    status = dig(response, "status") or "?"
    reason = dig(response, "status_details", "reason")
    parts = [f"{status} ({reason})" if reason else str(status)]
    error = dig(response, "status_details", "error")
    if error:
        parts.append(_error_text(error))
    usage = _usage_text(dig(response, "usage"))
    if usage:
        parts.append(usage)
    return " · ".join(parts)


def _session_text(session: Any) -> str:
    """`model · voice` of a session object (beta flat, GA audio.output.voice), else its fields."""
    voice = dig(session, "audio", "output", "voice") or dig(session, "voice")
    parts = [str(value) for value in (dig(session, "model"), voice) if value]
    if parts:
        return " · ".join(parts)
    # A partial session.update: name what it sets.
    if not isinstance(session, dict) or not session:
        return ""
    return "sets " + ", ".join(str(key) for key in session if key != "type")


def _rate_limits_text(limits: Any) -> str:
    """`requests 4999/5000 · tokens 39000/40000`."""
    if not isinstance(limits, list):
        return ""
    return " · ".join(
        f"{dig(limit, 'name')} {dig(limit, 'remaining')}/{dig(limit, 'limit')}" for limit in limits
    )


def _item_text(item: Any) -> str:
    """`role type name status` of a conversation item, whichever it has."""
    fields = ("role", "type", "name", "status")
    return " ".join(str(item[f]) for f in fields if isinstance(item, dict) and item.get(f))


def _local_text(data: dict) -> str:
    """`key=value` of a local event's scalar fields (state, rtt_ms, ms...)."""
    pairs = (
        f"{key}={value}"
        for key, value in data.items()
        if key != "type" and isinstance(value, str | int | float | bool)
    )
    return " ".join(pairs)


def _vad_text(data: dict) -> str:
    """The audio offsets a VAD event carries."""
    keys = ("audio_start_ms", "audio_end_ms")
    return " ".join(f"{key}={data[key]}" for key in keys if key in data)


def summary(event: Event) -> str:
    """The one-line summary the timeline shows for an event."""
    data = event.data
    if data is None:
        return clip(event.raw, SUMMARY_MAX)
    return clip(_summary_of(normalize_type(event.type) or "", data), SUMMARY_MAX)


def _summary_of(name: str, data: dict) -> str:
    """summary() for a parsed event of GA type name."""
    if name.startswith("voicelab."):
        return _local_text(data)
    if name.endswith(".delta"):
        return _quoted(data.get("delta"))
    if name in ("response.created", "response.done"):
        return _response_text(data.get("response"))
    if "error" in data and isinstance(data["error"], dict):
        return _error_text(data["error"])
    if name.startswith("input_audio_buffer."):
        return _vad_text(data)
    if name.startswith("session."):
        return _session_text(data.get("session"))
    if name == "rate_limits.updated":
        return _rate_limits_text(data.get("rate_limits"))
    if name == "response.function_call_arguments.done":
        return f"{data.get('name') or 'function'}({data.get('arguments', '')})"
    for key in ("transcript", "text"):
        if isinstance(data.get(key), str):
            return _quoted(data[key])
    if "item" in data:
        return _item_text(data["item"])
    if "audio_end_ms" in data:
        return f"audio_end_ms={data['audio_end_ms']}"
    if isinstance(dig(data, "part"), dict):
        return str(data["part"].get("type", ""))
    return ""
