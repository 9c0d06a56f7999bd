//! crmsync-store: the store of customer records, on SQLite by default and on
//! PostgreSQL when the URL says so (SPEC §1.6, §2).
//!
//! [`open`] picks the backend by URL scheme (`sqlite://crm.db`,
//! `postgres://user@host/db?schema=crm`) and returns a [`Store`]. Schema
//! changes are versioned migrations, one SQL file per version and backend
//! under `migrations/`, applied by [`Store::migrate`] (`crmsync init`);
//! [`open_current`] is what every other command uses: it refuses a store
//! that is not initialised, older than this build, or newer.
//!
//! Everything above the backends is written once against [`sql::Sql`]:
//! [`import`] (batches, matching, field-level updates, resume),
//! [`batches`] (listing, undo, history), [`export`] and [`quality`].

pub mod batches;
pub mod custom;
mod error;
pub mod export;
pub mod filter;
pub mod import;
pub mod model;
mod postgres;
pub mod quality;
mod recognise;
pub mod sql;
mod sqlite;

pub use error::{Error, Result};
use sql::{Param, Sql};

/// One migration: its version and the SQL for each backend.
struct Migration {
    version: u32,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
    /// Work SQL alone cannot do, after it, in its transaction.
    then: Option<fn(&mut dyn Sql) -> Result<()>>,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "data model",
        sqlite: include_str!("../migrations/sqlite/0001_data_model.sql"),
        postgres: include_str!("../migrations/postgres/0001_data_model.sql"),
        then: None,
    },
    Migration {
        version: 2,
        name: "import batches",
        sqlite: include_str!("../migrations/sqlite/0002_import.sql"),
        postgres: include_str!("../migrations/postgres/0002_import.sql"),
        then: None,
    },
    Migration {
        version: 3,
        name: "lookup indexes",
        sqlite: include_str!("../migrations/sqlite/0003_lookups.sql"),
        postgres: include_str!("../migrations/postgres/0003_lookups.sql"),
        then: None,
    },
    Migration {
        version: 4,
        name: "creating batch",
        sqlite: include_str!("../migrations/sqlite/0004_created_batch.sql"),
        postgres: include_str!("../migrations/postgres/0004_created_batch.sql"),
        then: None,
    },
    Migration {
        version: 5,
        name: "custom field names",
        sqlite: include_str!("../migrations/sqlite/0005_custom_keys.sql"),
        postgres: include_str!("../migrations/postgres/0005_custom_keys.sql"),
        then: None,
    },
    Migration {
        version: 6,
        name: "byte-wise keys",
        sqlite: include_str!("../migrations/sqlite/0006_byte_keys.sql"),
        postgres: include_str!("../migrations/postgres/0006_byte_keys.sql"),
        then: None,
    },
    Migration {
        version: 7,
        name: "source row hashes",
        sqlite: include_str!("../migrations/sqlite/0007_source_hashes.sql"),
        postgres: include_str!("../migrations/postgres/0007_source_hashes.sql"),
        then: None,
    },
    Migration {
        version: 8,
        name: "external ids by record",
        sqlite: include_str!("../migrations/sqlite/0008_external_ids_by_record.sql"),
        postgres: include_str!("../migrations/postgres/0008_external_ids_by_record.sql"),
        then: None,
    },
    Migration {
        version: 9,
        name: "resume digest",
        sqlite: include_str!("../migrations/sqlite/0009_resume_digest.sql"),
        postgres: include_str!("../migrations/postgres/0009_resume_digest.sql"),
        then: None,
    },
    Migration {
        version: 10,
        name: "source path",
        sqlite: include_str!("../migrations/sqlite/0010_source_path.sql"),
        postgres: include_str!("../migrations/postgres/0010_source_path.sql"),
        then: None,
    },
    Migration {
        version: 11,
        name: "rewritten rows",
        sqlite: include_str!("../migrations/sqlite/0011_rewritten.sql"),
        postgres: include_str!("../migrations/postgres/0011_rewritten.sql"),
        then: None,
    },
    Migration {
        version: 12,
        name: "company keys of legal forms letter by letter",
        sqlite: include_str!("../migrations/sqlite/0012_company_keys.sql"),
        postgres: include_str!("../migrations/postgres/0012_company_keys.sql"),
        then: Some(rekey_companies),
    },
    Migration {
        version: 13,
        name: "company legal forms",
        sqlite: include_str!("../migrations/sqlite/0013_company_forms.sql"),
        postgres: include_str!("../migrations/postgres/0013_company_forms.sql"),
        then: Some(form_companies),
    },
    Migration {
        version: 14,
        name: "legal forms learned by imports",
        sqlite: include_str!("../migrations/sqlite/0014_learned_forms.sql"),
        postgres: include_str!("../migrations/postgres/0014_learned_forms.sql"),
        then: None,
    },
];

/// Gives each company the name key this build computes, where it differs
/// from the one stored (an older build's).
fn rekey_companies(db: &mut dyn Sql) -> Result<()> {
    let rows = db.query("SELECT id, name, name_key FROM companies WHERE name IS NOT NULL", &[])?;
    for row in rows {
        let mut row = row.into_iter().map(sql::Cell::into_text);
        let (Some(id), Some(name), stored) = (row.next().flatten(), row.next().flatten(), row.next().flatten()) else {
            continue;
        };
        let key = model::company_key(&name);
        if stored.as_deref() != Some(key.as_str()) {
            db.execute("UPDATE companies SET name_key = ? WHERE id = ?", &[Param::Text(key), Param::Text(id)])?;
        }
    }
    Ok(())
}

/// Gives each company whose name has a legal form that form, and the key
/// this build computes (forms of several words, `Sp. z o.o.`, and Japanese
/// ones, `株式会社`, are read since version 13).
fn form_companies(db: &mut dyn Sql) -> Result<()> {
    let rows = db.query("SELECT id, name, name_key FROM companies WHERE name IS NOT NULL", &[])?;
    for row in rows {
        let mut row = row.into_iter().map(sql::Cell::into_text);
        let (Some(id), Some(name), stored) = (row.next().flatten(), row.next().flatten(), row.next().flatten()) else {
            continue;
        };
        let (key, form) = model::company_key_and_form(&name);
        if form.is_some() || stored.as_deref() != Some(key.as_str()) {
            db.execute(
                "UPDATE companies SET name_key = ?, name_form = ? WHERE id = ?",
                &[Param::Text(key), Param::opt(form), Param::Text(id)],
            )?;
        }
    }
    Ok(())
}

/// The secondary indexes of the record tables, as the migrations leave
/// them: (table, index, columns). A bulk load into an empty table drops its
/// indexes and builds them again at the end; a load that was killed leaves
/// them missing, and the next command that opens the store rebuilds them.
pub(crate) const LOOKUP_INDEXES: &[(&str, &str, &str)] = &[
    ("companies", "companies_domain", "domain"),
    ("companies", "companies_name_key", "name_key"),
    ("companies", "companies_updated", "updated_at"),
    ("contacts", "contacts_email", "email"),
    ("contacts", "contacts_phone", "phone"),
    ("contacts", "contacts_company", "company_id"),
    ("contacts", "contacts_updated", "updated_at"),
    ("deals", "deals_name", "name"),
    ("deals", "deals_company", "company_id"),
    ("deals", "deals_updated", "updated_at"),
    ("activities", "activities_contact", "contact_id"),
    ("activities", "activities_company", "company_id"),
    ("activities", "activities_deal", "deal_id"),
    ("activities", "activities_updated", "updated_at"),
];

/// Drops `indexes` (entries of [`LOOKUP_INDEXES`]), for a write of most
/// of a table (`create_indexes` builds them again after).
pub(crate) fn drop_indexes(db: &mut dyn Sql, indexes: &[&(&str, &str, &str)]) -> Result<()> {
    if indexes.is_empty() {
        return Ok(());
    }
    let sql: String = indexes.iter().map(|(_, name, _)| format!("DROP INDEX IF EXISTS {name};")).collect();
    db.batch(&sql)
}

/// Builds `indexes` (entries of [`LOOKUP_INDEXES`]) where they are missing.
pub(crate) fn create_indexes(db: &mut dyn Sql, indexes: &[&(&str, &str, &str)]) -> Result<()> {
    if indexes.is_empty() {
        return Ok(());
    }
    let sql: String = indexes
        .iter()
        .map(|(table, name, columns)| format!("CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns});"))
        .collect();
    db.build_indexes(&sql)
}

/// The schema version this build of crmsync reads and writes.
pub const SCHEMA_VERSION: u32 = 14;

/// What `migrate` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    pub from: u32,
    pub to: u32,
    /// Names of the migrations applied, in order.
    pub applied: Vec<String>,
}

/// A store of customer records.
pub struct Store {
    pub(crate) db: Box<dyn Sql>,
}

/// Opens the store at `url` without checking its schema (for `init`),
/// creating a SQLite file that is not there.
pub fn open(url: &str) -> Result<Store> {
    open_as(url, true)
}

fn open_as(url: &str, create: bool) -> Result<Store> {
    let db: Box<dyn Sql> = match url.split_once("://").map(|(scheme, _)| scheme) {
        Some("sqlite") => Box::new(sqlite::SqliteConn::open(url, create)?),
        // A bare path is a SQLite file.
        None if !url.is_empty() => Box::new(sqlite::SqliteConn::open(url, create)?),
        Some("postgres" | "postgresql") => Box::new(postgres::PgConn::open(url, create)?),
        _ => {
            return Err(Error::Url {
                url: url.to_string(),
                message: "expected sqlite://FILE or postgres://USER@HOST/DB".to_string(),
            });
        }
    };
    Ok(Store { db })
}

/// Opens the store for work: it must be initialised and at this build's version.
pub fn open_current(url: &str) -> Result<Store> {
    // A mistyped path says "run init", and leaves no empty file behind.
    let mut store = open_as(url, false)?;
    let location = store.location().to_string();
    match store.schema_version()? {
        None => Err(Error::NotInitialised { location }),
        Some(v) if v > SCHEMA_VERSION => Err(Error::Newer { location, found: v, known: SCHEMA_VERSION }),
        Some(v) if v < SCHEMA_VERSION => Err(Error::Outdated { location, found: v, latest: SCHEMA_VERSION }),
        Some(_) => {
            store.restore_indexes()?;
            Ok(store)
        }
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
    "batch_rejects",
    "audit",
    "custom_keys",
];

impl Store {
    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.db.backend().name()
    }

    /// Where the store is, for messages (the URL without a password).
    pub fn location(&self) -> &str {
        self.db.location()
    }

    /// The schema version, or `None` when the store was never initialised.
    pub fn schema_version(&mut self) -> Result<Option<u32>> {
        if !self.db.has_table("crmsync_meta")? {
            return Ok(None);
        }
        let row = self.db.query_row("SELECT value FROM crmsync_meta WHERE key = 'schema_version'", &[])?;
        Ok(row.and_then(|r| r.into_iter().next()).and_then(|c| c.into_text()).and_then(|s| s.parse().ok()))
    }

    /// Applies every migration newer than the store, each in its own
    /// transaction, and records the new version. A store a newer crmsync
    /// made is never touched.
    pub fn migrate(&mut self) -> Result<Migrated> {
        // Two `init`s at once take turns, and the second finds the work done.
        self.db.hold_writers()?;
        let from = self.schema_version()?.unwrap_or(0);
        if from > SCHEMA_VERSION {
            return Err(Error::Newer { location: self.location().to_string(), found: from, known: SCHEMA_VERSION });
        }
        let mut applied = Vec::new();
        for m in MIGRATIONS.iter().filter(|m| m.version > from) {
            let sql = match self.db.backend() {
                sql::Backend::Sqlite => m.sqlite,
                sql::Backend::Postgres => m.postgres,
            };
            self.db.begin()?;
            // (SQLite's writers take turns only here: another `init` may
            // have applied it meanwhile.)
            if self.schema_version()?.unwrap_or(0) >= m.version {
                self.db.commit()?;
                continue;
            }
            let res = self
                .db
                .batch("CREATE TABLE IF NOT EXISTS crmsync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")
                .and_then(|()| self.db.batch(sql))
                .and_then(|()| m.then.map_or(Ok(()), |then| then(self.db.as_mut())))
                .and_then(|()| {
                    self.db.execute(
                        "INSERT INTO crmsync_meta (key, value) VALUES ('schema_version', ?) \
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        &[Param::Text(m.version.to_string())],
                    )
                })
                .and_then(|_| self.db.commit());
            if let Err(e) = res {
                let _ = self.db.rollback();
                return Err(Error::Migration { version: m.version, name: m.name.to_string(), source: Box::new(e) });
            }
            applied.push(m.name.to_string());
        }
        let to = self.schema_version()?.unwrap_or(from);
        Ok(Migrated { from, to, applied })
    }

    /// Names of the indexes the store has.
    pub(crate) fn index_names(db: &mut dyn Sql) -> Result<Vec<String>> {
        let sql = match db.backend() {
            sql::Backend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index'",
            sql::Backend::Postgres => "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()",
        };
        Ok(db.query(sql, &[])?.into_iter().filter_map(|r| r.into_iter().next().and_then(|c| c.into_text())).collect())
    }

    /// Builds the lookup indexes a killed bulk load left missing.
    fn restore_indexes(&mut self) -> Result<()> {
        let have = Self::index_names(self.db.as_mut())?;
        let missing: Vec<_> = LOOKUP_INDEXES.iter().filter(|(_, name, _)| !have.iter().any(|h| h == name)).collect();
        if missing.is_empty() {
            return Ok(());
        }
        self.db.begin()?;
        match create_indexes(self.db.as_mut(), &missing).and_then(|()| self.db.commit()) {
            Ok(()) => Ok(()),
            Err(e) => {
                let _ = self.db.rollback();
                Err(e)
            }
        }
    }

    /// Rows of a table (`companies`, `contacts`, ...), deleted ones included.
    pub fn count(&mut self, table: &str) -> Result<u64> {
        if !TABLES.contains(&table) {
            return Ok(0);
        }
        self.db.query_count(&format!("SELECT count(*) FROM {table}"), &[])
    }

    /// Direct access to the SQL layer, for tests and reports.
    pub fn sql(&mut self) -> &mut dyn Sql {
        self.db.as_mut()
    }
}
