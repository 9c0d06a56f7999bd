-- Rows of a batch that changed a record an earlier row of it gave: the
-- file gives that record twice. Kept with the other counts, so that a
-- resumed import reports the rows read before the interruption too.
ALTER TABLE batches ADD COLUMN rewritten INTEGER NOT NULL DEFAULT 0;
