//! Applying a series with `git am --3way` in a throwaway worktree.

use crate::mirror::WORKTREES_DIR;
use crate::run::{Log, git};
use crate::{Error, Mirror};
use std::path::PathBuf;

/// The result commit of another series, named by a `Based-on:` trailer and resolved by the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyBase {
    pub commit: String,
    /// How to name it in messages, e.g. the message-id of that series.
    pub label: String,
}

/// One series to apply.
#[derive(Debug, Clone, Default)]
pub struct ApplyRequest {
    /// The series as `quire am` writes it (`quire_series::am::render_mbox`, mboxrd), or the
    /// output of `git format-patch`. A cover letter (no diff) is skipped.
    pub mbox: Vec<u8>,
    /// The `base-commit:` the submitter gave, if any.
    pub base_commit: Option<String>,
    /// The result of the series named by `Based-on:`, if any.
    pub based_on: Option<ApplyBase>,
    /// A base chosen by the user (`quire apply --base REV`): wins over everything, and must exist.
    pub base_override: Option<String>,
}

/// Where the base came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BaseSource {
    /// `--base REV` given by the user.
    Override,
    /// The series' `base-commit:`.
    BaseCommit,
    /// The result of the series named by `Based-on:`.
    BasedOn,
    /// The head of the mirror's branch.
    BranchHead,
}

/// The base the series was applied on, and why that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChosenBase {
    pub commit: String,
    pub source: BaseSource,
    /// One sentence for people, e.g. "base-commit 1234abc unknown to the tree; applied on master
    /// at 89abcdef0123".
    pub reason: String,
}

/// The patch `git am` stopped at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedPatch {
    /// Position in the mbox, 1-based, as `git am` counts (a cover letter counts).
    pub index: u32,
    /// `n` of `[PATCH n/m]` when the subject has it.
    pub number: Option<u32>,
    /// The mail's subject as sent.
    pub subject: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyResult {
    Applied {
        /// The commit at the tip of the applied series.
        commit: String,
        /// How many commits the series added.
        commits: u32,
    },
    Failed {
        /// `None` when git failed before reaching any patch (e.g. not an mbox).
        patch: Option<FailedPatch>,
        /// git's own words.
        message: String,
    },
}

#[derive(Debug, Clone)]
pub struct ApplyOutcome {
    pub base: ChosenBase,
    pub result: ApplyResult,
    /// Every command run and its output.
    pub log: String,
}

impl ApplyOutcome {
    pub fn applied_commit(&self) -> Option<&str> {
        match &self.result {
            ApplyResult::Applied { commit, .. } => Some(commit),
            ApplyResult::Failed { .. } => None,
        }
    }
}

/// Applies `series` on the best base the mirror has (see [`choose_base`]). A series that does not
/// apply is an `Ok` outcome with [`ApplyResult::Failed`]; `Err` means git itself could not run.
pub fn apply(mirror: &Mirror, series: &ApplyRequest) -> Result<ApplyOutcome, Error> {
    let mut log = Log::default();
    let base = choose_base(mirror, series)?;
    log.text.push_str(&format!("# base: {}\n", base.reason));
    let worktree = Worktree::add(mirror, &base.commit, &mut log)?;
    let result = run_am(mirror, &worktree, &series.mbox, &base.commit, &mut log);
    worktree.remove(&mut log);
    let result = result?;
    if let ApplyResult::Applied { commit, .. } = &result {
        keep_alive(mirror, commit, &mut log)?;
    }
    Ok(ApplyOutcome { base, result, log: log.text })
}

/// The base: `--base` when given; else `base-commit:` when the tree has it; else the `Based-on:`
/// series' result; else the branch head. The reason says what was skipped and why.
pub fn choose_base(mirror: &Mirror, series: &ApplyRequest) -> Result<ChosenBase, Error> {
    if let Some(rev) = &series.base_override {
        let commit = mirror
            .resolve_commit(rev)?
            .ok_or_else(|| Error::NoBase(format!("--base {rev} unknown to the tree")))?;
        let reason = format!("applied on {rev} ({}) as asked", short(&commit));
        return Ok(ChosenBase { commit, source: BaseSource::Override, reason });
    }
    let mut skipped = Vec::new();
    if let Some(rev) = &series.base_commit {
        match resolve_base_commit(mirror, rev)? {
            Some(commit) => {
                let reason = format!("applied on base-commit {}", short(&commit));
                return Ok(ChosenBase { commit, source: BaseSource::BaseCommit, reason });
            }
            None => skipped.push(format!("base-commit {} unknown to the tree", short(rev))),
        }
    }
    if let Some(b) = &series.based_on {
        match mirror.resolve_commit(&b.commit)? {
            Some(commit) => {
                let on = format!("applied on the result of {} at {}", b.label, short(&commit));
                let reason = with_skipped(&skipped, on);
                return Ok(ChosenBase { commit, source: BaseSource::BasedOn, reason });
            }
            None => skipped.push(format!(
                "result {} of Based-on {} unknown to the tree",
                short(&b.commit),
                b.label
            )),
        }
    }
    let commit = mirror.branch_head()?.ok_or_else(|| {
        Error::NoBase(with_skipped(&skipped, format!("branch {} has no commit", mirror.branch())))
    })?;
    let on = format!("applied on {} at {}", mirror.branch(), short(&commit));
    let reason = with_skipped(&skipped, on);
    Ok(ChosenBase { commit, source: BaseSource::BranchHead, reason })
}

/// `base-commit:` is written by `git format-patch --base` as a full id; people also abbreviate.
/// Only hex is looked up: the value comes from a mail, and must not be read as a ref name
/// like `HEAD` or `origin/master~3`.
fn resolve_base_commit(mirror: &Mirror, rev: &str) -> Result<Option<String>, Error> {
    let rev = rev.trim();
    if rev.len() < 7 || rev.len() > 64 || !rev.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    mirror.resolve_commit(rev)
}

fn with_skipped(skipped: &[String], applied: String) -> String {
    if skipped.is_empty() { applied } else { format!("{}; {applied}", skipped.join("; ")) }
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// A detached worktree of the mirror, removed by [`Worktree::remove`] or, failing that, on drop.
struct Worktree<'m> {
    mirror: &'m Mirror,
    path: PathBuf,
    _dir: tempfile::TempDir,
    removed: bool,
}

impl<'m> Worktree<'m> {
    fn add(mirror: &'m Mirror, base: &str, log: &mut Log) -> Result<Worktree<'m>, Error> {
        let parent = mirror.dir().join(WORKTREES_DIR);
        let dir =
            tempfile::Builder::new().prefix("apply-").tempdir_in(&parent).map_err(|source| {
                Error::Io { what: "creating worktree directory in", path: parent.clone(), source }
            })?;
        let path = dir.path().to_path_buf();
        let path_str = path.to_string_lossy().into_owned();
        let wt = Worktree { mirror, path, _dir: dir, removed: false };
        let _lock = WorktreeLock::take(mirror)?;
        mirror.git_ok(log, &["worktree", "add", "--detach", "--quiet", &path_str, base])?;
        Ok(wt)
    }

    /// Removes the worktree and its administrative files; failures are logged, not returned: a
    /// leftover is cleaned by the next `git worktree prune`, and must not hide the apply result.
    fn remove(mut self, log: &mut Log) {
        self.remove_inner(log);
    }

    fn remove_inner(&mut self, log: &mut Log) {
        if self.removed {
            return;
        }
        self.removed = true;
        // Without the lock we still remove: a leftover admin entry is pruned later.
        let _lock = WorktreeLock::take(self.mirror).ok();
        let path = self.path.to_string_lossy().into_owned();
        let _ = self.mirror.git(log, &["worktree", "remove", "--force", "--force", &path]);
        // The directory may survive (remove refused); the TempDir drop deletes it, then prune
        // forgets it.
        let _ = std::fs::remove_dir_all(&self.path);
        let _ = self.mirror.git(log, &["worktree", "prune"]);
    }
}

/// Serialises `git worktree add/remove/prune` on one mirror, across threads and processes: run
/// in parallel, `add` reads the admin directory another `add` is still writing ("failed to read
/// worktrees/apply-x/commondir") and `prune` may drop it. `git am` itself runs unlocked.
struct WorktreeLock(std::fs::File);

impl WorktreeLock {
    fn take(mirror: &Mirror) -> Result<WorktreeLock, Error> {
        let path = mirror.dir().join("quire-worktrees.lock");
        let io = |source| Error::Io { what: "locking", path: path.clone(), source };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        Ok(WorktreeLock(file))
    }
}

impl Drop for WorktreeLock {
    fn drop(&mut self) {
        // Closing the file releases the lock too; unlocking first just makes it prompt.
        let _ = self.0.unlock();
    }
}

impl Drop for Worktree<'_> {
    fn drop(&mut self) {
        let mut log = Log::default();
        self.remove_inner(&mut log);
    }
}

fn run_am(
    mirror: &Mirror,
    worktree: &Worktree<'_>,
    mbox: &[u8],
    base: &str,
    log: &mut Log,
) -> Result<ApplyResult, Error> {
    let home = &mirror.env();
    let cwd = worktree.path.as_path();
    // No `--keep-cr`: mail transport turns line ends into CRLF, and git's default (strip them) is
    // what b4 and maintainers use.
    let am = [
        "am",
        "--3way",
        "--empty=drop",
        "--patch-format=mboxrd",
        "--committer-date-is-author-date",
        "--no-gpg-sign",
    ];
    let ran = git(log, home, cwd, &am, Some(mbox))?;
    if !ran.success {
        let message = failure_message(&ran.stdout, &ran.stderr);
        let patch = failed_patch(&ran.stdout, mbox);
        // Leaves the worktree clean before it is removed; its own failure changes nothing.
        let _ = git(log, home, cwd, &["am", "--abort"], None);
        return Ok(ApplyResult::Failed { patch, message });
    }
    let head = crate::run::git_ok(log, home, cwd, &["rev-parse", "--verify", "HEAD"], None)?;
    let commit = head.stdout.trim().to_string();
    let range = format!("{base}..{commit}");
    let count = crate::run::git_ok(log, home, cwd, &["rev-list", "--count", &range], None)?;
    let commits = count.stdout.trim().parse().unwrap_or(0);
    if commits == 0 {
        return Ok(ApplyResult::Failed {
            patch: None,
            message: "no patch in the mbox: nothing was applied".to_string(),
        });
    }
    Ok(ApplyResult::Applied { commit, commits })
}

/// A ref per result, so that `gc` never prunes a commit a `Based-on:` series may build on.
fn keep_alive(mirror: &Mirror, commit: &str, log: &mut Log) -> Result<(), Error> {
    let name = format!("refs/quire/results/{commit}");
    if mirror.git(log, &["update-ref", &name, commit])?.success {
        return Ok(());
    }
    // Two workers that applied the same series on the same base race for the same ref: the
    // loser finds it already in place.
    match mirror.resolve_commit(&name)? {
        Some(c) if c == commit => Ok(()),
        _ => mirror.git_ok(log, &["update-ref", &name, commit]).map(|_| ()),
    }
}

/// git's explanation: stderr (conflict details, "error: ...") plus stdout's "Patch failed" line.
fn failure_message(stdout: &str, stderr: &str) -> String {
    let mut lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    lines.extend(
        stdout.lines().filter(|l| l.starts_with("Patch failed at") || l.starts_with("CONFLICT")),
    );
    // The hints on how to resolve by hand are for people at a terminal, not for the report.
    lines.retain(|l| !l.starts_with("hint:"));
    lines.join("\n")
}

/// The patch named by git am's "Patch failed at 0002 subject" line, with the subject as sent.
fn failed_patch(stdout: &str, mbox: &[u8]) -> Option<FailedPatch> {
    let line = stdout.lines().find_map(|l| l.strip_prefix("Patch failed at "))?;
    let (num, am_subject) = line.split_once(' ').unwrap_or((line, ""));
    let index: u32 = num.parse().ok()?;
    let sent = usize::try_from(index)
        .ok()
        .and_then(|i| i.checked_sub(1))
        .and_then(|i| mbox_subjects(mbox).into_iter().nth(i));
    let subject = sent.unwrap_or_else(|| am_subject.to_string());
    Some(FailedPatch { index, number: patch_number(&subject), subject })
}

/// The Subject of every message of an mbox, in order.
pub(crate) fn mbox_subjects(mbox: &[u8]) -> Vec<String> {
    crate::mbox::split_mbox(mbox).into_iter().map(crate::mbox::subject_of).collect()
}

/// `n` of a `[PATCH v2 n/m]` prefix.
pub(crate) fn patch_number(subject: &str) -> Option<u32> {
    let open = subject.find('[')?;
    let close = open + subject[open..].find(']')?;
    subject[open + 1..close]
        .split_whitespace()
        .find_map(|w| w.split_once('/').and_then(|(n, _)| n.parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_number_from_versioned_prefix() {
        assert_eq!(patch_number("[PATCH v3 02/10] io_uring: fix"), Some(2));
        assert_eq!(patch_number("[PATCH] single"), None);
        assert_eq!(patch_number("[RFC PATCH 0/3] cover"), Some(0));
    }

    #[test]
    fn subjects_of_an_mbox_with_folded_subject() {
        let mbox = b"From x Mon Sep 17 00:00:00 2001\nSubject: [PATCH 1/2] a\n long\nFrom: a@b\n\nbody\nFrom y Mon Sep 17 00:00:00 2001\nFrom: c@d\nSubject: [PATCH 2/2] b\n\nbody\n";
        assert_eq!(mbox_subjects(mbox), vec!["[PATCH 1/2] a long", "[PATCH 2/2] b"]);
    }

    #[test]
    fn failed_patch_maps_am_index_to_the_subject_as_sent() {
        let mbox = b"From x Mon Sep 17 00:00:00 2001\nSubject: [PATCH 0/2] cover\n\nx\nFrom x Mon Sep 17 00:00:00 2001\nSubject: [PATCH 1/2] one\n\nx\nFrom x Mon Sep 17 00:00:00 2001\nSubject: [PATCH 2/2] two\n\nx\n";
        let out = "Applying: one\nApplying: two\nPatch failed at 0003 two\n";
        let p = failed_patch(out, mbox).expect("a failed patch");
        assert_eq!(p, FailedPatch { index: 3, number: Some(2), subject: "[PATCH 2/2] two".into() });
    }
}
