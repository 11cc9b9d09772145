"""Voice Lab's entry point: `python app.py` serves on VOICE_LAB_HOST:VOICE_LAB_PORT."""

import sys

from voice_lab import create_app
from voice_lab.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    sys.exit(f"Voice Lab cannot start: {exc}")

if __name__ == "__main__":
    app.run(host=app.config["VOICE_LAB_HOST"], port=app.config["VOICE_LAB_PORT"], threaded=True)
