//! crmsync-formats: streaming record readers and writers, one file per
//! format behind [`RecordReader`] / [`RecordWriter`].
//!
//! [`open_reader`] picks the format (from the options, the file name or the
//! content), decodes the bytes to UTF-8 ([`encoding`]) and returns a reader
//! that refills one [`Record`] per call. [`open_writer`] does the reverse.
//! CSV, TSV, NDJSON, JSON arrays and XML stream; XLSX/XLS/ODS are read whole
//! (the formats need it) and XLSX is written row by row.

pub mod csv;
pub mod encoding;
mod error;
pub mod json;
mod lines;
pub mod ndjson;
mod ods;
pub mod xlsx;
pub mod xml;

use std::fmt;
use std::io::{Read, Write};
use std::str::FromStr;

pub use crmsync_core::mapping::SheetRef;
use crmsync_core::{Key, Record};
pub use error::{Error, Location, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Csv,
    Tsv,
    Json,
    Ndjson,
    Xml,
    Xlsx,
    Xls,
    Ods,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Tsv => "tsv",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Xml => "xml",
            Format::Xlsx => "xlsx",
            Format::Xls => "xls",
            Format::Ods => "ods",
        }
    }

    /// The format a file name's extension says, if any.
    pub fn from_path(path: &str) -> Option<Format> {
        let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
        Some(match ext.as_str() {
            "csv" | "txt" => Format::Csv,
            "tsv" | "tab" => Format::Tsv,
            "json" => Format::Json,
            "ndjson" | "jsonl" => Format::Ndjson,
            "xml" => Format::Xml,
            "xlsx" | "xlsm" => Format::Xlsx,
            "xls" => Format::Xls,
            "ods" => Format::Ods,
            _ => return None,
        })
    }

    /// Guesses the format from the first bytes, for stdin and unknown extensions.
    pub fn sniff(head: &[u8]) -> Format {
        if head.starts_with(b"PK\x03\x04") {
            return Format::Xlsx;
        }
        if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
            return Format::Xls;
        }
        let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
        let first = text.iter().position(|b| !b.is_ascii_whitespace()).map(|i| &text[i..]).unwrap_or(&[]);
        match first.first() {
            Some(b'<') => Format::Xml,
            Some(b'[') => Format::Json,
            Some(b'{') => {
                // One object per line is NDJSON; a pretty-printed object spans lines.
                let line = first.split(|b| *b == b'\n').next().unwrap_or(first);
                let trimmed = line.trim_ascii_end();
                if trimmed.ends_with(b"}") { Format::Ndjson } else { Format::Json }
            }
            _ => Format::Csv,
        }
    }

    pub fn is_flat(self) -> bool {
        matches!(self, Format::Csv | Format::Tsv | Format::Xlsx | Format::Xls | Format::Ods)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Format::from_path(&format!("x.{s}"))
            .filter(|_| !s.eq_ignore_ascii_case("txt"))
            .ok_or_else(|| format!("unknown format `{s}`: expected csv, tsv, json, ndjson, xml, xlsx, xls or ods"))
    }
}

/// How to read a source; `None` means detect.
#[derive(Clone, Debug)]
pub struct ReadOptions {
    pub format: Option<Format>,
    /// `auto` or an encoding name.
    pub encoding: String,
    /// `encoding` is a default for files of this source (a mapping's,
    /// found in an earlier file), not this file's own: the file's byte
    /// order mark, or text that is UTF-8, wins over it.
    pub encoding_default: bool,
    pub delimiter: Option<u8>,
    pub quote: u8,
    /// An escape character such as `\`; by default quotes are doubled (RFC 4180).
    pub escape: Option<u8>,
    pub header: bool,
    /// The row (1-based, as the file or sheet shows it) the header is on,
    /// rows above it passed over; `None`: the first (a spreadsheet's
    /// title rows are passed over on their own).
    pub header_row: Option<u64>,
    pub record_path: Option<String>,
    pub sheet: Option<SheetRef>,
    /// A quoted CSV field longer than this is taken for an unterminated quote.
    pub max_field_bytes: usize,
    /// The format-bound options asked for on the command line: one that
    /// does not fit the file's format is refused then, and set aside
    /// otherwise (a mapping's, written for the source's usual form, read on
    /// a file of another).
    pub asked: Vec<Bound>,
}

/// The options of `ReadOptions` that only some formats take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bound {
    Sheet,
    RecordPath,
    Delimiter,
    Escape,
}

impl Bound {
    pub const ALL: [Bound; 4] = [Bound::Sheet, Bound::RecordPath, Bound::Delimiter, Bound::Escape];

    pub fn fits(self, format: Format) -> bool {
        match self {
            Bound::Sheet => matches!(format, Format::Xlsx | Format::Xls | Format::Ods),
            Bound::RecordPath => matches!(format, Format::Json | Format::Xml),
            Bound::Delimiter | Bound::Escape => matches!(format, Format::Csv | Format::Tsv),
        }
    }

    /// Its command-line flag.
    pub fn flag(self) -> &'static str {
        match self {
            Bound::Sheet => "--sheet",
            Bound::RecordPath => "--record-path",
            Bound::Delimiter => "--delimiter",
            Bound::Escape => "--escape",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Bound::Sheet => "a sheet is for spreadsheets (xlsx, xls, ods)",
            Bound::RecordPath => "a record path is for XML and JSON documents",
            Bound::Delimiter => "a delimiter is for CSV and TSV files",
            Bound::Escape => "an escape character is for CSV and TSV files",
        }
    }

    fn is_set(self, opts: &ReadOptions) -> bool {
        match self {
            Bound::Sheet => opts.sheet.is_some(),
            Bound::RecordPath => opts.record_path.is_some(),
            Bound::Delimiter => opts.delimiter.is_some(),
            Bound::Escape => opts.escape.is_some(),
        }
    }

    fn clear(self, opts: &mut ReadOptions) {
        match self {
            Bound::Sheet => opts.sheet = None,
            Bound::RecordPath => opts.record_path = None,
            Bound::Delimiter => opts.delimiter = None,
            Bound::Escape => opts.escape = None,
        }
    }
}

impl Default for ReadOptions {
    fn default() -> Self {
        Self {
            format: None,
            encoding: "auto".to_string(),
            encoding_default: false,
            delimiter: None,
            quote: b'"',
            escape: None,
            header: true,
            record_path: None,
            header_row: None,
            sheet: None,
            max_field_bytes: 64 * 1024 * 1024,
            asked: Vec::new(),
        }
    }
}

/// How to write a destination.
#[derive(Clone, Debug)]
pub struct WriteOptions {
    pub format: Format,
    pub delimiter: Option<u8>,
    /// Leave cells starting with `=`, `+`, `-`, `@` as they are (see [`csv`]).
    pub raw: bool,
    /// Start CSV output with a UTF-8 BOM, which Excel needs to see UTF-8.
    pub bom: bool,
    /// Output encoding; UTF-8 when `None`.
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// XML: `root/record` element names.
    pub record_path: Option<String>,
    pub sheet: Option<String>,
    /// Column order when known in advance (a mapping's fields, a header).
    pub columns: Option<Vec<Key>>,
    /// Columns that, where a flat file's columns are found from its first
    /// records, come after all others (a rejects file's `_row`, `_field`
    /// and `_error`, which every record has, beside fields only later
    /// records bring).
    pub last_columns: Vec<Key>,
    pub pretty: bool,
}

impl WriteOptions {
    pub fn new(format: Format) -> Self {
        Self {
            format,
            delimiter: None,
            raw: false,
            bom: false,
            encoding: None,
            record_path: None,
            sheet: None,
            columns: None,
            last_columns: Vec::new(),
            pretty: false,
        }
    }
}

/// What a reader found out about its source.
#[derive(Clone, Debug, Default)]
pub struct SourceDetails {
    pub format: Option<Format>,
    pub encoding: Option<&'static str>,
    pub delimiter: Option<u8>,
    pub record_path: Option<String>,
    pub sheet: Option<String>,
    /// A workbook's sheets, in order (the one read among them).
    pub sheets: Vec<String>,
    /// The file began with a byte order mark (as Excel writes UTF-8 CSV).
    pub bom: bool,
}

impl SourceDetails {
    /// How the source was read, for a summary: `csv, GBK, ','-separated`.
    pub fn describe(&self) -> String {
        let mut how = vec![self.format.map(|f| f.name().to_string()).unwrap_or_default()];
        if let Some(e) = self.encoding {
            how.push(e.to_string());
        }
        if let Some(d) = self.delimiter {
            how.push(if d == b'\t' { "tab-separated".into() } else { format!("{:?}-separated", d as char) });
        }
        if let Some(p) = &self.record_path {
            how.push(format!("records at {p}"));
        }
        if let Some(s) = &self.sheet {
            how.push(format!("sheet {s:?}"));
        }
        how.retain(|h| !h.is_empty());
        how.join(", ")
    }
}

/// A streaming source of records.
pub trait RecordReader: Send {
    /// Refills `rec` with the next record; `false` at the end. A record the
    /// reader could only partly read comes back with `rec.defect` set; an
    /// error means the file cannot be read on.
    fn read(&mut self, rec: &mut Record) -> Result<bool>;
    /// The header's column names, for formats that have one.
    fn columns(&self) -> Option<&[Key]>;
    fn details(&self) -> SourceDetails;
}

/// A destination of records.
pub trait RecordWriter {
    /// Writes one record. An [`Error::Record`] rejects only this record.
    fn write(&mut self, rec: &Record) -> Result<()>;
    /// Completes the output (closing brackets, the workbook's directory).
    fn finish(self: Box<Self>) -> Result<()>;
}

/// An input: a display name for messages and the bytes.
pub struct Input {
    pub name: String,
    pub bytes: Box<dyn Read + Send>,
    /// The file the bytes are, where they are one: detecting its encoding
    /// may look further into it than the bytes read first.
    pub path: Option<std::path::PathBuf>,
}

/// Opens a reader for `input`, detecting what the options leave open.
pub fn open_reader(input: Input, opts: &ReadOptions) -> Result<Box<dyn RecordReader>> {
    let Input { name, mut bytes, path } = input;
    let format = match opts.format.or_else(|| Format::from_path(&name)) {
        Some(f) => f,
        None => {
            let mut head = Vec::with_capacity(4096);
            (&mut bytes).take(4096).read_to_end(&mut head).map_err(|e| Error::Io { file: name.clone(), source: e })?;
            let f = Format::sniff(&head);
            bytes = Box::new(std::io::Cursor::new(head).chain(bytes));
            // One JSON object on a line reads as NDJSON; with a record path
            // it is a document whose records sit at that path.
            if f == Format::Ndjson && opts.record_path.is_some() { Format::Json } else { f }
        }
    };
    if let Some(n) = opts.header_row
        && !matches!(format, Format::Csv | Format::Tsv | Format::Xlsx | Format::Xls | Format::Ods)
    {
        return Err(Error::setup(
            &name,
            format!("a header row ({n}) is for CSV files and spreadsheets; {format} records name their own fields"),
        ));
    }
    let mut fitting = opts.clone();
    for bound in Bound::ALL.into_iter().filter(|b| b.is_set(opts) && !b.fits(format)) {
        if opts.asked.contains(&bound) {
            let hint = if Format::from_path(&name).is_some() { "" } else { " (name the format with --from)" };
            return Err(Error::setup(&name, format!("{}; this is read as {format}{hint}", bound.what())));
        }
        bound.clear(&mut fitting);
    }
    let opts = &fitting;
    match format {
        Format::Xlsx | Format::Xls | Format::Ods => {
            xlsx::SheetReader::open(&name, bytes, format, opts).map(|r| Box::new(r) as Box<dyn RecordReader>)
        }
        _ => {
            let decoded = encoding::decode(&name, bytes, &opts.encoding, opts.encoding_default, path.as_deref())?;
            let enc = decoded.encoding.name();
            Ok(match format {
                Format::Csv | Format::Tsv => Box::new(csv::CsvReader::open(&name, decoded, format, opts)?),
                Format::Json => Box::new(json::JsonReader::open(&name, decoded.reader, enc, opts)?),
                Format::Ndjson => Box::new(ndjson::NdjsonReader::new(&name, decoded.reader, enc)),
                Format::Xml => Box::new(xml::XmlReader::open(&name, decoded.reader, enc, opts)?),
                Format::Xlsx | Format::Xls | Format::Ods => unreachable!("handled above"),
            })
        }
    }
}

/// Records a flat writer holds back to learn its columns when none are
/// given: fields that first appear later are rejected.
pub(crate) const BUFFER_RECORDS: usize = 1000;

/// Field names in order of first appearance, each once: the columns of
/// the records a writer held back.
pub(crate) fn union_of<'a>(names: impl Iterator<Item = &'a str>, last: &[Key]) -> Vec<Key> {
    let mut seen = std::collections::HashSet::new();
    let (mut cols, at_end): (Vec<Key>, Vec<Key>) =
        names.filter(|n| seen.insert(*n)).map(Key::from).partition(|k| !last.contains(k));
    cols.extend(last.iter().filter(|k| at_end.contains(k)).cloned());
    cols
}

/// A flat writer's columns, each found by name at once: a record's fields
/// are placed in one pass however wide the file (looking each up in the
/// list made 8,000 columns take 18 s for 400 rows).
pub(crate) struct Header {
    names: Vec<Key>,
    at: std::collections::HashMap<Key, usize>,
}

impl Header {
    pub(crate) fn new(names: Vec<Key>) -> Self {
        let mut at = std::collections::HashMap::with_capacity(names.len());
        for (i, n) in names.iter().enumerate() {
            at.entry(n.clone()).or_insert(i);
        }
        Header { names, at }
    }

    /// The name of column `i`.
    pub(crate) fn name(&self, i: usize) -> Option<&str> {
        self.names.get(i).map(|n| &**n)
    }

    /// The column of field `name`, the `nth` of its record: fields usually
    /// come in column order, so that place is tried first.
    pub(crate) fn position(&self, name: &str, nth: usize) -> Option<usize> {
        match self.names.get(nth) {
            Some(n) if **n == *name => Some(nth),
            _ => self.at.get(name).copied(),
        }
    }

    /// For each column, the value of the field of that name in `fields`;
    /// or the field to blame, and why, for a field with a value and no
    /// column (the header, `header`, was written before it appeared), or
    /// two fields of one name with different values (`a.b`, and `a`
    /// holding `b`), one of which the file would lose.
    pub(crate) fn place<'v, V: PartialEq>(
        &self,
        fields: &[(&str, &'v V)],
        is_null: impl Fn(&V) -> bool,
        header: &str,
    ) -> std::result::Result<Vec<Option<&'v V>>, (String, String)> {
        let mut placed: Vec<Option<&'v V>> = vec![None; self.names.len()];
        for (nth, (name, v)) in fields.iter().enumerate() {
            match self.position(name, nth) {
                Some(i) => match placed[i] {
                    Some(old) if is_null(old) => placed[i] = Some(*v),
                    Some(old) if !is_null(v) && old != *v => {
                        let message = format!(
                            "two fields name the column {name:?} with different values (a field `a.b` and a field \
                             `a` holding `b`, say): one would be lost; rename one"
                        );
                        return Err((name.to_string(), message));
                    }
                    Some(_) => {}
                    None => placed[i] = Some(*v),
                },
                None if !is_null(v) => {
                    let message = format!(
                        "field {name:?} first appears after {header} was written from the first 1,000 records; name \
                         the columns upfront (a mapping, or export's --fields)"
                    );
                    return Err((name.to_string(), message));
                }
                None => {}
            }
        }
        Ok(placed)
    }
}

/// Opens a writer of `opts.format` on `out`; `name` is used in messages.
pub fn open_writer(name: &str, out: Box<dyn Write + Send>, opts: &WriteOptions) -> Result<Box<dyn RecordWriter>> {
    if opts.encoding.is_some() && matches!(opts.format, Format::Xlsx | Format::Xls | Format::Ods) {
        return Err(Error::setup(
            name,
            "spreadsheets are always written in their own encoding; drop the output encoding",
        ));
    }
    let out: Box<dyn Write + Send> = match opts.encoding {
        Some(enc) if enc != encoding_rs::UTF_8 => Box::new(encoding::Encoder::new(out, enc)),
        _ => out,
    };
    Ok(match opts.format {
        Format::Csv | Format::Tsv => Box::new(csv::CsvWriter::new(name, out, opts)?),
        Format::Json => Box::new(json::JsonWriter::new(name, out, opts)),
        Format::Ndjson => Box::new(ndjson::NdjsonWriter::new(name, out)),
        Format::Xml => Box::new(xml::XmlWriter::new(name, out, opts)?),
        Format::Xlsx => Box::new(xlsx::XlsxWriter::new(name, out, opts)?),
        Format::Xls | Format::Ods => {
            return Err(Error::setup(name, format!("{} can be read but not written; write xlsx instead", opts.format)));
        }
    })
}

/// Writes the text of a JSON value for a crmsync value: numbers stay as
/// written, dates become ISO text.
pub(crate) fn write_json_value(out: &mut Vec<u8>, v: &crmsync_core::Value) {
    use crmsync_core::Value;
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Text(s) => write_json_str(out, s),
        Value::Number(n) => {
            if serde_json::from_str::<serde_json::Number>(n).is_ok() {
                out.extend_from_slice(n.as_bytes());
            } else {
                write_json_str(out, n);
            }
        }
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Date(_) | Value::DateTime(_) => write_json_str(out, &v.to_text()),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json_value(out, item);
            }
            out.push(b']');
        }
        Value::Object(fields) => write_json_object(out, fields.iter().map(|(k, v)| (&**k, v))),
    }
}

/// True when a JSON string needs escaping: a control byte, `"` or `\\`.
/// Checked eight bytes at a time (SWAR), because values are short and a
/// byte loop was a fifth of CSV → NDJSON.
fn needs_escape(bytes: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(LO) & !v & HI;
    let check = |w: u64| {
        let below_space = w.wrapping_sub(LO * 0x20) & !w & HI;
        (below_space | zero_byte(w ^ (LO * u64::from(b'"'))) | zero_byte(w ^ (LO * u64::from(b'\\')))) != 0
    };
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(word);
        if check(u64::from_le_bytes(a)) {
            return true;
        }
    }
    let rest = words.remainder();
    if rest.is_empty() {
        return false;
    }
    if bytes.len() >= 8 {
        // The last eight bytes, overlapping the words already checked.
        let mut a = [0u8; 8];
        a.copy_from_slice(&bytes[bytes.len() - 8..]);
        return check(u64::from_le_bytes(a));
    }
    // Built in a register: copying into a stack buffer and reloading it
    // stalls on store forwarding.
    let word = rest.iter().rev().fold(0u64, |w, &b| (w << 8) | u64::from(b));
    check(word | (u64::from_le_bytes([b'A'; 8]) << (8 * rest.len())))
}

pub(crate) fn write_json_str(out: &mut Vec<u8>, s: &str) {
    // Most CRM values need no escaping; checking for that first is several
    // times faster than serde_json's byte-by-byte escaper, which handles the
    // rest (and leaves U+2028/U+2029 alone: NDJSON splits on \n only).
    if !needs_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

pub(crate) fn write_json_object<'a>(
    out: &mut Vec<u8>,
    fields: impl Iterator<Item = (&'a str, &'a crmsync_core::Value)>,
) {
    out.push(b'{');
    for (i, (k, v)) in fields.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_json_str(out, k);
        out.push(b':');
        write_json_value(out, v);
    }
    out.push(b'}');
}

/// Writes a record as one JSON object, folding dotted names into objects
/// (`address.city` → `{"address": {"city": ...}}`, `tags.0` → `["..."]`), as
/// [`Record::nested`] does, but without copying the values.
pub(crate) fn write_json_record(out: &mut Vec<u8>, rec: &Record) {
    let items: Vec<(&str, &crmsync_core::Value)> = rec.fields().iter().map(|(k, v)| (&**k, v)).collect();
    if items.iter().any(|(k, _)| k.contains('.')) {
        write_nested(out, &items);
    } else {
        write_json_object(out, items.into_iter());
    }
}

/// The first segment of a dotted name and the rest, when the name can nest.
fn split_head(key: &str) -> Option<(&str, &str)> {
    key.split_once('.').filter(|(h, r)| !h.is_empty() && !r.is_empty())
}

type Item<'a> = (&'a str, &'a crmsync_core::Value);

/// A record's fields as they nest, in order of first appearance: a field
/// written as it is, or the children of one dotted head (`address` of
/// `address.city`, `address.zip`). A name that is also a plain field (`a`
/// and `a.b`) stays flat. Grouped in one pass, through a set of the plain
/// names and an index of the heads: a record of thousands of `custom.*`
/// fields was quadratic in them.
enum Nested<'a> {
    Plain(Item<'a>),
    Group(&'a str, Vec<Item<'a>>),
}

fn nested<'a>(items: &[Item<'a>]) -> Vec<Nested<'a>> {
    let plain: std::collections::HashSet<&str> = items.iter().map(|(k, _)| *k).collect();
    let mut out: Vec<Nested<'a>> = Vec::new();
    let mut group_of: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for &(key, value) in items {
        match split_head(key).filter(|(h, _)| !plain.contains(h)) {
            Some((head, rest)) => match group_of.get(head) {
                Some(&at) => {
                    if let Nested::Group(_, children) = &mut out[at] {
                        children.push((rest, value));
                    }
                }
                None => {
                    group_of.insert(head, out.len());
                    out.push(Nested::Group(head, vec![(rest, value)]));
                }
            },
            None => out.push(Nested::Plain((key, value))),
        }
    }
    out
}

fn write_nested(out: &mut Vec<u8>, items: &[Item<'_>]) {
    out.push(b'{');
    for (i, entry) in nested(items).into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match entry {
            Nested::Plain((key, value)) => {
                write_json_str(out, key);
                out.push(b':');
                write_json_value(out, value);
            }
            Nested::Group(head, children) => {
                write_json_str(out, head);
                out.push(b':');
                write_group(out, &children);
            }
        }
    }
    out.push(b'}');
}

/// Children whose names are `0`, `1`, ... in order form an array.
fn write_group(out: &mut Vec<u8>, children: &[Item<'_>]) {
    // Each distinct head, in order, with its value given whole (`tags.0`)
    // and its own children (`tags.0.name`).
    let mut heads: Vec<(&str, Option<&crmsync_core::Value>, Vec<Item<'_>>)> = Vec::new();
    let mut at: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for &(key, value) in children {
        let (head, rest) = split_head(key).map_or((key, None), |(h, r)| (h, Some(r)));
        let n = *at.entry(head).or_insert_with(|| {
            heads.push((head, None, Vec::new()));
            heads.len() - 1
        });
        match rest {
            Some(rest) => heads[n].2.push((rest, value)),
            None => {
                heads[n].1.get_or_insert(value);
            }
        }
    }
    let is_list = heads.iter().enumerate().all(|(i, (h, _, _))| h.parse::<usize>().ok() == Some(i));
    if !is_list {
        write_nested(out, children);
        return;
    }
    out.push(b'[');
    for (i, (_, whole, element)) in heads.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match whole {
            Some(v) if element.is_empty() => write_json_value(out, v),
            _ => write_group(out, element),
        }
    }
    out.push(b']');
}

/// Every record of a reader (for tests).
#[cfg(test)]
pub(crate) fn drain(reader: &mut dyn RecordReader) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    let mut rec = Record::new();
    while reader.read(&mut rec)? {
        out.push(rec.clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_places_fields_by_name_in_any_order() {
        let h = Header::new(["a", "b", "c"].map(Key::from).to_vec());
        let (one, two, three, none) = (1, 2, 3, 0);
        let fields = [("c", &three), ("a", &none), ("a", &two), ("x", &none), ("a", &two)];
        assert_eq!(h.place(&fields, |v| *v == 0, "the header"), Ok(vec![Some(&2), None, Some(&3)]));
        let unknown = h.place(&[("b", &two), ("y", &one)], |v| *v == 0, "the header");
        assert!(unknown.is_err_and(|(f, m)| f == "y" && m.contains("after the header was written")));
        // Two values for one column: neither is dropped silently.
        let twice = h.place(&[("a", &one), ("a", &two)], |v| *v == 0, "the header");
        assert!(twice.is_err_and(|(f, m)| f == "a" && m.contains("one would be lost")));
    }

    #[test]
    fn json_strings_escape_only_what_they_must() {
        let mut out = Vec::new();
        for s in [
            "plain text of more than sixteen bytes",
            "tab\there",
            "quote\" in a long string here",
            "\\",
            "\u{2028}",
            "中文",
        ] {
            out.clear();
            write_json_str(&mut out, s);
            let back: String = serde_json::from_slice(&out).expect("valid JSON");
            assert_eq!(back, s);
        }
        assert!(!needs_escape("a long plain string without specials".as_bytes()));
        for i in 0..=255u8 {
            for len in 1..8 {
                let mut v = vec![b'x'; len];
                v[len - 1] = i;
                let want = i < 0x20 || i == b'"' || i == b'\\';
                assert_eq!(needs_escape(&v), want, "byte {i} at the end of {len}");
            }
            let mut v = b"0123456789abcdef0123".to_vec();
            for pos in [0, 7, 8, 15, 19] {
                v[pos] = i;
                let want = i < 0x20 || i == b'"' || i == b'\\';
                assert_eq!(needs_escape(&v), want, "byte {i} at {pos}");
                v[pos] = b'x';
            }
        }
        assert!(needs_escape("a long plain string with a newline\n".as_bytes()));
    }

    #[test]
    fn nested_json_matches_record_nested() {
        use crmsync_core::{Key, Value};
        let cases: &[&[&str]] = &[
            &["name", "address.city", "address.zip", "tags.0", "tags.1"],
            &["a", "a.b", "c.d.e", "c.d.f", "c.g"],
            &["x.0.name", "x.0.id", "x.1.name", "y"],
            &["z.1", "z.0"],
            &[".hidden", "trailing."],
        ];
        for keys in cases {
            let mut rec = Record::new();
            for (i, k) in keys.iter().enumerate() {
                rec.push(Key::from(*k), Value::Text(format!("v{i}")));
            }
            let mut out = Vec::new();
            write_json_record(&mut out, &rec);
            let ours: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
            assert_eq!(ours, rec.to_json(), "{keys:?}");
        }
    }

    #[test]
    fn sniffs_formats() {
        assert_eq!(Format::sniff(b"a,b\n1,2\n"), Format::Csv);
        assert_eq!(Format::sniff(b"\xEF\xBB\xBF[{\"a\":1}]"), Format::Json);
        assert_eq!(Format::sniff(b"{\"a\":1}\n{\"a\":2}\n"), Format::Ndjson);
        assert_eq!(Format::sniff(b"{\n  \"records\": []\n}"), Format::Json);
        assert_eq!(Format::sniff(b"  <?xml version=\"1.0\"?><a/>"), Format::Xml);
        assert_eq!(Format::sniff(b"PK\x03\x04...."), Format::Xlsx);
        assert_eq!(Format::from_path("x.JSONL"), Some(Format::Ndjson));
        assert_eq!("tsv".parse::<Format>(), Ok(Format::Tsv));
        assert!("txt".parse::<Format>().is_err());
    }
}
