"""A WebRTC client for tests, built on aiortc: it holds a real call the way a browser does.

It opens the data channel before the offer, POSTs the SDP with the ephemeral key, plays audio
into its microphone track on demand, records every server event and keeps the audio it receives,
with how much of it had arrived when each event did (so audio and events share one clock).
"""

from __future__ import annotations

import asyncio
import json
import time
import wave
from pathlib import Path
from typing import Any

import av
import numpy as np
import requests
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from voice_lab.emulator.loop import allow_loopback_candidates, forget_loopback_candidates
from voice_lab.emulator.peer import FRAME, RATE, PacedAudio


def read_wav(path: Path) -> np.ndarray:
    """A 16-bit mono or stereo WAV as 48 kHz mono s16 samples."""
    with wave.open(str(path), "rb") as wav:
        assert wav.getsampwidth() == 2 and wav.getframerate() == RATE
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        if wav.getnchannels() == 2:
            data = data.reshape(-1, 2).mean(axis=1).astype(np.int16)
    return data


class Microphone(PacedAudio):
    """An audio track that sends queued samples, and silence when there are none."""

    def __init__(self) -> None:
        super().__init__()
        self.queue = np.zeros(0, dtype=np.int16)

    def say(self, samples: np.ndarray) -> float:
        """Queue samples; return the seconds until they have all gone out."""
        self.queue = np.concatenate((self.queue, samples.astype(np.int16)))
        return len(self.queue) / RATE

    def next_samples(self) -> np.ndarray:
        """The next 20 ms of the queue."""
        part, self.queue = self.queue[:FRAME], self.queue[FRAME:]
        return part


class RtcClient:
    """One call from the client side. Use inside a running event loop."""

    def __init__(self, label: str = "oai-events", audio: bool = True):
        allow_loopback_candidates()
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.mic = Microphone() if audio else None
        self.events: list[dict[str, Any]] = []
        self.arrivals: list[int] = []  # per event: samples heard when it arrived
        self.heard: list[np.ndarray] = []  # received audio, 48 kHz mono s16, frame by frame
        self.heard_count = 0
        self.raw: list[str] = []
        self.changed = asyncio.Event()
        self.loud_frames = 0
        self.frames_in = 0
        self.reader: asyncio.Task | None = None
        self.channel = self.pc.createDataChannel(label)
        self.channel.on("message", self._on_message)
        self.channel_closed = asyncio.Event()
        self.channel.on("close", self.channel_closed.set)
        self.pc.on("track", self._on_track)
        if self.mic is not None:
            self.pc.addTrack(self.mic)

    async def connect(self, url: str, key: str, content_type: str = "application/sdp"):
        """Offer, POST the SDP with the key, apply the answer; return the HTTP response."""
        await self.pc.setLocalDescription(await self.pc.createOffer())
        response = await asyncio.to_thread(
            requests.post,
            url,
            data=self.pc.localDescription.sdp,
            headers={"Authorization": f"Bearer {key}", "Content-Type": content_type},
            timeout=30,
        )
        if response.status_code == 201:
            await self.pc.setRemoteDescription(RTCSessionDescription(response.text, "answer"))
        return response

    def _on_message(self, message: str) -> None:
        self.raw.append(message)
        self.events.append(json.loads(message))
        self.arrivals.append(self.heard_count)
        self.changed.set()

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self.reader = asyncio.get_running_loop().create_task(self._listen(track))

    async def _listen(self, track: MediaStreamTrack) -> None:
        """Keep received audio; count frames, and those with real energy (RMS over -30 dBFS)."""
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(frame, av.AudioFrame):
                continue  # an audio track yields only audio frames
            samples = frame.to_ndarray().astype(np.float64)
            self.frames_in += 1
            if np.sqrt(np.mean(samples**2)) > 1000:
                self.loud_frames += 1
            mono = samples.reshape(-1, len(frame.layout.channels)).mean(axis=1)
            self.heard.append(mono.astype(np.int16))
            self.heard_count += len(mono)
            self.changed.set()

    def send(self, event: dict[str, Any] | str) -> None:
        """Send a client event (a dict as JSON, a str as is)."""
        self.channel.send(event if isinstance(event, str) else json.dumps(event))

    def types(self) -> list[str]:
        """The types of the server events received so far, in order."""
        return [e["type"] for e in self.events]

    async def wait_for(
        self, type_: str, *, after: int = 0, timeout: float = 15, **fields: Any
    ) -> dict[str, Any]:
        """The first event of `type_` at index >= `after` whose fields match; waits for it."""
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events[after:]:
                if event["type"] == type_ and all(event.get(k) == v for k, v in fields.items()):
                    return event
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(
                    f"no {type_} {fields or ''} within {timeout} s; got {self.types()[after:]}"
                )
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                pass

    def heard_at(self, event: dict[str, Any]) -> int:
        """How many samples of audio had been received when `event` arrived."""
        return self.arrivals[self.index(event)]

    def audio(self) -> np.ndarray:
        """All the audio received so far, 48 kHz mono s16."""
        return np.concatenate(self.heard) if self.heard else np.zeros(0, dtype=np.int16)

    async def wait_heard(self, count: int, timeout: float = 15) -> None:
        """Wait until `count` samples of audio have been received."""
        deadline = time.monotonic() + timeout
        while self.heard_count < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"heard {self.heard_count} of {count} samples in {timeout} s")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                pass

    def index(self, event: dict[str, Any]) -> int:
        """The position of a received event."""
        return next(i for i, e in enumerate(self.events) if e is event)

    def barge_in_after(self, started: dict[str, Any]) -> int:
        """Where, counted from `started`, the user's speech cut the reply: asserts it was
        answered as the service does (cleared, truncated, a cancelled response.done)."""
        after = self.types()[self.index(started) :]
        barge = after.index("input_audio_buffer.speech_started")
        assert after[barge + 1 : barge + 4] == [
            "output_audio_buffer.cleared",
            "conversation.item.truncated",
            "response.done",
        ], after[barge:]
        return barge

    async def close(self) -> None:
        """Hang up and stop reading."""
        await self.pc.close()
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)
        forget_loopback_candidates()
