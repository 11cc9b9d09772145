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
    call_events,
    store_call,
)
from voice_lab.ingest import recordings
from voice_lab.protocol.record import parse_event
from voice_lab.storage import database_path, open_store
from voice_lab.storage.rows import EventRow

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


def test_a_prepared_recording_s_time_view_comes_in_the_page(client, app, chunks):
    # Ahead of the timeline and without a round trip: a long call's first window of rows,
    # parsed after it, does not hold back its first paint.
    store = open_store(app)
    try:
        session_id = store_call(store, chunks)
        store.end_session(session_id)
        recordings.prepare(store, recordings.cache_root(database_path(app)), session_id)
    finally:
        store.close()
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert f'hx-get="/sessions/{session_id}/timeview"' not in page
    view = page.index('data-testid="timeview"')
    assert view < page.index('src="/static/js/timeview.js"') < page.index('data-testid="timeline"')
    assert re.search(r'<script type="module" async src="/static/js/timeview.js', page)
    # The events follow from htmx, into the timeline itself.
    timeline = re.search(r'<div id="timeline"[^>]*>', page).group(0)
    assert f'hx-get="/sessions/{session_id}"' in timeline
    assert 'hx-trigger="timeview-ready from:body once"' in timeline  # timeview.js's, once drawn
    assert 'data-testid="event-row"' not in page
    rows = client.get(
        f"/sessions/{session_id}", headers={"HX-Request": "true", "HX-Target": "timeline"}
    ).get_data(as_text=True)
    assert rows.count('data-testid="event-row"') == len(call_events())
    lanes = json.loads(html.unescape(re.search(r"data-lanes='([^']*)'", page).group(1)))
    assert lanes == json.loads(
        html.unescape(
            re.search(
                r"data-lanes='([^']*)'",
                client.get(f"/sessions/{session_id}/timeview").get_data(as_text=True),
            ).group(1)
        )
    )


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


# A function call as the data channel carries it (section 6 of the protocol), ms after T0:
# get_weather is answered by the client, book never is.
_TOOL_TEXT = (
    (
        3100,
        "server",
        {
            "type": "response.output_item.added",
            "response_id": "r1",
            "item": {
                "type": "function_call",
                "id": "fc1",
                "call_id": "c1",
                "name": "get_weather",
                "arguments": "",
            },
        },
    ),
    (
        3150,
        "server",
        {
            "type": "response.function_call_arguments.delta",
            "response_id": "r1",
            "item_id": "fc1",
            "call_id": "c1",
            "delta": "{}",
        },
    ),
    (
        3200,
        "server",
        {
            "type": "response.function_call_arguments.done",
            "response_id": "r1",
            "item_id": "fc1",
            "call_id": "c1",
            "arguments": "{}",
        },
    ),
    (
        3600,
        "client",
        {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": "c1", "output": "{}"},
        },
    ),
    (
        7700,
        "server",
        {
            "type": "response.function_call_arguments.done",
            "response_id": "r3",
            "item_id": "fc2",
            "call_id": "c2",
            "name": "book",
            "arguments": "{}",
        },
    ),
    (
        8050,
        "server",
        {
            "type": "response.output_audio_transcript.done",
            "response_id": "r3",
            "transcript": "It's booked <b>now</b>.",
        },
    ),
)


def test_the_time_view_lanes_hold_tool_calls_and_words_as_stored(client, app, chunks):
    store = open_store(app)
    try:
        session_id = store_call(store, chunks)
        rows = [
            EventRow.of(parse_event(seq, direction, T0 + ms, json.dumps(data)))
            for seq, (ms, direction, data) in enumerate(_TOOL_TEXT, 100)
        ]
        store.insert_events(session_id, rows)
    finally:
        store.close()
    partial = client.get(f"/sessions/{session_id}/timeview").get_data(as_text=True)
    lanes = json.loads(html.unescape(re.search(r"data-lanes='([^']*)'", partial).group(1)))
    assert [(c["label"], c["start_ms"], c["end_ms"], c["error"]) for c in lanes["tools"]] == [
        ("get_weather", 3100, 3600, False),
        ("book", 7700, None, True),
    ]
    assert lanes["transcript"] == [
        {"start_ms": 7850, "end_ms": 9050, "label": "It's booked <b>now</b>.", "side": "model"}
    ]
