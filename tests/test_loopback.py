"""Without a token only loopback is served: what counts as loopback, for Host, Origin, the
client's address and VOICE_LAB_HOST, with the names a DNS-rebinding page would use."""

import http.client

import pytest
import websocket

from voice_lab.config import ConfigError, load

LOOPBACK = [
    "127.0.0.1",
    "127.0.0.1:5000",
    "127.1.2.3:80",
    "127.255.255.254",
    "localhost",
    "localhost:5000",
    "LOCALHOST:5000",
    "localhost.:5000",  # the fully qualified form of the same name
    "[::1]",
    "[::1]:5000",
    "[0:0:0:0:0:0:0:1]:5000",
    "[::ffff:127.0.0.1]:5000",  # IPv4-mapped
    "[::ffff:7f00:1]",
]
LOOK_ALIKES = [
    "127.0.0.1.evil.example",
    "127.0.0.1.evil.example:5000",
    "127.evil",
    "127.0.0.1.nip.io",
    "127-0-0-1.evil.example",
    "localhost.evil.example",
    "localhost.evil.example:5000",
    "evil.localhost",  # a subdomain is not the name itself
    "localhostevil:5000",
    "evil.example",
    "0.0.0.0:5000",  # every interface, not loopback
    "10.0.0.1",
    "128.0.0.1",
    "[::2]:5000",
    "[::ffff:10.0.0.1]:5000",
    "[::1].evil.example",
    "[::1]:5000.evil.example",
    "127.0.0.1:5000@evil.example",
    "evil.example@127.0.0.1",
    "127.0.0.1:evil",
    "127.0.0.1:5000:80",
    "::1:5000",  # an IPv6 address with a port needs brackets
    "",
    # Forms a browser rewrites to 127.0.0.1 before sending: only other clients send them, and a
    # strict parse refuses them rather than guess what they mean.
    "0x7f.0.0.1",
    "0x7f000001",
    "2130706433",
    "0177.0.0.1",
    "127.1",
    "127.0.1",
]


@pytest.fixture
def settings(settings):
    """No token: the default, on 127.0.0.1."""
    settings["VOICE_LAB_HOST"] = "127.0.0.1"
    return settings


@pytest.mark.parametrize("host", LOOPBACK)
def test_loopback_hosts_are_served(client, host):
    assert client.get("/", headers={"Host": host}).status_code == 200


@pytest.mark.parametrize("host", LOOK_ALIKES)
def test_look_alike_hosts_are_refused(client, host):
    origin = f"http://{host}"
    listed = client.get("/", headers={"Host": host})
    assert listed.status_code == 403 and "VOICE_LAB_TOKEN" in listed.get_data(as_text=True)
    minted = client.post("/api/sessions", headers={"Host": host, "Origin": origin})
    assert minted.status_code == 403 and minted.get_json()["error"]["code"] == "not_local"


@pytest.mark.parametrize("address", ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"])
def test_loopback_clients_are_served(client, address):
    assert client.get("/", environ_base={"REMOTE_ADDR": address}).status_code == 200


@pytest.mark.parametrize("address", ["192.0.2.7", "::ffff:192.0.2.7", "::2", "0.0.0.0", ""])
def test_other_clients_are_refused(client, address):
    assert client.get("/", environ_base={"REMOTE_ADDR": address}).status_code == 403


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost", "LocalHost"])
def test_loopback_binds_need_no_token(host):
    assert load({"VOICE_LAB_HOST": host})["VOICE_LAB_HOST"] == host


@pytest.mark.parametrize("host", ["127.0.0.1.evil.example", "0.0.0.0", "::", "127.evil"])
def test_other_binds_need_the_token(host):
    with pytest.raises(ConfigError) as info:
        load({"VOICE_LAB_HOST": host})
    assert info.value.variable == "VOICE_LAB_TOKEN"


def test_rebinding_page_refused_through_a_real_socket(live_server):
    """The attack as a browser makes it: a page on a look-alike name, resolved to 127.0.0.1."""
    port = live_server.server.server_port
    host = f"127.0.0.1.evil.example:{port}"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for method, path in (("GET", "/"), ("POST", "/api/sessions")):
            conn.request(method, path, headers={"Host": host, "Origin": f"http://{host}"})
            reply = conn.getresponse()
            body = reply.read().decode()
            assert reply.status == 403 and "VOICE_LAB_TOKEN" in body
        conn.request("GET", "/", headers={"Host": f"127.0.0.1:{port}"})
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    url = f"ws://127.0.0.1:{port}/ws/mirror"
    with pytest.raises(websocket.WebSocketBadStatusException) as info:
        websocket.create_connection(url, timeout=5, host=host, origin=f"http://{host}")
    assert info.value.status_code == 403
