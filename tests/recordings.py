"""Synthetic recordings: stereo PCM with sound at known times, and the WebM chunks MediaRecorder
would send for it (a header, then clusters, no duration, no cues)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import av
import numpy as np

from voice_lab.analysis.speech import Span

RATE = 48000
T0 = 1_763_900_000_000.0  # the recording's start on the events' clock (ms since the epoch)
CLUSTER = b"\x1f\x43\xb6\x75"  # the EBML id of a Matroska Cluster


def stereo(
    seconds: float,
    user: Sequence[tuple[float, float]] = (),
    model: Sequence[tuple[float, float]] = (),
    noise_db: float | None = None,
    rate: int = RATE,
) -> np.ndarray:
    """int16 (n, 2): a 220 Hz tone on the left over each user (start_s, end_s), noise bursts on
    the right over each model one (the model's side is any sound played), silence elsewhere or
    steady noise at `noise_db` dBFS."""
    n = round(seconds * rate)
    out = np.zeros((n, 2), dtype=np.float64)
    rng = np.random.default_rng(7)
    if noise_db is not None:
        out += rng.normal(0, 10 ** (noise_db / 20), (n, 2))
    t = np.arange(n) / rate
    for start, end in user:
        a, b = round(start * rate), round(end * rate)
        out[a:b, 0] += 0.3 * np.sin(2 * np.pi * 220 * t[a:b])
    for start, end in model:
        a, b = round(start * rate), round(end * rate)
        out[a:b, 1] += rng.uniform(-0.3, 0.3, b - a)
    return (np.clip(out, -1, 1) * 32767).astype(np.int16)


def webm_live(samples: np.ndarray, rate: int = RATE) -> bytes:
    """The samples as a WebM/Opus stream the way MediaRecorder writes one (64 kbps, a cluster
    about a second, unknown sizes, no duration, no cues)."""
    buffer = io.BytesIO()
    options = {"live": "1", "cluster_time_limit": "1000"}
    with av.open(buffer, "w", format="webm", options=options) as container:
        stream = container.add_stream("libopus", rate=rate, layout="stereo")
        stream.bit_rate = 64000
        step = rate // 50  # Opus's 20 ms frames
        for at in range(0, len(samples), step):
            piece = np.ascontiguousarray(samples[at : at + step]).reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(piece, format="s16", layout="stereo")
            frame.rate, frame.pts = rate, at
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def recorder_chunks(samples: np.ndarray, rate: int = RATE) -> list[bytes]:
    """MediaRecorder's blobs for the samples: the header with the first cluster, then a cluster
    a chunk (split at each Cluster id; Opus bytes matching those four by chance are
    vanishingly rare at these lengths)."""
    data = webm_live(samples, rate)
    starts = _find_all(data, CLUSTER)[1:]
    bounds = [0, *starts, len(data)]
    return [data[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


def _find_all(data: bytes, needle: bytes) -> list[int]:
    """Every offset of needle in data."""
    found, at = [], data.find(needle)
    while at >= 0:
        found.append(at)
        at = data.find(needle, at + 1)
    return found


def assert_spans(
    found: Sequence[Span], expected: Sequence[tuple[float, float]], within_ms: float
) -> None:
    """The spans are the expected (start_s, end_s), each edge within `within_ms`."""
    got = [(s.start_ms / 1000, s.end_ms / 1000) for s in found]
    assert len(got) == len(expected), (got, expected)
    assert np.allclose(got, expected, rtol=0, atol=within_ms / 1000), (got, expected)
