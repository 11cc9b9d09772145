"""Ephemeral keys the emulator minted, each with its expiry, protocol, session and scenario."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from .scripting import ModelScript

GA_TTL = 600  # seconds: OpenAI's default; Azure's GA TTL is undocumented
BETA_TTL = 60  # the preview keys live about a minute


@dataclass(frozen=True)
class Key:
    """One minted key: what a call started with it will be."""

    value: str
    expires_at: int
    protocol: str  # "ga" or "beta"
    session: dict[str, Any]  # the effective session config, in the protocol's shape
    scenario: str
    script: ModelScript | None = None  # what the emulated model does, turn by turn


class KeyRegistry:
    """Thread-safe store of minted keys; expired ones go when seen or at the next mint."""

    def __init__(self) -> None:
        self._keys: dict[str, Key] = {}
        self._lock = threading.Lock()

    def mint(
        self,
        protocol: str,
        session: dict[str, Any],
        scenario: str,
        ttl: int | None = None,
        script: ModelScript | None = None,
    ) -> Key:
        """A fresh `ek_` key valid for `ttl` seconds (the flavour's default when None)."""
        ttl = ttl if ttl is not None else (GA_TTL if protocol == "ga" else BETA_TTL)
        key = Key(
            "ek_" + secrets.token_hex(16),
            int(time.time()) + ttl,
            protocol,
            session,
            scenario,
            script,
        )
        with self._lock:
            # Keys nobody used are forgotten once expired, so minting never piles them up.
            now = time.time()
            for stale in [k for k, v in self._keys.items() if v.expires_at <= now]:
                del self._keys[stale]
            self._keys[key.value] = key
        return key

    def lookup(self, value: str, now: float | None = None) -> Key | None:
        """The key if known and not expired (expiry only limits starting calls)."""
        now = time.time() if now is None else now
        with self._lock:
            key = self._keys.get(value)
            if key is not None and key.expires_at <= now:
                del self._keys[value]
                return None
            return key
