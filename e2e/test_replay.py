"""A recorded emulator call replayed with another voice and another script, in Chromium: the
replay's microphone is the original recording's user channel, played in real time, so the
replay's recording holds it again, lined up within a frame of drift per minute; the replay
links to its original; and a text the original sent by hand goes out again at its offset.

The replay's browser has another WAV as its fake microphone (a tone, not speech): had the call
used the fake device, its user channel would match nothing of the original's."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import requests
from playwright.sync_api import expect

from tests.waiting import until
from voice_lab.analysis.recording import decode
from voice_lab.analysis.speech import segments
from voice_lab.protocol.record import from_row
from voice_lab.storage import open_store
from voice_lab.testing import (
    CallFailed,
    CapturedSession,
    hold_call,
    replay,
    spoken_wav,
    wait_for_responses,
    write_wav,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="spoken_wav needs espeak-ng"),
]

SCRIPTS = {
    "first": {"turns": [{"say": "The first script answers."}]},
    "second": {"turns": [{"say": "The second script answers."}]},
    "weather": {
        "turns": [
            {"turn": 1, "call": {"name": "get_weather", "arguments": {"city": "Paris"}}},
            {"say": "In {city} it is {temperature} degrees."},
        ]
    },
}
RATE = 16000
WINDOW_S = 4.0  # each alignment compares this much of the user's audio
SEARCH_MS = 600  # how far apart the two user channels may start
FRAME_MS = 20.0  # one Opus frame: the most the replay may drift in a minute
# The playback starts as the call goes live, just after the new recording starts (with the
# remote track): 26 ms later in these runs. Later than this, and it was late.
START_MS = 150
OFFSET_MS = 250  # how far a replayed client event may be from its original offset


@pytest.fixture
def settings(settings, tmp_path):
    """The emulator with two scripts of its own."""
    folder = tmp_path / "scripts"
    folder.mkdir()
    for name, script in SCRIPTS.items():
        (folder / f"{name}.json").write_text(json.dumps(script), encoding="utf-8")
    return {**settings, "VOICE_LAB_SCRIPTS_DIR": str(folder)}


def events_of(app, session_id: str) -> list:
    store = open_store(app)
    try:
        return [from_row(row) for row in store.iter_events(session_id)]
    finally:
        store.close()


def recording_t0(events: list) -> float:
    """The recording's start on the events' clock."""
    return next(e.data["t0"] for e in events if e.type == "voicelab.recording")


def sent_at(events: list, text: str) -> float:
    """When the page sent the client event holding `text`."""
    return next(e.t for e in events if e.direction == "client" and text in e.raw)


def tone_wav(path):
    """8 s of a steady 440 Hz tone: a fake microphone nothing like the recorded speech."""
    t = np.arange(8 * RATE) / RATE
    return write_wav(path, (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16), RATE)


def user_channel(server, session_id: str, tmp_path) -> np.ndarray:
    """The recording's left channel, int16 at RATE."""
    url = f"{server.url}/sessions/{session_id}/recording"
    until(lambda: requests.get(url, timeout=60).status_code == 200, "the recording prepared")
    path = tmp_path / f"{session_id}.webm"
    path.write_bytes(requests.get(url, timeout=60).content)
    rate, samples = decode(path, RATE)
    assert rate == RATE
    return samples[:, 0]


def windows(channel: np.ndarray) -> list[float]:
    """Where to compare (s): just before each speech of the channel that has WINDOW_S of audio
    after it."""
    room = len(channel) / RATE - WINDOW_S
    starts = [s.start_ms / 1000 - 0.2 for s in segments(channel, RATE) if s.start_ms / 1000 < room]
    assert len(starts) >= 2, f"the original's user channel has too little speech: {starts}"
    return [max(0.0, start) for start in starts]


def lag_ms(original: np.ndarray, again: np.ndarray, at_s: float) -> tuple[float, float]:
    """Where `original`'s WINDOW_S from `at_s` sits in `again`, in ms later (by the peak of
    their cross-correlation within SEARCH_MS), and how alike they are there (0..1)."""
    a, n, reach = round(at_s * RATE), round(WINDOW_S * RATE), round(SEARCH_MS * RATE / 1000)
    piece = original[a : a + n] / 32768
    around = again[max(0, a - reach) : a + n + reach] / 32768
    size = 1 << (len(around) + n).bit_length()
    spectrum = np.fft.rfft(around, size) * np.conj(np.fft.rfft(piece, size))
    correlation = np.fft.irfft(spectrum, size)[: len(around) - n + 1]
    best = int(np.argmax(correlation))
    energy = np.sqrt(np.sum(piece**2) * np.sum(around[best : best + n] ** 2))
    return (max(0, a - reach) + best - a) * 1000 / RATE, float(correlation[best] / energy)


def test_a_replay_plays_the_recorded_user_channel_with_other_settings(
    voice_lab_browser, server, app, tmp_path
):
    mic = spoken_wav(tmp_path / "mic.wav", "What is the weather like today?")

    def send_a_text(page):
        page.get_by_test_id("text-input").fill("Tell me more.")
        page.get_by_test_id("text-send").click()
        wait_for_responses(page, 4)

    first = voice_lab_browser.page(mic, loop=True)
    chosen = {"label": "original", "voice": "marin"}
    original = hold_call(first, server.url, chosen, script="first", during=send_a_text)

    second = voice_lab_browser.page(tone_wav(tmp_path / "tone.wav"), loop=True)
    again = replay(
        second, server.url, original, {"voice": "cedar", "script": "second"}, client_events=True
    )

    expect(second.get_by_test_id("replay-original")).to_have_text("original")
    # The microphone menu offers no device: the recording is what the call sent.
    expect(second.locator("#mic option")).to_have_text(["the recording's user channel"])
    second.goto(f"{server.url}/sessions/{again}")
    expect(second.get_by_test_id("replay-of-link")).to_have_text("original")
    link = second.get_by_test_id("compare-original").get_attribute("href")
    assert link.endswith(f"/compare?a={original}&b={again}")
    row = requests.get(f"{server.url}/api/sessions/{again}", timeout=10).json()
    assert row["replay_of"] == original and row["voice"] == "cedar"

    before, after = events_of(app, original), events_of(app, again)
    mint = next(e.data for e in after if e.type == "voicelab.mint")
    assert mint["script"] == "second"
    updated = next(e.data for e in after if e.direction == "client" and e.type == "session.update")
    assert updated["session"]["audio"]["output"]["voice"] == "cedar"
    said = " ".join(e.raw for e in after if e.type == "response.done")
    assert "The second script answers." in said and "The first script" not in said

    started = next(e for e in after if e.type == "voicelab.replay" and e.data["phase"] == "start")
    assert started.data["source"] == original and started.data["client_events"] is True
    # The text went out at its offset from the recording's start, counted from the playback's.
    offsets = (
        sent_at(before, "Tell me more.") - recording_t0(before),
        sent_at(after, "Tell me more.") - started.t,
    )
    print(f"the text's offsets: {offsets[0]:.0f}, then {offsets[1]:.0f} ms")
    assert abs(offsets[1] - offsets[0]) < OFFSET_MS

    heard, heard_again = (
        user_channel(server, original, tmp_path),
        user_channel(server, again, tmp_path),
    )
    seconds = len(heard) / RATE
    assert len(heard_again) / RATE > seconds - 0.5  # the whole recording played
    # The original's user audio near the start and near the end, found in the replay's: alike
    # (the same audio, not the fake device's tone), barely later, and as much later at the end
    # (a stretched or slowed playback would drift).
    starts = windows(heard)
    found = [lag_ms(heard, heard_again, start) for start in starts]
    (early, _), (late, _) = found[0], found[-1]
    drift = (late - early) / (starts[-1] - starts[0]) * 60
    report = ", ".join(
        f"{at:.1f} s: {lag:.1f} ms ({alike:.2f})"
        for at, (lag, alike) in zip(starts, found, strict=True)
    )
    print(f"{seconds:.1f} s; later by (alike): {report}; {drift:.1f} ms a minute")
    assert all(alike > 0.8 for _, alike in found), report
    assert abs(early) < START_MS, report
    assert abs(drift) <= FRAME_MS, report


def test_a_replay_of_no_session_or_of_one_without_a_recording_fails_saying_why(page, server, app):
    with pytest.raises(CallFailed, match="no session vl_nope to replay"):
        replay(page, server.url, "vl_nope")
    store = open_store(app)
    try:
        bare = store.create_session(provider="emulator", label="unrecorded")
    finally:
        store.close()
    with pytest.raises(CallFailed, match=f"Cannot replay: HTTP 404: .*{bare} has no recording"):
        replay(page, server.url, bare)
    expect(page.get_by_test_id("replay-original")).to_have_text("unrecorded")


WEATHER = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def test_a_replayed_function_output_answers_the_replay_s_own_call(
    voice_lab_browser, server, tmp_path
):
    # The original declared get_weather and answered its call from the page; its replay's
    # model calls again with an id of its own, which the recorded output must answer.
    mic = spoken_wav(tmp_path / "mic.wav", "What is the weather like in Paris?")
    first = voice_lab_browser.page(mic, loop=False)
    answers = {"get_weather": {"city": "Paris", "temperature": 18, "conditions": "sunny"}}
    original = hold_call(
        first,
        server.url,
        {"label": "tools"},
        responses=2,
        script="weather",
        tools=[WEATHER],
        answers=answers,
    )
    second = voice_lab_browser.page(tone_wav(tmp_path / "tone.wav"), loop=True)
    again = replay(second, server.url, original, client_events=True)

    before, after = (
        CapturedSession.load(server.url, original),
        CapturedSession.load(server.url, again),
    )
    (made,), (remade,) = before.tool_calls(), after.tool_calls()
    assert remade.call_id != made.call_id  # the emulator's ids are its own
    assert remade.output == made.output, "the recorded output answered the replay's call"
    assert not after.errors(), [f"#{e.seq} {e.type}: {e.message}" for e in after.errors()]
    after.assert_same_tools(before)
