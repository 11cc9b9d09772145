"""Views over one session's events: rows, turns, latency, usage, config, transcript, checks.

Pure functions over lists of `Event` (any order: each sorts by seq). Turns come from the ids the
protocol gives (response_id, item_id), never from timing. Times are the browser's `t` (ms epoch).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from .events import Event, dig, normalize_type, summary

_TEXT_DELTAS = frozenset({"response.output_text.delta", "response.output_audio_transcript.delta"})
_SUMMARY_TEXT = 120


def _sorted(events: Iterable[Event]) -> list[Event]:
    """events in seq order."""
    return sorted(events, key=lambda event: event.seq)


def _name(event: Event) -> str:
    """The GA name of an event's type ("" when it has none)."""
    return normalize_type(event.type) or ""


def start_time(events: Sequence[Event]) -> float:
    """t0 of a session: the browser time of its first event (0 when there are none)."""
    return min(events, key=lambda event: event.seq).t if events else 0.0


# ---------------------------------------------------------------- rows and delta runs


@dataclass(frozen=True, slots=True)
class Row:
    """One timeline line: an event, or a run of deltas collapsed into one (kind "deltas")."""

    kind: str
    seq: int
    seqs: tuple[int, ...]
    t: float
    t_end: float
    rel_ms: float
    dir: str
    type: str | None
    category: str
    summary: str
    count: int
    text: str | None
    response_id: str | None
    item_id: str | None


def _row(kind: str, run: Sequence[Event], t0: float, label: str, text: str | None) -> Row:
    """The row of one event (kind "event") or of a delta run, placed at its first event."""
    first = run[0]
    return Row(
        kind=kind,
        seq=first.seq,
        seqs=tuple(e.seq for e in run),
        t=first.t,
        t_end=run[-1].t,
        rel_ms=first.t - t0,
        dir=first.dir,
        type=first.type,
        category=first.category,
        summary=label,
        count=len(run),
        text=text,
        response_id=first.response_id,
        item_id=first.item_id,
    )


def _delta_key(event: Event) -> tuple:
    """What makes deltas one stream: GA type, direction, ids, content part or call."""
    data = event.data or {}
    ids = (event.response_id, event.item_id, data.get("content_index"), data.get("call_id"))
    return (_name(event), event.dir, *ids)


def _delta_text(run: Sequence[Event]) -> str | None:
    """The assembled text of a delta run (None for audio, whose deltas are base64)."""
    if _name(run[0]) == "response.output_audio.delta":
        return None
    return "".join(d for e in run if isinstance(d := (e.data or {}).get("delta"), str))


def _delta_row(run: Sequence[Event], t0: float) -> Row:
    """The row of a run of deltas: their count and assembled text."""
    text = _delta_text(run)
    shown = " ".join(text.split()) if text is not None else ""
    if len(shown) > _SUMMARY_TEXT:
        shown = shown[: _SUMMARY_TEXT - 1] + "…"
    label = f"{len(run)} deltas" + (f": “{shown}”" if text is not None else "")
    return _row("deltas", run, t0, label, text)


def rows(events: Iterable[Event], t0: float, collapse: bool = True) -> list[Row]:
    """Rows in seq order; with collapse, all deltas of one stream make one row at the first."""
    runs: dict[tuple, list[Event]] = {}
    order: list[Event | tuple] = []
    for event in _sorted(events):
        if not (collapse and event.category == "delta"):
            order.append(event)
            continue
        key = _delta_key(event)
        if key not in runs:
            runs[key] = []
            order.append(key)
        runs[key].append(event)
    return [
        _row("event", [entry], t0, summary(entry), None)
        if isinstance(entry, Event)
        else _delta_row(runs[entry], t0)
        for entry in order
    ]


def flat_rows(events: Sequence[Event], collapse: bool = True) -> list[Row]:
    """The flat timeline: every event in seq order, relative to the session's start."""
    return rows(events, start_time(events), collapse)


# ---------------------------------------------------------------- grouping into turns


@dataclass(frozen=True, slots=True)
class Group:
    """A block of the grouped view: a user turn, a response, another item, or session events.

    kind: "turn" (key: the user item id), "response" (key: response id; `turn`: the user item
    that led to it), "item" (an item no response produced and no user said, e.g. a
    function_call_output), "session" (key: "session-<first seq>", events with no id).
    """

    kind: str
    key: str
    title: str
    first_seq: int
    turn: str | None
    rows: tuple[Row, ...]


_USER_ITEM_PREFIXES = ("input_audio_buffer.", "conversation.item.input_audio_transcription.")


def _is_user_item(event: Event) -> bool:
    """Whether an event names a user item: VAD, input transcription, or a role=user item."""
    return _name(event).startswith(_USER_ITEM_PREFIXES) or dig(event.data, "item", "role") == "user"


def _owners(events: Sequence[Event]) -> tuple[dict[str, str], set[str]]:
    """item id -> response id for items a response produced, and the ids of user items."""
    item_response: dict[str, str] = {}
    user_items: set[str] = set()
    for event in events:
        if event.item_id and event.response_id:
            item_response.setdefault(event.item_id, event.response_id)
        elif event.item_id and _is_user_item(event):
            user_items.add(event.item_id)
    return item_response, user_items


def _group_key(event: Event, item_response: dict, user_items: set) -> tuple[str, str] | None:
    """(kind, key) of the group an event belongs to, None when it carries no id."""
    if event.response_id:
        return "response", event.response_id
    if not event.item_id:
        return None
    if event.item_id in item_response:
        return "response", item_response[event.item_id]
    return ("turn" if event.item_id in user_items else "item"), event.item_id


def response_turns(events: Sequence[Event]) -> dict[str, str | None]:
    """response id -> the user item that led to it: the last user item committed before it.

    A user item counts as committed at input_audio_buffer.committed (voice) or when the server
    adds a role=user item (text). This relates each response to the previous user item by seq,
    so follow-up responses (after a function call) belong to the same user turn.
    """
    turns: dict[str, str | None] = {}
    last_user: str | None = None
    for event in _sorted(events):
        if event.dir != "server":
            continue
        name = _name(event)
        if name == "input_audio_buffer.committed" or (
            name.startswith("conversation.item.") and dig(event.data, "item", "role") == "user"
        ):
            last_user = event.item_id or last_user
        elif name == "response.created" and event.response_id:
            turns[event.response_id] = last_user
    return turns


def group_events(events: Sequence[Event], t0: float | None = None) -> list[Group]:
    """The grouped view: turns, responses, other items and runs of id-less events, each group
    placed at its first event's seq; times relative to t0 (default: the first event's)."""
    ordered = _sorted(events)
    item_response, user_items = _owners(ordered)
    turns = response_turns(ordered)
    t0 = start_time(ordered) if t0 is None else t0
    members: dict[tuple[str, str], list[Event]] = {}
    session_key: tuple[str, str] | None = None
    for event in ordered:
        key = _group_key(event, item_response, user_items)
        if key is None:
            # A new session group starts at each run of consecutive id-less events.
            session_key = session_key or ("session", f"session-{event.seq}")
            key = session_key
        else:
            session_key = None
        members.setdefault(key, []).append(event)
    titles = _user_texts(ordered)
    return [
        Group(
            kind=kind,
            key=key,
            title=_title(kind, key, group, titles),
            first_seq=group[0].seq,
            turn=turns.get(key) if kind == "response" else None,
            rows=tuple(rows(group, t0)),
        )
        for (kind, key), group in members.items()
    ]


def _title(kind: str, key: str, group: Sequence[Event], user_texts: dict[str, str]) -> str:
    """A group's heading: the user's words, the response's status, the item's type."""
    if kind == "turn":
        text = user_texts.get(key)
        return f"User: “{text}”" if text else "User turn"
    if kind == "response":
        done = [e for e in group if _name(e) == "response.done"]
        status = dig(done[-1].data, "response", "status") if done else "in progress"
        return f"Response ({status})"
    if kind == "item":
        item_type = next((dig(e.data, "item", "type") for e in group if dig(e.data, "item")), None)
        return f"Item ({item_type})" if item_type else "Item"
    return "Session"


# ---------------------------------------------------------------- latency


@dataclass(frozen=True, slots=True)
class Bar:
    """A waterfall segment: start and length in ms from the response's anchor (0 length: mark)."""

    label: str
    start_ms: float
    ms: float


@dataclass(frozen=True, slots=True)
class Latency:
    """Latency of one response, in ms of browser time.

    anchor is what the wait is measured from: the user's `input_audio_buffer.speech_stopped`
    (voice) or the client's `response.create` (text, or a follow-up after a function call),
    whichever came last between the previous response.created and this one. Without an anchor
    the `to_*` figures are None and the bars start at response.created.
    """

    response_id: str
    turn: str | None
    status: str | None
    anchor: str | None
    anchor_seq: int | None
    to_created_ms: float | None
    to_first_text_ms: float | None
    to_first_audio_ms: float | None
    duration_ms: float | None
    playback_ms: float | None
    bars: tuple[Bar, ...]


def _anchors(ordered: Sequence[Event]) -> dict[str, Event | None]:
    """response id -> the event its latency is measured from (see Latency)."""
    anchors: dict[str, Event | None] = {}
    anchor: Event | None = None
    for event in ordered:
        name = _name(event)
        if (name, event.dir) in (
            ("input_audio_buffer.speech_stopped", "server"),
            ("response.create", "client"),
        ):
            anchor = event
        elif name == "response.created" and event.response_id:
            anchors[event.response_id] = anchor
            anchor = None
    return anchors


def _first_times(ordered: Sequence[Event]) -> dict[tuple[str, str], Event]:
    """(response id, GA type) -> the first such event; text deltas share the key "text"."""
    firsts: dict[tuple[str, str], Event] = {}
    for event in ordered:
        if event.response_id:
            name = "text" if _name(event) in _TEXT_DELTAS else _name(event)
            firsts.setdefault((event.response_id, name), event)
    return firsts


def _span(start: Event | None, end: Event | None) -> float | None:
    """end.t - start.t, None unless both happened."""
    return end.t - start.t if start and end else None


def latencies(events: Sequence[Event]) -> list[Latency]:
    """Latency of every response (ordered by response.created), with its waterfall bars."""
    ordered = _sorted(events)
    anchors, firsts, turns = _anchors(ordered), _first_times(ordered), response_turns(ordered)
    result = []
    for rid, anchor in anchors.items():
        created = firsts[(rid, "response.created")]
        done = firsts.get((rid, "response.done"))
        text, audio = firsts.get((rid, "text")), firsts.get((rid, "output_audio_buffer.started"))
        audio_end = firsts.get((rid, "output_audio_buffer.stopped")) or firsts.get(
            (rid, "output_audio_buffer.cleared")
        )
        origin = anchor or created
        bars = [
            Bar(label, start.t - origin.t, _span(start, end) or 0.0)
            for label, start, end in (
                ("wait", anchor, created),
                ("response", created, done),
                ("first text", text, text),
                ("audio", audio, audio_end),
            )
            if start and end
        ]
        result.append(
            Latency(
                response_id=rid,
                turn=turns.get(rid),
                status=dig(done.data, "response", "status") if done else None,
                anchor=_name(anchor) if anchor else None,
                anchor_seq=anchor.seq if anchor else None,
                to_created_ms=_span(anchor, created),
                to_first_text_ms=_span(anchor, text),
                to_first_audio_ms=_span(anchor, audio),
                duration_ms=_span(created, done),
                playback_ms=_span(audio, audio_end),
                bars=tuple(bars),
            )
        )
    return result


def percentile(values: Iterable[float], p: float) -> float | None:
    """The p-th percentile (0 < p <= 100) by nearest rank: the smallest value with at least
    p % of the values at or below it; None for no values. Always an observed value."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Stat:
    """p50/p95 of one latency figure across a session."""

    name: str
    count: int
    p50: float | None
    p95: float | None


LATENCY_FIGURES = ("to_created_ms", "to_first_text_ms", "to_first_audio_ms", "duration_ms")


def latency_stats(rows_: Sequence[Latency]) -> list[Stat]:
    """p50 and p95 of each latency figure over the responses that have it."""
    stats = []
    for name in LATENCY_FIGURES:
        values = [v for r in rows_ if (v := getattr(r, name)) is not None]
        stats.append(Stat(name, len(values), percentile(values, 50), percentile(values, 95)))
    return stats


# ---------------------------------------------------------------- usage and rate limits


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one response (from response.done usage), or a session total (response_id None)."""

    response_id: str | None
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    input_text: int = 0
    input_audio: int = 0
    input_cached: int = 0
    output_text: int = 0
    output_audio: int = 0


def _usage_of(response_id: str | None, usage: dict) -> Usage:
    """A Usage from the protocol's usage object (missing figures count 0)."""

    def n(*path: str) -> int:
        value = dig(usage, *path)
        return value if isinstance(value, int) else 0

    return Usage(
        response_id=response_id,
        input_tokens=n("input_tokens"),
        output_tokens=n("output_tokens"),
        total_tokens=n("total_tokens"),
        input_text=n("input_token_details", "text_tokens"),
        input_audio=n("input_token_details", "audio_tokens"),
        input_cached=n("input_token_details", "cached_tokens"),
        output_text=n("output_token_details", "text_tokens"),
        output_audio=n("output_token_details", "audio_tokens"),
    )


def usage_by_response(events: Sequence[Event]) -> list[Usage]:
    """Tokens of every response.done that reports usage, in seq order."""
    return [
        _usage_of(event.response_id, usage)
        for event in _sorted(events)
        if _name(event) == "response.done"
        and isinstance(usage := dig(event.data, "response", "usage"), dict)
    ]


def usage_total(usages: Iterable[Usage]) -> Usage:
    """The sum of per-response usages (response_id None)."""
    totals = {f.name: 0 for f in fields(Usage) if f.name != "response_id"}
    for usage in usages:
        for name in totals:
            totals[name] += getattr(usage, name)
    return Usage(None, **totals)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """One figure of a rate_limits.updated event."""

    seq: int
    t: float
    rel_ms: float
    name: str | None
    limit: int | None
    remaining: int | None
    reset_seconds: float | None


_LIMIT_FIELDS = ("name", "limit", "remaining", "reset_seconds")


def rate_limit_series(events: Sequence[Event]) -> list[RateLimit]:
    """Every rate limit figure reported, in seq order (one point per name per event)."""
    t0 = start_time(events)
    return [
        RateLimit(event.seq, event.t, event.t - t0, *(dig(limit, f) for f in _LIMIT_FIELDS))
        for event in _sorted(events)
        if _name(event) == "rate_limits.updated"
        for limit in (dig(event.data, "rate_limits") or [])
    ]


# ---------------------------------------------------------------- errors


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """An error-category event; client_seq is the client event an `error` echoes by event_id."""

    seq: int
    t: float
    type: str | None
    message: str
    code: str | None
    event_id: str | None
    client_seq: int | None


def _text_or_none(value: Any) -> str | None:
    """str(value), None for None (error codes come as strings or numbers)."""
    return None if value is None else str(value)


def _error_fields(event: Event) -> tuple[str, str | None]:
    """(message, code) of an error event, a *.failed event or a failed/incomplete response."""
    error = dig(event.data, "error") or dig(event.data, "response", "status_details", "error")
    if isinstance(error, dict):
        code = error.get("code")
        return str(error.get("message") or error.get("type") or "error"), _text_or_none(code)
    status = dig(event.data, "response", "status")
    reason = dig(event.data, "response", "status_details", "reason")
    if status:
        return f"response {status}" + (f": {reason}" if reason else ""), _text_or_none(reason)
    return _name(event) or "error", None


def _pinned(event: Event) -> bool:
    """Whether an event belongs on the errors panel: an error, or a response cut short."""
    return event.category == "error" or (
        _name(event) == "response.done" and dig(event.data, "response", "status") == "cancelled"
    )


def errors(events: Sequence[Event]) -> list[ErrorInfo]:
    """Every error-category event and cancelled response in seq order, linked to the client
    event it answers."""
    ordered = _sorted(events)
    client_seqs = {
        event_id: event.seq
        for event in ordered
        if event.dir == "client" and (event_id := dig(event.data, "event_id"))
    }
    result = []
    for event in ordered:
        if not _pinned(event):
            continue
        message, code = _error_fields(event)
        echoed = dig(event.data, "error", "event_id")
        result.append(
            ErrorInfo(
                event.seq, event.t, event.type, message, code, echoed, client_seqs.get(echoed)
            )
        )
    return result


# ---------------------------------------------------------------- session config


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One changed field: dotted path, old and new values, change "added"|"removed"|"changed"."""

    path: str
    old: Any
    new: Any
    change: str


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """A session.update (what the client asked) or session.updated (what the server applied)."""

    seq: int
    dir: str
    type: str | None
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """The effective session config at the end, and each update's diff against the config
    effective just before it."""

    effective: dict
    changes: tuple[ConfigChange, ...]


_MISSING = object()


def deep_merge(base: dict, update: dict) -> dict:
    """base with update's fields laid over it, nested objects merged (lists replaced)."""
    merged = dict(base)
    for key, value in update.items():
        old = merged.get(key)
        both_dicts = isinstance(old, dict) and isinstance(value, dict)
        merged[key] = deep_merge(old, value) if both_dicts else value
    return merged


def config_diff(old: dict, new: dict, prefix: str = "") -> list[FieldChange]:
    """Field-level differences between two configs, by dotted path (lists compared whole)."""
    changes = []
    for key in [*old, *(k for k in new if k not in old)]:
        path = f"{prefix}{key}"
        before, after = old.get(key, _MISSING), new.get(key, _MISSING)
        if isinstance(before, dict) and isinstance(after, dict):
            changes.extend(config_diff(before, after, path + "."))
        elif before is _MISSING:
            changes.append(FieldChange(path, None, after, "added"))
        elif after is _MISSING:
            changes.append(FieldChange(path, before, None, "removed"))
        elif before != after:
            changes.append(FieldChange(path, before, after, "changed"))
    return changes


def session_config(events: Sequence[Event]) -> SessionConfig:
    """Effective config (session.created, then each session.updated merged in) and the diffs.

    A client session.update is partial, so its diff is the merged request against the current
    config (added or changed fields only); a server session.updated is diffed the same way.
    """
    effective: dict = {}
    changes = []
    for event in _sorted(events):
        name, session = _name(event), dig(event.data, "session")
        if not isinstance(session, dict):
            continue
        if name == "session.created" and event.dir == "server":
            effective = session
        elif name in ("session.update", "session.updated"):
            merged = deep_merge(effective, session)
            diff = tuple(config_diff(effective, merged))
            changes.append(ConfigChange(event.seq, event.dir, event.type, diff))
            if name == "session.updated":
                effective = merged
    return SessionConfig(effective, tuple(changes))


# ---------------------------------------------------------------- transcript


@dataclass(frozen=True, slots=True)
class Line:
    """A transcript line: status "final" (a .completed/.done text or a typed message),
    "partial" (assembled deltas only), "failed" (transcription failed) or "none" (no text)."""

    role: str
    item_id: str
    response_id: str | None
    seq: int
    text: str
    status: str


def _item_role(event: Event, user_items: set[str]) -> str | None:
    """ "user" or "assistant" when this event introduces an item of the transcript."""
    if event.item_id in user_items:
        return "user"
    item = dig(event.data, "item")
    if dig(item, "role") == "assistant" or (dig(item, "type") == "message" and event.response_id):
        return "assistant"
    return None


_TYPED_PARTS = ("input_text", "text", "output_text")


def _typed_text(item: Any) -> str | None:
    """The text of a message item's input_text/text/output_text parts (None when it has none)."""
    content = dig(item, "content")
    parts = [
        part["text"]
        for part in (content if isinstance(content, list) else [])
        if dig(part, "type") in _TYPED_PARTS and isinstance(part.get("text"), str)
    ]
    return "".join(parts) if parts else None


_FINAL_TEXT = {
    "conversation.item.input_audio_transcription.completed": "transcript",
    "response.output_audio_transcript.done": "transcript",
    "response.output_text.done": "text",
}
_PARTIAL_TEXT = (
    "conversation.item.input_audio_transcription.delta",
    "response.output_audio_transcript.delta",
    "response.output_text.delta",
)


def _texts(ordered: Sequence[Event]) -> tuple[dict, dict, set]:
    """item id -> final text, item id -> assembled deltas, ids whose transcription failed."""
    final: dict[str, str] = {}
    partial: dict[str, str] = {}
    failed: set[str] = set()
    for event in ordered:
        name, data, iid = _name(event), event.data or {}, event.item_id
        if not iid:
            continue
        if name in _FINAL_TEXT and isinstance(data.get(_FINAL_TEXT[name]), str):
            final[iid] = final.get(iid, "") + data[_FINAL_TEXT[name]]
        elif name in _PARTIAL_TEXT and isinstance(data.get("delta"), str):
            partial[iid] = partial.get(iid, "") + data["delta"]
        elif name == "conversation.item.input_audio_transcription.failed":
            failed.add(iid)
        elif (typed := _typed_text(data.get("item"))) is not None:
            final.setdefault(iid, typed)
    return final, partial, failed


def transcript(events: Sequence[Event]) -> list[Line]:
    """The conversation as user and assistant lines, each placed where its item first appeared,
    so a user transcript completed after the response still comes before it."""
    ordered = _sorted(events)
    item_response, user_items = _owners(ordered)
    final, partial, failed = _texts(ordered)
    lines: dict[str, Line] = {}
    for event in ordered:
        role = _item_role(event, user_items) if event.item_id else None
        if role is None or event.item_id in lines:
            continue
        iid = event.item_id
        if iid in final:
            text, status = final[iid], "final"
        elif iid in partial:
            text, status = partial[iid], "partial"
        else:
            text, status = "", "failed" if iid in failed else "none"
        lines[iid] = Line(role, iid, item_response.get(iid), event.seq, text, status)
    return list(lines.values())


def _user_texts(ordered: Sequence[Event]) -> dict[str, str]:
    """user item id -> what the user said, for group titles."""
    return {line.item_id: line.text for line in transcript(ordered) if line.role == "user"}


# ---------------------------------------------------------------- protocol checks


@dataclass(frozen=True, slots=True)
class Check:
    """A protocol check: whether it holds, a one-line detail, the seqs that break it."""

    name: str
    ok: bool
    detail: str
    seqs: tuple[int, ...]


def _check(name: str, bad: Sequence[int], ok_detail: str, bad_detail: str) -> Check:
    """A Check that fails when there are bad seqs."""
    return Check(name, not bad, bad_detail if bad else ok_detail, tuple(bad))


def _unfinished_responses(ordered: Sequence[Event]) -> list[int]:
    """Seqs of response.created events never followed by their response.done."""
    done = {e.response_id for e in ordered if _name(e) == "response.done"}
    return [e.seq for e in ordered if _name(e) == "response.created" and e.response_id not in done]


def _unstopped_speech(ordered: Sequence[Event]) -> list[int]:
    """Seqs of speech_started whose item never got a speech_stopped (per item: semantic VAD
    may start several times before it stops once)."""
    stopped = {e.item_id for e in ordered if _name(e) == "input_audio_buffer.speech_stopped"}
    return [
        e.seq
        for e in ordered
        if _name(e) == "input_audio_buffer.speech_started" and e.item_id not in stopped
    ]


def _missing_seqs(ordered: Sequence[Event]) -> list[int]:
    """The seqs absent from 1..max."""
    present = {e.seq for e in ordered}
    return [seq for seq in range(1, max(present, default=0) + 1) if seq not in present]


def protocol_checks(events: Sequence[Event], missing: Sequence[int] | None = None) -> list[Check]:
    """Checks a healthy session passes: responses finish, no errors, speech stops, no seq gap.

    `missing` is given by a caller that passes only some of the events (the dashboard leaves most
    deltas out) and knows the gaps from the store; otherwise gaps are found in `events`.
    """
    ordered = _sorted(events)
    unfinished = _unfinished_responses(ordered)
    error_seqs = [e.seq for e in ordered if e.category == "error"]
    unstopped = _unstopped_speech(ordered)
    missing = _missing_seqs(ordered) if missing is None else list(missing)
    return [
        _check(
            "responses finish",
            unfinished,
            "every response.created has its response.done",
            f"{len(unfinished)} response(s) without response.done",
        ),
        _check("no errors", error_seqs, "no error events", f"{len(error_seqs)} error event(s)"),
        _check(
            "speech stops",
            unstopped,
            "every speech_started has a speech_stopped",
            f"{len(unstopped)} speech_started without speech_stopped",
        ),
        _check(
            "seq contiguous",
            missing,
            "seqs have no gap",
            f"{len(missing)} seq(s) missing: {_ranges(missing)}",
        ),
    ]


def _ranges(numbers: Sequence[int]) -> str:
    """`3-5, 9` for [3, 4, 5, 9]."""
    spans: list[list[int]] = []
    for n in numbers:
        if spans and n == spans[-1][1] + 1:
            spans[-1][1] = n
        else:
            spans.append([n, n])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans)


# ---------------------------------------------------------------- WebRTC stats


@dataclass(frozen=True, slots=True)
class StatsPoint:
    """One `voicelab.stats` sample. The browser's contract (local event object, every field
    optional, null when getStats() lacks it):

    - rtt_ms: selected candidate pair currentRoundTripTime x 1000
    - jitter_ms: inbound-rtp audio jitter x 1000
    - packets_lost: inbound-rtp audio packetsLost (cumulative)
    - audio_level_in: 0..1, the microphone (media-source audioLevel)
    - audio_level_out: 0..1, the remote voice (inbound-rtp audioLevel)
    - bytes_in / bytes_out: transport bytesReceived / bytesSent (cumulative)
    """

    seq: int
    t: float
    rel_ms: float
    rtt_ms: float | None
    jitter_ms: float | None
    packets_lost: int | None
    audio_level_in: float | None
    audio_level_out: float | None
    bytes_in: int | None
    bytes_out: int | None


STATS_FIELDS = tuple(f.name for f in fields(StatsPoint))[3:]


def stats_series(events: Sequence[Event]) -> list[StatsPoint]:
    """The voicelab.stats samples in seq order (non-numeric values read as None)."""
    t0 = start_time(events)
    return [
        StatsPoint(
            event.seq, event.t, event.t - t0, *(_number(event.data, f) for f in STATS_FIELDS)
        )
        for event in _sorted(events)
        if event.type == "voicelab.stats"
    ]


def _number(data: dict | None, key: str) -> float | int | None:
    """data[key] if it is a number (booleans are not)."""
    value = dig(data, key)
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None
