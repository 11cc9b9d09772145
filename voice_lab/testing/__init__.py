"""Test realtime voice flows with Voice Lab: a pytest plugin and helpers for Playwright suites.

Load it from your own conftest.py (pytest-playwright provides `browser`, `page`, ...):

    pytest_plugins = ["voice_lab.testing"]

Fixtures: `voice_lab_server` (Voice Lab in a subprocess on a free port of 127.0.0.1, with a
temporary database and the emulator), `voice_lab_server_factory` (the same with your settings),
`voice_lab_scripted_server` (a server whose emulator follows your scripts:
`voice_lab_scripted_server(weather={"turns": [...]})`, then `hold_call(..., script="weather")`),
`voice_lab_browser` (launch Chromium with a WAV file as its microphone), `voice_lab_mic` (the
default microphone's WAV), `voice_lab_console` (the `page`'s console). pytest-playwright's
`browser_type_launch_args` gains the fake-media flags. A failing test leaves a screenshot and the
console of each open page under test-results/ (or pytest-playwright's `--output`).

Helpers: `speech_wav()` and `spoken_wav()` write microphone recordings, `hold_call()` drives the
call page (`declare_tools()` and `answer_tool_calls()` answer the model's function calls from
it), `replay()` runs a recorded call again (its recording's user channel as the microphone, other
settings if given) and returns the new session's id, `CapturedSession.load()` reads what Voice
Lab stored about a call, `import_bundle()` imports a session's bundle from the sessions page, and
`silent_wav()` is the microphone of a page whose call plays a recording.

Golden sets: every `*.golden.json` file pytest walks is collected, a test per replay of a
recorded call with new settings and what it must show against the original (the format:
golden.py).

`python -m voice_lab.testing` serves Voice Lab the way `voice_lab_server` starts it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from ..emulator import scripting
from .audio import silent_wav, speech_wav, spoken_wav, write_wav
from .browser import BrowserLauncher, ConsoleLog, launch_options, save_artifacts
from .call_page import (
    CallFailed,
    answer_tool_calls,
    choose_settings,
    declare_tools,
    hold_call,
    send_client_event,
    start_call,
    stop_call,
    wait_for_responses,
)
from .captured import CapturedSession
from .errors import HarnessError
from .golden import GoldenError
from .golden_run import collect_file, import_bundle
from .proxy import TcpProxy
from .replay import replay
from .server import LiveServer, ServerProcess, start_server

__all__ = [
    "BrowserLauncher",
    "CallFailed",
    "CapturedSession",
    "ConsoleLog",
    "GoldenError",
    "HarnessError",
    "LiveServer",
    "ServerProcess",
    "TcpProxy",
    "answer_tool_calls",
    "choose_settings",
    "declare_tools",
    "hold_call",
    "import_bundle",
    "launch_options",
    "replay",
    "send_client_event",
    "silent_wav",
    "speech_wav",
    "spoken_wav",
    "start_call",
    "start_server",
    "stop_call",
    "wait_for_responses",
    "write_wav",
]


@pytest.fixture(scope="session")
def voice_lab_server(tmp_path_factory) -> Iterator[ServerProcess]:
    """Voice Lab with its emulator, served by a subprocess for the whole test session."""
    with _started(tmp_path_factory.mktemp("voice-lab-server")) as server:
        yield server


@pytest.fixture
def voice_lab_server_factory(tmp_path_factory) -> Iterator[Callable[..., ServerProcess]]:
    """Start more servers with settings of their own: `voice_lab_server_factory(VAR="value")`."""
    servers: list[ServerProcess] = []

    def start(**env: str) -> ServerProcess:
        servers.append(_started(tmp_path_factory.mktemp("voice-lab-server"), env))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def voice_lab_scripted_server(
    tmp_path_factory, voice_lab_server_factory
) -> Callable[..., ServerProcess]:
    """`voice_lab_scripted_server(name=script, ...)`: a server whose scripts folder holds these
    scripts (objects in the emulator's script format; a bad one fails here, naming the field)."""

    def start(**scripts: Mapping) -> ServerProcess:
        folder = tmp_path_factory.mktemp("voice-lab-scripts")
        for name, script in scripts.items():
            try:
                scripting.parse(script, name)
            except scripting.ScriptError as exc:
                pytest.fail(f"script {name}: {exc}", pytrace=False)
            (folder / f"{name}.json").write_text(json.dumps(script), encoding="utf-8")
        return voice_lab_server_factory(VOICE_LAB_SCRIPTS_DIR=str(folder))

    return start


def _started(workdir: Path, env: Mapping[str, str] | None = None) -> ServerProcess:
    try:
        return start_server(workdir, env)
    except HarnessError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def voice_lab_mic(tmp_path_factory) -> Path:
    """The default microphone: 2 s of voice-like sound between silences."""
    return speech_wav(tmp_path_factory.mktemp("voice-lab-mic") / "speech.wav")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, voice_lab_mic) -> dict:
    """pytest-playwright's Chromium, with fake media and `voice_lab_mic` looping as the mic."""
    return {**browser_type_launch_args, **launch_options(voice_lab_mic, loop=True)}


@pytest.fixture
def voice_lab_browser(browser_type, browser_type_launch_args) -> Iterator[BrowserLauncher]:
    """`voice_lab_browser(wav, loop=False)` launches a Chromium playing `wav` as its mic."""
    launcher = BrowserLauncher(browser_type, browser_type_launch_args)
    yield launcher
    launcher.close()


@pytest.fixture
def voice_lab_console(page) -> ConsoleLog:
    """The `page`'s console output and errors, from the start of the test."""
    return ConsoleLog(page)


def pytest_collect_file(file_path, parent):
    """Golden files (`*.golden.json`) are collected as tests, one per replay (see golden.py)."""
    return collect_file(file_path, parent)


def pytest_collection_modifyitems(items) -> None:
    """Browser tests run last: Playwright's sync API marks the main thread's asyncio loop as
    running until the session ends, so a later test's own asyncio.run() would be refused."""
    browser = [item for item in items if "playwright" in getattr(item, "fixturenames", ())]
    others = [item for item in items if "playwright" not in getattr(item, "fixturenames", ())]
    items[:] = others + browser


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """When a test fails, keep a screenshot and the console of every page it had open."""
    report = yield
    if report.failed and report.when in ("setup", "call"):
        save_artifacts(item)
    return report
