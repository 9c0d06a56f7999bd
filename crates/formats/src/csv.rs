//! CSV and TSV. Parsing is the `csv` crate's (RFC 4180, quoted fields with
//! embedded delimiters, doubled quotes and line breaks); this file adds what
//! CRM files need around it: delimiter sniffing, Excel's `sep=` line,
//! ragged-row detection, duplicate headers, NUL bytes, and the detection of
//! an unterminated quote, which the crate silently accepts at end of file.

use std::fmt;
use std::io::{self, BufRead, Read, Write};

use crmsync_core::{Defect, Key, Record, Value};

use crate::encoding::Decoded;
use crate::error::{Error, Location, Result};
use crate::{Format, ReadOptions, RecordReader, RecordWriter, SourceDetails, WriteOptions};

const CANDIDATES: [u8; 4] = [b',', b'\t', b';', b'|'];

/// Picks the delimiter found on the most of the first lines (a report's
/// title may have none, and rows whose trailing empty fields were dropped
/// have fewer), then the one that splits them into the most fields; quotes
/// are respected.
pub fn sniff_delimiter(sample: &[u8], complete: bool, quote: u8) -> u8 {
    let mut records: Vec<[usize; 4]> = Vec::new();
    let mut counts = [0usize; 4];
    let (mut in_quote, mut filled, mut lines) = (false, false, 0usize);
    for &b in sample {
        if b == quote {
            in_quote = !in_quote;
            filled = true;
        } else if !in_quote {
            if b == b'\n' {
                records.push(counts);
                counts = [0; 4];
                lines += usize::from(filled);
                filled = false;
                if records.len() >= 50 {
                    break;
                }
            } else if let Some(i) = CANDIDATES.iter().position(|c| *c == b) {
                counts[i] += 1;
            } else if !b.is_ascii_whitespace() {
                filled = true;
            }
        }
    }
    if complete && counts.iter().any(|c| *c > 0) {
        records.push(counts);
        lines += 1;
    }
    let mut best: Option<(u8, usize, usize)> = None; // (delimiter, lines with it, most on a line)
    for (i, &d) in CANDIDATES.iter().enumerate() {
        let present = records.iter().filter(|r| r[i] > 0).count();
        let most = records.iter().map(|r| r[i]).max().unwrap_or(0);
        // (One line of many is no evidence: `a@x.com; b@x.com` in a column.)
        if present == 0 || (present < 2 && lines > 2) {
            continue;
        }
        if best.is_none_or(|(_, p, m)| (present, most) > (p, m)) {
            best = Some((d, present, most));
        }
    }
    best.map(|(d, _, _)| d).unwrap_or(b',')
}

/// An unterminated quoted field: the error names where the quote opened.
#[derive(Debug)]
pub struct QuoteError {
    pub line: u64,
    /// The quote's byte in the file; `None` where the file was decoded
    /// from another encoding, whose bytes the reader does not count.
    pub offset: Option<u64>,
    pub too_long: Option<usize>,
}

impl fmt::Display for QuoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = match self.offset {
            Some(offset) => format!("at byte offset {offset}"),
            None => format!("on line {}", self.line),
        };
        match self.too_long {
            None => write!(
                f,
                "a quoted field opened {at} is never closed; the rest of the file would be read into it. Close the quote or remove it"
            ),
            Some(limit) => write!(
                f,
                "a quoted field opened {at} runs past {} MB; it is probably an unterminated quote (raise the limit with --max-field-size if the field is real)",
                limit / (1024 * 1024)
            ),
        }
    }
}

impl std::error::Error for QuoteError {}

#[derive(Clone, Copy, PartialEq)]
enum QuoteState {
    Outside,
    Quoted,
    /// Inside quotes, just after a quote: either `""` or the closing quote.
    QuotedQuote,
}

/// Follows the input's quoting alongside the parser, to catch what it
/// accepts silently: a file that ends inside quotes, or a quoted field so long
/// it must be a missing closing quote. It only looks at quote bytes, found with
/// `memchr`, so it costs little.
struct QuoteGuard<R> {
    inner: R,
    quote: u8,
    delimiter: u8,
    escape: Option<u8>,
    state: QuoteState,
    prev: u8,
    offset: u64,
    lines: u64,
    opened_at: u64,
    opened_line: u64,
    max_field: usize,
    /// Bytes passed over before the guard's input (a byte order mark, a
    /// `sep=` line, rows above the header): offsets in messages count from
    /// the file's start. `None` where the input was decoded from another
    /// encoding: its offsets are not the file's, and messages leave them out.
    skipped: Option<u64>,
    /// The chunk before ended on an escape character inside quotes: the
    /// next one starts with the byte it escapes.
    skip_first: bool,
    /// Where, in the input, an escaped `n` was made a line break (see
    /// `unescape`), not yet counted in `introduced`.
    line_breaks: std::collections::VecDeque<u64>,
    /// Line breaks made so far before the last record read: the parser
    /// counts them as lines of the file, which they are not.
    introduced: u64,
    /// The input has ended.
    ended: bool,
    /// The field (0-based) of its line that the input is in, outside
    /// quotes; counted, as lines are, up to where a quote opens.
    field: usize,
    /// The field an open quote began.
    opened_field: usize,
    /// Offsets of text right after a closing quote (`"ab"c`), which RFC 4180
    /// does not allow and the parser silently glues on, each with its field
    /// (0-based); each marks a record to reject.
    stray: std::collections::VecDeque<(u64, usize)>,
}

impl<R: Read> QuoteGuard<R> {
    fn scan(&mut self, chunk: &mut [u8]) -> io::Result<()> {
        let skipped_first = std::mem::take(&mut self.skip_first);
        let mut escaped: Vec<usize> = Vec::new();
        if skipped_first {
            escaped.push(0);
        }
        let mut i = usize::from(skipped_first);
        let base = self.offset;
        // Lines and fields are counted lazily, up to `counted`, only when a
        // quote opens and at the end of the chunk.
        let mut counted = 0;
        let mut lines = self.lines;
        let mut field = self.field;
        while i < chunk.len() {
            match self.state {
                QuoteState::Outside => match memchr::memchr(self.quote, &chunk[i..]) {
                    Some(p) => {
                        let at = i + p;
                        let prev = if at == 0 { self.prev } else { chunk[at - 1] };
                        // A quote opens a field only at the field's start.
                        if matches!(prev, b'\n' | b'\r' | 0xFF) || prev == self.delimiter {
                            self.state = QuoteState::Quoted;
                            self.opened_at = base + at as u64;
                            count_lines(&chunk[counted..at], self.delimiter, &mut lines, &mut field);
                            counted = at;
                            self.opened_line = lines;
                            self.opened_field = field;
                        }
                        i = at + 1;
                    }
                    None => i = chunk.len(),
                },
                QuoteState::Quoted => {
                    let hay = &chunk[i..];
                    let found = match self.escape {
                        Some(e) => memchr::memchr2(self.quote, e, hay),
                        None => memchr::memchr(self.quote, hay),
                    };
                    match found {
                        Some(p) if Some(hay[p]) == self.escape && hay[p] != self.quote => {
                            // Skip the escaped byte, which may open the next chunk.
                            self.skip_first = i + p + 2 > chunk.len();
                            if !self.skip_first {
                                escaped.push(i + p + 1);
                            }
                            i += p + 2;
                        }
                        Some(p) => {
                            self.state = QuoteState::QuotedQuote;
                            i += p + 1;
                        }
                        None => i = chunk.len(),
                    }
                    let len = (base + i as u64).saturating_sub(self.opened_at);
                    if self.state == QuoteState::Quoted && len > self.max_field as u64 {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            QuoteError {
                                line: self.opened_line,
                                offset: self.in_file(self.opened_at),
                                too_long: Some(self.max_field),
                            },
                        ));
                    }
                }
                QuoteState::QuotedQuote => {
                    self.state = if chunk[i] == self.quote && self.escape.is_none() {
                        QuoteState::Quoted
                    } else {
                        QuoteState::Outside
                    };
                    let next = chunk[i];
                    if self.state == QuoteState::Outside && !matches!(next, b'\n' | b'\r') && next != self.delimiter {
                        self.stray.push_back((base + i as u64, self.opened_field));
                    }
                    if self.state == QuoteState::Outside {
                        // The quoted text's line ends count as lines, its
                        // delimiters as no field.
                        lines += memchr::memchr_iter(b'\n', &chunk[counted..i]).count() as u64;
                        counted = i;
                        // The byte after a closing quote is ordinary input.
                        continue;
                    }
                    i += 1;
                }
            }
        }
        if self.state == QuoteState::Outside {
            count_lines(&chunk[counted..], self.delimiter, &mut lines, &mut field);
        } else {
            lines += memchr::memchr_iter(b'\n', &chunk[counted..]).count() as u64;
        }
        self.lines = lines;
        self.field = field;
        if let Some(&last) = chunk.last() {
            self.prev = last;
        }
        // (After the lines above were counted: a line break made here is none of the file's.)
        for at in escaped {
            if let Some(b) = chunk.get_mut(at) {
                *b = unescape(*b);
                if *b == b'\n' {
                    self.line_breaks.push_back(self.offset + at as u64);
                }
            }
        }
        self.offset += chunk.len() as u64;
        Ok(())
    }

    /// Line breaks made before byte `at` of the input (the start of the
    /// record just read): lines the parser counted that the file has not.
    fn introduced_before(&mut self, at: u64) -> u64 {
        while self.line_breaks.front().is_some_and(|&b| b < at) {
            self.line_breaks.pop_front();
            self.introduced += 1;
        }
        self.introduced
    }
}

/// The byte an escaped one stands for. The parser takes the byte after an
/// escape character as it is (`\"` a quote, `\\` a backslash), which would
/// make `\n` the letter n: files that escape quotes so write a line break,
/// a tab and a carriage return in a value as `\n`, `\t` and `\r`.
fn unescape(b: u8) -> u8 {
    match b {
        b'n' => b'\n',
        b't' => b'\t',
        b'r' => b'\r',
        other => other,
    }
}

/// Counts the line ends (`\n`) in `range`, which is outside quotes, and
/// the delimiters after the last one (after its last `\r` in files that end
/// lines so): the field of its line the input is in. Only the last line's
/// delimiters are counted, so lines without quotes cost no more than their
/// line ends.
fn count_lines(range: &[u8], delimiter: u8, lines: &mut u64, field: &mut usize) {
    *lines += memchr::memchr_iter(b'\n', range).count() as u64;
    let line = match memchr::memrchr2(b'\n', b'\r', range) {
        Some(end) => {
            *field = 0;
            &range[end + 1..]
        }
        None => range,
    };
    *field += memchr::memchr_iter(delimiter, line).count();
}

impl<R> QuoteGuard<R> {
    /// Takes the stray quotes before byte `end` of the input (the end of
    /// the record just read); the first, if any: its offset in the file
    /// (see `in_file`) and its field.
    fn take_stray(&mut self, end: u64) -> Option<(Option<u64>, usize)> {
        let mut first = None;
        while self.stray.front().is_some_and(|&(at, _)| at < end) {
            first = first.or(self.stray.pop_front());
        }
        first.map(|(at, field)| (self.in_file(at), field))
    }

    /// Offset `at` of the input as a byte of the file, where it is one.
    fn in_file(&self, at: u64) -> Option<u64> {
        self.skipped.map(|s| s + at)
    }
}

impl<R: Read> Read for QuoteGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 {
            if self.state == QuoteState::Quoted {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    QuoteError { line: self.opened_line, offset: self.in_file(self.opened_at), too_long: None },
                ));
            }
            self.ended = true;
            return Ok(0);
        }
        self.scan(&mut buf[..n])?;
        Ok(n)
    }
}

pub struct CsvReader {
    file: String,
    reader: ::csv::Reader<QuoteGuard<Box<dyn BufRead + Send>>>,
    record: ::csv::StringRecord,
    columns: Vec<Key>,
    extra_keys: Vec<Key>,
    header: bool,
    line_offset: u64,
    /// The first row's line (after blank lines).
    first_line: u64,
    /// Rows above the header, passed over (`ReadOptions::header_row`).
    row_offset: u64,
    rows: u64,
    /// Blank lines skipped so far: a spreadsheet shows each as a row, so
    /// they count in the row numbers of the records after them.
    blank_rows: u64,
    /// The first record when the file has no header (it was read to count columns).
    pending_first: Option<::csv::StringRecord>,
    details: SourceDetails,
}

impl CsvReader {
    pub fn open(file: &str, decoded: Decoded, format: Format, opts: &ReadOptions) -> Result<Self> {
        let Decoded { reader: mut input, encoding: decoded_from, had_bom } = decoded;
        let io_err = |e| Error::Io { file: file.to_string(), source: e };
        let head = input.fill_buf().map_err(io_err)?;
        if head.is_empty() {
            return Err(Error::parse(file, Location::default(), "the file is empty: expected a header row"));
        }
        let mac = cr_only(head, opts.quote, opts.escape, opts.delimiter);
        // A UTF-8 byte order mark is 3 bytes, dropped by `decode`.
        let bom = if had_bom && decoded_from == encoding_rs::UTF_8 { 3 } else { 0 };
        // A file whose lines end with a bare `\r` (classic Mac; Excel for
        // Mac still writes a line break inside a cell as `\n`) is read with
        // each such `\r` as `\n`: rows, lines and blank lines then count as
        // in any file, and a byte stays a byte for offsets.
        if mac {
            input = Box::new(io::BufReader::with_capacity(256 * 1024, CrAsLf(input)));
        }
        let mut line_offset = 0;
        // Bytes passed over before the header, for offsets in messages.
        let mut consumed = 0;
        let mut delimiter = opts.delimiter;
        let head = input.fill_buf().map_err(io_err)?;
        // Excel's `sep=;` first line names the delimiter.
        if head.len() >= 5
            && head[..4].eq_ignore_ascii_case(b"sep=")
            && matches!(head.get(5), Some(b'\n' | b'\r') | None)
        {
            delimiter = delimiter.or(Some(head[4]));
            let mut n = 5;
            if head.get(n) == Some(&b'\r') {
                n += 1;
            }
            if head.get(n) == Some(&b'\n') {
                n += 1;
            }
            input.consume(n);
            line_offset = 1;
            consumed = n as u64;
        }
        // Lines above the header (a report's title, the date it was made)
        // are passed over; rows keep the numbers the file shows them at.
        let row_offset = opts.header_row.map_or(0, |n| n.saturating_sub(1));
        for skipped in 0..row_offset {
            match skip_row(&mut input, opts.quote, delimiter).map_err(io_err)? {
                Skipped { open_quote: Some((line, at)), .. } => {
                    let line = 1 + line_offset + line;
                    let offset = (decoded_from == encoding_rs::UTF_8).then_some(bom + consumed + at);
                    let message = QuoteError { line, offset, too_long: None }.to_string();
                    return Err(Error::parse(file, Location { row: None, line: Some(line), field: None }, message));
                }
                Skipped { lines: 0, .. } => {
                    return Err(Error::parse(
                        file,
                        Location::default(),
                        format!("the header is to be on row {}, but the file has {skipped} row(s)", row_offset + 1),
                    ));
                }
                Skipped { lines, bytes, open_quote: None } => {
                    line_offset += lines;
                    consumed += bytes;
                }
            }
        }
        // Records end at `\n`, with a `\r` before it dropped from the last
        // field, rather than in the crate's CRLF mode: in that mode a record's
        // reported line is one short in CRLF files.
        let delimiter = match (delimiter, format) {
            (Some(d), _) => d,
            (None, Format::Tsv) => b'\t',
            (None, _) => {
                let head = input.fill_buf().map_err(io_err)?;
                sniff_delimiter(head, head.len() < 64 * 1024, opts.quote)
            }
        };
        let guard = QuoteGuard {
            inner: input,
            quote: opts.quote,
            delimiter,
            escape: opts.escape,
            state: QuoteState::Outside,
            prev: 0xFF,
            offset: 0,
            skipped: (decoded_from == encoding_rs::UTF_8).then_some(bom + consumed),
            skip_first: false,
            line_breaks: Default::default(),
            introduced: 0,
            lines: 1 + line_offset,
            opened_at: 0,
            opened_line: 0,
            max_field: opts.max_field_bytes,
            ended: false,
            field: 0,
            opened_field: 0,
            stray: std::collections::VecDeque::new(),
        };
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .quote(opts.quote)
            .escape(opts.escape)
            .double_quote(opts.escape.is_none())
            .terminator(::csv::Terminator::Any(b'\n'))
            .buffer_capacity(256 * 1024)
            .from_reader(guard);
        let mut first = ::csv::StringRecord::new();
        let mut blank = 0;
        // Blank lines above the first row are rows a spreadsheet shows.
        let got = read_record(&mut reader, &mut first, &mut blank)
            .map_err(|e| csv_error(file, e, 1 + row_offset, line_offset as i64, &[]))?
            .is_some();
        let row_offset = row_offset + blank;
        let first_line = 1 + line_offset + blank;
        if !got && row_offset > 0 {
            return Err(Error::parse(
                file,
                Location::default(),
                format!("the header is to be on row {}, but the file ends before it", row_offset + 1),
            ));
        }
        if !got {
            return Err(Error::parse(file, Location::default(), "the file is empty: expected a header row"));
        }
        let (columns, pending_first) = if opts.header {
            // A header with text after a closing quote would name a column
            // by the glued text.
            let end = reader.position().byte();
            if let Some((at, i)) = reader.get_mut().take_stray(end) {
                return Err(Error::parse(
                    file,
                    Location { row: Some(1 + row_offset), line: Some(first_line), field: None },
                    format!(
                        "the header has text after a closing quote in column {}{}, which CSV does not allow: quote the whole name and double each quote inside it (\"\")",
                        i + 1,
                        at.map(|at| format!(" (byte {at} of the file)")).unwrap_or_default()
                    ),
                ));
            }
            // A column without a name (a spreadsheet's empty columns, saved
            // as CSV) is named by its place, as without a header: `col3`.
            let cols: Vec<Key> = first
                .iter()
                .enumerate()
                .map(|(i, v)| match field(&first, i, v) {
                    "" => Key::from(format!("col{}", i + 1).as_str()),
                    name => Key::from(name),
                })
                .collect();
            for (i, c) in cols.iter().enumerate() {
                if let Some(j) = cols[..i].iter().position(|d| d == c) {
                    return Err(Error::parse(
                        file,
                        Location { row: Some(1 + row_offset), line: Some(first_line), field: None },
                        format!(
                            "columns {} and {} are both named {c:?}; rename one, or read the file with --no-header",
                            j + 1,
                            i + 1
                        ),
                    ));
                }
            }
            (cols, None)
        } else {
            ((1..=first.len()).map(|i| Key::from(format!("col{i}").as_str())).collect(), Some(first))
        };
        let details = SourceDetails {
            format: Some(format),
            encoding: Some(decoded.encoding.name()),
            delimiter: Some(delimiter),
            bom: had_bom,
            ..Default::default()
        };
        Ok(Self {
            file: file.to_string(),
            reader,
            record: ::csv::StringRecord::new(),
            columns,
            extra_keys: Vec::new(),
            header: opts.header,
            line_offset,
            first_line,
            row_offset,
            rows: 0,
            blank_rows: 0,
            pending_first,
            details,
        })
    }
}

/// Whether `b` ends a value and may start the next: the delimiter, or any
/// of `,;\t|` while it is not known yet.
fn separates(b: u8, delimiter: Option<u8>) -> bool {
    match delimiter {
        Some(d) => b == d,
        None => CANDIDATES.contains(&b),
    }
}

/// Whether lines end with a bare `\r` (classic Mac), by the file's `head`:
/// more of them than of other line ends. Only line ends outside quoted
/// values count: notes may hold many line breaks of either kind (a CR file
/// whose notes hold `\n`s, a CRLF file whose notes hold bare `\r`s).
fn cr_only(head: &[u8], quote: u8, escape: Option<u8>, delimiter: Option<u8>) -> bool {
    let starts_value = |b: u8| separates(b, delimiter);
    let (mut cr, mut other) = (0usize, 0usize);
    let (mut quoted, mut at_start) = (false, true);
    let mut i = 0;
    while i < head.len() {
        let b = head[i];
        if quoted {
            if Some(b) == escape {
                i += 1;
            } else if b == quote {
                if escape.is_none() && head.get(i + 1) == Some(&quote) {
                    i += 1;
                } else {
                    quoted = false;
                }
            }
        } else {
            match b {
                _ if b == quote && at_start => quoted = true,
                b'\r' if head.get(i + 1) == Some(&b'\n') => {
                    other += 1;
                    i += 1;
                }
                b'\r' => cr += 1,
                b'\n' => other += 1,
                _ => {}
            }
            at_start = matches!(b, b'\r' | b'\n') || starts_value(b);
        }
        i += 1;
    }
    cr > other
}

/// Reads a bare `\r` (one not before a `\n`) as `\n`.
struct CrAsLf<R>(R);

impl<R: BufRead> Read for CrAsLf<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.0.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.0.consume(n);
        for i in memchr::memchr_iter(b'\r', &buf[..n]).collect::<Vec<_>>() {
            let next = match buf.get(i + 1) {
                Some(&b) if i + 1 < n => Some(b),
                _ => self.0.fill_buf()?.first().copied(),
            };
            if next != Some(b'\n') {
                buf[i] = b'\n';
            }
        }
        Ok(n)
    }
}

/// What `skip_row` read past.
struct Skipped {
    lines: u64,
    bytes: u64,
    /// A quote left open at the end of the file: where it opened, as
    /// (line, byte) from where the row starts.
    open_quote: Option<(u64, u64)>,
}

/// Reads past a row above the header: its line, and the lines after it
/// while a quoted value holds line ends (a quote opens a value only at its
/// start: after a line end or a delimiter, any of `,;\t|` while the
/// delimiter is not known yet). Returns the lines and bytes read, no
/// lines at the end.
fn skip_row(input: &mut dyn BufRead, quote: u8, delimiter: Option<u8>) -> io::Result<Skipped> {
    let starts_value = |b: u8| separates(b, delimiter);
    let (mut lines, mut bytes, mut quoted, mut line) = (0, 0, false, Vec::new());
    let mut opened = (0, 0);
    loop {
        line.clear();
        let n = input.read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(Skipped { lines, bytes, open_quote: quoted.then_some(opened) });
        }
        lines += 1;
        bytes += n as u64;
        let mut prev = b'\n';
        let mut closed = false;
        for (i, &b) in line.iter().enumerate() {
            if quoted {
                if b == quote {
                    quoted = false;
                    closed = true;
                    prev = b;
                    continue;
                }
            } else if b == quote && (closed || prev == b'\n' || starts_value(prev)) {
                // (Right after a closing quote, a quote is a doubled one.)
                quoted = true;
                opened = (lines - 1, bytes - n as u64 + i as u64);
            }
            closed = false;
            prev = b;
        }
        if !quoted {
            return Ok(Skipped { lines, bytes, open_quote: None });
        }
    }
}

/// The blank lines before the record just read. The parser skips them
/// silently and dates a record from where the last one ended, blank lines
/// and all (rust-csv #208): they are what the record took beyond its own
/// lines.
fn blank_lines_before<R: Read>(reader: &::csv::Reader<QuoteGuard<R>>, record: &::csv::StringRecord) -> u64 {
    let from = record.position().map_or(0, |p| p.line());
    let after = reader.position();
    let guard = reader.get_ref();
    let unterminated = guard.ended && after.byte() == guard.offset && guard.prev != b'\n';
    let own = memchr::memchr_iter(b'\n', record.as_slice().as_bytes()).count() as u64 + u64::from(!unterminated);
    after.line().saturating_sub(from).saturating_sub(own)
}

/// Reads a record, past blank lines (`\r\n` ones included), which are
/// added to `blank`. Returns the blank lines just before the record (since
/// its position), or `None` at the end.
fn read_record<R: Read>(
    reader: &mut ::csv::Reader<QuoteGuard<R>>,
    record: &mut ::csv::StringRecord,
    blank: &mut u64,
) -> std::result::Result<Option<u64>, ::csv::Error> {
    loop {
        if !reader.read_record(record)? {
            return Ok(None);
        }
        let before = blank_lines_before(reader, record);
        *blank += before;
        if !(record.len() == 1 && matches!(record.get(0), Some("" | "\r"))) {
            return Ok(Some(before));
        }
        *blank += 1;
    }
}

/// A value cut to a length fit for a message.
fn shorten(v: &str) -> std::borrow::Cow<'_, str> {
    if v.chars().count() <= 60 {
        return std::borrow::Cow::Borrowed(v);
    }
    std::borrow::Cow::Owned(format!("{}...", v.chars().take(57).collect::<String>()))
}

/// A field without the `\r` of a CRLF line end, when it is the record's last.
fn field<'a>(record: &::csv::StringRecord, i: usize, value: &'a str) -> &'a str {
    if i + 1 == record.len() { value.strip_suffix('\r').unwrap_or(value) } else { value }
}

/// A reading error at `row`; `columns`, the header's names, name the field
/// a value that is not UTF-8 is in.
fn csv_error(file: &str, e: ::csv::Error, row: u64, line_offset: i64, columns: &[Key]) -> Error {
    let line = e.position().map(|p| p.line().saturating_add_signed(line_offset));
    match e.into_kind() {
        ::csv::ErrorKind::Io(io) => Error::from_io(file, Location { row: Some(row), line: None, field: None }, io),
        ::csv::ErrorKind::Utf8 { err, .. } => {
            let column = columns.get(err.field()).map(|k| k.to_string());
            // (The location names the column, where the header does.)
            let which = match &column {
                Some(_) => "the value".to_string(),
                None => format!("field {}", err.field() + 1),
            };
            Error::Encoding {
                file: file.to_string(),
                at: Location { row: Some(row), line, field: column },
                message: format!(
                    "{which} is not valid UTF-8 (byte {} of the value); if the file is in another encoding, name it with --encoding (gbk, big5, shift_jis, windows-1252, ...)",
                    err.valid_up_to() + 1
                ),
            }
        }
        other => Error::parse(file, Location { row: Some(row), line, field: None }, format!("{other:?}")),
    }
}

impl CsvReader {
    /// The first stray quote inside the record just read, if any: its
    /// offset and its field.
    fn stray_quote(&mut self) -> Option<(Option<u64>, usize)> {
        let end = self.reader.position().byte();
        self.reader.get_mut().take_stray(end)
    }
}

impl RecordReader for CsvReader {
    fn read(&mut self, rec: &mut Record) -> Result<bool> {
        let first_row = if self.header { 2 } else { 1 } + self.row_offset;
        let row = self.rows + self.blank_rows + first_row;
        let pos_line;
        if let Some(first) = self.pending_first.take() {
            self.record = first;
            pos_line = self.first_line;
        } else {
            // (Less the line breaks escapes made before this record, which
            // the parser counted as the file's.)
            let line_offset = self.line_offset as i64 - self.reader.get_ref().introduced as i64;
            let got = read_record(&mut self.reader, &mut self.record, &mut self.blank_rows)
                .map_err(|e| csv_error(&self.file, e, row, line_offset, &self.columns))?;
            let Some(lead) = got else { return Ok(false) };
            let (from, start) = self.record.position().map_or((0, 0), |p| (p.line(), p.byte()));
            let made = self.reader.get_mut().introduced_before(start);
            pos_line = (from + lead + self.line_offset).saturating_sub(made);
        }
        let row = self.rows + self.blank_rows + first_row;
        self.rows += 1;
        rec.clear();
        rec.row = row;
        rec.line = pos_line;
        let width = self.columns.len();
        // Empty fields past the header's last column (`a,b,` under `x,y`, as
        // spreadsheets and report writers leave them) hold nothing to lose:
        // the row is read as if they were not there.
        let n = match (0..self.record.len()).rev().find(|&i| self.record.get(i).is_some_and(|v| !v.is_empty())) {
            Some(last) if last < width => width.min(self.record.len()),
            None => width.min(self.record.len()),
            Some(_) => self.record.len(),
        };
        // Taken for every record, so that a fault of a row rejected for its
        // width is not left for the next row.
        let stray = self.stray_quote();
        while self.extra_keys.len() + width < n {
            let i = width + self.extra_keys.len() + 1;
            self.extra_keys.push(Key::from(format!("#{i}").as_str()));
        }
        for (i, value) in self.record.iter().enumerate().take(n) {
            let key = if i < width { &self.columns[i] } else { &self.extra_keys[i - width] };
            rec.push_text(key, unneutralize(field(&self.record, i, value)));
        }
        if n != width {
            let first = if self.header { "the header" } else { "the first row" };
            // A short row's first missing column is the one to fill.
            let column = (n < width).then(|| self.columns[n].to_string());
            let message = if n < width {
                format!(
                    "the row has {n} fields but {first} has {width}: values are missing from column {:?} on (not shifted into other columns)",
                    &*self.columns[n]
                )
            } else {
                let extra: Vec<String> = self
                    .record
                    .iter()
                    .enumerate()
                    .skip(width)
                    .map(|(i, v)| format!("{:?}", shorten(field(&self.record, i, v))))
                    .collect();
                format!("the row has {n} fields but {first} has {width}; extra values: {}", extra.join(", "))
            };
            rec.defect = Some(Defect { field: column, message });
        } else if let Some((at, i)) = stray {
            // (The field is known from the quotes alone: a column past the
            // header's is named by number, as its value is.)
            let column = self.columns.get(i).map_or_else(|| format!("#{}", i + 1), |c| c.to_string());
            let read = self.record.get(i).map(|v| format!("read as {:?}", shorten(field(&self.record, i, v))));
            let notes: Vec<String> = at.map(|at| format!("byte {at} of the file")).into_iter().chain(read).collect();
            let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) };
            // (Under --escape a doubled quote is no longer read as one.)
            let hint = match self.reader.get_ref().escape {
                None => "quote the whole value and double each quote inside it (\"\"), or read a file that escapes quotes with --escape '\\'".to_string(),
                Some(e) => format!("quote the whole value and escape each quote inside it ({}\")", char::from(e)),
            };
            rec.defect = Some(Defect {
                message: format!(
                    "text follows a closing quote in column {column:?}{notes}, which CSV does not allow: {hint}"
                ),
                field: Some(column),
            });
        } else if memchr::memchr(0, self.record.as_slice().as_bytes()).is_some() {
            let field = rec
                .fields()
                .iter()
                .find(|(_, v)| matches!(v, Value::Text(t) if t.contains('\0')))
                .map(|(k, _)| k.to_string());
            let of = field.as_ref().map(|f| format!(" of column {f:?}")).unwrap_or_default();
            let message = format!("the value{of} contains a NUL byte (is the file binary, or UTF-16 without a BOM?)");
            rec.defect = Some(Defect { field, message });
        }
        Ok(true)
    }

    fn columns(&self) -> Option<&[Key]> {
        Some(&self.columns)
    }

    fn details(&self) -> SourceDetails {
        self.details.clone()
    }
}

/// Cells a spreadsheet would run as a formula get a leading `'`, unless they
/// are plain numbers such as `-5` or `+15551234567`. So does a cell that
/// already looks neutralised (`'=x`), so that reading it back
/// ([`unneutralize`]) gives it as it was, not as `=x`.
pub fn neutralize(cell: &str) -> Option<String> {
    formula_like(cell.trim_start_matches('\'')).then(|| format!("'{cell}"))
}

fn formula_like(cell: &str) -> bool {
    match cell.as_bytes().first() {
        Some(b'=' | b'@' | b'\t' | b'\r') => true,
        Some(b'+' | b'-') => {
            let rest = &cell[1..];
            // (A number with a decimal comma, `-2000,00`, is a number too.)
            rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
        }
        _ => false,
    }
}

/// A cell as it was before `neutralize`, which crmsync's own CSV exports
/// apply: `'=SUM(A1)` reads as `=SUM(A1)`, so that an export imports again
/// unchanged. Any other leading `'` is kept.
fn unneutralize(cell: &str) -> &str {
    // `="02134"` is how files meant for Excel keep a postal code's or an
    // account number's leading zeros: a formula whose value is the text.
    if let Some(text) = cell.strip_prefix("=\"").and_then(|rest| rest.strip_suffix('"'))
        && !text.contains('"')
    {
        return text;
    }
    match cell.strip_prefix('\'') {
        Some(rest) if neutralize(rest).is_some() => rest,
        _ => cell,
    }
}

pub struct CsvWriter {
    file: String,
    writer: ::csv::Writer<Box<dyn Write + Send>>,
    columns: Option<crate::Header>,
    /// Records held until the columns are known (when not given upfront).
    buffered: Vec<Record>,
    /// `WriteOptions::last_columns`.
    last: Vec<Key>,
    raw: bool,
    cells: Vec<String>,
}

impl CsvWriter {
    pub fn new(file: &str, mut out: Box<dyn Write + Send>, opts: &WriteOptions) -> Result<Self> {
        if opts.bom {
            out.write_all(b"\xEF\xBB\xBF").map_err(|e| Error::Io { file: file.to_string(), source: e })?;
        }
        let delimiter = opts.delimiter.unwrap_or(if opts.format == Format::Tsv { b'\t' } else { b',' });
        let writer = ::csv::WriterBuilder::new()
            .delimiter(delimiter)
            .terminator(::csv::Terminator::Any(b'\n'))
            .buffer_capacity(256 * 1024)
            .from_writer(out);
        let mut w = Self {
            file: file.to_string(),
            writer,
            columns: None,
            buffered: Vec::new(),
            last: opts.last_columns.clone(),
            raw: opts.raw,
            cells: Vec::new(),
        };
        if let Some(cols) = &opts.columns {
            w.start(cols.clone())?;
        }
        Ok(w)
    }

    fn io(&self, e: ::csv::Error) -> Error {
        match e.into_kind() {
            ::csv::ErrorKind::Io(io) => Error::Io { file: self.file.clone(), source: io },
            other => Error::setup(&self.file, format!("{other:?}")),
        }
    }

    fn start(&mut self, columns: Vec<Key>) -> Result<()> {
        self.writer.write_record(columns.iter().map(|c| c.as_bytes())).map_err(|e| self.io(e))?;
        self.columns = Some(crate::Header::new(columns));
        Ok(())
    }

    fn write_now(&mut self, rec: &Record) -> Result<()> {
        let Some(columns) = &self.columns else { return Ok(()) };
        let flat_owned;
        let fields: Vec<(&str, &Value)> = if rec.is_flat() {
            rec.fields().iter().map(|(k, v)| (&**k, v)).collect()
        } else {
            flat_owned = rec.flatten();
            flat_owned.iter().map(|(k, v)| (k.as_str(), v)).collect()
        };
        let placed =
            columns.place(&fields, Value::is_null, "the CSV header").map_err(|(field, message)| Error::Record {
                file: self.file.clone(),
                at: Location { row: Some(rec.row), line: None, field: Some(field) },
                message,
            })?;
        self.cells.resize(placed.len(), String::new());
        for (cell, v) in self.cells.iter_mut().zip(placed) {
            cell.clear();
            if let Some(v) = v {
                v.write_text(cell);
                if !self.raw
                    && let Some(safe) = neutralize(cell)
                {
                    *cell = safe;
                }
            }
        }
        let res = self.writer.write_record(self.cells.iter().map(String::as_bytes));
        res.map_err(|e| self.io(e))
    }

    fn flush_buffer(&mut self) -> Result<()> {
        if self.columns.is_none() && self.buffered.is_empty() {
            return Ok(()); // nothing to write, not even a header
        }
        if self.columns.is_none() {
            let names: Vec<String> = self
                .buffered
                .iter()
                .flat_map(|r| -> Vec<String> {
                    if r.is_flat() {
                        r.fields().iter().map(|(k, _)| k.to_string()).collect()
                    } else {
                        r.flatten().into_iter().map(|(k, _)| k).collect()
                    }
                })
                .collect();
            self.start(crate::union_of(names.iter().map(String::as_str), &self.last))?;
        }
        let buffered = std::mem::take(&mut self.buffered);
        for r in &buffered {
            self.write_now(r)?;
        }
        Ok(())
    }
}

impl RecordWriter for CsvWriter {
    fn write(&mut self, rec: &Record) -> Result<()> {
        if self.columns.is_none() {
            self.buffered.push(rec.clone());
            if self.buffered.len() >= crate::BUFFER_RECORDS {
                self.flush_buffer()?;
            }
            return Ok(());
        }
        self.write_now(rec)
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.flush_buffer()?;
        self.writer.flush().map_err(|e| Error::Io { file: self.file.clone(), source: e })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1;2;3\n", true, b'"'), b';');
        assert_eq!(sniff_delimiter(b"a\tb\n\"x,y,z\"\t2\n", true, b'"'), b'\t');
        assert_eq!(sniff_delimiter(b"name,note\n\"a;b;c;d\",x\n", true, b'"'), b',');
        assert_eq!(sniff_delimiter(b"a|b\n1|2", true, b'"'), b'|');
        assert_eq!(sniff_delimiter(b"single\nvalue\n", true, b'"'), b',');
        // A report's title above the table, with no delimiter of its own,
        // or with one.
        assert_eq!(sniff_delimiter(b"Kontakte\n\nName;E-Mail\nAnn;a@x.de\nBob;b@x.de\n", true, b'"'), b';');
        assert_eq!(
            sniff_delimiter(b"Contacts\tQ2\n\nName\tEmail\tPhone\nAnn\ta@x\t5\nBo\tb@x\t6\n", true, b'"'),
            b'\t'
        );
        assert_eq!(sniff_delimiter(b"Email\nann@x.com\nbob@x.com; cy@x.com\n", true, b'"'), b',');
        // Rows whose trailing empty fields were dropped, with a comma or a
        // semicolon in every row's text; a header over blank lines.
        let ragged = "Nr;Name;Umsatz;Telefon\n1;M GmbH;1.234,56;030\n2;S AG;99,00\n3;W KG;0,00\n";
        assert_eq!(sniff_delimiter(ragged.as_bytes(), true, b'"'), b';');
        let ragged = "Name\tCity\tNotes\nAnn\tBoston, MA\tmet\nBob\tDover, DE\nCy\tAustin, TX\n";
        assert_eq!(sniff_delimiter(ragged.as_bytes(), true, b'"'), b'\t');
        let ragged = "Name,Tags,Email,Phone\nAnn,vip; new,a@x\nBob,vip; new,b@x\nCy,new; old,c@x,5\n";
        assert_eq!(sniff_delimiter(ragged.as_bytes(), true, b'"'), b',');
        assert_eq!(sniff_delimiter(b"Name;Email;Phone\n\n\n", true, b'"'), b';');
    }

    /// Gives its bytes one at a time: every escape ends a chunk.
    struct Trickle(std::io::Cursor<Vec<u8>>);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    #[test]
    fn backslash_escapes_make_line_breaks_and_tabs_without_adding_lines() {
        let text =
            "name,title,email\nAnn,\"Games\\n\\tdeveloper\",a@x\nBob,\"say \\\"hi\\\" \\\\ ok\",b@x\nCy,x\\ny,c@x\n";
        for trickle in [false, true] {
            let bytes = std::io::Cursor::new(text.as_bytes().to_vec());
            let input = crate::Input {
                name: "t.csv".into(),
                bytes: if trickle { Box::new(Trickle(bytes)) } else { Box::new(bytes) },
                path: None,
            };
            let opts = ReadOptions { escape: Some(b'\\'), ..ReadOptions::default() };
            let mut reader = crate::open_reader(input, &opts).expect("opens");
            let recs = crate::drain(reader.as_mut()).expect("reads");
            let title = |i: usize| recs[i].get("title").map(|v| v.text().into_owned());
            assert_eq!(title(0).as_deref(), Some("Games\n\tdeveloper"), "trickle {trickle}");
            assert_eq!(title(1).as_deref(), Some("say \"hi\" \\ ok"));
            // Outside quotes a backslash is text, as the parser reads it.
            assert_eq!(title(2).as_deref(), Some("x\\ny"));
            // The line break made is no line of the file.
            let lines: Vec<u64> = recs.iter().map(|r| r.line).collect();
            assert_eq!(lines, [2, 3, 4], "trickle {trickle}");
        }
    }

    /// Each record's (row, line) read from `text`.
    fn places(text: &str) -> Vec<(u64, u64)> {
        let input = crate::Input {
            name: "t.csv".into(),
            bytes: Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
            path: None,
        };
        let mut reader = crate::open_reader(input, &ReadOptions::default()).expect("opens");
        crate::drain(reader.as_mut()).expect("reads").iter().map(|r| (r.row, r.line)).collect()
    }

    #[test]
    fn blank_lines_count_as_the_rows_a_spreadsheet_shows() {
        assert_eq!(places("a,b\n1,x\n\n2,y\n\n\n3,z\n"), [(2, 2), (4, 4), (7, 7)]);
        // CRLF blank lines, a value over three lines, no line end at the end.
        assert_eq!(places("a,b\r\n1,x\r\n\r\n\r\n2,\"p\r\nq\r\nr\"\r\n\n3,z"), [(2, 2), (5, 5), (7, 9)]);
        assert_eq!(places("a,b\n1,\"p\nq\"\n\n\n2,y"), [(2, 2), (5, 6)]);
        // Blank lines of both kinds, above the header too.
        assert_eq!(places("a,b\n1,x\n\n\r\n\n2,y\n"), [(2, 2), (6, 6)]);
        assert_eq!(places("\n\r\n\na,b\n1,x\n\r\n2,y\n"), [(5, 5), (7, 7)]);
        // Classic Mac: bare CR line ends, blank lines among them, a cell
        // holding a `\n` (as Excel for Mac writes one) and one a `\r`.
        assert_eq!(places("a,b\r1,\"p\nq\"\r\r2,y\r3,\"r\rs\"\r4,z\r"), [(2, 2), (4, 5), (5, 6), (6, 8)]);
    }

    fn cr_only_default(head: &[u8]) -> bool {
        cr_only(head, b'"', None, None)
    }

    #[test]
    fn classic_mac_files_read_their_bare_cr_as_line_ends() {
        let input = crate::Input {
            name: "m.csv".into(),
            bytes: Box::new(std::io::Cursor::new(b"name,note\rAnn,\"line1\nline2\"\rBo,\"a\rb\"\rCy,x\r\n".to_vec())),
            path: None,
        };
        let mut reader = crate::open_reader(input, &ReadOptions::default()).expect("opens");
        let notes: Vec<String> = crate::drain(reader.as_mut())
            .expect("reads")
            .iter()
            .map(|r| r.get("note").map(Value::to_text).unwrap_or_default().to_string())
            .collect();
        // (A bare CR inside a value is its line break, read as `\n`; a CRLF
        // stays one line end.)
        assert_eq!(notes, ["line1\nline2", "a\nb", "x"]);
        assert!(cr_only_default(b"a,b\r1,\"p\nq\"\r2,y\r"));
        assert!(!cr_only_default(b"a,b\r\n1,\"p\rq\"\r\n2,y\r\n"));
        assert!(!cr_only_default(b"a,b\n1,\"p\rq\"\n2,y\n"));
        // Line breaks inside notes outnumber the file's line ends.
        assert!(cr_only_default(b"a,b\r1,\"p\nq\nr\ns\"\r2,y\r"));
        assert!(!cr_only_default(b"a,b\r\n1,\"p\r\rq\r\rr\"\r\n2,y\r\n"));
        assert!(!cr_only_default(b"a,b\n1,\"p\r\rq\r\rr\"\n2,y\n"));
        // A doubled quote does not end the value; a quote mid-value opens none.
        assert!(cr_only_default(b"a,b\r1,\"p \"\"x\"\" \n\n\nq\"\r2,5\" screen\r3,y\r"));
        // The quote, escape and delimiter the file is read with.
        assert!(cr_only(b"a,b\r1,\"p \\\"x\\\" \n\n\nq\"\r2,y\r", b'"', Some(b'\\'), None));
        assert!(!cr_only(b"a,b\r\n1,\"p \\\"x\r\r\\\" q\"\r\n2,y\r\n", b'"', Some(b'\\'), None));
        assert!(cr_only(b"a^b\r1^\"p\nq\nr\"\r2^y\r", b'"', None, Some(b'^')));
        assert!(cr_only(b"a,b\r1,'p\nq\nr'\r2,y\r", b'\'', None, None));
    }

    #[test]
    fn formula_cells_are_neutralized() {
        assert_eq!(neutralize("=SUM(A1)").as_deref(), Some("'=SUM(A1)"));
        assert_eq!(neutralize("@cmd").as_deref(), Some("'@cmd"));
        assert_eq!(neutralize("+1-555-0100").as_deref(), Some("'+1-555-0100"));
        assert_eq!(neutralize("-5.5"), None);
        assert_eq!(neutralize("-2000,00"), None);
        assert_eq!(neutralize("+15551234567"), None);
        assert_eq!(neutralize("plain"), None);
        for cell in
            ["=SUM(A1)", "@cmd", "+1-555-0100", "-5.5", "'quoted", "'=not a formula", "''=x", "'", "", "=\"02134\""]
        {
            let written = neutralize(cell).unwrap_or_else(|| cell.to_string());
            assert_eq!(unneutralize(&written), cell, "{written:?}");
        }
        assert_eq!(unneutralize("'-5"), "'-5", "only what export writes is read back");
        assert_eq!(unneutralize("=\"02134\""), "02134", "Excel's text formula is its text");
        assert_eq!(unneutralize("=\"a\"&\"b\""), "=\"a\"&\"b\"", "any other formula is kept");
    }
}
