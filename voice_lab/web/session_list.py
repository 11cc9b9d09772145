"""What the sessions list's URL carries: the search, the sort and the filters, each checked, and
the URLs that keep them (the sort headers, the live polling)."""

from __future__ import annotations

import math

from flask import abort
from werkzeug.datastructures import MultiDict

from ..storage.listing import SORTS, SessionQuery

DIRECTIONS = {"desc": True, "asc": False}
SWITCHES = {"": False, "0": False, "1": True, "on": True}  # a checkbox's value, or none
# The number filters: URL name -> what its value counts, for the error that names the fix.
NUMBERS = {"p95_over": "milliseconds, like 1200", "cost_over": "dollars, like 0.05"}
MAX_NUMBER = 1e12  # past it no session has the figure: refused as a typo, not a filter


def query_from(args: MultiDict) -> SessionQuery:
    """The list's query from the URL's arguments; a 400 that names the argument to fix for a
    value it cannot take (never a 500)."""
    sort = args.get("sort", "") or "started"
    direction = args.get("dir", "") or "desc"
    if sort not in SORTS:
        abort(400, description=f"sort must be one of {', '.join(SORTS)} (got {sort[:40]!r})")
    if direction not in DIRECTIONS:
        abort(400, description=f"dir must be desc or asc (got {direction[:40]!r})")
    return SessionQuery(
        search=args.get("q", "").strip()[:200],
        sort=sort,
        descending=DIRECTIONS[direction],
        failed=_switch(args, "failed"),
        interrupted=_switch(args, "interrupted"),
        p95_over=_number(args, "p95_over"),
        cost_over=_number(args, "cost_over"),
    )


def _switch(args: MultiDict, name: str) -> bool:
    value = args.get(name, "")
    if value not in SWITCHES:
        abort(400, description=f"{name} must be 1 (only those) or left out (got {value[:40]!r})")
    return SWITCHES[value]


def _number(args: MultiDict, name: str) -> float | None:
    text = args.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text[:40])
    except ValueError:
        value = math.nan
    if not 0 <= value <= MAX_NUMBER:  # nan, inf and negatives fail this too
        abort(
            400, description=f"{name} must be a number >= 0 of {NUMBERS[name]} (got {text[:40]!r})"
        )
    return value


def params(query: SessionQuery, **changes: str) -> dict[str, str]:
    """The URL arguments that reproduce `query` (defaults left out), with `changes` applied."""
    found = {
        "q": query.search,
        "sort": "" if query.sort == "started" else query.sort,
        "dir": "" if query.descending else "asc",
        "failed": "1" if query.failed else "",
        "interrupted": "1" if query.interrupted else "",
        "p95_over": _text(query.p95_over),
        "cost_over": _text(query.cost_over),
        **changes,
    }
    return {name: value for name, value in found.items() if value}


def sort_params(query: SessionQuery, column: str) -> dict[str, str]:
    """The URL arguments of a column's header: its worst (highest) first, or lowest first when
    it is sorted so already."""
    ascending = query.sort == column and query.descending
    return params(query, sort=column, dir="asc" if ascending else "")


def _text(value: float | None) -> str:
    """A number filter as the URL writes it: 1200 rather than 1200.0."""
    if value is None:
        return ""
    return str(int(value)) if value.is_integer() else repr(value)
