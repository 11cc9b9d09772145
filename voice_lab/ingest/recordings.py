"""A session's recording as the web serves it: the seekable WebM remuxed from the stored chunks,
its peaks, and what it says against the events (a Hearing), each made once and kept as files.

The files live in a folder beside the database (the instance folder by default), one folder a
session, named by the number of chunks stored when they were made: a live call's recording is
remade when more chunks arrive, and the hearing also by the events' max seq, as its events may
come after its last chunk. Deleting a session deletes its folder. The analysis itself
(analysis/recording.py, heard.py) knows nothing of the store or the files; this is where they meet.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from ..analysis import recording
from ..analysis.call_times import call_times, hearing_json, recording_start
from ..analysis.heard import hear
from ..analysis.recording import Peaks
from ..protocol.record import from_row
from ..storage.base import Store
from ..storage.query import EventQuery

PEAKS_PER_SECOND = 100  # the finest level served: 10 ms a bin, what a 100 ms view needs

# One maker at a time per session in this process: two requests for a new recording would
# otherwise remux and decode it twice (files are written whole, so readers never see half).
_locks: dict[tuple[Path, str], threading.Lock] = {}
_locks_lock = threading.Lock()


def cache_root(database: Path) -> Path:
    """The folder of the recordings' files for a database: beside it, named after it."""
    return database.with_name(f"{database.stem}-recordings")


def folder(root: Path, session_id: str) -> Path:
    """A session's folder of files (named by a hash: ids are the clients' text)."""
    return root / hashlib.sha256(session_id.encode()).hexdigest()[:32]


def forget(root: Path, session_id: str) -> None:
    """Delete a session's recording files (the session is gone, or its recording changed)."""
    shutil.rmtree(folder(root, session_id), ignore_errors=True)


def media(store: Store, root: Path, session_id: str) -> Path | None:
    """The session's recording as a seekable WebM file, made now if its chunks changed; None
    when the session has no recording."""
    info = store.recording_info(session_id)
    if info is None:
        return None
    target = folder(root, session_id) / f"{info['chunks']}.webm"
    with _lock(root, session_id):
        if not target.exists():
            forget(root, session_id)  # what was made of fewer chunks
            target.parent.mkdir(parents=True, exist_ok=True)
            recording.remux(store.recording_chunks(session_id), target)
    return target


def peaks(
    store: Store,
    root: Path,
    session_id: str,
    bins: int | None = None,
    window: tuple[float, float] | None = None,
) -> dict | None:
    """The recording's waveform for the time view: t0 on the events' clock, duration, bins a
    second, whether none are finer, the first bin's start_ms and each channel's min and max
    (int8), at most `bins`
    bins, of the whole call or of `window` (start_ms, end_ms) only, sliced from the finest
    level; None without a recording."""
    path = media(store, root, session_id)
    if path is None:
        return None
    cached = path.with_suffix(".peaks.npz")
    with _lock(root, session_id):
        if not cached.exists():
            rate, samples = recording.decode(path)
            made = recording.peaks(samples, rate, PEAKS_PER_SECOND)
            _write(
                cached,
                lambda out: np.savez(out, low=made.low, high=made.high, shape=[rate, made.size]),
            )
    with np.load(cached) as saved:
        rate, size = (int(v) for v in saved["shape"])
        level = Peaks(rate, size, saved["low"], saved["high"])
    start_ms = 0.0
    if window is not None:
        first, level = level.between(*window)
        start_ms = first * level.size * 1000 / level.rate
    if bins:
        level = level.fitting(bins)
    return {
        "t0": _t0(store, session_id),
        "duration_ms": recording.probe(path).duration_ms,
        "per_second": level.per_second,
        "finest": level.size == size,  # no finer peaks to ask for
        "start_ms": start_ms,
        "channels": {
            name: {"min": level.low[:, i].tolist(), "max": level.high[:, i].tolist()}
            for i, name in enumerate(("user", "model"))
        },
    }


def hearing(store: Store, root: Path, session_id: str) -> dict | None:
    """What the recording says against the events (hearing_json's data, with t0); None when
    the session has no recording or its events hold no recording start."""
    session = store.get_session(session_id)
    path = media(store, root, session_id)
    if session is None or path is None:
        return None
    cached = path.with_name(f"{path.stem}-{session['max_seq']}.heard.json")
    with _lock(root, session_id):
        if not cached.exists():
            times = call_times([from_row(row) for row in store.iter_events(session_id)])
            if times is None:
                return None
            rate, samples = recording.decode(path)
            heard = {"t0": times.t0, **hearing_json(hear(samples, rate, times))}
            _clear(cached.parent, "*.heard.json")
            _write(cached, lambda out: out.write(json.dumps(heard).encode()))
    return json.loads(cached.read_text())


def summary(store: Store, root: Path, session_id: str) -> dict[str, Any] | None:
    """The recording's part of a session's export: what is stored, the media's figures and the
    hearing (not the audio); None without a recording."""
    info = store.recording_info(session_id)
    path = media(store, root, session_id)
    if info is None or path is None:
        return None
    made = recording.probe(path)
    return {
        "t0": _t0(store, session_id),
        "mime": recording.MIME,
        "chunks": info["chunks"],
        "bytes": info["bytes"],
        "contiguous": info["contiguous"],
        "duration_ms": made.duration_ms,
        "channels": made.channels,
        "rate": made.rate,
        "hearing": hearing(store, root, session_id),
    }


def _t0(store: Store, session_id: str) -> float | None:
    """The recording's start on the events' clock, from its voicelab.recording events."""
    rows = store.query_events(session_id, EventQuery(type="voicelab.recording"), 0, 10)
    return recording_start(from_row(row) for row in rows)


def _lock(root: Path, session_id: str) -> threading.Lock:
    with _locks_lock:
        return _locks.setdefault((root, session_id), threading.Lock())


def _clear(where: Path, pattern: str) -> None:
    """Remove the older files of a kind: a session keeps only its newest."""
    for old in where.glob(pattern):
        old.unlink(missing_ok=True)


def _write(target: Path, fill: Callable[[BinaryIO], object]) -> None:
    """Write a file whole or not at all: `fill` writes into a temporary file beside it."""
    partial = target.with_name(f"{target.name}.{uuid.uuid4().hex}.partial")
    try:
        with partial.open("wb") as out:
            fill(out)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
