"""Figure: team mode on PostgreSQL, each figure against a baseline of the same run.

- ingest through the mirror (the same clients as bench/ingest.py) into PostgreSQL, against
  psycopg inserting the same rows directly, one transaction per batch;
- gunicorn with two workers against one, the same load;
- live latency: a mirror on worker A stores one event at a time, a tab's live tail on worker B
  (another master, so the event must cross through the database) shows it; from the send to
  B's answer, against the same on one worker;
- the session page and a filter at a long session against a short one, as bench/long.py.

PostgreSQL is VOICE_LAB_TEST_POSTGRES's server (`.ci/postgres.sh python -m bench team`); each
figure gets a database of its own there.
"""

from __future__ import annotations

import json
import re
import threading
import time

import psycopg
import requests
import websocket

from tests.stores import HOW_TO_RUN, POSTGRES, fresh_database
from voice_lab.analysis.metrics import percentile
from voice_lab.storage.postgres import PostgresStore
from voice_lab.testing import start_server
from voice_lab.testing.workers import Gunicorn

from .common import (
    WITHOUT_EMULATOR,
    Figure,
    event_rows,
    fill_store,
    in_ms,
    scratch,
    session_log,
)
from .ingest import BATCH, CLIENTS, frames, over_websockets
from .long import TRIES, timed

SEQS = re.compile(r'data-testid="event-row" data-seq="(\d+)"')
LIVE_EVERY = 0.05  # seconds between the events of the live figure: a call's pace, or faster


def direct(url: str, count: int, clients: int) -> float:
    """Events/s for the same rows inserted with psycopg, one transaction per batch."""
    rows = event_rows(session_log(count))
    sessions = [f"bench_{n}" for n in range(clients)]
    with psycopg.connect(url, autocommit=True) as db:
        for sid in sessions:
            db.execute(
                "INSERT INTO sessions (id, created_at, provider) VALUES (%s, 0, 'x')", (sid,)
            )
        began = time.perf_counter()
        for start in range(0, len(rows), BATCH):
            for sid in sessions:
                now = time.time()
                with db.transaction(), db.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO events (session_id, received_at, seq, direction, t, type, "
                        "category, response_id, item_id, payload, compact) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                        [(sid, now, *row) for row in rows[start : start + BATCH]],
                    )
        return clients * len(rows) / (time.perf_counter() - began)


def ingest(quick: bool) -> list[Figure]:
    """The mirror into PostgreSQL against psycopg; two gunicorn workers against one."""
    per_client = 1_000 if quick else 10_000
    work = frames(per_client)
    with scratch() as tmp:
        with fresh_database("postgresql", tmp) as url:
            baseline = direct(url, per_client, CLIENTS)
        with fresh_database("postgresql", tmp) as url:
            env = {**WITHOUT_EMULATOR, "VOICE_LAB_DATABASE": url}
            with start_server(tmp / "one", env) as server:
                rate, _ = over_websockets(server, work, CLIENTS)
        workers = {}
        for count in (1, 2):
            with fresh_database("postgresql", tmp) as url:
                served = Gunicorn(
                    tmp / f"w{count}", {**WITHOUT_EMULATOR, "VOICE_LAB_DATABASE": url}, count
                )
                try:
                    workers[count], _ = over_websockets(served, work, CLIENTS)
                finally:
                    served.stop()
    setup = f"{CLIENTS} clients x {per_client:,} events, {BATCH}/frame"
    return [
        Figure(
            "team ingest events/s",
            rate,
            "events/s",
            baseline,
            rate / baseline,
            "ratio >= 0.5",
            f"PostgreSQL, the mirror against psycopg; {setup}",
        ),
        Figure(
            "team two workers events/s",
            workers[2],
            "events/s",
            workers[1],
            workers[2] / workers[1],
            "",
            f"gunicorn -w 2 against -w 1, 8 threads; {setup}",
        ),
    ]


def follow(url: str, session_id: str, count: int, seen: dict[int, float]) -> None:
    """A tab's live tail on `url`: ask for the window after the last seq shown until `count`
    seqs were shown, noting when each first appeared."""
    last = 0
    with requests.Session() as http:
        while last < count:
            page = http.get(
                f"{url}/sessions/{session_id}/window?view=flat&after={last}&upto={last}",
                headers={"HX-Request": "true"},
                timeout=60,
            ).text
            now = time.perf_counter()
            for seq in map(int, SEQS.findall(page)):
                seen.setdefault(seq, now)
                last = max(last, seq)


def live(mirror_url: str, tab_url: str, count: int) -> list[float]:
    """Seconds from each event's send (to the mirror on `mirror_url`) to a tab on `tab_url`
    showing it."""
    ws = websocket.create_connection(mirror_url.replace("http", "ws", 1) + "/ws/mirror")
    try:
        ws.send(json.dumps({"op": "hello", "create": {"label": "live", "provider": "emulator"}}))
        session_id = json.loads(ws.recv())["session"]
        seen: dict[int, float] = {}
        tab = threading.Thread(target=follow, args=(tab_url, session_id, count, seen))
        tab.start()
        sent = {}
        for seq in range(1, count + 1):
            event = {"seq": seq, "dir": "server", "t": None, "data": '{"type": "x"}'}
            sent[seq] = time.perf_counter()
            ws.send(json.dumps({"op": "events", "events": [event]}))
            assert json.loads(ws.recv())["op"] == "ack"
            time.sleep(LIVE_EVERY)  # the pace of the events, not an ordering of the steps
        tab.join(60)
    finally:
        ws.close()
    return [seen[seq] - sent[seq] for seq in sent if seq in seen]


def latency(quick: bool) -> list[Figure]:
    """Live latency across workers, against the same on one worker."""
    count = 60 if quick else 400
    with scratch() as tmp, fresh_database("postgresql", tmp) as url:
        env = {**WITHOUT_EMULATOR, "VOICE_LAB_DATABASE": url}
        a, b = Gunicorn(tmp / "a", env), Gunicorn(tmp / "b", env)
        try:
            across = live(a.url, b.url, count)
            alone = live(a.url, a.url, count)
        finally:
            a.stop()
            b.stop()
    note = f"{count} events, one every {LIVE_EVERY * 1000:g} ms; baseline: the tab on worker A"
    return [
        Figure("team live p50", in_ms(percentile(across, 50)), "ms", in_ms(percentile(alone, 50))),
        Figure(
            "team live p95",
            in_ms(percentile(across, 95)),
            "ms",
            in_ms(percentile(alone, 95)),
            None,
            "<= 250 ms",
            note,
        ),
    ]


def long_session(quick: bool) -> list[Figure]:
    """The session page and a filter at a long session against a short one, on PostgreSQL."""
    large = 20_000 if quick else 200_000
    figures = []
    with scratch() as tmp:
        times = {}
        for count in (large // 100, large):
            with fresh_database("postgresql", tmp) as url:
                store = PostgresStore(url)
                try:
                    session_id = fill_store(store, count)
                finally:
                    store.close()
                with start_server(
                    tmp / f"s{count}", {**WITHOUT_EMULATOR, "VOICE_LAB_DATABASE": url}
                ) as server:
                    page = f"/sessions/{session_id}"
                    paths = {"page": page, "filter": page + "?cat=response&dir=server"}
                    times[count] = {
                        name: min(timed(server, path)[1] for _ in range(TRIES)) * 1000
                        for name, path in paths.items()
                    }
    for name in ("page", "filter"):
        big, small = times[large][name], times[large // 100][name]
        figures.append(
            Figure(
                f"team long {name}",
                big,
                "ms",
                small,
                big / small,
                "flat (ratio near 1)",
                f"PostgreSQL, {large:,} events against {large // 100:,}",
            )
        )
    return figures


def run(quick: bool = False) -> list[Figure]:
    """The team-mode figures, or one line saying how to get a PostgreSQL server for them."""
    if not POSTGRES:
        return [Figure("team", None, "", note=f"needs PostgreSQL: {HOW_TO_RUN}")]
    return ingest(quick) + latency(quick) + long_session(quick)
