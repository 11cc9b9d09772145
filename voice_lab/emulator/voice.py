"""A synthesized voice-like signal: harmonics of a wandering pitch under a syllable envelope.

There is no speech synthesis offline; this has the spectrum and rhythm of speech, so a VAD
accepts it and a listener hears that "the assistant is talking".
"""

from __future__ import annotations

import numpy as np

RATE = 48000


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
    wave = sum(np.sin(k * phase) / k for k in range(1, 12))
    syllables = np.abs(np.sin(np.pi * 4.0 * t + rng.uniform(0, np.pi)))
    envelope = 0.35 + 0.65 * syllables**0.7
    fade = np.minimum(1, np.minimum(t, seconds - t) / 0.02)  # no clicks at the ends
    signal = wave * envelope * fade
    signal = signal / max(1e-9, np.abs(signal).max()) * level
    return (signal * 32767).astype(np.int16)
