//! quire-git: the git side of quire.
//!
//! - [`Mirror`]: a local bare mirror of the project's branch, kept up to date with [`Mirror::fetch`].
//! - [`apply`]: a series (the mbox `quire am` writes) applied with `git am --3way` in a throwaway
//!   worktree, on the best base we can find, with the full log of what ran.
//! - [`push_tag`]: the result pushed as `refs/tags/<prefix>/<message-id>` (see [`refname`]).
//! - [`patch_ids`]: the stable patch-ids of new upstream commits, to mark stored patches merged.
//!
//! Invariants: only the real `git` program touches repositories; it runs with a clean environment
//! and hooks disabled (see [`run`]); nothing from a mail is ever executed.

pub mod refname;
pub mod run;

mod apply;
mod mbox;
mod mirror;
mod upstream;

pub use apply::{
    ApplyBase, ApplyOutcome, ApplyRequest, ApplyResult, BaseSource, ChosenBase, FailedPatch,
    apply,
};
pub use mirror::{Fetched, Mirror};
pub use refname::{message_id_from_ref_name, ref_name_for_message_id, tag_ref};
pub use upstream::{UpstreamCommit, patch_ids, patch_ids_of_mbox, push_tag};

/// What went wrong around git (not a series failing to apply: that is an [`ApplyResult::Failed`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("could not run `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed: {message}")]
    Git { command: String, message: String },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no base to apply on: {0}")]
    NoBase(String),
    #[error("invalid ref name {name:?}: {message}")]
    BadRef { name: String, message: String },
}
