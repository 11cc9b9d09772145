-- Voice Lab's schema on PostgreSQL: the same tables as SQLite's, in PostgreSQL's types. Each
-- migration listed in __init__.py runs once, tracked in schema_version.

CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    created_at DOUBLE PRECISION NOT NULL,  -- unix seconds, server clock
    provider TEXT NOT NULL,            -- emulator | azure | azure-preview | openai | external | import
    protocol TEXT,                     -- ga | beta
    model TEXT,
    voice TEXT,
    remote_session_id TEXT,
    call_id TEXT,
    label TEXT,
    origin TEXT NOT NULL DEFAULT 'live',  -- live | external | imported
    key_hint TEXT,                     -- the ephemeral key, redacted: never the key itself
    expires_at BIGINT,
    ended_at DOUBLE PRECISION,
    event_count BIGINT NOT NULL DEFAULT 0,
    error_count BIGINT NOT NULL DEFAULT 0,
    max_seq BIGINT NOT NULL DEFAULT 0,
    first_t DOUBLE PRECISION           -- browser time of the first event, ms
);

CREATE INDEX IF NOT EXISTS sessions_created ON sessions (created_at DESC);

CREATE TABLE IF NOT EXISTS events (
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    direction TEXT NOT NULL,           -- server | client | local
    t DOUBLE PRECISION,                -- browser clock, ms since the epoch
    received_at DOUBLE PRECISION NOT NULL,  -- server clock, unix seconds
    type TEXT,
    category TEXT NOT NULL,
    response_id TEXT,
    item_id TEXT,
    payload TEXT NOT NULL,             -- the data-channel text as received (redacted)
    PRIMARY KEY (session_id, seq)
);

CREATE INDEX IF NOT EXISTS events_category ON events (session_id, category, seq);
CREATE INDEX IF NOT EXISTS events_type ON events (session_id, type, seq);
CREATE INDEX IF NOT EXISTS events_direction ON events (session_id, direction, seq);
