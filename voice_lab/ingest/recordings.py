"""A session's recording as the web serves it: the seekable WebM remuxed from the stored chunks,
its facts, its peaks, and what it says against the events (a Hearing), made once and kept as files.

The files live in a folder beside the database (the instance folder by default), one folder a
session, named by the number of chunks stored when they were made: a recording is remade when
more chunks arrive (a late resend), and the hearing also by the events' max seq, as its events
may come after its last chunk. `prepare` makes them all, from one decode, on the preparer's
thread (preparer.py); readers only read, and say NotReady while the files are not there, so a
request never remuxes or decodes. The metadata file is written last: it marks the recording
ready, and answers its duration without reading the WebM. Deleting a session deletes its folder.
The analysis itself (analysis/recording.py, heard.py) knows nothing of the store or the files.
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

from ..analysis import figures, recording
from ..analysis.call_times import call_times, hearing_json, lanes, recording_start
from ..analysis.heard import hear
from ..analysis.recording import RecordingError
from ..protocol.record import from_row
from ..storage.base import Store
from ..storage.query import EventQuery
from . import peak_levels

PEAKS_PER_SECOND = 100  # the finest level served: 10 ms a bin, what a 100 ms view needs

# One maker at a time per session in this process (the preparer runs one job at a time, but a
# test or the CLI may call prepare beside it); files are written whole, so readers never see half.
_locks: dict[tuple[Path, str], threading.Lock] = {}
_locks_lock = threading.Lock()


class NotReady(Exception):
    """The recording's files for its stored chunks are not made yet: ask the preparer, and
    again later."""


def cache_root(database: Path) -> Path:
    """The folder of the recordings' files for a database: beside it, named after it."""
    return database.with_name(f"{database.stem}-recordings")


def folder(root: Path, session_id: str) -> Path:
    """A session's folder of files (named by a hash: ids are the clients' text)."""
    return root / hashlib.sha256(session_id.encode()).hexdigest()[:32]


def forget(root: Path, session_id: str) -> None:
    """Delete a session's recording files (the session is gone, or its recording changed)."""
    shutil.rmtree(folder(root, session_id), ignore_errors=True)


def prepare(store: Store, root: Path, session_id: str) -> bool:
    """Make what is missing of the recording's files for the chunks and events stored now: the
    WebM, its metadata and peaks levels, and the hearing, decoding it at most once; False when
    the session has no recording. Chunks that make no recording leave an error file that
    readers raise as RecordingError."""
    info = store.recording_info(session_id)
    session = store.get_session(session_id)
    if info is None or session is None:
        return False
    base = folder(root, session_id) / str(info["chunks"])
    heard = _heard_path(base, session["max_seq"])
    with _lock(root, session_id):
        if _meta_path(base).exists() and heard.exists():
            return True
        samples: tuple[int, np.ndarray] | None = None
        if not _meta_path(base).exists():
            forget(root, session_id)  # what was made of fewer chunks
            base.parent.mkdir(parents=True, exist_ok=True)
            try:
                samples = _make_media(store, session_id, base, info)
            except RecordingError as error:
                said = str(error).encode()
                _write(_error_path(base), lambda out: out.write(said))
                return True
        events = [from_row(row) for row in store.iter_events(session_id)]
        times = call_times(events)
        found = None
        if times is not None:
            rate, pcm = samples or recording.decode(base.with_suffix(".webm"))
            found = {"t0": times.t0, **hearing_json(hear(pcm, rate, times))}
        _clear(base.parent, "*.heard.json")
        _clear(base.parent, "*.lanes.json")
        # The time view's lanes, once: a long call's page then reads them instead of its events.
        laid = json.dumps(lanes(events)).encode()
        _write(_lanes_path(base, session["max_seq"]), lambda out: out.write(laid))
        _write(heard, lambda out: out.write(json.dumps(found).encode()))
    if found is not None:  # the sessions list's heard p95 and audio checks
        store.save_heard(session_id, figures.heard(found))
    return True


def prepared_lanes(store: Store, root: Path, session_id: str) -> dict[str, Any] | None:
    """The time view's lanes as prepare() kept them for the events stored now; None when they
    are not kept (a live call, or not prepared yet): the caller lays them from the events."""
    session = store.get_session(session_id)
    chunks = store.recording_chunk_count(session_id)
    if session is None or not chunks:
        return None
    try:
        path = _lanes_path(folder(root, session_id) / str(chunks), session["max_seq"])
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def _make_media(
    store: Store, session_id: str, base: Path, info: dict[str, Any]
) -> tuple[int, np.ndarray]:
    """Remux, decode, write the peaks levels and then the metadata; the decoded samples."""
    webm = base.with_suffix(".webm")
    media = recording.remux(store.recording_chunks(session_id), webm)
    rate, samples = recording.decode(webm)
    levels = peak_levels.write(base, recording.peaks(samples, rate, PEAKS_PER_SECOND), _write)
    facts = {
        "chunks": info["chunks"],
        "chunk_bytes": info["bytes"],
        "contiguous": info["contiguous"],
        "bytes": webm.stat().st_size,
        "duration_ms": media.duration_ms,
        "channels": media.channels,
        "rate": media.rate,
        "cues": media.cues,
        "peaks": levels,
    }
    _write(_meta_path(base), lambda out: out.write(json.dumps(facts).encode()))
    return rate, samples


def facts(store: Store, root: Path, session_id: str) -> tuple[Path, dict[str, Any]] | None:
    """(the files' base path, the metadata) of the recording as stored now; None without a
    recording; NotReady while its files are not made; RecordingError when they cannot be."""
    chunks = store.recording_chunk_count(session_id)
    if not chunks:
        return None
    base = folder(root, session_id) / str(chunks)
    try:
        return base, json.loads(_meta_path(base).read_text())
    except FileNotFoundError:
        pass
    try:
        raise RecordingError(_error_path(base).read_text())
    except FileNotFoundError:
        raise NotReady(session_id) from None


def media(store: Store, root: Path, session_id: str) -> Path | None:
    """The session's recording as a seekable WebM file; None when it has none (NotReady,
    RecordingError as facts)."""
    found = facts(store, root, session_id)
    return None if found is None else found[0].with_suffix(".webm")


def peaks(
    store: Store,
    root: Path,
    session_id: str,
    bins: int | None = None,
    window: tuple[float, float] | None = None,
) -> dict | None:
    """The recording's waveform for the time view: t0 on the events' clock, duration, bins a
    second, whether none are finer, the first bin's start_ms and each channel's min and max
    (int8), at most `bins` bins, of the whole call or of `window` (start_ms, end_ms) only;
    None without a recording (NotReady, RecordingError as facts). Reads the metadata and the
    bins served, not the WebM nor the whole finest level."""
    found = facts(store, root, session_id)
    if found is None:
        return None
    base, made = found
    start_ms, level = peak_levels.read(base, made["peaks"], bins, window)
    return {
        "t0": _t0(store, session_id),
        "duration_ms": made["duration_ms"],
        "per_second": level.per_second,
        "finest": level.size == made["peaks"]["size"],  # no finer peaks to ask for
        "start_ms": start_ms,
        "channels": {
            name: {"min": level.low[:, i].tolist(), "max": level.high[:, i].tolist()}
            for i, name in enumerate(("user", "model"))
        },
    }


def hearing(store: Store, root: Path, session_id: str) -> dict | None:
    """What the recording says against the events (hearing_json's data, with t0); None when
    the session has no recording or its events hold no recording start (NotReady,
    RecordingError as facts)."""
    session = store.get_session(session_id)
    found = facts(store, root, session_id)
    if session is None or found is None:
        return None
    try:
        return json.loads(_heard_path(found[0], session["max_seq"]).read_text())
    except FileNotFoundError:
        raise NotReady(session_id) from None


def summary(store: Store, root: Path, session_id: str) -> dict[str, Any] | None:
    """The recording's part of a session's export: what is stored, the media's figures and the
    hearing (not the audio); None without a recording (NotReady, RecordingError as facts)."""
    found = facts(store, root, session_id)
    if found is None:
        return None
    made = found[1]
    return {
        "t0": _t0(store, session_id),
        "mime": recording.MIME,
        "chunks": made["chunks"],
        "bytes": made["chunk_bytes"],
        "contiguous": made["contiguous"],
        "duration_ms": made["duration_ms"],
        "channels": made["channels"],
        "rate": made["rate"],
        "hearing": hearing(store, root, session_id),
    }


def unprepared(store: Store, root: Path) -> list[str]:
    """The recorded sessions whose files for their stored chunks are not made (a server
    stopped before it prepared them, or chunks came while it was away), oldest first."""
    return [
        session_id
        for session_id, chunks in store.recorded_sessions()
        if not _meta_path(folder(root, session_id) / str(chunks)).exists()
        and not _error_path(folder(root, session_id) / str(chunks)).exists()
    ]


def _meta_path(base: Path) -> Path:
    return base.with_suffix(".meta.json")


def _error_path(base: Path) -> Path:
    return base.with_suffix(".error.txt")


def _lanes_path(base: Path, max_seq: int) -> Path:
    return base.with_name(f"{base.name}-{max_seq}.lanes.json")


def _heard_path(base: Path, max_seq: int) -> Path:
    return base.with_name(f"{base.name}-{max_seq}.heard.json")


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
