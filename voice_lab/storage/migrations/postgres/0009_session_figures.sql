-- Migration 9: each session's figures for the sessions list (analysis/figures.py), so that the
-- list sorts and filters them in SQL without folding any event. The fold's are written with the
-- panels' fold (upto_seq and folded NULL until then); the heard ones with the recording's
-- hearing (heard_failed NULL until the recording is heard).

CREATE TABLE IF NOT EXISTS session_figures (
    session_id TEXT PRIMARY KEY REFERENCES sessions (id) ON DELETE CASCADE,
    upto_seq BIGINT,                   -- the fold's highest seq when its figures were saved
    folded BIGINT,                     -- how many events it had folded
    turns BIGINT,                      -- NULL: folded before turns were counted
    interruptions BIGINT,              -- NULL: likewise
    failed_checks BIGINT,              -- the events' protocol checks that fail
    p95_ms DOUBLE PRECISION,           -- to first audio, from the events (NULL: no audio)
    cost DOUBLE PRECISION,             -- dollars, estimated (NULL: no price for the model)
    heard_p95_ms DOUBLE PRECISION,     -- to first audio as heard (NULL: none heard)
    heard_failed BIGINT                -- the recording's audio checks that fail
);
