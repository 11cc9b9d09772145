"""The writer every backend stores events with: one connection per database in the process,
batches committed in groups. A backend subclasses it with its connection and its insert."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .rows import EventRow, Stored


class Writer:
    """The one connection this process writes a database with, and the lock its writers take
    turns on.

    One connection keeps its page cache warm: with one per mirror socket, each commit made the
    others' caches stale, so every batch re-read the pages it wrote into. The lock wakes a
    waiting writer the moment the previous transaction commits; SQLite's own busy handler (left
    for other processes) sleeps and polls instead, which put hundreds of ms on the mirror's acks.
    It lives while some Store on the database is open.

    Batches of events commit in groups: the commit (its fsync) is most of a batch's time under
    the lock, so the first waiter to find no group being written writes every batch queued, each
    in its own savepoint, and commits them all at once. The others sleep until that commit, and
    wake together: theirs is stored, or one of them writes the next group.
    """

    BEGIN = "BEGIN"  # how a backend starts the group's transaction
    # What tells other processes' followers that rows were stored, run inside the transaction
    # that stores them (None: a backend one process uses, whose broker is told directly).
    NOTIFY: str | None = None
    # What locks the group's session rows, in one order, before anything of the group is
    # written (None: a backend whose BEGIN takes the whole database, as SQLite's does).
    LOCK_SESSIONS: str | None = None

    _open: dict[tuple[type, str], Writer] = {}
    _open_lock = threading.Lock()

    def __init__(self, key: str):
        self.key = key
        self.lock = threading.Lock()
        self.db = self.connect()
        self.users = 0
        self._queue: list[Batch] = []
        self._writing = False  # a group is being written
        self._turn = threading.Condition()  # guards both, and wakes the waiters of a group

    def connect(self) -> Any:
        """The backend's write connection to the database `key` names (autocommit: the
        writer opens and ends its transactions itself)."""
        raise NotImplementedError

    def in_transaction(self) -> bool:
        """Whether the write connection is inside a transaction (a failed COMMIT may have
        ended it already)."""
        raise NotImplementedError

    def insert_batch(
        self, db: Any, session_id: str, rows: Sequence[EventRow], top: int | None = None
    ) -> Stored:
        """Insert the rows not stored yet and keep the session's counters, inside a
        transaction on `db`; `top`, the session's highest seq stored if the backend knows it."""
        raise NotImplementedError

    def insert(self, session_id: str, rows: Sequence[EventRow]) -> Stored:
        """Store a batch, committed by the time this returns."""
        return self.wait(self.submit(session_id, rows))

    def submit(self, session_id: str, rows: Sequence[EventRow]) -> Batch:
        """Queue a batch for the next group; wait() returns once it is stored."""
        batch = Batch(session_id, rows)
        with self._turn:
            self._queue.append(batch)
        return batch

    def wait(self, batch: Batch) -> Stored:
        """What storing a submitted batch did, or its error, once its group committed: this
        thread writes the group unless a writer before it took the batch along."""
        with self._turn:
            while not batch.done:
                if self._writing:
                    self._turn.wait()
                    continue
                self._writing = True
                group, self._queue = self._queue, []
                self._turn.release()
                try:
                    with self.lock:
                        self._write(group)
                finally:
                    for taken in group:  # an interrupt before the write: say so, never spin
                        if not taken.done:
                            taken.error, taken.done = RuntimeError("batch not written"), True
                    self._turn.acquire()
                    self._writing = False
                    self._turn.notify_all()
        if batch.error is not None:
            raise batch.error
        return batch.stored

    def _write(self, group: list[Batch]) -> None:
        """One transaction for the group; a batch that fails leaves the others stored."""
        db = self.db
        try:
            db.execute(self.BEGIN)
            if self.LOCK_SESSIONS:
                db.execute(self.LOCK_SESSIONS, (sorted({batch.session_id for batch in group}),))
            if len(group) == 1:  # alone, a failure is the transaction's
                group[0].stored = self._insert(group[0])
            else:
                for batch in group:
                    db.execute("SAVEPOINT batch")
                    try:
                        batch.stored = self._insert(batch)
                    except Exception as exc:
                        db.execute("ROLLBACK TO batch")
                        batch.error = exc
                    db.execute("RELEASE batch")
            # Followers in other processes learn of the group's sessions here, in the group's
            # transaction (PostgreSQL's NOTIFY is delivered at the COMMIT, not before).
            if self.NOTIFY and any(batch.error is None for batch in group):
                db.execute(self.NOTIFY)
            db.execute("COMMIT")
        except Exception as exc:  # nothing of the group is stored
            if self.in_transaction():
                db.execute("ROLLBACK")
            for batch in group:
                batch.error = batch.error or exc
        finally:
            for batch in group:
                batch.done = True

    def _insert(self, batch: Batch) -> Stored:
        """insert_batch for one batch of the group."""
        return self.insert_batch(self.db, batch.session_id, batch.rows)

    def close(self) -> None:
        """Close the write connection."""
        self.db.close()

    @classmethod
    def acquire(cls, key: str) -> Writer:
        """The database's writer, opened if no Store has it open."""
        with Writer._open_lock:
            writer = Writer._open.get((cls, key))
            if writer is None:
                writer = Writer._open[(cls, key)] = cls(key)
            writer.users += 1
            return writer

    def release(self) -> None:
        """One Store less; the last one closes the connection."""
        with Writer._open_lock:
            self.users -= 1
            if self.users == 0:
                del Writer._open[(type(self), self.key)]
                with self.lock:
                    self.close()


@dataclass(slots=True)
class Batch:
    """Events waiting for the writer, and what became of them."""

    session_id: str
    rows: Sequence[EventRow]
    done: bool = False
    stored: Stored = Stored(0, 0)
    error: Exception | None = None
