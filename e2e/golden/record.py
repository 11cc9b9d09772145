"""Remake weather.zip, the golden set's recorded call: Chromium asks the emulator "What is the
weather like today?" (espeak-ng's voice as the microphone), the emulator answers, the page sends
a text by hand (a user message and its response.create, which a replay with client events sends
again) and the emulator answers that too; the session's bundle (its events and its stereo
recording, a few seconds) is saved beside this file.

Run from the repository's root: `.venv/bin/python -m e2e.golden.record` (espeak-ng and Chromium
needed, as for the e2e tests). The bundle's bytes differ from run to run (times, ids), its call
does not: replays of it, in calls.golden.json and the README's example, expect only what any
such recording holds.
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import requests
from playwright.sync_api import sync_playwright

from voice_lab.exchange.bundle import AUDIO_MEMBER
from voice_lab.testing import (
    hold_call,
    launch_options,
    send_client_event,
    spoken_wav,
    start_server,
    wait_for_responses,
)

QUESTION = "What is the weather like today?"
TEXT = {
    "type": "conversation.item.create",
    "item": {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "And tomorrow?"}],
    },
}
BUNDLE = Path(__file__).with_name("weather.zip")
PAUSE_MS = 2000


def record(bundle: Path = BUNDLE) -> Path:
    """Hold the call against a fresh Voice Lab and write its bundle to `bundle`."""
    with tempfile.TemporaryDirectory() as folder:
        mic = spoken_wav(Path(folder) / "question.wav", QUESTION)
        with start_server(Path(folder) / "server") as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(**launch_options(mic, loop=False))
            try:
                page = browser.new_page()
                session_id = hold_call(
                    page, server.url, {"label": "golden: weather"}, during=_send_text
                )
            finally:
                browser.close()
            reply = requests.get(f"{server.url}/sessions/{session_id}/export.zip", timeout=30)
            reply.raise_for_status()
    bundle.write_bytes(reply.content)
    with zipfile.ZipFile(bundle) as written:
        if AUDIO_MEMBER not in written.namelist():
            raise SystemExit(f"{bundle.name} has no recording: is VOICE_LAB_RECORDING off?")
    return bundle


def _send_text(page) -> None:
    """After the spoken question's answer, a pause, then a typed question and its answer."""
    # The pause is part of the call: a replay sends the text again at this offset, and its own
    # first answer may end a little later than this one did, so the text must not crowd it.
    page.wait_for_timeout(PAUSE_MS)
    send_client_event(page, TEXT)
    send_client_event(page, {"type": "response.create"})
    wait_for_responses(page, 2)


if __name__ == "__main__":
    written = record()
    print(f"{written}: {written.stat().st_size} bytes")
