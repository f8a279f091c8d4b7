//! The one error type of the store: every variant names what was being done.

use std::path::PathBuf;

/// What went wrong in the store, with the thing it was doing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("cannot open database {target}: {source}")]
    Open { target: String, source: sqlx::Error },
    #[error("cannot migrate database {target}: {source}")]
    Migrate { target: String, source: sqlx::migrate::MigrateError },
    #[error("database error while {context}: {source}")]
    Db { context: String, source: sqlx::Error },
    /// A stored value that the store itself wrote cannot be read back (hand-edited database,
    /// disk corruption): names the row so it can be found.
    #[error("corrupt stored data ({context}): {detail}")]
    Corrupt { context: String, detail: String },
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// A search query that does not parse, or holds a term the search cannot answer: the
    /// message says where and what was expected.
    #[error("bad query: {0}")]
    BadQuery(String),
    #[error("test database setup failed: {0}")]
    TestSetup(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds "while <context>" to a database error.
pub(crate) trait Context<T> {
    fn ctx(self, context: &str) -> Result<T>;
    /// As `ctx`, for a statement whose size a user's query decides (a search's terms, a list's
    /// words): the database refusing it as too large is that query's fault, an
    /// [`Error::BadQuery`] naming the reason, not a failure of the store.
    fn ctx_query(self, context: &str) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, sqlx::Error> {
    fn ctx(self, context: &str) -> Result<T> {
        self.map_err(|source| Error::Db { context: context.to_string(), source })
    }
    fn ctx_query(self, context: &str) -> Result<T> {
        self.map_err(|source| match crate::unavailable::too_large_for_the_database(&source) {
            Some(why) => Error::BadQuery(format!(
                "the query is too large for the database while {context}: {why}"
            )),
            None => Error::Db { context: context.to_string(), source },
        })
    }
}

pub(crate) fn corrupt(context: impl Into<String>, detail: impl ToString) -> Error {
    Error::Corrupt { context: context.into(), detail: detail.to_string() }
}

impl From<quire_query::ParseError> for Error {
    fn from(e: quire_query::ParseError) -> Self {
        Error::BadQuery(e.message)
    }
}
