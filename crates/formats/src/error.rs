use std::fmt;
use std::io;

/// Where in a file something went wrong, as a user would look for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// 1-based row as a spreadsheet shows it (or record ordinal, or NDJSON line).
    pub row: Option<u64>,
    /// 1-based physical line.
    pub line: Option<u64>,
    /// Column or field name.
    pub field: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.row, self.line) {
            (Some(r), Some(l)) if r != l => write!(f, ": row {r} (line {l})")?,
            (Some(r), _) => write!(f, ": row {r}")?,
            (None, Some(l)) => write!(f, ": line {l}")?,
            (None, None) => {}
        }
        if let Some(field) = &self.field {
            write!(f, ", field {field:?}")?;
        }
        Ok(())
    }
}

/// Errors of reading and writing files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened, read or written.
    #[error("{file}: {source}")]
    Io {
        file: String,
        #[source]
        source: io::Error,
    },
    /// Bytes that are not valid in the file's encoding.
    #[error("{file}{at}: {message}")]
    Encoding { file: String, at: Location, message: String },
    /// The file is not well-formed in its format, so reading cannot go on.
    #[error("{file}{at}: {message}")]
    Parse { file: String, at: Location, message: String },
    /// A setting or a choice that does not fit the file.
    #[error("{file}: {message}")]
    Setup { file: String, message: String },
    /// One record cannot be written in the output format; the others can.
    #[error("{file}{at}: {message}")]
    Record { file: String, at: Location, message: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn parse(file: &str, at: Location, message: impl Into<String>) -> Self {
        Error::Parse { file: file.to_string(), at, message: message.into() }
    }

    pub fn setup(file: &str, message: impl Into<String>) -> Self {
        Error::Setup { file: file.to_string(), message: message.into() }
    }

    /// True when only the record at hand is affected and the job can go on.
    pub fn is_record_level(&self) -> bool {
        matches!(self, Error::Record { .. })
    }

    /// An I/O error seen while reading the record at `at`. Decoding errors
    /// raised inside the transcoding layer become encoding errors naming it.
    pub fn from_io(file: &str, at: Location, e: io::Error) -> Self {
        if let Some(d) = e.get_ref().and_then(|i| i.downcast_ref::<crate::encoding::DecodeError>()) {
            let at = Location { line: Some(d.line), ..at };
            return Error::Encoding { file: file.to_string(), at, message: d.to_string() };
        }
        if let Some(q) = e.get_ref().and_then(|i| i.downcast_ref::<crate::csv::QuoteError>()) {
            let at = Location { row: None, line: Some(q.line), field: None };
            return Error::Parse { file: file.to_string(), at, message: q.to_string() };
        }
        Error::Io { file: file.to_string(), source: e }
    }
}
