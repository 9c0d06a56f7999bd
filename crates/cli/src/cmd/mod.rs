//! One file per subcommand.

pub mod batches;
pub mod convert;
pub mod export;
pub mod history;
pub mod import;
pub mod init;
pub mod mapping;
pub mod report;
pub mod undo;

/// A command line that cannot be run as given (exit code 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

pub fn usage(msg: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(msg.into()))
}
