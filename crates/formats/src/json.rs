//! JSON: an array of records, streamed element by element, or a document
//! whose records sit at `record_path` (`{"records": [...]}`), read whole.
//!
//! Policies, for the cases JSON leaves open: a key that appears twice in one
//! object with different values rejects that record (equal repeats are
//! merged); numbers keep their exact text (no float rounding of 20-digit ids);
//! nesting deeper than 128 levels is an error, never a stack overflow.

use std::cell::RefCell;
use std::fmt;
use std::io::{BufRead, Read, Write};

use crmsync_core::{Defect, Key, Record, Value};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::{Error, Location, Result};
use crate::lines::LineCounter;
use crate::{ReadOptions, RecordReader, RecordWriter, SourceDetails, WriteOptions};

/// Builds a crmsync [`Value`] from JSON, noting repeated keys in `dups`.
#[derive(Clone, Copy)]
pub(crate) struct ValueSeed<'a> {
    pub dups: &'a RefCell<Vec<String>>,
    /// Field names seen so far, shared by the records of one file, so the
    /// thousandth record with an `email` key does not allocate it again.
    pub keys: &'a RefCell<Interner>,
}

/// The field names of one file: a key seen before is handed out again (the
/// same `Arc`) instead of reallocated, for the first 512 names.
#[derive(Default)]
pub(crate) struct Interner {
    keys: std::collections::HashSet<Key>,
}

const MAX_INTERNED: usize = 512;

impl Interner {
    fn get(&mut self, s: &str) -> Key {
        if let Some(k) = self.keys.get(s) {
            return k.clone();
        }
        let k = Key::from(s);
        if self.keys.len() < MAX_INTERNED {
            self.keys.insert(k.clone());
        }
        k
    }
}

// serde_json's `arbitrary_precision` hands numbers over as a one-entry map
// under this key; reading it keeps the number's exact text.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Reads an object key through the [`Interner`].
struct KeySeed<'a>(&'a RefCell<Interner>);

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeySeed<'_> {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E>(self, s: &str) -> std::result::Result<Key, E> {
        Ok(self.0.borrow_mut().get(s))
    }
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::Number(v.to_string()))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::Number(v.to_string()))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(Value::Number(v.to_string()))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::Text(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::Text(v))
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Value, A::Error> {
        let mut fields: Vec<(Key, Value)> = Vec::new();
        let mut index = crmsync_core::FieldIndex::default();
        while let Some(k) = map.next_key_seed(KeySeed(self.keys))? {
            if fields.is_empty() && &*k == NUMBER_TOKEN {
                let text: String = map.next_value()?;
                return Ok(Value::Number(text));
            }
            let v = map.next_value_seed(self)?;
            let found = index.find(&fields, &k);
            match found.map(|i| &fields[i].1) {
                Some(old) if *old == v => {}
                Some(old) => self.dups.borrow_mut().push(format!("{k:?} (values {} and {})", show(old), show(&v))),
                None => fields.push((k, v)),
            }
        }
        Ok(Value::Object(fields))
    }
}

fn show(v: &Value) -> String {
    let t = v.to_json().to_string();
    if t.len() > 40 { format!("{}...", &t[..t.floor_char_boundary(37)]) } else { t }
}

enum Mode {
    /// Streaming the elements of a top-level array.
    Array { started: bool, done: bool },
    /// Records picked out of a document held in memory.
    Held(std::vec::IntoIter<Value>),
}

pub struct JsonReader {
    file: String,
    src: LineCounter<Box<dyn BufRead + Send>>,
    mode: Mode,
    ordinal: u64,
    encoding: &'static str,
    record_path: Option<String>,
    dups: RefCell<Vec<String>>,
    keys: RefCell<Interner>,
}

impl JsonReader {
    pub fn open(
        file: &str,
        input: Box<dyn BufRead + Send>,
        encoding: &'static str,
        opts: &ReadOptions,
    ) -> Result<Self> {
        let mut src = LineCounter::new(input);
        let first = src.peek().map_err(|e| Error::from_io(file, Location::default(), e))?;
        let dups = RefCell::new(Vec::new());
        let mode = match (first, &opts.record_path) {
            (None, _) => {
                return Err(Error::parse(
                    file,
                    Location::default(),
                    "the file is empty: expected a JSON array of records",
                ));
            }
            (Some(b'['), None) => Mode::Array { started: false, done: false },
            (Some(_), path) => {
                let mut text = Vec::new();
                src.read_to_end(&mut text).map_err(|e| Error::from_io(file, Location::default(), e))?;
                let mut de = serde_json::Deserializer::from_slice(&text);
                let keys = RefCell::new(Interner::default());
                let doc = ValueSeed { dups: &dups, keys: &keys }
                    .deserialize(&mut de)
                    .and_then(|v| de.end().map(|_| v))
                    .map_err(|e| json_error(file, &e, 1, 0))?;
                let records = pick_records(file, doc, path.as_deref())?;
                let repeated = std::mem::take(&mut *dups.borrow_mut());
                match (repeated.is_empty(), records.len()) {
                    (true, _) => {}
                    // One record: the repeats are its own, and reject it below.
                    (false, 1) => *dups.borrow_mut() = repeated,
                    (false, _) => {
                        return Err(Error::parse(
                            file,
                            Location::default(),
                            format!("keys appear twice with different values: {}", repeated.join("; ")),
                        ));
                    }
                }
                Mode::Held(records.into_iter())
            }
        };
        Ok(Self {
            file: file.to_string(),
            src,
            mode,
            ordinal: 0,
            encoding,
            record_path: opts.record_path.clone(),
            dups,
            keys: RefCell::new(Interner::default()),
        })
    }
}

/// Finds the records in a whole document.
fn pick_records(file: &str, doc: Value, path: Option<&str>) -> Result<Vec<Value>> {
    let mut node = doc;
    if let Some(path) = path {
        for seg in path.split(['.', '/']).filter(|s| !s.is_empty()) {
            node = match node {
                Value::Object(fields) => {
                    fields.into_iter().find(|(k, _)| &**k == seg).map(|(_, v)| v).ok_or_else(|| {
                        Error::setup(file, format!("record path {path:?}: no key {seg:?} in the document"))
                    })?
                }
                _ => return Err(Error::setup(file, format!("record path {path:?}: {seg:?} is not inside an object"))),
            };
        }
    }
    match node {
        Value::Array(items) => Ok(items),
        Value::Object(fields) => {
            let lists: Vec<&str> = fields
                .iter()
                .filter(
                    |(_, v)| matches!(v, Value::Array(items) if items.iter().any(|i| matches!(i, Value::Object(_)))),
                )
                .map(|(k, _)| &**k)
                .collect();
            match lists.as_slice() {
                [] => Ok(vec![Value::Object(fields)]),
                [one] if path.is_none() => {
                    let one = one.to_string();
                    let list = fields.into_iter().find(|(k, _)| **k == *one).map(|(_, v)| v);
                    match list {
                        Some(Value::Array(items)) => Ok(items),
                        _ => Ok(Vec::new()),
                    }
                }
                many if path.is_none() => Err(Error::setup(
                    file,
                    format!(
                        "the document holds several record lists ({}); choose one with --record-path",
                        many.join(", ")
                    ),
                )),
                _ => Ok(vec![Value::Object(fields)]),
            }
        }
        Value::Null => Ok(Vec::new()),
        other => Err(Error::parse(
            file,
            Location::default(),
            format!(
                "not a list of records: the document is a single {} value; expected an array of objects",
                kind(&other)
            ),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Text(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "boolean",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Date(_) | Value::DateTime(_) => "date",
    }
}

fn json_error(file: &str, e: &serde_json::Error, base_line: u64, ordinal: u64) -> Error {
    let line = base_line + e.line().saturating_sub(1) as u64;
    let at = Location { row: (ordinal > 0).then_some(ordinal), line: Some(line), field: None };
    if e.is_io() {
        let msg = e.to_string();
        return Error::Encoding { file: file.to_string(), at, message: msg };
    }
    if e.is_eof() {
        return Error::parse(
            file,
            at,
            "the file ends inside this record: it was cut short, or a bracket is not closed",
        );
    }
    let mut msg = e.to_string();
    // serde_json appends its own "at line L column C", relative to the element.
    if let Some(pos) = msg.find(" at line ") {
        msg.truncate(pos);
    }
    Error::parse(file, at, format!("{msg} (column {})", e.column()))
}

/// Fills `rec` from a JSON object, dropping Salesforce's `attributes` block
/// (type and reference id, not data) from `sf data tree` exports.
fn fill(rec: &mut Record, v: Value, row: u64, line: u64, dups: &RefCell<Vec<String>>) {
    rec.clear();
    rec.row = row;
    rec.line = line;
    match v {
        Value::Object(fields) => {
            for (k, v) in fields {
                if &*k == "attributes" && matches!(&v, Value::Object(a) if a.iter().any(|(n, _)| &**n == "type")) {
                    continue;
                }
                rec.push(k, v);
            }
        }
        other => {
            rec.push(Key::from("_value"), other.clone());
            rec.defect = Some(Defect {
                field: None,
                message: format!("expected an object (a record), found a {}", kind(&other)),
            });
        }
    }
    let mut d = dups.borrow_mut();
    if !d.is_empty() {
        rec.defect = Some(Defect {
            field: None,
            message: format!("a key appears twice with different values: {}", d.join("; ")),
        });
        d.clear();
    }
}

impl RecordReader for JsonReader {
    fn read(&mut self, rec: &mut Record) -> Result<bool> {
        let file = self.file.clone();
        let io = |e, line| Error::from_io(&file, Location { row: None, line: Some(line), field: None }, e);
        match &mut self.mode {
            Mode::Held(items) => {
                let Some(v) = items.next() else { return Ok(false) };
                self.ordinal += 1;
                fill(rec, v, self.ordinal, 0, &self.dups);
                Ok(true)
            }
            Mode::Array { started, done } => {
                if *done {
                    return Ok(false);
                }
                if !*started {
                    self.src.consume(1); // '['
                    *started = true;
                    if self.src.peek().map_err(|e| io(e, self.src.line))? == Some(b']') {
                        self.src.consume(1);
                        *done = true;
                        return self.end_of_array(rec);
                    }
                } else {
                    match self.src.peek().map_err(|e| io(e, self.src.line))? {
                        Some(b',') => self.src.consume(1),
                        Some(b']') => {
                            self.src.consume(1);
                            *done = true;
                            return self.end_of_array(rec);
                        }
                        Some(b) => {
                            return Err(Error::parse(
                                &self.file,
                                Location { row: None, line: Some(self.src.line), field: None },
                                format!("expected `,` or `]` after record {}, found {:?}", self.ordinal, char::from(b)),
                            ));
                        }
                        None => {
                            return Err(Error::parse(
                                &self.file,
                                Location { row: None, line: Some(self.src.line), field: None },
                                format!("the file ends inside the array, after record {} (truncated?)", self.ordinal),
                            ));
                        }
                    }
                }
                let next = self.src.peek().map_err(|e| io(e, self.src.line))?;
                let line = self.src.line;
                self.ordinal += 1;
                let ordinal = self.ordinal;
                if next == Some(b']') {
                    return Err(Error::parse(
                        &self.file,
                        Location { row: None, line: Some(line), field: None },
                        "trailing comma before `]`",
                    ));
                }
                let v = if matches!(next, Some(b'-' | b'0'..=b'9')) {
                    // A number's end is found by reading one byte past it,
                    // which serde_json's reader would keep and drop: its
                    // text is taken here to the byte, and parsed on its own.
                    let text = self.number_text().map_err(|e| io(e, line))?;
                    let mut de = serde_json::Deserializer::from_slice(&text);
                    ValueSeed { dups: &self.dups, keys: &self.keys }
                        .deserialize(&mut de)
                        .and_then(|v| de.end().map(|_| v))
                        .map_err(|_| {
                            Error::parse(
                                &self.file,
                                Location { row: Some(ordinal), line: Some(line), field: None },
                                format!("`{}` is not a JSON number", String::from_utf8_lossy(&text)),
                            )
                        })?
                } else {
                    let mut de = serde_json::Deserializer::from_reader(&mut self.src);
                    ValueSeed { dups: &self.dups, keys: &self.keys }
                        .deserialize(&mut de)
                        .map_err(|e| json_error(&self.file, &e, line, ordinal))?
                };
                fill(rec, v, ordinal, line, &self.dups);
                Ok(true)
            }
        }
    }

    fn columns(&self) -> Option<&[Key]> {
        None
    }

    fn details(&self) -> SourceDetails {
        SourceDetails {
            format: Some(crate::Format::Json),
            encoding: Some(self.encoding),
            record_path: self.record_path.clone(),
            ..Default::default()
        }
    }
}

impl JsonReader {
    /// The bytes of a number in the array, consumed up to its last one.
    fn number_text(&mut self) -> std::io::Result<Vec<u8>> {
        let mut text = Vec::new();
        loop {
            let buf = self.src.fill_buf()?;
            let n = buf.iter().take_while(|b| matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')).count();
            let all = n == buf.len() && n > 0;
            text.extend_from_slice(&buf[..n]);
            self.src.consume(n);
            if !all {
                return Ok(text);
            }
        }
    }

    fn end_of_array(&mut self, _rec: &mut Record) -> Result<bool> {
        let line = self.src.line;
        match self.src.peek().map_err(|e| Error::from_io(&self.file, Location::default(), e))? {
            None => Ok(false),
            Some(_) => Err(Error::parse(
                &self.file,
                Location { row: None, line: Some(line.max(self.src.line)), field: None },
                "more data after the end of the array; a .json file holds one array (for one record per line use --from ndjson)",
            )),
        }
    }
}

pub struct JsonWriter {
    file: String,
    out: Box<dyn Write + Send>,
    buf: Vec<u8>,
    count: u64,
    pretty: bool,
}

impl JsonWriter {
    pub fn new(file: &str, out: Box<dyn Write + Send>, opts: &WriteOptions) -> Self {
        Self { file: file.to_string(), out, buf: Vec::with_capacity(64 * 1024), count: 0, pretty: opts.pretty }
    }

    fn flush_buf(&mut self) -> Result<()> {
        self.out.write_all(&self.buf).map_err(|e| Error::Io { file: self.file.clone(), source: e })?;
        self.buf.clear();
        Ok(())
    }
}

impl RecordWriter for JsonWriter {
    fn write(&mut self, rec: &Record) -> Result<()> {
        self.buf.extend_from_slice(if self.count == 0 { b"[\n" } else { b",\n" });
        if self.pretty {
            let _ = serde_json::to_writer_pretty(&mut self.buf, &rec.to_json());
        } else {
            crate::write_json_record(&mut self.buf, rec);
        }
        self.count += 1;
        if self.buf.len() >= 60 * 1024 {
            self.flush_buf()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.buf.extend_from_slice(if self.count == 0 { b"[]\n" } else { b"\n]\n" });
        self.flush_buf()?;
        self.out.flush().map_err(|e| Error::Io { file: self.file.clone(), source: e })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(text: &[u8], path: Option<&str>) -> Result<Vec<Record>> {
        let opts = ReadOptions { record_path: path.map(str::to_string), ..Default::default() };
        let mut r = JsonReader::open("t.json", Box::new(std::io::Cursor::new(text.to_vec())), "UTF-8", &opts)?;
        crate::drain(&mut r)
    }

    #[test]
    fn streams_an_array_and_keeps_numbers_exact() {
        let recs = read_all(b"[ {\"id\": 12345678901234567890123, \"x\": 1.0e+28},\n {\"id\": \"007\"} ]", None)
            .expect("reads");
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].get("id"), Some(&Value::Number("12345678901234567890123".into())));
        assert_eq!(recs[0].get("x"), Some(&Value::Number("1.0e+28".into())));
        assert_eq!(recs[1].get("id"), Some(&Value::Text("007".into())));
        assert_eq!(recs[1].line, 2);
    }

    #[test]
    fn duplicate_keys_are_found_in_wide_objects_too() {
        let keys: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let text = format!("[{{{},\"k30\":30,\"k31\":0}}]", keys.join(","));
        let recs = read_all(text.as_bytes(), None).expect("reads");
        assert_eq!(recs[0].len(), 40);
        let defect = recs[0].defect.as_ref().map(|d| d.message.clone()).unwrap_or_default();
        assert!(defect.contains("\"k31\" (values 31 and 0)") && !defect.contains("k30"), "{defect}");
    }

    #[test]
    fn duplicate_keys_with_different_values_reject_the_record() {
        let recs = read_all(br#"[{"a":"b","a":"c"},{"a":"b","a":"b"}]"#, None).expect("reads");
        assert!(recs[0].defect.as_ref().is_some_and(|d| d.message.contains("\"a\"")));
        assert_eq!(recs[1].defect, None);
        assert_eq!(recs[1].len(), 1);
    }

    #[test]
    fn scalars_among_the_records_are_rejected_one_by_one() {
        // Numbers of every shape, at a buffer's end or not, then the records
        // after them, whole.
        let text = b"[{\"a\":1}, 5, -0.5e+3,\n{\"a\":2},12 , \"s\", null, [1], {\"a\":3}, 7]";
        let recs = read_all(text, None).expect("reads");
        let shown: Vec<String> = recs
            .iter()
            .map(|r| match &r.defect {
                Some(d) => format!("{}:{}", r.row, d.message.rsplit(' ').next().unwrap_or_default()),
                None => format!("{}:{:?}", r.row, r.get("a")),
            })
            .collect();
        assert_eq!(
            shown,
            [
                "1:Some(Number(\"1\"))",
                "2:number",
                "3:number",
                "4:Some(Number(\"2\"))",
                "5:number",
                "6:string",
                "7:null",
                "8:array",
                "9:Some(Number(\"3\"))",
                "10:number",
            ]
        );
        assert_eq!(recs[3].line, 2);
        for (text, needle) in
            [(&b"[1-2]"[..], "`1-2` is not a JSON number"), (b"[{\"a\":1}, 5 6]", "expected `,` or `]`")]
        {
            let err = read_all(text, None).expect_err("bad number").to_string();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn bad_documents_are_errors() {
        for (text, needle) in [
            (&b"[{\"a\":1},]"[..], "trailing comma"),
            (b"\"just a string\"", "not a list of records"),
            (b"[{\"a\":1}][]", "more data after the end"),
            (b"[{\"a\":1}", "ends inside the array"),
            (b"", "empty"),
            (b"[{'a':1}]", "key must be a string"),
        ] {
            let err = read_all(text, None).expect_err(std::str::from_utf8(text).unwrap_or("?")).to_string();
            assert!(err.contains(needle), "{err}");
        }
        let deep = "[".repeat(100_000);
        let err = read_all(deep.as_bytes(), None).expect_err("too deep").to_string();
        assert!(err.contains("recursion limit"), "{err}");
    }

    #[test]
    fn record_lists_inside_documents() {
        let sf = br#"{"records": [{"attributes": {"type": "Contact", "referenceId": "R1"}, "LastName": "Holmes"}]}"#;
        let recs = read_all(sf, None).expect("reads");
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].get("attributes"), None);
        let bundle = br#"{"sales": [{"id": 1}], "contacts": [{"id": 2}, {"id": 3}]}"#;
        let err = read_all(bundle, None).expect_err("ambiguous").to_string();
        assert!(err.contains("sales, contacts"), "{err}");
        assert_eq!(read_all(bundle, Some("contacts")).expect("reads").len(), 2);
    }
}
