//! Range-diffs between applied revisions of a series (issue 29): `git range-diff` as the worker
//! computed it (SQL in `sql/range_diff.rs`), and what a series page and the API show beside the
//! interdiff of the mails: the range-diff from the previous revision, or why there is none.

use serde::{Deserialize, Serialize};

use crate::{ApplyResult, ApplyState, Pool, Result, SeriesDetail, Store};

/// One range-diff as the worker stored it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeDiffRecord {
    /// The older revision's head Message-ID.
    pub old_head: String,
    pub new_head: String,
    /// `base..result` of each revision, as it was computed on.
    pub old_range: String,
    pub new_range: String,
    /// `git range-diff` output; `None` when it could not be computed (`problem` says why).
    pub diff: Option<String>,
    pub problem: Option<String>,
    pub updated: i64,
}

/// Whether a series page shows a range-diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RangeDiffState {
    /// `diff` holds it.
    Ok,
    /// Both revisions applied; the worker has not computed it (yet) for these results.
    Pending,
    /// One of them did not apply, or was not applied yet, or git could not: `reason` says.
    Unavailable,
}

/// The range-diff from a series' previous revision, as the page and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeDiffView {
    /// The previous revision's head Message-ID and version.
    pub from: String,
    pub from_version: u32,
    pub to: String,
    pub to_version: u32,
    pub state: RangeDiffState,
    /// One line: why there is no range-diff ("v2 did not apply: patch 2 failed ...").
    pub reason: Option<String>,
    /// The `git range-diff` command it is, with the commits (`base1..result1 base2..result2`).
    pub command: Option<String>,
    pub diff: Option<String>,
}

/// `base..result` of an applied result; `None` when it did not apply.
pub fn applied_range(r: &ApplyResult) -> Option<String> {
    match (r.state, &r.base, &r.result_commit) {
        (ApplyState::Applied, Some(b), Some(c)) => Some(format!("{b}..{c}")),
        _ => None,
    }
}

/// Why a revision has no applied range, in one line naming it (`label`: "v2").
fn not_applied(label: &str, r: Option<&ApplyResult>) -> String {
    let Some(r) = r else { return format!("{label} has not been applied yet") };
    match r.state {
        ApplyState::Pending => format!("{label} has not been applied yet"),
        ApplyState::Applied => format!("{label} applied, but its commits were not recorded"),
        ApplyState::Failed => {
            let why = r
                .log
                .as_deref()
                .unwrap_or("")
                .lines()
                .filter_map(|l| l.strip_prefix("quire: "))
                .find(|l| l.starts_with("patch ") || l.starts_with("git am failed"))
                .map(str::to_string)
                .or_else(|| r.failed_patch.map(|n| format!("patch {n} failed to apply")))
                .unwrap_or_else(|| "git am failed".into());
            format!("{label} did not apply: {why}")
        }
    }
}

impl Store {
    /// Stores a range-diff the worker computed, marking the newer revision's page changed (a
    /// page's stamp covers all revisions of its series).
    pub async fn set_range_diff(&self, record: &RangeDiffRecord) -> Result<()> {
        on_backend!(self.pool, |p, m| m::range_diff::set_range_diff(p, record).await)
    }

    /// The stored range-diff from `old_head` to `new_head`, whatever results it was made on.
    pub async fn range_diff(
        &self,
        old_head: &str,
        new_head: &str,
    ) -> Result<Option<RangeDiffRecord>> {
        on_backend!(self.pool, |p, m| m::range_diff::range_diff(p, old_head, new_head).await)
    }

    /// The revision before `detail` (the highest version below its own; `None` for a first
    /// revision) and the range-diff from it, or why there is none.
    pub async fn range_diff_view(&self, detail: &SeriesDetail) -> Result<Option<RangeDiffView>> {
        let Some(prev) = detail
            .revisions
            .iter()
            .filter(|r| r.version < detail.version && r.message_id != detail.message_id)
            .max_by_key(|r| (r.version, r.date))
        else {
            return Ok(None);
        };
        let (from_label, to_label) = (format!("v{}", prev.version), format!("v{}", detail.version));
        let mut view = RangeDiffView {
            from: prev.message_id.clone(),
            from_version: prev.version,
            to: detail.message_id.clone(),
            to_version: detail.version,
            state: RangeDiffState::Unavailable,
            reason: None,
            command: None,
            diff: None,
        };
        let old = self.apply_result(&prev.message_id).await?;
        let old_range = old.as_ref().and_then(applied_range);
        let new_range = detail.apply.as_ref().and_then(applied_range);
        let (old_range, new_range) = match (old_range, new_range) {
            (Some(a), Some(b)) => (a, b),
            (None, _) => {
                view.reason = Some(not_applied(&from_label, old.as_ref()));
                return Ok(Some(view));
            }
            (_, None) => {
                view.reason = Some(not_applied(&to_label, detail.apply.as_ref()));
                return Ok(Some(view));
            }
        };
        view.command = Some(format!("git range-diff {old_range} {new_range}"));
        match self.range_diff(&prev.message_id, &detail.message_id).await? {
            Some(r) if r.old_range == old_range && r.new_range == new_range => match r.diff {
                Some(d) => {
                    view.state = RangeDiffState::Ok;
                    view.diff = Some(d);
                }
                None => {
                    view.reason = Some(format!(
                        "no range-diff: {}",
                        r.problem.unwrap_or_else(|| "git gave none".into())
                    ));
                }
            },
            _ => {
                view.state = RangeDiffState::Pending;
                view.reason = Some(format!(
                    "both revisions applied; the worker has not compared {from_label} and {to_label} yet"
                ));
            }
        }
        Ok(Some(view))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(log: &str, patch: Option<u32>) -> ApplyResult {
        ApplyResult {
            state: ApplyState::Failed,
            base: Some("b".into()),
            result_commit: None,
            tree_url: None,
            log: Some(log.into()),
            failed_patch: patch,
            updated: 0,
        }
    }

    #[test]
    fn a_failed_revision_says_which_patch_failed() {
        let log = "quire: base-commit: abc\nquire: patch 2 failed to apply: x: fix\nerror: ...\n";
        assert_eq!(
            not_applied("v2", Some(&failed(log, Some(2)))),
            "v2 did not apply: patch 2 failed to apply: x: fix"
        );
        assert_eq!(
            not_applied("v1", Some(&failed("", Some(3)))),
            "v1 did not apply: patch 3 failed to apply"
        );
        assert_eq!(not_applied("v1", None), "v1 has not been applied yet");
    }
}
