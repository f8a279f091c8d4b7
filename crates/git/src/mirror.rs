//! The local bare mirror of the project's tree.

use crate::Error;
use crate::run::{Log, git, git_ok};
use std::path::{Path, PathBuf};

/// A bare repository holding the project's branch as `refs/heads/<branch>`, fetched from `url`.
#[derive(Debug, Clone)]
pub struct Mirror {
    dir: PathBuf,
    url: String,
    branch: String,
    home: PathBuf,
    timeout: std::time::Duration,
}

/// How long one git command may run before it is killed (a fetch from a host that never answers
/// must not hold a worker forever). Change with [`Mirror::with_timeout`].
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// The branch head before and after a fetch: the commits `old..new` are the new upstream ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// `None` on the first fetch.
    pub old: Option<String>,
    pub new: String,
}

impl Fetched {
    pub fn changed(&self) -> bool {
        self.old.as_deref() != Some(self.new.as_str())
    }
}

/// Directory inside the mirror used as `$HOME` for git: ours, empty, never the user's.
const HOME_DIR: &str = "quire-home";
/// Where throwaway worktrees are made.
pub(crate) const WORKTREES_DIR: &str = "quire-worktrees";

impl Mirror {
    /// Opens the bare mirror at `dir`, creating it (and fetching `branch` from `url`) when `dir`
    /// is not a repository yet. An existing mirror is not fetched: call [`Mirror::fetch`].
    pub fn open_or_clone(dir: &Path, url: &str, branch: &str) -> Result<Mirror, Error> {
        check_branch_name(branch)?;
        if url.starts_with('-') || url.trim().is_empty() {
            // It would be read as an option of `git remote add` / `git fetch`.
            return Err(Error::BadRef {
                name: url.to_string(),
                message: "not a repository url".into(),
            });
        }
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            what: "creating mirror directory",
            path: dir.to_path_buf(),
            source,
        })?;
        let dir = dir.canonicalize().map_err(|source| Error::Io {
            what: "resolving mirror directory",
            path: dir.to_path_buf(),
            source,
        })?;
        let home = dir.join(HOME_DIR);
        for sub in [&home, &dir.join(WORKTREES_DIR)] {
            std::fs::create_dir_all(sub).map_err(|source| Error::Io {
                what: "creating",
                path: sub.clone(),
                source,
            })?;
        }
        let mirror = Mirror {
            dir,
            url: url.to_string(),
            branch: branch.to_string(),
            home,
            timeout: DEFAULT_TIMEOUT,
        };
        let mut log = Log::default();
        if !mirror.dir.join("HEAD").exists() {
            mirror.git_ok(&mut log, &["init", "--bare", "--quiet", "."])?;
            mirror.git_ok(&mut log, &["remote", "add", "origin", url])?;
            mirror.fetch()?;
        } else {
            // The url may have changed in the configuration: the caller's is the truth.
            mirror.git_ok(&mut log, &["remote", "set-url", "origin", url])?;
        }
        Ok(mirror)
    }

    /// The same mirror, its git commands limited to `timeout` each.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Mirror {
        self.timeout = timeout;
        self
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn url(&self) -> &str {
        &self.url
    }
    pub fn branch(&self) -> &str {
        &self.branch
    }

    /// Fetches the branch (forced: upstream may rewrite it) and returns its old and new heads.
    pub fn fetch(&self) -> Result<Fetched, Error> {
        let mut log = Log::default();
        let old = self.branch_head()?;
        let refspec = format!("+refs/heads/{0}:refs/heads/{0}", self.branch);
        self.git_ok(&mut log, &["fetch", "--quiet", "--no-tags", "origin", &refspec])?;
        let new = self.branch_head()?.ok_or_else(|| Error::Git {
            command: format!("git fetch origin {refspec}"),
            message: format!("branch {} still missing after fetch", self.branch),
        })?;
        Ok(Fetched { old, new })
    }

    /// The commit at the head of the branch, `None` before the first fetch.
    pub fn branch_head(&self) -> Result<Option<String>, Error> {
        self.resolve_commit(&format!("refs/heads/{}", self.branch))
    }

    /// The full id of the commit `rev` names in the mirror, `None` when the tree does not have it.
    pub fn resolve_commit(&self, rev: &str) -> Result<Option<String>, Error> {
        if rev.starts_with('-') {
            return Ok(None);
        }
        let mut log = Log::default();
        let spec = format!("{rev}^{{commit}}");
        let ran =
            self.git(&mut log, &["rev-parse", "--verify", "--quiet", "--end-of-options", &spec])?;
        Ok(ran.success.then(|| ran.stdout.trim().to_string()).filter(|s| !s.is_empty()))
    }

    /// The blob id and bytes of `path` at `commit` (e.g. the MAINTAINERS file a series applies
    /// on), `None` when the commit has no such file; an error when it is larger than
    /// `max_bytes` (the file comes from the tree, and is read whole into memory).
    pub fn read_file(
        &self,
        commit: &str,
        path: &str,
        max_bytes: u64,
    ) -> Result<Option<(String, Vec<u8>)>, Error> {
        if commit.starts_with('-') || path.is_empty() {
            return Ok(None);
        }
        let mut log = Log::default();
        let spec = format!("{commit}:{}", path.trim_start_matches('/'));
        let ran =
            self.git(&mut log, &["rev-parse", "--verify", "--quiet", "--end-of-options", &spec])?;
        let blob = ran.stdout.trim().to_string();
        if !ran.success || blob.is_empty() {
            return Ok(None);
        }
        let kind = self.git_ok(&mut log, &["cat-file", "-t", &blob])?;
        if kind.stdout.trim() != "blob" {
            return Ok(None);
        }
        let size = self.git_ok(&mut log, &["cat-file", "-s", &blob])?;
        let size: u64 = size.stdout.trim().parse().unwrap_or(u64::MAX);
        if size > max_bytes {
            return Err(Error::Git {
                command: format!("git cat-file -s {blob}"),
                message: format!("{path} at {commit} is {size} bytes, more than {max_bytes}"),
            });
        }
        let text = self.git_ok(&mut log, &["cat-file", "blob", &blob])?;
        Ok(Some((blob, text.stdout.into_bytes())))
    }

    pub(crate) fn home(&self) -> &Path {
        &self.home
    }

    pub(crate) fn env(&self) -> crate::run::Env<'_> {
        crate::run::Env { home: &self.home, timeout: self.timeout }
    }

    pub(crate) fn git(&self, log: &mut Log, args: &[&str]) -> Result<crate::run::Ran, Error> {
        git(log, &self.env(), &self.dir, args, None)
    }

    pub(crate) fn git_ok(&self, log: &mut Log, args: &[&str]) -> Result<crate::run::Ran, Error> {
        git_ok(log, &self.env(), &self.dir, args, None)
    }
}

fn check_branch_name(branch: &str) -> Result<(), Error> {
    // Before the mirror exists: git runs in the temporary directory, with it as $HOME, through
    // the one runner (clean environment, no system or user configuration, a time limit).
    let tmp = std::env::temp_dir();
    let env = crate::run::Env { home: &tmp, timeout: std::time::Duration::from_secs(30) };
    let ok = !branch.is_empty()
        && !branch.starts_with('-')
        && crate::run::output(&env, &tmp, &["check-ref-format", "--branch", branch])
            .is_ok_and(|out| out.status.success());
    if ok {
        Ok(())
    } else {
        Err(Error::BadRef { name: branch.to_string(), message: "not a valid branch name".into() })
    }
}
