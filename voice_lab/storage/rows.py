"""The rows every storage backend reads and writes: sessions' fields, events, what a batch did,
exported events, recording chunks. No SQL here."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any, NamedTuple

from ..protocol.record import Event
from ..protocol.redaction import redact_text


class Stored(NamedTuple):
    """What storing a batch did: how many of its rows were new, and the session's
    contiguous_seq, event count (total) and highest seq after it."""

    new: int
    contiguous: int | None  # None until Store._acked finds it
    total: int = 0  # the session's event count
    max_seq: int = 0


SESSION_FIELDS = (
    "id",
    "created_at",
    "provider",
    "protocol",
    "model",
    "voice",
    "remote_session_id",
    "call_id",
    "label",
    "origin",
    "key_hint",
    "expires_at",
    "ended_at",
    "event_count",
    "error_count",
    "max_seq",
    "first_t",
    "replay_of",
)


class EventRow(NamedTuple):
    """One stored event, as the mirror and the importer write it (a tuple: the mirror makes one
    per event, and its fields are the INSERT's parameters in order)."""

    seq: int
    direction: str
    t: float | None
    type: str | None
    category: str
    response_id: str | None
    item_id: str | None
    payload: str
    compact: bool = False  # the payload is an object's compact JSON: exports embed it as is

    @classmethod
    def of(cls, event: Event) -> EventRow:
        """The row of a parsed event: its first nine fields."""
        return tuple.__new__(cls, event[:9])


class AudioChunk(NamedTuple):
    """One piece of a call's recording: its seq (the recording's own, from 1), when the page
    got it (browser clock, ms since the epoch) and the MediaRecorder's bytes."""

    seq: int
    t: float
    data: bytes


# A recording chunk is a second of Opus at 64 kbps, about 8 KB: the limit leaves room for other
# bitrates and timeslices without letting one frame's worth of garbage pass as audio.
MAX_CHUNK_BYTES = 256 * 1024


# An event as exported: seq, direction, t, type, payload, compact (see exchange/export.py).
ExportRow = tuple[int, str, float | None, str | None, str, int]
EXPORT_COLUMNS = "seq, direction, t, type, payload, compact"


def new_session_id() -> str:
    """A short, URL-safe, unguessable session id."""
    return "vl_" + secrets.token_hex(8)


def redacted_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Session fields with every secret in their text redacted: whoever writes a label, a
    model or a call id, no key is stored in it."""
    return {k: redact_text(v) if isinstance(v, str) else v for k, v in fields.items()}


def check_fields(fields: dict[str, Any]) -> None:
    """Refuse a field that is no column of a session, naming it."""
    unknown = set(fields) - set(SESSION_FIELDS)
    if unknown:
        raise ValueError(f"unknown session fields: {sorted(unknown)}")


def secret_hash(secret: str) -> str:
    """What the store keeps of a write secret. The secret is 256 random bits, so a plain hash
    cannot be searched back to it; salting or stretching would add nothing."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()
