"""A session as OpenTelemetry traces: the spans of analysis/spans.py given stable ids and made
the SDK's spans, then written in the OTLP JSON file format or pushed live over OTLP/HTTP.

One trace per session: its id is derived from the session id, and each span's from the session
id and the span's key, so a session exported twice, or pushed live and exported later, keeps
its ids. The protobuf comes from the exporter's own encoder; the JSON from protobuf's.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event as SdkEvent
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from ..analysis.spans import Span, session_spans
from ..protocol.record import Event

# Fixed attributes only (Resource.create would add a random instance id): exports stay stable.
RESOURCE = Resource({"service.name": "voice-lab", "telemetry.sdk.name": "opentelemetry"})
SCOPE = InstrumentationScope("voice_lab")
SPANS_PER_LINE = 512  # spans in one ExportTraceServiceRequest line: a long session is many lines
# OTLP JSON writes these ids as hex, where protobuf's JSON mapping writes bytes as base64.
ID_FIELDS = ("traceId", "spanId", "parentSpanId")


def trace_id(session_id: str) -> int:
    """The session's trace id: 16 bytes of a hash of its id (never the invalid zero)."""
    return int.from_bytes(hashlib.sha256(f"voice-lab/{session_id}".encode()).digest()[:16]) or 1


def span_id(session_id: str, key: str) -> int:
    """A span's id: 8 bytes of a hash of the session id and the span's key."""
    digest = hashlib.sha256(f"voice-lab/{session_id}/{key}".encode()).digest()
    return int.from_bytes(digest[:8]) or 1


def _nanos(ms: float) -> int:
    """ms since the epoch in ns, by way of whole microseconds, which a float holds exactly."""
    return round(ms * 1000) * 1000


def readable_spans(session_id: str, spans: Iterable[Span]) -> list[ReadableSpan]:
    """The SDK's finished spans for the spans of one session."""
    trace = trace_id(session_id)

    def context(key: str) -> SpanContext:
        return SpanContext(trace, span_id(session_id, key), False, TraceFlags(TraceFlags.SAMPLED))

    return [
        ReadableSpan(
            name=span.name,
            context=context(span.key),
            parent=context(span.parent) if span.parent else None,
            resource=RESOURCE,
            attributes=span.attributes,
            events=[SdkEvent(e.name, e.attributes, _nanos(e.t)) for e in span.events],
            kind=SpanKind.CLIENT if span.key.startswith("response:") else SpanKind.INTERNAL,
            status=Status(StatusCode.ERROR, span.error) if span.error else Status(StatusCode.UNSET),
            start_time=_nanos(span.start),
            end_time=_nanos(span.end),
            instrumentation_scope=SCOPE,
        )
        for span in spans
    ]


def otlp_lines(session: Mapping[str, Any], events: Sequence[Event]) -> Iterator[str]:
    """The session in the OTLP JSON file format: one ExportTraceServiceRequest per line."""
    spans = readable_spans(str(session["id"]), session_spans(session, events))
    for start in range(0, len(spans), SPANS_PER_LINE):
        request = encode_spans(spans[start : start + SPANS_PER_LINE])
        yield json.dumps(to_otlp_json(request), ensure_ascii=False, separators=(",", ":")) + "\n"


def to_otlp_json(request: ExportTraceServiceRequest) -> dict[str, Any]:
    """protobuf's JSON of a request, with its ids in hex and its enums as numbers, as the OTLP
    JSON encoding has them."""
    document = json_format.MessageToDict(request, use_integers_for_enums=True)
    _walk_ids(document, lambda value: base64.b64decode(value).hex())
    return document


def from_otlp_json(line: str) -> ExportTraceServiceRequest:
    """A request read back from one line of the OTLP JSON file format."""
    document = json.loads(line)
    _walk_ids(document, lambda value: base64.b64encode(bytes.fromhex(value)).decode())
    return json_format.ParseDict(document, ExportTraceServiceRequest())


def _walk_ids(document: dict[str, Any], convert) -> None:
    """Rewrite every span's and link's ids in place with `convert`."""
    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for holder in (span, *span.get("links", [])):
                    for name in ID_FIELDS:
                        if holder.get(name):
                            holder[name] = convert(holder[name])
