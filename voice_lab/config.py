"""Settings: one way in, validated once at start-up, every error naming the fix.

The raw values (variables.py) become a flat dict whose keys are the variable names; modules
read it from `current_app.config`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .analysis import cost
from .emulator import ears, scenarios, scripting
from .loopback import is_loopback
from .variables import DEFAULTS

PROVIDERS = ("emulator", "azure", "azure-preview", "openai")
PREVIEW_API_VERSION = "2025-04-01-preview"
PREVIEW_REGIONS = ("eastus2", "swedencentral")

MIN_TOKEN_LENGTH = 16
# The mirror sockets' limits (see web/sockets.py) and what one of their units means.
SOCKET_LIMITS = {
    "VOICE_LAB_SOCKETS_PER_CLIENT": "sockets",
    "VOICE_LAB_SOCKETS": "sockets",
    "VOICE_LAB_SOCKET_READ_AHEAD": "MiB",
    "VOICE_LAB_READ_AHEAD_TOTAL": "MiB",
}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable and the fix."""

    def __init__(self, variable: str, message: str):
        super().__init__(f"{variable}: {message}")
        self.variable = variable


def load(raw: Mapping[str, object]) -> dict[str, object]:
    """Validate raw values into the settings dict, or raise ConfigError naming the fix."""
    values: dict[str, object] = {k: _clean(raw.get(k, default)) for k, default in DEFAULTS.items()}
    cfg = dict(values)
    cfg["AZURE_OPENAI_ENDPOINT"] = _base_url(
        "AZURE_OPENAI_ENDPOINT", values["AZURE_OPENAI_ENDPOINT"], "https://NAME.openai.azure.com"
    )
    if cfg["AZURE_OPENAI_ENDPOINT"]:
        cfg["AZURE_OPENAI_ENDPOINT"] = _strip_openai_path(str(cfg["AZURE_OPENAI_ENDPOINT"]))
    cfg["OPENAI_BASE_URL"] = _base_url(
        "OPENAI_BASE_URL", values["OPENAI_BASE_URL"], "https://api.openai.com/v1"
    )
    cfg["VOICE_LAB_WEBRTC_URL"] = _base_url(
        "VOICE_LAB_WEBRTC_URL", values["VOICE_LAB_WEBRTC_URL"], "https://HOST/v1/realtime/calls"
    )
    cfg["VOICE_LAB_OTLP_ENDPOINT"] = _base_url(
        "VOICE_LAB_OTLP_ENDPOINT", values["VOICE_LAB_OTLP_ENDPOINT"], "http://localhost:4318"
    )
    cfg["VOICE_LAB_PORT"] = _port(values["VOICE_LAB_PORT"])
    cfg["VOICE_LAB_REQUEST_TIMEOUT"] = _seconds(
        "VOICE_LAB_REQUEST_TIMEOUT", values["VOICE_LAB_REQUEST_TIMEOUT"]
    )
    cfg["VOICE_LAB_LIVE_WAIT"] = _seconds(
        "VOICE_LAB_LIVE_WAIT", values["VOICE_LAB_LIVE_WAIT"], low=0
    )
    cfg["VOICE_LAB_SOCKET_IDLE"] = _seconds(
        "VOICE_LAB_SOCKET_IDLE", values["VOICE_LAB_SOCKET_IDLE"], high=3600
    )
    cfg["VOICE_LAB_SESSION_TIMEOUT"] = _seconds(
        "VOICE_LAB_SESSION_TIMEOUT", values["VOICE_LAB_SESSION_TIMEOUT"], high=86400
    )
    for name, unit in SOCKET_LIMITS.items():
        cfg[name] = _count(name, values[name], unit)
    cfg["VOICE_LAB_AZURE_AUTH"] = _azure_auth(cfg)
    cfg["VOICE_LAB_PROVIDER"] = _provider(cfg)
    cfg["VOICE_LAB_EMULATOR"] = _flag(
        "VOICE_LAB_EMULATOR", values["VOICE_LAB_EMULATOR"], cfg["VOICE_LAB_PROVIDER"] == "emulator"
    )
    cfg["VOICE_LAB_RECORDING"] = _flag("VOICE_LAB_RECORDING", values["VOICE_LAB_RECORDING"], True)
    cfg["VOICE_LAB_ASR"] = _flag("VOICE_LAB_ASR", values["VOICE_LAB_ASR"], True)
    _asr_model(cfg["VOICE_LAB_ASR_MODEL"], bool(cfg["VOICE_LAB_ASR"]))
    _scenario(cfg["VOICE_LAB_EMULATOR_SCENARIO"])
    cfg["VOICE_LAB_SCRIPTS_DIR"] = _scripts_dir(values["VOICE_LAB_SCRIPTS_DIR"])
    _script(cfg["VOICE_LAB_EMULATOR_SCRIPT"], Path(str(cfg["VOICE_LAB_SCRIPTS_DIR"])))
    cfg["VOICE_LAB_PRICES"] = _prices(values["VOICE_LAB_PRICES"])
    _choice("VOICE_LAB_EMULATOR_PROTOCOL", cfg["VOICE_LAB_EMULATOR_PROTOCOL"], ("ga", "beta"))
    if cfg["VOICE_LAB_PROVIDER"] == "azure-preview" and not cfg["VOICE_LAB_WEBRTC_URL"]:
        _choice("VOICE_LAB_AZURE_REGION", cfg["VOICE_LAB_AZURE_REGION"], PREVIEW_REGIONS)
    cfg["VOICE_LAB_ALLOWED_ORIGINS"] = _origins(values["VOICE_LAB_ALLOWED_ORIGINS"])
    cfg["VOICE_LAB_MINT_RATE"] = _rate(values["VOICE_LAB_MINT_RATE"])
    cfg["VOICE_LAB_TRUSTED_PROXIES"] = int(
        _number("VOICE_LAB_TRUSTED_PROXIES", values["VOICE_LAB_TRUSTED_PROXIES"], "proxies", 0, 10)
    )
    if values["VOICE_LAB_RETENTION_DAYS"] is not None:
        cfg["VOICE_LAB_RETENTION_DAYS"] = _number(
            "VOICE_LAB_RETENTION_DAYS", values["VOICE_LAB_RETENTION_DAYS"], "days", 0.001, 36500
        )
    host = str(cfg["VOICE_LAB_HOST"])
    _token(cfg["VOICE_LAB_TOKEN"])
    if not is_loopback(host) and not cfg["VOICE_LAB_TOKEN"]:
        raise ConfigError(
            "VOICE_LAB_TOKEN",
            f"is required when VOICE_LAB_HOST is not a loopback "
            f"address (got {host!r}): set a long random token, or bind 127.0.0.1",
        )
    _require_provider(cfg)
    return cfg


def configured_providers(cfg: Mapping[str, object]) -> list[str]:
    """The providers a call can use with these settings, the default first."""
    found = [str(cfg["VOICE_LAB_PROVIDER"])]
    if cfg.get("AZURE_OPENAI_ENDPOINT") and (
        cfg.get("AZURE_OPENAI_API_KEY") or cfg.get("VOICE_LAB_AZURE_AUTH") == "entra"
    ):
        found += ["azure-preview" if _is_preview(cfg) else "azure"]
    if cfg.get("OPENAI_API_KEY"):
        found.append("openai")
    if cfg.get("VOICE_LAB_EMULATOR"):
        found.append("emulator")
    return list(dict.fromkeys(found))


def missing_for(provider: str, cfg: Mapping[str, object]) -> list[str]:
    """The variables a provider still needs; empty when it can mint."""
    needs = {
        "azure": ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY"),
        "azure-preview": ("AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_API_KEY"),
        "openai": ("OPENAI_API_KEY",),
        "emulator": ("VOICE_LAB_EMULATOR",),
    }[provider]
    if cfg.get("VOICE_LAB_AZURE_AUTH") == "entra":  # an Entra ID token instead of the key
        needs = tuple(name for name in needs if name != "AZURE_OPENAI_API_KEY")
    missing = [name for name in needs if not cfg.get(name)]
    if provider.startswith("azure") and not (
        cfg.get("AZURE_OPENAI_REALTIME_DEPLOYMENT") or cfg.get("VOICE_LAB_MODEL")
    ):
        missing.append("AZURE_OPENAI_REALTIME_DEPLOYMENT")
    return missing


def mask(secret: object) -> str:
    """A secret shown as its first and last characters, for logs and the doctor."""
    text = str(secret or "")
    if len(text) < 12:
        return "*" * len(text) or "(not set)"
    return f"{text[:3]}…{text[-2:]} ({len(text)} characters)"


def _clean(value: object) -> object:
    if isinstance(value, str):
        value = value.strip().strip('"').strip("'").strip()
        return value or None
    return value


def _base_url(name: str, value: object, example: str) -> str | None:
    if value is None:
        return None
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(name, f"must be an http(s) URL like {example} (got {value!r})")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), parts.query, ""))


def _strip_openai_path(url: str) -> str:
    """Accept an endpoint pasted with an /openai/... path or query: keep only the base."""
    parts = urlsplit(url)
    path = parts.path
    cut = path.find("/openai")
    if cut != -1 and (path[cut:] == "/openai" or path[cut:].startswith("/openai/")):
        path = path[:cut]
    return urlunsplit((parts.scheme, parts.netloc, path.rstrip("/"), "", ""))


def _port(value: object) -> int:
    try:
        port = int(str(value))
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise ConfigError("VOICE_LAB_PORT", f"must be a port number 0-65535 (got {value!r})")
    return port


def _seconds(name: str, value: object, low: float = 0.001, high: float = 300) -> float:
    try:
        seconds = float(str(value))
    except ValueError:
        seconds = -1.0
    if not low <= seconds <= high:
        raise ConfigError(name, f"must be seconds between {low:g} and {high:g} (got {value!r})")
    return seconds


def _count(name: str, value: object, unit: str) -> float:
    """A positive number of `unit`; MiB may be a fraction, sockets are whole."""
    try:
        number = float(str(value)) if unit == "MiB" else int(str(value))
    except ValueError:
        number = 0
    if not 0 < number <= 1_000_000:
        raise ConfigError(name, f"must be a positive number of {unit} (got {value!r})")
    return number


def _number(name: str, value: object, what: str, low: float, high: float) -> float:
    """A number of `what` between low and high (whole when low is)."""
    try:
        number = int(str(value)) if float(low).is_integer() else float(str(value))
    except ValueError:
        number = low - 1
    if not low <= number <= high:
        raise ConfigError(
            name, f"must be a number of {what} from {low:g} to {high:g} (got {value!r})"
        )
    return number


def _flag(name: str, value: object, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConfigError(name, f"must be on or off (got {value!r})")


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(name, f"must be one of {', '.join(allowed)} (got {value!r})")


def _scenario(value: object) -> None:
    """A scenario name, optionally with seconds: drop_call:2."""
    try:
        scenarios.parse(str(value))
    except ValueError as exc:
        raise ConfigError(
            "VOICE_LAB_EMULATOR_SCENARIO", f"{exc}; seconds go after a colon, like drop_call:2"
        ) from None


def _scripts_dir(value: object) -> str:
    """The folder of emulator scripts: the package's examples unless set."""
    if not value:
        return str(scripting.FOLDER)
    if not Path(str(value)).is_dir():
        raise ConfigError(
            "VOICE_LAB_SCRIPTS_DIR", f"must be a folder of .json or .toml scripts (got {value!r})"
        )
    return str(value)


def _script(value: object, folder: Path) -> None:
    """The app-wide emulator script, a name in the scripts folder or a path, must load."""
    if not value:
        return
    try:
        scripting.find(str(value), folder, paths=True)
    except scripting.ScriptError as exc:
        raise ConfigError(
            "VOICE_LAB_EMULATOR_SCRIPT",
            f"{exc}; fix the script, or name one of the scripts folder or a .json/.toml path",
        ) from None


def _asr_model(value: object, enabled: bool) -> None:
    """A model folder or a faster-whisper model name the emulator's ears can load."""
    try:
        ears.locate(None if value is None else str(value), enabled)
    except ears.EarsProblem as exc:
        raise ConfigError(
            "VOICE_LAB_ASR_MODEL", f"{exc}; or VOICE_LAB_ASR=off for no transcription"
        ) from None


def _prices(value: object) -> cost.PriceTable:
    """The price table: the user's file when VOICE_LAB_PRICES names one, else the shipped one."""
    if value is None:
        return cost.shipped()
    path = Path(str(value))
    if not path.is_file():
        raise ConfigError(
            "VOICE_LAB_PRICES", f"must name a JSON price file (got {value!r}, which is no file)"
        )
    try:
        return cost.parse(path.read_text(encoding="utf-8"), str(value))
    except (cost.PriceError, UnicodeDecodeError) as exc:
        raise ConfigError("VOICE_LAB_PRICES", str(exc)) from None


def _azure_auth(cfg: Mapping[str, object]) -> str:
    """How Azure mints authenticate: `key` (the api-key header) or `entra` (a Microsoft Entra
    ID token); without a choice, the key when one is set."""
    chosen = cfg.get("VOICE_LAB_AZURE_AUTH")
    if chosen is None:
        return "key" if cfg.get("AZURE_OPENAI_API_KEY") else "entra"
    _choice("VOICE_LAB_AZURE_AUTH", str(chosen).lower(), ("key", "entra"))
    return str(chosen).lower()


def _is_preview(cfg: Mapping[str, object]) -> bool:
    return "preview" in str(cfg.get("AZURE_OPENAI_API_VERSION") or "")


def _provider(cfg: Mapping[str, object]) -> str:
    chosen = cfg.get("VOICE_LAB_PROVIDER")
    if chosen:
        _choice("VOICE_LAB_PROVIDER", str(chosen).lower(), PROVIDERS)
        return str(chosen).lower()
    if cfg.get("AZURE_OPENAI_ENDPOINT") or cfg.get("AZURE_OPENAI_API_KEY"):
        return "azure-preview" if _is_preview(cfg) else "azure"
    if cfg.get("OPENAI_API_KEY"):
        return "openai"
    return "emulator"


def _require_provider(cfg: Mapping[str, object]) -> None:
    provider = str(cfg["VOICE_LAB_PROVIDER"])
    missing = missing_for(provider, cfg)
    if missing:
        raise ConfigError(
            missing[0],
            f"is required for the {provider} provider"
            + (f" (also missing: {', '.join(missing[1:])})" if missing[1:] else "")
            + "; set it in .env, envs/.env or the environment",
        )


def _token(value: object) -> None:
    """A token short enough to guess is refused rather than trusted."""
    if value is not None and len(str(value)) < MIN_TOKEN_LENGTH:
        raise ConfigError(
            "VOICE_LAB_TOKEN",
            f"must be at least {MIN_TOKEN_LENGTH} characters (got {len(str(value))}): set a long "
            'random one, like the output of python -c "import secrets; '
            'print(secrets.token_urlsafe(24))"',
        )


def _rate(value: object) -> tuple[int, float]:
    """ "N/SECONDS": at most N mints per SECONDS from one client."""
    count, _, seconds = str(value).partition("/")
    try:
        rate = (int(count), float(seconds))
    except ValueError:
        rate = (0, 0.0)
    if rate[0] < 1 or rate[1] <= 0:
        raise ConfigError(
            "VOICE_LAB_MINT_RATE",
            f"must look like 30/60 (30 keys per 60 s per client) (got {value!r})",
        )
    return rate


def _origins(value: object) -> tuple[str, ...]:
    origins = []
    for item in str(value or "").split(","):
        item = item.strip().rstrip("/")
        if not item:
            continue
        if item != "*":
            parts = urlsplit(item)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path:
                raise ConfigError(
                    "VOICE_LAB_ALLOWED_ORIGINS",
                    f"must be comma-separated origins like https://app.example.com (got {item!r})",
                )
        origins.append(item)
    return tuple(origins)


def random_secret() -> str:
    """A fresh secret for signing cookies when none is configured."""
    return secrets.token_hex(32)
