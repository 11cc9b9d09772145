"""The event record: one mirrored or imported event parsed, categorised and redacted, the
checks on a row's seq, direction and time, and an event read back from its stored row."""

from __future__ import annotations

import re
from functools import partial
from typing import Any, NamedTuple, Protocol

from .codec import dumps, loads, storable
from .names import DIRECTIONS, category_of, ids_of
from .redaction import may_hold_secret, redact, redact_text


class Event(NamedTuple):
    """One mirrored data-channel or local event, parsed, categorised and redacted (a tuple:
    the mirror makes one per event it receives). Its first nine fields are the store's row of
    it, in the order of storage.rows.EventRow."""

    seq: int
    direction: str
    t: float | None
    type: str | None
    category: str
    response_id: str | None
    item_id: str | None
    raw: str  # the text stored: as received unless redacted
    compact: bool  # raw is data's compact JSON (dumps), so exports can embed it as is
    data: dict | None


class Columns(Protocol):
    """A stored row read by column name: a sqlite3.Row, or a dict."""

    def __getitem__(self, key: str, /) -> Any:
        """The value of a column."""


# Event(...) runs a Python __new__; the mirror makes one per event, so parse_event skips it.
_new_event = partial(tuple.__new__, Event)

# The JSON escapes of what storable() writes back into parsed text: a UTF-16 surrogate (the
# only way a lone one gets in), and NUL.
_SURROGATE_ESCAPE = re.compile(r"\\u(?:[dD][89a-fA-F]|0000)")


def _storable_strings(value: Any) -> Any:
    """A parsed JSON value with every string (keys too) made storable (nesting is bounded)."""
    if isinstance(value, dict):
        return {storable(k): _storable_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable_strings(v) for v in value]
    return storable(value) if isinstance(value, str) else value


# The last moment a date can show (9999-12-31), in ms: times past it are refused on the way in.
MAX_MS = 253_402_300_799_999


def row_problem(seq: Any, direction: Any, t: Any) -> str | None:
    """What is wrong with an event row's seq, dir and browser time t, or None."""
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq < 2**53:
        return f"seq must be a whole number from 1 (got {seq!r})"
    if direction not in DIRECTIONS:
        return f"dir must be one of {', '.join(DIRECTIONS)} (got {direction!r})"
    if t is not None and (
        isinstance(t, bool) or not isinstance(t, int | float) or not 0 <= t <= MAX_MS
    ):
        return f"t must be milliseconds since the epoch, or null (got {t!r})"
    return None


def parse_event(seq: int, direction: str, t: float | None, raw_or_obj: str | dict) -> Event:
    """An Event from data-channel text (kept byte-for-byte unless redacted) or a local object.

    Text that does not parse, or nests deeper than MAX_DEPTH, is kept as text: never dropped.
    """
    if isinstance(raw_or_obj, dict):
        data, raw = raw_or_obj, dumps(raw_or_obj)
        if may_hold_secret(raw):
            data = redact(data)
            raw = dumps(data)
        compact = True
        if not raw.isascii() and storable(raw) != raw:  # a lone surrogate in some text
            data = _storable_strings(data)
            raw = storable(raw)  # as from_row will read it
            compact = raw == dumps(data)
    else:
        raw = raw_or_obj
        try:
            parsed = loads(raw)
        except ValueError:
            parsed, raw = None, redact_text(raw)
        if not isinstance(parsed, dict):
            # JSON that is no object (a list, a string) is walked as an object's values are:
            # its text can spell a key with escapes (\u0065k_, \") that only parsing undoes.
            if parsed is not None and may_hold_secret(raw):
                redacted = redact(parsed)
                raw = raw if redacted == parsed else dumps(redacted)
            raw = storable(raw)
            return _new_event((seq, direction, t, None, "unknown", None, None, raw, False, None))
        data = parsed
        if ("\\u" in raw and _SURROGATE_ESCAPE.search(raw)) or storable(raw) != raw:
            data = _storable_strings(data)  # pages and exports must be able to encode it
            raw = storable(raw)
        if may_hold_secret(raw):  # else skip the walk (most events, every delta)
            redacted = redact(data)
            if redacted != data:
                data, raw = redacted, storable(dumps(redacted))
        compact = raw == dumps(data)
    type_ = data.get("type")
    type_ = storable(type_) if type_ and isinstance(type_, str) else None
    response_id, item_id = ids_of(data)
    category = category_of(type_, data)
    return _new_event(
        (seq, direction, t, type_, category, response_id, item_id, raw, compact, data)
    )


def from_row(row: Columns) -> Event:
    """An Event from a stored row: its columns were derived and its payload redacted on the way
    in, so reading only parses the JSON again."""
    try:
        parsed = loads(row["payload"])
    except ValueError:
        parsed = None
    if parsed is not None and "\\u" in row["payload"] and _SURROGATE_ESCAPE.search(row["payload"]):
        parsed = _storable_strings(parsed)
    # No browser time (a bare log, a client that sent none): when it reached us stands in.
    t = row["t"] if row["t"] is not None else row["received_at"] * 1000
    return Event(
        row["seq"],
        row["direction"],
        t,
        row["type"],
        row["category"],
        row["response_id"],
        row["item_id"],
        row["payload"],
        bool(row["compact"]),
        parsed if isinstance(parsed, dict) else None,
    )
