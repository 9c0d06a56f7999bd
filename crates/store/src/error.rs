/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The URL names no backend crmsync knows.
    #[error("{url}: {message}")]
    Url { url: String, message: String },
    /// The store has no crmsync schema yet.
    #[error("{location} is not a crmsync store yet: run `crmsync init` first")]
    NotInitialised { location: String },
    /// A newer crmsync wrote this store.
    #[error("{location} has schema version {found}, newer than this crmsync knows ({known}): upgrade crmsync")]
    Newer { location: String, found: u32, known: u32 },
    /// The store needs the migrations of this build.
    #[error("{location} has schema version {found}; this crmsync needs {latest}: run `crmsync init` to migrate it")]
    Outdated { location: String, found: u32, latest: u32 },
    /// A migration failed; the store stays at the version before it.
    #[error("migration {version} ({name}) failed")]
    Migration {
        version: u32,
        name: String,
        #[source]
        source: Box<Error>,
    },
    /// SQLite refused an operation.
    #[error("{location}: {context}: {source}")]
    Sqlite {
        location: String,
        context: String,
        #[source]
        source: rusqlite::Error,
    },
    /// PostgreSQL refused an operation or could not be reached.
    #[error("{location}: {context}: {source}")]
    Postgres {
        location: String,
        context: String,
        #[source]
        source: postgres::Error,
    },
    /// A request the store cannot carry out as asked (unknown batch, ...).
    #[error("{0}")]
    Invalid(String),
    /// `--resume` given a source whose committed rows changed since.
    #[error("{0}")]
    SourceChanged(String),
    /// An option's value the store cannot use (a `--where` that does not
    /// parse, a field it does not have): the command was written wrong.
    #[error("{0}")]
    Argument(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
