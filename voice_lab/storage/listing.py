"""The sessions list's queries: each session's figures (analysis/figures.py) kept in
session_figures, and the list sorted and filtered by them in SQL, on any backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..analysis.figures import Figures, Heard
from .backend import Backend
from .query import escape_like
from .rows import SESSION_FIELDS

# What the list sorts by: a name in the URL -> its SQL over sessions (s) and their figures (f).
# A figure is NULL where it is not known yet (or has no value): those sort last either way.
SORTS = {
    "started": "s.created_at",
    "events": "s.event_count",
    "errors": "s.error_count",
    "turns": "f.turns",
    "p95": "coalesce(f.heard_p95_ms, f.p95_ms)",
    "interruptions": "f.interruptions",
    "failed": "f.failed_checks + coalesce(f.heard_failed, 0)",
    "cost": "f.cost",
}
_COLUMNS = ", ".join(f"s.{name}" for name in SESSION_FIELDS) + (
    ", f.folded IS NOT NULL AS figured, f.turns, f.interruptions, "
    f"{SORTS['failed']} AS failed_checks, {SORTS['p95']} AS p95_ms, "
    "f.heard_p95_ms IS NOT NULL AS heard, f.cost"
)
# The figures of a session without events, which has no fold to save them.
_NOTHING = {"figured": True, "turns": 0, "interruptions": 0, "failed_checks": 0, "cost": 0.0}
_FOLD_FIGURES = ("upto_seq", "folded", "turns", "interruptions", "failed_checks", "p95_ms", "cost")


@dataclass(frozen=True)
class SessionQuery:
    """Which sessions to list and in what order: every filter narrows, unset ones don't."""

    search: str = ""  # in the label or the id
    sort: str = "started"  # a key of SORTS
    descending: bool = True
    failed: bool = False  # only those with a failed check
    interrupted: bool = False  # only those with a barge-in
    p95_over: float | None = None  # only those whose p95 to first audio is over, in ms
    cost_over: float | None = None  # only those that cost more, in dollars

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise ValueError(f"sort by one of {', '.join(SORTS)} (got {self.sort!r})")

    def select(self, limit: int) -> tuple[str, list[Any]]:
        """The SELECT of the list and its parameters."""
        like = f"%{escape_like(self.search)}%"
        clauses = ["(? = '' OR s.label LIKE ? ESCAPE '\\' OR s.id LIKE ? ESCAPE '\\')"]
        params: list[Any] = [self.search, like, like]
        if self.failed:
            clauses.append(f"{SORTS['failed']} > 0")
        if self.interrupted:
            clauses.append("f.interruptions > 0")
        for column, floor in (("p95", self.p95_over), ("cost", self.cost_over)):
            if floor is not None:
                clauses.append(f"{SORTS[column]} > ?")
                params.append(floor)
        order = SORTS[self.sort]
        sql = (
            f"SELECT {_COLUMNS} FROM sessions s LEFT JOIN session_figures f "
            f"ON f.session_id = s.id WHERE {' AND '.join(clauses)} "
            f"ORDER BY ({order}) IS NULL, {order} {'DESC' if self.descending else 'ASC'}, "
            "s.created_at DESC LIMIT ?"
        )
        return sql, [*params, limit]


class SessionList(Backend):
    """The sessions list and the figures it shows, on any backend."""

    def list_sessions(
        self, query: SessionQuery | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Up to `limit` sessions (newest first unless `query` sorts otherwise), each with its
        figures: `figured` says whether its fold's are saved, `heard` whether its p95 is the
        recording's."""
        sql, params = (query or SessionQuery()).select(limit)
        rows = [dict(row) for row in self._all(sql, params)]
        for row in rows:
            if not row["event_count"] and not row["figured"]:
                row.update(_NOTHING)  # nothing to count: known, and none
        return rows

    def _save_figures(self, db: Any, session_id: str, figures: Figures) -> None:
        """Save a fold's figures inside a transaction, unless later ones are saved already
        (or these do not know what the saved ones do)."""
        names = ", ".join(_FOLD_FIGURES)
        updates = ", ".join(f"{name} = excluded.{name}" for name in _FOLD_FIGURES)
        db.execute(
            self.sql(
                f"INSERT INTO session_figures (session_id, {names}) "
                f"SELECT ?, {', '.join('?' for _ in _FOLD_FIGURES)} "
                "WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?) "
                f"ON CONFLICT (session_id) DO UPDATE SET {updates} "
                "WHERE session_figures.folded IS NULL "
                "OR excluded.upto_seq > session_figures.upto_seq "
                "OR excluded.folded > session_figures.folded "
                "OR (session_figures.turns IS NULL AND excluded.turns IS NOT NULL)"
            ),
            (session_id, *(getattr(figures, name) for name in _FOLD_FIGURES), session_id),
        )

    def save_heard(self, session_id: str, heard: Heard) -> None:
        """Save what a session's recording says for the list (the latest hearing wins)."""
        with self.transaction() as db:
            db.execute(
                self.sql(
                    "INSERT INTO session_figures (session_id, heard_p95_ms, heard_failed) "
                    "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?) "
                    "ON CONFLICT (session_id) DO UPDATE SET "
                    "heard_p95_ms = excluded.heard_p95_ms, heard_failed = excluded.heard_failed"
                ),
                (session_id, heard.p95_ms, heard.failed_checks, session_id),
            )

    def unfigured_sessions(self) -> list[str]:
        """The sessions with events whose fold's figures are not saved, or do not know every
        count (saved before it was kept), oldest first: the list shows … for them."""
        rows = self._all(
            "SELECT s.id FROM sessions s LEFT JOIN session_figures f ON f.session_id = s.id "
            "WHERE s.event_count > 0 AND (f.folded IS NULL OR f.turns IS NULL "
            "OR f.interruptions IS NULL) ORDER BY s.created_at"
        )
        return [row[0] for row in rows]
