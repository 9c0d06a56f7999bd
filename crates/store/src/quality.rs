//! `report quality`: per field completeness and validity, duplicate
//! candidates, counts. One pass over the records (streamed) plus grouping
//! queries; the result is JSON, which the CLI prints or renders as HTML.

use std::collections::HashMap;

use crmsync_core::mapping::types::{country, currency, email};
use crmsync_core::value::LIST_SEPARATOR;
use crmsync_core::{Entity, Value};
use serde_json::json;

use crate::Store;
use crate::custom::CustomField;
use crate::error::Result;
use crate::export::Options;
use crate::model::{self, Column, Kind};
use crate::sql::{Cell, Param, Sql, placeholders};

/// What a valid value of `field` (stored in `column`) looks like, and
/// whether `text` is one. Dates, times and decimals are valid when the store
/// would take them, by the rules it writes with (`model::stored`).
fn check(field: &str, column: Option<&Column>, text: &str) -> (&'static str, bool) {
    let expected = match column.map(|c| c.kind) {
        Some(Kind::Date) => "a date (YYYY-MM-DD)",
        Some(Kind::DateTime) => "a date and time (ISO 8601)",
        Some(Kind::Decimal) => "a decimal number",
        // (The only list of values the store has: an activity's kind.)
        Some(Kind::Enum(values)) => return ("call, email, meeting or note", values.contains(&text)),
        Some(Kind::DealContacts) => {
            let emails = text.split(LIST_SEPARATOR).all(|e| email(e).is_ok_and(|k| k == e));
            return ("e-mail addresses of contacts, separated by `; `", emails);
        }
        Some(Kind::Tags) => {
            let tags = text.split(LIST_SEPARATOR).all(|t| !t.is_empty() && one_line(t));
            return ("tags, separated by `; `, each on one line without stray spaces", tags);
        }
        _ => return check_text(field, text),
    };
    let stored = column.and_then(|c| model::stored(c, &Value::Text(text.to_string())).ok().flatten());
    // A date is stored as one: a date and time in a date column (written
    // there by another program) is not.
    let valid = match column.map(|c| c.kind) {
        Some(Kind::Date) => stored.as_deref() == Some(text),
        _ => stored.is_some(),
    };
    (expected, valid)
}

fn check_text(field: &str, text: &str) -> (&'static str, bool) {
    match field {
        "email" | "contact.email" => ("an e-mail address", email(text).is_ok_and(|e| e == text)),
        "phone" | "mobile" => (
            "a phone number in E.164, of a country code in use and as many digits as its numbers have \
             (+8613800138000, `;ext=123` for an extension)",
            crmsync_core::mapping::types::phone::is_e164(text),
        ),
        "address.country" => ("an ISO 3166 alpha-2 code", country::to_alpha2(text) == Some(text)),
        "currency" => ("an ISO 4217 code", currency(text).is_ok_and(|c| c == text)),
        "domain" | "company.domain" => ("a domain (example.com)", crate::model::is_domain(text)),
        // Text that may run over lines: notes, a street address, a custom
        // field's value.
        f if matches!(f, "notes" | "address.street" | "company.address.street") || f.starts_with("custom.") => (
            "text without stray spaces or control characters",
            text.trim() == text && !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
        ),
        // A name, a title, a city: one line, words one space apart.
        _ => ("text on one line without stray spaces or control characters", one_line(text)),
    }
}

/// Text of one line: no control character (a tab or a line break in a
/// name breaks lists and matching) or other unseen one (a zero-width
/// space, a line separator), no space at either end or doubled (a
/// no-break space counts: `trim` and `split_whitespace` know it).
fn one_line(text: &str) -> bool {
    text.trim() == text && !text.contains("  ") && !text.chars().any(crmsync_core::value::is_unseen)
}

#[derive(Default)]
struct FieldStats {
    filled: u64,
    valid: u64,
    expected: &'static str,
    invalid: Vec<Invalid>,
}

/// An invalid value, and the record that has it.
struct Invalid {
    id: String,
    label: String,
    value: String,
}

/// Names at least this similar (Jaro-Winkler) at one company are reported
/// as duplicate candidates.
const SIMILAR: f64 = 0.93;
/// And, for names of several words, their last words at least this similar
/// (or one name the other's first words: `John Smith Jr`, `Maria Garcia
/// Lopez`): a shared first name weighs so much in Jaro-Winkler that
/// `Jessica Miller` and `Jessica Latimer` reach `SIMILAR`, where `Jon
/// Smith` and `Jon Smyth`, `Ann Lee` and `Ann Lea` are the pairs to find.
const SIMILAR_LAST: f64 = 0.8;
/// Names compared per company: a huge account is sampled (its first
/// records) so that it cannot make the report quadratic in the store.
const PER_COMPANY: usize = 2000;

/// A name made ready for many comparisons: its characters (lowercased,
/// spaces collapsed) and how many of them fall in each of 64 buckets.
struct Name {
    chars: Vec<char>,
    buckets: [u16; 64],
    /// The last word, in a name of several.
    last: Option<Vec<char>>,
    /// The numbers in it (`2024` of `Renewal 2024`).
    numbers: Vec<u128>,
    /// Its words in order of their letters, in a name of several: `Wei
    /// Zhang` and `Zhang Wei` are one name in two orders.
    sorted: Option<String>,
    /// The name with its umlauts' dots dropped instead (`Muller` of
    /// `Müller`), as systems that cannot store them write it, where it has
    /// any.
    bare: Option<Box<Name>>,
}

impl Name {
    fn new(shown: &str) -> Name {
        let mut name = Name::of(&plain_letters(shown, true), shown);
        if !shown.is_ascii() {
            let bare = Name::of(&plain_letters(shown, false), shown);
            if bare.chars != name.chars {
                name.bare = Some(Box::new(bare));
            }
        }
        name
    }

    fn of(plain: &str, shown: &str) -> Name {
        let words: Vec<&str> = plain.split_whitespace().collect();
        // Words of scripts written without spaces are one (`张 伟` is `张伟`).
        let mut chars: Vec<char> = Vec::with_capacity(plain.len());
        for (i, word) in words.iter().enumerate() {
            let unspaced = |c: Option<char>| c.is_some_and(family_first);
            if i > 0 && !(unspaced(chars.last().copied()) && unspaced(word.chars().next())) {
                chars.push(' ');
            }
            chars.extend(word.chars());
        }
        let mut buckets = [0u16; 64];
        for c in &chars {
            let b = &mut buckets[*c as usize % 64];
            *b = b.saturating_add(1);
        }
        let last = chars.iter().rposition(|c| *c == ' ').map(|at| chars[at + 1..].to_vec());
        let sorted = last.is_some().then(|| {
            let text: String = chars.iter().collect();
            let mut words: Vec<&str> = text.split(' ').collect();
            words.sort_unstable();
            words.join(" ")
        });
        let numbers = shown
            .split(|c: char| !c.is_ascii_digit())
            .filter(|n| !n.is_empty())
            .map(|n| n.parse::<u128>().unwrap_or(u128::MAX))
            .collect();
        Name { chars, buckets, last, numbers, sorted, bare: None }
    }

    /// Whether the two could reach [`SIMILAR`]: an upper bound, never wrong
    /// in the other direction, that costs a fraction of Jaro-Winkler, which
    /// is what made the report take minutes on a million contacts. Jaro
    /// matches at most the characters the two share (a bucket's smaller
    /// count bounds its shared characters from above), and Winkler's prefix
    /// bonus at most closes 0.4 of the remaining gap.
    fn may_match(&self, other: &Name) -> bool {
        let shared: u32 = self.buckets.iter().zip(&other.buckets).map(|(a, b)| u32::from(*a.min(b))).sum();
        if shared == 0 {
            return false;
        }
        let m = f64::from(shared);
        let jaro = (m / self.chars.len() as f64 + m / other.chars.len() as f64 + 1.0) / 3.0;
        0.6 * jaro.min(1.0) + 0.4 >= SIMILAR - 1e-9
    }

    fn similar(&self, other: &Name) -> bool {
        // Names that number what they name apart (`Renewal 2024` and
        // `Renewal 2025`, `Deal 1` and `Deal 12`) are of two records.
        if !self.numbers.is_empty() && !other.numbers.is_empty() && self.numbers != other.numbers {
            return false;
        }
        self.alike(other)
            || self.chars.len() == other.chars.len() && self.sorted.is_some() && self.sorted == other.sorted
            || (self.bare.is_some() || other.bare.is_some())
                && self.bare.as_deref().unwrap_or(self).alike(other.bare.as_deref().unwrap_or(other))
    }

    /// Alike as a whole, and in their last words.
    fn alike(&self, other: &Name) -> bool {
        // (The cheap bound first: it rules out nearly every pair.)
        if !self.may_match(other) {
            return false;
        }
        let lasts_alike = match (&self.last, &other.last) {
            (Some(a), Some(b)) => {
                strsim::generic_jaro_winkler(a, b) >= SIMILAR_LAST
                    || self.chars.starts_with(&other.chars)
                    || other.chars.starts_with(&self.chars)
            }
            _ => true,
        };
        lasts_alike && strsim::generic_jaro_winkler(&self.chars, &other.chars) >= SIMILAR
    }
}

/// Whether names in `c`'s script are written family name first, without
/// spaces (Chinese, Japanese, Korean).
fn family_first(c: char) -> bool {
    matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF)
}

/// A name as the same person's name is written without its accents, or
/// as systems that cannot store them write it: lowercased, umlauts written
/// out (`Müller` as `mueller`, as German spells it without them; `ø` as
/// `oe` and `å` as `aa`, as Danish and Norwegian do: `Søren`, `Soeren`;
/// `Århus`, `Aarhus`) or, not `umlauts`, dropped (`muller`, `soren`), other
/// accents off (`José` as `jose`), letters of their own spelt as in ASCII
/// (`ß` as `ss`), and full-width letters (`ＡＣＭＥ`, as East Asian input
/// methods type them) as the letters they are. (`ue` is not read back as
/// `ü`: `Xue` and `Xu` are two Chinese surnames.)
fn plain_letters(name: &str, umlauts: bool) -> String {
    use unicode_normalization::UnicodeNormalization;
    let lower = name.to_lowercase();
    if lower.is_ascii() {
        return lower;
    }
    let mut out = String::with_capacity(lower.len() + 4);
    // (Compatibility decomposition: full-width `ａ` is `a`, as `é` is `e`
    // and its accent.)
    for c in lower.nfkd() {
        match c {
            // (An umlaut's two dots, as decomposed: an `e` after the vowel.)
            '\u{308}' if umlauts && matches!(out.chars().next_back(), Some('a' | 'o' | 'u')) => out.push('e'),
            // (A ring over an `a`: the `a` again.)
            '\u{30A}' if umlauts && out.ends_with('a') => out.push('a'),
            c if unicode_normalization::char::is_combining_mark(c) => {}
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'ø' if umlauts => out.push_str("oe"),
            'ø' => out.push('o'),
            'ł' => out.push('l'),
            'đ' | 'ð' => out.push('d'),
            'þ' => out.push_str("th"),
            'ı' => out.push('i'),
            c => out.push(c),
        }
    }
    out
}

/// Groups of similar names in one company's list (greedy: each name joins
/// the first earlier name it is similar to, in list order).
fn similar_groups(names: &[&Name]) -> Vec<Vec<usize>> {
    let mut taken = vec![false; names.len()];
    let mut groups = Vec::new();
    for i in 0..names.len() {
        if taken[i] {
            continue;
        }
        let mut group = vec![i];
        for j in i + 1..names.len() {
            if !taken[j] && names[i].similar(names[j]) {
                taken[j] = true;
                group.push(j);
            }
        }
        if group.len() > 1 {
            groups.push(group);
        }
    }
    groups
}

/// A duplicates rule: records alike in `column`, SQL over the record as
/// `t` (or over `from`, where given), and the columns of a record any of
/// which holds the value its group shares (`column` where none are given).
struct SameRule {
    /// The rule's name for scripts (`same_email`), and for people.
    key: &'static str,
    rule: &'static str,
    column: &'static str,
    from: &'static str,
    matching: &'static [&'static str],
}

impl SameRule {
    fn column(key: &'static str, rule: &'static str, column: &'static str) -> Self {
        SameRule { key, rule, column, from: "", matching: &[] }
    }
}

/// Values of `column` that more than one live record has, with how many,
/// most first. The candidates come from the column's index alone (deleted
/// records included) and are then counted without the deleted ones: asking
/// for live records at once read `deleted_at` from the table for every
/// indexed value, a random read each.
fn same_value(db: &mut dyn Sql, table: &str, column: &str) -> Result<Vec<(String, i64)>> {
    let sql = format!(
        "SELECT {column} FROM {table} WHERE {column} IS NOT NULL AND {column} <> '' GROUP BY {column} HAVING count(*) > 1"
    );
    let candidates: Vec<String> =
        db.query(&sql, &[])?.into_iter().filter_map(|r| r.into_iter().next()?.into_text()).collect();
    // Each value's live records, by id.
    let mut members: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for part in candidates.chunks(500) {
        let sql = format!(
            "SELECT {column}, t.id FROM {table} WHERE t.deleted_at IS NULL AND {column} IN ({})",
            placeholders(part.len())
        );
        let params: Vec<Param> = part.iter().map(Param::from).collect();
        for r in db.query(&sql, &params)? {
            let mut r = r.into_iter();
            if let (Some(value), Some(id)) = (r.next().and_then(Cell::into_text), r.next().and_then(Cell::into_text)) {
                members.entry(value).or_default().push(id);
            }
        }
    }
    let mut groups: Vec<(String, Vec<String>)> = members.into_iter().filter(|(_, ids)| ids.len() > 1).collect();
    for (_, ids) in &mut groups {
        ids.sort();
    }
    groups.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(&b.0)));
    // The same records alike in two values (two contacts whose phone and
    // mobile are swapped) are one group, under its first value.
    let mut seen = std::collections::HashSet::new();
    groups.retain(|(_, ids)| seen.insert(ids.clone()));
    Ok(groups.into_iter().map(|(value, ids)| (value, ids.len() as i64)).collect())
}

/// The SQL of the three columns a record of table alias `t` is shown by
/// (see [`shown`]): a contact's full, first and last name; another
/// record's name or subject.
fn shown_columns(entity: Entity) -> &'static str {
    match entity {
        Entity::Contacts => "t.full_name, t.first_name, t.last_name",
        Entity::Activities => "t.subject, NULL, NULL",
        _ => "t.name, NULL, NULL",
    }
}

/// The name a record is shown by, from its [`shown_columns`]: the full
/// name, or first and last name when it has none, family name first
/// where names are so written (`张伟` of 伟 and 张).
fn shown(cells: &[Cell]) -> String {
    let text = |i: usize| cells.get(i).and_then(Cell::text).unwrap_or_default();
    let (full, first, last) = (text(0), text(1).trim(), text(2).trim());
    if !full.trim().is_empty() {
        return full.to_string();
    }
    let family_first_name = |s: &str| s.chars().all(family_first);
    if !first.is_empty() && !last.is_empty() && family_first_name(first) && family_first_name(last) {
        return format!("{last}{first}");
    }
    format!("{first} {last}").trim().to_string()
}

/// One record in a company's list: its name made ready to compare, and
/// how the report lists it.
struct Person {
    name: Name,
    member: Member,
}

/// A record of a group, as the report lists it: by id, label (e-mail or
/// name) and the name it is shown by.
#[derive(Clone)]
struct Member {
    id: String,
    label: String,
    name: String,
}

/// A group of records as the report lists it.
fn example(value: &str, records: u64, members: &[Member]) -> serde_json::Value {
    json!({
        "value": value,
        "records": records,
        "ids": members.iter().map(|m| &m.id).collect::<Vec<_>>(),
        "labels": members.iter().map(|m| &m.label).collect::<Vec<_>>(),
        "names": members.iter().map(|m| &m.name).collect::<Vec<_>>(),
    })
}

/// Companies of one name as import matches names (without case,
/// punctuation or legal form: `Acme, Inc.` and `ACME Inc`), and also
/// without accents, umlauts written out or dropped (`Müller GmbH`,
/// `Mueller GmbH`, `Muller GmbH`), as systems that cannot store them write
/// them. (Import does not merge those: two companies may differ by an
/// accent alone. The report names them for a person to look at.) Names
/// that give other legal forms are other companies, as to import (`Acme BV`
/// and `Acme AG`), unless one of that name gives none (`Acme`).
fn same_company_names(db: &mut dyn Sql, listed: usize) -> Result<serde_json::Value> {
    let rows = db.query(
        "SELECT name_key, id, name FROM companies WHERE deleted_at IS NULL AND name_key IS NOT NULL \
         AND name_key <> ''",
        &[],
    )?;
    // Each distinct key (with the legal form the name gives, after a
    // U+001F), its records, and the group it joins: keys alike in either
    // folding are one group (a small union-find over keys).
    let mut keys: Vec<(String, Vec<String>)> = Vec::new();
    let mut key_at: HashMap<String, usize> = HashMap::default();
    for r in rows {
        let mut r = r.into_iter().map(Cell::into_text);
        let (Some(key), Some(id)) = (r.next().flatten(), r.next().flatten()) else {
            continue;
        };
        let key = match r.next().flatten().as_deref().and_then(model::legal_form) {
            Some(form) => format!("{key}\u{1f}{form}"),
            None => key,
        };
        match key_at.get(&key) {
            Some(&at) => keys[at].1.push(id),
            None => {
                key_at.insert(key.clone(), keys.len());
                keys.push((key, vec![id]));
            }
        }
    }
    let mut parent: Vec<usize> = (0..keys.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut folded: HashMap<String, usize> = HashMap::default();
    for (i, (key, _)) in keys.iter().enumerate() {
        for f in [plain_letters(key, true), plain_letters(key, false)] {
            match folded.get(&f) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                }
                None => {
                    folded.insert(f, i);
                }
            }
        }
    }
    // A name without a form is alike to each form of it.
    for (i, (key, _)) in keys.iter().enumerate() {
        let Some((bare, _)) = key.split_once('\u{1f}') else { continue };
        for f in [plain_letters(bare, true), plain_letters(bare, false)] {
            if let Some(&j) = folded.get(&f) {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::default();
    for i in 0..keys.len() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    // (records, the key most of them have, their ids in order)
    let mut found: Vec<(usize, String, Vec<String>)> = groups
        .into_values()
        .filter_map(|members| {
            let records: usize = members.iter().map(|&i| keys[i].1.len()).sum();
            if records < 2 {
                return None;
            }
            let most = members
                .iter()
                .max_by(|&&a, &&b| keys[a].1.len().cmp(&keys[b].1.len()).then_with(|| keys[b].0.cmp(&keys[a].0)))?;
            let mut ids: Vec<String> = members.iter().flat_map(|&i| keys[i].1.iter().cloned()).collect();
            ids.sort_unstable();
            let key = &keys[*most].0;
            Some((records, key.split_once('\u{1f}').map_or(key.as_str(), |(bare, _)| bare).to_string(), ids))
        })
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let records_in: usize = found.iter().map(|(n, _, _)| n).sum();
    // The listed groups' records (their first 20 each), read at once.
    let shown_ids: Vec<&String> = found.iter().take(listed).flat_map(|(_, _, ids)| ids.iter().take(20)).collect();
    let mut by_id: HashMap<String, Member> = HashMap::default();
    for part in shown_ids.chunks(500) {
        let sql = format!(
            "SELECT t.id, t.{}, {} FROM companies t WHERE t.id IN ({})",
            model::label_field(Entity::Companies),
            shown_columns(Entity::Companies),
            placeholders(part.len())
        );
        let params: Vec<Param> = part.iter().map(|id| Param::from(id.as_str())).collect();
        for r in db.query(&sql, &params)? {
            let text = |i: usize| r.get(i).and_then(Cell::text).unwrap_or_default().to_string();
            by_id.insert(text(0), Member { id: text(0), label: text(1), name: shown(&r[2..]) });
        }
    }
    let examples: Vec<serde_json::Value> = found
        .iter()
        .take(listed)
        .map(|(records, key, ids)| {
            let members: Vec<Member> = ids.iter().take(20).filter_map(|id| by_id.get(id).cloned()).collect();
            example(key, *records as u64, &members)
        })
        .collect();
    Ok(json!({
        "key": "same_name",
        "rule": "same name",
        "groups": found.len(),
        "records": records_in,
        "examples": examples,
    }))
}

/// Similar names at the same company, reading the records company by
/// company so that only one company's names are held at a time.
fn similar_names(db: &mut dyn Sql, entity: Entity, listed: usize) -> Result<serde_json::Value> {
    let label = format!("t.{}", model::label_field(entity));
    // Written so that SQLite scans the table and sorts, rather than walk the
    // company index with a random read of the table per record (twice as
    // slow on a million contacts).
    let sql = format!(
        "SELECT t.company_id, t.id, {label}, {} FROM {} t \
         WHERE t.deleted_at IS NULL ORDER BY coalesce(t.company_id, ''), {}",
        shown_columns(entity),
        entity.name(),
        db.backend().creation_order()
    );
    let mut groups = 0u64;
    let mut in_groups = 0u64;
    // Records past a company's first PER_COMPANY, compared by exact name
    // only, and at how many companies.
    let (mut exact_only, mut exact_companies) = (0u64, 0u64);
    // (company id, members) of the first groups found.
    let mut examples: Vec<(String, Vec<Member>)> = Vec::new();
    let mut company = String::new();
    let mut people: Vec<Person> = Vec::new();
    // (Past the first: a hash of the name, and the id; a huge account's
    // records are many.)
    let mut beyond: Vec<(u64, String)> = Vec::new();
    let hash = |chars: &[char]| {
        use std::hash::BuildHasher as _;
        foldhash::fast::FixedState::with_seed(0).hash_one(chars)
    };
    let mut finish = |company: &str, people: &mut Vec<Person>, beyond: &mut Vec<(u64, String)>| {
        let names: Vec<&Name> = people.iter().map(|p| &p.name).collect();
        // Members by their place: among `people` (< their count), or
        // `beyond` them.
        let mut found: Vec<Vec<usize>> = similar_groups(&names);
        if !beyond.is_empty() {
            if !company.is_empty() {
                exact_only += beyond.len() as u64;
                exact_companies += 1;
            }
            // A name's group, or the first record of it not yet in one.
            let mut by_name: std::collections::HashMap<u64, (Option<usize>, usize)> = Default::default();
            for (g, group) in found.iter().enumerate() {
                for &i in group {
                    by_name.insert(hash(&people[i].name.chars), (Some(g), i));
                }
            }
            for (i, p) in people.iter().enumerate() {
                by_name.entry(hash(&p.name.chars)).or_insert((None, i));
            }
            for (j, (name, _)) in beyond.iter().enumerate() {
                let at = people.len() + j;
                match by_name.get_mut(name) {
                    Some((Some(g), _)) => found[*g].push(at),
                    Some((slot, first)) => {
                        found.push(vec![*first, at]);
                        *slot = Some(found.len() - 1);
                    }
                    None => {
                        by_name.insert(*name, (None, at));
                    }
                }
            }
        }
        for group in found {
            groups += 1;
            in_groups += group.len() as u64;
            if examples.len() < listed {
                // (Those past the first, by id: the rest is read below.)
                let member = |i: usize| match people.get(i) {
                    Some(p) => p.member.clone(),
                    None => {
                        Member { id: beyond[i - people.len()].1.clone(), label: String::new(), name: String::new() }
                    }
                };
                examples.push((company.to_string(), group.into_iter().map(member).collect()));
            }
        }
        people.clear();
        beyond.clear();
    };
    db.query_each(&sql, &[], &mut |row| {
        let name = shown(&row[3..]);
        let mut row = row.into_iter().map(Cell::into_text);
        let mut next = || row.next().flatten().unwrap_or_default();
        let (of, id, label) = (next(), next(), next());
        if of != company {
            finish(&company, &mut people, &mut beyond);
            company = of;
        }
        if !name.trim().is_empty() {
            let member = Member { id, label, name: name.trim().to_string() };
            if company.is_empty() {
                // Records without a company are alike by their whole name
                // only, given and family name both (`Ann` alone is many
                // people): nothing else says two unlike names are one
                // person's. (`Jean-Luc` is `Jean Luc`.)
                let whole = name.replace('-', " ");
                let words = whole.split_whitespace().count();
                if words >= 2 || words == 1 && whole.trim().chars().filter(|c| family_first(*c)).count() >= 2 {
                    beyond.push((hash(&Name::new(&whole).chars), member.id));
                }
            } else if people.len() < PER_COMPANY {
                people.push(Person { name: Name::new(&name), member });
            } else {
                beyond.push((hash(&Name::new(&name).chars), member.id));
            }
        }
        Ok(())
    })?;
    finish(&company, &mut people, &mut beyond);
    let mut shown = Vec::new();
    let by_id = format!("SELECT {label}, {} FROM {} t WHERE t.id = ?", shown_columns(entity), entity.name());
    for (id, mut members) in examples {
        for m in members.iter_mut().filter(|m| m.name.is_empty()) {
            if let Some(row) = db.query_row(&by_id, &[m.id.as_str().into()])? {
                m.label = row.first().and_then(Cell::text).unwrap_or_default().to_string();
                m.name = self::shown(&row[1..]).trim().to_string();
            }
        }
        let row = db.query_row("SELECT name FROM companies WHERE id = ?", &[id.as_str().into()])?;
        let value = match row.and_then(|r| r.into_iter().next()).and_then(Cell::into_text) {
            Some(name) => name,
            None if id.is_empty() => "(no company)".to_string(),
            None => id,
        };
        shown.push(example(&value, members.len() as u64, &members));
    }
    Ok(json!({
        "key": "similar_name",
        "rule": "similar name at the same company (the same name, without one)",
        "groups": groups,
        "records": in_groups,
        "examples": shown,
        "exact_only": {"records": exact_only, "companies": exact_companies, "past": PER_COMPANY},
    }))
}

/// What activities alike are alike in, as the report shows it: kind,
/// subject (as `subject`, the first record's, writes it) and time (in UTC,
/// the same on both backends).
fn activity_shown(value: &str, subject: Option<&str>) -> String {
    let mut parts: Vec<String> = value.split('|').take(3).map(str::to_string).collect();
    if let (Some(part), Some(subject)) = (parts.get_mut(1), subject) {
        *part = subject.to_string();
    }
    if let Some(time) = parts.get_mut(2) {
        *time = model::parse_time(time).map_or_else(|| time.clone(), |t| utc_seconds(&t));
    }
    parts.retain(|p| !p.is_empty());
    parts.join(", ")
}

/// A stored time to the second, as ISO 8601 in UTC (`2024-05-01T10:00:00Z`).
fn utc_seconds(stored: &str) -> String {
    format!("{}Z", model::short_time(stored).replacen(' ', "T", 1).trim_end_matches('Z'))
}

impl Store {
    /// The quality report of an entity, as JSON.
    /// `listed`: how many duplicate groups of each kind, and invalid values
    /// of each field, are listed (all are counted).
    pub fn quality(&mut self, entity: Entity, listed: usize) -> Result<serde_json::Value> {
        // Records removed (by an undo: tombstones in the audit trail, as
        // `export --include-deleted` writes them) and any marked deleted.
        let deleted = {
            let table = entity.name();
            let sql = format!(
                "SELECT (SELECT count(*) FROM {table} WHERE deleted_at IS NOT NULL) + \
                 (SELECT count(DISTINCT a.record_id) FROM audit a WHERE a.entity = ? AND a.op = 'delete' \
                 AND NOT EXISTS (SELECT 1 FROM {table} t WHERE t.id = a.record_id))"
            );
            self.db.query_count(&sql, &[Param::from(table)])?
        };
        let declared = crate::custom::declared(self.db.as_mut(), entity)?;
        // Every field an export gives, and the record's id to name it by.
        let fields: Vec<String> =
            self.export(entity, &Options::default())?.fields().iter().map(|k| k.to_string()).collect();
        let read = Options { fields: fields.iter().cloned().chain(["id".to_string()]).collect(), ..Options::default() };
        let mut export = self.export(entity, &read)?;
        let columns: Vec<Option<&Column>> =
            fields.iter().map(|f| model::position(entity, f).map(|p| &model::columns(entity)[p])).collect();
        // Declared custom fields are valid in their type, as import would
        // store them now (a value stored before the declaration changed may
        // not be).
        let declared: Vec<Option<&CustomField>> = fields
            .iter()
            .map(|f| f.strip_prefix("custom.").and_then(|n| declared.iter().find(|d| d.name == n)))
            .collect();
        let mut stats: Vec<FieldStats> = fields.iter().map(|_| FieldStats::default()).collect();
        let mut records: u64 = 0;
        // One buffer for every value's text: no allocation per field.
        let mut text = String::new();
        export.read(&mut |rec| {
            records += 1;
            let (values, id) = rec.fields().split_at(fields.len());
            for (i, (k, v)) in values.iter().enumerate() {
                // An empty list (a record without tags) is no value either,
                // nor is a cell of spaces.
                let blank = match v {
                    Value::Array(items) => items.is_empty(),
                    Value::Text(t) => t.trim().is_empty(),
                    v => v.is_empty(),
                };
                if blank {
                    continue;
                }
                let s = &mut stats[i];
                s.filled += 1;
                text.clear();
                match v {
                    Value::Array(items) => {
                        for (n, item) in items.iter().enumerate() {
                            if n > 0 {
                                text.push_str(LIST_SEPARATOR);
                            }
                            item.write_text(&mut text);
                        }
                    }
                    v => v.write_text(&mut text),
                }
                let (expected, ok) = match declared[i] {
                    Some(d) => (
                        "",
                        d.check(&serde_json::Value::String(text.clone()))
                            .is_ok_and(|v| crate::import::json_text(&v) == text),
                    ),
                    None => check(k, columns[i], &text),
                };
                s.expected = expected;
                if ok {
                    s.valid += 1;
                } else if s.invalid.len() < listed {
                    let id = id.first().map(|(_, v)| v.to_text()).unwrap_or_default();
                    let label = rec.get(model::label_field(entity)).map(Value::to_text).unwrap_or_default();
                    s.invalid.push(Invalid { id, label, value: text.clone() });
                }
            }
            Ok(())
        })?;
        drop(export);

        let mut duplicates = Vec::new();
        // (SQL over the record as `t`.)
        let same: Vec<SameRule> = match entity {
            Entity::Contacts => vec![
                SameRule::column("same_email", "same email", "t.email"),
                // A number is a contact's whether given as its phone or as
                // its mobile: a person entered twice has it in either. (Once
                // per contact, so that one with the same number in both is
                // no group of its own.)
                SameRule {
                    key: "same_phone",
                    rule: "same phone",
                    column: "t.number",
                    from: "(SELECT id, deleted_at, phone AS number FROM contacts WHERE phone IS NOT NULL \
                           UNION ALL SELECT id, deleted_at, mobile FROM contacts \
                           WHERE mobile IS NOT NULL AND (phone IS NULL OR mobile <> phone)) t",
                    matching: &["t.phone", "t.mobile"],
                },
            ],
            // (Names: see `same_company_names`.)
            Entity::Companies => vec![SameRule::column("same_domain", "same domain", "t.domain")],
            // An activities file imported twice, without ids to match by,
            // is in twice: each record alike in all that says what happened
            // (the subject in any case: `Intro call`, `intro call`).
            Entity::Activities => vec![SameRule::column(
                "same_activity",
                "same kind, subject, time, contact, company and deal",
                "t.kind || '|' || lower(coalesce(t.subject, '')) || '|' || coalesce(CAST(t.occurred_at AS TEXT), '') || '|' || \
                 coalesce(t.contact_id, '') || '|' || coalesce(t.company_id, '') || '|' || coalesce(t.deal_id, '')",
            )],
            Entity::Deals => vec![],
        };
        let label = model::label_field(entity);
        for SameRule { key, rule, column, from, matching } in same {
            let from = if from.is_empty() { format!("{} t", entity.name()) } else { from.to_string() };
            let groups = same_value(self.db.as_mut(), &from, column)?;
            let records_in: i64 = groups.iter().map(|(_, n)| n).sum();
            // The examples' records, read at once (a column without an
            // index, as a contact's mobile, is read through once, not once
            // per example), each with the values it is alike in.
            let values: Vec<&str> = groups.iter().take(listed).map(|(v, _)| v.as_str()).collect();
            let alike: &[&str] = if matching.is_empty() { &[column] } else { matching };
            let mut found: Vec<Vec<Cell>> = Vec::new();
            // (id, label, the three shown columns, then the alike values.)
            const ALIKE_AT: usize = 5;
            for part in values.chunks(500) {
                let sql = format!(
                    "SELECT t.id, t.{label}, {}, {} FROM {} t WHERE ({}) AND t.deleted_at IS NULL ORDER BY t.id",
                    shown_columns(entity),
                    alike.join(", "),
                    entity.name(),
                    alike
                        .iter()
                        .map(|c| format!("{c} IN ({})", placeholders(part.len())))
                        .collect::<Vec<_>>()
                        .join(" OR ")
                );
                let params: Vec<Param> = alike.iter().flat_map(|_| part.iter().map(|v| Param::from(*v))).collect();
                found.extend(self.db.query(&sql, &params)?);
            }
            let mut examples = Vec::new();
            for (value, (_, in_group)) in values.into_iter().zip(&groups) {
                // (A large group lists its first records.)
                let members: Vec<Member> = found
                    .iter()
                    .filter(|r| r.iter().skip(ALIKE_AT).any(|c| c.text() == Some(value)))
                    .take(20)
                    .map(|r| {
                        let text = |i: usize| r.get(i).and_then(Cell::text).unwrap_or_default().to_string();
                        Member { id: text(0), label: text(1), name: shown(&r[2..ALIKE_AT]) }
                    })
                    .collect();
                // (Activities alike by what happened, not by their links' ids.)
                let value = match entity {
                    Entity::Activities => activity_shown(value, members.first().map(|m| m.name.as_str())),
                    _ => value.to_string(),
                };
                examples.push(example(&value, *in_group as u64, &members));
            }
            duplicates.push(
                json!({"key": key, "rule": rule, "groups": groups.len(), "records": records_in, "examples": examples}),
            );
        }
        if matches!(entity, Entity::Contacts | Entity::Deals) {
            duplicates.push(similar_names(self.db.as_mut(), entity, listed)?);
        }
        if entity == Entity::Companies {
            duplicates.push(same_company_names(self.db.as_mut(), listed)?);
        }

        let mut completeness_sum = 0.0;
        let mut validity_sum = 0.0;
        let mut validity_n = 0.0;
        let field_json: Vec<serde_json::Value> = fields
            .iter()
            .zip(&stats)
            .zip(columns.iter().zip(&declared))
            .map(|((f, s), (column, declared))| {
                let completeness = if records == 0 { 0.0 } else { s.filled as f64 / records as f64 };
                completeness_sum += completeness;
                let validity = (s.filled > 0).then(|| s.valid as f64 / s.filled as f64);
                if let Some(v) = validity {
                    validity_sum += v;
                    validity_n += 1.0;
                }
                json!({
                    "field": f,
                    "filled": s.filled,
                    "completeness": (records > 0).then(|| round(completeness)),
                    "valid": s.valid,
                    "invalid": s.filled - s.valid,
                    "validity": validity.map(round),
                    "expected": match declared {
                        Some(d) => d.expected(),
                        None if s.expected.is_empty() => check(f, *column, "").0.to_string(),
                        None => s.expected.to_string(),
                    },
                    "invalid_examples": s
                        .invalid
                        .iter()
                        .map(|i| json!({"id": i.id, "label": i.label, "value": i.value}))
                        .collect::<Vec<_>>(),
                })
            })
            .collect();
        let dup_records: u64 = duplicates.iter().map(|d| d["records"].as_u64().unwrap_or(0)).sum();
        let completeness = if fields.is_empty() { 0.0 } else { completeness_sum / fields.len() as f64 };
        let validity = if validity_n > 0.0 { validity_sum / validity_n } else { 1.0 };
        let unique = if records == 0 { 1.0 } else { 1.0 - (dup_records as f64 / records as f64).min(1.0) };
        // (No records, no score: nothing to be good or bad.)
        let score = (records > 0).then(|| round(0.4 * completeness + 0.4 * validity + 0.2 * unique));
        Ok(json!({
            "entity": entity.name(),
            "store": self.location(),
            "generated_at": utc_seconds(&model::now_text()),
            "records": records,
            "deleted": deleted,
            "score": score,
            "fields": field_json,
            "duplicates": duplicates,
            "label": label,
        }))
    }
}

/// A share to six places: shown with one decimal, it rounds as the exact
/// share does (6 of 11 is 54.5%; kept to four places, 0.5455, it showed
/// as 54.6%).
fn round(x: f64) -> f64 {
    (x * 1_000_000.0).round() / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_times_and_decimals_are_valid_as_the_store_takes_them() {
        let column = |entity, field| Some(&model::columns(entity)[model::position(entity, field).expect(field)]);
        let (amount, close, occurred) = (
            column(Entity::Deals, "amount"),
            column(Entity::Deals, "close_date"),
            column(Entity::Activities, "occurred_at"),
        );
        let long = format!("{}.5", "9".repeat(401));
        for ok in ["0", "12.50", "-3", ".5", long.as_str()] {
            assert_eq!(check("amount", amount, ok), ("a decimal number", true), "{ok}");
        }
        for bad in ["", ".", "1e5", "1.2.3", "abc"] {
            assert!(!check("amount", amount, bad).1, "{bad}");
        }
        assert_eq!(check("close_date", close, "2024-03-11"), ("a date (YYYY-MM-DD)", true));
        assert!(!check("close_date", close, "11/03/2024x").1);
        for ok in ["2024-03-11T00:00:00Z", "2024-03-11T09:30:00.123456Z"] {
            assert_eq!(check("occurred_at", occurred, ok), ("a date and time (ISO 8601)", true), "{ok}");
        }
        assert!(!check("occurred_at", occurred, "yesterday").1);
    }

    #[test]
    fn names_are_folded_as_they_are_written_without_their_letters() {
        assert_eq!(plain_letters("Müller", true), "mueller");
        assert_eq!(plain_letters("Müller", false), "muller");
        assert_eq!(plain_letters("Søren Ørsted", true), "soeren oersted");
        assert_eq!(plain_letters("Søren Ørsted", false), "soren orsted");
        assert_eq!(plain_letters("Århus", true), "aarhus");
        assert_eq!(plain_letters("Åsa", false), "asa");
        assert_eq!(plain_letters("ＡＣＭＥ Ｔｒａｄｉｎｇ", true), "acme trading");
        assert_eq!(plain_letters("José Straße", true), "jose strasse");
        assert_eq!(plain_letters("张伟", true), "张伟");
    }

    /// Names with the typos similar-name detection is for: a letter
    /// dropped, doubled, swapped or changed, spacing, case, other scripts.
    fn variants(seed: &str) -> Vec<String> {
        let chars: Vec<char> = seed.chars().collect();
        let mut out = vec![seed.to_string(), seed.to_uppercase(), format!(" {seed}  ")];
        for i in 0..chars.len() {
            let mut c = chars.clone();
            c.remove(i);
            out.push(c.iter().collect());
            let mut c = chars.clone();
            c.insert(i, chars[i]);
            out.push(c.iter().collect());
            let mut c = chars.clone();
            c[i] = 'x';
            out.push(c.iter().collect());
            if i + 1 < chars.len() {
                let mut c = chars.clone();
                c.swap(i, i + 1);
                out.push(c.iter().collect());
            }
        }
        out
    }

    #[test]
    fn phones_are_valid_in_e164_with_or_without_an_extension() {
        for (text, valid) in [
            ("+17306824633", true),
            ("+15550100001;ext=123", true),
            ("+15550100001;ext=", false),
            ("+15550100001;ext=12345678", false),
            ("+15550100001;ext=12a", false),
            ("555-010-0001", false),
            ("+1555", false),
            // No country has the code; no North American area starts with 0.
            ("+999123456", false),
            ("+10612345678", false),
            ("+49301234567", true),
        ] {
            assert_eq!(check_text("phone", text).1, valid, "{text}");
        }
    }

    #[test]
    fn the_cheap_bound_never_rules_out_a_similar_pair() {
        let seeds = [
            "Ada Lovelace",
            "Alan Turing",
            "Grace Hopper",
            "Al Tu",
            "李小龙",
            "王芳",
            "Jo",
            "Edsger W. Dijkstra",
            "Katherine Johnson",
            "Kathryn Jonson",
            "Mary Jones",
            "John Smith",
        ];
        let names: Vec<String> = seeds.iter().flat_map(|s| variants(s)).collect();
        let prepared: Vec<Name> = names.iter().map(|n| Name::new(n)).collect();
        let (mut similar, mut ruled_out) = (0, 0);
        for (i, a) in prepared.iter().enumerate() {
            for (j, b) in prepared.iter().enumerate() {
                let jw = strsim::generic_jaro_winkler(&a.chars, &b.chars);
                if jw >= SIMILAR {
                    similar += 1;
                    assert!(a.may_match(b), "{:?} ~ {:?} ({jw}) was ruled out", names[i], names[j]);
                } else if !a.may_match(b) {
                    ruled_out += 1;
                }
            }
        }
        // Both sides are exercised: many similar pairs, and most others skipped.
        assert!(similar > 1000, "{similar}");
        assert!(ruled_out > prepared.len() * prepared.len() / 2, "{ruled_out}");
    }

    #[test]
    fn names_of_several_words_are_alike_only_with_their_last_words() {
        let alike = |a: &str, b: &str| Name::new(a).similar(&Name::new(b));
        assert!(alike("Jon Smith", "John Smith"));
        assert!(alike("Jon Smith", "Jon Smyth"));
        assert!(alike("Ann Lee", "Ann Lea"));
        assert!(alike("John Smith", "John Smith Jr"));
        assert!(alike("Maria Garcia", "Maria Garcia Lopez"));
        assert!(alike("Katherine Johnson", "Katharine Johnson"));
        assert!(alike("Ada Lovelace", "ada  LOVELAC"));
        assert!(alike("张伟", "张伟"));
        // Spelt without accents, or with umlauts written out.
        assert!(alike("Hans Müller", "Hans Mueller"));
        assert!(alike("Jürgen Müller", "Jurgen Muller"));
        assert!(alike("José Garcia", "Jose García"));
        assert!(alike("Søren Kierkegaard", "Soren Kierkegaard"));
        assert!(alike("Grüße GmbH", "Gruesse GmbH"));
        assert!(!alike("Hans Müller", "Hans Maier"));
        assert!(!alike("Xue Yue", "Xu Yu"), "two Chinese names, not one spelt two ways");
        assert!(alike("Hans Mueller", "Hans Muller"));
        // One name in another order, or spaced.
        assert!(alike("Wei Zhang", "Zhang Wei"));
        assert!(alike("张 伟", "张伟"));
        assert!(alike("王 小明", "王小明"));
        assert!(!alike("Wei Zhang", "Li Wei"));
        assert!(!alike("Jessica Miller", "Jessica Latimer"));
        assert!(!alike("Michael O'Neil", "Michael Olsen"));
        // Numbered apart: deals of two years, of a sequence.
        assert!(!alike("Renewal 2024", "Renewal 2025"));
        assert!(!alike("Deal 1", "Deal 1239"));
        assert!(!alike("Q3 upsell 2024", "Q4 upsell 2024"));
        assert!(alike("Renewal 2024", "renewal  2024"));
        assert!(alike("Renewal 2024", "Renewel 2024"));
        assert!(alike("Website redesign", "Website redesign 2"));
    }

    #[test]
    fn groups_are_greedy_in_list_order() {
        let names: Vec<Name> =
            ["Ada Lovelace", "Alan Turing", "ada  lovelace", "Ada Lovelac", "Alan Turin"].map(Name::new).into();
        let refs: Vec<&Name> = names.iter().collect();
        assert_eq!(similar_groups(&refs), vec![vec![0, 2, 3], vec![1, 4]]);
        assert!(similar_groups(&refs[..2]).is_empty());
        assert!(!Name::new("John Smith").may_match(&Name::new("Mary Jones")));
    }
}
