"""Minting ephemeral keys: one function per service flavour, one normalized result.

Each function sends exactly the request of the service (docs/protocol.md, "Three service
flavours") with the server's API key, and returns a MintedKey. Failures become MintError
subclasses (mint_errors.py) that keep the service's own status, code and message, so the
browser can show them as the service said them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .azure_auth import EntraError
from .config import PREVIEW_API_VERSION, missing_for
from .mint_errors import BadRequest, MintError, NotConfigured
from .mint_reply import MintedKey, from_beta, from_ga, post
from .protocol.names import deep_merge
from .protocol.reply import Reply

GA_VOICE = "marin"
BETA_VOICE = "verse"
DEFAULT_MODEL = "gpt-realtime"


@dataclass(frozen=True)
class MintOptions:
    """What the caller may choose per session; None takes the configured default."""

    model: str | None = None
    voice: str | None = None
    instructions: str | None = None
    session: Mapping[str, Any] | None = None  # extra session fields in the flavour's own shape
    scenario: str | None = None  # emulator only
    script: str | Mapping[str, Any] | None = None  # emulator only: a script's name, or inline
    protocol: str | None = None  # emulator only: "ga" or "beta"


def mint(
    provider: str,
    cfg: Mapping[str, Any],
    options: MintOptions,
    *,
    emulator: Callable[..., Reply] | None = None,
    emulator_base: str = "",
    bearer: Callable[[], str] | None = None,
) -> MintedKey:
    """Mint a key from `provider`; `emulator` is the in-process emulator's mint function and
    `bearer` gives the Microsoft Entra ID token Azure mints send when VOICE_LAB_AZURE_AUTH is
    entra (azure_auth.EntraToken.bearer)."""
    missing = missing_for(provider, cfg)
    if missing:
        raise NotConfigured(
            "config",
            f"{', '.join(missing)} must be set to use the {provider} "
            "provider (in .env, envs/.env or the environment)",
            code="not_configured",
        )
    if provider == "azure":
        return mint_azure(cfg, options, bearer)
    if provider == "azure-preview":
        return mint_azure_preview(cfg, options, bearer)
    if provider == "openai":
        return mint_openai(cfg, options)
    if emulator is None:
        raise NotConfigured(
            "config",
            "the emulator is not running: set VOICE_LAB_EMULATOR=on",
            code="not_configured",
        )
    return mint_emulator(cfg, options, emulator, emulator_base)


def mint_azure(
    cfg: Mapping[str, Any], options: MintOptions, bearer: Callable[[], str] | None = None
) -> MintedKey:
    """Azure OpenAI GA (v1): client_secrets with the api-key header (or an Entra ID token),
    no api-version."""
    endpoint = cfg["AZURE_OPENAI_ENDPOINT"]
    model = default_model(cfg, "azure", options.model)
    voice = default_voice(cfg, "ga", options.voice)
    reply = post(
        f"{endpoint}/openai/v1/realtime/client_secrets",
        _azure_auth(cfg, bearer),
        {"session": _ga_session(cfg, options, model, voice)},
        cfg,
        "azure",
    )
    webrtc_url = cfg.get("VOICE_LAB_WEBRTC_URL") or f"{endpoint}/openai/v1/realtime/calls"
    return from_ga(reply, "azure", webrtc_url, model, voice)


def mint_azure_preview(
    cfg: Mapping[str, Any], options: MintOptions, bearer: Callable[[], str] | None = None
) -> MintedKey:
    """Azure OpenAI 2025-04-01-preview: realtimeapi/sessions, WebRTC on the regional host."""
    endpoint = cfg["AZURE_OPENAI_ENDPOINT"]
    version = cfg.get("AZURE_OPENAI_API_VERSION") or PREVIEW_API_VERSION
    model = default_model(cfg, "azure", options.model)
    voice = default_voice(cfg, "beta", options.voice)
    reply = post(
        f"{endpoint}/openai/realtimeapi/sessions?api-version={quote(version)}",
        _azure_auth(cfg, bearer),
        _beta_session(cfg, options, model, voice),
        cfg,
        "azure",
    )
    webrtc_url = cfg.get("VOICE_LAB_WEBRTC_URL") or (
        f"https://{cfg['VOICE_LAB_AZURE_REGION']}.realtimeapi-preview.ai.azure.com"
        f"/v1/realtimertc?model={quote(model)}"
    )
    return from_beta(reply, "azure-preview", webrtc_url, model, voice)


def _azure_auth(cfg: Mapping[str, Any], bearer: Callable[[], str] | None) -> dict[str, str]:
    """The header an Azure mint authenticates with: the API key, or an Entra ID token."""
    if cfg.get("VOICE_LAB_AZURE_AUTH") != "entra":
        return {"api-key": cfg["AZURE_OPENAI_API_KEY"]}
    if bearer is None:
        raise NotConfigured(
            "config",
            "VOICE_LAB_AZURE_AUTH=entra needs the app's token source",
            code="not_configured",
        )
    try:
        return {"Authorization": f"Bearer {bearer()}"}
    except EntraError as exc:
        raise MintError("entra", str(exc), code="entra_token_failed") from None


def mint_openai(cfg: Mapping[str, Any], options: MintOptions) -> MintedKey:
    """OpenAI GA: client_secrets with a bearer key; the call URL takes no model."""
    base = cfg["OPENAI_BASE_URL"]
    model = default_model(cfg, "openai", options.model)
    voice = default_voice(cfg, "ga", options.voice)
    body = {
        "expires_after": {"anchor": "created_at", "seconds": 600},
        "session": _ga_session(cfg, options, model, voice),
    }
    reply = post(
        f"{base}/realtime/client_secrets",
        {"Authorization": f"Bearer {cfg['OPENAI_API_KEY']}"},
        body,
        cfg,
        "openai",
    )
    webrtc_url = cfg.get("VOICE_LAB_WEBRTC_URL") or f"{base}/realtime/calls"
    return from_ga(reply, "openai", webrtc_url, model, voice)


def mint_emulator(
    cfg: Mapping[str, Any], options: MintOptions, emulator: Callable[..., Reply], base: str
) -> MintedKey:
    """The embedded emulator, in-process, answering exactly as a GA or preview service."""
    protocol = options.protocol or cfg.get("VOICE_LAB_EMULATOR_PROTOCOL") or "ga"
    if protocol not in ("ga", "beta"):
        raise MintError(
            "request",
            f"protocol must be ga or beta (got {protocol!r})",
            status=400,
            code="invalid_protocol",
        )
    scenario = options.scenario or cfg.get("VOICE_LAB_EMULATOR_SCENARIO") or "none"
    model = default_model(cfg, "openai", options.model)
    base = base.rstrip("/")
    script = {"script": options.script} if options.script else {}
    if protocol == "beta":
        voice = default_voice(cfg, "beta", options.voice)
        reply = emulator("beta", {**_beta_session(cfg, options, model, voice), **script}, scenario)
        _check_script(reply)
        url = f"{base}/emulator/v1/realtimertc?model={quote(model)}"
        return from_beta(reply, "emulator", url, model, voice)
    voice = default_voice(cfg, "ga", options.voice)
    session = {"session": _ga_session(cfg, options, model, voice), **script}
    reply = emulator("ga", session, scenario)
    _check_script(reply)
    return from_ga(reply, "emulator", f"{base}/emulator/openai/v1/realtime/calls", model, voice)


def _check_script(reply: Reply) -> None:
    """A script the emulator refused is the caller's mistake (400), not the service's."""
    if reply.status != 400:
        return
    error = json.loads(reply.text).get("error") or {}
    if error.get("param") == "script":
        raise BadRequest("request", str(error.get("message")), status=400, code="invalid_script")


def default_model(cfg: Mapping[str, Any], provider: str, chosen: str | None = None) -> str:
    """The model a session gets: the caller's, VOICE_LAB_MODEL, Azure's deployment, else ours."""
    configured = cfg.get("VOICE_LAB_MODEL")
    if provider.startswith("azure"):
        configured = configured or cfg.get("AZURE_OPENAI_REALTIME_DEPLOYMENT")
    return chosen or configured or DEFAULT_MODEL


def default_voice(cfg: Mapping[str, Any], protocol: str, chosen: str | None = None) -> str:
    """The voice a session gets: the caller's, VOICE_LAB_VOICE, else the protocol's usual one."""
    return chosen or cfg.get("VOICE_LAB_VOICE") or (BETA_VOICE if protocol == "beta" else GA_VOICE)


def _ga_session(cfg, options: MintOptions, model: str, voice: str) -> dict[str, Any]:
    session = {
        "type": "realtime",
        "model": model,
        "instructions": options.instructions or cfg.get("VOICE_LAB_INSTRUCTIONS"),
        "audio": {"output": {"voice": voice}},
    }
    return deep_merge(session, options.session or {})


def _beta_session(cfg, options: MintOptions, model: str, voice: str) -> dict[str, Any]:
    session = {
        "model": model,
        "voice": voice,
        "instructions": options.instructions or cfg.get("VOICE_LAB_INSTRUCTIONS"),
    }
    return deep_merge(session, options.session or {})
