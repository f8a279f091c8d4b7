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
//! A job whose lease expires without a result again and again (it kills whoever runs it, or
//! its report is refused) is not handed out forever: the claim after its `max_lost`-th expired
//! lease ends it as failed with the reason, and a check job's reason becomes an `error` check
//! on its series ([`MAX_LOST_LEASES`] by default).
//!
//! Merged patches are recorded here too: which stored patch an upstream commit merged, and how
//! it was matched (`patch-id`, or `author+subject`).

use crate::{ApplyResult, NewCheck, Pool, Result, Store};

/// The kind of job that applies a series with git.
pub const APPLY: &str = "apply";

/// The largest check log the store keeps, in UTF-8 bytes (1 MiB): a longer one keeps its end,
/// which says what failed, after a first line saying how much was cut ([`check_log`]).
/// Testers are told (the claim's `log_limit`) so that they cut theirs before sending.
pub const CHECK_LOG_LIMIT: usize = 1 << 20;

/// A check's `log` as the store keeps it: NULs replaced by U+FFFD (as in every stored text),
/// and at most [`CHECK_LOG_LIMIT`] bytes, the first line included: `[... N bytes cut ...]`
/// with N in bytes of `log`, then its end, from a character boundary.
pub fn check_log(log: &str) -> std::borrow::Cow<'_, str> {
    // A NUL becomes the 3 bytes of U+FFFD: a log of 1 MB of NULs stores 3 MB.
    let cost = |b: u8| if b == 0 { 3 } else { 1 };
    let stored: usize = log.bytes().map(cost).sum();
    if stored <= CHECK_LOG_LIMIT {
        return crate::clean(log);
    }
    // The first line is at most this long: N has at most as many digits as log.len().
    let marker = "[...  bytes cut ...]\n".len() + log.len().to_string().len();
    let budget = CHECK_LOG_LIMIT - marker;
    let bytes = log.as_bytes();
    let (mut start, mut kept) = (bytes.len(), 0);
    while start > 0 && kept + cost(bytes[start - 1]) <= budget {
        start -= 1;
        kept += cost(bytes[start]);
    }
    while !log.is_char_boundary(start) {
        start += 1;
    }
    std::borrow::Cow::Owned(format!("[... {start} bytes cut ...]\n{}", crate::clean(&log[start..])))
}

/// Expired leases after which a job ends as failed instead of being claimed again.
pub const MAX_LOST_LEASES: u32 = 3;

/// The lock owner of a tester's claims: its token and the name it gives, so that one token's
/// testers cannot finish each other's jobs by accident; [`lost_lease_reason`] reads it back.
pub fn tester_owner(token_id: i64, tester: &str) -> String {
    format!("tester:{token_id}:{tester}")
}

/// What a job that lost its lease `lost` times says: who held it last and what may have
/// happened. `holder` is a lock owner (a worker's id, or [`tester_owner`]).
pub(crate) fn lost_lease_reason(lost: i64, holder: &str) -> String {
    let tester =
        holder.strip_prefix("tester:").and_then(|rest| rest.split_once(':')).map(|(_, name)| name);
    let claims = if lost == 1 { "claim" } else { "claims" };
    match tester {
        Some(name) => format!(
            "no result after {lost} {claims} (last by tester {name}); the tester may have crashed or its report was refused"
        ),
        None => format!(
            "no result after {lost} {claims} (last by worker {holder}); the worker may have crashed"
        ),
    }
}

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
    /// What a check job's runner needs (script, time limit, where the tree is); `None` for
    /// `apply` jobs.
    pub payload: Option<serde_json::Value>,
}

/// A job as an admin or a tester's report sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobInfo {
    pub id: i64,
    pub kind: String,
    /// queued, running, done, failed.
    pub state: String,
    pub locked_by: Option<String>,
    pub payload: Option<serde_json::Value>,
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// An API token (its secret is never stored: only its SHA-256).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Token {
    pub id: i64,
    pub name: String,
    /// `tester` (claim and report jobs, post checks) or `admin`.
    pub scope: String,
    pub created: i64,
}

/// Scopes a token can have.
pub const TOKEN_SCOPES: &[&str] = &["tester", "admin"];

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
    pub fn new(
        candidate: &MergeCandidate,
        commit: &str,
        matched_by: &'static str,
    ) -> UpstreamMatch {
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
        on_backend!(self.pool, |p, m| m::jobs::enqueue_ready_apply(p).await)
    }

    /// Queues a job of `kind` about `message_id` now, or queues it again if it exists (attempts
    /// reset): for applying one series again on request, or a check after an apply. `payload`
    /// is handed to whoever claims it.
    pub async fn enqueue_job(
        &self,
        kind: &str,
        message_id: &str,
        project: &str,
        payload: Option<&serde_json::Value>,
    ) -> Result<i64> {
        let payload = payload.map(|p| p.to_string());
        on_backend!(self.pool, |p, m| m::jobs::enqueue(
            p,
            kind,
            message_id,
            project,
            payload.as_deref()
        )
        .await)
    }

    /// Claims the oldest due job whose kind is one of `kinds` (an entry ending in `*` is a
    /// prefix: `check:*`), any kind when empty, for `lease_secs`. A job of these kinds whose
    /// lease has expired `max_lost` times (at least 1; [`MAX_LOST_LEASES`]) is ended first,
    /// not claimed (see the module's comment).
    pub async fn claim_job(
        &self,
        worker: &str,
        lease_secs: i64,
        kinds: &[&str],
        max_lost: u32,
    ) -> Result<Option<Job>> {
        on_backend!(self.pool, |p, m| m::jobs::claim(p, worker, lease_secs, kinds, max_lost).await)
    }

    /// Extends the lease of job `job_id` that `worker` holds; false when it has lost it.
    pub async fn extend_job(&self, job_id: i64, worker: &str, lease_secs: i64) -> Result<bool> {
        on_backend!(self.pool, |p, m| m::jobs::extend(p, job_id, worker, lease_secs).await)
    }

    /// Marks a job done; false when `worker` no longer holds it.
    pub async fn finish_job(&self, job_id: i64, worker: &str) -> Result<bool> {
        on_backend!(self.pool, |p, m| m::jobs::finish(p, job_id, worker).await)
    }

    /// Stores the apply result of the series headed by `head` and marks the job done, atomically,
    /// only while `worker` holds the job. False (and nothing stored) when it lost the job.
    pub async fn finish_apply_job(
        &self,
        job_id: i64,
        worker: &str,
        head: &str,
        result: &ApplyResult,
    ) -> Result<bool> {
        on_backend!(self.pool, |p, m| m::jobs::finish_apply(p, job_id, worker, head, result).await)
    }

    /// Stores a check on `message_id` and marks its job done, atomically, only while `worker`
    /// holds the job: the check's id, or `None` (nothing stored) when it lost the job.
    pub async fn finish_check_job(
        &self,
        job_id: i64,
        worker: &str,
        message_id: &str,
        check: &NewCheck,
    ) -> Result<Option<i64>> {
        on_backend!(self.pool, |p, m| m::jobs::finish_check(p, job_id, worker, message_id, check)
            .await)
    }

    /// Gives a job back after an error: queued again at `retry_at` (unix seconds), or failed for
    /// good when `None`. False when `worker` no longer holds it.
    pub async fn fail_job(
        &self,
        job_id: i64,
        worker: &str,
        error: &str,
        retry_at: Option<i64>,
    ) -> Result<bool> {
        on_backend!(self.pool, |p, m| m::jobs::fail(p, job_id, worker, error, retry_at).await)
    }

    /// Job `id` while it is running (`None` when it is not, or does not exist).
    pub async fn running_job(&self, id: i64) -> Result<Option<JobInfo>> {
        let job = on_backend!(self.pool, |p, m| m::jobs::job_info(p, id).await)?;
        Ok(job.filter(|j| j.state == "running"))
    }

    /// Job `id` in any state.
    pub async fn job(&self, id: i64) -> Result<Option<JobInfo>> {
        on_backend!(self.pool, |p, m| m::jobs::job_info(p, id).await)
    }

    /// Jobs by kind and state.
    pub async fn job_counts(&self) -> Result<Vec<JobCount>> {
        on_backend!(self.pool, |p, m| m::jobs::job_counts(p).await)
    }

    /// The state (`queued`, `running`, `done`, `failed`) and last error of the job of `kind`
    /// about `message_id`.
    pub async fn job_state(
        &self,
        kind: &str,
        message_id: &str,
    ) -> Result<Option<(String, Option<String>)>> {
        on_backend!(self.pool, |p, m| m::jobs::job_state(p, kind, message_id).await)
    }

    /// Stored patches of `project` with one of `patch_ids`, or sent by one of `authors`
    /// (lower-case addresses; the caller compares subjects).
    pub async fn merge_candidates(
        &self,
        project: &str,
        patch_ids: &[String],
        authors: &[String],
    ) -> Result<Vec<MergeCandidate>> {
        on_backend!(self.pool, |p, m| m::jobs::merge_candidates(p, project, patch_ids, authors)
            .await)
    }

    /// Records patches found upstream (a patch keeps its first match) and a `series-merged`
    /// event for each series of `project` that is now merged in full; returns their heads.
    pub async fn record_merged(
        &self,
        project: &str,
        matches: &[UpstreamMatch],
    ) -> Result<Vec<String>> {
        on_backend!(self.pool, |p, m| m::jobs::record_merged(p, project, matches).await)
    }

    /// Which of these patches (Message-IDs) are merged upstream, and by which commit.
    pub async fn merged_patches(&self, message_ids: &[String]) -> Result<Vec<MergedPatch>> {
        on_backend!(self.pool, |p, m| m::jobs::merged(p, message_ids).await)
    }

    /// Creates a token of `scope` (see [`TOKEN_SCOPES`]); returns it and its secret, which is
    /// shown once and never stored.
    pub async fn create_token(&self, name: &str, scope: &str) -> Result<(Token, String)> {
        if !TOKEN_SCOPES.contains(&scope) {
            return Err(crate::Error::Invalid(format!(
                "unknown token scope {scope:?}: use one of {}",
                TOKEN_SCOPES.join(", ")
            )));
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| crate::Error::Invalid(format!("no randomness for a token: {e}")))?;
        let secret = format!("quire_{}", hex::encode(bytes));
        let hash = crate::derive::sha256_hex(secret.as_bytes());
        let id = on_backend!(self.pool, |p, m| m::jobs::create_token(p, name, scope, &hash).await)?;
        let token =
            Token { id, name: name.to_string(), scope: scope.to_string(), created: crate::now() };
        Ok((token, secret))
    }

    /// The live token whose secret this is.
    pub async fn check_token(&self, secret: &str) -> Result<Option<Token>> {
        let hash = crate::derive::sha256_hex(secret.trim().as_bytes());
        on_backend!(self.pool, |p, m| m::jobs::token_by_hash(p, &hash).await)
    }

    /// Live tokens (without secrets).
    pub async fn tokens(&self) -> Result<Vec<Token>> {
        on_backend!(self.pool, |p, m| m::jobs::tokens(p).await)
    }

    /// Revokes a token; false when there is no live token with that id.
    pub async fn revoke_token(&self, id: i64) -> Result<bool> {
        on_backend!(self.pool, |p, m| m::jobs::revoke_token(p, id).await)
    }
}
