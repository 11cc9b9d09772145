"""Views over one session's events: timeline rows, turns and responses, and the transcript.

Pure functions over lists of `Event` (any order: each sorts by seq). Turns come from the ids the
protocol gives (response_id, item_id), never from timing. Times are the browser's `t` (ms epoch).
Figures (latency, usage, rate limits, WebRTC stats) are in metrics.py; what went wrong (errors,
config changes, protocol checks) in review.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..protocol.codec import clip
from ..protocol.names import dig, normalize_type
from ..protocol.record import Event
from ..protocol.redaction import redact_text
from .summary import summary

TEXT_DELTAS = frozenset({"response.output_text.delta", "response.output_audio_transcript.delta"})
_SUMMARY_TEXT = 120


def sorted_events(events: Iterable[Event]) -> list[Event]:
    """events in seq order."""
    return sorted(events, key=lambda event: event.seq)


def ga_name(event: Event) -> str:
    """The GA name of an event's type ("" when it has none)."""
    return normalize_type(event.type) or ""


def time_of(event: Event) -> float:
    """An event's time in ms. A parsed event may have none (no browser time); the analysis reads
    events as stored, where from_row and the mirror's fold have dated them on arrival."""
    if event.t is None:
        raise ValueError(
            f"event {event.seq} has no time: read it back with from_row, which dates it on arrival"
        )
    return event.t


def start_time(events: Sequence[Event]) -> float:
    """t0 of a session: the time of its first event (0 when there are none)."""
    return time_of(min(events, key=lambda event: event.seq)) if events else 0.0


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
    direction: str
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
        t=time_of(first),
        t_end=time_of(run[-1]),
        rel_ms=time_of(first) - t0,
        direction=first.direction,
        type=first.type,
        category=first.category,
        summary=label,
        count=len(run),
        text=text,
        response_id=first.response_id,
        item_id=first.item_id,
    )


def delta_key(event: Event) -> tuple:
    """What makes deltas one stream: GA type, direction, ids, content part or call."""
    data = event.data or {}
    ids = (event.response_id, event.item_id, data.get("content_index"), data.get("call_id"))
    return (ga_name(event), event.direction, *ids)


def _delta_text(run: Sequence[Event]) -> str | None:
    """The assembled text of a delta run (None for audio, whose deltas are base64)."""
    if ga_name(run[0]) == "response.output_audio.delta":
        return None
    # Each delta was redacted alone; a key split across two shows whole only once joined.
    return redact_text("".join(d for e in run if isinstance(d := (e.data or {}).get("delta"), str)))


def _delta_row(run: Sequence[Event], t0: float) -> Row:
    """The row of a run of deltas: their count and assembled text."""
    text = _delta_text(run)
    shown = clip(text, _SUMMARY_TEXT) if text is not None else ""
    label = f"{len(run)} deltas" + (f": “{shown}”" if text is not None else "")
    return _row("deltas", run, t0, label, text)


def rows(events: Iterable[Event], t0: float, collapse: bool = True) -> list[Row]:
    """Rows in seq order; with collapse, all deltas of one stream make one row at the first."""
    runs: dict[tuple, list[Event]] = {}
    order: list[Event | tuple] = []
    for event in sorted_events(events):
        if not (collapse and event.category == "delta"):
            order.append(event)
            continue
        key = delta_key(event)
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


def is_user_item(event: Event) -> bool:
    """Whether an event names a user item: VAD, input transcription, or a role=user item."""
    return (
        ga_name(event).startswith(_USER_ITEM_PREFIXES) or dig(event.data, "item", "role") == "user"
    )


def note_owner(event: Event, item_response: dict[str, str], user_items: set[str]) -> None:
    """Note whose item an event names: the response that produced it, or the user."""
    if not event.item_id:
        return
    if event.response_id:
        item_response.setdefault(event.item_id, event.response_id)
    elif is_user_item(event):
        user_items.add(event.item_id)


def _owners(events: Sequence[Event]) -> tuple[dict[str, str], set[str]]:
    """item id -> response id for items a response produced, and the ids of user items."""
    item_response: dict[str, str] = {}
    user_items: set[str] = set()
    for event in events:
        note_owner(event, item_response, user_items)
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
    for event in sorted_events(events):
        name = ga_name(event)
        if commits_user_item(event, name):
            last_user = event.item_id or last_user
        elif (rid := started_response(event, name)) is not None:
            turns[rid] = last_user
    return turns


def commits_user_item(event: Event, name: str) -> bool:
    """Whether the server commits a user item here: input_audio_buffer.committed (voice), or a
    role=user item it adds (text)."""
    return event.direction == "server" and (
        name == "input_audio_buffer.committed"
        or (name.startswith("conversation.item.") and dig(event.data, "item", "role") == "user")
    )


def started_response(event: Event, name: str) -> str | None:
    """The id of the response the server starts here, if it starts one."""
    if event.direction == "server" and name == "response.created" and event.response_id:
        return event.response_id
    return None


# The page's periodic samples (getStats() each second): a lane of their own (the WebRTC panel,
# the time view), not a group. Among a turn's events, each would end the run of id-less events
# before it and start a one-row "Session" group of its own: dozens between two turns.
PERIODIC_TYPES = frozenset({"voicelab.stats"})


def is_periodic(event: Event) -> bool:
    """Whether an event is one of the page's periodic local samples."""
    return event.direction == "local" and event.type in PERIODIC_TYPES


def group_events(events: Sequence[Event], t0: float | None = None) -> list[Group]:
    """The grouped view: turns, responses, other items and runs of id-less events, each group
    placed at its first event's seq; times relative to t0 (default: the first event's).
    Periodic samples are left out (the flat view and the filters still show them)."""
    ordered = [event for event in sorted_events(events) if not is_periodic(event)]
    item_response, user_items = _owners(ordered)
    turns = response_turns(ordered)
    t0 = start_time(events) if t0 is None else t0
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
        done = [e for e in group if ga_name(e) == "response.done"]
        status = dig(done[-1].data, "response", "status") if done else "in progress"
        return f"Response ({status})"
    if kind == "item":
        item_type = next((dig(e.data, "item", "type") for e in group if dig(e.data, "item")), None)
        return f"Item ({item_type})" if item_type else "Item"
    return "Session"


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


def line_role(event: Event, user_items: set[str]) -> str | None:
    """ "user" or "assistant" when this event introduces an item of the transcript."""
    if event.item_id in user_items:
        return "user"
    item = dig(event.data, "item")
    if dig(item, "role") == "assistant" or (dig(item, "type") == "message" and event.response_id):
        return "assistant"
    return None


_TYPED_PARTS = ("input_text", "text", "output_text")


def typed_text(item: Any) -> str | None:
    """The text of a message item's input_text/text/output_text parts (None when it has none)."""
    content = dig(item, "content")
    parts = [
        part["text"]
        for part in (content if isinstance(content, list) else [])
        if dig(part, "type") in _TYPED_PARTS and isinstance(part.get("text"), str)
    ]
    return "".join(parts) if parts else None


FINAL_TEXT = {
    "conversation.item.input_audio_transcription.completed": "transcript",
    "response.output_audio_transcript.done": "transcript",
    "response.output_text.done": "text",
}
PARTIAL_TEXT = frozenset(
    {
        "conversation.item.input_audio_transcription.delta",
        "response.output_audio_transcript.delta",
        "response.output_text.delta",
    }
)


def _texts(ordered: Sequence[Event]) -> tuple[dict, dict, set]:
    """item id -> final text, item id -> assembled deltas, ids whose transcription failed."""
    final: dict[str, str] = {}
    partial: dict[str, str] = {}
    failed: set[str] = set()
    for event in ordered:
        iid = event.item_id
        found = item_text(event, ga_name(event)) if iid else None
        if iid is None or found is None:
            continue
        kind, text = found
        if kind == "final":
            final[iid] = final.get(iid, "") + text
        elif kind == "partial":
            partial[iid] = partial.get(iid, "") + text
        elif kind == "failed":
            failed.add(iid)
        else:
            final.setdefault(iid, text)
    return final, partial, failed


def item_text(event: Event, name: str) -> tuple[str, str] | None:
    """What an event says of its item's text: ("final", text) from a .completed/.done,
    ("partial", delta), ("failed", "") when transcription failed, ("typed", text) of a message
    item's text parts; None when it says nothing."""
    data = event.data or {}
    if name in FINAL_TEXT and isinstance(data.get(FINAL_TEXT[name]), str):
        return "final", data[FINAL_TEXT[name]]
    if name in PARTIAL_TEXT and isinstance(data.get("delta"), str):
        return "partial", data["delta"]
    if name == "conversation.item.input_audio_transcription.failed":
        return "failed", ""
    typed = typed_text(data.get("item"))
    return None if typed is None else ("typed", typed)


def transcript(events: Sequence[Event]) -> list[Line]:
    """The conversation as user and assistant lines, each placed where its item first appeared,
    so a user transcript completed after the response still comes before it."""
    ordered = sorted_events(events)
    item_response, user_items = _owners(ordered)
    final, partial, failed = _texts(ordered)
    lines: dict[str, Line] = {}
    for event in ordered:
        iid = event.item_id
        role = line_role(event, user_items) if iid else None
        if iid is None or role is None or iid in lines:
            continue
        if iid in final:
            text, status = final[iid], "final"
        elif iid in partial:
            text, status = partial[iid], "partial"
        else:
            text, status = "", "failed" if iid in failed else "none"
        # Texts are joined from events redacted one by one: a key they split is whole here.
        text = redact_text(text)
        lines[iid] = Line(role, iid, item_response.get(iid), event.seq, text, status)
    return list(lines.values())


def _user_texts(ordered: Sequence[Event]) -> dict[str, str]:
    """user item id -> what the user said, for group titles."""
    return {line.item_id: line.text for line in transcript(ordered) if line.role == "user"}
