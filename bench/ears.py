"""Figure: the emulator's ears on spoken test sentences: recognition latency per utterance, word
accuracy, and what the model costs in memory and on disk.

The sentences are spoken by espeak-ng at 16 kHz, as the session hands them to the recogniser
(the VAD's cut: the utterance with a little silence around it). Latency is wall time, best of a
few runs per sentence, then the median over the sentences; it is set against the utterance's
own duration (the real-time factor) and against computing its log-mel features alone (the
least any Whisper decode of the same audio costs); its CPU time (all threads) is given too, as a
loaded host stretches wall time. Word accuracy is 1 - the word error rate
over all sentences, case and punctuation aside.
"""

from __future__ import annotations

import re
import resource
import statistics
import time
from pathlib import Path

import numpy as np

from voice_lab.emulator import ears, voice

from .common import Figure, best_of

RUNS = 3
SENTENCES = (
    "Please book a table for six people tomorrow.",
    "Turn off the kitchen lights before midnight.",
    "What is the weather like in Paris today?",
    "I would like to cancel my order from last week.",
    "Can you call me back in ten minutes?",
    "The train to London leaves at half past nine.",
)


def words(text: str) -> list[str]:
    """Lower-case words without punctuation."""
    return re.findall(r"[a-z0-9']+", text.lower())


def errors(said: list[str], heard: list[str]) -> int:
    """Word-level edit distance: substitutions, deletions and insertions."""
    row = list(range(len(heard) + 1))
    for i, word in enumerate(said, 1):
        previous, row[0] = row[0], i
        for j, other in enumerate(heard, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (word != other))
    return row[-1]


def utterance(engine: str, text: str) -> np.ndarray:
    """`text` spoken, as 16 kHz float32 PCM with 0.3 s of silence before and 0.5 s after."""
    spoken = voice.spoken(engine, text, ears.RATE).astype(np.float32) / 32768
    return np.concatenate((np.zeros(4800, np.float32), spoken, np.zeros(8000, np.float32)))


def peak_mib() -> float:
    """This process's peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(quick: bool = False) -> list[Figure]:
    """Latency per utterance against its duration and its features alone, word accuracy, the
    model's memory and its size on disk."""
    found = ears.locate(None)
    engine = voice.Voice.detect().engine
    if found is None or engine is None:
        missing = ears.INSTALL if found is None else "apt-get install espeak-ng"
        return [Figure("recognition latency per utterance", None, "ms", note=missing)]
    sentences = SENTENCES[:3] if quick else SENTENCES
    clips = [utterance(engine, text) for text in sentences]
    before = peak_mib()
    started = time.perf_counter()
    found.load()
    load_s = time.perf_counter() - started
    model = ears._model(found)
    latencies, cpu, features, durations, wrong, total = [], [], [], [], 0, 0
    for text, pcm in zip(sentences, clips, strict=True):
        latencies.append(best_of(RUNS, lambda pcm=pcm: found.transcribe(pcm)))
        cpu.append(best_of(RUNS, lambda pcm=pcm: found.transcribe(pcm), time.process_time))
        features.append(best_of(RUNS, lambda pcm=pcm: model.feature_extractor(pcm)))
        durations.append(len(pcm) / ears.RATE)
        wrong += errors(words(text), words(found.transcribe(pcm)))
        total += len(words(text))
    latency, duration = statistics.median(latencies), statistics.median(durations)
    feature = statistics.median(features)
    on_disk = sum(f.stat().st_size for f in Path(found.source).iterdir()) / 2**20
    where = f"{found.name}, int8, {len(sentences)} espeak-ng sentences, best of {RUNS}"
    return [
        Figure(
            "recognition latency per utterance",
            latency * 1000,
            "ms",
            duration * 1000,
            latency / duration,
            "ratio (real-time factor) < 1",
            f"{where}; baseline the utterance's duration",
        ),
        Figure(
            "recognition CPU per utterance",
            statistics.median(cpu) * 1000,
            "ms",
            duration * 1000,
            statistics.median(cpu) / duration,
            note="every thread's CPU time: the wall time's floor on a host shared with others",
        ),
        Figure(
            "recognition latency against features alone",
            latency * 1000,
            "ms",
            feature * 1000,
            latency / feature,
            note="baseline: computing the utterance's log-mel features",
        ),
        Figure(
            "word accuracy",
            100 * (1 - wrong / total),
            "%",
            target=">= 75%",
            note=f"1 - WER over {total} words",
        ),
        Figure(
            "ears memory",
            peak_mib() - before,
            "MiB",
            note=f"peak RSS added by loading and running; weights {on_disk:.0f} MiB on disk, "
            f"loaded in {load_s:.1f} s",
        ),
    ]
