"""An HTTP answer from a realtime service: what providers read and the emulator writes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Reply:
    """An HTTP answer from a service (or the emulator, which answers the same way)."""

    status: int
    headers: Mapping[str, str]
    text: str
