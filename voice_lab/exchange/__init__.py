"""Export and import of event logs: Voice Lab's versioned JSON, JSON Lines, bare event arrays.

Export streams; import parses and checks everything before one transaction writes anything.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, BinaryIO, NoReturn

from ..protocol.codec import MAX_DEPTH, decode_at, dumps, loads, nested_deeper, storable
from ..protocol.record import MAX_MS, parse_event, row_problem
from ..protocol.redaction import KNOWN_SECRETS
from ..storage.rows import SESSION_FIELDS, EventRow, ExportRow

FORMAT = "voice-lab.session"
VERSION = 1
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_EVENTS = 500_000
MAX_EVENT_BYTES = 1024 * 1024
# A whole file may nest further than one event (document, events, row), so that an event too
# deep is refused by name; past this the parser itself stops.
MAX_FILE_DEPTH = 2 * MAX_DEPTH
READ_BYTES = 1024 * 1024  # read from an upload at a time
# The longest value (an event row, a line) read whole. An acked event came in a frame of at
# most a megabyte, and its export escapes it as the frame did: twice the stored size covers it.
MAX_ITEM_CHARS = 2 * MAX_EVENT_BYTES + 64 * 1024
_SPACE = re.compile(r"[ \t\n\r]*")  # JSON's whitespace, and nothing else
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


def parse_import(
    source: bytes | BinaryIO, name: str = "upload"
) -> tuple[dict[str, Any], list[EventRow]]:
    """Session fields and event rows from an uploaded file (its bytes, or a binary file read a
    piece at a time), or ImportRefused saying why. Events are parsed one at a time and made
    rows, so memory follows the rows kept, and a file is refused as soon as it holds more than
    MAX_EVENTS."""
    reader = _Reader(io.BytesIO(source) if isinstance(source, bytes) else source, name)
    first = reader.peek()
    if not first:
        raise ImportRefused(f"{name} is empty: export a session or save a JSON array of events")
    if first == "[":
        return {"label": name}, _rows(_bare_events(reader.array(last=True), name), name)
    row = reader.first_row()
    if row is not None:
        return {"label": name}, _rows(_json_lines(reader, row), name, lines=True)
    return _document(reader, name)


class _Reader:
    """An upload's text read a piece at a time: values are parsed from a window that holds the
    one being read and what follows it, never the whole file."""

    def __init__(self, file: BinaryIO, name: str):
        self.file, self.name = file, name
        self.decoder = codecs.getincrementaldecoder("utf-8")()
        self.text, self.pos = "", 0
        self.dropped = 0  # characters before the window, for positions in messages
        self.bytes_read, self.done = 0, False

    def more(self, size: int = 0) -> bool:
        """Append the next piece of the file (size bytes, else READ_BYTES) to the window,
        dropping what is before pos; False once the file has ended."""
        if self.done:
            return False
        data = self.file.read(size or READ_BYTES)
        start, pending = self.bytes_read, len(self.decoder.getstate()[0])
        self.bytes_read += len(data)
        if self.bytes_read > MAX_FILE_BYTES:
            raise ImportRefused(
                f"{self.name} is over {MAX_FILE_BYTES} bytes, and the limit is {MAX_FILE_BYTES}: "
                "import a shorter log"
            )
        try:
            text = self.decoder.decode(data, final=not data)
        except UnicodeDecodeError as exc:
            where = start - pending + exc.start
            raise ImportRefused(
                f"{self.name} is not UTF-8 text ({exc.reason} at byte {where})"
            ) from None
        if not start and text.startswith("\ufeff"):
            text = text[1:]  # the byte order mark some editors write
        self.dropped += self.pos
        self.text, self.pos, self.done = self.text[self.pos :] + text, 0, not data
        return True

    def grow(self) -> bool:
        """Read on for a value that may go past the window, doubling what is held; False once
        the window holds MAX_ITEM_CHARS from pos, or the file has ended."""
        held = len(self.text) - self.pos
        return held <= MAX_ITEM_CHARS and self.more(max(READ_BYTES, held))

    def peek(self) -> str:
        """The next character that is not JSON whitespace, or "" at the end of the file."""
        while True:
            self.pos = _SPACE.match(self.text, self.pos).end()
            if self.pos < len(self.text) or not self.more():
                return self.text[self.pos : self.pos + 1]

    def take(self, char: str) -> bool:
        """Step over char if it comes next."""
        if self.peek() == char:
            self.pos += 1
            return True
        return False

    def expect(self, char: str, where: str) -> None:
        """Step over char, or refuse the file saying what was expected."""
        if not self.take(char):
            self.refuse(f"expected {char!r} {where}")

    def refuse(self, problem: str, pos: int | None = None) -> NoReturn:
        """Refuse the file as not valid JSON, at a character of it."""
        where = self.dropped + (self.pos if pos is None else pos)
        raise ImportRefused(f"{self.name}: not valid JSON: {problem} at character {where}")

    def value(self) -> Any:
        """The JSON value that comes next, parsed as strictly as codec.loads."""
        self.peek()
        while True:
            try:
                value, end = decode_at(self.text, self.pos)
            except (ValueError, RecursionError) as exc:
                if self.grow():  # cut off by the window, perhaps: parse it again with more
                    continue
                if isinstance(exc, RecursionError):
                    self.refuse(f"nested deeper than {MAX_DEPTH} levels")
                if not isinstance(exc, json.JSONDecodeError):
                    self.refuse(str(exc))  # NaN, a number too large, too many digits
                if self.done:
                    self.refuse(exc.msg, exc.pos)
                self.refuse(f"{exc.msg}, or a value over {MAX_ITEM_CHARS} characters", exc.pos)
            if end == len(self.text) and self.grow():
                continue  # a number at the window's end may go on in what was just read
            if end - self.pos > MAX_ITEM_CHARS:
                self.refuse(f"a value over {MAX_ITEM_CHARS} characters")
            self.pos = end
            return value

    def array(self, last: bool = False) -> Iterator[Any]:
        """The items of the JSON array that comes next, parsed as they are asked for; `last`
        when the file must end with it."""
        self.expect("[", "to start an array")
        if not self.take("]"):
            while True:
                yield self.value()
                if self.take("]"):
                    break
                self.expect(",", "between the items of an array")
        if last:
            self.end()

    def end(self) -> None:
        """Refuse anything but whitespace after the document."""
        if self.peek():
            self.refuse("more text after the document")

    def line(self) -> str | None:
        """The next line, None at the end of the file. JSON Lines end at \n (or \r\n): U+2028
        and the like are text, so str.splitlines would cut lines that are valid JSON."""
        end = self.text.find("\n", self.pos)
        while end < 0 and len(self.text) - self.pos <= MAX_ITEM_CHARS and self.grow():
            end = self.text.find("\n", self.pos)
        if end < 0:
            if not self.done:
                raise ImportRefused(f"{self.name}: a line is over {MAX_ITEM_CHARS} characters")
            if self.pos == len(self.text):
                return None
            line, self.pos = self.text[self.pos :], len(self.text)  # no \n after it
        else:
            line, self.pos = self.text[self.pos : end], end + 1
        return line[:-1] if line.endswith("\r") else line

    def first_row(self) -> dict[str, Any] | None:
        """The first line's event row when the file is JSON Lines of them, else None with
        nothing read past (the window still holds the line: more() drops only before pos)."""
        start = self.pos
        try:
            line = self.line()
            row = loads(line, MAX_FILE_DEPTH)
        except (ImportRefused, ValueError):
            row = None
        if isinstance(row, dict) and "format" not in row and ("event" in row or "seq" in row):
            return row
        self.pos = start
        return None


def _document(reader: _Reader, name: str) -> tuple[dict[str, Any], list[EventRow]]:
    """A file of one JSON object: a Voice Lab export, its events made rows as they are read, or
    a single event row."""
    document: dict[str, Any] = {}
    rows: list[EventRow] | None = None
    reader.expect("{", "to start the document")
    while not reader.take("}"):
        if document:
            reader.expect(",", "between the fields of the document")
        key = reader.value()
        if not isinstance(key, str):
            reader.refuse("expected a field name in quotes")
        reader.expect(":", "after a field name")
        if key == "events" and reader.peek() == "[" and document.get("format", FORMAT) == FORMAT:
            if "version" in document:
                _check_version(document, name)
            rows = _rows(reader.array(), name)
            document[key] = []
        else:
            document[key] = reader.value()
    reader.end()
    if document.get("format") == FORMAT:
        _check_version(document, name)
        if not isinstance(document.get("events"), list):
            raise ImportRefused(f'{name}: "events" must be a list')
        session = document.get("session") if isinstance(document.get("session"), dict) else {}
        return _session_fields(session, name), rows or _rows(document["events"], name)
    if "event" in document or "seq" in document:
        return {"label": name}, _rows([document], name, lines=True)
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


def _json_lines(reader: _Reader, first: dict[str, Any]) -> Iterator[Any]:
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
