"""The sessions list's figures in the store, sorted and filtered in SQL on each backend, and the
list's routes: sort headers, filters, bad values, and the figures filled for older sessions."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from tests.eventlogs import barge_in_log, failed_response_log, text_response_log, voice_turn_log
from tests.recordings import call_chunks, store_call
from tests.stores import opened, stop_news
from tests.waiting import until
from voice_lab import create_app
from voice_lab.analysis.aggregates import Aggregates
from voice_lab.analysis.figures import Heard, heard
from voice_lab.ingest import figures, panel_state, recordings
from voice_lab.storage.listing import SessionQuery
from voice_lab.storage.rows import EventRow

pytestmark = pytest.mark.backends()  # every test runs on each backend
HX = {"HX-Request": "true", "HX-Target": "sessions"}


def imported(store, log, label: str, fold: bool = True) -> str:
    """A session of a log's events, its figures saved (unless not `fold`)."""
    sid = store.import_session({"label": label}, [EventRow.of(e) for e in log.events])
    if fold:
        panel_state.current(store, sid)
    return sid


@pytest.fixture
def calls(store):
    """Four sessions: a barge-in, a failed response, a voice turn, and one with no events."""
    return {
        "barge": imported(store, barge_in_log(), "barge"),
        "failed": imported(store, failed_response_log(), "failed"),
        "turn": imported(store, voice_turn_log(), "turn"),
        "empty": store.create_session(provider="emulator", label="empty"),
    }


def ids(store, **query) -> list[str]:
    return [row["id"] for row in store.list_sessions(SessionQuery(**query))]


def test_each_session_is_listed_with_its_figures(store, calls):
    rows = {row["id"]: row for row in store.list_sessions()}
    barge, empty = rows[calls["barge"]], rows[calls["empty"]]
    assert barge["figured"] and barge["turns"] == 2 and barge["interruptions"] == 1
    assert barge["p95_ms"] > 0 and barge["cost"] > 0 and not barge["heard"]
    assert rows[calls["failed"]]["failed_checks"] >= 1 and rows[calls["turn"]]["failed_checks"] == 0
    assert empty["figured"] and empty["turns"] == 0 and empty["cost"] == 0.0


def test_the_list_sorts_by_each_figure_both_ways(store, calls):
    assert ids(store, sort="turns")[0] == calls["barge"]
    assert ids(store, sort="interruptions")[0] == calls["barge"]
    assert ids(store, sort="failed")[0] == calls["failed"]
    # a session without a figure (no audio, so no p95) comes last either way
    for descending in (True, False):
        p95 = [r["p95_ms"] for r in store.list_sessions(SessionQuery("", "p95", descending))]
        known = [v for v in p95 if v is not None]
        assert p95 == sorted(known, reverse=descending) + [None, None]
    costs = [row["cost"] for row in store.list_sessions(SessionQuery(sort="cost"))]
    assert costs == sorted(costs, reverse=True)


def test_the_list_filters_by_figures_and_search(store, calls):
    assert ids(store, interrupted=True) == [calls["barge"]]
    assert calls["failed"] in ids(store, failed=True) and calls["turn"] not in ids(
        store, failed=True
    )
    p95 = {row["id"]: row["p95_ms"] for row in store.list_sessions()}
    floor = min(p95[calls["barge"]], p95[calls["turn"]])
    assert set(ids(store, p95_over=floor)) == {
        i for i in (calls["barge"], calls["turn"]) if p95[i] > floor
    }
    assert calls["empty"] not in ids(store, cost_over=0) and ids(store, cost_over=1e6) == []
    assert ids(store, search="barge", interrupted=True) == [calls["barge"]]
    assert ids(store, search="turn", interrupted=True) == []


def test_an_unknown_sort_names_the_choices():
    with pytest.raises(ValueError, match="sort by one of started"):
        SessionQuery(sort="nope")


def test_the_recordings_hearing_replaces_the_events_p95_and_adds_its_failed_checks(store, calls):
    sid = calls["turn"]
    store.save_heard(sid, Heard(p95_ms=1234.0, failed_checks=2))
    row = next(r for r in store.list_sessions() if r["id"] == sid)
    assert row["heard"] and row["p95_ms"] == 1234.0 and row["failed_checks"] == 2
    assert sid in ids(store, failed=True) and ids(store, sort="p95")[0] == sid


def test_the_recordings_hearing_saves_its_p95_for_the_list(store, tmp_path):
    sid = store_call(store, call_chunks())
    assert recordings.prepare(store, tmp_path, sid)
    hearing = recordings.hearing(store, tmp_path, sid)
    assert hearing is not None
    row = store.list_sessions()[0]
    assert row["heard"] and row["p95_ms"] == heard(hearing).p95_ms is not None
    assert not row["figured"]  # the fold's figures are not in yet: the list shows …
    figures.fill(store, tmp_path, sid)  # as the start-up pass does for an older session
    row = store.list_sessions()[0]
    assert row["figured"] and row["heard"] and row["interruptions"] == 1  # r2 was cut


def test_sessions_without_figures_are_unknown_until_filled(store, tmp_path):
    sid = imported(store, barge_in_log(), "old", fold=False)
    row = store.list_sessions()[0]
    assert not row["figured"] and row["turns"] is None and figures.unknown(row)
    assert store.unfigured_sessions() == [sid]
    assert ids(store, sort="turns") == [sid]  # unknown: listed, and last
    figures.fill(store, tmp_path, sid)
    row = store.list_sessions()[0]
    assert row["turns"] == 2 and row["interruptions"] == 1 and not figures.unknown(row)
    assert store.unfigured_sessions() == []


def test_a_fold_saved_before_the_counts_is_refolded_to_know_them(store, tmp_path):
    sid = imported(store, voice_turn_log(), "old", fold=False)
    state = json.loads(Aggregates().feed_all(voice_turn_log().events).dumps())
    del state["turns"], state["interruptions"]
    old = Aggregates.loads(json.dumps(state))
    assert old is not None
    panel_state.save(store, sid, old)
    assert store.list_sessions()[0]["turns"] is None and store.unfigured_sessions() == [sid]
    figures.fill(store, tmp_path, sid)
    assert store.list_sessions()[0]["turns"] == 1 and store.unfigured_sessions() == []


def test_later_figures_win_and_a_deleted_session_takes_its_figures(store):
    sid = imported(store, text_response_log(), "text")
    events = text_response_log().events
    panel_state.save(store, sid, Aggregates().feed_all(events[:3]))  # an older fold
    assert store.list_sessions()[0]["turns"] == 1
    assert store.delete_session(sid)
    assert store.list_sessions() == [] and store.unfigured_sessions() == []


# ---------------------------------------------------------------- routes


@pytest.fixture
def listed(app):
    """The calls fixture's sessions, in the app's database."""
    with opened(app) as store:
        return {
            "barge": imported(store, barge_in_log(), "barge"),
            "failed": imported(store, failed_response_log(), "failed"),
            "turn": imported(store, voice_turn_log(), "turn"),
        }


def order(html: str) -> list[str]:
    return re.findall(r'data-testid="session-row" data-session="([^"]+)"', html)


def test_a_header_sorts_worst_first_then_the_other_way(client, listed):
    html = client.get("/").get_data(as_text=True)
    assert 'href="/?sort=turns"' in html  # one click: most turns first
    by_turns = client.get("/?sort=turns", headers=HX).get_data(as_text=True)
    assert order(by_turns)[0] == listed["barge"] and "<html" not in by_turns
    assert 'href="/?sort=turns&amp;dir=asc"' in by_turns  # the next click: fewest first
    assert order(client.get("/?sort=turns&dir=asc").get_data(as_text=True))[-1] == listed["barge"]


def test_filters_narrow_the_list_and_the_sort_rides_along(client, listed):
    html = client.get("/?interrupted=1&sort=p95", headers=HX).get_data(as_text=True)
    assert order(html) == [listed["barge"]]
    assert '<input type="hidden" name="sort" value="p95">' in html
    assert 'href="/?sort=turns&amp;interrupted=1"' in html  # a header keeps the filters
    failed = order(client.get("/?failed=1").get_data(as_text=True))
    assert listed["failed"] in failed and listed["turn"] not in failed
    none = client.get("/?cost_over=1000000").get_data(as_text=True)
    assert order(none) == [] and "No session matches these filters" in none


def test_the_live_polling_keeps_the_sort_and_filters(client, app):
    with opened(app) as store:
        store.create_session(provider="emulator", label="on a call")  # live
    html = client.get("/?sort=cost&dir=asc&failed=0", headers=HX).get_data(as_text=True)
    polling = re.search(r'<table id="sessions"[^>]*>', html).group(0)
    assert 'hx-trigger="every 2s"' in polling and 'hx-get="/?sort=cost&amp;dir=asc"' in polling


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("sort=worst", "sort must be one of started"),
        ("dir=up", "dir must be desc or asc"),
        ("p95_over=fast", "p95_over must be a number >= 0 of milliseconds"),
        ("p95_over=-5", "p95_over must be a number >= 0"),
        ("cost_over=nan", "cost_over must be a number >= 0 of dollars"),
        ("cost_over=1e400", "cost_over must be a number >= 0"),
        ("failed=yes", "failed must be 1"),
    ],
)
def test_a_bad_sort_or_filter_is_a_400_that_says_what_to_fix(client, query, said):
    reply = client.get(f"/?{query}")
    assert reply.status_code == 400 and said in unescape(reply.get_data(as_text=True))


def test_unknown_figures_show_an_ellipsis_never_a_zero(client, app):
    with opened(app) as store:
        sid = imported(store, barge_in_log(), "not folded", fold=False)
        store.end_session(sid)  # ended: the list asks for its figures, but they are not in yet
    page = client.get("/").get_data(as_text=True)
    row = page[page.index(f'data-session="{sid}"') :]
    row = row[: row.index("</tr>")]
    assert 'data-testid="session-turns" title="not counted yet">…' in row
    assert 'data-testid="session-failed" title="not checked yet">…' in row
    assert 'data-testid="session-cost" title="not estimated yet">…' in row


def test_the_figures_of_sessions_stored_before_are_filled_from_start_up(app, settings):
    with opened(app) as store:
        sid = imported(store, barge_in_log(), "before the figures", fold=False)
        assert store.unfigured_sessions() == [sid]
    again = create_app(settings)  # a start-up that finds it without figures
    try:
        with opened(again) as store:

            def filled() -> bool:
                return store.list_sessions()[0]["turns"] == 2

            until(filled, "the start-up pass filled the session's figures")
            assert store.list_sessions()[0]["interruptions"] == 1
    finally:
        stop_news(again)
