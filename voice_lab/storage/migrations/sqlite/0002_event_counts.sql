-- Migration 2: how many events of each category and type a session holds, kept by every insert,
-- so the session page's chip counts and type list cost the same for any length of session.

CREATE TABLE IF NOT EXISTS event_counts (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    category TEXT NOT NULL,
    type TEXT NOT NULL,                -- '' for events with no type (text that is not JSON)
    n INTEGER NOT NULL,
    PRIMARY KEY (session_id, category, type)
) WITHOUT ROWID;

INSERT INTO event_counts (session_id, category, type, n)
SELECT session_id, category, coalesce(type, ''), count(*) FROM events GROUP BY 1, 2, 3;
