//! Finding the diff in a message's text, its diffstat, and its `git patch-id --stable`.

use crate::{FileStat, FileStatus};
use sha1::{Digest, Sha1};

/// Where a diff starts in `text` and where it ends (byte offsets), or `None` when the text
/// carries no diff. The diff starts at the first `diff `/`Index: `/`--- ` (followed by `+++ `)
/// line at the start of a line, and ends after the last line that belongs to it: the `-- `
/// signature, list footers and trailing prose are left out.
pub fn find_diff(text: &str) -> Option<(usize, usize)> {
    let lines = line_spans(text);
    let start = (0..lines.len()).find(|&i| {
        let (s, e) = lines[i];
        let next = lines.get(i + 1).map(|&(s2, e2)| &text[s2..e2]).unwrap_or("");
        is_diff_start(&text[s..e], next)
    })?;
    let end = diff_end(text, &lines[start..]);
    Some((lines[start].0, end))
}

fn line_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        spans.push((pos, pos + line.len()));
        pos += line.len();
    }
    spans
}

fn is_diff_start(line: &str, next: &str) -> bool {
    line.starts_with("diff --git ")
        || line.starts_with("diff -")
        || (line.starts_with("Index: ") && (next.starts_with("====") || next.starts_with("--- ")))
        || (line.starts_with("--- ") && next.starts_with("+++ "))
}

#[derive(PartialEq)]
enum State {
    /// File header lines (`diff --git`, `index`, `new file mode`, `---`, `+++`...).
    Header,
    /// Inside a hunk: lines still expected on each side.
    Hunk { old: u64, new: u64 },
    /// Between hunks or files.
    Between,
    /// `GIT binary patch` data.
    Binary,
}

/// The end offset of the diff whose lines are `lines` (the first one starts the diff).
fn diff_end(text: &str, lines: &[(usize, usize)]) -> usize {
    let mut state = State::Header;
    let mut end = lines[0].1;
    for (i, &(s, e)) in lines.iter().enumerate() {
        let raw = &text[s..e];
        let line = raw.trim_end_matches(['\n', '\r']);
        let next = lines.get(i + 1).map(|&(s2, e2)| &text[s2..e2]).unwrap_or("");
        // `-- ` ends the diff (git's signature line), unless a hunk still expects a removed
        // line, which may read the same.
        if i > 0 && is_signature(line) && !matches!(state, State::Hunk { old, .. } if old > 0) {
            break;
        }
        let keep = match state {
            State::Hunk { old, new } => {
                let (o, n) = match line.as_bytes().first() {
                    Some(b' ') => (1, 1),
                    Some(b'-') => (1, 0),
                    Some(b'+') => (0, 1),
                    // An empty context line whose space a mailer stripped.
                    None => (1, 1),
                    Some(b'\\') => (0, 0),
                    _ => {
                        state = State::Between;
                        (u64::MAX, 0)
                    }
                };
                if o == u64::MAX {
                    continue_between(line, next, &mut state)
                } else {
                    let (old, new) = (old.saturating_sub(o), new.saturating_sub(n));
                    state = if old == 0 && new == 0 {
                        State::Between
                    } else {
                        State::Hunk { old, new }
                    };
                    true
                }
            }
            State::Header => {
                if let Some(h) = hunk_header(line) {
                    state = State::Hunk { old: h.0, new: h.1 };
                    true
                } else if line.starts_with("GIT binary patch") {
                    state = State::Binary;
                    true
                } else {
                    i == 0 || is_header_line(line)
                }
            }
            State::Between => continue_between(line, next, &mut state),
            State::Binary => {
                if line.starts_with("diff ") || line.starts_with("Index: ") {
                    state = State::Header;
                    true
                } else if line.is_empty() {
                    // A blank line ends one binary block; another may follow (reverse patch).
                    let n = next.trim_end();
                    n.starts_with("literal ") || n.starts_with("delta ") || n.starts_with("diff ")
                } else {
                    true
                }
            }
        };
        if !keep {
            break;
        }
        end = e;
    }
    end
}

/// After a hunk or a file: another hunk, another file, or the end of the diff.
fn continue_between(line: &str, next: &str, state: &mut State) -> bool {
    if let Some(h) = hunk_header(line) {
        *state = State::Hunk { old: h.0, new: h.1 };
        true
    } else if is_diff_start(line, next) || line.starts_with("diff ") {
        *state = State::Header;
        true
    } else {
        line.starts_with("\\ ")
    }
}

fn is_signature(line: &str) -> bool {
    line == "-- "
}

fn is_header_line(line: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "index ",
        "old mode ",
        "new mode ",
        "deleted file mode ",
        "new file mode ",
        "similarity index ",
        "dissimilarity index ",
        "rename from ",
        "rename to ",
        "copy from ",
        "copy to ",
        "--- ",
        "+++ ",
        "Binary files ",
        "====",
        "RCS file: ",
        "retrieving revision ",
        "diff ",
        "Index: ",
    ];
    PREFIXES.iter().any(|p| line.starts_with(p))
}

/// `@@ -a,b +c,d @@` -> (b, d); a missing count is 1.
fn hunk_header(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("@@ -")?;
    let (old, rest) = rest.split_once(' ')?;
    let rest = rest.strip_prefix('+')?;
    let (new, _) = rest.split_once(' ').unwrap_or((rest, ""));
    let count = |s: &str| -> Option<u64> {
        match s.split_once(',') {
            Some((_, n)) => n.parse().ok(),
            None => s.parse::<u64>().ok().map(|_| 1),
        }
    };
    Some((count(old)?, count(new)?))
}

/// Per-file counts of a diff, as `git diff --stat` gives them.
pub fn diffstat(diff: &str) -> Vec<FileStat> {
    let mut files: Vec<FileStat> = Vec::new();
    // Whether the current file has had its `---` line: a second one starts a new file
    // (plain `diff -u` output has no `diff` line between files).
    let mut saw_old_line = false;
    let mut hunk = (0u64, 0u64);
    for line in diff.lines() {
        let line = line.trim_end_matches('\r');
        if hunk != (0, 0)
            && let Some(f) = files.last_mut()
        {
            match line.as_bytes().first() {
                Some(b'+') => {
                    f.insertions += 1;
                    hunk.1 = hunk.1.saturating_sub(1);
                    continue;
                }
                Some(b'-') => {
                    f.deletions += 1;
                    hunk.0 = hunk.0.saturating_sub(1);
                    continue;
                }
                Some(b' ') | None => {
                    hunk = (hunk.0.saturating_sub(1), hunk.1.saturating_sub(1));
                    continue;
                }
                Some(b'\\') => continue,
                _ => hunk = (0, 0),
            }
        }
        if let Some(rest) = line.strip_prefix("diff --git ") {
            files.push(FileStat { path: git_header_path(rest), ..Default::default() });
            saw_old_line = false;
        } else if let Some(rest) = line.strip_prefix("Index: ") {
            files.push(FileStat { path: rest.trim().to_string(), ..Default::default() });
            saw_old_line = false;
        } else if let Some(h) = hunk_header(line) {
            hunk = h;
        } else if let Some(rest) = line.strip_prefix("--- ") {
            if files.is_empty() || saw_old_line {
                files.push(FileStat::default());
            }
            saw_old_line = true;
            if let Some(f) = files.last_mut() {
                if path_of(rest) == "/dev/null" {
                    f.status = FileStatus::Added;
                } else if f.path.is_empty() {
                    f.path = strip_side(path_of(rest));
                }
            }
        } else if let Some(rest) = line.strip_prefix("+++ ") {
            if let Some(f) = files.last_mut() {
                if path_of(rest) == "/dev/null" {
                    f.status = FileStatus::Deleted;
                } else if !matches!(f.status, FileStatus::Renamed | FileStatus::Copied)
                    || f.path.is_empty()
                {
                    f.path = strip_side(path_of(rest));
                }
            }
        } else if let Some(f) = files.last_mut() {
            if line.starts_with("new file mode") {
                f.status = FileStatus::Added;
            } else if line.starts_with("deleted file mode") {
                f.status = FileStatus::Deleted;
            } else if let Some(p) = line.strip_prefix("rename from ") {
                f.status = FileStatus::Renamed;
                f.old_path = Some(p.to_string());
            } else if let Some(p) = line.strip_prefix("rename to ") {
                f.path = p.to_string();
            } else if let Some(p) = line.strip_prefix("copy from ") {
                f.status = FileStatus::Copied;
                f.old_path = Some(p.to_string());
            } else if let Some(p) = line.strip_prefix("copy to ") {
                f.path = p.to_string();
            } else if line.starts_with("new mode") && f.status == FileStatus::Modified {
                f.status = FileStatus::ModeChanged;
            } else if line.starts_with("GIT binary patch") || line.starts_with("Binary files ") {
                f.binary = true;
            }
        }
    }
    files.retain(|f| !f.path.is_empty() || f.insertions + f.deletions > 0 || f.binary);
    files
}

/// `a/x b/x` -> `x` (the b side); without prefixes (`pixel.bmp pixel.bmp`) the second half.
fn git_header_path(rest: &str) -> String {
    let rest = rest.trim();
    if let Some(i) = rest.find(" b/") {
        return rest[i + 3..].to_string();
    }
    // Same path on both sides: split in the middle.
    let half = rest.len() / 2;
    if rest.len() % 2 == 1
        && rest.as_bytes().get(half) == Some(&b' ')
        && rest[..half] == rest[half + 1..]
    {
        return rest[half + 1..].to_string();
    }
    rest.split_whitespace().last().unwrap_or("").to_string()
}

/// The path of a `---`/`+++` line, without the timestamp `diff -u` adds after a tab.
fn path_of(rest: &str) -> &str {
    rest.split('\t').next().unwrap_or(rest).trim()
}

fn strip_side(p: &str) -> String {
    p.strip_prefix("a/").or_else(|| p.strip_prefix("b/")).unwrap_or(p).to_string()
}

/// `git patch-id --stable` of a diff: 40 hex digits. Whitespace is ignored, file order does
/// not matter (each file is hashed alone and the hashes are summed), hunk line numbers and
/// `index` lines are left out. Follows git's builtin/patch-id.c line by line. For a diff
/// without a `diff ` line (plain `diff -u`, `Index:` style), git prints nothing; quire hashes
/// it from its first line the same way so that such patches still match their revisions.
pub fn patch_id(diff: &str) -> String {
    let mut result = [0u8; 20];
    let mut ctx = Sha1::new();
    let mut patchlen = 0usize;
    let (mut before, mut after): (i64, i64) = (-1, -1);
    let mut diff_is_binary = false;
    let mut pre_oid = String::new();
    let mut post_oid = String::new();
    let starts_with_diff = diff.starts_with("diff ");
    let mut buf = Vec::with_capacity(256);
    for line in diff.split_inclusive('\n') {
        if line.starts_with("\\ ") && line.len() > 12 {
            continue;
        }
        if patchlen == 0 && starts_with_diff && !line.starts_with("diff ") {
            continue;
        }
        if before == -1 {
            if line.starts_with("GIT binary patch") || line.starts_with("Binary files") {
                diff_is_binary = true;
                before = 0;
                ctx.update(pre_oid.as_bytes());
                ctx.update(post_oid.as_bytes());
                flush_one_hunk(&mut result, &mut ctx);
                continue;
            } else if let Some(p) = line.strip_prefix("index ") {
                if let Some(dots) = p.find("..") {
                    let post = &p[dots + 2..];
                    // Up to the mode, else all but the line's last character (its newline; a
                    // last line without one loses a character, never half of one).
                    let post_end = post
                        .find(' ')
                        .unwrap_or_else(|| post.char_indices().last().map_or(0, |(i, _)| i));
                    pre_oid = p[..dots].chars().take(64).collect();
                    post_oid = post[..post_end].chars().take(64).collect();
                }
                continue;
            } else if line.starts_with("--- ") {
                before = 1;
                after = 1;
            } else if !line.as_bytes().first().is_some_and(u8::is_ascii_alphabetic) {
                break;
            }
        }
        if diff_is_binary {
            if line.starts_with("diff ") {
                diff_is_binary = false;
                before = -1;
            }
            continue;
        }
        if before == 0 && after == 0 {
            if line.starts_with("@@ -") {
                let (b, a) = scan_hunk_header(line);
                before = b;
                after = a;
                continue;
            }
            if !line.starts_with("diff ") {
                break;
            }
            flush_one_hunk(&mut result, &mut ctx);
            before = -1;
            after = -1;
        }
        let first = line.as_bytes().first().copied();
        if first == Some(b'-') || first == Some(b' ') {
            before -= 1;
        }
        if first == Some(b'+') || first == Some(b' ') {
            after -= 1;
        }
        buf.clear();
        buf.extend(line.bytes().filter(|b| !b.is_ascii_whitespace() && *b != 0x0b));
        patchlen += buf.len();
        ctx.update(&buf);
    }
    flush_one_hunk(&mut result, &mut ctx);
    hex::encode(result)
}

fn flush_one_hunk(result: &mut [u8; 20], ctx: &mut Sha1) {
    let hash = std::mem::take(ctx).finalize();
    let mut carry: u16 = 0;
    for (r, h) in result.iter_mut().zip(hash.iter()) {
        carry += *r as u16 + *h as u16;
        *r = carry as u8;
        carry >>= 8;
    }
}

/// git's scan_hunk_header: counts after `-a,` and `+c,` (1 when absent).
fn scan_hunk_header(line: &str) -> (i64, i64) {
    let rest = &line[4..];
    let digits = |s: &str| -> (i64, usize) {
        let n: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
        (n.parse().unwrap_or(0), n.len())
    };
    let (_, n) = digits(rest);
    let mut rest = &rest[n..];
    let mut before = 1;
    if let Some(r) = rest.strip_prefix(',') {
        let (v, n) = digits(r);
        before = v;
        rest = &r[n..];
    }
    let Some(r) = rest.strip_prefix(" +") else { return (before, 1) };
    let (_, n) = digits(r);
    let r = &r[n..];
    let mut after = 1;
    if let Some(r) = r.strip_prefix(',') {
        after = digits(r).0;
    }
    (before, after)
}

/// The lines that may follow `diff --git` before the `---` line (git-diff's extended headers),
/// as Patchwork's parser lists them.
const EXTENDED_HEADER_LINES: &[&str] = &[
    "old mode ",
    "new mode ",
    "deleted file mode ",
    "new file mode ",
    "copy from ",
    "copy to ",
    "rename from ",
    "rename to ",
    "similarity index ",
    "dissimilarity index ",
    "index ",
];

/// `@@ -a[,b] +c[,d] @@`: the line counts `b` and `d` as written (None where omitted).
fn hunk_counts(line: &str) -> Option<(Option<u64>, Option<u64>)> {
    fn side(s: &str, sign: char) -> Option<(Option<u64>, &str)> {
        let s = s.strip_prefix(sign)?;
        let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return None;
        }
        let s = &s[digits..];
        match s.strip_prefix(',') {
            Some(rest) => {
                let n = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                if n == 0 {
                    return None;
                }
                Some((Some(rest[..n].parse().unwrap_or(u64::MAX)), &rest[n..]))
            }
            None => Some((None, s)),
        }
    }
    let rest = line.strip_prefix("@@ ")?;
    let (old, rest) = side(rest, '-')?;
    let (new, rest) = side(rest.strip_prefix(' ')?, '+')?;
    rest.starts_with(" @@").then_some((old, new))
}

/// The part of `text` Patchwork keeps as a patch's diff: its `parse_patch` state machine, which
/// takes headers and hunks while the hunks' line counts hold and leaves other lines out (its
/// binary-patch state as observed on its fixtures 0025-0027: golden.json's diffs match byte for
/// byte).
fn patchwork_diff(text: &str) -> String {
    let mut patch = String::new();
    let mut buf = String::new();
    let mut state = 0;
    let (mut old, mut new) = (0i64, 0i64);
    let mut hunks = 0u64;
    for piece in text.split('\n') {
        let line = format!("{piece}\n");
        let line = line.as_str();
        // A git binary patch runs to the next `diff ` line, or to the end (swallowing the
        // signature, as Patchwork does); the next file's header lines before `---` are lost.
        if (state == 1 || state == 6) && line.starts_with("GIT binary patch") {
            patch.push_str(&buf);
            patch.push_str(line);
            buf.clear();
            state = 7;
            continue;
        }
        if state == 7 {
            patch.push_str(line);
            if line.starts_with("diff ") {
                state = 0;
            }
            continue;
        }
        match state {
            0 => {
                if line.starts_with("diff ") || line.starts_with("Index: ") {
                    state = 1;
                    buf.push_str(line);
                } else if line.starts_with("--- ") {
                    state = 2;
                    buf.push_str(line);
                }
            }
            1 => {
                buf.push_str(line);
                if line.starts_with("--- ") {
                    state = 2;
                }
                if EXTENDED_HEADER_LINES.iter().any(|p| line.starts_with(p)) {
                    state = 6;
                }
            }
            2 => {
                if line.starts_with("+++ ") {
                    state = 3;
                    buf.push_str(line);
                } else if hunks > 0 {
                    state = 1;
                    buf.push_str(line);
                } else {
                    state = 0;
                    buf.clear();
                }
            }
            3 => {
                if let Some((o, n)) = hunk_counts(line) {
                    let count =
                        |c: Option<u64>| c.map_or(1, |c| i64::try_from(c).unwrap_or(i64::MAX));
                    (old, new) = (count(o), count(n));
                    state = 4;
                    patch.push_str(&buf);
                    patch.push_str(line);
                    buf.clear();
                } else if line.starts_with("--- ") {
                    patch.push_str(&buf);
                    patch.push_str(line);
                    buf.clear();
                    state = 2;
                } else if hunks > 0 && line.starts_with("\\ No newline at end of file") {
                    patch.push_str(line);
                } else if hunks > 0 {
                    state = 1;
                    buf.push_str(line);
                } else {
                    state = 0;
                    buf.clear();
                }
            }
            4 | 5 => {
                if line.starts_with('-') {
                    old -= 1;
                } else if line.starts_with('+') {
                    new -= 1;
                } else if !line.starts_with("\\ No newline at end of file") {
                    old -= 1;
                    new -= 1;
                }
                patch.push_str(line);
                if old <= 0 && new <= 0 {
                    state = 3;
                    hunks += 1;
                } else {
                    state = 5;
                }
            }
            _ => {
                if EXTENDED_HEADER_LINES.iter().any(|p| line.starts_with(p)) {
                    patch.push_str(&buf);
                    patch.push_str(line);
                    buf.clear();
                } else if line.starts_with("--- ") {
                    patch.push_str(&buf);
                    patch.push_str(line);
                    buf.clear();
                    state = 2;
                } else {
                    buf.push_str(line);
                    state = 1;
                }
            }
        }
    }
    patch
}

/// Patchwork's `hash` of a patch (40 hex digits), which b4 and bots look patches up by
/// (`git pw patch list --hash`, `pwclient list -H`), from a message's text: the diff as
/// Patchwork's parser cuts it from the text, then [`patchwork_hash_of_diff`]. None when no
/// hunk is found.
pub fn patchwork_hash(text: &str) -> Option<String> {
    let patch = patchwork_diff(text);
    if patch.is_empty() {
        return None;
    }
    patchwork_hash_of_diff(&patch)
}

/// Patchwork's `hash_diff` of a diff taken as it is (an attached x-patch): the SHA-1 of the
/// `---`/`+++` lines with their first path component made `a/` and `b/`, the hunk headers
/// without line numbers (`@@ -3 +4 @@`) and the `-`, `+` and context lines; everything else
/// left out. Unlike [`patch_id`] it keeps the order of files and whitespace as sent.
pub fn patchwork_hash_of_diff(patch: &str) -> Option<String> {
    if patch.trim().is_empty() {
        return None;
    }
    let patch = patch.replace('\r', "");
    let mut ctx = Sha1::new();
    for line in patch.trim().split('\n') {
        if line.is_empty() {
            continue;
        }
        let filename = ["--- ", "+++ "].iter().find_map(|p| {
            let name = line.strip_prefix(p)?;
            let name = name.split(char::is_whitespace).next().filter(|n| !n.is_empty())?;
            Some((&p[..3], name))
        });
        if let Some((sign, name)) = filename {
            let side = if sign == "---" { "a/" } else { "b/" };
            let rest = name.split_once('/').map_or("", |(_, r)| r);
            ctx.update(format!("{sign} {side}{rest}\n").as_bytes());
        } else if let Some((o, n)) = hunk_counts(line) {
            ctx.update(format!("@@ -{} +{} @@\n", o.unwrap_or(1), n.unwrap_or(1)).as_bytes());
        } else if line.starts_with(['-', '+', ' ']) {
            ctx.update(line.as_bytes());
            ctx.update(b"\n");
        }
    }
    Some(hex::encode(ctx.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_FILES: &str = "diff --git a/a.c b/a.c\nindex 1234567..89abcde 100644\n--- a/a.c\n+++ b/a.c\n@@ -1,3 +1,3 @@\n one\n-two\n+deux\n three\ndiff --git a/b.c b/b.c\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n+++ b/b.c\n@@ -0,0 +1 @@\n+new\n";

    #[test]
    fn the_diff_ends_before_the_signature() {
        let text = format!("Fix it.\n---\n a.c | 2 +-\n\n{TWO_FILES}-- \n2.43.0\n\n");
        let (s, e) = find_diff(&text).unwrap();
        assert_eq!(&text[s..e], TWO_FILES);
    }

    #[test]
    fn prose_after_the_last_hunk_is_not_diff() {
        let text = format!("{TWO_FILES}\nThanks,\nA\n");
        let (s, e) = find_diff(&text).unwrap();
        assert_eq!(&text[s..e], TWO_FILES);
    }

    #[test]
    fn words_starting_with_diff_in_prose_are_not_diffs() {
        assert_eq!(find_diff("difficult things\nDifferent ones\n"), None);
    }

    #[test]
    fn diffstat_counts_like_git() {
        let stat = diffstat(TWO_FILES);
        assert_eq!(stat.len(), 2);
        assert_eq!((stat[0].path.as_str(), stat[0].insertions, stat[0].deletions), ("a.c", 1, 1));
        assert_eq!(
            (stat[1].path.as_str(), stat[1].status, stat[1].insertions),
            ("b.c", FileStatus::Added, 1)
        );
    }

    #[test]
    fn plain_diff_u_has_its_path() {
        let d = "--- old/foo.c\t2020-01-01\n+++ new/foo.c\t2020-01-02\n@@ -1 +1 @@\n-a\n+b\n";
        let stat = diffstat(d);
        assert_eq!(stat.len(), 1);
        assert_eq!(stat[0].path, "new/foo.c");
        assert_eq!((stat[0].insertions, stat[0].deletions), (1, 1));
    }

    #[test]
    fn an_index_line_ending_in_a_multibyte_character_is_no_panic() {
        // Found by the fuzzer (target diff): `index a..b` as the last line, without a newline,
        // its last character two bytes long.
        for diff in
            ["diff --git a/x b/x\nindex 0..aude/publ3\u{3d8}", "index 0..\u{3d8}", "index 0..ab\n"]
        {
            let _ = patch_id(diff);
        }
    }

    #[test]
    fn patch_id_ignores_file_order_and_whitespace() {
        let a = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n";
        let b = "diff --git a/y b/y\n--- a/y\n+++ b/y\n@@ -1 +1 @@\n-c\n+d\n";
        assert_eq!(patch_id(&format!("{a}{b}")), patch_id(&format!("{b}{a}")));
        assert_eq!(
            patch_id(a),
            patch_id("diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -7 +7 @@\n-a \n+b\n")
        );
        assert_ne!(patch_id(a), patch_id(b));
    }
}
