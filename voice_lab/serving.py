"""Voice Lab served on 127.0.0.1 (a free port unless told one), its address printed: the process
the test harness starts (`python -m voice_lab.serving`; `python -m voice_lab.testing` runs it by
hand).

It lives outside the harness's package so that the served process loads only the app, not the
pytest plugin's imports (pytest, Playwright, numpy), which would weigh on its memory figures.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Sequence

from werkzeug.serving import make_server

from . import create_app

READY = "Voice Lab test server on"


def serve(argv: Sequence[str] | None = None) -> None:
    """Serve Voice Lab (settings from the environment) on 127.0.0.1, printing its address."""
    parser = argparse.ArgumentParser(prog="python -m voice_lab.serving", description=__doc__)
    parser.add_argument(
        "--until-stdin-closes",
        action="store_true",
        help="stop when stdin closes (as it does when the process that started this one dies)",
    )
    parser.add_argument("--port", type=int, default=0, help="the port (default: a free one)")
    args = parser.parse_args(argv)
    app = create_app()
    server = make_server("127.0.0.1", args.port, app, threaded=True)
    print(f"{READY} http://127.0.0.1:{server.server_port}", flush=True)
    if not args.until_stdin_closes:
        server.serve_forever(poll_interval=0.1)
        return
    # A daemon thread: Ctrl-C in the main thread's read still ends the process.
    worker = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    worker.start()
    sys.stdin.buffer.read()
    server.shutdown()
    emulator = app.extensions.get("voice_lab_emulator")
    if emulator is not None:
        emulator.shutdown()


if __name__ == "__main__":
    serve()
