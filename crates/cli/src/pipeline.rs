//! What every command that reads records shares: source options, mapping
//! and schema loading, and the rejects file.

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use crmsync_core::mapping::SheetRef;
use crmsync_core::schema::SchemaCheck;
use crmsync_core::value::list_cell;
use crmsync_core::{Defect, Entity, FieldError, Key, Mapping, Record, Value};
use crmsync_formats::{Bound, Format, ReadOptions, RecordWriter, WriteOptions};
use crmsync_store::import::{Drafted, Drafter, Seen};

use crate::cmd::usage;
use crate::io::Output;

/// The columns a rejects file adds to each rejected row.
pub const META: [&str; 3] = ["_row", "_field", "_error"];

/// A rejected line that could not be read as a record, whole, in a rejects
/// file (see `raw_line`).
pub const RAW: &str = "_raw";

/// How to read the input. Flags override the mapping's `[source]`, which
/// overrides detection.
#[derive(Args, Debug, Clone, Default)]
pub struct SourceArgs {
    /// Input format: csv, tsv, json, ndjson, xml, xlsx, xls, ods (default: from the extension or the content).
    #[arg(long, value_name = "FORMAT")]
    pub from: Option<String>,
    /// Input encoding: auto, utf-8, utf-16le, utf-16be, gbk, gb18030, big5, shift_jis, windows-1252.
    #[arg(long, value_name = "ENCODING")]
    pub encoding: Option<String>,
    /// CSV delimiter (one character, or `tab`); detected among , ; tab | when left out.
    #[arg(long, value_name = "CHAR")]
    pub delimiter: Option<String>,
    /// CSV escape character for files that write \" instead of "" inside quotes.
    #[arg(long, value_name = "CHAR")]
    pub escape: Option<String>,
    /// The first row is data, not a header (columns are named col1, col2, ...).
    #[arg(long)]
    pub no_header: bool,
    /// The row the header is on (1-based, as the file or sheet shows it), for files with lines above it; rows keep their numbers.
    #[arg(long, value_name = "N", conflicts_with = "no_header", value_parser = row_number)]
    pub header_row: Option<u64>,
    /// Spreadsheet sheet, by name or 1-based number.
    #[arg(long, value_name = "SHEET")]
    pub sheet: Option<String>,
    /// XML record element path (`customers/customer`) or JSON key of the record list.
    #[arg(long, value_name = "PATH")]
    pub record_path: Option<String>,
    /// Largest quoted CSV field in MB before it is taken for an unterminated quote.
    #[arg(long, value_name = "MB", default_value_t = 64)]
    pub max_field_size: usize,
}

/// A row number as a spreadsheet shows it: from 1.
fn row_number(s: &str) -> std::result::Result<u64, String> {
    match s.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("expected a row number (rows count from 1), not {s:?}")),
    }
}

pub fn one_byte(what: &str, s: &str) -> Result<u8> {
    match s {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        s if s.len() == 1 => Ok(s.as_bytes()[0]),
        _ => Err(usage(format!("{what} must be one ASCII character (or `tab`), not {s:?}"))),
    }
}

/// A CSV delimiter: one byte that is not a quote or a line break, which
/// would make a file no reader splits back into its fields.
pub fn delimiter(what: &str, s: &str) -> Result<u8> {
    match one_byte(what, s)? {
        b @ (b'"' | b'\r' | b'\n') => {
            Err(usage(format!("{what} cannot be {:?}: it quotes or ends CSV fields", char::from(b))))
        }
        b => Ok(b),
    }
}

/// A mapping run backwards writes the file its `[source]` describes. The
/// format: `--format`, else the output's extension, else the mapping's.
pub fn output_format(flag: Option<&str>, out: &str, mapping: Option<&Mapping>) -> Result<Option<Format>> {
    let from_mapping = mapping.and_then(|m| m.source.format.as_deref());
    let format = match flag.or_else(|| from_mapping.filter(|_| Format::from_path(out).is_none())) {
        Some(f) => Some(f.parse::<Format>().map_err(usage)?),
        None => Format::from_path(out),
    };
    match format {
        Some(f @ (Format::Xls | Format::Ods)) => {
            Err(usage(format!("{f} can be read but not written; write xlsx instead")))
        }
        // A macro-enabled workbook without macros under that name is one
        // Excel refuses to open.
        Some(Format::Xlsx) if out.to_ascii_lowercase().ends_with(".xlsm") => Err(usage(format!(
            "{out:?}: an .xlsm workbook holds macros, which crmsync does not write; name the file .xlsx"
        ))),
        f => Ok(f),
    }
}

/// The rest of a mapping's `[source]` (encoding, delimiter, XML record
/// path, sheet) for a file written through it backwards, where no option
/// set them.
pub fn output_like_source(m: &Mapping, opts: &mut WriteOptions) -> Result<()> {
    let src = &m.source;
    // (Each for the kind of file it is written for: a CSV source's
    // encoding and delimiter do not apply to a workbook written through it.)
    // (A TSV's delimiter is the tab, whatever the source's.)
    if opts.delimiter.is_none()
        && opts.format == Format::Csv
        && let Some(d) = &src.delimiter
    {
        opts.delimiter = Some(delimiter("the mapping's [source] delimiter", d)?);
    }
    if opts.encoding.is_none()
        && opts.format != Format::Xlsx
        && let Some(e) = src.encoding.as_deref().filter(|e| !e.eq_ignore_ascii_case("auto"))
    {
        let found = crmsync_formats::encoding::by_name(e);
        opts.encoding = Some(found.ok_or_else(|| usage(format!("the mapping's [source] encoding {e:?} is unknown")))?);
    }
    if opts.record_path.is_none() {
        opts.record_path.clone_from(&src.record_path);
    }
    if opts.sheet.is_none()
        && let Some(SheetRef::Name(name)) = &src.sheet
    {
        opts.sheet = Some(name.clone());
    }
    Ok(())
}

/// The columns a mapping reads that no record of a file without a header
/// (JSON, NDJSON, XML) had: each is warned of, as a likely misspelling
/// (a header is checked before anything is read). For the JSON summary.
pub fn unread_columns(
    found: Option<&crmsync_core::ColumnsFound>,
    format: Option<Format>,
    source: &str,
    rows: u64,
    quiet: bool,
) -> Vec<String> {
    let Some(found) = found.filter(|_| rows > 0 && !format.is_some_and(Format::is_flat)) else { return Vec::new() };
    let missing: Vec<String> = found.missing().into_iter().map(str::to_string).collect();
    if !quiet {
        for c in &missing {
            eprintln!(
                "warning: no record of {source} has {c:?}, which the mapping reads: its field is empty in every record (a misspelt name?)"
            );
        }
    }
    missing
}

/// The output encoding `--out-encoding` names, if any.
pub fn out_encoding(name: Option<&str>) -> Result<Option<&'static crmsync_formats::encoding::Encoding>> {
    name.map(|e| crmsync_formats::encoding::by_name(e).ok_or_else(|| usage(format!("unknown encoding {e:?}"))))
        .transpose()
}

/// Refuses output options the output format has no use for, and a sheet
/// name a spreadsheet cannot have, before anything is read or written.
pub fn output_options_fit(format: Format, record_path: (&str, Option<&str>), sheet: Option<&str>) -> Result<()> {
    if let (flag, Some(path)) = record_path {
        if format != Format::Xml {
            return Err(usage(format!("{flag} names XML elements; the output is {format}")));
        }
        if let Some(bad) = crmsync_formats::xml::record_path_error(path) {
            return Err(usage(format!("{flag} {path:?}: {bad}")));
        }
    }
    if let Some(name) = sheet {
        if format != Format::Xlsx {
            return Err(usage(format!("--sheet names a spreadsheet's sheet; the output is {format}")));
        }
        if name.is_empty()
            || name.chars().count() > 31
            || name.contains(['[', ']', ':', '*', '?', '/', '\\'])
            || name.starts_with('\'')
            || name.ends_with('\'')
        {
            return Err(usage(format!(
                "--sheet {name:?}: a sheet name has 1 to 31 characters, none of [ ] : * ? / \\, and does not start or end with '"
            )));
        }
    }
    Ok(())
}

/// Output options as given on the command line (not those a mapping's
/// `[source]` sets), for `flags_fit`.
pub struct OutputFlags<'a> {
    pub format: Format,
    /// The delimiter flag's name (`--delimiter`, `--out-delimiter`), if given.
    pub delimiter: Option<&'a str>,
    pub bom: bool,
    pub raw: bool,
    pub pretty: bool,
    pub encoding: bool,
}

/// Refuses an output option the output format has no use for, which would
/// otherwise be dropped without a word (a `--bom` asked for a JSON file
/// that then has none).
pub fn flags_fit(f: &OutputFlags<'_>) -> Result<()> {
    let text = matches!(f.format, Format::Csv | Format::Tsv);
    let refuse = |flag: &str, what: &str| Err(usage(format!("{flag} {what}; the output is {}", f.format)));
    if let Some(flag) = f.delimiter.filter(|_| f.format != Format::Csv) {
        return refuse(flag, "separates a CSV file's values (a TSV's is the tab)");
    }
    if f.bom && !text {
        return refuse("--bom", "marks a CSV file as UTF-8 for spreadsheets");
    }
    if f.raw && !text {
        return refuse("--raw", "leaves a CSV file's formula-like cells as they are");
    }
    if f.pretty && f.format != Format::Json {
        return refuse("--pretty", "indents a JSON document");
    }
    if f.encoding && matches!(f.format, Format::Xlsx | Format::Xls | Format::Ods) {
        return refuse("--out-encoding", "names a text file's encoding");
    }
    Ok(())
}

/// Refuses a byte order mark for an output encoding that has none.
pub fn bom_fits(opts: &WriteOptions) -> Result<()> {
    use crmsync_formats::encoding::{UTF_8, UTF_16BE, UTF_16LE};
    match opts.encoding {
        Some(e) if opts.bom && ![UTF_8, UTF_16LE, UTF_16BE].contains(&e) => Err(usage(format!(
            "--bom: a byte order mark belongs to UTF-8 and UTF-16 output; {} has none: drop --bom",
            e.name()
        ))),
        _ => Ok(()),
    }
}

impl SourceArgs {
    /// `input` is the path being read: a file whose extension names its
    /// format is read as that format even when the mapping says otherwise.
    pub fn read_options(&self, mapping: Option<&Mapping>, input: &str, quiet: bool) -> Result<ReadOptions> {
        let src = mapping.map(|m| m.source.clone()).unwrap_or_default();
        let mapping_format = src.format.as_deref().filter(|_| Format::from_path(input).is_none());
        let format = match self.from.as_deref().or(mapping_format) {
            Some(f) => Some(f.parse::<Format>().map_err(usage)?),
            None => None,
        };
        let delimiter = match self.delimiter.as_deref().or(src.delimiter.as_deref()) {
            Some(d) => Some(delimiter(
                if self.delimiter.is_some() { "--delimiter" } else { "the mapping's [source] delimiter" },
                d,
            )?),
            None => None,
        };
        let escape = match self.escape.as_deref().or(src.escape.as_deref()) {
            Some(e) => Some(one_byte("--escape", e)?),
            None => None,
        };
        let quote = match src.quote.as_deref() {
            Some(q) => one_byte("[source] quote", q)?,
            None => b'"',
        };
        let sheet = match &self.sheet {
            Some(s) => Some(match s.parse::<usize>() {
                Ok(n) if n >= 1 => SheetRef::Index(n),
                _ => SheetRef::Name(s.clone()),
            }),
            None => src.sheet.clone(),
        };
        match (src.header, src.header_row) {
            (_, Some(0)) => return Err(usage("the mapping's [source] header_row counts rows from 1, not 0")),
            (Some(false), Some(n)) => {
                return Err(usage(format!(
                    "the mapping's [source] has both header = false and header_row = {n}; keep one"
                )));
            }
            _ => {}
        }
        let mut opts = ReadOptions {
            format,
            encoding: self.encoding.clone().or(src.encoding.clone()).unwrap_or_else(|| "auto".into()),
            // (The mapping's was found in another file of the source.)
            encoding_default: self.encoding.is_none(),
            delimiter,
            quote,
            escape,
            header: !self.no_header && (self.header_row.is_some() || src.header.unwrap_or(true)),
            header_row: if self.no_header { None } else { self.header_row.or(src.header_row) },
            record_path: self.record_path.clone().or(src.record_path.clone()),
            sheet,
            max_field_bytes: self.max_field_size.saturating_mul(1024 * 1024),
            asked: Vec::new(),
        };
        // Records that name their own fields have no header row to find.
        let named = matches!(
            opts.format.or_else(|| Format::from_path(input)),
            Some(Format::Json | Format::Ndjson | Format::Xml)
        );
        if self.header_row.is_none() && named {
            opts.header_row = None;
        }
        // What the mapping says of another kind of source than the file's
        // (its sheet, for a CSV the sheet was saved as) does not apply (the
        // reader sets it aside); on the command line, it is refused.
        opts.asked = Bound::ALL.into_iter().filter(|b| self.gives(*b)).collect();
        if let Some(format) = opts.format.or_else(|| Format::from_path(input))
            && let Some(bound) = opts.asked.iter().find(|b| !b.fits(format))
        {
            let told = match (&self.from, Format::from_path(input)) {
                (Some(_), _) => "--from",
                (None, Some(_)) => "its name",
                (None, None) => "the mapping's [source] format",
            };
            return Err(usage(format!("{} does not apply to {input}: {told} says it is {format}", bound.flag())));
        }
        // A rejects file fed back is crmsync's own file, or one a
        // spreadsheet saved again: its header on row 1, quotes doubled,
        // records where crmsync's writer puts them, on its only sheet, its
        // encoding and delimiter as found. What the mapping or the command
        // line says of the source it was rejected from (the same command
        // run again on it) would misread every row.
        let describes_source = !opts.header
            || opts.header_row.is_some()
            || opts.escape.is_some()
            || opts.encoding != "auto"
            || opts.delimiter.is_some()
            || opts.record_path.is_some()
            || opts.sheet.is_some()
            || opts.quote != b'"';
        if describes_source && let Some(found) = rejects_file(input, &opts) {
            let flags = [
                ("--no-header", self.no_header),
                ("--header-row", self.header_row.is_some_and(|n| n != 1)),
                ("--escape", self.escape.is_some()),
                // (A file not in UTF-8 was saved again: the encoding given may be its own.)
                ("--encoding", self.encoding.is_some() && found.encoding == Some("UTF-8")),
                ("--delimiter", self.delimiter.is_some() && opts.delimiter != found.delimiter),
                ("--record-path", self.record_path.is_some()),
                ("--sheet", self.sheet.is_some()),
            ];
            let set_aside: Vec<&str> = flags.iter().filter(|(_, set)| *set).map(|(f, _)| *f).collect();
            if !set_aside.is_empty() && !quiet {
                let (verb, aux) = if set_aside.len() == 1 { ("describes", "is") } else { ("describe", "are") };
                eprintln!(
                    "note: {input} is a rejects file: it is read as crmsync wrote it (header on row 1, quotes doubled, its own encoding and delimiter); {} {verb} the source it came from and {aux} set aside",
                    set_aside.join(", ")
                );
            }
            opts.header = true;
            opts.header_row = None;
            opts.escape = None;
            if set_aside.contains(&"--encoding") || self.encoding.is_none() {
                opts.encoding = "auto".into();
            }
            opts.delimiter = None;
            opts.record_path = None;
            opts.sheet = None;
            opts.quote = b'"';
        }
        Ok(opts)
    }

    /// Whether the command line gives a format-bound option.
    fn gives(&self, bound: Bound) -> bool {
        match bound {
            Bound::Sheet => self.sheet.is_some(),
            Bound::RecordPath => self.record_path.is_some(),
            Bound::Delimiter => self.delimiter.is_some(),
            Bound::Escape => self.escape.is_some(),
        }
    }

    /// A rejects file on standard input, found only once its header is
    /// read: decoded with the mapping's encoding for the source it came
    /// from, its text would be garbled. (A file is looked into first.)
    pub fn stdin_rejects_fit(&self, input: &str, opts: &ReadOptions, meta: Meta) -> Result<()> {
        if input == "-" && meta == Meta::Strip && self.encoding.is_none() && opts.encoding != "auto" {
            return Err(usage(format!(
                "standard input is a rejects file, which crmsync writes in UTF-8, but the mapping reads its source as {}: \
                 pass --encoding auto (or the file's own encoding), or give the file's path",
                opts.encoding
            )));
        }
        Ok(())
    }
}

/// Whether `path` names a regular file, one that can be read twice: a
/// look into a pipe (`<(...)`, a FIFO, standard input) would take the bytes
/// the real read needs.
pub fn regular_file(path: &str) -> bool {
    path != "-" && std::fs::metadata(path).is_ok_and(|m| m.is_file())
}

/// How `path` reads when it is a rejects file: its header (on row 1) names
/// `_row`, `_field` and `_error` among its columns, or, in a file without a
/// header (JSON, NDJSON, XML), its first record carries them. (Standard
/// input is not looked into.)
fn rejects_file(path: &str, opts: &ReadOptions) -> Option<crmsync_formats::SourceDetails> {
    if !regular_file(path) {
        return None;
    }
    let bytes = std::fs::File::open(path).ok()?;
    let opts = ReadOptions {
        header: true,
        header_row: None,
        escape: None,
        encoding: "auto".into(),
        delimiter: None,
        record_path: None,
        sheet: None,
        quote: b'"',
        ..opts.clone()
    };
    let input = crmsync_formats::Input { name: path.to_string(), bytes: Box::new(bytes), path: Some(path.into()) };
    let mut reader = crmsync_formats::open_reader(input, &opts).ok()?;
    let rejects = match Meta::of(reader.columns()) {
        Meta::Strip => true,
        Meta::Keep => false,
        Meta::StripWhereFound => {
            let mut rec = Record::new();
            matches!(reader.read(&mut rec), Ok(true)) && META.iter().all(|m| rec.get(m).is_some())
        }
    };
    rejects.then(|| reader.details())
}

/// Where a file whose header lacks the mapping's columns has them: the row
/// (as the file or sheet numbers it) among its first 30 that holds every
/// column the mapping reads, by its exact name, below the first row read
/// (lines above the header: a report's title and date), or other than the
/// header row given in the mapping.
pub fn header_row_of(input: &str, opts: &ReadOptions, mapping: &Mapping) -> Option<HeaderAt> {
    if !regular_file(input) || !opts.header {
        return None;
    }
    let wanted: Vec<&str> = mapping
        .fields
        .iter()
        .flat_map(|f| f.from.iter().map(String::as_str).chain(f.region_from.as_deref()))
        .chain(mapping.key.external_id.as_ref().map(|e| e.from.as_str()))
        .collect();
    if wanted.is_empty() {
        return None;
    }
    let bytes = std::fs::File::open(input).ok()?;
    let given = opts.header_row;
    let opts = ReadOptions { header: false, header_row: None, ..opts.clone() };
    let input = crmsync_formats::Input { name: input.to_string(), bytes: Box::new(bytes), path: Some(input.into()) };
    let mut reader = crmsync_formats::open_reader(input, &opts).ok()?;
    let mut rec = Record::new();
    let mut first = None;
    for _ in 0..30 {
        if !reader.read(&mut rec).ok()? {
            return None;
        }
        let first = *first.get_or_insert(rec.row);
        let below = given.map_or(rec.row > first, |g| rec.row != g);
        if below && wanted.iter().all(|w| rec.fields().iter().any(|(_, v)| v.to_text() == *w)) {
            return Some(HeaderAt { row: rec.row, given });
        }
    }
    None
}

/// Where the mapping's columns are (`header_row_of`), and the header row
/// given, if one was.
pub struct HeaderAt {
    row: u64,
    given: Option<u64>,
}

/// The error of a mapping that does not fit `source`'s header, with where
/// its columns are when that is a row below the first (see `header_row_of`).
pub fn does_not_fit(
    source: &str,
    error: crmsync_core::MappingError,
    at: Option<HeaderAt>,
    details: &crmsync_formats::SourceDetails,
) -> anyhow::Error {
    // Of a workbook of several sheets, the one read may be a cover page:
    // which it was, and the others.
    let sheets = match &details.sheet {
        Some(read) if details.sheets.len() > 1 && at.is_none() => format!(
            " (read from sheet {read:?}; the workbook's sheets are {}: name the one with the records with --sheet)",
            details.sheets.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
        ),
        _ => String::new(),
    };
    match at {
        Some(at) => anyhow::anyhow!("the mapping does not fit {source}: {error}. {}", header_row_hint(&at)),
        None => anyhow::Error::new(error).context(format!("the mapping does not fit {source}{sheets}")),
    }
}

fn header_row_hint(at: &HeaderAt) -> String {
    let n = at.row;
    match at.given {
        Some(g) => format!(
            "The columns the mapping reads are on row {n}, not row {g}: pass --header-row {n}, or set `header_row = {n}` in the mapping's [source]"
        ),
        None => format!(
            "The columns the mapping reads are on row {n}, below lines above the header: pass --header-row {n}, or add `header_row = {n}` to the mapping's [source]"
        ),
    }
}

/// Says so when a file was read in another encoding than its mapping's
/// (`ReadOptions::encoding_default`): a mapping suggested from a
/// Windows-1252 export, given next month's export in UTF-8.
pub fn note_encoding(input: &str, opts: &ReadOptions, details: &crmsync_formats::SourceDetails, quiet: bool) {
    let said = crmsync_formats::encoding::by_name(&opts.encoding).map(|e| e.name());
    if let (false, true, Some(said), Some(read)) = (quiet, opts.encoding_default, said, details.encoding)
        && said != read
    {
        let why = if details.bom { "by its byte order mark" } else { "its text is UTF-8" };
        eprintln!(
            "note: {input} is read as {read} ({why}), not as the mapping's [source] encoding {said}; \
             pass --encoding {} to read it as that",
            said.to_lowercase()
        );
    }
}

/// A reader that could not open `input`, with where the mapping's columns
/// are when that is a row below the first: lines above the header can
/// spoil it (two empty names, say) before the mapping is checked.
pub fn open_failed(
    input: &str,
    opts: &ReadOptions,
    mapping: Option<&Mapping>,
    error: crmsync_formats::Error,
) -> anyhow::Error {
    match mapping.and_then(|m| header_row_of(input, opts, m)) {
        Some(at) => anyhow::anyhow!("{error}. {}", header_row_hint(&at)),
        None => error.into(),
    }
}

pub fn load_mapping(path: &str) -> Result<Arc<Mapping>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the mapping {path}"))?;
    Mapping::parse(&text).map(Arc::new).map_err(|mut e| {
        e.file = Some(path.to_string());
        anyhow::Error::new(e)
    })
}

pub fn load_schema(path: &str) -> Result<SchemaCheck> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the schema {path}"))?;
    let json: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("{path} is not JSON"))?;
    SchemaCheck::new(&json).map_err(|e| anyhow::anyhow!("{path} is not a usable JSON Schema: {e}"))
}

/// Whether the input is a rejects file fed back, whose `_row`, `_field` and
/// `_error` go before the records are worked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Meta {
    /// Its header does not carry them.
    Keep,
    /// Its header carries them: a flat rejects file.
    Strip,
    /// There is no header to tell (JSON, NDJSON, XML): a record carrying
    /// all three is one a rejects file wrote.
    StripWhereFound,
}

impl Meta {
    pub fn of(columns: Option<&[Key]>) -> Self {
        match columns {
            Some(cols) if META.iter().all(|m| cols.iter().any(|c| &**c == *m)) => Meta::Strip,
            Some(_) => Meta::Keep,
            None => Meta::StripWhereFound,
        }
    }
}

/// Rejected records: written to the rejects file when there is one, shown on
/// stderr otherwise, counted always.
pub struct Rejects {
    writer: Option<(Box<dyn RecordWriter>, Output)>,
    /// The rejects file's columns, when fixed by the source's header.
    columns: Option<Vec<Key>>,
    /// The source's columns, for a rejects file without a header (JSON,
    /// NDJSON, XML) to give a short row's missing values, empty, as a flat
    /// one's padding does: the user sees what to fill.
    pad: Option<Vec<Key>>,
    /// True for a flat rejects file (CSV, TSV, a sheet): a list of values
    /// is one cell there.
    flat: bool,
    /// The columns the mapping reads: a list read item by item (`tags.0`)
    /// keeps a column per item.
    reads: Vec<String>,
    keys: [Key; 3],
    pub count: u64,
    shown: u64,
    show_limit: u64,
    quiet: bool,
    source: String,
    row: Record,
}

impl Rejects {
    pub fn open(
        path: Option<&str>,
        source: &str,
        details: &crmsync_formats::SourceDetails,
        source_columns: Option<&[Key]>,
        quiet: bool,
        verbose: u8,
    ) -> Result<Self> {
        let keys = META.map(Key::from);
        let mut columns = None;
        let mut pad = None;
        let mut flat = false;
        let writer = match path {
            Some(p) => {
                let format = if p == "-" { Format::Csv } else { Format::from_path(p).unwrap_or(Format::Csv) };
                let (output, out) = Output::create(p)?;
                let mut opts = WriteOptions::new(format);
                flat = format.is_flat();
                // (For records without a header, whose columns the writer
                // finds as they come.)
                opts.last_columns = keys.to_vec();
                // Fixed in a spreadsheet first: a file that came with a BOM,
                // or in a legacy encoding (GBK), is one Excel opens, and
                // without a BOM Excel reads UTF-8 as the local code page.
                // (Cells Excel would run, `=HYPERLINK(…)`, are neutralised
                // as exports do: `'=…` reads back as it was.)
                opts.bom = format.is_flat()
                    && format != Format::Xlsx
                    && (details.bom || details.encoding.is_some_and(|e| e != "UTF-8"));
                if let Some(cols) = source_columns.filter(|_| format.is_flat()) {
                    let mut cols: Vec<Key> = cols.iter().filter(|c| !META.contains(&&***c)).cloned().collect();
                    cols.extend(keys.iter().cloned());
                    opts.columns = Some(cols.clone());
                    columns = Some(cols);
                } else if let Some(cols) = source_columns {
                    pad = Some(cols.iter().filter(|c| !META.contains(&&***c)).cloned().collect());
                }
                let w = crmsync_formats::open_writer(&output.name, out, &opts)?;
                Some((w, output))
            }
            None => None,
        };
        Ok(Self {
            writer,
            columns,
            pad,
            flat,
            reads: Vec::new(),
            keys,
            count: 0,
            shown: 0,
            // With a rejects file a few show what went wrong; it has the rest.
            show_limit: match (verbose, path) {
                (1.., _) => u64::MAX,
                (_, Some(_)) => 3,
                _ => 10,
            },
            quiet,
            source: source.to_string(),
            row: Record::new(),
        })
    }

    /// Says which columns `mapping` reads from the source (see `reads`).
    pub fn read_by(mut self, mapping: Option<&Mapping>) -> Self {
        self.reads = mapping
            .map(|m| m.fields.iter().flat_map(|f| f.from.iter().chain(&f.region_from).cloned()).collect())
            .unwrap_or_default();
        self
    }

    /// Rejects `source` (the record as read) for `errors`.
    pub fn field_errors(&mut self, source: &Record, errors: &[FieldError]) -> Result<()> {
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        let messages: Vec<String> = errors.iter().map(ToString::to_string).collect();
        self.reject(source, &fields.join(";"), &messages.join("; "))
    }

    /// Writes again a reject an interrupted run wrote, without showing it:
    /// it was shown then.
    pub fn replay(&mut self, source: &Record, field: &str, message: &str) -> Result<()> {
        let quiet = std::mem::replace(&mut self.quiet, true);
        let written = self.reject(source, field, message);
        self.quiet = quiet;
        written
    }

    pub fn reject(&mut self, source: &Record, field: &str, message: &str) -> Result<()> {
        self.count += 1;
        if !self.quiet && self.shown < self.show_limit {
            let mut at = if source.line > 0 && source.line != source.row {
                format!("row {} (line {})", source.row, source.line)
            } else {
                format!("row {}", source.row)
            };
            if source.origin > 0 {
                at.push_str(&format!(" (row {} of the file first read)", source.origin));
            }
            eprintln!("rejected {}: {at}: {message}", self.source);
            self.shown += 1;
        }
        if let Some((w, _)) = &mut self.writer {
            self.row.clear();
            self.row.row = source.row;
            // Values beyond the header (a long ragged row) have no column:
            // they go, in full, into `_error`.
            let mut unplaced = Vec::new();
            for (k, v) in source.fields() {
                if META.contains(&&**k) {
                    continue;
                }
                match (&self.columns, v) {
                    (Some(cols), _) if !cols.contains(k) => unplaced.push(format!("{k}={:?}", v.to_text())),
                    (_, Value::Array(_) | Value::Object(_)) if self.flat => place(&mut self.row, &self.reads, k, v),
                    _ => self.row.push(k.clone(), v.clone()),
                }
            }
            for c in self.pad.iter().flatten() {
                if self.row.get(c).is_none() {
                    self.row.push(c.clone(), Value::Text(String::new()));
                }
            }
            let message = if unplaced.is_empty() {
                message.to_string()
            } else {
                format!("{message} [values without a column: {}]", unplaced.join(", "))
            };
            // A row fed back from a rejects file keeps the row it was first read from.
            let row = if source.origin > 0 { source.origin } else { source.row };
            self.row.push(self.keys[0].clone(), Value::Number(row.to_string()));
            self.row.push(self.keys[1].clone(), Value::Text(field.to_string()));
            self.row.push(self.keys[2].clone(), Value::Text(message.clone()));
            if let Err(e) = w.write(&self.row) {
                if !e.is_record_level() {
                    return Err(e.into());
                }
                // A field the rejects file has no column for: keep it in the message.
                let extra: Vec<String> =
                    source.fields().iter().map(|(k, v)| format!("{k}={:?}", v.to_text())).collect();
                self.row.retain(|k| k == META[0] || k == META[1]);
                self.row.push(self.keys[2].clone(), Value::Text(format!("{message} [record: {}]", extra.join(", "))));
                w.write(&self.row)?;
            }
        }
        Ok(())
    }

    pub fn path(&self) -> Option<&str> {
        self.writer.as_ref().map(|(_, o)| o.name.as_str())
    }

    /// Completes the rejects file. Called on failure too: rejects found before
    /// a job stopped are worth keeping.
    pub fn finish(self) -> Result<()> {
        // Quiet, rows rejected and kept nowhere are still said: nothing is
        // lost unsaid.
        if self.quiet && self.writer.is_none() && self.count > 0 {
            let rows = if self.count == 1 { "1 row".to_string() } else { format!("{} rows", self.count) };
            eprintln!(
                "{rows} of {} rejected and kept nowhere; use --rejects FILE to keep each with its reason",
                self.source
            );
        }
        if !self.quiet && self.count > self.shown {
            let more = self.count - self.shown;
            match self.path() {
                Some(path) => eprintln!("... {more} more rejected, each in {path} (-v prints them here too)"),
                None => {
                    eprintln!("... {more} more rejected; use --rejects FILE to keep every rejected row with its reason")
                }
            }
        }
        if let Some((w, output)) = self.writer {
            w.finish()?;
            output.commit()?;
        }
        Ok(())
    }
}

/// Reads records on a thread of their own and hands them over in batches,
/// so parsing and the rest of the work (mapping, writing) run on two cores.
/// Batches come back through `recycle` and are refilled, so records keep
/// their allocations from one batch to the next.
pub struct Batches {
    rx: std::sync::mpsc::Receiver<crmsync_formats::Result<Vec<Record>>>,
    back: std::sync::mpsc::SyncSender<Vec<Record>>,
}

const BATCH: usize = 1024;

impl Batches {
    pub fn start(mut reader: Box<dyn crmsync_formats::RecordReader>) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<crmsync_formats::Result<Vec<Record>>>(4);
        let (back, spare) = std::sync::mpsc::sync_channel::<Vec<Record>>(8);
        // Detached: when the batches are dropped early (a failed job), the
        // thread ends at its next hand-over instead of being waited for.
        std::thread::spawn(move || {
            loop {
                let mut batch = spare.try_recv().unwrap_or_else(|_| (0..BATCH).map(|_| Record::new()).collect());
                batch.resize_with(BATCH, Record::new);
                let mut n = 0;
                while n < BATCH {
                    match reader.read(&mut batch[n]) {
                        Ok(true) => n += 1,
                        Ok(false) => break,
                        Err(e) => {
                            // The records before the failure still get their outcome.
                            batch.truncate(n);
                            if n > 0 {
                                let _ = tx.send(Ok(batch));
                            }
                            let _ = tx.send(Err(e));
                            return;
                        }
                    }
                }
                let done = n < BATCH;
                batch.truncate(n);
                if (n > 0 && tx.send(Ok(batch)).is_err()) || done {
                    return;
                }
            }
        });
        Self { rx, back }
    }

    /// The next batch; `None` at the end of the input.
    pub fn next_batch(&mut self) -> Option<crmsync_formats::Result<Vec<Record>>> {
        self.rx.recv().ok()
    }

    /// Where used batches go back to be refilled.
    pub fn recycler(&self) -> Recycler {
        Recycler(self.back.clone())
    }
}

#[derive(Clone)]
pub struct Recycler(std::sync::mpsc::SyncSender<Vec<Record>>);

impl Recycler {
    pub fn recycle(&self, batch: Vec<Record>) {
        let _ = self.0.try_send(batch);
    }
}

/// What the work on one source record came to.
pub enum Outcome {
    /// The reader could not read it cleanly.
    Defect(crmsync_core::Defect),
    /// The mapping or the schema refused it.
    Rejected(Vec<FieldError>),
    /// It became the record in the same place of `Worked::mapped`.
    Mapped,
    /// It goes on as read (no mapping).
    AsRead,
}

impl Outcome {
    /// The record to write, of the one `mapped` from a source and the
    /// `source` itself, if it is not rejected.
    fn output<'a>(&self, mapped: Option<&'a Record>, source: &'a Record) -> Option<&'a Record> {
        match self {
            Outcome::Mapped => mapped,
            Outcome::AsRead => Some(source),
            Outcome::Defect(_) | Outcome::Rejected(_) => None,
        }
    }
}

/// The per-record work between reading and writing: mapping (forwards or
/// backwards) and the schema check.
pub struct Work {
    pub mapper: Option<crmsync_core::Mapper>,
    pub reverse: bool,
    pub schema: Option<SchemaCheck>,
    /// Whether to drop `_row/_field/_error` (a rejects file fed back).
    pub meta: Meta,
    /// Without a mapping, records whose fields already carry the entity's
    /// field names (an export of crmsync, say) pass as they are, nested
    /// values spelled as dotted names.
    pub identity: Option<Identity>,
    /// Drafts each output record for the store on the work thread (an
    /// import's per-row preparation): (source, output, what `recognise`
    /// said of the source) → draft.
    pub draft: Option<DraftFn>,
    /// Tells the rows an import's store holds as they are, which map only
    /// their key and links.
    pub recognise: Option<Recognise>,
    /// The digest of the rows read so far (`source_digest`), for an import
    /// to keep with its checkpoint; `None` where nothing keeps one.
    pub digest: Option<u64>,
}

/// A JSON or XML value at `path` in a flat rejects file, laid out in the
/// columns `reads` (the mapping's) reads it by, to be fed back:
/// - a list of values read whole (`tags`) is one cell, `a; b`, as an export
///   writes it; one read item by item (`tags.0`) a column per item;
/// - a list of lists read whole is its JSON in that one column, refused
///   there as it is here, not lost beside it;
/// - anything else a column per field, `emails.0.email`, as the file's
///   writer lays out nested values.
fn place(row: &mut Record, reads: &[String], path: &str, v: &Value) {
    let whole = reads.iter().any(|c| c == path);
    let by_part = reads.iter().any(|c| c.strip_prefix(path).is_some_and(|r| r.starts_with('.')));
    match v {
        Value::Array(items) => {
            let values = items.iter().all(|i| !matches!(i, Value::Array(_) | Value::Object(_)));
            if values && (whole || !by_part) {
                row.push(Key::from(path), Value::Text(list_cell(items)));
            } else if whole {
                row.push(Key::from(path), Value::Text(v.to_text()));
            } else if !by_part {
                row.push(Key::from(path), v.clone());
            }
            // (Read both whole and item by item: both layouts.)
            if by_part {
                for (i, item) in items.iter().enumerate() {
                    place(row, reads, &format!("{path}.{i}"), item);
                }
            }
        }
        Value::Object(fields) if by_part => {
            for (name, value) in fields {
                place(row, reads, &format!("{path}.{name}"), value);
            }
        }
        _ => row.push(Key::from(path), v.clone()),
    }
}

/// See `Work::identity`.
#[derive(Clone)]
pub struct Identity {
    pub entity: Entity,
    /// The `external_id.<system>` column the header carries: the import's
    /// external id, not a field of the record.
    pub external: Option<String>,
    /// Linked records' ids in the import's system, as an export writes
    /// them (`contact.external_id.erp`), with the link each is
    /// (`contact.external_id`).
    pub links: Vec<(String, &'static str)>,
}

/// (source, output, what `recognise` said of the source, the fields the
/// mapping refused) → draft.
pub type DraftFn = Box<dyn FnMut(&Record, &Record, Option<Seen>, &[&str]) -> Drafted + Send>;

/// See `Work::recognise`.
pub struct Recognise {
    /// Says of a source record whether the store holds a record made from
    /// one like it.
    pub drafter: Drafter,
    /// The fields of the mapping such a record maps (one flag per field).
    pub lite: Vec<bool>,
}

/// System fields an export may carry; an import leaves them to the store.
pub const SYSTEM_FIELDS: [&str; 5] = ["id", "created_at", "updated_at", "deleted_at", "version"];

/// A reader whose first records are read ahead, for what only records can
/// tell: a JSON export has no header to show which system the ids in its
/// `external_id` objects are from, and its first records may have none.
pub struct ReadAhead {
    reader: Box<dyn crmsync_formats::RecordReader>,
    /// The reads made ahead, handed out first.
    ahead: std::collections::VecDeque<(crmsync_formats::Result<bool>, Record)>,
}

impl ReadAhead {
    /// Reads until a record carries an external id, the input ends or
    /// fails, or `LOOK` records are read.
    pub fn new(mut reader: Box<dyn crmsync_formats::RecordReader>) -> Self {
        const LOOK: usize = 1000;
        let mut ahead = std::collections::VecDeque::new();
        while ahead.len() < LOOK {
            let mut rec = Record::new();
            let read = reader.read(&mut rec);
            let more = matches!(read, Ok(true));
            let shows = rec.fields().iter().any(|(k, _)| k.starts_with("external_id"));
            ahead.push_back((read, rec));
            if !more || shows {
                break;
            }
        }
        Self { reader, ahead }
    }

    /// The field names of the records read ahead, nested values as dotted
    /// names (`external_id.erp`), each once.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for (_, rec) in self.ahead.iter().filter(|(read, _)| matches!(read, Ok(true))) {
            let mut flat = Record::new();
            for (k, v) in rec.fields() {
                dotted(k, v, &mut flat);
            }
            for (k, _) in flat.fields() {
                if !names.iter().any(|n| **n == **k) {
                    names.push(k.to_string());
                }
            }
        }
        names
    }
}

impl crmsync_formats::RecordReader for ReadAhead {
    fn read(&mut self, rec: &mut Record) -> crmsync_formats::Result<bool> {
        match self.ahead.pop_front() {
            Some((read, first)) => {
                *rec = first;
                read
            }
            None => self.reader.read(rec),
        }
    }

    fn columns(&self) -> Option<&[Key]> {
        self.reader.columns()
    }

    fn details(&self) -> crmsync_formats::SourceDetails {
        self.reader.details()
    }
}

/// `{"address": {"city": ..}}` as `address.city`; lists stay lists.
fn dotted(prefix: &str, value: &Value, out: &mut Record) {
    dotted_as(prefix, value, out, &[]);
}

/// `dotted`, with the names in `renamed` (a column, and the field it is)
/// given as the fields they are.
fn dotted_as(prefix: &str, value: &Value, out: &mut Record, renamed: &[(String, &'static str)]) {
    match value {
        Value::Object(fields) if !fields.is_empty() => {
            for (k, v) in fields {
                dotted_as(&format!("{prefix}.{k}"), v, out, renamed);
            }
        }
        v => {
            let name = renamed.iter().find(|(column, _)| column == prefix).map_or(prefix, |(_, field)| field);
            out.push(Key::from(name), v.clone())
        }
    }
}

/// A rejected NDJSON line fed back: the rejects file holds it whole, as
/// `_raw`, where it was fixed; it is read again as the line it now is.
fn raw_line(rec: &mut Record) -> std::result::Result<(), Defect> {
    let Some(raw) = rec.get(RAW).map(Value::to_text) else { return Ok(()) };
    let still = |why: String| Defect {
        field: Some(RAW.to_string()),
        message: format!("the line in `_raw` is still not a record: {why} (fix it there, as one JSON object)"),
    };
    // (A flat rejects file has the column on every row: empty, the row's
    // own columns are its record.)
    if raw.trim().is_empty() {
        rec.retain(|k| k != RAW);
        return Ok(());
    }
    if rec.fields().iter().any(|(k, v)| &**k != RAW && !v.is_empty()) {
        return Err(still("the row has values in its columns too; keep the line in `_raw` or the columns".into()));
    }
    match serde_json::from_str::<serde_json::Value>(raw.trim()) {
        Ok(serde_json::Value::Object(fields)) => {
            rec.retain(|_| false);
            for (k, v) in &fields {
                rec.push(Key::from(k.as_str()), Value::from_json(v));
            }
            Ok(())
        }
        Ok(_) => Err(still("it is JSON, but not an object".to_string())),
        Err(e) => Err(still(e.to_string())),
    }
}

/// A row of a rejects file fed back that was rejected as short, with the
/// cells it lacked still empty: the rejects file pads them, and taken as
/// given they would import as empty values (or defaults), not as missing.
fn still_short(rec: &Record) -> Option<Defect> {
    let error = rec.get("_error")?.to_text();
    if !error.contains("values are missing from column ") {
        return None;
    }
    // The column as the message names it (quoted as `{:?}` quotes it).
    let fields = rec.fields();
    let (column, empty) =
        match fields.iter().position(|(k, _)| error.contains(&format!("missing from column {:?} on", &**k))) {
            Some(from) => (
                fields[from].0.to_string(),
                fields[from..].iter().filter(|(k, _)| !META.contains(&&**k)).all(|(_, v)| v.is_empty()),
            ),
            // A record with names (JSON, NDJSON, XML) that still lacks it.
            None => {
                let named = error.split("missing from column ").nth(1)?.split(" on").next()?;
                (named.trim_matches('"').to_string(), true)
            }
        };
    let said = error.split(" (still: ").next().unwrap_or(&error);
    empty.then(|| Defect {
        field: Some(column.clone()),
        message: format!(
            "{said} (still: fill the cells from column {column:?} on, or clear `_error` to import them empty)"
        ),
    })
}

/// A row of a rejects file fed back that was rejected for text after a
/// closing quote (`"Acme, Inc" Ltd`) or for more values than columns: the
/// rejects file holds it as the reader read it, glued (`Acme, Inc Ltd`) or
/// cut to the header's columns (the extra values only in `_error`), which
/// is not known to be what was meant. Until its `_error` is cleared it is
/// rejected again.
fn still_as_read(rec: &Record) -> Option<Defect> {
    let error = rec.get("_error")?.to_text();
    let what = if error.starts_with("text follows a closing quote") {
        "the row's values are as they were read, the text glued to the quoted value; check them"
    } else if error.starts_with("the row has ") && error.contains("; extra values: ") {
        "the row's values are as they were read, without the extra ones; put each value in its column"
    } else if let Some(shown) = spreadsheet_error(&error)
        && let Some(field) = rec.get("_field").map(Value::to_text)
        && rec.get(&field).is_some_and(|v| v.to_text() == shown)
    {
        let said = error.split(" (still: ").next().unwrap_or(&error);
        return Some(Defect {
            field: Some(field.to_string()),
            message: format!("{said} (still: put the value the formula should give in its place)"),
        });
    } else {
        return None;
    };
    // (A byte it names is one of the file the row was first read from.)
    let said = error.split(" (still: ").next().unwrap_or(&error);
    let said = if said.contains(" of the file first read") {
        said.to_string()
    } else {
        said.replace(" of the file", " of the file first read")
    };
    // (The glued value's column stays named: extra values have none.)
    let field = rec.get("_field").map(Value::to_text).filter(|f| !f.is_empty()).map(|f| f.to_string());
    Some(Defect { field, message: format!("{said} (still: {what}, then clear `_error` to import the row)") })
}

/// The error a spreadsheet cell showed (`#N/A`), from the reject's message.
fn spreadsheet_error(error: &str) -> Option<&str> {
    let rest = error.split(" holds the spreadsheet error ").nth(1)?;
    rest.split(' ').next()
}

/// A field a record gives twice with different values, nested and dotted.
fn twice_named(rec: &Record) -> Option<FieldError> {
    let fields = rec.fields();
    fields.iter().enumerate().find_map(|(i, (k, v))| {
        let (_, other) = fields[..i].iter().find(|(earlier, _)| earlier == k)?;
        (other != v).then(|| FieldError {
            field: k.to_string(),
            column: String::new(),
            value: v.to_text(),
            expected: format!(
                "one value: the record gives this field twice, nested and as a dotted name, the other time as {:?}",
                other.to_text()
            ),
        })
    })
}

/// Fields of `rec` that are not fields of `entity`.
pub fn unknown_fields(entity: Entity, names: impl IntoIterator<Item = impl AsRef<str>>) -> Vec<String> {
    names
        .into_iter()
        .map(|n| n.as_ref().to_string())
        .filter(|n| !entity.has_field(n) && !SYSTEM_FIELDS.contains(&n.as_str()) && !META.contains(&n.as_str()))
        .collect()
}

impl Work {
    /// True when there is enough per-record work to give it a thread.
    pub fn is_heavy(&self) -> bool {
        self.mapper.is_some() || self.schema.is_some() || self.identity.is_some() || self.draft.is_some()
    }

    /// Works one record; also returns what `recognise` said of it.
    pub fn run(&mut self, rec: &mut Record, out: &mut Record) -> (Outcome, Option<Seen>) {
        self.run_digested(rec, out, None)
    }

    /// `run`, moving `digest` (the resume digest, `Work::digest`) on by the
    /// row as read.
    fn run_digested(
        &mut self,
        rec: &mut Record,
        out: &mut Record,
        digest: Option<&mut u64>,
    ) -> (Outcome, Option<Seen>) {
        let strip = match self.meta {
            Meta::Keep => false,
            Meta::Strip => true,
            Meta::StripWhereFound => META.iter().all(|m| rec.get(m).is_some()),
        };
        // A row recognised as read is hashed both ways from one layout.
        let both = !strip && rec.defect.is_none();
        let mut seen_early = None;
        if let Some(running) = digest {
            match self.recognise.as_ref().filter(|_| both) {
                Some(r) => seen_early = Some(r.drafter.recognised_with_digest(running, rec)),
                None => *running = crmsync_store::import::source_digest(*running, rec),
            }
        }
        if let Some(d) = rec.defect.take() {
            return (Outcome::Defect(d), None);
        }
        if strip {
            rec.origin = rec.get(META[0]).and_then(|v| v.to_text().trim().parse().ok()).unwrap_or(0);
            if let Some(d) = still_short(rec).or_else(|| still_as_read(rec)) {
                return (Outcome::Defect(d), None);
            }
            rec.retain(|k| !META.contains(&k));
            if let Err(d) = raw_line(rec) {
                return (Outcome::Defect(d), None);
            }
        }
        let seen = match seen_early {
            Some(seen) => seen,
            None => self.recognise.as_ref().and_then(|r| r.drafter.recognised(rec)),
        };
        (self.map(rec, out, seen), seen)
    }

    fn map(&mut self, rec: &mut Record, out: &mut Record, seen: Option<Seen>) -> Outcome {
        if let Some(Identity { entity, external, links }) = &self.identity {
            let entity = *entity;
            out.clear();
            out.row = rec.row;
            out.line = rec.line;
            let mut nested = false;
            for (k, v) in rec.fields() {
                nested |= matches!(v, Value::Object(_));
                // (Linked records' ids, `contact.external_id.erp`, are links.)
                dotted_as(k, v, out, links);
            }
            // `{"address": {"city": "Paris"}, "address.city": "Lyon"}` names
            // one field twice; which to keep is not ours to guess.
            if nested && let Some(error) = twice_named(out) {
                return Outcome::Rejected(vec![error]);
            }
            // The import's external id (`external_id.erp`, a column or
            // nested as JSON writes it), not a field of the record.
            if let Some(external) = external {
                out.retain(|k| k != external.as_str());
            }
            let unknown = unknown_fields(entity, out.fields().iter().map(|(k, _)| k.clone()));
            if !unknown.is_empty() {
                return Outcome::Rejected(
                    unknown
                        .into_iter()
                        .map(|f| FieldError {
                            value: out.get(&f).map(Value::to_text).unwrap_or_default(),
                            field: f,
                            column: String::new(),
                            expected: format!("a field of {entity} (or use a mapping)"),
                        })
                        .collect(),
                );
            }
            // A tombstone (an export made with --include-deleted) imported
            // as it is would come back as a live record.
            if let Some(deleted) = out.get("deleted_at").map(Value::to_text).filter(|t| !t.trim().is_empty()) {
                return Outcome::Rejected(vec![FieldError {
                    field: "deleted_at".to_string(),
                    column: String::new(),
                    value: deleted,
                    expected: "no value: the record was deleted, and an import brings in live records only \
                               (clear deleted_at to bring it back as a live one)"
                        .to_string(),
                }]);
            }
            out.retain(|k| !SYSTEM_FIELDS.contains(&k));
            return Outcome::Mapped;
        }
        let mapped = match &mut self.mapper {
            Some(m) if self.reverse => match m.reverse(rec, out) {
                Ok(()) => true,
                Err(e) => return Outcome::Rejected(vec![e]),
            },
            Some(m) => {
                let mapped = match (&self.recognise, seen) {
                    (Some(r), Some(Seen { known: true, .. })) => m.apply_only(rec, out, &r.lite),
                    _ => m.apply(rec, out),
                };
                match mapped {
                    Ok(()) => true,
                    Err(errors) => return Outcome::Rejected(errors),
                }
            }
            None => false,
        };
        if let Some(schema) = &self.schema {
            let errors = schema.check(if mapped { out } else { rec });
            if !errors.is_empty() {
                return Outcome::Rejected(errors);
            }
        }
        if mapped { Outcome::Mapped } else { Outcome::AsRead }
    }

    /// Works a batch, reusing the mapped records of a batch handed back.
    fn run_batch(&mut self, mut sources: Vec<Record>, spare: Option<Worked>) -> Worked {
        // The batch's vectors are reused too: a batch's drafts take a
        // quarter of a megabyte, which fresh memory pages in anew each time.
        let Worked { mut mapped, mut outcomes, mut drafts, mut digests, .. } = spare.unwrap_or_default();
        outcomes.clear();
        // (Spent drafts handed back are freed here, by the thread that
        // made them.)
        drafts.clear();
        digests.clear();
        if self.mapper.is_some() || self.identity.is_some() {
            mapped.resize_with(sources.len(), Record::new);
        }
        // Each row is hashed, mapped and drafted before the next: a batch's
        // records are larger than a core's cache, and a pass over the whole
        // batch per step read each row from memory again.
        for (i, rec) in sources.iter_mut().enumerate() {
            let mut running = self.digest;
            let (outcome, seen) = match mapped.get_mut(i) {
                Some(out) => self.run_digested(rec, out, running.as_mut()),
                None => self.run_digested(rec, &mut Record::new(), running.as_mut()),
            };
            if let Some(running) = running {
                self.digest = Some(running);
                digests.push(running);
            }
            if let Some(draft) = &mut self.draft {
                drafts.push(match (&outcome, mapped.get(i)) {
                    // What the mapping made of the rest of a row it refused
                    // fields of, checked too: its faults in the store's
                    // eyes are named with the mapping's.
                    (Outcome::Rejected(errors), Some(partial)) if self.mapper.is_some() && !self.reverse => {
                        let refused: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
                        Some(draft(rec, partial, seen, &refused)).filter(Result::is_err)
                    }
                    _ => outcome.output(mapped.get(i), rec).map(|out| draft(rec, out, seen, &[])),
                });
            }
            outcomes.push(outcome);
        }
        Worked { sources, mapped, outcomes, drafts, digests }
    }
}

/// Source records with what became of each.
#[derive(Default)]
pub struct Worked {
    pub sources: Vec<Record>,
    pub mapped: Vec<Record>,
    pub outcomes: Vec<Outcome>,
    /// Per source, its draft when `Work::draft` is set and the row has an output.
    pub drafts: Vec<Option<Drafted>>,
    /// Per source, the digest of the rows read up to it, when
    /// `Work::digest` is set.
    pub digests: Vec<u64>,
}

impl Worked {
    /// The record to write for source `i`, if it is not rejected.
    pub fn output(&self, i: usize) -> Option<&Record> {
        self.outcomes.get(i)?.output(self.mapped.get(i), self.sources.get(i)?)
    }
}

/// Reading, the per-record work and the caller's writing as a pipeline:
/// with a mapping, the work gets a thread between the reader's and the
/// caller's, so all three overlap. Worked batches travel back to be reused,
/// so records are freed by the thread that allocated them.
pub enum Pipeline {
    Inline {
        batches: Batches,
        work: Box<Work>,
        spare: Option<Worked>,
    },
    Threaded {
        rx: std::sync::mpsc::Receiver<crmsync_formats::Result<Worked>>,
        back: std::sync::mpsc::SyncSender<Worked>,
    },
}

impl Pipeline {
    pub fn start(reader: Box<dyn crmsync_formats::RecordReader>, mut work: Work) -> Self {
        let mut batches = Batches::start(reader);
        if !work.is_heavy() {
            return Pipeline::Inline { batches, work: Box::new(work), spare: None };
        }
        let recycler = batches.recycler();
        let (tx, rx) = std::sync::mpsc::sync_channel::<crmsync_formats::Result<Worked>>(4);
        let (back, returned) = std::sync::mpsc::sync_channel::<Worked>(8);
        std::thread::spawn(move || {
            while let Some(batch) = batches.next_batch() {
                let spare = returned.try_recv().ok().map(|mut w| {
                    recycler.recycle(std::mem::take(&mut w.sources));
                    w
                });
                let worked = batch.map(|sources| work.run_batch(sources, spare));
                let failed = worked.is_err();
                if tx.send(worked).is_err() || failed {
                    return;
                }
            }
        });
        Pipeline::Threaded { rx, back }
    }

    pub fn next(&mut self) -> Option<crmsync_formats::Result<Worked>> {
        match self {
            Pipeline::Inline { batches, work, spare } => {
                let batch = batches.next_batch()?;
                let spare = spare.take().map(|mut w| {
                    batches.recycler().recycle(std::mem::take(&mut w.sources));
                    w
                });
                Some(batch.map(|sources| work.run_batch(sources, spare)))
            }
            Pipeline::Threaded { rx, .. } => rx.recv().ok(),
        }
    }

    /// Hands a batch back for reuse.
    pub fn recycle(&mut self, worked: Worked) {
        match self {
            Pipeline::Inline { spare, .. } => *spare = Some(worked),
            Pipeline::Threaded { back, .. } => {
                let _ = back.try_send(worked);
            }
        }
    }
}
