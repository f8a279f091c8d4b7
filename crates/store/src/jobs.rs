//! Work for the workers, kept in the store: it survives restarts and is shared by any number of
//! worker processes (on PostgreSQL they claim with `FOR UPDATE SKIP LOCKED`; SQLite has one
//! writer at a time, so its claims are atomic too).
//!
//! A job is about one message (the series head for `apply`) and has a lease: a worker claims it
//! for `lease` seconds, may extend it, and finishes it only while it still holds it. A worker
//! that dies loses the job when the lease expires, and the next claim takes it; a worker that
//! comes back late cannot store a second result ([`Store::finish_apply_job`] checks the lease in
//! the same transaction as the result).
//!
//! Merged patches are recorded here too: which stored patch an upstream commit merged, and how
//! it was matched (`patch-id`, or `author+subject`).

use crate::{ApplyResult, Pool, Result, Store};

/// The kind of job that applies a series with git.
pub const APPLY: &str = "apply";

/// A claimed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    /// The Message-ID of the message the job is about (`None` if that message is gone, which a
    /// store that never deletes raw mail does not do).
    pub target: Option<String>,
    pub project: String,
    /// Claims so far, this one included.
    pub attempts: u32,
    /// Unix seconds when the lease ends.
    pub lease_until: i64,
}

/// Jobs by kind and state, for metrics and `quire worker --status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobCount {
    pub kind: String,
    /// queued, running, done, failed.
    pub state: String,
    pub count: u64,
}

/// A stored patch an upstream commit may have merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeCandidate {
    pub(crate) row_id: i64,
    pub message_id: String,
    pub patch_id: Option<String>,
    pub author_email: String,
    pub subject: String,
}

/// A stored patch found upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamMatch {
    pub(crate) row_id: i64,
    pub commit: String,
    /// `patch-id` or `author+subject`.
    pub matched_by: &'static str,
}

impl UpstreamMatch {
    pub fn new(candidate: &MergeCandidate, commit: &str, matched_by: &'static str) -> UpstreamMatch {
        UpstreamMatch { row_id: candidate.row_id, commit: commit.to_string(), matched_by }
    }
}

/// A patch of a series known to be merged upstream.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MergedPatch {
    pub message_id: String,
    pub commit: String,
    pub matched_by: String,
    pub updated: i64,
}

impl Store {
    /// Queues an `apply` job for every complete series (not a pull request) of a project with a
    /// git tree that has no apply result and no job yet. Idempotent; returns how many it queued.
    pub async fn enqueue_ready_series(&self) -> Result<u64> {
        on_backend!(self.pool, |p, m| m::jobs_sql::enqueue_ready_apply(p).await)
    }

    /// Queues a job of `kind` about `message_id` now, or queues it again if it exists (attempts
    /// reset): for applying one series again on request.
    pub async fn enqueue_job(&self, kind: &str, message_id: &str, project: &str) -> Result<i64> {
        on_backend!(self.pool, |p, m| m::jobs_sql::enqueue(p, kind, message_id, project).await)
    }

    /// Claims the oldest due job of one of `kinds` (any kind when empty) for `lease_secs`.
    pub async fn claim_job(&self, worker: &str, lease_secs: i64, kinds: &[&str]) -> Result<Option<Job>> {
        on_backend!(self.pool, |p, m| m::jobs_sql::claim(p, worker, lease_secs, kinds).await)
    }

    /// Extends the lease of a job `worker` holds; false when it has lost it.
    pub async fn extend_job(&self, job: &Job, worker: &str, lease_secs: i64) -> Result<bool> {
        on_backend!(self.pool, |p, m| m::jobs_sql::extend(p, job.id, worker, lease_secs).await)
    }

    /// Marks a job done; false when `worker` no longer holds it.
    pub async fn finish_job(&self, job: &Job, worker: &str) -> Result<bool> {
        on_backend!(self.pool, |p, m| m::jobs_sql::finish(p, job.id, worker).await)
    }

    /// Stores the apply result of the series headed by `head` and marks the job done, atomically,
    /// only while `worker` holds the job. False (and nothing stored) when it lost the job.
    pub async fn finish_apply_job(&self, job: &Job, worker: &str, head: &str, result: &ApplyResult) -> Result<bool> {
        on_backend!(self.pool, |p, m| m::jobs_sql::finish_apply(p, job.id, worker, head, result).await)
    }

    /// Gives a job back after an error: queued again at `retry_at` (unix seconds), or failed for
    /// good when `None`. False when `worker` no longer holds it.
    pub async fn fail_job(&self, job: &Job, worker: &str, error: &str, retry_at: Option<i64>) -> Result<bool> {
        on_backend!(self.pool, |p, m| m::jobs_sql::fail(p, job.id, worker, error, retry_at).await)
    }

    /// Jobs by kind and state.
    pub async fn job_counts(&self) -> Result<Vec<JobCount>> {
        on_backend!(self.pool, |p, m| m::jobs_sql::job_counts(p).await)
    }

    /// The state (`queued`, `running`, `done`, `failed`) and last error of the job of `kind`
    /// about `message_id`.
    pub async fn job_state(&self, kind: &str, message_id: &str) -> Result<Option<(String, Option<String>)>> {
        on_backend!(self.pool, |p, m| m::jobs_sql::job_state(p, kind, message_id).await)
    }

    /// Stored patches of `project` with one of `patch_ids`, or sent by one of `authors`
    /// (lower-case addresses; the caller compares subjects).
    pub async fn merge_candidates(&self, project: &str, patch_ids: &[String], authors: &[String]) -> Result<Vec<MergeCandidate>> {
        on_backend!(self.pool, |p, m| m::jobs_sql::merge_candidates(p, project, patch_ids, authors).await)
    }

    /// Records patches found upstream (a patch keeps its first match) and a `series-merged`
    /// event for each series of `project` that is now merged in full; returns their heads.
    pub async fn record_merged(&self, project: &str, matches: &[UpstreamMatch]) -> Result<Vec<String>> {
        on_backend!(self.pool, |p, m| m::jobs_sql::record_merged(p, project, matches).await)
    }

    /// Which of these patches (Message-IDs) are merged upstream, and by which commit.
    pub async fn merged_patches(&self, message_ids: &[String]) -> Result<Vec<MergedPatch>> {
        on_backend!(self.pool, |p, m| m::jobs_sql::merged(p, message_ids).await)
    }
}
