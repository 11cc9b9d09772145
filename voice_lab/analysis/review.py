"""What went wrong or changed in a session: errors, session config diffs, protocol checks.

Pure functions over lists of `Event`, like timeline.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from ..protocol.names import deep_merge, dig
from ..protocol.record import Event
from .timeline import ga_name, sorted_events, time_of

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


def _str_unless_none(value: Any) -> str | None:
    """str(value), None for None (error codes come as strings or numbers)."""
    return None if value is None else str(value)


def error_fields(event: Event) -> tuple[str, str | None]:
    """(message, code) of an error event, a *.failed event or a failed/incomplete response."""
    error = dig(event.data, "error") or dig(event.data, "response", "status_details", "error")
    if isinstance(error, dict):
        code = error.get("code")
        return str(error.get("message") or error.get("type") or "error"), _str_unless_none(code)
    status = dig(event.data, "response", "status")
    reason = dig(event.data, "response", "status_details", "reason")
    if status:
        return f"response {status}" + (f": {reason}" if reason else ""), _str_unless_none(reason)
    return ga_name(event) or "error", None


def pinned(event: Event) -> bool:
    """Whether an event belongs on the errors panel: an error, or a response cut short."""
    return event.category == "error" or (
        ga_name(event) == "response.done" and dig(event.data, "response", "status") == "cancelled"
    )


def errors(events: Sequence[Event]) -> list[ErrorInfo]:
    """Every error-category event and cancelled response in seq order, linked to the client
    event it answers."""
    ordered = sorted_events(events)
    client_seqs = {
        event_id: event.seq
        for event in ordered
        if event.direction == "client" and isinstance(event_id := dig(event.data, "event_id"), str)
    }
    return [error_info(event, client_seqs) for event in ordered if pinned(event)]


def error_info(event: Event, client_seqs: Mapping[str, int]) -> ErrorInfo:
    """A pinned event as the errors panel lists it, linked to the client event it echoes."""
    message, code = error_fields(event)
    echoed = dig(event.data, "error", "event_id")
    client_seq = client_seqs.get(echoed) if isinstance(echoed, str) else None
    return ErrorInfo(event.seq, time_of(event), event.type, message, code, echoed, client_seq)


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
    direction: str
    type: str | None
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """The effective session config at the end, and each update's diff against the config
    effective just before it."""

    effective: dict
    changes: tuple[ConfigChange, ...]


_MISSING = object()


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
    for event in sorted_events(events):
        effective, change = config_step(effective, event, ga_name(event))
        if change is not None:
            changes.append(change)
    return SessionConfig(effective, tuple(changes))


def config_step(effective: dict, event: Event, name: str) -> tuple[dict, ConfigChange | None]:
    """The effective config after one event, and the change it makes (None if it is none):
    session.created sets it, session.update is diffed, session.updated is diffed and merged."""
    session = dig(event.data, "session")
    if not isinstance(session, dict):
        return effective, None
    if name == "session.created" and event.direction == "server":
        return session, None
    if name not in ("session.update", "session.updated"):
        return effective, None
    merged = deep_merge(effective, session)
    change = ConfigChange(
        event.seq, event.direction, event.type, tuple(config_diff(effective, merged))
    )
    return (merged if name == "session.updated" else effective), change


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
    done = {e.response_id for e in ordered if ga_name(e) == "response.done"}
    return [
        e.seq for e in ordered if ga_name(e) == "response.created" and e.response_id not in done
    ]


def _unstopped_speech(ordered: Sequence[Event]) -> list[int]:
    """Seqs of speech_started whose item never got a speech_stopped (per item: semantic VAD
    may start several times before it stops once)."""
    stopped = {e.item_id for e in ordered if ga_name(e) == "input_audio_buffer.speech_stopped"}
    return [
        e.seq
        for e in ordered
        if ga_name(e) == "input_audio_buffer.speech_started" and e.item_id not in stopped
    ]


def missing_seqs(
    seqs: Iterable[int], last: int | None = None, limit: int | None = None
) -> list[int]:
    """The seqs absent from 1..last (the highest of seqs unless given), the first `limit` of
    them when a limit is given: the one rule for gaps, over events here and stored rows alike."""
    present = set(seqs)
    top = max(present, default=0) if last is None else last
    return list(islice((seq for seq in range(1, top + 1) if seq not in present), limit))


def protocol_checks(events: Sequence[Event], missing: Sequence[int] | None = None) -> list[Check]:
    """Checks a healthy session passes: responses finish, no errors, speech stops, no seq gap.

    `missing` is given by a caller that passes only some of the events and knows the gaps from
    the store; otherwise gaps are found in `events`.
    """
    ordered = sorted_events(events)
    error_seqs = [e.seq for e in ordered if e.category == "error"]
    return check_list(
        _unfinished_responses(ordered),
        error_seqs,
        len(error_seqs),
        _unstopped_speech(ordered),
        missing_seqs(e.seq for e in ordered) if missing is None else missing,
    )


def check_list(
    unfinished: Sequence[int],
    error_seqs: Sequence[int],
    error_count: int,
    unstopped: Sequence[int],
    missing: Sequence[int],
) -> list[Check]:
    """The checks from the seqs that break them (error_seqs may be the first of error_count)."""
    return [
        _check(
            "responses finish",
            unfinished,
            "every response.created has its response.done",
            f"{len(unfinished)} response(s) without response.done",
        ),
        _check("no errors", error_seqs, "no error events", f"{error_count} error event(s)"),
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
