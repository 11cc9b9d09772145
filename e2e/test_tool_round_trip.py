"""The emulator's function calls, answered (or not) from the call page, on the session page's
Tools panel and in the harness: a scripted three-turn call typed in Chromium."""

from __future__ import annotations

import json

import numpy as np
import pytest
from playwright.sync_api import expect

from voice_lab.testing import (
    CapturedSession,
    declare_tools,
    start_call,
    stop_call,
    wait_for_responses,
    write_wav,
)

pytestmark = pytest.mark.e2e

THREE_TURNS = {
    "turns": [
        {"turn": 1, "say": "Hello, I can look up the weather."},
        {
            "match": "weather",
            "call": {"name": "get_weather", "arguments": {"city": "Oslo"}},
            "say": "In {city} it is {temperature} degrees.",
        },
        {"say": "Goodbye for now."},
    ]
}
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def typed_turn(page, text: str, responses: int, played: int) -> None:
    """Type a user turn in the call page's text box and wait for its answer."""
    page.get_by_test_id("text-input").fill(text)
    page.get_by_test_id("text-input").press("Enter")
    answered(page, responses, played)


def answered(page, responses: int, played: int) -> None:
    """Wait for `responses` response.done events in all and `played` replies played out: the
    next turn starts after the reply, as a person's would, and Stop cuts no reply short (the
    recording's checks would fail)."""
    wait_for_responses(page, responses)
    stopped = page.locator("[data-testid=event][data-type='output_audio_buffer.stopped']")
    expect(stopped).to_have_count(played, timeout=30_000)


def arguments_done(page) -> dict:
    """The latest response.function_call_arguments.done the call page listed."""
    rows = page.locator("[data-testid=event][data-type='response.function_call_arguments.done']")
    return json.loads(rows.last.locator("pre").text_content())


def scripted_call(browser, server_url: str, tmp_path):
    """A page holding a live call on a silent microphone that follows THREE_TURNS with
    get_weather declared, and the call's session id."""
    page = browser.page(write_wav(tmp_path / "silence.wav", np.zeros(48000, np.int16)))
    # Not recorded: these tests are about function calls, and on a loaded host the recording's
    # playout checks judge the host's jitter buffer, not the calls.
    settings = {"label": "tools", "script": "three_turns", "record": False}
    session_id = start_call(page, server_url, settings)
    declare_tools(page, [WEATHER])
    return page, session_id


def test_a_scripted_call_whose_tool_call_the_editor_answers(
    voice_lab_browser, voice_lab_scripted_server, tmp_path
):
    """Turn 2's call, answered by typing its function_call_output into the client-event
    editor, is on the Tools panel with its output and timings; the chip counts it; no check
    fails, and the harness agrees."""
    server = voice_lab_scripted_server(three_turns=THREE_TURNS)
    page, session_id = scripted_call(voice_lab_browser, server.url, tmp_path)
    by = page.get_by_test_id
    typed_turn(page, "Hello there", responses=1, played=1)
    typed_turn(page, "What is the weather like?", responses=2, played=1)
    call = arguments_done(page)
    output = {
        "type": "function_call_output",
        "call_id": call["call_id"],
        "output": '{"city": "Oslo", "temperature": 21}',
    }
    by("editor").fill(json.dumps({"type": "conversation.item.create", "item": output}))
    by("editor-send").click()
    by("editor").fill('{"type": "response.create"}')
    by("editor-send").click()
    answered(page, responses=3, played=2)
    typed_turn(page, "Thanks", responses=4, played=3)
    stop_call(page)

    captured = CapturedSession.load(server.url, session_id)
    assert [check for check in captured.checks() if not check.ok] == []
    page.goto(f"{server.url}/sessions/{session_id}")
    panel = by("panel-tools")
    shown = panel.locator(f"[data-testid=tool-call][data-call-id='{call['call_id']}']")
    expect(shown).to_have_attribute("data-answered", "true")
    expect(shown.get_by_test_id("tool-name")).to_have_text("get_weather")
    expect(shown.get_by_test_id("tool-output")).to_contain_text('"temperature": 21')
    expect(shown.locator("summary")).to_contain_text("→ output")
    expect(shown.locator("summary")).to_contain_text("→ audio")
    expect(by("chip-tools-calls")).to_have_text("1")
    expect(page.locator("[data-testid=check]").first).to_be_attached()
    expect(page.locator("[data-testid=check][data-ok=false]")).to_have_count(0)
    expect(by("pinned-error")).to_have_count(0)

    made = captured.assert_tool_called("get_weather", city="Oslo")
    assert made.output == '{"city": "Oslo", "temperature": 21}' and made.to_audio_ms is not None
    said = [line.text for line in captured.transcript() if line.role == "assistant"]
    assert said == [
        "Hello, I can look up the weather.",
        "In Oslo it is 21 degrees.",
        "Goodbye for now.",
    ]
    captured.assert_no_errors()


def test_a_call_never_answered_is_pinned_and_fails_the_harness(
    voice_lab_browser, voice_lab_scripted_server, tmp_path
):
    """The same call left unanswered: the panel marks it, the errors panel pins it, and
    assert_no_errors names it."""
    server = voice_lab_scripted_server(three_turns=THREE_TURNS)
    page, session_id = scripted_call(voice_lab_browser, server.url, tmp_path)
    typed_turn(page, "Is the weather nice?", responses=1, played=1)  # turn 1 is by number
    typed_turn(page, "And the weather tomorrow?", responses=2, played=1)
    call = arguments_done(page)
    stop_call(page)

    page.goto(f"{server.url}/sessions/{session_id}")
    shown = page.locator(f"[data-testid=tool-call][data-call-id='{call['call_id']}']")
    expect(shown).to_have_attribute("data-answered", "false")
    expect(shown.locator("summary")).to_contain_text("never answered")
    expect(page.get_by_test_id("pinned-error").filter(has_text=call["call_id"])).to_have_count(1)

    captured = CapturedSession.load(server.url, session_id)
    assert [c.call_id for c in captured.tool_calls() if c.output is None] == [call["call_id"]]
    with pytest.raises(AssertionError, match=call["call_id"]):
        captured.assert_no_errors()
