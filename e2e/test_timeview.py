"""The time view in Chromium after a recorded call: it draws, a row clicked moves the player to
its event, ?at= opens at that moment, and zooming in narrows the visible span."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from playwright.sync_api import expect

from voice_lab.testing import hold_call, speech_wav, spoken_wav

pytestmark = pytest.mark.e2e

WITHIN_S = 0.1

DRAWN = """canvas => {
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  return data.some((value, i) => i % 4 === 3 && value > 0);
}"""


@pytest.fixture
def mic(tmp_path):
    """Spoken words when espeak-ng is there, voice-like sound otherwise."""
    if shutil.which("espeak-ng"):
        return spoken_wav(tmp_path / "mic.wav", "What is the weather like today?")
    return speech_wav(tmp_path / "mic.wav")


def test_the_time_view_draws_seeks_opens_at_and_zooms(voice_lab_browser, mic, server):
    page = voice_lab_browser.page(mic, loop=True)
    session_id = hold_call(page, server.url, {"label": "time view"}, responses=2)
    page.goto(f"{server.url}/sessions/{session_id}")
    view = page.get_by_test_id("timeview")
    expect(view).to_have_attribute("data-span", re.compile(r"^\d+$"))
    assert page.get_by_test_id("timeview-canvas").evaluate(DRAWN)

    lanes = json.loads(view.get_attribute("data-lanes"))
    duration = float(view.get_attribute("data-span"))
    # A row well inside the recording: the first response's created event.
    created = lanes["responses"][0]["start_ms"]
    row = page.locator(f'[data-testid="event-row"][data-t="{lanes["t0"] + created}"]').first
    if row.count() == 0:  # grouped rows may sit at another event of the same moment
        row = page.locator('[data-testid="event-row"][data-type="response.created"]').first
    t = float(row.get_attribute("data-t"))
    assert 0 < t - lanes["t0"] < duration
    row.locator("summary").click()
    page.wait_for_function(
        "([at, within]) => Math.abs(document.querySelector('[data-testid=timeview-audio]')"
        ".currentTime - at) <= within",
        arg=[(t - lanes["t0"]) / 1000, WITHIN_S],
    )
    assert f"at={round(t - lanes['t0'])}" in page.url

    page.goto(f"{server.url}/sessions/{session_id}?at=1500")
    expect(page.get_by_test_id("timeview")).to_have_attribute("data-span", str(round(duration)))
    page.wait_for_function(
        "() => Math.abs(document.querySelector('[data-testid=timeview-audio]')"
        ".currentTime - 1.5) <= 0.1"
    )
    page.get_by_test_id("timeview-zoom-in").click()
    expect(page.get_by_test_id("timeview")).not_to_have_attribute("data-span", str(round(duration)))
    assert float(page.get_by_test_id("timeview").get_attribute("data-span")) < duration
