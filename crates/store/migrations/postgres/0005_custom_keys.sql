-- The names of the custom fields records of each entity have been given,
-- kept as they are written, so that an export's columns come from here
-- instead of reading every record's custom object first (2.7 s of a full
-- export of a million contacts). A name whose values are all gone again
-- (an undone batch) stays listed; export checks that some record has it.

CREATE TABLE custom_keys (
    entity TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (entity, name)
);

INSERT INTO custom_keys (entity, name) SELECT DISTINCT 'companies', jsonb_object_keys(custom) FROM companies;
INSERT INTO custom_keys (entity, name) SELECT DISTINCT 'contacts', jsonb_object_keys(custom) FROM contacts;
INSERT INTO custom_keys (entity, name) SELECT DISTINCT 'deals', jsonb_object_keys(custom) FROM deals;
INSERT INTO custom_keys (entity, name) SELECT DISTINCT 'activities', jsonb_object_keys(custom) FROM activities;
