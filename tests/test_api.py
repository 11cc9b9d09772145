"""POST /api/sessions: mint, record, and every error a developer can act on."""

import json

import pytest
from werkzeug import Response

from voice_lab.storage import open_store

from .recordings import call_chunks, store_call
from .stores import opened, plain_session

pytestmark = pytest.mark.backends()  # the app on each storage backend

API_KEY = "AZKEY-do-not-leak-" + "q" * 20
GA_REPLY = {
    "value": "ek_0123456789abcdefXYZ",
    "expires_at": 1900000000,
    "session": {"id": "sess_remote1", "model": "my-rt", "audio": {"output": {"voice": "marin"}}},
}


@pytest.fixture
def azure(azure_stub):
    """The app configured for Azure GA, with a local stand-in of the service."""
    return azure_stub(API_KEY, deployment="my-rt")


def test_create_session_mints_and_records(azure, client, app):
    azure.expect_request("/openai/v1/realtime/client_secrets").respond_with_json(GA_REPLY)
    reply = client.post("/api/sessions", json={"label": "first try", "voice": "cedar"})
    assert reply.status_code == 201
    data = reply.get_json()
    assert data["provider"] == "azure" and data["protocol"] == "ga"
    assert data["ephemeral_key"] == GA_REPLY["value"]
    assert data["webrtc_url"].endswith("/openai/v1/realtime/calls")
    assert data["remote_session_id"] == "sess_remote1" and data["expires_at"] == 1900000000
    sent = json.loads(azure.log[0][0].data)
    assert sent["session"]["audio"]["output"]["voice"] == "cedar"
    row = client.get(f"/api/sessions/{data['id']}").get_json()
    assert row["label"] == "first try" and row["origin"] == "live"
    assert row["remote_session_id"] == "sess_remote1" and row["model"] == "my-rt"
    assert row["key_hint"] != GA_REPLY["value"] and row["key_hint"].startswith("ek_")
    assert GA_REPLY["value"] not in json.dumps(row)
    # The write secret comes back once, here: the session row never shows it or its hash.
    assert data["write_secret"].startswith("vlw_") and "write_hash" not in row
    assert data["write_secret"] not in json.dumps(row)


def test_end_session(azure, client):
    azure.expect_request("/openai/v1/realtime/client_secrets").respond_with_json(GA_REPLY)
    made = client.post("/api/sessions").get_json()
    session_id, secret = made["id"], made["write_secret"]
    end = f"/api/sessions/{session_id}/end"
    ended = client.post(end, json={"call_id": "rtc_1", "secret": secret}).get_json()
    assert ended["ended_at"] and ended["call_id"] == "rtc_1"
    assert client.post("/api/sessions/vl_nope/end").status_code == 404
    # A beacon sends text/plain with no headers; a script may send the header instead.
    beacon = client.post(end, data=json.dumps({"secret": secret}), content_type="text/plain")
    assert beacon.status_code == 200
    assert client.post(end, headers={"X-Voice-Lab-Secret": secret}).status_code == 200


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"call_id": "rtc_evil"}, "secret_required", '{"secret": write_secret}'),
        ({"call_id": "rtc_evil", "secret": "vlw_guess"}, "wrong_secret", "not the write secret"),
        ({"call_id": "rtc_evil", "secret": ["x"]}, "secret_required", "X-Voice-Lab-Secret"),
    ],
)
def test_ending_a_session_needs_its_write_secret(azure, client, body, code, words):
    azure.expect_request("/openai/v1/realtime/client_secrets").respond_with_json(GA_REPLY)
    session_id = client.post("/api/sessions").get_json()["id"]
    refused = client.post(f"/api/sessions/{session_id}/end", json=body)
    assert refused.status_code == 403
    error = refused.get_json()["error"]
    assert error["code"] == code and words in error["message"]
    row = client.get(f"/api/sessions/{session_id}").get_json()
    assert row["ended_at"] is None and row["call_id"] != "rtc_evil"


def test_an_imported_session_cannot_be_ended(client, app):
    store = open_store(app)
    try:
        session_id = store.create_session(provider="openai", origin="imported")
    finally:
        store.close()
    refused = client.post(f"/api/sessions/{session_id}/end", json={"secret": "vlw_any"})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "session_read_only"
    assert client.get(f"/api/sessions/{session_id}").get_json()["ended_at"] is None


def test_a_long_call_id_is_stored_on_one_line_and_marked_cut(azure, client):
    azure.expect_request("/openai/v1/realtime/client_secrets").respond_with_json(GA_REPLY)
    made = client.post("/api/sessions").get_json()
    call_id = "rtc_1\n" + "x" * 300
    ended = client.post(
        f"/api/sessions/{made['id']}/end", json={"call_id": call_id, "secret": made["write_secret"]}
    ).get_json()
    assert ended["call_id"] == "rtc_1 " + "x" * 193 + "…"


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ("not json", "did not parse as JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"voice": 3}', "voice must be a string"),
        ('{"session": "x"}', "session must be a JSON object"),
        ('{"colour": "red"}', "unknown field(s) colour"),
        ('{"provider": "openai"}', "provider must be one of azure"),
    ],
)
def test_bad_request_bodies(azure, client, body, fragment):
    reply = client.post("/api/sessions", data=body, content_type="application/json")
    assert reply.status_code == 400
    assert fragment in reply.get_json()["error"]["message"]
    assert azure.log == []


@pytest.mark.parametrize(
    ("status", "payload", "headers", "expected"),
    [
        (
            401,
            {"error": {"code": "401", "message": "Access denied due to invalid subscription key."}},
            {},
            {"status": 401, "code": "401"},
        ),
        (
            403,
            {"error": {"code": "Forbidden", "message": "no access"}},
            {},
            {"status": 403, "code": "Forbidden"},
        ),
        (
            404,
            {
                "error": {
                    "code": "DeploymentNotFound",
                    "message": "The API deployment for this resource does not exist.",
                }
            },
            {},
            {"status": 404, "code": "DeploymentNotFound"},
        ),
        (
            429,
            {"error": {"code": "429", "message": "Please retry after 12 seconds."}},
            {"Retry-After": "12"},
            {"status": 429, "code": "429", "retry_after": "12"},
        ),
        (
            503,
            {"error": {"code": "ServiceUnavailable", "message": "busy"}},
            {},
            {"status": 503, "code": "ServiceUnavailable"},
        ),
    ],
)
def test_upstream_errors_become_502(azure, client, app, status, payload, headers, expected):
    azure.expect_request("/openai/v1/realtime/client_secrets").respond_with_response(
        Response(
            json.dumps(payload), status=status, headers=headers, content_type="application/json"
        )
    )
    reply = client.post("/api/sessions")
    assert reply.status_code == 502
    error = reply.get_json()["error"]
    assert error == {"source": "azure", "message": payload["error"]["message"], **expected}
    if "retry_after" in expected:
        assert reply.headers["Retry-After"] == "12"
    assert _session_count(app) == 0


@pytest.fixture
def unreachable(settings):
    """OpenAI configured at a port where nothing listens."""
    settings.update({"OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"})


def test_unreachable_service_is_504(unreachable, app, client):
    reply = client.post("/api/sessions")
    assert reply.status_code == 504
    assert reply.get_json()["error"]["code"] == "unreachable"
    assert _session_count(app) == 0


def _session_count(app) -> int:
    with opened(app) as store:
        return len(store.list_sessions())


def test_odd_but_valid_input_is_stored_or_refused_clearly(azure, client):
    azure.expect_request("/openai/v1/realtime/client_secrets").respond_with_json(GA_REPLY)
    made = client.post(
        "/api/sessions", data='{"label": "half \\ud800 pair"}', content_type="application/json"
    )
    assert made.status_code == 201
    session_id, secret = made.get_json()["id"], made.get_json()["write_secret"]
    assert client.get(f"/api/sessions/{session_id}").get_json()["label"] == "half \\ud800 pair"
    ended = client.post(
        f"/api/sessions/{session_id}/end", json=[1], headers={"X-Voice-Lab-Secret": secret}
    )
    assert ended.status_code == 200 and ended.get_json()["ended_at"]
    refused = client.post("/api/sessions", json={"protocol": "v2"})
    assert refused.status_code == 400 and "protocol must be ga or beta" in refused.get_data(True)


def test_a_replay_names_a_recorded_session_and_keeps_it(azure, client, app):
    azure.expect_request("/openai/v1/realtime/client_secrets").respond_with_json(GA_REPLY)
    with opened(app) as store:
        original = store_call(store, call_chunks())
    made = client.post("/api/sessions", json={"replay_of": original})
    assert made.status_code == 201
    assert client.get(f"/api/sessions/{made.get_json()['id']}").get_json()["replay_of"] == original


@pytest.mark.parametrize("recorded", [False, True])
def test_a_replay_of_no_session_or_of_one_without_a_recording_is_refused(
    azure, client, app, recorded
):
    original = plain_session(app) if recorded else "vl_nope"
    refused = client.post("/api/sessions", json={"replay_of": original})
    assert refused.status_code == 400
    message = refused.get_json()["error"]["message"]
    fix = "a session with a recording" if recorded else "the id of a stored session"
    assert f"replay_of must be {fix}" in message and original in message
    assert azure.log == []  # refused before any key was minted
