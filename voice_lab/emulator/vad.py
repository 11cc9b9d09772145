"""Turn detection on received audio: webrtcvad frames smoothed into speech start and stop.

Input is what aiortc decodes (48 kHz stereo s16); webrtcvad wants 16 kHz mono in 10-30 ms frames,
so audio is downmixed and decimated first. Offsets are milliseconds of audio received.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import webrtcvad

FRAME_MS = 30
RATE = 16000
FRAME_SAMPLES = RATE * FRAME_MS // 1000
ONSET_FRAMES = 3  # voiced frames in a row before speech counts: one click is not a turn


@dataclass(frozen=True)
class Change:
    """Speech started (`audio_start_ms`) or stopped (`audio_end_ms`) at `ms`."""

    kind: str  # "started" or "stopped"
    ms: int
    speech_ms: int = 0  # on "stopped": how long the voiced part lasted (no padding, no silence)


def to_16k_mono(samples: np.ndarray, channels: int = 2, rate: int = 48000) -> np.ndarray:
    """Interleaved s16 at `rate` -> 16 kHz mono s16 (averaging, which also low-passes a bit)."""
    mono = samples.reshape(-1, channels).mean(axis=1) if channels > 1 else samples.ravel()
    step = rate // RATE
    usable = len(mono) - len(mono) % step
    return mono[:usable].reshape(-1, step).mean(axis=1).astype(np.int16)


def aggressiveness(threshold: float) -> int:
    """webrtcvad's mode 0-3 for the service's threshold 0-1 (higher: needs clearer speech)."""
    return min(3, max(0, int(threshold * 4)))


class TurnDetector:
    """Feeds 16 kHz mono audio through webrtcvad and reports speech starts and stops."""

    def __init__(
        self, threshold: float = 0.5, prefix_padding_ms: int = 300, silence_duration_ms: int = 500
    ):
        self.enabled = True
        self.configure(threshold, prefix_padding_ms, silence_duration_ms)
        self.pending = np.zeros(0, dtype=np.int16)
        self.frames = 0  # frames seen so far: their count gives the offset in ms
        self.speaking = False
        self.run = 0  # voiced frames in a row (before start) or silent ones (while speaking)
        self.last_voiced_end = 0
        self.onset = 0

    def configure(self, threshold: float, prefix_padding_ms: int, silence_duration_ms: int) -> None:
        """Take new settings without losing the count of audio received."""
        self.vad = webrtcvad.Vad(aggressiveness(threshold))
        self.prefix_padding_ms = prefix_padding_ms
        self.silence_frames = max(1, -(-silence_duration_ms // FRAME_MS))

    def reset(self) -> None:
        """Forget a speech in progress (the input buffer was cleared or committed by hand)."""
        self.speaking, self.run = False, 0

    @property
    def received_ms(self) -> int:
        """Milliseconds of audio analysed so far."""
        return self.frames * FRAME_MS

    def feed(self, samples: np.ndarray) -> list[Change]:
        """Analyse more audio; return the changes it caused, in order."""
        self.pending = np.concatenate((self.pending, samples.astype(np.int16)))
        changes: list[Change] = []
        while len(self.pending) >= FRAME_SAMPLES:
            frame, self.pending = self.pending[:FRAME_SAMPLES], self.pending[FRAME_SAMPLES:]
            voiced = self.vad.is_speech(frame.tobytes(), RATE)
            self.frames += 1
            change = self._step(voiced) if self.enabled else None
            if change is not None:
                changes.append(change)
        return changes

    def _step(self, voiced: bool) -> Change | None:
        end = self.received_ms
        if not self.speaking:
            self.run = self.run + 1 if voiced else 0
            if self.run >= ONSET_FRAMES:
                self.speaking, self.run, self.last_voiced_end = True, 0, end
                self.onset = end - ONSET_FRAMES * FRAME_MS
                return Change("started", max(0, self.onset - self.prefix_padding_ms))
            return None
        if voiced:
            self.run, self.last_voiced_end = 0, end
            return None
        self.run += 1
        if self.run >= self.silence_frames:
            self.speaking, self.run = False, 0
            return Change("stopped", end, self.last_voiced_end - self.onset)
        return None
