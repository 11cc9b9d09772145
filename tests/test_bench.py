"""The bench's figures read percentiles as the panels do (through metrics.percentile), and
measure recordings from what the store holds and the page marks."""

from __future__ import annotations

import base64

import pytest

from bench import recording, timeview
from bench.browser import live_figures
from bench.ears import errors, words
from tests.recordings import (
    CALL_SECONDS,
    call_chunks,
    call_events,
    recorder_chunks,
    stereo,
    store_call,
)
from voice_lab.analysis import metrics
from voice_lab.analysis.recording import remux
from voice_lab.storage.sqlite import SQLiteStore

ONE_TO_A_HUNDRED = [float(n) for n in range(1, 101)]


def test_the_p95_of_a_hundred_samples_is_the_95th():
    assert metrics.percentile(ONE_TO_A_HUNDRED, 95) == 95


def test_the_bench_reports_the_same_percentiles():
    p50, p95 = live_figures(ONE_TO_A_HUNDRED, [n / 2 for n in ONE_TO_A_HUNDRED])
    assert (p50.value, p95.value) == (50, 95)
    assert (p50.baseline, p95.baseline) == (25, 47.5)


def test_no_row_seen_is_not_measured():
    assert [f.value for f in live_figures([], [])] == [None, None]


# ---------------------------------------------------------------- recordings' figures


def test_a_minute_repeated_is_one_stream_of_that_many_minutes(tmp_path):
    minute = recorder_chunks(stereo(6, [(1, 2)], [(3, 4)]))
    once = remux(minute, tmp_path / "once.webm").duration_ms
    thrice = remux(timeview.repeated(minute, 3, 6020), tmp_path / "thrice.webm")
    assert thrice.duration_ms == pytest.approx(2 * 6020 + once, abs=1)
    assert thrice.channels == 2


def test_the_repeated_call_keeps_its_events_in_order_on_one_recording():
    events = timeview.call_log(3, 60_020, chunks=183)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    ts = [e.t for e in events]
    assert ts == sorted(ts)
    recordings = [e.data for e in events if e.type == "voicelab.recording"]
    assert [r["phase"] for r in recordings] == ["start", "stop"]
    assert recordings[1]["chunks"] == 183


def test_uploads_are_the_stored_chunks_as_base64_over_the_recording(tmp_path):
    chunks = call_chunks()
    store = SQLiteStore(tmp_path / "bench.sqlite3")
    try:
        store.migrate()
        session_id = store_call(store, chunks)
    finally:
        store.close()
    found = recording.uploads(tmp_path / "bench.sqlite3", session_id)
    assert found["stored"] == sum(len(c) for c in chunks)
    assert found["sent"] == sum(len(base64.b64encode(c)) for c in chunks)
    assert found["seconds"] == CALL_SECONDS
    assert found["events"] == sum(len(e.raw.encode()) for e in call_events())


@pytest.mark.e2e
def test_the_time_view_marks_its_first_paint_and_a_zoom_redraw():
    measured = timeview.measure((1, 2), runs=1)
    for minutes in (1, 2):
        assert set(measured[minutes]) == {"prepare", "prepare_cpu", "paint", "zoom"}
        assert all(ms > 0 for ms in measured[minutes].values())


@pytest.mark.e2e
def test_the_recording_figures_come_from_a_real_call():
    held = recording.calls(6, 1)
    assert [len(held[True]), len(held[False])] == [1, 1]
    recorded = held[True][0]
    assert recorded["stored"] > 0 and recorded["events"] > 0
    assert recorded["task_ms"] > 0 and held[False][0]["task_ms"] > 0
    # 64 kbps asked; Opus's rate control and the WebM framing keep it within a factor of two.
    assert 32 < recorded["stored"] * 8 / recorded["seconds"] / 1000 < 128


def test_the_word_error_count_is_the_edit_distance():
    """A substitution and an insertion are two errors; the same words none."""
    assert errors(words("Book a table."), words("book the table now")) == 2
    assert errors(words("Turn off the lights"), words("turn off the lights!")) == 0
    assert errors(words("one two three"), []) == 3
