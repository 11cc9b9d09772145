"""Fault scenarios a user can pick per session to see how a client copes with a misbehaving
service. A scenario is a name, optionally with seconds: `slow_response:2.5`, `drop_call:3`."""

from __future__ import annotations

from dataclasses import dataclass

NAMES = (
    "none",
    "mint_429",
    "mint_401",
    "slow_response",
    "response_error",
    "transcription_failed",
    "rate_limit_low",
    "drop_call",
)
DEFAULT_SECONDS = {"slow_response": 3.0, "drop_call": 5.0, "mint_429": 2.0}


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario: its name and its seconds (delay, drop time or Retry-After)."""

    name: str = "none"
    seconds: float = 0.0

    def __str__(self) -> str:
        return self.name if self.name not in DEFAULT_SECONDS else f"{self.name}:{self.seconds:g}"


def parse(text: str | None) -> Scenario:
    """`name` or `name:seconds` into a Scenario; ValueError naming the choices otherwise."""
    name, _, seconds = (text or "none").strip().partition(":")
    name = name or "none"
    if name not in NAMES:
        raise ValueError(f"scenario must be one of {', '.join(NAMES)} (got {name!r})")
    if not seconds:
        return Scenario(name, DEFAULT_SECONDS.get(name, 0.0))
    try:
        value = float(seconds)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 3600:
        raise ValueError(f"scenario seconds must be a number 0-3600 (got {seconds!r})")
    return Scenario(name, value)
