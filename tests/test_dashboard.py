"""The dashboard's routes: pages and htmx partials, filters, windows, panels, export/import."""

import io
import json
import re
import threading
import time

import pytest
import requests

from tests.eventlogs import (
    SCENARIOS,
    barge_in_log,
    client_error_log,
    function_call_log,
    voice_turn_log,
)
from tests.stores import stop_news
from tests.waiting import GIVE_UP, until
from voice_lab import create_app
from voice_lab.ingest.mirror import Mirror
from voice_lab.protocol.record import parse_event
from voice_lab.storage import open_store
from voice_lab.storage.rows import EventRow
from voice_lab.web import session

HX = {"HX-Request": "true"}

pytestmark = pytest.mark.backends()  # the app on each storage backend


@pytest.fixture
def settings(settings):
    """A cloud configuration that is never called: these tests need no emulator."""
    settings["OPENAI_API_KEY"] = "sk-unused"
    settings["VOICE_LAB_LIVE_WAIT"] = "0.3"  # how long a live tail waits for news here
    return settings


@pytest.fixture
def add_session(app):
    """Store a log of Events as a live session and return its id."""

    def add(events, **fields):
        store = open_store(app)
        try:
            sid = store.create_session(provider="emulator", protocol="ga", **fields)
            store.insert_events(
                sid,
                [EventRow.of(e) for e in events],
            )
            return sid
        finally:
            store.close()

    return add


def seqs(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-testid="event-row" data-seq="(\d+)"', html)]


def test_full_page_and_partial(client, add_session):
    sid = add_session(voice_turn_log().events, label="turn one")
    page = client.get(f"/sessions/{sid}").get_data(as_text=True)
    assert "<html" in page and 'data-testid="filters"' in page and "turn one" in page
    partial = client.get(f"/sessions/{sid}", headers={**HX, "HX-Target": "timeline"})
    text = partial.get_data(as_text=True)
    assert "<html" not in text and 'data-testid="filters"' not in text
    assert seqs(text)  # rows are there


def test_grouped_view_groups_by_ids_and_collapses_deltas(client, add_session):
    log = voice_turn_log()
    sid = add_session(log.events)
    html = client.get(f"/sessions/{sid}").get_data(as_text=True)
    kinds = re.findall(r'data-testid="group" data-kind="(\w+)" data-key="([^"]+)"', html)
    assert ("response", log.responses[0]) in kinds
    assert ("turn", log.user_items[0]) in kinds
    deltas = [e for e in log.events if e.category == "delta"]
    assert len(deltas) > 2
    assert html.count('data-kind="deltas"') >= 1
    spoken = [d for d in deltas if d.type == "response.output_audio_transcript.delta"]
    assert f"{len(spoken)} deltas" in html


def test_stats_samples_stay_out_of_the_groups_and_in_the_flat_view(live_server, add_session):
    log = voice_turn_log()  # samples before the turn and after its reply
    samples = [e.seq for e in log.events if e.type == "voicelab.stats"]
    sid = add_session(log.events)
    page = f"{live_server.url}/sessions/{sid}"
    grouped = requests.get(page, timeout=10).text
    assert not {int(s) for s in seqs(grouped)} & set(samples)
    assert re.search(rf'data-testid="samples-aside">{len(samples)} voicelab.stats', grouped)
    for query in ("view=flat", "view=flat&cat=webrtc"):
        assert set(samples) <= set(seqs(requests.get(f"{page}?{query}", timeout=10).text))


def test_flat_view_one_row_per_event_when_not_collapsed(client, add_session):
    log = voice_turn_log()
    sid = add_session(log.events)
    html = client.get(f"/sessions/{sid}?view=flat").get_data(as_text=True)
    assert 'data-testid="group"' not in html
    shown = seqs(html)
    assert shown == sorted(shown) and shown[0] == 1


@pytest.mark.parametrize(
    ("query", "check"),
    [
        ("cat=vad", lambda e: e.category == "vad"),
        ("cat=vad&cat=error", lambda e: e.category in ("vad", "error")),
        ("dir=client", lambda e: e.direction == "client"),
        ("type=response.done", lambda e: e.type == "response.done"),
        ("type=input_audio_buffer.*", lambda e: (e.type or "").startswith("input_audio_buffer.")),
        ("q=speech_stopped", lambda e: "speech_stopped" in e.raw),
    ],
)
def test_filters(client, add_session, query, check):
    # Three logs in one session, so that every filter selects several events of several kinds.
    logs = (barge_in_log(), client_error_log(), function_call_log())
    events = [
        parse_event(n, e.direction, e.t, e.raw)
        for n, e in enumerate([e for log in logs for e in log.events], 1)
    ]
    sid = add_session(events)
    html = client.get(
        f"/sessions/{sid}?view=flat&{query}", headers={**HX, "HX-Target": "timeline"}
    ).get_data(as_text=True)
    selected = [e for e in events if check(e)]
    # None of these filters selects deltas, so no run is collapsed: one row per event selected.
    assert len(selected) > 1 and not any(e.category == "delta" for e in selected)
    assert seqs(html) == [e.seq for e in selected]


def test_filters_reproduced_from_the_url(client, add_session):
    sid = add_session(voice_turn_log().events)
    html = client.get(f"/sessions/{sid}?cat=vad&dir=server&q=item&view=flat").get_data(as_text=True)
    assert re.search(r'value="vad" checked', html) and re.search(r'value="server" checked', html)
    assert 'value="item"' in html and re.search(r'value="flat" checked', html)


def test_windows_page_and_live_tail(client, add_session, monkeypatch):
    monkeypatch.setattr(session, "WINDOW", 5)
    log = voice_turn_log()
    sid = add_session(log.events)
    first = client.get(f"/sessions/{sid}?view=flat").get_data(as_text=True)
    assert 'data-testid="load-more"' in first
    more = re.search(r'hx-get="([^"]*/window\?[^"]*)"', first.split('data-testid="load-more"')[1])
    assert more
    nxt = client.get(more.group(1).replace("&amp;", "&"), headers=HX).get_data(as_text=True)
    assert min(seqs(nxt)) > max(seqs(first))
    # The last window of a live session waits for news; with none it answers the same window.
    last = len(log.events)
    started = time.monotonic()
    reply = client.get(f"/sessions/{sid}/window?view=flat&after={last - 2}&upto={last}", headers=HX)
    assert time.monotonic() - started >= 0.3
    assert seqs(reply.get_data(as_text=True)) == [last - 1, last]
    grown = client.get(
        f"/sessions/{sid}/window?view=flat&after={last - 2}&upto={last - 1}", headers=HX
    ).get_data(as_text=True)
    assert seqs(grown) == [last - 1, last] and "data-live" in grown


def test_live_tail_answers_as_soon_as_the_mirror_stores(app, live_server):
    log = voice_turn_log()
    store = open_store(app)
    sid, secret = store.create_writable_session(provider="emulator", protocol="ga")
    store.insert_events(sid, [EventRow.of(e) for e in log.events[:-1]])
    last = len(log.events) - 1
    url = f"{live_server.url}/sessions/{sid}/window?view=flat&after={last - 1}&upto={last}"
    # Only the broker's news can end this wait: the store is looked at again after an hour.
    app.config["VOICE_LAB_LIVE_WAIT"] = 3600
    broker = app.extensions["voice_lab_broker"]
    answer = {}
    waiter = threading.Thread(target=lambda: answer.update(html=requests.get(url, timeout=60).text))
    waiter.start()
    until(lambda: broker.waiting == 1, "the live tail waits for news")
    mirror = Mirror(store, broker.publish)
    mirror.handle(json.dumps({"op": "hello", "session": sid, "secret": secret}))
    assert waiter.is_alive() and broker.waiting == 1  # the hello is no news
    mirror.handle(
        json.dumps(
            {
                "op": "events",
                "events": [
                    {
                        "seq": log.events[-1].seq,
                        "dir": "server",
                        "t": log.events[-1].t,
                        "data": log.events[-1].raw,
                    }
                ],
            }
        )
    )
    waiter.join(GIVE_UP)
    store.close()
    assert not waiter.is_alive() and broker.waiting == 0  # woken by the mirror's news
    assert log.events[-1].seq in seqs(answer["html"])


def _event_frame(event) -> str:
    """An events frame carrying one event of a log."""
    item = {"seq": event.seq, "dir": "server", "t": event.t, "data": event.raw}
    return json.dumps({"op": "events", "events": [item]})


@pytest.mark.backends("postgresql")
def test_live_tail_wakes_for_what_another_worker_stores(app, settings, live_server):
    # A second app on the database stands for a second worker: its mirror never tells this
    # app's broker, so only the database's news can wake the tail this app serves.
    other = create_app(settings)
    try:
        listener = app.extensions["voice_lab_news"]
        until(listener.listening.is_set, "the worker listens for news")
        log = voice_turn_log()
        store = open_store(other)
        sid, secret = store.create_writable_session(provider="emulator", protocol="ga")
        store.insert_events(sid, [EventRow.of(e) for e in log.events[:-1]])
        last = len(log.events) - 1
        url = f"{live_server.url}/sessions/{sid}/window?view=flat&after={last - 1}&upto={last}"
        app.config["VOICE_LAB_LIVE_WAIT"] = 3600
        broker = app.extensions["voice_lab_broker"]
        answer = {}
        waiter = threading.Thread(
            target=lambda: answer.update(html=requests.get(url, timeout=60).text)
        )
        waiter.start()
        until(lambda: broker.waiting == 1, "the live tail waits for news")
        heard = broker.news
        mirror = Mirror(store, other.extensions["voice_lab_broker"].publish)
        mirror.handle(json.dumps({"op": "hello", "session": sid, "secret": secret}))
        mirror.handle(_event_frame(log.events[-1]))
        waiter.join(GIVE_UP)
        mirror.close()
        store.close()
        assert not waiter.is_alive() and broker.news > heard  # woken by the other's commit
        assert log.events[-1].seq in seqs(answer["html"])
    finally:
        stop_news(other)


def test_event_json_and_delta_run(client, add_session):
    log = voice_turn_log()
    sid = add_session(log.events)
    html = client.get(f"/sessions/{sid}/events/1").get_data(as_text=True)
    assert 'data-testid="event-json"' in html and log.events[0].type in html
    assert client.get(f"/sessions/{sid}/events/99999").status_code == 404
    first_delta = next(e for e in log.events if e.category == "delta")
    run = client.get(f"/sessions/{sid}/run/{first_delta.seq}").get_data(as_text=True)
    same = [
        e.seq
        for e in log.events
        if e.type == first_delta.type
        and (e.response_id, e.item_id) == (first_delta.response_id, first_delta.item_id)
    ]
    assert seqs(run) == same


HUGE = "99999999999999999999"  # past SQLite's integers


@pytest.mark.parametrize(
    "path, status",
    [
        (f"events/{HUGE}", 404),
        (f"events/{2**63}", 404),
        (f"events/{2**63 - 1}", 404),  # the largest seq: looked up, no such event
        (f"events/{'9' * 5000}", 404),  # past the digits int() takes
        (f"run/{HUGE}", 404),
        (f"window?after={HUGE}", 400),
        (f"window?after={'9' * 5000}", 400),
        (f"window?after=1&upto={HUGE}", 400),
        ("window?after=-1", 400),
        ("window?after=x", 400),
    ],
)
def test_numbers_out_of_range_in_urls(client, add_session, path, status):
    sid = add_session(voice_turn_log().events)
    reply = client.get(f"/sessions/{sid}/{path}")
    assert reply.status_code == status
    if status == 400:
        assert "a seq is a number from 0 to" in reply.get_data(as_text=True)


def test_panels(client, add_session):
    log = voice_turn_log()
    sid = add_session(log.events)
    html = client.get(f"/sessions/{sid}/panels", headers=HX).get_data(as_text=True)
    for panel in (
        "checks",
        "errors",
        "latency",
        "usage",
        "rate-limits",
        "transcript",
        "config",
        "webrtc",
    ):
        assert f'data-testid="panel-{panel}"' in html
    assert 'data-ok="false"' not in html
    assert 'data-testid="waterfall"' in html and "<polyline" in html
    assert 'data-role="assistant"' in html


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_renders(client, add_session, name):
    for ga in (True, False):
        sid = add_session(SCENARIOS[name](ga=ga).events)
        assert client.get(f"/sessions/{sid}").status_code == 200
        assert client.get(f"/sessions/{sid}?view=flat").status_code == 200
        assert client.get(f"/sessions/{sid}/panels").status_code == 200


def test_errors_pinned(client, add_session):
    sid = add_session(SCENARIOS["client_error"]().events)
    html = client.get(f"/sessions/{sid}/panels").get_data(as_text=True)
    assert 'data-testid="pinned-error"' in html and "caused by" in html
    assert re.search(r'data-testid="check" data-ok="false"', html)


def test_gap_in_seq_fails_its_check(client, add_session):
    events = [e for e in voice_turn_log().events if e.seq != 3]
    sid = add_session(events)
    html = client.get(f"/sessions/{sid}/panels").get_data(as_text=True)
    assert "seq contiguous" in html and "3" in html
    assert re.search(r'data-ok="false"[^>]*>\s*✗ seq contiguous', html)


def test_untrusted_text_is_escaped(client, add_session):
    evil = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    raw = json.dumps(
        {
            "type": "response.output_audio_transcript.done",
            "response_id": "r1",
            "item_id": "i1",
            "transcript": evil,
        }
    )
    err = json.dumps({"type": "error", "error": {"type": "invalid_request_error", "message": evil}})
    events = [parse_event(1, "server", 1.0, raw), parse_event(2, "server", 2.0, err)]
    sid = add_session(events, label=evil)
    for url in (f"/sessions/{sid}", f"/sessions/{sid}/panels", f"/sessions/{sid}/events/1", "/"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html


@pytest.mark.backends("postgresql")
def test_every_worker_lists_the_same_sessions_and_panels(settings, client, add_session, csrf):
    # A second app on the database stands for a second worker: nothing is kept per process.
    other = create_app(settings).test_client()
    try:
        sid = add_session(voice_turn_log().events, label="team call")
        assert sid in other.get("/").get_data(as_text=True)
        panels = f"/sessions/{sid}/panels"
        assert other.get(panels, headers=HX).get_data() == client.get(panels, headers=HX).get_data()
        client.delete(f"/sessions/{sid}", headers={**HX, "X-CSRF-Token": csrf})
        assert sid not in other.get("/").get_data(as_text=True)
    finally:
        stop_news(other.application)


def test_sessions_list_search_and_delete(client, add_session, csrf):
    a = add_session(voice_turn_log().events, label="alpha call")
    b = add_session([], label="beta call")
    html = client.get("/").get_data(as_text=True)
    assert html.index(b) < html.index(a)  # newest first
    found = client.get("/?q=alpha", headers={**HX, "HX-Target": "sessions"}).get_data(as_text=True)
    assert a in found and b not in found and "<html" not in found
    assert client.delete(f"/sessions/{a}", headers=HX).status_code == 403  # no CSRF token
    assert client.delete(f"/sessions/{a}", headers={**HX, "X-CSRF-Token": csrf}).status_code == 200
    assert client.get(f"/sessions/{a}").status_code == 404
    assert client.delete(f"/sessions/{a}", headers={"X-CSRF-Token": csrf}).status_code == 404


def test_export_import_roundtrip_through_routes(client, add_session, csrf):
    sid = add_session(voice_turn_log().events, label="round trip")
    reply = client.get(f"/sessions/{sid}/export.json")
    assert reply.headers["Content-Disposition"].startswith("attachment")
    first = reply.get_data(as_text=True)
    document = json.loads(first)
    assert document["format"] == "voice-lab.session" and len(document["events"]) == len(
        voice_turn_log().events
    )
    uploaded = client.post(
        "/import",
        data={"file": (io.BytesIO(first.encode()), "x.json"), "csrf_token": csrf},
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 303
    new_id = uploaded.headers["Location"].rsplit("/", 1)[-1]
    second = client.get(f"/sessions/{new_id}/export.json").get_data(as_text=True)
    assert first.split('"events": [')[1] == second.split('"events": [')[1]
    assert client.get(f"/sessions/{new_id}").status_code == 200


def test_filtered_export(client, add_session):
    sid = add_session(voice_turn_log().events)
    document = json.loads(
        client.get(f"/sessions/{sid}/export.json?filtered=1&cat=vad").get_data(as_text=True)
    )
    assert document["events"] and {e["type"].split(".")[0] for e in document["events"]} == {
        "input_audio_buffer"
    }


def test_malformed_import_shows_why_and_imports_nothing(client, app, csrf):
    reply = client.post(
        "/import",
        data={"file": (io.BytesIO(b"{not json"), "bad.json"), "csrf_token": csrf},
        content_type="multipart/form-data",
    )
    assert reply.status_code == 400
    html = reply.get_data(as_text=True)
    assert 'data-testid="import-error"' in html and "not valid JSON" in html
    store = open_store(app)
    assert store.list_sessions() == []
    store.close()
    empty = client.post("/import", data={"csrf_token": csrf}, content_type="multipart/form-data")
    assert empty.status_code == 400


def test_missing_session_is_404(client):
    assert client.get("/sessions/vl_nope").status_code == 404
    assert client.get("/sessions/vl_nope/export.json").status_code == 404


def test_cancelled_response_is_pinned(client, add_session):
    sid = add_session(barge_in_log().events)
    html = client.get(f"/sessions/{sid}/panels").get_data(as_text=True)
    assert 'data-testid="pinned-error"' in html and "response cancelled: turn_detected" in html


def test_malformed_but_stored_events_still_render(client, add_session):
    odd = [
        {"type": "session.updated", "session": [1, 2]},
        {
            "type": "rate_limits.updated",
            "rate_limits": [{"name": "tokens", "limit": "lots", "remaining": {"x": 1}}, "nope"],
        },
        {"type": "voicelab.stats", "rtt_ms": 10**400, "jitter_ms": "fast"},
    ]
    events = [parse_event(n, "server", 1000.0 + n, json.dumps(e)) for n, e in enumerate(odd, 1)]
    events.append(parse_event(4, "server", 1004.0, "not json at all"))
    sid = add_session(events)
    for url in (f"/sessions/{sid}", f"/sessions/{sid}?view=flat", f"/sessions/{sid}/panels"):
        assert client.get(url).status_code == 200, url
    assert client.get(f"/sessions/{sid}/run/4").status_code == 404  # not a run of deltas
    assert client.get(f"/sessions/{sid}/export.json").status_code == 200


def sessions_body(html: str) -> str:
    """The sessions table's opening tag (the element that polls)."""
    return re.search(r'<table id="sessions"[^>]*>', html).group(0)


def test_sessions_list_polls_only_while_a_session_is_live(app, client, add_session):
    sid = add_session(voice_turn_log().events, label="on a call")
    polling = sessions_body(client.get("/").get_data(as_text=True))
    assert 'hx-trigger="every 2s"' in polling and "hx-get=" in polling
    store = open_store(app)
    store.end_session(sid)
    store.close()
    # The poll's answer re-renders the table without its trigger, and htmx stops polling.
    answer = client.get("/", headers={**HX, "HX-Target": "sessions"}).get_data(as_text=True)
    quiet = sessions_body(answer)
    assert "hx-trigger" not in quiet and "hx-get" not in quiet and sid in answer
    assert "hx-trigger" not in sessions_body(client.get("/").get_data(as_text=True))


def test_pages_link_under_the_apps_mount_point(client):
    base = "http://localhost/lab"
    index = client.get("/", base_url=base).get_data(as_text=True)
    assert 'href="/lab/call"' in index and 'href="/call"' not in index
    call = client.get("/call", base_url=base).get_data(as_text=True)
    assert 'data-mirror-url="ws://localhost/lab/ws/mirror"' in call
    assert 'data-session-page="/lab/sessions/"' in call
