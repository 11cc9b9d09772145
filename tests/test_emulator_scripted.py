"""Scripted calls over a real peer: where scripts are chosen, the example scripts' round trips,
pattern turns on what was said, faults and ending, and the same run twice."""

from __future__ import annotations

import json

import numpy as np
import pytest
import requests

from tests.rtc_client import RtcClient
from tests.test_emulator_call import assert_conforms, mint, open_call, run, silence
from tests.test_emulator_tools import WEATHER, session_update, typed
from voice_lab import create_app
from voice_lab.config import ConfigError
from voice_lab.emulator import voice

ID_KEYS = {"event_id", "item_id", "response_id", "call_id", "id", "previous_item_id"}
ID_KEYS |= {"conversation_id"}
CLOCK_KEYS = {"audio_start_ms", "audio_end_ms"}
BOOKING_TOOLS = [
    {
        "type": "function",
        "name": name,
        "parameters": {"type": "object", "properties": {"party_size": {"type": "integer"}}},
    }
    for name in ("find_slots", "book_slot")
]


@pytest.fixture(autouse=True)
def emulator_settings(settings):
    """Every test here runs the emulator as the provider."""
    settings["VOICE_LAB_PROVIDER"] = "emulator"


def without_ids(value):
    """`value` with every id field left out, recursively."""
    if isinstance(value, dict):
        return {k: without_ids(v) for k, v in value.items() if k not in ID_KEYS}
    if isinstance(value, list):
        return [without_ids(v) for v in value]
    return value


async def answer(client: RtcClient, after: int, output: dict, protocol: str = "ga") -> dict:
    """Wait for the next response.done; if it called a function, send `output` and ask for the
    next response. The response.done."""
    done = await client.wait_for("response.done", after=after)
    item = done["response"]["output"][0]
    if item["type"] == "function_call":
        client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": item["call_id"],
                    "output": json.dumps(output),
                },
            }
        )
        key = "output_modalities" if protocol == "ga" else "modalities"
        client.send({"type": "response.create", "response": {key: ["text"]}})
    return done


async def weather_call(live_server, protocol: str = "ga", **options) -> RtcClient:
    """A text call with the weather script: ask, answer the call, hear the reply."""
    client = await open_call(live_server, audio=False, protocol=protocol, **options)
    client.send(session_update(protocol, tools=[WEATHER]))
    await client.wait_for("session.updated")
    client.send(typed("What's the weather like?"))
    key = "output_modalities" if protocol == "ga" else "modalities"
    client.send({"type": "response.create", "response": {key: ["text"]}})
    weather = {"city": "Paris", "temperature": 18, "conditions": "sunny"}
    first = await answer(client, 0, weather, protocol)
    await client.wait_for("response.done", after=client.index(first) + 1)
    await client.close()
    return client


def spoken_texts(client: RtcClient) -> list[str]:
    """The words of each reply, in order."""
    return [e["text"] for e in client.events if e["type"].endswith("text.done")]


@pytest.mark.parametrize("protocol", ["ga", "beta"])
def test_weather_script_calls_and_speaks_the_output(live_server, protocol):
    """Under tool_choice auto the script calls get_weather(city) and then says its output."""
    client = run(weather_call(live_server, protocol, script="weather"))
    call = next(e for e in client.events if e["type"] == "response.function_call_arguments.done")
    assert json.loads(call["arguments"]) == {"city": "Paris", "unit": "celsius"}
    assert spoken_texts(client) == ["In Paris it is 18 degrees and sunny."]
    assert_conforms(client.events, protocol)


def test_the_same_script_twice_gives_the_same_events_ids_aside(live_server):
    """Types and payloads match between two runs; only the ids differ."""
    first = run(weather_call(live_server, script="weather"))
    second = run(weather_call(live_server, script="weather"))
    assert first.types() == second.types()
    assert without_ids(first.events) == without_ids(second.events)
    assert first.events[0]["event_id"] != second.events[0]["event_id"]


def test_booking_makes_two_calls_in_sequence(live_server):
    """find_slots, its output, book_slot, its output, then the confirmation."""

    async def call():
        client = await open_call(live_server, audio=False, script="booking")
        client.send(session_update("ga", tools=BOOKING_TOOLS))
        await client.wait_for("session.updated")
        client.send(typed("A table for two on Christmas Eve, please."))
        client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        first = await answer(client, 0, {"slots": ["19:00", "21:00"]})
        second = await answer(client, client.index(first) + 1, {"confirmation": "AB12"})
        await client.wait_for("response.done", after=client.index(second) + 1)
        await client.close()
        return client

    client = run(call())
    calls = [e["name"] for e in client.events if e["type"].endswith("arguments.done")]
    assert calls == ["find_slots", "book_slot"]
    assert spoken_texts(client) == ["You are booked: confirmation AB12."]


def test_failing_tool_apologises_and_the_script_ends_the_call(live_server):
    """The output carries an error: the reply says sorry with it; the last turn hangs up."""

    async def call():
        tool = {"type": "function", "name": "charge_card", "parameters": {"type": "object"}}
        client = await open_call(live_server, audio=False, script="failing_tool")
        client.send(session_update("ga", tools=[tool]))
        await client.wait_for("session.updated")
        client.send(typed("Pay for it"))
        client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        first = await answer(client, 0, {"error": "card declined"})
        reply = await client.wait_for("response.done", after=client.index(first) + 1)
        client.send(typed("Try again"))
        client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        await client.wait_for("response.done", after=client.index(reply) + 1)
        await client.channel_closed.wait()
        await client.close()
        return client

    client = run(call())
    assert spoken_texts(client) == [
        "I'm sorry, the payment did not go through: card declined. Shall I try again?",
        "I'm sorry, I still can't take the payment.",
    ]


def test_a_voice_turn_matches_on_what_the_transcription_heard(live_server):
    """A pattern turn waits for the words; talk_ms sets how long the reply plays."""
    script = {
        "turns": [
            {"match": r"speech, \d", "say": "I heard speech.", "talk_ms": 600, "delay_ms": 100},
            {"say": "no match"},
        ]
    }

    async def call():
        transcription = {"model": "whisper-1"}
        session = {"audio": {"input": {"transcription": transcription}}}
        client = await open_call(live_server, script=script, session=session)
        client.mic.say(np.concatenate((voice.speech_like(1.0, seed=3), silence(1.0))))
        done = await client.wait_for("response.done")
        await client.wait_for("output_audio_buffer.stopped")
        await client.close()
        return done

    done = run(call())
    assert done["response"]["output"][0]["content"][0]["transcript"] == "I heard speech."
    assert done["response"]["usage"]["output_token_details"]["audio_tokens"] == 600 // 50


def test_a_response_waiting_for_the_words_is_announced_at_once(live_server):
    """As the service does, response.created follows the user's item; the transcription that a
    pattern turn waits for comes after it, and the reply still answers the words."""
    script = {"turns": [{"match": r"speech, \d", "say": "I heard speech."}]}

    async def call():
        transcription = {"model": "whisper-1"}
        session = {"audio": {"input": {"transcription": transcription}}}
        client = await open_call(live_server, script=script, session=session)
        client.mic.say(np.concatenate((voice.speech_like(1.0, seed=3), silence(1.0))))
        done = await client.wait_for("response.done")
        await client.close()
        return client, done

    client, done = run(call())
    types = client.types()
    assert types.index("conversation.item.done") < types.index("response.created")
    assert types.index("response.created") < types.index(
        "conversation.item.input_audio_transcription.completed"
    )
    assert done["response"]["output"][0]["content"][0]["transcript"] == "I heard speech."


def test_a_turn_fault_fails_that_response(live_server):
    """fault response_error on turn 1: that response fails, turn 2 answers."""
    script = {"turns": [{"turn": 1, "fault": "response_error"}, {"say": "fine now"}]}

    async def call():
        client = await open_call(live_server, audio=False, script=script)
        client.send(typed("one"))
        client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        failed = await client.wait_for("response.done")
        client.send(typed("two"))
        client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        await client.wait_for("response.done", after=client.index(failed) + 1)
        await client.close()
        return client, failed

    client, failed = run(call())
    assert failed["response"]["status"] == "failed"
    assert spoken_texts(client) == ["fine now"]


def test_an_undeclared_tool_is_not_called(live_server):
    """The model cannot call what the session does not offer: it says so instead."""

    async def call():
        client = await open_call(live_server, audio=False, script="weather")
        client.send(typed("weather?"))
        client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        await client.wait_for("response.done")
        await client.close()
        return client

    client = run(call())
    assert spoken_texts(client) == ["I would call get_weather, but the session does not let me."]


def test_mint_refuses_a_bad_script_with_the_reason(live_server):
    """By name or inline, through Voice Lab's API and the emulator's own mint endpoint."""
    bad = {"turns": [{"call": {"name": "f", "arguments": "x"}}]}
    reply = requests.post(f"{live_server.url}/api/sessions", json={"script": bad}, timeout=10)
    assert reply.status_code == 400
    assert "turns[0].call.arguments must be an object" in reply.json()["error"]["message"]
    reply = requests.post(f"{live_server.url}/api/sessions", json={"script": "nope"}, timeout=10)
    assert reply.status_code == 400 and "no script named 'nope'" in reply.text
    reply = requests.post(
        f"{live_server.url}/emulator/v1/realtime/client_secrets",
        json={"script": "/etc/passwd.json"},
        headers={"Authorization": "Bearer sk-any"},
        timeout=10,
    )
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "script"
    assert mint(live_server, script="weather")["ephemeral_key"].startswith("ek_")


def test_the_app_wide_script_is_checked_at_start_up(settings, tmp_path):
    """VOICE_LAB_EMULATOR_SCRIPT: a bad name or file stops the app with the fix."""
    settings["VOICE_LAB_EMULATOR_SCRIPT"] = "nope"
    with pytest.raises(ConfigError, match="VOICE_LAB_EMULATOR_SCRIPT: no script named 'nope'"):
        create_app(settings)
    path = tmp_path / "mine.json"
    path.write_text('{"turns": [{"say": 1}]}')
    settings["VOICE_LAB_EMULATOR_SCRIPT"] = str(path)
    with pytest.raises(ConfigError, match=r"mine.json: turns\[0\].say must be a string"):
        create_app(settings)


@pytest.fixture
def weather_for_all(settings):
    """The app-wide script is the weather example (set before the app is made)."""
    settings["VOICE_LAB_EMULATOR_SCRIPT"] = "weather"


def test_the_app_wide_script_runs_every_call(weather_for_all, live_server):
    """With VOICE_LAB_EMULATOR_SCRIPT set, a call without a script of its own follows it."""
    client = run(weather_call(live_server))
    assert spoken_texts(client) == ["In Paris it is 18 degrees and sunny."]


def test_the_call_page_lists_the_scripts(live_server):
    """The scripts folder's scripts are offered next to the scenario select."""
    page = requests.get(f"{live_server.url}/call", timeout=5).text
    select = page[page.index('data-testid="script"') :]
    select = select[: select.index("</select>")]
    assert all(f"<option>{n}</option>" in select for n in ("booking", "failing_tool", "weather"))


def test_a_spoken_turn_twice_gives_the_same_events_ids_and_clock_aside(live_server):
    """The weather script on the same audio, twice: the same types and payloads, but for ids
    and where on the input audio's clock the speech fell (when the peer's first packet came)."""

    async def spoken_call() -> RtcClient:
        client = await open_call(live_server, script="weather")
        client.send(session_update("ga", tools=[WEATHER]))
        await client.wait_for("session.updated")
        client.mic.say(np.concatenate((voice.speech_like(1.0, seed=5), silence(1.0))))
        weather = {"city": "Paris", "temperature": 18, "conditions": "sunny"}
        first = await answer(client, 0, weather)
        await client.wait_for("response.done", after=client.index(first) + 1)
        await client.close()
        return client

    def steady(client: RtcClient) -> list:
        # Playback events depend on when the client hung up, not on the script or the audio.
        events = [e for e in client.events if not e["type"].startswith("output_audio_buffer")]
        return without_ids(without_clock(events))

    first, second = run(spoken_call()), run(spoken_call())
    assert steady(first) == steady(second)
    assert any(e["type"] == "response.function_call_arguments.done" for e in first.events)


def without_clock(value):
    """`value` without the fields that say where on the input audio's clock a turn fell."""
    if isinstance(value, dict):
        return {k: without_clock(v) for k, v in value.items() if k not in CLOCK_KEYS}
    if isinstance(value, list):
        return [without_clock(v) for v in value]
    return value
