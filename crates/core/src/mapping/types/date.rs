//! Dates and date-times: an explicit `strftime` format, ISO 8601, or an Excel
//! serial number. ISO text is parsed by hand because it is the common case
//! of every large file and because the offset must be kept as written.

use jiff::civil::{self, Date};
use jiff::tz::{Offset, TimeZone};

use crate::value::DateTime;

/// Whether `s`, read as a date without a format, has a time of day the
/// date keeps no part of (`2024-03-05 14:30`, a serial `45356.6`).
pub fn time_of_day(s: &str) -> bool {
    let s = s.trim();
    // (A date alone, `2024-03-05` or `45356`, the usual value, is not
    // parsed again.)
    if s.len() <= 10 && !s.contains('.') {
        return false;
    }
    let midnight = jiff::civil::Time::midnight();
    parse_iso(s).map(|dt| dt.civil.time()).or_else(|| excel_serial(s).map(|d| d.time())).is_some_and(|t| t != midnight)
}

/// Parses a date. A date-time given to a date field keeps the date as written:
/// it is never moved to another time zone first.
pub fn parse_date(s: &str, format: Option<&str>) -> Result<Date, String> {
    let s = s.trim();
    if let Some(fmt) = format {
        let tm = jiff::fmt::strtime::parse(fmt, s).map_err(|_| format!("a date in the format `{fmt}`"))?;
        four_digit_year(fmt, &tm)?;
        return tm.to_date().map_err(|_| no_such_day(&tm, fmt));
    }
    if let Some(dt) = parse_iso(s) {
        return Ok(dt.civil.date());
    }
    if let Some(d) = excel_serial(s) {
        return Ok(d.date());
    }
    if let Some(message) = iso_day_missing(s) {
        return Err(message);
    }
    Err("a date (ISO 8601 like 2024-01-31, an Excel serial number of five digits or more such as 45292, or set `format`)".to_string())
}

/// What was expected of a value read in `fmt` whose day is not in the
/// calendar (`29/02/2025`): the format was right, the day is not.
fn no_such_day(tm: &jiff::fmt::strtime::BrokenDownTime, fmt: &str) -> String {
    match (tm.year(), tm.month(), tm.day()) {
        (Some(y), Some(m), Some(d)) => {
            format!("a date in the format `{fmt}` that is in the calendar (there is no {y:04}-{m:02}-{d:02})")
        }
        _ => format!("a date in the format `{fmt}`"),
    }
}

/// For ISO text naming a day not in the calendar (`2024-02-30`, `2025-13-01`),
/// what was expected, saying so.
pub fn iso_day_missing(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r.clone()).is_some_and(|p| p.iter().all(u8::is_ascii_digit));
    if !(digits(0..4) && b.get(4) == Some(&b'-') && digits(5..7) && b.get(7) == Some(&b'-') && digits(8..10)) {
        return None;
    }
    let (y, m, d) = (s[..4].parse().ok()?, s[5..7].parse().ok()?, s[8..10].parse().ok()?);
    Date::new(y, m, d).is_err().then(|| format!("a date that is in the calendar (there is no {})", &s[..10]))
}

/// Parses a date-time. Without an offset in the text, `zone` says where the
/// clock was (UTC when the mapping does not say).
pub fn parse_datetime(s: &str, format: Option<&str>, zone: &TimeZone) -> Result<DateTime, String> {
    let s = s.trim();
    let (civil, offset) = if let Some(fmt) = format {
        let tm = parse_on_clock(fmt, s).map_err(|_| format!("a date-time in the format `{fmt}`"))?;
        four_digit_year(fmt, &tm)?;
        let civil = tm
            .to_datetime()
            .or_else(|_| tm.to_date().map(|d| d.to_datetime(civil::Time::midnight())))
            .map_err(|_| match tm.to_date() {
                Err(_) => no_such_day(&tm, fmt).replacen("a date in", "a date-time in", 1),
                Ok(_) => format!("a date-time in the format `{fmt}`"),
            })?;
        (civil, tm.offset())
    } else if let Some(dt) = parse_iso(s) {
        (dt.civil, dt.offset)
    } else if let Some(c) = excel_serial(s) {
        (c, None)
    } else if let Some(message) = iso_day_missing(s) {
        return Err(message);
    } else {
        return Err("a date-time (ISO 8601 like 2024-01-31T09:30:00+08:00, an Excel serial number of five digits or more such as 45292, or set `format`)"
            .to_string());
    };
    match offset {
        Some(o) => Ok(DateTime { civil, offset: Some(o) }),
        None => on_clock(civil, zone),
    }
}

/// A date-time in `fmt`, or in it without its seconds (`14:30` under
/// `%H:%M:%S`), or its date alone (`3/15/2024` under `%m/%d/%Y %I:%M %p`),
/// at midnight: exports write a time's seconds only when they are not
/// zero, and a day's date-time without the time when it is midnight
/// (Salesforce and Excel both), so one column holds all three.
fn parse_on_clock(fmt: &str, s: &str) -> Result<jiff::fmt::strtime::BrokenDownTime, jiff::Error> {
    use jiff::fmt::strtime::parse;
    parse(fmt, s).or_else(|error| {
        let without_seconds = fmt.contains(":%S").then(|| fmt.replacen(":%S", "", 1));
        if let Some(tm) = without_seconds.and_then(|f| parse(&f, s).ok()) {
            return Ok(tm);
        }
        match date_part(fmt).map(|day| parse(day, s)) {
            Some(Ok(tm)) => Ok(tm),
            _ => Err(error),
        }
    })
}

/// The part of a date-time format before its clock (`%m/%d/%Y` of
/// `%m/%d/%Y, %I:%M %p`), where it starts with one.
pub fn date_part(fmt: &str) -> Option<&str> {
    let clock = ["%H", "%I", "%k", "%l"].iter().filter_map(|c| fmt.find(c)).min()?;
    let day = fmt[..clock].trim_end_matches([' ', ',', 'T']);
    (day.contains("%d") || day.contains("%e")).then_some(day)
}

/// `%Y` reads a year of any number of digits: `01/02/24` under `%d/%m/%Y`
/// would be the year 24. A CRM date that early is a two-digit year, which
/// must be refused, not stored 2000 years off.
fn four_digit_year(fmt: &str, tm: &jiff::fmt::strtime::BrokenDownTime) -> Result<(), String> {
    match tm.year() {
        Some(y) if y < 1000 && fmt.contains("%Y") => Err(format!(
            "a date in the format `{fmt}`, with a four-digit year (for two-digit years, write `%y` in the format)"
        )),
        _ => Ok(()),
    }
}

/// A wall-clock time in `zone`. A time the clocks skip (02:30 as summer
/// time begins) is the same span after the change (03:30), and a time
/// they show twice is its first occurrence, as most systems read them.
pub fn on_clock(civil: civil::DateTime, zone: &TimeZone) -> Result<DateTime, String> {
    match zone.to_ambiguous_zoned(civil).compatible() {
        Ok(z) => Ok(DateTime { civil: z.datetime(), offset: Some(z.offset()) }),
        // jiff's instants end at 9999-12-30T22:00Z. The last day of 9999,
        // many systems' "no end", takes the zone's offset then: no zone
        // changes its clocks on that day.
        Err(_) if civil.year() == 9999 => Ok(DateTime { civil, offset: Some(zone.to_offset(jiff::Timestamp::MAX)) }),
        Err(e) => Err(format!("a time that exists in the zone ({e})")),
    }
}

/// Formats a date with a `strftime` format (the reverse of [`parse_date`]).
pub fn format_date(d: Date, format: &str) -> String {
    jiff::fmt::strtime::format(format, d).unwrap_or_else(|_| d.to_string())
}

/// The same instant on `zone`'s clock (a time without an offset is left
/// as it is: it names no instant).
pub fn in_zone(dt: &DateTime, zone: &TimeZone) -> DateTime {
    let Some(offset) = dt.offset else { return *dt };
    match dt.civil.to_zoned(TimeZone::fixed(offset)) {
        Ok(z) => {
            let there = z.with_time_zone(zone.clone());
            DateTime { civil: there.datetime(), offset: Some(there.offset()) }
        }
        Err(_) => *dt,
    }
}

pub fn format_datetime(dt: &DateTime, format: &str) -> String {
    let zoned = dt.offset.and_then(|o| dt.civil.to_zoned(TimeZone::fixed(o)).ok());
    let formatted = match zoned {
        Some(z) => jiff::fmt::strtime::format(format, &z),
        None => jiff::fmt::strtime::format(format, dt.civil),
    };
    formatted.unwrap_or_else(|_| {
        let mut s = String::new();
        dt.write_iso(&mut s);
        s
    })
}

fn num(b: &[u8]) -> Option<i32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0i32, |acc, d| acc * 10 + i32::from(d - b'0')))
}

/// `YYYY-MM-DD`, optionally followed by `T` or a space, `HH:MM[:SS[.frac]]`
/// and `Z` or `±HH[:MM]`. Also `YYYY/MM/DD` with the same tail.
pub fn parse_iso(s: &str) -> Option<DateTime> {
    let b = s.as_bytes();
    if b.len() < 10 || !(b[4] == b'-' || b[4] == b'/') || b[7] != b[4] {
        return None;
    }
    let date = Date::new(
        i16::try_from(num(&b[0..4])?).ok()?,
        i8::try_from(num(&b[5..7])?).ok()?,
        i8::try_from(num(&b[8..10])?).ok()?,
    )
    .ok()?;
    if b.len() == 10 {
        return Some(DateTime { civil: date.to_datetime(civil::Time::midnight()), offset: None });
    }
    if !(b[10] == b'T' || b[10] == b' ') || b.len() < 16 || b[13] != b':' {
        return None;
    }
    let hour = num(&b[11..13])?;
    let minute = num(&b[14..16])?;
    let mut i = 16;
    let mut second = 0;
    let mut nanos = 0i32;
    if b.get(i) == Some(&b':') {
        second = num(b.get(i + 1..i + 3)?)?;
        i += 3;
        if matches!(b.get(i), Some(b'.') | Some(b',')) {
            let start = i + 1;
            let mut end = start;
            while end < b.len() && b[end].is_ascii_digit() {
                end += 1;
            }
            if end == start || end - start > 9 {
                return None;
            }
            let frac = num(&b[start..end])?;
            nanos = frac * 10i32.pow(u32::try_from(9 - (end - start)).ok()?);
            i = end;
        }
    }
    let rest = s[i..].trim_start();
    let offset = match rest.as_bytes() {
        [] => None,
        [b'Z'] | [b'z'] => Some(Offset::UTC),
        [sign @ (b'+' | b'-'), tail @ ..] => {
            let (h, m, sec) = match tail {
                [h1, h2] => (num(&[*h1, *h2])?, 0, 0),
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => (num(&[*h1, *h2])?, num(&[*m1, *m2])?, 0),
                // With seconds, as a local mean time's offset is written back.
                [h1, h2, b':', m1, m2, b':', s1, s2] => (num(&[*h1, *h2])?, num(&[*m1, *m2])?, num(&[*s1, *s2])?),
                _ => return None,
            };
            if m > 59 || sec > 59 {
                return None;
            }
            let secs = (h * 3600 + m * 60 + sec) * if *sign == b'-' { -1 } else { 1 };
            Some(Offset::from_seconds(secs).ok()?)
        }
        _ => return None,
    };
    let time =
        civil::Time::new(i8::try_from(hour).ok()?, i8::try_from(minute).ok()?, i8::try_from(second).ok()?, nanos)
            .ok()?;
    Some(DateTime { civil: date.to_datetime(time), offset })
}

/// An Excel serial date (days since 1899-12-30, with Excel's phantom
/// 1900-02-29 accounted for), with an optional fraction of a day.
/// An Excel serial number written as text. Five digits at least (from
/// 1927-05-18): a shorter number in a date column is a year (`2024`) or a
/// count far likelier than a day of the 1900s, and is not taken as one.
pub fn excel_serial(s: &str) -> Option<civil::DateTime> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.len() < 5
        || int.len() > 7
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let value: f64 = s.parse().ok()?;
    from_excel_serial(value)
}

pub fn from_excel_serial(value: f64) -> Option<civil::DateTime> {
    if !(1.0..2_958_466.0).contains(&value) {
        return None;
    }
    let days = value.trunc() as i64;
    // Excel counts 1900-02-29, which never existed; serials before it are one day off.
    let base = if days < 60 { civil::date(1899, 12, 31) } else { civil::date(1899, 12, 30) };
    let date = base.checked_add(jiff::Span::new().days(days)).ok()?;
    let millis = ((value - value.trunc()) * 86_400_000.0).round() as i64;
    let time = civil::Time::midnight().checked_add(jiff::Span::new().milliseconds(millis.min(86_399_999))).ok()?;
    Some(date.to_datetime(time))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_forms() {
        // A local mean time's offset, with its seconds, reads back whole.
        let lmt = parse_iso("1900-01-01T00:00:00+08:05:43").expect("parses");
        assert_eq!(lmt.offset.map(|o| o.seconds()), Some(8 * 3600 + 5 * 60 + 43));
        let mut text = String::new();
        lmt.write_iso(&mut text);
        assert_eq!(text, "1900-01-01T00:00:00+08:05:43");
        assert!(parse_iso("2024-01-01T00:00:00+08:75").is_none());
        assert_eq!(parse_date("2024-02-29", None), Ok(civil::date(2024, 2, 29)));
        assert!(parse_date("2023-02-29", None).is_err());
        let dt = parse_iso("2024-07-01T11:54:49.95+00:00").expect("parses");
        assert_eq!(dt.civil, civil::date(2024, 7, 1).at(11, 54, 49, 950_000_000));
        assert_eq!(dt.offset, Some(Offset::UTC));
        let dt = parse_iso("2024-07-01 08:00-05:30").expect("parses");
        assert_eq!(dt.offset.map(|o| o.seconds()), Some(-(5 * 3600 + 1800)));
        assert!(parse_iso("2024-07-01X").is_none());
    }

    #[test]
    fn the_last_day_of_9999_is_on_a_zone_s_clock() {
        let zone = TimeZone::get("Asia/Shanghai").expect("zone");
        let dt = on_clock(civil::date(9999, 12, 31).at(23, 59, 59, 0), &zone).expect("in range");
        assert_eq!(dt.offset.map(|o| o.seconds()), Some(8 * 3600));
        assert_eq!(dt.civil, civil::date(9999, 12, 31).at(23, 59, 59, 0));
    }

    #[test]
    fn a_date_never_shifts_by_its_zone() {
        assert_eq!(parse_date("2024-07-01T23:30:00-10:00", None), Ok(civil::date(2024, 7, 1)));
        assert_eq!(parse_date("2024-07-01T00:30:00+14:00", None), Ok(civil::date(2024, 7, 1)));
    }

    #[test]
    fn explicit_formats() {
        assert_eq!(parse_date("31/12/2023", Some("%d/%m/%Y")), Ok(civil::date(2023, 12, 31)));
        assert!(parse_date("12/31/2023", Some("%d/%m/%Y")).is_err());
        let two = parse_date("01/02/24", Some("%d/%m/%Y")).expect_err("two-digit year");
        assert!(two.contains("four-digit year") && two.contains("`%y`"), "{two}");
        assert!(parse_datetime("01/02/24 10:00", Some("%d/%m/%Y %H:%M"), &TimeZone::UTC).is_err());
        assert!(parse_date("-024-03-11", Some("%Y-%m-%d")).is_err(), "no year before 1000");
        assert!(parse_date("999-03-11", Some("%Y-%m-%d")).is_err());
        assert_eq!(parse_date("01/02/24", Some("%d/%m/%y")), Ok(civil::date(2024, 2, 1)));
        assert_eq!(parse_date("2023年12月31日", Some("%Y年%m月%d日")), Ok(civil::date(2023, 12, 31)));
        assert_eq!(format_date(civil::date(2023, 1, 5), "%d/%m/%Y"), "05/01/2023");
    }

    #[test]
    fn a_date_time_column_may_leave_out_seconds_and_midnight() {
        let utc = TimeZone::UTC;
        let at = |s: &str, fmt: &str| parse_datetime(s, Some(fmt), &utc).map(|dt| dt.civil);
        let us = "%m/%d/%Y %I:%M:%S %p";
        assert_eq!(at("3/14/2024 2:30:15 PM", us), Ok(civil::date(2024, 3, 14).at(14, 30, 15, 0)));
        assert_eq!(at("3/14/2024 2:30 PM", us), Ok(civil::date(2024, 3, 14).at(14, 30, 0, 0)));
        assert_eq!(at("3/15/2024", us), Ok(civil::date(2024, 3, 15).at(0, 0, 0, 0)));
        // Salesforce writes a comma after the date.
        assert_eq!(at("3/15/2024", "%m/%d/%Y, %I:%M %p"), Ok(civil::date(2024, 3, 15).at(0, 0, 0, 0)));
        assert_eq!(at("3/14/2024, 2:30 PM", "%m/%d/%Y, %I:%M %p"), Ok(civil::date(2024, 3, 14).at(14, 30, 0, 0)));
        // Not the other way: seconds the format has no place for, or half a
        // clock, are refused.
        assert!(at("14.03.2024 14:30:15", "%d.%m.%Y %H:%M").is_err());
        assert!(at("14.03.2024 14", "%d.%m.%Y %H:%M").is_err());
        assert_eq!(date_part("%Y-%m-%dT%H:%M:%S"), Some("%Y-%m-%d"));
        assert_eq!(date_part("%H:%M %d.%m.%Y"), None);
    }

    #[test]
    fn a_day_not_in_the_calendar_is_named() {
        // The format is right; the day is not.
        assert_eq!(
            parse_date("29/02/2025", Some("%d/%m/%Y")),
            Err("a date in the format `%d/%m/%Y` that is in the calendar (there is no 2025-02-29)".to_string())
        );
        assert_eq!(
            parse_date("2024-02-30", None),
            Err("a date that is in the calendar (there is no 2024-02-30)".to_string())
        );
        let dt = parse_datetime("31/04/2024 10:00", Some("%d/%m/%Y %H:%M"), &TimeZone::UTC).expect_err("no day");
        assert!(dt.starts_with("a date-time in the format") && dt.contains("there is no 2024-04-31"), "{dt}");
        assert!(
            parse_datetime("2025-13-01T10:00:00Z", None, &TimeZone::UTC).is_err_and(|e| e.contains("no 2025-13-01"))
        );
        // A real day with a bad time is not blamed on the day.
        assert!(parse_datetime("2024-01-31T25:00:00Z", None, &TimeZone::UTC).is_err_and(|e| !e.contains("calendar")));
        assert_eq!(parse_date("2024-02-29", None), Ok(civil::date(2024, 2, 29)));
    }

    #[test]
    fn excel_serials() {
        assert_eq!(parse_date("45292", None), Ok(civil::date(2024, 1, 1)));
        for short in ["2024", "1", "61"] {
            assert!(parse_date(short, None).is_err(), "{short} is no day of the 1900s");
        }
        // A spreadsheet's own cells count from the start.
        assert_eq!(from_excel_serial(1.0).map(|d| d.date()), Some(civil::date(1900, 1, 1)));
        assert_eq!(from_excel_serial(61.0).map(|d| d.date()), Some(civil::date(1900, 3, 1)));
        let dt = excel_serial("45292.5").expect("serial");
        assert_eq!(dt, civil::date(2024, 1, 1).at(12, 0, 0, 0));
    }

    #[test]
    fn datetime_zones() {
        let shanghai = TimeZone::get("Asia/Shanghai").expect("tzdb");
        let dt = parse_datetime("2024-03-01 09:00", None, &shanghai).expect("parses");
        assert_eq!(dt.offset, Some(Offset::constant(8)));
        let dt = parse_datetime("2024-03-01T09:00:00Z", None, &shanghai).expect("parses");
        assert_eq!(dt.offset, Some(Offset::UTC));
        let dt = parse_datetime("03/01/2024 9:00 PM", Some("%m/%d/%Y %I:%M %p"), &TimeZone::UTC).expect("parses");
        assert_eq!(dt.civil, civil::date(2024, 3, 1).at(21, 0, 0, 0));
    }

    #[test]
    fn clock_changes() {
        let berlin = TimeZone::get("Europe/Berlin").expect("tzdb");
        // 02:30 never shows on 31 March: it is read as 03:30 summer time,
        // the instant 01:30 UTC, never as 02:30 with summer time's offset.
        let gap = parse_datetime("2024-03-31 02:30", None, &berlin).expect("parses");
        assert_eq!((gap.civil, gap.offset), (civil::date(2024, 3, 31).at(3, 30, 0, 0), Some(Offset::constant(2))));
        // 02:30 shows twice on 27 October: the first, summer time.
        let fold = parse_datetime("2024-10-27 02:30", None, &berlin).expect("parses");
        assert_eq!(fold.offset, Some(Offset::constant(2)));
        // And back: an instant goes onto the zone's clock.
        let utc = DateTime { civil: civil::date(2024, 3, 31).at(1, 30, 0, 0), offset: Some(Offset::UTC) };
        assert_eq!(in_zone(&utc, &berlin), gap);
    }
}
