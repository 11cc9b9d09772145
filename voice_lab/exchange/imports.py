"""Import of event logs: Voice Lab's versioned JSON, JSON Lines of event rows, bare arrays of
realtime events. Everything is parsed and checked before one transaction writes anything."""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, BinaryIO, cast

from ..protocol.codec import MAX_DEPTH, clip, dumps, loads, nested_deeper, storable
from ..protocol.record import MAX_MS, parse_event, row_problem
from ..protocol.redaction import field_text
from ..storage.rows import EventRow
from .export import FORMAT, SESSION_EXPORT_FIELDS, VERSION
from .reader import MAX_EVENT_BYTES, MAX_FILE_DEPTH, ImportRefused, Reader

MAX_EVENTS = 500_000
# A document's fields besides its events: a session is a few hundred characters (each of its
# texts is cut to 200), so a value past this is no export's. Others are parsed and dropped
# rather than skipped unparsed, so a file is JSON throughout, and this bound is what keeps
# dropping cheap: a skip that built nothing would walk a large value in Python a token at a
# time, for a field nobody reads.
MAX_FIELD_CHARS = 16 * 1024
DOCUMENT_FIELDS = frozenset({"format", "version", "exported_at", "session", "seq", "dir", "t"})

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


def parse_import(
    source: bytes | BinaryIO, name: str = "upload"
) -> tuple[dict[str, Any], list[EventRow]]:
    """Session fields and event rows from an uploaded file (its bytes, or a binary file read a
    piece at a time), or ImportRefused saying why. Events are parsed one at a time and made
    rows, so memory follows the rows kept, and a file is refused as soon as it holds more than
    MAX_EVENTS."""
    reader = Reader(io.BytesIO(source) if isinstance(source, bytes) else source, name)
    first = reader.peek()
    if not first:
        raise ImportRefused(f"{name} is empty: export a session or save a JSON array of events")
    if first == "[":
        return _session_fields({}, name), _rows(_bare_events(reader.array(last=True), name), name)
    row = reader.first_row()
    if row is not None:
        return _session_fields({}, name), _rows(_json_lines(reader, row), name, lines=True)
    return _document(reader, name)


def _document(reader: Reader, name: str) -> tuple[dict[str, Any], list[EventRow]]:
    """A file of one JSON object: a Voice Lab export, its events made rows as they are read, or
    a single event row. Only the fields either uses are kept; each but an event is parsed from
    at most MAX_FIELD_CHARS, so what a file can make the server hold is the rows it keeps."""
    document: dict[str, Any] = {}
    rows: list[EventRow] | None = None
    reader.expect("{", "to start the document")
    first = True
    while not reader.take("}"):
        if not first:
            reader.expect(",", "between the fields of the document")
        first = False
        key = reader.short_value(MAX_FIELD_CHARS, "a field name")
        if not isinstance(key, str):
            reader.refuse("expected a field name in quotes")
        reader.expect(":", "after a field name")
        if key == "events" and reader.peek() == "[" and document.get("format", FORMAT) == FORMAT:
            if rows is not None:
                reader.refuse('"events" appears twice')
            if "version" in document:
                _check_version(document, name)
            rows = _rows(reader.array(), name)
            document[key] = []
        elif key == "tool_calls" and reader.peek() == "[":
            for _ in reader.array():  # figures of the export, made again from the events
                pass
        elif key == "event":  # a single event row: the event is as long as one in a file
            document[key] = reader.value()
        else:
            value = reader.short_value(MAX_FIELD_CHARS, f'the field "{clip(key, 40)}"')
            if key in DOCUMENT_FIELDS:
                document[key] = value
    reader.end()
    if document.get("format") == FORMAT:
        _check_version(document, name)
        if not isinstance(document.get("events"), list):
            raise ImportRefused(f'{name}: "events" must be a list')
        session = document.get("session")
        fields = _session_fields(session if isinstance(session, dict) else {}, name)
        return fields, rows or _rows(document["events"], name)
    if "event" in document or "seq" in document:
        return _session_fields({}, name), _rows([document], name, lines=True)
    raise ImportRefused(
        f"{name}: expected a {FORMAT} export, JSON Lines of event rows, or a JSON "
        "array of realtime events"
    )


def _check_version(document: Mapping[str, Any], name: str) -> None:
    if document.get("version") != VERSION:
        raise ImportRefused(
            f"{name}: version {document.get('version')!r} of {FORMAT} is not "
            f"supported (this Voice Lab reads version {VERSION})"
        )


def _json_lines(reader: Reader, first: dict[str, Any]) -> Iterator[Any]:
    yield first
    number = 1
    while (line := reader.line()) is not None:
        number += 1
        if line.strip(" \t"):
            try:
                yield loads(line, MAX_FILE_DEPTH)
            except ValueError as exc:
                raise ImportRefused(f"line {number}: not valid JSON: {exc}") from None


def _bare_events(events: Iterable[Any], name: str) -> Iterator[dict[str, Any]]:
    for index, event in enumerate(events):
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise ImportRefused(
                f"{name}: item {index} is not a realtime event (an object with a type)"
            )
        direction = "client" if event["type"] in CLIENT_TYPES else "server"
        yield {"seq": index + 1, "dir": direction, "t": None, "event": event}


def _rows(items: Iterable[Any], name: str, lines: bool = False) -> list[EventRow]:
    rows: list[EventRow] = []
    seen: set[int] = set()
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
    return cast(int, seq), cast(str, direction), (float(t) if t is not None else None), text


def _session_fields(session: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The session fields an import keeps: the known ones, times checked, texts redacted and
    cut as the mirror's are; the label is the file's name when the file gives none."""
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
    fields.setdefault("label", name)
    fields = {k: field_text(v) if isinstance(v, str) else v for k, v in fields.items()}
    fields.setdefault("created_at", time.time())
    return fields
