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
latency figures, charts thinned as points arrive, and capped maps (MAX_* here and in
panel_lists.py) past which only what no panel shows any more is let go.
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
from .call_counts import BARGE_NAMES, COUNTS, CallCounts
from .metrics import (
    ANCHORS,
    LATENCY_FIGURES,
    RESPONSE_TIMES,
    Latency,
    RateLimit,
    Stat,
    StatsPoint,
    Usage,
    latency_of,
    percentile,
    usage_of,
)
from .panel_lists import MAX_SEQS, PanelLists, slot_values
from .review import (
    Check,
    ErrorInfo,
    FieldChange,
    check_list,
)
from .timeline import (
    TEXT_DELTAS,
    commits_user_item,
    ga_name,
    is_user_item,
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
# What the panels list: the latest responses (lines, changes, errors: panel_lists.py).
LATEST_RESPONSES = 30
LIVE_RESPONSES = 64  # responses whose events may still come (a late one for an older is lost)
MAX_OPEN = 100  # past it, unfinished responses and speech kept by a failed check are not kept

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


class Aggregates(PanelLists, CallCounts):
    """The fold. Feed events in seq order with `feed`; panels.view reads it. The lists the
    panels show (transcript, config changes, errors, charts) are PanelLists' part; the
    session's turns and barge-ins, CallCounts'."""

    def __init__(self) -> None:
        PanelLists.__init__(self)
        CallCounts.__init__(self)
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
        if iid and not rid and iid not in self.turn_items and is_user_item(event):
            self._turn(iid)
        if name in BARGE_NAMES:
            self._barge_in(event, name, rid or "")
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
        figures = slot_values(usage_of(event.response_id, usage))[1:]
        self.usage_sums = [a + b for a, b in zip(self.usage_sums, figures, strict=True)]
        self.usages_kept = [*self.usages_kept, [event.response_id, *figures]][-LATEST_RESPONSES:]
        self.usage_count += 1

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

    def usages(self) -> list[Usage]:
        """The latest responses' tokens."""
        return [Usage(rid, *figures) for rid, *figures in self.usages_kept]

    def usage_total(self) -> Usage:
        """Tokens of every response."""
        return Usage(None, *self.usage_sums)

    def checks(self, missing: Sequence[int] = ()) -> list[Check]:
        """review.protocol_checks, with the seq gaps the store found."""
        unfinished = sorted(s for seqs in self.open_responses.values() for s in seqs)
        unstopped = sorted(s for seqs in self.open_speech.values() for s in seqs)
        return check_list(unfinished, self.error_seqs, self.error_count, unstopped, missing)

    def session_checks(self, missing: Sequence[int] = ()) -> list[Check]:
        """The session page's checks: the protocol's (checks()) and the function calls'."""
        return self.checks(missing) + tools.checks(self.tools)

    def session_errors(self) -> list[ErrorInfo]:
        """The session page's errors: the pinned ones and the function calls never answered,
        in seq order."""
        found = self.error_infos() + tools.errors(tools.calls(self.tools))
        return sorted(found, key=lambda error: error.seq)

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
        """A saved state, or None when there is none, or it is of another VERSION or LAYOUT.
        A state saved before some COUNTS were kept loads with those None (not known)."""
        try:
            state = json.loads(text) if text else None
        except ValueError:
            return None
        if not isinstance(state, dict) or state.pop("version", None) != VERSION:
            return None
        if state.pop("layout", None) != LAYOUT:
            return None
        fold = cls()
        for name in COUNTS:
            state.setdefault(name, None)
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
