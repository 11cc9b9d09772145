"""Voice Lab's JSON error envelope: `{"error": {"source": "voice-lab", "code", "message"}}`.

Every JSON refusal of our own (the API, the guard, the mint limit, the mirror's handshake) is
built here, so a client reads them all one way. An upstream service's error keeps its own
source (mint_errors.MintError), and the mirror protocol answers on the socket with its own
`{"op": "error"}` frame (ingest.frames.MirrorError).
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify


def error_reply(status: int, code: str, message: str, **extra: Any) -> tuple[Response, int]:
    """A JSON error reply that says what to fix; `extra` adds fields (retry_after)."""
    body = {"source": "voice-lab", "code": code, "message": message, **extra}
    return jsonify({"error": body}), status
