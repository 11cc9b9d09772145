"""`python -m bench.server DATABASE [--emulator]`: serve Voice Lab for a benchmark.

Prints its URL on the first line of stdout and serves (werkzeug, threaded, as `python app.py`)
until stdin closes, so it never outlives the benchmark that started it.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading

from werkzeug.serving import make_server

from voice_lab import create_app


def main() -> None:
    """Serve until stdin closes."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("database")
    parser.add_argument("--emulator", action="store_true")
    args = parser.parse_args()
    settings = {"VOICE_LAB_DATABASE": args.database}
    if args.emulator:
        settings["VOICE_LAB_PROVIDER"] = "emulator"
    else:
        # A cloud provider that is never called keeps the emulator (and its loop) off. Its key
        # is as long as a real one, so that every event is checked for it, as in production.
        settings["OPENAI_API_KEY"] = "sk-unused-7f3a9c1e5b0d2486f1c3a5e7b9d0c2e4f6a8b1d3c5e7f9"
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"http://127.0.0.1:{server.server_port}", flush=True)
    sys.stdin.read()
    server.shutdown()
    emulator = app.extensions.get("voice_lab_emulator")
    if emulator is not None:
        emulator.shutdown()


if __name__ == "__main__":
    main()
