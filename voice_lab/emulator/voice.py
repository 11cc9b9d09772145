"""The emulator's voice: replies spoken by espeak-ng, or a synthesized voice-like signal.

espeak-ng (a Debian package) speaks the reply's words, resampled to the 48 kHz mono s16 the
outbound track plays. Where it is not installed, `speech_like` stands in: harmonics of a wandering
pitch under a syllable envelope, which has the spectrum and rhythm of speech, so a VAD accepts it
and a listener hears that "the assistant is talking".
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import shutil
import subprocess
import wave
import zlib

import numpy as np

log = logging.getLogger(__name__)

RATE = 48000
WORD_SECONDS = 0.25  # the stand-in voice's length of one word
ENGINE = "espeak-ng"


def speech_like(
    seconds: float, *, rate: int = RATE, pitch: float = 140.0, seed: int = 7, level: float = 0.3
) -> np.ndarray:
    """Mono s16 samples of voiced, syllable-paced sound lasting `seconds`."""
    n = int(seconds * rate)
    if n <= 0:
        return np.zeros(0, dtype=np.int16)
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    # Pitch drifts slowly and jitters a little, as a voice does; integrate it into a phase.
    drift = np.interp(t, np.linspace(0, seconds, 8), pitch * (1 + 0.15 * rng.standard_normal(8)))
    f0 = drift * (1 + 0.01 * rng.standard_normal(n))
    phase = 2 * np.pi * np.cumsum(f0) / rate
    wave_ = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = np.abs(np.sin(np.pi * 4.0 * t + rng.uniform(0, np.pi)))
    envelope = 0.35 + 0.65 * syllables**0.7
    fade = np.minimum(1, np.minimum(t, seconds - t) / 0.02)  # no clicks at the ends
    signal = wave_ * envelope * fade
    signal = signal / max(1e-9, np.abs(signal).max()) * level
    return (signal * 32767).astype(np.int16)


def spoken(engine: str, text: str, rate: int = RATE) -> np.ndarray:
    """Mono s16 samples of `text` spoken by the espeak-ng at `engine`, at `rate`.

    The engine's trailing silence is cut, so the samples end where the speech does (the
    emulator's `output_audio_buffer.stopped` follows the last sample).
    """
    # "--" ends the options: a reply starting with "-" is still words to speak.
    out = subprocess.run([engine, "--stdout", "--", text], check=True, capture_output=True)
    with wave.open(io.BytesIO(out.stdout)) as source:
        source_rate = source.getframerate()
        samples = np.frombuffer(source.readframes(source.getnframes()), dtype=np.int16)
    return resample(np.trim_zeros(samples, "b"), source_rate, rate)


def resample(samples: np.ndarray, source_rate: int, rate: int) -> np.ndarray:
    """Mono s16 samples from `source_rate` to `rate` (libswresample, through PyAV)."""
    if source_rate == rate or len(samples) == 0:
        return samples.astype(np.int16)
    import av  # PyAV loads with the first spoken text, not with every import of the test harness

    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples, dtype=np.int16).reshape(1, -1), format="s16", layout="mono"
    )
    frame.sample_rate = source_rate
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    frames = [*resampler.resample(frame), *resampler.resample(None)]  # None flushes the tail
    return np.concatenate([f.to_ndarray().ravel() for f in frames]).astype(np.int16)


class Voice:
    """Speaks reply text as 48 kHz mono s16 samples: espeak-ng at `engine`, else the stand-in."""

    def __init__(self, engine: str | None):
        self.engine = engine

    @classmethod
    def detect(cls, path: str | None = None) -> Voice:
        """espeak-ng if it is on `path` (default: PATH), else the stand-in."""
        return cls(shutil.which(ENGINE, path=path))

    @property
    def name(self) -> str:
        """Which voice speaks, for logs and the doctor."""
        if self.engine is None:
            return f"synthesized voice-like sound ({ENGINE} not found: apt-get install {ENGINE})"
        return f"{ENGINE} ({self.engine})"

    def samples(self, text: str) -> np.ndarray:
        """`text` spoken, at 48 kHz (read-only: the same reply shares one cached array)."""
        return _rendered(self.engine, text)

    async def speak(self, text: str) -> np.ndarray:
        """`samples` off the event loop: a sentence takes espeak-ng tens of ms, too long to block
        the peer connections sharing the loop."""
        return await asyncio.to_thread(self.samples, text)


@functools.lru_cache(maxsize=256)
def _rendered(engine: str | None, text: str) -> np.ndarray:
    """The samples of `text` for `engine`, cached: the emulator says the same few replies often."""
    if engine is None:
        words = len(text.split())
        samples = speech_like(words * WORD_SECONDS, seed=zlib.crc32(text.encode()))
    else:
        samples = spoken(engine, text)
    samples.flags.writeable = False
    return samples


@functools.cache
def default() -> Voice:
    """The host's voice, detected once per process and named in the log."""
    found = Voice.detect()
    log.info("emulator replies are spoken by %s", found.name)
    return found
