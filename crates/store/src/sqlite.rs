//! The SQLite store: one file, WAL journal, no setup.

use rusqlite::{Connection, OptionalExtension};

use crate::error::{Error, Result};
use crate::{MIGRATIONS, Migrated, Store};

pub struct SqliteStore {
    conn: Connection,
    location: String,
}

impl SqliteStore {
    pub fn open(url: &str) -> Result<Self> {
        let path = url.strip_prefix("sqlite://").unwrap_or(url);
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() {
            return Err(Error::Url { url: url.to_string(), message: "no file name after sqlite://".to_string() });
        }
        let location = path.to_string();
        if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(Error::Url {
                url: url.to_string(),
                message: format!("the folder {} does not exist; create it first", dir.display()),
            });
        }
        let err = |context: &str| {
            let location = location.clone();
            let context = context.to_string();
            move |source| Error::Sqlite { location, context, source }
        };
        let conn = Connection::open(path).map_err(err("cannot open"))?;
        // Two imports into one file wait for each other instead of failing.
        conn.busy_timeout(std::time::Duration::from_secs(60)).map_err(err("cannot set the busy timeout"))?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(err("cannot switch to WAL"))?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(err("cannot enable foreign keys"))?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(err("cannot set synchronous"))?;
        Ok(Self { conn, location })
    }

    fn err(&self, context: &str) -> impl FnOnce(rusqlite::Error) -> Error + use<> {
        let location = self.location.clone();
        let context = context.to_string();
        move |source| Error::Sqlite { location, context, source }
    }
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn schema_version(&mut self) -> Result<Option<u32>> {
        let has_meta: bool = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'crmsync_meta'", [], |r| {
                r.get::<_, i64>(0).map(|n| n > 0)
            })
            .map_err(self.err("cannot read the schema"))?;
        if !has_meta {
            return Ok(None);
        }
        let v: Option<String> = self
            .conn
            .query_row("SELECT value FROM crmsync_meta WHERE key = 'schema_version'", [], |r| r.get(0))
            .optional()
            .map_err(self.err("cannot read the schema version"))?;
        Ok(v.and_then(|s| s.parse().ok()))
    }

    fn migrate(&mut self) -> Result<Migrated> {
        let from = self.schema_version()?.unwrap_or(0);
        crate::check_newer(&self.location, from)?;
        let mut applied = Vec::new();
        for m in MIGRATIONS.iter().filter(|m| m.version > from) {
            let err = self.err(&format!("migration {} ({})", m.version, m.name));
            let start = self.err("cannot start a transaction");
            let tx = self.conn.transaction().map_err(start)?;
            let res = tx
                .execute_batch("CREATE TABLE IF NOT EXISTS crmsync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")
                .and_then(|_| tx.execute_batch(m.sqlite))
                .and_then(|_| {
                    tx.execute(
                        "INSERT INTO crmsync_meta (key, value) VALUES ('schema_version', ?1) \
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        [m.version.to_string()],
                    )
                })
                .and_then(|_| tx.commit());
            res.map_err(err)?;
            applied.push(m.name.to_string());
        }
        let to = self.schema_version()?.unwrap_or(from);
        Ok(Migrated { from, to, applied })
    }

    fn count(&mut self, table: &str) -> Result<u64> {
        if !crate::TABLES.contains(&table) {
            return Ok(0);
        }
        let n: i64 = self
            .conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .map_err(self.err(&format!("cannot count {table}")))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, SCHEMA_VERSION, open, open_current};

    #[test]
    fn init_creates_every_table_and_is_idempotent() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("crm.db").display());
        let mut store = open(&url).expect("opens");
        assert_eq!(store.schema_version().expect("reads"), None);
        let m = store.migrate().expect("migrates");
        assert_eq!((m.from, m.to, m.applied.len()), (0, SCHEMA_VERSION, 1));
        for t in crate::TABLES {
            assert_eq!(store.count(t).expect(t), 0, "{t}");
        }
        let again = store.migrate().expect("again");
        assert!(again.applied.is_empty());
        drop(store);
        open_current(&url).expect("current");
    }

    #[test]
    fn other_commands_refuse_uninitialised_and_newer_stores() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("crm.db").display());
        let err = open_current(&url).err().expect("not initialised");
        assert!(matches!(err, Error::NotInitialised { .. }));
        assert!(err.to_string().contains("crmsync init"), "{err}");

        let mut store = open(&url).expect("opens");
        store.migrate().expect("migrates");
        let conn = Connection::open(dir.path().join("crm.db")).expect("raw");
        conn.execute("UPDATE crmsync_meta SET value = '99' WHERE key = 'schema_version'", []).expect("bump");
        let err = open_current(&url).err().expect("newer");
        assert!(err.to_string().contains("upgrade crmsync"), "{err}");
        let err = store.migrate().expect_err("init refuses to touch a newer store");
        assert!(matches!(err, Error::Newer { found: 99, .. }), "{err}");
    }

    #[test]
    fn column_limits_and_links_are_enforced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("crm.db").display());
        open(&url).expect("opens").migrate().expect("migrates");
        let conn = Connection::open(dir.path().join("crm.db")).expect("raw");
        conn.pragma_update(None, "foreign_keys", "ON").expect("fk");
        let long = "x".repeat(300);
        let too_long = conn.execute(
            "INSERT INTO companies (id, name, hash, created_at, updated_at) VALUES ('c1', ?1, x'00', 'now', 'now')",
            [&long],
        );
        assert!(too_long.is_err());
        let dangling = conn.execute(
            "INSERT INTO contacts (id, company_id, hash, created_at, updated_at) VALUES ('p1', 'nope', x'00', 'now', 'now')",
            [],
        );
        assert!(dangling.is_err());
    }
}
