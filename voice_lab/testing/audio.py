"""Microphone recordings for Chromium's fake capture: WAVs of voice-like sound or of speech."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from ..emulator import voice
from .errors import HarnessError

RATE = 48000


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    """Mono 16-bit samples as a WAV (Chromium plays 24-bit WAVs as silence)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype(np.int16).tobytes())
    return path


def padded(samples: np.ndarray, rate: int, before: float = 1.5, after: float = 2.5) -> np.ndarray:
    """Speech with silence around it: VAD needs the pause after speech to see it end."""
    silence = np.zeros(int(before * rate), dtype=np.int16), np.zeros(int(after * rate), np.int16)
    return np.concatenate((silence[0], samples.astype(np.int16), silence[1]))


def speech_wav(path: Path, seconds: float = 2.0, seed: int = 11) -> Path:
    """A WAV of synthesized voice-like sound (no speech engine needed), padded with silence."""
    return write_wav(path, padded(voice.speech_like(seconds, seed=seed), RATE))


def silent_wav(path: Path, seconds: float = 1.0) -> Path:
    """A WAV of silence: the fake microphone of a page whose call plays a recording instead."""
    return write_wav(path, np.zeros(int(seconds * RATE), dtype=np.int16))


def spoken_wav(path: Path, text: str, rate: int = 16000) -> Path:
    """A WAV of `text` spoken by espeak-ng, padded with silence; HarnessError without espeak-ng."""
    engine = voice.Voice.detect().engine
    if engine is None:
        raise HarnessError("spoken_wav needs espeak-ng (apt-get install espeak-ng); or speech_wav")
    return write_wav(path, padded(voice.spoken(engine, text, rate), rate), rate)
