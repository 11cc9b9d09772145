"""The call page's level meters in Chromium: a fake microphone speaking, the emulator answering."""

from __future__ import annotations

import shutil

import pytest
from playwright.sync_api import expect

from voice_lab.testing import spoken_wav

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="spoken_wav needs espeak-ng"),
]

CALL_TIMEOUT_MS = 30_000
# The meters show the fourth root of the RMS: 0.2 is an RMS of 0.0016, far above digital
# silence (0) and far below speech (around 0.05-0.3).
MOVED = 0.2


def meter_above(page, testid: str, level: float) -> None:
    """Wait until the meter `testid` shows more than `level`, checking at every frame."""
    page.wait_for_function(
        "([id, level]) => document.querySelector(`[data-testid=${id}]`).value > level",
        arg=[testid, level],
        timeout=CALL_TIMEOUT_MS,
    )


def test_meters_move_with_the_microphone_and_the_reply(voice_lab_browser, server, tmp_path):
    """Both meters read their track's samples: the fake microphone's words, the emulator's reply."""
    mic = spoken_wav(tmp_path / "mic.wav", "Please tell me what the weather is like today.")
    page = voice_lab_browser.page(mic, loop=True)
    page.goto(f"{server.url}/call")
    page.wait_for_selector("#call[data-ready=true]")
    page.get_by_test_id("start").click()
    expect(page.get_by_test_id("call-phase")).to_have_text("live", timeout=CALL_TIMEOUT_MS)
    meter_above(page, "mic-level", MOVED)
    started = page.locator("[data-testid=event][data-type='output_audio_buffer.started']")
    expect(started.first).to_be_attached(timeout=CALL_TIMEOUT_MS)
    meter_above(page, "remote-level", MOVED)
    page.get_by_test_id("stop").click()
    expect(page.get_by_test_id("call-phase")).to_have_text("ended", timeout=10_000)
    expect(page.get_by_test_id("mic-level")).to_have_attribute("value", "0")
    expect(page.get_by_test_id("remote-level")).to_have_attribute("value", "0")
