"""Figure: server CPU per minute of audio to make a call's recording seekable and hear it,
against decoding its Opus packets alone.

The call is synthetic (tests/recordings.py): a minute of turns, a tone on the user's side and
noise on the model's with a barge-in, repeated, and sent as MediaRecorder's chunks. The measured
path is what the server runs once a call ends: remux the chunks, decode at the analysis rate,
peaks at 100 bins a second and the analysis against the call's event times. The baseline is
PyAV decoding the same file's frames and doing nothing with them, the least any analysis of the
audio costs. CPU is this process's time (time.process_time), best of a few runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import av
import numpy as np

from tests.recordings import T0, recorder_chunks, stereo
from voice_lab.analysis import heard, recording

from .common import Figure, best_of, scratch

RUNS = 3
# One minute of a call, seconds from its start: the user speaks, the model answers, the user
# talks over the model's second answer.
USER = [(1.0, 4.0), (20.0, 24.0), (36.0, 39.0)]
MODEL = [(4.8, 15.0), (24.9, 37.0), (40.0, 55.0)]
PLAYS = [(4.7, 15.1), (24.8, 37.1), (39.9, 55.1)]


def call_times(minutes: int) -> heard.CallTimes:
    """The repeated minute's event times (VAD, responses, playback) on the events' clock."""
    vad, responses, playback = [], [], []
    for minute in range(minutes):
        base = minute * 60_000
        vad += [(base + a * 1000, base + b * 1000) for a, b in USER]
        for n, (a, b) in enumerate(PLAYS):
            response_id = f"r{minute}-{n}"
            created = T0 + base + a * 1000 - 300
            responses.append(heard.ResponseTimes(response_id, created, created + 900, True))
            playback.append(heard.Playback(response_id, T0 + base + a * 1000, T0 + base + b * 1000))
    return heard.CallTimes(T0, vad, responses, playback)


def analysed(chunks: list[bytes], times: heard.CallTimes, workdir: Path) -> dict:
    """What the server does with a finished call's chunks; the peaks as served, for their size."""
    path = workdir / "call.webm"
    recording.remux(chunks, path)
    rate, samples = recording.decode(path)
    level = recording.peaks(samples, rate, per_second=100)
    heard.hear(samples, rate, times)
    return level.waveform_data()


def plain_decode(path: Path) -> None:
    """Decode every frame and keep none: the baseline."""
    with av.open(str(path)) as container:
        for _ in container.decode(audio=0):
            pass


def run(quick: bool = False) -> list[Figure]:
    """CPU per minute of audio for remux + decode + peaks + analysis, against a plain decode;
    the size of the peaks a minute, as JSON."""
    minutes = 2 if quick else 10
    minute = stereo(60, USER, MODEL)
    chunks = recorder_chunks(np.tile(minute, (minutes, 1)))
    times = call_times(minutes)
    with scratch() as workdir:
        measured = best_of(RUNS, lambda: analysed(chunks, times, workdir), time.process_time)
        baseline = best_of(RUNS, lambda: plain_decode(workdir / "call.webm"), time.process_time)
        shown = analysed(chunks, times, workdir)
    per_minute = measured / minutes
    base_per_minute = baseline / minutes
    peaks_bytes = len(json.dumps(shown["data"], separators=(",", ":"))) / minutes
    return [
        Figure(
            "audio analysis CPU per minute of audio",
            per_minute * 1000,
            "ms",
            base_per_minute * 1000,
            per_minute / base_per_minute,
            "<= 1 s a minute",
            f"remux + decode at {recording.ANALYSIS_RATE // 1000} kHz + peaks + analysis, "
            f"{minutes} min call; baseline a plain Opus decode",
        ),
        Figure(
            "peaks a minute, JSON",
            peaks_bytes / 1024,
            "KiB",
            target="60 min under 10 MiB",
            note=f"100 bins/s, 2 channels, 8 bits; {peaks_bytes * 60 / 2**20:.1f} MiB for 60 min",
        ),
    ]
