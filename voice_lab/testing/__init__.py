"""Test realtime voice flows with Voice Lab: a pytest plugin and helpers for Playwright suites.

Load it from your own conftest.py (pytest-playwright provides `browser`, `page`, ...):

    pytest_plugins = ["voice_lab.testing"]

Fixtures: `voice_lab_server` (Voice Lab in a subprocess on a free port of 127.0.0.1, with a
temporary database and the emulator), `voice_lab_server_factory` (the same with your settings),
`voice_lab_browser` (launch Chromium with a WAV file as its microphone), `voice_lab_mic` (the
default microphone's WAV), `voice_lab_console` (the `page`'s console). pytest-playwright's
`browser_type_launch_args` gains the fake-media flags. A failing test leaves a screenshot and the
console of each open page under test-results/ (or pytest-playwright's `--output`).

Helpers: `speech_wav()` and `spoken_wav()` write microphone recordings, `hold_call()` drives the
call page, `CapturedSession.load()` reads what Voice Lab stored about a call.

`python -m voice_lab.testing` serves Voice Lab the way `voice_lab_server` starts it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import wave
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page

from ..analysis import metrics, review, timeline
from ..emulator import voice
from ..protocol.events import Event, normalize_type, parse_event

DEBIAN_CHROMIUM = "/usr/bin/chromium"
READY = "Voice Lab test server on"
START_TIMEOUT = 30.0
CALL_TIMEOUT_MS = 30_000
RATE = 48000
# Chromium's fake capture: a WAV as the microphone; loopback ICE for hosts with no other interface.
FAKE_MEDIA_ARGS = (
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
)
QUIET_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
)
# Settings the subprocess must not inherit: they would pick a cloud provider or another database.
_INHERITED_PREFIXES = ("VOICE_LAB_", "AZURE_OPENAI_", "OPENAI_")


class HarnessError(RuntimeError):
    """The harness cannot do what was asked; the message says how to fix it."""


# ---------------------------------------------------------------- microphone recordings


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE) -> Path:
    """Mono 16-bit samples as a WAV (Chromium plays 24-bit WAVs as silence)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.astype(np.int16).tobytes())
    return path


def padded(samples: np.ndarray, rate: int, before: float = 1.5, after: float = 2.5) -> np.ndarray:
    """Speech with silence around it: VAD needs the pause after speech to see it end."""
    silence = np.zeros(int(before * rate), dtype=np.int16), np.zeros(int(after * rate), np.int16)
    return np.concatenate((silence[0], samples.astype(np.int16), silence[1]))


def speech_wav(path: Path, seconds: float = 2.0, seed: int = 11) -> Path:
    """A WAV of synthesized voice-like sound (no speech engine needed), padded with silence."""
    return write_wav(path, padded(voice.speech_like(seconds, seed=seed), RATE))


def spoken_wav(path: Path, text: str, rate: int = 16000) -> Path:
    """A WAV of `text` spoken by espeak-ng, padded with silence; HarnessError without espeak-ng."""
    engine = shutil.which("espeak-ng")
    if engine is None:
        raise HarnessError("spoken_wav needs espeak-ng (apt-get install espeak-ng); or speech_wav")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run([engine, "-w", str(raw), text], check=True, capture_output=True)
        with wave.open(str(raw)) as wav:
            source_rate = wav.getframerate()
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
    positions = np.arange(0, len(samples), source_rate / rate)
    resampled = np.interp(positions, np.arange(len(samples)), samples)
    return write_wav(path, padded(resampled, rate), rate)


# ---------------------------------------------------------------- Chromium


def chromium_path() -> str | None:
    """The Chromium to run: VOICE_LAB_CHROMIUM, else Debian's, else None (Playwright's own)."""
    chosen = os.environ.get("VOICE_LAB_CHROMIUM")
    if chosen:
        if not Path(chosen).is_file():
            raise HarnessError(f"VOICE_LAB_CHROMIUM={chosen} is not a file: fix it or unset it")
        return chosen
    return DEBIAN_CHROMIUM if Path(DEBIAN_CHROMIUM).is_file() else None


def launch_options(mic: Path, loop: bool = True) -> dict[str, Any]:
    """Playwright launch options: Chromium with `mic` as its microphone (once unless loop)."""
    capture = f"--use-file-for-fake-audio-capture={mic}{'' if loop else '%noloop'}"
    options: dict[str, Any] = {"args": [*FAKE_MEDIA_ARGS, capture, *QUIET_ARGS]}
    executable = chromium_path()
    if executable:
        options["executable_path"] = executable
    return options


class ConsoleLog:
    """What a page printed to its console and the errors it threw, from attachment on."""

    def __init__(self, page) -> None:
        self.lines: list[str] = []
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", self._pageerror)
        _CONSOLES[page] = self

    def _console(self, message) -> None:
        line = f"{message.type}: {message.text} ({message.location.get('url')})"
        self.lines.append(line)
        if message.type == "error":
            self.errors.append(f"{message.text} ({message.location.get('url')})")

    def _pageerror(self, exc) -> None:
        self.lines.append(f"pageerror: {exc}")
        self.errors.append(f"pageerror: {exc}")


_CONSOLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LAUNCHERS: weakref.WeakSet = weakref.WeakSet()


class BrowserLauncher:
    """Launches Chromium with a chosen WAV as the microphone; closes them all at the end."""

    def __init__(self, browser_type, base_options: Mapping[str, Any]) -> None:
        self.browser_type = browser_type
        self.base_options = dict(base_options)
        self.browsers: list = []
        _LAUNCHERS.add(self)

    def __call__(self, mic: Path, loop: bool = False):
        """A new Chromium whose microphone plays `mic` (once, unless loop)."""
        try:
            browser = self.browser_type.launch(**{**self.base_options, **launch_options(mic, loop)})
        except Exception as exc:
            raise HarnessError(
                f"Chromium did not start ({exc}). Install Debian's chromium, point "
                "VOICE_LAB_CHROMIUM at a Chromium, or run `playwright install chromium`."
            ) from exc
        self.browsers.append(browser)
        return browser

    def page(self, mic: Path, loop: bool = False):
        """A page in a new Chromium playing `mic`, its console recorded (see console_of)."""
        page = self(mic, loop).new_context().new_page()
        ConsoleLog(page)
        return page

    def close(self) -> None:
        """Close every browser launched here."""
        for browser in self.browsers:
            browser.close()
        self.browsers.clear()


def console_of(page) -> ConsoleLog | None:
    """The ConsoleLog attached to `page`, if any."""
    return _CONSOLES.get(page)


# ---------------------------------------------------------------- the server


class ServerProcess:
    """Voice Lab served by a subprocess on a free port of 127.0.0.1 (see start_server)."""

    def __init__(self, process: subprocess.Popen, log_path: Path, database: Path) -> None:
        self.process, self.log_path, self.database = process, log_path, database
        self.url = ""

    def output(self) -> str:
        """Everything the server printed so far."""
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float) -> None:
        """Wait for the server's address; HarnessError with its output if it dies or hangs."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(rf"{READY} (http://\S+)", self.output())
            if found:
                self.url = found.group(1)
                return
            if self.process.poll() is not None:
                raise HarnessError(
                    f"Voice Lab exited with code {self.process.returncode}:\n{self.output()}"
                )
            time.sleep(0.05)
        self.stop()
        raise HarnessError(f"Voice Lab did not start within {timeout:g} s:\n{self.output()}")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_server(
    workdir: Path, env: Mapping[str, str] | None = None, timeout: float = START_TIMEOUT
) -> ServerProcess:
    """Start Voice Lab in `workdir` with the emulator on a fresh database, plus `env` settings.

    The environment's own Voice Lab, Azure and OpenAI variables are left out, and the working
    directory is `workdir`, so a project's .env cannot turn the test server into a cloud one.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "voice_lab.sqlite3"
    root = str(Path(__file__).resolve().parent.parent.parent)
    settings = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}
    settings.update(
        {
            "VOICE_LAB_PROVIDER": "emulator",
            "VOICE_LAB_EMULATOR": "on",
            "VOICE_LAB_DATABASE": str(database),
            "VOICE_LAB_MINT_RATE": "10000/60",  # a suite mints far faster than a person
            "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))),
            "PYTHONUNBUFFERED": "1",
        }
    )
    settings.update(env or {})
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "voice_lab.testing"],
            cwd=workdir,
            env=settings,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(process, log_path, database)
    server.wait_ready(timeout)
    return server


def serve() -> None:
    """Serve Voice Lab (settings from the environment) on a free port, printing its address."""
    from werkzeug.serving import make_server

    from .. import create_app

    app = create_app()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"{READY} http://127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever(poll_interval=0.1)


class TcpProxy:
    """A loopback TCP proxy in front of a server, to cut its connections and bring them back.

    Point the browser at `proxy.url`: `cut()` closes every connection (the browser sees the
    server drop them) and refuses new ones until `restore()`.
    """

    def __init__(self, target_url: str) -> None:
        self.target = ("127.0.0.1", int(target_url.rsplit(":", 1)[1].split("/")[0]))
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.open = True
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.connections |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            self._drop(end)

    def _drop(self, end: socket.socket) -> None:
        with self.lock:
            self.connections.discard(end)
        try:
            end.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        end.close()

    def cut(self) -> None:
        """Close every connection now and refuse new ones."""
        self.open = False
        with self.lock:
            ends = list(self.connections)
        for end in ends:
            self._drop(end)

    def restore(self) -> None:
        """Accept connections again."""
        self.open = True

    def close(self) -> None:
        """Stop listening and close everything."""
        self.cut()
        self.listener.close()


# ---------------------------------------------------------------- the call page


class CallFailed(AssertionError):
    """The call page could not start the call; the message is what the page showed."""


def choose_settings(page, settings: Mapping[str, Any]) -> None:
    """Set the call page's settings by field name (provider, protocol, scenario, label, ...).

    A scenario with seconds (`drop_call:2`) is added to the scenario choices first.
    """
    for name, value in settings.items():
        field = page.locator(f"#settings [name={name}]")
        kind = field.evaluate("el => el.type")
        if kind == "checkbox":
            field.set_checked(bool(value))
        elif kind.startswith("select"):
            field.evaluate(
                "(el, v) => { if (![...el.options].some(o => o.value === v))"
                " el.add(new Option(v, v)); }",
                str(value),
            )
            field.select_option(str(value))
        else:
            field.fill(str(value))


def start_call(
    page, base_url: str, settings: Mapping[str, Any] | None = None, timeout_ms=CALL_TIMEOUT_MS
) -> str:
    """Open /call, apply `settings`, press Start and wait for the call to be live; its session id.

    CallFailed with the page's message when the call ends before it is live (a mint error).
    """
    page.goto(f"{base_url}/call")
    page.wait_for_selector("#call[data-ready=true]")
    choose_settings(page, settings or {})
    page.get_by_test_id("start").click()
    page.wait_for_selector("#call[data-phase=live], #call[data-phase=ended]", timeout=timeout_ms)
    if page.locator("#call").get_attribute("data-phase") == "ended":
        raise CallFailed(page.get_by_test_id("call-error").text_content())
    return page.get_by_test_id("session-link").text_content()


def wait_for_responses(page, count: int = 1, timeout_ms=CALL_TIMEOUT_MS) -> None:
    """Wait until the call page listed `count` response.done events in all."""
    page.wait_for_function(
        "n => document.querySelectorAll(\"[data-testid=event][data-type='response.done']\")"
        ".length >= n",
        arg=count,
        timeout=timeout_ms,
    )


def stop_call(page, timeout_ms=10_000) -> None:
    """Press Stop and wait until the mirror handed everything over."""
    page.get_by_test_id("stop").click()
    page.wait_for_selector("#call[data-phase=ended]", timeout=timeout_ms)


def hold_call(
    page,
    base_url: str,
    settings: Mapping[str, Any] | None = None,
    responses: int = 1,
    during: Callable[[Any], None] | None = None,
    timeout_ms=CALL_TIMEOUT_MS,
) -> str:
    """Start a call from the call page, wait for `responses` answers to the page's microphone,
    run `during(page)` if given, stop; the session id."""
    session_id = start_call(page, base_url, settings, timeout_ms)
    wait_for_responses(page, responses, timeout_ms)
    if during is not None:
        during(page)
    stop_call(page)
    return session_id


# ---------------------------------------------------------------- the stored session


@dataclass(frozen=True)
class CapturedSession:
    """A stored session as Voice Lab exports it, with assertions over its events."""

    session: dict[str, Any]
    events: list[Event]
    document: dict[str, Any]

    @classmethod
    def load(cls, base_url: str, session_id: str, timeout: float = 10) -> CapturedSession:
        """Download the session's export from a running Voice Lab."""
        reply = requests.get(f"{base_url}/sessions/{session_id}/export.json", timeout=timeout)
        reply.raise_for_status()
        return cls.from_export(reply.json())

    @classmethod
    def from_export(cls, document: dict[str, Any]) -> CapturedSession:
        """A CapturedSession from an export document (voice-lab.session, version 1)."""
        events = [parse_event(e["seq"], e["dir"], e["t"], e["event"]) for e in document["events"]]
        return cls(document["session"], events, document)

    def types(self, direction: str | None = None) -> list[str]:
        """Event types in seq order, optionally of one direction (server, client, local)."""
        return [e.type or "" for e in self.events if direction is None or e.direction == direction]

    def of_type(self, type_: str) -> list[Event]:
        """The events of a type (beta and GA names match each other)."""
        wanted = normalize_type(type_)
        return [e for e in self.events if normalize_type(e.type) == wanted]

    def assert_order(self, types: Sequence[str], direction: str | None = None) -> None:
        """Assert the types occur in this order (others may come between; beta = GA names)."""
        seen = iter(normalize_type(t) for t in self.types(direction))
        for position, wanted in enumerate(types):
            if normalize_type(wanted) not in seen:
                raise AssertionError(
                    f"{wanted!r} (#{position + 1} of {list(types)}) does not follow "
                    f"{list(types[:position])} in {self.types(direction)}"
                )

    def latencies(self) -> list[metrics.Latency]:
        """Latency of each response (see voice_lab.metrics.Latency)."""
        return metrics.latencies(self.events)

    def latency(self) -> dict[str, metrics.Stat]:
        """p50/p95 of each latency figure: to_created_ms, to_first_text_ms, ... by name."""
        return {s.name: s for s in metrics.latency_stats(self.latencies())}

    def assert_latency_under(self, ms: float, figure: str = "to_first_audio_ms") -> None:
        """Assert the p95 of a latency figure is measured and under `ms`."""
        stat = self.latency()[figure]
        assert stat.p95 is not None, f"no response has {figure}"
        assert stat.p95 < ms, f"{figure} p95 is {stat.p95:.0f} ms (budget {ms:g} ms)"

    def errors(self) -> list[review.ErrorInfo]:
        """Error events, failed or incomplete responses and cancelled responses."""
        return review.errors(self.events)

    def checks(self) -> list[review.Check]:
        """The protocol checks of the session page (responses finish, no errors, ...)."""
        return review.protocol_checks(self.events)

    def transcript(self) -> list[timeline.Line]:
        """What each side said."""
        return timeline.transcript(self.events)

    def assert_no_errors(self) -> None:
        """Assert no error is pinned and every protocol check holds."""
        errors = [f"#{e.seq} {e.type}: {e.message}" for e in self.errors()]
        failed = [f"{c.name}: {c.detail}" for c in self.checks() if not c.ok]
        assert not errors and not failed, f"errors {errors}, failed checks {failed}"


# ---------------------------------------------------------------- fixtures


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


def save_artifacts(item) -> None:
    """Screenshots, URLs and consoles of the open pages (the test's fixtures' and those of every
    BrowserLauncher), in test-results/."""
    pages = _open_pages([*item.funcargs.values(), *_LAUNCHERS])
    if not pages:
        return
    output = Path(item.config.getoption("output", None) or "test-results")
    folder = output / re.sub(r"[^A-Za-z0-9_.-]+", "-", item.nodeid).strip("-")
    folder.mkdir(parents=True, exist_ok=True)
    for number, page in enumerate(pages, 1):
        try:
            page.screenshot(path=str(folder / f"page-{number}.png"), full_page=True)
            url = page.url
        except Exception as exc:  # a page that is closed or crashed still gets its console
            url = f"(no screenshot: {exc})"
        log = console_of(page)
        lines = [f"url: {url}", *(log.lines if log else ["(console not recorded)"])]
        (folder / f"page-{number}-console.txt").write_text("\n".join(lines) + "\n")


def _open_pages(values) -> list:
    """Pages reachable from fixture values: pages, contexts, browsers and launchers."""
    pages: list = []
    for value in values:
        if isinstance(value, BrowserLauncher):
            found = [p for b in value.browsers for c in b.contexts for p in c.pages]
        elif isinstance(value, Browser):
            found = [p for c in value.contexts for p in c.pages]
        elif isinstance(value, BrowserContext):
            found = list(value.pages)
        elif isinstance(value, Page):
            found = [value]
        else:
            found = []
        pages += [p for p in found if all(p is not q for q in pages)]
    return pages
