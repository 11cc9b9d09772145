"""The test harness without a browser: server start-up, Chromium choice, recordings,
CapturedSession over logs in both protocols, the cutting proxy."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import wave
from pathlib import Path

import pytest
import requests

from tests import eventlogs
from tests.test_tools import tool_log
from tests.waiting import until
from voice_lab import testing
from voice_lab.testing import CapturedSession, HarnessError, TcpProxy, audio, browser


def export_of(log: eventlogs.Log) -> dict:
    """An export document of a built log, as Voice Lab writes it."""
    events = [
        {"seq": e.seq, "dir": e.direction, "t": e.t, "type": e.type, "event": e.raw}
        for e in log.events
    ]
    return {"format": "voice-lab.session", "version": 1, "session": {"id": "s"}, "events": events}


def test_a_server_that_cannot_start_fails_fast_with_its_output(tmp_path):
    with pytest.raises(HarnessError, match="VOICE_LAB_PROVIDER") as failed:
        testing.start_server(tmp_path, {"VOICE_LAB_PROVIDER": "nope"}, timeout=20)
    assert "exited with code" in str(failed.value)


def test_the_server_ignores_a_project_env_file(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("OPENAI_API_KEY=sk-should-not-be-used\n")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-be-used-either")
    with testing.start_server(tmp_path) as server:
        reply = requests.post(f"{server.url}/api/sessions", json={}, timeout=5)
        assert reply.json()["provider"] == "emulator"
    assert server.process.poll() is not None


def test_the_served_process_loads_the_app_and_not_the_plugin(tmp_path):
    with testing.start_server(tmp_path) as server:
        requests.get(f"{server.url}/login", timeout=5).raise_for_status()
        mapped = Path(f"/proc/{server.process.pid}/maps").read_text()
    assert "playwright" not in mapped and "greenlet" not in mapped  # Playwright's extension


def test_the_server_serves_the_database_it_is_given(tmp_path):
    database = tmp_path / "own" / "chosen.sqlite3"
    database.parent.mkdir()
    env = {"VOICE_LAB_DATABASE": str(database)}
    with testing.start_server(tmp_path / "server", env) as server:
        created = requests.post(f"{server.url}/api/sessions", json={}, timeout=5).json()
    assert server.database == database
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT id FROM sessions").fetchall() == [(created["id"],)]


# A process that starts a server, says its pid, and waits to be killed.
STARTER = """import sys
from pathlib import Path
from voice_lab.testing import start_server
server = start_server(Path(sys.argv[1]))
print(server.process.pid, flush=True)
sys.stdin.read()
"""


def running(pid: int) -> bool:
    """Whether a process is there and not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_server_does_not_outlive_the_process_that_started_it(tmp_path):
    root = Path(__file__).resolve().parent.parent
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTER, str(tmp_path)],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    server_pid = int(starter.stdout.readline())
    try:
        assert running(server_pid)
        starter.kill()  # no clean-up of its own: its server must notice and stop
        starter.wait(10)
        until(lambda: not running(server_pid), "the orphaned server stopped")
    finally:
        starter.stdin.close()
        starter.stdout.close()
        if running(server_pid):
            os.kill(server_pid, signal.SIGKILL)


def test_chromium_choice(monkeypatch, tmp_path):
    monkeypatch.setenv("VOICE_LAB_CHROMIUM", str(tmp_path / "missing"))
    with pytest.raises(HarnessError, match="VOICE_LAB_CHROMIUM=.*unset it"):
        browser.chromium_path()
    fake = tmp_path / "chrome"
    fake.write_text("")
    monkeypatch.setenv("VOICE_LAB_CHROMIUM", str(fake))
    options = browser.launch_options(tmp_path / "a.wav", loop=False)
    assert options["executable_path"] == str(fake)
    assert f"--use-file-for-fake-audio-capture={tmp_path / 'a.wav'}%noloop" in options["args"]
    assert "--allow-loopback-in-peer-connection" in options["args"]


def test_speech_wav_is_16_bit_and_padded(tmp_path):
    path = audio.speech_wav(tmp_path / "s.wav", seconds=1.0)
    with wave.open(str(path)) as wav:
        assert (wav.getsampwidth(), wav.getnchannels()) == (2, 1)
        assert wav.getnframes() == int(5.0 * audio.RATE)
        frames = wav.readframes(wav.getnframes())
    assert set(frames[:1000]) == {0} and set(frames[-1000:]) == {0}


@pytest.mark.parametrize("ga", [True, False])
def test_captured_session_over_a_voice_turn(ga):
    captured = CapturedSession.from_export(export_of(eventlogs.voice_turn_log(ga=ga)))
    captured.assert_order(
        ["input_audio_buffer.speech_stopped", "response.created", "response.output_audio.done"]
    )
    captured.assert_no_errors()
    captured.assert_latency_under(60_000, "to_created_ms")
    assert captured.latency()["to_created_ms"].count == 1
    with pytest.raises(AssertionError, match="budget"):
        captured.assert_latency_under(0.001, "to_created_ms")
    with pytest.raises(AssertionError, match="does not follow"):
        captured.assert_order(["response.done", "input_audio_buffer.speech_started"])


def test_captured_session_reports_errors():
    captured = CapturedSession.from_export(export_of(eventlogs.transcription_failure_log()))
    assert captured.errors()
    with pytest.raises(AssertionError, match="no errors"):
        captured.assert_no_errors()


@pytest.mark.parametrize("ga", [True, False])
def test_captured_tool_calls_and_the_assertion_on_them(ga):
    captured = CapturedSession.from_export(export_of(eventlogs.function_call_log(ga=ga)))
    (call,) = captured.tool_calls()
    assert call.name == "get_weather" and call.output == '{"temp_c":18}'
    assert captured.assert_tool_called("get_weather", city="Paris") == call
    assert captured.assert_tool_called("get_weather") == call  # no subset: any arguments
    with pytest.raises(AssertionError, match=r'calls made: #\d+ get_weather\(\{"city":"Paris"\}\)'):
        captured.assert_tool_called("get_weather", city="Rome")
    with pytest.raises(AssertionError, match="no call of 'book_table'"):
        captured.assert_tool_called("book_table")
    with pytest.raises(AssertionError, match="calls made: none"):
        CapturedSession.from_export(export_of(eventlogs.voice_turn_log(ga))).assert_tool_called(
            "get_weather"
        )
    captured.assert_no_errors()


def test_a_call_never_answered_is_an_error_of_the_captured_session():
    captured = CapturedSession.from_export(export_of(tool_log(outputs=())))
    assert [e.code for e in captured.errors()] == ["call_not_answered"]
    with pytest.raises(AssertionError, match="never answered"):
        captured.assert_no_errors()


def test_proxy_cuts_and_restores():
    upstream = socket.create_server(("127.0.0.1", 0))

    def answer(conn: socket.socket) -> None:
        while data := conn.recv(99):
            conn.sendall(data)

    def echo() -> None:
        while True:
            try:
                conn, _ = upstream.accept()
            except OSError:
                return
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=echo, daemon=True).start()
    proxy = TcpProxy(f"http://127.0.0.1:{upstream.getsockname()[1]}")
    port = int(proxy.url.rsplit(":", 1)[1])
    try:
        first = socket.create_connection(("127.0.0.1", port), timeout=5)
        first.sendall(b"hi")
        assert first.recv(10) == b"hi"
        proxy.cut()
        assert first.recv(10) == b""
        refused = socket.create_connection(("127.0.0.1", port), timeout=5)
        assert refused.recv(10) == b""
        proxy.restore()
        again = socket.create_connection(("127.0.0.1", port), timeout=5)
        again.sendall(b"back")
        assert again.recv(10) == b"back"
    finally:
        proxy.close()
        upstream.close()
