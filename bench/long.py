"""Figure 3: a long session's pages, filter, next window and panels, against their raw SQL.

Each request is timed to its first byte (status and headers) and to its last, best of a few
tries on a noisy host; the baseline is the SQL that fetches the same rows, on its own connection.
The same figures at a tenth of the size show how they grow with the session.
"""

from __future__ import annotations

import http.client
import sqlite3
import time
from urllib.parse import urlsplit

from voice_lab.testing import ServerProcess

from .common import Figure, best_of, filled, serving

TRIES = 5
TIMELINE = {"HX-Request": "true", "HX-Target": "timeline"}
WINDOW = 301  # web.session.WINDOW + 1: how many rows a window asks for
TARGETS = {"page": 300, "filter": 100, "next page": 300, "panels": 200}


def timed(server: ServerProcess, path: str, headers: dict | None = None) -> tuple[float, float]:
    """Seconds to the first byte and to the last of one GET, on a new connection."""
    url = urlsplit(server.url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
    try:
        start = time.perf_counter()
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        first = time.perf_counter() - start
        response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}")
        return first, time.perf_counter() - start
    finally:
        connection.close()


def requests(session_id: str, count: int) -> dict[str, tuple[str, dict, str, tuple]]:
    """What each figure asks the server, and the raw SQL for the same rows."""
    rows = "SELECT * FROM events WHERE session_id = ?1 AND seq > ?2 "
    middle = count // 2
    # The panels read their saved fold and the events stored after it (panel_state.current).
    panels = (
        "SELECT state, (SELECT count(*) FROM events WHERE session_id = ?1 AND seq > upto_seq) "
        "FROM panel_states WHERE session_id = ?1"
    )
    page = f"/sessions/{session_id}"
    return {
        "page": (page, {}, rows + "ORDER BY seq LIMIT ?3", (session_id, 0, WINDOW)),
        "filter": (
            page + "?cat=response&dir=server",
            TIMELINE,
            rows + "AND category = 'response' AND direction = 'server' ORDER BY seq LIMIT ?3",
            (session_id, 0, WINDOW),
        ),
        "next page": (
            f"{page}/window?after={middle}",
            {"HX-Request": "true"},
            rows + "ORDER BY seq LIMIT ?3",
            (session_id, middle, WINDOW),
        ),
        "panels": (f"{page}/panels", {"HX-Request": "true"}, panels, (session_id,)),
    }


def measure(count: int) -> dict[str, tuple[float, float, float, float]]:
    """For each request at this session size: (first byte, complete, raw SQL, first look) in
    ms; the first look is the first request of all, before any cache holds its answer (the
    panels keep their last rendering until the session changes)."""
    path, session_id = filled(count)
    out = {}
    with serving(path) as server:
        db = sqlite3.connect(path)
        try:
            for name, (url, headers, sql, params) in requests(session_id, count).items():
                cold = timed(server, url, headers)[1] * 1000  # then warm, as a second look is
                tries = [timed(server, url, headers) for _ in range(TRIES)]
                first = min(t[0] for t in tries) * 1000
                total = min(t[1] for t in tries) * 1000
                raw = best_of(TRIES, lambda s=sql, p=params: db.execute(s, p).fetchall()) * 1000
                out[name] = (first, total, raw, cold)
        finally:
            db.close()
    return out


def run(quick: bool = False) -> list[Figure]:
    """Long-session figures: each request's first byte and completion, and their growth."""
    large = 20_000 if quick else 200_000
    small, big = measure(large // 10), measure(large)
    figures = []
    for name, (first, total, raw, _) in big.items():
        growth = total / small[name][1]
        figures.append(
            Figure(
                f"long {name} complete",
                total,
                "ms",
                raw,
                total / raw,
                f"<= {TARGETS[name]} ms",
                f"{large:,} events; first byte {first:.1f} ms; x{growth:.2f} from {large // 10:,}",
            )
        )
    _, _, raw, cold = big["panels"]
    figures.append(
        Figure(
            "long panels first look",
            cold,
            "ms",
            raw,
            cold / raw,
            f"<= {TARGETS['panels']} ms",
            f"{large:,} events; x{cold / small['panels'][3]:.2f} from {large // 10:,}",
        )
    )
    return figures
