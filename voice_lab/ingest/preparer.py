"""The preparer: one background thread that makes recordings' files (recordings.prepare) once a
call is complete, so that nobody who opens its page pays for the remux and decode.

A job is asked for when the mirror stores a recording's stop event or a session ends, and by a
request that found the files missing. Asking never blocks: the queue is bounded, and a job
asked for while one for the same session is queued or running is that job, so a request waits
for it instead of decoding the same call beside it. What a previous run left unprepared (the
backlog, listed at start-up) is worked through whenever no job is asked for. The thread runs
only while there is work: it ends when idle a moment and starts again at the next job.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable, Sequence

QUEUE_SIZE = 256  # jobs asked for and not started: past it a job is dropped (and logged)
IDLE_S = 2.0  # the thread ends after this long with nothing to do

logger = logging.getLogger(__name__)


class Preparer:
    """Runs `work(session_id)` for each job, one at a time, on its own thread, and for each
    session of `backlog` when no job is asked for."""

    def __init__(
        self,
        work: Callable[[str], object],
        backlog: Sequence[str] = (),
        size: int = QUEUE_SIZE,
        name: str = "recording",
    ):
        self._work = work
        self._name = name  # what it prepares, in its thread's name and its logs
        self._backlog: deque[str] = deque(backlog)
        self._queue: queue.Queue[str] = queue.Queue(size)
        self._jobs: dict[str, threading.Event] = {}  # queued or running: done when set
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread now if there is a backlog to work through (at start-up)."""
        with self._lock:
            if self._backlog:
                self._start()

    def ask(self, session_id: str) -> threading.Event | None:
        """The job preparing `session_id`, queued now unless one is queued or running; None
        when the queue is full (a later request asks again). Never blocks."""
        with self._lock:
            job = self._jobs.get(session_id)
            if job is None:
                try:
                    self._queue.put_nowait(session_id)
                except queue.Full:
                    logger.warning(
                        "%s of %s not queued: the preparer is full", self._name, session_id
                    )
                    return None
                job = self._jobs[session_id] = threading.Event()
            self._start()
            return job

    def wait(self, session_id: str, timeout: float) -> bool:
        """Ask for the session's job and wait for it up to `timeout` seconds; whether it ended."""
        job = self.ask(session_id)
        return job is not None and job.wait(timeout)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"{self._name}-preparer", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        """Jobs asked for first, then the backlog; end when idle (under the lock, so a job
        asked for meanwhile starts a new thread)."""
        while (session_id := self._next()) is not None:
            try:
                self._work(session_id)
            except Exception:  # one recording's failure is not the next one's
                logger.exception("%s of %s not prepared", self._name, session_id)
            finally:
                with self._lock:
                    job = self._jobs.pop(session_id, None)
                if job is not None:
                    job.set()

    def _next(self) -> str | None:
        """The next session to prepare, or None once idle IDLE_S (the thread then ends)."""
        while True:
            try:
                return self._queue.get_nowait()
            except queue.Empty:
                pass
            if self._backlog:
                return self._backlog.popleft()
            try:
                return self._queue.get(timeout=IDLE_S)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return None
