//! The range-diff section of a series page: `git range-diff` from the previous revision as the
//! worker stored it, coloured; or why there is none, beside the link to the interdiff of the
//! mails.

use quire_store::{RangeDiffState, RangeDiffView};

use crate::diff::{DiffLine, LineKind};
use crate::url::{message_url, segment};

/// What the page shows.
pub struct RangeDiffSection {
    /// "v1"
    pub from_label: String,
    pub from_url: String,
    /// The interdiff of the mails, always there.
    pub interdiff_url: String,
    /// `git range-diff base1..result1 base2..result2`, when both applied.
    pub command: Option<String>,
    /// One line when there is no range-diff.
    pub reason: Option<String>,
    /// The output, coloured; empty when there is none.
    pub lines: Vec<DiffLine>,
    /// True when the two revisions carry the same patches (every pair `=`).
    pub same: bool,
}

pub fn section(project: &str, view: &RangeDiffView) -> RangeDiffSection {
    let to_url = message_url(project, &view.to);
    let lines = match (view.state, &view.diff) {
        (RangeDiffState::Ok, Some(d)) => classify(d),
        _ => Vec::new(),
    };
    let same = view.state == RangeDiffState::Ok
        && !lines.is_empty()
        && lines.iter().all(|l| l.kind == LineKind::File && l.text.contains(" = "));
    RangeDiffSection {
        from_label: format!("v{}", view.from_version),
        from_url: message_url(project, &view.from),
        interdiff_url: format!("{to_url}interdiff/{}", segment(&view.from)),
        command: view.command.clone(),
        reason: view.reason.clone(),
        lines,
        same,
    }
}

/// Colours `git range-diff` output: the pair lines (`1:  abc ! 1:  def subject`) as headers,
/// and inside a pair the diff of diffs (indented four spaces) by its first column: `-`/`+`
/// (a line only the old or the new revision has), `@@` hunks, context.
pub fn classify(text: &str) -> Vec<DiffLine> {
    text.lines()
        .map(|line| {
            let kind = if !line.starts_with(' ') {
                if is_pair_line(line) { LineKind::File } else { LineKind::Other }
            } else {
                let inner = line.strip_prefix("    ").unwrap_or(line);
                if inner.starts_with("@@") {
                    LineKind::Hunk
                } else if inner.starts_with('-') {
                    LineKind::Del
                } else if inner.starts_with('+') {
                    LineKind::Add
                } else {
                    LineKind::Context
                }
            };
            DiffLine { kind, text: line.to_string() }
        })
        .collect()
}

/// `N:  <sha> <=|!|<|>> M:  <sha> subject`, with `-` for the side a patch is missing from.
fn is_pair_line(line: &str) -> bool {
    let mut words = line.split_whitespace();
    let first = words.next().unwrap_or("");
    (first.ends_with(':') && first[..first.len() - 1].chars().all(|c| c.is_ascii_digit()))
        || first == "-:"
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: &str = "1:  1111111 = 1:  2222222 lib: spell out two\n\
                       2:  3333333 ! 2:  4444444 lib: spell out five\n\
                       \x20   @@ lib.c\n\
                       \x20    line 4\n\
                       \x20   -line five\n\
                       \x20   +line FIVE\n\
                       -:  ------- > 3:  5555555 lib: new\n";

    #[test]
    fn pair_lines_are_headers_and_the_inner_diff_is_coloured() {
        let kinds: Vec<LineKind> = classify(OUT).iter().map(|l| l.kind).collect();
        use LineKind::*;
        assert_eq!(kinds, [File, File, Hunk, Context, Del, Add, File]);
    }

    fn view(state: RangeDiffState, diff: Option<&str>) -> RangeDiffView {
        RangeDiffView {
            from: "v1@x".into(),
            from_version: 1,
            to: "v2@x".into(),
            to_version: 2,
            state,
            reason: (state != RangeDiffState::Ok).then(|| "v1 did not apply: patch 2".into()),
            command: Some("git range-diff a..b c..d".into()),
            diff: diff.map(str::to_string),
        }
    }

    #[test]
    fn the_section_links_the_interdiff_and_tells_same_patches_apart() {
        let s = section("xen", &view(RangeDiffState::Ok, Some(OUT)));
        assert_eq!(s.interdiff_url, "/xen/v2@x/interdiff/v1@x");
        assert_eq!(s.from_label, "v1");
        assert!(!s.same);
        let s = section("xen", &view(RangeDiffState::Ok, Some("1:  1111111 = 1:  2222222 a\n")));
        assert!(s.same);
        let s = section("xen", &view(RangeDiffState::Unavailable, None));
        assert!(s.lines.is_empty() && s.reason.as_deref() == Some("v1 did not apply: patch 2"));
    }
}
