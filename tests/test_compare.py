"""Two sessions compared (analysis/compare.py), from event logs: config, latency, usage, cost,
errors, counts, tools, and the transcripts aligned by speech for replays, else by order."""

from __future__ import annotations

import pytest

from tests import eventlogs
from tests.eventlogs import LogBuilder, voice_turn
from voice_lab.analysis import cost
from voice_lab.analysis.compare import Side, Turn, align, compare, notes, side_of
from voice_lab.analysis.heard import HeardLatency, Hearing
from voice_lab.analysis.timeline import Line
from voice_lab.protocol.record import Event

PRICES = cost.shipped()


def session(sid: str, **fields) -> dict:
    """A session row as the store gives it."""
    return {"id": sid, "provider": "emulator", "model": "gpt-realtime", "voice": "marin", **fields}


def conversation(
    starts: list[float], voice: str = "marin", mint: dict | None = None
) -> list[Event]:
    """A call (input transcription off in its config) whose user speaks at each start (ms),
    each turn answered as voice_turn does."""
    b = LogBuilder()
    if mint is not None:
        b.local(0, "voicelab.mint", ms=100.0, **mint)
    b.server(450, "session.created", session=b.session(voice=voice, transcription=False))
    for n, start in enumerate(starts, 1):
        voice_turn(b, start, f"question {n}", f"answer {n}")
    return b.build().events


def slowed(events: list[Event], ms: float) -> list[Event]:
    """The events with every reply's audio starting `ms` later."""
    late = "output_audio_buffer.started"
    return [e._replace(t=e.t + ms) if e.type == late else e for e in events]


def test_the_effective_config_marks_the_fields_that_differ():
    a = side_of(session("a"), conversation([1000], mint={"scenario": None, "script": "weather"}))
    b = side_of(
        session("b", voice="cedar"),
        conversation([1000], voice="cedar", mint={"scenario": "slow", "script": "weather"}),
    )
    rows = {row.name: row for row in compare(a, b, PRICES).config}
    changed = {name for name, row in rows.items() if row.changed}
    assert changed == {"session.voice", "emulator.scenario", "audio.output.voice"}
    assert (rows["session.voice"].a, rows["session.voice"].b) == ("marin", "cedar")
    assert rows["emulator.script"].a == rows["emulator.script"].b == "weather"
    assert rows["audio.input.turn_detection.silence_duration_ms"].a == "500"


def test_the_service_s_own_session_id_is_not_config():
    def renamed(events, sid):
        configs = ("session.created", "session.updated")
        return [
            e._replace(data={**e.data, "session": {**e.data["session"], "id": sid}})
            if e.type in configs
            else e
            for e in events
        ]

    a = side_of(session("a"), renamed(conversation([1000]), "sess_a"))
    b = side_of(session("b"), renamed(conversation([1000]), "sess_b"))
    rows = {row.name: row for row in compare(a, b, PRICES).config}
    assert "id" not in rows and "object" not in rows
    assert not any(row.changed for row in rows.values())


def test_a_field_only_one_side_has_is_marked_with_nothing_on_the_other():
    a = side_of(session("a"), eventlogs.voice_turn_log().events)  # transcription turned on
    b = side_of(session("b"), conversation([1000]))
    rows = {row.name: row for row in compare(a, b, PRICES).config}
    assert rows["emulator.script"].changed is False  # neither minted with a script
    model = rows["audio.input.transcription.model"]
    assert (model.a, model.b, model.changed) == ("whisper-1", None, True)


def test_latency_gives_each_sides_p50_and_p95_and_the_change():
    events = conversation([1000, 6000])
    a = side_of(session("a"), events)
    b = side_of(session("b"), slowed(events, 200))
    comparison = compare(a, b, PRICES)
    first_audio = comparison.figure("to_first_audio_ms")
    assert (first_audio.a.p95, first_audio.b.p95) == (500, 700)  # speech_stopped to audio
    assert (first_audio.p50_change, first_audio.p95_change) == (200, 200)
    assert comparison.figure("heard_to_first_audio_ms").p95_change is None  # no recordings
    with pytest.raises(ValueError, match="use one of to_created_ms"):
        comparison.figure("to_first_byte_ms")


def test_the_heard_figures_come_from_the_hearing():
    heard = (HeardLatency("resp_1", 1000.0, 1640.0, 640.0), HeardLatency("resp_2", None, 10, None))
    hearing = Hearing(1.0, (), (), heard, (), (), ())
    events = conversation([1000])
    a = side_of(session("a"), events, hearing)
    row = compare(a, side_of(session("b"), events), PRICES).figure("heard_to_first_audio_ms")
    assert (row.a.count, row.a.p95, row.b.count, row.b.p95) == (1, 640.0, 0, None)


def test_usage_and_cost_of_each_side():
    a = side_of(session("a"), eventlogs.voice_turn_log().events)
    b = side_of(session("b"), eventlogs.function_call_log().events)
    comparison = compare(a, b, PRICES)
    total = {row.name: row for row in comparison.usage}["total_tokens"]
    one = eventlogs.DEFAULT_USAGE["total_tokens"]
    assert (total.a, total.b, total.changed) == (
        one,
        one + eventlogs.FUNCTION_CALL_USAGE["total_tokens"],
        True,
    )
    a_cost, b_cost = comparison.cost
    assert a_cost.dollars is not None and b_cost.dollars is not None
    assert b_cost.dollars > a_cost.dollars


def test_errors_and_failed_checks_of_each_side():
    a = side_of(session("a"), eventlogs.voice_turn_log().events)
    b = side_of(session("b"), eventlogs.failed_response_log().events)
    comparison = compare(a, b, PRICES)
    assert comparison.errors[0] == [] and comparison.failed[0] == []
    assert [e.type for e in comparison.errors[1]] == ["response.done"]
    assert comparison.failed[1] == ["no errors: 1 error event(s)"]


def test_counts_per_type_match_beta_names_with_ga_ones():
    a = side_of(session("a"), eventlogs.voice_turn_log(ga=True).events)
    b = side_of(session("b"), eventlogs.voice_turn_log(ga=False).events)
    rows = {row.name: row for row in compare(a, b, PRICES).counts}
    assert {name for name, row in rows.items() if row.changed} == {"conversation.item.done"}
    assert (rows["conversation.item.done"].a, rows["conversation.item.done"].b) == (2, 0)
    assert rows["conversation.item.added"].a == rows["conversation.item.added"].b == 2


def test_the_tools_each_side_called():
    a = side_of(session("a"), eventlogs.function_call_log().events)
    b = side_of(session("b"), eventlogs.voice_turn_log().events)
    assert compare(a, b, PRICES).tools == (["get_weather"], [])


def said(pair_side) -> str | None:
    return None if pair_side is None else pair_side.user.text


def test_replays_of_one_recording_align_turns_by_the_users_speech():
    original = side_of(session("a"), conversation([1000, 6000, 12000]))
    # The replay heard the first and last turns a little later, and never the middle one.
    replay = side_of(session("b", replay_of="a"), conversation([1150, 12200]))
    comparison = compare(original, replay, PRICES)
    assert comparison.aligned_by == "speech"
    pairs = [(said(p.a), said(p.b)) for p in comparison.turns]
    assert pairs == [
        ("question 1", "question 1"),
        ("question 2", None),
        ("question 3", "question 2"),
    ]
    assert [p.changed for p in comparison.turns] == [False, True, True]


@pytest.mark.parametrize(
    ("a_fields", "b_fields"),
    [({}, {"replay_of": "a"}), ({"replay_of": "b"}, {}), ({"replay_of": "o"}, {"replay_of": "o"})],
)
def test_either_way_of_being_replays_aligns_by_speech(a_fields, b_fields):
    a = side_of(session("a", **a_fields), conversation([1000]))
    b = side_of(session("b", **b_fields), conversation([1000]))
    assert compare(a, b, PRICES).aligned_by == "speech"


def test_other_sessions_align_turns_by_order():
    a = side_of(session("a"), conversation([1000, 6000, 12000]))
    b = side_of(session("b", replay_of="other"), conversation([1150, 12200]))
    comparison = compare(a, b, PRICES)
    assert comparison.aligned_by == "order"
    pairs = [(said(p.a), said(p.b)) for p in comparison.turns]
    assert pairs == [
        ("question 1", "question 1"),
        ("question 2", "question 2"),
        ("question 3", None),
    ]


def test_a_turn_without_a_speech_start_keeps_its_place():
    typed = eventlogs.text_response_log().events  # a typed question: no VAD
    a = side_of(session("a"), typed)
    b = side_of(session("b", replay_of="a"), conversation([1000]))
    pairs = compare(a, b, PRICES).turns
    assert [(p.a is not None, p.b is not None) for p in pairs] == [(True, False), (False, True)]
    assert pairs[0].a.replies[0].text == "The capital of France is Paris."


def test_notes_read_only_the_mint_and_the_speech_starts():
    events = conversation([1000, 6000], mint={"scenario": "slow", "script": None})
    found = notes(
        e for e in events if e.type in ("voicelab.mint", "input_audio_buffer.speech_started")
    )
    assert found == notes(events)
    assert dict(found.mint) == {"scenario": "slow", "script": None}
    assert list(found.speech.values()) == [1000.0, 6000.0]


def test_a_side_from_the_stores_figures_compares_as_one_from_events():
    events = eventlogs.function_call_log().events
    built = side_of(session("a"), events)
    stored = Side(session("a"), built.fold, {e.type: 1 for e in events}, (), None, built.notes)
    comparison = compare(built, stored, PRICES)
    assert not [row for row in comparison.config if row.changed]
    assert comparison.tools == (["get_weather"], ["get_weather"])


def test_turns_with_no_speech_start_in_the_same_place_pair_with_each_other():
    def line(role: str, text: str, seq: int) -> Line:
        return Line(role, f"item_{seq}", None, seq, text, "final")

    greeting = Turn(None, (line("assistant", "Hello.", 1),), None)
    typed = Turn(line("user", "Hi", 2), (line("assistant", "Yes?", 3),), None)
    spoken = Turn(line("user", "Weather?", 4), (), 1000.0)
    pairs = align([greeting, spoken, typed], [greeting, spoken, typed], by_speech=True)
    assert [(p.a, p.b) for p in pairs] == [(greeting, greeting), (spoken, spoken), (typed, typed)]
