-- Migration 4: each session's panel figures as folded so far (aggregates.Aggregates, as JSON),
-- so that the panels read only the events stored since instead of the whole session.

CREATE TABLE IF NOT EXISTS panel_states (
    session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    upto_seq INTEGER NOT NULL,         -- the highest seq folded
    folded INTEGER NOT NULL,           -- how many events were folded (all of those <= upto_seq)
    state TEXT NOT NULL
) WITHOUT ROWID;
