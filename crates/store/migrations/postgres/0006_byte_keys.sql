-- Identifiers and normalised keys compare byte by byte, as SQLite compares
-- all text. Lookups meet these columns by equality (ids are ASCII; emails
-- and domains are stored lower-cased, phones in E.164, company keys
-- normalised) and find what they found before; `--where` comparisons
-- (`<`, `>`) on them now order by bytes, as they do on SQLite. Under a
-- locale collation every comparison went through the locale: with an ICU
-- en-US default, a COPY of a million contacts took 10.1-10.6 s against
-- 8.3-8.6 s under "C", and the email index 2.0-2.1 s against 1.0-1.9 s.
-- (Under C.UTF-8 the two are equal.) Text people read and sort (names,
-- cities, notes) keeps the database's collation.

ALTER TABLE companies
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN domain TYPE TEXT COLLATE "C",
    ALTER COLUMN phone TYPE TEXT COLLATE "C",
    ALTER COLUMN name_key TYPE TEXT COLLATE "C",
    ALTER COLUMN created_batch TYPE TEXT COLLATE "C";
ALTER TABLE contacts
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN email TYPE TEXT COLLATE "C",
    ALTER COLUMN phone TYPE TEXT COLLATE "C",
    ALTER COLUMN mobile TYPE TEXT COLLATE "C",
    ALTER COLUMN company_id TYPE TEXT COLLATE "C",
    ALTER COLUMN created_batch TYPE TEXT COLLATE "C";
ALTER TABLE deals
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN company_id TYPE TEXT COLLATE "C",
    ALTER COLUMN created_batch TYPE TEXT COLLATE "C";
ALTER TABLE deal_contacts
    ALTER COLUMN deal_id TYPE TEXT COLLATE "C",
    ALTER COLUMN contact_id TYPE TEXT COLLATE "C";
ALTER TABLE activities
    ALTER COLUMN id TYPE TEXT COLLATE "C",
    ALTER COLUMN contact_id TYPE TEXT COLLATE "C",
    ALTER COLUMN company_id TYPE TEXT COLLATE "C",
    ALTER COLUMN deal_id TYPE TEXT COLLATE "C",
    ALTER COLUMN created_batch TYPE TEXT COLLATE "C";
ALTER TABLE external_ids
    ALTER COLUMN record_id TYPE TEXT COLLATE "C";
ALTER TABLE batches
    ALTER COLUMN id TYPE TEXT COLLATE "C";
ALTER TABLE batch_rejects
    ALTER COLUMN batch_id TYPE TEXT COLLATE "C";
ALTER TABLE audit
    ALTER COLUMN batch_id TYPE TEXT COLLATE "C",
    ALTER COLUMN record_id TYPE TEXT COLLATE "C";
