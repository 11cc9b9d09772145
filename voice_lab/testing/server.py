"""Voice Lab served for tests on a free port of 127.0.0.1: an app in this process (LiveServer),
or a subprocess the way the `voice_lab_server` fixture starts it (voice_lab/serving.py is what it
runs)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from werkzeug.serving import make_server

from ..serving import READY
from .errors import HarnessError

START_TIMEOUT = 30.0
# Settings the subprocess must not inherit: they would pick a cloud provider or another database.
_INHERITED_PREFIXES = ("VOICE_LAB_", "AZURE_OPENAI_", "OPENAI_")


class LiveServer:
    """A threaded werkzeug server for `app` on a free port of 127.0.0.1, in this process.

    Its socket is bound when it is built, so it answers as soon as the block starts; an app that
    cannot start raises where it is created, with no output to wait for.
    """

    def __init__(self, app):
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


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
                self.stop()
                raise HarnessError(
                    f"Voice Lab exited with code {self.process.returncode}:\n{self.output()}"
                )
            time.sleep(0.05)
        self.stop()
        raise HarnessError(f"Voice Lab did not start within {timeout:g} s:\n{self.output()}")

    def kill(self) -> None:
        """Kill the server as a crash would: no goodbye to its sockets, nothing flushed."""
        if self.process.stdin:
            self.process.stdin.close()
        self.process.kill()
        self.process.wait(5)

    def stop(self) -> None:
        """Stop the server: close its stdin (it shuts down on that), then SIGTERM and SIGKILL
        after 5 s each."""
        if self.process.stdin:
            self.process.stdin.close()
        for escalate in (self.process.terminate, self.process.kill):
            try:
                self.process.wait(5)
                return
            except subprocess.TimeoutExpired:
                escalate()
        self.process.wait(5)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_server(
    workdir: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = START_TIMEOUT,
    port: int = 0,
) -> ServerProcess:
    """Start Voice Lab in `workdir` with the emulator on a fresh database, plus `env` settings
    (VOICE_LAB_DATABASE among them serves a database of your own), on `port` or a free one.

    Started again with the same `workdir` and `port`, it serves the same database at the same
    address, as a restarted server would.

    The environment's own Voice Lab, Azure and OpenAI variables are left out, and the working
    directory is `workdir`, so a project's .env cannot turn the test server into a cloud one.
    The server serves until its stdin closes, so it never outlives the process that started it.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    root = str(Path(__file__).resolve().parent.parent.parent)
    settings = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_PREFIXES)}
    settings.update(
        {
            "VOICE_LAB_PROVIDER": "emulator",
            "VOICE_LAB_EMULATOR": "on",
            "VOICE_LAB_DATABASE": str(workdir / "voice_lab.sqlite3"),
            "VOICE_LAB_MINT_RATE": "10000/60",  # a suite mints far faster than a person
            "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))),
            "PYTHONUNBUFFERED": "1",
        }
    )
    settings.update(env or {})
    log_path = workdir / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "voice_lab.serving", "--until-stdin-closes", f"--port={port}"],
            cwd=workdir,
            env=settings,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = ServerProcess(process, log_path, workdir / settings["VOICE_LAB_DATABASE"])
    server.wait_ready(timeout)
    return server
