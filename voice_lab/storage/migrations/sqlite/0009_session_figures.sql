-- Migration 9: each session's figures for the sessions list (analysis/figures.py), so that the
-- list sorts and filters them in SQL without folding any event. The fold's are written with the
-- panels' fold (upto_seq and folded NULL until then); the heard ones with the recording's
-- hearing (heard_failed NULL until the recording is heard).

CREATE TABLE IF NOT EXISTS session_figures (
    session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    upto_seq INTEGER,                  -- the fold's highest seq when its figures were saved
    folded INTEGER,                    -- how many events it had folded
    turns INTEGER,                     -- NULL: folded before turns were counted
    interruptions INTEGER,             -- NULL: likewise
    failed_checks INTEGER,             -- the events' protocol checks that fail
    p95_ms REAL,                       -- to first audio, from the events (NULL: no audio)
    cost REAL,                         -- dollars, estimated (NULL: no price for the model)
    heard_p95_ms REAL,                 -- to first audio as heard (NULL: none heard)
    heard_failed INTEGER               -- the recording's audio checks that fail
) WITHOUT ROWID;
