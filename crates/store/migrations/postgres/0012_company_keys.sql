-- A company name's key reads a legal form written letter by letter as that
-- form (`Acme B.V.` is keyed `acme`, as `Acme BV` is; it was `acme b v`).
-- The keys are computed again by crmsync after this file, in its
-- transaction (`rekey_companies`).
SELECT 1;
