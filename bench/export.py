"""Figure 4: a long session's export streamed by the server, against json.dumps of its rows.

Events/s is the session's size over the download's wall time; the server's peak RSS is read from
/proc after resetting it (clear_refs) just before the download, so it is the export's own peak.
The same download at a tenth of the size shows whether memory grows with the session.
"""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.request
from pathlib import Path

from voice_lab.testing import ServerProcess

from .common import Figure, filled, rss_kib, serving


def reset_peak(server: ServerProcess) -> None:
    """Start the server's peak RSS (VmHWM) again from its current RSS."""
    Path(f"/proc/{server.process.pid}/clear_refs").write_text("5")


def download(server: ServerProcess, session_id: str) -> tuple[float, int, int]:
    """Seconds to stream the export, its bytes, and the server's peak RSS (KiB) meanwhile."""
    with urllib.request.urlopen(f"{server.url}/sessions/{session_id}/export.json?x=warm") as warm:
        warm.read()  # imports and caches what the export uses
    reset_peak(server)
    start = time.perf_counter()
    size = 0
    with urllib.request.urlopen(f"{server.url}/sessions/{session_id}/export.json") as response:
        while chunk := response.read(1 << 16):
            size += len(chunk)
    return time.perf_counter() - start, size, rss_kib(server, "VmHWM")


def dumped(path: Path, session_id: str) -> float:
    """Seconds to SELECT every payload and json.dumps each row, in this process."""
    db = sqlite3.connect(path)
    try:
        start = time.perf_counter()
        rows = db.execute(
            "SELECT seq, direction, t, type, payload FROM events WHERE session_id = ? ORDER BY seq",
            (session_id,),
        )
        for row in rows:
            json.dumps(row)
        return time.perf_counter() - start
    finally:
        db.close()


def measure(count: int) -> tuple[float, float, int, int]:
    """(events/s, baseline events/s, peak RSS KiB during the export, RSS KiB before it)."""
    path, session_id = filled(count)
    with serving(path) as server:
        seconds, _, peak = download(server, session_id)
        before = rss_kib(server)
        seconds = min(seconds, download(server, session_id)[0])
        peak = max(peak, rss_kib(server, "VmHWM"))
    baseline = min(dumped(path, session_id) for _ in range(2))
    return count / seconds, count / baseline, peak, before


def run(quick: bool = False) -> list[Figure]:
    """Export figures: events/s against the baseline, and the server's peak RSS at two sizes."""
    large = 20_000 if quick else 200_000
    small_rate, _, small_peak, _ = measure(large // 10)
    rate, baseline, peak, before = measure(large)
    return [
        Figure(
            "export events/s",
            rate,
            "events/s",
            baseline,
            rate / baseline,
            "ratio >= 0.5",
            f"{large:,} events; {small_rate:,.0f} events/s at {large // 10:,}",
        ),
        Figure(
            "export peak RSS",
            peak / 1024,
            "MiB",
            target="flat with session size",
            note=f"{large:,} events, {before / 1024:.1f} MiB before; "
            f"{small_peak / 1024:.1f} MiB at {large // 10:,}",
        ),
    ]
