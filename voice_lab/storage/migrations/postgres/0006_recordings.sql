-- Migration 6: each call's recording, as the page's MediaRecorder handed it over: chunks in seq
-- order, which concatenate to one WebM/Opus stream (made seekable when served). Stored once per
-- (session, seq), like events; deleting the session deletes them.

CREATE TABLE IF NOT EXISTS recording_chunks (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,               -- the recording's own sequence, from 1
    t DOUBLE PRECISION NOT NULL,       -- browser clock, ms since the epoch: when the chunk came
    data BYTEA NOT NULL,
    PRIMARY KEY (session_id, seq)
);
