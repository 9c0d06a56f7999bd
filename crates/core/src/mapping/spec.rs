//! The mapping file as written (TOML), before it is checked and compiled.
//! Every table refuses keys it does not know, so a typo is an error with its
//! line instead of a setting that silently does nothing.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingSpec {
    pub entity: Spanned<String>,
    #[serde(default)]
    pub source: SourceSpec,
    #[serde(default)]
    pub key: KeySpec,
    pub fields: FieldList,
}

/// How to read the source; anything left out is detected.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    pub format: Option<String>,
    pub encoding: Option<String>,
    pub delimiter: Option<String>,
    pub quote: Option<String>,
    pub escape: Option<String>,
    pub header: Option<bool>,
    /// The row the header is on (1-based), rows above it passed over.
    pub header_row: Option<u64>,
    pub record_path: Option<String>,
    pub sheet: Option<SheetRef>,
}

/// A sheet by name or by 1-based index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SheetRef {
    Name(String),
    Index(usize),
}

impl<'de> Deserialize<'de> for SheetRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = SheetRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sheet name or a 1-based sheet number")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<SheetRef, E> {
                Ok(SheetRef::Name(s.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<SheetRef, E> {
                usize::try_from(n)
                    .ok()
                    .filter(|n| *n >= 1)
                    .map(SheetRef::Index)
                    .ok_or_else(|| E::custom("sheet numbers start at 1"))
            }
        }
        d.deserialize_any(V)
    }
}

/// How records are matched: by mapped fields, or by another system's id.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySpec {
    #[serde(default)]
    pub fields: Vec<String>,
    pub external_id: Option<ExternalIdSpec>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalIdSpec {
    pub system: String,
    pub from: String,
}

/// How exports and flat files name a record's id in another system:
/// `external_id.erp`, beside `custom.<name>`.
pub const EXTERNAL_ID_PREFIX: &str = "external_id.";

/// The system a field such as `external_id.erp` names.
pub fn external_system(field: &str) -> Option<&str> {
    field.strip_prefix(EXTERNAL_ID_PREFIX).filter(|s| !s.is_empty())
}

impl ExternalIdSpec {
    /// The field an export gives this system's ids in.
    pub fn field(&self) -> String {
        format!("{EXTERNAL_ID_PREFIX}{}", self.system)
    }
}

/// `[fields]` in the order written: the order of the output's columns.
#[derive(Debug, Default)]
pub struct FieldList(pub Vec<(Spanned<String>, FieldSpec)>);

impl<'de> Deserialize<'de> for FieldList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FieldList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a table of target fields")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldList, A::Error> {
                let mut out = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    out.push((key, map.next_value::<FieldSpec>()?));
                }
                Ok(FieldList(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// One target field: a plain rename (`email = "E-mail"`) or a full rule.
#[derive(Debug)]
pub enum FieldSpec {
    Rename(String),
    Rule(Box<FieldRule>),
}

impl<'de> Deserialize<'de> for FieldSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FieldSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a source column name or a table like { from = \"Column\", type = \"email\" }")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<FieldSpec, E> {
                Ok(FieldSpec::Rename(s.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FieldSpec, A::Error> {
                FieldRule::deserialize(de::value::MapAccessDeserializer::new(map)).map(|r| FieldSpec::Rule(Box::new(r)))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRule {
    pub from: Option<Columns>,
    #[serde(rename = "type")]
    pub ty: Option<String>,
    pub format: Option<String>,
    pub region: Option<String>,
    pub region_from: Option<String>,
    pub timezone: Option<String>,
    #[serde(default)]
    pub transform: Vec<TransformSpec>,
    pub map: Option<toml::Table>,
    pub default: Option<toml::Value>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub unique: bool,
    pub join: Option<String>,
    pub split: Option<String>,
    pub values: Option<Vec<String>>,
    pub max_length: Option<usize>,
    pub decimal_separator: Option<String>,
}

/// One source column or several (for `join`).
#[derive(Debug)]
pub struct Columns(pub Vec<String>);

impl<'de> Deserialize<'de> for Columns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Columns;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a column name or a list of column names")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Columns, E> {
                Ok(Columns(vec![s.to_owned()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Columns, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    v.push(s);
                }
                if v.is_empty() {
                    return Err(de::Error::custom("`from` needs at least one column"));
                }
                Ok(Columns(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A transform step: a name (`"trim"`) or a regex replacement table.
#[derive(Debug, Clone, PartialEq)]
pub enum TransformSpec {
    Named(String),
    Replace { regex: String, replace: String },
}

pub const TRANSFORM_NAMES: &[&str] = &["trim", "lower", "upper", "title", "squish"];

impl<'de> Deserialize<'de> for TransformSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Replace {
            regex: String,
            #[serde(default)]
            replace: String,
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TransformSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "one of {} or {{ regex = \"...\", replace = \"...\" }}", TRANSFORM_NAMES.join(", "))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<TransformSpec, E> {
                if TRANSFORM_NAMES.contains(&s) {
                    Ok(TransformSpec::Named(s.to_owned()))
                } else {
                    Err(E::custom(format!(
                        "unknown transform `{s}`, expected one of {} or {{ regex = \"...\", replace = \"...\" }}",
                        TRANSFORM_NAMES.join(", ")
                    )))
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TransformSpec, A::Error> {
                let r = Replace::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(TransformSpec::Replace { regex: r.regex, replace: r.replace })
            }
        }
        d.deserialize_any(V)
    }
}
