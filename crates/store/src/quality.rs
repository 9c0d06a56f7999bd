//! `report quality`: per field completeness and validity, duplicate
//! candidates, counts. One pass over the records (streamed) plus grouping
//! queries; the result is JSON, which the CLI prints or renders as HTML.

use std::collections::HashMap;

use crmsync_core::mapping::types::{country, currency, email};
use crmsync_core::{Entity, Value};
use serde_json::json;

use crate::Store;
use crate::error::Result;
use crate::export::Options;
use crate::model::{self, company_key};
use crate::sql::Cell;

/// What a valid value of `field` looks like, and whether `text` is one.
fn check(field: &str, text: &str) -> (&'static str, bool) {
    match field {
        "email" | "contact.email" => ("an e-mail address", email(text).is_ok_and(|e| e == text)),
        "phone" | "mobile" => (
            "a phone number in E.164 (+8613800138000)",
            text.strip_prefix('+')
                .is_some_and(|d| (7..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit())),
        ),
        "address.country" => ("an ISO 3166 alpha-2 code", country::to_alpha2(text) == Some(text)),
        "currency" => ("an ISO 4217 code", currency(text).is_ok_and(|c| c == text)),
        "domain" | "company.domain" => {
            ("a domain (example.com)", text.contains('.') && !text.contains(char::is_whitespace) && !text.contains('/'))
        }
        _ => (
            "text without stray spaces or control characters",
            text.trim() == text && !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t'),
        ),
    }
}

#[derive(Default)]
struct FieldStats {
    filled: u64,
    valid: u64,
    expected: &'static str,
    invalid: Vec<(String, String)>,
}

fn normal_name(s: &str) -> String {
    s.to_lowercase().split_whitespace().collect::<Vec<_>>().join(" ")
}

impl Store {
    /// The quality report of an entity, as JSON.
    pub fn quality(&mut self, entity: Entity) -> Result<serde_json::Value> {
        let deleted = {
            let sql = format!("SELECT count(*) FROM {} WHERE deleted_at IS NOT NULL", entity.name());
            self.db.query_row(&sql, &[])?.and_then(|r| r.first().map(Cell::int)).unwrap_or(0)
        };
        let mut opts = Options::default();
        let mut export = self.export(entity, &opts)?;
        let fields: Vec<String> = export.fields().iter().map(|k| k.to_string()).collect();
        opts.fields = fields.clone();
        let mut stats: Vec<FieldStats> = fields.iter().map(|_| FieldStats::default()).collect();
        let mut records: u64 = 0;
        // Similar names at one company: (company, normalised name, id, shown name).
        let mut people: HashMap<String, Vec<(String, String, String)>> = HashMap::new();
        export.read(&mut |rec| {
            records += 1;
            let id = rec
                .get(model::label_field(entity))
                .map(Value::to_text)
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| format!("record #{records}"));
            for (i, (k, v)) in rec.fields().iter().enumerate() {
                if v.is_empty() {
                    continue;
                }
                let s = &mut stats[i];
                s.filled += 1;
                let text = match v {
                    Value::Array(items) => items.iter().map(Value::to_text).collect::<Vec<_>>().join("; "),
                    v => v.to_text(),
                };
                let (expected, ok) = check(k, &text);
                s.expected = expected;
                if ok {
                    s.valid += 1;
                } else if s.invalid.len() < 5 {
                    s.invalid.push((id.clone(), text));
                }
            }
            let company = rec.get("company.name").map(Value::to_text).filter(|c| !c.is_empty());
            let name = match entity {
                Entity::Contacts => {
                    let full = rec.get("full_name").map(Value::to_text).unwrap_or_default();
                    if full.trim().is_empty() {
                        format!(
                            "{} {}",
                            rec.get("first_name").map(Value::to_text).unwrap_or_default(),
                            rec.get("last_name").map(Value::to_text).unwrap_or_default()
                        )
                    } else {
                        full
                    }
                }
                _ => rec.get("name").map(Value::to_text).unwrap_or_default(),
            };
            if let Some(company) = company
                && !name.trim().is_empty()
                && entity != Entity::Companies
            {
                let label = rec.get(model::label_field(entity)).map(Value::to_text).unwrap_or_else(|| id.clone());
                people.entry(company_key(&company)).or_default().push((normal_name(&name), label, name));
            }
            Ok(())
        })?;
        drop(export);

        let mut duplicates = Vec::new();
        let same: &[(&str, &str)] = match entity {
            Entity::Contacts => &[("same email", "email"), ("same phone", "phone")],
            Entity::Companies => &[("same domain", "domain"), ("same name", "name_key")],
            Entity::Deals | Entity::Activities => &[],
        };
        let label = model::label_field(entity);
        for (rule, column) in same {
            let sql = format!(
                "SELECT {column}, count(*) FROM {} WHERE deleted_at IS NULL AND {column} IS NOT NULL AND {column} <> '' \
                 GROUP BY {column} HAVING count(*) > 1 ORDER BY count(*) DESC, {column}",
                entity.name()
            );
            let groups = self.db.query(&sql, &[])?;
            let records_in: i64 = groups.iter().map(|g| g.get(1).map_or(0, Cell::int)).sum();
            let mut examples = Vec::new();
            for g in groups.iter().take(10) {
                let value = g.first().and_then(Cell::text).unwrap_or_default().to_string();
                let name_sql = match entity {
                    Entity::Contacts => {
                        "coalesce(full_name, trim(coalesce(first_name, '') || ' ' || coalesce(last_name, '')))"
                    }
                    _ => "name",
                };
                let sql = format!(
                    "SELECT id, {name_sql} FROM {} WHERE {column} = ? AND deleted_at IS NULL ORDER BY id LIMIT 20",
                    entity.name()
                );
                let rows = self.db.query(&sql, &[value.as_str().into()])?;
                let ids: Vec<String> =
                    rows.iter().filter_map(|r| r.first().and_then(Cell::text)).map(str::to_string).collect();
                let names: Vec<String> =
                    rows.iter().map(|r| r.get(1).and_then(Cell::text).unwrap_or_default().to_string()).collect();
                examples.push(json!({"value": value, "ids": ids, "names": names}));
            }
            duplicates.push(json!({"rule": rule, "groups": groups.len(), "records": records_in, "examples": examples}));
        }
        if matches!(entity, Entity::Contacts | Entity::Deals) {
            let mut groups = 0u64;
            let mut in_groups = 0u64;
            let mut examples = Vec::new();
            let mut companies: Vec<_> = people.iter().collect();
            companies.sort_by(|a, b| a.0.cmp(b.0));
            for (company, list) in companies {
                // Pairwise within a company; very large companies are sampled
                // so one huge account cannot make the report quadratic.
                let list = &list[..list.len().min(2000)];
                let mut taken = vec![false; list.len()];
                for i in 0..list.len() {
                    if taken[i] {
                        continue;
                    }
                    let mut group = vec![i];
                    for j in i + 1..list.len() {
                        if !taken[j] && strsim::jaro_winkler(&list[i].0, &list[j].0) >= 0.93 {
                            taken[j] = true;
                            group.push(j);
                        }
                    }
                    if group.len() > 1 {
                        groups += 1;
                        in_groups += group.len() as u64;
                        if examples.len() < 10 {
                            examples.push(json!({
                                "value": company,
                                "ids": group.iter().map(|&g| list[g].1.clone()).collect::<Vec<_>>(),
                                "names": group.iter().map(|&g| list[g].2.clone()).collect::<Vec<_>>(),
                            }));
                        }
                    }
                }
            }
            duplicates.push(json!({
                "rule": "similar name at the same company",
                "groups": groups,
                "records": in_groups,
                "examples": examples,
            }));
        }

        let mut completeness_sum = 0.0;
        let mut validity_sum = 0.0;
        let mut validity_n = 0.0;
        let field_json: Vec<serde_json::Value> = fields
            .iter()
            .zip(&stats)
            .map(|(f, s)| {
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
                    "completeness": round(completeness),
                    "valid": s.valid,
                    "invalid": s.filled - s.valid,
                    "validity": validity.map(round),
                    "expected": if s.expected.is_empty() { check(f, "").0 } else { s.expected },
                    "invalid_examples": s.invalid.iter().map(|(id, v)| json!({"id": id, "value": v})).collect::<Vec<_>>(),
                })
            })
            .collect();
        let dup_records: u64 = duplicates.iter().map(|d| d["records"].as_u64().unwrap_or(0)).sum();
        let completeness = if fields.is_empty() { 0.0 } else { completeness_sum / fields.len() as f64 };
        let validity = if validity_n > 0.0 { validity_sum / validity_n } else { 1.0 };
        let unique = if records == 0 { 1.0 } else { 1.0 - (dup_records as f64 / records as f64).min(1.0) };
        let score = if records == 0 { 0.0 } else { 0.4 * completeness + 0.4 * validity + 0.2 * unique };
        Ok(json!({
            "entity": entity.name(),
            "store": self.location(),
            "generated_at": model::short_time(&model::now_text()),
            "records": records,
            "deleted": deleted,
            "score": round(score),
            "fields": field_json,
            "duplicates": duplicates,
            "label": label,
        }))
    }
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
