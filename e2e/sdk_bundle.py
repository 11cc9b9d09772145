"""The Agents SDK page's bundle: npm installs e2e/sdk's locked packages (the official
@openai/agents-realtime, zod, esbuild) and esbuild bundles page.js into e2e/sdk/dist, once, and
again only when one of its inputs changed.

`python -m e2e.sdk_bundle` builds it (the Makefile's `sdk` step); the e2e test builds it too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

SDK = Path(__file__).resolve().parent / "sdk"
BUNDLE = SDK / "dist" / "page.js"
PAGE = SDK / "page.html"
MIRRORED_PAGE = SDK / "mirrored.html"  # the same page with capture()'s two lines
INSTALLED = SDK / "node_modules" / ".package-lock.json"  # npm writes it after an install
INPUTS = (SDK / "package.json", SDK / "package-lock.json", SDK / "page.js")
NEEDS = (
    "the Agents SDK test needs Node.js 18+ and npm with the npm registry reachable: "
    "install them (Debian: apt-get install nodejs npm) and check the network"
)
NPM_TIMEOUT = 600.0


class BundleUnavailable(Exception):
    """npm is missing or could not install the SDK: nothing is wrong with Voice Lab."""


def bundle() -> Path:
    """The bundle's path, built first unless it is newer than everything it is made from."""
    if _newer(BUNDLE, (*INPUTS, INSTALLED)):
        return BUNDLE
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        raise BundleUnavailable(NEEDS)
    if not _newer(INSTALLED, INPUTS[:2]):
        # npm's cache stays beside node_modules (gitignored): a reinstall asks the registry
        # only for packages it never fetched.
        install = _npm(npm, "ci", "--prefer-offline", f"--cache={SDK / '.npm-cache'}")
        if install.returncode != 0:
            raise BundleUnavailable(f"{NEEDS} (npm ci: {_last_line(install)})")
    built = _npm(npm, "run", "build")
    if built.returncode != 0:
        raise RuntimeError(f"esbuild could not bundle e2e/sdk/page.js:\n{built.stderr}")
    return BUNDLE


def in_ci() -> bool:
    """Whether this is CI, where a missing SDK fails the test instead of skipping it."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _npm(npm: str, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [npm, *args], cwd=SDK, capture_output=True, text=True, timeout=NPM_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise BundleUnavailable(f"{NEEDS} (npm {args[0]} ran past {NPM_TIMEOUT:g} s)") from exc


def _newer(target: Path, sources: tuple[Path, ...]) -> bool:
    if not target.exists():
        return False
    made = target.stat().st_mtime
    return all(not source.exists() or source.stat().st_mtime <= made for source in sources)


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
    return lines[-1].strip() if lines else f"exit code {done.returncode}"


def main() -> int:
    """Build the bundle; without npm, exit 1 in CI and 0 elsewhere (the test skips there)."""
    try:
        print(f"sdk bundle: {bundle().relative_to(SDK.parent.parent)}")
    except BundleUnavailable as exc:
        print(f"sdk bundle: {exc}", file=sys.stderr)
        return 1 if in_ci() else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
