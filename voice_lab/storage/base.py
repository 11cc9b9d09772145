"""The storage interface every caller uses, and the queries both backends share: written once
with `?` placeholders, which a backend whose driver takes another style rewrites (Store.sql)."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

from ..analysis.review import missing_seqs
from ..protocol.record import Columns
from .query import EventQuery, escape_like
from .recordings import Recordings
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
from .writer import Batch

# A session row as Voice Lab shows, serves and exports it: every field but the write secret's hash.
SESSION_COLUMNS = ", ".join(SESSION_FIELDS)


class Store(Recordings):
    """Sessions, their events, panel state and recordings: every query Voice Lab makes. A
    backend (sqlite.py, postgres.py) gives it what backend.Backend asks for; its methods raise
    the storage errors (errors.py), never a driver's."""

    # Sessions

    def create_session(self, **fields: Any) -> str:
        """Insert a session row and return its id (a new one unless `id` is given). Nobody can
        mirror into it: see create_writable_session."""
        with self.transaction() as db:
            return self._insert_session(db, fields)

    def create_writable_session(self, **fields: Any) -> tuple[str, str]:
        """create_session for a session a mirror writes into: returns its id and its write
        secret, which a hello for the session must carry. Only the secret's hash is stored, so
        this is the one time anyone sees it."""
        secret = "vlw_" + secrets.token_urlsafe(32)
        with self.transaction() as db:
            return self._insert_session(db, fields, secret_hash(secret)), secret

    def write_allowed(self, session_id: str, secret: str) -> bool | None:
        """Whether `secret` is the session's write secret (compared in constant time), or None
        when the session has none (imported ones, and those made before write secrets)."""
        row = self._one("SELECT write_hash FROM sessions WHERE id = ?", (session_id,))
        if row is None or row[0] is None:
            return None
        return hmac.compare_digest(row[0], secret_hash(secret))

    def get_session(self, session_id: str) -> dict[str, Any] | None:
        """The session row as a dict, or None."""
        row = self._one(f"SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?", (session_id,))
        return dict(row) if row else None

    def end_session(self, session_id: str) -> bool:
        """Mark a session ended (once); False when there is no such session."""
        with self.transaction() as db:
            cur = db.execute(
                self.sql("UPDATE sessions SET ended_at = coalesce(ended_at, ?) WHERE id = ?"),
                (time.time(), session_id),
            )
            if self.writer.NOTIFY:  # followers in every process see the session end
                db.execute(self.writer.NOTIFY)
        return cur.rowcount == 1

    def end_silent_sessions(self, quiet_for: float) -> int:
        """End the sessions nothing ended whose last event (or, without events, creation) is
        more than `quiet_for` seconds old, at that time: a page that crashed sends no end.
        Returns how many it ended."""
        last = (
            "coalesce((SELECT received_at FROM events WHERE session_id = sessions.id "
            "ORDER BY seq DESC LIMIT 1), created_at)"
        )
        silent = f"ended_at IS NULL AND origin <> 'imported' AND {last} < ?"
        cutoff = (time.time() - quiet_for,)
        # Nearly always none: a read, so the sessions list's polls never wait on the writer.
        if self._one(f"SELECT 1 FROM sessions WHERE {silent} LIMIT 1", cutoff) is None:
            return 0
        with self.transaction() as db:
            cur = db.execute(
                self.sql(f"UPDATE sessions SET ended_at = {last} WHERE {silent}"), cutoff
            )
        return cur.rowcount

    def update_session(self, session_id: str, **fields: Any) -> None:
        """Set some columns of a session."""
        check_fields(fields)
        if "id" in fields:
            raise ValueError("a session's id cannot change")
        sets = ", ".join(f"{name} = ?" for name in fields)
        values = redacted_fields(fields).values()
        with self.transaction() as db:
            sql = self.sql(f"UPDATE sessions SET {sets} WHERE id = ?")
            db.execute(sql, (*values, session_id))

    def delete_session(self, session_id: str) -> bool:
        """Delete a session, its events and its recording."""
        with self.transaction() as db:
            cur = db.execute(self.sql("DELETE FROM sessions WHERE id = ?"), (session_id,))
        return cur.rowcount == 1

    def delete_sessions_before(self, cutoff: float) -> list[str]:
        """Delete every session created before `cutoff` (epoch seconds), its events and its
        recording; returns their ids."""
        with self.transaction() as db:
            cur = db.execute(
                self.sql("DELETE FROM sessions WHERE created_at < ? RETURNING id"), (cutoff,)
            )
            return [row[0] for row in cur.fetchall()]

    def list_sessions(self, search: str = "", limit: int = 200) -> list[dict[str, Any]]:
        """Sessions newest first, optionally those whose label or id contains `search`."""
        like = f"%{escape_like(search)}%"
        rows = self._all(
            f"SELECT {SESSION_COLUMNS} FROM sessions WHERE ? = '' OR label LIKE ? ESCAPE '\\' "
            "OR id LIKE ? ESCAPE '\\' ORDER BY created_at DESC LIMIT ?",
            (search, like, like, limit),
        )
        return [dict(row) for row in rows]

    def _insert_session(
        self, db: Any, fields: dict[str, Any], write_hash: str | None = None
    ) -> str:
        """Insert a session row (a new id unless given) inside a transaction; returns its id."""
        fields = {"id": new_session_id(), "created_at": time.time(), **redacted_fields(fields)}
        check_fields(fields)
        if write_hash is not None:  # never one of SESSION_FIELDS: no caller's fields can set it
            fields["write_hash"] = write_hash
        db.execute(
            self.sql(
                f"INSERT INTO sessions ({', '.join(fields)}) "
                f"VALUES ({', '.join('?' for _ in fields)})"
            ),
            tuple(fields.values()),
        )
        return fields["id"]

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
            session_id = self._insert_session(db, fields)
            self.writer.insert_batch(db, session_id, rows)
            self._insert_chunks(db, session_id, chunks)
        return session_id

    def missing_seqs(self, session_id: str, limit: int = 100) -> list[int]:
        """The first seqs absent from 1..max_seq (none when the counters say nothing is)."""
        session = self.get_session(session_id)
        if session is None or session["event_count"] == session["max_seq"]:
            return []
        rows = self.db.execute(
            self.sql("SELECT seq FROM events WHERE session_id = ?"), (session_id,)
        )
        return missing_seqs((row[0] for row in rows), session["max_seq"], limit)

    def query_events(
        self, session_id: str, query: EventQuery, after_seq: int = 0, limit: int = 500
    ) -> list[Columns]:
        """Up to `limit` matching events after `after_seq`, in seq order."""
        sql, params = query.page(session_id)
        return self._all(sql, (*params, after_seq, limit))

    def get_event(self, session_id: str, seq: int) -> Columns | None:
        """One stored event, or None."""
        return self._one("SELECT * FROM events WHERE session_id = ? AND seq = ?", (session_id, seq))

    def category_counts(self, session_id: str) -> dict[str, int]:
        """How many events of the session fall in each category."""
        rows = self._all(
            "SELECT category, sum(n) FROM event_counts WHERE session_id = ? GROUP BY category",
            (session_id,),
        )
        return {row[0]: int(row[1]) for row in rows}

    def event_types(self, session_id: str) -> list[str]:
        """The distinct event types of a session, for autocomplete."""
        rows = self._all(
            "SELECT DISTINCT type FROM event_counts WHERE session_id = ? AND type != '' "
            "ORDER BY type",
            (session_id,),
        )
        return [row[0] for row in rows]

    def type_counts(self, session_id: str) -> dict[str, int]:
        """How many events of the session there are of each type (untyped ones under "")."""
        rows = self._all(
            "SELECT type, sum(n) FROM event_counts WHERE session_id = ? GROUP BY type",
            (session_id,),
        )
        return {row[0]: int(row[1]) for row in rows if int(row[1])}

    def load_aggregates(self, session_id: str) -> tuple[int, int, str] | None:
        """A session's saved panel fold: (upto_seq, folded, state JSON), or None."""
        row = self._one(
            "SELECT upto_seq, folded, state FROM panel_states WHERE session_id = ?", (session_id,)
        )
        return (row[0], row[1], row[2]) if row else None

    def save_aggregates(
        self, session_id: str, upto_seq: int, folded: int, state: str, wait: bool = True
    ) -> None:
        """Save a session's panel fold, unless a later one is saved already (without `wait`,
        Unavailable instead of waiting for another write)."""
        with self.transaction(wait) as db:
            db.execute(
                self.sql(
                    "INSERT INTO panel_states (session_id, upto_seq, folded, state) "
                    "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?) "
                    "ON CONFLICT (session_id) DO UPDATE SET upto_seq = excluded.upto_seq, "
                    "folded = excluded.folded, state = excluded.state "
                    "WHERE excluded.upto_seq > panel_states.upto_seq "
                    "OR excluded.folded > panel_states.folded"
                ),
                (session_id, upto_seq, folded, state, session_id),
            )

    def count_upto(self, session_id: str, seq: int) -> int:
        """How many events of a session have seqs up to `seq` (from the counters, reading only
        the events after it)."""
        row = self._one(
            "SELECT (SELECT event_count FROM sessions WHERE id = ?) - "
            "(SELECT count(*) FROM events WHERE session_id = ? AND seq > ?)",
            (session_id, session_id, seq),
        )
        return row[0] or 0

    def contiguous_seq(self, session_id: str) -> int:
        """The highest n such that seqs 1..n are all stored: the mirror resends after it."""
        row = self._one("SELECT event_count, max_seq FROM sessions WHERE id = ?", (session_id,))
        return self._contiguous(self.db, "events", session_id, *row) if row else 0

    def iter_events(
        self, session_id: str, query: EventQuery | None = None, batch: int = 2000, after: int = 0
    ) -> Iterator[Columns]:
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
        ExportRow: an export reads each once, and rows by name cost more than the rest of it."""
        sql, params = (query or EventQuery()).page(session_id, EXPORT_COLUMNS)
        after = 0
        while rows := self._tuples(sql, (*params, after, batch)):
            yield from rows
            after = rows[-1][0]
