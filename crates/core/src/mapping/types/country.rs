//! Country names and codes to ISO 3166-1 alpha-2.

use std::collections::HashMap;
use std::sync::OnceLock;

/// Looked up several times a row (the country, each phone's region), with
/// keys chosen by no user: hashed with foldhash, not SipHash.
type Index = HashMap<String, &'static str, foldhash::fast::FixedState>;

const TABLE: &str = include_str!("countries.tsv");

/// Lower case, without points and apostrophes, hyphens as spaces
/// (`Pays-Bas` and `Pays Bas`, `U.S.A.` and `usa`).
fn normalize(s: &str) -> String {
    s.trim()
        .chars()
        .filter(|c| !matches!(c, '.' | '\''))
        .map(|c| if c == '-' { ' ' } else { c })
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut map = Index::default();
        for line in TABLE.lines().filter(|l| !l.starts_with('#')) {
            let mut cols = line.split('\t');
            let (Some(a2), Some(a3), Some(name)) = (cols.next(), cols.next(), cols.next()) else {
                continue;
            };
            let zh = cols.next().unwrap_or("");
            let others = cols.next().unwrap_or("");
            for alias in [a2, a3, name, zh].into_iter().chain(others.split(',')) {
                if !alias.trim().is_empty() {
                    map.entry(normalize(alias)).or_insert(a2);
                    // As written too, so the common spellings skip normalizing.
                    map.entry(alias.to_string()).or_insert(a2);
                }
            }
        }
        map
    })
}

/// The alpha-2 code for a code (alpha-2 or alpha-3) or a name in English or
/// Chinese, case and punctuation ignored.
pub fn to_alpha2(input: &str) -> Option<&'static str> {
    let index = index();
    if let Some(code) = index.get(input.trim()) {
        return Some(code);
    }
    let n = normalize(input);
    if let Some(code) = index.get(&n) {
        return Some(code);
    }
    // "Slovakia (Slovak Republic)", "Svalbard & Jan Mayen", "the Netherlands"
    let n = n.replace('&', "and");
    let n = n.strip_prefix("the ").unwrap_or(&n);
    if let Some(code) = index.get(n) {
        return Some(code);
    }
    let before = n.split('(').next().unwrap_or(n).trim();
    index.get(before).copied()
}

/// The English short name of an alpha-2 code.
pub fn name_of(alpha2: &str) -> Option<&'static str> {
    TABLE
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.split('\t').next() == Some(alpha2))
        .and_then(|l| l.split('\t').nth(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_european_languages() {
        for (name, code) in [
            ("Deutschland", "DE"),
            ("Allemagne", "DE"),
            ("Österreich", "AT"),
            ("Suisse", "CH"),
            ("Belgique", "BE"),
            ("België", "BE"),
            ("Pays-Bas", "NL"),
            ("Royaume-Uni", "GB"),
            ("Vereinigte Staaten", "US"),
            ("Estados Unidos", "US"),
            ("États-Unis", "US"),
            ("Spanien", "ES"),
            ("Irlanda", "IE"),
            ("Pays Bas", "NL"),
            ("EE. UU.", "US"),
            ("Bundesrepublik Deutschland", "DE"),
        ] {
            assert_eq!(to_alpha2(name), Some(code), "{name}");
        }
    }

    #[test]
    fn names_codes_and_chinese() {
        assert_eq!(to_alpha2("United States of America"), Some("US"));
        assert_eq!(to_alpha2("usa"), Some("US"));
        assert_eq!(to_alpha2("U.S.A."), Some("US"));
        assert_eq!(to_alpha2("中国"), Some("CN"));
        // Kosovo's code, user-assigned in ISO 3166 and used by the EU,
        // CLDR and the phone metadata.
        assert_eq!((to_alpha2("Kosovo"), to_alpha2("xk"), to_alpha2("Kosovë")), (Some("XK"), Some("XK"), Some("XK")));
        // Names as people write them, without the ISO name's qualifier.
        assert_eq!(to_alpha2("Saint Martin"), Some("MF"));
        // Traditional characters, as Taiwan and Hong Kong write them.
        assert_eq!(to_alpha2("中華人民共和國"), Some("CN"));
        assert_eq!(to_alpha2("中國"), Some("CN"));
        assert_eq!(to_alpha2("臺灣"), Some("TW"));
        assert_eq!(to_alpha2("美國"), Some("US"));
        assert_eq!(to_alpha2("澳門"), Some("MO"));
        assert_eq!(to_alpha2("de"), Some("DE"));
        assert_eq!(to_alpha2("  Cote d'Ivoire "), Some("CI"));
        assert_eq!(to_alpha2("Atlantis"), None);
        assert_eq!(to_alpha2("Slovakia (Slovak Republic)"), Some("SK"));
        assert_eq!(to_alpha2("Svalbard & Jan Mayen Islands"), Some("SJ"));
        assert_eq!(to_alpha2("United States Virgin Islands"), Some("VI"));
        assert_eq!(name_of("JP"), Some("Japan"));
    }
}
