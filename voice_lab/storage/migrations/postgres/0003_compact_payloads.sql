-- Migration 3: which payloads are already an object's compact JSON, so that exports can embed
-- them without parsing and dumping each one again. Older rows take the slow, exact path.
ALTER TABLE events ADD COLUMN IF NOT EXISTS compact BOOLEAN NOT NULL DEFAULT FALSE;
