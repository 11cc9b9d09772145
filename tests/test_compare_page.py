"""The compare page (/compare?a=ID&b=ID) over stored sessions: the differences marked, the
latency change coloured, both time views loaded where there is a recording, and bad input
refused with what to pass."""

from __future__ import annotations

import re

import pytest

from tests import eventlogs
from tests.recordings import call_chunks, store_call
from tests.stores import opened
from tests.test_compare import conversation, slowed
from voice_lab.ingest import recordings
from voice_lab.ingest.recordings import cache_root
from voice_lab.protocol.record import Event
from voice_lab.storage import database_path
from voice_lab.storage.rows import EventRow

pytestmark = pytest.mark.backends()  # the app on each storage backend


def stored(app, events: list[Event], **fields) -> str:
    """A session holding these events; its id."""
    with opened(app) as store:
        session_id = store.create_session(provider="emulator", model="gpt-realtime", **fields)
        store.insert_events(session_id, [EventRow.of(e) for e in events])
    return session_id


def row(page: str, testid: str, key: str = "", name: str = "") -> str:
    """The HTML of a table row of the page, by its data-testid (and its key attribute)."""
    keyed = f' {key}="{re.escape(name)}"' if key else ""
    found = re.search(rf'<tr data-testid="{testid}"{keyed}>(.*?)</tr>', page, re.S)
    assert found, f"no {testid} row {name}"
    return found.group(1)


def cells(html: str) -> list[str]:
    """The data-testid of each value cell of a row: changed, same, slower, faster."""
    return re.findall(r'<td class="[^"]*" data-testid="(\w+)"', html)


def test_two_sessions_side_by_side_with_the_differences_marked(client, app):
    a = stored(app, conversation([1000], voice="marin"), voice="marin", label="before")
    b = stored(app, conversation([1000, 6000], voice="cedar"), voice="cedar", label="after")
    reply = client.get(f"/compare?a={a}&b={b}")
    assert reply.status_code == 200
    page = reply.get_data(as_text=True)
    assert cells(row(page, "config-row", "data-field", "session.voice")) == ["changed"] * 2
    assert cells(row(page, "config-row", "data-field", "audio.output.voice")) == ["changed"] * 2
    assert cells(row(page, "config-row", "data-field", "session.model")) == ["same"] * 2
    assert f'href="/sessions/{a}"' in page and f'href="/sessions/{b}"' in page
    # b has a second turn: more of each turn's events, and a turn a has no partner for
    speech = row(page, "count-row", "data-type", "input_audio_buffer.speech_started")
    assert cells(speech) == ["changed"] * 2 and "+1" in speech
    assert 'data-aligned-by="order"' in page
    assert page.count('data-testid="turn-row"') == 2
    assert "answer 2" in page
    assert cells(row(page, "usage-row", "data-figure", "total_tokens")) == ["changed"] * 2


def test_the_latency_change_is_marked_slower_or_faster(client, app):
    events = conversation([1000, 6000])
    a = stored(app, events)
    b = stored(app, slowed(events, 250))
    slower = row(client.get(f"/compare?a={a}&b={b}").get_data(as_text=True), *FIRST_AUDIO)
    assert cells(slower) == ["slower", "slower"] and "+250 ms" in slower
    faster = row(client.get(f"/compare?a={b}&b={a}").get_data(as_text=True), *FIRST_AUDIO)
    assert cells(faster) == ["faster", "faster"] and "-250 ms" in faster


FIRST_AUDIO = ("latency-row", "data-figure", "to_first_audio_ms")


def test_errors_failed_checks_and_tools_of_each_side(client, app):
    a = stored(app, eventlogs.function_call_log().events)
    b = stored(app, eventlogs.failed_response_log().events)
    page = client.get(f"/compare?a={a}&b={b}").get_data(as_text=True)
    problems = row(page, "checks-row")
    assert cells(problems) == ["changed"] * 2 and "no errors: 1 error event(s)" in problems
    tools = row(page, "tools-row")
    assert cells(tools) == ["changed"] * 2 and "<code>get_weather</code>" in tools


def test_the_time_views_of_recorded_sessions_load_one_above_the_other(client, app):
    chunks = call_chunks()
    with opened(app) as store:
        a, b = store_call(store, chunks), store_call(store, chunks)
    plain = stored(app, conversation([1000]))
    page = client.get(f"/compare?a={a}&b={b}").get_data(as_text=True)
    assert "js/timeview.js" in page
    for side, sid in (("a", a), ("b", b)):
        assert re.search(
            rf'data-testid="compare-timeview-{side}"\s+hx-get="/sessions/{sid}/timeview"', page
        )
    assert client.get(f"/sessions/{a}/timeview").status_code == 200
    mixed = client.get(f"/compare?a={a}&b={plain}").get_data(as_text=True)
    assert 'data-testid="compare-timeview-a"' in mixed
    assert 'data-testid="compare-no-recording-b"' in mixed


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("", "a and b missing: pass two different session ids: /compare?a=ID&amp;b=ID"),
        ("?a=x", "b missing: pass two different session ids"),
        ("?b=x&a=", "a missing: pass two different session ids"),
        ("?a=x&b=x", "a and b are both x: pass two different session ids"),
    ],
)
def test_a_or_b_missing_or_the_same_is_refused_saying_what_to_pass(client, query, said):
    reply = client.get(f"/compare{query}")
    assert reply.status_code == 400
    assert said in reply.get_data(as_text=True)


def test_an_unknown_session_is_not_found_by_name(client, app):
    a = stored(app, conversation([1000]))
    reply = client.get(f"/compare?a={a}&b=nosuch")
    assert reply.status_code == 404
    assert "There is no session nosuch (given as b)." in reply.get_data(as_text=True)


HEARD = ("latency-row", "data-figure", "heard_to_first_audio_ms")


def heard_counts(client, a: str, b: str) -> str:
    """The compare page's "n (a, b)" of the heard figure."""
    page = client.get(f"/compare?a={a}&b={b}").get_data(as_text=True)
    return re.search(r'<td class="muted">(\d+, \d+)</td>', row(page, *HEARD)).group(1)


def test_the_heard_figures_of_ended_calls_once_their_recordings_are_prepared(client, app):
    chunks = call_chunks()
    with opened(app) as store:
        a, b = store_call(store, chunks), store_call(store, chunks)
        for session_id in (a, b):
            recordings.prepare(store, cache_root(database_path(app)), session_id)
    # Live calls are not heard (their recordings still grow), prepared or not.
    assert heard_counts(client, a, b) == "0, 0"
    with opened(app) as store:
        store.end_session(a)
        store.end_session(b)
    assert heard_counts(client, a, b) == "2, 2"  # r1 and r3 follow the user's speech
