"""Realistic event logs for tests, in GA or beta names, following a real WebRTC capture's order.

Each scenario returns a `Log`: the parsed events (seq from 1, increasing t) and the ids a test
needs. Times are ms after T0; the timing of a voice turn starting at S is fixed (see voice_turn),
so tests can compute expected latencies by hand.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

from voice_lab.protocol.record import Event, parse_event

T0 = 1_763_900_000_000.0
EPHEMERAL_KEY = "ek_68c2f3a9b1d04e7f8a6b5c4d3e2f1a0b"

_GA_TO_BETA_PREFIXES = (
    ("response.output_audio_transcript.", "response.audio_transcript."),
    ("response.output_audio.", "response.audio."),
    ("response.output_text.", "response.text."),
)
# Sent by GA services only: a beta log leaves them out.
_GA_ONLY = frozenset({"conversation.item.done"})

TURN_DETECTION = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "create_response": True,
    "interrupt_response": True,
}


# A voice turn over WebRTC in GA names, as docs/protocol.md, "A voice turn", orders it: before
# the transcript deltas (output_audio_buffer.started comes after the first) and after them.
GA_TURN_HEAD = (
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.committed",
    "conversation.item.added",
    "conversation.item.done",
    "response.created",
    "rate_limits.updated",
    "response.output_item.added",
    "conversation.item.added",
    "response.content_part.added",
    "response.output_audio_transcript.delta",
    "output_audio_buffer.started",
)
GA_TURN_TAIL = (
    "response.output_audio.done",
    "response.output_audio_transcript.done",
    "response.content_part.done",
    "response.output_item.done",
    "conversation.item.done",
    "response.done",
    "output_audio_buffer.stopped",
)


def wire_text(event: dict) -> str:
    """An event as the data channel carries it: compact JSON, as the service and JSON.stringify
    write it."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def beta_name(ga_name: str) -> str:
    """The beta (preview) name of a GA event type."""
    if ga_name == "conversation.item.added":
        return "conversation.item.created"
    for ga, beta in _GA_TO_BETA_PREFIXES:
        if ga_name.startswith(ga):
            return beta + ga_name[len(ga) :]
    return ga_name


def usage(
    input_text: int = 0,
    input_audio: int = 0,
    cached: int = 0,
    output_text: int = 0,
    output_audio: int = 0,
) -> dict:
    """A response.done usage object with consistent totals."""
    input_tokens, output_tokens = input_text + input_audio, output_text + output_audio
    return {
        "total_tokens": input_tokens + output_tokens,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "input_token_details": {
            "text_tokens": input_text,
            "audio_tokens": input_audio,
            "image_tokens": 0,
            "cached_tokens": cached,
            "cached_tokens_details": {"text_tokens": cached, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": output_text, "audio_tokens": output_audio},
    }


def chunks(text: str) -> list[str]:
    """Text split the way the services stream it: words with their leading space."""
    words = text.split(" ")
    return [words[0]] + [" " + word for word in words[1:]]


@dataclass
class Log:
    """A built log and the ids of what it contains, in order of appearance."""

    events: list[Event]
    user_items: list[str] = field(default_factory=list)
    responses: list[str] = field(default_factory=list)
    assistant_items: list[str] = field(default_factory=list)


class LogBuilder:
    """Collects events at given times (ms after T0); build() orders them and assigns seqs."""

    def __init__(self, ga: bool = True) -> None:
        self.ga = ga
        self._entries: list[tuple[float, str, dict]] = []
        self._ids = itertools.count(1)
        self._event_ids = itertools.count(1)
        self.log = Log([])

    def new_id(self, prefix: str) -> str:
        """A fresh id such as item_007."""
        return f"{prefix}_{next(self._ids):03d}"

    def server(self, at: float, ga_type: str, **fields: object) -> None:
        """A server event (named for the builder's protocol) at `at` ms."""
        if not self.ga and ga_type in _GA_ONLY:
            return
        type_ = ga_type if self.ga else beta_name(ga_type)
        # Output audio buffer events carry shorter ids than the rest (event_<16 hex>).
        n = next(self._event_ids)
        event_id = f"event_{n:016x}" if type_.startswith("output_") else f"event_B{n:020d}"
        self._entries.append((at, "server", {"type": type_, "event_id": event_id, **fields}))

    def client(self, at: float, type_: str, **fields: object) -> None:
        """A client event, exactly as given."""
        self._entries.append((at, "client", {"type": type_, **fields}))

    def local(self, at: float, type_: str, **fields: object) -> None:
        """A voicelab.* local event."""
        self._entries.append((at, "local", {"type": type_, **fields}))

    def build(self) -> Log:
        """The Log, events in time order (emission order breaks ties), seq from 1."""
        entries = sorted(self._entries, key=lambda entry: entry[0])
        self.log.events = [
            parse_event(seq, dir_, T0 + at, data if dir_ == "local" else wire_text(data))
            for seq, (at, dir_, data) in enumerate(entries, start=1)
        ]
        return self.log

    # ------------------------------------------------------------ shapes that differ by protocol

    def session(self, voice: str = "marin", transcription: bool = True) -> dict:
        """A full session object as session.created/updated carry it."""
        model = {"model": "whisper-1"} if transcription else None
        if self.ga:
            fmt = {"type": "audio/pcm", "rate": 24000}
            return {
                "type": "realtime",
                "object": "realtime.session",
                "id": "sess_CUq2Zt4KJ0xWg7bRq1",
                "model": "gpt-realtime",
                "output_modalities": ["audio"],
                "instructions": "You are a helpful assistant.",
                "audio": {
                    "input": {
                        "format": fmt,
                        "transcription": model,
                        "noise_reduction": None,
                        "turn_detection": TURN_DETECTION,
                    },
                    "output": {"format": fmt, "voice": voice, "speed": 1.0},
                },
                "tools": [],
                "tool_choice": "auto",
                "max_output_tokens": "inf",
                "tracing": None,
                "truncation": "auto",
                "prompt": None,
                "include": None,
            }
        return {
            "id": "sess_CUq2Zt4KJ0xWg7bRq1",
            "object": "realtime.session",
            "model": "gpt-4o-realtime-preview",
            "modalities": ["audio", "text"],
            "instructions": "You are a helpful assistant.",
            "voice": voice,
            "input_audio_format": "pcm16",
            "output_audio_format": "pcm16",
            "input_audio_transcription": model,
            "turn_detection": TURN_DETECTION,
            "tools": [],
            "tool_choice": "auto",
            "temperature": 0.8,
            "max_response_output_tokens": "inf",
        }

    def transcription_update(self) -> dict:
        """The session field of a client session.update that turns on input transcription."""
        if self.ga:
            return {
                "type": "realtime",
                "audio": {"input": {"transcription": {"model": "whisper-1"}}},
            }
        return {"input_audio_transcription": {"model": "whisper-1"}}

    def response(self, rid: str, status: str = "in_progress", **fields: object) -> dict:
        """A response object (output and usage empty until response.done)."""
        common: dict[str, object] = {"object": "realtime.response", "id": rid, "status": status}
        common.update({"status_details": None, "output": [], "conversation_id": "conv_001"})
        if self.ga:
            modalities = {"output_modalities": ["audio"], "max_output_tokens": "inf"}
        else:
            modalities = {"modalities": ["audio", "text"], "max_output_tokens": "inf"}
        return {**common, **modalities, "usage": None, "metadata": None, **fields}

    def audio_content(self, transcript: str | None) -> dict:
        """An assistant audio content part of an item."""
        return {"type": "output_audio" if self.ga else "audio", "transcript": transcript}

    def text_content(self, text: str) -> dict:
        """An assistant text content part of an item."""
        return {"type": "output_text" if self.ga else "text", "text": text}

    # ------------------------------------------------------------ steps of a session

    def connect(self, at: float = 0.0) -> None:
        """Local WebRTC events, session.created, a session.update and its session.updated."""
        self.local(at, "voicelab.key_minted", ms=182.4, expires_at=1763900600)
        self.local(at + 300, "voicelab.sdp", phase="answer", ms=240.2, status=201)
        self.local(at + 400, "voicelab.pc_state", state="connected")
        self.local(at + 410, "voicelab.datachannel", state="open", label="oai-events")
        self.server(at + 450, "session.created", session=self.session(transcription=False))
        self.client(
            at + 460, "session.update", event_id="evt_update_1", session=self.transcription_update()
        )
        self.server(at + 520, "session.updated", session=self.session(transcription=True))

    def stats(self, at: float, rtt_ms: float, bytes_in: int) -> None:
        """A voicelab.stats sample."""
        self.local(
            at,
            "voicelab.stats",
            rtt_ms=rtt_ms,
            jitter_ms=2.5,
            packets_lost=0,
            audio_level_in=0.02,
            audio_level_out=0.3,
            bytes_in=bytes_in,
            bytes_out=bytes_in // 2,
        )

    def speech_started(self, at: float, audio_ms: int) -> str:
        """input_audio_buffer.speech_started for a new user item; returns its id."""
        item = self.new_id("item")
        self.log.user_items.append(item)
        self.server(at, "input_audio_buffer.speech_started", audio_start_ms=audio_ms, item_id=item)
        return item

    def user_audio_item(self, at: float, item: str, audio_ms: int, previous: str | None) -> None:
        """speech_stopped, committed, and the user item added (+ done in GA)."""
        self.server(at, "input_audio_buffer.speech_stopped", audio_end_ms=audio_ms, item_id=item)
        self.server(
            at + 10, "input_audio_buffer.committed", previous_item_id=previous, item_id=item
        )
        message = {
            "id": item,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        self.server(at + 20, "conversation.item.added", previous_item_id=previous, item=message)
        self.server(at + 25, "conversation.item.done", previous_item_id=previous, item=message)

    def input_transcript(self, at: float, item: str, text: str) -> None:
        """Input transcription deltas every 10 ms, then .completed 10 ms after the last."""
        parts = chunks(text)
        name = "conversation.item.input_audio_transcription"
        for i, part in enumerate(parts):
            self.server(at + 10 * i, f"{name}.delta", item_id=item, content_index=0, delta=part)
        self.server(
            at + 10 * len(parts),
            f"{name}.completed",
            item_id=item,
            content_index=0,
            transcript=text,
            usage={"type": "duration", "seconds": 1.2},
        )

    def response_created(self, at: float, rid: str | None = None) -> str:
        """response.created, and rate_limits.updated 30 ms later; returns the response id."""
        rid = rid or self.new_id("resp")
        self.log.responses.append(rid)
        self.server(at, "response.created", response=self.response(rid))
        limits = [
            {"name": "requests", "limit": 5000, "remaining": 4999, "reset_seconds": 0.012},
            {"name": "tokens", "limit": 40000, "remaining": 35904, "reset_seconds": 6.144},
        ]
        self.server(at + 30, "rate_limits.updated", rate_limits=limits)
        return rid

    def assistant_item(self, at: float, rid: str, content: list, status: str) -> tuple[dict, str]:
        """response.output_item.added and conversation.item.added for a new assistant message."""
        item_id = self.new_id("item")
        self.log.assistant_items.append(item_id)
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": content,
        }
        self.server(at, "response.output_item.added", response_id=rid, output_index=0, item=item)
        self.server(at + 5, "conversation.item.added", previous_item_id=None, item=item)
        return item, item_id

    def spoken_reply(self, at: float, rid: str, text: str, cut_at: float | None = None) -> str:
        """An audio reply: item at `at`, transcript deltas from at+150 every 20 ms, audio on the
        track at at+160; the done events from at+950 (or, with cut_at, a barge-in there)."""
        _, item_id = self.assistant_item(at, rid, [], "in_progress")
        ids = {"response_id": rid, "item_id": item_id, "output_index": 0, "content_index": 0}
        self.server(
            at + 10, "response.content_part.added", **ids, part={"type": "audio", "transcript": ""}
        )
        sent = []
        for i, part in enumerate(chunks(text)):
            if cut_at is not None and at + 150 + 20 * i >= cut_at:
                break
            self.server(
                at + 150 + 20 * i, "response.output_audio_transcript.delta", **ids, delta=part
            )
            sent.append(part)
        self.server(at + 160, "output_audio_buffer.started", response_id=rid)
        said = "".join(sent)
        end = at + 950
        if cut_at is not None:
            self.server(cut_at + 5, "output_audio_buffer.cleared", response_id=rid)
            self.server(
                cut_at + 10,
                "conversation.item.truncated",
                item_id=item_id,
                content_index=0,
                audio_end_ms=int(cut_at - at - 160),
            )
            end = cut_at + 15
        self.server(end, "response.output_audio.done", **ids)
        self.server(end + 10, "response.output_audio_transcript.done", **ids, transcript=said)
        heard = {"type": "audio", "transcript": said}
        self.server(end + 20, "response.content_part.done", **ids, part=heard)
        status = "incomplete" if cut_at is not None else "completed"
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": [self.audio_content(said)],
        }
        self.server(
            end + 30, "response.output_item.done", response_id=rid, output_index=0, item=item
        )
        self.server(end + 35, "conversation.item.done", previous_item_id=None, item=item)
        return item_id

    def response_done(
        self, at: float, rid: str, status: str = "completed", **fields: object
    ) -> None:
        """response.done with a status and whatever else (usage, status_details)."""
        self.server(at, "response.done", response=self.response(rid, status, **fields))


# ---------------------------------------------------------------- scenarios

DEFAULT_USAGE = usage(input_text=200, input_audio=50, cached=128, output_text=25, output_audio=100)
CANCELLED_USAGE = usage(input_text=120, input_audio=40, output_text=10, output_audio=30)
FUNCTION_CALL_USAGE = usage(input_text=180, input_audio=50, output_text=15)
USER_TEXT = "What's the weather like in Paris?"
REPLY = "It is sunny and eighteen degrees in Paris today."
TRANSCRIPTION_ERROR = {
    "type": "invalid_request_error",
    "code": "audio_unintelligible",
    "message": "Audio could not be transcribed.",
    "param": None,
}


def user_turn(
    b: LogBuilder, start: float, text: str, transcription: str = "before", item: str | None = None
) -> str:
    """The user's side of a voice turn from speech at S=start; returns the user item.

    Times after S: speech_started 0 (unless `item` says it was already sent), speech_stopped
    1000, committed 1010, user item 1020; input transcription from 1301 (transcription="before"),
    from 4401 ("after", once the reply has played) or failed at 1301 ("failed").
    """
    item = item or b.speech_started(start, audio_ms=int(start))
    previous = b.log.assistant_items[-1] if b.log.assistant_items else None
    b.user_audio_item(start + 1000, item, int(start) + 1000, previous)
    if transcription == "failed":
        b.server(
            start + 1301,
            "conversation.item.input_audio_transcription.failed",
            item_id=item,
            content_index=0,
            error=TRANSCRIPTION_ERROR,
        )
    else:
        b.input_transcript(start + (1301 if transcription == "before" else 4401), item, text)
    return item


def voice_turn(
    b: LogBuilder, start: float, text: str, reply: str, cut_at: float | None = None, **user
) -> tuple[str, str, str]:
    """A voice turn (see user_turn) and its spoken reply; returns (user item, response, reply item).

    Times after S: response.created 1300, rate_limits 1330, reply item 1340, first transcript
    delta 1490 (then every 20 ms), output_audio_buffer.started 1500, response.done 2340,
    output_audio_buffer.stopped 4300. With cut_at (absolute), a barge-in cuts the reply there and
    response.done (cancelled, turn_detected) comes at cut_at + 60, with no .stopped.
    """
    item = user_turn(b, start, text, **user)
    rid = b.response_created(start + 1300)
    reply_item = b.spoken_reply(start + 1340, rid, reply, cut_at)
    if cut_at is None:
        b.response_done(start + 2340, rid, usage=DEFAULT_USAGE)
        b.server(start + 4300, "output_audio_buffer.stopped", response_id=rid)
    else:
        details = {"type": "cancelled", "reason": "turn_detected"}
        b.response_done(
            cut_at + 60, rid, "cancelled", status_details=details, usage=CANCELLED_USAGE
        )
    return item, rid, reply_item


def voice_turn_log(ga: bool = True, transcription: str = "before") -> Log:
    """Connect, then one voice turn at S=1000; stats samples at 600 and 5600."""
    b = LogBuilder(ga)
    b.connect()
    b.stats(600, rtt_ms=41.0, bytes_in=12_000)
    voice_turn(b, 1000, USER_TEXT, REPLY, transcription=transcription)
    b.stats(5600, rtt_ms=45.0, bytes_in=96_000)
    return b.build()


def out_of_order_transcription_log(ga: bool = True) -> Log:
    """A voice turn whose input transcription completes after the reply has played."""
    return voice_turn_log(ga, transcription="after")


def transcription_failure_log(ga: bool = True) -> Log:
    """A voice turn whose input transcription fails (the response still completes)."""
    return voice_turn_log(ga, transcription="failed")


def barge_in_log(ga: bool = True) -> Log:
    """Turn 1 (S=1000) is cut at 2900 by turn 2's speech (S=2900), which completes."""
    b = LogBuilder(ga)
    b.connect()
    long_reply = " ".join(["Paris is lovely in spring and the museums are open late."] * 3)
    voice_turn(b, 1000, "Tell me about Paris.", long_reply, cut_at=2900)
    interrupting = b.speech_started(2900, audio_ms=2900)
    voice_turn(b, 2900, "Actually, just the weather.", REPLY, item=interrupting)
    return b.build()


WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
CALL_ID = "call_Xq7wD2v9PzL1"
ARGUMENTS = '{"city":"Paris"}'
FUNCTION_OUTPUT = {"type": "function_call_output", "call_id": CALL_ID, "output": '{"temp_c":18}'}


def function_call_log(ga: bool = True) -> Log:
    """Tools set at 700; a voice turn (S=1000) answered at 2300 by a function call (arguments
    streamed 2400-2420, response.done 2460); the client sends the output at 2600 and
    response.create at 2630; the second response is created at 2700 and speaks as voice_turn's
    (reply item 2740, first delta 2890, audio 2900, response.done 3740, stopped 5700)."""
    b = LogBuilder(ga)
    b.connect()
    tools = {"tools": [WEATHER_TOOL]}
    b.client(700, "session.update", session={"type": "realtime", **tools} if ga else tools)
    b.server(760, "session.updated", session={**b.session(), **tools})
    user_turn(b, 1000, USER_TEXT)
    rid = b.response_created(2300)
    item_id = b.new_id("item")
    item = {
        "id": item_id,
        "object": "realtime.item",
        "type": "function_call",
        "status": "in_progress",
        "name": "get_weather",
        "call_id": CALL_ID,
        "arguments": "",
    }
    b.server(2340, "response.output_item.added", response_id=rid, output_index=0, item=item)
    b.server(2345, "conversation.item.added", previous_item_id=None, item=item)
    ids = {"response_id": rid, "item_id": item_id, "output_index": 0, "call_id": CALL_ID}
    for i, part in enumerate(('{"city"', ':"Par', 'is"}')):
        b.server(2400 + 10 * i, "response.function_call_arguments.delta", **ids, delta=part)
    name = {"name": "get_weather"} if ga else {}
    b.server(2430, "response.function_call_arguments.done", **ids, arguments=ARGUMENTS, **name)
    item = {**item, "status": "completed", "arguments": ARGUMENTS}
    b.server(2440, "response.output_item.done", response_id=rid, output_index=0, item=item)
    b.server(2445, "conversation.item.done", previous_item_id=None, item=item)
    b.response_done(2460, rid, output=[item], usage=FUNCTION_CALL_USAGE)
    b.client(2600, "conversation.item.create", event_id="evt_output_1", item=FUNCTION_OUTPUT)
    output_item = {"id": b.new_id("item"), "object": "realtime.item", **FUNCTION_OUTPUT}
    b.server(2620, "conversation.item.added", previous_item_id=item_id, item=output_item)
    b.server(2625, "conversation.item.done", previous_item_id=item_id, item=output_item)
    b.client(2630, "response.create", event_id="evt_create_1")
    second = b.response_created(2700)
    b.spoken_reply(2740, second, REPLY)
    b.response_done(3740, second, usage=DEFAULT_USAGE)
    b.server(5700, "output_audio_buffer.stopped", response_id=second)
    return b.build()


def text_response_log(ga: bool = True) -> Log:
    """A typed user message (item.create 1000, added 1040), response.create at 1100, a text-only
    response created at 1250: text deltas from 1400 every 20 ms, done 1600, response.done 1650."""
    b = LogBuilder(ga)
    b.connect()
    content = [{"type": "input_text", "text": "What is the capital of France?"}]
    message = {"type": "message", "role": "user", "content": content}
    b.client(1000, "conversation.item.create", event_id="evt_item_1", item=message)
    item_id = b.new_id("item")
    b.log.user_items.append(item_id)
    added = {"id": item_id, "object": "realtime.item", "status": "completed", **message}
    b.server(1040, "conversation.item.added", previous_item_id=None, item=added)
    b.server(1045, "conversation.item.done", previous_item_id=None, item=added)
    modalities = {"output_modalities": ["text"]} if ga else {"modalities": ["text"]}
    b.client(1100, "response.create", event_id="evt_create_1", response=modalities)
    rid = b.response_created(1250)
    _, reply_item = b.assistant_item(1290, rid, [], "in_progress")
    ids = {"response_id": rid, "item_id": reply_item, "output_index": 0, "content_index": 0}
    b.server(1300, "response.content_part.added", **ids, part={"type": "text", "text": ""})
    answer = "The capital of France is Paris."
    for i, part in enumerate(chunks(answer)):
        b.server(1400 + 20 * i, "response.output_text.delta", **ids, delta=part)
    b.server(1600, "response.output_text.done", **ids, text=answer)
    b.server(1610, "response.content_part.done", **ids, part={"type": "text", "text": answer})
    done = {
        "id": reply_item,
        "object": "realtime.item",
        "type": "message",
        "status": "completed",
        "role": "assistant",
        "content": [b.text_content(answer)],
    }
    b.server(1620, "response.output_item.done", response_id=rid, output_index=0, item=done)
    b.server(1625, "conversation.item.done", previous_item_id=item_id, item=done)
    b.response_done(1650, rid, output=[done], usage=usage(input_text=30, output_text=8))
    return b.build()


COMMIT_ERROR = {
    "type": "invalid_request_error",
    "code": "input_audio_buffer_commit_empty",
    "message": "Error committing input audio buffer: buffer too small. Expected at least 100ms "
    "of audio, but buffer only has 0.00ms of audio.",
    "param": None,
    "event_id": "evt_commit_1",
}


def client_error_log(ga: bool = True) -> Log:
    """An input_audio_buffer.commit at 1000 (event_id evt_commit_1) answered by `error` at 1030."""
    b = LogBuilder(ga)
    b.connect()
    b.client(1000, "input_audio_buffer.commit", event_id="evt_commit_1")
    b.server(1030, "error", error=COMMIT_ERROR)
    return b.build()


SERVER_ERROR = {
    "type": "server_error",
    "code": "server_error",
    "message": "The server had an error while processing your request.",
}


def failed_response_log(ga: bool = True) -> Log:
    """A voice turn (S=1000) whose response (created 2300) fails at 2500 with a server error."""
    b = LogBuilder(ga)
    b.connect()
    user_turn(b, 1000, USER_TEXT)
    rid = b.response_created(2300)
    details = {"type": "failed", "error": SERVER_ERROR}
    b.response_done(2500, rid, "failed", status_details=details, usage=usage(input_text=200))
    return b.build()


SCENARIOS = {
    "voice_turn": voice_turn_log,
    "barge_in": barge_in_log,
    "function_call": function_call_log,
    "transcription_failure": transcription_failure_log,
    "out_of_order_transcription": out_of_order_transcription_log,
    "text_response": text_response_log,
    "client_error": client_error_log,
    "failed_response": failed_response_log,
}
