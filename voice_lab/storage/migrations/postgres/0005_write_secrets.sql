-- Migration 5: the hash of each session's write secret, which a mirror's hello for the session
-- must carry. The secret itself is never stored. Sessions without one (imported, or made before
-- this migration) take no mirror at all.
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS write_hash TEXT;
