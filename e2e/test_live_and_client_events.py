"""A second tab following a call live, and client events sent from the call page's editor."""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests
from playwright.sync_api import expect

from voice_lab.testing import (
    CapturedSession,
    start_call,
    stop_call,
    wait_for_responses,
    write_wav,
)

pytestmark = pytest.mark.e2e


def test_a_second_tab_sees_new_events_while_the_call_runs(context, voice_lab_server):
    caller = context.new_page()
    session_id = start_call(caller, voice_lab_server.url, {"label": "watched"})
    watcher = context.new_page()
    watcher.goto(f"{voice_lab_server.url}/sessions/{session_id}")
    expect(watcher.get_by_test_id("session-status")).to_have_text("live")
    rows = watcher.locator("[data-testid=event-row]")
    before = rows.count()
    expect(watcher.locator("[data-testid=event-row][data-type='response.done']")).to_have_count(0)

    wait_for_responses(caller)
    expect(watcher.locator("[data-testid=event-row][data-type='response.done']")).to_have_count(
        1, timeout=10_000
    )
    assert rows.count() > before
    expect(watcher.locator("[data-testid=transcript-line][data-role=assistant]")).to_have_count(
        1, timeout=10_000
    )
    stop_call(caller)
    stored = requests.get(f"{voice_lab_server.url}/api/sessions/{session_id}", timeout=5).json()
    assert stored["event_count"] == int(caller.get_by_test_id("acked-seq").text_content())


@pytest.fixture
def silent_page(voice_lab_browser, tmp_path):
    """A page whose microphone is silent: no voice turn gets in the way of typed events."""
    silence = write_wav(tmp_path / "silence.wav", np.zeros(48000, np.int16))
    return voice_lab_browser.page(silence, loop=False)


def test_text_cancel_and_a_malformed_event_from_the_editor(silent_page, voice_lab_server):
    page, by = silent_page, silent_page.get_by_test_id
    settings = {"scenario": "slow_response:4", "label": "client events"}
    session_id = start_call(page, voice_lab_server.url, settings)
    expect(page.locator("[data-testid=event][data-type='session.updated']")).to_have_count(1)

    by("text-input").fill("What time is it?")
    by("text-input").press("Enter")
    expect(page.locator("[data-testid=event][data-type='response.created']")).to_have_count(1)
    by("editor-template").select_option("response.cancel")
    by("editor-send").click()
    expect(by("editor-error")).to_be_hidden()
    wait_for_responses(page)
    done = page.locator("[data-testid=event][data-type='response.done'] pre")
    assert json.loads(done.text_content())["response"]["status"] == "cancelled"

    # Sent events, not the recorded count: a stats sample a second is recorded meanwhile.
    sent = page.locator("[data-testid=event][data-dir=client]")
    before = sent.count()
    by("editor").fill('{"type": "response.create", nope}')
    by("editor-send").click()
    expect(by("editor-error")).to_contain_text("Invalid JSON")
    assert sent.count() == before
    stop_call(page)

    captured = CapturedSession.load(voice_lab_server.url, session_id)
    assert captured.types("client") == [
        "session.update",
        "conversation.item.create",
        "response.create",
        "response.cancel",
    ]
    assert captured.of_type("conversation.item.create")[0].data["item"]["content"][0]["text"] == (
        "What time is it?"
    )
    assert not any("nope" in event.raw for event in captured.events)
    assert [e.message for e in captured.errors()] == ["response cancelled: client_cancelled"]

    page.goto(f"{voice_lab_server.url}/sessions/{session_id}")
    expect(by("pinned-error")).to_have_count(1)
    expect(by("pinned-error")).to_contain_text("cancelled")
