-- HQ triage: who settled a conflict or a dead letter, when, and why.

ALTER TABLE conflicts
  ADD COLUMN resolved_by text,
  ADD COLUMN resolution  text,
  ADD CONSTRAINT conflicts_resolved CHECK ((status = 'resolved') = (resolved_at IS NOT NULL));
-- GET /v1/conflicts lists newest first (by id), optionally by status.
CREATE INDEX conflicts_newest ON conflicts (id);
CREATE INDEX conflicts_status_newest ON conflicts (status, id);

ALTER TABLE dead_letters
  ADD COLUMN resolved_by text,
  ADD COLUMN resolution  text,
  ADD CONSTRAINT dead_letters_resolved CHECK ((status = 'open') = (resolved_at IS NULL));
-- Retry and dismiss find a dead letter by id alone.
CREATE INDEX dead_letters_id ON dead_letters (id);
