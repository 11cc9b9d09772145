"""What every benchmark shares: figures, realistic events, a server to measure."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from tests.eventlogs import REPLY, USER_TEXT, LogBuilder, voice_turn
from voice_lab.ingest.mirror import Mirror
from voice_lab.protocol.record import Event
from voice_lab.storage.base import Store
from voice_lab.storage.rows import EventRow
from voice_lab.storage.sqlite import SQLiteStore
from voice_lab.testing import ServerProcess, start_server

TURN_MS = 4400  # a voice turn lasts 4.3 s in eventlogs.voice_turn: the next one starts after it
STATS_MS = 1000  # mirror.js samples getStats() once a second
# The longest texts voice_turn's timing holds: 40 reply deltas end before its response.done.
SAID = " ".join([USER_TEXT] * 3)
REPLIED = " ".join([REPLY] * 4)


@dataclass(frozen=True)
class Figure:
    """One measured figure, with its baseline from the same run when it has one."""

    name: str
    value: float | None
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    target: str = ""
    note: str = ""

    def line(self) -> str:
        """The figure as one printed line."""
        if self.value is None:
            return f"{self.name}: not measured ({self.note})"
        text = f"{self.name}: {_number(self.value)} {self.unit}"
        if self.baseline is not None:
            text += f" (baseline {_number(self.baseline)} {self.unit}"
            text += f", ratio {self.ratio:.2f})" if self.ratio is not None else ")"
        if self.target:
            text += f" [target {self.target}]"
        if self.note:
            text += f" - {self.note}"
        return text

    def as_dict(self) -> dict:
        """The figure for --json."""
        return asdict(self)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def best_of(runs: int, fn, clock: Callable[[], float] = time.perf_counter) -> float:
    """The least of `runs` timings of fn() in seconds by `clock` (wall time by default, CPU time
    with time.process_time): the one least disturbed by a noisy host."""
    times = []
    for _ in range(runs):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)


# ---------------------------------------------------------------- realistic events


@cache
def session_log(count: int) -> tuple[Event, ...]:
    """A long call built with the test suite's GA event logs: back-to-back voice turns (user
    speech, input transcription, a spoken reply streamed as transcript deltas, usage, rate
    limits) and a getStats() sample every second, cut at `count` events."""
    turns = max(1, count // _events_per_turn() + 1)
    b = LogBuilder(ga=True)
    b.connect()
    for turn in range(turns):
        voice_turn(b, 1000 + turn * TURN_MS, SAID, REPLIED)
    for at in range(600, 1000 + turns * TURN_MS, STATS_MS):
        b.stats(at, rtt_ms=40.0 + at % 7, bytes_in=12 * at)
    return tuple(b.build().events[:count])


def _events_per_turn() -> int:
    """How many events (stats included) one turn of session_log adds, at the least."""
    b = LogBuilder(ga=True)
    voice_turn(b, 0, SAID, REPLIED)
    return len(b.build().events) + TURN_MS // STATS_MS


def wire_events(events: Sequence[Event]) -> list[dict]:
    """Events as mirror.js sends them: data-channel text, or the object of a local event."""
    return [
        {
            "seq": e.seq,
            "dir": e.direction,
            "t": e.t,
            "data": json.loads(e.raw) if e.direction == "local" else e.raw,
        }
        for e in events
    ]


def event_rows(events: Sequence[Event]) -> list[EventRow]:
    """Events as the store's rows."""
    return [EventRow.of(e) for e in events]


_DATABASES = tempfile.TemporaryDirectory(prefix="voice-lab-bench-")  # removed at exit


@cache
def filled(count: int) -> tuple[Path, str]:
    """A database holding one ended session of `count` realistic events, shared by the
    benchmarks of one run: its path and the session's id."""
    path = Path(_DATABASES.name) / f"session-{count}.sqlite3"
    return path, fill_session(path, count)


def fill_session(path: Path, count: int, batch: int = 500) -> str:
    """A database at `path` holding one ended session of `count` realistic events, stored as
    the mirror stores them (panel figures included); its id."""
    store = SQLiteStore(path)
    try:
        store.migrate()
        return fill_store(store, count, batch)
    finally:
        store.close()


def fill_store(store: Store, count: int, batch: int = 500) -> str:
    """One ended session of `count` realistic events in a migrated store, stored as the mirror
    stores them (panel figures included); its id."""
    session_id, secret = store.create_writable_session(
        provider="emulator", protocol="ga", label="bench"
    )
    mirror = Mirror(store)
    mirror.handle(json.dumps({"op": "hello", "session": session_id, "secret": secret}))
    events = wire_events(session_log(count))
    for start in range(0, len(events), batch):
        frame = {"op": "events", "events": events[start : start + batch]}
        reply = mirror.handle(json.dumps(frame, ensure_ascii=False))
        if reply["op"] != "ack":
            raise RuntimeError(f"the mirror refused the bench's events: {reply}")
    mirror.close()
    store.end_session(session_id)
    return session_id


# ---------------------------------------------------------------- a server in its own process

# A cloud provider that is never called keeps the emulator (and its loop) off. Its key is as long
# as a real one, so that every event is checked for it, as in production.
WITHOUT_EMULATOR = {
    "VOICE_LAB_PROVIDER": "openai",
    "VOICE_LAB_EMULATOR": "off",
    "OPENAI_API_KEY": "sk-unused-7f3a9c1e5b0d2486f1c3a5e7b9d0c2e4f6a8b1d3c5e7f9",
}


@contextmanager
def serving(database: Path) -> Iterator[ServerProcess]:
    """Voice Lab on `database` in its own process, started as the test harness starts it."""
    env = {"VOICE_LAB_DATABASE": str(database), **WITHOUT_EMULATOR}
    with scratch() as workdir, start_server(workdir, env) as server:
        yield server


def in_ms(seconds: float | None) -> float | None:
    """A duration in seconds as milliseconds (None stays None: nothing was measured)."""
    return None if seconds is None else seconds * 1000


def rss_kib(server: ServerProcess, field: str = "VmRSS") -> int:
    """A memory figure of the server process from /proc (VmRSS now, VmHWM the peak)."""
    pid = server.process.pid
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} for process {pid}")


@contextmanager
def scratch() -> Iterator[Path]:
    """A temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="voice-lab-bench-") as name:
        yield Path(name)


def cpu_count() -> int:
    """The cores this process may use."""
    return len(os.sched_getaffinity(0))
