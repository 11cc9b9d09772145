"""The queries of a call's recording: its chunks stored once each, in seq order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from .backend import Backend
from .rows import AudioChunk


class Recordings(Backend):
    """A session's recording chunks, on any backend."""

    def insert_chunks(self, session_id: str, chunks: Sequence[AudioChunk]) -> int:
        """Store a recording's chunks in one transaction, each (session, seq) once; returns the
        highest n such that chunks 1..n are all stored: the page resends after it."""
        with self.transaction() as db:
            self._insert_chunks(db, session_id, chunks)
            return self._audio_contiguous(db, session_id)

    def audio_contiguous(self, session_id: str) -> int:
        """insert_chunks' resume point without storing anything: what a welcome says."""
        return self._audio_contiguous(self.db, session_id)

    def _audio_contiguous(self, db: Any, session_id: str) -> int:
        count, top = db.execute(
            self.sql(
                "SELECT count(*), coalesce(max(seq), 0) FROM recording_chunks WHERE session_id = ?"
            ),
            (session_id,),
        ).fetchone()
        return self._contiguous(db, "recording_chunks", session_id, count, top)

    def recording_chunks(self, session_id: str, batch: int = 64) -> Iterator[bytes]:
        """A session's recording, chunk by chunk in seq order, in pages so memory stays flat."""
        return (chunk.data for chunk in self.audio_chunks(session_id, batch))

    def audio_chunks(self, session_id: str, batch: int = 64) -> Iterator[AudioChunk]:
        """recording_chunks with each chunk's seq and t, as a bundle exports them."""
        after = 0
        while rows := self._all(
            "SELECT seq, t, data FROM recording_chunks WHERE session_id = ? AND seq > ? "
            "ORDER BY seq LIMIT ?",
            (session_id, after, batch),
        ):
            for row in rows:
                yield AudioChunk(row[0], row[1], bytes(row[2]))
            after = rows[-1][0]

    def recording_chunk_count(self, session_id: str) -> int:
        """How many chunks of a session's recording are stored, from the index alone (its
        files are named by it): recording_info's sum of sizes reads every chunk's pages."""
        return int(
            self._one("SELECT count(*) FROM recording_chunks WHERE session_id = ?", (session_id,))[
                0
            ]
        )

    def recorded_sessions(self) -> list[tuple[str, int]]:
        """(session id, chunks stored) of every session with a recording, oldest first."""
        rows = self.db.execute(
            self.sql(
                "SELECT s.id, count(*) FROM recording_chunks c JOIN sessions s "
                "ON s.id = c.session_id GROUP BY s.id, s.created_at ORDER BY s.created_at"
            )
        ).fetchall()
        return [(row[0], int(row[1])) for row in rows]

    def recording_info(self, session_id: str) -> dict[str, Any] | None:
        """How much of a session's recording is stored: chunks, bytes, the first chunk's t and
        the highest contiguous seq; None when nothing is."""
        row = self._one(
            "SELECT count(*), sum(length(data)), min(t) FROM recording_chunks WHERE session_id = ?",
            (session_id,),
        )
        if not row[0]:
            return None
        return {
            "chunks": row[0],
            "bytes": int(row[1]),
            "first_t": row[2],
            "contiguous": self.audio_contiguous(session_id),
        }

    def _insert_chunks(self, db: Any, session_id: str, chunks: Sequence[AudioChunk]) -> None:
        """Insert a recording's chunks inside a transaction, each (session, seq) once."""
        db.cursor().executemany(
            self.sql(
                "INSERT INTO recording_chunks (session_id, seq, t, data) VALUES (?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING"
            ),
            [(session_id, *chunk) for chunk in chunks],
        )
