"""Text from a call or a file never becomes markup: not on the call page, the session page or
the sessions list, whether it came as instructions, a label, a message, a reply or an import."""

from __future__ import annotations

import json

import pytest

from voice_lab.testing import start_call, stop_call, wait_for_responses

pytestmark = pytest.mark.e2e

# Each would run script or add an element if it were ever parsed as HTML.
EVIL = '<script>window.__xss = 1</script>"><img src=x onerror="window.__xss = 2">'


def assert_inert(page) -> None:
    """No injected script ran and no injected element exists, yet the text is shown as text."""
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src=x], main script:not([src])").count() == 0


def test_call_and_session_pages_show_hostile_text_as_text(page, server, console):
    session_id = start_call(page, server.url, {"instructions": EVIL, "label": EVIL})
    wait_for_responses(page, 1)
    page.get_by_test_id("text-input").fill(EVIL)
    page.get_by_test_id("text-send").click()
    wait_for_responses(page, 2)
    assert_inert(page)
    stop_call(page)

    page.goto(f"{server.url}/sessions/{session_id}")
    page.get_by_test_id("panel-transcript").wait_for()
    assert_inert(page)
    assert EVIL in page.get_by_test_id("session-title").text_content()
    assert any(EVIL in line for line in page.get_by_test_id("transcript-line").all_text_contents())
    page.get_by_test_id("effective-config").evaluate("el => el.closest('details').open = true")
    assert json.dumps(EVIL)[1:-1] in page.get_by_test_id("effective-config").text_content()
    page.locator("[data-testid=event-row][data-type='conversation.item.create'] summary").click()
    page.get_by_test_id("event-json").first.wait_for()
    assert_inert(page)

    page.goto(f"{server.url}/")
    assert EVIL in page.get_by_test_id("sessions").text_content()
    assert_inert(page)
    assert console.errors == []


def test_an_imported_file_shows_hostile_text_as_text(page, server, tmp_path):
    events = [
        {"type": "session.created", "session": {"instructions": EVIL, "voice": EVIL}},
        {"type": "error", "error": {"type": "invalid_request_error", "message": EVIL}},
        {"type": EVIL, "transcript": EVIL},
    ]
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(events))
    page.goto(f"{server.url}/")
    page.get_by_test_id("import-file").set_input_files(path)
    page.get_by_test_id("import-submit").click()
    page.get_by_test_id("panel-errors").wait_for()
    assert_inert(page)
    assert EVIL in page.get_by_test_id("pinned-error").text_content()
    assert EVIL in page.get_by_test_id("timeline").text_content()
