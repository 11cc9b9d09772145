"""Replaying a recorded call from Playwright: the call page at /call?replay=ID, its microphone
the recording's user channel, run to its end with the settings a test changes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .call_page import CallFailed, choose_settings

# A replay lasts as long as its recording, then until the model is done (30 s at most).
REPLAY_TIMEOUT_MS = 180_000


def replay(
    page,
    base_url: str,
    session_id: str,
    settings: Mapping[str, Any] | None = None,
    *,
    client_events: bool = False,
    timeout_ms: float = REPLAY_TIMEOUT_MS,
) -> str:
    """Replay session `session_id`'s recording as the microphone of a new call with the
    original's settings, `settings` (call page field names) laid over them, and (with
    `client_events`) the client events it sent by hand at their offsets; wait until the
    recording has played, the call stopped by itself and the mirror handed everything over.
    Returns the new session's id.

    CallFailed with the page's message when the replay cannot start (no such session, no
    recording, a mint refused) or the call ends before the recording has played.
    """
    page.goto(f"{base_url}/call?replay={session_id}")
    if page.locator("#call").count() == 0:
        raise CallFailed(f"/call?replay={session_id}: {page.locator('body').inner_text()[:300]}")
    page.wait_for_selector("#call[data-ready=true]")
    state = page.get_by_test_id("replay-state")
    if state.get_attribute("data-state") == "failed":
        raise CallFailed(state.text_content())
    choose_settings(page, settings or {})
    page.get_by_test_id("replay-client-events").set_checked(client_events)
    page.get_by_test_id("start").click()
    page.wait_for_selector("#call[data-phase=live], #call[data-phase=ended]", timeout=timeout_ms)
    page.wait_for_selector("#call[data-phase=ended]", timeout=timeout_ms)
    if state.get_attribute("data-state") != "played":
        problem = page.get_by_test_id("call-error").text_content() or state.text_content()
        raise CallFailed(f"the replay of {session_id} did not play to its end: {problem}")
    return page.get_by_test_id("session-link").text_content()
