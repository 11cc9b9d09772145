"""The websocket route of the mirror, `/ws/mirror`: a thin loop around `Mirror`, the checks
before its handshake, and the middleware that ends a finished socket quietly."""

from __future__ import annotations

import json

from flask import Blueprint, current_app, request
from flask_sock import Sock

from ..ingest.frames import MirrorError
from ..ingest.mirror import Mirror
from ..storage import open_store
from .errors import error_reply
from .security import origin_allowed
from .sockets import IDLE_CLOSE, MESSAGE_LIMIT, TOO_MANY_CLOSE, Gate, Metered

RECEIVE_BYTES = 1 << 16  # what the reader asks of the socket at a time
# simple-websocket's own ceiling, past ours by a read or two: Metered closes a socket over
# MESSAGE_LIMIT (with a reason that names it) at its next read, before this is reached.
SOCKET_MESSAGE_LIMIT = MESSAGE_LIMIT + 4 * RECEIVE_BYTES
READ_AHEAD = 32  # frames a socket takes before it answers the first

sock = Sock()
bp = Blueprint("mirror", __name__)


@bp.before_request
def check_origin():
    """Refuse the websocket handshake from a page on an origin nobody allowed."""
    origin = request.headers.get("Origin")
    if not origin_allowed(origin, request.host, current_app.config["VOICE_LAB_ALLOWED_ORIGINS"]):
        return error_reply(
            403,
            "origin_not_allowed",
            f"{origin} may not mirror here: add it to VOICE_LAB_ALLOWED_ORIGINS",
        )
    return None


@bp.before_request
def meter_socket():
    """Put the connection's socket behind the app's gate before simple-websocket reads it."""
    for key in ("werkzeug.socket", "gunicorn.socket"):
        if key in request.environ:
            gate = current_app.extensions["voice_lab_sockets"]
            request.environ[key] = gate.meter(request.environ[key])


@sock.route("/ws/mirror", bp=bp)
def mirror_socket(ws) -> None:
    """Receive frames until the browser goes away or falls idle, answering each one in turn;
    refuse the socket when its client (or everyone) has too many open."""
    gate: Gate = current_app.extensions["voice_lab_sockets"]
    metered: Metered = ws.sock
    client = request.remote_addr or "unknown"
    refused = gate.admit(client)
    try:
        if refused:
            ws.send(json.dumps(MirrorError("too_many_sockets", refused).frame()))
            ws.close(TOO_MANY_CLOSE, refused)
            return
        gate.open(metered, ws)
        try:
            _serve(ws, metered, current_app.config["VOICE_LAB_SOCKET_IDLE"])
        finally:
            gate.leave(client)
    finally:
        gate.close(metered)
        request.environ[SOCKET_DONE] = True


def _serve(ws, metered: Metered, idle: float) -> None:
    """The socket loop: take what is read, reply in order; close after `idle` quiet seconds."""
    store = open_store()
    mirror = Mirror(
        store,
        current_app.extensions["voice_lab_broker"].publish,
        recording=current_app.config["VOICE_LAB_RECORDING"],
        on_response_done=_live_push(),
        on_recorded=current_app.extensions["voice_lab_preparer"].ask,
    )
    try:
        while True:
            if not mirror.unanswered:
                text = ws.receive(timeout=idle)  # wait for the next frame
                if text is None:
                    if ws.connected:  # idle, not gone: mirror.js reconnects when it records
                        ws.close(IDLE_CLOSE, f"idle for {idle:g} s: reconnect to send more")
                    return
            elif mirror.unanswered >= READ_AHEAD or (text := ws.receive(timeout=0)) is None:
                ws.send(json.dumps(mirror.reply()))
                metered.answered()  # its bytes are free: the reader may read more
                mirror.fold_stored()  # the ack is out: fold while the browser sends more
                continue
            metered.took(text)  # read already: its batch joins those in flight
            mirror.take(text)
    finally:
        try:
            mirror.settle()  # nothing queued outlives the socket's store
            mirror.close()
        finally:
            store.close()


def _live_push():
    """What the mirror tells of each finished response: the live OTLP push, when it is on."""
    push = current_app.extensions.get("voice_lab_otlp")
    return push.response_done if push is not None else None


SOCKET_DONE = "voice_lab.websocket_done"


class QuietSocketEnd:
    """WSGI middleware: after a websocket ends, write no HTTP response on its connection.

    Under werkzeug, flask-sock returns a response once the socket closes, and werkzeug writes
    its status line onto the finished websocket, which browsers report as an invalid frame.
    Ending the response as a dropped connection makes werkzeug write nothing.
    """

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        result = self.wsgi_app(environ, start_response)
        if environ.get(SOCKET_DONE) and "werkzeug.socket" in environ:
            return _dropped(result)
        return result


def _dropped(result):
    close = getattr(result, "close", None)
    if close is not None:
        close()
    raise ConnectionAbortedError("websocket closed")
    yield  # a generator, so werkzeug meets the error while writing, where it expects it


def init_app(app) -> None:
    """Register the websocket route with a message limit above our own frame limit."""
    app.config.setdefault(
        "SOCK_SERVER_OPTIONS",
        {
            "max_message_size": SOCKET_MESSAGE_LIMIT,
            "ping_interval": 25,
            "receive_bytes": RECEIVE_BYTES,
        },
    )
    app.extensions["voice_lab_sockets"] = Gate.from_config(app.config)
    app.register_blueprint(bp)
    sock.init_app(app)
    app.wsgi_app = QuietSocketEnd(app.wsgi_app)
