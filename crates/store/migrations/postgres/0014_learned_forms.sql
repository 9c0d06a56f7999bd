-- The legal form a company named without one was found to have (`Acme`,
-- found by a row's `Acme BV`), kept after the import that found it: the next
-- import reads `Acme AG` as another company, as that one did, and a contact
-- linked to `Acme` by `Acme BV` keeps its link beside a `Acme B.V.` made
-- since. Its `name_form` stays as the name writes it (none), for exports and
-- filters of names as written.
ALTER TABLE companies ADD COLUMN learned_form TEXT;

-- `batch_forms` now outlives its batch: each row names the batch that taught
-- a company its form, and `undo` of that batch forgets it.
