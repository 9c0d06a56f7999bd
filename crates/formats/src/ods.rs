//! What an OpenDocument sheet shows that `calamine` does not tell.
//!
//! `calamine` reads an ODS cell's value (`office:value="2134"`) but neither
//! its style nor the text the sheet shows for it (`<text:p>02134</text:p>`),
//! so a ZIP code typed into a column formatted `00000` came out as 2134.
//! The shown text is read here from `content.xml`, for the cells whose text
//! is a padded or fixed-point form of their number, as XLSX cells are read
//! through their number formats. Nor does it give an ODS sheet's merged
//! cells (it does an XLSX or XLS sheet's), which are read here too, so a
//! company merged down the rows of its contacts belongs to each of them.

use std::collections::HashMap;
use std::io::{BufReader, Cursor};

use crmsync_core::Value;
use quick_xml::events::{BytesStart, Event};

/// Cells repeated more often than this (a style run down a whole column)
/// are not listed one by one.
const MAX_REPEATS: u32 = 10_000;

/// What `read` found of one sheet. Places are (row, column) from the
/// sheet's top left corner, as `calamine` places its cells.
#[derive(Debug, Default)]
pub(crate) struct Shown {
    /// The number cells whose shown text reads otherwise than their
    /// number: `02134` as text, `5.00` as a number with its places.
    pub numbers: HashMap<(u32, u32), Value>,
    /// The sheet's merged cells, as `calamine` gives an XLSX sheet's.
    pub merges: Vec<calamine::Dimensions>,
}

/// Reads sheet `sheet` of an ODS workbook for what `Shown` holds. Anything
/// that cannot be read leaves the sheet as `calamine` reads it.
pub(crate) fn read(data: &[u8], sheet: &str) -> Shown {
    let mut shown = scan(data, sheet);
    // A number merged down a column is shown alike in each row it spans
    // (`02134` over a company's contacts), as its value is read into each.
    for m in shown.merges.iter().filter(|m| m.start.1 == m.end.1 && m.end.0 > m.start.0) {
        if let Some(v) = shown.numbers.get(&m.start).cloned() {
            for r in m.start.0 + 1..=m.end.0.min(m.start.0.saturating_add(MAX_REPEATS)) {
                shown.numbers.insert((r, m.start.1), v.clone());
            }
        }
    }
    shown
}

fn scan(data: &[u8], sheet: &str) -> Shown {
    let mut shown = Shown::default();
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(data)) else { return shown };
    let Ok(part) = zip.by_name("content.xml") else { return shown };
    let mut xml = quick_xml::Reader::from_reader(BufReader::new(part));
    let mut buf = Vec::new();
    let mut in_sheet = false;
    let (mut row, mut col) = (0u32, 0u32);
    let mut row_repeats = 1;
    // The number cell being read: its value, repeats and shown text.
    let mut cell: Option<(f64, u32, String)> = None;
    let mut paragraphs = 0;
    loop {
        let event = match xml.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(_) => return shown,
        };
        let empty = matches!(event, Event::Empty(_));
        match event {
            Event::Eof => return shown,
            Event::Start(e) if e.local_name().as_ref() == "table" => {
                in_sheet = attr(&e, "name").is_some_and(|n| n == sheet);
                row = 0;
            }
            Event::End(e) if e.local_name().as_ref() == "table" && in_sheet => return shown,
            _ if !in_sheet => {}
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "table-row" => {
                row_repeats = repeats(&e, "number-rows-repeated");
                col = 0;
                if empty {
                    row = row.saturating_add(row_repeats);
                }
            }
            Event::End(e) if e.local_name().as_ref() == "table-row" => row = row.saturating_add(row_repeats),
            Event::Start(e) | Event::Empty(e)
                if matches!(e.local_name().as_ref(), "table-cell" | "covered-table-cell") =>
            {
                let n = repeats(&e, "number-columns-repeated");
                let (down, across) = (repeats(&e, "number-rows-spanned"), repeats(&e, "number-columns-spanned"));
                if (down > 1 || across > 1) && row_repeats.saturating_mul(n) <= MAX_REPEATS {
                    for r in row..row.saturating_add(row_repeats) {
                        for c in col..col.saturating_add(n) {
                            let end = (r.saturating_add(down - 1), c.saturating_add(across - 1));
                            shown.merges.push(calamine::Dimensions::new((r, c), end));
                        }
                    }
                }
                let number = (attr(&e, "value-type").as_deref() == Some("float"))
                    .then(|| attr(&e, "value").and_then(|v| v.parse::<f64>().ok()))
                    .flatten();
                match number {
                    Some(f) if !empty => {
                        cell = Some((f, n, String::new()));
                        paragraphs = 0;
                    }
                    _ => col = col.saturating_add(n),
                }
            }
            Event::End(e) if matches!(e.local_name().as_ref(), "table-cell" | "covered-table-cell") => {
                if let Some((f, n, text)) = cell.take() {
                    if paragraphs == 1
                        && let Some(v) = read_as(&text, f)
                        && n.saturating_mul(row_repeats) <= MAX_REPEATS
                    {
                        for r in row..row.saturating_add(row_repeats) {
                            for c in col..col.saturating_add(n) {
                                shown.numbers.insert((r, c), v.clone());
                            }
                        }
                    }
                    col = col.saturating_add(n);
                }
            }
            Event::Start(e) if e.local_name().as_ref() == "p" && cell.is_some() => paragraphs += 1,
            Event::Text(t) => {
                if let Some((_, _, text)) = &mut cell {
                    text.push_str(&t.xml10_content());
                }
            }
            // (An entity is never part of a padded number: it spoils the
            // text for that.)
            Event::GeneralRef(_) => {
                if let Some((_, _, text)) = &mut cell {
                    text.push('&');
                }
            }
            _ => {}
        }
        buf.clear();
    }
}

fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == name)
        .and_then(|a| a.normalized_value(quick_xml::XmlVersion::Implicit1_0).ok().map(|v| v.into_owned()))
}

fn repeats(e: &BytesStart<'_>, name: &str) -> u32 {
    attr(e, name).and_then(|n| n.parse().ok()).unwrap_or(1).max(1)
}

/// The value a number cell showing `text` holds as the user sees it:
/// zero-padded digits (`02134`, `02134-0042`) as text, fixed places
/// (`5.00`) as that number; `None` when the text says nothing more than the
/// number (or is grouped, a percentage, a currency, a comma decimal: the
/// number is what such a cell means).
fn read_as(text: &str, f: f64) -> Option<Value> {
    let b = text.as_bytes();
    let digits_and_dashes = !b.is_empty()
        && b.iter().all(|c| c.is_ascii_digit() || *c == b'-')
        && b.first().is_some_and(u8::is_ascii_digit)
        && b.last().is_some_and(u8::is_ascii_digit);
    if digits_and_dashes && (0.0..1e15).contains(&f) && f.fract() == 0.0 {
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        let same = digits.trim_start_matches('0').parse::<u64>().unwrap_or(0) == f as u64;
        return (same && text != format!("{}", f as u64)).then(|| Value::Text(text.to_string()));
    }
    let (whole, places) = text.strip_prefix('-').unwrap_or(text).split_once('.')?;
    let plain = !whole.is_empty()
        && !places.is_empty()
        && whole.len() + places.len() <= 15
        && whole.bytes().chain(places.bytes()).all(|c| c.is_ascii_digit());
    (plain && places.ends_with('0') && text.parse::<f64>() == Ok(f)).then(|| Value::Number(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_text_that_says_more_than_the_number() {
        for (text, f, read) in [
            ("02134", 2134.0, Some(Value::Text("02134".into()))),
            ("02134-0042", 21340042.0, Some(Value::Text("02134-0042".into()))),
            ("00000", 0.0, Some(Value::Text("00000".into()))),
            ("5.00", 5.0, Some(Value::Number("5.00".into()))),
            ("-26361.40", -26361.4, Some(Value::Number("-26361.40".into()))),
            ("2134", 2134.0, None),
            ("3.5", 3.5, None),
            ("1 234", 1234.0, None),
            ("1,234", 1234.0, None),
            ("5,00", 5.0, None),
            ("12%", 0.12, None),
            ("$5.00", 5.0, None),
            ("02134", 2135.0, None),
            ("5.00", 5.01, None),
            ("-", 0.0, None),
            ("", 0.0, None),
        ] {
            assert_eq!(read_as(text, f), read, "{text:?} {f}");
        }
    }
}
