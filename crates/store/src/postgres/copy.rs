//! Rows for PostgreSQL's `COPY … FROM STDIN`, in binary where every column's
//! type has a writer here, in text otherwise.
//!
//! Binary spares the server parsing text into timestamps, bytea and
//! numerics: a COPY of a million stored contacts took 8.6-9.8 s in binary
//! against 11.7-13.8 s in text. crmsync's stored forms (UTC times with six
//! fractional digits, plain decimals) convert exactly; a value that does not
//! (a time with nanoseconds, a decimal with an exponent) sends its whole
//! statement as text instead, for the server to read as it always has.

use postgres::types::Type;

use crate::sql::Arg;

/// How a column's values are written in binary.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Field {
    Text,
    Jsonb,
    Bytea,
    Int2,
    Int4,
    Int8,
    Timestamp,
    Date,
    Numeric,
}

impl Field {
    /// The writer for a column of type `ty`, if there is one.
    pub(super) fn of(ty: &Type) -> Option<Field> {
        Some(match *ty {
            Type::TEXT | Type::VARCHAR | Type::JSON => Field::Text,
            Type::JSONB => Field::Jsonb,
            Type::BYTEA => Field::Bytea,
            Type::INT2 => Field::Int2,
            Type::INT4 => Field::Int4,
            Type::INT8 => Field::Int8,
            Type::TIMESTAMPTZ => Field::Timestamp,
            Type::DATE => Field::Date,
            Type::NUMERIC => Field::Numeric,
            _ => return None,
        })
    }
}

/// Rows (`params`, `fields.len()` per row) in binary COPY format, or `None`
/// when a value has no exact binary form here.
pub(super) fn binary(fields: &[Field], params: &[Arg<'_>]) -> Option<Vec<u8>> {
    let width = i16::try_from(fields.len()).ok()?;
    let mut out = Vec::with_capacity(19 + params.len() * 16);
    // Signature, flags, header extension length.
    out.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    out.extend_from_slice(&[0; 8]);
    // Times repeat from row to row (a chunk's creation time): each column's
    // last one is converted once.
    let mut last_time: Vec<Option<(&str, i64)>> = vec![None; fields.len()];
    for row in params.chunks(fields.len()) {
        out.extend_from_slice(&width.to_be_bytes());
        for (i, (arg, field)) in row.iter().zip(fields).enumerate() {
            match (*arg, *field) {
                (Arg::Null, _) => out.extend_from_slice(&(-1i32).to_be_bytes()),
                (Arg::Text(s), Field::Text | Field::Bytea) => put(&mut out, &[s.as_bytes()])?,
                (Arg::Text(s), Field::Jsonb) => put(&mut out, &[&[1], s.as_bytes()])?,
                (Arg::Text(s), Field::Timestamp) => {
                    let micros = match last_time[i] {
                        Some((t, m)) if t == s => m,
                        _ => {
                            let m = timestamp(s)?;
                            last_time[i] = Some((s, m));
                            m
                        }
                    };
                    put(&mut out, &[&micros.to_be_bytes()])?;
                }
                (Arg::Text(s), Field::Date) => put(&mut out, &[&date(s)?.to_be_bytes()])?,
                (Arg::Text(s), Field::Numeric) => put(&mut out, &[&numeric(s)?])?,
                (Arg::Text(s), Field::Int2 | Field::Int4 | Field::Int8) => integer(&mut out, s.parse().ok()?, *field)?,
                (Arg::Int(n), Field::Int2 | Field::Int4 | Field::Int8) => integer(&mut out, n, *field)?,
                (Arg::Int(n), Field::Numeric) => put(&mut out, &[&numeric(&n.to_string())?])?,
                (Arg::Int(n), Field::Text) => put(&mut out, &[n.to_string().as_bytes()])?,
                (Arg::Bytes(b), Field::Bytea) => put(&mut out, &[b])?,
                _ => return None,
            }
        }
    }
    out.extend_from_slice(&(-1i16).to_be_bytes());
    Some(out)
}

/// One value: its length, then its bytes (given in pieces).
fn put(out: &mut Vec<u8>, pieces: &[&[u8]]) -> Option<()> {
    let len: usize = pieces.iter().map(|p| p.len()).sum();
    out.extend_from_slice(&i32::try_from(len).ok()?.to_be_bytes());
    for p in pieces {
        out.extend_from_slice(p);
    }
    Some(())
}

fn integer(out: &mut Vec<u8>, n: i64, field: Field) -> Option<()> {
    match field {
        Field::Int2 => put(out, &[&i16::try_from(n).ok()?.to_be_bytes()]),
        Field::Int4 => put(out, &[&i32::try_from(n).ok()?.to_be_bytes()]),
        _ => put(out, &[&n.to_be_bytes()]),
    }
}

/// A time with its offset (`2026-11-22T13:49:00.123456Z`) as microseconds
/// since PostgreSQL's epoch.
fn timestamp(text: &str) -> Option<i64> {
    let dt = crmsync_core::mapping::types::date::parse_iso(text)?;
    // Without a zone it names no instant: sent as text. Years before 1 the
    // server refuses as text, but would store in binary (`utc` has none).
    dt.offset?;
    let utc = crate::model::utc(&dt)?;
    if utc.subsec_nanosecond() % 1000 != 0 {
        return None;
    }
    let epoch = jiff::civil::date(2000, 1, 1).to_datetime(jiff::civil::Time::midnight());
    i64::try_from(utc.duration_since(epoch).as_micros()).ok()
}

/// A date (`2026-11-22`) as days since PostgreSQL's epoch.
fn date(text: &str) -> Option<i32> {
    let d: jiff::civil::Date = text.parse().ok()?;
    if d.year() < 1 {
        return None;
    }
    let days = jiff::civil::date(2000, 1, 1).until((jiff::Unit::Day, d)).ok()?.get_days();
    Some(days)
}

/// A plain decimal (`-1234.50`) as PostgreSQL's binary NUMERIC: base-10000
/// digit groups without leading or trailing zero groups, the first group's
/// power of 10000 (its weight), the sign and the digits after the point.
fn numeric(text: &str) -> Option<Vec<u8>> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if int.is_empty() && frac.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let dscale = u16::try_from(frac.len()).ok().filter(|s| *s <= 0x3FFF)?;
    let int = int.trim_start_matches('0');
    // Decimal digits aligned on groups of four either side of the point.
    let lead = (4 - int.len() % 4) % 4;
    let mut digits: Vec<u8> = std::iter::repeat_n(0, lead).chain(int.bytes().map(|b| b - b'0')).collect();
    let int_groups = digits.len() / 4;
    digits.extend(frac.bytes().map(|b| b - b'0'));
    digits.resize(digits.len().div_ceil(4) * 4, 0);
    let mut groups: Vec<i16> = digits.chunks(4).map(|g| g.iter().fold(0i16, |n, d| n * 10 + i16::from(*d))).collect();
    let mut weight = i64::try_from(int_groups).ok()? - 1;
    let leading = groups.iter().take_while(|g| **g == 0).count();
    groups.drain(..leading);
    weight -= i64::try_from(leading).ok()?;
    while groups.last() == Some(&0) {
        groups.pop();
    }
    if groups.is_empty() {
        weight = 0;
    }
    let sign: u16 = if negative && !groups.is_empty() { 0x4000 } else { 0 };
    let mut out = Vec::with_capacity(8 + 2 * groups.len());
    out.extend_from_slice(&i16::try_from(groups.len()).ok()?.to_be_bytes());
    out.extend_from_slice(&i16::try_from(weight).ok()?.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&dscale.to_be_bytes());
    for g in groups {
        out.extend_from_slice(&g.to_be_bytes());
    }
    Some(out)
}

/// Rows in COPY's text format: tab between values, a newline after each row.
pub(super) fn text(width: usize, params: &[Arg<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(params.len() * 16);
    for row in params.chunks(width) {
        for (i, p) in row.iter().enumerate() {
            if i > 0 {
                out.push(b'\t');
            }
            text_value(*p, &mut out);
        }
        out.push(b'\n');
    }
    out
}

/// A value in COPY's text format: `\\N` for NULL, backslash escapes for
/// the delimiters, bytea as `\\x` hex.
fn text_value(p: Arg<'_>, out: &mut Vec<u8>) {
    match p {
        Arg::Null => out.extend_from_slice(b"\\N"),
        Arg::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
        Arg::Text(s) => {
            for &b in s.as_bytes() {
                match b {
                    b'\\' => out.extend_from_slice(b"\\\\"),
                    b'\t' => out.extend_from_slice(b"\\t"),
                    b'\n' => out.extend_from_slice(b"\\n"),
                    b'\r' => out.extend_from_slice(b"\\r"),
                    _ => out.push(b),
                }
            }
        }
        Arg::Bytes(bytes) => {
            // The bytea input `\x…`, its backslash escaped for COPY.
            out.extend_from_slice(b"\\\\x");
            const HEX: &[u8; 16] = b"0123456789abcdef";
            for b in bytes {
                out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_delimiters_and_writes_bytea_as_hex() {
        let params = [Arg::Text("a\tb\\c\nd\re"), Arg::Null, Arg::Int(-7), Arg::Bytes(&[0, 255])];
        assert_eq!(String::from_utf8(text(2, &params)).unwrap(), "a\\tb\\\\c\\nd\\re\t\\N\n-7\t\\\\x00ff\n");
    }

    #[test]
    fn decimals_are_written_as_postgres_sends_them() {
        // (text, ndigits, weight, sign, dscale, digit groups), as
        // numeric_send writes the same values.
        type Numeric = (&'static str, i16, i16, u16, u16, &'static [i16]);
        let cases: [Numeric; 9] = [
            ("1234.50", 2, 0, 0, 2, &[1234, 5000]),
            ("-0.05", 1, -1, 0x4000, 2, &[500]),
            ("10000", 1, 1, 0, 0, &[1]),
            ("0.00001", 1, -2, 0, 5, &[1000]),
            ("0", 0, 0, 0, 0, &[]),
            ("-0.00", 0, 0, 0, 2, &[]),
            ("007.1", 2, 0, 0, 1, &[7, 1000]),
            ("+12345678.9", 3, 1, 0, 1, &[1234, 5678, 9000]),
            (".5", 1, -1, 0, 1, &[5000]),
        ];
        for (text, ndigits, weight, sign, dscale, groups) in cases {
            let mut want = Vec::new();
            for n in [ndigits, weight] {
                want.extend_from_slice(&n.to_be_bytes());
            }
            for n in [sign, dscale] {
                want.extend_from_slice(&n.to_be_bytes());
            }
            for g in groups {
                want.extend_from_slice(&g.to_be_bytes());
            }
            assert_eq!(numeric(text), Some(want.clone()), "{text}");
            // And back through the reader of query results.
            let back = super::super::numeric(&want).expect("decodes");
            assert_eq!(back.parse::<f64>().ok(), text.parse::<f64>().ok(), "{text} read back as {back}");
        }
        for bad in ["", "-", "1e5", "1.2.3", "12a", "NaN", " 1"] {
            assert_eq!(numeric(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn times_and_dates_count_from_2000() {
        assert_eq!(timestamp("2000-01-01T00:00:00.000000Z"), Some(0));
        assert_eq!(timestamp("2000-01-01T00:00:01.000002Z"), Some(1_000_002));
        assert_eq!(timestamp("1999-12-31T23:59:59.999999Z"), Some(-1));
        assert_eq!(timestamp("2000-01-01T01:00:00+01:00"), Some(0));
        // Finer than PostgreSQL keeps, or without a zone: sent as text.
        assert_eq!(timestamp("2000-01-01T00:00:00.000000001Z"), None);
        assert_eq!(timestamp("2000-01-01T00:00:00"), None);
        // Years before 1: as text, for the server to refuse as it does.
        assert_eq!(timestamp("0001-01-01T00:00:00.000000Z"), Some(-63_082_281_600_000_000));
        assert_eq!(timestamp("0000-12-31T23:59:59.999999Z"), None);
        assert_eq!(timestamp("0001-01-01T00:00:00+00:01"), None);
        // To the end of 9999, past where jiff's timestamps stop.
        assert_eq!(timestamp("9999-12-31T23:59:59.999999Z"), Some(252_455_615_999_999_999));
        assert_eq!(date("0000-12-25"), None);
        assert_eq!(date("0001-01-01"), Some(-730_119));
        assert_eq!(date("2000-01-01"), Some(0));
        assert_eq!(date("1999-12-31"), Some(-1));
        assert_eq!(date("2026-11-22"), Some(9822));
    }

    #[test]
    fn rows_are_framed_and_unknown_forms_fall_back_to_text() {
        let fields = [Field::Text, Field::Jsonb, Field::Int4, Field::Bytea];
        let data = binary(&fields, &[Arg::Text("é"), Arg::Text("{}"), Arg::Int(1), Arg::Null]).expect("binary");
        let mut want = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec();
        want.extend_from_slice(&[0, 4]);
        want.extend_from_slice(&[0, 0, 0, 2, 0xC3, 0xA9]);
        want.extend_from_slice(&[0, 0, 0, 3, 1, b'{', b'}']);
        want.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 1]);
        want.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xFF]);
        want.extend_from_slice(&[0xFF, 0xFF]);
        assert_eq!(data, want);
        assert_eq!(binary(&[Field::Numeric], &[Arg::Text("1e3")]), None);
        assert_eq!(binary(&[Field::Int2], &[Arg::Int(70_000)]), None);
        assert_eq!(binary(&[Field::Timestamp], &[Arg::Text("yesterday")]), None);
    }
}
