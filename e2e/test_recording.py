"""The recording of a call, in Chromium with spoken words as the microphone: what the store holds
concatenates to a two-channel WebM as long as the call, the microphone on the left and the
model on the right; its bundle downloads from the session page and imports whole; unticked, or
off for the app, nothing is recorded."""

from __future__ import annotations

import io
import json
import zipfile

import av
import numpy as np
import pytest
from playwright.sync_api import expect

from voice_lab.storage import open_store
from voice_lab.testing import TcpProxy, hold_call, wait_for_responses

pytestmark = pytest.mark.e2e


def recording(app, session_id: str) -> tuple[list[bytes], list[dict]]:
    """The stored chunks of a session and its voicelab.recording events, in seq order."""
    store = open_store(app)
    try:
        chunks = list(store.recording_chunks(session_id))
        events = [
            {**json.loads(row["payload"]), "t": row["t"]}
            for row in store.iter_events(session_id)
            if row["type"] in ("voicelab.recording", "voicelab.call")
        ]
    finally:
        store.close()
    return chunks, events


def decoded(chunks: list[bytes]) -> tuple[int, np.ndarray]:
    """The chunks, concatenated as the MediaRecorder wrote them, decoded: rate, (n, channels)."""
    with av.open(io.BytesIO(b"".join(chunks))) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "opus" and stream.codec_context.channels == 2
        frames = [frame.to_ndarray() for frame in container.decode(stream)]
        return stream.codec_context.sample_rate, np.concatenate(frames, axis=1).T


def test_a_call_is_recorded_in_stereo_as_long_as_it_lasted(voice_lab_browser, mic, server, app):
    page = voice_lab_browser.page(mic, loop=True)
    session_id = hold_call(page, server.url, {"label": "recorded"}, responses=2)
    chunks, events = recording(app, session_id)
    start, stop = (e for e in events if e["type"] == "voicelab.recording")
    assert start["phase"] == "start" and start["mime"] == "audio/webm;codecs=opus"
    assert start["channels"] == 2 and start["t0"] > 0
    assert stop["phase"] == "stop" and stop["chunks"] == len(chunks) > 3
    rate, samples = decoded(chunks)
    seconds = len(samples) / rate
    assert rate == 48000 and samples.shape[1] == 2
    # From the recording's start to its stop, on the events' clock.
    assert abs(seconds - (stop["t"] - start["t0"]) / 1000) < 0.5, seconds
    call_stop = next(e for e in events if e["type"] == "voicelab.call" and e["phase"] == "stop")
    assert 0 <= stop["t"] - call_stop["t"] < 1000
    level = np.sqrt(np.mean(samples.astype(np.float64) ** 2, axis=0))
    assert level[0] > 0.005 and level[1] > 0.005, level  # the microphone, and the model's voice


MUTED_MS = 2500


def test_a_mute_records_silence_and_the_recording_goes_on(voice_lab_browser, mic, server, app):
    def mute_for_a_while(page):
        page.get_by_test_id("mute").check()
        # How long the mute lasts is what is under test, not an order of steps: the check
        # below reads the stretch from the stored events' times.
        page.wait_for_timeout(MUTED_MS)
        page.get_by_test_id("mute").uncheck()
        wait_for_responses(page, 2)

    page = voice_lab_browser.page(mic, loop=True)
    session_id = hold_call(page, server.url, {"label": "muted"}, during=mute_for_a_while)
    chunks, events = recording(app, session_id)
    start, stop = (e for e in events if e["type"] == "voicelab.recording")
    rate, samples = decoded(chunks)
    assert abs(len(samples) / rate - (stop["t"] - start["t0"]) / 1000) < 0.5
    store = open_store(app)
    try:
        mics = [
            json.loads(r["payload"]) | {"t": r["t"]}
            for r in store.iter_events(session_id)
            if r["type"] == "voicelab.mic"
        ]
    finally:
        store.close()
    muted = next(m for m in mics if m["muted"])
    unmuted = next(m for m in mics if not m["muted"] and m["t"] > muted["t"])
    # The muted stretch, a little inside its ends: the left channel is silent there.
    begin = int(((muted["t"] - start["t0"]) / 1000 + 0.3) * rate)
    end = int(((unmuted["t"] - start["t0"]) / 1000 - 0.3) * rate)
    assert end - begin > rate
    assert np.abs(samples[begin:end, 0]).max() < 1e-3
    assert np.abs(samples[:begin, 0]).max() > 0.01  # the microphone, before the mute


def test_a_call_with_recording_unticked_records_nothing(voice_lab_browser, mic, server, app):
    page = voice_lab_browser.page(mic, loop=True)
    session_id = hold_call(page, server.url, {"label": "unrecorded", "record": False})
    chunks, events = recording(app, session_id)
    assert chunks == [] and [e["type"] for e in events] == ["voicelab.call"] * 2


def test_the_bundle_button_downloads_the_call_and_the_form_imports_it_whole(
    voice_lab_browser, mic, server, app, tmp_path
):
    page = voice_lab_browser.page(mic, loop=True)
    session_id = hold_call(page, server.url, {"label": "bundled"})
    page.goto(f"{server.url}/sessions/{session_id}")
    with page.expect_download() as download:
        page.get_by_test_id("export-bundle").click()
    path = tmp_path / download.value.suggested_filename
    download.value.save_as(path)
    assert zipfile.ZipFile(path).namelist() == ["session.json", "recording.webm", "recording.json"]

    page.goto(f"{server.url}/")
    page.get_by_test_id("import-file").set_input_files(path)
    page.get_by_test_id("import-submit").click()
    expect(page.get_by_test_id("session-status")).to_have_text("imported")
    imported = page.url.rsplit("/sessions/", 1)[1]
    assert imported != session_id
    expect(page.get_by_test_id("export-bundle")).to_be_visible()
    store = open_store(app)
    try:
        assert list(store.audio_chunks(imported)) == list(store.audio_chunks(session_id))
    finally:
        store.close()
    assert recording(app, imported)[1] == recording(app, session_id)[1]


@pytest.fixture
def recording_off(settings):
    """The app records nothing."""
    settings["VOICE_LAB_RECORDING"] = "off"


def test_an_app_that_records_nothing_shows_no_checkbox_and_stores_no_audio(
    recording_off, voice_lab_browser, mic, server, app
):
    page = voice_lab_browser.page(mic, loop=True)
    session_id = hold_call(page, server.url, {"label": "app off"})
    assert page.get_by_test_id("record").count() == 0
    chunks, events = recording(app, session_id)
    assert chunks == [] and [e["type"] for e in events] == ["voicelab.call"] * 2


GAP_SCRIPT = """async ({ budget }) => {
  const { Mirror } = await import("/static/js/mirror.js");
  const mic = await navigator.mediaDevices.getUserMedia({ audio: true });
  const context = new AudioContext();
  const tone = context.createOscillator();
  const remote = context.createMediaStreamDestination();
  tone.connect(remote);
  tone.start();
  const mirror = new Mirror({
    url: "/ws/mirror", create: { label: "gap" }, audioBufferBytes: budget,
  });
  window.mirror = mirror;
  window.gaps = [];
  mirror.addEventListener("record", (e) => {
    if (e.detail.data?.phase === "gap") window.gaps.push(e.detail.data);
  });
  window.recorder = mirror.recordAudio(mic, remote.stream, { context });
}"""


def test_past_its_budget_the_page_drops_the_oldest_unsent_audio_as_a_gap(page, server, app):
    proxy = TcpProxy(server.url)
    try:
        page.goto(f"{proxy.url}/call")
        page.wait_for_selector("#call[data-ready=true]")
        page.evaluate(GAP_SCRIPT, {"budget": 20_000})  # about 2.5 s of audio
        page.wait_for_function("() => window.mirror.audio.acked >= 2")
        proxy.cut()
        page.wait_for_function("() => window.gaps.length >= 2", timeout=20_000)
        proxy.restore()
        result = page.evaluate("window.mirror.close({ waitMs: 15000 })")
        made = page.evaluate("window.recorder.chunks")
        gaps = page.evaluate("window.gaps")
    finally:
        proxy.close()
    session_id = page.evaluate("window.mirror.session")
    store = open_store(app)
    try:
        info = store.recording_info(session_id)
    finally:
        store.close()
    assert result["chunks"] == result["chunks_acked"] == info["chunks"] == info["contiguous"]
    assert made == info["chunks"] + sum(gap["chunks"] for gap in gaps)
    assert all(gap["reason"] == "buffer_full" and gap["bytes"] > 0 for gap in gaps)
    # The chunks the page kept of its budget, while away: some were dropped, none stored twice.
    assert gaps[0]["from_seq"] > 2
    assert len(decoded(list(recording(app, session_id)[0]))[1]) > 0
