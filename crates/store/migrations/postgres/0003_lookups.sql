-- Phone lookups use a plain index. The partial one (WHERE deleted_at IS
-- NULL) matched every live contact, so a planner without statistics took it
-- to filter `deleted_at IS NULL` and read the whole index on every lookup.

DROP INDEX contacts_phone;
CREATE INDEX contacts_phone ON contacts (phone);

-- Links between records are kept by crmsync itself, as on SQLite: import
-- links only records it found or created, and undo refuses (or with --force
-- clears) links to the records it removes. The foreign keys ran a query per
-- inserted row, which made bulk loads a third slower.
ALTER TABLE contacts DROP CONSTRAINT IF EXISTS contacts_company_id_fkey;
ALTER TABLE deals DROP CONSTRAINT IF EXISTS deals_company_id_fkey;
ALTER TABLE activities DROP CONSTRAINT IF EXISTS activities_contact_id_fkey;
ALTER TABLE activities DROP CONSTRAINT IF EXISTS activities_company_id_fkey;
ALTER TABLE activities DROP CONSTRAINT IF EXISTS activities_deal_id_fkey;
