"""`python -m voice_lab.testing.ready`: a machine without Chromium gets one line saying what to
install, never a wall of launch errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from voice_lab.testing.browser import DEBIAN_CHROMIUM

ROOT = Path(__file__).resolve().parent.parent


def ready(env: dict[str, str], *wrapper: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*wrapper, sys.executable, "-m", "voice_lab.testing.ready"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_wrong_chromium_setting_is_one_line_naming_it():
    done = ready({"VOICE_LAB_CHROMIUM": "/nonexistent/chromium"})
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "voice_lab.testing.ready: VOICE_LAB_CHROMIUM=/nonexistent/chromium is not a file: "
        "fix it or unset it"
    ]


def test_the_chromium_found_is_named():
    done = ready({})
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("voice_lab.testing.ready: Chromium at ")


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare") or not Path(DEBIAN_CHROMIUM).exists(),
    reason="hides Debian's Chromium in a mount namespace, which needs root and unshare",
)
def test_no_chromium_and_no_way_to_install_one_is_one_line_saying_what_to_install(tmp_path):
    # Debian's Chromium hidden, no Playwright browser, no apt-get on PATH, and Playwright's
    # download pointed at a closed port: every way to a browser fails, quickly and offline.
    mount = shutil.which("mount") or "mount"
    only_python = Path(sys.executable).parent
    hide = f'{mount} --bind /dev/null {DEBIAN_CHROMIUM} && PATH={only_python} exec "$@"'
    done = ready(
        {
            "PLAYWRIGHT_BROWSERS_PATH": str(tmp_path / "browsers"),
            "PLAYWRIGHT_DOWNLOAD_HOST": "http://127.0.0.1:9",
            "VOICE_LAB_CHROMIUM": "",
        },
        shutil.which("unshare") or "unshare",
        "--mount",
        "/bin/sh",
        "-c",
        hide,
        "sh",
    )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("voice_lab.testing.ready: no Chromium for the browser tests: install")
    assert "Traceback" not in done.stderr
