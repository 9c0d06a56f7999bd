//! The store on a real PostgreSQL server (`CRMSYNC_TEST_PG`, default
//! `postgres://postgres@127.0.0.1:5432/test`), each test in a schema of its
//! own. Outside CI a missing server skips with a printed reason; under
//! `CI=true` it fails.

use crmsync_core::{Entity, Record, Value};
use crmsync_store::import::{Mode, Outcome, Row, Settings};
use crmsync_store::{Error, SCHEMA_VERSION, TABLES, open, open_current};

fn server() -> Option<String> {
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

/// A fresh schema for one test, dropped at the end.
struct Schema {
    admin: String,
    name: String,
}

impl Schema {
    fn new(admin: &str, test: &str) -> Self {
        let name = format!("crmsync_test_{test}_{}", std::process::id());
        let mut c = postgres::Client::connect(admin, postgres::NoTls).expect("connects");
        c.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).expect("clean");
        Self { admin: admin.to_string(), name }
    }

    fn url(&self) -> String {
        let sep = if self.admin.contains('?') { '&' } else { '?' };
        format!("{}{sep}schema={}", self.admin, self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

#[test]
fn postgres_init_creates_every_table_and_is_idempotent() {
    let Some(admin) = server() else { return };
    let schema = Schema::new(&admin, "init");
    let err = open_current(&schema.url()).err().expect("not initialised yet");
    assert!(matches!(err, Error::NotInitialised { .. }), "{err}");
    let mut store = open(&schema.url()).expect("opens");
    assert_eq!(store.backend(), "postgres");
    let m = store.migrate().expect("migrates");
    assert_eq!((m.from, m.to), (0, SCHEMA_VERSION));
    for t in TABLES {
        assert_eq!(store.count(t).expect(t), 0, "{t}");
    }
    assert!(store.migrate().expect("again").applied.is_empty());
    open_current(&schema.url()).expect("current");
}

#[test]
fn postgres_refuses_a_newer_store() {
    let Some(admin) = server() else { return };
    let schema = Schema::new(&admin, "newer");
    open(&schema.url()).expect("opens").migrate().expect("migrates");
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("connects");
    c.batch_execute(&format!("UPDATE {}.crmsync_meta SET value = '99' WHERE key = 'schema_version'", schema.name))
        .expect("bump");
    let err = open_current(&schema.url()).err().expect("newer");
    assert!(err.to_string().contains("upgrade crmsync"), "{err}");
}

#[test]
fn bad_urls_and_unreachable_servers_are_clear() {
    let err = open("mysql://x").err().expect("unknown scheme");
    assert!(err.to_string().contains("sqlite://") && err.to_string().contains("postgres://"), "{err}");
    let err = open("postgres://nobody:pw@127.0.0.1:1/none").err().expect("unreachable");
    let text = err.to_string();
    assert!(text.contains("cannot connect") && !text.contains(":pw@"), "{text}");
    let err = open("postgres://x@127.0.0.1:1/db?schema=a;drop").err().expect("bad schema name");
    assert!(err.to_string().contains("letters, digits"), "{err}");
}

/// Ids and normalised keys compare byte by byte on PostgreSQL, as all text
/// does on SQLite, whatever the database's default collation.
#[test]
fn postgres_keys_compare_byte_by_byte() {
    let Some(admin) = server() else { return };
    let schema = Schema::new(&admin, "collation");
    open(&schema.url()).expect("opens").migrate().expect("migrates");
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("connects");
    let rows = c
        .query(
            "SELECT table_name || '.' || column_name, coalesce(collation_name, '') FROM information_schema.columns \
             WHERE table_schema = $1 AND data_type = 'text' \
             AND (column_name IN ('id', 'email', 'phone', 'mobile', 'domain', 'name_key', 'created_batch') \
                  OR column_name LIKE '%\\_id' AND column_name <> 'external_id') \
             AND table_name <> 'custom_fields' AND table_name <> 'crmsync_meta'",
            &[&schema.name],
        )
        .expect("reads the schema");
    let keys: Vec<(String, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert!(keys.len() >= 25, "{keys:?}");
    let other: Vec<&(String, String)> = keys.iter().filter(|(_, collation)| collation != "C").collect();
    assert!(other.is_empty(), "not byte-wise: {other:?}");
    // Still found by the lookups: an email index on a "C" column.
    let plan: Vec<String> = c
        .query(&format!("EXPLAIN SELECT id FROM {}.contacts WHERE email = $1", schema.name), &[&"a@example.com"])
        .expect("plans")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(plan.iter().any(|l| l.contains("contacts_email")), "{plan:?}");
}

/// Another connection to a store: `write` runs SQL, `read` a query's rows
/// as text (NULL as "").
trait Other {
    fn write(&mut self, sql: &str);
    fn read(&mut self, sql: &str) -> Vec<Vec<String>>;
}

impl Other for rusqlite::Connection {
    fn write(&mut self, sql: &str) {
        self.execute_batch(sql).expect("writes");
    }
    fn read(&mut self, sql: &str) -> Vec<Vec<String>> {
        let mut stmt = self.prepare(sql).expect("prepares");
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| (0..n).map(|i| r.get::<_, Option<String>>(i).map(Option::unwrap_or_default)).collect())
            .expect("reads");
        rows.map(|r| r.expect("a row")).collect()
    }
}

impl Other for postgres::Client {
    fn write(&mut self, sql: &str) {
        self.batch_execute(sql).expect("writes");
    }
    fn read(&mut self, sql: &str) -> Vec<Vec<String>> {
        let rows = self.query(sql, &[]).expect("reads");
        rows.iter().map(|r| (0..r.len()).map(|i| r.get::<_, Option<String>>(i).unwrap_or_default()).collect()).collect()
    }
}

/// What an import of `entity` from `source`, matching by `key`, does.
fn settings(entity: Entity, mode: Mode, key: &str, source: &str) -> Settings {
    Settings {
        entity,
        mode,
        key: vec![key.into()],
        key_chosen: true,
        external_system: None,
        source: source.into(),
        source_path: None,
        mapping: None,
        mapping_rules: None,
        dry_run: false,
        clear_empty: false,
        guard_domains: false,
        unique: Vec::new(),
    }
}

/// A mapped record: its source row and (field, text) pairs.
fn record(row: u64, fields: &[(&str, &str)]) -> Record {
    let mut r = Record::new();
    r.row = row;
    for (field, text) in fields {
        r.push((*field).into(), Value::Text((*text).into()));
    }
    r
}

/// `record` handed to a chunk as read and mapped.
fn row(record: &Record) -> Row<'_> {
    Row {
        source: record,
        record: Some(record),
        ids: Default::default(),
        rejected: None,
        drafted: None,
        spent: None,
        digest: 0,
    }
}

/// Resolved links are kept from one transaction to the next, but not past
/// another connection's commit: here another connection removes the company
/// between two rows, and the next row must not link to it.
fn links_are_resolved_again_after_another_connection_writes(url: &str, other: &mut dyn Other) {
    let mut store = open(url).expect("opens");
    store.migrate().expect("migrates");
    let mut import =
        store.import(settings(Entity::Contacts, Mode::Upsert, "email", "contacts.csv"), false).expect("starts");
    import.commit_every(1);
    let mut import_one = |n: u64, email: &str| {
        let contact = record(n, &[("email", email), ("company.name", "Acme")]);
        let outcome = import.chunk(&mut [row(&contact)]).expect("imports").remove(0);
        assert!(matches!(outcome, Outcome::Insert { .. }), "{email}: {outcome:?}");
    };
    import_one(2, "a@example.com");
    // Committed, nobody else wrote: the link is known and reused.
    import_one(3, "b@example.com");
    other.write("UPDATE companies SET deleted_at = '2026-01-01T00:00:00Z'");
    import_one(4, "c@example.com");
    import.finish().expect("finishes");
    let live = other.read(
        "SELECT c.email, CASE WHEN co.deleted_at IS NULL THEN 'live' ELSE 'removed' END \
         FROM contacts c JOIN companies co ON co.id = c.company_id ORDER BY c.email",
    );
    assert_eq!(
        live,
        [["a@example.com", "removed"], ["b@example.com", "removed"], ["c@example.com", "live"]],
        "the third contact links to a live company"
    );
}

#[test]
fn sqlite_links_are_resolved_again_after_another_connection_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("crm.db");
    let mut other = rusqlite::Connection::open(&path).expect("opens");
    links_are_resolved_again_after_another_connection_writes(&path.display().to_string(), &mut other);
}

#[test]
fn postgres_links_are_resolved_again_after_another_connection_writes() {
    let Some(admin) = server() else { return };
    let schema = Schema::new(&admin, "links");
    let mut other = postgres::Client::connect(&admin, postgres::NoTls).expect("connects");
    other.batch_execute(&format!("SET search_path TO {}", schema.name)).expect("sets the schema");
    links_are_resolved_again_after_another_connection_writes(&schema.url(), &mut other);
}

/// Decimals, dates and times reach PostgreSQL exactly as they were given
/// (the import sends them in COPY's binary form).
#[test]
fn postgres_stores_decimals_dates_and_times_exactly() {
    let Some(admin) = server() else { return };
    let schema = Schema::new(&admin, "exact");
    let mut store = open(&schema.url()).expect("opens");
    store.migrate().expect("migrates");
    let deals = [
        ("a", "1234.50", "2026-11-22"),
        ("b", "-0.05", "2000-01-01"),
        ("c", "10000", "1999-12-31"),
        ("d", "0.00001", "1970-01-01"),
        ("e", "0", "2100-02-28"),
        ("f", "12345678901234567890.123456789", "0001-01-01"),
    ];
    let records: Vec<Record> = deals
        .iter()
        .zip(2..)
        .map(|((name, amount, close), n)| record(n, &[("name", name), ("amount", amount), ("close_date", close)]))
        .collect();
    let mut rows: Vec<Row<'_>> = records.iter().map(row).collect();
    let mut import = store.import(settings(Entity::Deals, Mode::Insert, "name", "deals.csv"), false).expect("starts");
    let outcomes = import.chunk(&mut rows).expect("imports");
    assert!(outcomes.iter().all(|o| matches!(o, Outcome::Insert { .. })), "{outcomes:?}");
    import.finish().expect("finishes");

    let contact = record(2, &[("email", "ada@example.com"), ("subscribed_at", "2026-11-22T13:49:00.123456Z")]);
    let mut import =
        store.import(settings(Entity::Contacts, Mode::Insert, "email", "contacts.csv"), false).expect("starts");
    import.chunk(&mut [row(&contact)]).expect("imports");
    import.finish().expect("finishes");

    let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("connects");
    c.batch_execute(&format!("SET search_path TO {}; SET TimeZone TO 'UTC'", schema.name)).expect("sets up");
    let stored: Vec<(String, String, String)> = c
        .query("SELECT name, amount::text, close_date::text FROM deals ORDER BY name", &[])
        .expect("reads")
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let want: Vec<(String, String, String)> =
        deals.iter().map(|(n, a, d)| (n.to_string(), a.to_string(), d.to_string())).collect();
    assert_eq!(stored, want);
    let row = c
        .query_one(
            "SELECT subscribed_at::text, created_at <= now() AND created_at > now() - interval '1 hour' FROM contacts",
            &[],
        )
        .expect("reads");
    assert_eq!(row.get::<_, String>(0), "2026-11-22 13:49:00.123456+00");
    assert!(row.get::<_, bool>(1), "created now");
}
