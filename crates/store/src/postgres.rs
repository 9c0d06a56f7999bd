//! The PostgreSQL store. `?schema=NAME` in the URL puts crmsync's tables in
//! that schema (created by `init`), so one database can hold several stores.
//!
//! Parameters go to the server in text form and the server parses them into
//! the column's type (timestamptz, numeric, jsonb), so the portable SQL above
//! needs no casts; results are decoded from the binary form into the same
//! canonical text SQLite holds.

mod copy;

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt::Write as _;
use std::sync::mpsc;

use postgres::types::{Format, FromSql, IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Statement};

use crate::error::{Error, Result};
use crate::sql::{Arg, Backend, Cell, Param, Sql, what};

pub struct PgConn {
    link: Link,
    location: String,
    /// Prepared statements by their SQL (foldhash: the keys are long).
    statements: HashMap<String, Statement, foldhash::fast::RandomState>,
    in_tx: bool,
    /// Whether the server has `pg_current_snapshot` (PostgreSQL 13+).
    snapshots: bool,
    /// See `others_version`: the transaction id taken at the last call, if
    /// no other transaction was running then; and the version it returned.
    last_xid: Option<u64>,
    /// The (32-bit) ids of the transactions `others_version` began in, for
    /// `only_ours`.
    own_xids: Vec<i64>,
    others: i64,
}

/// The connection, or the thread holding it while it runs statements sent
/// ahead (`insert_many`, `execute_later`). The store's thread goes on with
/// its next rows meanwhile, where it used to wait for each COPY: the sync
/// client cannot pipeline. Any call that needs an answer takes the
/// connection back first, once everything sent ahead has run, in order;
/// the first error among them is that call's error.
enum Link {
    Here(Box<Client>),
    Away {
        jobs: mpsc::SyncSender<Job>,
        back: mpsc::Receiver<(Box<Client>, Result<()>)>,
    },
    /// The thread ended without handing the connection back.
    Lost,
}

type Job = Box<dyn FnOnce(&mut Client) -> Result<()> + Send>;

fn lost(location: &str) -> Error {
    Error::Invalid(format!("{location}: the connection to the server was lost"))
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

/// `?` placeholders become `$1, $2, ...`; quoted text is left alone.
fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                n += 1;
                let _ = write!(out, "${n}");
            }
            _ => out.push(c),
        }
    }
    out
}

impl PgConn {
    /// Opens a connection; `create` makes the URL's schema when it does
    /// not exist yet (for `init`: a mistyped schema given to any other
    /// command says to run `init` and leaves nothing behind).
    pub fn open(url: &str, create: bool) -> Result<Self> {
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
        let mut conn = Self {
            link: Link::Here(Box::new(client)),
            location,
            statements: HashMap::default(),
            in_tx: false,
            snapshots: false,
            last_xid: None,
            own_xids: Vec::new(),
            others: 0,
        };
        // Tables grow from empty during an import: plans made when they were
        // small (sequential scans) must not be reused once they are large.
        let mut setup = "SET client_min_messages TO warning; SET plan_cache_mode TO force_custom_plan;".to_string();
        if let Some(s) = &schema {
            if create {
                // Two `init`s at once would both create it, and one fail on
                // the catalog's unique index: they take turns.
                let _ = write!(
                    setup,
                    "BEGIN; SELECT pg_advisory_xact_lock(hashtext('crmsync schema {}')); \
                     CREATE SCHEMA IF NOT EXISTS \"{s}\"; COMMIT;",
                    s.replace('\'', "''")
                );
            }
            let _ = write!(setup, "SET search_path TO \"{s}\";");
        }
        conn.batch(&setup)?;
        let err = conn.err("cannot read the server version");
        let version = conn.client()?.query_one("SHOW server_version_num", &[]).map_err(err)?;
        conn.snapshots = version.get::<_, String>(0).parse::<u32>().is_ok_and(|v| v >= 130_000);
        Ok(conn)
    }

    fn err(&self, context: &str) -> impl FnOnce(postgres::Error) -> Error + use<> {
        let location = self.location.clone();
        let context = context.to_string();
        move |source| Error::Postgres { location, context, source }
    }

    /// The connection, taken back from the thread running statements sent
    /// ahead once they have all run (see `Link`).
    fn client(&mut self) -> Result<&mut Client> {
        if matches!(self.link, Link::Away { .. }) {
            let Link::Away { jobs, back } = std::mem::replace(&mut self.link, Link::Lost) else {
                return Err(lost(&self.location));
            };
            // Closing the queue ends the thread's loop.
            drop(jobs);
            let (client, ran) = back.recv().map_err(|_| lost(&self.location))?;
            self.link = Link::Here(client);
            ran?;
        }
        match &mut self.link {
            Link::Here(client) => Ok(client),
            _ => Err(lost(&self.location)),
        }
    }

    /// Runs `job` on the connection after whatever was sent before it,
    /// without waiting for it.
    fn send_ahead(&mut self, job: Job) -> Result<()> {
        let job = match &self.link {
            Link::Away { jobs, .. } => match jobs.send(job) {
                Ok(()) => return Ok(()),
                Err(mpsc::SendError(job)) => job,
            },
            _ => job,
        };
        // No thread holds the connection (or its thread panicked): take the
        // connection back, then hand it to a new thread.
        self.client()?;
        let Link::Here(mut client) = std::mem::replace(&mut self.link, Link::Lost) else {
            return Err(lost(&self.location));
        };
        // A short queue: the caller waits rather than pile up COPY data.
        let (jobs, inbox) = mpsc::sync_channel::<Job>(2);
        let (reply, back) = mpsc::channel();
        std::thread::spawn(move || {
            let mut ran = Ok(());
            for job in inbox {
                // After a failure the transaction is aborted: the rest is skipped.
                if ran.is_ok() {
                    ran = job(&mut client);
                }
            }
            let _ = reply.send((client, ran));
        });
        // The queue's other end lives in the thread just started.
        let _ = jobs.send(job);
        self.link = Link::Away { jobs, back };
        Ok(())
    }

    /// Commits with `sql`, unless something sent ahead failed: the
    /// transaction is then rolled back, and that failure is the error.
    fn end_tx(&mut self, sql: &str) -> Result<()> {
        if let Err(e) = self.client() {
            if matches!(self.link, Link::Here(_)) {
                let _ = self.batch("ROLLBACK");
            }
            return Err(e);
        }
        self.batch(sql)
    }

    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        if self.statements.len() > 256 {
            self.statements.clear();
        }
        let err = self.err(&what(sql));
        let stmt = self.client()?.prepare(&numbered(sql)).map_err(err)?;
        self.statements.insert(sql.to_string(), stmt.clone());
        Ok(stmt)
    }

    /// How binary COPY writes each of `columns` (a comma-separated list)
    /// of `table`; `None` if some column's type has no writer.
    fn copy_fields(&mut self, table: &str, columns: &str) -> Result<Option<Vec<copy::Field>>> {
        // The types come with the statement (cached), not from a query.
        let stmt = self.statement(&format!("SELECT {columns} FROM {table} LIMIT 0"))?;
        Ok(stmt.columns().iter().map(|c| copy::Field::of(c.type_())).collect())
    }
}

impl Drop for PgConn {
    fn drop(&mut self) {
        // Ends the thread holding the connection, if one does.
        let _ = self.client();
    }
}

impl ToSql for Param {
    fn to_sql(&self, _ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self {
            Param::Null => return Ok(IsNull::Yes),
            Param::Text(s) => out.extend_from_slice(s.as_bytes()),
            Param::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
            Param::Bytes(b) => out.extend_from_slice(b),
        }
        Ok(IsNull::No)
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }

    fn encode_format(&self, _ty: &Type) -> Format {
        match self {
            Param::Bytes(_) => Format::Binary,
            _ => Format::Text,
        }
    }

    to_sql_checked!();
}

/// Any column, decoded from PostgreSQL's binary form into crmsync's cells.
struct AnyCell(Cell);

fn be_i64(raw: &[u8]) -> i64 {
    let mut b = [0u8; 8];
    let n = raw.len().min(8);
    b[8 - n..].copy_from_slice(&raw[..n]);
    let v = i64::from_be_bytes(b);
    // Sign-extend shorter integers.
    let shift = 64 - 8 * n as u32;
    if n == 0 || shift == 0 { v } else { (v << shift) >> shift }
}

/// PostgreSQL's NUMERIC: base-10000 digit groups with a weight and a
/// display scale, printed the way `numeric_out` does.
fn numeric(raw: &[u8]) -> Option<String> {
    let word = |i: usize| raw.get(i..i + 2).map(|b| i16::from_be_bytes([b[0], b[1]]));
    let ndigits = word(0)? as usize;
    let weight = word(2)?;
    let sign = word(4)? as u16;
    let dscale = word(6)? as usize;
    if sign == 0xC000 {
        return Some("NaN".into());
    }
    let digits: Vec<i16> = (0..ndigits).filter_map(|i| word(8 + 2 * i)).collect();
    let digit = |i: i32| if i < 0 { 0 } else { digits.get(i as usize).copied().unwrap_or(0) };
    let mut s = String::new();
    if sign == 0x4000 {
        s.push('-');
    }
    if weight < 0 {
        s.push('0');
    } else {
        for i in 0..=i32::from(weight) {
            if i == 0 {
                let _ = write!(s, "{}", digit(i));
            } else {
                let _ = write!(s, "{:04}", digit(i));
            }
        }
    }
    if dscale > 0 {
        let mut frac = String::new();
        let mut i = i32::from(weight) + 1;
        while frac.len() < dscale {
            let _ = write!(frac, "{:04}", digit(i));
            i += 1;
        }
        frac.truncate(dscale);
        s.push('.');
        s.push_str(&frac);
    }
    Some(s)
}

impl<'a> FromSql<'a> for AnyCell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        let text = |b: &[u8]| Cell::Text(crate::sql::text_of(b).into_owned());
        let cell = match *ty {
            Type::BOOL => Cell::Int(i64::from(raw.first().is_some_and(|b| *b != 0))),
            Type::INT2 | Type::INT4 | Type::INT8 | Type::OID => Cell::Int(be_i64(raw)),
            Type::BYTEA => Cell::Bytes(raw.to_vec()),
            Type::JSONB => text(raw.get(1..).unwrap_or_default()),
            Type::TIMESTAMPTZ | Type::TIMESTAMP => {
                // Microseconds since 2000-01-01 UTC.
                let micros = be_i64(raw).saturating_add(946_684_800_000_000);
                match crate::model::micros_text(micros) {
                    Some(t) => Cell::Text(t),
                    None => return Err(format!("a time out of range: {micros} µs from 1970").into()),
                }
            }
            Type::DATE => {
                let days = be_i64(raw);
                let epoch = jiff::civil::date(2000, 1, 1);
                match epoch.checked_add(jiff::Span::new().days(days)) {
                    Ok(d) => Cell::Text(d.to_string()),
                    Err(e) => return Err(Box::new(e)),
                }
            }
            Type::NUMERIC => match numeric(raw) {
                Some(s) => Cell::Text(s),
                None => return Err("malformed numeric".into()),
            },
            Type::FLOAT8 => Cell::Text(f64::from_be_bytes(raw.try_into()?).to_string()),
            Type::FLOAT4 => Cell::Text(f32::from_be_bytes(raw.try_into()?).to_string()),
            _ => text(raw),
        };
        Ok(AnyCell(cell))
    }

    fn from_sql_null(_ty: &Type) -> Result<Self, Box<dyn StdError + Sync + Send>> {
        Ok(AnyCell(Cell::Null))
    }

    fn accepts(_ty: &Type) -> bool {
        true
    }
}

impl Sql for PgConn {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    fn location(&self) -> &str {
        &self.location
    }

    fn batch(&mut self, sql: &str) -> Result<()> {
        let err = self.err(&what(sql));
        self.client()?.batch_execute(sql).map_err(err)
    }

    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64> {
        let stmt = self.statement(sql)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let err = self.err(&what(sql));
        self.client()?.execute(&stmt, &refs).map_err(err)
    }

    fn execute_later(&mut self, sql: &str, params: &[Param]) -> Result<()> {
        let stmt = self.statement(sql)?;
        let params = params.to_vec();
        let err = self.err(&what(sql));
        self.send_ahead(Box::new(move |client| {
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
            client.execute(&stmt, &refs).map(|_| ()).map_err(err)
        }))
    }

    fn insert_many(&mut self, table: &str, columns: &[&str], params: &[Arg<'_>]) -> Result<()> {
        use std::io::Write as _;
        if columns.is_empty() || params.is_empty() {
            return Ok(());
        }
        // COPY instead of INSERT: one round trip for any number of rows, and
        // the server's bulk path (rows/s several times that of INSERTs).
        let list = columns.join(", ");
        let binary = self.copy_fields(table, &list)?.and_then(|fields| copy::binary(&fields, params));
        let (sql, data) = match binary {
            Some(data) => (format!("COPY {table} ({list}) FROM STDIN (FORMAT binary)"), data),
            None => (format!("COPY {table} ({list}) FROM STDIN"), copy::text(columns.len(), params)),
        };
        let stmt = self.statement(&sql)?;
        let err = self.err(&what(&sql));
        let failed = format!("{}: COPY into {table} failed", self.location);
        self.send_ahead(Box::new(move |client| {
            let mut writer = match client.copy_in(&stmt) {
                Ok(w) => w,
                Err(e) => return Err(err(e)),
            };
            if let Err(e) = writer.write_all(&data) {
                return Err(Error::Invalid(format!("{failed}: {e}")));
            }
            writer.finish().map(|_| ()).map_err(err)
        }))
    }

    fn query_each(&mut self, sql: &str, params: &[Param], each: &mut dyn FnMut(Vec<Cell>) -> Result<()>) -> Result<()> {
        use postgres::fallible_iterator::FallibleIterator;
        let stmt = self.statement(sql)?;
        let n = stmt.columns().len();
        let err = self.err(&what(sql));
        let mut rows = match self.client()?.query_raw(&stmt, params.iter()) {
            Ok(r) => r,
            Err(e) => return Err(err(e)),
        };
        loop {
            match rows.next() {
                Ok(Some(row)) => {
                    let mut cells = Vec::with_capacity(n);
                    for i in 0..n {
                        match row.try_get::<_, AnyCell>(i) {
                            Ok(c) => cells.push(c.0),
                            Err(e) => return Err(err(e)),
                        }
                    }
                    each(cells)?;
                }
                Ok(None) => return Ok(()),
                Err(e) => return Err(err(e)),
            }
        }
    }

    fn begin(&mut self) -> Result<()> {
        self.batch("BEGIN")?;
        self.in_tx = true;
        Ok(())
    }

    fn commit(&mut self) -> Result<()> {
        self.in_tx = false;
        self.end_tx("COMMIT")
    }

    fn wait(&mut self) -> Result<()> {
        self.client().map(|_| ())
    }

    fn commit_lazily(&mut self) -> Result<()> {
        self.in_tx = false;
        self.end_tx("SET LOCAL synchronous_commit TO off; COMMIT")
    }

    fn rollback(&mut self) -> Result<()> {
        if !std::mem::take(&mut self.in_tx) {
            return Ok(());
        }
        // What was sent ahead may have failed: that is why we are here.
        let _ = self.client();
        if !matches!(&self.link, Link::Here(client) if !client.is_closed()) {
            return Ok(());
        }
        self.batch("ROLLBACK")
    }

    /// PostgreSQL keeps no count of commits, but transaction ids tell: if
    /// no other transaction was running when the last one began, and the
    /// only id handed out since is the one that transaction took, then
    /// nobody else has written in between. Ids are cluster-wide, so on a
    /// busy server any writer anywhere counts as "another commit": the
    /// answer errs towards "someone wrote", never the other way.
    fn others_version(&mut self) -> Result<Option<i64>> {
        if !self.snapshots {
            return Ok(None);
        }
        let err = self.err("cannot read the transaction snapshot");
        // The snapshot is taken as the statement starts; the id after.
        let row = self
            .client()?
            .query_one("SELECT pg_current_snapshot()::text, pg_current_xact_id()::text", &[])
            .map_err(err)?;
        let snapshot: String = row.try_get(0).unwrap_or_default();
        let xid: Option<u64> = row.try_get::<_, String>(1).ok().and_then(|x| x.parse().ok());
        // `xmin:xmax:running ids`; anything else reads as "not alone".
        let mut parts = snapshot.split(':');
        let (_xmin, xmax, running) = (parts.next(), parts.next().and_then(|x| x.parse::<u64>().ok()), parts.next());
        let alone = running.is_some_and(str::is_empty) && xid.is_some() && xid == xmax;
        let quiet = alone && self.last_xid.and_then(|last| last.checked_add(1)).is_some_and(|next| Some(next) == xmax);
        if !quiet {
            self.others += 1;
        }
        self.last_xid = if alone { xid } else { None };
        if let Some(x) = xid {
            self.own_xids.push((x & 0xffff_ffff) as i64);
        }
        Ok(Some(self.others))
    }

    fn only_ours(&mut self, table: &str) -> Result<bool> {
        // (Rows carry the 32-bit id of the transaction that wrote them.)
        let ours = self.own_xids.clone();
        let err = self.err("cannot read who wrote the table");
        let sql = format!("SELECT 1 FROM {table} WHERE NOT (xmin::text::bigint = ANY($1)) LIMIT 1");
        let row = self.client()?.query_opt(&sql, &[&ours]).map_err(err)?;
        Ok(row.is_none())
    }

    fn hold_writers(&mut self) -> Result<()> {
        // An advisory lock per schema, held by the session: imports, undos
        // and declarations of one store take turns, as on SQLite; other
        // schemas and readers go on. Given up after five minutes, as
        // SQLite's busy timeout.
        let err = self.err("cannot wait for other writers to this store");
        let client = self.client()?;
        client
            .batch_execute(
                "SET lock_timeout = '300s'; \
                 SELECT pg_advisory_lock(hashtext('crmsync writer ' || current_schema())); \
                 SET lock_timeout = 0;",
            )
            .map_err(err)
    }

    fn has_table(&mut self, table: &str) -> Result<bool> {
        let err = self.err("cannot read the schema");
        let row = self.client()?.query_one("SELECT to_regclass($1::text) IS NOT NULL", &[&table]).map_err(err)?;
        Ok(row.get::<_, bool>(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redact("postgres://bob:secret@db/crm"), "postgres://bob:***@db/crm");
        assert_eq!(redact("postgres://bob@db/crm"), "postgres://bob@db/crm");
    }

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(
            numbered("SELECT '?' FROM t WHERE a = ? AND b IN (?, ?)"),
            "SELECT '?' FROM t WHERE a = $1 AND b IN ($2, $3)"
        );
    }

    #[test]
    fn numerics_print_like_postgres() {
        // 1234.50: ndigits 2, weight 0, sign +, dscale 2, digits [1234, 5000]
        let raw = [0, 2, 0, 0, 0, 0, 0, 2, 0x04, 0xD2, 0x13, 0x88];
        assert_eq!(numeric(&raw).as_deref(), Some("1234.50"));
        // -0.05: ndigits 1, weight -1, sign -, dscale 2, digits [500]
        let raw = [0, 1, 0xFF, 0xFF, 0x40, 0, 0, 2, 0x01, 0xF4];
        assert_eq!(numeric(&raw).as_deref(), Some("-0.05"));
        // 10000: ndigits 1, weight 1, dscale 0, digits [1]
        let raw = [0, 1, 0, 1, 0, 0, 0, 0, 0, 1];
        assert_eq!(numeric(&raw).as_deref(), Some("10000"));
    }
}
