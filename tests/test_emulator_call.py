"""Real calls against the emulator: an aiortc client over HTTP to a live server."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
import requests
import webrtcvad
from pydantic import BaseModel, TypeAdapter

from tests.eventlogs import GA_TURN_HEAD, GA_TURN_TAIL
from tests.rtc_client import RtcClient, read_wav
from voice_lab.emulator import vad, voice
from voice_lab.testing import write_wav


def silence(seconds: float) -> np.ndarray:
    """Digital silence at 48 kHz."""
    return np.zeros(int(seconds * 48000), dtype=np.int16)


@pytest.fixture(autouse=True)
def emulator_settings(settings):
    """Every test here runs the emulator as the provider."""
    settings["VOICE_LAB_PROVIDER"] = "emulator"


@pytest.fixture(scope="module")
def speech_wav(tmp_path_factory):
    """A 16-bit WAV: 0.3 s silence, 1.2 s of voiced speech-like sound, 1 s silence."""
    samples = np.concatenate((silence(0.3), voice.speech_like(1.2, seed=3), silence(1.0)))
    return write_wav(tmp_path_factory.mktemp("audio") / "speech.wav", samples)


@pytest.fixture(scope="module")
def speech(speech_wav):
    """The test utterance as samples."""
    return read_wav(speech_wav)


def adapters():
    """Validators of server events by protocol, from the openai SDK's own models."""
    from openai.types.beta.realtime import RealtimeServerEvent as BetaEvent
    from openai.types.realtime import RealtimeServerEvent as GaEvent

    return {"ga": TypeAdapter(GaEvent), "beta": TypeAdapter(BetaEvent)}


def extras(model: BaseModel, path: str) -> list[str]:
    """Fields the SDK's models do not know (they allow extras, so validation alone misses them)."""
    found = [f"{path}.{name}" for name in model.model_extra or {}]
    for name in type(model).model_fields:
        value = getattr(model, name)
        for index, child in enumerate(value if isinstance(value, list) else [value]):
            if isinstance(child, BaseModel):
                found += extras(child, f"{path}.{name}[{index}]")
    return found


# The GA service sends the session's id and object, which the SDK's request-shaped model lacks.
KNOWN_EXTRAS = {
    "session.created.session[0].id",
    "session.created.session[0].object",
    "session.updated.session[0].id",
    "session.updated.session[0].object",
}


def assert_conforms(events: list[dict], protocol: str) -> None:
    """Every event validates against the SDK's server-event union, with no unknown fields."""
    adapter = adapters()[protocol]
    for event in events:
        assert set(extras(adapter.validate_python(event), event["type"])) <= KNOWN_EXTRAS


def mint(live_server, **options) -> dict:
    """A session from Voice Lab's own API, as the call page gets it."""
    response = requests.post(f"{live_server.url}/api/sessions", json=options, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def run(coro):
    """Run a test coroutine on a fresh loop."""
    return asyncio.run(asyncio.wait_for(coro, 45))


def test_the_test_speech_is_speech_to_webrtcvad(speech):
    """The synthesized utterance is voiced to webrtcvad itself, and silence is not."""
    mono16k = vad.to_16k_mono(speech, channels=1)
    detector = webrtcvad.Vad(2)
    frames = [mono16k[i : i + 480] for i in range(0, len(mono16k) - 480, 480)]
    voiced = [detector.is_speech(f.tobytes(), 16000) for f in frames]
    speech_frames = voiced[int(0.35 / 0.03) : int(1.45 / 0.03)]
    assert sum(speech_frames) / len(speech_frames) > 0.9
    assert not any(voiced[:8]) and not any(voiced[-20:])


def test_voice_turn_ga(live_server, speech):
    """A spoken turn: the full event order, ids that tie together, audio back, SDK conformance."""

    async def call():
        session = mint(live_server)
        client = RtcClient()
        response = await client.connect(session["webrtc_url"], session["ephemeral_key"])
        assert response.status_code == 201
        assert response.headers["Content-Type"].startswith("application/sdp")
        # Loopback is among the answer's candidates, so a loopback-only host can connect.
        assert " 127.0.0.1 " in response.text
        assert response.headers["Location"].rsplit("/", 1)[-1].startswith("rtc_")
        await client.wait_for("session.created")
        client.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {"input": {"transcription": {"model": "whisper-1"}}},
                },
            }
        )
        await client.wait_for("session.updated")
        client.mic.say(speech)
        stopped = await client.wait_for("output_audio_buffer.stopped", timeout=20)
        await client.close()
        return client, stopped

    client, stopped = run(call())
    types = client.types()
    turn = [t for t in types if not t.startswith("conversation.item.input_audio_transcription")]
    assert turn[:2] == ["session.created", "session.updated"]
    assert turn[2:14] == list(GA_TURN_HEAD)
    assert turn[turn.index("response.output_audio.done") :] == list(GA_TURN_TAIL)
    assert set(turn[14 : turn.index("response.output_audio.done")]) == {
        "response.output_audio_transcript.delta"
    }
    assert "conversation.item.input_audio_transcription.completed" in types
    events = {e["type"]: e for e in client.events}
    started, ended = (
        events["input_audio_buffer.speech_started"],
        events["input_audio_buffer.speech_stopped"],
    )
    # The speech begins 0.3 s into the audio; prefix padding (300 ms) reaches back before it.
    assert 0 <= started["audio_start_ms"] <= 400
    assert 1400 <= ended["audio_end_ms"] <= 2600
    assert (
        started["item_id"] == ended["item_id"] == events["input_audio_buffer.committed"]["item_id"]
    )
    done = events["response.done"]["response"]
    assert done["status"] == "completed" and done["usage"]["total_tokens"] > 0
    assert done["id"] == stopped["response_id"] == events["response.created"]["response"]["id"]
    transcript = events["response.output_audio_transcript.done"]["transcript"]
    assert transcript.startswith("I heard you speak for 1.")
    deltas = [e["delta"] for e in client.events if e["type"].endswith("transcript.delta")]
    assert "".join(deltas) == transcript
    assert all(e["event_id"].startswith("event_") for e in client.events)
    assert client.loud_frames > 25, "the reply's audio reached the client's inbound track"
    assert_conforms(client.events, "ga")


def test_emulator_leaves_no_threads(app, live_server, speech):
    """After shutdown, the loop thread and every peer connection are gone."""
    before = set(threading.enumerate())

    async def call():
        session = mint(live_server)
        client = RtcClient()
        await client.connect(session["webrtc_url"], session["ephemeral_key"])
        await client.wait_for("session.created")
        await client.close()

    run(call())
    app.extensions["voice_lab_emulator"].shutdown()
    app.extensions["voice_lab_emulator"].shutdown()
    leftover = [t for t in set(threading.enumerate()) - before if t.is_alive()]
    assert leftover == []


async def open_call(live_server, label: str = "oai-events", audio: bool = True, **options):
    """Mint through Voice Lab's API, connect, and wait for session.created."""
    session = mint(live_server, **options)
    client = RtcClient(label=label, audio=audio)
    response = await client.connect(session["webrtc_url"], session["ephemeral_key"])
    assert response.status_code == 201, response.text
    await client.wait_for("session.created")
    return client


def test_voice_turn_beta_names(live_server, speech):
    """A preview-flavoured key speaks beta names over the realtimertc URL, any channel label."""

    async def call():
        session = mint(live_server, protocol="beta")
        assert "/emulator/v1/realtimertc?model=" in session["webrtc_url"]
        client = RtcClient(label="realtime-channel")
        await client.connect(session["webrtc_url"], session["ephemeral_key"])
        await client.wait_for("session.created")
        client.mic.say(speech)
        await client.wait_for("output_audio_buffer.stopped", timeout=20)
        await client.close()
        return client

    client = run(call())
    types = client.types()
    for name in (
        "conversation.item.created",
        "response.audio_transcript.delta",
        "response.audio.done",
        "response.audio_transcript.done",
    ):
        assert name in types
    for name in (
        "conversation.item.added",
        "conversation.item.done",
        "response.output_audio_transcript.delta",
        "response.output_audio.done",
    ):
        assert name not in types
    assert_conforms(client.events, "beta")


def test_barge_in_cancels_and_truncates(live_server, speech):
    """Speech while the reply plays: cleared, truncated, and a cancelled response if running."""

    async def call():
        client = await open_call(live_server)
        client.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {
                        "input": {
                            "turn_detection": {"type": "server_vad", "silence_duration_ms": 300}
                        }
                    },
                },
            }
        )
        await client.wait_for("session.updated")
        # Replies stream slowly in this scenario, so the second utterance lands mid-response.
        client.mic.say(speech[: int(2.0 * 48000)])
        started = await client.wait_for("output_audio_buffer.started", timeout=20)
        client.mic.say(speech[int(0.3 * 48000) :])
        at = client.index(started)
        cleared = await client.wait_for("output_audio_buffer.cleared", after=at)
        truncated = await client.wait_for("conversation.item.truncated", after=at)
        await client.wait_for("response.done", after=at)
        await client.wait_for(
            "output_audio_buffer.stopped", after=client.index(truncated), timeout=20
        )
        await client.close()
        return client, started, cleared, truncated

    client, started, cleared, truncated = run(call())
    assert cleared["response_id"] == started["response_id"]
    first = next(e for e in client.events if e["type"] == "response.done")
    assert first["response"]["status"] == "cancelled"
    assert first["response"]["status_details"]["reason"] == "turn_detected"
    assert truncated["item_id"] == first["response"]["output"][0]["id"]
    assert 0 < truncated["audio_end_ms"] < 5000
    client.barge_in_after(started)
    assert_conforms(client.events, "ga")


def test_text_message_and_text_only_response(live_server):
    """A typed message and a text-only response: item events, then text deltas and no audio."""

    async def call():
        client = await open_call(live_server, audio=False)
        client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hello there"}],
                },
            }
        )
        await client.wait_for("conversation.item.done")
        client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        await client.wait_for("response.done")
        await client.close()
        return client

    client = run(call())
    types = client.types()
    assert "response.output_text.delta" in types and "output_audio_buffer.started" not in types
    done = next(e for e in client.events if e["type"] == "response.output_text.done")
    assert done["text"] == "You said: hello there"
    assert_conforms(client.events, "ga")


def test_out_of_band_response_stays_out_of_the_conversation(live_server):
    """`conversation: "none"`: no conversation id, no conversation item events."""

    async def call():
        client = await open_call(live_server, audio=False)
        client.send(
            {
                "type": "response.create",
                "response": {
                    "conversation": "none",
                    "output_modalities": ["text"],
                    "metadata": {"k": "v"},
                },
            }
        )
        done = await client.wait_for("response.done")
        await client.close()
        return client, done

    client, done = run(call())
    assert done["response"]["conversation_id"] is None
    assert done["response"]["metadata"] == {"k": "v"}
    assert "conversation.item.added" not in client.types()


def test_cancel_and_client_event_errors(live_server):
    """response.cancel ends a response as cancelled; bad events get `error` and the call lives."""

    async def call():
        client = await open_call(live_server, audio=False, scenario="slow_response:2")
        client.send({"type": "response.create"})
        created = await client.wait_for("response.created")
        client.send({"type": "response.cancel", "event_id": "evt_cancel"})
        done = await client.wait_for("response.done")
        client.send({"type": "response.cancel", "event_id": "evt_again"})
        client.send("{not json")
        client.send({"type": "no.such.event", "event_id": "evt_unknown"})
        client.send(
            {
                "type": "session.update",
                "event_id": "evt_bad",
                "session": {"audio": {"output": {"voice": "cedar"}}},
            }
        )
        client.send({"type": "input_audio_buffer.commit", "event_id": "evt_commit"})
        client.send({"type": "conversation.item.retrieve", "item_id": "item_nope"})
        await asyncio.sleep(0.5)
        client.send({"type": "input_audio_buffer.clear"})
        await client.wait_for("input_audio_buffer.cleared")
        await client.close()
        return client, created, done

    client, created, done = run(call())
    assert done["response"]["id"] == created["response"]["id"]
    assert done["response"]["status"] == "cancelled"
    assert done["response"]["status_details"]["reason"] == "client_cancelled"
    errors = {e["error"]["event_id"]: e["error"] for e in client.events if e["type"] == "error"}
    assert errors["evt_again"]["code"] == "response_cancel_not_active"
    assert errors["evt_unknown"]["param"] == "type"
    assert errors["evt_bad"]["param"] == "session.type"
    assert errors["evt_commit"]["code"] == "input_audio_buffer_commit_empty"
    assert errors[None]["type"] == "invalid_request_error"
    assert all(e["type"] == "invalid_request_error" for e in errors.values())
    assert_conforms(client.events, "ga")


def test_scenario_response_error_and_rate_limit_low(live_server):
    """response_error: an `error` event and a failed response; rate_limit_low: tiny remaining."""

    async def call(scenario):
        client = await open_call(live_server, audio=False, scenario=scenario)
        client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        await client.wait_for("response.done")
        client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        await client.wait_for("response.done", after=client.index(client.events[-1]) + 1)
        await client.close()
        return client

    failing = run(call("response_error"))
    assert "error" in failing.types()
    done = next(e for e in failing.events if e["type"] == "response.done")["response"]
    assert done["status"] == "failed" and done["status_details"]["error"]["type"] == "server_error"
    assert_conforms(failing.events, "ga")

    low = run(call("rate_limit_low"))
    limits = [e["rate_limits"] for e in low.events if e["type"] == "rate_limits.updated"]
    assert limits[0][0]["remaining"] <= 2 and limits[0][1]["remaining"] == 0


def test_rate_limits_decrease_over_the_session(live_server):
    """Each response start shows fewer requests and tokens left than the one before."""

    async def call():
        client = await open_call(live_server, audio=False)
        for _ in range(2):
            at = len(client.events)
            client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
            await client.wait_for("response.done", after=at)
        await client.close()
        return client

    client = run(call())
    first, second = [e["rate_limits"] for e in client.events if e["type"] == "rate_limits.updated"]
    assert second[0]["remaining"] < first[0]["remaining"]
    assert second[1]["remaining"] < first[1]["remaining"] < first[1]["limit"]


def test_scenario_slow_response_and_transcription_failed(live_server, speech):
    """slow_response delays the first delta; transcription_failed sends the failed event."""

    async def call():
        client = await open_call(live_server, scenario="slow_response:1")
        client.mic.say(speech)
        created = await client.wait_for("response.created", timeout=20)
        delta = await client.wait_for("response.output_audio_transcript.delta", timeout=20)
        await client.close()
        return client, created, delta

    slow, created, delta = run(call())
    between = slow.types()[slow.index(created) : slow.index(delta)]
    assert "response.content_part.added" in between

    async def failing():
        client = await open_call(live_server, scenario="transcription_failed")
        client.mic.say(speech)
        failed = await client.wait_for(
            "conversation.item.input_audio_transcription.failed", timeout=20
        )
        await client.close()
        return client, failed

    client, failed = run(failing())
    committed = next(e for e in client.events if e["type"] == "input_audio_buffer.committed")
    assert failed["item_id"] == committed["item_id"]
    assert_conforms(client.events, "ga")


def test_scenario_drop_call_closes_the_channel(live_server):
    """drop_call: the data channel and the peer connection close after the given seconds."""

    async def call():
        client = await open_call(live_server, audio=False, scenario="drop_call:0.5")
        await asyncio.wait_for(client.channel_closed.wait(), 10)
        await client.close()

    run(call())


def test_unknown_key_and_wrong_content_type(live_server):
    """401 with the service's error JSON for a bad key; 400 for a non-SDP body."""

    async def call():
        client = RtcClient()
        url = f"{live_server.url}/emulator/openai/v1/realtime/calls"
        bad = await client.connect(url, "ek_not_a_key")
        await client.close()
        return bad

    bad = run(call())
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "invalid_api_key"
    session = mint(live_server)
    wrong = requests.post(
        session["webrtc_url"],
        json={"sdp": "v=0"},
        timeout=10,
        headers={"Authorization": f"Bearer {session['ephemeral_key']}"},
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "unsupported_content_type"


def test_an_item_retrieved_on_its_transcript_carries_it(live_server, speech):
    """The Agents SDK retrieves a user item as soon as its transcription completes: the item
    sent back already holds that transcript, as the service's does."""

    async def call():
        client = await open_call(live_server)
        client.send(
            {
                "type": "session.update",
                "session": {
                    "type": "realtime",
                    "audio": {"input": {"transcription": {"model": "whisper-1"}}},
                },
            }
        )
        await client.wait_for("session.updated")
        client.mic.say(speech)
        done = "conversation.item.input_audio_transcription.completed"
        completed = await client.wait_for(done, timeout=20)
        client.send({"type": "conversation.item.retrieve", "item_id": completed["item_id"]})
        retrieved = await client.wait_for("conversation.item.retrieved")
        await client.close()
        return completed, retrieved

    completed, retrieved = run(call())
    assert retrieved["item"]["id"] == completed["item_id"]
    assert retrieved["item"]["content"][0]["transcript"] == completed["transcript"]


def test_manual_turns_with_turn_detection_off(live_server, speech):
    """`turn_detection: none`: no VAD events; commit and response.create drive the turn."""

    async def call():
        client = await open_call(live_server)
        client.send(
            {
                "type": "session.update",
                "session": {"type": "realtime", "audio": {"input": {"turn_detection": None}}},
            }
        )
        updated = await client.wait_for("session.updated")
        await asyncio.sleep(client.mic.say(speech) + 0.2)
        client.send({"type": "input_audio_buffer.commit"})
        committed = await client.wait_for("input_audio_buffer.committed")
        client.send({"type": "conversation.item.retrieve", "item_id": committed["item_id"]})
        retrieved = await client.wait_for("conversation.item.retrieved")
        client.send({"type": "response.create"})
        await client.wait_for("output_audio_buffer.started")
        client.send({"type": "output_audio_buffer.clear"})
        cleared = await client.wait_for("output_audio_buffer.cleared")
        await client.wait_for("response.done")
        client.send({"type": "conversation.item.delete", "item_id": committed["item_id"]})
        deleted = await client.wait_for("conversation.item.deleted")
        await client.close()
        return client, updated, committed, retrieved, cleared, deleted

    client, updated, committed, retrieved, cleared, deleted = run(call())
    assert updated["session"]["audio"]["input"]["turn_detection"] is None
    assert "input_audio_buffer.speech_started" not in client.types()
    assert retrieved["item"]["id"] == committed["item_id"] == deleted["item_id"]
    assert cleared["response_id"].startswith("resp_")
    assert_conforms(client.events, "ga")
