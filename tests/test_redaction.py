"""Tests for voice_lab.protocol.redaction: key hints, secret fields, free text, and the quick scan
that lets most events skip the walk."""

from __future__ import annotations

import json

import pytest

from tests import eventlogs
from voice_lab.protocol.record import parse_event
from voice_lab.protocol.redaction import redact, redact_key, redact_text

KEY = eventlogs.EPHEMERAL_KEY
KEY_HINT = "ek_68…0b"


def test_redact_key_hint():
    assert redact_key(KEY) == KEY_HINT
    assert redact_key("ek_1234567") == "ek_…"
    assert redact_key("0123456789abcdef") == "01…ef"
    assert redact_key("sk-proj-abcdefghijklmnop") == "sk-proj-ab…op"


def test_redact_nested_client_secret_and_headers():
    event = {
        "type": "voicelab.key_minted",
        "mint": {
            "session": {"client_secret": {"value": "opaque-secret-value", "expires_at": 17}},
            "headers": {"api-key": "0123456789abcdef0123", "Authorization": "Bearer tok123456789"},
        },
        "list": [{"note": f"key {KEY} in text"}],
    }
    out = redact(event)
    assert out["mint"]["session"]["client_secret"] == {"value": "op…ue", "expires_at": 17}
    assert out["mint"]["headers"] == {"api-key": "01…23", "Authorization": "Bearer to…89"}
    assert out["list"][0]["note"] == f"key {KEY_HINT} in text"
    assert event["mint"]["headers"]["api-key"] == "0123456789abcdef0123"  # not mutated
    assert redact(out) == out


def test_redact_client_secret_without_value():
    assert redact({"client_secret": {"expires_at": 17}}) == {"client_secret": {"expires_at": 17}}


def test_redact_leaves_ordinary_values():
    data = {"type": "session.created", "session": {"id": "sess_1", "voice": "marin", "n": 3}}
    assert redact(data) == data


def test_redact_text_free_text_and_headers():
    text = f"401 for Authorization: Bearer {KEY}; api-key=0123456789abcdef; saw ek_ABCDEFGHIJK."
    out = redact_text(text)
    assert KEY not in out and "0123456789abcdef" not in out and "ABCDEFGHIJK" not in out
    assert out == f"401 for Authorization: Bearer {KEY_HINT}; api-key=01…ef; saw ek_AB…JK."
    assert redact_text(out) == out


def test_redact_text_keeps_short_and_embedded_lookalikes():
    text = "ek_short and week_ABCDEFGHIJK, a desk-0 and a risk-management-framework-policy"
    assert redact_text(text) == text


HIDDEN = "0123456789abcdefABCD"  # the part of each secret below that must not be stored


@pytest.mark.parametrize(
    "text",
    [
        f"token_{KEY}",
        f"x1{KEY}",
        f"Authorization%3A%20Bearer%20{KEY}",
        f"Authorization%3a+Bearer+opaque{HIDDEN}",
        f"wss://h/v1?apikey={HIDDEN}&v=1",
        f"APIKEY: {HIDDEN}",
        f"Ocp-Apim-Subscription-Key: {HIDDEN}",
        f"ocp-apim-subscription-key%3D{HIDDEN}",
        f"Client_Secret={HIDDEN}",
        f'"CLIENT-SECRET": "{HIDDEN}"',
        f"said_sk-{HIDDEN}",
    ],
)
def test_keys_that_slipped_past_redaction(text):
    secret = KEY[3:] if KEY in text else HIDDEN
    local = parse_event(1, "local", 1.0, {"type": "voicelab.x", "note": text})
    channel = parse_event(2, "server", 1.0, json.dumps({"type": "x", "note": text}))
    bare = parse_event(3, "server", 1.0, f"not json: {text}")
    for event in (local, channel, bare):
        assert secret not in event.raw and "…" in event.raw


@pytest.mark.parametrize(
    "data",
    [
        {"type": "x", KEY: "a key used as an object key"},
        {"type": "x", "headers": {"Ocp-Apim-Subscription-Key": HIDDEN}},
        {"type": "x", "Client_Secret": {"value": HIDDEN}},
        {"type": "x", "ApiKey": HIDDEN},
        {"type": "x", "Client-Secret": HIDDEN},
    ],
)
def test_secret_fields_and_object_keys_are_redacted(data):
    secret = KEY[3:] if KEY in data else HIDDEN
    for event in (
        parse_event(1, "server", 1.0, json.dumps(data)),
        parse_event(2, "local", 1.0, {**data, "type": "voicelab.x"}),
    ):
        assert secret not in event.raw and json.loads(event.raw) == event.data


def test_two_object_keys_that_share_a_hint_both_stay():
    twin = KEY[:5] + "ffff" + KEY[9:]  # the same first and last characters: the same hint
    out = redact({KEY: 1, twin: 2})
    assert sorted(out.values()) == [1, 2] and KEY not in json.dumps(out)


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("ap\u0131_key: abcdefghijkl", "ap\u0131_key: ab…kl"),
        ("author\u0130zation: Bearer abcdefghijkl", "author\u0130zation: Bearer ab…kl"),
    ],
)
def test_letters_that_fold_to_ascii_do_not_hide_a_secret(text, hint):
    local = parse_event(1, "local", 1.0, {"type": "voicelab.x", "note": text})
    channel = parse_event(2, "server", 1.0, json.dumps({"type": "x", "note": text}))
    assert local.data["note"] == channel.data["note"] == hint
    assert "abcdefghijkl" not in local.raw + channel.raw


@pytest.mark.parametrize(
    "text",
    [
        '{"type":"x","headers":{"Authorization":"Bearer abcdefgh12345678"}}',
        '{"type":"x","note":"\\u0065k_abcdefghijklmnop"}',
        '{"type":"x","API_KEY":"abcdefgh12345678"}',
    ],
)
def test_secrets_found_behind_the_quick_scan(text):
    event = parse_event(1, "server", 1.0, text)
    assert "abcdefgh12345678" not in event.raw and "abcdefghijklmnop" not in event.raw
