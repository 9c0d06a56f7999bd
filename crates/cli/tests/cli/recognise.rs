//! Rows a store holds as they are: recognised by the hash of the source row
//! each record was imported from, on SQLite and PostgreSQL. Whatever the
//! shortcut, an import must come to what comparing every field would.

use super::db::Db;
use super::*;
use crate::on_both;

fn counts(s: &serde_json::Value) -> (u64, u64, u64, u64) {
    let n = |k: &str| s[k].as_u64().unwrap_or_else(|| panic!("{k} in {s}"));
    (n("inserted"), n("updated"), n("unchanged"), n("rejected"))
}

fn hashed(db: &Db) -> u64 {
    db.count("SELECT count(*) FROM contacts WHERE source_hash IS NOT NULL")
}

/// Drops the trigger that clears a changed record's source hash.
fn drop_source_trigger(db: &Db, table: &str) {
    let on = if db.is_postgres() { format!(" ON {table}") } else { String::new() };
    db.exec(&format!("DROP TRIGGER {table}_source_hash{on}"));
}

fn city_of(db: &Db, email: &str) -> Option<String> {
    db.scalar(&format!("SELECT address_city FROM contacts WHERE email = '{email}'"))
}

on_both!(records_remember_their_source_rows_and_outside_edits_are_not_trusted, |db| {
    assert_eq!(counts(&db.import("contacts_v1.csv", "contacts.toml", &[])), (3, 0, 0, 1));
    assert_eq!(hashed(db), 3);
    assert_eq!(counts(&db.import("contacts_v1.csv", "contacts.toml", &[])), (0, 0, 3, 1));
    // A write from outside crmsync clears the record's source hash: the row
    // is compared field by field, and the edit is undone by the import.
    db.exec("UPDATE contacts SET first_name = 'Augusta' WHERE email = 'ada@example.com'");
    assert_eq!(hashed(db), 2);
    assert_eq!(counts(&db.import("contacts_v1.csv", "contacts.toml", &[])), (0, 1, 2, 1));
    assert_eq!(db.scalar("SELECT first_name FROM contacts WHERE email = 'ada@example.com'").as_deref(), Some("Ada"));
    assert_eq!(hashed(db), 3);
    // Without that guard the hash alone decides: recognised rows are not
    // compared at all (this is what makes a re-import fast).
    drop_source_trigger(db, "contacts");
    db.exec("UPDATE contacts SET first_name = 'Augusta' WHERE email = 'ada@example.com'");
    assert_eq!(counts(&db.import("contacts_v1.csv", "contacts.toml", &[])), (0, 0, 3, 1));
    assert_eq!(
        db.scalar("SELECT first_name FROM contacts WHERE email = 'ada@example.com'").as_deref(),
        Some("Augusta")
    );
});

on_both!(a_recognised_row_goes_to_the_record_that_carries_its_hash_and_key, |db| {
    assert_eq!(counts(&db.import("contacts_v1.csv", "contacts.toml", &[])), (3, 0, 0, 1));
    drop_source_trigger(db, "contacts");
    // Ada's record keeps her row's hash but not her row's e-mail: the row
    // is not that record's, and nothing else has the e-mail.
    db.exec("UPDATE contacts SET email = 'ada.l@example.com' WHERE email = 'ada@example.com'");
    // Two records carry Grace's row's hash: the row is matched by key.
    db.exec(
        "INSERT INTO contacts (id, email, hash, source_hash, created_at, updated_at) \
         SELECT '01ARZ3NDEKTSV4RRFFQ69G5FAV', 'grace.h@example.com', hash, source_hash, created_at, updated_at \
         FROM contacts WHERE first_name = 'Grace'",
    );
    assert_eq!(counts(&db.import("contacts_v1.csv", "contacts.toml", &[])), (1, 0, 2, 1));
    assert_eq!(db.count("SELECT count(*) FROM contacts WHERE email = 'ada@example.com'"), 1);
    assert_eq!(db.count("SELECT count(*) FROM contacts WHERE email = 'ada.l@example.com'"), 1);
    // Once written, the new record is the one that carries the row's hash.
    assert_eq!(counts(&db.import("contacts_v1.csv", "contacts.toml", &[])), (0, 0, 3, 1));
    // A record given Alan's e-mail since (by an import keyed otherwise, say)
    // makes his row ambiguous, recognised or not, as matching by key says.
    db.exec(
        "INSERT INTO contacts (id, email, hash, created_at, updated_at) \
         SELECT '01ARZ3NDEKTSV4RRFFQ69G5FAW', email, hash, created_at, updated_at \
         FROM contacts WHERE first_name = 'Alan'",
    );
    let rejects = db.path("rejects.csv");
    let s = db.import("contacts_v1.csv", "contacts.toml", &["--rejects", rejects.to_str().expect("p")]);
    assert_eq!(counts(&s), (0, 0, 2, 2));
    let rejected = std::fs::read_to_string(&rejects).expect("rejects");
    assert!(rejected.contains("2 records of contacts have email \"\"alan@example.com\"\""), "{rejected}");
});

on_both!(a_recognised_row_still_follows_its_company, |db| {
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    // The company Ada's row names (by website and name) is renamed and
    // loses its domain: the same row now names a company that does not exist.
    db.exec(
        "UPDATE companies SET name = 'Babbage Works', name_key = 'babbage works', domain = NULL \
         WHERE id = (SELECT company_id FROM contacts WHERE email = 'ada@example.com')",
    );
    let s = db.import("contacts_v1.csv", "contacts.toml", &[]);
    assert_eq!((s["updated"].as_u64(), s["companies_created"].as_u64()), (Some(2), Some(1)), "{s}");
    assert_eq!(
        db.scalar(
            "SELECT co.name FROM contacts c JOIN companies co ON co.id = c.company_id WHERE c.email = 'ada@example.com'"
        )
        .as_deref(),
        Some("Acme Inc.")
    );
});

on_both!(a_repeated_key_applies_in_file_order_when_a_row_is_recognised, |db| {
    let header = "First Name,Last Name,Email,Phone,Company,Website,City,Tier\n";
    let london = "Ada,Lovelace,ada@example.com,,,,London,\n";
    let paris = "Ada,Lovelace,ada@example.com,,,,Paris,\n";
    let m = testdata("import/contacts.toml");
    let import = |name: &str, body: String| {
        let f = db.path(name);
        std::fs::write(&f, body).expect("write");
        db.json(&["import", f.to_str().expect("path"), "--mapping", m.to_str().expect("path")])
    };
    assert_eq!(counts(&import("first.csv", format!("{header}{london}"))), (1, 0, 0, 0));
    // The second row is the one the record was made from; the first row
    // changed the record before it, so it is written back.
    let s = import("both.csv", format!("{header}{paris}{london}"));
    assert_eq!(counts(&s), (0, 2, 0, 0), "{s}");
    assert_eq!(city_of(db, "ada@example.com").as_deref(), Some("London"));
    let s = import("again.csv", format!("{header}{london}{london}"));
    assert_eq!(counts(&s), (0, 0, 2, 0), "{s}");
});

on_both!(records_without_a_source_hash_are_compared_and_then_recognised, |db| {
    // As a store from before source hashes, or after an undo.
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    db.exec("UPDATE contacts SET source_hash = NULL");
    assert_eq!(hashed(db), 0);
    let s = db.json(&[
        "import",
        testdata("import/contacts_v1.csv").to_str().expect("p"),
        "--dry-run",
        "--mapping",
        testdata("import/contacts.toml").to_str().expect("p"),
    ]);
    assert_eq!(counts(&s), (0, 0, 3, 1));
    assert_eq!(hashed(db), 0, "a dry run writes nothing");
    assert_eq!(counts(&db.import("contacts_v1.csv", "contacts.toml", &[])), (0, 0, 3, 1));
    assert_eq!(hashed(db), 3, "unchanged records take the hash of the row they equal");

    // An undo restores values, and the restored record has no source row.
    let s = db.import("contacts_v2.csv", "contacts.toml", &[]);
    assert_eq!(city_of(db, "ada@example.com").as_deref(), Some("Paris"));
    db.ok(&["undo", s["batch"].as_str().expect("batch")]);
    assert_eq!(city_of(db, "ada@example.com").as_deref(), Some("London"));
    assert_eq!(db.scalar("SELECT source_hash FROM contacts WHERE email = 'ada@example.com'"), None);
    assert_eq!(counts(&db.import("contacts_v1.csv", "contacts.toml", &[])), (0, 0, 3, 1));
});

on_both!(another_mapping_of_the_same_rows_is_not_recognised, |db| {
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    let mapping = std::fs::read_to_string(testdata("import/contacts.toml")).expect("mapping");
    let upper =
        mapping.replace(r#""address.city" = "City""#, r#""address.city" = { from = "City", transform = ["upper"] }"#);
    assert_ne!(upper, mapping);
    let m = db.path("upper.toml");
    std::fs::write(&m, upper).expect("write");
    let rows = testdata("import/contacts_v1.csv");
    let run = || db.json(&["import", rows.to_str().expect("p"), "--mapping", m.to_str().expect("p")]);
    assert_eq!(counts(&run()), (0, 3, 0, 1));
    assert_eq!(city_of(db, "ada@example.com").as_deref(), Some("LONDON"));
    assert_eq!(counts(&run()), (0, 0, 3, 1));
    // And the first mapping's rows are its own again.
    assert_eq!(counts(&db.import("contacts_v1.csv", "contacts.toml", &[])), (0, 3, 0, 1));
    assert_eq!(city_of(db, "ada@example.com").as_deref(), Some("London"));
});

/// Writes `name` under the test's folder and imports it with `mapping` (a
/// file written there too).
fn import_text(db: &Db, name: &str, body: &str, mapping: &str) -> serde_json::Value {
    let (f, m) = (db.path(name), db.path("mapping.toml"));
    std::fs::write(&f, body).expect("write rows");
    std::fs::write(&m, mapping).expect("write mapping");
    db.json(&["import", f.to_str().expect("path"), "--mapping", m.to_str().expect("path")])
}

on_both!(a_key_of_two_fields_finds_each_record_once, |db| {
    let mapping = "entity = \"contacts\"\n[key]\nfields = [\"first_name\", \"last_name\"]\n\
                   [fields]\nfirst_name = \"First\"\nlast_name = \"Last\"\ntitle = \"Title\"\n";
    let header = "First,Last,Title\n";
    assert_eq!(
        counts(&import_text(db, "a.csv", &format!("{header}John,Smith,CEO\nJohn,Doe,CTO\n"), mapping)),
        (2, 0, 0, 0)
    );
    // One row changed, one recognised: both look up "John".
    let s = import_text(db, "b.csv", &format!("{header}John,Smith,CFO\nJohn,Doe,CTO\n"), mapping);
    assert_eq!(counts(&s), (0, 1, 1, 0), "{s}");
    let s = import_text(db, "c.csv", &format!("{header}John,Smith,CFO\nJohn,Doe,CTO\nJohn,Brown,COO\n"), mapping);
    assert_eq!(counts(&s), (1, 0, 2, 0), "{s}");
    // More rows than one lookup statement takes, all with the same first name.
    let many: String = (0..600).map(|i| format!("Jane,S{i},\n")).collect();
    assert_eq!(counts(&import_text(db, "d.csv", &format!("{header}{many}"), mapping)), (600, 0, 0, 0));
    let changed: String = (0..600).map(|i| format!("Jane,S{i},{}\n", if i == 0 { "VP" } else { "" })).collect();
    let s = import_text(db, "e.csv", &format!("{header}{changed}"), mapping);
    assert_eq!(counts(&s), (0, 1, 599, 0), "{s}");
});

on_both!(a_key_on_a_numeric_custom_field_matches, |db| {
    let mapping = "entity = \"contacts\"\n[key]\nfields = [\"custom.no\"]\n\
                   [fields]\nfirst_name = \"First\"\n\"custom.no\" = { from = \"No\", type = \"integer\" }\n";
    let rows = "First,No\nAda,7\nAlan,12\n";
    assert_eq!(counts(&import_text(db, "a.csv", rows, mapping)), (2, 0, 0, 0));
    // Compared in full (no source hash), then recognised.
    db.exec("UPDATE contacts SET source_hash = NULL");
    assert_eq!(counts(&import_text(db, "a.csv", rows, mapping)), (0, 0, 2, 0));
    assert_eq!(counts(&import_text(db, "a.csv", rows, mapping)), (0, 0, 2, 0));
    let s = import_text(db, "b.csv", "First,No\nAugusta,7\n", mapping);
    assert_eq!(counts(&s), (0, 1, 0, 0), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 2);
});

on_both!(rows_matched_by_external_id_are_recognised_with_their_ids, |db| {
    db.import("contacts_v1.csv", "contacts.toml", &[]);
    assert_eq!(counts(&db.import("deals.csv", "deals.toml", &[])), (2, 0, 0, 1));
    assert_eq!(db.count("SELECT count(*) FROM deals WHERE source_hash IS NOT NULL"), 2);
    assert_eq!(counts(&db.import("deals.csv", "deals.toml", &[])), (0, 0, 2, 1));
    // The same row, for a record that lost its ERP id: found by name, and
    // the id is attached again rather than the row called unchanged.
    db.exec("DELETE FROM external_ids WHERE external_id = 'D-2'");
    let plan = db.path("plan.ndjson");
    let s = db.import("deals.csv", "deals.toml", &["--plan", plan.to_str().expect("p")]);
    assert_eq!(counts(&s), (0, 1, 1, 1), "{s}");
    let text = std::fs::read_to_string(&plan).expect("plan");
    assert!(text.contains("external_id.erp"), "{text}");
    assert_eq!(db.count("SELECT count(*) FROM external_ids WHERE system = 'erp'"), 2);
    assert_eq!(counts(&db.import("deals.csv", "deals.toml", &[])), (0, 0, 2, 1));
    // Recognised, not compared: an edit the trigger is not there to see
    // goes unnoticed.
    drop_source_trigger(db, "deals");
    db.exec("UPDATE deals SET stage = 'lost' WHERE name = 'Navy pilot'");
    assert_eq!(counts(&db.import("deals.csv", "deals.toml", &[])), (0, 0, 2, 1));
});

on_both!(a_unique_key_is_still_checked_across_the_file_when_rows_are_recognised, |db| {
    let mapping = "entity = \"contacts\"\n[key]\nfields = [\"email\"]\n[fields]\nfirst_name = \"First\"\n\
                   email = { from = \"Email\", type = \"email\", unique = true }\n";
    assert_eq!(counts(&import_text(db, "a.csv", "First,Email\nAda,ada@example.com\n", mapping)), (1, 0, 0, 0));
    assert_eq!(hashed(db), 1, "a unique key does not keep rows from being recognised");
    let s = import_text(db, "b.csv", "First,Email\nAda,ada@example.com\nAugusta,ADA@example.com\n", mapping);
    assert_eq!(counts(&s), (0, 0, 1, 1), "{s}");
    // The recognised row comes second: it is the one that repeats the e-mail.
    let s = import_text(db, "c.csv", "First,Email\nAugusta,ada@example.com\nAda,ada@example.com\n", mapping);
    assert_eq!(counts(&s), (0, 1, 0, 1), "{s}");
    assert_eq!(db.scalar("SELECT first_name FROM contacts").as_deref(), Some("Augusta"));
});
