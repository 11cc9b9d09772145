"""Voice Lab served by gunicorn for tests and benchmarks: a master with its gthread workers on
a free port of 127.0.0.1, as team mode runs it (see the README's "Team mode")."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import requests

from .errors import HarnessError
from .server import _INHERITED_PREFIXES, START_TIMEOUT

ROOT = Path(__file__).resolve().parent.parent.parent


class Gunicorn:
    """`gunicorn -w WORKERS --threads 8 -k gthread 'voice_lab:create_app()'` in `workdir`, with
    `env` as its only Voice Lab settings (VOICE_LAB_DATABASE among them)."""

    def __init__(self, workdir: Path, env: Mapping[str, str], workers: int = 1):
        workdir.mkdir(parents=True, exist_ok=True)
        settings = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}
        settings.update({"PYTHONPATH": str(ROOT), **env})
        self.log = workdir / "gunicorn.log"
        with self.log.open("wb") as log:
            self.master = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "-w", str(workers), "--threads", "8"]
                + ["-k", "gthread", "-b", "127.0.0.1:0"]
                # Masters on one host would share one control socket: none needs it here.
                + ["--no-control-socket", "voice_lab:create_app()"],
                cwd=workdir,
                env=settings,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.url = ""
        self._wait_ready(workers)

    def _wait_ready(self, workers: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.master.poll() is not None:
                raise HarnessError(f"gunicorn exited:\n{self.log.read_text(errors='replace')}")
            port = self._port()
            if port and len(self.worker_pids()) == workers and self._serves(port):
                self.url = f"http://127.0.0.1:{port}"
                return
            time.sleep(0.05)  # a poll of the server's state, not a guess at how long it takes
        self.stop()
        raise HarnessError(f"gunicorn did not serve in time:\n{self.log.read_text()}")

    def _port(self) -> int:
        for line in self.log.read_text(errors="replace").splitlines():
            if "Listening at: http://127.0.0.1:" in line:
                return int(line.rsplit(":", 1)[1].split()[0])
        return 0

    @staticmethod
    def _serves(port: int) -> bool:
        try:
            return requests.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 200
        except requests.ConnectionError:
            return False

    def worker_pids(self) -> list[int]:
        """The PIDs of the master's workers now."""
        pid = self.master.pid
        return [int(n) for n in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]

    def stop(self) -> None:
        """Stop the master and its workers (SIGTERM, then SIGKILL after 10 s)."""
        self.master.terminate()
        try:
            self.master.wait(10)
        except subprocess.TimeoutExpired:
            self.master.kill()
            self.master.wait(5)
