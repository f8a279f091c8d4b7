//! `git range-diff` between two applied revisions of a series: what reviewers ask `b4 diff` for.
//!
//! Each revision is a range `base..result` in the mirror (the commit it was applied on and the
//! commit `git am` made). [`crate::apply`] keeps every result reachable
//! (`refs/quire/results/<commit>`), so a `git gc` in the mirror never drops a revision that a
//! later one is compared with.

use crate::run::{Log, git};
use crate::{Error, Mirror};

/// Largest range-diff kept whole; longer output is cut at a line and says so.
pub const MAX_RANGE_DIFF_BYTES: usize = 1 << 20;

/// One applied revision: the commit it was applied on and the commit applying it made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedRange {
    pub base: String,
    pub result: String,
}

impl AppliedRange {
    /// `base..result`, as git reads a range.
    pub fn spec(&self) -> String {
        format!("{}..{}", self.base, self.result)
    }
}

/// What `git range-diff old new` gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeDiff {
    /// The output (empty when the two ranges hold the same patches), cut at
    /// [`MAX_RANGE_DIFF_BYTES`].
    Diff(String),
    /// Why there is none: a commit the mirror no longer has, or git's own message.
    Unavailable(String),
}

/// `git range-diff --no-color old.base..old.result new.base..new.result` in the mirror (run
/// through the clean-environment runner, with the mirror's time-out). A commit the mirror does
/// not have is an [`RangeDiff::Unavailable`] naming it, not an error.
pub fn range_diff(
    mirror: &Mirror,
    old: &AppliedRange,
    new: &AppliedRange,
) -> Result<RangeDiff, Error> {
    for (what, commit) in [
        ("the older revision's base", &old.base),
        ("the older revision's result", &old.result),
        ("the newer revision's base", &new.base),
        ("the newer revision's result", &new.result),
    ] {
        if mirror.resolve_commit(commit)?.is_none() {
            return Ok(RangeDiff::Unavailable(format!(
                "{what} {commit} is not in the mirror any more"
            )));
        }
    }
    let (a, b) = (old.spec(), new.spec());
    let mut log = Log::default();
    let ran = git(
        &mut log,
        &mirror.env(),
        mirror.dir(),
        &["range-diff", "--no-color", "--no-notes", &a, &b],
        None,
    )?;
    if !ran.success {
        return Ok(RangeDiff::Unavailable(format!("git range-diff failed: {}", ran.stderr.trim())));
    }
    Ok(RangeDiff::Diff(cut(ran.stdout)))
}

fn cut(mut text: String) -> String {
    if text.len() <= MAX_RANGE_DIFF_BYTES {
        return text;
    }
    let mut end = MAX_RANGE_DIFF_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let end = text[..end].rfind('\n').map(|i| i + 1).unwrap_or(end);
    text.truncate(end);
    text.push_str(&format!("[range-diff cut at {MAX_RANGE_DIFF_BYTES} bytes]\n"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_output_is_cut_at_a_line_and_says_so() {
        let line = "x".repeat(99) + "\n";
        let text = line.repeat(MAX_RANGE_DIFF_BYTES / 100 + 10);
        let out = cut(text);
        assert!(out.len() <= MAX_RANGE_DIFF_BYTES + 64);
        assert!(out.ends_with("bytes]\n"), "{}", &out[out.len() - 80..]);
        assert!(out.lines().rev().nth(1).is_some_and(|l| l.len() == 99));
    }

    #[test]
    fn short_output_is_kept_whole() {
        assert_eq!(cut("1:  abc = 1:  def x\n".into()), "1:  abc = 1:  def x\n");
    }
}
