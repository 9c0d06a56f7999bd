-- Each record remembers the source row it was last imported from: a 64-bit
-- hash of that row as read, under the mapping and import settings that
-- turned it into the record. An import that meets the same row again, for
-- a record it still finds untouched since, knows the row is unchanged
-- without mapping it or reading the record whole. crmsync's own writes set
-- or clear it (an import of another row, an undo); records that never had
-- one are drafted as before, and get their hash then. A write from outside
-- crmsync that changes a record and leaves this column as it was clears it
-- (the triggers below): the hash no longer vouches for such a record.

ALTER TABLE companies ADD COLUMN source_hash INTEGER;
ALTER TABLE contacts ADD COLUMN source_hash INTEGER;
ALTER TABLE deals ADD COLUMN source_hash INTEGER;
ALTER TABLE activities ADD COLUMN source_hash INTEGER;

CREATE TRIGGER companies_source_hash AFTER UPDATE ON companies
WHEN OLD.source_hash IS NOT NULL AND NEW.source_hash IS OLD.source_hash
BEGIN
    UPDATE companies SET source_hash = NULL WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER contacts_source_hash AFTER UPDATE ON contacts
WHEN OLD.source_hash IS NOT NULL AND NEW.source_hash IS OLD.source_hash
BEGIN
    UPDATE contacts SET source_hash = NULL WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER deals_source_hash AFTER UPDATE ON deals
WHEN OLD.source_hash IS NOT NULL AND NEW.source_hash IS OLD.source_hash
BEGIN
    UPDATE deals SET source_hash = NULL WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER activities_source_hash AFTER UPDATE ON activities
WHEN OLD.source_hash IS NOT NULL AND NEW.source_hash IS OLD.source_hash
BEGIN
    UPDATE activities SET source_hash = NULL WHERE rowid = NEW.rowid;
END;
