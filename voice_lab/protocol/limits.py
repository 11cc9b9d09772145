"""Sliding-window limits per client: how many keys one client may mint, Voice Lab's and the
emulated service's alike."""

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
            hits = self.hits.setdefault(client, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return max(1, int(hits[0] + self.window - now + 0.999))
            hits.append(now)
            return 0
