"""Figures the reliability tests count (frames fuzzed, faults injected, events sent and stored),
printed at the end of the run by conftest's terminal summary."""

from __future__ import annotations

import sqlite3
from collections import Counter

FIGURES: Counter[str] = Counter()


def count(name: str, n: int = 1) -> None:
    """Add n to a figure."""
    FIGURES[name] += n


def inconsistencies(db: sqlite3.Connection) -> list[str]:
    """What is wrong with the stored sessions' counters, seqs and per-type counts (none: [])."""
    problems = []
    sessions = db.execute(
        "SELECT s.id, s.event_count, s.max_seq, s.error_count, count(e.seq), "
        "coalesce(max(e.seq), 0), count(DISTINCT e.seq), "
        "coalesce(sum(e.category = 'error'), 0) FROM sessions s "
        "LEFT JOIN events e ON e.session_id = s.id GROUP BY s.id"
    ).fetchall()
    for sid, event_count, max_seq, error_count, rows, top, distinct, errors in sessions:
        if (event_count, max_seq, error_count) != (rows, top, errors) or distinct != rows:
            problems.append(
                f"{sid}: counters {(event_count, max_seq, error_count)} but rows say "
                f"{(rows, top, errors)} ({distinct} distinct seqs)"
            )
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "event_counts" in tables:
        drift = db.execute(
            "SELECT * FROM (SELECT session_id, category, coalesce(type, '') AS type, count(*) AS n "
            "FROM events GROUP BY 1, 2, 3) EXCEPT SELECT session_id, category, type, n "
            "FROM event_counts WHERE n > 0"
        ).fetchall()
        problems += [f"event_counts lacks {tuple(row)}" for row in drift]
    return problems
