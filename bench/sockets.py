"""Figure: the server's memory while 8 sockets each pipeline 32 frames of 1 MB unanswered.

Each socket sends all its frames before it reads an ack, as a hostile or a stalled client
would; the server's peak RSS (VmHWM, reset once it idles) is the figure, against its idle RSS.
"""

from __future__ import annotations

import json
import threading

import websocket

from voice_lab.ingest.frames import MAX_FRAME_BYTES

from .common import Figure, rss_kib, scratch, serving
from .export import reset_peak

SOCKETS, FRAMES = 8, 32


def frame(seq: int) -> str:
    """An events frame of one event, about as large as a frame may be."""
    data = json.dumps({"type": "x", "pad": "p" * (MAX_FRAME_BYTES - 4096)})
    event = {"seq": seq, "dir": "server", "t": 1.0, "data": data}
    return json.dumps({"op": "events", "events": [event]})


def pipeline(url: str, frames: int, errors: list) -> None:
    """One socket: hello with create, every frame sent, then every reply read."""
    try:
        ws = websocket.create_connection(url.replace("http", "ws", 1) + "/ws/mirror", timeout=300)
        ws.send(json.dumps({"op": "hello", "create": {"label": "bench"}}))
        json.loads(ws.recv())
        for seq in range(1, frames + 1):
            ws.send(frame(seq))
        replies = [json.loads(ws.recv()) for _ in range(frames)]
        if replies[-1] != {"op": "ack", "upto": frames}:
            errors.append(replies[-1])
        ws.close()
    except Exception as exc:  # reported with the figure
        errors.append(repr(exc))


def run(quick: bool = False) -> list[Figure]:
    """Peak RSS over idle RSS with SOCKETS sockets pipelining FRAMES frames of 1 MB each."""
    frames = FRAMES // 4 if quick else FRAMES
    with scratch() as directory, serving(directory / "sockets.sqlite3") as server:
        idle = rss_kib(server)
        reset_peak(server)
        errors: list = []
        threads = [
            threading.Thread(target=pipeline, args=(server.url, frames, errors))
            for _ in range(SOCKETS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        peak = rss_kib(server, "VmHWM")
    return [
        Figure(
            "socket pipelining peak RSS",
            peak / 1024,
            "MiB",
            idle / 1024,
            peak / idle,
            note=f"{SOCKETS} sockets x {frames} frames of 1 MB sent before any ack is read"
            + (f"; errors: {errors[:3]}" if errors else ""),
        )
    ]
