-- The file a batch read, as a full path with links resolved (none for
-- standard input). Batches are told apart by it: `c.csv` in two folders is
-- two files, and `./c.csv` and its full path one. Batches from before have
-- only the name the file was given, and match by that.
ALTER TABLE batches ADD COLUMN source_path TEXT;
