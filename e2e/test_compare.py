"""The compare page in Chromium, over two recorded emulator calls with different voices: the
voice is marked different, the rest of what both ran with is not, and both time views load."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from voice_lab.testing import hold_call

pytestmark = pytest.mark.e2e

DRAWN = """canvas => {
  const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  return data.some((value, i) => i % 4 === 3 && value > 0);
}"""
SPAN = re.compile(r"^\d+$")  # a drawn view's span, in whole ms


def test_two_calls_with_other_voices_compare_with_the_voice_marked(voice_lab_browser, mic, server):
    page = voice_lab_browser.page(mic, loop=True)
    a = hold_call(page, server.url, {"label": "marin", "voice": "marin"})
    b = hold_call(page, server.url, {"label": "cedar", "voice": "cedar"})
    page.goto(f"{server.url}/compare?a={a}&b={b}")

    voice = page.locator('[data-testid=config-row][data-field="session.voice"]')
    expect(voice.get_by_test_id("changed")).to_have_count(2)
    expect(voice.get_by_test_id("changed").first).to_have_text("marin")
    expect(voice.get_by_test_id("changed").last).to_have_text("cedar")
    for same in ("session.provider", "session.model"):
        row = page.locator(f'[data-testid=config-row][data-field="{same}"]')
        expect(row.get_by_test_id("same")).to_have_count(2)
    # A changed cell looks different from a same one.
    changed, plain = (
        page.locator(f'[data-testid=config-row] [data-testid="{kind}"]').first.evaluate(
            "cell => getComputedStyle(cell).backgroundColor"
        )
        for kind in ("changed", "same")
    )
    assert changed != plain
    expect(page.get_by_test_id("compare-link-a")).to_have_attribute("href", f"/sessions/{a}")
    expect(page.get_by_test_id("compare-link-b")).to_have_attribute("href", f"/sessions/{b}")

    for side in ("a", "b"):
        view = page.get_by_test_id(f"compare-timeview-{side}").get_by_test_id("timeview")
        expect(view).to_have_attribute("data-span", SPAN, timeout=60_000)
        assert view.get_by_test_id("timeview-canvas").evaluate(DRAWN)
