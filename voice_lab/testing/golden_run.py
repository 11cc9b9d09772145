"""A golden set's run: each replay of a `*.golden.json` file collected as a test, which imports
the bundle, replays it in Chromium and checks what it expects (the format: golden.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from . import golden
from .audio import silent_wav
from .captured import CapturedSession
from .errors import HarnessError
from .replay import replay

IMPORT_TIMEOUT_MS = 30_000
# pytest rewrites the plugin's asserts: their explanation follows the message, from this on.
REWRITTEN = "\nassert "


def import_bundle(page, base_url: str, bundle: Path, timeout_ms=IMPORT_TIMEOUT_MS) -> str:
    """Import a session's bundle (or any file the sessions page imports) from the sessions
    page's form, as a person would; the new session's id. HarnessError with the page's reason
    when it refuses the file."""
    page.goto(f"{base_url}/")
    page.get_by_test_id("import-file").set_input_files(str(bundle))
    with page.expect_navigation(timeout=timeout_ms):
        page.get_by_test_id("import-submit").click()
    if "/sessions/" not in page.url:
        reason = page.get_by_test_id("import-error").text_content()
        raise HarnessError(f"{bundle.name} was not imported: {reason}")
    return page.url.split("?")[0].rsplit("/", 1)[-1]


def failures(
    expect: golden.Expect, replayed: CapturedSession, original: CapturedSession
) -> list[str]:
    """Each expectation the replay does not meet, as `expect.NAME: why` with its figures."""
    checks: list[tuple[str, Callable[[], object]]] = []
    if expect.no_errors:
        checks.append(("no_errors", replayed.assert_no_errors))
    for figure, by_ms in expect.not_slower.items():
        slower = partial(replayed.assert_not_slower, original, figure, by_ms)
        checks.append((f"not_slower.{figure}", slower))
    if expect.same_tools:
        checks.append(("same_tools", partial(replayed.assert_same_tools, original)))
    for figure, ms in expect.latency_under.items():
        checks.append(
            (f"latency_under.{figure}", partial(replayed.assert_latency_under, ms, figure))
        )
    found = []
    for name, check in checks:
        try:
            check()
        except AssertionError as exc:
            found.append(f"expect.{name}: {str(exc).split(REWRITTEN)[0]}")
    return found


def run_replay(spec: golden.Replay, where: str, server, browser, folder: Path) -> None:
    """Import the bundle, replay it with the spec's settings and check its expectations; a
    failure lists every expectation missed, the sessions and their compare page."""
    page = browser.page(silent_wav(folder / "silence.wav"), loop=True)
    base_url = server.url
    original_id = import_bundle(page, base_url, spec.bundle)
    replay_id = replay(page, base_url, original_id, spec.settings, client_events=spec.client_events)
    replayed = CapturedSession.load(base_url, replay_id)
    missed = failures(spec.expect, replayed, CapturedSession.load(base_url, original_id))
    if missed:
        pytest.fail(
            f"{where}: the replay {replay_id} of {spec.bundle.name} (imported as {original_id})"
            f" missed {len(missed)} of its expectations (compare them at "
            f"{base_url}/compare?a={original_id}&b={replay_id}):\n"
            + "\n".join(f"- {line}" for line in missed),
            pytrace=False,
        )


class GoldenItem(pytest.Function):
    """One replay of a golden file, run as a test with the plugin's server and browser."""

    def reportinfo(self):
        """Where the replay is: its golden file, by name (a line number JSON cannot give)."""
        return self.path, None, f"{self.path.name}::{self.name}"


class GoldenFile(pytest.File):
    """A `*.golden.json` file: a test per replay."""

    def collect(self) -> Iterator[GoldenItem]:
        """A test per replay; a file with a mistake fails collection, saying where and what."""
        for index, spec in enumerate(golden.load(self.path)):
            where = f"{self.path.name}: replays[{index}] {spec.name}"
            yield GoldenItem.from_parent(self, name=spec.name, callobj=_test_of(spec, where))

    def repr_failure(self, excinfo, style=None):
        """A golden file's mistake as its message alone: it names the place and the fix."""
        if excinfo.errisinstance(golden.GoldenError):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)


def _test_of(spec: golden.Replay, where: str) -> Callable[..., None]:
    """The test function of a replay; its arguments name the fixtures it runs with."""

    def test(voice_lab_server, voice_lab_browser, tmp_path) -> None:
        run_replay(spec, where, voice_lab_server, voice_lab_browser, tmp_path)

    return test


def collect_file(file_path: Path, parent) -> GoldenFile | None:
    """The plugin's collection of golden files (`*.golden.json`)."""
    if file_path.name.endswith(golden.SUFFIX):
        return GoldenFile.from_parent(parent, path=file_path)
    return None
