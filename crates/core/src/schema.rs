//! Optional JSON Schema validation of each mapped record (`--schema FILE`).

use crate::error::FieldError;
use crate::value::Record;

pub struct SchemaCheck {
    validator: jsonschema::Validator,
}

impl SchemaCheck {
    /// Compiles a schema; the error says why it is not a usable schema.
    pub fn new(schema: &serde_json::Value) -> Result<Self, String> {
        jsonschema::validator_for(schema).map(|validator| Self { validator }).map_err(|e| e.to_string())
    }

    /// Every violation of the record, as field errors. The record is checked
    /// in its nested form (`address.city` is `{"address": {"city": ...}}`).
    pub fn check(&self, record: &Record) -> Vec<FieldError> {
        let json = record.to_json();
        self.validator
            .iter_errors(&json)
            .map(|e| {
                let path = e.instance_path().to_string();
                let field = path.trim_start_matches('/').replace('/', ".");
                let value = match &**e.instance() {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                FieldError {
                    field: if field.is_empty() { "(record)".to_string() } else { field },
                    column: String::new(),
                    value: if value.len() > 200 {
                        format!("{}...", &value[..value.floor_char_boundary(200)])
                    } else {
                        value
                    },
                    expected: format!("to match the schema ({e})"),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Key;

    #[test]
    fn violations_name_the_field() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {"address": {"type": "object", "properties": {"postal_code": {"pattern": "^[0-9]{5}$"}}}},
            "required": ["email"]
        });
        let check = SchemaCheck::new(&schema).expect("compiles");
        let mut r = Record::new();
        r.push_text(&Key::from("address.postal_code"), "ABC");
        let errs = check.check(&r);
        assert_eq!(errs.len(), 2);
        assert!(errs.iter().any(|e| e.field == "address.postal_code" && e.value == "ABC"));
        assert!(errs.iter().any(|e| e.field == "(record)" && e.expected.contains("email")));
    }
}
