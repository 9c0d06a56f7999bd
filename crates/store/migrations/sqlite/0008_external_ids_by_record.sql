-- A record's ids in other systems are looked up by record, entity and
-- system together: an import's new and matched records, an export's
-- `external_id.<system>` column, an undo. The index on the record alone
-- left SQLite's planner, which has no statistics here, to prefer the
-- primary key's (entity, system) prefix for lists of records: every id of
-- the system was read for each lookup, and an import of 80,000 contacts
-- with ERP ids took 211 s. With all three columns, one seek finds them.

DROP INDEX external_ids_record;
CREATE INDEX external_ids_record ON external_ids (record_id, entity, system);
