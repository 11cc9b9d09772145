"""Golden sets run by pytest: e2e/golden/calls.golden.json is walked by this suite as it is
(the plugin collects it); here, a golden file whose replay misses what it expects, run by
pytest in a subprocess as a user's suite runs: its report names each expectation missed with
the figures, and the page's screenshot and console are left for it."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from voice_lab.testing import golden

pytestmark = pytest.mark.e2e
pytest_plugins = ["pytester"]

GOLDEN = Path(__file__).parent / "golden"


def test_a_replay_that_misses_its_expectations_reports_each_with_its_figures(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parent.parent))  # voice_lab
    shutil.copy(GOLDEN / "weather.zip", pytester.path)
    pytester.makeconftest('pytest_plugins = ["voice_lab.testing"]')
    replay = {
        "name": "slow",
        "bundle": "weather.zip",
        # The emulator waits 2 s before the reply: slower than the original by far more than
        # 500 ms, whatever the host's speed.
        "settings": {"scenario": "slow_response:2"},
        "expect": {
            "not_slower": {"to_first_audio_ms": 500},
            "latency_under": {"to_first_audio_ms": 1500},
            "same_tools": True,
        },
    }
    data = {"format": golden.FORMAT, "version": 1, "replays": [replay]}
    (pytester.path / "calls.golden.json").write_text(json.dumps(data))
    output = pytester.path / "results"

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--output={output}")

    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    assert "calls.golden.json: replays[0] slow: the replay" in text
    assert "missed 2 of its expectations" in text
    assert re.search(r"- expect\.not_slower\.to_first_audio_ms: .*\d", text), text
    assert re.search(r"- expect\.latency_under\.to_first_audio_ms: .*p95 is \d+ ms", text), text
    assert "expect.same_tools" not in text
    (folder,) = output.iterdir()
    assert {p.name for p in folder.iterdir()} >= {"page-1.png", "page-1-console.txt"}
