//! `Value` and `Record`: what every reader yields and every writer takes.

use std::fmt::Write as _;
use std::sync::Arc;

use jiff::civil;
use jiff::tz::Offset;

/// A field name. Shared, because every record of a flat file carries the same
/// names and cloning an `Arc` is cheaper than allocating the text again.
pub type Key = Arc<str>;

/// How a flat file (CSV, a spreadsheet) writes a list in one cell: `a; b`.
/// Import splits it again; `--where` compares lists in this form.
pub const LIST_SEPARATOR: &str = "; ";

/// A list as one flat-file cell: items joined by [`LIST_SEPARATOR`]. An item
/// that [`split_list`] would not give back as it is (one holding `;` or `,`,
/// or starting with `"`) is written in double quotes, a quote inside
/// doubled: `"Sales, EMEA"; VIP`.
pub fn join_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push_str(LIST_SEPARATOR);
        }
        let quoted = item.contains([';', ',']) || item.trim_start().starts_with('"');
        if quoted {
            out.push('"');
            out.push_str(&item.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(item);
        }
    }
    out
}

/// Whether `c` is a character text shows without a glyph of its own and
/// that changes how the text around it reads: a control character, a line
/// or paragraph separator, a zero-width space, a bidirectional mark (U+202E
/// turns what follows around on a terminal), a soft hyphen, a tag.
pub fn is_unseen(c: char) -> bool {
    // (Not the zero-width joiner and non-joiner: Persian, Indic scripts and
    // emoji spell with them.)
    c.is_control()
        || matches!(
            c,
            '\u{AD}'
                | '\u{61C}'
                | '\u{180E}'
                | '\u{200B}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2069}'
                | '\u{FEFF}'
                | '\u{E0000}'..='\u{E007F}'
        )
}

/// Values of a list as one flat-file cell (see [`join_list`]).
pub fn list_cell(items: &[Value]) -> String {
    let text: Vec<String> = items.iter().map(Value::to_text).collect();
    join_list(text.iter().map(String::as_str))
}

/// A list kept as JSON text (`["vip","b2b"]`) as one flat-file cell
/// (`vip; b2b`); `None` for JSON that is no list.
pub fn json_list_cell(json: &str) -> Option<String> {
    match serde_json::from_str(json).ok()? {
        serde_json::Value::Array(items) => Some(list_cell(&items.iter().map(Value::from_json).collect::<Vec<_>>())),
        _ => None,
    }
}

/// The items of a list written in one cell: separated by `;`, or by `,`
/// when the cell has no `;` (`a, b, c` as people type it). Items are
/// trimmed and empty ones dropped; an item in double quotes may hold either
/// separator (`""` is a quote), as [`join_list`] writes it. A quote that is
/// never closed is kept as text.
pub fn split_list(cell: &str) -> Vec<String> {
    let separator = if has_unquoted_semicolon(cell) { ';' } else { ',' };
    let mut items = Vec::new();
    let mut rest = cell;
    loop {
        let start = rest.trim_start();
        let (item, next) = match start.strip_prefix('"').and_then(closing_quote) {
            Some((inner, after)) => {
                // Whatever follows the closing quote, up to the separator,
                // is kept too: `"a" b` is the item `a b`.
                let (tail, next) = after.split_once(separator).map_or((after, None), |(t, n)| (t, Some(n)));
                let tail = tail.trim();
                let item = if tail.is_empty() { inner.trim().to_string() } else { format!("{} {tail}", inner.trim()) };
                (item, next)
            }
            None => {
                let end = rest.find(separator);
                (rest[..end.unwrap_or(rest.len())].trim().to_string(), end.map(|e| &rest[e + 1..]))
            }
        };
        if !item.is_empty() {
            items.push(item);
        }
        match next {
            Some(n) => rest = n,
            None => return items,
        }
    }
}

/// The text of a quoted item (after its opening quote) and what follows the
/// closing quote; `None` if it is never closed.
fn closing_quote(s: &str) -> Option<(String, &str)> {
    let mut inner = String::new();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c != '"' {
            inner.push(c);
        } else if chars.peek().is_some_and(|&(_, n)| n == '"') {
            inner.push('"');
            chars.next();
        } else {
            return Some((inner, &s[i + 1..]));
        }
    }
    None
}

/// Whether a cell has a `;` outside quoted items (an item is quoted when it
/// starts with `"`, after spaces; either separator starts an item). A quote
/// never closed quotes nothing.
fn has_unquoted_semicolon(cell: &str) -> bool {
    let (mut quoted, mut item_start) = (false, true);
    // A `;` inside the quote still open, which counts if it never closes.
    let mut in_open_quote = false;
    let mut chars = cell.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
            }
            '"' if quoted => (quoted, item_start) = (false, false),
            '"' if item_start => (quoted, in_open_quote) = (true, false),
            ';' if quoted => in_open_quote = true,
            ';' => return true,
            ',' if !quoted => item_start = true,
            c if c.is_whitespace() || quoted => {}
            _ => item_start = false,
        }
    }
    quoted && in_open_quote
}

/// One field value. Without a mapping, readers produce `Text` (CSV, XML) or
/// the JSON types as written; a mapping's types produce the rest.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Text(String),
    /// A number kept as its canonical text so that no digit is lost
    /// (18-digit ids, `1.0e+28`, money with its scale).
    Number(String),
    Bool(bool),
    Date(civil::Date),
    DateTime(DateTime),
    Array(Vec<Value>),
    Object(Vec<(Key, Value)>),
}

/// A date and time of day, with its UTC offset when the source gave one or a
/// mapping assigned one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    pub civil: civil::DateTime,
    pub offset: Option<Offset>,
}

impl DateTime {
    /// ISO 8601 / RFC 3339 text: `2024-05-01T09:30:00+08:00`, `...Z` for UTC,
    /// no suffix when the offset is unknown, the offset's seconds when it has
    /// some (`+08:05:43`, as RFC 9557 and jiff write them).
    pub fn write_iso(&self, out: &mut String) {
        let c = self.civil;
        let _ = write!(
            out,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            c.year(),
            c.month(),
            c.day(),
            c.hour(),
            c.minute(),
            c.second()
        );
        // A fraction of a second to the microsecond, as the store keeps
        // times, always six digits (nine for nanoseconds): times of one
        // width sort as text in time order, and an exported time is the
        // stored text a `like` matches (`.926270`, not `.92627`).
        let nanos = c.subsec_nanosecond();
        if nanos % 1000 != 0 {
            let _ = write!(out, ".{nanos:09}");
        } else if nanos != 0 {
            let _ = write!(out, ".{:06}", nanos / 1000);
        }
        if let Some(off) = self.offset {
            let secs = off.seconds();
            if secs == 0 {
                out.push('Z');
            } else {
                let sign = if secs < 0 { '-' } else { '+' };
                let a = secs.unsigned_abs();
                let _ = write!(out, "{sign}{:02}:{:02}", a / 3600, (a % 3600) / 60);
                // Local mean time before a zone's standard time (Shanghai
                // +08:05:43 in 1900) has seconds: cut off, the time would
                // name another instant.
                if a % 60 != 0 {
                    let _ = write!(out, ":{:02}", a % 60);
                }
            }
        }
    }
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True for null and for text that is empty: both mean "no value" in a cell.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Text(s) => s.is_empty(),
            _ => false,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) | Value::Number(s) => Some(s),
            _ => None,
        }
    }

    /// Appends the value as a spreadsheet cell shows it. Arrays and objects,
    /// which flat formats normally flatten first, fall back to JSON text.
    pub fn write_text(&self, out: &mut String) {
        match self {
            Value::Null => {}
            Value::Text(s) | Value::Number(s) => out.push_str(s),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Date(d) => {
                let _ = write!(out, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
            }
            Value::DateTime(dt) => dt.write_iso(out),
            Value::Array(_) | Value::Object(_) => out.push_str(&self.to_json().to_string()),
        }
    }

    /// The value's text, borrowed where it is text already.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self.as_str() {
            Some(t) => std::borrow::Cow::Borrowed(t),
            None => std::borrow::Cow::Owned(self.to_text()),
        }
    }

    pub fn to_text(&self) -> String {
        // Text is copied whole, in one allocation of its size: grown from
        // empty, it was a fortieth of an import's mapping thread.
        if let Value::Text(s) | Value::Number(s) = self {
            return s.clone();
        }
        let mut s = String::new();
        self.write_text(&mut s);
        s
    }

    /// The value as JSON. Numbers keep their text exactly.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Null => J::Null,
            Value::Text(s) => J::String(s.clone()),
            Value::Number(s) => match serde_json::from_str::<serde_json::Number>(s) {
                Ok(n) => J::Number(n),
                Err(_) => J::String(s.clone()),
            },
            Value::Bool(b) => J::Bool(*b),
            Value::Date(_) | Value::DateTime(_) => J::String(self.to_text()),
            Value::Array(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Object(fields) => J::Object(fields.iter().map(|(k, v)| (k.to_string(), v.to_json())).collect()),
        }
    }

    /// A JSON value as a value: the way back from [`Value::to_json`] (dates
    /// and times come back as their text).
    pub fn from_json(json: &serde_json::Value) -> Value {
        use serde_json::Value as J;
        match json {
            J::Null => Value::Null,
            J::Bool(b) => Value::Bool(*b),
            J::Number(n) => Value::Number(n.to_string()),
            J::String(s) => Value::Text(s.clone()),
            J::Array(items) => Value::Array(items.iter().map(Value::from_json).collect()),
            J::Object(fields) => {
                Value::Object(fields.iter().map(|(k, v)| (Key::from(k.as_str()), Value::from_json(v))).collect())
            }
        }
    }
}

/// One record as read from a source or produced by a mapping: ordered
/// `(name, value)` pairs. Readers refill one `Record` again and again, so the
/// strings of the previous record are reused instead of reallocated.
#[derive(Clone, Debug, Default)]
pub struct Record {
    /// 1-based position as a user finds it: the spreadsheet row (header = row 1)
    /// for CSV and sheets, the line for NDJSON, the element's ordinal for JSON
    /// arrays and XML.
    pub row: u64,
    /// 1-based physical line where the record starts, when the format has lines.
    pub line: u64,
    /// The row a rejects file fed back says the record was first read from
    /// (its `_row`); 0 when it says none. A row rejected again keeps it, so
    /// `_row` points into the file first read however often it goes round.
    pub origin: u64,
    /// Set by a reader when the record is damaged (a ragged row, a NUL byte,
    /// a line that is not JSON). Such a record is rejected with this reason,
    /// and its fields hold what could be read.
    pub defect: Option<Defect>,
    fields: Vec<(Key, Value)>,
    len: usize,
}

/// Why a reader could not read a record cleanly.
#[derive(Clone, Debug, PartialEq)]
pub struct Defect {
    pub field: Option<String>,
    pub message: String,
}

impl Record {
    pub fn new() -> Self {
        Self::default()
    }

    /// A record with room for `n` fields.
    pub fn with_capacity(n: usize) -> Self {
        Self { fields: Vec::with_capacity(n), ..Self::default() }
    }

    /// Values by position, to change them in place.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        self.fields[..self.len].iter_mut().map(|(_, v)| v)
    }

    /// Empties the record for refilling, keeping its allocations.
    pub fn clear(&mut self) {
        self.len = 0;
        self.defect = None;
        self.origin = 0;
    }

    pub fn fields(&self) -> &[(Key, Value)] {
        &self.fields[..self.len]
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends a text value, reusing the string left in this slot by the
    /// previous record when there is one.
    pub fn push_text(&mut self, key: &Key, text: &str) {
        if self.len < self.fields.len() {
            let slot = &mut self.fields[self.len];
            if !Arc::ptr_eq(&slot.0, key) {
                slot.0 = key.clone();
            }
            match &mut slot.1 {
                Value::Text(buf) => {
                    buf.clear();
                    buf.push_str(text);
                }
                other => *other = Value::Text(text.to_owned()),
            }
        } else {
            self.fields.push((key.clone(), Value::Text(text.to_owned())));
        }
        self.len += 1;
    }

    pub fn push(&mut self, key: Key, value: Value) {
        if self.len < self.fields.len() {
            self.fields[self.len] = (key, value);
        } else {
            self.fields.push((key, value));
        }
        self.len += 1;
    }

    /// The value of a field by exact name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.fields().iter().find(|(k, _)| &**k == name).map(|(_, v)| v)
    }

    /// The value at a dotted path: an exact field name first (flat files name
    /// columns `address.city`), then a walk through nested objects and arrays.
    pub fn get_path(&self, path: &str) -> Option<&Value> {
        if let Some(v) = self.get(path) {
            return Some(v);
        }
        let mut segments = path.split('.');
        let first = segments.next()?;
        let mut current = self.get(first)?;
        for seg in segments {
            current = match current {
                Value::Object(fields) => fields.iter().find(|(k, _)| &**k == seg).map(|(_, v)| v)?,
                Value::Array(items) => items.get(seg.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// Removes fields by name (used to drop the `_row/_field/_error` columns of
    /// a rejects file that is fed back in).
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        let mut kept = 0;
        for i in 0..self.len {
            if keep(&self.fields[i].0) {
                self.fields.swap(kept, i);
                kept += 1;
            }
        }
        self.len = kept;
    }

    /// True when no value is nested, so flat writers can skip flattening.
    pub fn is_flat(&self) -> bool {
        self.fields().iter().all(|(_, v)| !matches!(v, Value::Array(_) | Value::Object(_)))
    }

    /// The record with nested values spelled out as dotted columns:
    /// `{"address": {"city": "X"}}` becomes `address.city = X`, arrays use
    /// their index (`tags.0`). Empty objects and arrays become an empty cell.
    pub fn flatten(&self) -> Vec<(String, Value)> {
        let mut out = Vec::with_capacity(self.len);
        for (k, v) in self.fields() {
            flatten_into(k.to_string(), v, &mut out);
        }
        out
    }

    /// The record with dotted names folded into nested objects, the reverse of
    /// [`Record::flatten`]. A name that clashes with a plain value of the same
    /// name (`a` and `a.b`) is kept flat rather than overwriting anything.
    pub fn nested(&self) -> Vec<(Key, Value)> {
        let mut out = Tree::default();
        // Whatever the order, `a.b` stays flat when a plain field `a` exists.
        let names: std::collections::HashSet<&str> = self.fields().iter().map(|(k, _)| &**k).collect();
        let plain = |head: &str| names.contains(head);
        for (k, v) in self.fields() {
            let nests = k.split_once('.').is_some_and(|(head, _)| !plain(head));
            if !nests || !out.insert(k, v) {
                out.push(k.clone(), Slot::Leaf(v.clone()));
            }
        }
        let mut out = out.into_fields();
        for (_, v) in out.iter_mut() {
            arrays_from_index_objects(v);
        }
        out
    }

    pub fn to_json(&self) -> serde_json::Value {
        Value::Object(self.nested()).to_json()
    }
}

fn flatten_into(prefix: String, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(fields) if !fields.is_empty() => {
            for (k, v) in fields {
                flatten_into(format!("{prefix}.{k}"), v, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten_into(format!("{prefix}.{i}"), v, out);
            }
        }
        Value::Object(_) | Value::Array(_) => out.push((prefix, Value::Null)),
        other => out.push((prefix, other.clone())),
    }
}

/// Where each name stands in a list of fields that only grows. A short
/// list is searched in order; past `INDEXED` fields each name is found
/// through a map, brought up to date with the fields added since: records
/// of thousands of fields were quadratic in them, read (JSON, XML) or
/// nested for writing.
#[derive(Default)]
pub struct FieldIndex {
    at: std::collections::HashMap<Key, usize>,
    indexed: usize,
}

impl FieldIndex {
    const INDEXED: usize = 16;

    /// The first of `fields` named `name`.
    pub fn find<V>(&mut self, fields: &[(Key, V)], name: &str) -> Option<usize> {
        if fields.len() < Self::INDEXED {
            return fields.iter().position(|(k, _)| **k == *name);
        }
        for (i, (k, _)) in fields.iter().enumerate().skip(self.indexed) {
            self.at.entry(k.clone()).or_insert(i);
        }
        self.indexed = fields.len();
        self.at.get(name).copied()
    }
}

/// Nested objects as `Record::nested` builds them.
#[derive(Default)]
struct Tree {
    fields: Vec<(Key, Slot)>,
    index: FieldIndex,
}

enum Slot {
    Leaf(Value),
    Tree(Tree),
}

impl Tree {
    fn find(&mut self, name: &str) -> Option<usize> {
        self.index.find(&self.fields, name)
    }

    fn push(&mut self, key: Key, slot: Slot) {
        self.fields.push((key, slot));
    }

    /// Inserts `a.b.c = v` into nested objects; false, changing nothing,
    /// when a plain value is in the way.
    fn insert(&mut self, path: &str, value: &Value) -> bool {
        let Some((head, rest)) = path.split_once('.') else {
            if self.find(path).is_some() {
                return false;
            }
            self.push(Key::from(path), Slot::Leaf(value.clone()));
            return true;
        };
        if head.is_empty() || rest.is_empty() {
            return false;
        }
        match self.find(head) {
            Some(i) => {
                // An object given whole takes the dotted names below it too.
                if let Slot::Leaf(Value::Object(fields)) = &mut self.fields[i].1 {
                    let mut tree = Tree::default();
                    for (k, v) in std::mem::take(fields) {
                        tree.push(k, Slot::Leaf(v));
                    }
                    self.fields[i].1 = Slot::Tree(tree);
                }
                self.insert_below(i, rest, value)
            }
            None => {
                let mut children = Tree::default();
                if !children.insert(rest, value) {
                    return false;
                }
                self.push(Key::from(head), Slot::Tree(children));
                true
            }
        }
    }

    fn insert_below(&mut self, i: usize, rest: &str, value: &Value) -> bool {
        match &mut self.fields[i].1 {
            Slot::Tree(children) => children.insert(rest, value),
            Slot::Leaf(_) => false,
        }
    }

    fn into_fields(self) -> Vec<(Key, Value)> {
        self.fields
            .into_iter()
            .map(|(k, slot)| match slot {
                Slot::Leaf(v) => (k, v),
                Slot::Tree(t) => (k, Value::Object(t.into_fields())),
            })
            .collect()
    }
}

/// `{"0": a, "1": b}` as produced from `tags.0, tags.1` columns becomes `[a, b]`.
fn arrays_from_index_objects(value: &mut Value) {
    if let Value::Object(fields) = value {
        for (_, v) in fields.iter_mut() {
            arrays_from_index_objects(v);
        }
        let is_list =
            !fields.is_empty() && fields.iter().enumerate().all(|(i, (k, _))| k.parse::<usize>().ok() == Some(i));
        if is_list {
            let items = std::mem::take(fields).into_iter().map(|(_, v)| v).collect();
            *value = Value::Array(items);
        }
    }
}

/// A field name as an XML element name: characters an element name cannot
/// hold become `_` (`Customer Id` → `Customer_Id`). Readers of a file
/// written so look a name up this way too.
pub fn element_name(name: &str) -> String {
    let mut out: String =
        name.chars().map(|c| if c.is_alphanumeric() || matches!(c, '_' | '-' | '.') { c } else { '_' }).collect();
    if out.is_empty()
        || out.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.')
        || out.to_ascii_lowercase().starts_with("xml")
    {
        out.insert(0, '_');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn unseen_characters_are_those_that_change_how_text_reads() {
        for c in ['\n', '\u{1b}', '\u{200B}', '\u{202E}', '\u{2028}', '\u{61C}', '\u{AD}', '\u{E0041}', '\u{FEFF}'] {
            assert!(is_unseen(c), "{c:?}");
        }
        // Letters, spaces, and the joiners scripts spell with.
        for c in ['a', '张', ' ', '\u{A0}', '\u{200C}', '\u{200D}'] {
            assert!(!is_unseen(c), "{c:?}");
        }
    }

    use super::*;

    #[test]
    fn a_list_kept_as_json_is_one_cell() {
        assert_eq!(json_list_cell(r#"["Sales, EMEA","vip"]"#).as_deref(), Some(r#""Sales, EMEA"; vip"#));
        assert_eq!(json_list_cell("[]").as_deref(), Some(""));
        assert_eq!(json_list_cell(r#""vip""#), None);
        assert_eq!(list_cell(&[Value::Number("7".into()), Value::Text("a".into())]), "7; a");
    }

    #[test]
    fn a_joined_list_splits_into_the_same_items() {
        let lists: &[&[&str]] = &[
            &["a", "b"],
            &["Sales, EMEA"],
            &["R&D; Labs", "x"],
            &["\"quoted\"", "y"],
            &["say \"hi\"", "z"],
            &["a;b,c", "d,e"],
            &["line\nbreak"],
            &["中国; 上海"],
        ];
        for items in lists {
            let cell = join_list(items.iter().copied());
            assert_eq!(split_list(&cell), *items, "through {cell:?}");
        }
        assert_eq!(join_list(["a", "b"]), "a; b", "plain items are not quoted");
        assert_eq!(join_list(["Sales, EMEA", "VIP"]), "\"Sales, EMEA\"; VIP");
    }

    #[test]
    fn a_typed_list_splits_on_semicolons_else_commas() {
        assert_eq!(split_list("a, b , c"), ["a", "b", "c"]);
        assert_eq!(split_list("a; b, c"), ["a", "b, c"]);
        assert_eq!(split_list(" a ;; b ;"), ["a", "b"]);
        assert_eq!(split_list(""), Vec::<String>::new());
        assert_eq!(split_list("\"a, b\", c"), ["a, b", "c"]);
        assert_eq!(split_list("\"x; y\", z"), ["x; y", "z"], "a quoted ; does not choose the separator");
        assert_eq!(split_list("\"a\" b; c"), ["a b", "c"]);
        assert_eq!(split_list("R&D \"Labs\"; x"), ["R&D \"Labs\"", "x"], "a quote inside an item is text");
        assert_eq!(split_list("\"open; x"), ["\"open", "x"], "an unclosed quote is text");
        assert_eq!(split_list("\" padded \", x"), ["padded", "x"], "quoted items are trimmed too");
    }

    fn rec(pairs: &[(&str, &str)]) -> Record {
        let mut r = Record::new();
        for (k, v) in pairs {
            r.push_text(&Key::from(*k), v);
        }
        r
    }

    #[test]
    fn flat_columns_nest_and_flatten_back() {
        let r = rec(&[
            ("name", "Ann"),
            ("address.city", "Paris"),
            ("address.zip", "02134"),
            ("tags.0", "a"),
            ("tags.1", "b"),
        ]);
        let json = r.to_json();
        assert_eq!(
            json,
            serde_json::json!({"name": "Ann", "address": {"city": "Paris", "zip": "02134"}, "tags": ["a", "b"]})
        );
        let mut back = Record::new();
        for (k, v) in r.nested() {
            back.push(k, v);
        }
        let flat: Vec<_> = back.flatten().into_iter().map(|(k, v)| (k, v.to_text())).collect();
        assert_eq!(flat[1], ("address.city".to_string(), "Paris".to_string()));
        assert_eq!(flat[4], ("tags.1".to_string(), "b".to_string()));
    }

    #[test]
    fn many_dotted_names_nest_in_order_and_clashes_stay_flat() {
        // Past the point where an object's fields are indexed.
        let names: Vec<String> = (0..40).map(|i| format!("custom.f{i}")).collect();
        let mut fields: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "v")).collect();
        fields.extend([("custom.f3", "again"), ("custom.f39.x", "below a value"), ("x.y", "1"), ("x.y.z", "2")]);
        let json = rec(&fields).to_json();
        let custom = json["custom"].as_object().expect("object");
        assert_eq!(custom.len(), 40);
        assert_eq!(custom.keys().next().map(String::as_str), Some("f0"));
        assert_eq!(json["custom"]["f3"], "v", "the first of a repeated name");
        assert_eq!(json["custom.f3"], "again");
        assert_eq!(json["custom.f39.x"], "below a value");
        assert_eq!(json["x"], serde_json::json!({"y": "1"}));
        assert_eq!(json["x.y.z"], "2");
        // An object given whole takes dotted names below it.
        let mut r = Record::new();
        r.push(Key::from("a"), Value::Number("1".into()));
        r.push(Key::from("o.p"), Value::Object(vec![(Key::from("q"), Value::Text("1".into()))]));
        r.push_text(&Key::from("o.p.r"), "2");
        assert_eq!(r.to_json(), serde_json::json!({"a": 1, "o": {"p": {"q": "1", "r": "2"}}}));
    }

    #[test]
    fn clashing_dotted_name_stays_flat() {
        let r = rec(&[("a", "1"), ("a.b", "2")]);
        assert_eq!(r.to_json(), serde_json::json!({"a": "1", "a.b": "2"}));
        let r = rec(&[("a.b", "2"), ("a", "1")]);
        assert_eq!(r.to_json(), serde_json::json!({"a.b": "2", "a": "1"}));
    }

    #[test]
    fn reused_record_does_not_leak_previous_values() {
        let k = Key::from("x");
        let mut r = rec(&[("x", "long value"), ("y", "2")]);
        r.clear();
        r.push_text(&k, "s");
        assert_eq!(r.fields().len(), 1);
        assert_eq!(r.get("x"), Some(&Value::Text("s".into())));
        assert_eq!(r.get("y"), None);
    }

    #[test]
    fn datetime_iso_text() {
        let dt =
            DateTime { civil: civil::date(2024, 5, 1).at(9, 30, 0, 500_000_000), offset: Some(Offset::constant(8)) };
        let mut s = String::new();
        dt.write_iso(&mut s);
        assert_eq!(s, "2024-05-01T09:30:00.500000+08:00");
        for (nanos, text) in [(0, "00Z"), (926_270_000, "00.926270Z"), (1_000, "00.000001Z"), (7, "00.000000007Z")] {
            let dt = DateTime { civil: civil::date(2024, 5, 1).at(9, 30, 0, nanos), offset: Some(Offset::UTC) };
            let mut s = String::new();
            dt.write_iso(&mut s);
            assert_eq!(s, format!("2024-05-01T09:30:{text}"));
        }
    }
}
