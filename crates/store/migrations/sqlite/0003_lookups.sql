-- Phone lookups use a plain index. The partial one (WHERE deleted_at IS
-- NULL) matched every live contact, so a planner without statistics took it
-- to filter `deleted_at IS NULL` and read the whole index on every lookup.

DROP INDEX contacts_phone;
CREATE INDEX contacts_phone ON contacts (phone);
