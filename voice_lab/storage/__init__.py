"""All SQL lives here: sessions and their events in SQLite (WAL, short transactions)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache, partial
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

from flask import Flask, current_app, g

from ..protocol.events import Event, redact_text

# Migrations by PRAGMA user_version: index i brings the database to version i + 1.
MIGRATIONS: tuple[str, ...] = tuple(
    resources.files(__package__).joinpath(name).read_text()
    for name in (
        "schema.sql",
        "event_counts.sql",
        "compact_payloads.sql",
        "panel_states.sql",
        "write_secrets.sql",
    )
)


def connect(path: str) -> sqlite3.Connection:
    """A connection as the store uses them: autocommit (transactions are explicit), rows by
    name, foreign keys enforced, waiting up to 10 s for another process's lock."""
    db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 10000")
    # synchronous stays FULL: an ack promises the events are on disk, power cut or not.
    return db


class WriterBusy(sqlite3.OperationalError):
    """A write that would have had to wait for another, and was asked not to."""


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
        self._queue: list[_Batch] = []
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

    def submit(self, session_id: str, rows: Sequence[EventRow]) -> _Batch:
        """Queue a batch for the next group; wait() returns once it is stored."""
        batch = _Batch(session_id, rows)
        with self._turn:
            self._queue.append(batch)
        return batch

    def wait(self, batch: _Batch) -> Stored:
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

    def _write(self, group: list[_Batch]) -> None:
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

    def _insert(self, batch: _Batch) -> Stored:
        """_insert_events for a batch, knowing where its session's seqs stopped (forgotten
        until it is stored: refused, the session's next batch looks)."""
        top = self._tops.pop(batch.session_id, None)
        stored = _insert_events(self.db, batch.session_id, batch.rows, top)
        if stored.count:
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


class Stored(NamedTuple):
    """What storing a batch did: how many of its rows were new, and the session's
    contiguous_seq, event count and highest seq after it."""

    new: int
    contiguous: int | None  # None until Store._acked finds it
    count: int = 0
    max_seq: int = 0


@dataclass(slots=True)
class _Batch:
    """Events waiting for the writer, and what became of them."""

    session_id: str
    rows: Sequence[EventRow]
    done: bool = False
    stored: Stored = Stored(0, 0)
    error: Exception | None = None


SESSION_FIELDS = (
    "id",
    "created_at",
    "provider",
    "protocol",
    "model",
    "voice",
    "remote_session_id",
    "call_id",
    "label",
    "origin",
    "key_hint",
    "expires_at",
    "ended_at",
    "event_count",
    "error_count",
    "max_seq",
    "first_t",
)
# A session row as Voice Lab shows, serves and exports it: every field but the write secret's hash.
SESSION_COLUMNS = ", ".join(SESSION_FIELDS)


class EventRow(NamedTuple):
    """One stored event, as the mirror and the importer write it (a tuple: the mirror makes one
    per event, and its fields are the INSERT's parameters in order)."""

    seq: int
    direction: str
    t: float | None
    type: str | None
    category: str
    response_id: str | None
    item_id: str | None
    payload: str
    compact: bool = False  # the payload is an object's compact JSON: exports embed it as is

    @classmethod
    def of(cls, event: Event) -> EventRow:
        """The row of a parsed event: its first nine fields."""
        return tuple.__new__(cls, event[:9])


class Store:
    """One SQLite connection and every query Voice Lab makes."""

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
        (or, without `wait`, WriterBusy while another write of this process is under way)."""
        if not self.writer.lock.acquire(blocking=wait):
            raise WriterBusy("another write is under way")
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
            return _insert_session(db, fields, _secret_hash(secret)), secret

    def write_allowed(self, session_id: str, secret: str) -> bool | None:
        """Whether `secret` is the session's write secret (compared in constant time), or None
        when the session has none (imported ones, and those made before write secrets)."""
        row = self.db.execute(
            "SELECT write_hash FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return hmac.compare_digest(row[0], _secret_hash(secret))

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
        _check_fields(fields)
        if "id" in fields:
            raise ValueError("a session's id cannot change")
        sets = ", ".join(f"{name} = ?" for name in fields)
        values = _redacted(fields).values()
        with self.transaction() as db:
            db.execute(f"UPDATE sessions SET {sets} WHERE id = ?", (*values, session_id))

    def delete_session(self, session_id: str) -> bool:
        """Delete a session and its events."""
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
        wait = partial(self.writer.wait, self.writer.submit(session_id, rows))
        return lambda: self._acked(session_id, wait())

    def _acked(self, session_id: str, stored: Stored) -> Stored:
        """stored with its contiguous seq, looked for on this Store's connection if needed."""
        if stored.contiguous is not None:
            return stored
        return stored._replace(contiguous=self.contiguous_seq(session_id))

    def import_session(self, fields: dict[str, Any], rows: Sequence[EventRow]) -> str:
        """Create a session with all its events in one transaction: all or nothing."""
        fields = {"provider": "import", **fields, "origin": "imported"}
        with self.transaction() as db:
            session_id = _insert_session(db, fields)
            _insert_events(db, session_id, rows)
        return session_id

    def missing_seqs(self, session_id: str, limit: int = 100) -> list[int]:
        """The first seqs absent from 1..max_seq (none when the counters say nothing is)."""
        session = self.get_session(session_id)
        if session is None or session["event_count"] == session["max_seq"]:
            return []
        present = {
            r[0]
            for r in self.db.execute("SELECT seq FROM events WHERE session_id = ?", (session_id,))
        }
        gaps = (seq for seq in range(1, session["max_seq"] + 1) if seq not in present)
        return [seq for _, seq in zip(range(limit), gaps, strict=False)]

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
        WriterBusy instead of waiting for another write)."""
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
        return _contiguous(self.db, session_id, *row) if row else 0

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


# An event as exported: seq, direction, t, type, payload, compact (see exchange.export_chunks).
ExportRow = tuple[int, str, float | None, str | None, str, int]
EXPORT_COLUMNS = "seq, direction, t, type, payload, compact"


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
    fields = {"id": new_session_id(), "created_at": time.time(), **_redacted(fields)}
    _check_fields(fields)
    if write_hash is not None:  # never one of SESSION_FIELDS: no caller's fields can set it
        fields["write_hash"] = write_hash
    db.execute(
        f"INSERT INTO sessions ({', '.join(fields)}) VALUES ({', '.join('?' for _ in fields)})",
        tuple(fields.values()),
    )
    return fields["id"]


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


def _insert_events(
    db: sqlite3.Connection, session_id: str, rows: Sequence[EventRow], top: int | None = None
) -> Stored:
    """Insert the rows not stored yet and keep the session's counters; inside a transaction.
    top: the session's highest seq stored, if known: rows above it go in without a look for
    those stored already."""
    if not rows:
        return Stored(0, 0)  # not stored anywhere: mirror.to_events refuses empty batches
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


def _contiguous(db: sqlite3.Connection, session_id: str, event_count: int, max_seq: int) -> int:
    """contiguous_seq from a session's counters: they say when there is no gap (nearly always)."""
    if event_count == max_seq:
        return max_seq
    gap = db.execute(
        "SELECT min(seq) FROM (SELECT 0 AS seq UNION ALL SELECT seq FROM events "
        "WHERE session_id = ?1) AS e WHERE NOT EXISTS (SELECT 1 FROM events "
        "WHERE session_id = ?1 AND seq = e.seq + 1)",
        (session_id,),
    ).fetchone()[0]
    return gap or 0


def _redacted(fields: dict[str, Any]) -> dict[str, Any]:
    """Session fields with every secret in their text redacted: whoever writes a label, a
    model or a call id, no key is stored in it."""
    return {k: redact_text(v) if isinstance(v, str) else v for k, v in fields.items()}


def _check_fields(fields: dict[str, Any]) -> None:
    unknown = set(fields) - set(SESSION_FIELDS)
    if unknown:
        raise ValueError(f"unknown session fields: {sorted(unknown)}")


def _secret_hash(secret: str) -> str:
    """What the store keeps of a write secret. The secret is 256 random bits, so a plain hash
    cannot be searched back to it; salting or stretching would add nothing."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_session_id() -> str:
    """A short, URL-safe, unguessable session id."""
    return "vl_" + secrets.token_hex(8)


def escape_like(text: str) -> str:
    """Escape LIKE's wildcards so user text matches literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def database_path(app: Flask) -> Path:
    """Where the database lives: VOICE_LAB_DATABASE or instance/voice_lab.sqlite3."""
    configured = app.config.get("VOICE_LAB_DATABASE")
    return Path(configured) if configured else Path(app.instance_path) / "voice_lab.sqlite3"


def open_store(app: Flask | None = None) -> Store:
    """A new Store on the app's database, for work outside a request (sockets, CLI)."""
    return Store(database_path(app or current_app))


def get_store() -> Store:
    """The request's Store, opened once per request and closed at teardown."""
    if "store" not in g:
        g.store = open_store()
    return g.store


def _close_store(_exc: BaseException | None = None) -> None:
    store = g.pop("store", None)
    if store is not None:
        store.close()


def init_app(app: Flask) -> None:
    """Create or migrate the database and close each request's connection after it."""
    path = database_path(app)
    path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(path)
    try:
        store.migrate()
    finally:
        store.close()
    app.teardown_appcontext(_close_store)
