"""The rows every storage backend reads and writes: sessions' fields, events, what a batch did,
exported events. No SQL here."""

from __future__ import annotations

import secrets
from typing import NamedTuple

from ..protocol.events import Event


class Stored(NamedTuple):
    """What storing a batch did: how many of its rows were new, and the session's
    contiguous_seq, event count and highest seq after it."""

    new: int
    contiguous: int | None  # None until Store._acked finds it
    count: int = 0
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


# An event as exported: seq, direction, t, type, payload, compact (see exchange.export_chunks).
ExportRow = tuple[int, str, float | None, str | None, str, int]
EXPORT_COLUMNS = "seq, direction, t, type, payload, compact"


def new_session_id() -> str:
    """A short, URL-safe, unguessable session id."""
    return "vl_" + secrets.token_hex(8)
