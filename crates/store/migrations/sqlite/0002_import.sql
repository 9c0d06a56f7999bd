-- What import, undo and export need: keys for matching companies by
-- normalised name, plain indexes for the key lookups, the rejected rows of
-- each batch (so a resumed import still reports every one), and who wrote
-- each record last.

ALTER TABLE companies ADD COLUMN name_key TEXT;
DROP INDEX companies_domain;
DROP INDEX companies_name;
CREATE INDEX companies_domain ON companies (domain);
CREATE INDEX companies_name_key ON companies (name_key);
DROP INDEX contacts_email;
CREATE INDEX contacts_email ON contacts (email);
CREATE INDEX deals_name ON deals (name);
CREATE INDEX activities_company ON activities (company_id);
CREATE INDEX activities_deal ON activities (deal_id);
CREATE INDEX deal_contacts_contact ON deal_contacts (contact_id);

ALTER TABLE batches ADD COLUMN settings TEXT;

CREATE TABLE batch_rejects (
    batch_id TEXT NOT NULL REFERENCES batches (id),
    source_row BIGINT NOT NULL,
    field TEXT,
    error TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (batch_id, source_row)
);
