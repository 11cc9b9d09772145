"""The time view on the session page: included only when the session has a recording, its
partial carrying the lanes, the peaks and the recording, and rows carrying their event time."""

from __future__ import annotations

import html
import json
import re

import pytest

from tests.recordings import (
    T0,
    call_chunks,
    store_call,
)
from voice_lab.storage import open_store

pytestmark = pytest.mark.backends()  # the app on each storage backend


@pytest.fixture(scope="module")
def chunks() -> list[bytes]:
    """A short recorded call's chunks."""
    return call_chunks()


def test_the_page_of_a_recorded_session_loads_the_time_view(client, app, chunks):
    store = open_store(app)
    try:
        session_id = store_call(store, chunks)
    finally:
        store.close()
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert f'hx-get="/sessions/{session_id}/timeview"' in page
    assert "js/timeview.js" in page
    rows = re.findall(r'data-testid="event-row" data-seq="\d+" data-t="([0-9.]+)"', page)
    assert f"{T0 + 3000}" in rows  # rows carry their event's time: response r1 created
    reply = client.get(f"/sessions/{session_id}/timeview")
    assert reply.status_code == 200
    partial = reply.get_data(as_text=True)
    for hook in (
        "timeview",
        "timeview-canvas",
        "timeview-play",
        "timeview-zoom-in",
        "timeview-zoom-out",
        "timeview-speed",
    ):
        assert f'data-testid="{hook}"' in partial
    assert f'src="/sessions/{session_id}/recording"' in partial
    assert f'data-peaks="/sessions/{session_id}/recording/peaks"' in partial
    lanes = json.loads(html.unescape(re.search(r"data-lanes='([^']*)'", partial).group(1)))
    assert lanes["t0"] == T0 and len(lanes["responses"]) == 3


def test_a_session_without_a_recording_has_no_time_view(client, app):
    store = open_store(app)
    try:
        session_id = store.create_session(provider="emulator")
    finally:
        store.close()
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert "timeview" not in page
    reply = client.get(f"/sessions/{session_id}/timeview")
    assert reply.status_code == 404 and "has no recording" in reply.get_data(as_text=True)
