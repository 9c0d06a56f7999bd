//! crmsync-store: the store of customer records, on SQLite by default and on
//! PostgreSQL when the URL says so (SPEC §1.6, §2).
//!
//! [`open`] picks the backend by URL scheme (`sqlite://crm.db`,
//! `postgres://user@host/db?schema=crm`) and returns a [`Store`]. Schema
//! changes are versioned migrations, one SQL file per version and backend
//! under `migrations/`, applied by [`Store::migrate`] (`crmsync init`);
//! [`open_current`] is what every other command uses: it refuses a store
//! that is not initialised, older than this build, or newer.

mod error;
mod postgres;
mod sqlite;

pub use error::{Error, Result};

/// One migration: its version and the SQL for each backend.
struct Migration {
    version: u32,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "data model",
    sqlite: include_str!("../migrations/sqlite/0001_data_model.sql"),
    postgres: include_str!("../migrations/postgres/0001_data_model.sql"),
}];

/// The schema version this build of crmsync reads and writes.
pub const SCHEMA_VERSION: u32 = 1;

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    pub from: u32,
    pub to: u32,
    /// Names of the migrations applied, in order.
    pub applied: Vec<String>,
}

/// A store of customer records.
pub trait Store: Send {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Where the store is, for messages (the URL without a password).
    fn location(&self) -> &str;
    /// The schema version, or `None` when the store was never initialised.
    fn schema_version(&mut self) -> Result<Option<u32>>;
    /// Applies every migration newer than the store, each in its own
    /// transaction, and records the new version.
    fn migrate(&mut self) -> Result<Migrated>;
    /// Rows of an entity's table (`companies`, `contacts`, ...), deleted ones included.
    fn count(&mut self, table: &str) -> Result<u64>;
}

/// Opens the store at `url` without checking its schema (for `init`).
pub fn open(url: &str) -> Result<Box<dyn Store>> {
    match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("sqlite") => Ok(Box::new(sqlite::SqliteStore::open(url)?)),
        // A bare path is a SQLite file.
        None if !url.is_empty() => Ok(Box::new(sqlite::SqliteStore::open(url)?)),
        Some("postgres" | "postgresql") => Ok(Box::new(postgres::PgStore::open(url)?)),
        _ => Err(Error::Url {
            url: url.to_string(),
            message: "expected sqlite://FILE or postgres://USER@HOST/DB".to_string(),
        }),
    }
}

/// Opens the store for work: it must be initialised and at this build's version.
pub fn open_current(url: &str) -> Result<Box<dyn Store>> {
    let mut store = open(url)?;
    check_version(store.location().to_string(), store.schema_version()?)?;
    Ok(store)
}

fn check_version(location: String, version: Option<u32>) -> Result<()> {
    match version {
        None => Err(Error::NotInitialised { location }),
        Some(v) if v > SCHEMA_VERSION => Err(Error::Newer { location, found: v, known: SCHEMA_VERSION }),
        Some(v) if v < SCHEMA_VERSION => Err(Error::Outdated { location, found: v, latest: SCHEMA_VERSION }),
        Some(_) => Ok(()),
    }
}

/// The tables every store has once initialised.
pub const TABLES: &[&str] = &[
    "companies",
    "contacts",
    "deals",
    "deal_contacts",
    "activities",
    "external_ids",
    "custom_fields",
    "batches",
    "audit",
];

/// `init` must never rewrite a store a newer crmsync made.
fn check_newer(location: &str, found: u32) -> Result<()> {
    if found > SCHEMA_VERSION {
        return Err(Error::Newer { location: location.to_string(), found, known: SCHEMA_VERSION });
    }
    Ok(())
}
