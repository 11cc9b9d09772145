"""A service's answer to a mint, read into one MintedKey, or into the MintError that keeps
the service's own status, code and message."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import requests

from .mint_errors import MintError, UpstreamUnreachable
from .protocol.codec import loads
from .protocol.reply import Reply


@dataclass(frozen=True)
class MintedKey:
    """An ephemeral key and where the browser takes it."""

    provider: str
    protocol: str  # "ga" or "beta": which event names the call will speak
    value: str
    expires_at: int
    webrtc_url: str
    model: str
    voice: str
    remote_session_id: str | None

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict."""
        return asdict(self)


def post(url: str, auth: dict[str, str], body: dict, cfg, source: str) -> Reply:
    """POST a mint request; no answer in time, or none at all, is UpstreamUnreachable."""
    try:
        response = requests.post(
            url, json=body, headers=auth, timeout=cfg.get("VOICE_LAB_REQUEST_TIMEOUT", 15)
        )
    except requests.Timeout:
        seconds = cfg.get("VOICE_LAB_REQUEST_TIMEOUT", 15)
        raise UpstreamUnreachable(
            source, f"{source} did not answer within {seconds} s", code="timeout"
        ) from None
    except requests.RequestException as exc:
        raise UpstreamUnreachable(
            source, f"could not reach {source}: {_reason(exc)}", code="unreachable"
        ) from None
    return Reply(response.status_code, response.headers, response.text)


def _reason(exc: requests.RequestException) -> str:
    """The last line of a requests error, which names the cause without a traceback."""
    text = str(exc.args[0] if exc.args else exc)
    return text.rsplit(": ", 1)[-1].strip("')") or type(exc).__name__


def _json(reply: Reply, source: str) -> dict[str, Any]:
    """The reply's JSON object on success, or the service's error as a MintError."""
    try:
        data = loads(reply.text) if reply.text else None
    except ValueError:
        data = None
    if reply.status >= 400:
        error = (data or {}).get("error") if isinstance(data, dict) else None
        if isinstance(error, dict):
            code = error.get("code") or error.get("type")
            message = error.get("message") or str(error)
        else:
            code, message = None, (reply.text.strip()[:300] or f"HTTP {reply.status}")
        raise MintError(
            source,
            message,
            status=reply.status,
            code=code,
            retry_after=reply.headers.get("Retry-After"),
        )
    if not isinstance(data, dict):
        raise MintError(
            source,
            f"{source} answered {reply.status} with a body that is not a JSON object",
            status=reply.status,
            code="invalid_response",
        )
    return data


def from_ga(reply: Reply, provider: str, webrtc_url: str, model: str, voice: str) -> MintedKey:
    """The key of a GA client_secrets answer, with the session it echoes."""
    data = _json(reply, _source(provider))
    given = data.get("session")
    session = given if isinstance(given, dict) else {}
    voice = ((session.get("audio") or {}).get("output") or {}).get("voice") or voice
    return _key(
        data.get("value"),
        data.get("expires_at"),
        provider,
        "ga",
        webrtc_url,
        session.get("model") or model,
        voice,
        session.get("id"),
    )


def from_beta(reply: Reply, provider: str, webrtc_url: str, model: str, voice: str) -> MintedKey:
    """The key of a beta (preview) sessions answer, from its client_secret."""
    data = _json(reply, _source(provider))
    given = data.get("client_secret")
    secret = given if isinstance(given, dict) else {}
    return _key(
        secret.get("value"),
        secret.get("expires_at"),
        provider,
        "beta",
        webrtc_url,
        data.get("model") or model,
        data.get("voice") or voice,
        data.get("id"),
    )


def _key(value, expires_at, provider, protocol, webrtc_url, model, voice, session_id) -> MintedKey:
    if not isinstance(value, str) or not value:
        raise MintError(
            _source(provider),
            f"{_source(provider)} answered without an ephemeral key",
            code="invalid_response",
        )
    if not isinstance(expires_at, int | float):
        expires_at = int(time.time()) + 60
    return MintedKey(
        provider, protocol, value, int(expires_at), webrtc_url, model, voice, session_id
    )


def _source(provider: str) -> str:
    return "azure" if provider.startswith("azure") else provider
