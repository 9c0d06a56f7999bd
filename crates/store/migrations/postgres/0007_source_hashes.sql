-- Each record remembers the source row it was last imported from: a 64-bit
-- hash of that row as read, under the mapping and import settings that
-- turned it into the record. An import that meets the same row again, for
-- a record it still finds untouched since, knows the row is unchanged
-- without mapping it or reading the record whole. crmsync's own writes set
-- or clear it (an import of another row, an undo); records that never had
-- one are drafted as before, and get their hash then. A write from outside
-- crmsync that changes a record and leaves this column as it was clears it
-- (the triggers below): the hash no longer vouches for such a record.

ALTER TABLE companies ADD COLUMN source_hash BIGINT;
ALTER TABLE contacts ADD COLUMN source_hash BIGINT;
ALTER TABLE deals ADD COLUMN source_hash BIGINT;
ALTER TABLE activities ADD COLUMN source_hash BIGINT;

CREATE FUNCTION crmsync_source_hash_stale() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.source_hash IS NOT DISTINCT FROM OLD.source_hash THEN
        NEW.source_hash := NULL;
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER companies_source_hash BEFORE UPDATE ON companies FOR EACH ROW
WHEN (OLD.source_hash IS NOT NULL) EXECUTE FUNCTION crmsync_source_hash_stale();

CREATE TRIGGER contacts_source_hash BEFORE UPDATE ON contacts FOR EACH ROW
WHEN (OLD.source_hash IS NOT NULL) EXECUTE FUNCTION crmsync_source_hash_stale();

CREATE TRIGGER deals_source_hash BEFORE UPDATE ON deals FOR EACH ROW
WHEN (OLD.source_hash IS NOT NULL) EXECUTE FUNCTION crmsync_source_hash_stale();

CREATE TRIGGER activities_source_hash BEFORE UPDATE ON activities FOR EACH ROW
WHEN (OLD.source_hash IS NOT NULL) EXECUTE FUNCTION crmsync_source_hash_stale();
