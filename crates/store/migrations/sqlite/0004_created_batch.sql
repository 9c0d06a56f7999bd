-- A record knows the batch that created it. The audit trail kept one
-- `insert` row per new record, which said no more than this column and the
-- record's `created_at`, and took nearly a third of SQLite's time on a first
-- import. `history` shows a record's creation from these two columns; undo
-- finds the records a batch inserted here, and as it removes them writes
-- their `insert` rows to the audit trail, so a removed record's history
-- still begins with its creation.

ALTER TABLE companies ADD COLUMN created_batch TEXT;
ALTER TABLE contacts ADD COLUMN created_batch TEXT;
ALTER TABLE deals ADD COLUMN created_batch TEXT;
ALTER TABLE activities ADD COLUMN created_batch TEXT;

UPDATE companies SET created_batch =
    (SELECT a.batch_id FROM audit a WHERE a.record_id = companies.id AND a.op = 'insert' ORDER BY a.seq LIMIT 1);
UPDATE contacts SET created_batch =
    (SELECT a.batch_id FROM audit a WHERE a.record_id = contacts.id AND a.op = 'insert' ORDER BY a.seq LIMIT 1);
UPDATE deals SET created_batch =
    (SELECT a.batch_id FROM audit a WHERE a.record_id = deals.id AND a.op = 'insert' ORDER BY a.seq LIMIT 1);
UPDATE activities SET created_batch =
    (SELECT a.batch_id FROM audit a WHERE a.record_id = activities.id AND a.op = 'insert' ORDER BY a.seq LIMIT 1);

-- Records that exist carry their creation now; removed ones keep their row.
DELETE FROM audit WHERE op = 'insert' AND entity = 'companies' AND record_id IN (SELECT id FROM companies);
DELETE FROM audit WHERE op = 'insert' AND entity = 'contacts' AND record_id IN (SELECT id FROM contacts);
DELETE FROM audit WHERE op = 'insert' AND entity = 'deals' AND record_id IN (SELECT id FROM deals);
DELETE FROM audit WHERE op = 'insert' AND entity = 'activities' AND record_id IN (SELECT id FROM activities);
