//! quire-worker: applies every complete series of a project with a git tree, pushes the result as
//! a tag, and notices when upstream merged it.
//!
//! The work comes from the store's job queue ([`quire_store::Store::claim_job`]), so a worker can
//! run inside `quire serve` or as any number of `quire worker` processes (on several machines
//! with PostgreSQL). One round of a [`Worker`]:
//!
//! 1. when the store has new events (series new/complete), queue every complete series without a
//!    result ([`quire_store::Store::enqueue_ready_series`]);
//! 2. for each project with a tree, at most every `fetch_every`: fetch its mirror and match the new
//!    upstream commits to stored patches ([`merge`]);
//! 3. claim jobs and run them until none is due ([`apply`] for `apply` jobs; after a series
//!    applied, the `git range-diff` with its neighbouring revisions, [`range_diff`]).
//!
//! A job whose git or store work fails is given back with a backoff (30 s, 1 min, 2 min... at most
//! an hour) and failed for good after `max_attempts`; a series that does not apply is not an
//! error: it is a result, stored with its log.

pub mod abi;
pub mod apply;
pub mod approvals;
pub mod checks;
pub mod merge;
pub mod range_diff;

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use quire_store::{Job, ProjectConfig, Store};

pub use apply::{Applied, apply_series};
pub use merge::{MergeScan, scan_project};

/// What can stop a job (not a series failing to apply: that is a stored result).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] quire_store::Error),
    #[error(transparent)]
    Git(#[from] quire_git::Error),
    #[error("no series has a message <{0}>")]
    NoSeries(String),
    #[error(
        "project {0:?} has no git tree configured (set `git` and `branch` in its [[project]] section)"
    )]
    NoTree(String),
    #[error("project {0:?} is not configured")]
    NoProject(String),
    #[error("a git task stopped unexpectedly: {0}")]
    Task(String),
}

impl Error {
    /// Errors that the same job will meet again however often it is retried.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Error::NoSeries(_) | Error::NoTree(_) | Error::NoProject(_))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Names the worker in the store's locks and in logs; unique per process.
    pub id: String,
    /// Where the projects' mirrors live (`<data-dir>/git`).
    pub git_dir: PathBuf,
    /// Sleep between rounds when there is nothing to do.
    pub poll: Duration,
    /// How long a claimed job is ours before another worker may take it.
    pub lease: Duration,
    /// How often to fetch a project's tree (for merge detection and fresh bases).
    pub fetch_every: Duration,
    /// Claims of one job before it is failed for good.
    pub max_attempts: u32,
    /// Expired leases (a worker died holding the job) before a job ends as failed instead of
    /// being claimed again.
    pub max_lost_leases: u32,
    /// Projects with the built-in `abi` check (`[project.abi]`), run on every applied series.
    pub abi: HashMap<String, quire_abi::AbiConfig>,
    /// Projects' `[[project.check]]` tables: built-ins run here, scripts are queued for testers.
    pub checks: HashMap<String, Vec<checks::CheckSpec>>,
}

impl WorkerOptions {
    pub fn new(git_dir: PathBuf) -> WorkerOptions {
        WorkerOptions {
            id: default_worker_id(),
            git_dir,
            poll: Duration::from_secs(2),
            lease: Duration::from_secs(15 * 60),
            fetch_every: Duration::from_secs(5 * 60),
            max_attempts: 5,
            max_lost_leases: quire_store::MAX_LOST_LEASES,
            abi: HashMap::new(),
            checks: HashMap::new(),
        }
    }
}

/// `host-pid`: what an admin looking at the jobs table can find.
pub fn default_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}-{}", std::process::id())
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundStats {
    pub queued: u64,
    pub applied: u64,
    pub failed_to_apply: u64,
    pub job_errors: u64,
    pub merged_series: u64,
}

/// A job a worker ran.
#[derive(Debug, Clone)]
pub struct JobDone {
    pub job: Job,
    pub elapsed: Duration,
}

/// A worker: call [`Worker::run`] (forever, until told to stop) or [`Worker::round`].
pub struct Worker {
    store: Store,
    opts: WorkerOptions,
    last_event: Option<i64>,
    last_fetch: HashMap<String, Instant>,
    maintainers: approvals::MaintainersCache,
}

impl Worker {
    pub fn new(store: Store, opts: WorkerOptions) -> Worker {
        Worker {
            store,
            opts,
            last_event: None,
            last_fetch: HashMap::new(),
            maintainers: Default::default(),
        }
    }

    pub fn options(&self) -> &WorkerOptions {
        &self.opts
    }

    /// Runs rounds until `stop` resolves; errors of a round are logged and the next round tries
    /// again (the database may be restarting).
    pub async fn run(&mut self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            match self.round().await {
                Ok(stats) if stats != RoundStats::default() => {
                    tracing::info!(?stats, worker = %self.opts.id, "worker round")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, worker = %self.opts.id, "worker round failed"),
            }
            tokio::select! {
                _ = &mut stop => return,
                _ = tokio::time::sleep(self.opts.poll) => {}
            }
        }
    }

    /// One round: queue ready series, fetch trees that are due and detect merges, run every due
    /// job.
    pub async fn round(&mut self) -> Result<RoundStats> {
        let mut stats = RoundStats::default();
        if self.new_events().await? {
            stats.queued = self.store.enqueue_ready_series().await?;
        }
        for project in self.projects_with_tree().await? {
            let due = self
                .last_fetch
                .get(&project.name)
                .is_none_or(|t| t.elapsed() >= self.opts.fetch_every);
            if !due {
                continue;
            }
            self.last_fetch.insert(project.name.clone(), Instant::now());
            match scan_project(&self.store, &self.opts.git_dir, &project).await {
                Ok(scan) => stats.merged_series += scan.merged_series.len() as u64,
                Err(e) => {
                    tracing::warn!(project = %project.name, error = %e, "fetching the tree failed")
                }
            }
        }
        while self.run_next_job(&mut stats).await?.is_some() {}
        Ok(stats)
    }

    /// Claims and runs one due job, counting what it gave into `stats`; `None` when no job is
    /// due. (Does not queue series: [`Worker::round`] does.)
    pub async fn run_next_job(&mut self, stats: &mut RoundStats) -> Result<Option<JobDone>> {
        let Some(job) = self
            .store
            .claim_job(
                &self.opts.id,
                self.lease_secs(),
                &[quire_store::APPLY],
                self.opts.max_lost_leases,
            )
            .await?
        else {
            return Ok(None);
        };
        let started = Instant::now();
        self.run_job(&job, stats).await?;
        Ok(Some(JobDone { job, elapsed: started.elapsed() }))
    }

    fn lease_secs(&self) -> i64 {
        i64::try_from(self.opts.lease.as_secs()).unwrap_or(i64::MAX / 4).max(1)
    }

    /// True when the store recorded events since the last look (or on the first round).
    async fn new_events(&mut self) -> Result<bool> {
        let mut newest = self.last_event;
        loop {
            let batch = self.store.events(newest.unwrap_or(0), 1000).await?;
            let Some(last) = batch.last() else { break };
            newest = Some(last.id);
            if batch.len() < 1000 {
                break;
            }
        }
        let changed = self.last_event.is_none() || newest != self.last_event;
        self.last_event = newest.or(Some(0));
        Ok(changed)
    }

    async fn projects_with_tree(&self) -> Result<Vec<ProjectConfig>> {
        Ok(self
            .store
            .project_configs()
            .await?
            .into_iter()
            .filter(|p| p.git_url.is_some())
            .collect())
    }

    async fn run_job(&mut self, job: &Job, stats: &mut RoundStats) -> Result<()> {
        let worker = self.opts.id.clone();
        let Some(head) = job.target.clone() else {
            self.store
                .fail_job(job.id, &worker, "the message of this job is not stored", None)
                .await?;
            return Ok(());
        };
        let span = tracing::info_span!("apply", head = %head, project = %job.project, attempt = job.attempts);
        let _enter = span.enter();
        // Fetch at most every `fetch_every` (the round fetched already when due).
        let fetch = !self.last_fetch.contains_key(&job.project);
        if fetch {
            self.last_fetch.insert(job.project.clone(), Instant::now());
        }
        let outcome = apply_series(&self.store, &self.opts.git_dir, &head, None, fetch).await;
        match outcome {
            Ok(applied) => {
                if self
                    .store
                    .finish_apply_job(job.id, &worker, &applied.head, &applied.result)
                    .await?
                {
                    // Applied or not, the base is known: the maintainers file there says whose
                    // approval the series needs. Not reading it is no reason to fail the job.
                    if let Err(e) = self.record_maintainers(&applied).await {
                        tracing::warn!(error = %e, "reading the maintainers file failed");
                    }
                    // The range-diff with the neighbouring revisions; without it the page
                    // shows the interdiff of the mails, as before.
                    if applied.outcome.applied_commit().is_some()
                        && let Err(e) = self.record_range_diffs(&applied).await
                    {
                        tracing::warn!(error = %e, "computing the range-diff failed");
                    }
                    match applied.outcome.applied_commit() {
                        Some(commit) => {
                            stats.applied += 1;
                            if let Some(cfg) = self.opts.abi.get(&job.project) {
                                let repo = mirror_dir(&self.opts.git_dir, &job.project);
                                let base = applied.outcome.base.commit.clone();
                                let c = abi::run_abi_check(
                                    &self.store,
                                    &repo,
                                    &applied.head,
                                    &base,
                                    commit,
                                    cfg,
                                )
                                .await?;
                                tracing::info!(state = ?c.state, description = ?c.description, "abi check");
                            }
                            if let Some(specs) =
                                self.opts.checks.get(&job.project).filter(|s| !s.is_empty())
                            {
                                self.run_checks(&applied, specs, commit).await?;
                            }
                        }
                        None => stats.failed_to_apply += 1,
                    }
                } else {
                    tracing::warn!(
                        "lost the job to another worker (lease expired); result not stored"
                    );
                }
            }
            Err(e) => {
                stats.job_errors += 1;
                let retry = (!e.is_permanent() && job.attempts < self.opts.max_attempts)
                    .then(|| chrono::Utc::now().timestamp() + backoff_secs(job.attempts));
                tracing::warn!(error = %e, retry_at = ?retry, "apply job failed");
                self.store.fail_job(job.id, &worker, &e.to_string(), retry).await?;
            }
        }
        Ok(())
    }
}

impl Worker {
    async fn record_maintainers(&self, applied: &Applied) -> Result<()> {
        let Some(project) =
            self.store.project_configs().await?.into_iter().find(|p| p.name == applied.project)
        else {
            return Ok(());
        };
        approvals::record_maintainers(
            &self.store,
            &self.opts.git_dir,
            &project,
            &applied.head,
            &applied.outcome.base.commit,
            &self.maintainers,
        )
        .await?;
        Ok(())
    }

    async fn record_range_diffs(&self, applied: &Applied) -> Result<()> {
        let Some(project) =
            self.store.project_configs().await?.into_iter().find(|p| p.name == applied.project)
        else {
            return Ok(());
        };
        let n = range_diff::record_range_diffs(
            &self.store,
            &self.opts.git_dir,
            &project,
            &applied.head,
        )
        .await?;
        if n > 0 {
            tracing::info!(stored = n, "range-diff with the neighbouring revisions");
        }
        Ok(())
    }

    async fn run_checks(
        &self,
        applied: &Applied,
        specs: &[checks::CheckSpec],
        commit: &str,
    ) -> Result<()> {
        let Some(project) =
            self.store.project_configs().await?.into_iter().find(|p| p.name == applied.project)
        else {
            return Ok(());
        };
        let Some(series) = self.store.series(&applied.head).await? else { return Ok(()) };
        checks::after_apply(&self.store, &project, specs, &series, commit, applied.tag.as_deref())
            .await
    }
}

/// Seconds before retry number `attempts`: 30 s doubling, at most an hour.
pub fn backoff_secs(attempts: u32) -> i64 {
    let exp = attempts.saturating_sub(1).min(7);
    (30i64 << exp).min(3600)
}

/// The mirror directory of a project: its name made safe for a file name.
pub fn mirror_dir(git_dir: &std::path::Path, project: &str) -> PathBuf {
    git_dir.join(format!("{}.git", quire_git::ref_name_for_message_id(project)))
}

/// Opens (cloning on first use) the mirror of `project`, fetching it when `fetch`.
pub(crate) async fn open_mirror(
    git_dir: &std::path::Path,
    project: &ProjectConfig,
    fetch: bool,
) -> Result<quire_git::Mirror> {
    let url = project.git_url.clone().ok_or_else(|| Error::NoTree(project.name.clone()))?;
    let branch = project.branch.clone().unwrap_or_else(|| "master".into());
    let dir = mirror_dir(git_dir, &project.name);
    blocking(move || {
        let fresh = !dir.join("HEAD").exists();
        let mirror = quire_git::Mirror::open_or_clone(&dir, &url, &branch)?;
        if fetch && !fresh {
            mirror.fetch()?;
        }
        Ok(mirror)
    })
    .await
}

/// Runs blocking git work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Error::Task(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_from_half_a_minute_to_an_hour() {
        assert_eq!(backoff_secs(1), 30);
        assert_eq!(backoff_secs(2), 60);
        assert_eq!(backoff_secs(3), 120);
        assert_eq!(backoff_secs(8), 3600);
        assert_eq!(backoff_secs(1000), 3600);
    }

    #[test]
    fn project_names_become_safe_directory_names() {
        let d = mirror_dir(std::path::Path::new("/data/git"), "../xen/devel");
        assert_eq!(d, std::path::Path::new("/data/git/%2E%2E%2Fxen%2Fdevel.git"));
    }
}
