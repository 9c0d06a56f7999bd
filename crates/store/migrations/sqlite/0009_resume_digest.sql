-- What the rows an import has committed held, as one hash of them in
-- order, moved with its checkpoint. `--resume` skips that many rows of the
-- file it is given: it reads them again and compares, so a file changed
-- since (a row fixed, one added above) is refused rather than its first
-- rows skipped unread. Batches started before this have none and are not
-- checked.
ALTER TABLE batches ADD COLUMN source_digest INTEGER;
