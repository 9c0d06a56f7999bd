-- A company's legal form (`bv` of `Acme B.V.`), as its name gives it, beside
-- its name key: `--where name = 'Acme BV'` and `history "Acme BV"` find
-- `Acme BV` and `Acme`, not `Acme AG`. crmsync fills it in after this file,
-- in its transaction (`form_companies`).
ALTER TABLE companies ADD COLUMN name_form TEXT;
