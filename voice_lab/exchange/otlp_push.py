"""The live push: each response the mirror stores as done is sent as a span to the OTLP/HTTP
endpoint VOICE_LAB_OTLP_ENDPOINT names, through the SDK's BatchSpanProcessor and
OTLPSpanExporter (HTTP/protobuf).

Nothing here may slow the mirror: `response_done` only queues the ids; a thread of its own
reads the session back and builds the span, and the processor's own thread sends it. An
endpoint that is down costs a log line from the exporter, never an ack.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict

from flask import Flask
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from ..analysis.spans import response_spans
from ..protocol.record import from_row
from ..storage import open_store
from .otlp import readable_spans

TRACES_PATH = "/v1/traces"
SEND_EVERY_MS = 1000  # the processor's batching delay: a response shows up within a second
REMEMBERED = 4096  # responses remembered as pushed, so a batch the browser resends is not

logger = logging.getLogger(__name__)


def traces_url(endpoint: str) -> str:
    """The traces URL of an OTLP/HTTP endpoint given as its base (http://HOST:4318) or whole."""
    return endpoint if endpoint.endswith(TRACES_PATH) else endpoint.rstrip("/") + TRACES_PATH


class LivePush:
    """Sends finished responses of an app's sessions to one OTLP/HTTP endpoint."""

    def __init__(self, app: Flask, endpoint: str):
        self.app = app
        self.processor = BatchSpanProcessor(
            OTLPSpanExporter(endpoint=traces_url(endpoint)), schedule_delay_millis=SEND_EVERY_MS
        )
        self._queue: queue.SimpleQueue[tuple[str, str] | None] = queue.SimpleQueue()
        self._pushed: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._thread = threading.Thread(target=self._run, name="voice-lab-otlp", daemon=True)
        self._thread.start()

    def response_done(self, session_id: str, response_id: str) -> None:
        """Push this response's span soon (returns at once)."""
        self._queue.put((session_id, response_id))

    def shutdown(self) -> None:
        """Send what is queued and stop."""
        self._queue.put(None)
        self._thread.join()
        self.processor.shutdown()

    def _run(self) -> None:
        store = open_store(self.app)
        try:
            while (ids := self._queue.get()) is not None:
                if ids in self._pushed:
                    continue
                try:
                    self._push(store, *ids)
                except Exception:  # one response that cannot be read stops nothing else
                    logger.exception("response %s of session %s not pushed", ids[1], ids[0])
                self._pushed[ids] = None
                if len(self._pushed) > REMEMBERED:
                    self._pushed.popitem(last=False)
        finally:
            store.close()

    def _push(self, store, session_id: str, response_id: str) -> None:
        session = store.get_session(session_id)
        if session is None:
            return
        events = [from_row(row) for row in store.iter_events(session_id)]
        for span in readable_spans(session_id, response_spans(session, events, response_id)):
            self.processor.on_end(span)


def init_app(app: Flask) -> None:
    """Start the live push when VOICE_LAB_OTLP_ENDPOINT is set."""
    endpoint = app.config.get("VOICE_LAB_OTLP_ENDPOINT")
    if endpoint:
        app.extensions["voice_lab_otlp"] = LivePush(app, str(endpoint))
