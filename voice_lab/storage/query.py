"""Which events to read: the filters' query, as SQL any backend's placeholders take."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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


def escape_like(text: str) -> str:
    """Escape LIKE's wildcards so user text matches literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
