"""Voice Lab's JSON error envelope: the same shape from the API, the guard, the mint limit and
the mirror's handshake."""

import pytest

TOKEN = "tok-" + "e" * 28
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def settings(settings):
    """A token, so the guard refuses a request without it, and one mint a minute."""
    settings.update(
        {"OPENAI_API_KEY": "sk-unused", "VOICE_LAB_TOKEN": TOKEN, "VOICE_LAB_MINT_RATE": "1/60"}
    )
    return settings


def envelope(code: str, message: str, **extra: str) -> dict:
    """The body every refusal of Voice Lab's own carries."""
    return {"error": {"source": "voice-lab", "code": code, "message": message, **extra}}


def test_api_error(client):
    reply = client.get("/api/sessions/nope", headers=AUTH)
    assert (reply.status_code, reply.mimetype) == (404, "application/json")
    assert reply.get_json() == envelope("session_not_found", "no session 'nope'")


def test_guard_refusal(client):
    reply = client.get("/api/sessions/nope")
    assert (reply.status_code, reply.mimetype) == (401, "application/json")
    assert reply.get_json() == envelope(
        "token_required",
        "this Voice Lab needs its access token: log in, "
        "or send Authorization: Bearer VOICE_LAB_TOKEN",
    )


def test_mint_limit(client):
    # The limit counts every try, so a refused body spends the minute's one mint.
    assert client.post("/api/sessions", headers=AUTH, data="[]").status_code == 400
    reply = client.post("/api/sessions", headers=AUTH)
    assert (reply.status_code, reply.mimetype) == (429, "application/json")
    wait = reply.headers["Retry-After"]
    assert reply.get_json() == envelope(
        "mint_rate_limited",
        f"at most 1 keys per 60 s from one client: retry after {wait} s "
        "(VOICE_LAB_MINT_RATE sets the limit)",
        retry_after=wait,
    )


def test_mirror_handshake_from_another_origin(client):
    origin = "https://evil.example"
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket"}
    reply = client.get("/ws/mirror", headers={**AUTH, **upgrade, "Origin": origin})
    assert (reply.status_code, reply.mimetype) == (403, "application/json")
    assert reply.get_json() == envelope(
        "origin_not_allowed",
        f"{origin} may not mirror here: add it to VOICE_LAB_ALLOWED_ORIGINS",
    )
