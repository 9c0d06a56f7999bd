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

/// A failure whose `--json` summary, `error` and all, the command printed
/// itself; `main` then prints no second one.
#[derive(Debug)]
pub struct Reported(pub anyhow::Error);

impl std::fmt::Display for Reported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#}", self.0)
    }
}

impl std::error::Error for Reported {}

/// `e`, marked as reported in a JSON summary already.
pub fn reported(e: anyhow::Error) -> anyhow::Error {
    anyhow::Error::new(Reported(e))
}
