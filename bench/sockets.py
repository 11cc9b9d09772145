"""Figures: the server's memory while 8 sockets each pipeline 32 frames of 1 MB unanswered, and
while 32 sockets each send 15 MB of one frame that never ends.

Each socket sends all it sends before it reads a reply, as a hostile or a stalled client
would; the server's peak RSS (VmHWM, reset once it idles) is the figure, against its idle RSS.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import threading
from collections.abc import Callable
from urllib.parse import urlsplit

import websocket

from voice_lab.ingest.frames import MAX_FRAME_BYTES

from .common import Figure, rss_kib, scratch, serving
from .export import reset_peak

SOCKETS, FRAMES = 8, 32
BIG_SOCKETS, BIG_FRAME = 32, 15 * 1024 * 1024  # as many as one client may open
HOLD = 5.0  # seconds a socket waits, after its last byte, for the server to close it


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


def unfinished(url: str, size: int, closed: list) -> None:
    """One raw socket: the handshake, then `size` bytes of a text frame that claims 100 bytes
    more, so it never ends; appends True when the server closed the socket meanwhile."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=HOLD) as raw:
        key = base64.b64encode(os.urandom(16)).decode()
        raw.sendall(
            f"GET /ws/mirror HTTP/1.1\r\nHost: {address.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = raw.recv(4096)
            if not chunk:
                raise RuntimeError(f"the server refused the websocket: {answer[:200]!r}")
            answer += chunk
        # FIN and text, a 64-bit length, an all-zero mask: the payload goes as it is.
        header = b"\x81\xff" + struct.pack("!Q", size + 100) + bytes(4)
        try:
            raw.settimeout(None)  # as long as the server takes to read it
            raw.sendall(header + b"a" * size)
            raw.settimeout(HOLD)
            while raw.recv(1 << 16):  # the server's close frame, then its end of the stream
                pass
            closed.append(True)
        except TimeoutError:
            closed.append(False)  # still held open
        except OSError:
            closed.append(True)  # reset while sending: the server closed it


def run(quick: bool = False) -> list[Figure]:
    """Peak RSS over idle RSS with SOCKETS sockets pipelining FRAMES frames of 1 MB each, and
    with BIG_SOCKETS sockets each sending an unfinished frame of BIG_FRAME bytes."""
    return [pipelining(quick), unfinished_frames(quick)]


def peak_while(clients: int, client: Callable[[str], None]) -> tuple[int, int]:
    """A fresh server's idle RSS and its peak (KiB) while `clients` threads run `client(url)`."""
    with scratch() as directory, serving(directory / "sockets.sqlite3") as server:
        idle = rss_kib(server)
        reset_peak(server)
        threads = [threading.Thread(target=client, args=(server.url,)) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return idle, rss_kib(server, "VmHWM")


def rss_figure(name: str, idle_kib: int, peak_kib: int, note: str) -> Figure:
    """A peak RSS in MiB with the idle server's as its baseline."""
    return Figure(name, peak_kib / 1024, "MiB", idle_kib / 1024, peak_kib / idle_kib, note=note)


def unfinished_frames(quick: bool) -> Figure:
    """Peak RSS over idle RSS while BIG_SOCKETS sockets each send BIG_FRAME bytes of a frame."""
    sockets = BIG_SOCKETS // 4 if quick else BIG_SOCKETS
    closed: list[bool] = []
    idle, peak = peak_while(sockets, lambda url: unfinished(url, BIG_FRAME, closed))
    return rss_figure(
        "unfinished big frames peak RSS",
        idle,
        peak,
        f"{sockets} sockets each sending {BIG_FRAME // 2**20} MiB of a frame that never "
        f"ends; {sum(closed)} closed by the server",
    )


def pipelining(quick: bool) -> Figure:
    """Peak RSS over idle RSS with SOCKETS sockets pipelining FRAMES frames of 1 MB each."""
    frames = FRAMES // 4 if quick else FRAMES
    errors: list = []
    idle, peak = peak_while(SOCKETS, lambda url: pipeline(url, frames, errors))
    return rss_figure(
        "socket pipelining peak RSS",
        idle,
        peak,
        f"{SOCKETS} sockets x {frames} frames of 1 MB sent before any ack is read"
        + (f"; errors: {errors[:3]}" if errors else ""),
    )
