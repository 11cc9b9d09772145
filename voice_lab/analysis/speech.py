"""Where each channel of a recording has sound: speech segments from the audio itself.

Energy with hysteresis rather than webrtcvad: the model's channel must count every sound the
user heard (a tone, a click, the emulator's synthesized voice), not only what a speech model
calls speech; it is a few numpy passes over 10 ms frames (webrtcvad is a Python call per frame
per channel, 720,000 for an hour's call); and its thresholds are levels a developer can reason
about. A segment starts where the level first reaches `on_db` and lasts while it stays above
`off_db`, pauses shorter than `hang_ms` (between words) joined; shorter blips are dropped.

Pure: numpy only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FRAME_MS = 10


@dataclass(frozen=True, slots=True)
class Span:
    """A stretch of the recording in ms from its start (add the recording's t0 for the events'
    clock)."""

    start_ms: float
    end_ms: float

    @property
    def ms(self) -> float:
        """Its length."""
        return self.end_ms - self.start_ms


@dataclass(frozen=True, slots=True)
class Levels:
    """How loud a segment must be: it starts at `on_db` dBFS (RMS over a frame) and lasts while
    above `off_db`; pauses under `hang_ms` are joined and sounds under `min_ms` dropped. The
    thresholds rise with a noisy channel's floor (its 10th-percentile frame) by `margin_db`."""

    on_db: float = -40.0
    off_db: float = -50.0
    hang_ms: float = 300.0
    min_ms: float = 60.0
    margin_db: float = 12.0


DEFAULT = Levels()


def frame_levels(channel: np.ndarray, rate: int) -> np.ndarray:
    """RMS level in dBFS of each 10 ms frame of one int16 channel (-120 for digital silence)."""
    size = rate * FRAME_MS // 1000
    count = len(channel) // size
    frames = channel[: count * size].reshape(count, size)
    power = np.empty(count, dtype=np.float64)
    for at in range(0, count, _BLOCK):  # a block at a time: floats of a whole hour are 230 MB
        block = frames[at : at + _BLOCK].astype(np.float32) / 32768
        power[at : at + _BLOCK] = np.einsum("ij,ij->i", block, block) / size
    return 10 * np.log10(np.maximum(power, 1e-12))


_BLOCK = 6000  # frames: a minute


def segments(channel: np.ndarray, rate: int, levels: Levels = DEFAULT) -> list[Span]:
    """The spans of one int16 channel where it has sound, by energy with hysteresis."""
    db = frame_levels(channel, rate)
    if not len(db):
        return []
    floor = float(np.percentile(db, 10))
    on = max(levels.on_db, floor + levels.margin_db)
    off = max(levels.off_db, floor + levels.margin_db / 2)
    runs = _runs(db >= off)
    loud = [(a, b) for a, b in runs if (db[a:b] >= on).any()]
    joined = _joined(loud, round(levels.hang_ms / FRAME_MS))
    return [
        Span(a * FRAME_MS, b * FRAME_MS) for a, b in joined if (b - a) * FRAME_MS >= levels.min_ms
    ]


def channel_segments(
    samples: np.ndarray, rate: int, levels: Levels = DEFAULT
) -> tuple[list[Span], list[Span]]:
    """(user, model): the sound spans of a stereo recording's left and right channels."""
    return segments(samples[:, 0], rate, levels), segments(samples[:, 1], rate, levels)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) frame indexes of each run of True."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(
        zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True)
    )


def _joined(runs: list[tuple[int, int]], gap: int) -> list[tuple[int, int]]:
    """Runs with gaps of fewer than `gap` frames between them joined into one."""
    out: list[tuple[int, int]] = []
    for a, b in runs:
        if out and a - out[-1][1] < gap:
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out
