//! Custom fields declared per entity in a schema file, given to
//! `crmsync init --custom FILE`:
//!
//! ```toml
//! [contacts.tier]
//! type = "enum"
//! values = ["gold", "silver", "bronze"]
//!
//! [contacts.member_no]
//! type = "integer"
//! required = true
//! unique = true
//! ```
//!
//! Types: `string`, `integer`, `decimal`, `boolean`, `date`, `datetime`,
//! `enum`. An entity with declared fields takes no other custom field;
//! import checks each value against its declaration and stores it in the
//! type's canonical form.

use std::collections::BTreeMap;
use std::str::FromStr;

use crmsync_core::entity::Entity;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::model;
use crate::sql::{Cell, Param};

#[derive(Debug, Clone, PartialEq)]
pub enum CustomType {
    String,
    Integer,
    Decimal,
    Boolean,
    Date,
    DateTime,
    Enum(Vec<String>),
}

impl CustomType {
    pub fn name(&self) -> &'static str {
        match self {
            CustomType::String => "string",
            CustomType::Integer => "integer",
            CustomType::Decimal => "decimal",
            CustomType::Boolean => "boolean",
            CustomType::Date => "date",
            CustomType::DateTime => "datetime",
            CustomType::Enum(_) => "enum",
        }
    }
}

/// One declared custom field.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomField {
    pub entity: Entity,
    pub name: String,
    pub kind: CustomType,
    pub required: bool,
    pub unique: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Declaration {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    unique: bool,
    values: Option<Vec<String>>,
}

const TYPES: &str = "string, integer, decimal, boolean, date, datetime, enum";

/// Reads a schema file's text; `file` names it in messages.
pub fn parse_schema(text: &str, file: &str) -> Result<Vec<CustomField>> {
    let bad = |m: String| Error::Invalid(format!("{file}: {m}"));
    let tables: BTreeMap<String, BTreeMap<String, Declaration>> =
        toml::from_str(text).map_err(|e| bad(e.to_string().trim_end().to_string()))?;
    let mut out = Vec::new();
    for (entity_name, fields) in tables {
        let entity = Entity::from_str(&entity_name).map_err(|_| {
            bad(format!("[{entity_name}] is not an entity (expected companies, contacts, deals or activities)"))
        })?;
        for (name, d) in fields {
            let at = format!("{entity_name}.{name}");
            if name.is_empty() || name.contains('.') || name.len() > 64 {
                return Err(bad(format!("{at}: a custom field name has 1 to 64 characters and no `.`")));
            }
            let kind = match (d.kind.as_str(), d.values) {
                ("enum", Some(values)) if !values.is_empty() => CustomType::Enum(values),
                ("enum", _) => return Err(bad(format!("{at}: an enum needs its `values = [\"…\", …]`"))),
                (_, Some(_)) => return Err(bad(format!("{at}: `values` belongs to type = \"enum\" only"))),
                ("string", None) => CustomType::String,
                ("integer", None) => CustomType::Integer,
                ("decimal", None) => CustomType::Decimal,
                ("boolean", None) => CustomType::Boolean,
                ("date", None) => CustomType::Date,
                ("datetime", None) => CustomType::DateTime,
                (other, None) => return Err(bad(format!("{at}: unknown type {other:?} (expected {TYPES})"))),
            };
            out.push(CustomField { entity, name, kind, required: d.required, unique: d.unique });
        }
    }
    Ok(out)
}

impl CustomField {
    /// The value in its type's canonical form, or what was expected.
    pub fn check(&self, v: &serde_json::Value) -> std::result::Result<serde_json::Value, String> {
        use serde_json::Value as J;
        let text = match v {
            J::String(s) => s.trim().to_string(),
            other => other.to_string(),
        };
        let fail = || format!("{text:?} is not {}", self.expected());
        Ok(match &self.kind {
            CustomType::String => J::String(match v {
                J::String(s) => s.clone(),
                _ => text,
            }),
            CustomType::Integer => match text.parse::<i64>() {
                Ok(n) => J::from(n),
                // Digits, but too many for an integer the store keeps.
                Err(_)
                    if !text.is_empty() && text.trim_start_matches(['+', '-']).bytes().all(|b| b.is_ascii_digit()) =>
                {
                    return Err(format!("{text:?} is not an integer from {} to {}", i64::MIN, i64::MAX));
                }
                // `1,234`, and 3.0 from a spreadsheet cell, are integers, by
                // the rule of every decimal in the store: no exponent, as
                // `1.23457E+11` is a long number a spreadsheet has rounded.
                Err(_) => match model::decimal_text(&text) {
                    Ok(n) => {
                        let (whole, frac) = n.split_once('.').unwrap_or((&n, ""));
                        match whole.parse::<i64>() {
                            Ok(i) if frac.bytes().all(|b| b == b'0') => J::from(i),
                            Ok(_) => return Err(fail()),
                            Err(_) => {
                                return Err(format!("{text:?} is not an integer from {} to {}", i64::MIN, i64::MAX));
                            }
                        }
                    }
                    Err(_) if text.contains(['e', 'E']) && text.parse::<f64>().is_ok() => {
                        return Err(format!(
                            "{text:?} is not an integer: written with an exponent, it has lost its last digits \
                             (as a spreadsheet shows a long number); write it in full"
                        ));
                    }
                    Err(_) => return Err(fail()),
                },
            },
            // As amounts are read: one rule for every decimal in the store.
            CustomType::Decimal => {
                let n = model::decimal_text(&text).map_err(|expected| format!("{text:?} is not {expected}"))?;
                J::Number(serde_json::Number::from_str(&n).map_err(|_| fail())?)
            }
            CustomType::Boolean => match text.to_ascii_lowercase().as_str() {
                "true" | "yes" | "y" | "1" => J::Bool(true),
                "false" | "no" | "n" | "0" => J::Bool(false),
                _ => return Err(fail()),
            },
            // Within the years the store keeps, as its own dates and times.
            CustomType::Date => match crmsync_core::mapping::types::date::parse_iso(&text) {
                Some(dt) => J::String(model::date_text(dt.civil.date()).map_err(|e| format!("{text:?} is not {e}"))?),
                None => return Err(fail()),
            },
            CustomType::DateTime => match crmsync_core::mapping::types::date::parse_iso(&text) {
                Some(dt) => J::String(model::time_text(&dt).map_err(|e| format!("{text:?} is not {e}"))?),
                None => return Err(fail()),
            },
            CustomType::Enum(values) => match values.iter().find(|e| e.eq_ignore_ascii_case(&text)) {
                // Stored as declared, whatever the case in the file.
                Some(e) => J::String(e.clone()),
                None => return Err(fail()),
            },
        })
    }

    /// What a value of the field is, for messages.
    pub fn expected(&self) -> String {
        match &self.kind {
            CustomType::Enum(values) => format!("one of {}", values.join(", ")),
            CustomType::Date => "a date (YYYY-MM-DD)".into(),
            CustomType::DateTime => "a date and time (ISO 8601)".into(),
            CustomType::Boolean => "a boolean (true/false, yes/no, 1/0)".into(),
            CustomType::Integer => "an integer".into(),
            CustomType::Decimal => "a decimal number".into(),
            CustomType::String => "text".into(),
        }
    }
}

impl crate::Store {
    /// Declares custom fields: for each entity in `fields`, they replace
    /// what was declared before. Returns how many are declared.
    ///
    /// Stored values the new declarations spell otherwise (an enum's `Gold`
    /// declared `gold`, a date declared a date-time) are rewritten in their
    /// new form, as one batch (`from` is its source), audited; the batch
    /// and the number of values rewritten are returned with the count.
    pub fn declare_custom(&mut self, fields: &[CustomField], from: &str) -> Result<Declared> {
        let db = self.db.as_mut();
        db.hold_writers()?;
        db.begin()?;
        let mut done = Declared { fields: fields.len(), ..Declared::default() };
        let res = (|| {
            let mut entities: Vec<Entity> = fields.iter().map(|f| f.entity).collect();
            entities.sort();
            entities.dedup();
            for &e in &entities {
                let declared: Vec<&CustomField> = fields.iter().filter(|f| f.entity == e).collect();
                let (problems, respelt) = misfits(db, e, &declared)?;
                if !problems.is_empty() {
                    return Err(Error::Invalid(format!(
                        "the stored {e} do not fit these declarations: {}. Change those records, or declare \
                         the fields so that they fit",
                        problems.join("; ")
                    )));
                }
                db.execute("DELETE FROM custom_fields WHERE entity = ?", &[e.name().into()])?;
                done.rewritten += respell(db, e, respelt, from, &mut done.batch)?;
            }
            for f in fields {
                let values = match &f.kind {
                    CustomType::Enum(v) => Param::Text(serde_json::json!(v).to_string()),
                    _ => Param::Null,
                };
                db.execute(
                    "INSERT INTO custom_fields (entity, name, type, required, is_unique, enum_values) \
                     VALUES (?, ?, ?, ?, ?, ?)",
                    &[
                        f.entity.name().into(),
                        f.name.as_str().into(),
                        f.kind.name().into(),
                        Param::Int(i64::from(f.required)),
                        Param::Int(i64::from(f.unique)),
                        values,
                    ],
                )?;
            }
            Ok(())
        })();
        match res.and_then(|()| db.commit()) {
            Ok(()) => Ok(done),
            Err(e) => {
                let _ = db.rollback();
                Err(e)
            }
        }
    }
}

/// What `declare_custom` did.
#[derive(Debug, Default)]
pub struct Declared {
    /// Fields declared.
    pub fields: usize,
    /// Records whose values were rewritten in their new form, and the
    /// batch that did it.
    pub rewritten: usize,
    pub batch: Option<String>,
}

/// A record whose custom values the declarations spell otherwise: its id,
/// its custom object as it will be, and the values changed (as audited).
type Respelt = (String, BTreeMap<String, serde_json::Value>, Vec<crate::import::AuditRow>);

/// Writes the records `misfits` found spelt otherwise, in the batch `batch`
/// (made with the first), audited as any update, so that the records equal
/// what importing them again gives. Returns how many records were rewritten.
fn respell(
    db: &mut dyn crate::sql::Sql,
    entity: Entity,
    changed: Vec<Respelt>,
    from: &str,
    batch: &mut Option<String>,
) -> Result<usize> {
    use crate::import::{load_by, update_record, write_audit};
    if changed.is_empty() {
        return Ok(0);
    }
    let now = model::now_text();
    let batch_id = match batch {
        Some(b) => b.clone(),
        None => {
            let id = model::Ids::default().next_id();
            db.execute(
                "INSERT INTO batches (id, entity, source, mode, status, started_at, finished_at) \
                 VALUES (?, ?, ?, 'declare', 'done', ?, ?)",
                &[id.as_str().into(), entity.name().into(), from.into(), now.as_str().into(), now.as_str().into()],
            )?;
            *batch = Some(id.clone());
            id
        }
    };
    let at =
        model::position(entity, "custom").ok_or_else(|| Error::Invalid(format!("{entity} have no custom fields")))?;
    let mut audit = Vec::new();
    let mut rewritten = 0;
    for part in changed.chunks(500) {
        let ids: Vec<String> = part.iter().map(|(id, _, _)| id.clone()).collect();
        for e in load_by(db, entity, "id", &ids, None)? {
            let Some((_, custom, rows)) = part.iter().find(|(id, _, _)| *id == e.id) else { continue };
            let before = e.to_values();
            let mut after = before.clone();
            after[at] = model::custom_json(custom);
            update_record(db, entity, &e.id, (&before, &after), (&model::content_hash(&after), e.source), &now)?;
            rewritten += 1;
            audit.extend(rows.iter().cloned());
        }
    }
    write_audit(db, entity, &batch_id, &audit, &now)?;
    db.execute(
        "UPDATE batches SET rows_read = rows_read + ?, updated = updated + ? WHERE id = ?",
        &[Param::Int(rewritten as i64), Param::Int(rewritten as i64), batch_id.as_str().into()],
    )?;
    Ok(rewritten)
}

/// How the live records of `entity` break the declarations `fields`
/// (which close its custom fields): values of undeclared fields, values a
/// field's type refuses, required fields without one, unique values held
/// twice. A few records are named for each. With them, the records whose
/// values fit but are spelt otherwise (for `respell`).
fn misfits(
    db: &mut dyn crate::sql::Sql,
    entity: Entity,
    fields: &[&CustomField],
) -> Result<(Vec<String>, Vec<Respelt>)> {
    const SHOWN: usize = 3;
    /// Per kind of problem (field and rule, so that their number does not
    /// grow with the data): how many records have it, and the first few
    /// with the value each has.
    #[derive(Default)]
    struct Seen {
        text: String,
        count: usize,
        records: Vec<(String, Option<String>)>,
    }
    let mut problems: BTreeMap<(String, &str), Seen> = BTreeMap::new();
    let mut note = |field: &str, rule: &'static str, text: String, id: &str, value: Option<String>| {
        let seen = problems.entry((field.to_string(), rule)).or_default();
        seen.text = text;
        seen.count += 1;
        if seen.records.len() < SHOWN && !seen.records.iter().any(|(i, _)| i == id) {
            seen.records.push((id.to_string(), value));
        }
    };
    // Unique values seen: the first holder, until a second is found.
    let mut values: BTreeMap<(&str, String), Option<String>> = BTreeMap::new();
    let mut respelt: Vec<Respelt> = Vec::new();
    let sql = format!("SELECT id, custom FROM {} WHERE deleted_at IS NULL ORDER BY id", entity.name());
    db.query_each(&sql, &[], &mut |row| {
        let mut row = row.into_iter();
        let id = row.next().and_then(Cell::into_text).unwrap_or_default();
        let custom = model::parse_custom(row.next().and_then(Cell::into_text).as_deref());
        // (field, the value in its declared form)
        let mut spelt: Vec<(&str, serde_json::Value)> = Vec::new();
        for name in custom.keys().filter(|n| !fields.iter().any(|f| &f.name == *n)) {
            note(name, "undeclared", format!("custom.{name} is not declared"), &id, None);
        }
        for f in fields {
            match custom.get(&f.name).filter(|v| !v.is_null()) {
                Some(v) => match f.check(v) {
                    Ok(canonical) if canonical != *v && !f.unique => spelt.push((&f.name, canonical)),
                    Ok(canonical) if f.unique => {
                        if canonical != *v {
                            spelt.push((&f.name, canonical.clone()));
                        }
                        let text = crate::import::json_text(&canonical);
                        let problem = format!("custom.{} is unique, but values are held by several records", f.name);
                        match values.entry((f.name.as_str(), text.clone())) {
                            std::collections::btree_map::Entry::Vacant(v) => {
                                v.insert(Some(id.clone()));
                            }
                            std::collections::btree_map::Entry::Occupied(mut o) => {
                                // The first holder is named with the second.
                                if let Some(first) = o.get_mut().take() {
                                    note(&f.name, "unique", problem.clone(), &first, Some(text.clone()));
                                }
                                note(&f.name, "unique", problem, &id, Some(text));
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(_) => {
                        let value = crate::import::json_text(v);
                        note(&f.name, "type", format!("custom.{} is not {}", f.name, f.expected()), &id, Some(value));
                    }
                },
                None if f.required => {
                    note(&f.name, "required", format!("custom.{} is required but missing", f.name), &id, None);
                }
                None => {}
            }
        }
        if !spelt.is_empty() {
            let mut custom = custom;
            let mut audit = Vec::with_capacity(spelt.len());
            for (name, canonical) in spelt {
                let before = custom.insert(name.to_string(), canonical.clone()).map(|v| v.to_string());
                let field = format!("custom.{name}");
                audit.push(crate::import::AuditRow::change(&id, "update", &field, before, Some(canonical.to_string())));
            }
            respelt.push((id, custom, audit));
        }
        Ok(())
    })?;
    let mut out = Vec::new();
    for seen in problems.into_values() {
        let named: Vec<String> = seen
            .records
            .iter()
            .map(|(id, value)| {
                let label = crate::batches::label(db, entity, id);
                value.as_ref().map_or_else(|| label.clone(), |v| format!("{label}: {v:?}"))
            })
            .collect();
        let more =
            if seen.count > named.len() { format!(" and {} more", seen.count - named.len()) } else { String::new() };
        out.push(format!("{} in {}{more}", seen.text, named.join(", ")));
    }
    Ok((out, respelt))
}

/// Lists `name` among the custom fields records of `entity` have been
/// given (`custom_keys`, which export reads its columns from).
pub(crate) fn list_name(db: &mut dyn crate::sql::Sql, entity: Entity, name: &str) -> Result<()> {
    db.execute(
        "INSERT INTO custom_keys (entity, name) VALUES (?, ?) ON CONFLICT DO NOTHING",
        &[entity.name().into(), name.into()],
    )?;
    Ok(())
}

/// The custom fields declared for `entity`, by name.
pub(crate) fn declared(db: &mut dyn crate::sql::Sql, entity: Entity) -> Result<Vec<CustomField>> {
    let rows = db.query(
        "SELECT name, type, required, is_unique, enum_values FROM custom_fields WHERE entity = ? ORDER BY name",
        &[entity.name().into()],
    )?;
    let mut out = Vec::new();
    for r in rows {
        let mut r = r.into_iter();
        let mut next = || r.next().unwrap_or(Cell::Null);
        let name = next().into_text().unwrap_or_default();
        let kind = next().into_text().unwrap_or_default();
        let required = next().int() != 0;
        let unique = next().int() != 0;
        let values: Vec<String> = next().into_text().and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default();
        let kind = match kind.as_str() {
            "integer" => CustomType::Integer,
            "decimal" => CustomType::Decimal,
            "boolean" => CustomType::Boolean,
            "date" => CustomType::Date,
            "datetime" => CustomType::DateTime,
            "enum" => CustomType::Enum(values),
            _ => CustomType::String,
        };
        out.push(CustomField { entity, name, kind, required, unique });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(kind: CustomType) -> CustomField {
        CustomField { entity: Entity::Contacts, name: "f".into(), kind, required: false, unique: false }
    }

    #[test]
    fn schema_files_are_read_and_checked() {
        let f = parse_schema(
            "[contacts.tier]\ntype = \"enum\"\nvalues = [\"gold\", \"silver\"]\n\n[contacts.no]\ntype = \"integer\"\nrequired = true\nunique = true\n",
            "s.toml",
        )
        .expect("parses");
        assert_eq!(f.len(), 2);
        assert_eq!((f[0].name.as_str(), f[0].required, f[0].unique), ("no", true, true));
        assert_eq!(f[1].kind, CustomType::Enum(vec!["gold".into(), "silver".into()]));
        let err = |t: &str| parse_schema(t, "s.toml").expect_err("refused").to_string();
        assert!(err("[contacts.x]\ntype = \"money\"\n").contains("s.toml: contacts.x: unknown type \"money\""));
        assert!(err("[contacts.x]\ntype = \"enum\"\n").contains("needs its `values"));
        assert!(err("[people.x]\ntype = \"string\"\n").contains("[people] is not an entity"));
        assert!(err("[contacts.x]\ntype = \"string\"\nunique = \"yes\"\n").contains("s.toml"));
    }

    #[test]
    fn values_take_their_type_canonical_form() {
        use serde_json::json;
        assert_eq!(field(CustomType::Integer).check(&json!("42")), Ok(json!(42)));
        assert_eq!(field(CustomType::Integer).check(&json!("3.0")), Ok(json!(3)));
        assert!(field(CustomType::Integer).check(&json!("3.5")).is_err());
        assert_eq!(field(CustomType::Integer).check(&json!("1,234")), Ok(json!(1234)));
        assert_eq!(field(CustomType::Integer).check(&json!(7.0)), Ok(json!(7)));
        // A long number a spreadsheet rounded is refused, not stored rounded.
        let rounded = field(CustomType::Integer).check(&json!("1.23457E+11")).expect_err("refused");
        assert!(rounded.contains("written with an exponent, it has lost its last digits"), "{rounded}");
        assert!(field(CustomType::Integer).check(&json!("1e3")).is_err());
        assert!(field(CustomType::Integer).check(&json!("99999999999999999999.0")).is_err());
        assert_eq!(field(CustomType::Boolean).check(&json!("Yes")), Ok(json!(true)));
        assert_eq!(field(CustomType::Date).check(&json!("2024-03-01")), Ok(json!("2024-03-01")));
        assert!(field(CustomType::Date).check(&json!("March")).is_err());
        // Decimals as amounts are read: one rule for the store.
        let d = field(CustomType::Decimal);
        assert_eq!(d.check(&json!("0012.300")).map(|v| v.to_string()), Ok("12.300".to_string()));
        assert_eq!(d.check(&json!(".5")), Ok(json!(0.5)));
        assert_eq!(d.check(&json!("+1.5")), Ok(json!(1.5)));
        assert_eq!(d.check(&json!("1e2")), Err("\"1e2\" is not a decimal number without an exponent".to_string()));
        // The years the store keeps; an integer too long says so.
        assert_eq!(
            field(CustomType::Date).check(&json!("0000-01-01")),
            Err("\"0000-01-01\" is not a date from 0001-01-01 to 9999-12-31".to_string())
        );
        assert!(
            field(CustomType::DateTime)
                .check(&json!("0000-06-01T00:00:00Z"))
                .is_err_and(|e| e.contains("from 0001-01-01T00:00:00Z"))
        );
        assert!(
            field(CustomType::Integer)
                .check(&json!("99999999999999999999"))
                .is_err_and(|e| e.contains("is not an integer from -9223372036854775808"))
        );
        let e = field(CustomType::Enum(vec!["Gold".into()]));
        assert_eq!(e.check(&json!("gold")), Ok(json!("Gold")));
        assert_eq!(e.check(&json!("tin")), Err("\"tin\" is not one of Gold".to_string()));
    }
}
