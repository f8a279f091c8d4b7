//! quire-git: the git side of quire.
//!
//! - [`Mirror`]: a local bare mirror of the project's branch, kept up to date with [`Mirror::fetch`].
//! - [`apply`]: a series (the mbox `quire am` writes) applied with `git am --3way` in a throwaway
//!   worktree, on the best base we can find, with the full log of what ran.
//! - [`push_tag`]: the result pushed as `refs/tags/<prefix>/<message-id>` (see [`refname`]).
//! - [`range_diff`]: `git range-diff` between two applied revisions of a series.
//! - [`patch_ids`]: the stable patch-ids of new upstream commits, to mark stored patches merged.
//!
//! How `quire apply MSGID [--base REV]` uses it (the store side is the caller's):
//!
//! ```text
//! let mirror = Mirror::open_or_clone(&data_dir.join("mirror.git"), &project.git_url, &project.branch)?;
//! mirror.fetch()?;                                     // or let the worker's schedule do it
//! let mbox = quire_series::am::render_mbox(&patches, &AmOptions::default());
//! let based_on = /* result commit stored for the series named by Based-on:, if applied */;
//! let out = apply(&mirror, &ApplyRequest { mbox, base_commit, based_on, base_override: args.base })?;
//! println!("{}", out.base.reason);                     // which base, and why
//! match out.result { Applied { commit, .. } => push_tag(&mirror, push_url, "quire", msgid, &commit)?,
//!                    Failed { patch, message } => /* store message + out.log */ }
//! ```
//!
//! Merge detection: after `let f = mirror.fetch()?`, `patch_ids(&mirror, f.old.as_deref(), &f.new)`
//! lists the new upstream commits with their `git patch-id --stable`, which equals the
//! `quire_mail::Diff::patch_id` stored for the mail (checked on the real archives); fall back to
//! author e-mail + subject when no id matches.
//!
//! Invariants: only the real `git` program touches repositories; it runs with a clean environment
//! and hooks disabled (see [`run`]); nothing from a mail is ever executed.

pub mod refname;
pub mod run;

mod apply;
mod mbox;
mod mirror;
mod range_diff;
mod upstream;

pub use apply::{
    ApplyBase, ApplyOutcome, ApplyRequest, ApplyResult, BaseSource, ChosenBase, FailedPatch, apply,
    choose_base,
};
pub use mirror::{DEFAULT_TIMEOUT, Fetched, Mirror};
pub use range_diff::{AppliedRange, MAX_RANGE_DIFF_BYTES, RangeDiff, range_diff};
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
    #[error("`{command}` killed after {seconds} s")]
    Timeout { command: String, seconds: u64 },
    #[error("no base to apply on: {0}")]
    NoBase(String),
    #[error("invalid ref name {name:?}: {message}")]
    BadRef { name: String, message: String },
}
