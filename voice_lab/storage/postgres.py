"""The PostgreSQL backend (psycopg 3): reads and short transactions on a pooled connection each,
events through one write connection per process that commits them in groups."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg.pq import TransactionStatus
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

from .base import Store
from .migrations import NAMES, scripts
from .news import NOTIFY as NEWS
from .postgres_errors import translating
from .rows import EventRow, Stored
from .writer import Batch, Writer

# Connections a process keeps for reads and short writes: gunicorn's threads of one worker
# share them, and a statement holds one only while it runs.
POOL_SIZE = 10
POOL_WAIT = 10.0  # seconds a statement waits for a free connection before Unavailable
MIGRATION_LOCK = 0x766F6963  # the advisory lock workers starting together migrate under


@lru_cache(maxsize=256)
def _row_class(names: tuple[str, ...]) -> type[tuple]:
    """A tuple read by index or by column name, like sqlite3.Row (dict() of it works too)."""
    index = {name: number for number, name in enumerate(names)}

    class Row(tuple):
        __slots__ = ()

        def __getitem__(self, key: Any) -> Any:
            return tuple.__getitem__(self, index[key] if isinstance(key, str) else key)

        def keys(self) -> list[str]:
            """The column names, in order."""
            return list(names)

    return Row


def rows_by_name(cursor: psycopg.Cursor[Any]) -> Callable[[Sequence[Any]], tuple]:
    """psycopg's row factory for rows read by index or by column name."""
    row = _row_class(tuple(column.name for column in cursor.description or ()))
    return lambda values: tuple.__new__(row, values)


class _Result:
    """A statement's rows, read while its connection was borrowed, and how many it changed."""

    def __init__(self, rows: list[Any], rowcount: int):
        self.rows, self.rowcount = rows, rowcount

    def fetchone(self) -> Any:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Any]:
        return self.rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.rows)


class _Reads:
    """The store's reading connection: each statement borrows one from the pool, so an open
    Store (a mirror socket's, for the whole call) holds none between statements."""

    def __init__(self, pool: ConnectionPool):
        self.pool = pool

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Result:
        with self.pool.connection() as db:
            cursor = db.execute(sql, params)
            return _Result(cursor.fetchall() if cursor.description else [], cursor.rowcount)


class _Pools:
    """The process's connection pool for each database, open while some Store uses it."""

    _open: dict[str, tuple[ConnectionPool, int]] = {}
    _lock = threading.Lock()

    @classmethod
    def acquire(cls, url: str) -> ConnectionPool:
        """The database's pool, opened if no Store has it open."""
        with cls._lock:
            pool, users = cls._open.get(url) or (None, 0)
            if pool is None:
                pool = ConnectionPool(
                    url,
                    min_size=0,  # none kept open for a database nobody reads
                    max_size=POOL_SIZE,
                    timeout=POOL_WAIT,
                    kwargs={"autocommit": True, "row_factory": rows_by_name},
                    check=ConnectionPool.check_connection,  # a server restarted: reconnect
                    open=True,
                )
            cls._open[url] = (pool, users + 1)
            return pool

    @classmethod
    def release(cls, url: str) -> None:
        """One Store less; the last one closes the pool."""
        with cls._lock:
            pool, users = cls._open[url]
            if users == 1:
                del cls._open[url]
                pool.close()
            else:
                cls._open[url] = (pool, users - 1)


def without_password(url: str) -> str:
    """A database URL fit to print: its password, if any, masked."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


@lru_cache(maxsize=512)
def placeholders(text: str) -> str:
    """A statement written with `?` placeholders in psycopg's `%s` (a literal % doubled)."""
    return text.replace("%", "%%").replace("?", "%s")


@translating
class PostgresStore(Store):
    """A PostgreSQL database, named by its URL (postgresql://user@host:port/name)."""

    def __init__(self, url: str):
        self.url = url
        self.writer = PostgresWriter.acquire(url)  # connects at once: a bad URL fails here
        self.pool = _Pools.acquire(url)
        self.db = _Reads(self.pool)
        self._closed = False

    def close(self) -> None:
        """Give the pool and the writer back (closed with the last Store on the database)."""
        if not self._closed:
            self._closed = True
            _Pools.release(self.url)
            self.writer.release()

    def sql(self, text: str) -> str:
        """A statement written with `?` placeholders in psycopg's style."""
        return placeholders(text)

    def migrate(self) -> int:
        """Bring the schema up to date, one migration at a time under a lock that workers
        starting together take turns on; returns the version it is at."""
        with self.pool.connection() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            version = self._version(db)
            if version is None:
                db.execute("INSERT INTO schema_version (version) VALUES (0)")
                version = 0
            for number, script in enumerate(scripts("postgres")[version:], start=version + 1):
                db.execute(script)
                db.execute("UPDATE schema_version SET version = %s", (number,))
        return len(NAMES)

    def version(self) -> int:
        """The migrations this database has run."""
        with self.pool.connection() as db:
            found = db.execute("SELECT to_regclass('schema_version')").fetchone()
            return (self._version(db) or 0) if found and found[0] else 0

    def describe(self) -> str:
        """The engine, its version and the URL with no password: for doctor."""
        with self.pool.connection() as db:
            row = db.execute("SHOW server_version").fetchone()
        version = row[0].split()[0] if row else "(version unknown)"
        return f"PostgreSQL {version} at {without_password(self.url)}"

    @staticmethod
    def _version(db: psycopg.Connection[Any]) -> int | None:
        row = db.execute("SELECT version FROM schema_version").fetchone()
        return row[0] if row else None

    @contextmanager
    def transaction(self, wait: bool = True) -> Iterator[psycopg.Connection[Any]]:
        """One write transaction on a pooled connection (without `wait`, Unavailable when a
        row it writes is locked by another transaction, instead of waiting for it)."""
        with self.pool.connection() as db, db.transaction():
            if not wait:
                db.execute("SET LOCAL lock_timeout = '1ms'")
            yield db

    def rate_wait(self, scope: str, client: str, limit: int, window: float) -> int:
        """RateLimiter.retry_after counted in the database, for every worker at once: 0 if
        `client` may go on now (and the hit is counted), else seconds until it may. Hits out
        of the window are pruned as it goes; the server's clock serves every worker."""
        with self.transaction() as db:
            # One client's hits are counted by one worker at a time: two cannot both take the
            # last one left.
            db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{scope} {client}",))
            now = db.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchall()[0][
                0
            ]
            db.execute("DELETE FROM rate_hits WHERE at <= %s", (now - window,))
            count, first = db.execute(
                "SELECT count(*), min(at) FROM rate_hits WHERE scope = %s AND client = %s",
                (scope, client),
            ).fetchall()[0]
            if count >= limit:
                return max(1, math.ceil(first + window - now))
            db.execute(
                "INSERT INTO rate_hits (scope, client, at) VALUES (%s, %s, %s)",
                (scope, client, now),
            )
            return 0

    def _tuples(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        with self.pool.connection() as db:
            return db.cursor(row_factory=tuple_row).execute(self.sql(sql), params).fetchall()


class PostgresWriter(Writer):
    """The process's write connection to one PostgreSQL database. Other processes (workers)
    write the same sessions too: the insert learns which rows were new from the server
    (RETURNING), never from what this process wrote before."""

    NOTIFY = NEWS  # every worker's listener (news.py) hears of each group at its commit
    # Two workers storing the same seqs (a page that moved to another worker and resent) would
    # otherwise deadlock: each group holds its first batch's session row while its next batch
    # waits on the other's uncommitted rows. Locked first, in id order, they take turns ("no
    # key": the rows' keys stay, so inserts that point at the sessions need not wait).
    LOCK_SESSIONS = "SELECT 1 FROM sessions WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE"

    def connect(self) -> psycopg.Connection[Any]:
        """A connection of its own, outside the pool: a group commit holds it throughout."""
        return psycopg.connect(self.key, autocommit=True, connect_timeout=10)

    def in_transaction(self) -> bool:
        """Whether the write connection is inside a transaction."""
        return self.db.info.transaction_status != TransactionStatus.IDLE

    def _write(self, group: list[Batch]) -> None:
        """One transaction for the group, on a new connection if the last one broke (the
        server restarted, or dropped it): the group's batches failed, the next ones go in."""
        if self.db.broken or self.db.closed:
            self.db = self.connect()
        super()._write(group)

    def insert_batch(
        self,
        db: psycopg.Connection[Any],
        session_id: str,
        rows: Sequence[EventRow],
        top: int | None = None,
    ) -> Stored:
        """Insert the rows not stored yet (ON CONFLICT DO NOTHING: whichever worker stored a
        seq first keeps it) and keep the session's counters from the rows the server says it
        stored; inside a transaction. One statement per MAX_INSERT_ROWS rows: a round trip to
        the server costs more than the rows."""
        if not rows:
            return Stored(0, 0)  # not stored anywhere: frames.to_events refuses empty batches
        values = list({row.seq: row for row in rows}.values())
        head = (session_id, time.time())
        new = 0
        counters = None
        for start in range(0, len(values), MAX_INSERT_ROWS):
            chunk = values[start : start + MAX_INSERT_ROWS]
            params = [value for row in chunk for value in head + row]
            top_seq = max(row.seq for row in chunk)
            counters = db.execute(
                _batch_sql(len(chunk)), [*params, session_id, top_seq, session_id]
            ).fetchone()
            if counters is not None:
                new += counters[2]
        if counters is None:
            return Stored(new, 0)
        count, max_seq, _ = counters
        return Stored(new, max_seq if count == max_seq else None, count, max_seq)


MAX_INSERT_ROWS = 1000  # rows per INSERT: 11,000 parameters, well under PostgreSQL's 65,535


@lru_cache(maxsize=128)  # batch sizes: an import's last chunk can be any size
def _batch_sql(rows: int) -> str:
    """One statement for `rows` events: insert those not stored yet, add the new ones to the
    per-type counters (in one order, so that two writers of a session never deadlock on them)
    and to the session's; it answers the session's event count, highest seq and how many rows
    were new."""
    row = "(" + ", ".join(["%s"] * 11) + ")"
    return (
        "WITH new AS (INSERT INTO events (session_id, received_at, seq, direction, t, type, "
        f"category, response_id, item_id, payload, compact) VALUES {', '.join([row] * rows)} "
        "ON CONFLICT DO NOTHING RETURNING seq, t, type, category), "
        "counted AS (INSERT INTO event_counts (session_id, category, type, n) "
        "SELECT %s, category, coalesce(type, ''), count(*) FROM new GROUP BY 2, 3 ORDER BY 2, 3 "
        "ON CONFLICT (session_id, category, type) DO UPDATE SET n = event_counts.n + excluded.n) "
        "UPDATE sessions SET event_count = event_count + (SELECT count(*) FROM new), "
        "error_count = error_count + (SELECT count(*) FROM new WHERE category = 'error'), "
        "max_seq = greatest(max_seq, %s), first_t = least(first_t, (SELECT min(t) FROM new)) "
        "WHERE id = %s RETURNING event_count, max_seq, (SELECT count(*) FROM new)"
    )
