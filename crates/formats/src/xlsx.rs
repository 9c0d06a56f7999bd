//! Spreadsheets. Reading (XLSX, XLS, ODS) goes through `calamine`, which
//! needs the whole workbook in memory. Writing XLSX goes through
//! `rust_xlsxwriter` in constant-memory mode, row by row, with typed cells:
//! numbers as numbers, dates as dates, text as text (so `02134` stays text).

use std::io::{Cursor, Read, Write};

use calamine::{Data, Reader};
use crmsync_core::mapping::types::date::from_excel_serial;
use crmsync_core::value::DateTime;
use crmsync_core::{Defect, Key, Record, Value};

use crate::error::{Error, Location, Result};
use crate::{Format, ReadOptions, RecordReader, RecordWriter, SheetRef, SourceDetails, WriteOptions};

pub struct SheetReader {
    file: String,
    rows: calamine::Range<Data>,
    columns: Vec<Key>,
    next: usize,
    first_row: u64,
    header: bool,
    sheet: String,
    /// The workbook's sheets, in order.
    sheets: Vec<String>,
    format: Format,
    /// The cells' styles (XLSX only), for numbers shown zero-padded.
    styles: calamine::StyleRange,
    /// ODS number cells whose shown text reads otherwise (`02134`), by
    /// their place in the sheet (`ods::read`).
    shown_ods: std::collections::HashMap<(u32, u32), Value>,
    /// Cells (row, column in `rows`) holding a formula with no saved
    /// result, and the formula.
    unsaved: std::collections::HashMap<(usize, usize), String>,
    /// The sheet's first column (0 for A), for the names of cells.
    first_col: usize,
    /// Days to add to the workbook's date numbers: 1462 where it counts
    /// from 1904.
    epoch_days: f64,
}

impl SheetReader {
    pub fn open(file: &str, mut bytes: Box<dyn Read + Send>, format: Format, opts: &ReadOptions) -> Result<Self> {
        let mut data = Vec::new();
        bytes.read_to_end(&mut data).map_err(|e| Error::Io { file: file.to_string(), source: e })?;
        if data.is_empty() {
            return Err(Error::parse(file, Location::default(), "the file is empty"));
        }
        let cursor = Cursor::new(data.as_slice());
        // Opened as the format it claims, so the error says what is wrong.
        let opened: std::result::Result<calamine::Sheets<_>, String> = match format {
            Format::Ods => calamine::open_workbook_from_rs(cursor)
                .map(calamine::Sheets::Ods)
                .map_err(|e: calamine::OdsError| e.to_string()),
            Format::Xls => calamine::open_workbook_from_rs(cursor)
                .map(calamine::Sheets::Xls)
                .map_err(|e: calamine::XlsError| e.to_string()),
            _ => calamine::open_workbook_auto_from_rs(cursor).map_err(|e| e.to_string()),
        };
        let mut book = opened.map_err(|e| {
            let head = &data[..data.len().min(512)];
            let looks_text = std::str::from_utf8(head).is_ok() || head.starts_with(b"\xEF\xBB\xBF");
            let hint = if looks_text && head.contains(&b',') {
                " The file is text, not a workbook: it looks like CSV with a spreadsheet's extension; read it with --from csv."
            } else if looks_text {
                " The file is text, not a workbook; name its real format with --from."
            } else {
                ""
            };
            Error::parse(file, Location::default(), format!("not a valid {format} workbook ({e}).{hint}"))
        })?;
        let names = book.sheet_names();
        let sheet = match &opts.sheet {
            None => names
                .first()
                .cloned()
                .ok_or_else(|| Error::parse(file, Location::default(), "the workbook has no sheets"))?,
            Some(SheetRef::Name(n)) => names.iter().find(|s| *s == n).cloned().ok_or_else(|| {
                Error::setup(
                    file,
                    format!(
                        "no sheet named {n:?}; the sheets are {}",
                        names.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", ")
                    ),
                )
            })?,
            Some(SheetRef::Index(i)) => names
                .get(i - 1)
                .cloned()
                .ok_or_else(|| Error::setup(file, format!("the workbook has {} sheet(s), not {i}", names.len())))?,
        };
        let mut rows = book
            .worksheet_range(&sheet)
            .map_err(|e| Error::parse(file, Location::default(), format!("sheet {sheet:?}: {e}")))?;
        let (formulas, merged) = match &book {
            calamine::Sheets::Xlsx(_) => sheet_features(&data),
            _ => (false, false),
        };
        let mut ods = match &book {
            calamine::Sheets::Ods(_) => crate::ods::read(&data, &sheet),
            _ => crate::ods::Shown::default(),
        };
        let merges = match &mut book {
            calamine::Sheets::Xlsx(x) if merged => x.merge_cells_by_sheet_name(&sheet).ok(),
            calamine::Sheets::Xls(x) => x.merge_cells_by_sheet_name(&sheet).ok(),
            calamine::Sheets::Ods(_) => Some(std::mem::take(&mut ods.merges)),
            _ => None,
        };
        let merges = merges.unwrap_or_default();
        let header_at = match opts.header_row {
            Some(n) if opts.header => {
                // Given as the sheet numbers it; the range starts at its
                // first row with data.
                let top = rows.start().map_or(0, |(r, _)| u64::from(r)) + 1;
                let last = rows.end().map_or(0, |(r, _)| u64::from(r)) + 1;
                if rows.is_empty() || n < top || n > last {
                    let held = if rows.is_empty() {
                        "the sheet is empty".to_string()
                    } else {
                        format!("the sheet's rows with data are {top} to {last}")
                    };
                    return Err(Error::setup(
                        file,
                        format!("sheet {sheet:?}: the header is to be on row {n}, but {held}"),
                    ));
                }
                usize::try_from(n - top).unwrap_or(usize::MAX)
            }
            _ if opts.header => header_index(&rows, &merges),
            _ => 0,
        };
        fill_merged_down(&mut rows, &merges, opts.header.then_some(header_at));
        // The cells' styles take a second pass over the sheet: made only
        // when the workbook has a format that shapes numbers. (A style that
        // cannot be read only loses that padding.)
        let styles = match &book {
            calamine::Sheets::Xlsx(_) if shapes_numbers(&data) => {
                book.worksheet_style(&sheet).unwrap_or_else(|_| calamine::StyleRange::empty())
            }
            _ => calamine::StyleRange::empty(),
        };
        let shown_ods = ods.numbers;
        // A formula a program wrote without computing it (scripts often
        // do) has no value to read: found here, so that its row is
        // rejected rather than read as empty. (Looked for only in a
        // workbook that has formulas at all.)
        let mut unsaved = std::collections::HashMap::new();
        if let (calamine::Sheets::Xlsx(_), Some((r0, c0))) = (&book, rows.start())
            && formulas
            && let Ok(formulas) = book.worksheet_formula(&sheet)
            && let Some((fr, fc)) = formulas.start()
        {
            for (r, c, f) in formulas.used_cells() {
                let at = (fr + r as u32, fc + c as u32);
                if f.is_empty() || at.0 < r0 || at.1 < c0 {
                    continue;
                }
                if rows.get_value(at).is_some_and(|v| *v == Data::Empty) {
                    unsaved.insert(((at.0 - r0) as usize, (at.1 - c0) as usize), f.clone());
                }
            }
        }
        let first_row = rows.start().map(|(r, _)| u64::from(r) + 1).unwrap_or(1);
        let first_col = rows.start().map(|(_, c)| c as usize).unwrap_or(0);
        // Told by the first date that can tell (a time of day alone cannot).
        let epoch_days = rows
            .used_cells()
            .find_map(|(_, _, c)| match c {
                Data::DateTime(dt) if !dt.is_duration() && dt.as_f64() >= 1.0 => Some(counts_from_1904(dt)),
                _ => None,
            })
            .map_or(0.0, |from_1904| if from_1904 { 1462.0 } else { 0.0 });
        // As an empty CSV file is: nothing to read, not a file of no columns.
        if opts.header && rows.is_empty() {
            return Err(Error::parse(
                file,
                Location::default(),
                format!("sheet {sheet:?} is empty: expected a header row (--sheet chooses another)"),
            ));
        }
        let width = rows.width();
        let mut columns = Vec::with_capacity(width);
        if opts.header {
            if let Some(hdr) = rows.rows().nth(header_at) {
                for (i, cell) in hdr.iter().enumerate() {
                    let name = match cell {
                        Data::Empty => String::new(),
                        other => cell_text(other, epoch_days),
                    };
                    let name = if name.is_empty() { column_letter(first_col + i) } else { name };
                    if columns.iter().any(|c: &Key| **c == *name) {
                        return Err(Error::parse(
                            file,
                            Location { row: Some(first_row + header_at as u64), line: None, field: None },
                            format!("sheet {sheet:?}: two columns are named {name:?}; rename one"),
                        ));
                    }
                    columns.push(Key::from(name.as_str()));
                }
            }
        } else {
            columns = (0..width).map(|i| Key::from(column_letter(first_col + i).as_str())).collect();
        }
        Ok(Self {
            file: file.to_string(),
            rows,
            columns,
            next: if opts.header { header_at + 1 } else { 0 },
            first_row,
            header: opts.header,
            sheet,
            sheets: names,
            format,
            styles,
            shown_ods,
            unsaved,
            first_col,
            epoch_days,
        })
    }

    /// A number cell as the sheet shows it when its format pads it with
    /// zeros or separators: a ZIP code typed `02134` into a column
    /// formatted `00000` is stored as the number 2134, and it is `02134`
    /// the user sees and means.
    fn shown(&self, cell: &Data, row: usize, col: usize) -> Option<Value> {
        let f = match cell {
            Data::Float(f) => *f,
            Data::Int(i) => *i as f64,
            _ => return None,
        };
        if self.styles.is_empty() && self.shown_ods.is_empty() {
            return None;
        }
        let (r0, c0) = self.rows.start()?;
        let at = (r0 + u32::try_from(row).ok()?, c0 + u32::try_from(col).ok()?);
        if !self.shown_ods.is_empty() {
            return self.shown_ods.get(&at).cloned();
        }
        let code = &self.styles.get(at)?.number_format.as_ref()?.format_code;
        if let Some(places) = decimal_places(code) {
            // `26361.40` in a `0.00` cell: the number with the places shown,
            // when they show all of it (1234.5678 is not 1234.57).
            let shown = format!("{f:.places$}");
            return (f.is_finite() && f.abs() < 1e15 && shown.parse::<f64>() == Ok(f)).then_some(Value::Number(shown));
        }
        let text = padded(code, f)?;
        (text != number_text(f)).then_some(Value::Text(text))
    }
}

/// The places of a plain decimal of at most 15 digits (`-12.50`: 2), which
/// a cell holds exactly.
fn fixed_places(n: &str) -> Option<usize> {
    let (whole, fraction) = n.strip_prefix('-').unwrap_or(n).split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(whole) && digits(fraction) && whole.len() + fraction.len() <= 15).then_some(fraction.len())
}

/// The decimal places of a fixed-point format (`0.00`, `#,##0.00`).
fn decimal_places(code: &str) -> Option<usize> {
    let fraction = code.strip_prefix("#,##0.").or_else(|| code.strip_prefix("0."))?;
    (!fraction.is_empty() && fraction.bytes().all(|b| b == b'0')).then_some(fraction.len())
}

/// Whether an XLSX workbook declares a number format that shapes how a
/// number reads (`padded`, `decimal_places`), from its `xl/styles.xml`.
/// (True when that part is elsewhere: the sheet's styles are then read to
/// be sure.)
fn shapes_numbers(data: &[u8]) -> bool {
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(data)) else { return true };
    let Ok(part) = zip.by_name("xl/styles.xml") else { return true };
    let mut xml = quick_xml::Reader::from_reader(std::io::BufReader::new(part));
    let mut buf = Vec::new();
    loop {
        match xml.read_event_into(&mut buf) {
            // Excel's own `0.00` and `#,##0.00` (formats 2 and 4), which
            // need no declaration.
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e))
                if e.local_name().as_ref() == "xf"
                    && e.attributes().flatten().any(|a| {
                        a.key.local_name().as_ref() == "numFmtId" && matches!(a.value.as_ref(), "2" | "4")
                    }) =>
            {
                return true;
            }
            Ok(quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e))
                if e.local_name().as_ref() == "numFmt" =>
            {
                let code = e.attributes().flatten().find(|a| a.key.local_name().as_ref() == "formatCode");
                if let Some(code) = code.and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok())
                    && (decimal_places(&code).is_some() || padded(&code, 2134.0).is_some_and(|t| t != "2134"))
                {
                    return true;
                }
            }
            Ok(quick_xml::events::Event::Eof) => return false,
            Err(_) => return true,
            Ok(_) => {}
        }
        buf.clear();
    }
}

/// A whole number laid out in a format made only of digit places (`0`
/// shows a digit or a zero, `#` a digit or nothing) and literals (`-`,
/// spaces, brackets, `\x`, `"…"`), as a spreadsheet shows it: `00000`,
/// `000-00-0000`, `00000\-0000`. Other formats (decimals, thousands,
/// sections, conditions) say nothing here.
fn padded(code: &str, f: f64) -> Option<String> {
    enum Part {
        Digit { zero: bool },
        Literal(char),
    }
    if !(0.0..1e15).contains(&f) || f.fract() != 0.0 {
        return None;
    }
    let mut parts = Vec::new();
    let mut chars = code.chars();
    while let Some(c) = chars.next() {
        parts.push(match c {
            '0' => Part::Digit { zero: true },
            '#' => Part::Digit { zero: false },
            '-' | ' ' | '(' | ')' => Part::Literal(c),
            '\\' => Part::Literal(chars.next()?),
            '"' => {
                for q in chars.by_ref() {
                    if q == '"' {
                        break;
                    }
                    parts.push(Part::Literal(q));
                }
                continue;
            }
            _ => return None,
        });
    }
    let places = parts.iter().filter(|p| matches!(p, Part::Digit { .. })).count();
    if places == 0 {
        return None;
    }
    // (Zero in places that are all `#` shows no digit, as in a spreadsheet.)
    let all_optional = parts.iter().all(|p| !matches!(p, Part::Digit { zero: true }));
    let digits = if f == 0.0 && all_optional { String::new() } else { format!("{}", f as i64) };
    // Places with no digit of their own come first; digits beyond the
    // places all go to the first place, as in a spreadsheet.
    let (blank, extra) = (places.saturating_sub(digits.len()), digits.len().saturating_sub(places));
    let mut out = String::with_capacity(code.len() + extra);
    let (mut place, mut next) = (0, 0);
    for p in parts {
        match p {
            Part::Literal(c) => out.push(c),
            Part::Digit { zero } if place < blank => {
                if zero {
                    out.push('0');
                }
                place += 1;
            }
            Part::Digit { .. } => {
                let take = if place == blank { extra + 1 } else { 1 };
                out.push_str(&digits[next..next + take]);
                next += take;
                place += 1;
            }
        }
    }
    Some(out)
}

/// `A`, `B`, ..., `Z`, `AA`: how a spreadsheet names a column.
fn column_letter(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 { format!("{}", f as i64) } else { format!("{f}") }
}

fn cell_text(d: &Data, epoch_days: f64) -> String {
    match cell_value(d, epoch_days) {
        Value::Null => String::new(),
        v => v.to_text(),
    }
}

/// What the sheets of an XLSX workbook hold that needs a second look:
/// (formulas, merged cells). Read in pieces, not a sheet at once: a sheet
/// of 200,000 rows is 100 MB of XML.
fn sheet_features(data: &[u8]) -> (bool, bool) {
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(data)) else { return (false, false) };
    let sheets: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.into_owned()))
        .filter(|n| n.starts_with("xl/worksheets/") && n.ends_with(".xml"))
        .collect();
    // Tags with a namespace prefix too (`<x:f>`, `<x:mergeCell `), as
    // OpenXML SDK writers give them.
    let needles = [
        memchr::memmem::Finder::new(b"<f>"),
        memchr::memmem::Finder::new(b"<f "),
        memchr::memmem::Finder::new(b":f>"),
        memchr::memmem::Finder::new(b":f "),
        memchr::memmem::Finder::new(b"mergeCell "),
    ];
    let mut found = [false; 5];
    let mut buf = vec![0u8; 1 << 16];
    for name in &sheets {
        let Ok(mut part) = zip.by_name(name) else { continue };
        // Each piece starts with the last bytes of the one before, so that
        // a tag split between two is seen.
        let keep = 16;
        let mut filled = 0;
        while let Ok(n @ 1..) = part.read(&mut buf[filled..]) {
            let piece = &buf[..filled + n];
            for (hit, needle) in found.iter_mut().zip(&needles) {
                *hit = *hit || needle.find(piece).is_some();
            }
            if found[..4].iter().any(|f| *f) && found[4] {
                return (true, true);
            }
            let tail = piece.len().saturating_sub(keep);
            buf.copy_within(tail..filled + n, 0);
            filled = filled + n - tail;
        }
    }
    (found[..4].iter().any(|f| *f), found[4])
}

/// The row of the header (from the range's first): past rows that only
/// title the sheet, one cell each (`2024 展会客户名单`, then perhaps a
/// subtitle), above a row of several names, where a title is merged across
/// the columns or a blank row sets the titles apart. Read as the header, a
/// title gave the columns letters for names and the real header became a
/// record.
fn header_index(rows: &calamine::Range<Data>, merges: &[calamine::Dimensions]) -> usize {
    let Some((r0, c0)) = rows.start() else { return 0 };
    let filled = |i: usize| rows[i].iter().filter(|c| **c != Data::Empty).count();
    let Some(header) = (0..rows.height().min(10)).find(|&i| filled(i) >= 2) else { return 0 };
    let across = |i: usize| {
        let col = rows[i].iter().position(|c| *c != Data::Empty).unwrap_or(0);
        let cell = (r0 + i as u32, c0 + col as u32);
        merges.iter().any(|m| m.start == cell && m.end.1 > m.start.1)
    };
    let titled = (0..header).any(|i| filled(i) == 0 || across(i));
    if titled { header } else { 0 }
}

/// A value merged down a column (a company over the rows of its contacts)
/// belongs to each row it spans, as the sheet shows it; read plainly, only
/// the first row would have it. A block merged across columns too (two
/// columns wide) is read into its first column. Rows with nothing else (a
/// spacer) stay blank. Merges across columns only are layout (a title, a
/// group of headers) and are left alone. A merge from above the header
/// (`header`, from the range's first row) into it names its column (a
/// two-row header); one that starts at or above the header is not data.
fn fill_merged_down(rows: &mut calamine::Range<Data>, merges: &[calamine::Dimensions], header: Option<usize>) {
    let (Some((top, left)), Some((bottom, _))) = (rows.start(), rows.end()) else { return };
    let header = header.map(|h| top + h as u32);
    for m in merges.iter().filter(|m| m.end.0 > m.start.0) {
        let Some(value) = rows.get_value(m.start).filter(|v| **v != Data::Empty).cloned() else { continue };
        let col = m.start.1;
        match header {
            Some(h) if m.start.0 < h && m.end.0 >= h => {
                if rows.get_value((h, col)).is_none_or(|v| *v == Data::Empty) {
                    rows.set_value((h, col), value);
                }
                continue;
            }
            Some(h) if m.start.0 <= h => continue,
            _ => {}
        }
        for r in m.start.0 + 1..=m.end.0.min(bottom) {
            let i = (r - top) as usize;
            let others = rows[i].iter().enumerate().any(|(c, v)| {
                let c = left + c as u32;
                *v != Data::Empty && !(m.start.1..=m.end.1).contains(&c)
            });
            if others {
                rows.set_value((r, col), value.clone());
            }
        }
    }
}

/// Whether a date cell's workbook counts its days from 1904 (old Mac
/// Excel's default, where 0 is 1904-01-01): calamine reads that setting
/// but tells it only through the dates it gives, which are then 1462 days
/// after ours for the same number. (Asked once per sheet.)
/// The first day a date cell holds as itself. Excel counts 1900 as a leap
/// year: its serials before March 1900 are a day off from what other tools
/// read, and serial 0, 1899-12-31, shows as `1900-01-00` and reads back as
/// a time of day. Earlier dates are written as text.
const FIRST_CELL_DATE: jiff::civil::Date = jiff::civil::date(1900, 3, 1);

fn counts_from_1904(dt: &calamine::ExcelDateTime) -> bool {
    let (y, m, d, ..) = dt.to_ymd_hms_milli();
    let Some(ours) = from_excel_serial(dt.as_f64()) else { return false };
    let Ok(theirs) = jiff::civil::Date::new(y as i16, m as i8, d as i8) else { return false };
    ours.date().checked_add(jiff::Span::new().days(1462)).is_ok_and(|d| d == theirs)
}

/// A time or a duration of `days` as `HH:MM:SS` (hours past 24 for a
/// duration), with milliseconds where it has them.
fn clock_text(days: f64) -> String {
    let ms = (days.abs() * 86_400_000.0).round() as u64;
    let (h, m, s, milli) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let sign = if days < 0.0 && ms > 0 { "-" } else { "" };
    match milli {
        0 => format!("{sign}{h:02}:{m:02}:{s:02}"),
        _ => format!("{sign}{h:02}:{m:02}:{s:02}.{milli:03}"),
    }
}

/// A cell's value; date numbers count from the workbook's epoch,
/// `epoch_days` after ours.
fn cell_value(d: &Data, epoch_days: f64) -> Value {
    match d {
        Data::Empty => Value::Null,
        Data::String(s) => Value::Text(s.clone()),
        Data::Int(i) => Value::Number(i.to_string()),
        Data::Float(f) => Value::Number(number_text(*f)),
        Data::Bool(b) => Value::Bool(*b),
        // A time of day (`hh:mm`) or a duration (`[h]:mm:ss`) is a fraction
        // of a day: `0.375` where the sheet shows 9:00. Read as the sheet
        // shows it. (A time with no date, added to a 1904 workbook's epoch,
        // would become a date in 1904.)
        Data::DateTime(dt) if dt.is_duration() || (0.0..1.0).contains(&dt.as_f64()) => {
            Value::Text(clock_text(dt.as_f64()))
        }
        Data::DateTime(dt) => match from_excel_serial(dt.as_f64() + epoch_days) {
            Some(c) if c.time() == jiff::civil::Time::midnight() => Value::Date(c.date()),
            Some(c) => Value::DateTime(DateTime { civil: c, offset: None }),
            None => Value::Number(number_text(dt.as_f64())),
        },
        Data::DateTimeIso(s) => match crmsync_core::mapping::types::date::parse_iso(s) {
            Some(dt) if s.len() == 10 => Value::Date(dt.civil.date()),
            Some(dt) => Value::DateTime(dt),
            None => Value::Text(s.clone()),
        },
        Data::DurationIso(s) => Value::Text(s.clone()),
        // As the sheet shows it: `#DIV/0!`, `#N/A`.
        Data::Error(e) => Value::Text(e.to_string()),
    }
}

impl RecordReader for SheetReader {
    fn read(&mut self, rec: &mut Record) -> Result<bool> {
        let height = self.rows.height();
        while self.next < height {
            let i = self.next;
            self.next += 1;
            // (Indexed: `rows().nth(i)` walks from the first row each time,
            // which made reading a sheet quadratic in its rows.)
            let row = &self.rows[i];
            if row.iter().all(|c| matches!(c, Data::Empty)) {
                continue; // blank rows are spacing, not records
            }
            rec.clear();
            rec.row = self.first_row + i as u64;
            rec.line = 0;
            for (c, (k, cell)) in self.columns.iter().zip(row.iter()).enumerate() {
                let v = match self.shown(cell, i, c).unwrap_or_else(|| cell_value(cell, self.epoch_days)) {
                    Value::Null => Value::Text(String::new()),
                    v => v,
                };
                rec.push(k.clone(), v);
            }
            if !self.header && row.len() > self.columns.len() {
                rec.defect = Some(Defect { field: None, message: "the row is wider than the sheet".into() });
            }
            // A formula that failed shows `#N/A` or `#DIV/0!`, which is no
            // value: taken as text it would be stored as a name or a city.
            if let Some((col, (k, e))) =
                self.columns.iter().zip(row.iter()).enumerate().find_map(|(c, (k, cell))| match cell {
                    Data::Error(e) => Some((c, (k, e))),
                    _ => None,
                })
            {
                rec.defect = Some(Defect {
                    field: Some(k.to_string()),
                    message: format!(
                        "cell {}{} holds the spreadsheet error {e} (a formula that failed), not a value; mend it in the sheet",
                        column_letter(self.first_col + col),
                        rec.row
                    ),
                });
            }
            if !self.unsaved.is_empty()
                && let Some((c, f)) = (0..row.len()).find_map(|c| self.unsaved.get(&(i, c)).map(|f| (c, f)))
            {
                rec.defect = Some(Defect {
                    field: self.columns.get(c).map(|k| k.to_string()),
                    message: format!(
                        "cell {}{} holds a formula (={f}) with no saved result (the program that wrote the file \
                         did not calculate it); open the file in a spreadsheet app and save it, or put the value in its place",
                        column_letter(self.first_col + c),
                        rec.row
                    ),
                });
            }
            return Ok(true);
        }
        Ok(false)
    }

    fn columns(&self) -> Option<&[Key]> {
        Some(&self.columns)
    }

    fn details(&self) -> SourceDetails {
        let _ = &self.file;
        SourceDetails {
            format: Some(self.format),
            sheet: Some(self.sheet.clone()),
            sheets: self.sheets.clone(),
            ..Default::default()
        }
    }
}

const MAX_ROWS: u32 = 1_048_576;
const MAX_CELL: usize = 32_767;

pub struct XlsxWriter {
    file: String,
    out: Box<dyn Write + Send>,
    book: rust_xlsxwriter::Workbook,
    sheet: rust_xlsxwriter::Worksheet,
    columns: Option<crate::Header>,
    /// Records (row, flattened) held until the columns are known, when not
    /// given upfront: the header is the union of theirs, as in CSV.
    buffered: Vec<(u64, Vec<(String, Value)>)>,
    /// `WriteOptions::last_columns`.
    last: Vec<Key>,
    row: u32,
    date: rust_xlsxwriter::Format,
    datetime: rust_xlsxwriter::Format,
    header: rust_xlsxwriter::Format,
    /// `0.0`, `0.00`, …: by the places of a decimal, for numbers written
    /// with trailing zeros (an amount of `26361.40`).
    places: Vec<rust_xlsxwriter::Format>,
}

impl XlsxWriter {
    pub fn new(file: &str, out: Box<dyn Write + Send>, opts: &WriteOptions) -> Result<Self> {
        let xerr = |e: rust_xlsxwriter::XlsxError| Error::setup(file, e.to_string());
        let mut book = rust_xlsxwriter::Workbook::new();
        let mut sheet = book.new_worksheet_with_constant_memory().map_err(xerr)?;
        sheet.set_name(opts.sheet.clone().unwrap_or_else(|| "Sheet1".to_string())).map_err(xerr)?;
        let mut w = Self {
            file: file.to_string(),
            out,
            book,
            sheet,
            columns: None,
            buffered: Vec::new(),
            last: opts.last_columns.clone(),
            row: 0,
            date: rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd"),
            datetime: rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            header: rust_xlsxwriter::Format::new().set_bold(),
            places: Vec::new(),
        };
        if let Some(cols) = &opts.columns {
            w.start(cols.clone())?;
        }
        Ok(w)
    }

    fn start(&mut self, cols: Vec<Key>) -> Result<()> {
        for (i, c) in cols.iter().enumerate() {
            let col = u16::try_from(i)
                .map_err(|_| Error::setup(&self.file, "more than 16,384 columns do not fit in a sheet"))?;
            self.sheet
                .write_string_with_format(0, col, &**c, &self.header)
                .map_err(|e| Error::setup(&self.file, e.to_string()))?;
        }
        self.columns = Some(crate::Header::new(cols));
        self.row = 1;
        Ok(())
    }
}

impl XlsxWriter {
    /// What keeps a record out of any sheet, found before it is held back.
    fn fits(&self, row: u64, flat: &[(String, Value)]) -> Result<()> {
        let at = |field: Option<&str>| Location { row: Some(row), line: None, field: field.map(str::to_string) };
        if self.row as usize + self.buffered.len() >= MAX_ROWS as usize {
            return Err(Error::Record {
                file: self.file.clone(),
                at: at(None),
                message: "a sheet holds at most 1,048,576 rows".into(),
            });
        }
        for (k, v) in flat {
            if let Value::Text(s) = v
                && s.len() > MAX_CELL
                && s.chars().count() > MAX_CELL
            {
                return Err(Error::Record {
                    file: self.file.clone(),
                    at: at(Some(k)),
                    message: format!(
                        "the value has {} characters; a spreadsheet cell holds at most 32,767",
                        s.chars().count()
                    ),
                });
            }
        }
        Ok(())
    }

    fn flush_buffer(&mut self) -> Result<()> {
        if self.columns.is_none() && !self.buffered.is_empty() {
            let names = self.buffered.iter().flat_map(|(_, flat)| flat.iter().map(|(k, _)| k.as_str()));
            let cols = crate::union_of(names, &self.last);
            self.start(cols)?;
        }
        for (row, flat) in std::mem::take(&mut self.buffered) {
            self.write_now(row, &flat)?;
        }
        Ok(())
    }

    fn write_now(&mut self, row: u64, flat: &[(String, Value)]) -> Result<()> {
        let at = |field: Option<&str>| Location { row: Some(row), line: None, field: field.map(str::to_string) };
        let Some(columns) = &self.columns else { return Ok(()) };
        let fields: Vec<(&str, &Value)> = flat.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let placed = columns
            .place(&fields, Value::is_null, "the sheet's header")
            .map_err(|(field, message)| Error::Record { file: self.file.clone(), at: at(Some(&field)), message })?;
        for (i, v) in placed.into_iter().enumerate() {
            let Some(v) = v else { continue };
            let col = i as u16;
            let r = self.row;
            let res = match v {
                Value::Null => Ok(&mut self.sheet),
                Value::Text(s) => self.sheet.write_string(r, col, s),
                Value::Number(n) => match (n.parse::<f64>(), fixed_places(n)) {
                    // Only numbers a cell can hold exactly are written as numbers.
                    (Ok(f), _) if number_text(f) == *n || f.to_string() == *n => self.sheet.write_number(r, col, f),
                    // Trailing zeros (`26361.40`) are shown by the cell's format,
                    // which reading takes back.
                    (Ok(f), Some(p)) if format!("{f:.p$}") == *n => {
                        while self.places.len() < p {
                            let zeros = "0".repeat(self.places.len() + 1);
                            self.places.push(rust_xlsxwriter::Format::new().set_num_format(format!("0.{zeros}")));
                        }
                        self.sheet.write_number_with_format(r, col, f, &self.places[p - 1])
                    }
                    _ => self.sheet.write_string(r, col, n),
                },
                Value::Bool(b) => self.sheet.write_boolean(r, col, *b),
                Value::Date(d) if *d >= FIRST_CELL_DATE => {
                    match rust_xlsxwriter::ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8) {
                        Ok(x) => self.sheet.write_datetime_with_format(r, col, &x, &self.date),
                        Err(_) => self.sheet.write_string(r, col, v.to_text()),
                    }
                }
                Value::DateTime(dt) if dt.civil.date() >= FIRST_CELL_DATE => {
                    let c = dt.civil;
                    let x = rust_xlsxwriter::ExcelDateTime::from_ymd(c.year() as u16, c.month() as u8, c.day() as u8)
                        .and_then(|x| x.and_hms(c.hour() as u16, c.minute() as u8, f64::from(c.second())));
                    match (x, dt.offset) {
                        // A cell has no time zone: a zoned time is kept as text.
                        (Ok(x), None) => self.sheet.write_datetime_with_format(r, col, &x, &self.datetime),
                        _ => self.sheet.write_string(r, col, v.to_text()),
                    }
                }
                Value::Date(_) | Value::DateTime(_) => self.sheet.write_string(r, col, v.to_text()),
                Value::Array(_) | Value::Object(_) => self.sheet.write_string(r, col, v.to_text()),
            };
            let column = self.columns.as_ref().and_then(|h| h.name(i));
            res.map_err(|e| Error::Record { file: self.file.clone(), at: at(column), message: e.to_string() })?;
        }
        self.row += 1;
        Ok(())
    }
}

impl RecordWriter for XlsxWriter {
    fn write(&mut self, rec: &Record) -> Result<()> {
        let flat = rec.flatten();
        self.fits(rec.row, &flat)?;
        if self.columns.is_none() {
            self.buffered.push((rec.row, flat));
            if self.buffered.len() >= crate::BUFFER_RECORDS {
                self.flush_buffer()?;
            }
            return Ok(());
        }
        self.write_now(rec.row, &flat)
    }

    fn finish(mut self: Box<Self>) -> Result<()> {
        self.flush_buffer()?;
        let file = self.file.clone();
        let sheet = std::mem::replace(&mut self.sheet, rust_xlsxwriter::Worksheet::new());
        self.book.push_worksheet(sheet);
        // The workbook is zipped into a file of its own, which the zip
        // needs to seek in, and copied out from there: held in memory, a
        // million rows' workbook added its 100 MB to the peak.
        let io = |e: std::io::Error| Error::Io { file: file.clone(), source: e };
        let mut zipped = tempfile::tempfile().map_err(io)?;
        self.book.save_to_writer(&mut zipped).map_err(|e| Error::setup(&file, e.to_string()))?;
        std::io::Seek::rewind(&mut zipped).map_err(io)?;
        std::io::copy(&mut zipped, &mut self.out).and_then(|_| self.out.flush()).map_err(io)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters() {
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
    }

    #[test]
    fn writes_and_reads_back_typed_cells() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t.xlsx");
        let file = std::fs::File::create(&path).expect("create");
        let mut w: Box<dyn RecordWriter> =
            Box::new(XlsxWriter::new("t.xlsx", Box::new(file), &WriteOptions::new(Format::Xlsx)).expect("writer"));
        let mut rec = Record::new();
        rec.push_text(&Key::from("zip"), "02134");
        rec.push(Key::from("n"), Value::Number("42".into()));
        rec.push(Key::from("amount"), Value::Number("26361.40".into()));
        rec.push(Key::from("round"), Value::Number("-1000.000".into()));
        rec.push(Key::from("long"), Value::Number("1234567890.1234560".into()));
        rec.push(Key::from("d"), Value::Date(jiff::civil::date(2024, 2, 29)));
        rec.push(Key::from("b"), Value::Bool(true));
        // Before March 1900, Excel's serials are not the dates other tools
        // read (and 1899-12-31 is serial 0, a time of day): text.
        let early = [(1899, 12, 30), (1899, 12, 31), (1900, 1, 1), (1900, 2, 28), (1900, 3, 1)];
        for (i, (y, m, d)) in early.into_iter().enumerate() {
            rec.push(Key::from(format!("early{i}").as_str()), Value::Date(jiff::civil::date(y, m, d)));
        }
        w.write(&rec).expect("writes");
        w.finish().expect("finishes");
        let bytes = std::fs::read(&path).expect("read");
        assert!(shapes_numbers(&bytes));
        let mut r = SheetReader::open("t.xlsx", Box::new(Cursor::new(bytes)), Format::Xlsx, &ReadOptions::default())
            .expect("opens");
        let mut back = Record::new();
        assert!(r.read(&mut back).expect("reads"));
        assert_eq!(back.get("zip"), Some(&Value::Text("02134".into())));
        assert_eq!(back.get("n"), Some(&Value::Number("42".into())));
        // A number, shown and read back with its places.
        assert_eq!(back.get("amount"), Some(&Value::Number("26361.40".into())));
        assert_eq!(back.get("round"), Some(&Value::Number("-1000.000".into())));
        // (Sixteen digits: more than a cell holds exactly, so text.)
        assert_eq!(back.get("long"), Some(&Value::Text("1234567890.1234560".into())));
        assert_eq!(back.get("d"), Some(&Value::Date(jiff::civil::date(2024, 2, 29))));
        assert_eq!(back.get("b"), Some(&Value::Bool(true)));
        for (i, text) in ["1899-12-30", "1899-12-31", "1900-01-01", "1900-02-28"].into_iter().enumerate() {
            assert_eq!(back.get(&format!("early{i}")), Some(&Value::Text(text.into())), "{text}");
        }
        assert_eq!(back.get("early4"), Some(&Value::Date(jiff::civil::date(1900, 3, 1))));
        assert!(!r.read(&mut back).expect("end"));
    }

    /// `data`, a workbook, with its part `name` passed through `edit`.
    fn rewrite(data: &[u8], name: &str, edit: impl Fn(String) -> String) -> Vec<u8> {
        let mut zip = zip::ZipArchive::new(Cursor::new(data)).expect("zip");
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for i in 0..zip.len() {
            let mut part = zip.by_index(i).expect("part");
            let part_name = part.name().expect("name").to_string();
            let mut xml = Vec::new();
            part.read_to_end(&mut xml).expect("reads");
            if part_name == name {
                xml = edit(String::from_utf8(xml).expect("utf-8")).into_bytes();
            }
            out.start_file(part_name, zip::write::SimpleFileOptions::default()).expect("starts");
            std::io::Write::write_all(&mut out, &xml).expect("writes");
        }
        out.finish().expect("zips").into_inner()
    }

    #[test]
    fn a_formula_written_without_its_result_rejects_its_row() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "name").expect("header");
        sheet.write_string(0, 1, "score").expect("header");
        sheet.write_string(1, 0, "Ann").expect("cell");
        sheet.write_formula(1, 1, "=1+1").expect("formula");
        sheet.write_string(2, 0, "Bo").expect("cell");
        sheet.write_number(2, 1, 3.0).expect("cell");
        let saved = book.save_to_buffer().expect("save");
        // As a script writes it: the formula, no value.
        let bytes = rewrite(&saved, "xl/worksheets/sheet1.xml", |xml| {
            assert!(xml.contains("<f>1+1</f><v>0</v>"), "{xml}");
            xml.replace("<f>1+1</f><v>0</v>", "<f>1+1</f>")
        });
        let mut r = SheetReader::open("f.xlsx", Box::new(Cursor::new(bytes)), Format::Xlsx, &ReadOptions::default())
            .expect("opens");
        let mut rec = Record::new();
        assert!(r.read(&mut rec).expect("reads"));
        let defect = rec.defect.clone().expect("rejected");
        assert_eq!(defect.field.as_deref(), Some("score"));
        assert!(defect.message.contains("cell B2 holds a formula (=1+1) with no saved result"), "{}", defect.message);
        assert!(r.read(&mut rec).expect("reads"));
        assert!(rec.defect.is_none());
        // A sheet that starts at column B names its cells as the sheet does.
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 1, "name").expect("header");
        sheet.write_string(0, 2, "score").expect("header");
        sheet.write_string(1, 1, "Ann").expect("cell");
        sheet.write_formula(1, 2, "=1+1").expect("formula");
        let shifted = rewrite(&book.save_to_buffer().expect("save"), "xl/worksheets/sheet1.xml", |xml| {
            xml.replace("<f>1+1</f><v>0</v>", "<f>1+1</f>")
        });
        let mut r = SheetReader::open("f.xlsx", Box::new(Cursor::new(shifted)), Format::Xlsx, &ReadOptions::default())
            .expect("opens");
        assert!(r.read(&mut rec).expect("reads"));
        let message = rec.defect.clone().expect("rejected").message;
        assert!(message.contains("cell C2 holds a formula"), "{message}");
        // Saved with its result, it reads as that.
        let mut r = SheetReader::open("f.xlsx", Box::new(Cursor::new(saved)), Format::Xlsx, &ReadOptions::default())
            .expect("opens");
        assert!(r.read(&mut rec).expect("reads"));
        assert!(rec.defect.is_none());
    }

    #[test]
    fn dates_of_a_workbook_that_counts_from_1904_are_not_four_years_early() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
        sheet.write_string(0, 0, "d").expect("header");
        // 43891 days after 1904-01-01.
        sheet.write_number_with_format(1, 0, 43891.0, &date).expect("cell");
        let plain = book.save_to_buffer().expect("save");
        // The same workbook, saved by a Mac Excel of old: `date1904`.
        let bytes = rewrite(&plain, "xl/workbook.xml", |xml| {
            assert!(xml.contains("<workbookPr "), "{xml}");
            xml.replace("<workbookPr ", "<workbookPr date1904=\"1\" ")
        });
        for (bytes, want) in [(plain, jiff::civil::date(2020, 3, 1)), (bytes, jiff::civil::date(2024, 3, 2))] {
            let mut r =
                SheetReader::open("d.xlsx", Box::new(Cursor::new(bytes)), Format::Xlsx, &ReadOptions::default())
                    .expect("opens");
            let mut rec = Record::new();
            assert!(r.read(&mut rec).expect("reads"));
            assert_eq!(rec.get("d"), Some(&Value::Date(want)));
        }
    }

    #[test]
    fn a_title_above_the_header_is_passed_over() {
        let read = |bytes: Vec<u8>| {
            let mut r =
                SheetReader::open("t.xlsx", Box::new(Cursor::new(bytes)), Format::Xlsx, &ReadOptions::default())
                    .expect("opens");
            let columns: Vec<String> = r.columns().unwrap_or_default().iter().map(|k| k.to_string()).collect();
            let mut rec = Record::new();
            assert!(r.read(&mut rec).expect("reads"));
            (columns, rec.row, rec.get("email").map(Value::to_text))
        };
        let plain = rust_xlsxwriter::Format::new();
        // A title merged across the columns, a blank row, then the header.
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.merge_range(0, 0, 0, 2, "2024 展会客户名单", &plain).expect("title");
        for (c, name) in ["name", "email", "city"].into_iter().enumerate() {
            sheet.write_string(2, c as u16, name).expect("header");
        }
        for (c, v) in ["Ann", "ann@x.com", "Oslo"].into_iter().enumerate() {
            sheet.write_string(3, c as u16, v).expect("cell");
        }
        let (columns, row, email) = read(book.save_to_buffer().expect("save"));
        assert_eq!(
            (columns, row, email.as_deref()),
            (vec!["name".into(), "email".into(), "city".into()], 4, Some("ann@x.com"))
        );
        // A header of one name over rows of two is the header still.
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "email").expect("header");
        sheet.write_string(1, 0, "ann@x.com").expect("cell");
        sheet.write_string(1, 1, "Ann").expect("cell");
        let (columns, row, email) = read(book.save_to_buffer().expect("save"));
        assert_eq!((columns, row, email.as_deref()), (vec!["email".into(), "B".into()], 2, Some("ann@x.com")));
        // A title and a subtitle, merged across or set apart by blank rows.
        for merged in [true, false] {
            let mut book = rust_xlsxwriter::Workbook::new();
            let sheet = book.add_worksheet();
            let (subtitle, header) = if merged { (1, 2) } else { (2, 4) };
            if merged {
                sheet.merge_range(0, 0, 0, 2, "Expo 2024", &plain).expect("title");
                sheet.merge_range(subtitle, 0, subtitle, 2, "Leads, by hall", &plain).expect("subtitle");
            } else {
                sheet.write_string(0, 0, "Expo 2024").expect("title");
                sheet.write_string(subtitle, 0, "Leads, by hall").expect("subtitle");
            }
            for (c, name) in ["name", "email", "city"].into_iter().enumerate() {
                sheet.write_string(header, c as u16, name).expect("header");
                sheet.write_string(header + 1, c as u16, ["Ann", "ann@x.com", "Oslo"][c]).expect("cell");
            }
            let (columns, row, email) = read(book.save_to_buffer().expect("save"));
            assert_eq!(
                (columns, row, email.as_deref()),
                (vec!["name".into(), "email".into(), "city".into()], u64::from(header) + 2, Some("ann@x.com")),
                "merged: {merged}"
            );
        }
    }

    #[test]
    fn a_value_merged_down_a_column_belongs_to_every_row_it_spans() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        let plain = rust_xlsxwriter::Format::new();
        // A header merged across two columns stays one name and a letter.
        sheet.merge_range(0, 0, 0, 1, "name", &plain).expect("header");
        sheet.write_string(0, 2, "company").expect("header");
        for (r, first) in ["Ann", "Bo", "Cy"].into_iter().enumerate() {
            sheet.write_string(r as u32 + 1, 0, first).expect("cell");
        }
        sheet.merge_range(1, 2, 2, 2, "Acme", &plain).expect("company over two rows");
        sheet.write_string(3, 2, "Globex").expect("cell");
        // A note across columns is layout: it stays in its first cell.
        sheet.merge_range(4, 0, 4, 1, "note", &plain).expect("note");
        let bytes = book.save_to_buffer().expect("save");
        let mut r = SheetReader::open("m.xlsx", Box::new(Cursor::new(bytes)), Format::Xlsx, &ReadOptions::default())
            .expect("opens");
        let mut got = Vec::new();
        let mut rec = Record::new();
        while r.read(&mut rec).expect("reads") {
            got.push(rec.fields().iter().map(|(k, v)| format!("{k}={}", v.to_text())).collect::<Vec<_>>().join(" "));
        }
        assert_eq!(
            got,
            [
                "name=Ann B= company=Acme",
                "name=Bo B= company=Acme",
                "name=Cy B= company=Globex",
                "name=note B= company="
            ]
        );
    }

    #[test]
    fn merged_blocks_spacer_rows_and_a_two_row_header() {
        let read = |bytes: Vec<u8>, header_row: Option<u64>| {
            let opts = ReadOptions { header_row, ..ReadOptions::default() };
            let mut r = SheetReader::open("m.xlsx", Box::new(Cursor::new(bytes)), Format::Xlsx, &opts).expect("opens");
            let mut got = Vec::new();
            let mut rec = Record::new();
            while r.read(&mut rec).expect("reads") {
                got.push(
                    rec.fields().iter().map(|(k, v)| format!("{k}={}", v.to_text())).collect::<Vec<_>>().join(" "),
                );
            }
            got
        };
        let plain = rust_xlsxwriter::Format::new();
        // A company two columns wide over two rows, then a blank spacer row
        // inside a company merged down three rows: the spacer stays blank
        // (it was a record of the company alone, rejected for no key).
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (c, name) in ["name", "company", "site"].into_iter().enumerate() {
            sheet.write_string(0, c as u16, name).expect("header");
        }
        sheet.write_string(1, 0, "Ann").expect("cell");
        sheet.write_string(2, 0, "Bo").expect("cell");
        sheet.merge_range(1, 1, 2, 2, "Acme", &plain).expect("block");
        sheet.write_string(3, 0, "Cy").expect("cell");
        sheet.write_string(5, 0, "Di").expect("cell");
        sheet.merge_range(3, 1, 5, 1, "Globex", &plain).expect("with a spacer");
        assert_eq!(
            read(book.save_to_buffer().expect("save"), None),
            [
                "name=Ann company=Acme site=",
                "name=Bo company=Acme site=",
                "name=Cy company=Globex site=",
                "name=Di company=Globex site="
            ]
        );
        // A header over two rows: `company` merged down both names its
        // column when the header is read from the second.
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.merge_range(0, 0, 0, 1, "Contact", &plain).expect("group");
        sheet.merge_range(0, 2, 1, 2, "company", &plain).expect("down the header");
        sheet.write_string(1, 0, "name").expect("header");
        sheet.write_string(1, 1, "email").expect("header");
        for (c, v) in ["Ann", "ann@x.com", "Acme"].into_iter().enumerate() {
            sheet.write_string(2, c as u16, v).expect("cell");
        }
        assert_eq!(read(book.save_to_buffer().expect("save"), Some(2)), ["name=Ann email=ann@x.com company=Acme"]);
    }

    #[test]
    fn a_fixed_point_cell_reads_with_its_places_only_when_they_show_all_of_it() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        // Excel's own format 2, declared nowhere in the workbook.
        let two = rust_xlsxwriter::Format::new().set_num_format("0.00");
        for (c, name) in ["a", "b", "c"].into_iter().enumerate() {
            sheet.write_string(0, c as u16, name).expect("header");
        }
        for (c, f) in [26361.4, 1234.5678, 0.125].into_iter().enumerate() {
            sheet.write_number_with_format(1, c as u16, f, &two).expect("cell");
        }
        let bytes = book.save_to_buffer().expect("save");
        assert!(shapes_numbers(&bytes));
        let mut r = SheetReader::open("f.xlsx", Box::new(Cursor::new(bytes)), Format::Xlsx, &ReadOptions::default())
            .expect("opens");
        let mut rec = Record::new();
        assert!(r.read(&mut rec).expect("reads"));
        assert_eq!(rec.get("a"), Some(&Value::Number("26361.40".into())));
        // Shown rounded, kept whole.
        assert_eq!(rec.get("b"), Some(&Value::Number("1234.5678".into())));
        assert_eq!(rec.get("c"), Some(&Value::Number("0.125".into())));
    }

    #[test]
    fn a_workbook_of_dates_and_plain_numbers_needs_no_second_pass() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd");
        let x = rust_xlsxwriter::ExcelDateTime::from_ymd(2024, 2, 29).expect("date");
        sheet.write_datetime_with_format(0, 0, &x, &date).expect("cell");
        sheet.write_number(0, 1, 42.5).expect("cell");
        let bytes = book.save_to_buffer().expect("save");
        assert!(!shapes_numbers(&bytes));
        for (code, places) in [("0.00", Some(2)), ("#,##0.0", Some(1)), ("0", None), ("0.0%", None), ("0.", None)] {
            assert_eq!(decimal_places(code), places, "{code}");
        }
    }

    #[test]
    fn times_and_durations_read_as_the_sheet_shows_them() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        let time = rust_xlsxwriter::Format::new().set_num_format("hh:mm");
        let duration = rust_xlsxwriter::Format::new().set_num_format("[h]:mm:ss");
        let stamp = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm");
        for (c, name) in ["start", "took", "long", "at"].into_iter().enumerate() {
            sheet.write_string(0, c as u16, name).expect("header");
        }
        sheet.write_number_with_format(1, 0, 0.375, &time).expect("cell");
        sheet.write_number_with_format(1, 1, 330.0 / 86_400.0, &duration).expect("cell");
        sheet.write_number_with_format(1, 2, 1.5 + 0.25 / 86_400.0, &duration).expect("cell");
        sheet.write_number_with_format(1, 3, 45292.5, &stamp).expect("cell");
        let bytes = book.save_to_buffer().expect("save");
        let mut r = SheetReader::open("t.xlsx", Box::new(Cursor::new(bytes)), Format::Xlsx, &ReadOptions::default())
            .expect("opens");
        let mut rec = Record::new();
        assert!(r.read(&mut rec).expect("reads"));
        assert_eq!(rec.get("start"), Some(&Value::Text("09:00:00".into())));
        assert_eq!(rec.get("took"), Some(&Value::Text("00:05:30".into())));
        assert_eq!(rec.get("long"), Some(&Value::Text("36:00:00.250".into())));
        assert_eq!(rec.get("at").map(Value::to_text).as_deref(), Some("2024-01-01T12:00:00"));
        assert_eq!(clock_text(-0.5), "-12:00:00");
        assert_eq!(clock_text(0.0), "00:00:00");
    }

    #[test]
    fn zero_padded_number_formats_lay_out_whole_numbers() {
        for (code, f, shown) in [
            ("00000", 2134.0, Some("02134")),
            ("00000", 123456.0, Some("123456")),
            ("00000\\-0000", 21340042.0, Some("02134-0042")),
            ("000-00-0000", 12345678.0, Some("012-34-5678")),
            ("\"No. \"000", 7.0, Some("No. 007")),
            ("(###) ###-####", 2125550123.0, Some("(212) 555-0123")),
            ("###-####", 12.0, Some("-12")),
            ("###-####", 0.0, Some("-")),
            ("(###) ###-####", 0.0, Some("() -")),
            ("00000", 0.0, Some("00000")),
            ("0", 5.0, Some("5")),
            ("0.00", 5.0, None),
            ("#,##0", 5.0, None),
            ("[<=9999999]###-####;(###) ###-####", 5.0, None),
            ("00000", 2134.5, None),
            ("00000", -2134.0, None),
            ("General", 2134.0, None),
        ] {
            assert_eq!(padded(code, f).as_deref(), shown, "{code} {f}");
        }
    }

    #[test]
    fn numbers_shown_zero_padded_read_as_shown() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("z.xlsx");
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        let zip = rust_xlsxwriter::Format::new().set_num_format("00000");
        let plus4 = rust_xlsxwriter::Format::new().set_num_format("00000\\-0000");
        let two = rust_xlsxwriter::Format::new().set_num_format("0.00");
        for (c, name) in ["zip", "zip4", "amount", "n"].into_iter().enumerate() {
            sheet.write_string(0, c as u16, name).expect("header");
        }
        sheet.write_number_with_format(1, 0, 2134.0, &zip).expect("cell");
        sheet.write_number_with_format(1, 1, 21340042.0, &plus4).expect("cell");
        sheet.write_number_with_format(1, 2, 5.0, &two).expect("cell");
        sheet.write_number(1, 3, 42.0).expect("cell");
        sheet.write_number_with_format(2, 0, 90210.0, &zip).expect("cell");
        book.save(&path).expect("save");
        let bytes = std::fs::read(&path).expect("read");
        assert!(shapes_numbers(&bytes));
        let mut r = SheetReader::open("z.xlsx", Box::new(Cursor::new(bytes)), Format::Xlsx, &ReadOptions::default())
            .expect("opens");
        let mut rec = Record::new();
        assert!(r.read(&mut rec).expect("reads"));
        assert_eq!(rec.get("zip"), Some(&Value::Text("02134".into())));
        assert_eq!(rec.get("zip4"), Some(&Value::Text("02134-0042".into())));
        assert_eq!(rec.get("amount"), Some(&Value::Number("5.00".into())));
        assert_eq!(rec.get("n"), Some(&Value::Number("42".into())));
        assert!(r.read(&mut rec).expect("reads"));
        assert_eq!(rec.get("zip"), Some(&Value::Number("90210".into())));
    }

    /// An ODS workbook of one sheet whose `content.xml` body is `rows`.
    fn ods(rows: &str) -> Vec<u8> {
        use std::io::Write as _;
        let content = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><office:document-content \
             xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" \
             xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" \
             xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" office:version=\"1.2\">\
             <office:body><office:spreadsheet><table:table table:name=\"Other\"><table:table-row>\
             <table:table-cell office:value-type=\"float\" office:value=\"1\"><text:p>01</text:p></table:table-cell>\
             </table:table-row></table:table><table:table table:name=\"Leads\">{rows}</table:table>\
             </office:spreadsheet></office:body></office:document-content>"
        );
        let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        out.start_file("mimetype", stored).expect("starts");
        out.write_all(b"application/vnd.oasis.opendocument.spreadsheet").expect("writes");
        out.start_file("META-INF/manifest.xml", zip::write::SimpleFileOptions::default()).expect("starts");
        out.write_all(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><manifest:manifest \
              xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\" manifest:version=\"1.2\">\
              <manifest:file-entry manifest:full-path=\"/\" manifest:media-type=\"application/vnd.oasis.opendocument.spreadsheet\"/>\
              <manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"/></manifest:manifest>",
        )
        .expect("writes");
        out.start_file("content.xml", zip::write::SimpleFileOptions::default()).expect("starts");
        out.write_all(content.as_bytes()).expect("writes");
        out.finish().expect("finishes").into_inner()
    }

    #[test]
    fn ods_numbers_read_as_the_sheet_shows_them() {
        let s =
            |t: &str| format!("<table:table-cell office:value-type=\"string\"><text:p>{t}</text:p></table:table-cell>");
        let n = |v: &str, t: &str| {
            format!(
                "<table:table-cell office:value-type=\"float\" office:value=\"{v}\"><text:p>{t}</text:p></table:table-cell>"
            )
        };
        let blank = "<table:table-cell/>";
        // Two empty rows and an empty column before the data: places count
        // from the sheet's corner, as calamine's do.
        let rows = format!(
            "<table:table-row table:number-rows-repeated=\"2\"><table:table-cell table:number-columns-repeated=\"6\"/></table:table-row>\
             <table:table-row>{blank}{}{}{}{}{}</table:table-row>\
             <table:table-row>{blank}{}{}{}<table:covered-table-cell/>{}</table:table-row>\
             <table:table-row table:number-rows-repeated=\"2\">{blank}{}{}{}{}{}</table:table-row>\
             <table:table-row>{blank}{}{}<table:table-cell table:number-columns-repeated=\"2\" office:value-type=\"float\" office:value=\"7\"><text:p>007</text:p></table:table-cell>{}</table:table-row>",
            s("name"),
            s("zip"),
            s("amount"),
            s("merged"),
            s("orders"),
            s("Ann"),
            n("2134", "02134"),
            n("5", "5.00"),
            n("12", "12"),
            s("Bob"),
            n("21340042", "02134-0042"),
            n("1234", "1 234"),
            s("x"),
            n("0.5", "50%"),
            s("Cy"),
            n("90210", "90210"),
            n("3.5", "3.5"),
        );
        let bytes = ods(&rows);
        let opts = ReadOptions { sheet: Some(SheetRef::Name("Leads".into())), ..ReadOptions::default() };
        let mut r = SheetReader::open("l.ods", Box::new(Cursor::new(bytes)), Format::Ods, &opts).expect("opens");
        let mut rec = Record::new();
        let mut read = Vec::new();
        while r.read(&mut rec).expect("reads") {
            read.push(["zip", "amount", "merged", "orders"].map(|c| rec.get(c).cloned()));
        }
        let t = |v: &str| Some(Value::Text(v.into()));
        let num = |v: &str| Some(Value::Number(v.into()));
        assert_eq!(
            read,
            vec![
                [t("02134"), num("5.00"), t(""), num("12")],
                [t("02134-0042"), num("1234"), t("x"), num("0.5")],
                [t("02134-0042"), num("1234"), t("x"), num("0.5")],
                [num("90210"), t("007"), t("007"), num("3.5")],
            ]
        );
    }
}
