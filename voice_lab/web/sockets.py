"""Ceilings on the mirror's websockets: how many, and how many bytes each has read ahead.

simple-websocket reads a socket in a thread of its own into an unbounded list, whether or not
the handler keeps up. `Metered` stands in for the connection's socket and makes that thread wait
before it reads more while the socket (or all sockets together) hold too many bytes read and
not answered yet. The bytes then wait in the kernel's buffers and, once those are full, in the
browser's own send buffer: mirror.js keeps every unacked event and resends it after a reconnect,
so nothing is lost, only slowed.

A message is read into memory until it ends, so one that never ends would grow without bound:
`Metered` closes the socket once the message it is in is over MESSAGE_LIMIT.

Every socket costs two threads (the request's and the reader's), so `Gate.admit` caps sockets
per client address and in all; the socket loop closes idle ones (see mirror_socket.py).
"""

from __future__ import annotations

import socket
import threading
from collections import Counter, deque
from contextlib import suppress
from typing import Any

from ..ingest.frames import MAX_FRAME_BYTES

MIB = 1024 * 1024
# Close codes: 1013 is the standard "try again later", 1009 "message too big"; 4408 is ours, in
# the range for applications, so that mirror.js tells an idle close from a server going away.
TOO_MANY_CLOSE = 1013
TOO_BIG_CLOSE = 1009
IDLE_CLOSE = 4408
# The longest message a socket may send, in characters (bytes for a binary one). A frame over
# MAX_FRAME_BYTES by less than the margin still reaches the mirror, which answers it with its
# own error and keeps the socket; past it the socket is closed, so that a frame, finished or
# not, holds no more than this while it is read (mirror.js never sends one that large).
MESSAGE_LIMIT = MAX_FRAME_BYTES + MAX_FRAME_BYTES // 16
TOO_BIG = (
    f"a message may hold {MESSAGE_LIMIT} characters "
    f"(the mirror takes frames of {MAX_FRAME_BYTES} bytes): send smaller batches"
)


class Metered:
    """A connection's socket, whose reads wait for room in the gate's budgets.

    The reader only ever waits while its socket holds a whole frame (read, or taken and not
    answered): that frame's reply frees room, so every socket always gets its next frame in.
    """

    def __init__(self, sock: socket.socket, gate: Gate):
        self._sock = sock
        self._gate = gate
        self._ws: Any = None  # the simple-websocket Server reading from this socket
        self._taken: deque[int] = deque()  # sizes of the frames taken, oldest first
        self._taken_bytes = 0
        self.closed = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)  # send, fileno, close: the socket's own

    def recv(self, size: int) -> bytes:
        """The socket's recv, once the gate has room for more; nothing (the end of the stream,
        for the reader) once the message being read is over MESSAGE_LIMIT, which closes it."""
        self._gate.wait_for_room(self)
        ws = self._ws
        if ws is not None and ws.incoming_message_len > MESSAGE_LIMIT:
            with suppress(Exception):  # closed already: nothing left to tell
                ws.close(TOO_BIG_CLOSE, TOO_BIG)
            return b""
        return self._sock.recv(size)

    def held(self) -> tuple[int, bool]:
        """Bytes read and not answered yet (buffered, partly received, or taken), and whether
        a whole frame is among them."""
        ws = self._ws
        if ws is None:
            return 0, False
        buffered = list(ws.input_buffer)  # a copy: the handler pops from it meanwhile
        size = sum(map(len, buffered)) + ws.incoming_message_len + self._taken_bytes
        return size, bool(buffered or self._taken)

    def took(self, frame: str | bytes) -> None:
        """The handler took a frame from the buffer; it is held until answered()."""
        self._taken.append(len(frame))
        self._taken_bytes += len(frame)

    def answered(self) -> None:
        """The oldest frame taken got its reply: its bytes are free."""
        self._taken_bytes -= self._taken.popleft()
        self._gate.changed()

    def end(self) -> None:
        """End the connection, what is sent still delivered: a client that keeps it open after
        the websocket closed would otherwise hold the reader and the request's thread."""
        with suppress(OSError):  # gone already
            self._sock.shutdown(socket.SHUT_RDWR)

    def unheld(self) -> None:
        """A reader waited on the gate: the ping's answer may be queued behind the frames it
        did not read, so it does not count as missing (simple-websocket would close)."""
        if self._ws is not None:
            self._ws.pong_received = True


class Gate:
    """The limits an app's mirror sockets share; thread-safe."""

    def __init__(self, per_client: int, most: int, read_ahead: float, read_ahead_total: float):
        self.per_client, self.most = per_client, most
        self.read_ahead = int(read_ahead * MIB)
        self.read_ahead_total = int(read_ahead_total * MIB)
        self._room = threading.Condition()
        self._clients: Counter[str] = Counter()
        self._open: set[Metered] = set()
        self.waiting = 0  # readers waiting for room now

    @classmethod
    def from_config(cls, config: Any) -> Gate:
        """The gate for an app's settings (see config.SOCKET_LIMITS)."""
        return cls(
            config["VOICE_LAB_SOCKETS_PER_CLIENT"],
            config["VOICE_LAB_SOCKETS"],
            config["VOICE_LAB_SOCKET_READ_AHEAD"],
            config["VOICE_LAB_READ_AHEAD_TOTAL"],
        )

    def meter(self, sock: socket.socket) -> Metered:
        """Wrap a connection's socket; its reads wait until open() attaches it."""
        return Metered(sock, self)

    def admit(self, client: str) -> str | None:
        """Count a new socket from `client`, or say why it may not open (then nothing is
        counted)."""
        with self._room:
            if self._clients[client] >= self.per_client:
                return (
                    f"{self.per_client} sockets from this address are open already: close one, "
                    "or raise VOICE_LAB_SOCKETS_PER_CLIENT"
                )
            if sum(self._clients.values()) >= self.most:
                return (
                    f"{self.most} sockets are open already: try again later, "
                    "or raise VOICE_LAB_SOCKETS"
                )
            self._clients[client] += 1
            return None

    def leave(self, client: str) -> None:
        """An admitted socket from `client` closed."""
        with self._room:
            self._clients[client] -= 1
            if self._clients[client] <= 0:
                del self._clients[client]

    @property
    def sockets(self) -> int:
        """How many sockets are admitted now."""
        with self._room:
            return sum(self._clients.values())

    def open(self, metered: Metered, ws: Any) -> None:
        """The socket's reader may start: its budget counts from here."""
        with self._room:
            metered._ws = ws
            self._open.add(metered)
            self._room.notify_all()

    def close(self, metered: Metered) -> None:
        """The socket's handler is done: its reader stops waiting, and the connection ends."""
        with self._room:
            metered.closed = True
            self._open.discard(metered)
            self._room.notify_all()
        metered.end()

    def changed(self) -> None:
        """Bytes were freed: let waiting readers look again."""
        with self._room:
            self._room.notify_all()

    def held(self) -> int:
        """Bytes the open sockets hold read ahead now, in all."""
        with self._room:
            return self._total()

    def wait_for_room(self, metered: Metered) -> None:
        """Return once `metered` may read: it is closed, or holds no whole frame, or it and
        all sockets together are under their budgets."""
        waited = False
        with self._room:
            while not metered.closed and self._full(metered):
                waited = True
                self.waiting += 1
                try:
                    self._room.wait()
                finally:
                    self.waiting -= 1
        if waited:
            metered.unheld()

    def _full(self, metered: Metered) -> bool:
        if metered._ws is None:
            return True  # not open yet: the handler attaches it first thing
        size, whole = metered.held()
        if not whole:
            return False
        return size >= self.read_ahead or self._total() >= self.read_ahead_total

    def _total(self) -> int:
        return sum(metered.held()[0] for metered in self._open)
