-- Migration 7: the mint limit's recent hits per client, so that every worker on the database
-- counts the same mints (one row per mint, pruned once out of the window).

CREATE TABLE IF NOT EXISTS rate_hits (
    scope TEXT NOT NULL,               -- which limit: Voice Lab's mints, or the emulator's
    client TEXT NOT NULL,              -- the client's address
    at DOUBLE PRECISION NOT NULL       -- the server's clock, seconds since the epoch
);
CREATE INDEX IF NOT EXISTS rate_hits_by_client ON rate_hits (scope, client, at);
CREATE INDEX IF NOT EXISTS rate_hits_by_time ON rate_hits (at);
