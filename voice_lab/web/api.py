"""The JSON API: mint a key and open a session, end it, read it."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from .. import providers
from ..config import configured_providers
from ..protocol.codec import storable
from ..protocol.redaction import KNOWN_SECRETS, field_text, redact_key
from ..storage import Store, get_store
from .errors import error_reply
from .security import mint_allowed

bp = Blueprint("api", __name__, url_prefix="/api")

# What POST /api/sessions accepts, with the type each field must have.
SESSION_OPTIONS: dict[str, type | tuple[type, ...]] = {
    "provider": str,
    "model": str,
    "voice": str,
    "instructions": str,
    "label": str,
    "session": dict,
    "scenario": str,
    "protocol": str,
    "script": (str, dict),  # a script's name in the scripts folder, or the script itself
    "replay_of": str,  # the session whose recording this call replays
}


@bp.post("/sessions")
def create_session():
    """Mint an ephemeral key from the chosen provider and record the new session."""
    limited = mint_allowed()
    if limited:
        return limited
    body, problem = _options(request.get_json(silent=True), request.get_data())
    if problem:
        return error_reply(400, "invalid_request", problem)
    cfg = current_app.config
    provider = body.pop("provider", None) or cfg["VOICE_LAB_PROVIDER"]
    if provider not in configured_providers(cfg):
        return error_reply(
            400,
            "unknown_provider",
            f"provider must be one of {', '.join(configured_providers(cfg))} (got {provider!r})",
        )
    label = body.pop("label", None)
    replay_of = body.pop("replay_of", None)
    refused = _replay_refusal(get_store(), replay_of)
    if refused:
        return refused
    emulator = current_app.extensions.get("voice_lab_emulator")
    started = time.perf_counter()
    try:
        key = providers.mint(
            provider,
            cfg,
            providers.MintOptions(**body),
            emulator=emulator.mint if emulator else None,
            emulator_base=request.url_root,
            bearer=current_app.extensions["voice_lab_entra"].bearer,
        )
    except providers.MintError as exc:
        current_app.logger.warning(
            "mint failed: provider=%s status=%s code=%s message=%s",
            provider,
            exc.status,
            exc.code,
            exc.message,
        )
        reply = jsonify(exc.body())
        if exc.retry_after is not None:
            reply.headers["Retry-After"] = exc.retry_after
        return reply, exc.http_status
    KNOWN_SECRETS.add(key.value, key.expires_at)  # before the page can mirror or log it
    mint_ms = round((time.perf_counter() - started) * 1000, 1)
    session_id, secret = get_store().create_writable_session(
        provider=provider,
        protocol=key.protocol,
        model=key.model,
        voice=key.voice,
        remote_session_id=key.remote_session_id,
        label=label,
        origin="live",
        key_hint=redact_key(key.value),
        expires_at=key.expires_at,
        replay_of=replay_of,
    )
    current_app.logger.info(
        "session %s: minted %s key %s in %s ms",
        session_id,
        provider,
        redact_key(key.value),
        mint_ms,
    )
    return jsonify(
        {
            "id": session_id,
            "provider": provider,
            "protocol": key.protocol,
            "model": key.model,
            "voice": key.voice,
            "webrtc_url": key.webrtc_url,
            "ephemeral_key": key.value,
            "write_secret": secret,  # the mirror's hello for this session carries it
            "expires_at": key.expires_at,
            "remote_session_id": key.remote_session_id,
            "mint_ms": mint_ms,
        }
    ), 201


@bp.get("/sessions/<session_id>")
def read_session(session_id: str):
    """The stored session row."""
    row = get_store().get_session(session_id)
    if row is None:
        return error_reply(404, "session_not_found", f"no session {session_id!r}")
    return jsonify(row)


@bp.post("/sessions/<session_id>/end")
def end_session(session_id: str):
    """Mark the session ended (the call page calls this on Stop, or by beacon as it goes): only
    with the session's write secret, in the JSON body's "secret" or X-Voice-Lab-Secret."""
    # Read whatever its type: a beacon sends its JSON as text/plain.
    body = request.get_json(silent=True, force=True)
    body = body if isinstance(body, dict) else {}
    store = get_store()
    if store.get_session(session_id) is None:
        return error_reply(404, "session_not_found", f"no session {session_id!r}")
    refused = _write_refusal(
        store, session_id, request.headers.get(SECRET_HEADER, body.get("secret"))
    )
    if refused:
        return refused
    store.end_session(session_id)
    current_app.extensions["voice_lab_preparer"].ask(session_id)  # the recording is complete
    current_app.extensions["voice_lab_broker"].publish()  # its followers see it end
    call_id = body.get("call_id")
    if isinstance(call_id, str):
        store.update_session(session_id, call_id=field_text(call_id))
    return jsonify(store.get_session(session_id))


SECRET_HEADER = "X-Voice-Lab-Secret"


def _write_refusal(store: Store, session_id: str, secret: Any) -> tuple[Response, int] | None:
    """None when `secret` is the session's write secret, else the 403 that says what to send."""
    allowed = store.write_allowed(session_id, secret if isinstance(secret, str) else "")
    if allowed is None:
        return error_reply(
            403,
            "session_read_only",
            f"session {session_id!r} has no write secret (it was imported, or made before write "
            "secrets): it cannot be ended",
        )
    if not isinstance(secret, str) or not secret:
        return error_reply(
            403,
            "secret_required",
            f'ending session {session_id!r} needs its write secret: send {{"secret": '
            f"write_secret}} (the write_secret of POST /api/sessions) or {SECRET_HEADER}",
        )
    if not allowed:
        return error_reply(
            403,
            "wrong_secret",
            f"that is not the write secret of session {session_id!r}: send the write_secret "
            "POST /api/sessions gave for it",
        )
    return None


def _replay_refusal(store: Store, replay_of: str | None) -> tuple[Response, int] | None:
    """None when `replay_of` is absent or names a session with a recording, else the 400 that
    says which session to name."""
    if replay_of is None:
        return None
    if store.get_session(replay_of) is None:
        return error_reply(
            400,
            "invalid_request",
            f"replay_of must be the id of a stored session (there is no session {replay_of!r})",
        )
    if not store.recording_chunk_count(replay_of):
        return error_reply(
            400,
            "invalid_request",
            f"replay_of must be a session with a recording: {replay_of!r} recorded nothing "
            "(replay a call made with recording on)",
        )
    return None


def _options(body: Any, raw: bytes) -> tuple[dict[str, Any], str | None]:
    """The request's options, or a message saying what is wrong with them."""
    if body is None:
        if raw.strip():
            return {}, "the body must be a JSON object (it did not parse as JSON)"
        return {}, None
    if not isinstance(body, dict):
        return {}, 'the body must be a JSON object like {"voice": "marin"}'
    unknown = sorted(set(body) - set(SESSION_OPTIONS))
    if unknown:
        return {}, f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(SESSION_OPTIONS)}"
    for name, kind in SESSION_OPTIONS.items():
        if body.get(name) is not None and not isinstance(body[name], kind):
            wanted: dict[type, str] = {str: "a string", dict: "a JSON object"}
            kinds = kind if isinstance(kind, tuple) else (kind,)
            return {}, f"{name} must be {' or '.join(wanted[k] for k in kinds)}"
    if body.get("protocol") not in (None, "", "ga", "beta"):
        return {}, f"protocol must be ga or beta (got {body['protocol']!r})"
    # Text that SQLite cannot store (a lone surrogate) is kept as its escape, as events are.
    return {
        k: storable(v) if isinstance(v, str) else v for k, v in body.items() if v not in (None, "")
    }, None
