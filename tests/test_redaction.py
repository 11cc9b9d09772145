"""Tests for voice_lab.protocol.redaction: key hints, secret fields, free text, and the quick scan
that lets most events skip the walk."""

from __future__ import annotations

import base64
import json
import re
import secrets
from urllib.parse import unquote

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests import eventlogs
from voice_lab.protocol.record import parse_event
from voice_lab.protocol.redaction import KNOWN_SECRETS, redact, redact_key, redact_text

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


# user:password123, as an Authorization: Basic header carries it
BASIC = base64.b64encode(b"user:password123").decode()


@pytest.mark.parametrize(
    "header",
    [
        f"Authorization: Basic {BASIC}",
        f"authorization=Token {HIDDEN}",
        f"AUTHORIZATION: Negotiate {HIDDEN}",
        f'"Authorization": "Basic {BASIC}"',
        f"Authorization%3A%20Basic%20{BASIC}",
        f"Authorization%3a+Digest+response%3D{HIDDEN}",
        f'Authorization: Digest username="ann", realm="lab", response="{HIDDEN}"',
    ],
)
def test_the_credential_after_any_scheme_word_is_hidden(header, store):
    secret = BASIC if BASIC in header else HIDDEN
    scheme = re.search(r"Basic|Token|Negotiate|Digest", header).group(0)
    local = parse_event(1, "local", 1.0, {"type": "voicelab.x", "note": header})
    channel = parse_event(2, "server", 1.0, json.dumps({"type": "x", "note": header}))
    bare = parse_event(3, "server", 1.0, f"401 for {header}")
    session_id = store.create_session(provider="openai", label=header, model=f"m {header}")
    stored = store.get_session(session_id)
    for text in (local.raw, channel.raw, bare.raw, stored["label"], stored["model"]):
        assert secret not in text and "…" in text and scheme in text
    assert redact_text(bare.raw) == bare.raw


@pytest.mark.parametrize(
    ("value", "hidden"),
    [
        (f"Basic {BASIC}", "Basic dX…=="),
        (f"Digest username=ann, response={HIDDEN}", "Digest us…CD"),
        (["Bearer tok123456789", f"Token {HIDDEN}"], ["Bearer to…89", "Token 01…CD"]),
    ],
)
def test_an_authorization_field_keeps_only_its_scheme(value, hidden):
    assert redact({"headers": {"Authorization": value}}) == {"headers": {"Authorization": hidden}}


@pytest.mark.parametrize(
    ("value", "hidden"),
    [
        ([HIDDEN], ["01…CD"]),
        ({"v": HIDDEN}, {"v": "01…CD"}),
        ({"primary": HIDDEN, "slot": 2, "on": True}, {"primary": "01…CD", "slot": 2, "on": True}),
        ([{"deeper": [HIDDEN, None]}], [{"deeper": ["01…CD", None]}]),
    ],
)
def test_a_secret_field_hides_every_string_inside_it(value, hidden):
    data = {"type": "x", "api-key": value}
    assert redact(data) == {"type": "x", "api-key": hidden}
    for event in (
        parse_event(1, "server", 1.0, json.dumps(data)),
        parse_event(2, "local", 1.0, {**data, "type": "voicelab.x"}),
    ):
        assert HIDDEN not in event.raw and json.loads(event.raw) == event.data


INNER = json.dumps({"api-key": HIDDEN})  # JSON text, as a client may log a request it sent


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps({"type": "x", "note": INNER}),
        json.dumps([INNER]),  # JSON, but a list
        json.dumps(INNER),  # JSON, but a string
        json.dumps([json.dumps([INNER])]),  # escaped twice
        json.dumps(f"sent {INNER.replace(' ', '')}"),
        '["\\u0065k_' + HIDDEN + '"]',  # a key behind an escape, in a list
        f"not JSON: {json.dumps(INNER)[1:]}",  # escaped quotes in plain text
    ],
)
def test_json_text_inside_a_string_is_redacted(raw):
    event = parse_event(1, "server", 1.0, raw)
    assert HIDDEN not in event.raw and "…" in event.raw
    if raw.startswith(("[", '"', "{")):
        json.loads(event.raw)  # still JSON
    assert parse_event(2, "server", 1.0, event.raw).raw == event.raw


def _percent(text: str, cases: str) -> str:
    """text with every byte percent-encoded, its hex in upper, lower or alternating case."""
    escapes = [f"%{byte:02X}" for byte in text.encode()]
    if cases == "lower":
        return "".join(e.lower() for e in escapes)
    if cases == "mixed":
        return "".join(e.lower() if n % 2 else e for n, e in enumerate(escapes))
    return "".join(escapes)


@pytest.mark.parametrize("cases", ["upper", "lower", "mixed"])
def test_a_key_percent_encoded_is_hidden(cases):
    known = "opaquePct" + secrets.token_hex(12)  # no prefix any pattern knows
    KNOWN_SECRETS.add(known)
    for secret in (KEY, known):
        encoded = _percent(secret, cases)
        for text in (
            f"x {encoded}",
            f"wss://h/v1?key={encoded}&v=1",
            f"{encoded[:30]}{secret[10:]}",
        ):
            local = parse_event(1, "local", 1.0, {"type": "voicelab.x", "note": text})
            channel = parse_event(2, "server", 1.0, json.dumps({"type": "x", "note": text}))
            bare = parse_event(3, "server", 1.0, text)
            for event in (local, channel, bare):
                assert secret[4:20] not in unquote(event.raw), (secret, text, event.raw)
                assert redact_text(event.raw) == event.raw


def test_escapes_that_hide_nothing_are_kept():
    text = "https://h/search?q=caf%C3%A9%20au%20lait&page=2 at 100%"
    assert redact_text(text) == text
    assert parse_event(1, "server", 1.0, json.dumps({"type": "x", "url": text})).data["url"] == text


@pytest.mark.parametrize(
    "data",
    [
        {"type": "x", "note": f"api-key: …{HIDDEN}"},
        {"type": "x", "note": f"Authorization: Basic ab…{HIDDEN}"},
        {"type": "x", "api-key": f"…{HIDDEN}"},
        {"type": "x", "Authorization": f"Bearer 01…{HIDDEN}"},
    ],
)
def test_an_ellipsis_does_not_pass_a_secret_off_as_a_hint(data):
    event = parse_event(1, "server", 1.0, json.dumps(data))
    assert HIDDEN not in event.raw


# Pieces of the shapes above, put together at random: what one pass leaves, the next keeps.
PIECES = ["Authorization", "api-key", "apikey", "client_secret", ": ", "=", "%3A", "%20", "+"]
PIECES += ["Basic ", "Digest ", "Bearer ", "username=", '"', '\\"', "\\\\", "'", ",", " ", "\n"]
PIECES += ["ek_", "sk-", HIDDEN, "ABCDEFGH", "…", "%65", "%6b", "%5F", "%25", "%", "%22", "{", "é"]


@settings(max_examples=400, deadline=None, database=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=14).map("".join))
@example("api-key=Bearer abcdef")  # a short secret's hint once lost its scheme on a second pass
def test_redacting_twice_changes_nothing(text):
    once = redact_text(text)
    assert redact_text(once) == once
    stored = parse_event(1, "server", 1.0, text).raw
    assert parse_event(2, "server", 1.0, stored).raw == stored
