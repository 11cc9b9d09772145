"""Function calls: each call the model makes paired with the output the client sends back.

A call is announced by response.output_item.added (a function_call item with name and call_id),
streamed by response.function_call_arguments.delta, closed by .done (the whole arguments), and
repeated in response.output_item.done and response.done's output; the client answers with
conversation.item.create holding a function_call_output of the same call_id, then asks for the
next response with response.create. Calls are matched by call_id, never by timing.

Like aggregates.py this is a fold: `feed` advances a plain JSON state one event at a time, so the
panels save it with their figures; `fold` runs it over a list of events. Pure: no Flask, no
database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ..protocol.names import dig
from ..protocol.record import Event
from .review import Check, ErrorInfo
from .timeline import ga_name, sorted_events, time_of

# The GA names the fold reads (beta names are read through ga_name).
NAMES = frozenset(
    {
        "response.created",
        "response.done",
        "response.output_item.added",
        "response.output_item.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_audio.delta",
        "output_audio_buffer.started",
        "conversation.item.create",
        "response.create",
    }
)
MAX_CALLS = 200  # calls kept (the latest); older ones are only counted
MAX_SEQS = 100  # seqs kept per failed check
MAX_TEXT = 16 * 1024  # characters kept of a call's arguments and of each output
UNANSWERED = "call_not_answered"
_BAD = ("unknown_call", "answered_twice", "create_while_active")


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call: what the model asked, what the client answered, and how long each
    side took (ms; None until it happened). `arguments` is the text as streamed, `parsed` its
    value when it is JSON, `pretty` that value indented, `error` why it is not JSON."""

    call_id: str
    name: str | None
    seq: int
    t: float
    response_id: str | None
    item_id: str | None
    status: str | None
    arguments: str
    parsed: Any
    pretty: str | None
    error: str | None
    output: str | None
    output_seq: int | None
    answers: int
    to_output_ms: float | None
    to_audio_ms: float | None


def new_state() -> dict[str, Any]:
    """An empty fold: no calls, no response active, no check broken."""
    return {
        "calls": {},
        "count": 0,
        "active": [],
        "next": [],
        "awaiting": {},
        "bad": {name: [] for name in _BAD},
        "bad_count": {name: 0 for name in _BAD},
    }


def fold(events: Iterable[Event]) -> dict[str, Any]:
    """The state after every event, in seq order."""
    state = new_state()
    for event in sorted_events(events):
        if (name := ga_name(event)) in NAMES:
            feed(state, event, name)
    return state


def feed(state: dict[str, Any], event: Event, name: str) -> None:
    """Fold one event (its GA name given) into the state."""
    data = event.data or {}
    if event.direction == "client":
        if (
            name == "conversation.item.create"
            and dig(data, "item", "type") == "function_call_output"
        ):
            _answer(state, event, data["item"])
        elif name == "response.create" and state["active"]:
            # An out-of-band response (conversation "none") may run beside the default one.
            if dig(data, "response", "conversation") != "none":
                _bad(state, "create_while_active", event.seq)
        return
    if event.direction != "server":
        return
    rid = event.response_id
    if name == "response.created" and rid:
        state["active"] = [*state["active"], rid][-MAX_SEQS:]
        if state["next"]:
            state["awaiting"][rid] = state["next"]
            state["next"] = []
    elif name == "response.done":
        state["active"] = [r for r in state["active"] if r != rid]
        output = dig(data, "response", "output")
        for item in output if isinstance(output, list) else []:
            _item(state, event, item, final=True)
    elif name in ("response.output_item.added", "response.output_item.done"):
        _item(state, event, data.get("item"), final=name.endswith(".done"))
    elif name == "response.function_call_arguments.delta":
        call = _call(state, event, data.get("call_id"))
        if call is not None and isinstance(data.get("delta"), str):
            call["deltas"] = (call["deltas"] + data["delta"])[:MAX_TEXT]
    elif name == "response.function_call_arguments.done":
        call = _call(state, event, data.get("call_id"))
        if call is not None:
            _arguments_done(call, event, data.get("arguments"))
            call["name"] = call["name"] or _text(data.get("name"))
    elif rid in state["awaiting"]:  # the first audio of the response after some outputs
        for call_id in state["awaiting"].pop(rid):
            if call_id in state["calls"]:
                state["calls"][call_id]["audio_t"] = time_of(event)


def _item(state: dict[str, Any], event: Event, item: Any, final: bool) -> None:
    """A function_call item the server announced, finished or listed in response.done."""
    if dig(item, "type") != "function_call":
        return
    call = _call(state, event, item.get("call_id"))
    if call is None:
        return
    call["name"] = call["name"] or _text(item.get("name"))
    call["item_id"] = call["item_id"] or _text(item.get("id"))
    if final:
        call["status"] = _text(item.get("status")) or call["status"]
        if call["done_t"] is None:
            _arguments_done(call, event, item.get("arguments"))


def _call(state: dict[str, Any], event: Event, call_id: Any) -> dict[str, Any] | None:
    """The record of a call by its id, made at its first event (None without an id)."""
    if not isinstance(call_id, str) or not call_id:
        return None
    calls = state["calls"]
    if call_id not in calls:
        state["count"] += 1
        calls[call_id] = {
            "name": None,
            "seq": event.seq,
            "t": time_of(event),
            "response_id": event.response_id,
            "item_id": event.item_id,
            "status": None,
            "deltas": "",
            "arguments": None,
            "done_t": None,
            "outputs": [],
            "audio_t": None,
        }
        if len(calls) > MAX_CALLS:
            del calls[next(iter(calls))]
    return calls[call_id]


def _arguments_done(call: dict[str, Any], event: Event, arguments: Any) -> None:
    """The arguments are whole: keep them (the deltas' text when the event has none)."""
    # An item's empty arguments say nothing over the deltas streamed for it.
    if isinstance(arguments, str) and (arguments or not call["deltas"]):
        call["arguments"] = arguments[:MAX_TEXT]
    if call["done_t"] is None:
        call["done_t"] = time_of(event)


def _answer(state: dict[str, Any], event: Event, item: Mapping[str, Any]) -> None:
    """A function_call_output the client sent: matched to its call by call_id."""
    call_id = item.get("call_id")
    call = state["calls"].get(call_id) if isinstance(call_id, str) else None  # any JSON may come
    if call is None:
        _bad(state, "unknown_call", event.seq)
        return
    if call["outputs"]:
        _bad(state, "answered_twice", event.seq)
    output = item.get("output")
    text = output if isinstance(output, str) else json.dumps(output, ensure_ascii=False)
    call["outputs"].append([event.seq, time_of(event), text[:MAX_TEXT]])
    if len(call["outputs"]) == 1:
        state["next"] = [*state["next"], call_id][-MAX_SEQS:]


def _bad(state: dict[str, Any], check: str, seq: int) -> None:
    state["bad_count"][check] += 1
    if len(state["bad"][check]) < MAX_SEQS:
        state["bad"][check].append(seq)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# ---------------------------------------------------------------- reading


def calls(state: Mapping[str, Any]) -> list[ToolCall]:
    """The calls kept, in the order they were made."""
    return [_tool_call(call_id, call) for call_id, call in state["calls"].items()]


def tool_calls(events: Iterable[Event]) -> list[ToolCall]:
    """Every function call of a list of events, paired with its output."""
    return calls(fold(events))


def _tool_call(call_id: str, call: Mapping[str, Any]) -> ToolCall:
    arguments = call["arguments"] if call["arguments"] is not None else call["deltas"]
    parsed, pretty, error = None, None, None
    if call["done_t"] is not None:
        try:
            parsed = json.loads(arguments)
            pretty = json.dumps(parsed, indent=2, ensure_ascii=False)
        except ValueError as exc:
            error = f"not valid JSON: {exc}"
    first = call["outputs"][0] if call["outputs"] else None
    return ToolCall(
        call_id=call_id,
        name=call["name"],
        seq=call["seq"],
        t=call["t"],
        response_id=call["response_id"],
        item_id=call["item_id"],
        status=call["status"],
        arguments=arguments,
        parsed=parsed,
        pretty=pretty,
        error=error,
        output=first[2] if first else None,
        output_seq=first[0] if first else None,
        answers=len(call["outputs"]),
        to_output_ms=_between(call["done_t"], first[1] if first else None),
        to_audio_ms=_between(first[1] if first else None, call["audio_t"]),
    )


def _between(start: float | None, end: float | None) -> float | None:
    return None if start is None or end is None else end - start


def unanswered(found: Iterable[ToolCall]) -> list[ToolCall]:
    """Completed calls the client never sent an output for (an interrupted call, whose item
    is not completed, is not to be run, so it needs none)."""
    return [c for c in found if c.status == "completed" and not c.answers]


def checks(state: Mapping[str, Any]) -> list[Check]:
    """The protocol checks of function calls, in the style of review.protocol_checks."""
    found = calls(state)
    bad, count = state["bad"], state["bad_count"]
    not_json = [c.seq for c in found if c.error is not None]
    missing = [c.seq for c in unanswered(found)]
    return [
        _check("outputs match calls", bad["unknown_call"], count["unknown_call"],
               "every function_call_output names a call_id the model used",
               "function_call_output(s) for an unknown call_id"),
        _check("calls answered once", bad["answered_twice"], count["answered_twice"],
               "no call has two outputs", "output(s) for a call already answered"),
        _check("calls answered", missing, len(missing),
               "every completed call has its function_call_output",
               "completed call(s) without a function_call_output"),
        _check("one response at a time", bad["create_while_active"],
               count["create_while_active"], "no response.create while a response is active",
               "response.create(s) while a response was active (wait for response.done)"),
        _check("arguments are JSON", not_json, len(not_json),
               "every call's arguments parse as JSON", "call(s) whose arguments are not JSON"),
    ]  # fmt: skip


def _check(name: str, seqs: list[int], count: int, ok: str, bad: str) -> Check:
    return Check(name, not seqs, f"{count} {bad}" if seqs else ok, tuple(seqs))


def errors(found: Iterable[ToolCall]) -> list[ErrorInfo]:
    """Calls never answered, as the errors panel pins them (at the call's first event)."""
    return [
        ErrorInfo(
            call.seq,
            call.t,
            "function_call",
            f"{call.name or 'a function'} ({call.call_id}) was never answered: send "
            "conversation.item.create with a function_call_output of this call_id",
            UNANSWERED,
            None,
            None,
        )
        for call in unanswered(found)
    ]


def as_json(found: Iterable[ToolCall]) -> list[dict[str, Any]]:
    """The calls as the export lists them."""
    return [asdict(call) for call in found]
