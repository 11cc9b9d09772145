"""Event names as the services send them: filter categories and their labels, directions, beta
names mapped to GA ones, and the ids an event refers to."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from .codec import storable

CATEGORIES: tuple[str, ...] = (
    "session",
    "vad",
    "transcription",
    "conversation",
    "response",
    "delta",
    "audio-out",
    "rate-limits",
    "tools",
    "error",
    "webrtc",
    "unknown",
)

CATEGORY_LABELS: dict[str, str] = {
    "session": "Session",
    "vad": "VAD",
    "transcription": "Transcription",
    "conversation": "Conversation",
    "response": "Response",
    "delta": "Deltas",
    "audio-out": "Audio out",
    "rate-limits": "Rate limits",
    "tools": "Tools",
    "error": "Errors",
    "webrtc": "WebRTC",
    "unknown": "Unknown",
}

DIRECTIONS: tuple[str, ...] = ("server", "client", "local")

# Beta prefix -> GA prefix. "response.audio." cannot swallow "response.audio_transcript." (dot).
_RENAMED_PREFIXES = (
    ("response.text.", "response.output_text."),
    ("response.audio.", "response.output_audio."),
    ("response.audio_transcript.", "response.output_audio_transcript."),
)
_RENAMED = {
    "conversation.item.created": "conversation.item.added",
    "transcription_session.update": "session.update",
    "transcription_session.updated": "session.updated",
}

# Names that only Azure's sample code uses; no SDK has them, so they are not the dashboard's errors.
_AZURE_SAMPLE_ONLY = frozenset({"session.error", "session.end"})

# Function-call and MCP streams. Their `.delta` events still go to "delta" (checked first): the
# Deltas chip exists to hide every token stream at once, and a tools filter that showed hundreds of
# argument fragments would be as noisy as the timeline it is meant to narrow.
_TOOL_PREFIXES = (
    "response.function_call_arguments.",
    "response.mcp_call_arguments.",
    "response.mcp_call.",
    "mcp_list_tools.",
)

# Checked in order after error/delta rules; the transcription prefix must come before the items.
_PREFIX_CATEGORIES = (
    ("voicelab.", "webrtc"),
    ("session.", "session"),
    ("input_audio_buffer.", "vad"),
    ("conversation.item.input_audio_transcription.", "transcription"),
    ("conversation.item.", "conversation"),
    ("output_audio_buffer.", "audio-out"),
    ("rate_limits.", "rate-limits"),
    *((prefix, "tools") for prefix in _TOOL_PREFIXES),
    ("response.", "response"),
)


def normalize_type(type_: str | None) -> str | None:
    """The GA name of an event type (beta names renamed, GA and unknown names unchanged)."""
    if not isinstance(type_, str):
        return None
    return _ga_name(type_)


@lru_cache(maxsize=4096)  # a session has a few dozen types, and this runs for each event
def _ga_name(type_: str) -> str:
    if type_ in _RENAMED:
        return _RENAMED[type_]
    for beta, ga in _RENAMED_PREFIXES:
        if type_.startswith(beta):
            return ga + type_[len(beta) :]
    return type_


def dig(obj: Any, *keys: str) -> Any:
    """obj[k1][k2]... or None as soon as a level is missing or not a dict."""
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def deep_merge(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """base with update's fields laid over it, nested objects merged (lists replaced)."""
    merged = dict(base)
    for key, value in update.items():
        old = merged.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            value = deep_merge(old, value)
        merged[key] = value
    return merged


def category_of(type_: str | None, data: dict | None = None) -> str:
    """The filter category of an event type; data decides for response.done (failed -> error)."""
    name = normalize_type(type_)
    if name == "response.done" and dig(data, "response", "status") in ("failed", "incomplete"):
        return "error"
    return _category(name)


@lru_cache(maxsize=4096)  # the same few dozen names, once per event
def _category(name: str | None) -> str:
    if name is None or name in _AZURE_SAMPLE_ONLY:
        return "unknown"
    if name.startswith("voicelab."):
        # The page's own events, failures included (voicelab.error): they are WebRTC-side.
        return "webrtc"
    if name == "error" or name.endswith(".failed"):
        return "error"
    if name.endswith(".delta"):
        return "delta"
    if name == "conversation.created":
        return "session"
    for prefix, category in _PREFIX_CATEGORIES:
        if name.startswith(prefix):
            return category
    return "unknown"


def _nonempty_str(value: Any) -> str | None:
    """value if it is a non-empty string (made storable)."""
    return storable(value) if isinstance(value, str) and value else None


def ids_of(data: dict | None) -> tuple[str | None, str | None]:
    """(response_id, item_id) an event refers to, wherever the protocol puts them."""
    if not isinstance(data, dict):
        return None, None
    response_id = _nonempty_str(data.get("response_id")) or _nonempty_str(
        dig(data, "response", "id")
    )
    item_id = _nonempty_str(data.get("item_id")) or _nonempty_str(dig(data, "item", "id"))
    return response_id, item_id
