//! Faults: stores that are not ready, imports killed or cut off midway,
//! two imports at once.

use std::io::Write as _;
use std::time::{Duration, Instant};

use super::db::Db;
use super::*;
use crate::on_both;

/// `n` contacts with distinct e-mails, and the mapping for them.
fn many_contacts(db: &Db, name: &str, n: usize) -> (String, String) {
    let f = db.path(name);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&f).expect("create"));
    writeln!(out, "First Name,Last Name,Email,Phone,Company,Website,City,Tier").expect("write");
    for i in 0..n {
        writeln!(
            out,
            "P{i},Q{i},{name}.{i}@example.com,555-010-{:04},Company {},,City {},t{}",
            i % 10_000,
            i % 50,
            i % 7,
            i % 3
        )
        .expect("write");
    }
    drop(out);
    (f.to_string_lossy().into_owned(), testdata("import/contacts.toml").to_string_lossy().into_owned())
}

/// Waits until the store's running batch has committed at least one chunk.
fn wait_for_checkpoint(db: &Db, child: &mut std::process::Child) -> u64 {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("the import finished ({status}) before it could be interrupted");
        }
        let done = db.count("SELECT coalesce(max(checkpoint), 0) FROM batches WHERE status = 'running'");
        if done > 0 {
            return done;
        }
        assert!(start.elapsed() < Duration::from_secs(120), "the import never committed a chunk");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn spawn_import(db: &Db, file: &str, mapping: &str) -> std::process::Child {
    spawn_import_with(db, file, mapping, &[])
}

fn spawn_import_with(db: &Db, file: &str, mapping: &str, extra: &[&str]) -> std::process::Child {
    std::process::Command::new(assert_cmd::cargo::cargo_bin("crmsync"))
        .current_dir(db.dir.path())
        .args(["--db", &db.url, "-q", "import", file, "--mapping", mapping, "--chunk-size", "20"])
        .args(extra)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawns")
}

fn assert_complete(db: &Db, n: u64, s: &serde_json::Value) {
    assert_eq!(s["rows_read"].as_u64(), Some(n), "{s}");
    assert_eq!(s["inserted"].as_u64(), Some(n), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM contacts"), n);
    assert_eq!(db.count("SELECT count(DISTINCT email) FROM contacts"), n, "no duplicates");
    assert_eq!(db.count("SELECT count(*) FROM batches WHERE status = 'done'"), 1);
    assert_eq!(db.count("SELECT count(*) FROM companies"), 50);
    // The finished batch counts the companies its interrupted run created too.
    assert_eq!(s["companies_created"].as_u64(), Some(50), "{s}");
}

on_both!(an_import_killed_midway_resumes_without_loss_or_duplicates, |db| {
    let n = 60_000; // enough rows to be caught midway on a busy machine (6 chunks)
    let (file, mapping) = many_contacts(db, "big.csv", n);
    let mut child = spawn_import(db, &file, &mapping);
    let at = wait_for_checkpoint(db, &mut child);
    child.kill().expect("kill -9");
    let _ = child.wait();
    let kept = db.count("SELECT count(*) FROM contacts");
    assert!(kept >= at && kept < n as u64, "killed midway: {kept} of {n} kept, checkpoint {at}");
    assert_eq!(db.count("SELECT count(*) FROM batches WHERE status = 'running'"), 1);
    // A bulk load into the empty table dropped its indexes; killed, it could
    // not build them again: the next command does.
    assert!(db.lookup_indexes() < 14, "a bulk load drops the contacts indexes");
    let s = db.json(&["import", &file, "--mapping", &mapping, "--resume"]);
    assert!(s["resumed_after"].as_u64().is_some_and(|r| r >= at), "{s}");
    assert_complete(db, n as u64, &s);
    assert_eq!(db.lookup_indexes(), 14);
    let out = db.run(&["import", &file, "--mapping", &mapping, "--resume"]);
    assert!(stderr_of(&out).contains("no interrupted import"), "{}", stderr_of(&out));
});

on_both!(an_import_killed_midway_keeps_its_plan_for_the_resume, |db| {
    // The plan the killed run was writing is read back by --resume, which
    // writes the file with those rows first (the probe that the plan can
    // be written must not take the killed run's for its own).
    let n = 60_000;
    let (file, mapping) = many_contacts(db, "big.csv", n);
    let plan = db.path("plan.csv");
    let p = plan.to_str().expect("p");
    let mut child = spawn_import_with(db, &file, &mapping, &["--plan", p]);
    let partial = db.path(".plan.csv.partial");
    let start = Instant::now();
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) < 64 * 1024 {
        assert!(child.try_wait().expect("wait").is_none(), "the import finished before it could be interrupted");
        assert!(start.elapsed() < Duration::from_secs(120), "the import never wrote its plan");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    let out = db.run(&["import", &file, "--mapping", &mapping, "--resume", "--plan", p]);
    let err = stderr_of(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("no plan of the stopped run"), "{err}");
    let text = std::fs::read_to_string(&plan).expect("plan");
    let rows: std::collections::BTreeSet<u64> =
        text.lines().skip(1).filter_map(|l| l.split(',').next()?.parse().ok()).collect();
    assert!(rows.contains(&2) && rows.contains(&(n as u64 + 1)), "the killed run's rows and the resumed run's");
    // Rows the killed run committed but had not planned yet are said.
    if (rows.len() as u64) < n as u64 {
        assert!(err.contains("the plan of the stopped run holds"), "{err}");
    }
    assert!(!partial.exists());
});

on_both!(a_write_during_a_bulk_load_is_seen_by_it, |db| {
    // The big file's last contact is imported by another command while the
    // big import is loading into the empty table without its indexes.
    let n = 60_000;
    let (file, mapping) = many_contacts(db, "big.csv", n);
    let one = db.path("one.csv");
    let row = format!("Late,Comer,big.csv.{}@example.com,,,,,", n - 1);
    std::fs::write(&one, format!("First Name,Last Name,Email,Phone,Company,Website,City,Tier\n{row}\n")).expect("w");
    let mut child = spawn_import(db, &file, &mapping);
    wait_for_checkpoint(db, &mut child);
    // The small import waits for the big one to end (on PostgreSQL always:
    // writers take turns; on SQLite mostly, by its busy handler), or gets
    // in between two of its transactions: either outcome is right.
    let s = db.json(&["import", one.to_str().expect("p"), "--mapping", &mapping]);
    if db.is_postgres() {
        assert_eq!(s["updated"].as_u64(), Some(1), "{s}");
    }
    let status = child.wait().expect("waits");
    assert!(status.success(), "the bulk load goes on after the other write");
    assert_eq!(db.count("SELECT count(*) FROM contacts"), n as u64);
    assert_eq!(db.count("SELECT count(DISTINCT email) FROM contacts"), n as u64, "no duplicate");
    let last = format!("SELECT first_name FROM contacts WHERE email = 'big.csv.{}@example.com'", n - 1);
    if s["inserted"].as_u64() == Some(1) {
        assert_eq!(db.scalar(&last), Some(format!("P{}", n - 1)), "the big file's row updated it");
    } else {
        // The small import waited until the big one had written that row,
        // and updated it.
        assert_eq!(s["updated"].as_u64(), Some(1), "{s}");
        assert_eq!(db.scalar(&last).as_deref(), Some("Late"));
    }
    assert_eq!(db.lookup_indexes(), 14);
});

#[test]
fn postgres_going_away_midway_is_a_clear_error_and_resumable() {
    let Some(db) = Db::postgres("gone") else { return };
    let (admin, app) = db.pg_schema().map(|(a, s)| (a.to_string(), s.to_string())).expect("pg");
    let n = 6000;
    let (file, mapping) = many_contacts(&db, "big.csv", n);
    let mut child = spawn_import(&db, &file, &mapping);
    wait_for_checkpoint(&db, &mut child);
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("connects");
    c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", &[&app])
        .expect("terminate");
    let out = child.wait_with_output().expect("waits");
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("--resume") && err.contains("batch"), "{err}");
    let kept = db.count("SELECT count(*) FROM contacts");
    let checkpoint = db.count("SELECT checkpoint FROM batches");
    assert_eq!(kept, checkpoint, "whole chunks only: nothing half-written");
    let s = db.json(&["import", &file, "--mapping", &mapping, "--resume"]);
    assert_complete(&db, n as u64, &s);
}

/// A row the server refuses (here by a constraint crmsync does not know)
/// fails the import, though its COPY was sent ahead of the next rows:
/// whether the refusal comes back at a later chunk, at a commit, as the
/// import ends, or in a dry run. The error names the constraint, whole
/// chunks before it stay, and `--resume` finishes once the cause is gone.
#[test]
fn postgres_refusing_a_row_fails_its_chunk_whole() {
    let Some(db) = Db::postgres("refused") else { return };
    let (admin, schema) = db.pg_schema().map(|(a, s)| (a.to_string(), s.to_string())).expect("pg");
    let n = 200;
    let (file, mapping) = many_contacts(&db, "refused.csv", n);
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("connects");
    // A dry run writes too (and rolls back): a refusal must fail it, even
    // in its last chunk, where no later lookup waits for the COPY.
    c.batch_execute(&format!("ALTER TABLE {schema}.contacts ADD CONSTRAINT no_q197 CHECK (last_name <> 'Q197')"))
        .expect("adds a constraint");
    let out = db.run(&["import", &file, "--mapping", &mapping, "--chunk-size", "20", "--dry-run"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("no_q197"), "{}", stderr_of(&out));
    c.batch_execute(&format!("ALTER TABLE {schema}.contacts DROP CONSTRAINT no_q197")).expect("drops it");
    c.batch_execute(&format!("ALTER TABLE {schema}.contacts ADD CONSTRAINT no_q77 CHECK (last_name <> 'Q77')"))
        .expect("adds a constraint");
    // One chunk for every row: the refusal comes back as the import ends.
    let out = db.run(&["import", &file, "--mapping", &mapping, "--chunk-size", "5000"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("no_q77"), "{}", stderr_of(&out));
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 0);
    c.batch_execute(&format!("DELETE FROM {schema}.batches")).expect("forgets that batch");
    let out = db.run(&["import", &file, "--mapping", &mapping, "--chunk-size", "20"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(err.contains("no_q77") && err.contains("--resume"), "{err}");
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 60, "the three chunks before row 77's");
    assert_eq!(db.count("SELECT checkpoint FROM batches"), 60);
    c.batch_execute(&format!("ALTER TABLE {schema}.contacts DROP CONSTRAINT no_q77")).expect("drops it");
    let s = db.json(&["import", &file, "--mapping", &mapping, "--resume"]);
    assert_complete(&db, n as u64, &s);
}

#[test]
fn two_imports_into_one_sqlite_file_are_serialised() {
    let db = Db::sqlite();
    let (a, mapping) = many_contacts(&db, "a.csv", 3000);
    let (b, _) = many_contacts(&db, "b.csv", 3000);
    let one = spawn_import(&db, &a, &mapping);
    let two = spawn_import(&db, &b, &mapping);
    for child in [one, two] {
        let out = child.wait_with_output().expect("waits");
        assert!(out.status.success(), "{}", stderr_of(&out));
    }
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 6000);
    assert_eq!(db.count("SELECT count(*) FROM companies"), 50, "companies are shared, not created twice");
    assert_eq!(db.count("SELECT count(*) FROM batches WHERE status = 'done'"), 2);
    assert_eq!(db.scalar("SELECT integrity_check FROM pragma_integrity_check").as_deref(), Some("ok"));
    // A bulk load runs in the rollback journal; the store is WAL after it.
    assert_eq!(db.scalar("SELECT journal_mode FROM pragma_journal_mode").as_deref(), Some("wal"));
}

on_both!(two_imports_of_one_file_at_once_take_turns, |db| {
    // The same rows twice at once: each contact and company once, one run
    // inserting what the other finds unchanged. On PostgreSQL both used to
    // insert the rows they looked up at the same moment.
    let (file, mapping) = many_contacts(db, "same.csv", 3000);
    let one = spawn_import(db, &file, &mapping);
    let two = spawn_import(db, &file, &mapping);
    for child in [one, two] {
        let out = child.wait_with_output().expect("waits");
        assert!(out.status.success(), "{}", stderr_of(&out));
    }
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 3000);
    assert_eq!(db.count("SELECT count(DISTINCT email) FROM contacts"), 3000);
    assert_eq!(db.count("SELECT count(*) FROM companies"), 50);
    assert_eq!(db.count("SELECT sum(inserted) FROM batches"), 3000);
    assert_eq!(db.count("SELECT sum(unchanged) FROM batches"), 3000);
});

#[test]
fn every_store_command_asks_for_init_first() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("crm.db").display());
    let f = testdata("import/contacts_v1.csv");
    let m = testdata("import/contacts.toml");
    for args in [
        vec!["import", f.to_str().expect("p"), "--mapping", m.to_str().expect("p")],
        vec!["export", "--entity", "contacts"],
        vec!["batches"],
        vec!["undo", "last"],
        vec!["history", "x"],
        vec!["report", "quality", "--entity", "contacts"],
    ] {
        let out = crmsync().arg("--db").arg(&url).args(&args).output().expect("runs");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr_of(&out).contains("run `crmsync init` first"), "{args:?}: {}", stderr_of(&out));
    }
    // A mistyped path leaves no empty store behind, and an empty file stays empty.
    assert!(!dir.path().join("crm.db").exists());
    std::fs::write(dir.path().join("crm.db"), "").expect("write");
    let out = crmsync().arg("--db").arg(&url).args(["batches"]).output().expect("runs");
    assert!(stderr_of(&out).contains("run `crmsync init` first"), "{}", stderr_of(&out));
    assert_eq!(std::fs::metadata(dir.path().join("crm.db")).expect("meta").len(), 0);
}

#[test]
fn a_mistyped_postgres_schema_asks_for_init_and_is_not_created() {
    let Some(admin) = super::db::pg_admin() else { return };
    let schema = format!("crmsync_t_typo_{}", std::process::id());
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("connects");
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).expect("clean");
    let sep = if admin.contains('?') { '&' } else { '?' };
    let url = format!("{admin}{sep}schema={schema}");
    for args in [vec!["batches"], vec!["export", "--entity", "contacts"]] {
        let out = crmsync().arg("--db").arg(&url).args(&args).output().expect("runs");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr_of(&out).contains("run `crmsync init` first"), "{args:?}: {}", stderr_of(&out));
    }
    let exists = |c: &mut postgres::Client| {
        c.query_one("SELECT count(*) FROM pg_namespace WHERE nspname = $1", &[&schema]).expect("q").get::<_, i64>(0)
    };
    assert_eq!(exists(&mut c), 0, "no empty schema left behind");
    let out = crmsync().arg("--db").arg(&url).arg("init").output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(exists(&mut c), 1);
    c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).expect("clean");
}

#[test]
fn a_store_from_a_newer_crmsync_is_refused() {
    let db = Db::sqlite();
    db.exec("UPDATE crmsync_meta SET value = '99' WHERE key = 'schema_version'");
    let out = db.run(&["export", "--entity", "contacts"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("upgrade crmsync"), "{}", stderr_of(&out));
}

#[test]
fn a_mapping_for_another_entity_is_refused() {
    let db = Db::sqlite();
    let f = testdata("import/deals.csv");
    let m = testdata("import/deals.toml");
    let out = db.run(&["import", f.to_str().expect("p"), "--entity", "contacts", "--mapping", m.to_str().expect("p")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr_of(&out).contains("maps records to deals, not contacts"), "{}", stderr_of(&out));
    assert_eq!(db.count("SELECT count(*) FROM batches"), 0);
}

on_both!(a_file_cut_short_stops_the_import_and_resumes_once_mended, |db| {
    // Rows past the first chunk, so that some are committed when it stops.
    let rows: Vec<String> = (0..30).map(|i| format!(r#"{{"email":"c{i}@x.com"}}"#)).collect();
    let whole = format!("[{}]", rows.join(","));
    let cut = &whole[..whole.len() - 10];
    let f = db.file("cut.json", cut);
    let out = db.run(&["import", &f, "--entity", "contacts", "--chunk-size", "10"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(err.contains("the file ends inside this record: it was cut short"), "{err}");
    assert!(err.contains("mend the file from where it stopped on"), "{err}");
    std::fs::write(&f, &whole).expect("mend");
    let s = db.json(&["import", &f, "--entity", "contacts", "--chunk-size", "10", "--resume"]);
    assert_eq!(s["inserted"].as_u64(), Some(30), "{s}");
    assert_eq!(db.count("SELECT count(*) FROM contacts"), 30);
});

on_both!(an_unwritable_plan_or_rejects_file_fails_before_any_batch, |db| {
    let f = db.file("people.csv", "email,first_name\na@x.com,Ann\n");
    let nowhere = db.path("no/such/folder/out.csv");
    for flag in ["--plan", "--rejects"] {
        let out = db.run(&["import", &f, "--entity", "contacts", flag, nowhere.to_str().expect("path")]);
        assert_eq!(out.status.code(), Some(1), "{flag}");
        assert!(stderr_of(&out).contains("cannot create"), "{flag}: {}", stderr_of(&out));
    }
    // No batch was begun: the next import is not told to resume one.
    assert_eq!(db.count("SELECT count(*) FROM batches"), 0);
    let out = db.run(&["import", &f, "--entity", "contacts"]);
    assert!(out.status.success() && !stderr_of(&out).contains("--resume"), "{}", stderr_of(&out));
});
