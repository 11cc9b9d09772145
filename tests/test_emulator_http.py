"""The emulator's HTTP endpoints: mint shapes, errors in each service's format, CORS, and the
real provider code pointed at it."""

from __future__ import annotations

import time

import pytest
from openai.types.beta.realtime import SessionCreateResponse
from openai.types.realtime import ClientSecretCreateResponse

from voice_lab import config, mint_errors, providers
from voice_lab.emulator import keys

GA_BODY = {
    "session": {
        "type": "realtime",
        "model": "gpt-realtime",
        "audio": {"output": {"voice": "cedar"}},
    }
}
AZURE = {"api-key": "anything"}


@pytest.fixture(autouse=True)
def emulator_settings(settings):
    """The emulator is the provider in these tests."""
    settings["VOICE_LAB_PROVIDER"] = "emulator"


def test_azure_ga_mint_has_the_ga_shape(client):
    """client_secrets answers value / expires_at / session, as the SDK's model expects."""
    reply = client.post("/emulator/openai/v1/realtime/client_secrets", json=GA_BODY, headers=AZURE)
    assert reply.status_code == 200
    body = reply.get_json()
    ClientSecretCreateResponse.model_validate(body)
    assert body["value"].startswith("ek_") and body["session"]["id"].startswith("sess_")
    assert body["session"]["audio"]["output"]["voice"] == "cedar"
    assert 590 <= body["expires_at"] - time.time() <= 601


def test_openai_mint_honours_expires_after_and_bearer(client):
    """OpenAI's path takes a bearer key and expires_after 10..7200 s."""
    body = {**GA_BODY, "expires_after": {"anchor": "created_at", "seconds": 30}}
    reply = client.post(
        "/emulator/v1/realtime/client_secrets",
        json=body,
        headers={"Authorization": "Bearer sk-test"},
    )
    assert reply.status_code == 200
    assert reply.get_json()["expires_at"] - time.time() <= 31
    body["expires_after"]["seconds"] = 5
    bad = client.post(
        "/emulator/v1/realtime/client_secrets",
        json=body,
        headers={"Authorization": "Bearer sk-test"},
    )
    assert bad.status_code == 400 and bad.get_json()["error"]["param"] == "expires_after.seconds"


def test_preview_mint_has_the_beta_shape(client):
    """realtimeapi/sessions answers the beta session with client_secret, valid a minute."""
    reply = client.post(
        "/emulator/openai/realtimeapi/sessions?api-version=2025-04-01-preview",
        json={"model": "gpt-4o-realtime-preview", "voice": "verse"},
        headers=AZURE,
    )
    assert reply.status_code == 200
    body = reply.get_json()
    SessionCreateResponse.model_validate(body)
    assert body["client_secret"]["value"].startswith("ek_")
    assert body["client_secret"]["expires_at"] - time.time() <= 61
    missing = client.post("/emulator/openai/realtimeapi/sessions", json={}, headers=AZURE)
    assert missing.status_code == 404


def test_missing_key_and_ga_with_api_version_are_401(client):
    """No api-key or bearer: 401 in Azure's format; a GA URL with api-version too."""
    none = client.post("/emulator/openai/v1/realtime/client_secrets", json=GA_BODY)
    assert none.status_code == 401 and none.get_json()["error"]["code"] == "401"
    versioned = client.post(
        "/emulator/openai/v1/realtime/client_secrets?api-version=x", json=GA_BODY, headers=AZURE
    )
    assert versioned.status_code == 401
    openai = client.post("/emulator/v1/realtime/client_secrets", json=GA_BODY)
    assert openai.get_json()["error"]["code"] == "invalid_api_key"


def test_mint_content_type_and_body_errors(client):
    """Wrong content type, bad JSON and unknown fields answer 400 naming the problem."""
    form = client.post(
        "/emulator/v1/realtime/client_secrets",
        data={"a": "b"},
        headers={"Authorization": "Bearer k"},
    )
    assert form.status_code == 400
    assert form.get_json()["error"]["code"] == "unsupported_content_type"
    broken = client.post(
        "/emulator/v1/realtime/client_secrets",
        data="{nope",
        content_type="application/json",
        headers={"Authorization": "Bearer k"},
    )
    assert broken.status_code == 400 and broken.get_json()["error"]["code"] == "invalid_json"
    unknown = client.post(
        "/emulator/v1/realtime/client_secrets",
        json={**GA_BODY, "colour": 1},
        headers={"Authorization": "Bearer k"},
    )
    assert unknown.get_json()["error"]["code"] == "unknown_parameter"
    untyped = client.post(
        "/emulator/v1/realtime/client_secrets",
        json={"session": {"model": "m"}},
        headers={"Authorization": "Bearer k"},
    )
    assert untyped.get_json()["error"]["param"] == "session.type"


@pytest.mark.parametrize("how", ["body", "header"])
def test_mint_fault_scenarios(client, how):
    """mint_429 with Retry-After and mint_401, from the body or the X-Voice-Lab-Scenario header."""

    def post(scenario):
        body = {**GA_BODY, "scenario": scenario} if how == "body" else GA_BODY
        headers = {**AZURE, "X-Voice-Lab-Scenario": scenario} if how == "header" else AZURE
        return client.post(
            "/emulator/openai/v1/realtime/client_secrets", json=body, headers=headers
        )

    limited = post("mint_429:7")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert "retry after 7 seconds" in limited.get_json()["error"]["message"]
    denied = post("mint_401")
    assert denied.status_code == 401 and denied.get_json()["error"]["code"] == "401"
    unknown = post("explode")
    assert unknown.status_code == 400 and unknown.get_json()["error"]["param"] == "scenario"


def test_scenario_setting_applies_to_api_sessions(settings, client):
    """VOICE_LAB_EMULATOR_SCENARIO: Voice Lab's own API reports the emulated 429 as upstream."""
    client.application.config["VOICE_LAB_EMULATOR_SCENARIO"] = "mint_429"
    reply = client.post("/api/sessions", json={})
    assert reply.status_code == 502
    assert reply.get_json()["error"]["status"] == 429 and reply.headers["Retry-After"]
    assert client.post("/api/sessions", json={"scenario": "none"}).status_code == 201


def test_api_sessions_beta_protocol(client):
    """`protocol: beta` gives a preview-flavoured key and the realtimertc URL."""
    reply = client.post("/api/sessions", json={"protocol": "beta"})
    body = reply.get_json()
    assert reply.status_code == 201 and body["protocol"] == "beta"
    assert "/emulator/v1/realtimertc?model=" in body["webrtc_url"]


# Every emulator endpoint a page calls: the mint endpoints (the API key), and the SDP endpoints
# and hangup (a minted key as bearer).
MINT_ENDPOINTS = (
    "/emulator/openai/v1/realtime/client_secrets",
    "/emulator/v1/realtime/client_secrets",
    "/emulator/openai/realtimeapi/sessions",
)
KEYED_ENDPOINTS = (
    "/emulator/openai/v1/realtime/calls",
    "/emulator/v1/realtime/calls",
    "/emulator/v1/realtimertc",
    "/emulator/v1/realtime/calls/rtc_x/hangup",
)
BROWSER_ENDPOINTS = MINT_ENDPOINTS + KEYED_ENDPOINTS
# What the Agents SDK's WebRTC transport asks to send with its SDP offer.
SDK_HEADERS = "authorization,content-type,x-openai-agents-sdk"


def preflight(client, path: str, origin: str):
    """The OPTIONS request a browser sends before the SDK's SDP POST."""
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": SDK_HEADERS,
        },
    )


@pytest.mark.parametrize("path", BROWSER_ENDPOINTS)
def test_preflight_allows_the_sdk_from_voice_labs_own_origin(client, path):
    """From Voice Lab's own origin a preflight allows every header the SDK sends, and answers
    expose Location (the call id)."""
    pre = preflight(client, path, "http://localhost")
    assert pre.status_code in (200, 204)
    assert pre.headers["Access-Control-Allow-Origin"] == "http://localhost"
    allowed = {h.strip().lower() for h in pre.headers["Access-Control-Allow-Headers"].split(",")}
    assert set(SDK_HEADERS.split(",")) | {"openai-beta", "api-key"} <= allowed
    assert "POST" in pre.headers["Access-Control-Allow-Methods"]
    assert "Location" in pre.headers["Access-Control-Expose-Headers"]
    assert "Origin" in pre.headers["Vary"]


@pytest.mark.parametrize("path", KEYED_ENDPOINTS)
def test_the_sdp_endpoints_answer_a_page_on_any_origin_as_the_service_does(client, path):
    """A minted key guards the SDP endpoints and the hangup, so like the service they answer
    any origin's preflight, allowing the headers asked for (the SDK's x-openai-agents-sdk)."""
    pre = preflight(client, path, "http://127.0.0.1:9")
    assert pre.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:9"
    assert "x-openai-agents-sdk" in pre.headers["Access-Control-Allow-Headers"]
    assert "Location" in pre.headers["Access-Control-Expose-Headers"]
    answer = client.post(path, data="v=0", headers={"Origin": "http://127.0.0.1:9"})
    assert answer.status_code in (400, 401)  # readable there, and still refused without a key
    assert answer.headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:9"


@pytest.mark.parametrize("path", (*MINT_ENDPOINTS, "/api/sessions"))
def test_a_mint_from_another_origin_is_refused(client, path):
    """Minting takes the API key: a page on another origin gets no CORS headers, so its
    browser never sends the request (otherwise any web page could mint on this machine)."""
    pre = preflight(client, path, "http://127.0.0.1:9")
    assert "Access-Control-Allow-Origin" not in pre.headers
    assert "x-openai-agents-sdk" not in pre.headers.get("Access-Control-Allow-Headers", "")


def test_preflight_allows_the_origins_voice_lab_allows(app, client):
    """VOICE_LAB_ALLOWED_ORIGINS lets a team's own app mint from the emulator, as it lets it
    mirror."""
    app.config["VOICE_LAB_ALLOWED_ORIGINS"] = ("https://app.example.com",)
    url = "/emulator/v1/realtime/client_secrets"
    listed = preflight(client, url, "https://app.example.com")
    assert listed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    other = preflight(client, url, "https://b.example.com")
    assert "Access-Control-Allow-Origin" not in other.headers


def test_mint_answers_carry_cors_for_the_own_origin_only(client):
    """A mint's answer (here a 400) is readable by the own origin only."""
    url = "/emulator/v1/realtime/client_secrets"
    own = client.post(url, data="x", headers={"Origin": "http://localhost"})
    assert own.headers["Access-Control-Allow-Origin"] == "http://localhost"
    other = client.post(url, data="x", headers={"Origin": "http://127.0.0.1:9"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_sdp_endpoint_checks_keys_and_expiry(client, monkeypatch):
    """The SDP POST needs a live key: missing, unknown and expired keys get 401."""
    minted = client.post(
        "/emulator/openai/v1/realtime/client_secrets", json=GA_BODY, headers=AZURE
    ).get_json()
    sdp = {"Content-Type": "application/sdp"}
    url = "/emulator/openai/v1/realtime/calls"
    assert client.post(url, data="v=0", headers=sdp).status_code == 401
    unknown = client.post(url, data="v=0", headers={**sdp, "Authorization": "Bearer ek_x"})
    assert unknown.status_code == 401 and unknown.get_json()["error"]["type"]
    no_media = client.post(
        url, data="v=0", headers={**sdp, "Authorization": f"Bearer {minted['value']}"}
    )
    assert no_media.status_code == 400
    later = minted["expires_at"] + 1
    monkeypatch.setattr(keys.time, "time", lambda: later)
    expired = client.post(
        url, data="v=0", headers={**sdp, "Authorization": f"Bearer {minted['value']}"}
    )
    assert expired.status_code == 401


def test_real_provider_code_against_the_emulator(app, live_server):
    """Azure GA, Azure preview and OpenAI minting, unchanged, pointed at the emulator."""
    base = {
        "VOICE_LAB_PROVIDER": "emulator",
        "AZURE_OPENAI_API_KEY": "k",
        "AZURE_OPENAI_ENDPOINT": f"{live_server.url}/emulator",
        "AZURE_OPENAI_REALTIME_DEPLOYMENT": "gpt-realtime",
        "OPENAI_API_KEY": "sk-k",
        "OPENAI_BASE_URL": f"{live_server.url}/emulator/v1",
    }
    cfg = config.load(base)
    options = providers.MintOptions()
    ga = providers.mint_azure(cfg, options)
    assert ga.value.startswith("ek_") and ga.protocol == "ga"
    assert ga.webrtc_url == f"{live_server.url}/emulator/openai/v1/realtime/calls"
    openai = providers.mint_openai(cfg, options)
    assert openai.webrtc_url == f"{live_server.url}/emulator/v1/realtime/calls"
    preview = providers.mint_azure_preview(
        config.load({**base, "AZURE_OPENAI_API_VERSION": "2025-04-01-preview"}), options
    )
    assert preview.protocol == "beta" and preview.value.startswith("ek_")
    emulator = app.extensions["voice_lab_emulator"]
    assert emulator.keys.lookup(ga.value).protocol == "ga"
    assert emulator.keys.lookup(preview.value).protocol == "beta"
    app.config["VOICE_LAB_EMULATOR_SCENARIO"] = "mint_429"
    with pytest.raises(mint_errors.MintError) as limited:
        providers.mint_azure(cfg, options)
    assert limited.value.status == 429 and limited.value.retry_after


def test_no_thread_until_a_call(app, client):
    """Minting alone starts no loop thread."""
    client.post("/api/sessions", json={})
    assert not app.extensions["voice_lab_emulator"].running
