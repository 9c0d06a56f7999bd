//! `crmsync init`.

use super::*;

#[test]
fn init_creates_a_sqlite_store_and_is_idempotent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = crmsync().current_dir(dir.path()).args(["--json", "init"]).output().expect("runs");
    assert!(out.status.success(), "{}", stderr_of(&out));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!((s["backend"].as_str(), s["store"].as_str()), (Some("sqlite"), Some("crm.db")));
    assert_eq!((s["from_version"].as_u64(), s["schema_version"].as_u64()), (Some(0), Some(3)));
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
    conn.execute("UPDATE crmsync_meta SET value = '7' WHERE key = 'schema_version'", []).expect("bump");
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
