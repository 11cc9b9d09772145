"""The mirror protocol's frames: the limits they keep, how each is checked, and the error a
refused one gets back. No state: Mirror (mirror.py) keeps that."""

from __future__ import annotations

import base64
import binascii
from typing import Any, cast

from ..protocol.codec import MAX_DEPTH, TooDeep, loads
from ..protocol.record import Event, parse_event, row_problem
from ..storage.rows import MAX_CHUNK_BYTES, AudioChunk

MAX_FRAME_BYTES = 1024 * 1024
MAX_BATCH_EVENTS = 500
# The frame's own levels (frame, events list, event) above a local event object's MAX_DEPTH.
MAX_FRAME_DEPTH = MAX_DEPTH + 3
MAX_BATCH_CHUNKS = 100
OPS = ("hello", "events", "audio", "end")
# No event limit of its own: an event is at most a frame, and what is stored is never longer
# than its frame (escapes only shrink), so every stored event fits the importer's event limit.


class MirrorError(Exception):
    """A frame we refuse; the connection stays up and the browser is told why."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message

    def frame(self) -> dict[str, str]:
        """The error frame sent back."""
        return {"op": "error", "code": self.code, "message": self.message}


def parse_frame(text: str | bytes) -> dict[str, Any]:
    """A frame's JSON object with a known op, or a MirrorError saying what is wrong."""
    size = len(text)
    if isinstance(text, str) and size * 4 > MAX_FRAME_BYTES:  # else it fits however it encodes
        size = len(text.encode())
    if size > MAX_FRAME_BYTES:
        raise MirrorError(
            "frame_too_large",
            f"a frame may hold {MAX_FRAME_BYTES} bytes (got {size}): send smaller batches",
        )
    try:
        frame = loads(text, MAX_FRAME_DEPTH)
    except TooDeep:
        raise MirrorError(
            "too_deep",
            f"a frame may nest {MAX_FRAME_DEPTH} levels (a local event {MAX_DEPTH}): "
            "send data-channel text as a string",
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise MirrorError("not_json", f"a frame must be JSON text ({exc})") from None
    if not isinstance(frame, dict):
        raise MirrorError("bad_frame", "a frame must be a JSON object with an op")
    if frame.get("op") not in OPS:
        raise MirrorError("unknown_op", f"op must be {', '.join(OPS)} (got {frame.get('op')!r})")
    return frame


def to_events(events: Any) -> list[Event]:
    """Validate a batch and parse its events: redacted and categorised."""
    if not isinstance(events, list) or not events:
        raise MirrorError("bad_events", '"events" must be a non-empty list')
    if len(events) > MAX_BATCH_EVENTS:
        raise MirrorError(
            "batch_too_large", f"a batch may hold {MAX_BATCH_EVENTS} events (got {len(events)})"
        )
    return [parse_event(*_checked(index, item)) for index, item in enumerate(events)]


def _checked(index: int, item: Any) -> tuple[int, str, float | None, str | dict]:
    """An event of a batch as parse_event's arguments, or a MirrorError saying what is wrong."""
    problem: str | None = "must be an object with seq, dir, t and data"
    if isinstance(item, dict):
        seq, direction, t, data = item.get("seq"), item.get("dir"), item.get("t"), item.get("data")
        problem = row_problem(seq, direction, t)
        if problem is None:  # seq is an int, direction a str and t a number or None
            row = cast(int, seq), cast(str, direction), float(t) if t is not None else None
            if isinstance(data, str):
                return *row, data
            if not isinstance(data, dict):
                problem = "data must be the data-channel text, or a local event object"
            elif str(data.get("type", "")).startswith("voicelab."):
                return *row, data
            else:
                problem = "an object in data must be a local event with a voicelab.* type"
    raise MirrorError("bad_event", f"events[{index}]: {problem}")


def to_chunks(chunks: Any) -> list[AudioChunk]:
    """Validate an audio frame's chunks and decode their base64, or a MirrorError saying what
    is wrong with which."""
    if not isinstance(chunks, list) or not chunks:
        raise MirrorError("bad_chunks", '"chunks" must be a non-empty list')
    if len(chunks) > MAX_BATCH_CHUNKS:
        raise MirrorError(
            "batch_too_large",
            f"an audio frame may hold {MAX_BATCH_CHUNKS} chunks (got {len(chunks)}): "
            "send them in more frames",
        )
    return [_chunk(index, item) for index, item in enumerate(chunks)]


def _chunk(index: int, item: Any) -> AudioChunk:
    """One chunk of an audio frame, decoded, or a MirrorError naming it."""
    problem = _chunk_problem(item)
    if problem is None:
        try:
            data = base64.b64decode(item["data"], validate=True)
        except (binascii.Error, ValueError) as exc:
            problem = f"data is not base64 ({exc})"
        else:
            if data:
                return AudioChunk(item["seq"], float(item["t"]), data)
            problem = "data is empty: send only chunks that hold audio"
    raise MirrorError("bad_chunk", f"chunks[{index}]: {problem}")


def _chunk_problem(item: Any) -> str | None:
    """What is wrong with a chunk's fields before its data is decoded, or None."""
    if not isinstance(item, dict):
        return "must be an object with seq, t and data"
    # A chunk's seq and t follow an event row's rules, except that t is always known.
    problem = row_problem(item.get("seq"), "local", item.get("t"))
    if problem is not None or item.get("t") is None:
        return problem or "t must be milliseconds since the epoch"
    data = item.get("data")
    if not isinstance(data, str):
        return "data must be the chunk's bytes in base64"
    if len(data) > (MAX_CHUNK_BYTES + 2) // 3 * 4:
        return (
            f"a chunk may hold {MAX_CHUNK_BYTES} bytes (got about {len(data) * 3 // 4}): "
            "record with a shorter timeslice or a lower bitrate"
        )
    return None
