"""A call's recording as media: MediaRecorder's chunks made seekable, decoded, and drawn as peaks.

MediaRecorder writes WebM as a live stream: the header in the first chunk, clusters after it,
no duration and no cues, so players show Infinity and cannot seek (Chromium bug 642012, WontFix).
Remuxing the Opus packets into a new WebM written to a file gives both without re-encoding:
libavformat's WebM muxer writes the duration and a cue per cluster when its output can seek, and
a cluster a second keeps a seek within a second of its target.

Pure: PyAV and numpy, no Flask, no database.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

# The Content-Type of what remux writes.
MIME = "audio/webm;codecs=opus"
# What decode gives by default: sound and peaks need no more than 16 kHz, and an hour's call is
# 230 MB of int16 stereo at it against 691 MB at Opus's own 48 kHz.
ANALYSIS_RATE = 16000
CLUSTER_MS = 1000  # a cue per cluster: seeks land within this of their target
# A jump in timestamps longer than this is audio lost between chunks; shorter ones are WebM's
# millisecond timestamps rounding a frame's start (Opus's first frame is 13.5 ms, stamped 14).
GAP_MS = 10


@dataclass(frozen=True, slots=True)
class Media:
    """What a recording file holds: its length, channels and rate, and its cues."""

    duration_ms: float
    channels: int
    rate: int
    cues: int

    @property
    def seekable(self) -> bool:
        """Whether browsers can show its length and seek in it: a duration and cues."""
        return self.duration_ms > 0 and self.cues > 0


class RecordingError(ValueError):
    """Chunks that do not make a recording: none, no audio, or not audio PyAV can read."""


def remux(chunks: Iterable[bytes], out: str | os.PathLike[str]) -> Media:
    """Write MediaRecorder's chunks (in seq order) to `out` as a seekable WebM with duration
    and cues, copying the Opus packets; the file appears whole or not at all."""
    data = b"".join(chunks)
    if not data:
        raise RecordingError("no recording chunks: the call recorded nothing to remux")
    target = Path(out)
    partial = target.with_name(target.name + ".partial")
    try:
        _copy_packets(data, partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return probe(target)


def _copy_packets(data: bytes, out: Path) -> None:
    """Demux the concatenated chunks and mux their audio packets into a WebM file at `out`."""
    try:
        source = av.open(io.BytesIO(data), "r")
    except av.FFmpegError as error:
        raise RecordingError(
            f"the recording's first chunk is not a media header: {error}"
        ) from error
    with source:
        if not source.streams.audio:
            raise RecordingError("the recording has no audio stream: record with an audio track")
        audio = source.streams.audio[0]
        with av.open(str(out), "w", format="webm", options=_WEBM) as sink:
            copy = sink.add_stream_from_template(audio)
            for packet in _packets(source, audio):
                packet.stream = copy
                sink.mux(packet)


# A cluster a second (the muxer's default is 5 s for audio alone) for a cue a second.
_WEBM = {"cluster_time_limit": str(CLUSTER_MS)}


def _packets(source: av.container.InputContainer, audio: av.AudioStream) -> Iterable[av.Packet]:
    """The stream's packets with a timestamp; a chunk lost mid-cluster ends the readable part
    (the demuxer resyncs on the next cluster where it can, else what came before is kept)."""
    try:
        for packet in source.demux(audio):
            if packet.dts is not None:
                yield packet
    except av.InvalidDataError:
        return


def probe(path: str | os.PathLike[str]) -> Media:
    """The length, channels and rate of a recording file, and how many cues it has to seek by."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise RecordingError(f"{path} has no audio stream")
        audio = container.streams.audio[0].codec_context
        duration = container.duration
    return Media(
        duration_ms=0.0 if duration is None else duration / 1000,
        channels=audio.channels,
        rate=audio.sample_rate,
        cues=cue_points(Path(path).read_bytes()),
    )


# EBML ids: Segment, Cues, CuePoint (the browsers' seek index).
_SEGMENT, _CUES, _CUE_POINT = 0x18538067, 0x1C53BB6B, 0xBB


def cue_points(webm: bytes) -> int:
    """How many CuePoints the WebM's Cues hold (0 without Cues, as MediaRecorder writes it):
    libavformat seeks without them by reading clusters, Chromium and Firefox do not."""
    at, end = 0, len(webm)
    while at < end:
        element, at = _vint(webm, at, keep_marker=True)
        size, at = _vint(webm, at)
        if element == _SEGMENT:
            end = end if size is None else min(end, at + size)
            continue  # into the Segment's children
        if element == _CUES:
            return _count_children(webm, at, end if size is None else at + size, _CUE_POINT)
        if size is None:
            return 0  # a cluster of unknown size: a live stream, which has no cues
        at += size
    return 0


def _count_children(webm: bytes, at: int, end: int, wanted: int) -> int:
    """How many children of the element between at and end have the id `wanted`."""
    count = 0
    while at < end:
        element, at = _vint(webm, at, keep_marker=True)
        size, at = _vint(webm, at)
        count += element == wanted
        at = end if size is None else at + size
    return count


def _vint(data: bytes, at: int, keep_marker: bool = False) -> tuple[int | None, int]:
    """An EBML variable-length integer at `at` and where it ends; None for an unknown size
    (all value bits set). Ids keep their length marker, sizes drop it."""
    first = data[at]
    length = 9 - first.bit_length() if first else 8
    value = int.from_bytes(data[at : at + length], "big")
    if keep_marker:
        return value, at + length
    value &= (1 << (7 * length)) - 1
    return (None if value == (1 << (7 * length)) - 1 else value), at + length


def decode(path: str | os.PathLike[str], rate: int = ANALYSIS_RATE) -> tuple[int, np.ndarray]:
    """(rate, samples): the recording as int16 stereo, shape (n, 2), at `rate`, which must
    divide the stream's own (Opus decodes at 48 kHz: 48000, 24000, 16000, 12000, 8000).

    Samples sit where their timestamps put them, so sample i is i / rate seconds after the
    recording's start even across a lost chunk (silence fills the hole). The frames are
    decoded at the stream's rate and brought to `rate` by numpy a second at a time, the mean
    of each run of samples (a low-pass ample for levels and peaks): a resampler call per
    20 ms frame cost more than the decoding.
    """
    with av.open(str(path)) as container:
        if not container.streams.audio:
            raise RecordingError(f"{path} has no audio stream")
        stream = container.streams.audio[0]
        source = stream.codec_context.sample_rate
        if rate <= 0 or source % rate:
            raise ValueError(
                f"decode needs a rate that divides the stream's {source} Hz (got {rate})"
            )
        placed = _Placed(source, source // rate)
        for frame in container.decode(stream):
            placed.add(frame)
    return rate, placed.samples()


class _Placed:
    """Decoded frames put at their timestamps at the stream's rate, and kept averaged by
    `factor` as int16 stereo: only the last second stays at the stream's rate."""

    def __init__(self, source: int, factor: int):
        self.source, self.factor = source, factor
        self.written = 0  # samples at the stream's rate placed so far
        self.pending: list[np.ndarray] = []  # float (n, 2) at the stream's rate, not averaged
        self.waiting = 0
        self.done: list[np.ndarray] = []

    def add(self, frame: av.AudioFrame) -> None:
        """Place a frame at its timestamp, with silence before it if it starts late."""
        at = self.written if frame.time is None else round(frame.time * self.source)
        if at - self.written > self.source * GAP_MS // 1000:
            self._append(np.zeros((at - self.written, 2), dtype=np.float32))
        self._append(_stereo(frame))

    def _append(self, samples: np.ndarray) -> None:
        self.pending.append(samples)
        self.waiting += len(samples)
        self.written += len(samples)
        if self.waiting >= self.source:
            self._average()

    def _average(self) -> None:
        """Average what is pending in runs of `factor`; a partial run waits for the next."""
        block = np.concatenate(self.pending)
        whole = len(block) // self.factor * self.factor
        runs = block[:whole].reshape(-1, self.factor, 2).mean(axis=1)
        self.done.append(np.clip(np.rint(runs * 32768), -32768, 32767).astype(np.int16))
        self.pending, self.waiting = [block[whole:]], len(block) - whole

    def samples(self) -> np.ndarray:
        """Everything placed, averaged (a last partial run of fewer than `factor` is dropped)."""
        if self.pending:
            self._average()
        return np.concatenate(self.done) if self.done else np.zeros((0, 2), dtype=np.int16)


def _stereo(frame: av.AudioFrame) -> np.ndarray:
    """A frame's samples as floats in -1..1, shape (n, 2): planar or packed, float or 16-bit,
    a mono frame on both sides."""
    array = frame.to_ndarray()
    channels = len(frame.layout.channels)
    array = array.T if frame.format.is_planar else array.reshape(-1, channels)
    if array.dtype.kind == "i":
        array = array / 32768.0
    return np.repeat(array, 2, axis=1) if channels == 1 else array[:, :2]


# ---------------------------------------------------------------- peaks


@dataclass(frozen=True)
class Peaks:
    """Per-channel min and max of each bin of `size` samples at `rate`, 8-bit (a waveform drawn
    a pixel a bin needs no more): `low` and `high` have shape (bins, 2), left = user."""

    rate: int
    size: int
    low: np.ndarray
    high: np.ndarray

    @property
    def per_second(self) -> float:
        """Bins a second of audio."""
        return self.rate / self.size

    def coarser(self, factor: int) -> Peaks:
        """The same peaks with `factor` bins merged into one: the whole-call view's level."""
        if factor <= 1 or not len(self.low):
            return self
        whole = math.ceil(len(self.low) / factor) * factor
        pad = ((0, whole - len(self.low)), (0, 0))
        low = np.pad(self.low, pad, mode="edge").reshape(-1, factor, 2)
        high = np.pad(self.high, pad, mode="edge").reshape(-1, factor, 2)
        return Peaks(self.rate, self.size * factor, low.min(axis=1), high.max(axis=1))

    def between(self, start_ms: float, end_ms: float) -> tuple[int, Peaks]:
        """The bins that cover start_ms..end_ms (clipped to the peaks), and the first one's
        index: a zoomed view's window, sliced without copying the level."""
        ms_per_bin = self.size * 1000 / self.rate
        first = min(len(self.low), max(0, math.floor(start_ms / ms_per_bin)))
        last = min(len(self.low), max(first, math.ceil(end_ms / ms_per_bin)))
        return first, Peaks(self.rate, self.size, self.low[first:last], self.high[first:last])

    def fitting(self, bins: int) -> Peaks:
        """The finest level of these peaks with at most `bins` bins (a view `bins` pixels wide)."""
        return self.coarser(math.ceil(len(self.low) / max(1, bins)))

    def waveform_data(self) -> dict:
        """The peaks in audiowaveform's JSON format (version 2, 8 bits, channels interleaved
        per bin as min, max), which peaks.js reads and a canvas draws without a library."""
        interleaved = np.stack((self.low, self.high), axis=2).reshape(-1)
        return {
            "version": 2,
            "channels": 2,
            "sample_rate": self.rate,
            "samples_per_pixel": self.size,
            "bits": 8,
            "length": len(self.low),
            "data": interleaved.tolist(),
        }


def peaks(samples: np.ndarray, rate: int, per_second: float = 100) -> Peaks:
    """Min and max of each channel of int16 samples in bins of 1/per_second s (the last bin
    may be short). An hour at 100 bins a second is 1.4 MB of int8."""
    size = max(1, round(rate / per_second))
    full = len(samples) // size * size
    bins = [samples[:full].reshape(-1, size, 2)]  # a view: an hour's samples are not copied
    if full < len(samples):
        bins.append(samples[full:][np.newaxis])
    low = np.concatenate([b.min(axis=1) for b in bins])
    high = np.concatenate([b.max(axis=1) for b in bins])
    # int16 to int8 by the top byte: -32768..32767 maps onto -128..127.
    return Peaks(rate, size, (low >> 8).astype(np.int8), (high >> 8).astype(np.int8))
