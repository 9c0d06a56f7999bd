-- A company's legal form (`bv` of `Acme B.V.`), as its name gives it, beside
-- its name key: `--where name = 'Acme BV'` and `history "Acme BV"` find
-- `Acme BV` and `Acme`, not `Acme AG`. crmsync fills it in after this file,
-- in its transaction (`form_companies`), and keys again the names whose
-- forms it now reads (`Sp. z o.o.`, `株式会社`).
ALTER TABLE companies ADD COLUMN name_form TEXT;

-- The legal form each company named without one took in a batch that has
-- not finished (`Acme` found by `Acme BV`), so that `--resume` keeps it:
-- a later `Acme AG` is another company after the interruption as before.
CREATE TABLE batch_forms (
    batch_id TEXT COLLATE "C" NOT NULL,
    company_id TEXT COLLATE "C" NOT NULL,
    form TEXT NOT NULL,
    PRIMARY KEY (batch_id, company_id)
);

-- The company each company reference found in a batch that has not
-- finished (`Acme` → the `Acme BV` made for an earlier row), so that
-- `--resume` finds it again as the interrupted run did, where `Acme AG`
-- was made since.
CREATE TABLE batch_links (
    batch_id TEXT COLLATE "C" NOT NULL,
    reference TEXT COLLATE "C" NOT NULL,
    company_id TEXT COLLATE "C" NOT NULL
);
-- (No key: a reference written twice, by a chunk retried, is no error.)
CREATE INDEX batch_links_batch ON batch_links (batch_id);
