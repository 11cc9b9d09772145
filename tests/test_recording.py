"""MediaRecorder's chunks remuxed into a seekable WebM, decoded on time, and drawn as peaks."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from tests.recordings import RATE, assert_spans, recorder_chunks, stereo, webm_live
from voice_lab.analysis.recording import (
    ANALYSIS_RATE,
    CLUSTER_MS,
    Peaks,
    RecordingError,
    cue_points,
    decode,
    peaks,
    probe,
    remux,
)
from voice_lab.analysis.speech import segments

USER = [(1.0, 2.5), (6.0, 7.0)]
MODEL = [(3.2, 5.0), (6.4, 6.9)]
SECONDS = 8.0
TOLERANCE_MS = 20


@pytest.fixture(scope="module")
def pcm() -> np.ndarray:
    """Eight seconds of stereo: a tone on the left at USER, noise on the right at MODEL."""
    return stereo(SECONDS, USER, MODEL)


@pytest.fixture(scope="module")
def chunks(pcm) -> list[bytes]:
    """The chunks MediaRecorder would send for pcm."""
    return recorder_chunks(pcm)


def test_the_chunks_are_a_live_stream_that_cannot_be_seeked(chunks):
    """The fixture's chunks are MediaRecorder's: a header, then clusters, no duration or cues."""
    assert len(chunks) >= SECONDS - 1
    assert all(chunk.startswith(b"\x1f\x43\xb6\x75") for chunk in chunks[1:])
    live = b"".join(chunks)
    assert cue_points(live) == 0
    with av.open(io.BytesIO(live)) as container:
        assert container.duration is None


def test_remux_gives_a_file_with_duration_and_cues(chunks, tmp_path):
    media = remux(chunks, tmp_path / "call.webm")
    assert media.seekable
    assert (media.channels, media.rate) == (2, RATE)
    assert media.duration_ms == pytest.approx(SECONDS * 1000, abs=30)
    assert media.cues >= SECONDS * 1000 // CLUSTER_MS - 1
    assert not (tmp_path / "call.webm.partial").exists()


def test_the_remuxed_file_seeks_near_its_target(chunks, tmp_path):
    remux(chunks, tmp_path / "call.webm")
    with av.open(str(tmp_path / "call.webm")) as container:
        stream = container.streams.audio[0]
        container.seek(round(5.5 / stream.time_base), stream=stream)
        frame = next(container.decode(stream))
    assert 5.5 - CLUSTER_MS / 1000 <= frame.time <= 5.5


def test_remux_copies_the_packets_without_re_encoding(chunks, tmp_path):
    remux(chunks, tmp_path / "call.webm")
    with av.open(io.BytesIO(b"".join(chunks))) as source:
        sent = [bytes(p) for p in source.demux(audio=0) if p.size]
    with av.open(str(tmp_path / "call.webm")) as copy:
        kept = [bytes(p) for p in copy.demux(audio=0) if p.size]
    assert kept == sent


def test_decode_puts_the_sound_where_it_was(pcm, chunks, tmp_path):
    remux(chunks, tmp_path / "call.webm")
    rate, samples = decode(tmp_path / "call.webm", rate=RATE)
    assert (rate, samples.dtype, samples.shape[1]) == (RATE, np.int16, 2)
    assert len(samples) == pytest.approx(len(pcm), abs=RATE * 0.03)
    assert_spans(segments(samples[:, 0], RATE), USER, TOLERANCE_MS)
    assert_spans(segments(samples[:, 1], RATE), MODEL, TOLERANCE_MS)


def test_decoded_levels_match_the_source_within_a_decibel(pcm, chunks, tmp_path):
    remux(chunks, tmp_path / "call.webm")
    _, samples = decode(tmp_path / "call.webm", rate=RATE)
    for channel, (start, end) in ((0, USER[0]), (1, MODEL[0])):
        a, b = round((start + 0.1) * RATE), round((end - 0.1) * RATE)
        source = np.sqrt(np.mean((pcm[a:b, channel] / 32768.0) ** 2))
        decoded = np.sqrt(np.mean((samples[a:b, channel] / 32768.0) ** 2))
        assert 20 * np.log10(decoded / source) == pytest.approx(0, abs=1)


def test_decode_gives_the_analysis_rate_on_the_same_times(chunks, tmp_path):
    remux(chunks, tmp_path / "call.webm")
    rate, samples = decode(tmp_path / "call.webm")
    assert rate == ANALYSIS_RATE == 16000
    assert len(samples) == pytest.approx(SECONDS * 16000, abs=16000 * 0.03)
    assert_spans(segments(samples[:, 0], rate), USER, TOLERANCE_MS)
    assert_spans(segments(samples[:, 1], rate), MODEL, TOLERANCE_MS)


def test_chunks_split_anywhere_make_the_same_file(pcm, tmp_path):
    """Blobs need not end at clusters: remux reads the bytes as one stream."""
    data = webm_live(pcm)
    remux([data[at : at + 777] for at in range(0, len(data), 777)], tmp_path / "odd.webm")
    remux(recorder_chunks(pcm), tmp_path / "even.webm")
    assert np.array_equal(decode(tmp_path / "odd.webm")[1], decode(tmp_path / "even.webm")[1])


def test_a_lost_chunk_leaves_silence_and_later_sound_on_time(chunks, tmp_path):
    lost = next(i for i in range(1, len(chunks)) if 3.5 < _starts_at(chunks[i]) < 4.5)
    media = remux(chunks[:lost] + chunks[lost + 1 :], tmp_path / "gap.webm")
    assert media.seekable
    assert media.duration_ms == pytest.approx(SECONDS * 1000, abs=30)
    _, samples = decode(tmp_path / "gap.webm", rate=RATE)
    gap_start, gap_end = _starts_at(chunks[lost]), _starts_at(chunks[lost + 1])
    assert not samples[round((gap_start + 0.05) * RATE) : round((gap_end - 0.01) * RATE)].any()
    after = [s for s in segments(samples[:, 0], RATE) if s.start_ms > 5500]
    assert_spans(after, [USER[1]], TOLERANCE_MS)
    after = [s for s in segments(samples[:, 1], RATE) if s.start_ms > 5500]
    assert_spans(after, [MODEL[1]], TOLERANCE_MS)


def _starts_at(chunk: bytes) -> float:
    """Seconds at which a cluster chunk starts (its Timestamp element, 0xE7, in ms)."""
    at = chunk.index(b"\xe7", 4)
    length = chunk[at + 1] & 0x7F
    return int.from_bytes(chunk[at + 2 : at + 2 + length], "big") / 1000


def test_remux_of_nothing_says_so(tmp_path):
    with pytest.raises(RecordingError, match="nothing to remux"):
        remux([], tmp_path / "none.webm")
    with pytest.raises(RecordingError, match="not a media header"):
        remux([b"not a recording"], tmp_path / "junk.webm")
    assert not list(tmp_path.iterdir())


def test_probe_reads_a_file_without_cues_as_unseekable(chunks, tmp_path):
    (tmp_path / "live.webm").write_bytes(b"".join(chunks))
    media = probe(tmp_path / "live.webm")
    assert (media.cues, media.seekable) == (0, False)


# ---------------------------------------------------------------- peaks


def test_peaks_are_each_bins_min_and_max_in_eight_bits():
    samples = np.zeros((1000, 2), dtype=np.int16)
    samples[10, 0], samples[20, 0], samples[150, 1] = 32767, -32768, 256
    level = peaks(samples, 1000, per_second=10)
    assert (level.size, level.per_second, level.low.dtype) == (100, 10, np.int8)
    assert level.high[:2].tolist() == [[127, 0], [0, 1]]
    assert level.low[0].tolist() == [-128, 0]
    assert len(level.low) == 10


def test_a_short_last_bin_counts(pcm):
    level = peaks(pcm[: RATE + 5], RATE, per_second=100)
    assert len(level.low) == 101


def test_coarser_peaks_equal_peaks_at_the_coarser_rate(pcm):
    fine = peaks(pcm, RATE, per_second=100)
    coarse = fine.coarser(10)
    direct = peaks(pcm, RATE, per_second=10)
    assert coarse.per_second == direct.per_second
    assert np.array_equal(coarse.low, direct.low) and np.array_equal(coarse.high, direct.high)


def test_fitting_gives_at_most_the_bins_asked(pcm):
    fine = peaks(pcm, RATE, per_second=100)
    assert len(fine.low) == 800
    assert len(fine.fitting(300).low) == 267  # three bins in one
    assert len(fine.fitting(1).low) == 1
    assert fine.fitting(800) is fine


def test_waveform_data_is_audiowaveforms_format(pcm):
    level: Peaks = peaks(pcm, RATE, per_second=50)
    data = level.waveform_data()
    assert (data["channels"], data["bits"], data["samples_per_pixel"]) == (2, 8, 960)
    assert len(data["data"]) == 4 * data["length"] == 4 * len(level.low)
    assert data["data"][:4] == [
        level.low[0, 0],
        level.high[0, 0],
        level.low[0, 1],
        level.high[0, 1],
    ]
