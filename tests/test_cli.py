"""The `voice-lab` command (`python -m voice_lab`), run as a user runs it: a subprocess in an
empty folder, settings from its options."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLEAN = {
    k: v for k, v in os.environ.items() if not k.startswith(("VOICE_LAB_", "AZURE_", "OPENAI_"))
}


def voice_lab(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "voice_lab", *args],
        cwd=folder,
        env={**CLEAN, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_database_option_puts_an_import_where_export_finds_it(tmp_path):
    log = tmp_path / "log.json"
    log.write_text(json.dumps([{"type": "session.created", "session": {"id": "sess_1"}}]))
    database = tmp_path / "chosen.sqlite3"
    done = voice_lab(tmp_path, "--database", str(database), "import", str(log))
    assert done.returncode == 0, done.stderr
    session_id = done.stdout.split()[-1]
    assert database.is_file()
    exported = voice_lab(tmp_path, "--database", str(database), "export", session_id)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["events"][0]["type"] == "session.created"


def test_run_refuses_a_bad_port_naming_the_setting(tmp_path):
    done = voice_lab(tmp_path, "run", "--port", "99999")
    assert done.returncode == 1
    assert "Voice Lab cannot start: VOICE_LAB_PORT: must be a port number 0-65535" in done.stderr
    assert "Traceback" not in done.stderr


def test_commands_are_listed(tmp_path):
    done = voice_lab(tmp_path, "--help")
    assert done.returncode == 0
    for command in ("run", "doctor", "export", "import"):
        assert f"  {command} " in done.stdout
