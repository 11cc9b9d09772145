"""The Tools panel and its checks in Chromium, from client events the call page's editor sends."""

from __future__ import annotations

import json

import numpy as np
import pytest
from playwright.sync_api import expect

from voice_lab.testing import CapturedSession, start_call, stop_call, wait_for_responses, write_wav

pytestmark = pytest.mark.e2e

STRAY_OUTPUT = {
    "type": "conversation.item.create",
    "item": {"type": "function_call_output", "call_id": "call_never_made", "output": "{}"},
}


def test_a_stray_output_and_an_early_response_create_fail_their_checks(
    voice_lab_browser, voice_lab_server, tmp_path
):
    silence = write_wav(tmp_path / "silence.wav", np.zeros(48000, np.int16))
    page = voice_lab_browser.page(silence, loop=False)
    by = page.get_by_test_id
    session_id = start_call(page, voice_lab_server.url, {"scenario": "slow_response:3"})
    expect(page.locator("[data-testid=event][data-type='session.updated']")).to_have_count(1)
    by("editor").fill(json.dumps(STRAY_OUTPUT))
    by("editor-send").click()
    by("text-input").fill("Is it raining?")
    by("text-input").press("Enter")
    expect(page.locator("[data-testid=event][data-type='response.created']")).to_have_count(1)
    by("editor").fill('{"type": "response.create"}')  # while the slow response runs
    by("editor-send").click()
    wait_for_responses(page)
    stop_call(page)

    page.goto(f"{voice_lab_server.url}/sessions/{session_id}")
    failed = page.locator("[data-testid=check][data-ok=false]")
    expect(failed.filter(has_text="outputs match calls")).to_have_count(1)
    expect(failed.filter(has_text="one response at a time")).to_have_count(1)
    expect(by("panel-tools")).to_contain_text("No function calls.")
    expect(by("chip-tools-calls")).to_have_text("0")  # the chip, filled by the panels
    captured = CapturedSession.load(voice_lab_server.url, session_id)
    assert {c.name for c in captured.checks() if not c.ok} >= {
        "outputs match calls",
        "one response at a time",
    }
