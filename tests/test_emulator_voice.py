"""The emulator's voice: espeak-ng resampled to 48 kHz, and the stand-in where it is missing."""

from __future__ import annotations

import asyncio
import shutil

import numpy as np
import pytest

from voice_lab.emulator import voice

REPLY = "I heard you speak for 1.2 seconds."
needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


def rms(samples: np.ndarray) -> float:
    """Root mean square of s16 samples."""
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def test_resample_keeps_the_pitch():
    """A 1 kHz tone at espeak-ng's 22.05 kHz is still 1 kHz at 48 kHz, and as long."""
    t = np.arange(22050) / 22050
    tone = (np.sin(2 * np.pi * 1000 * t) * 10000).astype(np.int16)
    out = voice.resample(tone, 22050, 48000)
    assert abs(len(out) - 48000) <= 2
    rising = np.count_nonzero((out[:-1] < 0) & (out[1:] >= 0))
    assert 995 <= rising <= 1005


@needs_espeak
def test_espeak_speaks_the_reply_at_48k():
    """Real espeak-ng: 48 kHz mono s16 speech lasting what seven words take to say."""
    spoken = voice.Voice.detect()
    assert spoken.engine is not None and spoken.name.startswith("espeak-ng")
    samples = spoken.samples(REPLY)
    assert samples.dtype == np.int16 and samples.ndim == 1
    seconds = len(samples) / voice.RATE
    assert 0.2 * 7 < seconds < 0.8 * 7
    assert rms(samples) > 1000  # speech, not silence
    # The engine's trailing silence is cut: the audio ends with the words.
    assert np.count_nonzero(samples[-voice.RATE // 10 :]) > 0
    longer = spoken.samples(REPLY + " " + REPLY)
    assert len(longer) > 1.6 * len(samples)


@needs_espeak
def test_spoken_samples_are_cached_and_read_only():
    """The same text gives the same array, which no caller can change under the others."""
    spoken = voice.Voice.detect()
    first = spoken.samples("Cached reply.")
    assert spoken.samples("Cached reply.") is first
    with pytest.raises(ValueError):
        first[0] = 1


@needs_espeak
def test_speak_leaves_the_loop_running():
    """While espeak-ng speaks, other tasks on the loop keep running; the samples are the same."""
    spoken = voice.Voice.detect()
    text = "Tasks keep running while this is spoken."
    ticks = 0

    async def main() -> np.ndarray:
        nonlocal ticks
        speaking = asyncio.ensure_future(spoken.speak(text))
        while not speaking.done():
            ticks += 1
            await asyncio.sleep(0)
        return speaking.result()

    assert np.array_equal(asyncio.run(main()), spoken.samples(text))
    assert ticks > 1  # a blocking call would have finished before the loop turned again


def test_without_espeak_the_stand_in_voice_speaks(tmp_path):
    """A PATH without espeak-ng: the synthesized voice, a quarter second a word, and it says so."""
    stand_in = voice.Voice.detect(path=str(tmp_path))
    assert stand_in.engine is None
    assert "espeak-ng not found" in stand_in.name
    samples = stand_in.samples(REPLY)
    assert len(samples) == int(7 * voice.WORD_SECONDS * voice.RATE)
    assert rms(samples) > 1000


@pytest.fixture
def emulator_provider(settings):
    """The app under test uses the emulator."""
    settings["VOICE_LAB_PROVIDER"] = "emulator"


def test_doctor_says_which_voice_speaks(emulator_provider, runner):
    """The doctor names the emulator's voice, so a missing espeak-ng is seen before a call."""
    result = runner.invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    assert f"speech:    replies spoken by {voice.default().name}" in result.output
