"""The SQLite backend: sessions, their events and recordings in one file (WAL, short
transactions)."""

from __future__ import annotations

import hmac
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from ..analysis.review import missing_seqs
from .errors import Unavailable
from .migrations import MIGRATIONS
from .rows import (
    EXPORT_COLUMNS,
    SESSION_FIELDS,
    AudioChunk,
    EventRow,
    ExportRow,
    Stored,
    check_fields,
    new_session_id,
    redacted_fields,
    secret_hash,
)
from .sqlite_errors import translating
from .writer import Batch, Writer, connect, insert_batch

# A session row as Voice Lab shows, serves and exports it: every field but the write secret's hash.
SESSION_COLUMNS = ", ".join(SESSION_FIELDS)


@translating
class Store:
    """One SQLite connection and every query Voice Lab makes. Its methods raise the storage
    errors (errors.py), never sqlite3's."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self.db = connect(self.path)  # reads
        self.writer = Writer.acquire(self.path)  # writes, shared with the process's other Stores
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
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            self.db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
        return len(MIGRATIONS)

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

    # Sessions

    def create_session(self, **fields: Any) -> str:
        """Insert a session row and return its id (a new one unless `id` is given). Nobody can
        mirror into it: see create_writable_session."""
        with self.transaction() as db:
            return _insert_session(db, fields)

    def create_writable_session(self, **fields: Any) -> tuple[str, str]:
        """create_session for a session a mirror writes into: returns its id and its write
        secret, which a hello for the session must carry. Only the secret's hash is stored, so
        this is the one time anyone sees it."""
        secret = "vlw_" + secrets.token_urlsafe(32)
        with self.transaction() as db:
            return _insert_session(db, fields, secret_hash(secret)), secret

    def write_allowed(self, session_id: str, secret: str) -> bool | None:
        """Whether `secret` is the session's write secret (compared in constant time), or None
        when the session has none (imported ones, and those made before write secrets)."""
        row = self.db.execute(
            "SELECT write_hash FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return hmac.compare_digest(row[0], secret_hash(secret))

    def get_session(self, session_id: str) -> dict[str, Any] | None:
        """The session row as a dict, or None."""
        row = self.db.execute(
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        return dict(row) if row else None

    def end_session(self, session_id: str) -> bool:
        """Mark a session ended (once); False when there is no such session."""
        with self.transaction() as db:
            cur = db.execute(
                "UPDATE sessions SET ended_at = coalesce(ended_at, ?) WHERE id = ?",
                (time.time(), session_id),
            )
        return cur.rowcount == 1

    def update_session(self, session_id: str, **fields: Any) -> None:
        """Set some columns of a session."""
        check_fields(fields)
        if "id" in fields:
            raise ValueError("a session's id cannot change")
        sets = ", ".join(f"{name} = ?" for name in fields)
        values = redacted_fields(fields).values()
        with self.transaction() as db:
            db.execute(f"UPDATE sessions SET {sets} WHERE id = ?", (*values, session_id))

    def delete_session(self, session_id: str) -> bool:
        """Delete a session, its events and its recording."""
        with self.transaction() as db:
            cur = db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        return cur.rowcount == 1

    def list_sessions(self, search: str = "", limit: int = 200) -> list[dict[str, Any]]:
        """Sessions newest first, optionally those whose label or id contains `search`."""
        like = f"%{escape_like(search)}%"
        rows = self.db.execute(
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE ? = '' OR label LIKE ? ESCAPE '\\' "
            "OR id LIKE ? ESCAPE '\\' ORDER BY created_at DESC LIMIT ?",
            (search, like, like, limit),
        )
        return [dict(row) for row in rows]

    # Events

    def insert_events(self, session_id: str, rows: Sequence[EventRow]) -> Stored:
        """Store a batch in one transaction, each (session, seq) once."""
        return self._acked(session_id, self.writer.insert(session_id, rows))

    def queue_events(self, session_id: str, rows: Sequence[EventRow]) -> Callable[[], Stored]:
        """insert_events in two steps: the batch queues for the writer now, and the function
        returned waits until it is stored (calling it again gives the same outcome). Batches
        queued meanwhile commit with it, in the order they were queued."""
        return partial(self._wait, session_id, self.writer.submit(session_id, rows))

    def _wait(self, session_id: str, batch: Batch) -> Stored:
        """A queued batch's outcome, once its group committed (a method, so that its errors
        are the storage errors too)."""
        return self._acked(session_id, self.writer.wait(batch))

    def _acked(self, session_id: str, stored: Stored) -> Stored:
        """stored with its contiguous seq, looked for on this Store's connection if needed."""
        if stored.contiguous is not None:
            return stored
        return stored._replace(contiguous=self.contiguous_seq(session_id))

    def import_session(
        self,
        fields: dict[str, Any],
        rows: Sequence[EventRow],
        chunks: Sequence[AudioChunk] = (),
    ) -> str:
        """Create a session with all its events and its recording's chunks in one transaction:
        all or nothing."""
        fields = {"provider": "import", **fields, "origin": "imported"}
        with self.transaction() as db:
            session_id = _insert_session(db, fields)
            insert_batch(db, session_id, rows)
            _insert_chunks(db, session_id, chunks)
        return session_id

    def missing_seqs(self, session_id: str, limit: int = 100) -> list[int]:
        """The first seqs absent from 1..max_seq (none when the counters say nothing is)."""
        session = self.get_session(session_id)
        if session is None or session["event_count"] == session["max_seq"]:
            return []
        rows = self.db.execute("SELECT seq FROM events WHERE session_id = ?", (session_id,))
        return missing_seqs((row[0] for row in rows), session["max_seq"], limit)

    def query_events(
        self,
        session_id: str,
        query: EventQuery,
        after_seq: int = 0,
        limit: int = 500,
    ) -> list[sqlite3.Row]:
        """Up to `limit` matching events after `after_seq`, in seq order."""
        sql, params = query.page(session_id)
        return self.db.execute(sql, (*params, after_seq, limit)).fetchall()

    def get_event(self, session_id: str, seq: int) -> sqlite3.Row | None:
        """One stored event, or None."""
        return self.db.execute(
            "SELECT * FROM events WHERE session_id = ? AND seq = ?", (session_id, seq)
        ).fetchone()

    def category_counts(self, session_id: str) -> dict[str, int]:
        """How many events of the session fall in each category."""
        rows = self.db.execute(
            "SELECT category, sum(n) FROM event_counts WHERE session_id = ? GROUP BY category",
            (session_id,),
        )
        return dict(rows.fetchall())

    def event_types(self, session_id: str) -> list[str]:
        """The distinct event types of a session, for autocomplete."""
        rows = self.db.execute(
            "SELECT DISTINCT type FROM event_counts WHERE session_id = ? AND type != '' "
            "ORDER BY type",
            (session_id,),
        )
        return [row[0] for row in rows]

    def load_aggregates(self, session_id: str) -> tuple[int, int, str] | None:
        """A session's saved panel fold: (upto_seq, folded, state JSON), or None."""
        row = self.db.execute(
            "SELECT upto_seq, folded, state FROM panel_states WHERE session_id = ?", (session_id,)
        ).fetchone()
        return tuple(row) if row else None

    def save_aggregates(
        self, session_id: str, upto_seq: int, folded: int, state: str, wait: bool = True
    ) -> None:
        """Save a session's panel fold, unless a later one is saved already (without `wait`,
        Unavailable instead of waiting for another write)."""
        with self.transaction(wait) as db:
            db.execute(
                "INSERT INTO panel_states (session_id, upto_seq, folded, state) "
                "SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?1) "
                "ON CONFLICT DO UPDATE SET upto_seq = excluded.upto_seq, "
                "folded = excluded.folded, state = excluded.state "
                "WHERE excluded.upto_seq > panel_states.upto_seq "
                "OR excluded.folded > panel_states.folded",
                (session_id, upto_seq, folded, state),
            )

    def count_upto(self, session_id: str, seq: int) -> int:
        """How many events of a session have seqs up to `seq` (from the counters, reading only
        the events after it)."""
        return (
            self.db.execute(
                "SELECT (SELECT event_count FROM sessions WHERE id = ?1) - "
                "(SELECT count(*) FROM events WHERE session_id = ?1 AND seq > ?2)",
                (session_id, seq),
            ).fetchone()[0]
            or 0
        )

    def contiguous_seq(self, session_id: str) -> int:
        """The highest n such that seqs 1..n are all stored: the mirror resends after it."""
        row = self.db.execute(
            "SELECT event_count, max_seq FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        return _contiguous(self.db, "events", session_id, *row) if row else 0

    def iter_events(
        self,
        session_id: str,
        query: EventQuery | None = None,
        batch: int = 2000,
        after: int = 0,
    ) -> Iterator[sqlite3.Row]:
        """Every (matching) event of a session after seq `after`, in seq order, in pages so
        memory stays flat."""
        query = query or EventQuery()
        while rows := self.query_events(session_id, query, after, batch):
            yield from rows
            after = rows[-1]["seq"]

    def export_rows(
        self, session_id: str, query: EventQuery | None = None, batch: int = 5000
    ) -> Iterator[ExportRow]:
        """Every (matching) event of a session in seq order as plain tuples, the columns of
        ExportRow: an export reads each once, and sqlite3.Row costs more than the rest of it."""
        sql, params = (query or EventQuery()).page(session_id, EXPORT_COLUMNS)
        cursor = self.db.cursor()
        cursor.row_factory = None
        after = 0
        while rows := cursor.execute(sql, (*params, after, batch)).fetchall():
            yield from rows
            after = rows[-1][0]

    # Recordings

    def insert_chunks(self, session_id: str, chunks: Sequence[AudioChunk]) -> int:
        """Store a recording's chunks in one transaction, each (session, seq) once; returns the
        highest n such that chunks 1..n are all stored: the page resends after it."""
        with self.transaction() as db:
            _insert_chunks(db, session_id, chunks)
            return self._audio_contiguous(db, session_id)

    def audio_contiguous(self, session_id: str) -> int:
        """insert_chunks' resume point without storing anything: what a welcome says."""
        return self._audio_contiguous(self.db, session_id)

    def _audio_contiguous(self, db: sqlite3.Connection, session_id: str) -> int:
        count, top = db.execute(
            "SELECT count(*), coalesce(max(seq), 0) FROM recording_chunks WHERE session_id = ?",
            (session_id,),
        ).fetchone()
        return _contiguous(db, "recording_chunks", session_id, count, top)

    def recording_chunks(self, session_id: str, batch: int = 64) -> Iterator[bytes]:
        """A session's recording, chunk by chunk in seq order, in pages so memory stays flat."""
        return (chunk.data for chunk in self.audio_chunks(session_id, batch))

    def audio_chunks(self, session_id: str, batch: int = 64) -> Iterator[AudioChunk]:
        """recording_chunks with each chunk's seq and t, as a bundle exports them."""
        after = 0
        while rows := self.db.execute(
            "SELECT seq, t, data FROM recording_chunks WHERE session_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (session_id, after, batch),
        ).fetchall():
            for row in rows:
                yield AudioChunk(row[0], row[1], bytes(row[2]))
            after = rows[-1][0]

    def recording_chunk_count(self, session_id: str) -> int:
        """How many chunks of a session's recording are stored, from the index alone (its
        files are named by it): recording_info's sum of sizes reads every chunk's pages."""
        return self.db.execute(
            "SELECT count(*) FROM recording_chunks WHERE session_id = ?", (session_id,)
        ).fetchone()[0]

    def recorded_sessions(self) -> list[tuple[str, int]]:
        """(session id, chunks stored) of every session with a recording, oldest first."""
        rows = self.db.execute(
            "SELECT s.id, count(*) FROM recording_chunks c JOIN sessions s ON s.id = c.session_id "
            "GROUP BY s.id ORDER BY s.created_at"
        )
        return [(row[0], row[1]) for row in rows]

    def recording_info(self, session_id: str) -> dict[str, Any] | None:
        """How much of a session's recording is stored: chunks, bytes, the first chunk's t and
        the highest contiguous seq; None when nothing is."""
        row = self.db.execute(
            "SELECT count(*), sum(length(data)), min(t) FROM recording_chunks WHERE session_id = ?",
            (session_id,),
        ).fetchone()
        if not row[0]:
            return None
        return {
            "chunks": row[0],
            "bytes": row[1],
            "first_t": row[2],
            "contiguous": self.audio_contiguous(session_id),
        }


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which events of a session to list: every field narrows, empty ones don't."""

    categories: tuple[str, ...] = ()
    directions: tuple[str, ...] = ()
    type: str = ""  # exact, or a prefix ending in *
    text: str = ""  # anywhere in the payload

    def page(self, session_id: str, columns: str = "*") -> tuple[str, list[Any]]:
        """A page of the matching events after a seq: the SELECT (its last two parameters, the
        seq and how many, are the caller's) and its parameters."""
        where, params = self.where(session_id)
        sql = f"SELECT {columns} FROM events WHERE {where} AND seq > ? ORDER BY seq LIMIT ?"
        return sql, params

    def where(self, session_id: str) -> tuple[str, list[Any]]:
        """The WHERE clause and its parameters."""
        clauses, params = ["session_id = ?"], [session_id]
        for column, values in (("category", self.categories), ("direction", self.directions)):
            if values:
                clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
                params.extend(values)
        if self.type.endswith("*"):
            clauses.append("type LIKE ? ESCAPE '\\'")
            params.append(escape_like(self.type[:-1]) + "%")
        elif self.type:
            clauses.append("type = ?")
            params.append(self.type)
        if self.text:
            clauses.append("payload LIKE ? ESCAPE '\\'")
            params.append(f"%{escape_like(self.text)}%")
        return " AND ".join(clauses), params


def _insert_session(
    db: sqlite3.Connection, fields: dict[str, Any], write_hash: str | None = None
) -> str:
    """Insert a session row (a new id unless given) inside a transaction; returns its id."""
    fields = {"id": new_session_id(), "created_at": time.time(), **redacted_fields(fields)}
    check_fields(fields)
    if write_hash is not None:  # never one of SESSION_FIELDS: no caller's fields can set it
        fields["write_hash"] = write_hash
    db.execute(
        f"INSERT INTO sessions ({', '.join(fields)}) VALUES ({', '.join('?' for _ in fields)})",
        tuple(fields.values()),
    )
    return fields["id"]


def _insert_chunks(db: sqlite3.Connection, session_id: str, chunks: Sequence[AudioChunk]) -> None:
    """Insert a recording's chunks inside a transaction, each (session, seq) once."""
    db.executemany(
        "INSERT INTO recording_chunks (session_id, seq, t, data) VALUES (?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        [(session_id, *chunk) for chunk in chunks],
    )


def _contiguous(
    db: sqlite3.Connection, table: str, session_id: str, count: int, max_seq: int
) -> int:
    """The highest n such that seqs 1..n of a session are all in `table` (events or
    recording_chunks), from how many there are and the highest: they say when there is no gap
    (nearly always)."""
    if count == max_seq:
        return max_seq
    gap = db.execute(
        f"SELECT min(seq) FROM (SELECT 0 AS seq UNION ALL SELECT seq FROM {table} "
        f"WHERE session_id = ?1) AS e WHERE NOT EXISTS (SELECT 1 FROM {table} "
        "WHERE session_id = ?1 AND seq = e.seq + 1)",
        (session_id,),
    ).fetchone()[0]
    return gap or 0


def escape_like(text: str) -> str:
    """Escape LIKE's wildcards so user text matches literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
