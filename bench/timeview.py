"""Figure: the time view's first paint and zoom at 60 minutes against 1 minute, in Chromium.

Two recorded sessions in a scratch store: the minute of bench/audio.py's call (tests/recordings'
MediaRecorder-like chunks and the short call's events, shifted) once, and that minute repeated
60 times. The repeats are the same chunks with their clusters' timecodes moved on by a minute
each, so the stored WebM is one continuous 60-minute stream, as a page would have sent it.

The real app serves both. A recording's files (remux, decode, peaks levels, metadata, hearing)
are made once the call is complete, by the server's background preparer; the bench makes them
beforehand with the same function, timed on its own ("preparation", per minute of audio), so
the pages open as a user finds them after the preparation. Chromium then opens each session
page, where timeview.js marks each waveform drawn from new peaks (`timeview-drawn`): first
paint is the first mark's time from navigation, and a zoom is a press of "+" to the mark of the
redraw with the finer peaks it fetched. Each figure is the 60-minute session's against the
1-minute one's, best of a few opens.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.recordings import CLUSTER, T0, call_events, recorder_chunks, stereo
from voice_lab.analysis.recording import remux
from voice_lab.ingest import recordings
from voice_lab.protocol.record import Event, parse_event
from voice_lab.storage.rows import AudioChunk, EventRow
from voice_lab.storage.sqlite import SQLiteStore
from voice_lab.testing import launch_options, speech_wav

from .audio import MODEL, USER
from .common import Figure, scratch, serving

OPUS_FRAME_MS = 20
TIMECODE = 0xE7  # the EBML id of a Cluster's Timecode

# Presses "+" and answers the ms from the press to the first waveform drawn from finer peaks.
ZOOM_REDRAW = """
async () => {
  const marks = () => performance.getEntriesByName("timeview-drawn");
  const held = Math.max(...marks().map((m) => m.detail.per_second));
  const finer = () => marks().find((m) => m.detail.per_second > held);
  const start = performance.now();
  document.querySelector("[data-testid=timeview-zoom-in]").click();
  while (!finer()) {
    if (performance.now() - start > 30000) {
      const view = document.querySelector("[data-testid=timeview]").dataset;
      throw new Error(`no finer redraw 30 s after a zoom (span ${view.span}, drawn ${view.drawn})`);
    }
    await new Promise((next) => setTimeout(next, 5));
  }
  return finer().startTime - start;
}
"""


def shifted(chunk: bytes, by_ms: int) -> bytes:
    """A chunk whose every cluster starts `by_ms` later (its blocks are relative to it); a
    cluster's size grows by the bytes its timecode gains."""
    out, at = bytearray(), 0
    while (found := chunk.find(CLUSTER, at)) >= 0:
        size_at = found + len(CLUSTER)
        width = _vint_width(chunk[size_at])
        size = int.from_bytes(chunk[size_at : size_at + width], "big") & ~(1 << (7 * width))
        head = size_at + width
        if chunk[head] != TIMECODE or not chunk[head + 1] & 0x80:
            raise ValueError(f"no Timecode first in the Cluster at {found}: not MediaRecorder's")
        length = chunk[head + 1] & 0x7F
        value = int.from_bytes(chunk[head + 2 : head + 2 + length], "big") + by_ms
        body = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
        size += len(body) - length
        out += chunk[at:size_at] + (size | 1 << (7 * width)).to_bytes(width, "big")
        out += bytes([TIMECODE, 0x80 | len(body)]) + body
        at = head + 2 + length
    return bytes(out + chunk[at:])


def _vint_width(first: int) -> int:
    """How many bytes an EBML variable-size integer takes, from its first byte."""
    return 9 - first.bit_length()


def repeated(minute: list[bytes], minutes: int, period_ms: int) -> list[bytes]:
    """A minute's chunks as `minutes` of one stream: the header once, then the minute's
    clusters again and again, each time `period_ms` later (the minute's packets' span)."""
    clusters = [minute[0][minute[0].find(CLUSTER) :], *minute[1:]]
    later = [shifted(c, n * period_ms) for n in range(1, minutes) for c in clusters]
    return minute + later


def call_log(minutes: int, period_ms: int, chunks: int) -> list[Event]:
    """The short recorded call's events once a `period_ms`, between one recording start and
    a stop that counts `chunks`."""
    start, *middle, stop = (e for e in call_events() if e.type != "voicelab.call")
    timed = [(T0, start), *((T0 + n * period_ms, e) for n in range(minutes) for e in middle)]
    out = [
        parse_event(seq, e.direction, at + (e.t or 0) - T0, json.loads(e.raw))
        for seq, (at, e) in enumerate(timed, 1)
    ]
    ended = {**json.loads(stop.raw), "chunks": chunks}
    out.append(parse_event(len(out) + 1, "local", T0 + minutes * period_ms, ended))
    return out


def store_session(store: SQLiteStore, minutes: int, minute: list[bytes], period_ms: int) -> str:
    """An ended session of `minutes` with its recording; its id."""
    session_id = store.create_session(provider="emulator", label=f"{minutes} min recorded")
    chunks = repeated(minute, minutes, period_ms)
    events = call_log(minutes, period_ms, len(chunks))
    store.insert_events(session_id, [EventRow.of(e) for e in events])
    store.insert_chunks(
        session_id, [AudioChunk(n, T0 + n * 1000, data) for n, data in enumerate(chunks, 1)]
    )
    store.end_session(session_id)
    return session_id


def open_once(browser, url: str) -> tuple[float, float]:
    """Open the session page in a fresh context: ms to the first waveform drawn, to a zoom's."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector("[data-testid=timeview][data-drawn]", timeout=120_000)
        first = page.evaluate("performance.getEntriesByName('timeview-drawn')[0].startTime")
        page.wait_for_load_state("networkidle")  # every first draw made: zoom from rest
        return first, page.evaluate(ZOOM_REDRAW)
    finally:
        context.close()


def prepared(database: Path, session_id: str) -> tuple[float, float]:
    """(wall ms, CPU ms) to make a session's recording files, as the server's preparer does."""
    store = SQLiteStore(database)
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        recordings.prepare(store, recordings.cache_root(database), session_id)
        return (time.perf_counter() - wall) * 1000, (time.process_time() - cpu) * 1000
    finally:
        store.close()


def measure(lengths: tuple[int, ...], runs: int) -> dict[int, dict[str, float]]:
    """For a recorded session of each length in minutes: ms a minute of audio to prepare its
    files ("prepare", and its CPU "prepare_cpu"), then the best of `runs` opens to the first
    waveform drawn ("paint") and of their zooms."""
    minute = recorder_chunks(stereo(60, USER, MODEL))
    measured: dict[int, dict[str, float]] = {}
    with scratch() as workdir:
        # The minute's packets span a frame more than 60 s (the encoder's look-ahead).
        span = remux(minute, workdir / "minute.webm").duration_ms
        period_ms = math.ceil(span / OPUS_FRAME_MS) * OPUS_FRAME_MS
        database = workdir / "bench.sqlite3"
        store = SQLiteStore(database)
        try:
            store.migrate()
            ids = {m: store_session(store, m, minute, period_ms) for m in lengths}
        finally:
            store.close()
        made = {m: prepared(database, session_id) for m, session_id in ids.items()}
        with serving(database) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(**launch_options(_mic(workdir)))
            try:
                for minutes, session_id in ids.items():
                    url = f"{server.url}/sessions/{session_id}"
                    warm = [open_once(browser, url) for _ in range(runs)]
                    measured[minutes] = {
                        "prepare": made[minutes][0] / minutes,
                        "prepare_cpu": made[minutes][1] / minutes,
                        "paint": min(w[0] for w in warm),
                        "zoom": min(w[1] for w in warm),
                    }
            finally:
                browser.close()
    return measured


def run(quick: bool = False) -> list[Figure]:
    """First paint with the recording prepared, preparation a minute of audio, and
    zoom-in-to-redraw, 60 min against 1 min."""
    runs = 2 if quick else 5
    measured = measure((1, 60), runs)
    return [
        _figure("time view first paint", measured, "paint", "<= 1.5x", f"best of {runs} opens"),
        _figure(
            "recording preparation a minute of audio",
            measured,
            "prepare",
            "",
            "wall ms per minute: remux, decode, peaks levels, metadata, hearing, once a "
            f"recording, in the background (CPU {measured[60]['prepare_cpu']:.0f} ms a minute "
            f"at 60 min, {measured[1]['prepare_cpu']:.0f} at 1)",
        ),
        _figure("time view zoom-in to redraw", measured, "zoom", "<= 1.5x", "finer peaks fetched"),
    ]


def _figure(name: str, measured: dict, key: str, target: str, note: str) -> Figure:
    """One figure: the 60-minute session's value against the 1-minute one's."""
    value, baseline = measured[60][key], measured[1][key]
    return Figure(
        f"{name} at 60 min",
        value,
        "ms",
        baseline,
        value / baseline if baseline else None,
        target,
        f"baseline the 1-minute session; {note}",
    )


def _mic(workdir: Path) -> Path:
    """Chromium's launch options want a microphone file; the session page never uses it."""
    return speech_wav(workdir / "speech.wav")
