//! Merge detection: when a project's branch moves, its new commits are matched to stored patches
//! by `git patch-id --stable` (the value computed for each patch mail at import), and failing
//! that by author address and subject. A series whose patches are all matched is merged.
//!
//! The last scanned branch head is a store cursor (`merge-scan:<project>`), so a restart goes on
//! from where it was and no range is scanned twice. The first scan of a project only records the
//! head: history from before quire watched the tree is not searched (on a kernel-sized tree that
//! would be a million commits).

use std::collections::HashSet;
use std::path::Path;

use quire_store::{MergeCandidate, ProjectConfig, Store, UpstreamMatch};

use crate::{Result, blocking, open_mirror};

/// What one scan found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeScan {
    /// New upstream commits looked at.
    pub commits: usize,
    /// Patches matched (by patch-id, by author+subject).
    pub by_patch_id: usize,
    pub by_author_subject: usize,
    /// Heads of the series that became merged in full.
    pub merged_series: Vec<String>,
}

fn cursor_key(project: &str) -> String {
    format!("merge-scan:{project}")
}

/// Fetches the project's tree and matches the commits new since the last scan.
pub async fn scan_project(
    store: &Store,
    git_dir: &Path,
    project: &ProjectConfig,
) -> Result<MergeScan> {
    let mirror = open_mirror(git_dir, project, true).await?;
    let m = mirror.clone();
    let Some(head) = blocking(move || Ok(m.branch_head()?)).await? else {
        return Ok(MergeScan::default());
    };
    let key = cursor_key(&project.name);
    let Some(old) = store.cursor(&key).await? else {
        store.set_cursor(&key, &head).await?;
        return Ok(MergeScan::default());
    };
    if old == head {
        return Ok(MergeScan::default());
    }
    let (m, from, to) = (mirror.clone(), old.clone(), head.clone());
    let commits = match blocking(move || Ok(quire_git::patch_ids(&m, Some(&from), &to)?)).await {
        Ok(c) => c,
        Err(e) => {
            // The old head is gone (history rewritten and collected): start again from here.
            tracing::warn!(project = %project.name, error = %e, "cannot list new commits; restarting the scan at the branch head");
            store.set_cursor(&key, &head).await?;
            return Ok(MergeScan::default());
        }
    };
    let scan = match_commits(store, &project.name, &commits).await?;
    store.set_cursor(&key, &head).await?;
    Ok(scan)
}

/// Matches upstream commits to the project's stored patches and records the matches.
pub async fn match_commits(
    store: &Store,
    project: &str,
    commits: &[quire_git::UpstreamCommit],
) -> Result<MergeScan> {
    let mut scan = MergeScan { commits: commits.len(), ..Default::default() };
    if commits.is_empty() {
        return Ok(scan);
    }
    let mut matches = Vec::new();
    for chunk in commits.chunks(500) {
        let ids: Vec<String> = chunk.iter().filter_map(|c| c.patch_id.clone()).collect();
        let authors: Vec<String> = chunk.iter().map(|c| c.author_email.to_lowercase()).collect();
        let candidates = store.merge_candidates(project, &ids, &authors).await?;
        let mut taken: HashSet<&str> = HashSet::new();
        // Patch-id first, for every commit of the chunk: the exact match wins over a subject.
        for c in chunk {
            let Some(pid) = c.patch_id.as_deref() else { continue };
            for cand in candidates.iter().filter(|k| k.patch_id.as_deref() == Some(pid)) {
                if taken.insert(&cand.message_id) {
                    matches.push(UpstreamMatch::new(cand, &c.commit, "patch-id"));
                    scan.by_patch_id += 1;
                }
            }
        }
        for c in chunk {
            if c.patch_id
                .as_deref()
                .is_some_and(|p| candidates.iter().any(|k| k.patch_id.as_deref() == Some(p)))
            {
                continue;
            }
            // The newest stored revision of that patch (the highest row id), not matched yet.
            // (Candidates come oldest first.)
            let best = candidates
                .iter()
                .rev()
                .find(|k| !taken.contains(k.message_id.as_str()) && same_author_and_subject(k, c));
            if let Some(cand) = best {
                taken.insert(&cand.message_id);
                matches.push(UpstreamMatch::new(cand, &c.commit, "author+subject"));
                scan.by_author_subject += 1;
            }
        }
    }
    scan.merged_series = store.record_merged(project, &matches).await?;
    Ok(scan)
}

/// Same author address (case-insensitive) and the same subject once the `[PATCH ...]` tags are
/// gone and white space and case are folded.
fn same_author_and_subject(candidate: &MergeCandidate, commit: &quire_git::UpstreamCommit) -> bool {
    candidate.author_email.eq_ignore_ascii_case(&commit.author_email)
        && !commit.subject.trim().is_empty()
        && quire_mail::normalized_name(&quire_mail::parse_subject(&candidate.subject).name)
            == quire_mail::normalized_name(&commit.subject)
}
