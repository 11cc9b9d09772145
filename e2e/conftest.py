"""Browser fixtures: Chromium with a fake microphone, and Voice Lab served with its emulator.

pytest-playwright provides `browser`, `context` and `page`; these fixtures only tell it which
Chromium to run and with which flags. Debian's Chromium is the default; VOICE_LAB_CHROMIUM points
elsewhere (unset it and run `playwright install chromium` to use Playwright's own build).
"""

from __future__ import annotations

import os
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import LiveServer
from voice_lab import create_app
from voice_lab.emulator import voice

CHROMIUM = os.environ.get("VOICE_LAB_CHROMIUM", "/usr/bin/chromium")
RATE = 48000


def write_speech_wav(path: Path) -> Path:
    """A 16-bit mono WAV: 1.5 s silence, 2 s of voiced sound, 2.5 s silence (VAD sees it end)."""
    silence = np.zeros(int(1.5 * RATE), dtype=np.int16)
    tail = np.zeros(int(2.5 * RATE), dtype=np.int16)
    samples = np.concatenate((silence, voice.speech_like(2.0, seed=11), tail))
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)  # 24-bit WAVs play as silence in Chromium's fake capture
        wav.setframerate(RATE)
        wav.writeframes(samples.tobytes())
    return path


@pytest.fixture(scope="session")
def speech_wav(tmp_path_factory) -> Path:
    """The fake microphone's recording."""
    return write_speech_wav(tmp_path_factory.mktemp("audio") / "speech.wav")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, speech_wav) -> dict:
    """Chromium with fake media; loopback ICE for hosts with no other interface."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}: install it or set VOICE_LAB_CHROMIUM")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={speech_wav}",
            "--allow-loopback-in-peer-connection",
            "--autoplay-policy=no-user-gesture-required",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
        ],
    }


@pytest.fixture
def settings(tmp_path) -> dict:
    """The served app's raw settings: the emulator as provider, a fresh database."""
    return {
        "VOICE_LAB_DATABASE": str(tmp_path / "voice_lab.sqlite3"),
        "VOICE_LAB_PROVIDER": "emulator",
        "TESTING": True,
    }


@pytest.fixture
def app(settings):
    """The app under test; its emulator is shut down afterwards."""
    app = create_app(settings)
    yield app
    app.extensions["voice_lab_emulator"].shutdown()


@pytest.fixture
def server(app) -> Iterator[LiveServer]:
    """The app served on a free port of 127.0.0.1."""
    with LiveServer(app) as live:
        yield live


class ConsoleLog:
    """What a page printed to its console and the errors it threw."""

    def __init__(self, page) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _console(self, message) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} ({message.location.get('url')})")


@pytest.fixture
def console(page) -> ConsoleLog:
    """The page's console errors, collected from the start."""
    return ConsoleLog(page)


@pytest.fixture
def call_page(page, console, server):
    """The call page, loaded and its script running."""
    page.goto(f"{server.url}/call")
    page.wait_for_selector("#call[data-ready=true]")
    return page
