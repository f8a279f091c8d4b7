//! One error type for the whole crate: every failure names what was being done.
use std::path::PathBuf;

/// What stopped a check from producing a report. A header that fails to compile is *not* an
/// error: it is part of the report ([`crate::CompileFailure`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("clang not found at {}: install it with `apt-get install clang`", path.display())]
    ClangMissing { path: PathBuf },
    #[error("git not found: install it with `apt-get install git`")]
    GitMissing,
    #[error("`git {args}` failed in {}: {message}", repo.display())]
    Git { repo: PathBuf, args: String, message: String },
    #[error("invalid header glob {glob:?}: {source}")]
    Glob { glob: String, source: globset::Error },
    #[error(
        "unknown target {0:?}: give a short name (x86_64, i386, aarch64, arm) or a clang triple"
    )]
    Target(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("reading the object file built for {what}: {message}")]
    Object { what: String, message: String },
    #[error("reading DWARF of {what}: {source}")]
    Dwarf { what: String, source: gimli::Error },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let context = context.into();
    move |source| Error::Io { context, source }
}
