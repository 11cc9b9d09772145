"""The WebRTC side of one call: an aiortc peer connection, its audio in and out, and the
data channel the browser opened, wired to a Session."""

from __future__ import annotations

import asyncio
import fractions
import logging
import time
from collections.abc import Callable

import av
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from .ears import Ears
from .keys import Key
from .scenarios import Scenario
from .script import Ids
from .session import Session
from .vad import to_16k_mono

log = logging.getLogger(__name__)

RATE = 48000
FRAME = 960  # 20 ms at 48 kHz, what the Opus encoder takes


class PacedAudio(MediaStreamTrack):
    """An audio track of 20 ms frames (48 kHz mono s16), each handed out no earlier than its time.

    Subclasses say what goes in a frame with `next_samples`; silence fills whatever is missing.
    """

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._start: float | None = None
        self._pts = 0

    def next_samples(self) -> np.ndarray:
        """Up to FRAME samples for the next frame."""
        raise NotImplementedError

    async def recv(self) -> av.AudioFrame:
        """The next frame, paced in real time."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._pts += FRAME
            wait = self._start + self._pts / RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        chunk = np.zeros(FRAME, dtype=np.int16)
        part = self.next_samples()
        chunk[: len(part)] = part
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = RATE, self._pts, fractions.Fraction(1, RATE)
        return frame


class OutputAudio(PacedAudio):
    """The outbound track: replies while one plays, silence otherwise, paced in real time."""

    def __init__(self) -> None:
        super().__init__()
        self.attached = False  # a sender pulls frames; without one, a timer stands in
        self.samples: np.ndarray | None = None
        self.position = 0
        self.on_drained: Callable[[], None] | None = None
        self.started_at = 0.0
        self.timer: asyncio.TimerHandle | None = None

    def play(self, samples: np.ndarray, on_drained: Callable[[], None]) -> None:
        """Play `samples` (48 kHz mono s16) from the next frame on."""
        self.cut()
        self.samples, self.position, self.on_drained = samples, 0, on_drained
        self.started_at = time.monotonic()
        if not self.attached:
            self.timer = asyncio.get_running_loop().call_later(len(samples) / RATE, self._drained)

    def cut(self) -> int:
        """Stop playing; return how many ms of the reply went out."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.attached:
            played = self.position * 1000 // RATE
        else:
            played = (
                int((time.monotonic() - self.started_at) * 1000) if self.samples is not None else 0
            )
        self.samples, self.on_drained = None, None
        return played

    def _drained(self) -> None:
        callback = self.on_drained
        self.samples, self.on_drained, self.timer = None, None, None
        if callback is not None:
            callback()

    def next_samples(self) -> np.ndarray:
        """The reply's next 20 ms while one plays; when it has all gone out, say so."""
        if self.samples is None:
            return np.zeros(0, dtype=np.int16)
        part = self.samples[self.position : self.position + FRAME]
        self.position += len(part)
        if self.position >= len(self.samples):
            asyncio.get_running_loop().call_soon(self._drained)
        return part


class Call:
    """One emulated call, living on the emulator's loop."""

    def __init__(
        self,
        call_id: str,
        key: Key,
        scenario: Scenario,
        on_closed: Callable[[str], None],
        ears: Ears | None = None,
    ):
        self.call_id, self.on_closed = call_id, on_closed
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.audio = OutputAudio()
        # Ids seeded by the call: a replay of the same script and audio differs only in ids.
        self.session = Session(key, scenario, self.audio, self.close, Ids(seed=call_id), ears)
        self.reader: asyncio.Task | None = None
        self.channel = None
        self.closed = False
        self.pc.on("datachannel", self._on_channel)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_state)

    async def answer(self, offer_sdp: str) -> str:
        """Take the browser's offer and return an answer with gathered candidates."""
        await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        # The outbound track goes on after the offer, so it rides the offer's audio m-line.
        if any(t.kind == "audio" for t in self.pc.getTransceivers()):
            self.pc.addTrack(self.audio)
            self.audio.attached = True
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return self.pc.localDescription.sdp  # aiortc gathers before it returns

    def _on_channel(self, channel) -> None:
        # The browser made the channel (any label); it is already open when this fires.
        self.channel = channel
        channel.on("message", self.session.on_message)

        def send(text: str) -> None:
            if channel.readyState == "open":
                channel.send(text)

        self.session.attach(send)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio" and self.reader is None:
            self.reader = asyncio.get_running_loop().create_task(self._read(track))

    async def _read(self, track: MediaStreamTrack) -> None:
        """Feed every decoded frame (48 kHz stereo s16) to the session's turn detection."""
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, av.AudioFrame):
                continue  # an audio track yields only audio frames
            samples = frame.to_ndarray().ravel()
            channels = len(frame.layout.channels)
            if not frame.format.is_planar or channels == 1:
                self.session.on_audio(to_16k_mono(samples, channels, frame.sample_rate))

    async def _on_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            await self.close()

    async def close(self) -> None:
        """Hang up: stop the session, the reader and the peer connection (idempotent)."""
        if self.closed:
            return
        self.closed = True
        await self.session.close()
        self.audio.cut()
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)
        if self.channel is not None:
            self.channel.close()
        await self.pc.close()
        self.audio.cut()
        self.on_closed(self.call_id)
