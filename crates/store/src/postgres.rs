//! The PostgreSQL store. `?schema=NAME` in the URL puts crmsync's tables in
//! that schema (created by `init`), so one database can hold several stores.

use postgres::{Client, NoTls};

use crate::error::{Error, Result};
use crate::{MIGRATIONS, Migrated, Store};

pub struct PgStore {
    client: Client,
    location: String,
    schema: Option<String>,
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn valid_schema(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

impl PgStore {
    pub fn open(url: &str) -> Result<Self> {
        let location = redact(url);
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut schema = None;
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("schema", v)) => schema = Some(v.to_string()),
                _ => rest.push(pair),
            }
        }
        if let Some(s) = &schema
            && !valid_schema(s)
        {
            return Err(Error::Url {
                url: location,
                message: format!("schema {s:?} must be letters, digits and underscores"),
            });
        }
        let conn_url = if rest.is_empty() { base.to_string() } else { format!("{base}?{}", rest.join("&")) };
        let client = Client::connect(&conn_url, NoTls).map_err(|source| Error::Postgres {
            location: location.clone(),
            context: "cannot connect".to_string(),
            source,
        })?;
        let mut store = Self { client, location, schema };
        if let Some(s) = store.schema.clone() {
            // The schema may not exist before `init`; search_path tolerates that.
            let sql = format!("SET search_path TO \"{s}\"");
            store.client.batch_execute(&sql).map_err(store.err("cannot select the schema"))?;
        }
        Ok(store)
    }

    fn err(&self, context: &str) -> impl FnOnce(postgres::Error) -> Error + use<> {
        let location = self.location.clone();
        let context = context.to_string();
        move |source| Error::Postgres { location, context, source }
    }
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn schema_version(&mut self) -> Result<Option<u32>> {
        let row = self
            .client
            .query_one("SELECT to_regclass('crmsync_meta') IS NOT NULL", &[])
            .map_err(self.err("cannot read the schema"))?;
        if !row.get::<_, bool>(0) {
            return Ok(None);
        }
        let rows = self
            .client
            .query("SELECT value FROM crmsync_meta WHERE key = 'schema_version'", &[])
            .map_err(self.err("cannot read the schema version"))?;
        Ok(rows.first().and_then(|r| r.get::<_, String>(0).parse().ok()))
    }

    fn migrate(&mut self) -> Result<Migrated> {
        if let Some(s) = self.schema.clone() {
            let sql = format!("CREATE SCHEMA IF NOT EXISTS \"{s}\"; SET search_path TO \"{s}\"");
            self.client.batch_execute(&sql).map_err(self.err("cannot create the schema"))?;
        }
        let from = self.schema_version()?.unwrap_or(0);
        crate::check_newer(&self.location, from)?;
        let mut applied = Vec::new();
        for m in MIGRATIONS.iter().filter(|m| m.version > from) {
            let err = self.err(&format!("migration {} ({})", m.version, m.name));
            let start = self.err("cannot start a transaction");
            let mut tx = self.client.transaction().map_err(start)?;
            let res = tx
                .batch_execute("CREATE TABLE IF NOT EXISTS crmsync_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")
                .and_then(|_| tx.batch_execute(m.postgres))
                .and_then(|_| {
                    tx.execute(
                        "INSERT INTO crmsync_meta (key, value) VALUES ('schema_version', $1) \
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        &[&m.version.to_string()],
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
        let row = self
            .client
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .map_err(self.err(&format!("cannot count {table}")))?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redact("postgres://bob:secret@db/crm"), "postgres://bob:***@db/crm");
        assert_eq!(redact("postgres://bob@db/crm"), "postgres://bob@db/crm");
    }
}
