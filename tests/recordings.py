"""Synthetic recordings: stereo PCM with sound at known times, the WebM chunks MediaRecorder
would send for it (a header, then clusters, no duration, no cues), and a call's events to go
with them, stored as the mirror stores them."""

from __future__ import annotations

import io
from collections.abc import Sequence

import av
import numpy as np

from voice_lab.analysis.speech import Span
from voice_lab.protocol.record import Event, parse_event
from voice_lab.storage.base import Store
from voice_lab.storage.rows import AudioChunk, EventRow

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


# A call, in seconds from the recording's start: the user speaks 1.0-2.5; response r1 is created
# at 3.0 and plays 3.2-5.0; r2 is created at 5.3 and plays from 5.5 until the user talks over it
# at 6.0 and it is cleared at 6.45; the user speaks 6.0-7.0; r3 is created at 7.6 and plays
# 7.9-9.0; then silence to 12.0.
CALL_SECONDS = 12.0
CALL_USER = [(1.0, 2.5), (6.0, 7.0)]
CALL_MODEL = [(3.2, 5.0), (5.5, 6.4), (7.9, 9.0)]
_CALL = (
    (-50, "voicelab.call", {"phase": "start"}),
    (0, "voicelab.recording", {"phase": "start", "t0": T0, "mime": "x", "channels": 2}),
    (1000, "input_audio_buffer.speech_started", {"audio_start_ms": 950}),
    (2600, "input_audio_buffer.speech_stopped", {"audio_end_ms": 2550}),
    (3000, "response.created", {"response": {"id": "r1"}}),
    (3050, "response.content_part.added", {"response_id": "r1", "part": {"type": "audio"}}),
    (3150, "output_audio_buffer.started", {"response_id": "r1"}),
    (3400, "response.done", {"response": {"id": "r1", "status": "completed"}}),
    (5050, "output_audio_buffer.stopped", {"response_id": "r1"}),
    (5300, "response.created", {"response": {"id": "r2"}}),
    (5310, "response.output_audio.delta", {"response_id": "r2", "delta": ""}),
    (5450, "output_audio_buffer.started", {"response_id": "r2"}),
    (6050, "input_audio_buffer.speech_started", {"audio_start_ms": 6020}),
    (6450, "output_audio_buffer.cleared", {"response_id": "r2"}),
    (6450, "response.done", {"response": {"id": "r2", "status": "cancelled"}}),
    (7100, "input_audio_buffer.speech_stopped", {"audio_end_ms": 7050}),
    (7600, "response.created", {"response": {"id": "r3"}}),
    (7610, "response.output_audio.delta", {"response_id": "r3", "delta": ""}),
    (7850, "output_audio_buffer.started", {"response_id": "r3"}),
    (8000, "response.done", {"response": {"id": "r3", "status": "completed"}}),
    (9050, "output_audio_buffer.stopped", {"response_id": "r3"}),
    (CALL_SECONDS * 1000, "voicelab.recording", {"phase": "stop", "chunks": 12}),
)


def call_events() -> list[Event]:
    """The call's events at T0 + ms, seq in order (voicelab.* ones local, the rest server)."""
    return [
        parse_event(seq, "local" if kind.startswith("voicelab.") else "server", T0 + ms, fields)
        for seq, (ms, kind, fields) in enumerate(
            ((ms, k, {"type": k, **f}) for ms, k, f in _CALL), 1
        )
    ]


def call_chunks() -> list[bytes]:
    """The chunks MediaRecorder would send for the call above."""
    return recorder_chunks(stereo(CALL_SECONDS, CALL_USER, CALL_MODEL))


def store_call(store: Store, chunks: Sequence[bytes]) -> str:
    """A session holding the call's events and the recording's chunks; its id."""
    session_id = store.create_session(provider="emulator", label="recorded")
    store.insert_events(session_id, [EventRow.of(e) for e in call_events()])
    store.insert_chunks(
        session_id, [AudioChunk(seq, T0 + seq * 1000, data) for seq, data in enumerate(chunks, 1)]
    )
    return session_id
