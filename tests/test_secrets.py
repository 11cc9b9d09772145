"""The API key never leaves the server: no response, header, log line or stored row has it."""

import io
import json
import logging
import re
import zipfile

import pytest

API_KEY = "AZKEY-canary-" + "k7" * 12
EPHEMERAL = "ek_canaryEphemeral0123456789"


@pytest.fixture
def azure(azure_stub):
    """Azure GA pointed at a local stand-in that answers every mint."""
    reply = {"value": EPHEMERAL, "expires_at": 1900000000, "session": {"id": "sess_1"}}
    return azure_stub(API_KEY, mint_reply=reply)


def _concrete(rule: str, session_id: str) -> str:
    return re.sub(r"<[^>]+>", session_id, rule)


def _unpacked(reply) -> bytes:
    """A reply's body, and a ZIP's (the export bundle's) members unpacked: deflated, a key in
    them would not show in the body's bytes."""
    data = reply.get_data()
    if reply.mimetype == "application/zip":
        with zipfile.ZipFile(io.BytesIO(data)) as bundle:
            data += b"".join(bundle.read(name) for name in bundle.namelist())
    return data


def test_no_route_shows_the_api_key(azure, app, client, caplog):
    caplog.set_level(logging.DEBUG)
    minted = client.post("/api/sessions", json={"label": "canary"})
    assert minted.status_code == 201
    session_id = minted.get_json()["id"]
    seen = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        url = _concrete(rule.rule, session_id)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            reply = client.open(url, method=method, json={})
            seen.append((method, url, reply.status_code))
            data = _unpacked(reply) + json.dumps(dict(reply.headers)).encode()
            assert API_KEY.encode() not in data, f"{method} {url} shows the API key"
    assert len(seen) >= 4
    assert API_KEY not in caplog.text
    assert EPHEMERAL not in caplog.text


def test_database_never_holds_a_key(azure, app, client):
    client.post("/api/sessions")
    with open(app.config["VOICE_LAB_DATABASE"], "rb") as db:
        data = db.read()
    for suffix in ("-wal", ""):
        try:
            with open(app.config["VOICE_LAB_DATABASE"] + suffix, "rb") as db:
                data += db.read()
        except FileNotFoundError:
            pass
    assert API_KEY.encode() not in data
    assert EPHEMERAL.encode() not in data


def test_doctor_masks_the_key(azure, runner):
    result = runner.invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    assert API_KEY not in result.output and EPHEMERAL not in result.output
    assert "mint:      ok" in result.output
    assert azure.url_for("/openai/v1/realtime/calls") in result.output


@pytest.fixture
def missing_deployment(settings, httpserver):
    """Azure GA whose deployment does not exist."""
    settings.update(
        {
            "AZURE_OPENAI_ENDPOINT": httpserver.url_for("/"),
            "AZURE_OPENAI_API_KEY": API_KEY,
            "AZURE_OPENAI_REALTIME_DEPLOYMENT": "nope",
        }
    )
    httpserver.expect_request("/openai/v1/realtime/client_secrets").respond_with_json(
        {
            "error": {
                "code": "DeploymentNotFound",
                "message": "The API deployment for this resource does not exist.",
            }
        },
        status=404,
    )


def test_doctor_says_what_to_fix(missing_deployment, runner):
    result = runner.invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "DeploymentNotFound" in result.output
    assert "AZURE_OPENAI_REALTIME_DEPLOYMENT must name a realtime deployment" in result.output
    assert API_KEY not in result.output
