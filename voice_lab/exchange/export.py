"""Export of a session in Voice Lab's versioned JSON: streamed, one event per line, re-exports
byte for byte the same."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ..protocol.codec import dumps, loads, storable
from ..protocol.redaction import KNOWN_SECRETS
from ..storage.rows import SESSION_FIELDS, ExportRow

FORMAT = "voice-lab.session"
VERSION = 1

# A session travels with what describes it; counters are rebuilt from the events on import.
SESSION_EXPORT_FIELDS = tuple(
    f
    for f in SESSION_FIELDS
    if f not in ("key_hint", "expires_at", "event_count", "error_count", "max_seq", "first_t")
)


EXPORT_CHUNK = 64 * 1024  # characters per piece: one write each, few enough to stream fast


def export_chunks(
    session: Mapping[str, Any],
    rows: Iterable[ExportRow],
    recording: Mapping[str, Any] | None = None,
    tool_calls: Sequence[Mapping[str, Any]] | None = None,
    cost: Mapping[str, Any] | None = None,
) -> Iterator[str]:
    """The export document in pieces of about EXPORT_CHUNK, one event per line, so memory stays
    flat and the server writes in large blocks. `rows` come from Store.export_rows; a session
    with a recording adds a "recording" object after the events (its figures, not its audio),
    `tool_calls` (analysis/tools.py's calls, as JSON) a "tool_calls" list, and `cost`
    (analysis/cost.py's session_cost) a "cost" object; import leaves them aside, so the events
    part re-exports the same."""
    head = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "session": {k: session.get(k) for k in SESSION_EXPORT_FIELDS},
    }
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "events": [\n'
    line = EventLines()
    # Stored events were redacted on the way in, but a key may have become known since.
    redact = KNOWN_SECRETS.redact
    batch: list[str] = []
    size, separator = 0, ""
    for row in rows:
        batch.append(line(row))
        size += len(batch[-1])
        if size >= EXPORT_CHUNK:
            yield redact(separator + ",\n".join(batch))
            batch, size, separator = [], 0, ",\n"
    if batch:
        yield redact(separator + ",\n".join(batch))
    tail = "" if tool_calls is None else f', "tool_calls": {_listed(tool_calls)}'
    if cost is not None:
        tail += f', "cost": {json.dumps(cost, ensure_ascii=False)}'
    if recording is not None:
        tail += f', "recording": {json.dumps(recording, ensure_ascii=False)}'
    yield redact(f"\n]{tail}}}\n")


def _listed(items: Sequence[Mapping[str, Any]]) -> str:
    """A list of objects, one a line (each import reads as one bounded value)."""
    return "[" + ",".join(f"\n{json.dumps(item, ensure_ascii=False)}" for item in items) + "\n]"


class EventLines:
    """Writes exported events: a JSON object in its compact form (so re-exports match), or
    text. Written by hand rather than through json.dumps of a dict: this runs once per event of
    an export, and the fields are an int, a fixed word, a float, and a string or null. A session
    has few distinct types, so each is quoted once."""

    def __init__(self) -> None:
        self.types: dict[str | None, str] = {None: "null"}

    def __call__(self, row: ExportRow) -> str:
        seq, direction, t, type_, payload, compact = row
        type_text = self.types.get(type_)
        if type_text is None:
            type_text = self.types[type_] = json.dumps(type_, ensure_ascii=False)
        t_text = "null" if t is None else repr(float(t))
        event = payload if compact else _canonical(payload)
        return (
            f'{{"seq": {seq}, "dir": "{direction}", "t": {t_text}, "type": {type_text}, '
            f'"event": {event}}}'
        )


def _canonical(payload: str) -> str:
    """A stored payload as exported: compact JSON for an object, a JSON string for other text."""
    try:
        value = loads(payload)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return storable(dumps(value))  # a stored \ud800 escape must not become a lone surrogate
    return json.dumps(payload, ensure_ascii=False)
