"""The lists a session's panels show, as the fold (aggregates.py) keeps them: transcript lines,
config changes, errors, and the charts (rate limits, WebRTC stats) thinned as points arrive.

`PanelLists` is the part of `Aggregates` that keeps them: its state lives on the fold and is
saved with it. Each list keeps only its latest entries (LATEST_* below), and what is known of
the items behind the lines is capped, so the state stays bounded whatever a client sends.
"""

from __future__ import annotations

from typing import Any

from ..protocol.names import dig
from ..protocol.record import Event
from .metrics import STATS_FIELDS, RateLimit, StatsPoint, number, rate_limit_points
from .review import ConfigChange, ErrorInfo, FieldChange, config_step, error_info, pinned
from .timeline import Line, item_text, line_role, time_of

# What the panels list: the latest lines and config changes, the first errors.
LATEST_LINES, LATEST_CHANGES, FIRST_ERRORS = 200, 30, 200
# Past these the state stops growing: client event ids an error may name, rate limit names,
# items remembered as having a line.
MAX_CLIENT_IDS, MAX_RATE_LIMITS, MAX_LINE_ITEMS = 1000, 8, 10 * 200
MAX_SEQS = 100  # error seqs and stopped items kept for the checks (errors are all counted)
CHART_POINTS = 400  # a chart keeps between half this and this many points, and the last


class PanelLists:
    """The transcript, config changes, errors and charts of the fold (mixed into Aggregates)."""

    t0: float | None  # Aggregates': browser time of the first event

    def __init__(self) -> None:
        # charts: rate limit name -> thinned points; voicelab.stats samples thinned, and each
        # figure's low, high and last over all of them
        self.rate_limits: dict[str, dict[str, Any]] = {}
        self.stats = _series()
        self.stats_range: dict[str, list[float]] = {}
        # errors, and the client events they may echo
        self.errors: list[list] = []  # the first pinned ones (errors and cancelled responses)
        self.pinned_count = 0
        self.error_count = 0  # error-category events
        self.error_seqs: list[int] = []
        self.client_seqs: dict[str, int] = {}
        # session config
        self.config: dict = {}
        self.changes: list[list] = []
        self.change_count = 0
        # transcript: the latest lines as [role, item id, seq]; what is known of items whose
        # line is shown or not made yet (older lines' items are only remembered as seen)
        self.lines: list[list] = []
        self.line_count = 0
        self.line_items: dict[str, None] = {}  # the latest MAX_LINE_ITEMS, oldest first
        self.item_response: dict[str, str] = {}
        self.user_items: set[str] = set()
        self.final: dict[str, str] = {}
        self.partial: dict[str, list[str]] = {}
        self.failed: set[str] = set()
        self._shown: set[str] = set()  # the items of self.lines (not saved: rebuilt on load)

    # ------------------------------------------------------------ folding

    def _charts(self, event: Event, name: str) -> None:
        t0 = time_of(event) if self.t0 is None else self.t0  # set by feed before any chart is drawn
        if name == "rate_limits.updated":
            for point in rate_limit_points(event, t0):
                key = point.name or "?"
                if key in self.rate_limits or len(self.rate_limits) < MAX_RATE_LIMITS:
                    _sample(self.rate_limits.setdefault(key, _series()), slot_values(point))
        elif event.type == "voicelab.stats":
            values = [number(event.data, field) for field in STATS_FIELDS]
            t = time_of(event)
            _sample(self.stats, [event.seq, t, t - t0, *values])
            for field, value in zip(STATS_FIELDS, values, strict=True):
                if value is not None:
                    low, high, _ = self.stats_range.get(field, (value, value, value))
                    self.stats_range[field] = [min(low, value), max(high, value), value]

    def _errors(self, event: Event) -> None:
        event_id = dig(event.data, "event_id")
        if (
            event.direction == "client"
            and isinstance(event_id, str)
            and len(self.errors) < FIRST_ERRORS
        ):
            self.client_seqs[event_id] = event.seq  # the latest, for the errors still listed
            if len(self.client_seqs) > MAX_CLIENT_IDS:
                del self.client_seqs[next(iter(self.client_seqs))]
        if event.category == "error":
            self.error_count += 1
            if len(self.error_seqs) < MAX_SEQS:
                self.error_seqs.append(event.seq)
        if not pinned(event):
            return
        if len(self.errors) < FIRST_ERRORS:
            self.errors.append(slot_values(error_info(event, self.client_seqs)))
        self.pinned_count += 1

    def _config(self, event: Event, name: str) -> None:
        self.config, change = config_step(self.config, event, name)
        if change is not None:
            diff = [slot_values(field) for field in change.changes]
            saved = [change.seq, change.direction, change.type, diff]
            self.changes = [*self.changes, saved][-LATEST_CHANGES:]
            self.change_count += 1

    def _forgotten(self, iid: str) -> bool:
        """Whether an item's line is older than the lines shown (so nothing about it matters)."""
        return iid in self.line_items and iid not in self._shown

    def _texts(self, event: Event, iid: str, name: str) -> None:
        found = item_text(event, name)
        if found is None:
            return
        kind, text = found
        if kind == "final":
            self.final[iid] = self.final.get(iid, "") + text
            self.partial.pop(iid, None)  # a final text wins over the deltas
        elif kind == "partial":
            if iid not in self.final:
                self.partial.setdefault(iid, []).append(text)
        elif kind == "failed":
            self.failed.add(iid)
        else:
            self.final.setdefault(iid, text)

    def _line(self, event: Event, iid: str) -> None:
        role = line_role(event, self.user_items)
        if role is None:
            return
        self.line_items[iid] = None
        if len(self.line_items) > MAX_LINE_ITEMS:
            del self.line_items[next(iter(self.line_items))]
        self._shown.add(iid)
        self.lines.append([role, iid, event.seq])
        self.line_count += 1
        if len(self.lines) > LATEST_LINES:
            _, old, _ = self.lines.pop(0)
            self._forget_item(old)

    def _forget_item(self, iid: str) -> None:
        """A line no longer shown: drop what was kept to write it."""
        self._shown.discard(iid)
        for texts in (self.item_response, self.final, self.partial):
            texts.pop(iid, None)
        self.user_items.discard(iid)
        self.failed.discard(iid)
        # Items that never got a line (function calls, hostile ids) are let go here too.
        if len(self.item_response) + len(self.final) + len(self.partial) > MAX_LINE_ITEMS:
            for texts in (self.item_response, self.final, self.partial):
                for item in [i for i in texts if i not in self._shown][: len(texts) // 2]:
                    del texts[item]
        for known in (self.user_items, self.failed):
            if len(known) > MAX_LINE_ITEMS:
                known &= self._shown

    # ------------------------------------------------------------ reading

    def transcript(self) -> list[Line]:
        """The latest lines of timeline.transcript."""
        lines = []
        for role, iid, seq in self.lines:
            if iid in self.final:
                text, status = self.final[iid], "final"
            elif iid in self.partial:
                text, status = "".join(self.partial[iid]), "partial"
            else:
                text, status = "", "failed" if iid in self.failed else "none"
            lines.append(Line(role, iid, self.item_response.get(iid), seq, text, status))
        return lines

    def rate_limit_points(self) -> list[RateLimit]:
        """Each rate limit's thinned points, one name after the other."""
        return [RateLimit(*p) for series in self.rate_limits.values() for p in _points(series)]

    def stats_points(self) -> list[StatsPoint]:
        """The thinned voicelab.stats samples."""
        return [StatsPoint(*point) for point in _points(self.stats)]

    def error_infos(self) -> list[ErrorInfo]:
        """The first pinned errors."""
        return [ErrorInfo(*error) for error in self.errors]

    def config_changes(self) -> list[ConfigChange]:
        """The latest config changes."""
        return [
            ConfigChange(seq, dir_, type_, tuple(FieldChange(*c) for c in diff))
            for seq, dir_, type_, diff in self.changes
        ]


def slot_values(figures: Any) -> list:
    """A slotted dataclass's values in field order (dataclasses.astuple copies each value
    deeply: several times slower, and these hold only numbers and text)."""
    return [getattr(figures, name) for name in figures.__slots__]


def _series() -> dict[str, Any]:
    """A chart's points as they arrive, thinned: every `step`-th one is kept, and the last."""
    return {"step": 1, "count": 0, "kept": [], "last": None}


def _sample(series: dict[str, Any], point: list) -> None:
    if series["count"] % series["step"] == 0:
        series["kept"].append(point)
    series["count"] += 1
    series["last"] = point
    if len(series["kept"]) > CHART_POINTS:
        series["step"] *= 2
        series["kept"] = series["kept"][::2]


def _points(series: dict[str, Any]) -> list[list]:
    """A thinned series' points, its last one included."""
    kept, last = series["kept"], series["last"]
    return kept if not kept or kept[-1] is last or kept[-1] == last else [*kept, last]
