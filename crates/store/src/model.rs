//! How the entities of SPEC §2 sit in tables: each standard field's column,
//! kind and length limit, and the canonical text every value is stored as.
//!
//! Values are checked and canonicalised here, in Rust, before any SQL runs:
//! both backends then hold the same text, a bad value rejects its row with
//! a message naming field and limit (instead of a constraint error that
//! would fail the whole transaction), and content hashes agree everywhere.

use std::collections::BTreeMap;

use crmsync_core::mapping::types::{TypeName, TypeOptions, convert};
use crmsync_core::value::{LIST_SEPARATOR, split_list};
use crmsync_core::{Entity, Value};

/// What a column holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// An e-mail address, checked, trimmed and lowercased, so that keys
    /// compare case-insensitively.
    Email,
    /// E.164 when the number says its country (`+`, `00`); as given otherwise.
    Phone,
    /// A bare domain: `https://www.Acme.com/` is stored as `acme.com`.
    Domain,
    /// An ISO 3166 alpha-2 code: `de`, `DEU`, `Germany` and `德国` are
    /// stored as `DE`.
    Country,
    /// One of a fixed list of values (lowercase).
    Enum(&'static [&'static str]),
    /// An ISO 4217 code (`usd`, `$` and `人民币` are read as codes too).
    Currency,
    Date,
    DateTime,
    Decimal,
    /// A list of short texts, stored as a JSON array.
    Tags,
    /// The id of a record of another entity.
    Link(Entity),
    /// The contacts of a deal, kept in `deal_contacts` (ids, sorted).
    DealContacts,
    /// The custom fields, stored as one JSON object.
    Custom,
}

/// One content column of an entity's table.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// The field name users see (`address.city`); links are named after the
    /// entity they point at (`company`).
    pub field: &'static str,
    /// The SQL column; empty for values kept outside the table.
    pub column: &'static str,
    pub kind: Kind,
    /// Longest value in characters.
    pub max: Option<usize>,
}

const fn col(field: &'static str, column: &'static str, kind: Kind, max: Option<usize>) -> Column {
    Column { field, column, kind, max }
}

const T: Kind = Kind::Text;
const ACTIVITY_KINDS: &[&str] = &["call", "email", "meeting", "note"];

macro_rules! address {
    () => {
        [
            col("address.street", "address_street", T, Some(512)),
            col("address.city", "address_city", T, Some(255)),
            col("address.region", "address_region", T, Some(255)),
            col("address.postal_code", "address_postal_code", T, Some(32)),
            col("address.country", "address_country", Kind::Country, Some(2)),
        ]
    };
}

const COMPANIES: &[Column] = &{
    let a = address!();
    [
        col("name", "name", T, Some(255)),
        col("domain", "domain", Kind::Domain, Some(255)),
        col("industry", "industry", T, Some(255)),
        col("phone", "phone", Kind::Phone, Some(64)),
        a[0],
        a[1],
        a[2],
        a[3],
        a[4],
        col("owner", "owner", T, Some(255)),
        col("tags", "tags", Kind::Tags, None),
        col("custom", "custom", Kind::Custom, None),
    ]
};

const CONTACTS: &[Column] = &{
    let a = address!();
    [
        col("first_name", "first_name", T, Some(255)),
        col("last_name", "last_name", T, Some(255)),
        col("full_name", "full_name", T, Some(512)),
        col("email", "email", Kind::Email, Some(320)),
        col("phone", "phone", Kind::Phone, Some(64)),
        col("mobile", "mobile", Kind::Phone, Some(64)),
        col("title", "title", T, Some(255)),
        col("company", "company_id", Kind::Link(Entity::Companies), None),
        a[0],
        a[1],
        a[2],
        a[3],
        a[4],
        col("lifecycle_stage", "lifecycle_stage", T, Some(64)),
        col("owner", "owner", T, Some(255)),
        col("tags", "tags", Kind::Tags, None),
        col("notes", "notes", T, None),
        col("subscribed_at", "subscribed_at", Kind::DateTime, None),
        col("custom", "custom", Kind::Custom, None),
    ]
};

const DEALS: &[Column] = &[
    col("name", "name", T, Some(255)),
    col("amount", "amount", Kind::Decimal, None),
    col("currency", "currency", Kind::Currency, Some(3)),
    col("stage", "stage", T, Some(64)),
    col("close_date", "close_date", Kind::Date, None),
    col("company", "company_id", Kind::Link(Entity::Companies), None),
    col("contacts", "", Kind::DealContacts, None),
    col("owner", "owner", T, Some(255)),
    col("custom", "custom", Kind::Custom, None),
];

const ACTIVITIES: &[Column] = &[
    col("kind", "kind", Kind::Enum(ACTIVITY_KINDS), None),
    col("subject", "subject", T, Some(512)),
    col("body", "body", T, None),
    col("occurred_at", "occurred_at", Kind::DateTime, None),
    col("contact", "contact_id", Kind::Link(Entity::Contacts), None),
    col("company", "company_id", Kind::Link(Entity::Companies), None),
    col("deal", "deal_id", Kind::Link(Entity::Deals), None),
    col("owner", "owner", T, Some(255)),
    col("custom", "custom", Kind::Custom, None),
];

/// The content columns of an entity, in a fixed order (hashes depend on it).
pub fn columns(entity: Entity) -> &'static [Column] {
    match entity {
        Entity::Companies => COMPANIES,
        Entity::Contacts => CONTACTS,
        Entity::Deals => DEALS,
        Entity::Activities => ACTIVITIES,
    }
}

/// The position of a field's column.
pub fn position(entity: Entity, field: &str) -> Option<usize> {
    columns(entity).iter().position(|c| c.field == field)
}

/// Columns that live in the entity's table.
pub fn table_columns(entity: Entity) -> impl Iterator<Item = (usize, &'static Column)> {
    columns(entity).iter().enumerate().filter(|(_, c)| !c.column.is_empty())
}

/// `company`, `contact`, ... for messages.
pub fn singular(e: Entity) -> &'static str {
    match e {
        Entity::Companies => "company",
        Entity::Contacts => "contact",
        Entity::Deals => "deal",
        Entity::Activities => "activity",
    }
}

/// The field holding a record's natural key, shown for links and in messages.
pub fn label_field(entity: Entity) -> &'static str {
    match entity {
        Entity::Contacts => "email",
        Entity::Activities => "subject",
        _ => "name",
    }
}

/// UTC time as stored: fixed six fractional digits, so that text order is
/// time order on SQLite too.
pub fn datetime_text(ts: jiff::Timestamp) -> String {
    civil_text(jiff::tz::Offset::UTC.to_datetime(ts))
}

/// A time in UTC, given as a civil time, as stored.
pub fn civil_text(dt: jiff::civil::DateTime) -> String {
    // Digit by digit: `format!` with seven fields was a fortieth of an
    // import's mapping thread. Years before 0 (jiff's timestamps reach back
    // to -9999) need a sign: `format!` writes those.
    let year = dt.year();
    if !(0..=9999).contains(&year) {
        return format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            year,
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second(),
            dt.subsec_nanosecond() / 1000
        );
    }
    // Digits written into a template: a power of ten per digit was a
    // seventh of drafting a contact.
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    let fields = [
        (0..4, u32::from(year.unsigned_abs())),
        (5..7, u32::from(dt.month().unsigned_abs())),
        (8..10, u32::from(dt.day().unsigned_abs())),
        (11..13, u32::from(dt.hour().unsigned_abs())),
        (14..16, u32::from(dt.minute().unsigned_abs())),
        (17..19, u32::from(dt.second().unsigned_abs())),
        (20..26, dt.subsec_nanosecond().unsigned_abs() / 1000),
    ];
    for (at, mut n) in fields {
        for digit in out[at].iter_mut().rev() {
            *digit = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
    // (All ASCII: borrowed as it is, then copied once.)
    String::from_utf8_lossy(&out).into_owned()
}

pub fn now_text() -> String {
    datetime_text(jiff::Timestamp::now())
}

/// What the store's times hold: both backends' time columns stop at year 1.
const TIMES: &str = "a date and time from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z";
const DATES: &str = "a date from 0001-01-01 to 9999-12-31";

/// A time in UTC, within years 1 to 9999. A time without a zone is taken
/// as UTC, as the store keeps every time in UTC. (Worked out on civil
/// times: jiff's timestamps end at 9999-12-30T22:00Z, which would refuse
/// the last day of 9999, many systems' "no end".)
pub(crate) fn utc(dt: &crmsync_core::value::DateTime) -> Option<jiff::civil::DateTime> {
    let utc = match dt.offset.map_or(0, |o| o.seconds()) {
        // (Civil arithmetic goes through days and back: most times have
        // no offset to take off.)
        0 => dt.civil,
        offset => dt.civil.checked_sub(jiff::SignedDuration::from_secs(i64::from(offset))).ok()?,
    };
    (utc.year() >= 1).then_some(utc)
}

/// A time as stored, or what was expected.
pub(crate) fn time_text(dt: &crmsync_core::value::DateTime) -> Result<String, String> {
    utc(dt).map(civil_text).ok_or_else(|| TIMES.to_string())
}

/// A decimal number as stored, or what was expected: as the mapping's
/// decimal type reads it (`1,234.50`, `.5`, `+1.5`, `0012.300`), without an
/// exponent. Amounts and declared custom decimals alike.
pub(crate) fn decimal_text(text: &str) -> Result<String, String> {
    match convert(TypeName::Decimal, text, &TypeOptions::default())? {
        Value::Number(n) if !n.contains(['e', 'E']) => Ok(n),
        _ => Err("a decimal number without an exponent".to_string()),
    }
}

/// A date as stored, or what was expected.
pub(crate) fn date_text(d: jiff::civil::Date) -> Result<String, String> {
    if d.year() < 1 {
        return Err(DATES.to_string());
    }
    Ok(d.to_string())
}

/// Microseconds from the Unix epoch as a stored time.
pub(crate) fn micros_text(micros: i64) -> Option<String> {
    let epoch = jiff::civil::date(1970, 1, 1).to_datetime(jiff::civil::Time::midnight());
    epoch.checked_add(jiff::SignedDuration::from_micros(micros)).ok().map(civil_text)
}

/// Parses a user's time (`2024-05-01`, `2024-05-01T09:30:00+08:00`) into stored text.
pub fn parse_time(text: &str) -> Option<String> {
    let dt = crmsync_core::mapping::types::date::parse_iso(text.trim())?;
    utc(&dt).map(civil_text)
}

/// A value turned into the text its column stores; `Ok(None)` for no value.
/// The error says what was expected.
pub fn stored(column: &Column, value: &Value) -> Result<Option<String>, String> {
    // A cell of spaces is as empty as an empty one: it leaves a stored value
    // alone (or clears it, with `--clear-empty`), never writes spaces or ''.
    if value.is_empty() || value.as_str().is_some_and(|t| t.trim().is_empty()) {
        return Ok(None);
    }
    // A list or an object (JSON, XML) given to a field of one value would
    // be stored as its JSON text, `["Ann","Lee"]` as a first name.
    let several = |v: &Value| match v {
        Value::Array(items) => Some(format!("a list of {}", items.len())),
        Value::Object(_) => Some("an object".to_string()),
        _ => None,
    };
    match (column.kind, several(value)) {
        (Kind::Tags | Kind::Link(_) | Kind::DealContacts | Kind::Custom, _) | (_, None) => {}
        (_, Some(got)) => return Err(format!("a single value (it is {got})")),
    }
    let text = match (column.kind, value) {
        // Spaces around a value are no part of it (a cell padded in a
        // spreadsheet, `  Ann  `, a tab before a title): stored without
        // them, as keys compare and the quality report takes text.
        (Kind::Text, _) => {
            let text = value.to_text();
            match text.trim() {
                trimmed if trimmed.len() == text.len() => text,
                trimmed => trimmed.to_string(),
            }
        }
        // Checked whether a mapping typed it or not: the store's e-mail
        // fields are keys, and a file named after the store's fields needs
        // no mapping.
        (Kind::Email, v) => crmsync_core::mapping::types::email(&v.text())?,
        (Kind::Phone, v) => {
            let t = v.text();
            let t = t.trim();
            // RFC 3966's form, as links and vCards write a number.
            let t = match t.get(..4) {
                Some(scheme) if scheme.eq_ignore_ascii_case("tel:") => t[4..].trim_start(),
                _ => t,
            };
            if crmsync_core::mapping::types::phone::is_canonical(t) {
                // What the mapping's phone type gives: parsing it again
                // would give it back.
                t.to_string()
            } else if t.starts_with('+') || t.starts_with("00") {
                crmsync_core::mapping::types::phone::to_e164(t, None).unwrap_or_else(|_| t.to_string())
            } else {
                t.to_string()
            }
        }
        (Kind::Domain, v) => domain(&v.text())?,
        (Kind::Country, v) => crmsync_core::mapping::types::country::to_alpha2(&v.text())
            .ok_or_else(|| "a country: an ISO 3166 code (DE, DEU) or a name (Germany)".to_string())?
            .to_string(),
        (Kind::Enum(allowed), _) => {
            let t = value.to_text().trim().to_lowercase();
            if !allowed.contains(&t.as_str()) {
                return Err(format!("one of {}", allowed.join(", ")));
            }
            t
        }
        (Kind::Currency, v) => crmsync_core::mapping::types::currency(&v.text())?.to_string(),
        (Kind::Date, Value::Date(d)) => date_text(*d)?,
        (Kind::Date, Value::DateTime(dt)) => date_text(dt.civil.date())?,
        (Kind::Date, v) => {
            let t = v.to_text();
            let dt = crmsync_core::mapping::types::date::parse_iso(t.trim()).ok_or_else(|| {
                crmsync_core::mapping::types::date::iso_day_missing(t.trim())
                    .unwrap_or_else(|| "a date (YYYY-MM-DD)".to_string())
            })?;
            date_text(dt.civil.date())?
        }
        (Kind::DateTime, Value::DateTime(dt)) => time_text(dt)?,
        (Kind::DateTime, Value::Date(d)) => time_text(&crmsync_core::value::DateTime {
            civil: d.to_datetime(jiff::civil::Time::midnight()),
            offset: None,
        })?,
        (Kind::DateTime, v) => {
            let t = v.to_text();
            let dt = crmsync_core::mapping::types::date::parse_iso(t.trim()).ok_or_else(|| {
                crmsync_core::mapping::types::date::iso_day_missing(t.trim())
                    .unwrap_or_else(|| "a date and time (ISO 8601)".to_string())
            })?;
            time_text(&dt)?
        }
        (Kind::Decimal, v) => decimal_text(&v.to_text())?,
        (Kind::Tags, v) => {
            if let Value::Array(items) = v
                && let Some((n, got)) = items.iter().enumerate().find_map(|(n, item)| Some((n, several(item)?)))
            {
                return Err(format!("a list of texts (item {} is {got})", n + 1));
            }
            // The same list as JSON text (a flat file's cell).
            if let Some(text) = v.as_str()
                && text.trim_start().starts_with('[')
                && let Ok(serde_json::Value::Array(items)) = serde_json::from_str::<serde_json::Value>(text)
                && let Some(n) = items.iter().position(|i| i.is_array() || i.is_object())
            {
                let got = if items[n].is_array() { "a list" } else { "an object" };
                return Err(format!("a list of texts (item {} is {got})", n + 1));
            }
            let tags = list_items(v);
            if tags.is_empty() {
                return Ok(None);
            }
            serde_json::Value::from(tags).to_string()
        }
        (Kind::Link(_) | Kind::DealContacts | Kind::Custom, v) => v.to_text(),
    };
    // (No text has more characters than bytes: most need no counting.)
    if let Some(max) = column.max.filter(|max| text.len() > *max) {
        let n = text.chars().count();
        if n > max {
            return Err(format!("at most {max} characters (this value has {n})"));
        }
    }
    Ok(Some(text))
}

/// The items of a list value (tags, a deal's contacts): an array, a JSON
/// array as text, or a flat cell (see `split_list`).
pub(crate) fn list_items(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = match v {
        Value::Array(items) => items.iter().map(Value::to_text).collect(),
        v => {
            let t = v.to_text();
            match serde_json::from_str::<serde_json::Value>(&t) {
                Ok(serde_json::Value::Array(items)) => {
                    items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string)).collect()
                }
                _ => return split_list(&t),
            }
        }
    };
    for t in &mut out {
        *t = t.trim().to_string();
    }
    out.retain(|t| !t.is_empty());
    out
}

/// The stored text back as a value, for exports.
/// Like [`value_of`], keeping the text it is given where it can.
pub fn value_from(kind: Kind, text: String) -> Value {
    match kind {
        Kind::Date | Kind::DateTime | Kind::Tags => value_of(kind, &text),
        Kind::Decimal => Value::Number(text),
        // A deal's contacts come joined by the export's query.
        Kind::DealContacts => Value::Array(text.split(LIST_SEPARATOR).map(|c| Value::Text(c.to_owned())).collect()),
        _ => Value::Text(text),
    }
}

pub fn value_of(kind: Kind, text: &str) -> Value {
    match kind {
        Kind::Date => {
            jiff::civil::Date::strptime("%Y-%m-%d", text).map_or_else(|_| Value::Text(text.into()), Value::Date)
        }
        Kind::DateTime => match crmsync_core::mapping::types::date::parse_iso(text) {
            Some(dt) => Value::DateTime(dt),
            None => Value::Text(text.into()),
        },
        Kind::Decimal => Value::Number(text.into()),
        Kind::Tags => match serde_json::from_str::<Vec<String>>(text) {
            Ok(tags) => Value::Array(tags.into_iter().map(Value::Text).collect()),
            Err(_) => Value::Text(text.into()),
        },
        _ => Value::Text(text.into()),
    }
}

/// Custom fields as stored: a JSON object with sorted keys, values as the
/// mapping typed them (numbers stay numbers).
pub fn custom_json(fields: &BTreeMap<String, serde_json::Value>) -> Option<String> {
    if fields.is_empty() { None } else { serde_json::to_string(fields).ok() }
}

/// `custom_json` of fields given as a row gives them, into no stored ones:
/// in any order; of a name given twice, the last value, where an empty one
/// clears those before it only when `clear_empty`.
pub fn custom_json_of(fields: &mut [(String, Option<serde_json::Value>)], clear_empty: bool) -> Option<String> {
    // (Stable: of a name given twice, the last stays last.)
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::with_capacity(64);
    out.push(b'{');
    let mut first = true;
    for run in fields.chunk_by(|a, b| a.0 == b.0) {
        let value = run.iter().rev().find(|(_, v)| v.is_some() || clear_empty).and_then(|(_, v)| v.as_ref());
        let Some(value) = value else { continue };
        if !first {
            out.push(b',');
        }
        first = false;
        serde_json::to_writer(&mut out, &run[0].0).ok()?;
        out.push(b':');
        serde_json::to_writer(&mut out, value).ok()?;
    }
    out.push(b'}');
    if first { None } else { String::from_utf8(out).ok() }
}

pub fn parse_custom(text: Option<&str>) -> BTreeMap<String, serde_json::Value> {
    text.and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default()
}

/// A custom value as JSON: dates as text, numbers and booleans as such.
pub fn custom_value(v: &Value) -> Option<serde_json::Value> {
    if v.is_empty() {
        return None;
    }
    Some(match v {
        // In UTC, as every stored time, so that `--where` compares instants.
        Value::DateTime(dt) => serde_json::Value::String(utc(dt).map_or_else(|| v.to_text(), civil_text)),
        Value::Date(_) => serde_json::Value::String(v.to_text()),
        // Spaces around a text are no part of it, as of a standard field.
        Value::Text(t) if t.trim().len() != t.len() => serde_json::Value::String(t.trim().to_string()),
        v => {
            let mut json = v.to_json();
            plain_numbers(&mut json);
            if matches!(v, Value::Array(_) | Value::Object(_)) {
                trimmed_texts(&mut json);
            }
            json
        }
    })
}

/// Texts in a list or object without spaces around them.
fn trimmed_texts(json: &mut serde_json::Value) {
    match json {
        serde_json::Value::String(t) if t.trim().len() != t.len() => *t = t.trim().to_string(),
        serde_json::Value::Array(items) => items.iter_mut().for_each(trimmed_texts),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(trimmed_texts),
        _ => {}
    }
}

/// Numbers in the form PostgreSQL's `jsonb` keeps them, on both backends,
/// so a store gives back the same text whichever it is: jsonb holds a
/// number as `numeric`, which prints without an exponent (`1e2` is `100`,
/// `1.5e-3` is `0.0015`) and has no negative zero.
pub(crate) fn plain_numbers(json: &mut serde_json::Value) {
    match json {
        serde_json::Value::Number(n) => {
            if let Some(plain) = plain_decimal(n.as_str())
                && let Ok(p) = plain.parse::<serde_json::Number>()
            {
                *n = p;
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(plain_numbers),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(plain_numbers),
        _ => {}
    }
}

/// Whether two decimals (plain, without exponent) are the same number:
/// `12.50` is `12.5`, `-0` is `0`. An amount given with another scale than
/// it is stored with is no change, and keeps the stored text.
pub fn same_decimal(a: &str, b: &str) -> bool {
    fn canonical(t: &str) -> Option<(bool, &str, &str)> {
        let (negative, t) = t.strip_prefix('-').map_or((false, t), |r| (true, r));
        let t = t.strip_prefix('+').unwrap_or(t);
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if int.is_empty() && frac.is_empty() || !digits(int) || !digits(frac) {
            return None;
        }
        let (int, frac) = (int.trim_start_matches('0'), frac.trim_end_matches('0'));
        Some((negative && !(int.is_empty() && frac.is_empty()), int, frac))
    }
    a == b || canonical(a).is_some_and(|x| canonical(b) == Some(x))
}

/// Whether a given custom value is the stored one: equal, numbers equal as
/// decimals (`1.50` and `1.5`), or text that spells the stored number or
/// boolean, or the other way round, or a list cell of the stored list's
/// items. Text carries no type (a CSV or XML export of a store writes
/// `1.50`, `true` and `A1; B2`), so it is not a change of type; the stored
/// value and its type stay.
pub fn same_custom(stored: &serde_json::Value, given: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (stored, given) {
        (J::Number(x), J::Number(y)) => same_decimal(x.as_str(), y.as_str()),
        // A value read as text from one file and typed from another (a
        // CSV's `TRUE`, a workbook's boolean cell) is the same value either
        // way round: the stored spelling stays.
        (J::Number(x), J::String(t)) | (J::String(t), J::Number(x)) => same_decimal(x.as_str(), t),
        (J::Bool(b), J::String(t)) | (J::String(t), J::Bool(b)) => {
            t.eq_ignore_ascii_case(if *b { "true" } else { "false" })
        }
        // One instant written two ways (`…06:30:00Z`, as exports write a
        // time, and `…06:30:00.000000Z`, as the store keeps it).
        (J::String(a), J::String(b)) if a.len() >= 20 && b.len() >= 20 && a != b => {
            parse_time(a).is_some_and(|x| parse_time(b) == Some(x))
        }
        // A list whose items a file gave as text (XML's elements): item by
        // item, as single values compare.
        (J::Array(a), J::Array(b)) if a != b => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_custom(x, y)),
        // A list a flat file wrote in one cell (`A1; B2`, as an export
        // writes it) is the stored list of those items.
        (J::Array(items), J::String(t)) => {
            let cell = crmsync_core::value::split_list(t);
            cell.len() == items.len() && cell.iter().zip(items).all(|(c, i)| same_custom(i, &J::String(c.clone())))
        }
        _ => stored == given,
    }
}

/// A JSON number's text without exponent, as `numeric` prints it: the
/// scale is the fraction's digits less the exponent (`1.50e1` is `15.0`).
/// `None` when it is already so, or is no JSON number, or its exponent is
/// beyond any customer value (more than a thousand places).
fn plain_decimal(text: &str) -> Option<String> {
    let (negative, unsigned) = text.strip_prefix('-').map_or((false, text), |t| (true, t));
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e.strip_prefix('+').unwrap_or(e).parse::<i64>().ok()?)),
        None => (unsigned, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if int.is_empty() || !digits_ok(int) || !digits_ok(frac) || exponent.is_some_and(|e| e.abs() > 1000) {
        return None;
    }
    let zero = int.bytes().chain(frac.bytes()).all(|b| b == b'0');
    if exponent.is_none() && !(negative && zero) {
        return None;
    }
    let exponent = exponent.unwrap_or(0);
    let digits = format!("{int}{frac}");
    // Where the decimal point falls in `digits`, and the digits after it.
    let point = int.len() as i64 + exponent;
    let scale = (frac.len() as i64 - exponent).max(0) as usize;
    let mut whole = if point <= 0 {
        String::new()
    } else if point as usize >= digits.len() {
        format!("{digits}{}", "0".repeat(point as usize - digits.len()))
    } else {
        digits[..point as usize].to_string()
    };
    let fraction = if point < 0 {
        format!("{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else {
        digits.get(point as usize..).unwrap_or("").to_string()
    };
    let trimmed = whole.trim_start_matches('0');
    whole = if trimmed.is_empty() { "0".to_string() } else { trimmed.to_string() };
    let sign = if negative && !zero { "-" } else { "" };
    debug_assert_eq!(fraction.len(), scale);
    Some(if scale == 0 { format!("{sign}{whole}") } else { format!("{sign}{whole}.{fraction}") })
}

/// The content hash of a record: xxh3-128 over its canonical form (every
/// content column in order, custom fields with sorted keys), so equal
/// records hash equal on every backend.
pub fn content_hash(values: &[Option<String>]) -> [u8; 16] {
    content_hash_of(values.iter().map(Option::as_deref))
}

/// `content_hash` of values given one by one.
pub fn content_hash_of<'a>(values: impl Iterator<Item = Option<&'a str>>) -> [u8; 16] {
    // The canonical form is laid out in one buffer and hashed at once: the
    // same digest as feeding the streaming hasher piece by piece, without
    // its copying of every small piece (a fifth of the store thread's
    // copying on a bulk load). The buffer is kept per thread: allocating
    // it per record was a twentieth of the store thread's work.
    thread_local! {
        static FORM: std::cell::RefCell<Vec<u8>> = std::cell::RefCell::new(Vec::with_capacity(1024));
    }
    FORM.with_borrow_mut(|form| {
        form.clear();
        for v in values {
            match v {
                Some(s) => {
                    form.push(1);
                    form.extend_from_slice(&(s.len() as u64).to_le_bytes());
                    form.extend_from_slice(s.as_bytes());
                }
                None => form.push(0),
            }
        }
        let hash = xxhash_rust::xxh3::xxh3_128(form).to_be_bytes();
        // (A huge record's buffer is not kept.)
        if form.capacity() > 1 << 20 {
            *form = Vec::with_capacity(1024);
        }
        hash
    })
}

/// A company's name reduced for matching: case, punctuation and legal
/// suffixes (`Inc.`, `GmbH`, `有限公司`) do not make another company.
pub fn company_key(name: &str) -> String {
    company_key_and_form(name).0
}

/// A company's key (see [`company_key`]) and its legal form (see
/// [`legal_form`]).
pub fn company_key_and_form(name: &str) -> (String, Option<&'static str>) {
    // A file names the same companies over and over (tens of contacts to a
    // company): their keys are remembered, per thread, up to a bound. (A
    // million contacts of 28,000 companies: a fifteenth of the drafting
    // thread's work before.)
    const REMEMBERED: usize = 32_768;
    type Keyed = (String, Option<&'static str>);
    thread_local! {
        static KEYS: std::cell::RefCell<std::collections::HashMap<String, Keyed, foldhash::fast::RandomState>> =
            std::cell::RefCell::default();
    }
    // (Names of any length are keyed; only those a file is likely to
    // repeat are remembered.)
    if name.len() > 256 {
        return key_and_form_of(name);
    }
    KEYS.with_borrow_mut(|keys| {
        if let Some(keyed) = keys.get(name) {
            return keyed.clone();
        }
        let keyed = key_and_form_of(name);
        if keys.len() >= REMEMBERED {
            keys.clear();
        }
        keys.insert(name.to_string(), keyed.clone());
        keyed
    })
}

/// Words that end a company's name as its legal form, each with the form
/// it stands for (`Incorporated` is `Inc`).
const LEGAL_FORMS: &[(&str, &str)] = &[
    ("inc", "inc"),
    ("incorporated", "inc"),
    ("llc", "llc"),
    ("ltd", "ltd"),
    ("limited", "ltd"),
    ("corp", "corp"),
    ("corporation", "corp"),
    ("co", "co"),
    ("company", "co"),
    ("gmbh", "gmbh"),
    ("ag", "ag"),
    ("sa", "sa"),
    ("sarl", "sarl"),
    ("bv", "bv"),
    ("nv", "nv"),
    ("plc", "plc"),
    ("pty", "pty"),
    ("srl", "srl"),
    ("spa", "spa"),
    ("oy", "oy"),
    ("ab", "ab"),
    ("kk", "kk"),
    ("llp", "llp"),
    ("lp", "lp"),
    ("kg", "kg"),
    ("kgaa", "kgaa"),
    ("ohg", "ohg"),
    ("ug", "ug"),
    ("se", "se"),
    ("ev", "ev"),
    ("sas", "sas"),
    ("sl", "sl"),
    ("ltda", "ltda"),
    ("as", "as"),
    ("asa", "asa"),
    ("aps", "aps"),
    ("oyj", "oyj"),
    ("pte", "pte"),
    ("pvt", "pvt"),
    ("sdn", "sdn"),
    ("bhd", "bhd"),
    ("sro", "sro"),
    ("kft", "kft"),
    ("ek", "ek"),
    ("slu", "slu"),
    ("sasu", "sasu"),
    ("eurl", "eurl"),
    ("bvba", "bvba"),
    ("pllc", "pllc"),
    ("sàrl", "sarl"),
    ("gk", "gk"),
    ("yk", "yk"),
    ("aktiengesellschaft", "ag"),
];

/// Legal forms written as several words, as `name_words` joins them
/// (`Sp. z o.o.`, `S.A. de C.V.`, `Gesellschaft mit beschränkter Haftung`),
/// each with the form it stands for. Kept apart from `LEGAL_FORMS`: only
/// these are read across words, so `Acme In C` is no `Inc`.
const JOINED_FORMS: &[(&str, &str)] = &[
    ("spzoo", "spzoo"),
    ("spółkazoo", "spzoo"),
    ("spółkazograniczonąodpowiedzialnością", "spzoo"),
    ("spółkaakcyjna", "sa"),
    ("sadecv", "sadecv"),
    ("sapidecv", "sapidecv"),
    ("sderldecv", "sderldecv"),
    ("gesellschaftmitbeschränkterhaftung", "gmbh"),
    ("beslotenvennootschap", "bv"),
    ("naamlozevennootschap", "nv"),
    ("sociétéanonyme", "sa"),
    ("sociedadanónima", "sa"),
    ("limitedliabilitycompany", "llc"),
    ("publiclimitedcompany", "plc"),
];

/// Japanese legal forms, written before the name or after it, without a
/// space (`株式会社トヨタ`, `トヨタ株式会社`, `(株)トヨタ`), each with its form.
const JA_FORMS: &[(&str, &str)] = &[
    ("株式会社", "kk"),
    ("(株)", "kk"),
    ("（株）", "kk"),
    ("㈱", "kk"),
    ("有限会社", "yk"),
    ("(有)", "yk"),
    ("（有）", "yk"),
    ("合同会社", "gk"),
    ("(同)", "gk"),
    ("（同）", "gk"),
];

fn legal_form_of(word: &str) -> Option<&'static str> {
    LEGAL_FORMS.iter().chain(JOINED_FORMS).find(|(w, _)| *w == word).map(|(_, form)| *form)
}

/// A legal form as the store keeps it (`name_form`), as this build names
/// it.
pub(crate) fn canonical_form(stored: &str) -> Option<&'static str> {
    legal_form_of(stored)
}

/// The words of a name as keys compare them: lower case, punctuation
/// dropped, Chinese legal suffixes cut.
fn name_words(name: &str) -> Vec<String> {
    const ZH_SUFFIXES: &[&str] = &["股份有限公司", "有限责任公司", "有限公司", "集团", "公司"];
    let mut s = name.trim().to_lowercase();
    // (Read as the last word, where key_and_form_of reads a form.)
    let mut ja_form = None;
    for (written, form) in JA_FORMS {
        let rest = s.strip_prefix(written).or_else(|| s.strip_suffix(written)).map(str::trim);
        if let Some(rest) = rest.filter(|r| !r.is_empty()) {
            s = rest.to_string();
            ja_form = Some(*form);
            break;
        }
    }
    loop {
        let before = s.len();
        for suf in ZH_SUFFIXES {
            if let Some(rest) = s.strip_suffix(suf)
                && !rest.trim().is_empty()
            {
                s = rest.trim().to_string();
            }
        }
        if s.len() == before {
            break;
        }
    }
    let mut words: Vec<String> =
        s.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_string).collect();
    // A legal form written letter by letter (`B.V.`, `S.p.A.`, `L.L.C.`) is
    // that form: the last letters standing alone that spell one.
    let letters = words.iter().rev().take_while(|w| w.chars().count() == 1).count();
    let first = words.len() - letters;
    if let Some(at) = (first..words.len().saturating_sub(1))
        .filter(|&at| at > 0)
        .find(|&at| legal_form_of(&words[at..].concat()).is_some())
    {
        let form = words.split_off(at).concat();
        words.push(form);
    }
    // So is one of several words (`Sp. z o.o.`, `SA de CV`).
    if let Some(at) =
        (1..words.len().saturating_sub(1)).find(|&at| JOINED_FORMS.iter().any(|(w, _)| *w == words[at..].concat()))
    {
        let form = words.split_off(at).concat();
        words.push(form);
    }
    if let Some(form) = ja_form {
        words.push(form.to_string());
    }
    words
}

fn key_and_form_of(name: &str) -> (String, Option<&'static str>) {
    let mut words = name_words(name);
    let form = match words.as_slice() {
        [_, .., last] => legal_form_of(last),
        _ => None,
    };
    while words.len() > 1 && words.last().is_some_and(|w| legal_form_of(w).is_some()) {
        words.pop();
    }
    (words.join(" "), form)
}

/// The legal form a company's name ends with, if any (`Acme BV`'s is
/// `bv`, `Acme Co., Ltd.`'s `ltd`): the key leaves it out, so that `Acme`
/// finds `Acme Inc`, but two names that both give one, and not the same,
/// are two companies (`Acme BV` in Utrecht, `Acme AG` in Zurich).
pub fn legal_form(name: &str) -> Option<&'static str> {
    company_key_and_form(name).1
}

/// Whether two names, alike by their keys, may name one company: unless
/// both give a legal form and the forms differ.
pub fn forms_agree(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// A web domain reduced for matching: `https://www.Acme.com/about` is `acme.com`.
pub fn domain_key(domain: &str) -> String {
    let d = domain.trim().to_lowercase();
    let d = d.split_once("://").map_or(d.as_str(), |(_, rest)| rest);
    let d = d.split(['/', '?', '#']).next().unwrap_or(d);
    let d = d.rsplit_once('@').map_or(d, |(_, host)| host);
    let d = d.strip_prefix("www.").unwrap_or(d);
    d.trim_end_matches('.').to_string()
}

/// A domain as the store keeps it (see [`domain_key`]), checked: labels of
/// letters, digits, `-` and `_` joined by dots, at least two of them.
pub fn domain(text: &str) -> Result<String, String> {
    let d = domain_key(text);
    if is_domain(&d) {
        Ok(d)
    } else {
        Err("a domain (example.com, or a web address like https://www.example.com/)".to_string())
    }
}

/// Domains of free e-mail services, which people of many companies share:
/// never a company's domain. (Those most seen in CRM files, worldwide; a
/// few dozen names, so a list of our own rather than a crate of thousands
/// of throwaway-mail domains, which are another matter.)
const FREE_MAIL: &[&str] = &[
    "126.com",
    "139.com",
    "163.com",
    "aim.com",
    "aliyun.com",
    "aol.com",
    "bk.ru",
    "bol.com.br",
    "btinternet.com",
    "comcast.net",
    "daum.net",
    "fastmail.com",
    "foxmail.com",
    "free.fr",
    "gmail.com",
    "gmx.at",
    "gmx.ch",
    "gmx.com",
    "gmx.de",
    "gmx.net",
    "googlemail.com",
    "hanmail.net",
    "hotmail.co.uk",
    "hotmail.com",
    "hotmail.com.br",
    "hotmail.de",
    "hotmail.es",
    "hotmail.fr",
    "hotmail.it",
    "icloud.com",
    "inbox.ru",
    "interia.pl",
    "laposte.net",
    "libero.it",
    "list.ru",
    "live.cn",
    "live.co.uk",
    "live.com",
    "live.de",
    "live.fr",
    "mac.com",
    "mail.com",
    "mail.ru",
    "me.com",
    "msn.com",
    "naver.com",
    "o2.pl",
    "orange.fr",
    "outlook.com",
    "outlook.de",
    "outlook.fr",
    "outlook.jp",
    "pm.me",
    "proton.me",
    "protonmail.com",
    "qq.com",
    "rambler.ru",
    "rediffmail.com",
    "rocketmail.com",
    "sbcglobal.net",
    "seznam.cz",
    "sina.cn",
    "sina.com",
    "sohu.com",
    "t-online.de",
    "terra.com.br",
    "tutanota.com",
    "uol.com.br",
    "vip.163.com",
    "vip.qq.com",
    "wanadoo.fr",
    "web.de",
    "wp.pl",
    "yahoo.co.in",
    "yahoo.co.jp",
    "yahoo.co.uk",
    "yahoo.com",
    "yahoo.com.br",
    "yahoo.com.hk",
    "yahoo.com.tw",
    "yahoo.de",
    "yahoo.es",
    "yahoo.fr",
    "yahoo.it",
    "yandex.com",
    "yandex.ru",
    "yeah.net",
    "ymail.com",
    "zoho.com",
];

/// Whether `d` (as [`domain`] keeps it) is a free e-mail service's.
pub fn is_free_mail(d: &str) -> bool {
    FREE_MAIL.binary_search(&d).is_ok()
}

/// Whether `d` is a domain as [`domain`] keeps it.
pub fn is_domain(d: &str) -> bool {
    let label = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    };
    d.len() <= 253 && d.contains('.') && d.split('.').all(label)
}

/// Record ids: ULIDs (time-ordered, so id order is insertion order), made
/// monotonic within a millisecond.
pub struct Ids {
    last_ms: u64,
    random: u128,
    state: u64,
}

impl Default for Ids {
    fn default() -> Self {
        use std::hash::{BuildHasher, Hasher};
        // The standard library seeds RandomState from the OS: enough to make
        // ids from two processes in the same millisecond differ.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(std::process::id().into());
        Self { last_ms: 0, random: 0, state: h.finish() | 1 }
    }
}

impl Ids {
    fn next_random(&mut self) -> u64 {
        // splitmix64
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn next_id(&mut self) -> String {
        let ms = jiff::Timestamp::now().as_millisecond().max(0) as u64;
        if ms > self.last_ms {
            self.last_ms = ms;
            let hi = u128::from(self.next_random() & 0xFFFF);
            self.random = (hi << 64) | u128::from(self.next_random());
        } else {
            self.random = (self.random + 1) & ((1u128 << 80) - 1);
        }
        ulid_text((u128::from(self.last_ms) << 80) | self.random)
    }
}

const ULID_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A ULID's 128 bits spelled as crmsync writes ids.
pub fn ulid_text(value: u128) -> String {
    let mut out = [0u8; 26];
    for (i, c) in out.iter_mut().enumerate() {
        *c = ULID_ALPHABET[((value >> ((25 - i) * 5)) & 31) as usize];
    }
    String::from_utf8(out.to_vec()).expect("the alphabet is ASCII")
}

/// The 128 bits of an id spelled as `ulid_text` spells them; `None` for
/// any other text.
pub fn ulid_value(id: &str) -> Option<u128> {
    if id.len() != 26 || id.as_bytes()[0] > b'7' {
        return None;
    }
    id.bytes().try_fold(0u128, |v, b| Some((v << 5) | ULID_ALPHABET.iter().position(|&c| c == b)? as u128))
}

/// `YYYY-MM-DD` or stored time text shortened for tables on a terminal.
pub fn short_time(stored: &str) -> String {
    let mut s = stored.replacen('T', " ", 1);
    if let Some(dot) = s.find('.') {
        s.truncate(dot);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_mail_domains_are_found_as_stored() {
        // (Looked up by binary search: the list must stay sorted.)
        assert!(FREE_MAIL.windows(2).all(|w| w[0] < w[1]));
        for d in ["gmail.com", "qq.com", "live.co.uk", "zoho.com", "126.com"] {
            assert!(is_free_mail(d), "{d}");
        }
        assert_eq!(domain("https://www.GMail.com/").map(|d| is_free_mail(&d)), Ok(true));
        for d in ["acme.com", "mail.acme.com", "gmail.co", "google.com"] {
            assert!(!is_free_mail(d), "{d}");
        }
    }

    #[test]
    fn stored_times_are_what_format_writes() {
        let times = [
            jiff::civil::date(2024, 7, 20).at(0, 0, 0, 0),
            jiff::civil::date(1, 1, 1).at(0, 0, 0, 0),
            jiff::civil::date(9999, 12, 31).at(23, 59, 59, 999_999_999),
            jiff::civil::date(1970, 2, 3).at(4, 5, 6, 7_008_000),
            jiff::civil::date(-44, 3, 15).at(12, 0, 0, 0),
        ];
        for t in times {
            let by_format = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.subsec_nanosecond() / 1000
            );
            assert_eq!(civil_text(t), by_format);
        }
        // An offset is taken off; none leaves the time as it is.
        let with = |offset: Option<i32>| crmsync_core::value::DateTime {
            civil: jiff::civil::date(2024, 1, 1).at(1, 30, 0, 0),
            offset: offset.map(|s| jiff::tz::Offset::from_seconds(s).expect("an offset")),
        };
        assert_eq!(time_text(&with(None)).as_deref(), Ok("2024-01-01T01:30:00.000000Z"));
        assert_eq!(time_text(&with(Some(0))).as_deref(), Ok("2024-01-01T01:30:00.000000Z"));
        assert_eq!(time_text(&with(Some(8 * 3600))).as_deref(), Ok("2023-12-31T17:30:00.000000Z"));
    }

    #[test]
    fn custom_json_of_a_new_record_is_what_the_map_writes() {
        use serde_json::json;
        type Given = Vec<(&'static str, Option<serde_json::Value>)>;
        let cases: Vec<(Given, bool)> = vec![
            (vec![("website", Some(json!("http://a.example"))), ("customer_id", Some(json!("C-1")))], false),
            (
                vec![
                    ("b", Some(json!(1.5))),
                    ("a", Some(json!({"z": [1, "x"], "\"q": null}))),
                    ("é", Some(json!(true))),
                ],
                false,
            ),
            (vec![("n", Some(json!("first"))), ("n", Some(json!("last")))], false),
            (vec![("n", Some(json!("kept"))), ("n", None)], false),
            (vec![("n", Some(json!("cleared"))), ("n", None), ("m", Some(json!(2)))], true),
            (vec![("n", None)], false),
            (vec![("n", None)], true),
            (vec![("tab\t", Some(json!("line\nbreak \u{1}")))], false),
        ];
        for (fields, clear) in cases {
            let mut map = std::collections::BTreeMap::new();
            for (k, v) in &fields {
                match v {
                    Some(v) => {
                        map.insert(k.to_string(), v.clone());
                    }
                    None if clear => {
                        map.remove(*k);
                    }
                    None => {}
                }
            }
            let mut given: Vec<(String, Option<serde_json::Value>)> =
                fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            assert_eq!(custom_json_of(&mut given, clear), custom_json(&map), "{map:?}");
        }
    }

    #[test]
    fn numbers_are_kept_as_postgres_jsonb_prints_them() {
        // Each pair checked against PostgreSQL 15: `SELECT 'x'::jsonb::text`.
        for (given, stored) in [
            ("1e2", "100"),
            ("1E+2", "100"),
            ("1.50e1", "15.0"),
            ("1.5e-3", "0.0015"),
            ("1.0e+28", "10000000000000000000000000000"),
            ("-0.0", "0.0"),
            ("-0", "0"),
            ("0e5", "0"),
            ("-1.25e-1", "-0.125"),
            ("123.456e2", "12345.6"),
            ("1e-7", "0.0000001"),
            ("-12e0", "-12"),
            ("0.000e3", "0"),
        ] {
            assert_eq!(plain_decimal(given).as_deref(), Some(stored), "{given}");
        }
        for (a, b) in [("12.50", "12.5"), ("-0", "0.00"), ("007", "7"), ("1.0", "1"), ("0.5", ".5")] {
            assert!(same_decimal(a, b), "{a} = {b}");
        }
        for (a, b) in [("12.5", "125"), ("-1", "1"), ("1.05", "1.5"), ("abc", "abd"), ("1e2", "100")] {
            assert!(!same_decimal(a, b), "{a} != {b}");
        }
        for kept in ["100", "1.50", "-3", "0.0", "1e5000", "abc"] {
            assert_eq!(plain_decimal(kept), None, "{kept}");
        }
        let v = custom_value(&Value::Array(vec![Value::Number("1e2".into()), Value::Number("2.50".into())]));
        assert_eq!(v.map(|j| j.to_string()).as_deref(), Some("[100,2.50]"));
    }

    #[test]
    fn company_names_match_across_spellings() {
        assert_eq!(company_key("Acme, Inc."), "acme");
        assert_eq!(company_key("ACME Inc"), "acme");
        assert_eq!(company_key("  Acme   Corp. "), "acme");
        assert_eq!(company_key("北京星辰科技有限公司"), "北京星辰科技");
        assert_eq!(company_key("Co"), "co");
        assert_ne!(company_key("Acme Labs"), company_key("Acme"));
    }

    #[test]
    fn legal_forms_tell_names_alike_apart() {
        assert_eq!(legal_form("Acme, Inc."), Some("inc"));
        assert_eq!(legal_form("Acme Incorporated"), Some("inc"));
        assert_eq!(legal_form("Acme Co., Ltd."), Some("ltd"));
        assert_eq!(legal_form("Acme Pty Limited"), Some("ltd"));
        assert_eq!(legal_form("ACME GmbH"), Some("gmbh"));
        assert_eq!(legal_form("Acme B.V."), Some("bv"));
        assert_eq!(legal_form("Acme S.p.A."), Some("spa"));
        assert_eq!(legal_form("Acme Co. L.L.C."), Some("llc"));
        assert_eq!(legal_form("Delta GmbH & Co. KG"), Some("kg"));
        assert_eq!(company_key("Delta GmbH & Co. KG"), "delta");
        assert_eq!(legal_form("Acme S.A.S."), Some("sas"));
        assert_eq!(legal_form("Verein e.V."), Some("ev"));
        assert_eq!(company_key("Acme Sdn Bhd"), "acme");
        assert_eq!(company_key("Acme B.V."), "acme");
        assert_eq!(company_key("Acme I T S.A."), "acme i t");
        assert_eq!(company_key("A.B."), "a b");
        assert_eq!(company_key("J. P. Q."), "j p q");
        // Forms of several words, and Japanese ones before or after.
        assert_eq!(company_key_and_form("Acme Sp. z o.o."), ("acme".into(), Some("spzoo")));
        assert_eq!(company_key_and_form("ACME SP Z OO"), ("acme".into(), Some("spzoo")));
        assert_eq!(company_key_and_form("Acme, S.A. de C.V."), ("acme".into(), Some("sadecv")));
        assert_eq!(company_key_and_form("Acme S. de R.L. de C.V."), ("acme".into(), Some("sderldecv")));
        assert_eq!(company_key_and_form("Acme S.à r.l."), ("acme".into(), Some("sarl")));
        assert_eq!(company_key_and_form("Acme Sàrl"), ("acme".into(), Some("sarl")));
        assert_eq!(company_key_and_form("Acme SARL"), ("acme".into(), Some("sarl")));
        assert_eq!(company_key_and_form("Müller e.K."), ("müller".into(), Some("ek")));
        assert_eq!(company_key_and_form("株式会社トヨタ"), ("トヨタ".into(), Some("kk")));
        assert_eq!(company_key_and_form("トヨタ株式会社"), ("トヨタ".into(), Some("kk")));
        assert_eq!(company_key_and_form("(株)トヨタ"), ("トヨタ".into(), Some("kk")));
        assert_eq!(company_key_and_form("トヨタ合同会社"), ("トヨタ".into(), Some("gk")));
        assert_eq!(company_key_and_form("株式会社"), ("株式会社".into(), None));
        assert_eq!(company_key_and_form("(同)トヨタ"), ("トヨタ".into(), Some("gk")));
        // Forms written out in words are the same forms.
        assert_eq!(company_key_and_form("Nowak Spółka z o.o."), ("nowak".into(), Some("spzoo")));
        assert_eq!(
            company_key_and_form("Nowak Spółka z ograniczoną odpowiedzialnością"),
            ("nowak".into(), Some("spzoo"))
        );
        assert_eq!(company_key_and_form("Nowak Spółka Akcyjna"), ("nowak".into(), Some("sa")));
        assert_eq!(
            company_key_and_form("Müller Gesellschaft mit beschränkter Haftung"),
            ("müller".into(), Some("gmbh"))
        );
        assert_eq!(company_key_and_form("Siemens Aktiengesellschaft"), ("siemens".into(), Some("ag")));
        assert_eq!(company_key_and_form("Grupo Sol SAPI de CV"), ("grupo sol".into(), Some("sapidecv")));
        assert_eq!(company_key_and_form("Acme Limited Liability Company"), ("acme".into(), Some("llc")));
        assert_eq!(company_key_and_form("Acme Company"), ("acme".into(), Some("co")));
        // (Words that only spell a form when joined stay words elsewhere.)
        assert_eq!(company_key("Casa de Cv"), "casa de cv");
        assert_eq!(company_key("Sa De Cv"), "sa de cv");
        assert_eq!(legal_form("Acme"), None);
        assert_eq!(legal_form("Co"), None);
        assert_eq!(legal_form("北京星辰科技有限公司"), None);
        assert!(forms_agree(legal_form("Acme, Inc."), legal_form("ACME Incorporated")));
        assert!(forms_agree(legal_form("Acme"), legal_form("Acme BV")));
        assert!(!forms_agree(legal_form("Acme BV"), legal_form("Acme AG")));
    }

    #[test]
    fn domains_match_without_scheme_and_www() {
        assert_eq!(domain_key("https://www.Acme.com/about"), "acme.com");
        assert_eq!(domain_key("acme.com."), "acme.com");
        assert_eq!(domain_key("info@acme.com"), "acme.com");
        assert_eq!(domain("https://www.Acme.co.uk/about"), Ok("acme.co.uk".to_string()));
        assert_eq!(domain("华为.中国"), Ok("华为.中国".to_string()));
        for bad in ["not a domain", "baz com", "localhost", "acme..com", "-acme.com", "a,b.com"] {
            assert!(domain(bad).is_err(), "{bad}");
        }
    }

    /// Stores hold hashes made piece by piece with the streaming hasher:
    /// the one-shot form must give the same digest.
    #[test]
    fn content_hashes_are_those_stores_already_hold() {
        let long = "long ".repeat(100);
        let records: [&[Option<&str>]; 4] = [
            &[],
            &[None, None],
            &[Some("ada@example.com"), None, Some(""), Some("Ada"), Some("{\"tier\":\"gold\"}")],
            &[Some(long.as_str()), Some("北京星辰科技"), None, Some(long.as_str())],
        ];
        for values in records {
            let mut h = xxhash_rust::xxh3::Xxh3::new();
            for v in values {
                match v {
                    Some(s) => {
                        h.update(&[1]);
                        h.update(&(s.len() as u64).to_le_bytes());
                        h.update(s.as_bytes());
                    }
                    None => h.update(&[0]),
                }
            }
            assert_eq!(content_hash_of(values.iter().copied()), h.digest128().to_be_bytes(), "{values:?}");
        }
    }

    #[test]
    fn times_are_written_in_one_fixed_utc_form() {
        for (ts, text) in [
            (0, "1970-01-01T00:00:00.000000Z"),
            (1_719_912_600_123_456, "2024-07-02T09:30:00.123456Z"),
            (-62_135_596_800_000_000, "0001-01-01T00:00:00.000000Z"),
            (253_402_207_199_999_999, "9999-12-30T21:59:59.999999Z"),
        ] {
            let t = jiff::Timestamp::from_microsecond(ts).expect("in range");
            assert_eq!(datetime_text(t), text);
        }
        // Before year 0, with its sign.
        assert!(
            datetime_text(jiff::Timestamp::MIN).starts_with("-9999-01-0"),
            "{}",
            datetime_text(jiff::Timestamp::MIN)
        );
    }

    #[test]
    fn company_keys_are_the_same_remembered_or_not() {
        // Past the bound, the remembered keys are dropped and made again.
        for round in 0..2 {
            for i in 0..40_000 {
                let name = format!("  Acme {i}, Inc. ");
                assert_eq!(company_key(&name), format!("acme {i}"), "round {round}");
            }
        }
        assert_eq!(company_key("北京字节跳动科技有限公司"), key_and_form_of("北京字节跳动科技有限公司").0);
    }

    #[test]
    fn ids_spell_their_128_bits_and_nothing_else_does() {
        let mut ids = Ids::default();
        for _ in 0..1000 {
            let id = ids.next_id();
            assert_eq!(ulid_value(&id).map(ulid_text).as_deref(), Some(id.as_str()));
        }
        assert_eq!(ulid_value("00000000000000000000000001"), Some(1));
        assert_eq!(ulid_value("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"), Some(u128::MAX));
        for not in
            ["8ZZZZZZZZZZZZZZZZZZZZZZZZZ", "01m82asky0000000000000000x", "01M82ASKYI000000000000000X", "01M8", ""]
        {
            assert_eq!(ulid_value(not), None, "{not}");
        }
    }

    #[test]
    fn ids_are_ordered_and_distinct() {
        let mut ids = Ids::default();
        let a: Vec<String> = (0..1000).map(|_| ids.next_id()).collect();
        let mut sorted = a.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(a, sorted);
        assert!(a.iter().all(|id| id.len() == 26));
    }

    #[test]
    fn values_are_checked_against_their_column() {
        let name = columns(Entity::Companies)[0];
        let err = stored(&name, &Value::Text("x".repeat(300))).expect_err("too long");
        assert!(err.contains("at most 255 characters (this value has 300)"), "{err}");
        // Characters, not bytes: 255 of three bytes each fit.
        assert!(stored(&name, &Value::Text("星".repeat(255))).is_ok());
        let err = stored(&name, &Value::Text("星".repeat(256))).expect_err("too long");
        assert!(err.contains("(this value has 256)"), "{err}");
        let at = columns(Entity::Contacts)[position(Entity::Contacts, "subscribed_at").expect("field")];
        assert_eq!(
            stored(&at, &Value::Text("2024-05-01".into())).expect("date").as_deref(),
            Some("2024-05-01T00:00:00.000000Z")
        );
        assert_eq!(
            stored(&at, &Value::Text("2024-05-01T09:30:00+08:00".into())).expect("time").as_deref(),
            Some("2024-05-01T01:30:00.000000Z")
        );
        // Years 1 to 9999 in UTC, the last day of 9999 too (many systems'
        // "no end"); year 0 neither backend holds.
        for (text, want) in [
            ("9999-12-31", Ok("9999-12-31T00:00:00.000000Z")),
            ("9999-12-31T23:59:59.999999Z", Ok("9999-12-31T23:59:59.999999Z")),
            ("0001-01-01T08:00:00+08:00", Ok("0001-01-01T00:00:00.000000Z")),
            ("0001-01-01T07:59:59+08:00", Err(TIMES)),
            ("0000-06-15", Err(TIMES)),
        ] {
            assert_eq!(
                stored(&at, &Value::Text(text.into())).map(Option::unwrap_or_default),
                want.map(str::to_string).map_err(str::to_string),
                "{text}"
            );
        }
        let close = columns(Entity::Deals)[position(Entity::Deals, "close_date").expect("field")];
        assert_eq!(stored(&close, &Value::Text("9999-12-31".into())), Ok(Some("9999-12-31".to_string())));
        assert_eq!(stored(&close, &Value::Text("0000-01-01".into())), Err(DATES.to_string()));
        let amount = columns(Entity::Deals)[1];
        assert_eq!(stored(&amount, &Value::Text("1,234.50".into())).expect("decimal").as_deref(), Some("1234.50"));
        assert!(stored(&amount, &Value::Text("lots".into())).is_err());
        let kind = columns(Entity::Activities)[0];
        assert!(stored(&kind, &Value::Text("fax".into())).expect_err("enum").contains("call, email"));
        let tags = columns(Entity::Contacts)[position(Entity::Contacts, "tags").expect("tags")];
        assert_eq!(
            stored(&tags, &Value::Text("vip; expo ".into())).expect("tags").as_deref(),
            Some(r#"["vip","expo"]"#)
        );
    }

    #[test]
    fn hashes_see_every_value_and_its_position() {
        let a = content_hash(&[Some("a".into()), None]);
        assert_ne!(a, content_hash(&[None, Some("a".into())]));
        assert_ne!(a, content_hash(&[Some("a".into()), Some(String::new())]));
        assert_eq!(a, content_hash(&[Some("a".into()), None]));
    }
}
