"""An upload read a piece at a time: the JSON values, lines and arrays of a file too large to
hold, refused (ImportRefused) at the first thing wrong or over a limit."""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from typing import Any, BinaryIO, NoReturn

from ..protocol.codec import MAX_DEPTH, decode_at, loads

MAX_FILE_BYTES = 64 * 1024 * 1024

MAX_EVENT_BYTES = 1024 * 1024
# A whole file may nest further than one event (document, events, row), so that an event too
# deep is refused by name; past this the parser itself stops.
MAX_FILE_DEPTH = 2 * MAX_DEPTH
READ_BYTES = 1024 * 1024  # read from an upload at a time
# The longest value (an event row, a line) read whole. An acked event came in a frame of at
# most a megabyte, and its export escapes it as the frame did: twice the stored size covers it.
MAX_ITEM_CHARS = 2 * MAX_EVENT_BYTES + 64 * 1024
_NOT_SPACE = re.compile(r"[^ \t\n\r]")  # what JSON's whitespace is not


class ImportRefused(ValueError):
    """A file we will not import, with what is wrong and where."""


class Reader:
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
            found = _NOT_SPACE.search(self.text, self.pos)
            self.pos = found.start() if found else len(self.text)
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
                self._refuse_decode(exc, 0, not self.done, MAX_ITEM_CHARS)
            if end == len(self.text) and self.grow():
                continue  # a number at the window's end may go on in what was just read
            if end - self.pos > MAX_ITEM_CHARS:
                self.refuse(f"a value over {MAX_ITEM_CHARS} characters")
            self.pos = end
            return value

    def short_value(self, limit: int, what: str) -> Any:
        """The JSON value that comes next, refused (naming `what`) when its text is over limit
        characters. It is parsed from no more than limit + 1 characters, so a longer one is
        refused having built only what fits in them, whatever it holds."""
        self.peek()
        while len(self.text) - self.pos <= limit and self.more():
            pass  # the window holds the whole value, or enough to know it is too long
        piece = self.text[self.pos : self.pos + limit + 1]
        try:
            value, end = decode_at(piece, 0)
        except (ValueError, RecursionError) as exc:
            self._refuse_decode(exc, self.pos, len(piece) > limit, limit, what)
        if end > limit:
            self.refuse(f"{what} is over {limit} characters")
        self.pos += end
        return value

    def _refuse_decode(
        self, exc: Exception, start: int, cut: bool, limit: int, what: str = "a value"
    ) -> NoReturn:
        """Refuse the file for a value that did not parse from window[start:]; `cut` when the
        text given to the parser stopped before the file did, so the value may be too long."""
        if isinstance(exc, RecursionError):
            self.refuse(f"nested deeper than {MAX_DEPTH} levels")
        if not isinstance(exc, json.JSONDecodeError):
            self.refuse(str(exc))  # NaN, a number too large, too many digits
        # Cut off where the parser's text ends (or inside a string that has no end in it):
        # the value is longer than what was given, not wrong.
        if cut and (exc.pos >= len(exc.doc) - 1 or exc.msg.startswith("Unterminated string")):
            self.refuse(f"{what} is over {limit} characters", start + exc.pos)
        self.refuse(exc.msg, start + exc.pos)

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
            row = loads(line, MAX_FILE_DEPTH) if line is not None else None
        except (ImportRefused, ValueError):
            row = None
        if isinstance(row, dict) and "format" not in row and ("event" in row or "seq" in row):
            return row
        self.pos = start
        return None
