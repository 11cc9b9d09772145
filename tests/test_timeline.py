"""Tests for voice_lab.timeline on realistic logs of both protocols (GA and beta names)."""

from __future__ import annotations

import json

import pytest

from tests import eventlogs
from tests.eventlogs import REPLY, USER_TEXT, chunks
from voice_lab.analysis import metrics, review, timeline
from voice_lab.protocol.names import deep_merge
from voice_lab.protocol.record import Event, parse_event

PROTOCOLS = pytest.mark.parametrize("ga", [True, False], ids=["ga", "beta"])


def _types(events: list[Event]) -> dict[int, str]:
    """seq -> type, to name the events a test expects."""
    return {e.seq: e.type for e in events}


def _seq_of(events: list[Event], ga_type: str, nth: int = 0) -> int:
    """The seq of the nth event with this GA (or beta) type."""
    beta = eventlogs.beta_name(ga_type)
    return [e.seq for e in events if e.type in (ga_type, beta)][nth]


def _without(events: list[Event], *types: str) -> list[Event]:
    """The log with every event of these types (GA or beta names) dropped."""
    names = set(types) | {eventlogs.beta_name(t) for t in types}
    return [e for e in events if e.type not in names]


# ---------------------------------------------------------------- rows and delta runs


@PROTOCOLS
def test_transcript_deltas_collapse_around_interleaved_events(ga):
    events = eventlogs.voice_turn_log(ga).events
    rows = timeline.flat_rows(events)
    runs = [r for r in rows if r.kind == "deltas"]
    reply_run = next(r for r in runs if r.type.endswith("transcript.delta"))
    assert reply_run.count == len(chunks(REPLY)) == 9
    assert reply_run.text == REPLY
    assert reply_run.summary == f"9 deltas: “{REPLY}”"
    # The run stands where its first delta was, although output_audio_buffer.started and
    # input transcription events came between its deltas.
    first = _seq_of(events, "response.output_audio_transcript.delta")
    assert reply_run.seq == first and reply_run.seqs[0] == first
    assert reply_run.seqs == tuple(
        e.seq for e in events if e.type and e.type.endswith("audio_transcript.delta")
    )
    assert reply_run.t_end - reply_run.t == 20 * 8
    position = [r.seq for r in rows].index(first)
    assert rows[position + 1].type == "output_audio_buffer.started"
    user_run = next(r for r in runs if "input_audio_transcription" in r.type)
    assert (user_run.text, user_run.count, user_run.item_id) == (USER_TEXT, 6, "item_001")


@PROTOCOLS
def test_rows_account_for_every_event_once(ga):
    events = eventlogs.barge_in_log(ga).events
    rows = timeline.flat_rows(events)
    seqs = [seq for row in rows for seq in row.seqs]
    assert sorted(seqs) == [e.seq for e in events]
    assert [r.seq for r in rows] == sorted(r.seq for r in rows)
    assert rows[0].rel_ms == 0.0


def test_rows_without_collapse_are_one_per_event():
    events = eventlogs.voice_turn_log().events
    rows = timeline.flat_rows(events, collapse=False)
    assert [r.seq for r in rows] == [e.seq for e in events]
    assert {r.kind for r in rows} == {"event"} and all(r.count == 1 for r in rows)


def test_an_event_without_a_time_is_refused_naming_the_fix():
    undated = parse_event(1, "server", None, '{"type": "session.created"}')
    with pytest.raises(ValueError, match="read it back with from_row"):
        timeline.flat_rows([undated])
    with pytest.raises(ValueError, match="read it back with from_row"):
        review.errors([parse_event(1, "server", None, '{"type": "error", "error": {}}')])


@PROTOCOLS
def test_function_call_argument_deltas_collapse(ga):
    rows = timeline.flat_rows(eventlogs.function_call_log(ga).events)
    run = next(r for r in rows if r.type == "response.function_call_arguments.delta")
    assert (run.kind, run.count, run.text) == ("deltas", 3, eventlogs.ARGUMENTS)


def _delta(seq: int, content_index: int, text: str, t: float) -> Event:
    """A transcript delta of resp_1/item_1 in one content part."""
    data = {
        "type": "response.output_audio_transcript.delta",
        "response_id": "resp_1",
        "item_id": "item_1",
        "content_index": content_index,
        "delta": text,
    }
    return parse_event(seq, "server", t, json.dumps(data))


def test_streams_of_different_parts_stay_apart():
    events = [_delta(1, 0, "a", 10.0), _delta(2, 1, "x", 20.0), _delta(3, 0, "b", 30.0)]
    rows = timeline.rows(events, t0=5.0)
    assert [(r.seqs, r.text, r.rel_ms) for r in rows] == [((1, 3), "ab", 5.0), ((2,), "x", 15.0)]


def test_a_key_split_across_deltas_is_redacted_once_assembled():
    key = eventlogs.EPHEMERAL_KEY
    # Neither half looks like a key on its own, so each delta was stored as it came.
    events = [_delta(1, 0, f"my key is {key[:6]}", 10.0), _delta(2, 0, f"{key[6:]} ok", 20.0)]
    assert key[6:] in events[1].raw
    (row,) = timeline.rows(events, t0=5.0)
    assert key not in row.text + row.summary and key[6:] not in row.text + row.summary
    assert row.text == "my key is ek_68…0b ok"
    user = [
        parse_event(n, "server", 1.0, json.dumps(data))
        for n, data in enumerate(
            [
                {"type": "conversation.item.added", "item": {"id": "item_u", "role": "user"}},
                *(
                    {
                        "type": "conversation.item.input_audio_transcription.delta",
                        "item_id": "item_u",
                        "delta": part,
                    }
                    for part in (key[:6], key[6:])
                ),
            ],
            1,
        )
    ]
    assert [line.text for line in timeline.transcript(user)] == ["ek_68…0b"]


# ---------------------------------------------------------------- grouping


@PROTOCOLS
def test_voice_turn_groups(ga):
    log = eventlogs.voice_turn_log(ga)
    groups = timeline.group_events(log.events)
    user, rid, reply = log.user_items[0], log.responses[0], log.assistant_items[0]
    assert [(g.kind, g.key) for g in groups] == [
        ("session", "session-1"),
        ("turn", user),
        ("response", rid),
        ("session", f"session-{_seq_of(log.events, 'rate_limits.updated')}"),
    ]
    turn, response = groups[1], groups[2]
    assert turn.title == f"User: “{USER_TEXT}”"
    assert response.title == "Response (completed)" and response.turn == user
    # The assistant item's conversation.item.added has no response_id: it joins by its item id.
    added = [e for e in log.events if e.item_id == reply and e.response_id is None]
    assert added and {e.seq for e in added} <= {s for r in response.rows for s in r.seqs}
    assert [g.first_seq for g in groups] == sorted(g.first_seq for g in groups)
    seqs = sorted(s for g in groups for r in g.rows for s in r.seqs)
    assert seqs == [e.seq for e in _without(log.events, "voicelab.stats")]


def _two_turns(ga: bool, samples: bool) -> list[Event]:
    """Connect, then voice turns at S=1000 and S=6000, with a voicelab.stats sample each second
    from 500 ms (between the turns and among their events) when `samples`."""
    b = eventlogs.LogBuilder(ga)
    b.connect()
    eventlogs.voice_turn(b, 1000, USER_TEXT, REPLY)
    eventlogs.voice_turn(b, 6000, "And tomorrow?", REPLY)
    for second in range(11 if samples else 0):
        b.stats(500 + 1000 * second, rtt_ms=40.0 + second, bytes_in=12_000 * (second + 1))
    return b.build().events


@PROTOCOLS
def test_stats_samples_make_no_groups_between_turns(ga):
    with_samples = timeline.group_events(_two_turns(ga, samples=True))
    without = timeline.group_events(_two_turns(ga, samples=False))
    assert [(g.kind, g.title) for g in with_samples] == [(g.kind, g.title) for g in without]
    assert [g.kind for g in with_samples].count("response") == 2
    assert not {r.type for g in with_samples for r in g.rows} & {"voicelab.stats"}
    # They stay in the flat view, where every event has its row.
    flat = timeline.flat_rows(_two_turns(ga, samples=True))
    assert sum(r.type == "voicelab.stats" for r in flat) == 11


@PROTOCOLS
def test_barge_in_groups_by_ids_not_time(ga):
    log = eventlogs.barge_in_log(ga)
    groups = {g.key: g for g in timeline.group_events(log.events)}
    first, second = log.responses
    cut = groups[first]
    types = {r.type for r in cut.rows}
    # Truncation names only the assistant item, yet belongs to the response that made it.
    assert "conversation.item.truncated" in types and "output_audio_buffer.cleared" in types
    assert cut.title == "Response (cancelled)"
    # The second user's speech started before the first response ended: still its own turn.
    interrupting = groups[log.user_items[1]]
    assert interrupting.first_seq < max(cut.rows[-1].seqs)
    assert groups[second].turn == log.user_items[1]


@PROTOCOLS
def test_function_call_groups(ga):
    log = eventlogs.function_call_log(ga)
    groups = timeline.group_events(log.events)
    output = [g for g in groups if g.kind == "item"]
    assert len(output) == 1 and output[0].title == "Item (function_call_output)"
    responses = [g for g in groups if g.kind == "response"]
    assert [g.key for g in responses] == log.responses
    assert [g.turn for g in responses] == [log.user_items[0]] * 2


@PROTOCOLS
def test_text_message_is_a_user_turn(ga):
    log = eventlogs.text_response_log(ga)
    groups = timeline.group_events(log.events)
    turn = next(g for g in groups if g.kind == "turn")
    assert turn.title == "User: “What is the capital of France?”"
    assert next(g for g in groups if g.kind == "response").turn == turn.key


# ---------------------------------------------------------------- latency


@PROTOCOLS
def test_voice_latency(ga):
    (latency,) = metrics.latencies(eventlogs.voice_turn_log(ga).events)
    assert latency.anchor == "input_audio_buffer.speech_stopped"
    # speech_stopped at 2000, created 2300, first delta 2490, audio 2500, done 3340, stopped 5300.
    assert latency.to_created_ms == 300
    assert latency.to_first_text_ms == 490
    assert latency.to_first_audio_ms == 500
    assert latency.duration_ms == 1040
    assert latency.playback_ms == 2800
    assert latency.status == "completed"
    assert [(b.label, b.start_ms, b.ms) for b in latency.bars] == [
        ("wait", 0, 300),
        ("response", 300, 1040),
        ("first text", 490, 0),
        ("audio", 500, 2800),
    ]


@PROTOCOLS
def test_latency_from_response_create(ga):
    log = eventlogs.function_call_log(ga)
    tool, spoken = metrics.latencies(log.events)
    assert (tool.anchor, tool.to_created_ms, tool.duration_ms) == (
        "input_audio_buffer.speech_stopped",
        300,
        160,
    )
    assert tool.to_first_text_ms is None and tool.to_first_audio_ms is None
    # The follow-up is measured from the client's response.create (2630), not the old speech.
    assert spoken.anchor == "response.create"
    assert spoken.anchor_seq == _seq_of(log.events, "response.create")
    assert (spoken.to_created_ms, spoken.to_first_text_ms, spoken.to_first_audio_ms) == (
        70,
        260,
        270,
    )


@PROTOCOLS
def test_text_response_latency(ga):
    (latency,) = metrics.latencies(eventlogs.text_response_log(ga).events)
    assert latency.anchor == "response.create"
    assert (latency.to_created_ms, latency.to_first_text_ms, latency.duration_ms) == (150, 300, 400)
    assert latency.to_first_audio_ms is None and latency.playback_ms is None


def test_latency_without_anchor_starts_at_created():
    events = _without(eventlogs.voice_turn_log().events, "input_audio_buffer.speech_stopped")
    (latency,) = metrics.latencies(events)
    assert latency.anchor is None and latency.to_created_ms is None
    assert latency.bars[0] == metrics.Bar("response", 0, 1040)


@PROTOCOLS
def test_barge_in_latency_and_stats(ga):
    cut, full = metrics.latencies(eventlogs.barge_in_log(ga).events)
    assert cut.status == "cancelled"
    assert cut.duration_ms == 660  # created 2300, cancelled at 2960
    assert cut.playback_ms == 405  # started 2500, cleared 2905
    stats = {s.name: s for s in metrics.latency_stats([cut, full])}
    assert (stats["duration_ms"].count, stats["duration_ms"].p50) == (2, 660)
    assert stats["duration_ms"].p95 == 1040
    assert stats["to_created_ms"].p50 == 300


@pytest.mark.parametrize(
    ("values", "p", "expected"),
    [
        ([], 50, None),
        ([7], 95, 7),
        ([15, 20, 35, 40, 50], 50, 35),
        ([50, 40, 35, 20, 15], 30, 20),
        ([15, 20, 35, 40, 50], 95, 50),
        (list(range(1, 101)), 95, 95),
        (list(range(1, 11)), 50, 5),
    ],
)
def test_percentile_nearest_rank(values, p, expected):
    assert metrics.percentile(values, p) == expected


# ---------------------------------------------------------------- usage and rate limits


@PROTOCOLS
def test_usage_per_response_and_total(ga):
    usages = metrics.usage_by_response(eventlogs.function_call_log(ga).events)
    tool, spoken = usages
    assert tool == metrics.Usage(
        tool.response_id,
        input_tokens=230,
        output_tokens=15,
        total_tokens=245,
        input_text=180,
        input_audio=50,
        output_text=15,
    )
    assert (spoken.input_cached, spoken.output_audio, spoken.total_tokens) == (128, 100, 375)
    total = metrics.usage_total(usages)
    assert total.response_id is None
    assert (total.input_tokens, total.output_tokens, total.total_tokens) == (480, 140, 620)
    assert (total.input_text, total.input_audio, total.input_cached) == (380, 100, 128)


def test_usage_of_a_cancelled_response_counts():
    usages = metrics.usage_by_response(eventlogs.barge_in_log().events)
    assert [u.total_tokens for u in usages] == [200, 375]
    assert metrics.usage_total(usages).total_tokens == 575


@PROTOCOLS
def test_rate_limit_series(ga):
    log = eventlogs.barge_in_log(ga)
    points = metrics.rate_limit_series(log.events)
    assert [(p.name, p.limit, p.remaining) for p in points[:2]] == [
        ("requests", 5000, 4999),
        ("tokens", 40000, 35904),
    ]
    assert len(points) == 4
    assert points[0].rel_ms == 2330 and points[0].reset_seconds == 0.012
    assert points[0].seq == _seq_of(log.events, "rate_limits.updated")


# ---------------------------------------------------------------- errors


@PROTOCOLS
def test_error_links_to_the_client_event(ga):
    log = eventlogs.client_error_log(ga)
    (error,) = review.errors(log.events)
    assert error.code == "input_audio_buffer_commit_empty"
    assert error.message.startswith("Error committing input audio buffer")
    assert error.event_id == "evt_commit_1"
    assert error.client_seq == _seq_of(log.events, "input_audio_buffer.commit")


@PROTOCOLS
def test_failed_transcription_and_response_are_errors(ga):
    (failed,) = review.errors(eventlogs.transcription_failure_log(ga).events)
    assert (failed.message, failed.code) == (
        "Audio could not be transcribed.",
        "audio_unintelligible",
    )
    assert failed.client_seq is None
    (response,) = review.errors(eventlogs.failed_response_log(ga).events)
    assert response.type == "response.done" and response.code == "server_error"


def test_incomplete_response_without_error_object():
    data = {
        "type": "response.done",
        "response": {
            "id": "resp_1",
            "status": "incomplete",
            "status_details": {"type": "incomplete", "reason": "max_output_tokens"},
        },
    }
    (error,) = review.errors([parse_event(1, "server", 0.0, json.dumps(data))])
    assert (error.message, error.code) == (
        "response incomplete: max_output_tokens",
        "max_output_tokens",
    )


# ---------------------------------------------------------------- session config


def test_config_diff_paths():
    old = {"voice": "alloy", "audio": {"input": {"format": "pcm16", "vad": None}}, "tools": [1]}
    new = {"voice": "marin", "audio": {"input": {"format": "pcm16"}, "output": {}}, "tools": [2]}
    changes = review.config_diff(old, new)
    assert [(c.path, c.old, c.new, c.change) for c in changes] == [
        ("voice", "alloy", "marin", "changed"),
        ("audio.input.vad", None, None, "removed"),
        ("audio.output", None, {}, "added"),
        ("tools", [1], [2], "changed"),
    ]
    assert review.config_diff(new, new) == []


def test_deep_merge_keeps_untouched_fields():
    base = {"audio": {"input": {"format": "pcm16", "turn_detection": {"type": "server_vad"}}}}
    merged = deep_merge(base, {"audio": {"input": {"turn_detection": None}}})
    assert merged == {"audio": {"input": {"format": "pcm16", "turn_detection": None}}}
    assert base["audio"]["input"]["turn_detection"] == {"type": "server_vad"}


@pytest.mark.parametrize(
    ("ga", "path"),
    [(True, "audio.input.transcription"), (False, "input_audio_transcription")],
    ids=["ga", "beta"],
)
def test_session_config_changes(ga, path):
    log = eventlogs.function_call_log(ga)
    config = review.session_config(log.events)
    assert [(c.direction, c.type) for c in config.changes] == [
        ("client", "session.update"),
        ("server", "session.updated"),
    ] * 2
    asked, applied, tools_asked, tools_applied = config.changes
    assert [(c.path, c.old, c.new, c.change) for c in asked.changes] == [
        (path, None, {"model": "whisper-1"}, "changed")
    ]
    assert applied.changes == asked.changes
    assert [c.path for c in tools_applied.changes] == ["tools"]
    assert tools_applied.changes[0].new == [eventlogs.WEATHER_TOOL]
    assert config.effective["tools"] == [eventlogs.WEATHER_TOOL]
    transcription = config.effective["audio"]["input"] if ga else config.effective
    assert transcription["transcription" if ga else "input_audio_transcription"] == {
        "model": "whisper-1"
    }


def test_a_refused_update_leaves_the_config():
    events = _without(eventlogs.voice_turn_log().events, "session.updated")
    config = review.session_config(events)
    assert config.effective["audio"]["input"]["transcription"] is None
    assert len(config.changes) == 1 and config.changes[0].direction == "client"


# ---------------------------------------------------------------- transcript


def _lines(events: list[Event]) -> list[tuple[str, str, str]]:
    """(role, text, status) of each transcript line."""
    return [(line.role, line.text, line.status) for line in timeline.transcript(events)]


@PROTOCOLS
def test_transcript_of_a_voice_turn(ga):
    log = eventlogs.voice_turn_log(ga)
    assert _lines(log.events) == [("user", USER_TEXT, "final"), ("assistant", REPLY, "final")]
    reply = timeline.transcript(log.events)[1]
    assert (reply.item_id, reply.response_id) == (log.assistant_items[0], log.responses[0])


@PROTOCOLS
def test_late_transcription_stays_before_its_response(ga):
    events = eventlogs.out_of_order_transcription_log(ga).events
    completed = _seq_of(events, "conversation.item.input_audio_transcription.completed")
    assert completed > _seq_of(events, "response.done")
    user, assistant = timeline.transcript(events)
    assert (user.role, user.text) == ("user", USER_TEXT)
    assert user.seq < assistant.seq


@PROTOCOLS
def test_transcript_of_failed_transcription(ga):
    assert _lines(eventlogs.transcription_failure_log(ga).events) == [
        ("user", "", "failed"),
        ("assistant", REPLY, "final"),
    ]


@PROTOCOLS
def test_transcript_of_barge_in(ga):
    lines = _lines(eventlogs.barge_in_log(ga).events)
    said = "".join(
        chunks(" ".join(["Paris is lovely in spring and the museums are open late."] * 3))[:21]
    )
    assert lines == [
        ("user", "Tell me about Paris.", "final"),
        ("assistant", said, "final"),
        ("user", "Actually, just the weather.", "final"),
        ("assistant", REPLY, "final"),
    ]


@PROTOCOLS
def test_transcript_from_deltas_when_done_is_missing(ga):
    events = _without(
        eventlogs.voice_turn_log(ga).events,
        "conversation.item.input_audio_transcription.completed",
        "response.output_audio_transcript.done",
    )
    assert _lines(events) == [("user", USER_TEXT, "partial"), ("assistant", REPLY, "partial")]


@PROTOCOLS
def test_transcript_of_text_and_tools(ga):
    assert _lines(eventlogs.text_response_log(ga).events) == [
        ("user", "What is the capital of France?", "final"),
        ("assistant", "The capital of France is Paris.", "final"),
    ]
    assert _lines(eventlogs.function_call_log(ga).events) == [
        ("user", USER_TEXT, "final"),
        ("assistant", REPLY, "final"),
    ]


# ---------------------------------------------------------------- protocol checks


def _checks(events: list[Event]) -> dict[str, review.Check]:
    """The protocol checks by name."""
    return {check.name: check for check in review.protocol_checks(events)}


@PROTOCOLS
@pytest.mark.parametrize(
    "scenario",
    ["voice_turn", "barge_in", "function_call", "text_response", "out_of_order_transcription"],
)
def test_healthy_logs_pass_every_check(scenario, ga):
    checks = _checks(eventlogs.SCENARIOS[scenario](ga).events)
    assert [(c.name, c.ok, c.seqs) for c in checks.values()] == [
        ("responses finish", True, ()),
        ("no errors", True, ()),
        ("speech stops", True, ()),
        ("seq contiguous", True, ()),
    ]


@PROTOCOLS
@pytest.mark.parametrize(
    ("scenario", "error_type"),
    [
        ("client_error", "error"),
        ("transcription_failure", "conversation.item.input_audio_transcription.failed"),
        ("failed_response", "response.done"),
    ],
)
def test_error_check_fails(scenario, error_type, ga):
    events = eventlogs.SCENARIOS[scenario](ga).events
    check = _checks(events)["no errors"]
    assert not check.ok and check.detail == "1 error event(s)"
    assert check.seqs == (_seq_of(events, error_type),)


def test_response_without_done_fails():
    events = eventlogs.voice_turn_log().events
    checks = _checks(_without(events, "response.done"))
    assert not checks["responses finish"].ok
    assert checks["responses finish"].seqs == (_seq_of(events, "response.created"),)
    assert not checks["seq contiguous"].ok


def test_speech_without_stop_fails_and_seq_gap_is_named():
    events = eventlogs.voice_turn_log().events
    stopped = _seq_of(events, "input_audio_buffer.speech_stopped")
    checks = _checks(_without(events, "input_audio_buffer.speech_stopped"))
    assert checks["speech stops"].seqs == (_seq_of(events, "input_audio_buffer.speech_started"),)
    gap = checks["seq contiguous"]
    assert (gap.ok, gap.seqs, gap.detail) == (False, (stopped,), f"1 seq(s) missing: {stopped}")


def test_seq_gaps_are_listed_as_ranges():
    events = [e for e in eventlogs.voice_turn_log().events if e.seq not in (3, 4, 5, 9)]
    assert _checks(events)["seq contiguous"].detail == "4 seq(s) missing: 3-5, 9"


def test_missing_seqs_run_to_last_and_stop_at_the_limit():
    assert review.missing_seqs([3, 1, 6]) == [2, 4, 5]
    assert review.missing_seqs([1], last=4) == [2, 3, 4]
    assert review.missing_seqs([], last=5, limit=2) == [1, 2]
    assert review.missing_seqs([]) == []


def test_semantic_vad_may_start_several_times():
    started = {"type": "input_audio_buffer.speech_started", "item_id": "item_1"}
    stopped = {"type": "input_audio_buffer.speech_stopped", "item_id": "item_1"}
    events = [
        parse_event(seq, "server", float(seq), json.dumps(data))
        for seq, data in enumerate([started, started, stopped], start=1)
    ]
    assert _checks(events)["speech stops"].ok


# ---------------------------------------------------------------- WebRTC stats


def test_stats_series():
    points = metrics.stats_series(eventlogs.voice_turn_log().events)
    assert [(p.rel_ms, p.rtt_ms, p.bytes_in, p.bytes_out) for p in points] == [
        (600, 41.0, 12_000, 6_000),
        (5600, 45.0, 96_000, 48_000),
    ]
    assert (points[0].jitter_ms, points[0].packets_lost, points[0].audio_level_out) == (2.5, 0, 0.3)


def test_stats_missing_or_odd_fields_read_as_none():
    sample = {"type": "voicelab.stats", "rtt_ms": None, "jitter_ms": "3", "packets_lost": True}
    (point,) = metrics.stats_series([parse_event(1, "local", 0.0, sample)])
    assert (point.rtt_ms, point.jitter_ms, point.packets_lost, point.bytes_in) == (None,) * 4
