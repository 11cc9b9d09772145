"""Export and import of event logs: Voice Lab's versioned JSON, JSON Lines, bare event arrays.

Export streams; import parses and checks everything before one transaction writes anything.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from ..protocol.events import (
    KNOWN_SECRETS,
    MAX_DEPTH,
    MAX_MS,
    dumps,
    loads,
    nested_deeper,
    parse_event,
    row_problem,
    storable,
)
from ..storage.rows import SESSION_FIELDS, EventRow, ExportRow

FORMAT = "voice-lab.session"
VERSION = 1
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_EVENTS = 500_000
MAX_EVENT_BYTES = 1024 * 1024
# A whole file may nest further than one event (document, events, row), so that an event too
# deep is refused by name; past this the parser itself stops.
MAX_FILE_DEPTH = 2 * MAX_DEPTH
# A session travels with what describes it; counters are rebuilt from the events on import.
SESSION_EXPORT_FIELDS = tuple(
    f
    for f in SESSION_FIELDS
    if f not in ("key_hint", "expires_at", "event_count", "error_count", "max_seq", "first_t")
)
SESSION_IMPORT_FIELDS = tuple(f for f in SESSION_EXPORT_FIELDS if f not in ("id", "origin"))
# Client event names (beta and GA): a bare array of events says nothing about direction.
CLIENT_TYPES = frozenset(
    {
        "session.update",
        "transcription_session.update",
        "input_audio_buffer.append",
        "input_audio_buffer.commit",
        "input_audio_buffer.clear",
        "output_audio_buffer.clear",
        "conversation.item.create",
        "conversation.item.retrieve",
        "conversation.item.truncate",
        "conversation.item.delete",
        "response.create",
        "response.cancel",
    }
)


class ImportRefused(ValueError):
    """A file we will not import, with what is wrong and where."""


EXPORT_CHUNK = 64 * 1024  # characters per piece: one write each, few enough to stream fast


def export_chunks(session: Mapping[str, Any], rows: Iterable[ExportRow]) -> Iterator[str]:
    """The export document in pieces of about EXPORT_CHUNK, one event per line, so memory stays
    flat and the server writes in large blocks. `rows` come from Store.export_rows."""
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
    yield "\n]}\n"


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


def parse_import(data: bytes, name: str = "upload") -> tuple[dict[str, Any], list[EventRow]]:
    """Session fields and event rows from an uploaded file, or ImportRefused saying why."""
    if len(data) > MAX_FILE_BYTES:
        raise ImportRefused(f"{name} is {len(data)} bytes; the limit is {MAX_FILE_BYTES}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportRefused(
            f"{name} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    if not text.strip():
        raise ImportRefused(f"{name} is empty: export a session or save a JSON array of events")
    try:
        document = _loads(text)
    except ImportRefused:
        if "\n" not in text.strip():
            raise
        return {"label": name}, _rows(_json_lines(text), name, lines=True)
    if isinstance(document, dict) and document.get("format") == FORMAT:
        if document.get("version") != VERSION:
            raise ImportRefused(
                f"{name}: version {document.get('version')!r} of {FORMAT} is not "
                f"supported (this Voice Lab reads version {VERSION})"
            )
        if not isinstance(document.get("events"), list):
            raise ImportRefused(f'{name}: "events" must be a list')
        session = document.get("session") if isinstance(document.get("session"), dict) else {}
        return _session_fields(session, name), _rows(document["events"], name)
    if isinstance(document, list):
        return {"label": name}, _rows(_bare_events(document, name), name)
    if isinstance(document, dict) and ("event" in document or "seq" in document):
        return {"label": name}, _rows([document], name, lines=True)
    raise ImportRefused(
        f"{name}: expected a {FORMAT} export, JSON Lines of event rows, or a JSON "
        "array of realtime events"
    )


def _loads(text: str) -> Any:
    try:
        return loads(text, MAX_FILE_DEPTH)
    except ValueError as exc:
        raise ImportRefused(f"not valid JSON: {exc}") from None


def _json_lines(text: str) -> Iterator[Any]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield _loads(line)
            except ImportRefused as exc:
                raise ImportRefused(f"line {number}: {exc}") from None


def _bare_events(events: list, name: str) -> Iterator[dict[str, Any]]:
    for index, event in enumerate(events):
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise ImportRefused(
                f"{name}: item {index} is not a realtime event (an object with a type)"
            )
        direction = "client" if event["type"] in CLIENT_TYPES else "server"
        yield {"seq": index + 1, "dir": direction, "t": None, "event": event}


def _rows(items: Iterable[Any], name: str, lines: bool = False) -> list[EventRow]:
    rows, seen = [], set()
    for index, item in enumerate(items):
        where = f"{name}: {'line' if lines else 'event'} {index + 1}"
        if len(rows) >= MAX_EVENTS:
            raise ImportRefused(f"{name}: more than {MAX_EVENTS} events")
        seq, direction, t, event = _checked_row(item, where)
        if seq in seen:
            raise ImportRefused(f"{where}: seq {seq} appears twice")
        seen.add(seq)
        parsed = parse_event(seq, direction, t, event)
        rows.append(EventRow.of(parsed))
    if not rows:
        raise ImportRefused(f"{name} holds no events")
    return sorted(rows, key=lambda row: row.seq)


def _checked_row(item: Any, where: str) -> tuple[int, str, float | None, str | dict]:
    if not isinstance(item, dict) or "event" not in item:
        raise ImportRefused(f'{where}: expected {{"seq", "dir", "t", "event"}}')
    seq, direction, t, event = item.get("seq"), item.get("dir"), item.get("t"), item["event"]
    problem = row_problem(seq, direction, t)
    if problem:
        raise ImportRefused(f"{where}: {problem}")
    if nested_deeper(event, MAX_DEPTH):
        raise ImportRefused(f"{where}: the event is nested deeper than {MAX_DEPTH} levels")
    if isinstance(event, dict):
        text = storable(dumps(event))
    elif isinstance(event, str):
        text = storable(event)
    else:
        raise ImportRefused(f"{where}: event must be an object or the data-channel text")
    if len(text.encode()) > MAX_EVENT_BYTES:
        raise ImportRefused(f"{where}: the event is over {MAX_EVENT_BYTES} bytes")
    # An object is stored as its compact text, so export -> import -> export is stable.
    return seq, direction, (float(t) if t is not None else None), text


def _session_fields(session: Mapping[str, Any], name: str) -> dict[str, Any]:
    fields = {k: session[k] for k in SESSION_IMPORT_FIELDS if session.get(k) is not None}
    for key, value in fields.items():
        if key in ("created_at", "ended_at"):
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not (0 <= value <= MAX_MS / 1000)
            ):
                raise ImportRefused(
                    f"{name}: session.{key} must be seconds since the epoch (got {value!r})"
                )
        elif not isinstance(value, str):
            raise ImportRefused(f"{name}: session.{key} must be text (got {value!r})")
    fields = {k: storable(v) if isinstance(v, str) else v for k, v in fields.items()}
    fields.setdefault("label", name)
    fields.setdefault("created_at", time.time())
    return fields
