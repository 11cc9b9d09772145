"""What a storage backend gives the shared queries: its connections, its transaction, its
dialect's placeholders and migrations."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from .writer import Writer


class Backend:
    """The hooks every backend fills in, and the reads built on them."""

    db: Any  # the reading connection: execute(sql, params) -> a cursor of rows by name or index
    writer: Writer

    def close(self) -> None:
        """Give the connections back."""
        raise NotImplementedError

    def migrate(self) -> int:
        """Bring the schema up to date; returns the version it is at."""
        raise NotImplementedError

    def version(self) -> int:
        """The migrations this database has run."""
        raise NotImplementedError

    def describe(self) -> str:
        """The engine, its version and where the database is, with no password: for doctor."""
        raise NotImplementedError

    def transaction(self, wait: bool = True) -> AbstractContextManager[Any]:
        """One write transaction, yielding its connection (or, without `wait`, Unavailable
        while another write is under way)."""
        raise NotImplementedError

    def sql(self, text: str) -> str:
        """A statement written with `?` placeholders in the driver's own style."""
        return text

    def _tuples(self, sql: str, params: Sequence[Any]) -> list[tuple]:
        """The rows of a read as plain tuples (cheaper than rows by name, for exports)."""
        raise NotImplementedError

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.db.execute(self.sql(sql), params).fetchone()

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self.db.execute(self.sql(sql), params).fetchall()

    def _contiguous(self, db: Any, table: str, session_id: str, count: int, max_seq: int) -> int:
        """The highest n such that seqs 1..n of a session are all in `table` (events or
        recording_chunks), from how many there are and the highest: they say when there is no
        gap (nearly always)."""
        if count == max_seq:
            return max_seq
        gap = db.execute(
            self.sql(
                f"SELECT min(seq) FROM (SELECT 0 AS seq UNION ALL SELECT seq FROM {table} "
                f"WHERE session_id = ?) AS e WHERE NOT EXISTS (SELECT 1 FROM {table} "
                "WHERE session_id = ? AND seq = e.seq + 1)"
            ),
            (session_id, session_id),
        ).fetchone()[0]
        return gap or 0
