"""The emulator's server events, built as plain dicts in the service's own order and names.

Pure: no I/O, no clock. Events are built with GA names and renamed for the beta (preview)
protocol, so both flavours come from one description of each event.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from typing import Any

from .tools import FunctionCall
from .usage import transcription_tokens

ALPHABET = string.ascii_letters + string.digits

# GA name -> beta name; None: the event does not exist in beta.
BETA_NAMES: dict[str, str | None] = {
    "conversation.item.added": "conversation.item.created",
    "conversation.item.done": None,
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
}


class Ids:
    """Id factory in the service's formats; seedable so tests get stable ids."""

    def __init__(self, seed: int | str | None = None):
        self.random = random.Random(seed)

    def make(self, prefix: str) -> str:
        """An id like `item_` + 21 letters and digits."""
        return prefix + "_" + "".join(self.random.choices(ALPHABET, k=21))

    def hex_event(self) -> str:
        """The shorter `event_` + 16 hex id the WebRTC-only output_audio_buffer events carry."""
        return f"event_{self.random.getrandbits(64):016x}"


@dataclass
class ResponsePlan:
    """Everything one response needs; the generator records progress in `sent_text`."""

    response_id: str
    item_id: str
    text: str
    modalities: list[str]
    conversation_id: str | None  # None: out-of-band (`conversation: "none"`)
    voice: str = "marin"
    max_output_tokens: int | str = "inf"
    metadata: dict[str, str] | None = None
    previous_item_id: str | None = None
    rate_limits: list[dict[str, Any]] = field(default_factory=list)
    input_text_tokens: int = 0
    input_audio_tokens: int = 0
    audio_ms: int = 0
    failure: dict[str, Any] | None = None  # an error to fail with after the response starts
    call: FunctionCall | None = None  # a function call instead of a message
    sent_text: str = ""

    @property
    def audio(self) -> bool:
        """Whether the reply is spoken (it then carries a transcript, not text)."""
        return "audio" in self.modalities and self.call is None


class Script:
    """Builds server events for one call in one protocol ("ga" or "beta")."""

    def __init__(self, protocol: str, ids: Ids | None = None):
        self.protocol = protocol
        self.ids = ids or Ids()

    def name(self, type_: str) -> str | None:
        """An event's name in this protocol (None if beta lacks it)."""
        return BETA_NAMES.get(type_, type_) if self.protocol == "beta" else type_

    def event(self, type_: str, **fields: Any) -> dict[str, Any]:
        """One event with a fresh event_id, named for the protocol (one the protocol lacks is
        a ValueError: `events` leaves those out)."""
        name = self.name(type_)
        if name is None:
            raise ValueError(f"the {self.protocol} protocol has no {type_}")
        if type_.startswith("output_audio_buffer."):
            return {"type": name, "event_id": self.ids.hex_event(), **fields}
        return {"type": name, "event_id": self.ids.make("event"), **fields}

    def events(self, *pairs: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """Several events, leaving out those the protocol does not have."""
        return [self.event(type_, **fields) for type_, fields in pairs if self.name(type_)]

    def error(
        self,
        message: str,
        *,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        event_id: str | None = None,
    ) -> dict[str, Any]:
        """An `error` event; `event_id` inside is the client event that caused it."""
        return self.event(
            "error",
            error={
                "type": type_,
                "code": code,
                "message": message,
                "param": param,
                "event_id": event_id,
            },
        )

    # Items

    def user_audio_item(self, item_id: str, transcript: str | None = None) -> dict[str, Any]:
        """The user message a committed audio buffer becomes."""
        return {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": transcript}],
        }

    def assistant_item(self, plan: ResponsePlan, status: str) -> dict[str, Any]:
        """The assistant message of a response, with what has been said so far."""
        content: list[dict[str, Any]] = []
        if status != "in_progress":
            if plan.audio:
                kind = "output_audio" if self.protocol == "ga" else "audio"
                content = [{"type": kind, "transcript": plan.sent_text}]
            else:
                kind = "output_text" if self.protocol == "ga" else "text"
                content = [{"type": kind, "text": plan.sent_text}]
        return {
            "id": plan.item_id,
            "object": "realtime.item",
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": content,
        }

    def item_added(self, item: dict[str, Any], previous_item_id: str | None) -> list[dict]:
        """A finished item entering the conversation: GA added + done, beta created."""
        fields = {"previous_item_id": previous_item_id, "item": item}
        return self.events(("conversation.item.added", fields), ("conversation.item.done", fields))

    # Input audio

    def speech_started(self, item_id: str, audio_start_ms: int) -> dict[str, Any]:
        """VAD heard speech begin."""
        return self.event(
            "input_audio_buffer.speech_started", audio_start_ms=audio_start_ms, item_id=item_id
        )

    def speech_stopped(self, item_id: str, audio_end_ms: int) -> dict[str, Any]:
        """VAD heard speech end."""
        return self.event(
            "input_audio_buffer.speech_stopped", audio_end_ms=audio_end_ms, item_id=item_id
        )

    def committed(self, item_id: str, previous_item_id: str | None) -> dict[str, Any]:
        """The input buffer became a user item."""
        return self.event(
            "input_audio_buffer.committed", item_id=item_id, previous_item_id=previous_item_id
        )

    def transcription(
        self, item_id: str, transcript: str, seconds: float, model: str | None = "whisper-1"
    ) -> list[dict]:
        """Input transcription of a user item, shaped as `model` gives it, then completed.

        whisper-1 is billed by duration and sends the whole transcript in one delta; the
        gpt-4o transcribe models stream it word by word and are billed by tokens.
        """
        whisper = model in (None, "whisper-1")
        words = [transcript] if whisper and transcript else split_words(transcript)
        deltas = [
            (
                "conversation.item.input_audio_transcription.delta",
                {"item_id": item_id, "content_index": 0, "delta": w},
            )
            for w in words
        ]
        done = (
            "conversation.item.input_audio_transcription.completed",
            {
                "item_id": item_id,
                "content_index": 0,
                "transcript": transcript,
                "usage": (
                    {"type": "duration", "seconds": round(seconds, 3)}
                    if whisper
                    else transcription_tokens(transcript, seconds)
                ),
            },
        )
        return self.events(*deltas, done)

    def transcription_failed(
        self, item_id: str, message: str = "Input transcription failed (emulated fault)."
    ) -> dict[str, Any]:
        """Input transcription of a user item failed."""
        return self.event(
            "conversation.item.input_audio_transcription.failed",
            item_id=item_id,
            content_index=0,
            error={
                "type": "server_error",
                "code": "transcription_failed",
                "message": message,
                "param": None,
            },
        )

    def audio_buffer(self, kind: str, response_id: str) -> dict[str, Any]:
        """`output_audio_buffer.started|stopped|cleared` for a response."""
        return self.event(f"output_audio_buffer.{kind}", response_id=response_id)

    def truncated(self, item_id: str, audio_end_ms: int) -> dict[str, Any]:
        """An assistant item cut at what the user heard."""
        return self.event(
            "conversation.item.truncated",
            item_id=item_id,
            content_index=0,
            audio_end_ms=audio_end_ms,
        )

    def rate_limits(self, requests: tuple[int, int], tokens: tuple[int, int]) -> list[dict]:
        """The `rate_limits` list from (limit, remaining) pairs."""
        return [
            {
                "name": "requests",
                "limit": requests[0],
                "remaining": max(0, requests[1]),
                "reset_seconds": 0.06,
            },
            {
                "name": "tokens",
                "limit": tokens[0],
                "remaining": max(0, tokens[1]),
                "reset_seconds": round(max(0, tokens[0] - tokens[1]) * 0.006, 3),
            },
        ]


def split_words(text: str) -> list[str]:
    """Deltas the way the service streams them: each word with its leading space."""
    words = text.split(" ")
    return [words[0]] + [" " + w for w in words[1:]] if text else []
