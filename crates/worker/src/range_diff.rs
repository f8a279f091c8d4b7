//! Range-diffs between applied revisions (issue 29). When a series applies, `git range-diff`
//! is run in the project's mirror against the revision before it and the one after it (when
//! those applied too) and stored, so that web servers, which have no git, show it beside the
//! interdiff of the mails. Why there is none (a revision did not apply) the store works out from
//! the apply results when a page is read.

use quire_git::{AppliedRange, RangeDiff};
use quire_store::{ApplyResult, ProjectConfig, RangeDiffRecord, Store, range_diff::applied_range};

use crate::{Result, blocking, open_mirror};

/// `base..result` of an applied result, split.
fn range_of(r: &ApplyResult) -> Option<(String, AppliedRange)> {
    let spec = applied_range(r)?;
    let (base, result) = spec.split_once("..")?;
    Some((spec.clone(), AppliedRange { base: base.into(), result: result.into() }))
}

/// Computes and stores the range-diffs between the series `head` (just applied) and its
/// neighbouring revisions that applied: the one before (older..this) and the one after
/// (this..newer). Pairs already stored for the same results are not computed again. Returns
/// how many were stored.
pub async fn record_range_diffs(
    store: &Store,
    git_dir: &std::path::Path,
    project: &ProjectConfig,
    head: &str,
) -> Result<usize> {
    let Some(series) = store.series(head).await? else { return Ok(0) };
    let Some(this) = series.apply.as_ref().and_then(range_of) else { return Ok(0) };
    let others = series.revisions.iter().filter(|r| r.message_id != series.message_id);
    let before =
        others.clone().filter(|r| r.version < series.version).max_by_key(|r| (r.version, r.date));
    let after = others.filter(|r| r.version > series.version).min_by_key(|r| (r.version, r.date));
    let mut pairs = Vec::new();
    if let Some(b) = before {
        pairs.push((b.message_id.clone(), series.message_id.clone(), true));
    }
    if let Some(a) = after {
        pairs.push((series.message_id.clone(), a.message_id.clone(), false));
    }
    let mut stored = 0;
    for (old_head, new_head, other_is_old) in pairs {
        let other_head = if other_is_old { &old_head } else { &new_head };
        let Some(other) = store.apply_result(other_head).await?.as_ref().and_then(range_of) else {
            continue;
        };
        let (old, new) = if other_is_old { (other, this.clone()) } else { (this.clone(), other) };
        let known = store.range_diff(&old_head, &new_head).await?;
        if known.is_some_and(|k| k.old_range == old.0 && k.new_range == new.0) {
            continue;
        }
        let mirror = open_mirror(git_dir, project, false).await?;
        let (o, n) = (old.1.clone(), new.1.clone());
        let got = blocking(move || Ok(quire_git::range_diff(&mirror, &o, &n)?)).await?;
        let (diff, problem) = match got {
            RangeDiff::Diff(d) => (Some(d), None),
            RangeDiff::Unavailable(why) => (None, Some(why)),
        };
        let record = RangeDiffRecord {
            old_head,
            new_head,
            old_range: old.0,
            new_range: new.0,
            diff,
            problem,
            updated: chrono::Utc::now().timestamp(),
        };
        store.set_range_diff(&record).await?;
        stored += 1;
    }
    Ok(stored)
}
