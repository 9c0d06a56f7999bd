-- The data model of the specification (§2): companies, contacts, deals and
-- activities with system fields, custom fields, external ids and links;
-- import batches and the audit trail.

CREATE TABLE companies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL CHECK (char_length(name) <= 255),
    domain TEXT CHECK (char_length(domain) <= 255),
    industry TEXT CHECK (char_length(industry) <= 255),
    phone TEXT CHECK (char_length(phone) <= 64),
    address_street TEXT CHECK (char_length(address_street) <= 512),
    address_city TEXT CHECK (char_length(address_city) <= 255),
    address_region TEXT CHECK (char_length(address_region) <= 255),
    address_postal_code TEXT CHECK (char_length(address_postal_code) <= 32),
    address_country TEXT CHECK (char_length(address_country) <= 2),
    owner TEXT CHECK (char_length(owner) <= 255),
    tags JSONB NOT NULL DEFAULT '[]',
    custom JSONB NOT NULL DEFAULT '{}',
    hash BYTEA NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);
CREATE INDEX companies_domain ON companies (lower(domain)) WHERE deleted_at IS NULL;
CREATE INDEX companies_name ON companies (lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX companies_updated ON companies (updated_at);

CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    first_name TEXT CHECK (char_length(first_name) <= 255),
    last_name TEXT CHECK (char_length(last_name) <= 255),
    full_name TEXT CHECK (char_length(full_name) <= 512),
    email TEXT CHECK (char_length(email) <= 320),
    phone TEXT CHECK (char_length(phone) <= 64),
    mobile TEXT CHECK (char_length(mobile) <= 64),
    title TEXT CHECK (char_length(title) <= 255),
    company_id TEXT REFERENCES companies (id),
    address_street TEXT CHECK (char_length(address_street) <= 512),
    address_city TEXT CHECK (char_length(address_city) <= 255),
    address_region TEXT CHECK (char_length(address_region) <= 255),
    address_postal_code TEXT CHECK (char_length(address_postal_code) <= 32),
    address_country TEXT CHECK (char_length(address_country) <= 2),
    lifecycle_stage TEXT CHECK (char_length(lifecycle_stage) <= 64),
    owner TEXT CHECK (char_length(owner) <= 255),
    tags JSONB NOT NULL DEFAULT '[]',
    notes TEXT,
    subscribed_at TIMESTAMPTZ,
    custom JSONB NOT NULL DEFAULT '{}',
    hash BYTEA NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);
CREATE INDEX contacts_email ON contacts (lower(email)) WHERE deleted_at IS NULL;
CREATE INDEX contacts_phone ON contacts (phone) WHERE deleted_at IS NULL;
CREATE INDEX contacts_company ON contacts (company_id);
CREATE INDEX contacts_updated ON contacts (updated_at);

CREATE TABLE deals (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL CHECK (char_length(name) <= 255),
    amount NUMERIC,
    currency TEXT CHECK (char_length(currency) = 3),
    stage TEXT CHECK (char_length(stage) <= 64),
    close_date DATE,
    company_id TEXT REFERENCES companies (id),
    owner TEXT CHECK (char_length(owner) <= 255),
    custom JSONB NOT NULL DEFAULT '{}',
    hash BYTEA NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);
CREATE INDEX deals_company ON deals (company_id);
CREATE INDEX deals_updated ON deals (updated_at);

CREATE TABLE deal_contacts (
    deal_id TEXT NOT NULL REFERENCES deals (id),
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    PRIMARY KEY (deal_id, contact_id)
);

CREATE TABLE activities (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('call', 'email', 'meeting', 'note')),
    subject TEXT CHECK (char_length(subject) <= 512),
    body TEXT,
    occurred_at TIMESTAMPTZ,
    contact_id TEXT REFERENCES contacts (id),
    company_id TEXT REFERENCES companies (id),
    deal_id TEXT REFERENCES deals (id),
    owner TEXT CHECK (char_length(owner) <= 255),
    custom JSONB NOT NULL DEFAULT '{}',
    hash BYTEA NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    deleted_at TIMESTAMPTZ
);
CREATE INDEX activities_contact ON activities (contact_id);
CREATE INDEX activities_updated ON activities (updated_at);

-- Ids of the same record in other systems, unique per system.
CREATE TABLE external_ids (
    entity TEXT NOT NULL,
    system TEXT NOT NULL,
    external_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (entity, system, external_id)
);
CREATE INDEX external_ids_record ON external_ids (record_id);

-- Custom fields declared in a schema file.
CREATE TABLE custom_fields (
    entity TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    required BOOLEAN NOT NULL DEFAULT FALSE,
    is_unique BOOLEAN NOT NULL DEFAULT FALSE,
    enum_values TEXT,
    PRIMARY KEY (entity, name)
);

CREATE TABLE batches (
    id TEXT PRIMARY KEY,
    entity TEXT NOT NULL,
    source TEXT NOT NULL,
    mapping TEXT,
    mode TEXT NOT NULL,
    status TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    rows_read BIGINT NOT NULL DEFAULT 0,
    inserted BIGINT NOT NULL DEFAULT 0,
    updated BIGINT NOT NULL DEFAULT 0,
    unchanged BIGINT NOT NULL DEFAULT 0,
    rejected BIGINT NOT NULL DEFAULT 0,
    checkpoint BIGINT NOT NULL DEFAULT 0
);

-- Every write: what the field was before and after, by which batch, when.
CREATE TABLE audit (
    seq BIGSERIAL PRIMARY KEY,
    batch_id TEXT,
    entity TEXT NOT NULL,
    record_id TEXT NOT NULL,
    op TEXT NOT NULL,
    field TEXT,
    before TEXT,
    after TEXT,
    at TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_record ON audit (record_id);
CREATE INDEX audit_batch ON audit (batch_id);
