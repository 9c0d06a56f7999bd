//! A fresh store per test, on SQLite and on PostgreSQL (`CRMSYNC_TEST_PG`,
//! default `postgres://postgres@127.0.0.1:5432/test`, one schema per test).
//! Outside CI a missing server skips with a printed reason; under `CI=true`
//! it fails the run.

use std::path::PathBuf;
use std::process::Output;

use super::*;

pub struct Db {
    pub url: String,
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

pub fn pg_admin() -> Option<String> {
    let url =
        std::env::var("CRMSYNC_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string());
    match postgres::Client::connect(&url, postgres::NoTls) {
        Ok(_) => Some(url),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("PostgreSQL at {url} is required under CI: {e}")
        }
        Err(e) => {
            eprintln!("skipping: PostgreSQL at {url} is not reachable ({e}); set CRMSYNC_TEST_PG");
            None
        }
    }
}

impl Db {
    /// An initialised SQLite store in a temporary folder.
    pub fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("crm.db").display());
        let db = Db { url, dir, pg: None };
        db.ok(&["init"]);
        db
    }

    /// An initialised store in a schema of its own, or `None` (skipped).
    pub fn postgres(test: &str) -> Option<Db> {
        let admin = pg_admin()?;
        // PostgreSQL names stop at 63 bytes: a shortened test name, made unique by a hash.
        let h = test.bytes().fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
        let short: String = test.chars().take(30).collect();
        let schema = format!("crmsync_t_{short}_{h:08x}_{}", std::process::id());
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("connects");
        c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).expect("clean");
        let sep = if admin.contains('?') { '&' } else { '?' };
        let url = format!("{admin}{sep}schema={schema}&application_name={schema}");
        let db = Db { url, dir: tempfile::tempdir().expect("tempdir"), pg: Some((admin, schema)) };
        db.ok(&["init"]);
        Some(db)
    }

    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    /// The PostgreSQL schema (and connection application name) of the store.
    pub fn pg_schema(&self) -> Option<(&str, &str)> {
        self.pg.as_ref().map(|(a, s)| (a.as_str(), s.as_str()))
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `text` to `name` next to the store; returns its path.
    pub fn file(&self, name: &str, text: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write");
        p.to_str().expect("path").to_string()
    }

    pub fn cmd(&self) -> assert_cmd::Command {
        let mut c = crmsync();
        c.current_dir(self.dir.path()).arg("--db").arg(&self.url);
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).output().expect("runs")
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "crmsync {args:?} failed: {}", stderr_of(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs `--json ARGS`, which must succeed; returns the summary.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {out}"))
    }

    /// `import FILE --mapping testdata/import/M` with `--json`.
    pub fn import(&self, file: &str, mapping: &str, extra: &[&str]) -> serde_json::Value {
        let f = testdata(&format!("import/{file}"));
        let m = testdata(&format!("import/{mapping}"));
        let mut args = vec!["import", f.to_str().expect("path"), "--mapping", m.to_str().expect("path")];
        args.extend_from_slice(extra);
        self.json(&args)
    }

    /// One value of a query (counts, single fields), as text.
    pub fn scalar(&self, sql: &str) -> Option<String> {
        match &self.pg {
            Some((admin, schema)) => {
                let mut c = postgres::Client::connect(admin, postgres::NoTls).expect("connects");
                c.batch_execute(&format!("SET search_path TO {schema}")).expect("schema");
                let row = c.query_opt(&format!("SELECT ({sql})::text"), &[]).expect("query");
                row.and_then(|r| r.get::<_, Option<String>>(0))
            }
            None => {
                let c = rusqlite::Connection::open(self.dir.path().join("crm.db")).expect("opens");
                c.query_row(&format!("SELECT CAST(({sql}) AS TEXT)"), [], |r| r.get::<_, Option<String>>(0))
                    .expect("query")
            }
        }
    }

    pub fn count(&self, sql: &str) -> u64 {
        self.scalar(sql).and_then(|s| s.parse().ok()).unwrap_or(0)
    }

    /// How many of the record tables' lookup indexes the store has (14 when
    /// none is missing).
    pub fn lookup_indexes(&self) -> u64 {
        let names = "'companies_domain', 'companies_name_key', 'companies_updated', 'contacts_email', \
                     'contacts_phone', 'contacts_company', 'contacts_updated', 'deals_name', 'deals_company', \
                     'deals_updated', 'activities_contact', 'activities_company', 'activities_deal', \
                     'activities_updated'";
        self.count(&if self.is_postgres() {
            format!("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname IN ({names})")
        } else {
            format!("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ({names})")
        })
    }

    /// Runs a statement on the store directly (to stage faults).
    pub fn exec(&self, sql: &str) {
        match &self.pg {
            Some((admin, schema)) => {
                let mut c = postgres::Client::connect(admin, postgres::NoTls).expect("connects");
                c.batch_execute(&format!("SET search_path TO {schema}; {sql}")).expect("exec");
            }
            None => {
                let c = rusqlite::Connection::open(self.dir.path().join("crm.db")).expect("opens");
                c.execute_batch(sql).expect("exec");
            }
        }
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((admin, schema)) = &self.pg
            && let Ok(mut c) = postgres::Client::connect(admin, postgres::NoTls)
        {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// One test body, run against SQLite and against PostgreSQL.
#[macro_export]
macro_rules! on_both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn sqlite() {
                let body: fn(&Db) = $body;
                body(&Db::sqlite());
            }
            #[test]
            fn postgres() {
                let body: fn(&Db) = $body;
                if let Some(db) = Db::postgres(stringify!($name)) {
                    body(&db);
                }
            }
        }
    };
}
