"""Answers to client events, one function per event type, as the service gives them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import responses, settings, tools

if TYPE_CHECKING:
    from .session import Session

ITEM_TYPES = ("message", "function_call", "function_call_output")
ROLES = ("user", "assistant", "system")
MIN_COMMIT_MS = 100


class ClientError(Exception):
    """A client event the service would answer with an `error` event."""

    def __init__(self, message: str, code: str, param: str | None = None):
        super().__init__(message)
        self.code, self.param = code, param


def session_update(s: Session, event: dict[str, Any]) -> None:
    """Merge the new config, keeping what the service keeps, and echo the result."""
    updated = settings.apply(s.protocol, s.config, event.get("session"))
    if s.spoke and settings.voice(s.protocol, updated) != settings.voice(s.protocol, s.config):
        param = "session.audio.output.voice" if s.protocol == "ga" else "session.voice"
        raise ClientError(
            "Cannot update a conversation's voice if assistant audio is present.",
            "cannot_update_voice",
            param,
        )
    _check_tool_choice(updated, "session.tool_choice")
    s.config = updated
    s.configure_vad()
    s.send(s.script.event("session.updated", session=s.config))


def buffer_commit(s: Session, event: dict[str, Any]) -> None:
    """Commit the input audio received since the last commit or clear as a user item."""
    end_ms = s.detector.received_ms
    buffered = end_ms - s.buffer_start_ms
    if buffered < MIN_COMMIT_MS:
        raise ClientError(
            "Error committing input audio buffer: buffer too small. Expected at "
            f"least {MIN_COMMIT_MS}ms of audio, but buffer only has "
            f"{buffered:.2f}ms of audio.",
            "input_audio_buffer_commit_empty",
        )
    item_id = s.speech[0] if s.speech else s.script.ids.make("item")
    s.speech = None
    s.detector.reset()
    s.commit(item_id, buffered, end_ms)


def buffer_clear(s: Session, event: dict[str, Any]) -> None:
    """Drop the uncommitted input audio."""
    s.buffer_start_ms, s.speech = s.detector.received_ms, None
    s.tape.mark(s.buffer_start_ms)
    s.detector.reset()
    s.send(s.script.event("input_audio_buffer.cleared"))


def output_clear(s: Session, event: dict[str, Any]) -> None:
    """Cut the reply being played (WebRTC only)."""
    playing = s.playing
    if playing is None:
        raise ClientError("There is no audio playing to clear.", "output_audio_buffer_empty")
    s.audio.cut()
    s.playing = None
    s.send(s.script.audio_buffer("cleared", playing.response_id))


def item_create(s: Session, event: dict[str, Any]) -> None:
    """Add a message or function call output to the conversation."""
    item = event.get("item")
    if not isinstance(item, dict):
        raise ClientError(
            "Missing required parameter: 'item'.", "missing_required_parameter", "item"
        )
    if item.get("type") not in ITEM_TYPES:
        raise ClientError(
            f"Invalid value: '{item.get('type')}'. Supported values are: "
            + ", ".join(f"'{t}'" for t in ITEM_TYPES)
            + ".",
            "invalid_value",
            "item.type",
        )
    if item["type"] == "message" and (
        item.get("role") not in ROLES or not isinstance(item.get("content"), list)
    ):
        raise ClientError(
            "A message item needs a role (user, assistant or system) and a content list.",
            "invalid_value",
            "item.role",
        )
    if (
        item["type"] == "function_call_output"
        and responses.function_name(s, item.get("call_id")) is None
    ):
        raise ClientError(
            f"Tool call ID '{item.get('call_id')}' not found in conversation.",
            "invalid_tool_call_id",
            "item.call_id",
        )
    item = {
        **item,
        "id": item.get("id") or s.script.ids.make("item"),
        "object": "realtime.item",
        "status": "completed",
    }
    if any(i["id"] == item["id"] for i in s.items):
        raise ClientError(
            f"Item with id '{item['id']}' already exists.", "item_already_exists", "item.id"
        )
    index = len(s.items)
    previous = event.get("previous_item_id")
    if previous is not None:
        index = _index(s, previous, "previous_item_id") + 1
    elif s.items:
        previous = s.items[-1]["id"]
    s.items.insert(index, item)
    for added in s.script.item_added(item, previous):
        s.send(added)


def item_retrieve(s: Session, event: dict[str, Any]) -> None:
    """Send back one item of the conversation."""
    item = s.items[_index(s, event.get("item_id"), "item_id")]
    s.send(s.script.event("conversation.item.retrieved", item=item))


def item_delete(s: Session, event: dict[str, Any]) -> None:
    """Remove one item from the conversation."""
    item = s.items.pop(_index(s, event.get("item_id"), "item_id"))
    s.audio_ms.pop(item["id"], None)
    s.send(s.script.event("conversation.item.deleted", item_id=item["id"]))


def item_truncate(s: Session, event: dict[str, Any]) -> None:
    """Cut an assistant item's audio at `audio_end_ms` (what the user actually heard)."""
    item = s.items[_index(s, event.get("item_id"), "item_id")]
    if item.get("role") != "assistant":
        raise ClientError("Only assistant messages can be truncated.", "invalid_value", "item_id")
    end_ms = event.get("audio_end_ms")
    if not isinstance(end_ms, int) or end_ms < 0:
        raise ClientError(
            "Invalid 'audio_end_ms': expected a non-negative integer.",
            "invalid_value",
            "audio_end_ms",
        )
    if s.playing is not None and s.playing.item_id == item["id"]:
        s.audio.cut()
        s.playing = None
    s.send(s.script.truncated(item["id"], end_ms))


def response_create(s: Session, event: dict[str, Any]) -> None:
    """Start a response, in the conversation or out of band."""
    params = event.get("response") or {}
    if not isinstance(params, dict):
        raise ClientError(
            "Invalid type for 'response': expected an object.", "invalid_type", "response"
        )
    if s.response is not None:
        raise ClientError(
            f"Conversation already has an active response in progress: "
            f"{s.response.response_id}. Wait until the response is finished "
            "before creating a new one.",
            "conversation_already_has_active_response",
        )
    key = "output_modalities" if s.protocol == "ga" else "modalities"
    modalities = params.get(key)
    if modalities is not None and (
        not isinstance(modalities, list) or not set(modalities) <= {"text", "audio"}
    ):
        raise ClientError(
            f"Invalid value for 'response.{key}': use ['text'] or ['audio'].",
            "invalid_value",
            f"response.{key}",
        )
    _check_tool_choice(
        {n: params.get(n, s.config.get(n)) for n in ("tools", "tool_choice")},
        "response.tool_choice",
    )
    responses.start(s, params)


def response_cancel(s: Session, event: dict[str, Any]) -> None:
    """Cancel the running response; it ends with `response.done` status cancelled."""
    wanted = event.get("response_id")
    if s.response is not None and wanted not in (None, s.response.response_id):
        raise ClientError(
            f"Cancellation failed: no response with id '{wanted}' is active.",
            "response_cancel_not_active",
            "response_id",
        )
    if not responses.cancel(s, "client_cancelled"):
        raise ClientError(
            "Cancellation failed: no active response found", "response_cancel_not_active"
        )


def _check_tool_choice(config: dict[str, Any], param: str) -> None:
    """Refuse a named tool_choice whose function the tools do not declare, as the service does."""
    name = tools.undeclared_choice(config.get("tools"), config.get("tool_choice"))
    if name is not None:
        raise ClientError(
            f"Tool choice function '{name}' not found in 'tools' parameter: declare it in "
            "tools, or choose 'auto', 'required' or 'none'.",
            "invalid_value",
            param,
        )


def _index(s: Session, item_id: Any, param: str) -> int:
    for index, item in enumerate(s.items):
        if item["id"] == item_id:
            return index
    raise ClientError(
        f"Error: the item with id '{item_id}' does not exist.", "item_not_found", param
    )


HANDLERS: dict[str, Callable[[Session, dict[str, Any]], None]] = {
    "session.update": session_update,
    "input_audio_buffer.commit": buffer_commit,
    "input_audio_buffer.clear": buffer_clear,
    "output_audio_buffer.clear": output_clear,
    "conversation.item.create": item_create,
    "conversation.item.retrieve": item_retrieve,
    "conversation.item.delete": item_delete,
    "conversation.item.truncate": item_truncate,
    "response.create": response_create,
    "response.cancel": response_cancel,
}
