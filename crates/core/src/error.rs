//! Errors of the core: a mapping that cannot be used, and a value that does
//! not fit its field.

use std::fmt;

/// A mapping file that cannot be used as written.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{}: {message}", file.as_deref().unwrap_or("mapping"), line.map(|l| format!(" line {l}")).unwrap_or_default())]
pub struct MappingError {
    /// The mapping file's name, when it came from a file.
    pub file: Option<String>,
    /// 1-based line of the offending key, when known.
    pub line: Option<usize>,
    pub message: String,
}

impl MappingError {
    pub fn new(line: Option<usize>, message: impl Into<String>) -> Self {
        Self { file: None, line, message: message.into() }
    }
}

/// A value that failed its field's rules: the reason a record is rejected.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    /// The field as the mapping names it (`email`, `address.country`).
    pub field: String,
    /// The source column(s) the value came from.
    pub column: String,
    pub value: String,
    /// What was expected instead, or what rule failed.
    pub expected: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = if self.value.chars().count() > 80 {
            let head: String = self.value.chars().take(77).collect();
            format!("{head}...")
        } else {
            self.value.clone()
        };
        if self.column.is_empty() || self.column == self.field {
            write!(f, "field `{}`: {:?}: expected {}", self.field, shown, self.expected)
        } else {
            write!(f, "field `{}` (column {:?}): {:?}: expected {}", self.field, self.column, shown, self.expected)
        }
    }
}
