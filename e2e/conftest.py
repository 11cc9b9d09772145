"""Browser fixtures for Voice Lab's own e2e tests, on top of the `voice_lab.testing` plugin.

The plugin (loaded by the top-level conftest.py, as a user's suite loads it) gives Chromium its
fake-media flags, a looping voice-like microphone, the subprocess `voice_lab_server` and failure
screenshots. Tests that reach into the app (its store, its emulator) use the in-process `server`
below instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from voice_lab import create_app
from voice_lab.testing import ConsoleLog, LiveServer, speech_wav, spoken_wav


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
    """The app served in this process on a free port of 127.0.0.1."""
    with LiveServer(app) as live:
        yield live


@pytest.fixture
def console(voice_lab_console) -> ConsoleLog:
    """The page's console errors, collected from the start."""
    return voice_lab_console


@pytest.fixture
def call_page(page, console, server):
    """The call page, loaded and its script running."""
    page.goto(f"{server.url}/call")
    page.wait_for_selector("#call[data-ready=true]")
    return page


@pytest.fixture
def mic(tmp_path):
    """Spoken words when espeak-ng is there, voice-like sound otherwise."""
    if shutil.which("espeak-ng"):
        return spoken_wav(tmp_path / "mic.wav", "What is the weather like today?")
    return speech_wav(tmp_path / "mic.wav")
