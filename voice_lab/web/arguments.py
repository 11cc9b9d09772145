"""What a session page's URLs carry: seqs, in paths and in queries, and the timeline's filters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload
from urllib.parse import urlencode

from flask import abort, request, url_for
from flask.blueprints import BlueprintSetupState
from werkzeug.datastructures import MultiDict
from werkzeug.routing import BaseConverter, ValidationError

from ..protocol.names import CATEGORIES, DIRECTIONS
from ..storage.query import EventQuery

MAX_SEQ = 2**63 - 1  # SQLite's largest integer: a seq past it is no event's


def parse_seq(text: str) -> int:
    """A seq in a URL: digits, at most MAX_SEQ; ValueError otherwise."""
    digits = text.isascii() and text.isdigit() and len(text) <= len(str(MAX_SEQ))
    if not digits or int(text) > MAX_SEQ:  # the length first: int() of a huge text is slow
        raise ValueError(f"a seq is a number from 0 to {MAX_SEQ} (got {text[:40]!r})")
    return int(text)


class SeqConverter(BaseConverter):
    """`<seq:name>` in a route: a seq the store can look up; anything else is a 404."""

    regex = r"\d+"

    def to_python(self, value: str) -> int:
        """The seq, or no match."""
        try:
            return parse_seq(value)
        except ValueError:
            raise ValidationError() from None

    def to_url(self, value: int) -> str:
        """The seq as digits."""
        return str(value)


def add_converter(state: BlueprintSetupState) -> None:
    """Register `<seq:...>` on the app (a blueprint's record_once, before its routes)."""
    state.app.url_map.converters["seq"] = SeqConverter


@overload
def seq_arg(name: str, default: int) -> int: ...
@overload
def seq_arg(name: str, default: None) -> int | None: ...
def seq_arg(name: str, default: int | None) -> int | None:
    """A seq query argument, `default` when absent; a 400 naming it when out of range."""
    text = request.args.get(name)
    if text is None:
        return default
    try:
        return parse_seq(text)
    except ValueError as exc:
        abort(400, description=f"{name}: {exc}")


@dataclass(frozen=True)
class Filters:
    """The timeline's filters, as they appear in the URL."""

    categories: tuple[str, ...] = ()
    directions: tuple[str, ...] = ()
    type: str = ""
    text: str = ""
    view: str = "grouped"

    @classmethod
    def from_args(cls, args: MultiDict) -> Filters:
        """Filters from query arguments; unknown values are dropped, not errors."""
        return cls(
            categories=tuple(c for c in args.getlist("cat") if c in CATEGORIES),
            directions=tuple(d for d in args.getlist("dir") if d in DIRECTIONS),
            type=args.get("type", "").strip()[:200],
            text=args.get("q", "").strip()[:200],
            view="flat" if args.get("view") == "flat" else "grouped",
        )

    def query(self) -> EventQuery:
        """The store query these filters make."""
        return EventQuery(self.categories, self.directions, self.type, self.text)

    def params(self) -> list[tuple[str, str]]:
        """The filters as query arguments (what a link needs to reproduce the view)."""
        pairs = [("cat", c) for c in self.categories] + [("dir", d) for d in self.directions]
        pairs += [(k, v) for k, v in (("type", self.type), ("q", self.text)) if v]
        return pairs + ([("view", "flat")] if self.view == "flat" else [])

    def url(self, endpoint: str, **values) -> str:
        """A URL of `endpoint` carrying these filters."""
        base = url_for(endpoint, **values)
        params = self.params()
        return f"{base}{'&' if '?' in base else '?'}{urlencode(params)}" if params else base
