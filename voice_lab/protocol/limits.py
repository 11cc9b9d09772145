"""Sliding-window limits per client: how many keys one client may mint, Voice Lab's and the
emulated service's alike, and how many wrong access tokens it may offer."""

from __future__ import annotations

import threading
import time
from collections import deque


class RateLimiter:
    """At most `limit` events per `window` seconds for each client, in memory."""

    def __init__(self, limit: int, window: float):
        self.limit, self.window = limit, window
        self.hits: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def retry_after(self, client: str) -> int:
        """0 if the client may go on now (and count it), else seconds until it may."""
        now = time.monotonic()
        with self.lock:
            wait = self._wait(client, now)
            if not wait:
                self.hits.setdefault(client, deque()).append(now)
            return wait

    def waiting(self, client: str) -> int:
        """Seconds until the client may go on (0: now), counting nothing: for limits that
        count only failures, checked before the try and counted after it fails."""
        with self.lock:
            return self._wait(client, time.monotonic())

    def _wait(self, client: str, now: float) -> int:
        hits = self.hits.get(client)
        if not hits:
            return 0
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(1, int(hits[0] + self.window - now + 0.999))
        return 0
