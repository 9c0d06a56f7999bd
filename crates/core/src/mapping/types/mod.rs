//! The value types a mapping can declare, and the conversion of source text
//! into each. A failed conversion returns what was expected, for the reject.

pub mod country;
pub mod date;
pub mod phone;

use std::fmt;
use std::str::FromStr;

use jiff::tz::TimeZone;

use crate::value::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TypeName {
    String,
    Integer,
    Decimal,
    Boolean,
    Date,
    DateTime,
    Email,
    Phone,
    Url,
    Country,
    Currency,
    Enum,
}

impl TypeName {
    pub const NAMES: &'static str =
        "string, integer, decimal, boolean, date, datetime, email, phone, url, country, currency, enum";

    pub fn name(self) -> &'static str {
        match self {
            TypeName::String => "string",
            TypeName::Integer => "integer",
            TypeName::Decimal => "decimal",
            TypeName::Boolean => "boolean",
            TypeName::Date => "date",
            TypeName::DateTime => "datetime",
            TypeName::Email => "email",
            TypeName::Phone => "phone",
            TypeName::Url => "url",
            TypeName::Country => "country",
            TypeName::Currency => "currency",
            TypeName::Enum => "enum",
        }
    }
}

impl fmt::Display for TypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TypeName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "string" | "text" => TypeName::String,
            "integer" | "int" => TypeName::Integer,
            "decimal" | "number" => TypeName::Decimal,
            "boolean" | "bool" => TypeName::Boolean,
            "date" => TypeName::Date,
            "datetime" => TypeName::DateTime,
            "email" => TypeName::Email,
            "phone" => TypeName::Phone,
            "url" => TypeName::Url,
            "country" => TypeName::Country,
            "currency" => TypeName::Currency,
            "enum" => TypeName::Enum,
            _ => return Err(format!("unknown type `{s}`, expected one of {}", Self::NAMES)),
        })
    }
}

/// Everything a conversion may need besides the text itself.
#[derive(Clone, Debug)]
pub struct TypeOptions {
    pub format: Option<String>,
    pub region: Option<phonenumber::country::Id>,
    pub zone: TimeZone,
    pub values: Vec<String>,
    /// Numbers written with a decimal comma (`1.234,56`), as in most of
    /// Europe: `.` and spaces group thousands.
    pub decimal_comma: bool,
}

impl Default for TypeOptions {
    fn default() -> Self {
        Self { format: None, region: None, zone: TimeZone::UTC, values: Vec::new(), decimal_comma: false }
    }
}

/// A number written with a decimal comma (`-1.234,56`, `1 234,5`, `0,5`)
/// as with a point (`-1234.56`); `None` when its groups are not thousands
/// (`1.23,4`), which would be read wrong either way.
pub fn from_decimal_comma(text: &str) -> Option<String> {
    let t = text.trim();
    let (int, frac) = t.split_once(',').unwrap_or((t, ""));
    if frac.contains([',', '.', ' ', '\u{a0}', '\u{202f}']) {
        return None;
    }
    let (sign, int) = match int.strip_prefix(['-', '+']) {
        Some(rest) => (&int[..1], rest),
        None => ("", int),
    };
    let groups: Vec<&str> = int.split(['.', ' ', '\u{a0}', '\u{202f}']).collect();
    if groups.len() > 1 && (groups[0].is_empty() || groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3)) {
        return None;
    }
    let int = groups.concat();
    Some(if t.contains(',') { format!("{sign}{int}.{frac}") } else { format!("{sign}{int}") })
}

/// Converts non-empty text to the declared type.
pub fn convert(ty: TypeName, text: &str, opts: &TypeOptions) -> Result<Value, String> {
    match ty {
        TypeName::String => Ok(Value::Text(text.to_owned())),
        TypeName::Integer | TypeName::Decimal if opts.decimal_comma => {
            let expected = match ty {
                TypeName::Integer => "an integer (1.234, with a point between thousands)",
                _ => "a decimal number written with a decimal comma (1.234,56)",
            };
            let point = from_decimal_comma(&without_currency_sign(text)).ok_or_else(|| expected.to_string())?;
            point_number(ty, &point).map(Value::Number).map_err(|_| expected.to_string())
        }
        TypeName::Integer => integer(&without_currency_sign(text)).map(Value::Number),
        TypeName::Decimal => decimal(&without_currency_sign(text)).map(Value::Number),
        TypeName::Boolean => boolean(text).map(Value::Bool),
        TypeName::Date => date::parse_date(text, opts.format.as_deref()).map(Value::Date),
        TypeName::DateTime => date::parse_datetime(text, opts.format.as_deref(), &opts.zone).map(Value::DateTime),
        TypeName::Email => email(text).map(Value::Text),
        TypeName::Phone => {
            phone::to_e164(text, opts.region).map(Value::Text).map_err(|e| format!("a phone number: {e}"))
        }
        TypeName::Url => url(text).map(Value::Text),
        TypeName::Country => country::to_alpha2(text)
            .map(|c| Value::Text(c.to_owned()))
            .ok_or_else(|| "a country name or ISO 3166 code".to_string()),
        TypeName::Currency => currency(text).map(|c| Value::Text(c.to_owned())),
        TypeName::Enum => opts
            .values
            .iter()
            .find(|v| v.eq_ignore_ascii_case(text.trim()))
            .map(|v| Value::Text(v.clone()))
            .ok_or_else(|| format!("one of {}", opts.values.join(", "))),
    }
}

/// An amount without the currency sign a spreadsheet's format shows
/// (`$1,234.50`, `1.234,56 €`, `-£5`, `US$ 20`): the number is the field's,
/// the currency another field's. Text with anything else is left as it is,
/// for the number's own check to refuse.
pub fn without_currency_sign(text: &str) -> std::borrow::Cow<'_, str> {
    const SIGNS: &[char] = &['$', '€', '£', '¥', '₹', '₩', '₽', '₺', '₪', '฿', '₫', '₴', '₦', '₱', '¢', '￥'];
    let t = text.trim();
    if !t.contains(SIGNS) {
        return std::borrow::Cow::Borrowed(text);
    }
    let (sign, rest) = match t.strip_prefix(['-', '+']) {
        Some(rest) => (&t[..1], rest.trim_start()),
        None => ("", t),
    };
    // (`US$`, `C$`, `R$`, `HK$`: a country's letters before the dollar.)
    let letters = rest.bytes().take_while(u8::is_ascii_uppercase).count();
    let rest = match rest[letters..].strip_prefix(SIGNS) {
        Some(after) if letters <= 2 => after,
        _ => match rest.strip_suffix(SIGNS) {
            Some(before) => before,
            None => return std::borrow::Cow::Borrowed(text),
        },
    };
    let rest = rest.trim();
    // (A sign after the currency's: `$-5`.)
    if !sign.is_empty() && rest.starts_with(['-', '+']) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(format!("{sign}{rest}"))
}

/// An integer or decimal written with a decimal point, as numbers are
/// stored and as spreadsheets and JSON give them.
pub fn point_number(ty: TypeName, text: &str) -> Result<String, String> {
    if ty == TypeName::Integer { integer(text) } else { decimal(text) }
}

fn integer(text: &str) -> Result<String, String> {
    let t = text.trim();
    // A whole number written with places (`7.0`, `7.00` from a sheet's
    // `0.00` cell) is that integer.
    let t = match t.split_once('.') {
        Some((whole, places)) if !places.is_empty() && places.bytes().all(|b| b == b'0') => whole,
        _ => t,
    };
    match t.parse::<i64>() {
        Ok(n) => Ok(n.to_string()),
        Err(_) => Err("an integer".to_string()),
    }
}

/// A decimal kept as text in canonical form: `+1,234.50` becomes `1234.50`.
/// The scale is kept as written (money's cents matter), and exponents are
/// accepted as JSON writes them.
fn decimal(text: &str) -> Result<String, String> {
    let t = text.trim();
    let expected = || "a decimal number".to_string();
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let body: String = if body.contains(',') {
        // `1,234.50`, `1,000,000`: commas are thousands separators, only
        // before the point and only between groups of three (a decimal
        // comma, `1,5`, is the mapping's `decimal_separator = ","`).
        let (int, frac) = match body.split_once('.') {
            Some((int, frac)) => (int, Some(frac)),
            None => (body, None),
        };
        let groups: Vec<&str> = int.split(',').collect();
        if groups[0].is_empty() || groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3) {
            return Err(match frac {
                Some(_) => expected(),
                None => "a decimal number (a comma only between thousands, 1,000,000; for a decimal comma, 1,5, the \
                         field's `decimal_separator = \",\"` in the mapping)"
                    .to_string(),
            });
        }
        match frac {
            Some(frac) => format!("{}.{frac}", groups.concat()),
            None => groups.concat(),
        }
    } else {
        body.to_owned()
    };
    let (mantissa, exp) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (body.as_str(), None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits_ok(int) || !digits_ok(frac) {
        return Err(expected());
    }
    if let Some(e) = exp {
        let e = e.strip_prefix('+').unwrap_or(e);
        if e.is_empty() || e.parse::<i32>().is_err() {
            return Err(expected());
        }
    }
    let int = int.trim_start_matches('0');
    let mut out = String::with_capacity(t.len());
    let is_zero = int.is_empty() && frac.bytes().all(|b| b == b'0');
    if neg && !is_zero {
        out.push('-');
    }
    out.push_str(if int.is_empty() { "0" } else { int });
    if !frac.is_empty() {
        out.push('.');
        out.push_str(frac);
    }
    if let Some(e) = exp {
        out.push('e');
        out.push_str(e.strip_prefix('+').unwrap_or(e));
    }
    Ok(out)
}

pub fn boolean(text: &str) -> Result<bool, String> {
    match text.trim().to_lowercase().as_str() {
        // (And as European files write them: German, French, Spanish,
        // Italian, Portuguese, Dutch.)
        "true" | "t" | "yes" | "y" | "1" | "on" | "是" | "真" | "对" | "ja" | "wahr" | "oui" | "vrai" | "sí" | "si"
        | "verdadero" | "sì" | "vero" | "sim" | "verdadeiro" | "waar" => Ok(true),
        "false" | "f" | "no" | "n" | "0" | "off" | "否" | "假" | "错" | "nein" | "falsch" | "non" | "faux"
        | "falso" | "não" | "nao" | "nee" | "onwaar" => Ok(false),
        _ => Err("a boolean (true/false, yes/no, 1/0)".to_string()),
    }
}

/// Trims and lowercases an e-mail address and checks its shape: one `@`, a
/// local part of allowed characters, a domain of dot-separated labels.
pub fn email(text: &str) -> Result<String, String> {
    let t = text.trim();
    // Composed (NFC): `zoë` typed on macOS arrives as `zoe` + U+0308, which
    // is the same address and must be the same key.
    let t = if t.is_ascii() {
        t.to_ascii_lowercase()
    } else {
        use unicode_normalization::UnicodeNormalization;
        t.nfc().collect::<String>().to_lowercase()
    };
    let ok = if t.is_ascii() { ascii_email_shape(t.as_bytes()) } else { email_shape(&t) };
    if ok { Ok(t) } else { Err("an e-mail address (name@example.com)".to_string()) }
}

/// One `@`, a local part of allowed characters, a domain of dot-separated
/// labels (letters of any script).
fn email_shape(t: &str) -> bool {
    let Some((local, domain)) = t.rsplit_once('@') else { return false };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let domain_ok = domain.contains('.')
        && domain.len() <= 253
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && domain.rsplit('.').next().is_some_and(|tld| tld.len() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()));
    local_ok && domain_ok
}

/// `email`'s checks of an address in ASCII, byte by byte: the same rules,
/// in a tenth of the time (every e-mail is checked twice on its way into
/// the store: by the mapping's type and by the store's column).
fn ascii_email_shape(t: &[u8]) -> bool {
    let Some(at) = t.iter().rposition(|&b| b == b'@') else { return false };
    let (local, domain) = (&t[..at], &t[at + 1..]);
    let local_ok = matches!((local.first(), local.last()), (Some(&first), Some(&last)) if first != b'.' && last != b'.')
        && local.len() <= 64
        && !local.windows(2).any(|w| w == b"..")
        && local.iter().all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&b));
    let label_ok = |l: &[u8]| {
        matches!((l.first(), l.last()), (Some(&first), Some(&last)) if first != b'-' && last != b'-')
            && l.len() <= 63
            && l.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let tld = domain.rsplit(|&b| b == b'.').next().unwrap_or(domain);
    local_ok
        && domain.contains(&b'.')
        && domain.len() <= 253
        && domain.split(|&b| b == b'.').all(label_ok)
        && tld.len() >= 2
        && !tld.iter().all(u8::is_ascii_digit)
}

/// A web address: `http(s)://host/...`, or a bare host such as
/// `www.example.com`, kept as written.
fn url(text: &str) -> Result<String, String> {
    let t = text.trim();
    let expected = || "a URL (https://example.com)".to_string();
    if t.chars().any(char::is_whitespace) {
        return Err(expected());
    }
    let rest = match t.split_once("://") {
        Some((scheme, rest)) => {
            let scheme_ok =
                !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
            if !scheme_ok {
                return Err(expected());
            }
            rest
        }
        None => t,
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit('@').next().unwrap_or(host);
    let host = host.split(':').next().unwrap_or(host);
    let ok = host.contains('.') || host == "localhost";
    let ok = ok && host.split('.').all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'));
    if ok { Ok(t.to_owned()) } else { Err(expected()) }
}

const CURRENCIES: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW ZWL";

/// An ISO 4217 code, from a code in any case or a common symbol or name.
pub fn currency(text: &str) -> Result<&'static str, String> {
    let t = text.trim();
    let upper = t.to_uppercase();
    if let Some(code) = CURRENCIES.split(' ').find(|c| *c == upper) {
        return Ok(code);
    }
    let alias = match upper.as_str() {
        "US$" | "US DOLLAR" | "美元" => "USD",
        "€" | "EURO" | "欧元" => "EUR",
        "£" | "POUND" | "POUND STERLING" | "英镑" => "GBP",
        "RMB" | "CN¥" | "YUAN" | "人民币" | "元" => "CNY",
        "JP¥" | "YEN" | "日元" => "JPY",
        "HK$" | "港币" | "港元" => "HKD",
        "C$" | "CA$" => "CAD",
        "A$" | "AU$" => "AUD",
        "₩" | "韩元" => "KRW",
        "₹" => "INR",
        // (`$` alone is the sign of a dozen dollars and pesos: a US file
        // means USD, a Canadian one CAD. Guessing would mislabel amounts.)
        "$" | "DOLLAR" | "DOLLARS" => {
            return Err(format!(
                "an ISO 4217 currency code: {t} is written for the US dollar (USD) and for others (CAD, AUD, MXN, \
                 NZD, SGD, ...), so write the code, or map it in a mapping (`map = {{ {t:?} = \"USD\" }}`)"
            ));
        }
        "¥" | "￥" => {
            return Err(format!(
                "an ISO 4217 currency code: {t} is the sign of both the yen (JPY) and the yuan (CNY), so write the \
                 code, or map it in a mapping (`map = {{ {t:?} = \"JPY\" }}`)"
            ));
        }
        _ => return Err("an ISO 4217 currency code (USD, EUR, CNY, ...)".to_string()),
    };
    Ok(alias)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_keep_scale_and_digits() {
        assert_eq!(decimal("1,234.50").as_deref(), Ok("1234.50"));
        assert_eq!(decimal(" +0012.5 ").as_deref(), Ok("12.5"));
        assert_eq!(decimal("-0.00").as_deref(), Ok("0.00"));
        assert_eq!(decimal("1.0e+28").as_deref(), Ok("1.0e28"));
        assert_eq!(decimal("123456789012345678901234567890").as_deref(), Ok("123456789012345678901234567890"));
        assert!(decimal("12,34.5").is_err());
        // Whole amounts grouped by thousands, as US and UK sheets write them.
        assert_eq!(decimal("1,000").as_deref(), Ok("1000"));
        assert_eq!(decimal("-1,000,000").as_deref(), Ok("-1000000"));
        let comma = decimal("1,5").expect_err("a decimal comma");
        assert!(comma.contains("`decimal_separator = \",\"`"), "{comma}");
        assert!(decimal("1,0000").is_err() && decimal(",100").is_err());
        assert!(decimal("abc").is_err());
        assert!(decimal(".").is_err());
    }

    #[test]
    fn integers() {
        assert_eq!(integer("007").as_deref(), Ok("7"));
        assert_eq!(integer("12.0").as_deref(), Ok("12"));
        assert_eq!(integer("7.00").as_deref(), Ok("7"));
        assert!(integer("7.01").is_err() && integer("7.").is_err() && integer(".00").is_err());
        assert!(integer("1.5").is_err());
        assert!(integer("99999999999999999999").is_err());
    }

    #[test]
    fn emails() {
        // The ASCII checks are the general ones.
        let tricky = [
            "a@b.co",
            "a.b@c.de",
            ".a@b.co",
            "a.@b.co",
            "a..b@c.de",
            "a@b..co",
            "a@.b.co",
            "a@b.co.",
            "a@-b.co",
            "a@b-.co",
            "a@b.c",
            "a@b.12",
            "a@1.b2",
            "a@b",
            "@b.co",
            "a@",
            "a@@b.co",
            "a@b@c.co",
            "a+tag@b.co",
            "!#$%&'*+/=?^_`{|}~.-@x.io",
            "a\"b@c.co",
            "a(b)@c.co",
            "a@b_c.co",
            "a@b.c_o",
            "a b@c.co",
            "",
        ];
        let long_local = format!("{}@b.co", "a".repeat(65));
        let long_label = format!("a@{}.co", "b".repeat(64));
        let long_domain = format!("a@{}co", "b.".repeat(127));
        for t in tricky.iter().copied().chain([long_local.as_str(), long_label.as_str(), long_domain.as_str()]) {
            assert_eq!(ascii_email_shape(t.as_bytes()), email_shape(t), "{t}");
        }
        assert_eq!(email("  John.Doe@Example.COM ").as_deref(), Ok("john.doe@example.com"));
        assert_eq!(email("李雷@例子.中国").as_deref(), Ok("李雷@例子.中国"));
        // Decomposed (as macOS types it) is the composed address.
        assert_eq!(email("Zoe\u{308}@x.com").as_deref(), Ok("zo\u{eb}@x.com"));
        for bad in ["john", "john@", "@example.com", "a@b", "a..b@example.com", "a@-x.com", "a b@example.com"] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_booleans_currencies() {
        assert!(url("http://www.example.com/path?q=1").is_ok());
        assert!(url("www.example.com").is_ok());
        assert!(url("not a url").is_err());
        assert!(url("http://").is_err());
        assert_eq!(boolean("是"), Ok(true));
        assert_eq!(boolean("FALSE"), Ok(false));
        for (yes, no) in [("Ja", "Nein"), ("oui", "NON"), ("Sí", "no"), ("sim", "não"), ("ja", "nee"), ("vrai", "faux")]
        {
            assert_eq!((boolean(yes), boolean(no)), (Ok(true), Ok(false)), "{yes} {no}");
        }
        assert!(boolean("maybe").is_err());
        let opts = TypeOptions::default();
        let amount = |t: &str| convert(TypeName::Decimal, t, &opts);
        for (written, number) in [
            ("$1,234.50", "1234.50"),
            ("-£5", "-5"),
            ("US$ 20", "20"),
            ("12.5 €", "12.5"),
            ("¥300", "300"),
            ("$-7", "-7"),
        ] {
            assert_eq!(amount(written), Ok(Value::Number(number.into())), "{written}");
        }
        assert!(amount("$").is_err() && amount("1 $ 2").is_err() && amount("$$5").is_err());
        let comma = TypeOptions { decimal_comma: true, ..TypeOptions::default() };
        assert_eq!(convert(TypeName::Decimal, "1.234,56 €", &comma), Ok(Value::Number("1234.56".into())));
        assert_eq!(currency("usd"), Ok("USD"));
        assert_eq!(currency("人民币"), Ok("CNY"));
        assert!(currency("XYZ").is_err());
        let yen_or_yuan = currency("¥").expect_err("ambiguous");
        assert!(yen_or_yuan.contains("JPY") && yen_or_yuan.contains("CNY"), "{yen_or_yuan}");
        for dollar in ["$", "dollar"] {
            let which = currency(dollar).expect_err("ambiguous");
            assert!(which.contains("USD") && which.contains("CAD"), "{which}");
            assert!(which.contains(&format!("map = {{ {dollar:?} = \"USD\" }}")), "{which}");
        }
        assert_eq!(currency("US$"), Ok("USD"));
        assert_eq!(currency("C$"), Ok("CAD"));
    }
}
