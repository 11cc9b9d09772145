"""Secrets the server knows (its API keys, the keys it minted) are redacted in every form,
wherever they show up: stored events and session fields, assembled text, logs and exports."""

from __future__ import annotations

import base64
import json
import logging
import random
import secrets
import time
from pathlib import Path
from urllib.error import HTTPError
from urllib.parse import quote
from urllib.request import urlopen

import pytest
import websocket

from tests.figures import count
from voice_lab import create_app
from voice_lab.exchange.export import export_chunks
from voice_lab.ingest.mirror import Mirror
from voice_lab.protocol.record import parse_event
from voice_lab.protocol.redaction import (
    KNOWN_SECRETS,
    MIN_CONFIGURED,
    MIN_SECRET,
    KnownSecrets,
    redact_key,
)


def _b64_forms(secret: str) -> list[str]:
    """The secret base64-encoded inside a longer blob, at each of the three byte offsets."""
    blobs = [base64.b64encode(f"{'x' * pad}{secret}tail".encode()).decode() for pad in range(3)]
    return [*blobs, base64.urlsafe_b64encode(f"user:{secret}".encode()).decode()]


def _fragments(secret: str) -> list[str]:
    """16-character pieces of a secret and of its encodings that must not survive redaction."""
    raw = secret.encode()
    middles = [base64.b64encode(bytes(pad) + raw).decode()[4:20] for pad in range(3)]
    return [secret[4:20], quote(secret, safe="")[4:20], *middles]


def test_a_known_secret_is_redacted_in_every_form():
    known = KnownSecrets()
    secret = "opaque+Key/" + secrets.token_hex(12)  # no prefix any pattern knows
    known.add(secret)
    texts = [
        secret,
        f"token_{secret}_end",
        f"Bearer%20{quote(secret, safe='')}",
        *_b64_forms(secret),
    ]
    for text in texts:
        assert known.holds_any(text), text
        out = known.redact(text)
        assert not any(piece in out for piece in _fragments(secret)), (text, out)
        assert known.redact(out) == out  # a hint is not redacted again
    assert (
        known.redact("ordinary text, nothing known in it") == "ordinary text, nothing known in it"
    )


@pytest.mark.parametrize(
    ("shortest", "configured"), [(MIN_SECRET, False), (MIN_CONFIGURED, True)], ids=["any", "config"]
)
def test_every_embedding_of_a_known_secret_is_found(shortest, configured):
    """Fuzz: random secrets at random offsets of random text, plain, URL-encoded and base64;
    those of the configuration (an access token) from MIN_CONFIGURED characters on."""
    rng = random.Random(13)
    known = KnownSecrets()
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=-_%. "
    trials = 0
    for _ in range(60):
        secret = "".join(rng.choice(alphabet[:-3]) for _ in range(rng.randint(shortest, 90)))
        known.add(secret, configured=configured)
        for form in (secret, quote(secret, safe=""), *_b64_forms(secret)):
            before = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
            after = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
            text = before + form + after
            assert known.holds_any(text), (secret, text)
            assert secret not in known.redact(text)
            trials += 1
    count("known-secret embeddings found", trials)


def test_minted_keys_are_kept_for_their_life_plus_a_margin_and_bounded():
    known = KnownSecrets(margin=60, most=2)
    now = time.time()
    api_key = "api-" + secrets.token_hex(16)
    gone = "ek_gone" + secrets.token_hex(16)
    known.add(api_key)
    known.add(gone, expires_at=now - 61)  # expired past its margin: not worth knowing
    recent = "ek_recent" + secrets.token_hex(12)
    known.add(recent, expires_at=now - 30)  # expired, inside the margin: a call may go on
    soon, later = ("ek_" + secrets.token_hex(16) for _ in range(2))
    known.add(soon, expires_at=now + 10)
    known.add(later, expires_at=now + 600)  # a third minted key: the soonest to expire goes
    assert [known.holds_any(f"x {k} y") for k in (api_key, gone, recent, soon, later)] == [
        True,
        False,
        False,
        True,
        True,
    ]
    known.add("short-key-123")  # shorter than MIN_SECRET: would match ordinary text
    assert known.redact("short-key-123") == "short-key-123"
    known.add("token-of-16-char", expires_at=now + 600, configured=True)  # minted: MIN_SECRET
    known.add("config-15-chars", configured=True)  # shorter than MIN_CONFIGURED
    assert not known.holds_any("a token-of-16-char or config-15-chars")


@pytest.fixture
def minted(settings, azure_stub):
    """An app on a stand-in Azure whose API key is hex (no pattern knows it) and whose minted
    key is opaque (no ek_ prefix): only knowing them can redact them."""
    api_key = secrets.token_hex(16)
    key = "opaqueMinted" + secrets.token_hex(12)
    reply = {"value": key, "expires_at": int(time.time()) + 600, "session": {"id": "sess_k"}}
    azure_stub(api_key, mint_reply=reply)
    return api_key, key


def _forms(secret: str) -> list[str]:
    return [secret, quote(secret, safe=""), *_b64_forms(secret)]


def _delta(seq: int, text: str) -> dict:
    data = {
        "type": "response.output_audio_transcript.delta",
        "response_id": "resp_1",
        "item_id": "item_1",
        "content_index": 0,
        "delta": text,
    }
    return {"seq": seq, "dir": "server", "t": 1763900000000.0 + seq, "data": json.dumps(data)}


def test_known_keys_never_stored_shown_exported_or_logged(minted, app, live_server, caplog):
    caplog.set_level(logging.INFO)
    api_key, key = minted
    http = app.test_client()
    made = http.post("/api/sessions", json={"label": f"calls {api_key}"})
    assert made.status_code == 201 and made.get_json()["ephemeral_key"] == key
    sid, secret = made.get_json()["id"], made.get_json()["write_secret"]
    ws = websocket.create_connection(
        live_server.url.replace("http", "ws", 1) + "/ws/mirror", timeout=5, origin=live_server.url
    )
    ws.send(json.dumps({"op": "hello", "session": sid, "secret": secret}))
    assert json.loads(ws.recv())["op"] == "welcome"
    notes = [f"said {form} here" for secret in (api_key, key) for form in _forms(secret)]
    notes += [key[:15], key[15:]]  # split across two deltas: whole once assembled
    events = [_delta(n, note) for n, note in enumerate(notes, 1)]
    local = {"type": "voicelab.x", key: "as an object key", "Ocp-Apim-Subscription-Key": "s"}
    events.append({"seq": len(events) + 1, "dir": "local", "t": None, "data": local})
    ws.send(json.dumps({"op": "events", "events": events}))
    assert json.loads(ws.recv()) == {"op": "ack", "upto": len(events)}
    ws.send(json.dumps({"op": "hello", "create": {"label": "l" * 170 + key, "model": api_key}}))
    external = json.loads(ws.recv())["session"]
    ws.close()
    # Cut at 200 characters, the call id would keep most of the key if it were cut first.
    ended = http.post(
        f"/api/sessions/{sid}/end", json={"call_id": "c" * 170 + key, "secret": secret}
    )
    assert ended.status_code == 200
    with pytest.raises(HTTPError):  # a request line with the key in it, for the access log
        urlopen(f"{live_server.url}/sessions/nope?token={key}", timeout=5)

    shown = [
        http.get(f"/sessions/{sid}?view=flat").get_data(as_text=True),
        http.get(f"/sessions/{sid}").get_data(as_text=True),
        http.get(f"/sessions/{sid}/panels").get_data(as_text=True),
        http.get(f"/sessions/{sid}/export.json").get_data(as_text=True),
        http.get(f"/api/sessions/{sid}").get_data(as_text=True),
        http.get(f"/api/sessions/{external}").get_data(as_text=True),
        caplog.text,
    ]
    for suffix in ("", "-wal"):  # the log may not be checkpointed yet
        path = Path(app.config["VOICE_LAB_DATABASE"] + suffix)
        if path.exists():
            shown.append(path.read_bytes().decode("utf-8", "replace"))
    pieces = _fragments(api_key) + _fragments(key)
    for text in shown:
        assert not [piece for piece in pieces if piece in text]
    assert "/sessions/nope?token=" in caplog.text  # the access log line is there, redacted


def test_a_minted_key_is_known_before_the_reply(minted, app):
    _, key = minted
    assert app.test_client().post("/api/sessions").status_code == 201
    assert app.extensions["voice_lab_secrets"] is KNOWN_SECRETS
    event = parse_event(1, "server", 1.0, json.dumps({"type": "x", "note": f"k={key}"}))
    assert key not in event.raw


def test_an_export_redacts_a_key_that_became_known_after_it_was_stored(app, store):
    secret = "opaqueLater" + secrets.token_hex(12)
    sid, write_secret = store.create_writable_session(provider="openai")
    mirror = Mirror(store)
    mirror.handle(json.dumps({"op": "hello", "session": sid, "secret": write_secret}))
    assert mirror.handle(json.dumps({"op": "events", "events": [_delta(1, secret)]}))["upto"] == 1
    assert secret in store.get_event(sid, 1)["payload"]  # nothing said it was a key then
    KNOWN_SECRETS.add(secret)
    exported = "".join(export_chunks(store.get_session(sid), store.export_rows(sid)))
    assert secret[4:20] not in exported
    assert json.loads(exported)["events"][0]["event"]["delta"] == redact_key(secret)


def test_logs_of_child_loggers_and_their_tracebacks_are_redacted(settings, caplog):
    token, api_key = secrets.token_urlsafe(32), "sk-" + secrets.token_hex(24)
    settings.update({"VOICE_LAB_TOKEN": token, "OPENAI_API_KEY": api_key})
    create_app(settings)
    logger = logging.getLogger("voice_lab.ingest.mirror")  # propagates to the app logger's handler
    try:
        raise ValueError(f"refused {base64.b64encode(f'Bearer {token}'.encode()).decode()}")
    except ValueError:
        logger.exception("while using %s", quote(api_key))
    assert "while using" in caplog.text and "ValueError: refused" in caplog.text
    assert not [piece for piece in _fragments(token) + _fragments(api_key) if piece in caplog.text]
