-- Migration 8: a replayed call names the session whose recording was its microphone. No
-- foreign key: the original may be deleted, or stay behind in another database when the replay
-- is exported and imported, and the replay keeps saying what it replayed.
ALTER TABLE sessions ADD COLUMN IF NOT EXISTS replay_of TEXT;
