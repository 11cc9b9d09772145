"""The SQLite backend's writer: one connection per database file, batches committed in groups."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .rows import EventRow, Stored


def connect(path: str) -> sqlite3.Connection:
    """A connection as the store uses them: autocommit (transactions are explicit), rows by
    name, foreign keys enforced, waiting up to 10 s for another process's lock."""
    db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 10000")
    # synchronous stays FULL: an ack promises the events are on disk, power cut or not.
    return db


class Writer:
    """The one connection this process writes a database file with, and the lock its writers
    take turns on.

    One connection keeps its page cache warm: with one per mirror socket, each commit made the
    others' caches stale, so every batch re-read the pages it wrote into. The lock wakes a
    waiting writer the moment the previous transaction commits; SQLite's own busy handler (left
    for other processes) sleeps and polls instead, which put hundreds of ms on the mirror's acks.
    It lives while some Store on the file is open.

    Batches of events commit in groups: the commit (its fsync) is most of a batch's time under
    the lock, so the first waiter to find no group being written writes every batch queued, each
    in its own savepoint, and commits them all at once. The others sleep until that commit, and
    wake together: theirs is stored, or one of them writes the next group.

    The commit that takes the WAL past the autocheckpoint limit also copies its pages into the
    database file, under the lock. Most of them are the same few pages written again and again
    (each session's last leaves, the counters), copied once per checkpoint: a higher limit than
    SQLite's 1,000 pages copies them less often.
    """

    WAL_PAGES = 10_000  # 40 MB of WAL at the default page size, reused once checkpointed
    MAX_TOPS = 10_000  # sessions whose highest seq is remembered

    _open: dict[str, Writer] = {}
    _open_lock = threading.Lock()

    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()
        self.db = connect(path)
        self.db.execute(f"PRAGMA wal_autocheckpoint = {self.WAL_PAGES}")
        self.users = 0
        self._queue: list[Batch] = []
        self._writing = False  # a group is being written
        self._turn = threading.Condition()  # guards both, and wakes the waiters of a group
        # Each session's highest seq stored, as this connection last wrote it: a batch above it
        # holds no seq stored already, so the look for those is skipped. A transaction rolled
        # back leaves it too high, which only costs a look. It is behind the truth only if
        # another process writes the session; then the insert is refused (the primary key),
        # the batch is forgotten here, and sent again it is looked at.
        self._tops: dict[str, int] = {}

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
            db.execute("BEGIN IMMEDIATE")
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
            db.execute("COMMIT")
        except Exception as exc:  # nothing of the group is stored
            if db.in_transaction:
                db.execute("ROLLBACK")
            for batch in group:
                batch.error = batch.error or exc
        finally:
            for batch in group:
                batch.done = True

    def _insert(self, batch: Batch) -> Stored:
        """insert_batch for a batch, knowing where its session's seqs stopped (forgotten
        until it is stored: refused, the session's next batch looks)."""
        top = self._tops.pop(batch.session_id, None)
        stored = insert_batch(self.db, batch.session_id, batch.rows, top)
        if stored.total:
            if len(self._tops) >= self.MAX_TOPS:
                self._tops.clear()
            self._tops[batch.session_id] = stored.max_seq
        return stored

    @classmethod
    def acquire(cls, path: str) -> Writer:
        """The file's writer, opened if no Store has it open."""
        key = str(Path(path).resolve())
        with cls._open_lock:
            writer = cls._open.get(key)
            if writer is None:
                writer = cls._open[key] = Writer(path)
            writer.users += 1
            return writer

    def release(self) -> None:
        """One Store less; the last one closes the connection."""
        with Writer._open_lock:
            self.users -= 1
            if self.users == 0:
                del Writer._open[str(Path(self.path).resolve())]
                with self.lock:
                    self.db.close()


@dataclass(slots=True)
class Batch:
    """Events waiting for the writer, and what became of them."""

    session_id: str
    rows: Sequence[EventRow]
    done: bool = False
    stored: Stored = Stored(0, 0)
    error: Exception | None = None


# A batch's rows go in with one statement (as many as SQLite takes parameters for), and its
# counters with one more. Each statement lets go of the GIL while SQLite runs it, and getting it
# back waits for the thread that took it: executemany, one row per step, waited once per row.
_INSERT_EVENTS = (
    "INSERT INTO events (session_id, received_at, seq, direction, t, type, category, "
    "response_id, item_id, payload, compact) VALUES "
)
_COUNT_EVENTS = "INSERT INTO event_counts (session_id, category, type, n) VALUES "
MAX_INSERT_ROWS = 500  # a mirror batch's most, and an import's chunk


def _insert_rows(db: sqlite3.Connection, insert: str, rows: list[tuple], tail: str = "") -> None:
    """INSERT rows of equal length in as few statements as SQLite takes parameters for (at
    most MAX_INSERT_ROWS rows each); `tail` follows the VALUES."""
    if not rows:
        return
    columns = len(rows[0])
    most = min(MAX_INSERT_ROWS, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // columns)
    for start in range(0, len(rows), most):
        chunk = rows[start : start + most]
        sql = _values_sql(insert, columns, len(chunk)) + tail
        db.execute(sql, [value for row in chunk for value in row])


@lru_cache(maxsize=128)  # batch sizes: an import's last chunk can be any size
def _values_sql(insert: str, columns: int, rows: int) -> str:
    """An INSERT with `rows` rows of `columns` parameters each."""
    row = "(" + ", ".join("?" * columns) + ")"
    return insert + ", ".join([row] * rows)


def insert_batch(
    db: sqlite3.Connection, session_id: str, rows: Sequence[EventRow], top: int | None = None
) -> Stored:
    """Insert the rows not stored yet and keep the session's counters; inside a transaction.
    top: the session's highest seq stored, if known: rows above it go in without a look for
    those stored already."""
    if not rows:
        return Stored(0, 0)  # not stored anywhere: frames.to_events refuses empty batches
    seqs = [row.seq for row in rows]
    if top is not None and min(seqs) > top:
        have = set()
    else:
        have = {
            r[0]
            for r in db.execute(
                "SELECT seq FROM events WHERE session_id = ? AND seq BETWEEN ? AND ?",
                (session_id, min(seqs), max(seqs)),
            )
        }
    fresh = list({row.seq: row for row in rows if row.seq not in have}.values())
    head = (session_id, time.time())
    _insert_rows(db, _INSERT_EVENTS, [head + row for row in fresh])
    counts = Counter((r.category, r.type or "") for r in fresh)
    _insert_rows(
        db,
        _COUNT_EVENTS,
        [(session_id, category, type_, n) for (category, type_), n in counts.items()],
        " ON CONFLICT DO UPDATE SET n = n + excluded.n",
    )
    first_t = min((r.t for r in fresh if r.t is not None), default=None)
    counters = db.execute(
        "UPDATE sessions SET event_count = event_count + ?, error_count = error_count + ?, "
        "max_seq = max(max_seq, ?), first_t = coalesce(min(first_t, ?), first_t, ?) WHERE id = ? "
        "RETURNING event_count, max_seq",
        (
            len(fresh),
            sum(r.category == "error" for r in fresh),
            max(seqs),
            first_t,
            first_t,
            session_id,
        ),
    ).fetchone()
    if counters is None:
        return Stored(len(fresh), 0)
    count, max_seq = counters
    # With a gap, finding where it starts reads the session: left to the caller's connection,
    # out of the writer's lock (see Store._acked).
    return Stored(len(fresh), max_seq if count == max_seq else None, count, max_seq)
