"""The SQLite backend: sessions, their events and recordings in one file (WAL, short
transactions), written through one connection per file in the process."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from .base import Store
from .errors import Unavailable
from .migrations import NAMES, scripts
from .rows import EventRow, Stored
from .sqlite_errors import translating
from .writer import Batch, Writer


def connect(path: str) -> sqlite3.Connection:
    """A connection as the store uses them: autocommit (transactions are explicit), rows by
    name, foreign keys enforced, waiting up to 10 s for another process's lock."""
    db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 10000")
    # synchronous stays FULL: an ack promises the events are on disk, power cut or not.
    return db


@translating
class SQLiteStore(Store):
    """One SQLite connection for reads, and the file's writer for writes."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self.db = connect(self.path)  # reads
        # writes, shared with the process's other Stores on the file
        self.writer = SQLiteWriter.acquire(str(Path(self.path).resolve()))
        self._closed = False

    def close(self) -> None:
        """Close the connection (and the writer's, if no other Store uses it)."""
        if not self._closed:
            self._closed = True
            self.db.close()
            self.writer.release()

    def migrate(self) -> int:
        """Bring the schema up to date; returns the version it is at."""
        self.db.execute("PRAGMA journal_mode = WAL")
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(scripts("sqlite")[version:], start=version + 1):
            self.db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
        return len(NAMES)

    def version(self) -> int:
        """The migrations this database has run."""
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def describe(self) -> str:
        """The engine, its version and where the database is: for doctor."""
        return f"SQLite {sqlite3.sqlite_version}, the file {self.path}"

    @contextmanager
    def transaction(self, wait: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once so concurrent writers queue instead of failing
        (or, without `wait`, Unavailable while another write of this process is under way)."""
        if not self.writer.lock.acquire(blocking=wait):
            raise Unavailable("another write of this process is under way: try again after it")
        try:
            db = self.writer.db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:  # a failed COMMIT may have ended it already
                    db.execute("ROLLBACK")
                raise
        finally:
            self.writer.lock.release()

    def _tuples(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        cursor = self.db.cursor()
        cursor.row_factory = None
        return cursor.execute(sql, params).fetchall()


class SQLiteWriter(Writer):
    """The writer of one SQLite file.

    The commit that takes the WAL past the autocheckpoint limit also copies its pages into the
    database file, under the lock. Most of them are the same few pages written again and again
    (each session's last leaves, the counters), copied once per checkpoint: a higher limit than
    SQLite's 1,000 pages copies them less often.
    """

    BEGIN = "BEGIN IMMEDIATE"
    WAL_PAGES = 10_000  # 40 MB of WAL at the default page size, reused once checkpointed
    MAX_TOPS = 10_000  # sessions whose highest seq is remembered

    def __init__(self, key: str):
        super().__init__(key)
        # Each session's highest seq stored, as this connection last wrote it: a batch above it
        # holds no seq stored already, so the look for those is skipped. A transaction rolled
        # back leaves it too high, which only costs a look. It is behind the truth only if
        # another process writes the session; then the insert is refused (the primary key),
        # the batch is forgotten here, and sent again it is looked at.
        self._tops: dict[str, int] = {}

    def connect(self) -> sqlite3.Connection:
        """The file's write connection, checkpointing less often than SQLite's default."""
        db = connect(self.key)
        db.execute(f"PRAGMA wal_autocheckpoint = {self.WAL_PAGES}")
        return db

    def in_transaction(self) -> bool:
        """Whether the write connection is inside a transaction."""
        return self.db.in_transaction

    def _insert(self, batch: Batch) -> Stored:
        """insert_batch for a batch, knowing where its session's seqs stopped (forgotten
        until it is stored: refused, the session's next batch looks)."""
        top = self._tops.pop(batch.session_id, None)
        stored = self.insert_batch(self.db, batch.session_id, batch.rows, top)
        if stored.total:
            if len(self._tops) >= self.MAX_TOPS:
                self._tops.clear()
            self._tops[batch.session_id] = stored.max_seq
        return stored

    def insert_batch(
        self,
        db: sqlite3.Connection,
        session_id: str,
        rows: Sequence[EventRow],
        top: int | None = None,
    ) -> Stored:
        """Insert the rows not stored yet and keep the session's counters; inside a transaction.
        top: the session's highest seq stored, if known: rows above it go in without a look for
        those stored already."""
        return insert_batch(db, session_id, rows, top)


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
