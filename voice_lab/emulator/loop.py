"""One long-lived asyncio loop on a daemon thread, where every peer connection lives.

aiortc objects are bound to the loop that created them, so a loop per request would kill the
call; Flask handlers hand work over with `run`, which waits for the result.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any

import aioice.ice

_loopback_threads: set[int] = set()
_original_host_addresses = aioice.ice.get_host_addresses


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """aioice's host addresses, plus 127.0.0.1 for the threads that asked for it.

    aioice leaves loopback out, so on a host with only a loopback interface (CI containers) the
    answer had no candidate at all; a local browser (with --allow-loopback-in-peer-connection)
    reaches 127.0.0.1.
    """
    addresses = _original_host_addresses(use_ipv4, use_ipv6)
    if use_ipv4 and threading.get_ident() in _loopback_threads and "127.0.0.1" not in addresses:
        addresses.append("127.0.0.1")
    return addresses


def allow_loopback_candidates() -> None:
    """Gather a 127.0.0.1 ICE candidate for peer connections made on the calling thread."""
    _loopback_threads.add(threading.get_ident())
    aioice.ice.get_host_addresses = _host_addresses


def forget_loopback_candidates() -> None:
    """Undo `allow_loopback_candidates` for the calling thread."""
    _loopback_threads.discard(threading.get_ident())


class LoopThread:
    """An event loop running forever on a daemon thread until `stop`."""

    def __init__(self, name: str = "voice-lab-emulator"):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._ready = threading.Event()
        self.thread.start()
        self._ready.wait()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        allow_loopback_candidates()
        self.loop.call_soon(self._ready.set)
        try:
            self.loop.run_forever()
        finally:
            forget_loopback_candidates()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float | None = 30) -> Any:
        """Run `coro` on the loop from another thread and return its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, timeout: float = 10) -> None:
        """Cancel what is left, stop the loop, join the thread and close the loop."""
        if not self.thread.is_alive():
            return
        try:
            self.run(self._drain(), timeout)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout)
            if not self.thread.is_alive():
                self.loop.close()

    async def _drain(self) -> None:
        """Cancel every other task and wait for them, so none is destroyed while pending."""
        current = asyncio.current_task()
        for _ in range(3):  # cancelled tasks may start cleanup tasks of their own
            tasks = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
            if not tasks:
                break
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        await self.loop.shutdown_asyncgens()
        await self.loop.shutdown_default_executor()
