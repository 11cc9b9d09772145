"""Chromium for voice tests: its fake-media launch options, launchers playing a chosen WAV as
the microphone, page consoles, and the screenshots a failing test leaves."""

from __future__ import annotations

import os
import re
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page

from .errors import HarnessError

DEBIAN_CHROMIUM = "/usr/bin/chromium"
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
