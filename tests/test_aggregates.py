"""The panels' fold against the batch functions it replaces on the session page, and its saving."""

import json

import pytest

from tests.eventlogs import (
    barge_in_log,
    client_error_log,
    failed_response_log,
    function_call_log,
    out_of_order_transcription_log,
    text_response_log,
    transcription_failure_log,
    voice_turn_log,
)
from voice_lab.analysis import aggregates, metrics, panel_lists, review, timeline
from voice_lab.analysis.aggregates import Aggregates
from voice_lab.ingest import mirror as mirror_module
from voice_lab.ingest import panel_state
from voice_lab.ingest.mirror import Mirror
from voice_lab.protocol.record import parse_event
from voice_lab.storage.rows import EventRow

LOGS = [
    voice_turn_log,
    out_of_order_transcription_log,
    transcription_failure_log,
    barge_in_log,
    function_call_log,
    text_response_log,
    client_error_log,
    failed_response_log,
]
CASES = [(log, ga) for log in LOGS for ga in (True, False)]


def events_of(log, ga):
    return sorted(log(ga=ga).events, key=lambda e: e.seq)


def wire_of(events):
    """Events as mirror.js sends them."""
    return [{"seq": e.seq, "dir": e.direction, "t": e.t, "data": e.raw} for e in events]


def saved_and_loaded(fold: Aggregates) -> Aggregates:
    return Aggregates.loads(fold.dumps())


@pytest.mark.parametrize(("log", "ga"), CASES)
def test_the_fold_gives_what_the_batch_functions_give(log, ga):
    events = events_of(log, ga)
    fold = Aggregates().feed_all(events)
    assert fold.latencies() == metrics.latencies(events)
    assert fold.latency_stats() == metrics.latency_stats(fold.latencies())
    usages = metrics.usage_by_response(events)
    assert fold.usages() == usages and fold.usage_total() == metrics.usage_total(usages)
    assert fold.error_infos() == review.errors(events)
    config = review.session_config(events)
    assert fold.config == config.effective and tuple(fold.config_changes()) == config.changes
    assert fold.transcript() == timeline.transcript(events)
    assert fold.checks() == review.protocol_checks(events, missing=[])
    assert fold.rate_limit_points() == metrics.rate_limit_series(events) or _same_by_name(
        fold.rate_limit_points(), metrics.rate_limit_series(events)
    )
    assert fold.stats_points() == metrics.stats_series(events)


def _same_by_name(a, b):
    key = lambda p: (p.name, p.seq)  # noqa: E731 (the fold lists a name's points together)
    return sorted(a, key=key) == sorted(b, key=key)


@pytest.mark.parametrize(("log", "ga"), CASES)
def test_saved_anywhere_and_picked_up_it_gives_the_same(log, ga):
    events = events_of(log, ga)
    whole = Aggregates().feed_all(events)
    for cut in range(len(events) + 1):
        fold = saved_and_loaded(Aggregates().feed_all(events[:cut])).feed_all(events[cut:])
        assert fold.dumps() == whole.dumps()


def test_an_event_not_after_the_last_is_refused():
    events = events_of(voice_turn_log, True)
    fold = Aggregates().feed_all(events[:5])
    assert fold.feed(events[2]) is False and fold.folded == 5
    with pytest.raises(ValueError, match="not after seq 5"):
        fold.feed_all([events[4]])


def test_state_from_another_version_or_garbage_is_not_used():
    state = json.loads(Aggregates().feed_all(events_of(voice_turn_log, True)).dumps())
    assert Aggregates.loads(json.dumps({**state, "version": aggregates.VERSION + 1})) is None
    assert Aggregates.loads("{not json") is None and Aggregates.loads(None) is None


def test_state_saved_with_records_of_another_field_order_is_folded_again():
    state = json.loads(Aggregates().feed_all(events_of(client_error_log, True)).dumps())
    assert state["errors"] and Aggregates.loads(json.dumps(state)) is not None
    fields = state["layout"]["ErrorInfo"]
    moved = {**state["layout"], "ErrorInfo": [fields[1], fields[0], *fields[2:]]}
    assert Aggregates.loads(json.dumps({**state, "layout": moved})) is None
    assert Aggregates.loads(json.dumps({k: v for k, v in state.items() if k != "layout"})) is None


def test_lists_are_bounded_and_counts_kept(monkeypatch):
    monkeypatch.setattr(aggregates, "LATEST_RESPONSES", 1)
    monkeypatch.setattr(panel_lists, "LATEST_LINES", 2)
    events = events_of(barge_in_log, True)
    fold = Aggregates().feed_all(events)
    assert len(fold.usages()) == 1 and fold.hidden()["responses"] == 1
    assert fold.usage_total().total_tokens == 575  # both responses count
    lines = timeline.transcript(events)
    assert fold.transcript() == lines[-2:] and fold.hidden()["lines"] == len(lines) - 2


def test_charts_are_thinned_as_points_arrive(monkeypatch):
    monkeypatch.setattr(panel_lists, "CHART_POINTS", 10)
    series = panel_lists._series()
    for n in range(95):
        panel_lists._sample(series, [n])
    points = panel_lists._points(series)
    assert 5 <= len(points) <= 11 and points[0] == [0] and points[-1] == [94]
    assert [p[0] % series["step"] for p in points[:-1]] == [0] * (len(points) - 1)


def stored(store, events, session_id):
    store.insert_events(session_id, [EventRow.of(e) for e in events])


def test_current_saves_and_then_reads_only_what_is_new(store):
    events = events_of(barge_in_log, True)
    sid = store.create_session(provider="emulator")
    stored(store, events[:10], sid)
    first = panel_state.current(store, sid)
    assert store.load_aggregates(sid)[:2] == (events[9].seq, 10)
    stored(store, events[10:], sid)
    second = panel_state.current(store, sid)
    assert second.dumps() == Aggregates().feed_all(events).dumps() != first.dumps()


def test_a_gap_filled_later_rebuilds_the_fold(store):
    events = events_of(barge_in_log, True)
    sid = store.create_session(provider="emulator")
    stored(store, events[:5] + events[6:], sid)  # seq 6 missing
    with_gap = panel_state.current(store, sid)
    assert with_gap.folded == len(events) - 1
    stored(store, [events[5]], sid)
    assert panel_state.current(store, sid).dumps() == Aggregates().feed_all(events).dumps()


def test_the_mirror_folds_what_it_stores_and_saves_it(store):
    events = events_of(voice_turn_log, True)
    sid, secret = store.create_writable_session(provider="emulator")
    mirror = Mirror(store)
    mirror.handle(json.dumps({"op": "hello", "session": sid, "secret": secret}))
    wire = wire_of(events)
    for start in range(0, len(wire), 7):
        mirror.handle(json.dumps({"op": "events", "events": wire[start : start + 7]}))
    mirror.close()
    upto, folded, state = store.load_aggregates(sid)
    assert (upto, folded) == (events[-1].seq, len(events))
    assert (
        state
        == Aggregates()
        .feed_all(parse_event(e.seq, e.direction, e.t, e.raw) for e in events)
        .dumps()
    )


@pytest.mark.parametrize(("log", "ga"), CASES)
def test_settled_responses_still_count_in_the_percentiles(monkeypatch, log, ga):
    monkeypatch.setattr(aggregates, "LIVE_RESPONSES", 1)
    events = events_of(log, ga)
    fold = Aggregates().feed_all(events)
    latencies = metrics.latencies(events)
    assert fold.latencies() == latencies[-1:]
    assert fold.latency_stats() == metrics.latency_stats(latencies)


def test_odd_ids_neither_break_the_panels_nor_their_saving():
    odd = [
        parse_event(1, "client", 1.0, '{"type": "response.create", "event_id": {"x": 1}}'),
        parse_event(2, "server", 2.0, '{"type": "error", "error": {"event_id": [1]}}'),
        parse_event(3, "server", 3.0, '{"type": "input_audio_buffer.speech_started"}'),
    ]
    fold = saved_and_loaded(Aggregates().feed_all(odd))
    fold.feed(parse_event(4, "server", 4.0, '{"type": "input_audio_buffer.speech_stopped"}'))
    assert [c.ok for c in fold.checks()] == [True, False, True, True]
    assert fold.error_infos()[0].client_seq is None
    assert review.errors(odd)[0].client_seq is None


def test_a_hello_leaves_a_long_unfolded_session_to_the_panels(store, monkeypatch):
    monkeypatch.setattr(mirror_module, "HELLO_FOLDS", 3)
    events = events_of(voice_turn_log, True)
    sid, secret = store.create_writable_session(provider="emulator")
    stored(store, events[:10], sid)  # stored without a fold, as before panel states existed
    mirror = Mirror(store)
    hello = json.dumps({"op": "hello", "session": sid, "secret": secret})
    assert mirror.handle(hello)["acked"] == 10
    assert mirror.fold is None
    wire = wire_of(events[10:])
    assert mirror.handle(json.dumps({"op": "events", "events": wire}))["op"] == "ack"
    mirror.close()
    assert store.load_aggregates(sid) is None
    assert panel_state.current(store, sid).dumps() == Aggregates().feed_all(events).dumps()


@pytest.mark.parametrize("read_ahead", [False, True])
def test_a_second_hello_saves_the_first_sessions_fold_under_its_own_id(store, read_ahead):
    events = events_of(voice_turn_log, True)
    (first, first_secret), (second, second_secret) = (
        store.create_writable_session(provider="emulator") for _ in range(2)
    )
    mirror = Mirror(store)
    mirror.handle(json.dumps({"op": "hello", "session": first, "secret": first_secret}))
    frames = [
        {"op": "events", "events": wire_of(events)},
        {"op": "hello", "session": second, "secret": second_secret},
    ]
    if read_ahead:  # both taken before the first is answered
        for frame in frames:
            mirror.take(json.dumps(frame))
        replies = [mirror.reply(), mirror.reply()]
    else:
        replies = [mirror.handle(json.dumps(frame)) for frame in frames]
    assert [reply["op"] for reply in replies] == ["ack", "welcome"]
    assert store.load_aggregates(first)[:2] == (events[-1].seq, len(events))
    assert store.load_aggregates(second) is None and mirror.fold.folded == 0


def test_hostile_payloads_neither_break_the_fold_nor_its_saving():
    huge = "9" * 4000  # parses; eleven of them would not print
    done = '{"type":"response.done","response":{"id":"r","usage":{"total_tokens":' + huge + "}}}"
    hostile = [
        parse_event(1, "server", 1.0, '{"type":"rate_limits.updated","rate_limits":true}'),
        parse_event(2, "server", 2.0, '{"type":"rate_limits.updated","rate_limits":[1,"x"]}'),
        parse_event(3, "server", 3.0, done),
        parse_event(4, "local", 4.0, {"type": "voicelab.stats", "note": "\ud800"}),
        parse_event(
            5,
            "server",
            5.0,
            '{"type":"conversation.item.added","item_id":"\ud800",'
            '"item":{"role":"assistant","content":[{"type":"text","text":"a\udc00"}]}}',
        ),
    ]
    fold = saved_and_loaded(Aggregates().feed_all(hostile))
    assert fold is not None and fold.folded == 5
    assert fold.usage_total().total_tokens == 0
    assert fold.rate_limit_points() == []


def test_state_stays_bounded_whatever_the_client_sends():
    client = (
        parse_event(seq, "client", float(seq), json.dumps({"type": "x", "event_id": f"e{seq}"}))
        for seq in range(1, 5001)
    )
    fold = Aggregates().feed_all(client)
    assert len(fold.client_seqs) == panel_lists.MAX_CLIENT_IDS
    starts = (
        parse_event(
            seq,
            "server",
            float(seq),
            json.dumps({"type": "input_audio_buffer.speech_started", "item_id": f"i{seq}"}),
        )
        for seq in range(5001, 8001)
    )
    fold.feed_all(starts)
    assert len(fold.open_speech) == aggregates.MAX_OPEN
    assert len(fold.line_items) <= panel_lists.MAX_LINE_ITEMS
    assert len(fold.user_items) <= panel_lists.MAX_LINE_ITEMS
    assert len(fold.dumps()) < 300_000


def test_a_fold_that_fails_never_costs_the_mirror_its_ack(store, monkeypatch):
    sid, secret = store.create_writable_session(provider="emulator")
    mirror = Mirror(store)
    mirror.handle(json.dumps({"op": "hello", "session": sid, "secret": secret}))

    def broken(self, event):
        raise RuntimeError("a bug in the fold")

    monkeypatch.setattr(Aggregates, "feed", broken)
    events = events_of(voice_turn_log, True)
    reply = mirror.handle(json.dumps({"op": "events", "events": wire_of(events)}))
    assert reply == {"op": "ack", "upto": events[-1].seq} and mirror.fold is None
    mirror.close()
    assert store.load_aggregates(sid) is None


def test_after_a_gap_is_filled_the_mirror_folds_again(store, monkeypatch):
    monkeypatch.setattr(mirror_module, "SAVE_EVERY", 0)
    events = events_of(voice_turn_log, True)
    sid, secret = store.create_writable_session(provider="emulator")
    mirror = Mirror(store)
    mirror.handle(json.dumps({"op": "hello", "session": sid, "secret": secret}))
    mirror.handle(json.dumps({"op": "events", "events": wire_of(events[:3] + events[4:-1])}))
    mirror.handle(json.dumps({"op": "events", "events": wire_of(events[3:4])}))  # the gap
    assert mirror.fold is None
    mirror.handle(json.dumps({"op": "events", "events": wire_of(events[-1:])}))
    assert mirror.fold.dumps() == Aggregates().feed_all(events).dumps()


def test_a_seq_sent_twice_in_a_batch_is_folded_as_stored(store):
    sid, secret = store.create_writable_session(provider="emulator")
    mirror = Mirror(store)
    mirror.handle(json.dumps({"op": "hello", "session": sid, "secret": secret}))
    done = '{"type":"response.done","response":{"id":"r","usage":{"total_tokens":%d}}}'
    twice = [{"seq": 1, "dir": "server", "t": 1.0, "data": done % n} for n in (100, 5)]
    mirror.handle(json.dumps({"op": "events", "events": twice}))
    assert mirror.fold.usage_total().total_tokens == 5
    assert panel_state.current(store, sid).usage_total().total_tokens == 5


def test_a_look_at_the_panels_does_not_wait_for_a_write_to_save(store):
    events = events_of(voice_turn_log, True)
    sid = store.create_session(provider="emulator")
    stored(store, events, sid)
    with store.writer.lock:  # another write under way
        fold = panel_state.current(store, sid)
    assert fold.folded == len(events) and store.load_aggregates(sid) is None
