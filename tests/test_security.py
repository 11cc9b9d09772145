"""Access token, same-origin writes, CSRF, mint limits and security headers."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import websocket
from markupsafe import escape
from requests.structures import CaseInsensitiveDict

from tests.stores import stop_news
from voice_lab import create_app

TOKEN = "tok-" + "z" * 28
EMULATOR_KEY = "emu-key-" + "k" * 24
APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def settings(settings):
    """The emulator, bound off loopback with an access token and a tight mint limit."""
    settings.update(
        {
            "VOICE_LAB_HOST": "0.0.0.0",
            "VOICE_LAB_TOKEN": TOKEN,
            "VOICE_LAB_MINT_RATE": "2/60",
            "VOICE_LAB_EMULATOR_API_KEY": EMULATOR_KEY,
        }
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


@pytest.mark.parametrize(
    "url, auth, words",
    [
        ("/emulator/v1/realtime/client_secrets", "Authorization", "Rate limit reached"),
        ("/emulator/openai/v1/realtime/client_secrets", "api-key", "exceeded the call rate limit"),
    ],
)
def test_emulator_limits_mints_per_client_in_the_services_words(client, url, auth, words):
    headers = {auth: f"Bearer {EMULATOR_KEY}" if auth == "Authorization" else EMULATOR_KEY}
    body = {"session": {"type": "realtime", "model": "gpt-realtime"}}
    assert client.post(url, json=body, headers=headers).status_code == 200
    assert client.post(url, json=body, headers=headers).status_code == 200
    third = client.post(url, json=body, headers=headers)
    assert third.status_code == 429 and int(third.headers["Retry-After"]) >= 1
    error = third.get_json()["error"]
    assert words in error["message"] and "emulated fault" not in error["message"]
    assert "source" not in error  # the service's own body, not Voice Lab's envelope
    # The emulated service keeps its own count: Voice Lab's own mints are not refused by it.
    ours = client.post("/api/sessions", json={}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ours.status_code == 201


@pytest.mark.parametrize(
    "target, kept",
    [
        ("/sessions/vl_x?view=flat&q=a%20b", True),  # our own pages stay the target
        ("//evil.example/", False),
        ("/\t/evil.example", False),
        ("/\\evil.example", False),
        ("/\\/evil.example", False),
        ("/\n/evil.example", False),
        ("/x\r\nSet-Cookie: stolen=1", False),
        ("/x\rLocation: https://evil.example", False),
        ("https://evil.example/", False),
        ("http:evil.example", False),
        ("javascript:alert(1)", False),
        (" /evil.example", False),
        ("\t//evil.example", False),
        ("evil.example", False),
        ("", False),
    ],
)
def test_login_next_never_leaves_the_site(client, target, kept):
    expected = target if kept else "/"
    page = client.get("/login", query_string={"next": target}).get_data(as_text=True)
    assert f'name="next" value="{escape(expected)}"' in page
    right = client.post("/login", data={"token": TOKEN, "next": target})
    assert right.status_code == 303 and right.headers["Location"] == expected


def test_login_tries_are_limited_per_client(client):
    for _ in range(10):
        assert client.post("/login", data={"token": "wrong"}).status_code == 401
    limited = client.post("/login", data={"token": TOKEN})  # even the right one, for a while
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert "Too many tries" in limited.get_data(as_text=True)
    elsewhere = client.post("/login", data={"token": TOKEN}, environ_base={"REMOTE_ADDR": "::9"})
    assert elsewhere.status_code == 303


def _api(url: str, token: str, header: str) -> tuple[int, dict, str]:
    """GET /api/sessions/vl_x with `token` in `header`: its status, headers and body."""
    value = f"Bearer {token}" if header == "Authorization" else token
    reply = requests.get(f"{url}/api/sessions/vl_x", headers={header: value}, timeout=10)
    return reply.status_code, reply.headers, reply.text


def _socket(url: str, token: str, header: str) -> tuple[int, dict, str]:
    """Open /ws/mirror with `?token=`: the status of its handshake, headers and body."""
    try:
        websocket.create_connection(f"{url.replace('http', 'ws')}/ws/mirror?token={token}").close()
    except websocket.WebSocketBadStatusException as refused:
        body = (refused.resp_body or b"").decode()
        return refused.status_code, CaseInsensitiveDict(refused.resp_headers), body
    return 101, {}, ""


@pytest.mark.parametrize(
    ("offer", "header"),
    [(_api, "Authorization"), (_api, "X-Voice-Lab-Token"), (_socket, "")],
    ids=["bearer", "X-Voice-Lab-Token", "?token= on the socket"],
)
def test_wrong_tokens_count_against_the_login_limit_wherever_offered(live_server, offer, header):
    for _ in range(10):
        assert offer(live_server.url, "wrong-" + "w" * 20, header)[0] == 401
    status, headers, body = offer(live_server.url, TOKEN, header)  # even the right one
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert f"retry after {headers['Retry-After']} s" in body
    login = requests.post(f"{live_server.url}/login", data={"token": TOKEN}, timeout=10)
    assert login.status_code == 429  # one count for the client, the form's too


def _start(tmp_path, **env) -> subprocess.Popen:
    """`python app.py` in an empty directory with only these settings; its output in one pipe."""
    environ = {"PATH": "/usr/bin:/bin", "VOICE_LAB_DATABASE": str(tmp_path / "v.db"), **env}
    return subprocess.Popen(
        [sys.executable, "-u", APP],
        cwd=tmp_path,
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_short_token_refused_at_start_up(tmp_path):
    server = _start(tmp_path, VOICE_LAB_TOKEN="x" * 15)
    log = server.communicate(timeout=60)[0]
    assert server.returncode == 1
    assert "Voice Lab cannot start: VOICE_LAB_TOKEN: must be at least 16 characters" in log


def _url(server: subprocess.Popen, lines: list[str]) -> str:
    """The address `python app.py` says it serves on; what it wrote until then, in `lines`."""
    while not (match := re.search(r"Running on (http://\S+)", lines[-1] if lines else "")):
        line = server.stdout.readline()
        assert line, "".join(lines)
        lines.append(line)
    return match[1]


def test_no_token_in_the_server_log(tmp_path):
    server = _start(tmp_path, VOICE_LAB_TOKEN=TOKEN, VOICE_LAB_PORT="0")
    lines: list[str] = []
    try:
        url = _url(server, lines).replace("http", "ws") + "/ws/mirror"
        wrong = "wrong-" + "w" * 20
        for query in (f"?token={wrong}", f"?a=1&to%6Ben={wrong}", f"?token={wrong}&token=x"):
            with pytest.raises(websocket.WebSocketBadStatusException):
                websocket.create_connection(url + query, timeout=10)
        websocket.create_connection(f"{url}?token={TOKEN}", timeout=10).close()
    finally:
        server.terminate()
        log = "".join(lines) + server.communicate(timeout=30)[0]
    assert log.count("/ws/mirror?") >= 3, log  # the refused requests are logged...
    assert wrong not in log and TOKEN not in log and "[hidden]" in log  # ...their tokens not


def test_emulator_mints_only_with_its_api_key(client):
    body = {"session": {"type": "realtime", "model": "gpt-realtime"}}
    for url, headers in (
        ("/emulator/v1/realtime/client_secrets", {"Authorization": "Bearer sk-anything"}),
        ("/emulator/openai/v1/realtime/client_secrets", {"api-key": "anything"}),
        ("/emulator/openai/v1/realtime/client_secrets", {"api-key": TOKEN}),
    ):
        refused = client.post(url, json=body, headers=headers)
        assert refused.status_code == 401
        error = refused.get_json()["error"]
        assert "invalid" in error["message"].lower() or "Incorrect API key" in error["message"]
    hangup = client.post("/emulator/v1/realtime/calls/rtc_x/hangup", headers={"api-key": "any"})
    assert hangup.status_code == 401
    minted = client.post(
        "/emulator/openai/v1/realtime/client_secrets", json=body, headers={"api-key": EMULATOR_KEY}
    )
    assert minted.status_code == 200 and minted.get_json()["value"].startswith("ek_")
    made_up = client.post(
        "/emulator/openai/v1/realtime/calls",
        data="v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n",
        headers={"Authorization": "Bearer ek_made_up", "Content-Type": "application/sdp"},
    )
    assert made_up.status_code == 401 and made_up.get_json()["error"]["code"] == "invalid_api_key"


def test_emulator_in_token_mode_without_its_api_key_mints_for_nobody(settings):
    from voice_lab import create_app

    settings.pop("VOICE_LAB_EMULATOR_API_KEY")
    client = create_app(settings).test_client()
    body = {"session": {"type": "realtime"}}
    for key in ("", TOKEN, "anything"):
        headers = {"Authorization": f"Bearer {key}"}
        reply = client.post("/emulator/v1/realtime/client_secrets", json=body, headers=headers)
        assert reply.status_code == 401
    # Voice Lab's own pages still mint, in-process.
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/api/sessions", headers=auth).status_code == 201


def test_a_token_sent_to_a_page_is_dropped_from_next_and_never_logged(tmp_path):
    token = "short-but-16-plus"  # 17 characters: the shortest kind the configuration takes
    server = _start(tmp_path, VOICE_LAB_TOKEN=token, VOICE_LAB_PORT="0")
    lines: list[str] = []
    try:
        url = _url(server, lines)
        for query in (f"?token={token}", f"?TOKEN={token}", f"?x=1;token={token}&y=2"):
            followed = requests.get(f"{url}/sessions{query}", timeout=10)  # as curl -L does
            assert followed.status_code == 200 and token not in followed.url
            assert [r.status_code for r in followed.history] == [302]
        assert followed.url.endswith("/login?next=/sessions?x%3D1%26y%3D2")  # the rest kept
        for encoded in (f"/%3Ftoken%3D{token}", f"%2F%3FToKeN%253D{token}"):
            requests.get(f"{url}/login?next={encoded}", timeout=10)
        requests.get(f"{url}/sessions/{token}", timeout=10)  # no parameter: known by value
    finally:
        server.terminate()
        log = "".join(lines) + server.communicate(timeout=30)[0]
    assert log.count("GET /login?next=") >= 5, log
    assert token not in log, log


@pytest.mark.backends("postgresql")
@pytest.mark.parametrize(
    "url, headers",
    [
        ("/api/sessions", {"Authorization": f"Bearer {TOKEN}"}),
        ("/emulator/v1/realtime/client_secrets", {"Authorization": f"Bearer {EMULATOR_KEY}"}),
    ],
)
def test_mint_limit_is_shared_by_the_workers_of_a_database(app, settings, url, headers):
    # A second app on the database stands for a second worker.
    other = create_app(settings)
    try:
        body = {"session": {"type": "realtime", "model": "gpt-realtime"}}
        mint = [app.test_client(), other.test_client()]
        assert mint[0].post(url, json=body, headers=headers).status_code in (200, 201)
        assert mint[1].post(url, json=body, headers=headers).status_code in (200, 201)
        third = mint[0].post(url, json=body, headers=headers)
        assert third.status_code == 429 and int(third.headers["Retry-After"]) >= 1
        assert mint[1].post(url, json=body, headers=headers).status_code == 429
    finally:
        stop_news(other)


@pytest.mark.backends()
@pytest.mark.parametrize("trusted", ["0", "1"])
def test_forwarded_client_addresses_count_only_behind_trusted_proxies(settings, trusted):
    settings["VOICE_LAB_TRUSTED_PROXIES"] = trusted
    app = create_app(settings)
    try:
        client = app.test_client()
        auth = {"Authorization": f"Bearer {TOKEN}"}
        for address in ("198.51.100.1", "198.51.100.1", "198.51.100.2"):
            reply = client.post("/api/sessions", headers={**auth, "X-Forwarded-For": address})
        # Behind a trusted proxy the third is another client's first; else the proxy's third.
        assert reply.status_code == (201 if trusted == "1" else 429)
    finally:
        stop_news(app)
