//! The interdiff between two revisions of a series: what changed from one to the other, as a
//! unified diff of their patches (a diff of diffs, read the way `git range-diff` output is).

use crate::diff::{DiffLine, classify};
use similar::TextDiff;

/// One patch of a revision, as the interdiff lays it out.
#[derive(Debug, Clone)]
pub struct RevisionPatch {
    pub number: u32,
    pub subject: String,
    /// The patch's commit message (above `---`); changes there matter to reviewers too.
    pub message: String,
    pub diff: String,
}

/// A revision's patches as one text: each patch announced by a `=== n: subject` line, its
/// message, then its diff. Patch numbers are left out of the text so that inserting a patch
/// does not make every later one differ.
pub fn revision_text(patches: &[RevisionPatch]) -> String {
    let mut out = String::new();
    for p in patches {
        out.push_str("=== ");
        out.push_str(p.subject.trim());
        out.push('\n');
        for line in p.message.trim_end().lines() {
            out.push_str(line);
            out.push('\n');
        }
        out.push_str("---\n");
        out.push_str(&p.diff);
        if !p.diff.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// The unified diff (3 lines of context) from `old` to `new`, headed `--- old_name` /
/// `+++ new_name`; empty when the revisions are the same text.
pub fn interdiff(
    old: &[RevisionPatch],
    new: &[RevisionPatch],
    old_name: &str,
    new_name: &str,
) -> String {
    let (a, b) = (revision_text(old), revision_text(new));
    if a == b {
        return String::new();
    }
    // Bounded: two revisions of a huge series must not hold a request for seconds; past the
    // deadline similar gives a coarser (still correct) diff.
    TextDiff::configure()
        .timeout(std::time::Duration::from_millis(300))
        .diff_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

/// The interdiff's lines, classified for colouring.
pub fn interdiff_lines(
    old: &[RevisionPatch],
    new: &[RevisionPatch],
    old_name: &str,
    new_name: &str,
) -> Vec<DiffLine> {
    classify(&interdiff(old, new, old_name, new_name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::LineKind;

    fn patch(n: u32, subject: &str, diff: &str) -> RevisionPatch {
        RevisionPatch {
            number: n,
            subject: subject.into(),
            message: "Why.\n".into(),
            diff: diff.into(),
        }
    }

    const V1: &str = "--- a/x.c\n+++ b/x.c\n@@ -1,3 +1,3 @@\n a\n-b\n+c\n d\n";
    const V2: &str = "--- a/x.c\n+++ b/x.c\n@@ -1,3 +1,3 @@\n a\n-b\n+C\n d\n";

    #[test]
    fn a_changed_line_of_a_patch_shows_as_a_diff_of_diffs() {
        let d = interdiff(&[patch(1, "x: fix", V1)], &[patch(1, "x: fix", V2)], "v1", "v2");
        assert!(d.starts_with("--- v1\n+++ v2\n@@ "), "{d}");
        assert!(d.contains("\n-+c\n++C\n"), "{d}");
    }

    #[test]
    fn identical_revisions_have_an_empty_interdiff() {
        let p = [patch(1, "x: fix", V1)];
        assert_eq!(interdiff(&p, &p, "v1", "v2"), "");
    }

    #[test]
    fn the_interdiff_colours_its_own_lines() {
        let lines =
            interdiff_lines(&[patch(1, "x: fix", V1)], &[patch(1, "x: fix", V2)], "v1", "v2");
        let changed: Vec<_> = lines
            .iter()
            .filter(|l| matches!(l.kind, LineKind::Add | LineKind::Del))
            .map(|l| l.text.as_str())
            .collect();
        assert_eq!(changed, vec!["-+c", "++C"]);
        assert_eq!(lines[0].kind, LineKind::File);
    }

    #[test]
    fn an_added_patch_shows_whole() {
        let d = interdiff(
            &[patch(1, "a", V1)],
            &[patch(1, "a", V1), patch(2, "b: new", V2)],
            "v1",
            "v2",
        );
        assert!(d.contains("+=== b: new\n"), "{d}");
        assert!(!d.contains("-=== a"), "{d}");
    }
}
