"""Figure 1: ingest over the mirror protocol, against executemany in the same run.

N clients, each on its own real websocket and its own session, send a realistic call's events in
pre-serialized frames of BATCH events (mirror.js coalesces what a 5 ms burst records) and keep up
to WINDOW frames unacked, as mirror.js does when it does not wait for acks. Ack latency is from
a frame's send to the ack that covers its last seq.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque

import websocket

from voice_lab.analysis.metrics import percentile
from voice_lab.storage.sqlite import SQLiteStore
from voice_lab.testing import ServerProcess
from voice_lab.testing.workers import Gunicorn

from .common import Figure, event_rows, in_ms, scratch, serving, session_log, wire_events

CLIENTS = 8
BATCH = 20
WINDOW = 4


def frames(count: int) -> list[tuple[str, int]]:
    """A call's events as mirror frames, each with the last seq it carries."""
    events = wire_events(session_log(count))
    out = []
    for start in range(0, len(events), BATCH):
        batch = events[start : start + BATCH]
        text = ",".join(json.dumps(e, ensure_ascii=False) for e in batch)
        out.append((f'{{"op":"events","events":[{text}]}}', batch[-1]["seq"]))
    return out


def client(url: str, work: list[tuple[str, int]], start: threading.Barrier, out: list) -> None:
    """One browser's mirror: hello with create, then every frame, pipelined up to WINDOW."""
    ws = websocket.create_connection(url.replace("http", "ws", 1) + "/ws/mirror", timeout=60)
    try:
        ws.send(json.dumps({"op": "hello", "create": {"label": "bench", "provider": "emulator"}}))
        assert json.loads(ws.recv())["op"] == "welcome"
        latencies: list[float] = []
        inflight: deque[tuple[int, float]] = deque()

        def receive() -> None:
            reply = json.loads(ws.recv())
            if reply.get("op") != "ack":
                raise RuntimeError(f"the server refused a batch: {reply}")
            now = time.perf_counter()
            while inflight and inflight[0][0] <= reply["upto"]:
                latencies.append(now - inflight.popleft()[1])

        start.wait()
        for text, last in work:
            while len(inflight) >= WINDOW:
                receive()
            inflight.append((last, time.perf_counter()))
            ws.send(text)
        while inflight:
            receive()
        out.append((time.perf_counter(), latencies))
    finally:
        ws.close()


def over_websockets(server: ServerProcess | Gunicorn, work: list[tuple[str, int]], clients: int):
    """Events/s stored and acked for `clients` concurrent mirrors, and every ack latency."""
    start = threading.Barrier(clients + 1)
    results: list = []
    threads = [
        threading.Thread(target=client, args=(server.url, work, start, results), daemon=True)
        for _ in range(clients)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join(300)
    if len(results) != clients:
        raise RuntimeError("a mirror client failed: see its traceback above")
    elapsed = max(done for done, _ in results) - began
    latencies = [lat for _, lats in results for lat in lats]
    return clients * work[-1][1] / elapsed, latencies


def executemany(path, count: int, clients: int) -> float:
    """Events/s for the same rows written with executemany, one transaction per batch."""
    store = SQLiteStore(path)  # the store's schema and PRAGMAs, none of its code
    try:
        store.migrate()
        rows = event_rows(session_log(count))
        db = store.db
        sessions = [f"bench_{n}" for n in range(clients)]
        for sid in sessions:
            db.execute("INSERT INTO sessions (id, created_at, provider) VALUES (?, 0, 'x')", (sid,))
        began = time.perf_counter()
        for start in range(0, len(rows), BATCH):
            for sid in sessions:
                now = time.time()
                db.execute("BEGIN IMMEDIATE")
                db.executemany(
                    "INSERT INTO events (session_id, seq, direction, t, received_at, type, "
                    "category, response_id, item_id, payload) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [
                        (sid, r.seq, r.direction, r.t, now, r.type, r.category)
                        + (r.response_id, r.item_id, r.payload)
                        for r in rows[start : start + BATCH]
                    ],
                )
                db.execute("COMMIT")
        return clients * len(rows) / (time.perf_counter() - began)
    finally:
        store.close()


def run(quick: bool = False) -> list[Figure]:
    """Ingest figures: events/s and its ratio to executemany, ack latency p50/p99."""
    per_client = 2_500 if quick else 25_000
    work = frames(per_client)
    with scratch() as tmp:
        baseline = executemany(tmp / "baseline.sqlite3", per_client, CLIENTS)
        with serving(tmp / "ingest.sqlite3") as server:
            rate, latencies = over_websockets(server, work, CLIENTS)
    setup = f"{CLIENTS} clients x {per_client:,} events, {BATCH}/frame, {WINDOW} frames in flight"
    return [
        Figure(
            "ingest events/s",
            rate,
            "events/s",
            baseline,
            rate / baseline,
            ">= 20,000 and ratio >= 0.5",
            setup,
        ),
        Figure("ingest ack p50", in_ms(percentile(latencies, 50)), "ms"),
        Figure("ingest ack p99", in_ms(percentile(latencies, 99)), "ms"),
    ]
