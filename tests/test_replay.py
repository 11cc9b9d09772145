"""A recorded call's replay plan: the original's settings as the call page's fields, and the
client events sent by hand at their offsets from the recording's start."""

from __future__ import annotations

import pytest

from voice_lab.analysis import replay
from voice_lab.protocol.record import parse_event
from voice_lab.storage.rows import EventRow

from . import eventlogs
from .recordings import T0, call_chunks, call_events, store_call
from .stores import opened, plain_session

GA_UPDATE = {
    "type": "session.update",
    "session": {
        "type": "realtime",
        "instructions": "Be brief.",
        "audio": {
            "input": {
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.6,
                    "prefix_padding_ms": 200,
                    "silence_duration_ms": 700,
                },
                "transcription": {"model": "whisper-1"},
            },
            "output": {"voice": "cedar"},
        },
    },
}
TEXT = {
    "type": "conversation.item.create",
    "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
}
OUTPUT = {
    "type": "conversation.item.create",
    "item": {"type": "function_call_output", "call_id": "call_1", "output": "{}"},
}
MINT = {"type": "voicelab.mint", "provider": "emulator", "scenario": "slow", "script": "weather"}


def extra_events(configure: bool = True) -> list:
    """The page's own session.update (marked, or not as before the mark), its mint, and three
    events sent by hand, after the recorded call's events: (ms from T0, dir, event)."""
    first = len(call_events()) + 1
    made = [(100, "client", GA_UPDATE)]
    if configure:
        made.append((101, "local", {"type": "voicelab.configure", "seq": first}))
    made += [
        (-20, "local", MINT),
        (4000, "client", TEXT),
        (4000.5, "client", {"type": "response.create"}),
        (8500.25, "client", OUTPUT),
        (8600, "client", {**GA_UPDATE, "session": {"type": "realtime", "tools": []}}),
    ]
    return [
        parse_event(seq, direction, T0 + ms, event)
        for seq, (ms, direction, event) in enumerate(made, first)
    ]


def recorded(app, configure: bool = True) -> str:
    """A recorded emulator call with the page's and the hand-sent client events; its id."""
    with opened(app) as store:
        session_id = store_call(store, call_chunks())
        store.update_session(session_id, protocol="ga", model="gpt-realtime", voice="marin")
        store.insert_events(session_id, [EventRow.of(e) for e in extra_events(configure)])
    return session_id


@pytest.mark.parametrize("configure", [True, False])
def test_the_plan_gives_the_settings_and_the_hand_sent_events_at_their_offsets(
    client, app, configure
):
    session_id = recorded(app, configure)
    plan = client.get(f"/sessions/{session_id}/replay.json").get_json()
    assert plan["settings"] == {
        "provider": "emulator",
        "protocol": "ga",
        "model": "gpt-realtime",
        "voice": "cedar",  # the page's session.update chose it over the minted default
        "instructions": "Be brief.",
        "vad_type": "server_vad",
        "threshold": 0.6,
        "prefix_padding_ms": 200,
        "silence_duration_ms": 700,
        "transcription": True,
        "scenario": "slow",
        "script": "weather",
        "label": "replay of recorded",
    }
    offsets = [(e["offset_ms"], e["event"]["type"]) for e in plan["client_events"]]
    assert offsets == [
        (4000.0, "conversation.item.create"),
        (4000.5, "response.create"),
        (8500.2, "conversation.item.create"),
        (8600.0, "session.update"),  # sent by hand, unlike the page's own at 100 ms
    ]
    assert plan["client_events"][0]["event"] == TEXT
    assert plan["recording"] == f"/sessions/{session_id}/recording"
    assert plan["page"] == f"/sessions/{session_id}" and plan["session"] == session_id


def test_a_beta_session_without_turn_detection_or_transcription_reads_as_their_fields_off():
    update = {
        "type": "session.update",
        "session": {"voice": "ash", "turn_detection": None, "input_audio_transcription": None},
    }
    events = [parse_event(1, "client", T0, update)]
    fields = replay.settings({"id": "vl_1", "provider": "azure-preview"}, events)
    assert fields == {
        "provider": "azure-preview",
        "voice": "ash",
        "vad_type": "none",
        "transcription": False,
        "label": "replay of vl_1",
    }


def test_a_session_without_a_recording_has_no_plan(client, app):
    bare = plain_session(app)
    missing = client.get(f"/sessions/{bare}/replay.json")
    assert missing.status_code == 404 and "has no recording" in missing.get_data(as_text=True)
    assert client.get("/sessions/vl_nope/replay.json").status_code == 404


def test_the_session_page_offers_a_replay_only_with_a_recording(client, app):
    session_id = recorded(app)
    page = client.get(f"/sessions/{session_id}").get_data(as_text=True)
    assert f'href="/call?replay={session_id}"' in page and 'data-testid="replay-button"' in page
    bare = client.get(f"/sessions/{plain_session(app)}").get_data(as_text=True)
    assert 'data-testid="replay-button"' not in bare and 'data-testid="replay-of"' not in bare


def test_a_replayed_session_links_to_its_original_and_to_their_comparison(client, app):
    original = recorded(app)
    with opened(app) as store:
        again = store.create_session(provider="emulator", replay_of=original)
    page = client.get(f"/sessions/{again}").get_data(as_text=True)
    assert f'href="/sessions/{original}"' in page and ">recorded</a>" in page
    assert f'href="/compare?a={original}&amp;b={again}"' in page


def test_the_call_page_replays_a_stored_session_and_refuses_an_unknown_one(client, app):
    session_id = recorded(app)
    page = client.get(f"/call?replay={session_id}").get_data(as_text=True)
    assert f'data-plan-url="/sessions/{session_id}/replay.json"' in page
    assert 'data-testid="replay-client-events"' in page and "Replaying" in page
    assert 'id="replay"' not in client.get("/call").get_data(as_text=True)
    missing = client.get("/call?replay=vl_nope")
    assert missing.status_code == 404 and "no session vl_nope to replay" in missing.get_data(
        as_text=True
    )


@pytest.mark.parametrize("ga", [True, False])
def test_a_function_output_sent_by_hand_names_the_call_it_answers_by_its_place(ga):
    # A replay's model makes its calls with ids of its own: the page answers by place.
    log = eventlogs.function_call_log(ga)
    t0 = log.events[0].t
    planned = replay.hand_sent(log.events, t0)
    outputs = [step for step in planned if step["event"].get("item", {}).get("call_id")]
    assert len(outputs) == 1
    assert outputs[0]["answers"] == {"call": 0, "name": "get_weather"}
    assert outputs[0]["event"]["item"]["call_id"] == eventlogs.CALL_ID  # as sent, for the page
    assert all("answers" not in step for step in planned if step is not outputs[0])
