"""The sessions list in Chromium: two emulator calls, sorted by a figure, filtered, two rows
selected (kept across the table's re-renders, a sort's and the live polling's) and compared."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from voice_lab.storage import open_store
from voice_lab.testing import hold_call

pytestmark = pytest.mark.e2e


def test_two_calls_sorted_filtered_selected_and_compared(page, console, server, app):
    short = hold_call(page, server.url, {"label": "one turn"}, responses=1)
    longer = hold_call(page, server.url, {"label": "two turns"}, responses=2)
    page.goto(server.url)
    rows = page.get_by_test_id("session-row")
    expect(rows).to_have_count(2)
    turns = page.get_by_test_id("session-turns")
    expect(turns.first).not_to_have_text("…")  # the mirror saved both calls' figures at the end
    expect(turns.last).not_to_have_text("…")

    page.get_by_test_id("sort-turns").locator("a").click()  # most turns first: one click
    expect(page).to_have_url(re.compile(r"/\?sort=turns$"))
    expect(rows.first).to_have_attribute("data-session", longer)
    page.get_by_test_id("sort-turns").locator("a").click()  # then fewest first
    expect(page).to_have_url(re.compile(r"/\?sort=turns&dir=asc$"))
    expect(rows.first).to_have_attribute("data-session", short)

    page.get_by_test_id("filter-p95").fill("100000000")  # no call is that slow
    expect(page.get_by_test_id("sessions")).to_contain_text("No session matches these filters")
    expect(page).to_have_url(re.compile(r"p95_over=100000000"))
    expect(page).to_have_url(re.compile(r"sort=turns"))  # the sort rides along with the filter
    page.get_by_test_id("filter-p95").fill("")
    page.get_by_test_id("session-search").fill("two")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-session", longer)
    page.get_by_test_id("session-search").fill("")
    expect(rows).to_have_count(2)

    compare = page.get_by_test_id("compare")
    expect(compare).to_be_disabled()
    page.locator(f"[data-select-session='{short}']").check()
    expect(compare).to_be_disabled()  # one is not a pair
    page.locator(f"[data-select-session='{longer}']").check()
    expect(compare).to_be_enabled()
    store = open_store(app)
    try:  # a live session: the table re-renders itself every 2 s from now on
        store.create_session(provider="emulator", label="live meanwhile")
    finally:
        store.close()
    page.get_by_test_id("sort-started").locator("a").click()  # the table is rendered again
    expect(page).to_have_url(re.compile(r"sort=started"))
    expect(rows).to_have_count(3)
    page.get_by_test_id("sessions").evaluate("table => { table.dataset.seen = 'yes'; }")
    expect(page.locator("#sessions:not([data-seen])")).to_be_attached(timeout=10_000)  # polled
    for session_id in (short, longer):
        expect(page.locator(f"[data-select-session='{session_id}']")).to_be_checked()
    expect(compare).to_be_enabled()
    assert console.errors == []
    compare.click()
    page.wait_for_url(re.compile(r"/compare\?"))
    assert page.url.endswith(f"/compare?a={short}&b={longer}")
