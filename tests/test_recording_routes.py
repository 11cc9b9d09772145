"""GET /sessions/ID/recording and its peaks over a real HTTP server: the stored chunks served as
a seekable two-channel WebM with Range requests, remade when more chunks arrive, and deleted
with the session."""

from __future__ import annotations

import io
import json
import re

import av
import numpy as np
import pytest
import requests

from tests.recordings import (
    CALL_MODEL,
    CALL_SECONDS,
    CALL_USER,
    CLUSTER,
    T0,
    assert_spans,
    call_chunks,
    store_call,
)
from tests.stores import plain_session
from tests.waiting import until
from voice_lab.analysis.recording import cue_points
from voice_lab.analysis.speech import segments
from voice_lab.ingest.recordings import cache_root
from voice_lab.storage import database_path, open_store
from voice_lab.storage.rows import AudioChunk
from voice_lab.testing import CapturedSession

pytestmark = pytest.mark.backends()  # the app on each storage backend


@pytest.fixture(scope="module")
def chunks() -> list[bytes]:
    """The chunks MediaRecorder would send for the call of tests/recordings.py."""
    return call_chunks()


@pytest.fixture
def stored(app):
    """The app's store; call it with chunks for a recorded session's id."""
    store = open_store(app)
    yield lambda chunks: store_call(store, chunks)
    store.close()


def played(data: bytes) -> tuple[float, np.ndarray]:
    """(start in s, samples (n, 2) as floats) of the first frame on: what a player decodes."""
    with av.open(io.BytesIO(data)) as container:
        frames = list(container.decode(audio=0))
    return frames[0].time, np.concatenate([f.to_ndarray() for f in frames], axis=1).T


def test_the_recording_is_a_seekable_two_channel_webm(app, live_server, stored, chunks):
    assert not cache_root(database_path(app)).exists()  # made on demand
    session_id = stored(chunks)
    reply = requests.get(f"{live_server.url}/sessions/{session_id}/recording", timeout=30)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("audio/webm")
    assert reply.headers["Accept-Ranges"] == "bytes"
    assert cue_points(reply.content) >= CALL_SECONDS - 2
    with av.open(io.BytesIO(reply.content)) as container:
        assert container.duration / 1e6 == pytest.approx(CALL_SECONDS, abs=0.05)
        assert container.streams.audio[0].codec_context.channels == 2


def test_a_range_answers_206_and_a_seek_plays_from_there(live_server, stored, chunks):
    url = f"{live_server.url}/sessions/{stored(chunks)}/recording"
    whole = requests.get(url, timeout=30).content
    clusters = [m.start() for m in re.finditer(re.escape(CLUSTER), whole)]
    header = requests.get(url, headers={"Range": f"bytes=0-{clusters[0] - 1}"}, timeout=30)
    assert header.status_code == 206
    assert header.headers["Content-Range"] == f"bytes 0-{clusters[0] - 1}/{len(whole)}"
    # What a player does to seek to 5.5 s: the header, then the bytes from a cluster on.
    middle = clusters[len(clusters) // 2]
    tail = requests.get(url, headers={"Range": f"bytes={middle}-"}, timeout=30)
    assert tail.status_code == 206
    assert tail.headers["Content-Range"] == f"bytes {middle}-{len(whole) - 1}/{len(whole)}"
    assert tail.content == whole[middle:]
    start, samples = played(header.content + tail.content)
    assert 3.0 < start < 9.0
    user = (samples[:, 0] * 32767).astype(np.int16)
    later = [(a - start, b - start) for a, b in CALL_USER if a > start]
    assert_spans(segments(user, 48000), later, within_ms=30)


def test_a_session_without_a_recording_answers_404_saying_why(client, app):
    session_id = plain_session(app)
    for path in ("recording", "recording/peaks"):
        reply = client.get(f"/sessions/{session_id}/{path}")
        assert reply.status_code == 404
        assert "has no recording" in reply.get_data(as_text=True)
        missing = client.get(f"/sessions/vl_missing/{path}")
        assert missing.status_code == 404
        assert "There is no session vl_missing" in missing.get_data(as_text=True)


def test_the_peaks_say_where_each_channel_sounds(live_server, stored, chunks):
    url = f"{live_server.url}/sessions/{stored(chunks)}/recording/peaks"
    peaks = requests.get(url, timeout=30).json()
    assert peaks["t0"] == T0 and peaks["per_second"] == 100
    assert peaks["duration_ms"] == pytest.approx(CALL_SECONDS * 1000, abs=50)
    for name, sounds in (("user", CALL_USER), ("model", CALL_MODEL)):
        high = np.array(peaks["channels"][name]["max"])
        low = np.array(peaks["channels"][name]["min"])
        assert len(high) == len(low) == pytest.approx(CALL_SECONDS * 100, abs=3)
        loud = np.zeros(len(high), dtype=bool)
        for a, b in sounds:
            loud[round(a * 100) + 3 : round(b * 100) - 3] = True
        assert (high[loud] > 20).all() and (low[loud] < -20).all()
        quiet = np.ones(len(high), dtype=bool)
        for a, b in sounds:
            quiet[round(a * 100) - 5 : round(b * 100) + 5] = False
        assert (high[quiet] < 5).all() and (low[quiet] > -5).all()
    narrow = requests.get(url, params={"bins": 100}, timeout=30).json()
    assert len(narrow["channels"]["user"]["max"]) <= 100 and narrow["per_second"] < 10
    assert requests.get(url, params={"bins": 0}, timeout=30).status_code == 400


def test_a_window_of_peaks_is_the_matching_slice_of_the_finest_level(live_server, stored, chunks):
    url = f"{live_server.url}/sessions/{stored(chunks)}/recording/peaks"
    whole = requests.get(url, timeout=30).json()
    assert whole["start_ms"] == 0 and whole["finest"]
    window = {"start_ms": 2005, "end_ms": 4000}
    found = requests.get(url, params={**window, "bins": 5000}, timeout=30).json()
    assert found["per_second"] == whole["per_second"] == 100
    assert found["start_ms"] == 2000 and found["duration_ms"] == whole["duration_ms"]
    assert found["finest"]
    for name in ("user", "model"):
        for side in ("min", "max"):
            assert found["channels"][name][side] == whole["channels"][name][side][200:400]
    narrow = requests.get(url, params={**window, "bins": 50}, timeout=30).json()
    assert narrow["per_second"] == 25 and narrow["start_ms"] == 2000 and not narrow["finest"]
    fine = np.array(whole["channels"]["model"]["max"][200:400]).reshape(50, 4).max(axis=1)
    assert narrow["channels"]["model"]["max"] == fine.tolist()
    past = requests.get(url, params={"start_ms": 60000, "end_ms": 61000, "bins": 9}, timeout=30)
    assert past.status_code == 200 and past.json()["channels"]["user"]["max"] == []


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"bins": "0"}, "bins must be a whole number from 1"),
        ({"bins": "many"}, "bins must be a whole number from 1"),
        ({"bins": "²"}, "bins must be a whole number from 1"),
        ({"bins": "9" * 5000}, "bins must be a whole number from 1"),
        ({"start_ms": "10", "bins": "9"}, "give start_ms and end_ms together"),
        ({"start_ms": "x", "end_ms": "10", "bins": "9"}, "must be numbers"),
        ({"start_ms": "10", "end_ms": "10", "bins": "9"}, "need 0 &lt;= start_ms &lt; end_ms"),
        ({"start_ms": "-5", "end_ms": "10", "bins": "9"}, "need 0 &lt;= start_ms &lt; end_ms"),
        ({"start_ms": "0", "end_ms": "inf", "bins": "9"}, "need 0 &lt;= start_ms &lt; end_ms"),
        ({"start_ms": "0", "end_ms": "10"}, "needs bins=N"),
    ],
)
def test_bad_peaks_parameters_get_a_400_saying_what_to_fix(client, app, chunks, params, says):
    store = open_store(app)
    try:
        session_id = store_call(store, chunks)
    finally:
        store.close()
    reply = client.get(f"/sessions/{session_id}/recording/peaks", query_string=params)
    assert reply.status_code == 400 and says in reply.get_data(as_text=True)


def test_more_chunks_remake_the_recording_and_deleting_the_session_deletes_it(
    app, client, csrf, chunks
):
    store = open_store(app)
    try:
        session_id = store_call(store, chunks[:6])
        first = client.get(f"/sessions/{session_id}/recording").get_data()
        store.insert_chunks(
            session_id, [AudioChunk(seq, T0, data) for seq, data in enumerate(chunks, 1)][6:]
        )
    finally:
        store.close()
    second = client.get(f"/sessions/{session_id}/recording").get_data()
    with av.open(io.BytesIO(first)) as a, av.open(io.BytesIO(second)) as b:
        assert a.duration < b.duration == pytest.approx(CALL_SECONDS * 1e6, abs=5e4)
    files = list(cache_root(database_path(app)).glob("*/*"))
    # The shorter one's files are gone: only those named by the chunks stored now are left.
    assert {f.name.split(".")[0].split("-")[0] for f in files} == {str(len(chunks))}
    assert f"{len(chunks)}.webm" in {f.name for f in files}
    assert client.delete(f"/sessions/{session_id}", headers={"X-CSRF-Token": csrf}).status_code
    assert not files[0].parent.exists()


def ended_call(app, chunks) -> str:
    """A recorded call's session, ended."""
    store = open_store(app)
    try:
        session_id = store_call(store, chunks)
        store.end_session(session_id)
    finally:
        store.close()
    return session_id


def test_the_panels_show_the_heard_latency_the_audio_checks_and_the_overlap(app, client, chunks):
    store = open_store(app)
    try:
        live = store_call(store, chunks)
    finally:
        store.close()
    assert 'data-testid="heard-latency"' not in client.get(f"/sessions/{live}/panels").text
    ended = ended_call(app, chunks)
    # The panels never wait for the recording: meanwhile they ask again by themselves, and
    # hear it once it is prepared.
    first = client.get(f"/sessions/{ended}/panels").text
    assert 'data-testid="panels-hearing"' in first and 'hx-trigger="load delay:2s"' in first
    assert f"/sessions/{ended}/panels?asked=1" in first  # counted, so they stop after a minute
    other = ended_call(app, chunks)
    last = client.get(f"/sessions/{other}/panels?asked=30").text
    assert "still being prepared" in last and "load delay:2s" not in last
    until(
        lambda: 'data-testid="heard-row"' in client.get(f"/sessions/{ended}/panels").text,
        "the panels show the heard latency once the recording is prepared",
    )
    assert 'data-testid="panels-hearing"' not in client.get(f"/sessions/{ended}/panels").text
    html = client.get(f"/sessions/{ended}/panels").get_data(as_text=True)
    rows = re.findall(
        r'data-testid="heard-row" data-response="(\w+)">.*?<td>([^<]+)</td>'
        r'<td data-testid="heard-ms">([^<]+)</td>',
        html,
        re.S,
    )
    # r1: the user stops at 2.5 s and the model sounds at 3.2; its events say 3150 - 2600.
    assert rows[0][:2] == ("r1", "550 ms")
    assert abs(int(rows[0][2].removesuffix(" ms").replace(",", "")) - 700) <= 30
    assert [r[0] for r in rows] == ["r1", "r2", "r3"]
    for name in ("model audio while the buffer plays", "reported audio played"):
        assert re.search(rf'data-ok="true"[^>]*>\s*✓ {name}', html), name
    (overlap,) = re.findall(r'data-testid="overlap">([^<]+)<', html)
    assert overlap.endswith("started by the user")


def test_the_export_gains_the_recording_and_its_events_re_export_the_same(
    app, client, csrf, live_server, chunks
):
    session_id = ended_call(app, chunks)
    first = client.get(f"/sessions/{session_id}/export.json").get_data(as_text=True)
    document = json.loads(first)
    recording = document["recording"]
    assert (recording["chunks"], recording["channels"], recording["t0"]) == (len(chunks), 2, T0)
    assert recording["duration_ms"] == pytest.approx(CALL_SECONDS * 1000, abs=50)
    assert "data" not in json.dumps(recording)  # figures, not audio
    captured = CapturedSession.load(live_server.url, session_id)
    heard = {h.response_id: h.to_first_audio_ms for h in captured.heard_latencies()}
    assert heard["r1"] == pytest.approx(700, abs=30)
    assert {c.name: c.ok for c in captured.audio_checks()}["model audio while the buffer plays"]
    imported = client.post(
        "/import",
        data={"file": (io.BytesIO(first.encode()), "call.json")},
        headers={"X-CSRF-Token": csrf},
    )
    again_id = imported.headers["Location"].rsplit("/", 1)[1]
    again = client.get(f"/sessions/{again_id}/export.json").get_data(as_text=True)
    assert "recording" not in json.loads(again)  # the audio did not travel

    def events_part(text: str) -> str:
        return text[text.index('"events": [') : text.index("\n]") + 2]

    assert events_part(again) == events_part(first)
