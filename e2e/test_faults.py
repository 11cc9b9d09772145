"""Faults: a failed response, a dropped call, a refused mint and a mirror cut mid-call (no event
and no recording chunk lost)."""

from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import expect

from e2e.recordings import assert_every_chunk_stored_once
from voice_lab.testing import (
    CallFailed,
    CapturedSession,
    TcpProxy,
    hold_call,
    start_call,
    stop_call,
    wait_for_responses,
)

pytestmark = pytest.mark.e2e


def test_a_response_error_is_pinned_and_its_row_highlighted(page, voice_lab_server):
    session_id = hold_call(page, voice_lab_server.url, {"scenario": "response_error"})
    page.goto(f"{voice_lab_server.url}/sessions/{session_id}")
    pinned = page.get_by_test_id("pinned-error")
    expect(pinned.first).to_contain_text("emulated fault")
    seq = pinned.first.locator("a").first.get_attribute("href").removeprefix("#e-")
    row = page.locator(f"[data-testid=event-row][data-seq='{seq}']")
    expect(row).to_have_attribute("data-category", "error")
    expect(row).to_have_class(re.compile(r"(^|\s)cat-error(\s|$)"))
    pinned.first.locator("a").first.click()
    expect(page).to_have_url(re.compile(rf"#e-{seq}$"))
    failed = page.locator("[data-testid=check][data-ok=false]")
    expect(failed.filter(has_text="no errors")).to_have_count(1)


def test_a_dropped_call_shows_the_disconnect_in_the_timeline(page, voice_lab_server):
    session_id = start_call(page, voice_lab_server.url, {"scenario": "drop_call:1"})
    page.wait_for_selector("#call[data-phase=ended]", timeout=15_000)
    expect(page.get_by_test_id("call-error")).to_contain_text("The call ended")
    captured = CapturedSession.load(voice_lab_server.url, session_id)
    states = [e.data.get("state") for e in captured.of_type("voicelab.pc_state")]
    assert states[-1] in ("disconnected", "failed", "closed"), states

    page.goto(f"{voice_lab_server.url}/sessions/{session_id}?cat=webrtc&view=flat")
    rows = page.locator("[data-testid=event-row][data-type='voicelab.pc_state']")
    expect(rows.last).to_contain_text(states[-1])
    expect(page.get_by_test_id("session-status")).to_have_text("ended")


def test_a_mint_error_shows_the_service_message(page, voice_lab_server):
    said = requests.post(
        f"{voice_lab_server.url}/api/sessions", json={"scenario": "mint_429:7"}, timeout=5
    )
    assert (said.status_code, said.headers["Retry-After"]) == (502, "7")
    with pytest.raises(CallFailed, match="429") as failed:
        start_call(page, voice_lab_server.url, {"scenario": "mint_429:7"})
    assert said.json()["error"]["message"] in str(failed.value)
    expect(page.get_by_test_id("call-error")).to_contain_text(said.json()["error"]["message"])
    expect(page.get_by_test_id("start")).to_be_enabled()


def test_a_mirror_cut_by_the_server_side_loses_nothing(page, voice_lab_server):
    proxy = TcpProxy(voice_lab_server.url)
    try:
        by = page.get_by_test_id
        session_id = start_call(page, proxy.url, {"label": "mirror cut"})
        wait_for_responses(page)
        proxy.cut()
        expect(by("mirror-state")).to_have_text("reconnecting")
        cut_at = int(by("recorded-count").text_content())
        page.wait_for_function(
            "n => Number(document.querySelector('#recorded-count').textContent) > n + 3",
            arg=cut_at,
            timeout=15_000,
        )
        proxy.restore()
        expect(by("mirror-state")).to_have_text("open", timeout=15_000)
        wait_for_responses(page, 2)
        stop_call(page)
    finally:
        proxy.close()

    recorded, acked = int(by("recorded-count").text_content()), int(by("acked-seq").text_content())
    captured = CapturedSession.load(voice_lab_server.url, session_id)
    assert recorded == acked == len(captured.events) > cut_at
    assert [e.seq for e in captured.events] == list(range(1, recorded + 1))
    seqs = {c.name: c for c in captured.checks()}["seq contiguous"]
    assert seqs.ok, seqs.detail
    assert assert_every_chunk_stored_once(voice_lab_server.database, session_id) > 4
