"""The emulator's ears: spoken WAVs recognised word for word, the words in a real call's input
transcription events (both protocol shapes), the fallback without a recogniser, bad models."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.rtc_client import RtcClient
from tests.test_emulator_call import assert_conforms, mint
from voice_lab import create_app
from voice_lab.config import ConfigError
from voice_lab.emulator import ears, voice
from voice_lab.testing import spoken_wav

ROOT = Path(__file__).resolve().parent.parent
# Sentences and four content words of each: recognition passes with at least three of the four.
SENTENCES = {
    "Please book a table for four people tomorrow evening.": (
        "book",
        "table",
        "people",
        "tomorrow",
    ),
    "Turn off the kitchen lights before midnight.": ("turn", "kitchen", "lights", "midnight"),
    "What is the weather like in Paris today?": ("weather", "like", "paris", "today"),
}
TRANSCRIBED = "conversation.item.input_audio_transcription"


def heard(transcript: str, words: tuple[str, ...]) -> int:
    """How many of `words` the transcript holds (case and punctuation aside)."""
    said = set(re.findall(r"[a-z']+", transcript.lower()))
    return sum(word in said for word in words)


@pytest.fixture(autouse=True)
def emulator_settings(settings):
    """Every test here runs the emulator as the provider."""
    settings["VOICE_LAB_PROVIDER"] = "emulator"


@pytest.fixture
def ears_on(settings):
    """The emulator's ears on (request it before `live_server`, which builds the app)."""
    settings["VOICE_LAB_ASR"] = "on"


@pytest.fixture(scope="module")
def tiny() -> ears.Ears:
    """The bundled tiny.en, loaded once for the module (a cold load takes seconds)."""
    found = ears.locate(None)
    assert found is not None, f"the recognition tests need the ears: {ears.INSTALL}"
    found.load()
    return found


def test_spoken_wavs_are_recognised_word_for_word(tiny, tmp_path):
    """espeak-ng's sentences, through a 16 kHz WAV, come back with their content words."""
    for index, (text, words) in enumerate(SENTENCES.items()):
        with wave.open(str(spoken_wav(tmp_path / f"{index}.wav", text)), "rb") as wav:
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        transcript = tiny.transcribe(samples.astype(np.float32) / 32768)
        assert heard(transcript, words) >= 3, (text, transcript)


def test_the_tape_keeps_an_items_audio_from_speech_start_to_commit():
    """Audio before speech_started's offset is not the item's; a take empties the tape."""
    tape = ears.Tape()
    tape.feed(np.arange(8000, dtype=np.int16))  # 500 ms
    tape.feed(np.arange(8000, 16000, dtype=np.int16))
    tape.mark(250)
    pcm = tape.take(750)
    assert len(pcm) == 8000 and pcm[0] == np.float32(4000 / 32768)
    assert len(tape.take(1000)) == 4000, "the rest, up to the next commit"
    assert len(tape.take(1000)) == 0


def test_the_tape_is_bounded():
    """A session that never commits keeps at most MAX_SECONDS of audio."""
    tape = ears.Tape()
    second = np.zeros(ears.RATE, np.int16)
    for _ in range(ears.Tape.MAX_SECONDS + 5):
        tape.feed(second)
    assert tape.kept == ears.Tape.MAX_SECONDS * ears.RATE


def spoken_turn(text: str) -> np.ndarray:
    """`text` spoken at 48 kHz, with the pause after it that ends the turn."""
    engine = voice.Voice.detect().engine
    assert engine is not None, "apt-get install espeak-ng"
    words = voice.spoken(engine, text, 48000)
    return np.concatenate((np.zeros(24000, np.int16), words, np.zeros(72000, np.int16)))


async def transcribed_call(live_server, protocol: str, update: dict, text: str) -> RtcClient:
    """One spoken turn over the peer; returns once its transcription completed."""
    session = mint(live_server, protocol=protocol)
    client = RtcClient()
    await client.connect(session["webrtc_url"], session["ephemeral_key"])
    await client.wait_for("session.created")
    client.send({"type": "session.update", "session": update})
    await client.wait_for("session.updated")
    client.mic.say(spoken_turn(text))
    await client.wait_for(f"{TRANSCRIBED}.completed", timeout=90)
    await client.close()
    return client


@pytest.mark.parametrize(
    ("protocol", "update", "model"),
    [
        (
            "ga",
            {"type": "realtime", "audio": {"input": {"transcription": {}}}},
            "gpt-4o-transcribe",
        ),
        ("beta", {"input_audio_transcription": {}}, "whisper-1"),
    ],
)
def test_a_calls_input_transcription_carries_the_spoken_words(
    ears_on, live_server, tiny, protocol, update, model
):
    """The words come after the commit, as the model streams them: whisper-1 in one delta billed
    by duration, gpt-4o-transcribe word by word billed by tokens; the SDK's models accept them."""
    text, words = next(iter(SENTENCES.items()))
    target = update["audio"]["input"] if protocol == "ga" else update
    target["transcription" if protocol == "ga" else "input_audio_transcription"] = {"model": model}
    client = asyncio.run(transcribed_call(live_server, protocol, update, text))
    committed = next(e for e in client.events if e["type"] == "input_audio_buffer.committed")
    mine = [e for e in client.events if e["type"].startswith(TRANSCRIBED)]
    deltas = [e["delta"] for e in mine if e["type"].endswith(".delta")]
    completed = mine[-1]
    assert client.events.index(mine[0]) > client.events.index(committed)
    assert {e["item_id"] for e in mine} == {committed["item_id"]}
    assert heard(completed["transcript"], words) >= 3, completed["transcript"]
    assert "".join(deltas) == completed["transcript"]
    if model == "whisper-1":
        assert len(deltas) == 1 and completed["usage"]["type"] == "duration"
        assert 2.0 <= completed["usage"]["seconds"] <= 6.0  # padding, the sentence, the pause
    else:
        assert len(deltas) == len(completed["transcript"].split())
        assert completed["usage"]["type"] == "tokens"
    assert_conforms(client.events, protocol)


def test_without_ears_the_transcript_says_how_long_the_speech_was(live_server):
    """VOICE_LAB_ASR=off (tests/conftest.py; as with no recogniser installed): the transcript
    says "(speech, N s)", as before."""
    update = {"type": "realtime", "audio": {"input": {"transcription": {"model": "whisper-1"}}}}
    client = asyncio.run(transcribed_call(live_server, "ga", update, "Turn off the lights."))
    completed = next(e for e in client.events if e["type"] == f"{TRANSCRIBED}.completed")
    assert re.fullmatch(r"\(speech, \d\.\d s\)", completed["transcript"])


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter at the project's root, with `env` added."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_without_faster_whisper_there_are_no_ears_and_a_model_is_refused(tmp_path):
    """With faster-whisper unimportable the emulator has no ears (the fallback), and asking for a
    model then is refused at start-up with the install line."""
    code = f"""
import sys
sys.modules["faster_whisper"] = None  # not installed, as far as imports can tell
from voice_lab import create_app
from voice_lab.config import ConfigError
settings = {{"VOICE_LAB_DATABASE": {str(tmp_path / "db.sqlite3")!r}}}
print("ears:", create_app(settings).extensions["voice_lab_emulator"].ears)
try:
    create_app({{**settings, "VOICE_LAB_ASR_MODEL": "tiny.en"}})
except ConfigError as exc:
    print("refused:", exc)
"""
    out = run_python(code).stdout
    assert "ears: None" in out
    assert "refused: VOICE_LAB_ASR_MODEL: is set to 'tiny.en' but faster-whisper" in out
    assert "pip install -r requirements-dev.txt" in out


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("{tmp}/missing", "there is no folder at"),
        ("{tmp}", "has no model.bin, config.json"),
        ("tiny.en.typo", "is neither a model folder nor a faster-whisper model name"),
    ],
)
def test_a_bad_model_is_refused_at_start_up(settings, tmp_path, value, says):
    """A missing folder, a folder that holds no model, an unknown name: each names the fix."""
    settings["VOICE_LAB_ASR_MODEL"] = value.format(tmp=tmp_path)
    settings["VOICE_LAB_ASR"] = "on"
    with pytest.raises(ConfigError, match="VOICE_LAB_ASR_MODEL") as refused:
        create_app(settings)
    assert says in str(refused.value) and "VOICE_LAB_ASR=off" in str(refused.value)


def test_the_doctor_refuses_a_bad_model_too(tmp_path):
    """`flask doctor` does not start on a bad model, and says what to set."""
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "doctor"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "VOICE_LAB_ASR_MODEL": str(tmp_path / "no")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "VOICE_LAB_ASR_MODEL: there is no folder at" in done.stdout + done.stderr


def test_changed_weights_are_refused_before_they_load(tmp_path):
    """Files that differ from the pinned sha256 are refused, naming the reinstall."""
    bundled = ears.locate(None)
    assert bundled is not None, ears.INSTALL
    copy = tmp_path / "model"
    shutil.copytree(bundled.source, copy)
    (copy / "config.json").write_text((copy / "config.json").read_text().replace("50", "51", 1))
    with pytest.raises(ears.EarsProblem, match="not the pinned tiny.en weights"):
        ears.Ears(str(copy), bundled.hashes).load()


def test_the_pinned_hashes_are_the_ones_the_code_checks():
    """requirements-dev.txt records the same sha256 the loader checks."""
    pins = (ROOT / "requirements-dev.txt").read_text()
    for name, digest in ears.BUNDLED_SHA256.items():
        assert re.search(rf"#\s+{re.escape(name)}\s+{digest}\b", pins), name
