"""Two sessions side by side: what each ran with, how fast it answered, what it cost, what went
wrong, what it sent, what was said and which tools it called, with the differences marked.

Built on the panels' fold (aggregates.py), so the compare page reads what the panels read, and
the harness builds the same from an export's events. What the fold does not keep (the
emulator's scenario and script, when each user turn's speech began) comes from a few event
types only (`NOTE_TYPES`), which the store finds by type. Side "a" is the reference, "b" the one
measured against it: every change is b minus a, so a positive latency change means b is slower.

Pure: no Flask, no database.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import zip_longest
from typing import Any

from ..protocol.names import dig, normalize_type
from ..protocol.record import Event
from . import cost, review, tools
from .aggregates import Aggregates
from .heard import Hearing
from .metrics import LATENCY_FIGURES, Stat, Usage, percentile
from .timeline import Line, ga_name, sorted_events

HEARD_FIGURES = ("heard_to_first_audio_ms",)  # from the recording's hearing, where there is one
FIGURES = (*LATENCY_FIGURES, *HEARD_FIGURES)
MINT, SPEECH = "voicelab.mint", "input_audio_buffer.speech_started"
NOTE_TYPES = (MINT, SPEECH)  # the event types `notes` reads (the fold keeps neither)
ROW_FIELDS = ("provider", "model", "voice")  # the session row's part of the effective config
MINT_FIELDS = ("scenario", "script")  # the emulator's, as the call page's mint event names them
# What names the service's session rather than configures it: it differs between any two.
IDENTITY = frozenset({"id", "object", "expires_at", "client_secret"})
SPEECH_TOLERANCE_MS = 1000.0  # how far apart two replays' turns may start and still be one


@dataclass(frozen=True)
class Notes:
    """What the comparison needs beyond the fold: the emulator's choices at mint, and when
    each user item's speech started, in ms from the recording's start (VAD's clock)."""

    mint: Mapping[str, Any] = field(default_factory=dict)
    speech: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Side:
    """One session as compared: its row (or an export's "session"), its fold, its events per
    type, the seqs its store misses, its recording's hearing (None: none) and its Notes."""

    session: Mapping[str, Any]
    fold: Aggregates
    counts: Mapping[str, int]
    missing: Sequence[int] = ()
    hearing: Hearing | None = None
    notes: Notes = field(default_factory=Notes)


@dataclass(frozen=True)
class Row:
    """One named figure or field of each side (None: that side has none), and whether they
    differ."""

    name: str
    a: Any
    b: Any
    changed: bool


@dataclass(frozen=True)
class FigureRow:
    """A latency figure's p50 and p95 on each side, and the change (b - a; None unless both
    sides have it)."""

    name: str
    a: Stat
    b: Stat

    @property
    def p50_change(self) -> float | None:
        """b's p50 minus a's."""
        return _minus(self.b.p50, self.a.p50)

    @property
    def p95_change(self) -> float | None:
        """b's p95 minus a's."""
        return _minus(self.b.p95, self.a.p95)


@dataclass(frozen=True)
class Turn:
    """A user line and the replies after it (no user line: replies before the first), and when
    the user's speech started (ms from the recording's start; None when unknown)."""

    user: Line | None
    replies: tuple[Line, ...]
    start_ms: float | None

    @property
    def said(self) -> tuple[str, ...]:
        """The turn's words, user first."""
        lines = ([self.user] if self.user else []) + list(self.replies)
        return tuple(line.text for line in lines)


@dataclass(frozen=True)
class TurnPair:
    """Two turns shown side by side (None: that side has no partner for the other's)."""

    a: Turn | None
    b: Turn | None

    @property
    def changed(self) -> bool:
        """Whether the two turns' words differ (a turn alone always does)."""
        return self.a is None or self.b is None or self.a.said != self.b.said


@dataclass(frozen=True)
class Comparison:
    """Everything the compare page shows of sides a and b."""

    a: Mapping[str, Any]
    b: Mapping[str, Any]
    config: list[Row]
    latency: list[FigureRow]
    usage: list[Row]
    cost: tuple[cost.Cost, cost.Cost]
    errors: tuple[list[review.ErrorInfo], list[review.ErrorInfo]]
    failed: tuple[list[str], list[str]]
    counts: list[Row]
    turns: list[TurnPair]
    aligned_by: str  # "speech" (replays of one recording) or "order"
    tools: tuple[list[str], list[str]]

    def figure(self, name: str) -> FigureRow:
        """The latency row of a figure (one of FIGURES), or ValueError naming those there are."""
        for row in self.latency:
            if row.name == name:
                return row
        raise ValueError(f"no latency figure {name!r}: use one of {', '.join(FIGURES)}")


def compare(a: Side, b: Side, prices: cost.PriceTable) -> Comparison:
    """Side b against side a; cost estimated at `prices`."""
    by_speech = replays_of_one(a.session, b.session)
    return Comparison(
        a=a.session,
        b=b.session,
        config=_rows(effective_config(a), effective_config(b)),
        latency=[
            FigureRow(name, x, y) for name, x, y in zip(FIGURES, _stats(a), _stats(b), strict=True)
        ],
        usage=_rows(_usage(a.fold.usage_total()), _usage(b.fold.usage_total())),
        cost=(_cost(a, prices), _cost(b, prices)),
        errors=(_errors(a), _errors(b)),
        failed=(_failed(a), _failed(b)),
        counts=_rows(_by_ga_type(a.counts), _by_ga_type(b.counts), fill=0),
        turns=align(turns(a), turns(b), by_speech),
        aligned_by="speech" if by_speech else "order",
        tools=(tool_names(a), tool_names(b)),
    )


def replays_of_one(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two sessions replay one recording: one is the other's replay, or both replay
    the same original (`replay_of`, absent on sessions stored before replays)."""
    a_of, b_of = a.get("replay_of"), b.get("replay_of")
    return bool(
        (b_of and b_of == a.get("id")) or (a_of and a_of == b.get("id")) or (a_of and a_of == b_of)
    )


def effective_config(side: Side) -> dict[str, str]:
    """What the session ran with, each field as text (a string as it is, anything else as
    JSON): the row's provider, model and voice, the emulator's scenario and script, and every
    field of the config the server applied last (session.created, then each session.updated),
    by dotted path."""
    found = {f"session.{name}": side.session.get(name) for name in ROW_FIELDS}
    found |= {f"emulator.{name}": side.notes.mint.get(name) for name in MINT_FIELDS}
    found |= _flat({k: v for k, v in side.fold.config.items() if k not in IDENTITY})
    return {name: _text(value) for name, value in found.items()}


def _text(value: Any) -> str:
    """A config value as the page shows it: a string bare, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _flat(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as dotted paths (lists stay whole, as review.config_diff compares them)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _rows(a: Mapping[str, Any], b: Mapping[str, Any], fill: Any = None) -> list[Row]:
    """a's names in a's order, then b's others; a side without a name gets `fill`."""
    names = [*a, *(name for name in b if name not in a)]
    return [Row(n, a.get(n, fill), b.get(n, fill), a.get(n, fill) != b.get(n, fill)) for n in names]


def _by_ga_type(counts: Mapping[str, int]) -> dict[str, int]:
    """Events per type, beta names counted as their GA names (so a preview session compares
    with a GA one), sorted by type."""
    merged: Counter[str] = Counter()
    for type_, n in counts.items():
        merged[normalize_type(type_) or ""] += n
    return dict(sorted(merged.items()))


def _stats(side: Side) -> list[Stat]:
    """p50/p95 of each of FIGURES: the fold's, then the heard ones."""
    heard = [] if side.hearing is None else side.hearing.heard
    values = sorted(h.to_first_audio_ms for h in heard if h.to_first_audio_ms is not None)
    name = HEARD_FIGURES[0]
    return [
        *side.fold.latency_stats(),
        Stat(name, len(values), percentile(values, 50), percentile(values, 95)),
    ]


def _usage(total: Usage) -> dict[str, int]:
    """A usage total's token figures by name."""
    return {name: getattr(total, name) for name in Usage.__slots__ if name != "response_id"}


def _cost(side: Side, prices: cost.PriceTable) -> cost.Cost:
    """The session's whole cost, for the model it was priced by on the session page."""
    model = cost.priced_model(side.session.get("model"), side.fold.config)
    return cost.estimate(prices, model, side.fold.usage_total())


def _errors(side: Side) -> list[review.ErrorInfo]:
    """The panels' errors: the fold's pinned ones and the function calls never answered."""
    return side.fold.session_errors()


def _failed(side: Side) -> list[str]:
    """The checks that fail, the panels' and the recording's, as "name: detail"."""
    found = side.fold.session_checks(side.missing)
    failed = [f"{check.name}: {check.detail}" for check in found if not check.ok]
    heard = () if side.hearing is None else side.hearing.checks
    return failed + [f"{check.name}: {check.detail}" for check in heard if not check.ok]


def tool_names(side: Side) -> list[str]:
    """The functions the model called, in order (a call without a name as "?")."""
    return [call.name or "?" for call in tools.calls(side.fold.tools)]


def turns(side: Side) -> list[Turn]:
    """The transcript as turns: each user line with the replies until the next one."""
    found: list[Turn] = []
    for line in side.fold.transcript():
        if line.role == "user" or not found:
            user = line if line.role == "user" else None
            start = side.notes.speech.get(line.item_id) if user else None
            found.append(Turn(user, () if user else (line,), start))
        else:
            last = found[-1]
            found[-1] = Turn(last.user, (*last.replies, line), last.start_ms)
    return found


def align(a: Sequence[Turn], b: Sequence[Turn], by_speech: bool) -> list[TurnPair]:
    """Pair the turns: by when the user's speech started (within SPEECH_TOLERANCE_MS; a turn
    with no partner stands alone in its place; two in the same place with no start, such as
    both greetings or typed turns, pair with each other), else one after the other."""
    if not by_speech:
        return [TurnPair(x, y) for x, y in zip_longest(a, b)]
    pairs, i, j = [], 0, 0
    while i < len(a) or j < len(b):
        x, y = (a[i] if i < len(a) else None), (b[j] if j < len(b) else None)
        if x and y and _together(x.start_ms, y.start_ms):
            pairs.append(TurnPair(x, y))
            i, j = i + 1, j + 1
            continue
        if y is None or (x is not None and _first(x, y)):
            pairs.append(TurnPair(x, None))
            i += 1
        else:
            pairs.append(TurnPair(None, y))
            j += 1
    return pairs


def _together(a: float | None, b: float | None) -> bool:
    """Whether two turns' speech starts pair them: both within the tolerance, or both none."""
    if a is None or b is None:
        return a is None and b is None
    return abs(a - b) <= SPEECH_TOLERANCE_MS


def _first(x: Turn, y: Turn) -> bool:
    """Whether x goes before y: a turn with no start keeps its place before what follows."""
    return x.start_ms is None or (y.start_ms is not None and x.start_ms < y.start_ms)


def notes(events: Iterable[Event]) -> Notes:
    """The Notes from a session's events (only NOTE_TYPES are read, so those alone will do):
    the first voicelab.mint's scenario and script, and each speech_started's audio_start_ms
    (VAD counts the input audio from the recording's start)."""
    mint: dict[str, Any] = {}
    speech: dict[str, float] = {}
    for event in sorted_events(events):
        name = ga_name(event)
        if name == MINT and not mint and isinstance(event.data, dict):
            mint = {key: event.data.get(key) for key in MINT_FIELDS}
        elif name == SPEECH and event.item_id and event.item_id not in speech:
            start = dig(event.data, "audio_start_ms")
            if isinstance(start, int | float) and not isinstance(start, bool):
                speech[event.item_id] = float(start)
    return Notes(mint, speech)


def side_of(
    session: Mapping[str, Any], events: Sequence[Event], hearing: Hearing | None = None
) -> Side:
    """A Side from all of a session's events (an export's), as the store's figures give it."""
    ordered = sorted_events(events)
    counts = Counter(event.type or "" for event in ordered)
    missing = review.missing_seqs(event.seq for event in ordered)
    return Side(session, Aggregates().feed_all(ordered), counts, missing, hearing, notes(ordered))


def _minus(b: float | None, a: float | None) -> float | None:
    return None if a is None or b is None else b - a
