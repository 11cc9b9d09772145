"""The README's example of testing a realtime app, kept running."""

import shutil

import pytest

from voice_lab.testing import CapturedSession, hold_call, spoken_wav

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
