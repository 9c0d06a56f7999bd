//! The little SQL both backends share. Everything above this layer (import,
//! export, undo, reports) is written once, in portable SQL with `?`
//! placeholders, and runs on SQLite and PostgreSQL alike; a backend only
//! executes statements and hands back cells.
//!
//! Values cross the boundary as text (or bytes for hashes): crmsync keeps
//! every value in a canonical text form (dates as ISO 8601, decimals with
//! their scale), so both backends store and return the same strings.

use crmsync_core::value::LIST_SEPARATOR;

use crate::error::Result;
use crate::model::Kind;

/// A statement parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Param {
    Null,
    Text(String),
    Int(i64),
    Bytes(Vec<u8>),
}

impl Param {
    pub fn opt(v: Option<&str>) -> Param {
        match v {
            Some(s) => Param::Text(s.to_string()),
            None => Param::Null,
        }
    }
}

impl From<&str> for Param {
    fn from(s: &str) -> Self {
        Param::Text(s.to_string())
    }
}

impl From<String> for Param {
    fn from(s: String) -> Self {
        Param::Text(s)
    }
}

impl From<&String> for Param {
    fn from(s: &String) -> Self {
        Param::Text(s.clone())
    }
}

impl From<i64> for Param {
    fn from(n: i64) -> Self {
        Param::Int(n)
    }
}

impl From<Option<String>> for Param {
    fn from(v: Option<String>) -> Self {
        v.map_or(Param::Null, Param::Text)
    }
}

/// A borrowed parameter, for bulk inserts: rows are written straight from
/// the values they hold, with no copy of each cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg<'a> {
    Null,
    Text(&'a str),
    Int(i64),
    Bytes(&'a [u8]),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(s)
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Arg::Null, Arg::Text)
    }
}

/// A result cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Int(i64),
    Bytes(Vec<u8>),
}

impl Cell {
    pub fn text(&self) -> Option<&str> {
        match self {
            Cell::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn into_text(self) -> Option<String> {
        match self {
            Cell::Text(s) => Some(s),
            Cell::Int(n) => Some(n.to_string()),
            Cell::Null | Cell::Bytes(_) => None,
        }
    }

    pub fn int(&self) -> i64 {
        match self {
            Cell::Int(n) => *n,
            Cell::Text(s) => s.parse().unwrap_or(0),
            Cell::Null | Cell::Bytes(_) => 0,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            Cell::Bytes(b) => b,
            _ => &[],
        }
    }

    pub fn lend(&self) -> Lent<'_> {
        match self {
            Cell::Null => Lent::Null,
            Cell::Text(s) => Lent::Text(s.as_bytes()),
            Cell::Int(n) => Lent::Int(*n),
            Cell::Bytes(b) => Lent::Bytes(b),
        }
    }
}

/// A cell lent by the row being read (`Sql::query_each_lent`): the caller
/// copies only what it keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Lent<'a> {
    Null,
    Text(&'a [u8]),
    Int(i64),
    Real(f64),
    Bytes(&'a [u8]),
}

impl Lent<'_> {
    /// The cell copied out of the row.
    pub fn to_cell(self) -> Cell {
        match self {
            Lent::Null => Cell::Null,
            Lent::Int(n) => Cell::Int(n),
            Lent::Bytes(b) => Cell::Bytes(b.to_vec()),
            Lent::Text(_) | Lent::Real(_) => self.to_text().map_or(Cell::Null, Cell::Text),
        }
    }

    /// The cell as text, as `Cell::into_text` gives it.
    pub fn to_text(self) -> Option<String> {
        match self {
            Lent::Text(t) => Some(text_of(t).into_owned()),
            Lent::Int(n) => Some(n.to_string()),
            Lent::Real(f) => Some(f.to_string()),
            Lent::Null | Lent::Bytes(_) => None,
        }
    }
}

/// What `--where` compares as a number: digits with an optional sign,
/// decimal point and exponent, spaces around (PostgreSQL's regular
/// expression; `is_number` is the same rule for SQLite).
const NUMBER_PATTERN: &str = r"^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]{1,3})?\s*$";

/// A number (by `NUMBER_PATTERN`) as text whose byte order is the
/// numbers' order, exactly, whatever their digits: SQLite compares numbers
/// as 64-bit floats, which hold 99999999999999999.98 and .99 as one.
/// (PostgreSQL's numeric is exact.) `None` for text that is no number.
///
/// The key is a class (`0` negative, `1` zero, `2` positive), the decimal
/// exponent offset by 50000 (five digits; for negatives, taken from 50000
/// so that bigger magnitudes come first), then the significant digits (for
/// negatives, each as 9 minus it, ended by `~` so that a longer magnitude
/// comes first).
pub(crate) fn number_key(text: &str) -> Option<String> {
    if !is_number(text) {
        return None;
    }
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b');
    let (negative, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (mantissa, exp) = match t.find(['e', 'E']) {
        Some(at) => (&t[..at], t[at + 1..].parse::<i64>().ok()?),
        None => (t, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: String = whole.chars().chain(fraction.chars()).collect();
    let lead = digits.len() - digits.trim_start_matches('0').len();
    let significant = digits.trim_start_matches('0').trim_end_matches('0');
    if significant.is_empty() {
        return Some("1".to_string());
    }
    // The value is 0.significant × 10^e.
    let e = whole.len() as i64 - lead as i64 + exp;
    Some(if negative {
        let flipped: String = significant.bytes().map(|d| char::from(b'9' - (d - b'0'))).collect();
        format!("0{:05}{flipped}~", 50_000 - e)
    } else {
        format!("2{:05}{significant}", 50_000 + e)
    })
}

/// Text with each letter lowercased on its own, as PostgreSQL's lower()
/// does: `İ` is `i`, `Σ` is `σ` wherever it stands; and a word's final `ς`
/// is `σ`, so that `σοφος` finds `ΣΟΦΟΣ` (`Backend::fold`).
pub(crate) fn fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{130}' => 'i',
            'ς' => 'σ',
            c => c.to_lowercase().next().unwrap_or(c),
        })
        .collect()
}

/// Whether `text` is a number by `NUMBER_PATTERN`.
pub(crate) fn is_number(text: &str) -> bool {
    let t = text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\x0b').as_bytes();
    let digits = |from: usize| from + t[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut i = usize::from(matches!(t.first(), Some(b'+' | b'-')));
    let whole = digits(i);
    let mut fraction = whole;
    if t.get(whole) == Some(&b'.') {
        fraction = digits(whole + 1);
    }
    if whole == i && fraction <= whole + 1 {
        return false;
    }
    i = fraction;
    if matches!(t.get(i), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(t.get(i + 1), Some(b'+' | b'-')));
        let end = digits(i + 1 + sign);
        if !(1..=3).contains(&(end - (i + 1 + sign))) {
            return false;
        }
        i = end;
    }
    i == t.len()
}

/// Which SQL dialect a backend speaks, for the few places they differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The SQL literal of SQLite's JSON path to a custom field: the key in
/// double quotes, where SQLite reads `\\` and `\"` as JSON escapes (a
/// key with a backslash or a quote was found by no path before).
fn sqlite_path(name: &str) -> String {
    let label = name.replace('\\', "\\\\").replace('"', "\\\"");
    format!("'$.\"{}\"'", label.replace('\'', "''"))
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// A custom field's value as text: `custom` holds a JSON object.
    pub fn custom_text(self, table: &str, name: &str) -> String {
        match self {
            Backend::Sqlite => format!("json_extract({table}.custom, {})", sqlite_path(name)),
            Backend::Postgres => format!("({table}.custom ->> '{}')", name.replace('\'', "''")),
        }
    }

    /// A custom field's value as the text keys compare: a string as it is,
    /// a number or boolean as JSON writes it, as PostgreSQL's `->>` gives
    /// it. (SQLite's `json_extract` gives numbers as numbers, which equal no
    /// text: a key on a numeric custom field never matched.)
    pub fn custom_key_text(self, table: &str, name: &str) -> String {
        match self {
            Backend::Sqlite => {
                let path = sqlite_path(name);
                format!(
                    "(CASE json_type({table}.custom, {path}) WHEN 'text' THEN json_extract({table}.custom, {path}) \
                     WHEN 'null' THEN NULL ELSE {table}.custom -> {path} END)"
                )
            }
            Backend::Postgres => self.custom_text(table, name),
        }
    }

    /// `expr` compared as a number (with a parameter written as
    /// `numeric_param` gives it).
    pub fn numeric(self, expr: &str) -> String {
        // Text that is not a number is no number (NULL), on both backends:
        // SQLite's CAST would read "abc" as 0, PostgreSQL's would fail the
        // whole query on it.
        match self {
            // Exactly, through a key whose text order is the numbers' order
            // (`number_key`), where SQLite's own comparison is a float's.
            Backend::Sqlite => format!("crmsync_number_key({expr})"),
            Backend::Postgres => {
                format!("(CASE WHEN CAST({expr} AS TEXT) ~ '{NUMBER_PATTERN}' THEN CAST({expr} AS NUMERIC) END)")
            }
        }
    }

    /// Whether the text of `expr` is a code written with a leading zero
    /// (`02134`, `007`): digits only, but no number to compare as one
    /// (`0012.50` is a number, written with zeros to pad it).
    pub fn code_like(self, expr: &str) -> String {
        match self {
            Backend::Sqlite => {
                format!("(CAST({expr} AS TEXT) GLOB '0[0-9]*' AND CAST({expr} AS TEXT) NOT GLOB '*[^0-9]*')")
            }
            Backend::Postgres => format!("(CAST({expr} AS TEXT) ~ '^0[0-9]+$')"),
        }
    }

    /// `expr` with its case folded, for `like`.
    pub fn fold(self, expr: &str) -> String {
        match self {
            Backend::Sqlite => format!("crmsync_fold({expr})"),
            Backend::Postgres => format!("translate(lower({expr}), 'ς', 'σ')"),
        }
    }

    /// A parameter compared with `numeric`.
    pub fn numeric_param(self) -> &'static str {
        match self {
            Backend::Sqlite => "crmsync_number_key(?)",
            Backend::Postgres => "?",
        }
    }

    /// A column of `kind` as the text an export writes (and SQLite stores):
    /// what `like` matches. PostgreSQL has no `lower()` of a date or number,
    /// and writes times with a space and an offset.
    pub fn as_text(self, expr: &str, kind: Kind) -> String {
        match (self, kind) {
            (Backend::Sqlite, _) => expr.to_string(),
            (Backend::Postgres, Kind::DateTime) => {
                format!("to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
            }
            (Backend::Postgres, Kind::Date) => format!("to_char({expr}, 'YYYY-MM-DD')"),
            (Backend::Postgres, _) => format!("CAST({expr} AS TEXT)"),
        }
    }

    /// A list column (`tags`, a JSON array) as its items joined by `; `, as
    /// flat exports write it; NULL for an empty list.
    pub fn list_text(self, expr: &str) -> String {
        match self {
            Backend::Sqlite => format!("(SELECT group_concat(j.value, '{LIST_SEPARATOR}') FROM json_each({expr}) j)"),
            Backend::Postgres => format!(
                "(SELECT string_agg(j.value, '{LIST_SEPARATOR}' ORDER BY j.n) \
                 FROM jsonb_array_elements_text({expr}) WITH ORDINALITY AS j(value, n))"
            ),
        }
    }

    /// Whether a record's `custom` object has the key `name`.
    pub fn has_custom(self, table: &str, name: &str) -> String {
        match self {
            Backend::Sqlite => format!("json_type({table}.custom, {}) IS NOT NULL", sqlite_path(name)),
            Backend::Postgres => format!("jsonb_exists({table}.custom, '{}')", name.replace('\'', "''")),
        }
    }

    /// A query of the distinct custom field names the records of `table`
    /// carry.
    pub fn custom_names(self, table: &str) -> String {
        match self {
            Backend::Sqlite => format!("SELECT DISTINCT j.key FROM {table} t, json_each(t.custom) j"),
            Backend::Postgres => format!("SELECT DISTINCT jsonb_object_keys(t.custom) FROM {table} t"),
        }
    }

    /// The order records of table alias `t` were created in. On SQLite that
    /// is the rowid, which a plain table scan already follows; ordering by
    /// the id would read every row through the id index instead.
    pub fn creation_order(self) -> &'static str {
        match self {
            Backend::Sqlite => "t.rowid",
            Backend::Postgres => "t.id",
        }
    }

    /// What a lookup that must not search a key index goes straight to a
    /// record by: SQLite's rowid (a PostgreSQL row moves on every update, so
    /// there it is the record's id).
    pub fn record_locator(self) -> &'static str {
        match self {
            Backend::Sqlite => "t.rowid",
            Backend::Postgres => "t.id",
        }
    }

    /// Text values of a group joined with `sep`, in `order`.
    pub fn string_agg(self, expr: &str, sep: &str, order: &str) -> String {
        match self {
            Backend::Sqlite => format!("group_concat({expr}, '{sep}' ORDER BY {order})"),
            Backend::Postgres => format!("string_agg({expr}, '{sep}' ORDER BY {order})"),
        }
    }
}

/// What a backend does: run statements. Statements use `?` placeholders.
pub trait Sql: Send {
    fn backend(&self) -> Backend;
    /// Where the store is, for messages (the URL without a password).
    fn location(&self) -> &str;
    /// Runs several statements without parameters.
    fn batch(&mut self, sql: &str) -> Result<()>;
    /// Runs one statement; returns the rows it changed.
    fn execute(&mut self, sql: &str, params: &[Param]) -> Result<u64>;
    /// Inserts rows into `table`: `params` holds `columns.len()` values per
    /// row, one row after another. This is the bulk path of imports, so each
    /// backend does it its fastest way (SQLite: one prepared statement;
    /// PostgreSQL: COPY, sent ahead as `execute_later` says).
    fn insert_many(&mut self, table: &str, columns: &[&str], params: &[Arg<'_>]) -> Result<()>;
    /// Waits until no other crmsync writes to the store, and keeps others
    /// from writing until this connection ends: on PostgreSQL two imports
    /// looking up the same new key at once would each insert it. (SQLite's
    /// write lock makes writers take turns a transaction at a time, and a
    /// bulk load ends when another writer commits: see `check_bulk`.)
    fn hold_writers(&mut self) -> Result<()> {
        Ok(())
    }
    /// Runs `CREATE INDEX` statements over large tables.
    fn build_indexes(&mut self, sql: &str) -> Result<()> {
        self.batch(sql)
    }
    /// Runs a query, handing each row to `each` as it arrives.
    fn query_each(&mut self, sql: &str, params: &[Param], each: &mut dyn FnMut(Vec<Cell>) -> Result<()>) -> Result<()>;
    /// Like `query_each`, but lends each row's cells instead of handing
    /// over copies: for reads of many rows (an import's lookups), where a
    /// copy per cell that the caller then copies again was a fifth of the
    /// reading.
    fn query_each_lent(
        &mut self,
        sql: &str,
        params: &[Param],
        each: &mut dyn FnMut(&[Lent<'_>]) -> Result<()>,
    ) -> Result<()> {
        self.query_each(sql, params, &mut |cells| {
            let lent: Vec<Lent<'_>> = cells.iter().map(Cell::lend).collect();
            each(&lent)
        })
    }
    /// Starts a write transaction. On SQLite it takes the write lock at once,
    /// so two writers queue up instead of failing halfway.
    fn begin(&mut self) -> Result<()>;
    /// Runs a statement whose result is not needed now. A backend may
    /// send it ahead and go on (PostgreSQL does, as with `insert_many`);
    /// its error then comes from the next call that waits for an answer,
    /// before the transaction can commit.
    fn execute_later(&mut self, sql: &str, params: &[Param]) -> Result<()> {
        self.execute(sql, params).map(|_| ())
    }
    /// Waits for everything sent ahead to have run; the first failure
    /// among it is the error.
    fn wait(&mut self) -> Result<()> {
        Ok(())
    }
    fn commit(&mut self) -> Result<()>;
    /// Commits without waiting for the commit to reach the disk, where the
    /// backend can tell them apart: a crash of the server may then lose the
    /// last such transactions, whole. (SQLite in WAL mode with `synchronous
    /// = NORMAL` commits this way always.)
    fn commit_lazily(&mut self) -> Result<()> {
        self.commit()
    }
    fn rollback(&mut self) -> Result<()>;
    /// Readies the store for a bulk load into an empty table (`on`), or for
    /// ordinary work again, between transactions. Where the backend cannot
    /// switch at that moment it stays as it is: this only saves time.
    fn bulk_load(&mut self, _on: bool) -> Result<()> {
        Ok(())
    }
    /// True when a table exists.
    fn has_table(&mut self, table: &str) -> Result<bool>;
    /// Whether this connection evaluates the tables' CHECK constraints,
    /// where the backend lets a connection choose (SQLite). An import turns
    /// them off for its writes: it checks every value against the same
    /// limits itself (`model::columns`, kept equal by a test), before
    /// writing, and SQLite checking them again was a fifth of its time on
    /// a bulk load.
    fn enforce_checks(&mut self, _on: bool) -> Result<()> {
        Ok(())
    }
    /// A number that changes whenever another connection commits to the
    /// store, where the backend can tell (SQLite's `data_version`,
    /// PostgreSQL's transaction ids); `None` where it cannot, meaning
    /// "assume it did". Read at the start of a transaction.
    fn others_version(&mut self) -> Result<Option<i64>> {
        Ok(None)
    }
    /// Whether every row of `table` was written by this connection's
    /// transactions since `others_version` was first read, where the
    /// backend can tell (PostgreSQL, by the rows' `xmin`): someone else
    /// committing elsewhere in the store then changed nothing there.
    /// `false` where it cannot.
    fn only_ours(&mut self, _table: &str) -> Result<bool> {
        Ok(false)
    }
}

impl<'a> dyn Sql + 'a {
    /// Every row of a query.
    pub fn query(&mut self, sql: &str, params: &[Param]) -> Result<Vec<Vec<Cell>>> {
        let mut rows = Vec::new();
        self.query_each(sql, params, &mut |r| {
            rows.push(r);
            Ok(())
        })?;
        Ok(rows)
    }

    /// The first row of a query, if any.
    pub fn query_row(&mut self, sql: &str, params: &[Param]) -> Result<Option<Vec<Cell>>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The number a `SELECT count(...)` gives.
    pub fn query_count(&mut self, sql: &str, params: &[Param]) -> Result<u64> {
        let row = self.query_row(sql, params)?;
        Ok(row.and_then(|r| r.first().map(Cell::int)).unwrap_or(0).max(0) as u64)
    }
}

/// `?, ?, ?` for `n` values.
pub fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(n * 3);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s
}

/// A statement's first words, for messages.
pub fn what(sql: &str) -> String {
    let s: String = sql.trim().chars().take(60).collect();
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Stored text as a string: checked with `str::from_utf8`, whose ASCII fast
/// path `String::from_utf8_lossy` lacks (a twentieth of the store thread on a
/// re-import); only text that is not UTF-8 takes the lossy way.
pub(crate) fn text_of(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn number_keys_sort_as_the_numbers() {
        // In ascending order; each group is one number.
        let ordered: &[&[&str]] = &[
            &["-123456789012345678901234567890"],
            &["-99999999999999999.99"],
            &["-99999999999999999.98"],
            &["-1.5", "-1.50", "-15e-1"],
            &["-1.4999999999999999999"],
            &["-0.001"],
            &["0", "-0", "0.000", "+0e5"],
            &["0.001", ".001", "1e-3"],
            &["1.123456789"],
            &["1.12345678900000000001"],
            &["1.5", "01.50", "15e-1", " +1.5 "],
            &["2"],
            &["10", "1e1", "10.0"],
            &["99999999999999999.98"],
            &["99999999999999999.99"],
            &["123456789012345678901234567890"],
        ];
        let keys: Vec<Vec<String>> = ordered
            .iter()
            .map(|group| group.iter().map(|n| super::number_key(n).unwrap_or_else(|| panic!("{n}"))).collect())
            .collect();
        for (group, texts) in keys.iter().zip(ordered) {
            assert!(group.iter().all(|k| *k == group[0]), "{texts:?}: {group:?}");
        }
        for pair in keys.windows(2) {
            assert!(pair[0][0] < pair[1][0], "{} < {}", pair[0][0], pair[1][0]);
        }
        assert_eq!(super::number_key("abc"), None);
    }

    #[test]
    fn numbers_are_what_the_postgres_pattern_accepts() {
        for yes in ["0", "-1", "+2.5", " 12 ", "5.", ".5", "1e5", "1E-07", "-0.1e+1", "1e999"] {
            assert!(super::is_number(yes), "{yes:?}");
        }
        for no in ["", "abc", ".", "-", "1e", "1e1000", "NaN", "inf", "1,5", "1 2", "0x10", "e5", "--1", "1.2.3"] {
            assert!(!super::is_number(no), "{no:?}");
        }
    }

    use super::text_of;
    use std::borrow::Cow;

    #[test]
    fn stored_text_is_borrowed_when_utf8_and_repaired_when_not() {
        assert!(matches!(text_of("ada@example.com".as_bytes()), Cow::Borrowed("ada@example.com")));
        assert!(matches!(text_of("北京星辰".as_bytes()), Cow::Borrowed("北京星辰")));
        assert_eq!(text_of(b"caf\xe9"), "caf\u{fffd}");
        assert_eq!(text_of(b""), "");
    }
}
