//! `crmsync init`.

use super::db::Db;
use super::*;
use crate::on_both;

#[test]
fn init_creates_a_sqlite_store_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = crmsync().current_dir(dir.path()).args(["--json", "init"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!((s["backend"].as_str(), s["store"].as_str()), (Some("sqlite"), Some("crm.db")));
    assert_eq!((s["from_version"].as_u64(), s["schema_version"].as_u64()), (Some(0), Some(14)));
    assert!(dir.path().join("crm.db").exists(), "the default store is ./crm.db");
    // WAL, and the 16 KiB pages bulk loads are measured with.
    let conn = rusqlite::Connection::open(dir.path().join("crm.db")).expect("raw");
    let pragma = |name: &str| conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, rusqlite::types::Value>(0));
    assert_eq!(pragma("journal_mode").ok(), Some(rusqlite::types::Value::Text("wal".into())));
    assert_eq!(pragma("page_size").ok(), Some(rusqlite::types::Value::Integer(16_384)));
    drop(conn);
    let out = crmsync().current_dir(dir.path()).args(["init"]).output().expect("runs");
    assert!(out.status.success());
    assert!(stderr_of(&out).contains("up to date"), "{}", stderr_of(&out));
}

#[test]
fn init_honours_db_flag_and_env_and_refuses_a_newer_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("other.db");
    crmsync().env("CRMSYNC_DB", format!("sqlite://{}", db.display())).args(["-q", "init"]).assert().success();
    assert!(db.exists());
    let conn = rusqlite::Connection::open(&db).expect("raw");
    conn.execute("UPDATE crmsync_meta SET value = '99' WHERE key = 'schema_version'", []).expect("bump");
    let out = crmsync().args(["init", "--db", db.to_str().expect("p")]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("newer than this crmsync knows"), "{}", stderr_of(&out));
}

#[test]
fn init_reports_an_unusable_store_clearly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = crmsync().args(["init", "--db", "mysql://x"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("sqlite://"), "{}", stderr_of(&out));
    let not_a_db = dir.path().join("notes.db");
    std::fs::write(&not_a_db, "this is not a database, just text that is long enough to matter").expect("write");
    let out = crmsync().args(["init", "--db", not_a_db.to_str().expect("p")]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("notes.db") && !stderr_of(&out).contains("panicked"), "{}", stderr_of(&out));
}

/// A store version 3 made (one audit row per inserted record) migrates to
/// records that carry their creating batch: history still starts with the
/// creation, for records that exist and for those an undo removed, and undo
/// still finds what a batch inserted.
#[test]
fn a_version_3_store_migrates_with_its_history_and_undo_intact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("crm.db");
    let dump = std::fs::read_to_string(testdata("stores/v3.sql")).expect("dump");
    rusqlite::Connection::open(&db).expect("raw").execute_batch(&dump).expect("loads");
    let run = |args: &[&str]| {
        let out = crmsync().arg("--db").arg(&db).args(args).output().expect("runs");
        assert!(out.status.success(), "{args:?}: {}", stderr_of(&out));
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let err = crmsync().arg("--db").arg(&db).arg("batches").output().expect("runs");
    assert!(!err.status.success() && stderr_of(&err).contains("crmsync init"), "{}", stderr_of(&err));
    let s: serde_json::Value = serde_json::from_str(&run(&["--json", "init"])).expect("json");
    assert_eq!((s["from_version"].as_u64(), s["schema_version"].as_u64()), (Some(3), Some(14)));

    let conn = rusqlite::Connection::open(&db).expect("raw");
    let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).expect(sql);
    // A record's ids in other systems are found by record, entity and system at once.
    let plan: String = conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT external_id FROM external_ids WHERE entity = 'contacts' AND system = 'erp' \
             AND record_id IN ('a', 'b')",
            [],
            |r| r.get(3),
        )
        .expect("plan");
    assert!(plan.contains("external_ids_record (record_id=? AND entity=? AND system=?)"), "{plan}");
    // Existing records carry their batch; only the removed ones keep an audit row.
    assert_eq!(count("SELECT count(*) FROM contacts WHERE created_batch = '01M819J7T1YHFQBETHKDFKFT1P'"), 3);
    assert_eq!(count("SELECT count(*) FROM companies WHERE created_batch = '01M819J7T1YHFQBETHKDFKFT1P'"), 2);
    assert_eq!(count("SELECT count(*) FROM audit WHERE op = 'insert'"), 2);

    let ada = run(&["history", "ada@example.com"]);
    let lines: Vec<&str> = ada.lines().collect();
    assert_eq!(lines.len(), 4, "{ada}");
    assert!(lines[1].contains("created  batch 01M819J7T1YHFQBETHKDFKFT1P (contacts_v1.csv)"), "{ada}");
    assert!(lines[1].starts_with("  2026-11-22 09:31:59"), "{ada}");
    assert!(lines[2].contains("address.city: \"London\" → \"Paris\""), "{ada}");
    assert!(lines[3].contains("undo address.city: \"Paris\" → \"London\""), "{ada}");
    // Katherine was inserted and updated by the undone batch, then removed.
    let gone = run(&["history", "01M819J8TDDMJS8J90E5G887R2"]);
    let lines: Vec<&str> = gone.lines().collect();
    assert_eq!(lines.len(), 4, "{gone}");
    assert!(lines[1].contains("created  batch 01M819J8T5VK6K65AP12JY08DZ"), "{gone}");
    assert!(lines[2].contains("phone: \"+15550100005\" → \"+15550100006\""), "{gone}");
    assert!(lines[3].contains("removed"), "{gone}");

    // Custom field names are listed from the records.
    let export = run(&["export", "--entity", "contacts"]);
    assert!(export.lines().next().is_some_and(|h| h.ends_with(",custom.tier")), "{export}");

    // The first batch's records are found through the migrated column.
    let undone: serde_json::Value =
        serde_json::from_str(&run(&["--json", "undo", "01M819J7T1YHFQBETHKDFKFT1P", "--force"])).expect("json");
    assert_eq!(undone["removed"].as_u64(), Some(5), "{undone}");
    assert_eq!(count("SELECT count(*) FROM contacts") + count("SELECT count(*) FROM companies"), 0);
    let ada = run(&["history", "01M819J7T5YJEEWQ8M6HFMAXWC"]);
    assert!(ada.lines().nth(1).is_some_and(|l| l.contains("created  batch 01M819J7T1YHFQBETHKDFKFT1P")), "{ada}");
    assert!(ada.lines().last().is_some_and(|l| l.contains("removed")), "{ada}");
}

on_both!(declarations_the_stored_records_do_not_fit_are_refused, |db| {
    let f = db.file(
        "c.ndjson",
        concat!(
            r#"{"email":"a@x.com","custom":{"vip":true,"tier":"gold"}}"#,
            "\n",
            r#"{"email":"b@x.com","custom":{"vip":true}}"#,
            "\n",
        ),
    );
    db.json(&["import", &f, "--entity", "contacts"]);
    for (schema, problem) in [
        (
            "[contacts.vip]\ntype = \"integer\"\n[contacts.tier]\ntype = \"string\"\n",
            "custom.vip is not an integer in contact",
        ),
        ("[contacts.vip]\ntype = \"boolean\"\n", "custom.tier is not declared in contact"),
        (
            "[contacts.vip]\ntype = \"boolean\"\n[contacts.tier]\ntype = \"string\"\nrequired = true\n",
            "custom.tier is required but missing in contact",
        ),
        (
            "[contacts.vip]\ntype = \"boolean\"\nunique = true\n[contacts.tier]\ntype = \"string\"\n",
            "custom.vip is unique, but values are held by several records in contact",
        ),
    ] {
        let s = db.file("schema.toml", schema);
        let out = db.run(&["init", "--custom", &s]);
        assert_eq!(out.status.code(), Some(1), "{schema}");
        let err = stderr_of(&out);
        assert!(err.contains(problem) && err.contains("@x.com\")"), "{schema}: {err}");
        assert_eq!(db.count("SELECT count(*) FROM custom_fields"), 0, "nothing declared");
    }
    let s = db.file("schema.toml", "[contacts.vip]\ntype = \"boolean\"\n[contacts.tier]\ntype = \"string\"\n");
    db.ok(&["init", "--custom", &s]);
    assert_eq!(db.count("SELECT count(*) FROM custom_fields"), 2);
    // Many records, each with a value of its own, make one problem, not many.
    let other = if db.is_postgres() { Db::postgres("misfits_many").expect("server") } else { Db::sqlite() };
    let rows: String = (0..10).map(|i| format!("n{i}@x.com,x{i}\n")).collect();
    let f = other.file("many.csv", &format!("email,custom.n\n{rows}"));
    other.json(&["import", &f, "--entity", "contacts"]);
    let s = other.file("schema.toml", "[contacts.n]\ntype = \"integer\"\n");
    let err = stderr_of(&other.run(&["init", "--custom", &s]));
    assert_eq!(err.matches("is not an integer").count(), 1, "{err}");
    assert!(err.contains("and 7 more"), "{err}");
    assert!(err.contains("(email \"n0@x.com\"): \"x0\"") && err.contains("(email \"n1@x.com\"): \"x1\""), "{err}");
});

on_both!(declaring_again_rewrites_values_spelt_otherwise_as_one_batch, |db| {
    let first = db.file(
        "s1.toml",
        "[contacts.tier]\ntype = \"enum\"\nvalues = [\"Gold\", \"Silver\"]\n[contacts.since]\ntype = \"date\"\n",
    );
    db.ok(&["init", "--custom", &first]);
    let f = db.file("m.csv", "email,custom.tier,custom.since\na@x.com,gold,2024-01-02\nb@x.com,Silver,\n");
    let imported = db.json(&["import", &f, "--entity", "contacts"]);
    // The enum in lowercase, the date a date-time: two records hold values
    // the new declarations spell otherwise.
    let second = db.file(
        "s2.toml",
        "[contacts.tier]\ntype = \"enum\"\nvalues = [\"gold\", \"silver\"]\n[contacts.since]\ntype = \"datetime\"\n",
    );
    let d = db.json(&["init", "--custom", &second]);
    assert_eq!((d["custom_fields"].as_u64(), d["rewritten"].as_u64()), (Some(2), Some(2)), "{d}");
    let batch = d["rewrite_batch"].as_str().expect("a batch").to_string();
    assert_eq!(
        db.ok(&["export", "--entity", "contacts", "--fields", "email,custom.tier,custom.since"]),
        // (A declared date-time is written as the standard ones are.)
        "email,custom.tier,custom.since\na@x.com,gold,2024-01-02T00:00:00Z\nb@x.com,silver,\n"
    );
    // Audited in its batch; the file imports again unchanged.
    let history = db.ok(&["history", "a@x.com"]);
    assert!(history.contains("custom.tier: \"Gold\" → \"gold\"") && history.contains(&batch), "{history}");
    // Not undone like an import, and not what `undo last` means: that is
    // the import, whose records were changed since.
    let out = db.run(&["undo", &batch]);
    assert!(stderr_of(&out).contains("declare the fields as they were"), "{}", stderr_of(&out));
    let out = db.run(&["undo", "last"]);
    let err = stderr_of(&out);
    assert!(err.contains(imported["batch"].as_str().expect("id")) && err.contains("changed after the batch"), "{err}");
    assert!(err.contains("The changes came from an undo or a declaration, which cannot be undone"), "{err}");
    let again = db.json(&["import", &f, "--entity", "contacts"]);
    assert_eq!(again["unchanged"].as_u64(), Some(2), "{again}");
    // Forced, the import's undo gives values back in today's spelling.
    let later = db.file("m2.csv", "email,custom.tier\na@x.com,silver\n");
    let changed = db.json(&["import", &later, "--entity", "contacts"]);
    db.ok(&["init", "--custom", &first]);
    let u = db.json(&["undo", changed["batch"].as_str().expect("id"), "--force"]);
    assert_eq!(u["restored"].as_u64(), Some(1), "{u}");
    assert_eq!(
        db.ok(&["export", "--entity", "contacts", "--fields", "email,custom.tier", "--where", "email = 'a@x.com'"]),
        "email,custom.tier\na@x.com,Gold\n",
        "gold, as stored before the batch, is Gold now"
    );
    db.ok(&["init", "--custom", &second]);
    // Declared the same again: nothing to rewrite, no batch.
    let d = db.json(&["init", "--custom", &second]);
    assert_eq!((d["rewritten"].as_u64(), &d["rewrite_batch"]), (Some(0), &serde_json::Value::Null), "{d}");
});

on_both!(several_inits_of_a_new_store_at_once_take_turns, |db| {
    // A new store next to the test's own: a file, or a schema.
    let (url, schema) = match db.pg_schema() {
        Some((admin, schema)) => {
            let race = format!("{schema}_race");
            let sep = if admin.contains('?') { '&' } else { '?' };
            (format!("{admin}{sep}schema={race}"), Some((admin.to_string(), race)))
        }
        None => (format!("sqlite://{}", db.path("race.db").display()), None),
    };
    let bin = assert_cmd::cargo::cargo_bin("crmsync");
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(&bin)
                .args(["--db", &url, "init"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("starts")
        })
        .collect();
    let outcomes: Vec<_> = children.into_iter().map(|c| c.wait_with_output().expect("ends")).collect();
    let drop_race = || {
        if let Some((admin, race)) = &schema {
            let mut c = postgres::Client::connect(admin, postgres::NoTls).expect("connects");
            c.batch_execute(&format!("DROP SCHEMA IF EXISTS {race} CASCADE")).expect("drops");
        }
    };
    for out in &outcomes {
        if !out.status.success() {
            drop_race();
        }
        assert!(out.status.success(), "{}", stderr_of(out));
    }
    let list = crmsync().args(["--db", &url, "--json", "batches"]).output().expect("runs");
    drop_race();
    assert!(list.status.success(), "the store is whole: {}", stderr_of(&list));
});

#[test]
fn init_over_a_foreign_table_says_which_without_the_migration_s_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("other.db");
    rusqlite::Connection::open(&path).expect("opens").execute_batch("CREATE TABLE contacts (x)").expect("table");
    let out = crmsync().args(["--db", path.to_str().expect("path"), "init"]).output().expect("runs");
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("migration 1") && err.contains("table contacts already exists"), "{err}");
    assert!(err.lines().count() <= 2, "one message, not the migration's SQL: {err}");
}

on_both!(a_version_11_store_keys_dotted_legal_forms_again, |db| {
    // A store an older crmsync wrote keyed `Acme B.V.` as `acme b v`, so
    // that `Acme BV` did not find it: the migration keys it `acme`.
    let f = db.file("c.csv", "name\nAcme B.V.\nGlobex\nNowak Sp. z o.o.\n");
    db.json(&["import", &f, "--entity", "companies", "--key", "name"]);
    db.exec("UPDATE companies SET name_key = 'acme b v' WHERE name = 'Acme B.V.'");
    db.exec("UPDATE companies SET name_key = 'nowak sp z o o' WHERE name = 'Nowak Sp. z o.o.'");
    db.exec("ALTER TABLE companies DROP COLUMN name_form");
    db.exec("ALTER TABLE companies DROP COLUMN learned_form");
    db.exec("DROP TABLE batch_forms");
    db.exec("DROP TABLE batch_links");
    db.exec("UPDATE crmsync_meta SET value = '11' WHERE key = 'schema_version'");
    let s = db.json(&["init"]);
    assert_eq!((s["from_version"].as_u64(), s["schema_version"].as_u64()), (Some(11), Some(14)), "{s}");
    assert_eq!(db.scalar("SELECT name_key FROM companies WHERE name = 'Acme B.V.'").as_deref(), Some("acme"));
    // Each company's legal form is stored beside its key (version 13).
    assert_eq!(db.scalar("SELECT name_form FROM companies WHERE name = 'Acme B.V.'").as_deref(), Some("bv"));
    assert_eq!(db.scalar("SELECT name_form FROM companies WHERE name = 'Globex'"), None);
    // A form of several words is read as one since version 13.
    assert_eq!(db.scalar("SELECT name_key FROM companies WHERE name = 'Nowak Sp. z o.o.'").as_deref(), Some("nowak"));
    assert_eq!(db.scalar("SELECT name_form FROM companies WHERE name = 'Nowak Sp. z o.o.'").as_deref(), Some("spzoo"));
    let k = db.file("k.csv", "email,company.name\nann@acme.nl,Acme BV\njan@nowak.pl,NOWAK SP. Z O. O.\n");
    let s = db.json(&["import", &k, "--entity", "contacts"]);
    assert_eq!((s["inserted"].as_u64(), s["companies_created"].as_u64()), (Some(2), Some(0)), "{s}");
});
