"""OpenTelemetry: a session's spans and their GenAI attributes, the OTLP JSON file read back
with protobuf's parser, and the live push of a real emulator call, mirrored over the websocket,
to a real OTLP/HTTP receiver on loopback."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import websocket
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests import eventlogs
from tests.rtc_client import RtcClient
from tests.test_emulator_call import mint, run
from tests.waiting import until
from voice_lab import create_app
from voice_lab.analysis.spans import response_spans, session_spans
from voice_lab.config import ConfigError
from voice_lab.exchange.otlp import from_otlp_json, span_id, trace_id
from voice_lab.protocol.record import from_row
from voice_lab.storage.rows import EventRow

WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def stored_spans(store, log: eventlogs.Log, **fields):
    """The spans of a log stored through the real store and read back as the exports read it."""
    sid = store.create_session(**fields)
    store.insert_events(sid, [EventRow.of(event) for event in log.events])
    events = [from_row(row) for row in store.iter_events(sid)]
    return {span.key: span for span in session_spans(store.get_session(sid), events)}


def test_a_voice_turn_and_a_function_call_make_a_span_tree(store):
    """Root, user turn, both responses and the tool call, timed from the events."""
    log = eventlogs.function_call_log()
    spans = stored_spans(store, log, provider="azure", model="gpt-realtime")
    user, (first, second) = log.user_items[0], log.responses
    assert set(spans) == {
        "session",
        f"turn:{user}",
        f"response:{first}",
        f"response:{second}",
        f"tool:{eventlogs.CALL_ID}",
    }
    root, turn = spans["session"], spans[f"turn:{user}"]
    assert root.parent is None and root.error is None
    assert root.attributes["gen_ai.system"] == "az.ai.openai"
    # speech_started at 1000 to the transcription's .completed, 6 deltas after 2301
    assert (turn.parent, turn.start - eventlogs.T0, turn.end - eventlogs.T0) == (
        "session",
        1000,
        2361,
    )
    tool = spans[f"tool:{eventlogs.CALL_ID}"]
    assert tool.parent == f"response:{first}" and tool.name == "execute_tool get_weather"
    assert (tool.start - eventlogs.T0, tool.end - eventlogs.T0) == (2340, 2600)
    assert tool.attributes["gen_ai.tool.call.arguments"] == eventlogs.ARGUMENTS
    reply = spans[f"response:{second}"]
    assert (reply.start - eventlogs.T0, reply.end - eventlogs.T0) == (2700, 3740)
    assert reply.name == "chat gpt-realtime"
    assert (
        reply.attributes
        | {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "azure.ai.openai",
            "gen_ai.request.model": "gpt-realtime",
            "gen_ai.response.id": second,
            "gen_ai.usage.input_tokens": 250,
            "gen_ai.usage.output_tokens": 125,
            "gen_ai.usage.cache_read.input_tokens": 128,
            "voice_lab.usage.input_audio_tokens": 50,
            "voice_lab.usage.output_audio_tokens": 100,
            # from the client's response.create (2630) to the first transcript delta (2890)
            "gen_ai.response.time_to_first_chunk": 0.26,
        }
        == reply.attributes
    )


def test_errors_are_span_events_and_mark_the_span(store):
    """A failed transcription fails its turn; an error event and the failed check, the root."""
    spans = stored_spans(store, eventlogs.transcription_failure_log(), provider="openai")
    turn = next(span for key, span in spans.items() if key.startswith("turn:"))
    assert turn.error == "Audio could not be transcribed."
    assert [(e.name, e.attributes["exception.type"]) for e in turn.events] == [
        ("exception", "audio_unintelligible")
    ]
    spans = stored_spans(store, eventlogs.client_error_log(), provider="openai")
    root = spans["session"]
    assert root.error and root.error.startswith("Error committing input audio buffer")
    assert [e.name for e in root.events] == ["exception", "voice_lab.check.failed"]
    assert root.events[1].attributes["voice_lab.check.name"] == "no errors"


def test_a_response_cut_off_before_its_done_ends_at_its_last_event(store):
    """A log that stops mid-reply: the response spans what it did, the root says it never
    finished."""
    log = eventlogs.voice_turn_log()
    cut = next(e.seq for e in log.events if e.type == "response.done")
    log.events = [e for e in log.events if e.seq < cut]
    spans = stored_spans(store, log, provider="openai")
    (rid,) = log.responses
    response = spans[f"response:{rid}"]
    last = max(e.t for e in log.events if e.response_id == rid and e.direction == "server")
    assert (response.start - eventlogs.T0, response.end) == (2300, last)
    assert "gen_ai.usage.input_tokens" not in response.attributes
    checks = [e.attributes["voice_lab.check.name"] for e in spans["session"].events]
    assert checks == ["responses finish"]


@pytest.mark.parametrize(
    "build",
    [eventlogs.function_call_log, eventlogs.failed_response_log, eventlogs.barge_in_log],
)
@pytest.mark.parametrize("ga", [True, False])
def test_a_pushed_response_is_the_span_the_export_has(build, ga):
    """The live push's span of a response (built alone) equals the export's, errors and all."""
    log = build(ga)
    session = {"id": "s1", "provider": "azure-preview", "model": "gpt-realtime"}
    everything = {span.key: span for span in session_spans(session, log.events)}
    for rid in log.responses:
        assert response_spans(session, log.events, rid) == [everything[f"response:{rid}"]]
    if build is eventlogs.failed_response_log:
        assert everything[f"response:{log.responses[0]}"].error


def test_the_export_reads_back_with_protobufs_parser(app, client, runner):
    """GET export.otlp.jsonl and `export --format otlp`: the same lines, one request each,
    ids derived from the session, parents within the trace, an error status kept."""
    from voice_lab.storage import open_store

    store = open_store(app)
    try:
        sid = store.create_session(provider="openai", model="gpt-realtime")
        log = eventlogs.client_error_log()
        store.insert_events(sid, [EventRow.of(event) for event in log.events])
    finally:
        store.close()
    page = client.get(f"/sessions/{sid}")
    assert f"/sessions/{sid}/export.otlp.jsonl" in page.get_data(as_text=True)
    response = client.get(f"/sessions/{sid}/export.otlp.jsonl")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    lines = response.get_data(as_text=True).splitlines()
    result = runner.invoke(args=["export", sid, "--format", "otlp"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == lines
    (request,) = [from_otlp_json(line) for line in lines]
    (span,) = request.resource_spans[0].scope_spans[0].spans
    assert int.from_bytes(span.trace_id) == trace_id(sid)
    assert int.from_bytes(span.span_id) == span_id(sid, "session")
    assert span.status.code == span.status.STATUS_CODE_ERROR
    assert [e.name for e in span.events] == ["exception", "voice_lab.check.failed"]
    assert span.start_time_unix_nano == int(eventlogs.T0) * 1_000_000
    document = json.loads(lines[0])["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    assert document["traceId"] == f"{trace_id(sid):032x}"  # hex, as OTLP JSON has it


def test_a_bad_endpoint_is_refused_at_start_up(settings):
    """A value that is not an http(s) URL names the variable and the shape it wants."""
    settings["VOICE_LAB_OTLP_ENDPOINT"] = "localhost:4318"
    with pytest.raises(ConfigError, match="VOICE_LAB_OTLP_ENDPOINT.*http://localhost:4318"):
        create_app(settings)


class Receiver(ThreadingHTTPServer):
    """An OTLP/HTTP traces receiver: decodes each request's protobuf and keeps its spans."""

    def __init__(self) -> None:
        self.spans: list = []
        self.paths: list[str] = []
        super().__init__(("127.0.0.1", 0), ReceiverHandler)

    @property
    def url(self) -> str:
        """The base URL, as VOICE_LAB_OTLP_ENDPOINT takes it."""
        return f"http://127.0.0.1:{self.server_address[1]}"


class ReceiverHandler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest.FromString(body)
        self.server.paths.append(self.path)
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                self.server.spans.extend(scope_spans.spans)
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args) -> None:
        """Quiet: the test reads what was received."""


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:
    """A receiver on loopback port 0, and the app's settings pointing at it."""
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings["VOICE_LAB_OTLP_ENDPOINT"] = server.url
    settings["VOICE_LAB_PROVIDER"] = "emulator"
    yield server
    server.shutdown()
    server.server_close()


class RecordedCall(RtcClient):
    """A call that keeps every data-channel message both ways with its time, as mirror.js
    numbers them."""

    def __init__(self) -> None:
        self.log: list[dict] = []
        super().__init__(audio=False)

    def _on_message(self, message: str) -> None:
        self.log.append({"dir": "server", "t": time.time() * 1000, "data": message})
        super()._on_message(message)

    def send(self, event) -> None:
        text = event if isinstance(event, str) else json.dumps(event)
        self.log.append({"dir": "client", "t": time.time() * 1000, "data": text})
        super().send(text)


async def tool_call(session: dict) -> RecordedCall:
    """A typed question answered by a function call, its output sent, and a text reply."""
    call = RecordedCall()
    answer = await call.connect(session["webrtc_url"], session["ephemeral_key"])
    assert answer.status_code == 201, answer.text
    await call.wait_for("session.created")
    call.send(
        {
            "type": "session.update",
            "session": {"type": "realtime", "tools": [WEATHER], "tool_choice": "required"},
        }
    )
    await call.wait_for("session.updated")
    content = [{"type": "input_text", "text": "weather in Paris?"}]
    message = {"type": "message", "role": "user", "content": content}
    call.send({"type": "conversation.item.create", "item": message})
    call.send({"type": "response.create"})
    done = await call.wait_for("response.done")
    output = {"type": "function_call_output", "output": '{"temperature": 18}'}
    output["call_id"] = done["response"]["output"][0]["call_id"]
    call.send({"type": "conversation.item.create", "item": output})
    text_only = {"output_modalities": ["text"], "tool_choice": "none"}
    call.send({"type": "response.create", "response": text_only})
    await call.wait_for("response.done", after=call.index(done) + 1)
    await call.close()
    return call


def test_a_mirrored_call_pushes_its_responses_live(receiver, app, live_server):
    """A real emulator call mirrored over /ws/mirror: each response.done stored reaches the
    receiver as a span of the session's trace, with its usage; nothing waits for it."""
    try:
        pushed_and_exported(receiver, live_server)
    finally:
        app.extensions["voice_lab_otlp"].shutdown()


def pushed_and_exported(receiver: Receiver, live_server) -> None:
    """The call, its mirror, what the receiver got and what the export has."""
    session = mint(live_server)
    call = run(tool_call(session))
    mirror = websocket.create_connection(
        live_server.url.replace("http", "ws", 1) + "/ws/mirror", timeout=5
    )
    try:
        mirror.send(
            json.dumps({"op": "hello", "session": session["id"], "secret": session["write_secret"]})
        )
        assert json.loads(mirror.recv())["op"] == "welcome"
        events = [{"seq": n, **entry} for n, entry in enumerate(call.log, start=1)]
        mirror.send(json.dumps({"op": "events", "events": events}))
        assert json.loads(mirror.recv()) == {"op": "ack", "upto": len(events)}
    finally:
        mirror.close()
    dones = [e for e in call.events if e["type"] == "response.done"]
    until(lambda: len(receiver.spans) >= len(dones), "both responses pushed")
    assert set(receiver.paths) == {"/v1/traces"}
    sid = session["id"]
    by_id = {}
    for span in receiver.spans:
        attributes = {a.key: a.value for a in span.attributes}
        by_id[attributes["gen_ai.response.id"].string_value] = (span, attributes)
    assert set(by_id) == {done["response"]["id"] for done in dones}
    for done in dones:
        span, attributes = by_id[done["response"]["id"]]
        assert int.from_bytes(span.trace_id) == trace_id(sid)
        assert int.from_bytes(span.parent_span_id) == span_id(sid, "session")
        assert attributes["gen_ai.system"].string_value == "openai"
        usage = done["response"]["usage"]
        assert attributes["gen_ai.usage.input_tokens"].int_value == usage["input_tokens"]
        assert attributes["gen_ai.usage.output_tokens"].int_value == usage["output_tokens"]
        assert span.end_time_unix_nano > span.start_time_unix_nano
    response = requests.get(f"{live_server.url}/sessions/{sid}/export.otlp.jsonl", timeout=10)
    (request,) = [from_otlp_json(line) for line in response.text.splitlines()]
    exported = request.resource_spans[0].scope_spans[0].spans
    names = sorted(span.name for span in exported)
    assert names == sorted(
        [
            *(span.name for span in receiver.spans),
            "execute_tool get_weather",
            "user turn",
            f"voice session {sid}",
        ]
    )
    pushed = {bytes(span.span_id) for span in receiver.spans}
    assert pushed <= {bytes(span.span_id) for span in exported}  # the same ids both ways
