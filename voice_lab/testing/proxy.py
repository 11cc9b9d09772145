"""A loopback TCP proxy that cuts a server's connections and brings them back."""

from __future__ import annotations

import socket
import threading


class TcpProxy:
    """A loopback TCP proxy in front of a server, to cut its connections and bring them back.

    Point the browser at `proxy.url`: `cut()` closes every connection (the browser sees the
    server drop them) and refuses new ones until `restore()`; `point_at()` sends new ones to
    another server (a second worker) while those open stay where they are.
    """

    def __init__(self, target_url: str) -> None:
        self.point_at(target_url)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.open = True
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self.lock:
                self.connections |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            self._drop(end)

    def _drop(self, end: socket.socket) -> None:
        with self.lock:
            self.connections.discard(end)
        try:
            end.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        end.close()

    def cut(self) -> None:
        """Close every connection now and refuse new ones."""
        self.open = False
        with self.lock:
            ends = list(self.connections)
        for end in ends:
            self._drop(end)

    def point_at(self, target_url: str) -> None:
        """Send the connections made from now on to the server at `target_url` (loopback)."""
        self.target = ("127.0.0.1", int(target_url.rsplit(":", 1)[1].split("/")[0]))

    def restore(self) -> None:
        """Accept connections again."""
        self.open = True

    def close(self) -> None:
        """Stop listening and close everything."""
        self.cut()
        self.listener.close()
