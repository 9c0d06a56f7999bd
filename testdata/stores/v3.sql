-- A store as crmsync schema version 3 left it (`sqlite3 crm.db .dump`),
-- made in testdata/import with that version:
--   crmsync init
--   crmsync import contacts_v1.csv --mapping contacts.toml   (batch …T1P)
--   crmsync import contacts_v2.csv --mapping contacts.toml   (batch …DZ)
--   crmsync undo 01M819J8T5VK6K65AP12JY08DZ
-- Version 3 wrote one `insert` audit row per new record; the migration to
-- version 4 moves them onto the records (`created_batch`).
PRAGMA foreign_keys=OFF;
BEGIN TRANSACTION;
CREATE TABLE crmsync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO crmsync_meta VALUES('schema_version','3');
CREATE TABLE companies (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(name) <= 255),
    domain TEXT CHECK (length(domain) <= 255),
    industry TEXT CHECK (length(industry) <= 255),
    phone TEXT CHECK (length(phone) <= 64),
    address_street TEXT CHECK (length(address_street) <= 512),
    address_city TEXT CHECK (length(address_city) <= 255),
    address_region TEXT CHECK (length(address_region) <= 255),
    address_postal_code TEXT CHECK (length(address_postal_code) <= 32),
    address_country TEXT CHECK (length(address_country) <= 2),
    owner TEXT CHECK (length(owner) <= 255),
    tags TEXT NOT NULL DEFAULT '[]',
    custom TEXT NOT NULL DEFAULT '{}',
    hash BLOB NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
, name_key TEXT);
INSERT INTO companies VALUES('01M819J7T4RRSMFM7A7BQ5NPN0','Acme Inc.','acme.com',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'[]','{}',X'7edd325ca845c173b41a7ff80fb81ebd',1,'2026-11-22T09:31:59.172568Z','2026-11-22T09:31:59.172568Z',NULL,'acme');
INSERT INTO companies VALUES('01M819J7T4RRSMFM7A7BQ5NPN1','Navy Labs','navy.example',NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,'[]','{}',X'5727095e2d0dd138dd7e116d2b89a6c9',1,'2026-11-22T09:31:59.172568Z','2026-11-22T09:31:59.172568Z',NULL,'navy labs');
CREATE TABLE contacts (
    id TEXT PRIMARY KEY,
    first_name TEXT CHECK (length(first_name) <= 255),
    last_name TEXT CHECK (length(last_name) <= 255),
    full_name TEXT CHECK (length(full_name) <= 512),
    email TEXT CHECK (length(email) <= 320),
    phone TEXT CHECK (length(phone) <= 64),
    mobile TEXT CHECK (length(mobile) <= 64),
    title TEXT CHECK (length(title) <= 255),
    company_id TEXT REFERENCES companies (id),
    address_street TEXT CHECK (length(address_street) <= 512),
    address_city TEXT CHECK (length(address_city) <= 255),
    address_region TEXT CHECK (length(address_region) <= 255),
    address_postal_code TEXT CHECK (length(address_postal_code) <= 32),
    address_country TEXT CHECK (length(address_country) <= 2),
    lifecycle_stage TEXT CHECK (length(lifecycle_stage) <= 64),
    owner TEXT CHECK (length(owner) <= 255),
    tags TEXT NOT NULL DEFAULT '[]',
    notes TEXT,
    subscribed_at TEXT,
    custom TEXT NOT NULL DEFAULT '{}',
    hash BLOB NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
);
INSERT INTO contacts VALUES('01M819J7T5YJEEWQ8M6HFMAXWC','Ada','Lovelace',NULL,'ada@example.com','+15550100001',NULL,NULL,'01M819J7T4RRSMFM7A7BQ5NPN0',NULL,'London',NULL,NULL,NULL,NULL,NULL,'[]',NULL,NULL,'{"tier":"gold"}',X'4336def40aea4df6b5ad8ba9256606aa',3,'2026-11-22T09:31:59.172568Z','2026-11-22T09:32:02.396276Z',NULL);
INSERT INTO contacts VALUES('01M819J7T5YJEEWQ8M6HFMAXWD','Alan','Turing',NULL,'alan@example.com','+15550100002',NULL,NULL,'01M819J7T4RRSMFM7A7BQ5NPN0',NULL,'Manchester',NULL,NULL,NULL,NULL,NULL,'[]',NULL,NULL,'{"tier":"silver"}',X'57e19cfd56c911f250cc37896ba4360b',1,'2026-11-22T09:31:59.172568Z','2026-11-22T09:31:59.172568Z',NULL);
INSERT INTO contacts VALUES('01M819J7T5YJEEWQ8M6HFMAXWE','Grace','Hopper',NULL,'grace.hopper@example.com','+15550100003',NULL,NULL,'01M819J7T4RRSMFM7A7BQ5NPN1',NULL,'Arlington',NULL,NULL,NULL,NULL,NULL,'[]',NULL,NULL,'{}',X'593f662b9b545775939e62fc2abda44b',1,'2026-11-22T09:31:59.172568Z','2026-11-22T09:31:59.172568Z',NULL);
CREATE TABLE deals (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(name) <= 255),
    amount TEXT,
    currency TEXT CHECK (length(currency) = 3),
    stage TEXT CHECK (length(stage) <= 64),
    close_date TEXT,
    company_id TEXT REFERENCES companies (id),
    owner TEXT CHECK (length(owner) <= 255),
    custom TEXT NOT NULL DEFAULT '{}',
    hash BLOB NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE TABLE deal_contacts (
    deal_id TEXT NOT NULL REFERENCES deals (id),
    contact_id TEXT NOT NULL REFERENCES contacts (id),
    PRIMARY KEY (deal_id, contact_id)
);
CREATE TABLE activities (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('call', 'email', 'meeting', 'note')),
    subject TEXT CHECK (length(subject) <= 512),
    body TEXT,
    occurred_at TEXT,
    contact_id TEXT REFERENCES contacts (id),
    company_id TEXT REFERENCES companies (id),
    deal_id TEXT REFERENCES deals (id),
    owner TEXT CHECK (length(owner) <= 255),
    custom TEXT NOT NULL DEFAULT '{}',
    hash BLOB NOT NULL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT
);
CREATE TABLE external_ids (
    entity TEXT NOT NULL,
    system TEXT NOT NULL,
    external_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (entity, system, external_id)
);
CREATE TABLE custom_fields (
    entity TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    required INTEGER NOT NULL DEFAULT 0,
    is_unique INTEGER NOT NULL DEFAULT 0,
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
    started_at TEXT NOT NULL,
    finished_at TEXT,
    rows_read INTEGER NOT NULL DEFAULT 0,
    inserted INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    unchanged INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    checkpoint INTEGER NOT NULL DEFAULT 0
, settings TEXT);
INSERT INTO batches VALUES('01M819J7T1YHFQBETHKDFKFT1P','contacts','contacts_v1.csv','contacts.toml','upsert','done','2026-11-22T09:31:59.169346Z','2026-11-22T09:31:59.174051Z',4,3,0,0,1,4,'{"mode":"upsert","key":["email"],"external_system":null,"mapping":"contacts.toml","clear_empty":false}');
INSERT INTO batches VALUES('01M819J8T5VK6K65AP12JY08DZ','contacts','contacts_v2.csv','contacts.toml','upsert','undone','2026-11-22T09:32:00.197274Z','2026-11-22T09:32:00.205754Z',4,1,2,1,0,4,'{"mode":"upsert","key":["email"],"external_system":null,"mapping":"contacts.toml","clear_empty":false}');
INSERT INTO batches VALUES('01M819JAYWX8YQP0C637WGM3VY','contacts','undo of 01M819J8T5VK6K65AP12JY08DZ',NULL,'undo','done','2026-11-22T09:32:02.396276Z','2026-11-22T09:32:02.396276Z',3,0,1,0,0,0,NULL);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id TEXT,
    entity TEXT NOT NULL,
    record_id TEXT NOT NULL,
    op TEXT NOT NULL,
    field TEXT,
    before TEXT,
    after TEXT,
    at TEXT NOT NULL
);
INSERT INTO audit VALUES(1,'01M819J7T1YHFQBETHKDFKFT1P','companies','01M819J7T4RRSMFM7A7BQ5NPN0','insert',NULL,NULL,NULL,'2026-11-22T09:31:59.172568Z');
INSERT INTO audit VALUES(2,'01M819J7T1YHFQBETHKDFKFT1P','companies','01M819J7T4RRSMFM7A7BQ5NPN1','insert',NULL,NULL,NULL,'2026-11-22T09:31:59.172568Z');
INSERT INTO audit VALUES(3,'01M819J7T1YHFQBETHKDFKFT1P','contacts','01M819J7T5YJEEWQ8M6HFMAXWC','insert',NULL,NULL,NULL,'2026-11-22T09:31:59.172568Z');
INSERT INTO audit VALUES(4,'01M819J7T1YHFQBETHKDFKFT1P','contacts','01M819J7T5YJEEWQ8M6HFMAXWD','insert',NULL,NULL,NULL,'2026-11-22T09:31:59.172568Z');
INSERT INTO audit VALUES(5,'01M819J7T1YHFQBETHKDFKFT1P','contacts','01M819J7T5YJEEWQ8M6HFMAXWE','insert',NULL,NULL,NULL,'2026-11-22T09:31:59.172568Z');
INSERT INTO audit VALUES(6,'01M819J8T5VK6K65AP12JY08DZ','companies','01M819J8TC64N90NNCHMQ0FS25','insert',NULL,NULL,NULL,'2026-11-22T09:32:00.203815Z');
INSERT INTO audit VALUES(7,'01M819J8T5VK6K65AP12JY08DZ','contacts','01M819J7T5YJEEWQ8M6HFMAXWC','update','address.city','London','Paris','2026-11-22T09:32:00.203815Z');
INSERT INTO audit VALUES(8,'01M819J8T5VK6K65AP12JY08DZ','contacts','01M819J8TDDMJS8J90E5G887R2','insert',NULL,NULL,NULL,'2026-11-22T09:32:00.203815Z');
INSERT INTO audit VALUES(9,'01M819J8T5VK6K65AP12JY08DZ','contacts','01M819J8TDDMJS8J90E5G887R2','update','phone','+15550100005','+15550100006','2026-11-22T09:32:00.203815Z');
INSERT INTO audit VALUES(10,'01M819JAYWX8YQP0C637WGM3VY','companies','01M819J8TC64N90NNCHMQ0FS25','delete',NULL,NULL,NULL,'2026-11-22T09:32:02.396276Z');
INSERT INTO audit VALUES(11,'01M819JAYWX8YQP0C637WGM3VY','contacts','01M819J7T5YJEEWQ8M6HFMAXWC','undo','address.city','Paris','London','2026-11-22T09:32:02.396276Z');
INSERT INTO audit VALUES(12,'01M819JAYWX8YQP0C637WGM3VY','contacts','01M819J8TDDMJS8J90E5G887R2','delete',NULL,NULL,NULL,'2026-11-22T09:32:02.396276Z');
CREATE TABLE batch_rejects (
    batch_id TEXT NOT NULL REFERENCES batches (id),
    source_row BIGINT NOT NULL,
    field TEXT,
    error TEXT NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (batch_id, source_row)
);
INSERT INTO batch_rejects VALUES('01M819J7T1YHFQBETHKDFKFT1P',5,'email','key field `email` is empty: records are matched by email, so this row cannot be told apart from others (choose another key with --key)','{"First Name":"Edsger","Last Name":"Dijkstra","Email":"","Phone":"555-010-0004","Company":"Acme","Website":"","City":"Eindhoven","Tier":"gold"}');
DELETE FROM sqlite_sequence;
INSERT INTO sqlite_sequence VALUES('audit',12);
CREATE INDEX companies_updated ON companies (updated_at);
CREATE INDEX deals_company ON deals (company_id);
CREATE INDEX deals_updated ON deals (updated_at);
CREATE INDEX activities_contact ON activities (contact_id);
CREATE INDEX activities_updated ON activities (updated_at);
CREATE INDEX external_ids_record ON external_ids (record_id);
CREATE INDEX audit_record ON audit (record_id);
CREATE INDEX audit_batch ON audit (batch_id);
CREATE INDEX companies_domain ON companies (domain);
CREATE INDEX companies_name_key ON companies (name_key);
CREATE INDEX deals_name ON deals (name);
CREATE INDEX activities_company ON activities (company_id);
CREATE INDEX activities_deal ON activities (deal_id);
CREATE INDEX deal_contacts_contact ON deal_contacts (contact_id);
CREATE INDEX contacts_email ON contacts (email);
CREATE INDEX contacts_phone ON contacts (phone);
CREATE INDEX contacts_company ON contacts (company_id);
CREATE INDEX contacts_updated ON contacts (updated_at);
COMMIT;
