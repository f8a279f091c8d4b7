//! Colours a diff: every line gets the class a reader's eye needs (file header, hunk header,
//! added, removed, context).

/// What a line of a diff is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// `diff --git`, `index`, `---`/`+++` outside a hunk, mode/rename/similarity lines.
    File,
    /// `@@ -a,b +c,d @@ ...`
    Hunk,
    Add,
    Del,
    Context,
    /// Anything else: `\ No newline at end of file`, text between files, `-- ` signature.
    Other,
}

impl LineKind {
    /// The CSS class of the line.
    pub fn class(self) -> &'static str {
        match self {
            LineKind::File => "file",
            LineKind::Hunk => "hunk",
            LineKind::Add => "add",
            LineKind::Del => "del",
            LineKind::Context => "ctx",
            LineKind::Other => "other",
        }
    }
}

/// One classified line, text without its newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub kind: LineKind,
    pub text: String,
}

impl DiffLine {
    pub fn class(&self) -> &'static str {
        self.kind.class()
    }
}

/// Classifies each line of `diff`. Inside a hunk it counts the lines the `@@` header promises,
/// so a removed line that reads `--- foo` is a deletion and not a file header.
pub fn classify(diff: &str) -> Vec<DiffLine> {
    let mut out = Vec::new();
    // Old and new lines still expected in the current hunk.
    let mut remaining = (0u64, 0u64);
    for line in diff.lines() {
        let kind = if remaining != (0, 0) {
            in_hunk_kind(line, &mut remaining)
        } else if let Some(counts) = hunk_counts(line) {
            remaining = counts;
            LineKind::Hunk
        } else {
            header_kind(line)
        };
        out.push(DiffLine { kind, text: line.to_string() });
    }
    out
}

fn in_hunk_kind(line: &str, remaining: &mut (u64, u64)) -> LineKind {
    let (old, new) = remaining;
    match line.as_bytes().first() {
        Some(b'+') => {
            *new = new.saturating_sub(1);
            LineKind::Add
        }
        Some(b'-') => {
            *old = old.saturating_sub(1);
            LineKind::Del
        }
        Some(b'\\') => LineKind::Other,
        // An empty line is a context line whose leading space a mailer ate.
        Some(b' ') | None => {
            *old = old.saturating_sub(1);
            *new = new.saturating_sub(1);
            LineKind::Context
        }
        Some(_) => {
            // The hunk ended early (a truncated or hand-edited patch): start over outside it.
            *remaining = (0, 0);
            hunk_counts(line)
                .map(|c| {
                    *remaining = c;
                    LineKind::Hunk
                })
                .unwrap_or_else(|| header_kind(line))
        }
    }
}

fn header_kind(line: &str) -> LineKind {
    const FILE_PREFIXES: [&str; 14] = [
        "diff --git ",
        "diff --cc ",
        "index ",
        "--- ",
        "+++ ",
        "new file mode",
        "deleted file mode",
        "old mode",
        "new mode",
        "similarity index",
        "rename from",
        "rename to",
        "copy from",
        "copy to",
    ];
    if FILE_PREFIXES.iter().any(|p| line.starts_with(p))
        || line.starts_with("Binary files ")
        || line.starts_with("Index: ")
    {
        LineKind::File
    } else {
        LineKind::Other
    }
}

/// The (old, new) line counts of a hunk header `@@ -a[,b] +c[,d] @@`; a missing count is 1.
pub fn hunk_counts(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("@@ -")?;
    let (old, rest) = rest.split_once(" +")?;
    let (new, _) = rest.split_once(" @@")?;
    Some((range_count(old)?, range_count(new)?))
}

fn range_count(range: &str) -> Option<u64> {
    match range.split_once(',') {
        Some((start, count)) => {
            start.parse::<u64>().ok()?;
            count.parse().ok()
        }
        None => range.parse::<u64>().ok().map(|_| 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LineKind::*;

    fn kinds(diff: &str) -> Vec<LineKind> {
        classify(diff).into_iter().map(|l| l.kind).collect()
    }

    #[test]
    fn a_git_diff_gets_header_hunk_add_del_context() {
        let diff = "diff --git a/x.c b/x.c\nindex 1234567..89abcde 100644\n--- a/x.c\n+++ b/x.c\n@@ -1,3 +1,3 @@ int f()\n a\n-b\n+c\n d\n";
        assert_eq!(kinds(diff), vec![File, File, File, File, Hunk, Context, Del, Add, Context]);
    }

    #[test]
    fn a_removed_line_reading_dashes_is_a_deletion_not_a_header() {
        // Removing a line "-- foo" from a file shows as "--- foo" inside the hunk.
        let diff = "--- a/doc.txt\n+++ b/doc.txt\n@@ -1,2 +1,1 @@\n--- foo\n bar\n";
        assert_eq!(kinds(diff), vec![File, File, Hunk, Del, Context]);
    }

    #[test]
    fn a_second_file_after_a_hunk_is_a_header_again() {
        let diff =
            "@@ -1 +1 @@\n-a\n+b\ndiff --git a/y b/y\n--- a/y\n+++ b/y\n@@ -0,0 +1 @@\n+new\n";
        assert_eq!(kinds(diff), vec![Hunk, Del, Add, File, File, File, Hunk, Add]);
    }

    #[test]
    fn no_newline_marker_and_eaten_blank_context() {
        let diff = "@@ -1,2 +1,2 @@\n\n-a\n\\ No newline at end of file\n+b\n";
        assert_eq!(kinds(diff), vec![Hunk, Context, Del, Other, Add]);
    }

    #[test]
    fn a_truncated_hunk_does_not_swallow_the_next_file() {
        let diff = "@@ -1,10 +1,10 @@\n-a\ndiff --git a/z b/z\n@@ -1 +1 @@\n-x\n+y\n";
        assert_eq!(kinds(diff), vec![Hunk, Del, File, Hunk, Del, Add]);
    }

    #[test]
    fn hunk_counts_default_to_one() {
        assert_eq!(hunk_counts("@@ -5 +5,2 @@"), Some((1, 2)));
        assert_eq!(hunk_counts("@@ -0,0 +1,30 @@ foo"), Some((0, 30)));
        assert_eq!(hunk_counts("@@ garbage @@"), None);
        assert_eq!(hunk_counts("@@ -1,99999999999999999999999 +1 @@"), None);
    }
}
