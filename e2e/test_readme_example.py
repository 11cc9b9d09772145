"""The README's example of testing a realtime app, kept running."""

import shutil
from pathlib import Path

import pytest

from voice_lab.testing import (
    CapturedSession,
    hold_call,
    import_bundle,
    replay,
    silent_wav,
    spoken_wav,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="spoken_wav needs espeak-ng"),
]


def test_a_spoken_question_is_answered(voice_lab_browser, voice_lab_server, tmp_path):
    mic = spoken_wav(tmp_path / "q.wav", "What is the weather like?")  # or a WAV of your own
    page = voice_lab_browser.page(mic, loop=True)
    session_id = hold_call(page, voice_lab_server.url, {"label": "weather", "voice": "marin"})

    session = CapturedSession.load(voice_lab_server.url, session_id)
    session.assert_order(["input_audio_buffer.speech_stopped", "response.created", "response.done"])
    session.assert_no_errors()  # nothing pinned, every protocol check holds
    session.assert_latency_under(1500)  # p95 from end of speech to first audio, in ms


WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city now.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}


def get_weather(arguments):  # your app's tool, or a stand-in for it
    return {"city": arguments["city"], "temperature": 18, "conditions": "sunny"}


def test_the_model_calls_a_tool_and_says_its_output(voice_lab_browser, voice_lab_server, tmp_path):
    mic = spoken_wav(tmp_path / "q.wav", "What is the weather in Paris?")
    page = voice_lab_browser.page(mic, loop=False)
    session_id = hold_call(
        page,
        voice_lab_server.url,
        {"label": "weather tool"},
        responses=2,  # the call, then the reply that uses its output
        script="weather",  # the emulator's example: asked about the weather, call get_weather
        tools=[WEATHER],
        answers={"get_weather": get_weather},
    )

    session = CapturedSession.load(voice_lab_server.url, session_id)
    call = session.assert_tool_called("get_weather", city="Paris")
    assert call.output is not None and call.answers == 1
    said = [line.text for line in session.transcript() if line.role == "assistant"]
    assert "In Paris it is 18 degrees and sunny." in said
    session.assert_no_errors()  # the call answered once, no response.create too early


GOLDEN_CALL = Path(__file__).parent / "golden" / "weather.zip"  # a session page's bundle


def test_new_instructions_are_not_slower_and_call_the_same_tools(
    voice_lab_browser, voice_lab_server, tmp_path
):
    page = voice_lab_browser.page(silent_wav(tmp_path / "silence.wav"), loop=True)
    golden = import_bundle(page, voice_lab_server.url, GOLDEN_CALL)
    old = replay(page, voice_lab_server.url, golden, {"instructions": "You are a weather bot."})
    new = replay(page, voice_lab_server.url, golden, {"instructions": "Answer in one sentence."})

    before = CapturedSession.load(voice_lab_server.url, old)
    after = CapturedSession.load(voice_lab_server.url, new)
    after.assert_not_slower(before, "to_first_audio_ms", by_ms=500)  # p95, in ms
    after.assert_same_tools(before)  # the same functions called, in the same order
