"""The emulator's pure parts: the event script, session config, turn detection, scenarios."""

from __future__ import annotations

import numpy as np
import pytest
from openai.types.beta.realtime import RealtimeServerEvent as BetaEvent
from openai.types.realtime import RealtimeServerEvent as GaEvent
from pydantic import TypeAdapter

from tests.eventlogs import GA_TURN_HEAD, GA_TURN_TAIL
from voice_lab.emulator import scenarios, settings, vad, voice
from voice_lab.emulator.keys import KeyRegistry
from voice_lab.emulator.response_events import response_done, response_events, voice_turn
from voice_lab.emulator.script import Ids, ResponsePlan, Script, split_words

ADAPTERS = {"ga": TypeAdapter(GaEvent), "beta": TypeAdapter(BetaEvent)}


def plan(script: Script, modalities=("audio", "text"), **fields) -> ResponsePlan:
    """A response plan with fresh ids."""
    return ResponsePlan(
        response_id=script.ids.make("resp"),
        item_id=script.ids.make("item"),
        text="I heard you speak for 1.2 seconds.",
        modalities=list(modalities),
        conversation_id=script.ids.make("conv"),
        audio_ms=1750,
        rate_limits=script.rate_limits((5000, 4999), (40000, 35904)),
        **fields,
    )


def turn(protocol: str, **fields) -> tuple[list[dict], ResponsePlan]:
    """A whole voice turn from a seeded script."""
    script = Script(protocol, Ids(seed=1))
    p = plan(script, **fields)
    events = voice_turn(
        script,
        item_id="item_user",
        previous_item_id=None,
        start_ms=200,
        end_ms=1900,
        plan=p,
        transcript="(speech, 1.2 s)",
    )
    return events, p


def test_ga_turn_order_matches_the_protocol():
    """Section 4 of the protocol notes, in GA names."""
    events, _ = turn("ga")
    types = [e["type"] for e in events if "input_audio_transcription" not in e["type"]]
    deltas = ["response.output_audio_transcript.delta"] * 7
    assert types == [*GA_TURN_HEAD, *deltas[1:], *GA_TURN_TAIL]


def test_beta_turn_uses_beta_names():
    """The preview flavour: created instead of added/done, audio_transcript, audio.done."""
    events, _ = turn("beta")
    types = {e["type"] for e in events}
    assert {
        "conversation.item.created",
        "response.audio_transcript.delta",
        "response.audio.done",
        "response.audio_transcript.done",
    } <= types
    assert (
        not {
            "conversation.item.added",
            "conversation.item.done",
            "response.output_audio_transcript.delta",
        }
        & types
    )


@pytest.mark.parametrize("protocol", ["ga", "beta"])
def test_turn_events_validate_against_the_sdk(protocol):
    """Every event of a turn, and of a failed response, is a valid SDK server event."""
    events, _ = turn(protocol)
    script = Script(protocol, Ids(seed=2))
    events += list(
        response_events(
            script,
            plan(
                script, failure={"type": "server_error", "code": "server_error", "message": "boom"}
            ),
        )
    )
    events.append(script.transcription_failed("item_x"))
    events.append(script.error("bad", code="invalid_value", param="type", event_id="evt_1"))
    for event in events:
        ADAPTERS[protocol].validate_python(event)


def test_ids_have_the_service_prefixes_and_tie_the_turn_together():
    """event_/item_/resp_/conv_ ids; one response id and one item id throughout."""
    events, p = turn("ga")
    ids = [e["event_id"] for e in events]
    assert len(set(ids)) == len(ids) and all(i.startswith("event_") for i in ids)
    short = [e["event_id"] for e in events if e["type"].startswith("output_audio_buffer")]
    assert all(len(i) == len("event_") + 16 for i in short)
    assert p.response_id.startswith("resp_") and p.item_id.startswith("item_")
    assert p.conversation_id.startswith("conv_") and len(p.conversation_id) == 26
    for event in events:
        if "response_id" in event:
            assert event["response_id"] == p.response_id
    done = events[-2]["response"]
    assert done["output"][0]["id"] == p.item_id and done["status"] == "completed"
    assert done["usage"]["output_tokens"] > 0


def test_deltas_stream_word_by_word_and_add_up():
    """Transcript deltas carry each word with its space and join to the transcript."""
    events, p = turn("ga")
    deltas = [e["delta"] for e in events if e["type"].endswith("transcript.delta")]
    assert deltas == split_words(p.text) and "".join(deltas) == p.text


def test_text_only_response_has_text_deltas_and_no_audio():
    """modalities ["text"]: output_text events, no output_audio_buffer events."""
    script = Script("ga", Ids(seed=3))
    events = list(response_events(script, plan(script, modalities=["text"])))
    types = [e["type"] for e in events]
    assert "response.output_text.delta" in types and "response.output_text.done" in types
    assert not any(t.startswith("output_audio_buffer") for t in types)
    assert events[-1]["response"]["output_modalities"] == ["text"]


def test_cancelled_and_failed_responses():
    """A cancelled response keeps the words already sent; a failed one reports the error."""
    script = Script("ga", Ids(seed=4))
    p = plan(script)
    stream = response_events(script, p)
    for event in stream:
        if event["type"] == "output_audio_buffer.started":
            break
    done = response_done(script, p, "cancelled", "turn_detected")["response"]
    assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected", "error": None}
    assert done["output"][0]["status"] == "incomplete"
    assert done["output"][0]["content"][0]["transcript"] == "I"
    failing = plan(
        script, failure={"type": "server_error", "code": "server_error", "message": "boom"}
    )
    events = list(response_events(script, failing))
    assert [e["type"] for e in events] == [
        "response.created",
        "rate_limits.updated",
        "error",
        "response.done",
    ]
    assert events[-1]["response"]["status"] == "failed"


def test_session_update_merges_and_validates():
    """Updates merge into the full config; the service's errors name the parameter."""
    config = settings.defaults("ga", "sess_1", "gpt-realtime", "marin")
    update = {
        "type": "realtime",
        "instructions": "be brief",
        "audio": {"input": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 300}}},
    }
    merged = settings.apply("ga", config, update)
    vad_config = settings.turn_detection("ga", merged)
    assert merged["instructions"] == "be brief" and vad_config["silence_duration_ms"] == 300
    assert vad_config["prefix_padding_ms"] == 300 and merged["audio"]["output"]["voice"] == "marin"
    off = settings.apply(
        "ga", merged, {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    )
    assert settings.turn_detection("ga", off) is None
    with pytest.raises(settings.ConfigProblem) as missing:
        settings.apply("ga", config, {"instructions": "x"})
    assert missing.value.param == "session.type"
    with pytest.raises(settings.ConfigProblem) as unknown:
        settings.apply("beta", settings.defaults("beta", "s", "m", "verse"), {"colour": "red"})
    assert unknown.value.param == "session.colour"
    with pytest.raises(settings.ConfigProblem) as bad:
        settings.apply(
            "beta",
            settings.defaults("beta", "s", "m", "verse"),
            {"turn_detection": {"type": "server_vad", "threshold": 3}},
        )
    assert bad.value.param == "session.turn_detection.threshold"
    beta_off = settings.apply(
        "beta", settings.defaults("beta", "s", "m", "verse"), {"turn_detection": {"type": "none"}}
    )
    assert settings.turn_detection("beta", beta_off) is None


def test_turn_detector_offsets_are_real():
    """webrtcvad finds the utterance where it is, honouring padding and silence duration."""
    audio = np.concatenate(
        (np.zeros(48000, np.int16), voice.speech_like(1.0), np.zeros(48000, np.int16))
    )
    detector = vad.TurnDetector(prefix_padding_ms=200, silence_duration_ms=400)
    changes = detector.feed(vad.to_16k_mono(audio, channels=1))
    assert [c.kind for c in changes] == ["started", "stopped"]
    assert 750 <= changes[0].ms <= 900  # 1000 ms onset, minus 200 ms padding
    assert 2300 <= changes[1].ms <= 2600  # 2000 ms end, plus 400 ms silence (and hangover)
    assert 900 <= changes[1].speech_ms <= 1200


def test_scenarios_parse_with_seconds():
    """Names with optional seconds; unknown names are refused with the choices."""
    assert scenarios.parse(None) == scenarios.Scenario("none", 0.0)
    assert scenarios.parse("drop_call:1.5") == scenarios.Scenario("drop_call", 1.5)
    assert scenarios.parse("slow_response").seconds == 3.0
    with pytest.raises(ValueError, match="mint_429"):
        scenarios.parse("explode")


def test_keys_expire():
    """A key is found until it expires, then forgotten."""
    registry = KeyRegistry()
    key = registry.mint("beta", {}, "none")
    assert key.value.startswith("ek_") and registry.lookup(key.value) == key
    assert registry.lookup(key.value, now=key.expires_at + 1) is None
    assert registry.lookup(key.value) is None
    assert registry.lookup("ek_unknown") is None


def test_unused_keys_are_forgotten_at_the_next_mint():
    from voice_lab.emulator.keys import KeyRegistry

    registry = KeyRegistry()
    old = registry.mint("ga", {}, "none", ttl=-1)
    registry.mint("ga", {}, "none")
    assert old.value not in registry._keys and len(registry._keys) == 1
