"""A session's panel figures, kept up to date one event at a time.

The panels summarise a whole session (latency percentiles, token totals, the effective config,
the transcript, protocol checks), so computing them from the events means reading every one:
seconds for a long call. `Aggregates` folds events in seq order into a small state instead. The
mirror folds what it stores and saves the state with the session now and then; the panels load it
and fold only the events stored since. The state is plain JSON, so it survives restarts. A state
of another VERSION, or one that no longer counts every event up to its last seq (a gap was filled
after it), is folded again from the stored events.

The batch functions of metrics.py, review.py and timeline.py stay the reference: for a session in
seq order the fold gives what they give (tests/test_aggregates.py). Its state stays bounded
whatever a client sends: the latest lists the panels show, the last 64 responses' times, sorted
latency figures, charts thinned as points arrive, and capped maps (MAX_* below) past which only
what no panel shows any more is let go.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Sequence
from typing import Any

from ..protocol.codec import storable
from ..protocol.names import dig
from ..protocol.record import Event
from . import tools
from .metrics import (
    ANCHORS,
    LATENCY_FIGURES,
    RESPONSE_TIMES,
    STATS_FIELDS,
    Latency,
    RateLimit,
    Stat,
    StatsPoint,
    Usage,
    latency_of,
    number,
    percentile,
    rate_limit_points,
    usage_of,
)
from .review import (
    Check,
    ConfigChange,
    ErrorInfo,
    FieldChange,
    check_list,
    config_step,
    error_info,
    pinned,
)
from .timeline import (
    TEXT_DELTAS,
    Line,
    commits_user_item,
    ga_name,
    item_text,
    line_role,
    note_owner,
    started_response,
    time_of,
)

VERSION = 2  # 2: function calls (tools.py)
# The state keeps these records as lists of their fields, in this order: a saved state whose
# order differs (a field added, moved or renamed since) is folded again rather than misread.
LAYOUT = {
    cls.__name__: list(cls.__slots__)
    for cls in (ErrorInfo, FieldChange, Usage, RateLimit, StatsPoint)
}
# What the panels list: the latest responses, lines and config changes, the first errors.
LATEST_RESPONSES, LATEST_LINES, LATEST_CHANGES, FIRST_ERRORS = 30, 200, 30, 200
LIVE_RESPONSES = 64  # responses whose events may still come (a late one for an older is lost)
# Past these the state stops growing: client event ids an error may name, rate limit names,
# unfinished responses and speech kept by a failed check, items remembered as having a line.
MAX_CLIENT_IDS, MAX_RATE_LIMITS, MAX_OPEN, MAX_LINE_ITEMS = 1000, 8, 100, 10 * 200
CHART_POINTS = 400  # a chart keeps between half this and this many points, and the last
MAX_SEQS = 100  # error seqs and stopped items kept for the checks (errors are all counted)

# The names each part of the fold reads (besides conversation.item.* for turns).
_TURN_NAMES = frozenset(
    {n for n, _ in ANCHORS} | {"response.created", "input_audio_buffer.committed"}
)
_CONFIG_NAMES = frozenset({"session.created", "session.update", "session.updated"})
_CHECK_NAMES = frozenset(
    {
        "response.created",
        "response.done",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
    }
)
# GA type -> the key of a response's record that keeps its first time (metrics.RESPONSE_TIMES).
_FIRSTS = {name: key for key, name in RESPONSE_TIMES.items() if name != "text"}


class Aggregates:
    """The fold. Feed events in seq order with `feed`; panels.view reads it."""

    def __init__(self) -> None:
        self.upto = 0  # the highest seq folded
        self.folded = 0  # how many events were folded
        self.t0: float | None = None  # browser time of the first event
        # latency: response id -> first times, anchor and turn; the responses in created order.
        # Past the latest LIVE_RESPONSES a response is settled: its figures join the sorted
        # values the percentiles read, and its record goes.
        self.responses: dict[str, dict[str, Any]] = {}
        self.created: list[str] = []
        self.settled: dict[str, list[float]] = {name: [] for name in LATENCY_FIGURES}
        self.anchor: list | None = None  # [GA name, seq, t] of the wait's start
        self.last_user: str | None = None
        # usage
        self.usage_sums = [0] * (len(Usage.__slots__) - 1)
        self.usages_kept: list[list] = []  # the latest, as [response id, *the figures]
        self.usage_count = 0
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
        # checks: responses not done, speech not stopped
        self.open_responses: dict[str, list[int]] = {}
        self.open_speech: dict[str, list[int]] = {}
        self.stopped_items: list[str] = []
        # function calls and their outputs (tools.py's state)
        self.tools: dict[str, Any] = tools.new_state()

    # ------------------------------------------------------------ folding

    def feed(self, event: Event) -> bool:
        """Fold one event; False (and nothing changed) when its seq is not after the last."""
        if event.seq <= self.upto:
            return False
        self.upto = event.seq
        self.folded += 1
        if self.t0 is None:
            self.t0 = time_of(event)
        name, iid, rid = ga_name(event), event.item_id, event.response_id
        if iid and not self._forgotten(iid):
            note_owner(event, self.item_response, self.user_items)
            self._texts(event, iid, name)
        if name in tools.NAMES:  # argument and audio deltas among them
            tools.feed(self.tools, event, name)
        if rid:
            key = "text" if name in TEXT_DELTAS else _FIRSTS.get(name)
            if key is not None:
                self._first(event, rid, key)
        if event.category == "delta":  # most events: only their text and first times count
            return True
        # Each part reads only the events it is about (this runs for every event stored).
        if name in _TURN_NAMES or name.startswith("conversation.item."):
            self._latency(event, name)
        if name == "response.done":
            self._usage(event)
        if name == "rate_limits.updated" or event.type == "voicelab.stats":
            self._charts(event, name)
        if event.direction == "client" or event.category == "error" or name == "response.done":
            self._errors(event)
        if name in _CONFIG_NAMES:
            self._config(event, name)
        if iid and iid not in self.line_items:
            self._line(event, iid)
        if name in _CHECK_NAMES:
            self._checks(event, name)
        return True

    def feed_all(self, events: Iterable[Event]) -> Aggregates:
        """Fold events in seq order (an event at or before the last seq is refused)."""
        for event in events:
            if not self.feed(event):
                raise ValueError(f"event {event.seq} is not after seq {self.upto}")
        return self

    def _first(self, event: Event, rid: str, key: str) -> None:
        if rid not in self.responses and len(self.responses) >= 4 * LIVE_RESPONSES:
            return  # not a response of the latest (those are all here): its times count no more
        record = self.responses.setdefault(rid, {})
        if key not in record:
            record[key] = time_of(event)
            if key == "done":
                record["status"] = dig(event.data, "response", "status")

    def _latency(self, event: Event, name: str) -> None:
        if (name, event.direction) in ANCHORS:
            self.anchor = [name, event.seq, time_of(event)]
        elif name == "response.created" and event.response_id:
            record = self.responses.setdefault(event.response_id, {})
            if "anchor" not in record:
                self.created.append(event.response_id)
                if len(self.created) > LIVE_RESPONSES:
                    self._settle(self.created.pop(0))
            record["anchor"] = self.anchor
            self.anchor = None
        if commits_user_item(event, name):
            self.last_user = event.item_id or self.last_user
        elif (rid := started_response(event, name)) is not None:
            self.responses[rid]["turn"] = self.last_user

    def _settle(self, rid: str) -> None:
        latency = self._latency_of(rid)
        for name, values in self.settled.items():
            if (value := getattr(latency, name)) is not None:
                bisect.insort(values, value)
        del self.responses[rid]

    def _usage(self, event: Event) -> None:
        usage = dig(event.data, "response", "usage")
        if not isinstance(usage, dict):
            return
        figures = _values(usage_of(event.response_id, usage))[1:]
        self.usage_sums = [a + b for a, b in zip(self.usage_sums, figures, strict=True)]
        self.usages_kept = [*self.usages_kept, [event.response_id, *figures]][-LATEST_RESPONSES:]
        self.usage_count += 1

    def _charts(self, event: Event, name: str) -> None:
        t0 = time_of(event) if self.t0 is None else self.t0  # set by feed before any chart is drawn
        if name == "rate_limits.updated":
            for point in rate_limit_points(event, t0):
                key = point.name or "?"
                if key in self.rate_limits or len(self.rate_limits) < MAX_RATE_LIMITS:
                    _sample(self.rate_limits.setdefault(key, _series()), _values(point))
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
            self.errors.append(_values(error_info(event, self.client_seqs)))
        self.pinned_count += 1

    def _config(self, event: Event, name: str) -> None:
        self.config, change = config_step(self.config, event, name)
        if change is not None:
            diff = [_values(field) for field in change.changes]
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

    def _checks(self, event: Event, name: str) -> None:
        if name == "response.created" and event.response_id:
            if "done" not in self.responses.get(event.response_id, {}):
                _open(self.open_responses, event.response_id, event.seq)
        elif name == "response.done" and event.response_id:
            self.open_responses.pop(event.response_id, None)
        elif name == "input_audio_buffer.speech_started":
            item = event.item_id or ""  # a JSON key: no None
            if item not in self.stopped_items:
                _open(self.open_speech, item, event.seq)
        elif name == "input_audio_buffer.speech_stopped":
            item = event.item_id or ""
            self.open_speech.pop(item, None)
            self.stopped_items = [*self.stopped_items, item][-MAX_SEQS:]

    # ------------------------------------------------------------ reading

    def latencies(self) -> list[Latency]:
        """metrics.latencies of the latest LIVE_RESPONSES responses, in created order."""
        return [self._latency_of(rid) for rid in self.created]

    def latency_stats(self) -> list[Stat]:
        """metrics.latency_stats of every response, settled or not."""
        live = self.latencies()
        stats = []
        for name, settled in self.settled.items():
            values = sorted([*settled, *(v for r in live if (v := getattr(r, name)) is not None)])
            stats.append(Stat(name, len(values), percentile(values, 50), percentile(values, 95)))
        return stats

    def _latency_of(self, rid: str) -> Latency:
        record = self.responses[rid]
        return latency_of(
            rid, record.get("turn"), record.get("status"), record.get("anchor"), record
        )

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

    def usages(self) -> list[Usage]:
        """The latest responses' tokens."""
        return [Usage(rid, *figures) for rid, *figures in self.usages_kept]

    def usage_total(self) -> Usage:
        """Tokens of every response."""
        return Usage(None, *self.usage_sums)

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

    def checks(self, missing: Sequence[int] = ()) -> list[Check]:
        """review.protocol_checks, with the seq gaps the store found."""
        unfinished = sorted(s for seqs in self.open_responses.values() for s in seqs)
        unstopped = sorted(s for seqs in self.open_speech.values() for s in seqs)
        return check_list(unfinished, self.error_seqs, self.error_count, unstopped, missing)

    def hidden(self) -> dict[str, int]:
        """How many of each list the panels leave out."""
        return {
            "responses": max(0, self.usage_count - LATEST_RESPONSES),
            "lines": self.line_count - len(self.lines),
            "changes": self.change_count - len(self.changes),
            "errors": self.pinned_count - len(self.errors),
        }

    # ------------------------------------------------------------ saving

    def dumps(self) -> str:
        """The state as JSON, for Store.save_aggregates."""
        state = {
            name: sorted(value) if isinstance(value, set) else value
            for name, value in vars(self).items()
            if not name.startswith("_")
        }
        # storable: a lone surrogate in some text is saved as its escape, which reads back the same
        state = {"version": VERSION, "layout": LAYOUT, **state}
        return storable(json.dumps(state, ensure_ascii=False))

    @classmethod
    def loads(cls, text: str | None) -> Aggregates | None:
        """A saved state, or None when there is none, or it is of another VERSION or LAYOUT."""
        try:
            state = json.loads(text) if text else None
        except ValueError:
            return None
        if not isinstance(state, dict) or state.pop("version", None) != VERSION:
            return None
        if state.pop("layout", None) != LAYOUT:
            return None
        fold = cls()
        for name, value in state.items():
            if hasattr(fold, name):
                default = getattr(fold, name)
                setattr(fold, name, set(value) if isinstance(default, set) else value)
        fold._shown = {iid for _, iid, _ in fold.lines}
        return fold


def _open(opened: dict[str, list[int]], key: str, seq: int) -> None:
    """Remember what a check waits for (at most MAX_OPEN of them, each with MAX_SEQS seqs)."""
    if key in opened or len(opened) < MAX_OPEN:
        seqs = opened.setdefault(key, [])
        if len(seqs) < MAX_SEQS:
            seqs.append(seq)


def _values(figures: Any) -> list:
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
