-- Voice Lab's schema. Each migration listed in __init__.py runs once, tracked by user_version.

CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,          -- unix seconds, server clock
    provider TEXT NOT NULL,            -- emulator | azure | azure-preview | openai | external | import
    protocol TEXT,                     -- ga | beta
    model TEXT,
    voice TEXT,
    remote_session_id TEXT,
    call_id TEXT,
    label TEXT,
    origin TEXT NOT NULL DEFAULT 'live',  -- live | external | imported
    key_hint TEXT,                     -- the ephemeral key, redacted: never the key itself
    expires_at INTEGER,
    ended_at REAL,
    event_count INTEGER NOT NULL DEFAULT 0,
    error_count INTEGER NOT NULL DEFAULT 0,
    max_seq INTEGER NOT NULL DEFAULT 0,
    first_t REAL                       -- browser time of the first event, ms
);

CREATE INDEX IF NOT EXISTS sessions_created ON sessions (created_at DESC);

CREATE TABLE IF NOT EXISTS events (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    direction TEXT NOT NULL,           -- server | client | local
    t REAL,                            -- browser clock, ms since the epoch
    received_at REAL NOT NULL,         -- server clock, unix seconds
    type TEXT,
    category TEXT NOT NULL,
    response_id TEXT,
    item_id TEXT,
    payload TEXT NOT NULL,             -- the data-channel text as received (redacted)
    PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS events_category ON events (session_id, category, seq);
CREATE INDEX IF NOT EXISTS events_type ON events (session_id, type, seq);
CREATE INDEX IF NOT EXISTS events_direction ON events (session_id, direction, seq);
