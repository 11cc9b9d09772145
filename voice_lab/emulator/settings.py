"""Session configuration: the service's defaults, merging updates, and validating them.

The config is kept in the protocol's own shape (GA nested `audio.input/output`, beta flat), so
`session.created` / `session.updated` echo it as the service would. Accessors read either shape.
"""

from __future__ import annotations

import copy
from typing import Any

from ..protocol.names import deep_merge

DEFAULT_VAD = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "create_response": True,
    "interrupt_response": True,
}
GA_FORMAT = {"type": "audio/pcm", "rate": 24000}

GA_KEYS = {
    "type",
    "model",
    "instructions",
    "output_modalities",
    "audio",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "tracing",
    "truncation",
    "prompt",
    "include",
    "id",
    "object",
    "expires_at",
}
GA_AUDIO_KEYS = {
    "input": {"format", "transcription", "noise_reduction", "turn_detection"},
    "output": {"format", "voice", "speed"},
}
BETA_KEYS = {
    "model",
    "modalities",
    "instructions",
    "voice",
    "input_audio_format",
    "output_audio_format",
    "input_audio_transcription",
    "turn_detection",
    "tools",
    "tool_choice",
    "temperature",
    "max_response_output_tokens",
    "speed",
    "tracing",
    "input_audio_noise_reduction",
    "id",
    "object",
    "client_secret",
    "expires_at",
}
VAD_KEYS = {
    "type",
    "threshold",
    "prefix_padding_ms",
    "silence_duration_ms",
    "create_response",
    "interrupt_response",
    "idle_timeout_ms",
    "eagerness",
}


class ConfigProblem(ValueError):
    """A session field the service would reject; `param` names it as the service does."""

    def __init__(self, message: str, param: str, code: str = "invalid_value"):
        super().__init__(message)
        self.param, self.code = param, code


def defaults(protocol: str, session_id: str, model: str, voice: str) -> dict[str, Any]:
    """The effective config of a fresh session, as the service reports it."""
    if protocol == "ga":
        return {
            "type": "realtime",
            "object": "realtime.session",
            "id": session_id,
            "model": model,
            "output_modalities": ["audio"],
            "instructions": "",
            "audio": {
                "input": {
                    "format": dict(GA_FORMAT),
                    "transcription": None,
                    "noise_reduction": None,
                    "turn_detection": dict(DEFAULT_VAD),
                },
                "output": {"format": dict(GA_FORMAT), "voice": voice, "speed": 1.0},
            },
            "tools": [],
            "tool_choice": "auto",
            "max_output_tokens": "inf",
            "tracing": None,
            "truncation": "auto",
            "prompt": None,
            "include": None,
        }
    return {
        "id": session_id,
        "object": "realtime.session",
        "model": model,
        "modalities": ["audio", "text"],
        "instructions": "",
        "voice": voice,
        "input_audio_format": "pcm16",
        "output_audio_format": "pcm16",
        "input_audio_transcription": None,
        "input_audio_noise_reduction": None,
        "turn_detection": dict(DEFAULT_VAD),
        "tools": [],
        "tool_choice": "auto",
        "temperature": 0.8,
        "max_response_output_tokens": "inf",
        "speed": 1.0,
        "tracing": None,
    }


def apply(protocol: str, current: dict[str, Any], update: Any, *, first: bool = False) -> dict:
    """`current` with a client's (or the mint request's) session fields laid over it."""
    if not isinstance(update, dict):
        raise ConfigProblem(
            "Invalid type for 'session': expected an object.", "session", "invalid_type"
        )
    update = copy.deepcopy(update)
    if protocol == "ga":
        _check_ga(update)
    else:
        _check_keys(update, BETA_KEYS, "session")
    for key in ("id", "object", "client_secret", "expires_at"):
        update.pop(key, None)
    if not first and "model" in update and update["model"] != current.get("model"):
        update.pop("model")  # the model of a call never changes; the service ignores it
    vad_path = ("audio", "input", "turn_detection") if protocol == "ga" else ("turn_detection",)
    vad = _get(update, vad_path, missing := object())
    if vad is not missing:
        _set(update, vad_path, _vad(vad, ".".join(("session", *vad_path))))
    merged = deep_merge(current, update)
    if vad is not missing:
        _set(merged, vad_path, _get(update, vad_path))
    return merged


def turn_detection(protocol: str, config: dict[str, Any]) -> dict[str, Any] | None:
    """The effective turn detection, or None when turns are driven by the client."""
    path = ("audio", "input", "turn_detection") if protocol == "ga" else ("turn_detection",)
    vad = _get(config, path)
    return vad if isinstance(vad, dict) and vad.get("type") not in (None, "none") else None


def transcription(protocol: str, config: dict[str, Any]) -> dict[str, Any] | None:
    """The input transcription settings, or None when it is off."""
    path = (
        ("audio", "input", "transcription") if protocol == "ga" else ("input_audio_transcription",)
    )
    value = _get(config, path)
    return value if isinstance(value, dict) else None


def modalities(protocol: str, config: dict[str, Any]) -> list[str]:
    """Output modalities of the session."""
    value = config.get("output_modalities" if protocol == "ga" else "modalities")
    return list(value or ["audio"])


def voice(protocol: str, config: dict[str, Any]) -> str:
    """The voice of the session."""
    if protocol == "ga":
        return str(_get(config, ("audio", "output", "voice")) or "marin")
    return str(config.get("voice") or "verse")


def max_output_tokens(protocol: str, config: dict[str, Any]) -> int | str:
    """The session's cap on output tokens (an int or "inf")."""
    return config.get(
        "max_output_tokens" if protocol == "ga" else "max_response_output_tokens", "inf"
    )


def _check_ga(update: dict[str, Any]) -> None:
    if "type" not in update:
        raise ConfigProblem(
            "Missing required parameter: 'session.type'.",
            "session.type",
            "missing_required_parameter",
        )
    if update.get("type", "realtime") != "realtime":
        raise ConfigProblem(
            "Invalid value: '{}'. The emulator supports only 'realtime' sessions.".format(
                update.get("type")
            ),
            "session.type",
        )
    _check_keys(update, GA_KEYS, "session")
    audio = update.get("audio")
    if audio is None:
        return
    if not isinstance(audio, dict):
        raise ConfigProblem(
            "Invalid type for 'session.audio': expected an object.", "session.audio", "invalid_type"
        )
    _check_keys(audio, set(GA_AUDIO_KEYS), "session.audio")
    for part, keys in GA_AUDIO_KEYS.items():
        if isinstance(audio.get(part), dict):
            _check_keys(audio[part], keys, f"session.audio.{part}")


def _check_keys(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in obj:
        if key not in allowed:
            raise ConfigProblem(
                f"Unknown parameter: '{where}.{key}'.", f"{where}.{key}", "unknown_parameter"
            )


def _vad(value: Any, param: str) -> dict[str, Any] | None:
    """A turn_detection value checked and completed with the service's defaults."""
    if value is None or (isinstance(value, dict) and value.get("type") == "none"):
        return None
    if not isinstance(value, dict):
        raise ConfigProblem(
            f"Invalid type for '{param}': expected an object.", param, "invalid_type"
        )
    _check_keys(value, VAD_KEYS, param)
    kind = value.get("type", "server_vad")
    if kind not in ("server_vad", "semantic_vad"):
        raise ConfigProblem(
            f"Invalid value: '{kind}'. Supported values are: 'server_vad' and 'semantic_vad'.",
            f"{param}.type",
        )
    threshold = value.get("threshold", 0.5)
    if not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise ConfigProblem(
            f"Invalid '{param}.threshold': expected a number between 0 and 1.", f"{param}.threshold"
        )
    for key in ("prefix_padding_ms", "silence_duration_ms", "idle_timeout_ms"):
        number = value.get(key)
        if number is not None and (not isinstance(number, int) or number < 0):
            raise ConfigProblem(
                f"Invalid '{param}.{key}': expected a non-negative integer.", f"{param}.{key}"
            )
    if kind == "semantic_vad":
        return {
            "type": kind,
            "eagerness": value.get("eagerness", "auto"),
            "create_response": value.get("create_response", True),
            "interrupt_response": value.get("interrupt_response", True),
        }
    return {**DEFAULT_VAD, **value, "type": kind}


def _get(obj: Any, path: tuple[str, ...], default: Any = None) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return obj


def _set(obj: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        obj = obj.setdefault(key, {})
    obj[path[-1]] = value
