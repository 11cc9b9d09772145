"""A session as trace spans: a root span for the session, a span per user turn, per response
and per tool call, with GenAI semantic-convention attributes and error events.

Pure, like timeline.py: the spans are plain records here; exchange/otlp.py gives them ids and
hands them to the OpenTelemetry SDK. Times are the events' `t` (ms since the epoch).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..protocol.names import dig
from ..protocol.record import Event
from .metrics import latencies, usage_of
from .review import error_fields, protocol_checks
from .timeline import ga_name, response_turns, sorted_events, time_of, transcript

Attributes = dict[str, str | int | float | bool | tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class SpanEvent:
    """Something that happened within a span: an error, a failed check."""

    name: str
    t: float
    attributes: Attributes


@dataclass(slots=True)
class Span:
    """One span. `key` names it within its session ("session", "turn:ID", "response:ID",
    "tool:CALL_ID"); `parent` is its parent's key; `error` (the status description) is set
    when something in it went wrong."""

    key: str
    parent: str | None
    name: str
    start: float
    end: float
    attributes: Attributes
    events: list[SpanEvent] = field(default_factory=list)
    error: str | None = None

    def fail(self, event: SpanEvent, description: str) -> None:
        """Record an error event and mark the span failed (the first description stays)."""
        self.events.append(event)
        self.error = self.error or description


# Which GenAI system a session's provider is: the conventions' gen_ai.system (deprecated but
# what most trace viewers read) and gen_ai.provider.name (its replacement).
SYSTEMS = {"azure": ("az.ai.openai", "azure.ai.openai")}


def provider_attributes(session: Mapping[str, Any], events: Sequence[Event]) -> Attributes:
    """gen_ai.system, gen_ai.provider.name and gen_ai.request.model of a session."""
    provider = str(session.get("provider") or "")
    system, name = SYSTEMS.get(provider.split("-")[0], ("openai", "openai"))
    attributes: Attributes = {"gen_ai.system": system, "gen_ai.provider.name": name}
    model = session.get("model") or next(
        (m for e in events if isinstance(m := dig(e.data, "session", "model"), str)), None
    )
    if model:
        attributes["gen_ai.request.model"] = str(model)
    return attributes


def session_spans(session: Mapping[str, Any], events: Sequence[Event]) -> list[Span]:
    """Every span of a session, the root first, then its children in the order they start."""
    ordered = sorted_events(events)
    common = provider_attributes(session, ordered)
    first, last = (time_of(ordered[0]), time_of(ordered[-1])) if ordered else (0.0, 0.0)
    root = Span(
        "session",
        None,
        f"voice session {session.get('label') or session.get('id')}",
        first,
        last,
        {
            **common,
            "gen_ai.conversation.id": str(session.get("id")),
            "voice_lab.session.id": str(session.get("id")),
            "voice_lab.provider": str(session.get("provider") or ""),
            "voice_lab.event_count": len(ordered),
        },
    )
    children = {
        **_turn_spans(ordered),
        **_response_spans(ordered, common),
        **_tool_spans(ordered),
    }
    _attach_errors(ordered, root, children)
    for check in protocol_checks(ordered):
        if not check.ok:
            t = _seq_time(ordered, check.seqs[0]) if check.seqs else last
            attributes: Attributes = {
                "voice_lab.check.name": check.name,
                "voice_lab.check.detail": check.detail,
                "error.type": "check_failed",
            }
            root.fail(SpanEvent("voice_lab.check.failed", t, attributes), check.detail)
    return [root, *sorted(children.values(), key=lambda span: span.start)]


def response_spans(
    session: Mapping[str, Any], events: Sequence[Event], response_id: str
) -> list[Span]:
    """The span of one response with its errors, as session_spans has it, for the live push:
    built without the turns, tools and checks, since it runs once per response."""
    ordered = sorted_events(events)
    span = _response_spans(ordered, provider_attributes(session, ordered)).get(
        f"response:{response_id}"
    )
    if span is None:
        return []
    _attach_errors([e for e in ordered if e.response_id == response_id], span, {})
    return [span]


def _turn_spans(ordered: Sequence[Event]) -> dict[str, Span]:
    """A span per user item: from its first event (speech_started) to its last (committed,
    transcribed)."""
    lines = {line.item_id: line for line in transcript(ordered) if line.role == "user"}
    spans: dict[str, Span] = {}
    for event in ordered:
        line = lines.get(event.item_id or "")
        if line is None:
            continue
        key = f"turn:{line.item_id}"
        span = spans.get(key)
        if span is None:
            attributes: Attributes = {"voice_lab.item.id": line.item_id}
            if line.text:
                attributes["voice_lab.transcript"] = line.text
            spans[key] = Span(
                key, "session", "user turn", time_of(event), time_of(event), attributes
            )
        else:
            span.end = time_of(event)
    return spans


def _response_spans(ordered: Sequence[Event], common: Attributes) -> dict[str, Span]:
    """A span per response, response.created to response.done (to its last event when it
    never got one), with usage and latency."""
    turns = response_turns(ordered)
    spans: dict[str, Span] = {}
    done: set[str] = set()
    for event in ordered:
        rid, name = event.response_id, ga_name(event)
        if not rid or event.direction != "server":
            continue
        key = f"response:{rid}"
        if name == "response.created" and key not in spans:
            model = common.get("gen_ai.request.model")
            attributes: Attributes = {
                **common,
                "gen_ai.operation.name": "chat",
                "gen_ai.response.id": rid,
            }
            if turns.get(rid):
                attributes["voice_lab.turn.item_id"] = str(turns[rid])
            label = f"chat {model}" if model else "chat"
            spans[key] = Span(key, "session", label, time_of(event), time_of(event), attributes)
        elif key in spans and key not in done:
            spans[key].end = time_of(event)
            if name == "response.done":
                done.add(key)  # what comes after (the audio playing out) is not the response's
                spans[key].attributes.update(_done_attributes(event))
    for latency in latencies(ordered):
        span = spans.get(f"response:{latency.response_id}")
        firsts = [
            ms for ms in (latency.to_first_text_ms, latency.to_first_audio_ms) if ms is not None
        ]
        if span is not None and firsts:
            span.attributes["gen_ai.response.time_to_first_chunk"] = min(firsts) / 1000
            span.attributes["voice_lab.latency.anchor"] = str(latency.anchor)
    return spans


def _done_attributes(done: Event) -> Attributes:
    """What response.done says: status and the token counts (audio ones under voice_lab.*,
    which the conventions have no names for)."""
    response = dig(done.data, "response") or {}
    attributes: Attributes = {}
    if isinstance(status := response.get("status"), str):
        attributes["gen_ai.response.finish_reasons"] = (status,)
    if isinstance(usage := response.get("usage"), dict):
        counts = usage_of(done.response_id, usage)
        attributes.update(
            {
                "gen_ai.usage.input_tokens": counts.input_tokens,
                "gen_ai.usage.output_tokens": counts.output_tokens,
                "gen_ai.usage.cache_read.input_tokens": counts.input_cached,
                "voice_lab.usage.input_text_tokens": counts.input_text,
                "voice_lab.usage.input_audio_tokens": counts.input_audio,
                "voice_lab.usage.output_text_tokens": counts.output_text,
                "voice_lab.usage.output_audio_tokens": counts.output_audio,
            }
        )
    return attributes


def _tool_spans(ordered: Sequence[Event]) -> dict[str, Span]:
    """A span per function call: from its item (or first arguments delta) to the client's
    function_call_output (or the arguments' done when no output was sent)."""
    spans: dict[str, Span] = {}
    for event in ordered:
        data, name = event.data or {}, ga_name(event)
        item: dict[str, Any] = data["item"] if isinstance(data.get("item"), dict) else {}
        call_id = data.get("call_id") or item.get("call_id")
        if not isinstance(call_id, str):
            continue
        key = f"tool:{call_id}"
        span = spans.get(key)
        if span is None and event.direction == "server" and event.response_id:
            attributes: Attributes = {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.call.id": call_id,
                "gen_ai.tool.type": "function",
            }
            spans[key] = span = Span(
                key,
                f"response:{event.response_id}",
                "execute_tool",
                time_of(event),
                time_of(event),
                attributes,
            )
        if span is None:
            continue
        tool = data.get("name") or item.get("name")
        if isinstance(tool, str):
            span.name = f"execute_tool {tool}"
            span.attributes["gen_ai.tool.name"] = tool
        if name == "response.function_call_arguments.done":
            span.end = time_of(event)
            if isinstance(data.get("arguments"), str):
                span.attributes["gen_ai.tool.call.arguments"] = data["arguments"]
        elif event.direction == "client" and item.get("type") == "function_call_output":
            span.end = time_of(event)
            if isinstance(item.get("output"), str):
                span.attributes["gen_ai.tool.call.result"] = item["output"]
    return spans


def _attach_errors(ordered: Sequence[Event], root: Span, children: Mapping[str, Span]) -> None:
    """Every error event (error, *.failed, failed responses) as an event of the span it
    belongs to (the root when it names no response, item or call)."""
    for event in ordered:
        if event.category != "error":
            continue
        message, code = error_fields(event)
        call_id = dig(event.data, "call_id")
        span = (
            children.get(f"response:{event.response_id}")
            or children.get(f"turn:{event.item_id}")
            or children.get(f"tool:{call_id}")
            or root
        )
        attributes: Attributes = {
            "exception.type": code or ga_name(event) or "error",
            "exception.message": message,
            "error.type": code or ga_name(event) or "error",
            "voice_lab.seq": event.seq,
        }
        span.fail(SpanEvent("exception", time_of(event), attributes), message)


def _seq_time(ordered: Sequence[Event], seq: int) -> float:
    """The time of the event `seq` (a check names seqs), or of the last event."""
    return next((time_of(e) for e in ordered if e.seq == seq), time_of(ordered[-1]))
