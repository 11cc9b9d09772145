"""`python -m voice_lab.testing.ready`: make this machine ready for the browser tests, or say in
one line what to install.

The browser tests need a Chromium. This finds one (VOICE_LAB_CHROMIUM, Debian's, or
Playwright's own); where none is, it installs one where it can: Debian's `chromium` with apt-get
when run as root, else Playwright's own with `playwright install chromium` (which needs to reach
Playwright's download host). `make test` runs it before pytest, so a machine without a browser
stops with one line instead of a wall of launch errors.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from .browser import chromium_path
from .errors import HarnessError

INSTALL_TIMEOUT = 600
FIX = (
    "no Chromium for the browser tests: install Debian's chromium (apt-get install chromium), "
    "or run `playwright install chromium`, or set VOICE_LAB_CHROMIUM to a Chromium binary"
)


def playwright_chromium() -> str | None:
    """Playwright's own Chromium, if it has been downloaded."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        path = playwright.chromium.executable_path
    return path if Path(path).is_file() else None


def find() -> str | None:
    """The Chromium the tests will run, or None."""
    return chromium_path() or playwright_chromium()


def _run(command: list[str], env: dict[str, str] | None = None) -> bool:
    print("voice_lab.testing.ready: " + " ".join(command), file=sys.stderr, flush=True)
    try:
        done = subprocess.run(command, env=env, timeout=INSTALL_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def install() -> None:
    """Install a Chromium where this machine allows it, quietly doing nothing where it cannot."""
    if os.geteuid() == 0 and shutil.which("apt-get"):
        apt = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if _run(["apt-get", "update", "-q"], apt) and _run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"], apt
        ):
            return
    _run([sys.executable, "-m", "playwright", "install", "chromium"])


def ensure() -> str:
    """A Chromium's path, installing one first if needed; HarnessError saying what to install
    when there is none."""
    found = find()
    if found:
        return found
    install()
    found = find()
    if not found:
        raise HarnessError(FIX)
    return found


def main() -> None:
    """Ensure a Chromium; exit 1 with one line when there is none."""
    try:
        path = ensure()
    except HarnessError as exc:
        sys.exit(f"voice_lab.testing.ready: {exc}")
    print(f"voice_lab.testing.ready: Chromium at {path}")


if __name__ == "__main__":
    main()
