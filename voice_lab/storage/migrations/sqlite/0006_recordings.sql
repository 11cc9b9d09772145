-- Migration 6: each call's recording, as the page's MediaRecorder handed it over: chunks in seq
-- order, which concatenate to one WebM/Opus stream (made seekable when served). Stored once per
-- (session, seq), like events; deleting the session deletes them. A rowid table, unlike events:
-- its key's index then counts and finds a session's chunks without reading their blobs.

CREATE TABLE IF NOT EXISTS recording_chunks (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,              -- the recording's own sequence, from 1
    t REAL NOT NULL,                   -- browser clock, ms since the epoch: when the chunk came
    data BLOB NOT NULL,
    PRIMARY KEY (session_id, seq)
)
