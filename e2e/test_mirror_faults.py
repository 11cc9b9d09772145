"""Faults in a real browser: the database refusing writes for a moment, and the Voice Lab server
restarted in the middle of a call. The page's mirror.js resends; recorded == acked == stored, for
the events and for the recording's chunks.

For the restart, the call is held with a second Voice Lab's emulator standing in for Azure, as a
cloud service would hold it: restarting the server the page mirrors to leaves the call up.
"""

from __future__ import annotations

import socket
import sqlite3
from pathlib import Path

import pytest
import requests

from e2e.recordings import assert_every_chunk_stored_once
from tests.figures import count
from voice_lab.testing import (
    HarnessError,
    ServerProcess,
    start_call,
    start_server,
    stop_call,
    wait_for_responses,
)

pytestmark = pytest.mark.e2e

RECORD_SCRIPT = """async ({ n, everyMs }) => {
  const { Mirror } = await import("/static/js/mirror.js");
  const mirror = new Mirror({ url: "/ws/mirror", create: { label: "faults", protocol: "ga" } });
  window.mirrorErrors = [];
  mirror.addEventListener("error", (e) => window.mirrorErrors.push(e.detail.code));
  window.mirror = mirror;
  window.finished = (async () => {
    for (let i = 0; i < n; i++) {
      mirror.record("server", JSON.stringify({ type: "response.output_text.delta", i }));
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
    await new Promise((resolve) => {
      const check = () => mirror.acked >= mirror.seq && resolve();
      mirror.addEventListener("ack", check);
      check();
    });
    return { session: mirror.session, ...(await mirror.close()) };
  })();
}"""


def test_storage_refused_for_a_moment_the_page_resends(call_page, server, app):
    db = sqlite3.connect(app.config["VOICE_LAB_DATABASE"], isolation_level=None)
    db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON events "
        "BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END"
    )
    count("faults injected")
    call_page.evaluate(RECORD_SCRIPT, {"n": 200, "everyMs": 5})
    # Refused twice: the page sent again while storage still refused, and will once more.
    call_page.wait_for_function(
        "() => window.mirrorErrors.filter((c) => c === 'storage_unavailable').length >= 2"
    )
    db.execute("DROP TRIGGER refuse")
    db.close()
    call_page.wait_for_function("() => window.mirror.acked >= 200", timeout=20_000)
    result = call_page.evaluate("window.finished")
    stored = requests.get(f"{server.url}/api/sessions/{result['session']}", timeout=5).json()
    assert result["recorded"] == result["acked"] == stored["event_count"] == 200
    count("events sent (browser faults)", result["recorded"])
    count("events stored (browser faults)", stored["event_count"])


def free_port() -> int:
    """A port free right now on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Restartable:
    """Voice Lab on Azure in its own process, on a fixed port and database: killed as a crash
    would kill it, then started again at the same address."""

    def __init__(self, workdir: Path, service: str):
        self.workdir, self.port = workdir, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            "VOICE_LAB_PROVIDER": "azure",
            "VOICE_LAB_EMULATOR": "off",
            "AZURE_OPENAI_ENDPOINT": f"{service}/emulator",
            "AZURE_OPENAI_API_KEY": "azure-key-for-the-stand-in",
            "AZURE_OPENAI_REALTIME_DEPLOYMENT": "gpt-realtime",
        }
        self.server: ServerProcess | None = None

    def start(self) -> None:
        """Start and wait until it serves; fail with its output if it dies."""
        try:
            self.server = start_server(self.workdir, self.env, port=self.port)
        except HarnessError as exc:
            pytest.fail(str(exc), pytrace=False)

    def stop(self) -> None:
        """Stop it as a crash would (no goodbye to the sockets)."""
        if self.server is not None:
            self.server.kill()


@pytest.fixture
def restartable(tmp_path, voice_lab_server):
    """Voice Lab on Azure in a subprocess, `voice_lab_server`'s emulator standing in for Azure."""
    server = Restartable(tmp_path / "restartable", voice_lab_server.url)
    server.start()
    yield server
    server.stop()


def test_server_restarted_mid_call_nothing_lost(page, restartable):
    session_id = start_call(page, restartable.url, {"label": "restart"})
    wait_for_responses(page, 1)
    restartable.stop()
    count("faults injected")
    recorded = int(page.get_by_test_id("recorded-count").text_content())
    wait_for_responses(page, 2)  # the call goes on with nobody to mirror to
    assert int(page.get_by_test_id("recorded-count").text_content()) > recorded
    restartable.start()
    stop_call(page, timeout_ms=30_000)
    by = page.get_by_test_id
    stored = requests.get(f"{restartable.url}/api/sessions/{session_id}", timeout=5).json()
    assert int(by("recorded-count").text_content()) == int(by("acked-seq").text_content())
    assert int(by("acked-seq").text_content()) == stored["event_count"] == stored["max_seq"]
    assert stored["ended_at"]
    chunks = assert_every_chunk_stored_once(restartable.server.database, session_id)
    count("recording chunks stored (server restart)", chunks)
    count("events sent (server restart)", stored["max_seq"])
    count("events stored (server restart)", stored["event_count"])


@pytest.fixture
def quick_idle(settings):
    """Sockets quiet for half a second are closed by the server."""
    settings["VOICE_LAB_SOCKET_IDLE"] = "0.5"


IDLE_SCRIPT = """async () => {
  const { Mirror } = await import("/static/js/mirror.js");
  const mirror = new Mirror({ url: "/ws/mirror", create: { label: "idle", protocol: "ga" } });
  window.states = [];
  mirror.addEventListener("state", (e) => window.states.push(e.detail));
  window.mirror = mirror;
  mirror.record("server", JSON.stringify({ type: "response.output_text.delta", i: 1 }));
}"""


def test_an_idle_close_the_page_reconnects_when_it_records_again(quick_idle, call_page, server):
    call_page.evaluate(IDLE_SCRIPT)
    call_page.wait_for_function("() => window.states.includes('idle')")
    assert call_page.evaluate("window.mirror.acked") == 1
    call_page.evaluate(
        """() => { for (const i of [2, 3])
          window.mirror.record("server", JSON.stringify({ type: "x", i })); }"""
    )
    call_page.wait_for_function("() => window.mirror.acked >= 3")
    result = call_page.evaluate("window.mirror.close()")
    # Nothing reconnected while there was nothing to send.
    assert call_page.evaluate("window.states")[:4] == ["open", "idle", "connecting", "open"]
    stored = requests.get(
        f"{server.url}/api/sessions/{call_page.evaluate('window.mirror.session')}", timeout=5
    ).json()
    assert result["recorded"] == result["acked"] == stored["event_count"] == 3
