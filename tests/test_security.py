"""Access token, same-origin writes, CSRF, mint limits and security headers."""

import re

import pytest
import websocket

TOKEN = "tok-" + "z" * 28


@pytest.fixture
def settings(settings):
    """The emulator, bound off loopback with an access token and a tight mint limit."""
    settings.update(
        {"VOICE_LAB_HOST": "0.0.0.0", "VOICE_LAB_TOKEN": TOKEN, "VOICE_LAB_MINT_RATE": "2/60"}
    )
    return settings


def test_pages_need_the_token(client):
    page = client.get("/sessions/vl_x")
    assert page.status_code == 302 and "/login?next=" in page.headers["Location"]
    api = client.post("/api/sessions")
    assert api.status_code == 401 and api.get_json()["error"]["code"] == "token_required"
    assert client.get("/login").status_code == 200
    assert client.get("/static/css/app.css").status_code == 200


def test_login_cookie_then_pages_work(client):
    wrong = client.post("/login", data={"token": "nope", "next": "/"})
    assert wrong.status_code == 401 and "not right" in wrong.get_data(as_text=True)
    right = client.post("/login", data={"token": TOKEN, "next": "//evil.example.com/"})
    assert right.status_code == 303 and right.headers["Location"] == "/"
    assert client.get("/").status_code == 200


def test_api_with_bearer_header(client):
    reply = client.post("/api/sessions", headers={"Authorization": f"Bearer {TOKEN}"})
    assert reply.status_code == 201


def test_websocket_needs_the_token(live_server):
    url = live_server.url.replace("http", "ws") + "/ws/mirror"
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(url, timeout=5)
    assert info.value.status_code == 401
    websocket.create_connection(url + f"?token={TOKEN}", timeout=5).close()
    websocket.create_connection(url, timeout=5, header=[f"Authorization: Bearer {TOKEN}"]).close()


def test_mint_rate_limited_per_client(client):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/api/sessions", headers=auth).status_code == 201
    assert client.post("/api/sessions", headers=auth).status_code == 201
    third = client.post("/api/sessions", headers=auth)
    assert third.status_code == 429 and int(third.headers["Retry-After"]) >= 1
    assert "VOICE_LAB_MINT_RATE" in third.get_json()["error"]["message"]


def test_security_headers(client):
    reply = client.get("/login")
    csp = reply.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert reply.headers["X-Content-Type-Options"] == "nosniff"
    assert reply.headers["X-Frame-Options"] == "DENY"


def test_no_inline_scripts_in_pages(client):
    client.post("/login", data={"token": TOKEN})
    for url in ("/", "/login", "/call"):
        html = client.get(url).get_data(as_text=True)
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag, f"inline script on {url}: {tag}"
        assert not re.search(r"\son[a-z]+=", html), f"inline handler on {url}"


@pytest.fixture
def loopback_client(settings, tmp_path):
    """A client of an app with no token, on 127.0.0.1."""
    from voice_lab import create_app

    raw = {k: v for k, v in settings.items() if k != "VOICE_LAB_TOKEN"}
    raw.update({"VOICE_LAB_HOST": "127.0.0.1", "VOICE_LAB_DATABASE": str(tmp_path / "l.db")})
    return create_app(raw).test_client()


class TestOnLoopback:
    """Without a token (the default on 127.0.0.1): same-origin and CSRF still hold."""

    @pytest.fixture
    def settings(self, settings):
        settings.pop("VOICE_LAB_TOKEN")
        settings["VOICE_LAB_HOST"] = "127.0.0.1"
        return settings

    def test_cross_site_mint_refused(self, client):
        evil = client.post("/api/sessions", headers={"Origin": "https://evil.example.com"})
        assert evil.status_code == 403 and evil.get_json()["error"]["code"] == "cross_origin"
        referer = client.post("/api/sessions", headers={"Referer": "https://evil.example.com/x"})
        assert referer.status_code == 403
        ours = client.post("/api/sessions", headers={"Origin": "http://localhost"})
        assert ours.status_code == 201

    def test_forms_need_csrf(self, client, csrf):
        assert client.post("/import", data={}).status_code == 403
        assert client.post("/import", data={"csrf_token": "forged"}).status_code == 403
        assert client.post("/import", data={"csrf_token": csrf}).status_code == 400  # no file


def test_mirror_script_shared_with_allowed_origins_only(app, client):
    app.config["VOICE_LAB_ALLOWED_ORIGINS"] = ("https://app.example.com",)
    allowed = client.get("/static/js/mirror.js", headers={"Origin": "https://app.example.com"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    other = client.get("/static/js/mirror.js", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in other.headers
    page = client.get("/static/js/call.js", headers={"Origin": "https://app.example.com"})
    assert "Access-Control-Allow-Origin" not in page.headers


def test_without_a_token_only_loopback_is_served(loopback_client):
    client = loopback_client
    """A DNS-rebinding page names another host; a request from elsewhere has another address."""
    rebound = client.post(
        "/api/sessions", headers={"Host": "evil.example:5000", "Origin": "http://evil.example:5000"}
    )
    assert rebound.status_code == 403 and rebound.get_json()["error"]["code"] == "not_local"
    remote = client.get("/", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert remote.status_code == 403 and "VOICE_LAB_TOKEN" in remote.get_data(as_text=True)
    assert client.get("/", headers={"Host": "localhost:5000"}).status_code == 200
    assert client.get("/", headers={"Host": "127.0.0.1:5000"}).status_code == 200
    emulator = client.post("/emulator/v1/realtime/client_secrets", headers={"Host": "evil.example"})
    assert emulator.status_code == 403


def test_emulator_mints_share_the_per_client_limit(client):
    url, headers = "/emulator/v1/realtime/client_secrets", {"Authorization": "Bearer anything"}
    body = {"session": {"type": "realtime", "model": "gpt-realtime"}}
    assert client.post(url, json=body, headers=headers).status_code == 200
    assert client.post(url, json=body, headers=headers).status_code == 200
    third = client.post(url, json=body, headers=headers)
    assert third.status_code == 429 and third.headers["Retry-After"]
