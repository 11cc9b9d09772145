"""The emulator's reply audio against its events, over a real aiortc call: the reply plays only
between `output_audio_buffer.started` and `stopped`, and a barge-in cuts it where it says."""

from __future__ import annotations

import numpy as np
import pytest

from tests.rtc_client import RATE, RtcClient
from tests.test_emulator_call import open_call, run
from voice_lab.emulator import voice

FRAME = RATE // 50  # 20 ms
SLACK = RATE * 150 // 1000  # the tolerance between an event and the audio it marks
LOUD = 500  # s16: well above Opus's decoded silence, well below speech
# Long enough that the response is still streaming its transcript when the user talks over it.
LONG = " ".join(["The quick brown fox jumps over the lazy dog."] * 8)
VAD = {
    "type": "session.update",
    "session": {
        "type": "realtime",
        "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 300}}},
    },
}


@pytest.fixture(autouse=True)
def emulator_settings(settings):
    """Every test here runs the emulator as the provider."""
    settings["VOICE_LAB_PROVIDER"] = "emulator"


def utterance(seconds: float, seed: int = 3) -> np.ndarray:
    """Voice-like sound lasting `seconds`, then 1 s of silence."""
    return np.concatenate((voice.speech_like(seconds, seed=seed), np.zeros(RATE, np.int16)))


def loud(samples: np.ndarray) -> np.ndarray:
    """Indices of the samples with speech energy."""
    return np.flatnonzero(np.abs(samples.astype(np.int32)) > LOUD)


def ask(client: RtcClient, text: str) -> str:
    """Type `text` as a user message and ask for a response; return the reply it will speak."""
    content = [{"type": "input_text", "text": text}]
    client.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": content},
        }
    )
    client.send({"type": "response.create"})
    return f"You said: {text}"


def test_reply_audio_plays_only_between_started_and_stopped(live_server):
    """Speech energy arrives only inside the output buffer's interval, which lasts the reply."""

    async def call():
        client = await open_call(live_server)
        text = ask(client, "Hello there, how are you today?")
        started = await client.wait_for("output_audio_buffer.started", timeout=20)
        stopped = await client.wait_for("output_audio_buffer.stopped", timeout=20)
        await client.wait_heard(client.heard_at(stopped) + RATE // 2)  # and half a second more
        await client.close()
        return client, text, started, stopped

    client, text, started, stopped = run(call())
    begin, end = client.heard_at(started), client.heard_at(stopped)
    energy = loud(client.audio())
    assert len(energy) > RATE // 2, "the reply was heard"
    assert begin - SLACK <= energy[0] and energy[-1] <= end + SLACK
    expected = voice.default().samples(text)
    assert abs((end - begin) - len(expected)) <= SLACK, "the buffer plays as long as the speech"
    spoken = loud(expected)
    assert abs((energy[-1] - energy[0]) - (spoken[-1] - spoken[0])) <= 2 * FRAME


def test_barge_in_cuts_the_audio_where_truncated_says(live_server):
    """Speech over a reply: cleared, truncated and a cancelled response.done, in that order, and
    nothing of the reply plays past `audio_end_ms`, all of which did play."""

    async def call():
        client = await open_call(live_server)
        client.send(VAD)
        await client.wait_for("session.updated")
        text = ask(client, LONG)
        started = await client.wait_for("output_audio_buffer.started", timeout=20)
        await client.wait_heard(client.heard_at(started) + RATE)  # a second of the reply
        client.mic.say(utterance(1.5))
        at = client.index(started)
        truncated = await client.wait_for("conversation.item.truncated", after=at)
        second = await client.wait_for("output_audio_buffer.started", after=at + 1, timeout=20)
        await client.close()
        return client, text, started, truncated, second

    client, text, started, truncated, second = run(call())
    barge = client.barge_in_after(started)
    done = client.events[client.index(started) + barge + 3]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"]["reason"] == "turn_detected"

    audio, expected = client.audio(), voice.default().samples(text)
    window = max(0, client.heard_at(started) - SLACK)
    reply_start = window + loud(audio[window:])[0] - loud(expected)[0]
    played = loud(audio[reply_start : client.heard_at(second) - SLACK])[-1]
    cut = truncated["audio_end_ms"] * RATE // 1000
    assert RATE <= cut < len(expected) - RATE, "cut mid-reply"
    # The cut may fall in a pause between words: what played ends at `cut`, or in the pause
    # before it, where the speech had not yet sounded again.
    resumes = loud(expected[played + 2 * FRAME :])
    assert played - 2 * FRAME <= cut <= played + 2 * FRAME + resumes[0] + 2 * FRAME
