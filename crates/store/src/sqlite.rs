//! The SQLite store: one file, WAL journal, no setup.

use rusqlite::functions::FunctionFlags;
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, ToSql};

use crate::error::{Error, Result};
use crate::sql::{Arg, Backend, Cell, Lent, Param, Sql, what};

mod insert;

pub struct SqliteConn {
    /// Finalized before the connection closes (see `Drop`).
    inserts: insert::Inserts,
    conn: Connection,
    location: String,
}

/// The page cache, in KiB. Measured on a million-contact store: 32 MB
/// imports as fast as 64 MB (the operating system caches the file too) with
/// 40 MB less peak memory; 16 MB slows the lookups of a re-import.
const CACHE_KIB: i64 = 32_000;
/// The page cache while indexes are built: the size of the sorted pieces.
const SORT_KIB: i64 = 2_000;
/// The page size of new stores, in bytes.
const PAGE_SIZE: i64 = 16_384;
/// Two imports into one file wait for each other instead of failing.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

fn is_busy(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
}

impl Drop for SqliteConn {
    fn drop(&mut self) {
        // SQLite does not close a connection that still has statements:
        // rusqlite would leave it open, with its file and locks.
        self.inserts = insert::Inserts::default();
    }
}

impl SqliteConn {
    /// Opens the file at `url`; without `create`, a file that is not there
    /// is a store not initialised.
    pub fn open(url: &str, create: bool) -> Result<Self> {
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
        // An empty file is no store either, and stays as it is.
        if !create && std::fs::metadata(path).map_or(true, |m| m.len() == 0) {
            return Err(Error::NotInitialised { location });
        }
        let conn = Connection::open(path).map_err(err("cannot open"))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err("cannot set the busy timeout"))?;
        // Pages of 16 KiB instead of 4: a bulk load of a million contacts
        // spends a fifth less time in SQLite (fewer pages to split, link and
        // log). It only takes effect on a new file, before its first table.
        conn.pragma_update(None, "page_size", PAGE_SIZE).map_err(err("cannot set the page size"))?;
        match conn.pragma_update(None, "journal_mode", "WAL") {
            // An import's bulk load holds the file in the rollback journal
            // (`bulk_load`); this connection works in it meanwhile.
            Err(e) if is_busy(&e) => {}
            switched => switched.map_err(err("cannot switch to WAL"))?,
        }
        // Foreign keys are not enforced (the bundled SQLite enforces them
        // unless told), as PostgreSQL's link keys were dropped (migration
        // 3): crmsync keeps links itself. Import links only records it found
        // or created, undo refuses or clears links to what it removes.
        // Enforcing them looked up the linked company for every inserted
        // contact: a tenth of SQLite's time on a bulk load.
        conn.pragma_update(None, "foreign_keys", "OFF").map_err(err("cannot set foreign keys"))?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(err("cannot set synchronous"))?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB).map_err(err("cannot size the cache"))?;
        // The WAL is folded back into the file in larger steps: fewer page
        // writes. (Temporary files stay files: index builds after a bulk
        // load sort more than memory should hold.) 40 MiB at a time, whatever
        // the store's page size.
        let page: i64 =
            conn.pragma_query_value(None, "page_size", |r| r.get(0)).map_err(err("cannot read the page size"))?;
        conn.pragma_update(None, "wal_autocheckpoint", (40 << 20) / page.max(512))
            .map_err(err("cannot set wal_autocheckpoint"))?;
        // SQLite's lower() folds ASCII letters only, PostgreSQL's every
        // letter; the e-mail keys (`lower(email)`) must agree on both.
        text_function(&conn, "lower", str::to_lowercase).map_err(err("cannot register lower()"))?;
        // `like` folds case through this (`Backend::fold`): letter by letter,
        // as PostgreSQL's lower() does, where Rust's lower() of a string
        // reads Σ by its place in a word and İ as i with a dot above.
        // (lower() itself stays: stored e-mail keys are made with it.)
        text_function(&conn, "crmsync_fold", crate::sql::fold).map_err(err("cannot register crmsync_fold()"))?;
        // `--where` compares numbers through this (`Backend::numeric`): text
        // that is no number is NULL, as on PostgreSQL (SQLite's CAST would
        // read it as 0).
        conn.create_scalar_function(
            "crmsync_number_key",
            1,
            FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
            |ctx| {
                Ok(match ctx.get_raw(0) {
                    ValueRef::Integer(n) => crate::sql::number_key(&n.to_string()),
                    ValueRef::Real(f) if f.is_finite() => crate::sql::number_key(&f.to_string()),
                    ValueRef::Text(t) => std::str::from_utf8(t).ok().and_then(crate::sql::number_key),
                    ValueRef::Real(_) | ValueRef::Null | ValueRef::Blob(_) => None,
                })
            },
        )
        .map_err(err("cannot register crmsync_number_key()"))?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Self { inserts: insert::Inserts::default(), conn, location })
    }

    fn err(&self, context: &str) -> impl FnOnce(rusqlite::Error) -> Error + use<> {
        let location = self.location.clone();
        let context = context.to_string();
        move |source| {
            // rusqlite's message for a statement SQLite refuses carries the
            // whole SQL text (a migration's 130 lines): the context names it.
            let source = match source {
                rusqlite::Error::SqlInputError { error, msg, .. } => rusqlite::Error::SqliteFailure(error, Some(msg)),
                other => other,
            };
            Error::Sqlite { location, context, source }
        }
    }
}

/// Registers a one-argument SQL function that maps text to text (numbers
/// as their text, NULL as NULL).
fn text_function(conn: &Connection, name: &str, f: fn(&str) -> String) -> rusqlite::Result<()> {
    conn.create_scalar_function(name, 1, FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC, move |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Null => None,
            ValueRef::Integer(n) => Some(n.to_string()),
            ValueRef::Real(x) => Some(x.to_string()),
            ValueRef::Text(t) | ValueRef::Blob(t) => Some(f(&String::from_utf8_lossy(t))),
        })
    })
}

impl ToSql for Param {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Param::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Param::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Param::Int(n) => ToSqlOutput::Borrowed(ValueRef::Integer(*n)),
            Param::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
        })
    }
}

impl Sql for SqliteConn {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql).map_err(self.err(&what(sql)))
    }

    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64> {
        let err = self.err(&what(sql));
        let mut stmt = match self.conn.prepare_cached(sql) {
            Ok(s) => s,
            Err(e) => return Err(err(e)),
        };
        stmt.execute(rusqlite::params_from_iter(params.iter())).map(|n| n as u64).map_err(err)
    }

    fn insert_many(&mut self, table: &str, columns: &[&str], params: &[Arg<'_>]) -> Result<()> {
        if columns.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            columns.join(", "),
            crate::sql::placeholders(columns.len())
        );
        let err = self.err(&what(&sql));
        // One prepared statement stepped per row: SQLite does no more work
        // per row than that, and no statement text is built per chunk.
        // SAFETY: the handle is this connection's, used only by this call
        // while it runs.
        unsafe { self.inserts.run(self.conn.handle(), sql, columns.len(), params) }.map_err(err)
    }

    fn build_indexes(&mut self, sql: &str) -> Result<()> {
        // An index build sorts its keys in pieces as large as the page
        // cache, each on a helper thread, then merges them. Pieces of 2 MB
        // (about a core's own cache) build a million contacts' four indexes
        // in 2.3 s, against 2.8 s with 8 MB and 3.6-4.0 s with 32-64 MB, and
        // keep the peak memory down.
        self.batch(&format!("PRAGMA cache_size = -{SORT_KIB}"))?;
        // The sort may use helper threads, one per spare core: the build
        // comes at the end of a bulk load, when the other threads are idle.
        // (A million contacts' four indexes: 6.0-7.1 s alone, 5.0-5.6 s
        // with two threads.)
        let helpers = std::thread::available_parallelism().map_or(0, |n| n.get().min(8));
        self.batch(&format!("PRAGMA threads = {helpers}"))?;
        let built = self.batch(sql);
        self.batch(&format!("PRAGMA cache_size = -{CACHE_KIB}; PRAGMA threads = 0"))?;
        built
    }

    fn query_each(&mut self, sql: &str, params: &[Param], each: &mut dyn FnMut(Vec<Cell>) -> Result<()>) -> Result<()> {
        self.query_each_lent(sql, params, &mut |row| each(row.iter().map(|c| c.to_cell()).collect()))
    }

    fn query_each_lent(
        &mut self,
        sql: &str,
        params: &[Param],
        each: &mut dyn FnMut(&[Lent<'_>]) -> Result<()>,
    ) -> Result<()> {
        let err = self.err(&what(sql));
        let mut stmt = match self.conn.prepare_cached(sql) {
            Ok(s) => s,
            Err(e) => return Err(err(e)),
        };
        let n = stmt.column_count();
        let mut rows = match stmt.query(rusqlite::params_from_iter(params.iter())) {
            Ok(r) => r,
            Err(e) => return Err(err(e)),
        };
        loop {
            match rows.next() {
                Ok(Some(row)) => {
                    let mut cells = Vec::with_capacity(n);
                    for i in 0..n {
                        cells.push(match row.get_ref(i) {
                            Ok(ValueRef::Text(t)) => Lent::Text(t),
                            Ok(ValueRef::Blob(b)) => Lent::Bytes(b),
                            Ok(ValueRef::Integer(n)) => Lent::Int(n),
                            Ok(ValueRef::Real(f)) => Lent::Real(f),
                            Ok(ValueRef::Null) | Err(_) => Lent::Null,
                        });
                    }
                    each(&cells)?;
                }
                Ok(None) => return Ok(()),
                Err(e) => return Err(err(e)),
            }
        }
    }

    fn begin(&mut self) -> Result<()> {
        self.batch("BEGIN IMMEDIATE")
    }

    fn commit(&mut self) -> Result<()> {
        self.batch("COMMIT")
    }

    /// A bulk load's pages are nearly all new. WAL writes each twice, into
    /// the log and then, at a checkpoint, into the file; the rollback
    /// journal writes a new page once, having nothing of it to save. The
    /// load switches to it (a sixth of a first import of a million
    /// contacts) and back to WAL after. Switching needs the file to itself:
    /// with another connection open it is not waited for, and the load runs
    /// in WAL. Either way a crash leaves whole transactions, and the next
    /// open makes the file WAL again.
    fn bulk_load(&mut self, on: bool) -> Result<()> {
        let mode = if on { "TRUNCATE" } else { "WAL" };
        self.conn.busy_timeout(std::time::Duration::ZERO).map_err(self.err("cannot set the busy timeout"))?;
        let switched = self.conn.pragma_update(None, "journal_mode", mode);
        self.conn.busy_timeout(BUSY_TIMEOUT).map_err(self.err("cannot set the busy timeout"))?;
        match switched {
            Err(e) if !is_busy(&e) => Err(self.err(&format!("cannot switch the journal to {mode}"))(e)),
            _ => Ok(()),
        }
    }

    fn rollback(&mut self) -> Result<()> {
        if self.conn.is_autocommit() {
            return Ok(());
        }
        self.batch("ROLLBACK")
    }

    fn enforce_checks(&mut self, on: bool) -> Result<()> {
        self.batch(if on { "PRAGMA ignore_check_constraints = OFF" } else { "PRAGMA ignore_check_constraints = ON" })
    }

    fn others_version(&mut self) -> Result<Option<i64>> {
        let n: i64 = self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(self.err("cannot read the data version"))?;
        Ok(Some(n))
    }

    fn has_table(&mut self, table: &str) -> Result<bool> {
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [table], |r| r.get(0))
            .map_err(self.err("cannot read the schema"))?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_leaves_foreign_keys_to_crmsync() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("crm.db");
        let mut conn = SqliteConn::open(&path.display().to_string(), true).expect("opens");
        let db: &mut dyn Sql = &mut conn;
        let row = db.query_row("PRAGMA foreign_keys", &[]).expect("pragma").expect("a row");
        assert_eq!(row.first().map(Cell::int), Some(0));
    }

    fn scratch() -> (tempfile::TempDir, SqliteConn) {
        let dir = tempfile::tempdir().expect("tempdir");
        let conn = SqliteConn::open(&dir.path().join("crm.db").display().to_string(), true).expect("opens");
        (dir, conn)
    }

    #[test]
    fn insert_many_stores_every_kind_of_value_as_given() {
        let (_dir, mut conn) = scratch();
        let db: &mut dyn Sql = &mut conn;
        db.batch("CREATE TABLE t (a, b, c)").expect("creates");
        let long = "x".repeat(100_000);
        let rows =
            [Arg::Text("é\0nul"), Arg::Int(-7), Arg::Bytes(&[0, 1, 255]), Arg::Null, Arg::Text(""), Arg::Text(&long)];
        db.insert_many("t", &["a", "b", "c"], &rows).expect("inserts");
        // Again on the statement already prepared, after a schema change.
        db.batch("CREATE INDEX t_a ON t (a)").expect("indexes");
        db.insert_many("t", &["a", "b", "c"], &rows[..3]).expect("inserts again");
        let sql = "SELECT typeof(a), length(CAST(a AS BLOB)), a, b, typeof(c), length(c), \
                   CASE typeof(c) WHEN 'blob' THEN hex(c) END FROM t ORDER BY rowid";
        let got = db.query(sql, &[]).expect("reads");
        let text = |r: &Vec<Cell>| {
            r.iter()
                .map(|c| match c {
                    Cell::Int(n) => n.to_string(),
                    c => c.text().unwrap_or("NULL").to_string(),
                })
                .collect::<Vec<_>>()
        };
        // Text with a NUL byte is kept whole; an empty text is not NULL.
        assert_eq!(text(&got[0]), ["text", "6", "é\0nul", "-7", "blob", "3", "0001FF"]);
        assert_eq!(text(&got[1]), ["null", "NULL", "NULL", "", "text", "100000", "NULL"]);
        assert_eq!(got[1][3].text(), Some(""));
        assert_eq!(text(&got[2]), text(&got[0]));
    }

    #[test]
    fn insert_many_names_the_statement_and_the_reason_when_sqlite_refuses() {
        let (_dir, mut conn) = scratch();
        let db: &mut dyn Sql = &mut conn;
        db.batch("CREATE TABLE t (a TEXT UNIQUE NOT NULL)").expect("creates");
        let e = db.insert_many("t", &["a"], &[Arg::Text("one"), Arg::Text("one")]).expect_err("a duplicate");
        let message = e.to_string();
        assert!(message.contains("UNIQUE constraint failed: t.a"), "{message}");
        assert!(message.contains("INSERT INTO t"), "{message}");
        // The row before the refused one is in; the statement still works.
        db.insert_many("t", &["a"], &[Arg::Text("two")]).expect("inserts");
        let e = db.insert_many("t", &["a"], &[Arg::Null]).expect_err("a null");
        assert!(e.to_string().contains("NOT NULL constraint failed"), "{e}");
        let e = db.insert_many("nope", &["a"], &[Arg::Text("x")]).expect_err("no table");
        assert!(e.to_string().contains("no such table: nope"), "{e}");
        let n = db.query_row("SELECT count(*) FROM t", &[]).expect("counts").expect("a row");
        assert_eq!(n.first().map(Cell::int), Some(2));
    }

    /// An import turns SQLite's CHECK constraints off and checks the same
    /// rules itself (`model::columns`): every CHECK of the migrated schema
    /// must be one the model states, and every limit of the model a CHECK.
    #[test]
    fn every_check_constraint_is_a_rule_the_import_checks() {
        use crate::model::{Kind, columns};
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = crate::open(&dir.path().join("crm.db").display().to_string()).expect("opens");
        store.migrate().expect("migrates");
        let db = store.db.as_mut();
        let mut in_schema = std::collections::BTreeSet::new();
        for row in db.query("SELECT name, sql FROM sqlite_master WHERE type = 'table'", &[]).expect("schema") {
            let table = row[0].text().unwrap_or_default().to_string();
            let sql = row[1].text().unwrap_or_default().to_string();
            for part in sql.split("CHECK (").skip(1) {
                // Up to the parenthesis that closes the CHECK.
                let mut depth = 1;
                let end = part
                    .char_indices()
                    .find(|(_, c)| {
                        depth += match c {
                            '(' => 1,
                            ')' => -1,
                            _ => 0,
                        };
                        depth == 0
                    })
                    .map_or(part.len(), |(i, _)| i);
                in_schema.insert(format!("{table}: {}", &part[..end]));
            }
        }
        let mut in_model = std::collections::BTreeSet::new();
        for entity in crmsync_core::Entity::ALL {
            for c in columns(entity).iter().filter(|c| !c.column.is_empty()) {
                let (table, col) = (entity.name(), c.column);
                match (c.kind, c.max) {
                    (Kind::Currency, Some(n)) => in_model.insert(format!("{table}: length({col}) = {n}")),
                    (Kind::Enum(values), _) => {
                        let list: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
                        in_model.insert(format!("{table}: {col} IN ({})", list.join(", ")))
                    }
                    (_, Some(n)) => in_model.insert(format!("{table}: length({col}) <= {n}")),
                    (_, None) => false,
                };
            }
        }
        assert!(!in_schema.is_empty());
        assert_eq!(in_schema, in_model);
    }
}
