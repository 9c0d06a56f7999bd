//! Phone numbers to E.164.
//!
//! The `phonenumber` crate does the real work, but it takes about 4 µs a
//! number, which makes it the slowest step of a typical contacts import. The
//! shapes that dominate CRM files (North American numbers written with
//! punctuation, `+` numbers, Chinese mobiles) have a fast path here that
//! gives exactly what the crate gives; a test holds the two together. The
//! fast path also avoids a crate bug: with a default region of US it reads
//! `+86 138 0013 8000` as `+863800138000`.

use phonenumber::country::Id;

/// The crate compiles its metadata's patterns on use into one shared LRU
/// cache of 100, fewer than the patterns of a handful of countries: a file
/// of numbers from many countries recompiled them for nearly every number
/// (a million contacts across a dozen countries took 30 times as long as
/// US numbers alone). The cache is made large enough to hold every pattern
/// used, once.
fn enlarge_pattern_cache() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(mut cache) = phonenumber::metadata::DATABASE.cache().lock() {
            *cache = regex_cache::RegexCache::new(PATTERNS);
        }
    });
}

/// Patterns kept compiled: more than all countries' metadata together uses.
const PATTERNS: usize = 2_000;

/// A phone number in E.164 (`+15551234567`), with `;ext=NNN` (RFC 3966) when
/// the source carried an extension, so that nothing is dropped.
pub fn to_e164(input: &str, region: Option<Id>) -> Result<String, String> {
    let plain = plain(input);
    let trimmed = plain.trim();
    if let Some(fast) = fast_path(trimmed, region) {
        return Ok(fast);
    }
    // Dialled abroad with the region's own prefix (which no number on the
    // fast path starts with): read as the number dialled, if it is one,
    // else as a number of the region, below.
    if let Some(number) = region.and_then(|r| dialled_abroad(trimmed, r)).and_then(|n| to_e164(&n, None).ok()) {
        return Ok(number);
    }
    // `00` starts an international number almost everywhere (ITU's prefix);
    // no national number begins with it, so it can be read as `+`.
    // (`00 44 …` spaces the prefix off as often as not.)
    if let Some(rest) = trimmed.strip_prefix("00").map(|rest| rest.trim_start_matches([' ', '-', '.']))
        && rest.starts_with(|c: char| c.is_ascii_digit() && c != '0')
    {
        return to_e164(&["+", rest].concat(), region);
    }
    if let Some(number) = russian(trimmed, region) {
        return Ok(number);
    }
    slow_path(trimmed, region)
}

/// A number as dialled abroad from `region` with that country's own
/// international prefix, with `+` for it: `011 44 20 7946 0958` from North
/// America, `0011 44 …` from Australia, `010 44 …` from Japan are all
/// `+44 20 7946 0958`. `None` where no such prefix and a country code
/// (which never starts with 0) begin the number. (No country's numbers
/// begin with its international prefix: the prefix is kept for dialling
/// out.)
fn dialled_abroad(input: &str, region: Id) -> Option<String> {
    let meta = phonenumber::metadata::DATABASE.by_id(region.as_ref())?;
    let prefix = meta.international_prefix()?.as_str();
    // The digits before anything but spacing (at most the longest prefix,
    // 9 digits, and the code's first).
    let mut digits = Vec::with_capacity(10);
    for (at, c) in input.char_indices() {
        match c {
            '0'..='9' if digits.len() < 10 => digits.push((at, c)),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => break,
        }
    }
    let text: String = digits.iter().map(|(_, c)| c).collect();
    // The longest prefix the pattern matches whole, with a code after it.
    (1..digits.len()).rev().find_map(|len| {
        let (next_at, next) = digits[len];
        (next != '0' && matches_whole(prefix, &text[..len])).then(|| format!("+{}", &input[next_at..]))
    })
}

/// A number of +7 (Russia, Kazakhstan): ten digits after the code, written
/// with it or, at home, with the trunk `8` before them. The crate takes an
/// `8` off the number itself too, trunk or not, so that every number whose
/// area starts with 8 (St Petersburg's 812, the free 800) lost a digit:
/// such numbers are read here. `None` for another number, or one with
/// more than digits and spacing in it (an extension, letters), which the
/// crate reads as before.
fn russian(input: &str, region: Option<Id>) -> Option<String> {
    let plus = input.starts_with('+');
    if !plus && !matches!(region, Some(Id::RU | Id::KZ)) {
        return None;
    }
    if !input.chars().all(|c| c.is_ascii_digit() || " ()-.+".contains(c)) || input.rfind('+').is_some_and(|at| at > 0) {
        return None;
    }
    let digits: String = input.chars().filter(char::is_ascii_digit).collect();
    let ten = match (plus, digits.len()) {
        (true, 11) if digits.starts_with('7') => &digits[1..],
        (false, 11) if digits.starts_with('8') => &digits[1..],
        _ => return None,
    };
    // (Only where the crate would go wrong: an area that starts with 8.)
    ten.starts_with('8').then(|| format!("+7{ten}"))
}

/// A number as the crate reads it: full-width digits and signs (`０３－１２３４`,
/// as Japanese and Chinese input methods type them) and Unicode spaces (the
/// narrow no-break space word processors put in French numbers) in ASCII,
/// and a word after the number (`fixe`, `FAX`, `cel`, `Büro`) dropped, as
/// one before it (`Tel`) is: the crate would read its letters as a
/// keypad's digits (`FAX` as 329) and store another number.
fn plain(input: &str) -> std::borrow::Cow<'_, str> {
    let ends_in_word = input.trim_end().chars().next_back().is_some_and(|c| !c.is_ascii_digit() && c != ')');
    if input.is_ascii() && !ends_in_word {
        return std::borrow::Cow::Borrowed(input);
    }
    let mut out: String = input
        .chars()
        .map(|c| match c {
            '０'..='９' => char::from(b'0' + (c as u32 - '０' as u32) as u8),
            '＋' => '+',
            '－' | '‐' | '‑' | '–' | 'ー' => '-',
            '（' => '(',
            '）' => ')',
            '．' => '.',
            c if c.is_whitespace() => ' ',
            c => c,
        })
        .collect();
    // Words after the last digit, but an extension's (`ext.`, `x`).
    loop {
        let t = out.trim_end();
        let Some((number, word)) = t.rsplit_once(' ') else { break };
        let bare = word.trim_end_matches(['.', ':', ')']).trim_start_matches('(');
        let extension = ["x", "ext", "extension", "#"].iter().any(|e| bare.eq_ignore_ascii_case(e));
        if bare.is_empty()
            || extension
            || !bare.chars().all(char::is_alphabetic)
            || !number.contains(|c: char| c.is_ascii_digit())
        {
            break;
        }
        out.truncate(number.trim_end().len());
    }
    std::borrow::Cow::Owned(out)
}

/// Letters among a number's digits (`+33 1 42 FIXE`): in North America a
/// number spelt on the keypad (`1-800-FLOWERS`), elsewhere nothing the
/// crate should turn into digits.
fn spelt(main: &str, region: Option<Id>) -> Result<(), String> {
    // (Between the first digit and the last: an empty `ext.` may follow.)
    let digits = main.trim_matches(|c: char| !c.is_ascii_digit());
    let Some(letter) = digits.chars().find(|c| c.is_alphabetic()) else { return Ok(()) };
    let plus = main.trim_start().starts_with('+');
    let north_american = if plus {
        main.trim_start()[1..].trim_start().starts_with('1')
    } else {
        matches!(region, Some(Id::US | Id::CA))
    };
    if north_american {
        return Ok(());
    }
    Err(format!(
        "not a phone number: it has letters among its digits ({letter:?}); only North American numbers are spelt on \
         the keypad"
    ))
}

/// A number as written in `country` (an ISO 3166 alpha-2 code), in E.164;
/// `None` where the code is none or the number is not one in use there
/// (`020 7946 0958` is a London number, no Irish one; North American
/// numbers as import reads them).
pub fn in_country(input: &str, country: &str) -> Option<String> {
    let region = country.trim().to_ascii_uppercase().parse::<Id>().ok()?;
    let number = to_e164(input, Some(region)).ok()?;
    in_use_or_north_american(input, region).then_some(number)
}

/// Whether `input` is a number in use in `region`, or one North America
/// writes: import takes those as the mapping's phone type reads them (its
/// own checks of area and exchange), `555` numbers of examples included.
fn in_use_or_north_american(input: &str, region: Id) -> bool {
    // (The number as `to_e164` reads it: full-width digits as digits, a
    // word after it dropped, its extension aside.)
    let plain = plain(input);
    matches!(region, Id::US | Id::CA) || is_valid(split_extension(plain.trim()).0, Some(region))
}

/// Every number `input` can be, in E.164: itself when it starts with `+`
/// or `00`, otherwise the number it is read as in each country where it
/// is one in use, as import would store it there (`(212) 555-0143` is
/// +12125550143 in North America; the same digits may be a number of
/// another country too). A search by a number written without its country
/// code finds the stored number, whichever country the import read it in.
pub fn readings(input: &str) -> Vec<String> {
    let trimmed = input.trim();
    if trimmed.starts_with('+') || trimmed.starts_with("00") {
        return to_e164(trimmed, None).into_iter().collect();
    }
    // Fewer than four digits is no number anywhere; not worth a pass.
    if trimmed.bytes().filter(u8::is_ascii_digit).count() < 4 {
        return Vec::new();
    }
    // Only where it is a number in use: the same digits have the length
    // of a number in most countries.
    let mut found: Vec<String> = regions()
        .iter()
        .filter_map(|&r| to_e164(trimmed, Some(r)).ok().filter(|_| in_use_or_north_american(trimmed, r)))
        .collect();
    found.sort_unstable();
    found.dedup();
    found
}

/// The country calling code an E.164 number starts with (`+44 20…` → 44).
pub fn calling_code(e164: &str) -> Option<u16> {
    let digits = e164.strip_prefix('+')?;
    // Codes are a prefix code: at most one of 1-3 digits is one.
    (1..=3)
        .filter_map(|n| digits.get(..n)?.parse::<u16>().ok())
        .find(|code| phonenumber::metadata::DATABASE.by_code(code).is_some())
}

/// `input`, written without its country code, as the main country of
/// calling code `code` reads it (`(415) 555-0132` under 1 is
/// +14155550132): what a store with numbers of that code may hold for it,
/// to be confirmed by [`reads_as`]. A few microseconds, where [`readings`]
/// tries every country and checks each reading.
pub fn under_code(input: &str, code: u16) -> Option<String> {
    let countries = phonenumber::metadata::DATABASE.by_code(&code)?;
    let main = countries.iter().find(|m| m.is_main_country_for_code()).or(countries.first())?;
    to_e164(input, Some(main.id().parse().ok()?)).ok()
}

/// Whether `input`, written without its country code, is `e164` in a
/// country of its code, as import reads a number there ([`in_country`]).
pub fn reads_as(input: &str, e164: &str) -> bool {
    let Some(code) = calling_code(e164) else { return false };
    let countries = phonenumber::metadata::DATABASE.by_code(&code).unwrap_or_default();
    countries.iter().any(|m| in_country(input, m.id()).as_deref() == Some(e164))
}

/// Every region the metadata knows, once.
fn regions() -> &'static [Id] {
    static REGIONS: std::sync::OnceLock<Vec<Id>> = std::sync::OnceLock::new();
    REGIONS.get_or_init(|| {
        let mut ids: Vec<Id> =
            phonenumber::metadata::DATABASE.iter().filter_map(|m| m.id().parse::<Id>().ok()).collect();
        ids.sort_unstable_by_key(|id| id.as_ref().to_string());
        ids.dedup();
        ids
    })
}

/// True when the number is a valid, assigned number (stricter than
/// [`to_e164`], which only needs it to parse); used to choose between
/// candidate regions.
pub fn is_valid(input: &str, region: Option<Id>) -> bool {
    enlarge_pattern_cache();
    let database = &*phonenumber::metadata::DATABASE;
    if let Some(number) = region.and_then(|r| dialled_abroad(input.trim(), r))
        && is_valid(&number, None)
    {
        return true;
    }
    if let Some(number) = russian(input.trim(), region) {
        return database.by_code(&7).into_iter().flatten().any(|meta| in_use(meta, &number[2..]));
    }
    let Ok(number) = phonenumber::parse(region, input.trim()) else { return false };
    let code = number.code().value();
    // The number's significant digits, an Italian line's leading zero kept.
    let national = format!("{}{}", "0".repeat(usize::from(number.national().zeros())), number.national().value());
    // In the region given where the number is of its code (a Canadian area
    // code is no US number), else in any region of its code.
    match region.and_then(|r| database.by_id(r.as_ref())).filter(|m| m.country_code() == code) {
        Some(meta) => in_use(meta, &national),
        None => database.by_code(&code).into_iter().flatten().any(|meta| in_use(meta, &national)),
    }
}

/// Whether `national` (significant digits) is a number of one of the kinds
/// `meta`'s region has in use: its general pattern, and that of a fixed
/// line, a mobile or another kind, each matched whole. (The crate's own
/// check matches a pattern at the start only, so a number with a digit too
/// many passed: `0120-123-4565` in Japan.)
fn in_use(meta: &phonenumber::metadata::Metadata, national: &str) -> bool {
    let whole = |desc: &phonenumber::metadata::Descriptor| {
        (desc.possible_length().is_empty() || desc.possible_length().contains(&(national.len() as u16)))
            && matches_whole(desc.national_number().as_str(), national)
    };
    whole(meta.descriptors().general()) && kinds(meta).any(whole)
}

/// The descriptions of the kinds of number (fixed line, mobile, toll free,
/// …; not short codes) a region's metadata has.
fn kinds(meta: &phonenumber::metadata::Metadata) -> impl Iterator<Item = &phonenumber::metadata::Descriptor> {
    let d = meta.descriptors();
    [
        d.fixed_line(),
        d.mobile(),
        d.toll_free(),
        d.premium_rate(),
        d.shared_cost(),
        d.personal_number(),
        d.voip(),
        d.pager(),
        d.uan(),
        d.voicemail(),
    ]
    .into_iter()
    .flatten()
}

/// Whether `pattern` (metadata's, laid out over lines: spaces are no part
/// of it; empty for none) matches all of `text`, its compiled form kept.
fn matches_whole(pattern: &str, text: &str) -> bool {
    static COMPILED: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<String, Option<regex::Regex>>>> =
        std::sync::LazyLock::new(Default::default);
    if pattern.trim().is_empty() {
        return true;
    }
    let Ok(mut compiled) = COMPILED.lock() else { return false };
    // (Looked up before a key is made: most calls find it.)
    if let Some(regex) = compiled.get(pattern) {
        return regex.as_ref().is_some_and(|r| r.is_match(text));
    }
    let regex = regex::RegexBuilder::new(&format!("^(?:{pattern})$")).ignore_whitespace(true).build().ok();
    let matched = regex.as_ref().is_some_and(|r| r.is_match(text));
    compiled.insert(pattern.to_string(), regex);
    matched
}

fn slow_path(input: &str, region: Option<Id>) -> Result<String, String> {
    enlarge_pattern_cache();
    let mexican_today;
    let input = match mexican(input, region) {
        Some(today) => {
            mexican_today = today;
            mexican_today.as_str()
        }
        None => input,
    };
    // The crate does not read RFC 3966's `;ext=` without `tel:`.
    let (input, written_ext) = match input.rsplit_once(";ext=") {
        Some((main, ext)) if split_extension(input) == (main, Some(ext)) => (main, Some(ext)),
        _ => (input, None),
    };
    // `+49 (0)30 …` writes the trunk `0` in brackets, to be dialled only
    // at home; the crate, given a region, reads it as a digit of the number.
    let unbracketed;
    let input = if input.trim_start().starts_with('+') && input.contains("(0)") {
        unbracketed = input.replacen("(0)", trunk_in_brackets(input), 1);
        unbracketed.as_str()
    } else {
        input
    };
    spelt(split_extension(input).0, region)?;
    // A `+` number names its country; read in a region, the crate takes
    // the region's trunk prefix off it (`+33 1 …` in region US).
    let plus = input.trim_start().starts_with('+');
    // Ten digits in a North American region are area code and number;
    // the crate takes a leading `1` for the trunk prefix and counts nine.
    let main = split_extension(input).0;
    if !plus && matches!(region, Some(Id::US | Id::CA)) && !main.bytes().any(|b| b.is_ascii_alphabetic()) {
        let digits: String = main.chars().filter(char::is_ascii_digit).collect();
        // `1-212-555-0143`, `1 (212) 555-0143`: written as a North American
        // number with its trunk 1, not as eleven digits of another country's.
        let groups: Vec<usize> =
            main.split(|c: char| !c.is_ascii_digit()).filter(|g| !g.is_empty()).map(str::len).collect();
        north_american_digits(&digits, groups == [1, 3, 3, 4])?;
    }
    if !plus && let Some(region) = region {
        written_elsewhere(main, region)?;
    }
    let parsed = phonenumber::parse(if plus { None } else { region }, input).map_err(|e| match region {
        Some(_) => format!("not a phone number ({})", parse_error(&e)),
        None => format!("not a phone number ({}); numbers without a country code need the mapping's `region`, or `region_from` a country column", parse_error(&e)),
    })?;
    let national = parsed.national().value();
    let digits = national.to_string().len() + usize::from(parsed.national().zeros());
    // North American numbers have exactly ten digits; elsewhere fewer than
    // six is a fragment (an extension, a local number without its area code).
    let fits = if parsed.code().value() == 1 { digits == 10 } else { (6..=14).contains(&digits) };
    if !fits && digits > 14 {
        return Err(format!(
            "not a phone number: {digits} digits after the country code, where E.164 numbers have at most 15 in all"
        ));
    }
    if !fits {
        return Err(format!("not a complete phone number ({digits} digits after the country code)"));
    }
    // E.164 numbers have at most 15 digits, the country code's included.
    let code = parsed.code().value().to_string().len();
    if code + digits > 15 {
        return Err(format!(
            "not a phone number: {} digits, where E.164 numbers have at most 15 (+{} and {digits} more)",
            code + digits,
            parsed.code().value()
        ));
    }
    // A North American area code starts with 2-9: `030 1234567` read in
    // region US is a number of another country written without its code.
    let area = "0".repeat(usize::from(parsed.national().zeros())) + &national.to_string();
    if parsed.code().value() == 1 && !area.starts_with(['2', '3', '4', '5', '6', '7', '8', '9']) {
        return Err(north_american_area(&area));
    }
    // An extension the crate found empty (`555 0100 ext.`) is none: `;ext=`
    // alone would not read back.
    let found_ext = parsed.extension().map(|e| e.as_ref()).filter(|e: &&str| !e.is_empty());
    let ext = match (written_ext, found_ext) {
        (Some(_), Some(_)) => return Err("a phone number with two extensions (keep one)".to_string()),
        (written, found) => written.or(found),
    };
    let mut out = parsed.format().mode(phonenumber::Mode::E164).to_string();
    // An international number keeps every digit it was written with: the
    // crate reads `+86 12345678901` as +862345678901, taking the `1` for a
    // trunk prefix. (`+44 (0)20 …` writes the trunk `0` in brackets.)
    if input.trim_start().starts_with('+') {
        let main = split_extension(input).0;
        let given: String = main.replace("(0)", trunk_in_brackets(main)).chars().filter(char::is_ascii_digit).collect();
        // The trunk `0` written after the code without brackets (`+44 020
        // 7946 0018`, `+49 (030) …`) is the same mistake, as plain: the
        // number is the one without it, which the crate gave.
        let code = parsed.code().value().to_string();
        let trunk_after_code =
            given.strip_prefix(code.as_str()).and_then(|rest| rest.strip_prefix('0')).is_some_and(|rest| {
                out[1..].strip_prefix(code.as_str()) == Some(rest)
                    && trunk_in_brackets(&["+", &given].concat()).is_empty()
            });
        if given != out[1..] && !trunk_after_code {
            return Err(format!(
                "not a phone number: +{given} is no number of +{} with those digits (one too many or missing?)",
                parsed.code().value()
            ));
        }
    }
    // A country's numbers have the lengths its metadata lists (France's
    // 9 digits after +33): a digit missing or one too many (`01 42 68 53
    // 000`), or another country's number read in it (a Chinese mobile as
    // +33), is no number there.
    let lengths = possible_lengths(parsed.code().value());
    if !lengths.is_empty() && !lengths.contains(&(digits as u16)) {
        let shown: Vec<String> = lengths.iter().map(u16::to_string).collect();
        let shown = match shown.as_slice() {
            [one] => one.clone(),
            [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
            [] => String::new(),
        };
        return Err(format!(
            "not a phone number of +{}: {digits} digits after the country code, where its numbers have {shown}",
            parsed.code().value()
        ));
    }
    // China's numbers have as many digits as their kind and area say (a
    // mobile 11, a Beijing line 10), which its metadata knows exactly: one
    // missing or one too many would be stored as another number.
    if parsed.code().value() == 86 && !phonenumber::is_valid(&parsed) {
        return Err(format!(
            "not a number of China: +86 and {digits} digits is no number in use there (a mobile has 11 digits, a \
             line 10 or 11 with its area code without the 0; one missing or one too many?)"
        ));
    }
    if let Some(ext) = ext {
        out.push_str(";ext=");
        out.push_str(ext);
    }
    Ok(out)
}

/// A Mexican number in the form dialled since 2019, ten digits after +52,
/// where it is written in an older one the crate keeps: a mobile's `1`
/// after the country code (`+52 1 55 1234 5678`), or, at home, a mobile's
/// `044`/`045` or the long-distance `01` before the ten digits. Stored as
/// written, one person's number would be three different numbers, and the
/// home forms are no numbers at all (+52 044 …). No Mexican area code
/// starts with 1, so none of these reads another number.
fn mexican(input: &str, region: Option<Id>) -> Option<String> {
    let (main, ext) = split_extension(input);
    let plus = main.trim_start().starts_with('+');
    if !plus && region != Some(Id::MX) {
        return None;
    }
    let digits: String = main.chars().filter(char::is_ascii_digit).collect();
    let ten = match (plus, digits.len()) {
        (true, 13) if digits.starts_with("521") => &digits[3..],
        (false, 13) if digits.starts_with("044") || digits.starts_with("045") => &digits[3..],
        (false, 12) if digits.starts_with("01") => &digits[2..],
        _ => return None,
    };
    Some(match ext {
        Some(x) => format!("+52{ten} ext. {x}"),
        None => format!("+52{ten}"),
    })
}

/// The lengths of national numbers under country code `code`: of every
/// kind (fixed, mobile, toll-free, …; not short codes) of every country
/// that shares the code (+1, +7, +44 …). Worked out once per code, as
/// every number read by the crate is checked against them.
fn possible_lengths(code: u16) -> &'static [u16] {
    static LENGTHS: std::sync::OnceLock<std::collections::HashMap<u16, Vec<u16>>> = std::sync::OnceLock::new();
    LENGTHS
        .get_or_init(|| (1..1000).map(|code| (code, lengths_of(code))).filter(|(_, l)| !l.is_empty()).collect())
        .get(&code)
        .map_or(&[], Vec::as_slice)
}

fn lengths_of(code: u16) -> Vec<u16> {
    let mut lengths: Vec<u16> = Vec::new();
    for meta in phonenumber::metadata::DATABASE.by_code(&code).unwrap_or_default() {
        let all = std::iter::once(meta.descriptors().general()).chain(kinds(meta));
        lengths.extend(all.flat_map(|k| k.possible_length().iter().copied()));
    }
    lengths.sort_unstable();
    lengths.dedup();
    lengths
}

/// The crate's reasons, in crmsync's words: its own name a Rust integer
/// parse (`malformed integer part`), which says nothing to whoever wrote
/// the number.
fn parse_error(e: &phonenumber::ParseError) -> String {
    use phonenumber::ParseError as P;
    match e {
        P::NoNumber => "no digits to dial".to_string(),
        P::InvalidCountryCode => "no country has the code it starts with".to_string(),
        P::TooShortAfterIdd | P::TooShortNsn => "too few digits".to_string(),
        P::TooLong | P::MalformedInteger(_) => "too many digits".to_string(),
    }
}

/// Refuses a number written as North America writes its numbers, `(212)
/// 555-0143` or `212-555-0143`, read in a region whose own numbers are
/// written with a trunk prefix it lacks: read as a German number it would
/// become +49 212 5550143 (Solingen), silently. Regions without a trunk
/// prefix (Mexico, since 2019) write their numbers so themselves.
fn written_elsewhere(number: &str, region: Id) -> Result<(), String> {
    let Some(meta) = phonenumber::metadata::DATABASE.by_id(region.as_ref()) else { return Ok(()) };
    let Some(prefix) = meta.national_prefix() else { return Ok(()) };
    let from_first_digit = number.trim_start_matches(|c: char| !c.is_ascii_digit());
    if meta.country_code() == 1 || from_first_digit.starts_with(prefix) || !written_north_american(number) {
        return Ok(());
    }
    // (A number the region writes so itself, China's `400-800-8888`, is
    // no North American one.)
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if !is_valid(&["+1", digits.trim_start_matches('1')].concat(), None) {
        return Ok(());
    }
    Err(format!(
        "a number written as North America writes them, which numbers of {} are not (they start with {prefix}): \
         give it its country code (+1 for North America), or check the mapping's `region`",
        region.as_ref()
    ))
}

/// A number written in North America's groups, `(212) 555-0143`,
/// `212-555-0143`, `1 212.555.0143`: three digits (the first 2-9), three,
/// four, set apart by more than spaces (an Italian mobile is written
/// `347 123 4567`).
pub fn written_north_american(v: &str) -> bool {
    if !v.contains(['(', '-', '.']) {
        return false;
    }
    let groups: Vec<&str> = v.split(|c: char| !c.is_ascii_digit()).filter(|g| !g.is_empty()).collect();
    let groups = match groups.as_slice() {
        ["1", rest @ ..] => rest,
        all => all,
    };
    matches!(groups, [a, b, c] if a.len() == 3 && b.len() == 3 && c.len() == 4 && !a.starts_with(['0', '1']))
}

/// What a `(0)` after a `+` code stands for: a trunk prefix, dropped, but
/// in Italy and San Marino, whose numbers keep their leading 0 when dialled
/// from abroad, a digit of the number.
fn trunk_in_brackets(international: &str) -> &'static str {
    let digits: String = international.chars().filter(char::is_ascii_digit).take(3).collect();
    if digits.starts_with("39") || digits.starts_with("378") { "0" } else { "" }
}

/// Checks the digits of a number written without a country code in a North
/// American region: ten, or eleven with the trunk `1` first. The crate
/// counts them its own way (`11234567890` as nine after the code), so the
/// message would not match what was written.
fn north_american_digits(digits: &str, written_so: bool) -> Result<(), String> {
    match digits.len() {
        10 if digits.starts_with(['0', '1']) => Err(north_american_area(digits)),
        10 => Ok(()),
        11 if written_so && digits.starts_with('1') => match &digits[1..] {
            ten if ten.starts_with(['0', '1']) => Err(north_american_area(ten)),
            _ => Ok(()),
        },
        // Run together or grouped otherwise, eleven digits with a leading
        // `1` could as well be another country's number written without its
        // code (a Chinese mobile, `13800138000`, `138 0013 8000`): they are
        // taken for North American only when the exchange, too, starts with
        // 2-9, and the number is one in use there.
        11 if digits.starts_with('1') => {
            let ten = &digits[1..];
            if ten.starts_with(['0', '1']) {
                Err(north_american_area(ten))
            } else if ten[3..].starts_with(['0', '1']) {
                Err(format!(
                    "not a North American number: after the leading 1, its exchange {} starts with {} (a number of \
                     another country needs its + and country code, or the mapping's `region`)",
                    &ten[3..6],
                    &ten[3..4]
                ))
            } else if !is_valid(&format!("+{digits}"), None) {
                // Most Chinese mobiles have that shape too (139 1234 5678):
                // only a number in use in North America is taken for one.
                Err(format!(
                    "not a North American number: +1 {} {} {} is no number in use there (a number of another \
                     country needs its + and country code, or the mapping's `region`)",
                    &ten[..3],
                    &ten[3..6],
                    &ten[6..]
                ))
            } else {
                Ok(())
            }
        }
        n if n > 10 => Err(format!(
            "not a North American number: {n} digits, where they have 10, or 11 with a leading 1 (a number of \
             another country needs its + and country code, or the mapping's `region`)"
        )),
        n => Err(format!("not a complete phone number: {n} digits, where North American numbers have 10")),
    }
}

/// Why ten digits whose first is not 2-9 are no North American number.
fn north_american_area(ten: &str) -> String {
    format!(
        "not a North American number: its area code {} starts with {} (a number of another country needs its + \
         and country code, or the mapping's `region`)",
        &ten[..ten.len().min(3)],
        &ten[..1.min(ten.len())]
    )
}

/// Splits `555-123-4567 x89` into the main part and an all-digit extension.
fn split_extension(s: &str) -> (&str, Option<&str>) {
    // RFC 3966's form, which `to_e164` writes: its output reads back. (An
    // all-digit extension holds no `;`: the last one starts it. Searching
    // for one byte instead of the whole `;ext=` saves setting up a substring
    // search per number.)
    if let Some((main, ext)) = s.rfind(';').and_then(|at| Some((&s[..at], s[at..].strip_prefix(";ext=")?)))
        && (1..=7).contains(&ext.len())
        && ext.bytes().all(|b| b.is_ascii_digit())
    {
        return (main, Some(ext));
    }
    // The extension is the digits after the last `x`, `#`, `ext`, `ext.`
    // or `extension`.
    let Some(pos) = s.rfind(['x', 'X', '#']) else { return (s, None) };
    let mut main = &s[..pos];
    let mut rest = &s[pos + 1..];
    let ext_word = main.ends_with(['e', 'E']) && rest.starts_with(['t', 'T']);
    if ext_word {
        main = &main[..main.len() - 1];
        rest = &rest[1..];
        if rest.get(..6).is_some_and(|w| w.eq_ignore_ascii_case("ension")) {
            rest = &rest[6..];
        }
    }
    let ext = rest.trim_start_matches('.').trim();
    if ext.is_empty() || ext.len() > 7 || !ext.bytes().all(|b| b.is_ascii_digit()) {
        return (s, None);
    }
    (main.trim_end(), Some(ext))
}

/// Whether `s` is a number in E.164 as the store keeps one: `+`, a country
/// code some country has, as many digits after it as that country's numbers
/// have (a North American area starting 2-9), and perhaps `;ext=` and up to
/// seven digits. (Its form, not whether it is in use: cheap enough for
/// every stored number of a report.)
pub fn is_e164(s: &str) -> bool {
    let number = match s.split_once(";ext=") {
        Some((number, ext)) if (1..=7).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_digit()) => number,
        Some(_) => return false,
        None => s,
    };
    let Some(digits) = number.strip_prefix('+').filter(|d| d.bytes().all(|b| b.is_ascii_digit())) else {
        return false;
    };
    // Country codes are a prefix code: at most one of 1-3 digits is one.
    (1..=3).filter(|n| *n < digits.len()).any(|n| {
        let (code, rest) = digits.split_at(n);
        let lengths = code.parse().map_or(&[][..], possible_lengths);
        !lengths.is_empty()
            && lengths.contains(&(rest.len() as u16))
            && (code != "1" || rest.starts_with(['2', '3', '4', '5', '6', '7', '8', '9']))
    })
}

/// True when `s` is a number as [`to_e164`] writes it on its fast path
/// (`+1` and ten digits, `+86` and a mobile number, either with `;ext=` and
/// its digits), which it gives back unchanged: a store need not parse it
/// again.
pub fn is_canonical(s: &str) -> bool {
    // (The first `;` must start `;ext=`: a number holds none.)
    let s = match s.find(';').map(|at| (&s[..at], s[at..].strip_prefix(";ext="))) {
        Some((number, Some(ext))) if (1..=7).contains(&ext.len()) && ext.bytes().all(|b| b.is_ascii_digit()) => number,
        Some(_) => return false,
        None => s,
    };
    let Some(d) = s.strip_prefix('+').map(str::as_bytes) else { return false };
    d.iter().all(u8::is_ascii_digit)
        && match d.len() {
            11 => d[0] == b'1' && (b'2'..=b'9').contains(&d[1]),
            13 => d.starts_with(b"861") && (b'3'..=b'9').contains(&d[3]),
            _ => false,
        }
}

fn fast_path(s: &str, region: Option<Id>) -> Option<String> {
    let (main, ext) = split_extension(s);
    let mut digits = [0u8; 16];
    let mut n = 0;
    let plus = main.starts_with('+');
    let body = if plus { &main[1..] } else { main };
    for b in body.bytes() {
        match b {
            b'0'..=b'9' => {
                if n == digits.len() {
                    return None;
                }
                digits[n] = b;
                n += 1;
            }
            b' ' | b'-' | b'.' | b'(' | b')' => {}
            _ => return None,
        }
    }
    let d = &digits[..n];
    let nanp = |ten: &[u8]| ten.len() == 10 && (b'2'..=b'9').contains(&ten[0]);
    let cn_mobile = |eleven: &[u8]| eleven.len() == 11 && eleven[0] == b'1' && (b'3'..=b'9').contains(&eleven[1]);
    let e164 = if plus {
        let us = n == 11 && d[0] == b'1' && nanp(&d[1..]);
        let cn = n == 13 && d.starts_with(b"86") && cn_mobile(&d[2..]);
        if us || cn {
            ["+", std::str::from_utf8(d).ok()?].concat()
        } else {
            return None;
        }
    } else {
        match region? {
            Id::US | Id::CA if nanp(d) => ["+1", std::str::from_utf8(d).ok()?].concat(),
            Id::CN if cn_mobile(d) => ["+86", std::str::from_utf8(d).ok()?].concat(),
            _ => return None,
        }
    };
    Some(match ext {
        Some(x) => [e164.as_str(), ";ext=", x].concat(),
        None => e164,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &[(&str, Id)] = &[
        ("(555) 123-4567", Id::US),
        ("+1-555-123-4567", Id::US),
        ("555.123.4567", Id::US),
        ("397.884.0519x718", Id::US),
        ("+86 138 0013 8000", Id::CN),
        ("13800138000", Id::CN),
        ("+1 (416) 555-0199", Id::CA),
        ("604 555 0123", Id::CA),
        ("212-555-0143 ext 12", Id::US),
        ("(212) 100-0000", Id::US),
        ("9991234567", Id::US),
        ("+1 999 123 4567", Id::CA),
    ];

    #[test]
    fn a_canonical_number_is_what_to_e164_gives_back() {
        for (input, region) in SAMPLES {
            let e164 = to_e164(input, Some(*region)).expect(input);
            assert!(is_canonical(&e164), "{e164}");
            // What crmsync writes (and exports) reads back as itself.
            assert_eq!(to_e164(&e164, None).as_deref(), Ok(e164.as_str()));
            assert_eq!(to_e164(&e164, Some(*region)).as_deref(), Ok(e164.as_str()));
        }
        for not in [
            "+11234567890",
            "+1555123456",
            "+861234567890",
            "+44 20 7946 0958",
            "5551234567",
            "+1555123456x",
            "+15551234567;ext=",
            "+15551234567;ext=12345678",
            "+15551234567;ext=1a",
            "+15551234567;ext=12;ext=3",
        ] {
            assert!(!is_canonical(not), "{not}");
        }
    }

    #[test]
    fn fast_path_agrees_with_phonenumber() {
        for (input, region) in SAMPLES {
            let fast = fast_path(input, Some(*region)).unwrap_or_else(|| panic!("{input} should take the fast path"));
            let slow = slow_path(input, Some(*region)).expect(input);
            assert_eq!(fast, slow, "{input}");
        }
    }

    /// With a default region of US the crate strips a "1" from `+86 138...`
    /// as if it were the US trunk prefix; the fast path gives the right number.
    #[test]
    fn regression_plus86_mobile_with_us_region() {
        assert_eq!(to_e164("+86 138 0013 8000", Some(Id::US)).as_deref(), Ok("+8613800138000"));
        assert_eq!(to_e164("0086 138 0013 8000", Some(Id::CN)).as_deref(), Ok("+8613800138000"));
    }

    #[test]
    fn an_international_number_keeps_every_digit() {
        for region in [Id::CN, Id::US] {
            for bad in ["+86 12345678901", "+86 138123456789999", "+1 123 456 7890"] {
                assert!(to_e164(bad, Some(region)).is_err(), "{bad} ({region:?})");
            }
        }
        let e = to_e164("+86 12345678901", Some(Id::CN)).expect_err("a digit dropped");
        assert!(e.contains("no number of +86"), "{e}");
        assert_eq!(to_e164("+44 (0)20 7946 0958", None).as_deref(), Ok("+442079460958"));
        assert_eq!(to_e164("+44 20 7946 0958 ext. 12", None).as_deref(), Ok("+442079460958;ext=12"));
        assert_eq!(to_e164("+49 30 1234567", Some(Id::US)).as_deref(), Ok("+49301234567"));
        // The trunk `0` in brackets, read in any region.
        for region in [None, Some(Id::US), Some(Id::DE), Some(Id::CN)] {
            assert_eq!(to_e164("+49 (0)30 1234567", region).as_deref(), Ok("+49301234567"), "{region:?}");
            assert_eq!(to_e164("+44 (0)20 7946 0958", region).as_deref(), Ok("+442079460958"), "{region:?}");
            assert_eq!(to_e164("+33 (0)1 23 45 67 89", region).as_deref(), Ok("+33123456789"), "{region:?}");
            // Italy keeps its 0: written either way, one number.
            assert_eq!(to_e164("+39 (0)6 1234 5678", region).as_deref(), Ok("+390612345678"), "{region:?}");
            assert_eq!(to_e164("+39 06 1234 5678", region).as_deref(), Ok("+390612345678"), "{region:?}");
        }
    }

    #[test]
    fn a_north_american_area_code_starts_with_2_to_9() {
        let e = to_e164("030 1234567", Some(Id::US)).expect_err("no area code starts with 0");
        assert!(e.contains("area code 030 starts with 0"), "{e}");
        assert_eq!(to_e164("030 1234567", Some(Id::DE)).as_deref(), Ok("+49301234567"));
        assert!(to_e164("+1 030 123 4567", None).is_err());
        let e = to_e164("123 456 7890", Some(Id::US)).expect_err("no area code starts with 1");
        assert!(e.contains("area code 123 starts with 1"), "{e}");
        assert_eq!(to_e164("+1 212 100 0000", None).as_deref(), Ok("+12121000000"));
    }

    #[test]
    fn eleven_digits_with_a_leading_1_are_north_american_only_if_they_look_it() {
        // A Chinese mobile in a file whose mapping says US: not +13800138000.
        for written in ["13800138000", "138-0013-8000"] {
            let e = to_e164(written, Some(Id::US)).expect_err(written);
            assert!(e.contains("exchange 013 starts with 0"), "{e}");
        }
        assert_eq!(to_e164("13800138000", Some(Id::CN)).as_deref(), Ok("+8613800138000"));
        assert_eq!(to_e164("1 (212) 555-0143", Some(Id::US)).as_deref(), Ok("+12125550143"));
        assert_eq!(to_e164("1-415-234-5678", Some(Id::US)).as_deref(), Ok("+14152345678"));
        // Written as a North American number, it is taken for one, in use
        // or not, as ten digits are (sample data's `1-955-371-0847`).
        assert_eq!(to_e164("1-955-371-0847 x371", Some(Id::US)).as_deref(), Ok("+19553710847;ext=371"));
        assert_eq!(to_e164("1 (212) 155-0123", Some(Id::US)).as_deref(), Ok("+12121550123"));
        assert!(to_e164("1-055-371-0847", Some(Id::US)).is_err());
        assert!(to_e164("139 1234 5678", Some(Id::US)).is_err());
        // Shaped as North American numbers, but in no area in use there.
        // (Some are in one: 150 1234 5678 reads as Arkansas's 501. Only the
        // mapping's region can tell those.)
        assert_eq!(to_e164("15012345678", Some(Id::US)).as_deref(), Ok("+15012345678"));
        for written in ["13912345678", "18612345678"] {
            let e = to_e164(written, Some(Id::US)).expect_err(written);
            assert!(e.contains("is no number in use there"), "{e}");
            assert_eq!(to_e164(written, Some(Id::CN)).map(|n| n.len()), Ok(14), "{written}");
        }
        // The digits counted as written.
        let e = to_e164("11234567890", Some(Id::US)).expect_err("area code 123");
        assert!(e.contains("area code 123 starts with 1"), "{e}");
        let e = to_e164("010-12345678", Some(Id::US)).expect_err("eleven digits");
        assert!(e.contains("11 digits, where they have 10, or 11 with a leading 1"), "{e}");
        let e = to_e164("555-0143", Some(Id::US)).expect_err("seven digits");
        assert!(e.contains("7 digits, where North American numbers have 10"), "{e}");
        // Written with its +1, a number is taken as written.
        assert_eq!(to_e164("+1 380 013 8000", Some(Id::US)).as_deref(), Ok("+13800138000"));
    }

    #[test]
    fn extensions() {
        assert_eq!(split_extension("555-0100 x12"), ("555-0100", Some("12")));
        assert_eq!(split_extension("555-0100 ext. 12"), ("555-0100", Some("12")));
        assert_eq!(split_extension("555-0100 EXT 12"), ("555-0100", Some("12")));
        assert_eq!(split_extension("555-0100 extension 12"), ("555-0100", Some("12")));
        assert_eq!(split_extension("555-0100 Extension. 12"), ("555-0100", Some("12")));
        assert_eq!(split_extension("555-0100 extensions 12"), ("555-0100 extensions 12", None));
        assert_eq!(split_extension("555-0100#12"), ("555-0100", Some("12")));
        assert_eq!(split_extension("555-0100"), ("555-0100", None));
        assert_eq!(split_extension("x-ray"), ("x-ray", None));
        assert_eq!(split_extension("+15550100123;ext=12"), ("+15550100123", Some("12")));
        assert_eq!(split_extension("+15550100123;ext=1a"), ("+15550100123;ext=1a", None));
    }

    #[test]
    fn other_shapes_use_the_crate() {
        assert_eq!(to_e164("+44 20 7946 0958", None).as_deref(), Ok("+442079460958"));
        assert_eq!(to_e164("010-6552 9988", Some(Id::CN)).as_deref(), Ok("+861065529988"));
        assert!(to_e164("hello", Some(Id::US)).is_err());
        assert!(to_e164("12", Some(Id::US)).is_err());
        assert!(to_e164("12345", Some(Id::US)).is_err());
        assert_eq!(to_e164("001-808-617-6467x12", Some(Id::US)).as_deref(), Ok("+18086176467;ext=12"));
        assert_eq!(to_e164("0044 20 7946 0958", Some(Id::US)).as_deref(), Ok("+442079460958"));
        assert_eq!(to_e164("00 44 20 7946 0958", Some(Id::US)).as_deref(), Ok("+442079460958"));
        assert_eq!(to_e164("00-49-30-1234567", None).as_deref(), Ok("+49301234567"));
        assert_eq!(to_e164("212-555-0143 extension 12", Some(Id::US)).as_deref(), Ok("+12125550143;ext=12"));
        // At most 15 digits in all.
        let e = to_e164("+49 30 1234567890123", None).expect_err("17 digits");
        assert!(e.contains("15 digits after the country code, where E.164 numbers have at most 15"), "{e}");
        let e = to_e164("+49 30 123456789012", None).expect_err("16 digits");
        assert!(e.contains("16 digits, where E.164 numbers have at most 15"), "{e}");
        assert_eq!(to_e164("+49 30 12345678901", None).as_deref(), Ok("+493012345678901"));
        assert_eq!(to_e164("+44 20 7946 0958 ext. 12", None).as_deref(), Ok("+442079460958;ext=12"));
        assert_eq!(to_e164("+442079460958;ext=12", None).as_deref(), Ok("+442079460958;ext=12"));
        assert_eq!(to_e164("+442079460958;ext=12", Some(Id::US)).as_deref(), Ok("+442079460958;ext=12"));
        // Two extensions: neither is dropped in silence.
        for two in ["+1 555 010 0199 x5;ext=12", "+44 20 7946 0958 ext. 7;ext=12", "(555) 010-0199 x5 ;ext=12"] {
            assert!(to_e164(two, Some(Id::US)).is_err_and(|e| e.contains("two extensions")), "{two}");
        }
        // An empty extension is left out, so the number reads back.
        assert_eq!(to_e164("+44 20 7946 0958 ext.", None).as_deref(), Ok("+442079460958"));
        assert!(to_e164("555-0100", Some(Id::US)).is_err(), "no area code");
        assert!(to_e164("020 7946 0958", Some(Id::US)).is_err(), "a UK number is not a US one");
        assert_eq!(to_e164("020 7946 0958", Some(Id::GB)).as_deref(), Ok("+442079460958"));
        assert!(to_e164("555 123 4567", None).is_err());
    }

    #[test]
    fn a_number_written_as_north_america_writes_them_is_no_number_of_a_trunk_prefix_country() {
        for (written, region) in [("(212) 555-0143", Id::DE), ("212-555-0143", Id::GB), ("1 212.555.0143", Id::FR)] {
            let e = to_e164(written, Some(region)).expect_err(written);
            assert!(e.contains("written as North America writes them") && e.contains("+1 for North America"), "{e}");
        }
        // With its trunk prefix, or its country code, or in spaces (an
        // Italian mobile), it is the region's own.
        assert_eq!(to_e164("(0212) 555-0143", Some(Id::DE)).as_deref(), Ok("+492125550143"));
        assert_eq!(to_e164("+1 (212) 555-0143", Some(Id::DE)).as_deref(), Ok("+12125550143"));
        assert_eq!(to_e164("347 123 4567", Some(Id::IT)).as_deref(), Ok("+393471234567"));
        // North America's own regions, and one without a trunk prefix
        // (Mexico writes `(999) 123-4567` itself).
        assert_eq!(to_e164("(416) 555-0199", Some(Id::CA)).as_deref(), Ok("+14165550199"));
        assert_eq!(to_e164("(999) 123-4567", Some(Id::MX)).as_deref(), Ok("+529991234567"));
        // Nor one no North American number has: China's 400 numbers.
        assert_eq!(to_e164("400-800-8888", Some(Id::CN)).as_deref(), Ok("+864008008888"));
    }

    #[test]
    fn the_crates_reasons_are_said_in_crmsyncs_words() {
        for (written, why) in [
            ("abc", "no digits to dial"),
            ("+999 1234567", "no country has the code it starts with"),
            ("12345678901234567890123", "too many digits"),
        ] {
            let e = to_e164(written, Some(Id::DE)).expect_err(written);
            assert!(e.contains(why), "{written}: {e}");
        }
    }

    #[test]
    fn mexican_numbers_in_their_old_forms_are_stored_as_dialled_today() {
        for written in ["+52 1 55 1234 5678", "044 55 1234 5678", "045 55 1234 5678", "01 55 1234 5678", "55 1234 5678"]
        {
            assert_eq!(to_e164(written, Some(Id::MX)).as_deref(), Ok("+525512345678"), "{written}");
        }
        assert_eq!(to_e164("+52 1 55 1234 5678", Some(Id::US)).as_deref(), Ok("+525512345678"));
        assert_eq!(to_e164("+52 1 55 1234 5678 x12", None).as_deref(), Ok("+525512345678;ext=12"));
        // Only in Mexico: elsewhere `044` is another country's.
        assert!(!to_e164("044 55 1234 5678", Some(Id::DE)).is_ok_and(|n| n.starts_with("+52")));
    }

    #[test]
    fn a_chinese_number_with_a_digit_missing_or_too_many_is_refused() {
        for (written, stored) in [
            ("010-6552 9988", "+861065529988"),
            ("0755-8888 8888", "+8675588888888"),
            ("+86 10 6552 9988", "+861065529988"),
        ] {
            assert_eq!(to_e164(written, Some(Id::CN)).as_deref(), Ok(stored), "{written}");
        }
        for written in ["010-655299", "0755-8888 88888", "1380013800", "138001380001", "+86 10 655299"] {
            let e = to_e164(written, Some(Id::CN)).expect_err(written);
            assert!(e.contains("not a number of China") || e.contains("not a complete phone number"), "{written}: {e}");
        }
    }

    #[test]
    fn a_trunk_zero_after_the_country_code_is_dropped_as_in_brackets() {
        for (written, stored) in [
            ("+44 020 7946 0018", "+442079460018"),
            ("+49 030 12345678", "+493012345678"),
            ("+49 (030) 12345678", "+493012345678"),
            ("+33 06 12 34 56 78", "+33612345678"),
            ("+61 0412 345 678", "+61412345678"),
            ("+81 03-1234-5678", "+81312345678"),
        ] {
            assert_eq!(to_e164(written, None).as_deref(), Ok(stored), "{written}");
        }
        // Italy's numbers keep their 0 abroad.
        assert_eq!(to_e164("+39 06 1234 5678", None).as_deref(), Ok("+390612345678"));
    }

    #[test]
    fn words_after_a_number_are_dropped_and_full_width_digits_read() {
        for (written, region, stored) in [
            ("01 42 68 53 00 fixe", Id::FR, "+33142685300"),
            ("+33 1 42 68 53 00 fixe", Id::FR, "+33142685300"),
            ("03-1234-5678 FAX", Id::JP, "+81312345678"),
            ("0412 345 678 mob.", Id::AU, "+61412345678"),
            ("044 668 18 00 G", Id::CH, "+41446681800"),
            ("030 12345678 Büro Zentrale", Id::DE, "+493012345678"),
            ("０３－１２３４－５６７８", Id::JP, "+81312345678"),
            ("０９０-１２３４-５６７８", Id::JP, "+819012345678"),
            ("01\u{202f}42\u{202f}68\u{202f}53\u{202f}00", Id::FR, "+33142685300"),
            ("212-555-0143 ext. 12", Id::US, "+12125550143;ext=12"),
            ("1-800-FLOWERS", Id::US, "+18003569377"),
        ] {
            assert_eq!(to_e164(written, Some(region)).as_deref(), Ok(stored), "{written}");
        }
        for (written, region) in [("030 12AB 345", Id::DE), ("+49 30 12AB34", Id::US), ("0171 MOBIL 1", Id::DE)] {
            let e = to_e164(written, Some(region)).expect_err(written);
            assert!(e.contains("letters among its digits"), "{written}: {e}");
        }
    }

    #[test]
    fn a_number_of_a_length_its_country_has_none_of_is_refused() {
        for (written, region) in [
            ("01 42 68 53 000", Id::FR),
            ("06 12 34 56 7", Id::FR),
            ("13800138000", Id::FR),
            ("13800138000", Id::GB),
            ("+33 1 42 68 53 0000", Id::US),
        ] {
            let e = to_e164(written, Some(region)).expect_err(written);
            assert!(e.contains("where its numbers have"), "{written}: {e}");
        }
        let e = to_e164("01 42 68 53 000", Some(Id::FR)).expect_err("ten digits");
        assert!(e.contains("+33: 10 digits after the country code, where its numbers have 9"), "{e}");
        assert_eq!(to_e164("01 42 68 53 00", Some(Id::FR)).as_deref(), Ok("+33142685300"));
    }

    #[test]
    fn e164_numbers_have_a_code_in_use_and_its_length() {
        for ok in ["+12125550143", "+8613800138000", "+49301234567", "+442079460958;ext=12", "+78121234567"] {
            assert!(is_e164(ok), "{ok}");
        }
        for bad in ["+999123456", "+10612345678", "+4930", "12125550143", "+1212555014x", "+12125550143;ext=", "+"] {
            assert!(!is_e164(bad), "{bad}");
        }
    }

    #[test]
    fn russian_numbers_whose_area_starts_with_8_keep_it() {
        for (written, region) in [
            ("8 (812) 123-45-67", Some(Id::RU)),
            ("+7 812 123 45 67", None),
            ("+7 (812) 123-45-67", Some(Id::DE)),
            ("88121234567", Some(Id::RU)),
        ] {
            assert_eq!(to_e164(written, region).as_deref(), Ok("+78121234567"), "{written}");
        }
        assert_eq!(to_e164("8 800 123-45-67", Some(Id::RU)).as_deref(), Ok("+78001234567"));
        assert_eq!(to_e164("8 (495) 123-45-67", Some(Id::RU)).as_deref(), Ok("+74951234567"));
        assert!(is_valid("8 (812) 123-45-67", Some(Id::RU)));
        assert_eq!(in_country("8 (812) 123-45-67", "RU").as_deref(), Some("+78121234567"));
        assert!(to_e164("8 (812) 123-45", Some(Id::RU)).is_err());
        assert!(to_e164("", Some(Id::RU)).is_err());
    }

    #[test]
    fn a_number_is_in_use_only_if_its_kinds_pattern_matches_it_whole() {
        for (number, region, valid) in [
            ("0120-123-4565", Id::JP, false),
            ("0120-123-456", Id::JP, true),
            ("02 234 5678", Id::IE, false),
            ("0800 1234", Id::NO, false),
            ("(010) 123456", Id::CN, false),
            ("06 80 123 4565", Id::HU, false),
            ("06 80 123 456", Id::HU, true),
            ("030 1234567", Id::DE, true),
            ("020 7946 0958", Id::GB, true),
            ("06 12 34 56 78", Id::FR, true),
            ("06 1234 5678", Id::IT, true),
            ("89 12345678", Id::IT, false),
            ("(415) 555-0132", Id::US, true),
        ] {
            assert_eq!(is_valid(number, Some(region)), valid, "{number} in {region:?}");
        }
        assert!(is_valid("+44 20 7946 0958", None));
        assert!(!is_valid("+81 120 123 4565", None));
        assert_eq!(in_country("02 234 5678", "IE"), None, "kept as written");
        assert_eq!(in_country("030 1234567;ext=5", "DE").as_deref(), Some("+49301234567;ext=5"));
        assert_eq!(in_country("030 1234567 ext. 5", "DE").as_deref(), Some("+49301234567;ext=5"));
        assert_eq!(in_country("０３０ １２３４５６７", "DE").as_deref(), Some("+49301234567"));
    }

    #[test]
    fn a_number_without_its_country_reads_as_each_country_would_have_it() {
        let us = readings("(212) 555-0143");
        assert!(us.contains(&"+12125550143".to_string()), "{us:?}");
        let de = readings("030 1234567");
        assert!(de.contains(&"+49301234567".to_string()), "{de:?}");
        assert_eq!(readings(" +1 212 555 0143 "), ["+12125550143"]);
        assert_eq!(readings("0049 30 1234567"), ["+49301234567"]);
        assert!(readings("12").is_empty());
        assert!(readings("ext").is_empty());
    }

    #[test]
    fn a_number_without_its_country_is_read_under_a_calling_code() {
        assert_eq!(calling_code("+442079460958"), Some(44));
        assert_eq!(calling_code("+14155550132;ext=5"), Some(1));
        assert_eq!(calling_code("+8613800138000"), Some(86));
        assert_eq!(calling_code("+9991234567"), None);
        assert_eq!(calling_code("4155550132"), None);
        assert_eq!(under_code("(415) 555-0132", 1).as_deref(), Some("+14155550132"));
        assert_eq!(under_code("020 7946 0958", 44).as_deref(), Some("+442079460958"));
        assert_eq!(under_code("030 1234567 ext. 5", 49).as_deref(), Some("+49301234567;ext=5"));
        assert_eq!(under_code("020 7946 0958", 999), None);
        // Confirmed in a country of the code, not only its main one: a
        // Jersey number is none of Britain's.
        assert!(reads_as("020 7946 0958", "+442079460958"));
        assert!(reads_as("01534 440000", "+441534440000"));
        assert!(reads_as("(415) 555-0132", "+14155550132"));
        // The same digits under a code where they are no number in use.
        assert!(!reads_as("(415) 555-0132", "+444155550132"));
        assert!(!reads_as("020 7946 0958", "+12079460958"));
    }

    #[test]
    fn a_number_dialled_abroad_with_the_regions_own_prefix_is_the_number_dialled() {
        for (input, region) in [
            ("011 44 20 7946 0958", Id::US),
            ("011-44-20-7946-0958", Id::CA),
            ("0011 44 20 7946 0958", Id::AU),
            ("010-44-20-7946-0958", Id::JP),
            ("00 44 20 7946 0958", Id::DE),
            ("810 44 20 7946 0958", Id::RU),
        ] {
            assert_eq!(to_e164(input, Some(region)).as_deref(), Ok("+442079460958"), "{input} in {region:?}");
            assert!(is_valid(input, Some(region)), "{input} in {region:?}");
            assert_eq!(in_country(input, region.as_ref()).as_deref(), Some("+442079460958"), "{input}");
        }
        assert_eq!(to_e164("011 86 138 0013 8000", Some(Id::US)).as_deref(), Ok("+8613800138000"));
        assert_eq!(to_e164("011 44 20 7946 0958 ext. 12", Some(Id::US)).as_deref(), Ok("+442079460958;ext=12"));
        // Numbers of the region are read as before: Sapporo's area 011,
        // an Australian number, a North American one.
        assert_eq!(to_e164("011-211-2345", Some(Id::JP)).as_deref(), Ok("+81112112345"));
        assert_eq!(to_e164("02 9374 4000", Some(Id::AU)).as_deref(), Ok("+61293744000"));
        assert_eq!(to_e164("(212) 555-0143", Some(Id::US)).as_deref(), Ok("+12125550143"));
        // A prefix and no number after it is no number.
        assert!(to_e164("011 0", Some(Id::US)).is_err());
    }
}
