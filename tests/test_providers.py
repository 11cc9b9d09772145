"""Each flavour sends exactly the service's request and normalizes its answer or its error."""

import json
import socket
import time

import pytest
from werkzeug import Response

from voice_lab import mint_errors, providers
from voice_lab.config import load

AZURE_KEY = "azure-key-" + "x" * 22
OPENAI_KEY = "sk-test-" + "y" * 24
GA_SESSION = {
    "type": "realtime",
    "object": "realtime.session",
    "id": "sess_ga123",
    "model": "gpt-realtime",
    "audio": {"output": {"voice": "marin"}},
}


def azure_cfg(httpserver, **extra):
    return load(
        {
            "AZURE_OPENAI_ENDPOINT": httpserver.url_for("/"),
            "AZURE_OPENAI_API_KEY": AZURE_KEY,
            "AZURE_OPENAI_REALTIME_DEPLOYMENT": "my-rt",
            **extra,
        }
    )


def openai_cfg(httpserver, **extra):
    return load(
        {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": httpserver.url_for("/v1"), **extra}
    )


def only_request(httpserver):
    assert len(httpserver.log) == 1
    return httpserver.log[0][0]


def test_azure_ga_request_and_result(httpserver):
    httpserver.expect_request(
        "/openai/v1/realtime/client_secrets", method="POST"
    ).respond_with_json(
        {
            "value": "ek_abc123def456",
            "expires_at": 1900000000,
            "session": {**GA_SESSION, "model": "my-rt"},
        }
    )
    key = providers.mint_azure(azure_cfg(httpserver), providers.MintOptions(voice="cedar"))
    request = only_request(httpserver)
    assert request.args == {}  # GA takes no api-version
    assert request.headers["api-key"] == AZURE_KEY
    assert "Authorization" not in request.headers
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.data)
    assert body == {
        "session": {
            "type": "realtime",
            "model": "my-rt",
            "instructions": load({})["VOICE_LAB_INSTRUCTIONS"],
            "audio": {"output": {"voice": "cedar"}},
        }
    }
    assert key.provider == "azure" and key.protocol == "ga"
    assert key.value == "ek_abc123def456" and key.expires_at == 1900000000
    assert key.remote_session_id == "sess_ga123" and key.model == "my-rt"
    assert key.webrtc_url == httpserver.url_for("/openai/v1/realtime/calls")
    assert "webrtcfilter" not in key.webrtc_url


def test_azure_endpoint_with_gateway_path_joins_correctly(httpserver):
    httpserver.expect_request("/gw/team/openai/v1/realtime/client_secrets").respond_with_json(
        {"value": "ek_gateway_key", "expires_at": 1900000000, "session": GA_SESSION}
    )
    cfg = load(
        {
            "AZURE_OPENAI_ENDPOINT": httpserver.url_for("/gw/team"),  # no trailing slash
            "AZURE_OPENAI_API_KEY": AZURE_KEY,
            "AZURE_OPENAI_REALTIME_DEPLOYMENT": "rt",
        }
    )
    key = providers.mint_azure(cfg, providers.MintOptions())
    assert key.webrtc_url == httpserver.url_for("/gw/team/openai/v1/realtime/calls")


def test_azure_preview_request_and_result(httpserver):
    httpserver.expect_request(
        "/openai/realtimeapi/sessions",
        method="POST",
        query_string={"api-version": "2025-04-01-preview"},
    ).respond_with_json(
        {
            "id": "sess_beta1",
            "object": "realtime.session",
            "model": "my-rt",
            "voice": "verse",
            "client_secret": {"value": "ek_preview_secret", "expires_at": 1900000060},
        }
    )
    cfg = azure_cfg(
        httpserver,
        AZURE_OPENAI_API_VERSION="2025-04-01-preview",
        VOICE_LAB_AZURE_REGION="swedencentral",
    )
    key = providers.mint_azure_preview(cfg, providers.MintOptions(instructions="Be brief."))
    request = only_request(httpserver)
    assert request.headers["api-key"] == AZURE_KEY
    assert json.loads(request.data) == {
        "model": "my-rt",
        "voice": "verse",
        "instructions": "Be brief.",
    }
    assert key.protocol == "beta" and key.value == "ek_preview_secret"
    assert key.expires_at == 1900000060 and key.remote_session_id == "sess_beta1"
    assert key.webrtc_url == (
        "https://swedencentral.realtimeapi-preview.ai.azure.com/v1/realtimertc?model=my-rt"
    )


def test_openai_request_and_result(httpserver):
    httpserver.expect_request("/v1/realtime/client_secrets", method="POST").respond_with_json(
        {"value": "ek_openai_secret", "expires_at": 1900000600, "session": GA_SESSION}
    )
    key = providers.mint_openai(
        openai_cfg(httpserver),
        providers.MintOptions(
            session={"audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}}
        ),
    )
    request = only_request(httpserver)
    assert request.headers["Authorization"] == f"Bearer {OPENAI_KEY}"
    assert "api-key" not in request.headers
    body = json.loads(request.data)
    assert body["expires_after"] == {"anchor": "created_at", "seconds": 600}
    assert body["session"]["type"] == "realtime" and body["session"]["model"] == "gpt-realtime"
    assert body["session"]["audio"] == {
        "output": {"voice": "marin"},
        "input": {"turn_detection": {"type": "semantic_vad"}},
    }
    assert key.provider == "openai" and key.protocol == "ga"
    assert key.webrtc_url == httpserver.url_for("/v1/realtime/calls")


def test_explicit_webrtc_url_wins(httpserver):
    httpserver.expect_request("/v1/realtime/client_secrets").respond_with_json(
        {"value": "ek_x_secret", "expires_at": 1900000600, "session": GA_SESSION}
    )
    cfg = openai_cfg(httpserver, VOICE_LAB_WEBRTC_URL="https://proxy.example.com/calls")
    assert providers.mint_openai(cfg, providers.MintOptions()).webrtc_url == (
        "https://proxy.example.com/calls"
    )


def test_401_keeps_the_service_message(httpserver):
    httpserver.expect_request("/openai/v1/realtime/client_secrets").respond_with_json(
        {
            "error": {
                "code": "401",
                "message": "Access denied due to invalid subscription key or wrong API endpoint.",
            }
        },
        status=401,
    )
    with pytest.raises(mint_errors.MintError) as info:
        providers.mint_azure(azure_cfg(httpserver), providers.MintOptions())
    assert info.value.http_status == 502
    assert info.value.body() == {
        "error": {
            "source": "azure",
            "status": 401,
            "code": "401",
            "message": "Access denied due to invalid subscription key or wrong API endpoint.",
        }
    }


def test_404_deployment_not_found(httpserver):
    httpserver.expect_request("/openai/v1/realtime/client_secrets").respond_with_json(
        {
            "error": {
                "code": "DeploymentNotFound",
                "message": "The API deployment for this resource does not exist.",
            }
        },
        status=404,
    )
    with pytest.raises(mint_errors.MintError) as info:
        providers.mint_azure(azure_cfg(httpserver), providers.MintOptions())
    assert (info.value.status, info.value.code) == (404, "DeploymentNotFound")


def test_429_carries_retry_after(httpserver):
    httpserver.expect_request("/v1/realtime/client_secrets").respond_with_response(
        Response(
            json.dumps(
                {
                    "error": {
                        "message": "Rate limit reached",
                        "type": "requests",
                        "code": "rate_limit_exceeded",
                    }
                }
            ),
            status=429,
            headers={"Retry-After": "7"},
            content_type="application/json",
        )
    )
    with pytest.raises(mint_errors.MintError) as info:
        providers.mint_openai(openai_cfg(httpserver), providers.MintOptions())
    assert info.value.body()["error"] == {
        "source": "openai",
        "status": 429,
        "code": "rate_limit_exceeded",
        "message": "Rate limit reached",
        "retry_after": "7",
    }


def test_500_with_plain_text(httpserver):
    httpserver.expect_request("/v1/realtime/client_secrets").respond_with_data(
        "upstream exploded", status=500
    )
    with pytest.raises(mint_errors.MintError) as info:
        providers.mint_openai(openai_cfg(httpserver), providers.MintOptions())
    assert (info.value.status, info.value.message) == (500, "upstream exploded")


def test_garbage_json_on_success(httpserver):
    httpserver.expect_request("/v1/realtime/client_secrets").respond_with_data(
        "<html>proxy login</html>", status=200, content_type="text/html"
    )
    with pytest.raises(mint_errors.MintError) as info:
        providers.mint_openai(openai_cfg(httpserver), providers.MintOptions())
    assert info.value.code == "invalid_response" and info.value.http_status == 502


def test_success_without_a_key(httpserver):
    httpserver.expect_request("/v1/realtime/client_secrets").respond_with_json({"session": {}})
    with pytest.raises(mint_errors.MintError, match="without an ephemeral key"):
        providers.mint_openai(openai_cfg(httpserver), providers.MintOptions())


def test_timeout_is_504(httpserver):
    httpserver.expect_request("/v1/realtime/client_secrets").respond_with_handler(
        lambda request: time.sleep(1.5) or Response("{}")
    )
    with pytest.raises(mint_errors.UpstreamUnreachable) as info:
        providers.mint_openai(
            openai_cfg(httpserver, VOICE_LAB_REQUEST_TIMEOUT="0.3"), providers.MintOptions()
        )
    assert info.value.http_status == 504 and info.value.code == "timeout"


def test_connection_refused_is_504():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cfg = load({"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"})
    with pytest.raises(mint_errors.UpstreamUnreachable) as info:
        providers.mint_openai(cfg, providers.MintOptions())
    assert info.value.code == "unreachable" and OPENAI_KEY not in info.value.message


def test_mint_refuses_a_provider_that_is_not_configured():
    with pytest.raises(mint_errors.NotConfigured) as info:
        providers.mint("openai", load({}), providers.MintOptions())
    assert info.value.http_status == 500 and "OPENAI_API_KEY" in info.value.message
