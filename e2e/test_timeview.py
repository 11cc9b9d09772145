"""The time view in Chromium after a recorded call: it draws, a row or a marker clicked moves the
player to its event, ?at= opens at that moment, the row under the playhead is highlighted while
it plays, the transcript reads under the canvas, and zooming in narrows the visible span and asks
for the peaks of that window only."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from playwright.sync_api import expect

from tests.waiting import until
from voice_lab.testing import hold_call

pytestmark = pytest.mark.e2e

WITHIN_S = 0.1

AT = """([at, within]) => Math.abs(document.querySelector("[data-testid=timeview-audio]")
  .currentTime - at) <= within"""
# Where the lanes sit on the canvas (static/js/timeview.js, timeview_lanes.js): two waveforms of
# 60 px, then lanes of 16 px: VAD, responses, audio, tools, errors, user said, model said.
AUDIO_Y = 2 * 60 + 2 * 16 + 8
MODEL_SAID_Y = 2 * 60 + 6 * 16 + 8

# Whether the window of finer peaks the view holds covers the span it shows.
HOLDS = """view => {
  const [a, b] = (view.dataset.fine ?? "").split("-").map(Number);
  const start = Number(view.dataset.start);
  return a <= start && start + Number(view.dataset.span) <= b + 1; // each edge is rounded
}"""

DRAWN = """canvas => {
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  return data.some((value, i) => i % 4 === 3 && value > 0);
}"""


def heard_the_user(page) -> None:
    """Wait for the user's words: the emulator's ears may finish after the replies."""
    done = page.get_by_test_id("event-list").get_by_text(
        "conversation.item.input_audio_transcription.completed"
    )
    expect(done.first).to_be_attached(timeout=60_000)


def test_the_time_view_draws_seeks_opens_at_and_zooms(voice_lab_browser, mic, server):
    page = voice_lab_browser.page(mic, loop=True)
    session_id = hold_call(page, server.url, {"label": "time view"}, responses=2)
    peaks = f"{server.url}/sessions/{session_id}/recording/peaks"
    until(lambda: requests.get(peaks, timeout=10).status_code == 200, "the recording prepared")
    page.goto(f"{server.url}/sessions/{session_id}")
    view = page.get_by_test_id("timeview")
    expect(view).to_have_attribute("data-span", re.compile(r"^\d+$"))
    assert page.get_by_test_id("timeview-canvas").evaluate(DRAWN)
    # Prepared, the view comes in the page and the events follow its first paint.
    assert page.locator(".timeview-slot").count() == 0
    expect(page.get_by_test_id("event-row").first).to_be_attached()

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


def test_markers_seek_rows_light_up_while_playing_and_deep_zoom_asks_for_a_window(
    voice_lab_browser, mic, server
):
    page = voice_lab_browser.page(mic, loop=True)
    session_id = hold_call(
        page, server.url, {"label": "time view lanes"}, responses=2, during=heard_the_user
    )
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/recording/peaks" in r.url else None)
    # A narrow view, so the whole call's level is coarser than the finest (10 ms a bin).
    page.set_viewport_size({"width": 480, "height": 900})
    page.goto(f"{server.url}/sessions/{session_id}")
    view = page.get_by_test_id("timeview")
    expect(view).to_have_attribute("data-span", re.compile(r"^\d+$"))
    canvas = page.get_by_test_id("timeview-canvas")
    width = canvas.evaluate("c => c.clientWidth")
    assert len(asked) == 1 and parse_qs(urlparse(asked[0]).query) == {"bins": [str(width)]}
    lanes = json.loads(view.get_attribute("data-lanes"))
    duration = float(view.get_attribute("data-span"))
    assert duration / 10 > width, (duration, width)  # more bins at 10 ms than pixels

    # A click inside an output audio marker seeks to the audio's start, not to the pointer.
    widest = max(lanes["audio"], key=lambda s: (s["end_ms"] or duration) - s["start_ms"])
    end = widest["end_ms"] or duration
    assert end - widest["start_ms"] > 4 * WITHIN_S * 1000
    canvas.click(position={"x": (widest["start_ms"] + end) / 2 / duration * width, "y": AUDIO_Y})
    page.wait_for_function(AT, arg=[widest["start_ms"] / 1000, WITHIN_S])

    # Both sides' words: the model's under the playhead in the caption, whole on hover.
    assert {span["side"] for span in lanes["transcript"]} == {"user", "model"}
    said = next(s for s in lanes["transcript"] if s["side"] == "model" and s["end_ms"])
    middle = (said["start_ms"] + said["end_ms"]) / 2
    page.goto(f"{server.url}/sessions/{session_id}?at={round(middle)}")
    expect(page.get_by_test_id("timeview-caption")).to_contain_text(f"model: {said['label']}")
    expect(view).to_have_attribute("data-span", re.compile(r"^\d+$"))
    canvas.hover(position={"x": middle / duration * width, "y": MODEL_SAID_Y})
    expect(canvas).to_have_attribute("title", said["label"])

    # Played through an event, its row is the one highlighted: the event with the longest
    # wait after it, so the highlight holds it for a while.
    t0 = lanes["t0"]
    times = page.locator('[data-testid="event-row"]').evaluate_all("rs => rs.map(r => r.dataset.t)")
    inside = sorted({t for t in times if 1000 < float(t) - t0 < duration - 1000}, key=float)
    gap, target = max((float(b) - float(a), a) for a, b in zip(inside, inside[1:], strict=False))
    assert gap > 600, inside
    page.goto(f"{server.url}/sessions/{session_id}?at={round(float(target) - t0 - 400)}")
    expect(view).to_have_attribute("data-span", re.compile(r"^\d+$"))
    page.get_by_test_id("timeview-play").click()
    page.wait_for_function(
        "at => document.querySelector('[data-testid=timeview-audio]').currentTime > at",
        arg=(float(target) - t0) / 1000,
    )
    page.wait_for_function(
        "t => document.querySelector(`details.row.playhead[data-t='${t}']`)",
        arg=target,
        polling="raf",
    )
    page.get_by_test_id("timeview-play").click()

    # Zoomed to 100 ms, the view asks for windows of peaks (the view and a span either side),
    # about a bin a pixel, until one holds what it shows.
    for _ in range(10):
        page.get_by_test_id("timeview-zoom-in").click()
    expect(view).to_have_attribute("data-span", "100")
    import time

    time.sleep(3)
    print(
        view.get_attribute("data-fine"),
        view.get_attribute("data-start"),
        [u for u in asked if "start_ms" in u],
    )
    page.wait_for_function(HOLDS, arg=view.element_handle())
    windows = [parse_qs(urlparse(url).query) for url in asked if "start_ms=" in url]
    assert windows and all(int(w["bins"][0]) <= 3 * width + 1 for w in windows)
