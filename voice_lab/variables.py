"""Every variable Voice Lab reads, its default, and where its raw value comes from.

Values come from `.env` or `envs/.env` (the notebook's place), then the process environment,
which wins; config.py validates them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

# Every variable Voice Lab reads, with its default (None: unset).
DEFAULTS: dict[str, str | None] = {
    "AZURE_OPENAI_ENDPOINT": None,
    "AZURE_OPENAI_API_KEY": None,
    "AZURE_OPENAI_REALTIME_DEPLOYMENT": None,
    "AZURE_OPENAI_API_VERSION": None,
    "OPENAI_API_KEY": None,
    "OPENAI_BASE_URL": "https://api.openai.com/v1",
    "VOICE_LAB_PROVIDER": None,
    "VOICE_LAB_AZURE_AUTH": None,
    "VOICE_LAB_AZURE_REGION": "eastus2",
    "VOICE_LAB_WEBRTC_URL": None,
    "VOICE_LAB_MODEL": None,
    "VOICE_LAB_VOICE": None,
    "VOICE_LAB_INSTRUCTIONS": "You are a helpful assistant. Keep answers short.",
    "VOICE_LAB_DATABASE": None,
    "VOICE_LAB_FILES": None,  # with a server database, the folder of the recordings' files
    "VOICE_LAB_HOST": "127.0.0.1",
    "VOICE_LAB_PORT": "5000",
    "VOICE_LAB_EMULATOR": None,
    "VOICE_LAB_EMULATOR_SCENARIO": "none",
    "VOICE_LAB_EMULATOR_SCRIPT": None,
    "VOICE_LAB_SCRIPTS_DIR": None,
    "VOICE_LAB_EMULATOR_PROTOCOL": "ga",
    "VOICE_LAB_EMULATOR_API_KEY": None,
    "VOICE_LAB_ALLOWED_ORIGINS": "",
    "VOICE_LAB_REQUEST_TIMEOUT": "15",
    "VOICE_LAB_TOKEN": None,
    "VOICE_LAB_MINT_RATE": "30/60",
    "VOICE_LAB_LIVE_WAIT": "10",
    "VOICE_LAB_SOCKET_IDLE": "120",
    "VOICE_LAB_SESSION_TIMEOUT": "300",
    "VOICE_LAB_SOCKETS_PER_CLIENT": "32",
    "VOICE_LAB_SOCKETS": "256",
    "VOICE_LAB_SOCKET_READ_AHEAD": "4",
    "VOICE_LAB_READ_AHEAD_TOTAL": "32",
    "VOICE_LAB_RECORDING": "on",
    "VOICE_LAB_ASR": "on",
    "VOICE_LAB_ASR_MODEL": None,
    "VOICE_LAB_OTLP_ENDPOINT": None,
    "VOICE_LAB_PRICES": None,
    "VOICE_LAB_TRUSTED_PROXIES": "0",  # proxies in front whose X-Forwarded-For is believed
    "VOICE_LAB_RETENTION_DAYS": None,  # sessions older than this are deleted (None: kept)
}


def gather(environ: Mapping[str, str], search_dir: Path) -> dict[str, str]:
    """Raw values from .env, then envs/.env, then the environment (later wins)."""
    raw: dict[str, str] = {}
    for path in (search_dir / ".env", search_dir / "envs" / ".env"):
        if path.is_file():
            raw.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    raw.update({k: v for k, v in environ.items() if k in DEFAULTS})
    return raw


def gather_environment() -> dict[str, str]:
    """Raw values for a real run: .env files in the working directory, then the environment."""
    return gather(os.environ, Path.cwd())
