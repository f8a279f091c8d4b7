//! Diffstats exactly as `git format-patch` prints them (git's `show_stats` in diff.c): the
//! name column shortened from the left with `...`, the count column aligned, the `+`/`-` graph
//! scaled to the width, and git's summary line with its singular/plural rules.

use quire_mail::FileStat;

/// The width `git format-patch` uses (MAIL_DEFAULT_WRAP); `git diff --stat` on a terminal
/// uses the terminal's, usually 80.
pub const FORMAT_PATCH_WIDTH: usize = 72;

/// One line of the stat, already laid out (leading space included), and the parts a page may
/// colour separately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatLine {
    /// " path/name.c | 6 " : everything before the graph.
    pub head: String,
    pub plus: String,
    pub minus: String,
}

impl StatLine {
    pub fn text(&self) -> String {
        format!("{}{}{}", self.head, self.plus, self.minus)
    }
}

/// The name git shows for a file: the path, or `old => new` for a rename or copy with the
/// common directory prefix and suffix written once (`a/{b => c}/d`), as git's pprint_rename.
pub fn print_name(file: &FileStat) -> String {
    match &file.old_path {
        Some(old) if old != &file.path => rename_name(old, &file.path),
        _ => file.path.clone(),
    }
}

fn rename_name(a: &str, b: &str) -> String {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    // Common prefix, ending at a slash.
    let mut pfx = 0;
    let mut i = 0;
    while i < ab.len() && i < bb.len() && ab[i] == bb[i] {
        if ab[i] == b'/' {
            pfx = i + 1;
        }
        i += 1;
    }
    // Common suffix, starting at a slash; with a prefix it may reuse the prefix's slash.
    let adjust = usize::from(pfx > 0);
    let mut sfx = 0;
    let (mut oa, mut ob) = (ab.len() as isize, bb.len() as isize);
    let floor_a = pfx as isize - adjust as isize;
    let floor_b = pfx as isize - adjust as isize;
    // git compares starting at the terminating NUL, which always matches.
    while floor_a <= oa && floor_b <= ob && byte_at(ab, oa) == byte_at(bb, ob) {
        if byte_at(ab, oa) == Some(b'/') {
            sfx = ab.len() - oa as usize;
        }
        oa -= 1;
        ob -= 1;
    }
    let a_mid = ab.len().saturating_sub(pfx + sfx);
    let b_mid = bb.len().saturating_sub(pfx + sfx);
    let piece = |s: &[u8], from: usize, len: usize| {
        String::from_utf8_lossy(&s[from.min(s.len())..(from + len).min(s.len())]).into_owned()
    };
    if pfx + sfx > 0 {
        format!(
            "{}{{{} => {}}}{}",
            piece(ab, 0, pfx),
            piece(ab, pfx, a_mid),
            piece(bb, pfx, b_mid),
            piece(ab, ab.len() - sfx, sfx)
        )
    } else {
        format!("{a} => {b}")
    }
}

/// `s[i]`, with the position just past the end reading as git's NUL terminator.
fn byte_at(s: &[u8], i: isize) -> Option<u8> {
    if i < 0 {
        return None;
    }
    let i = i as usize;
    if i == s.len() { Some(0) } else { s.get(i).copied() }
}

/// Display width of a name: one column per char (git uses wcwidth; paths are nearly always
/// ASCII).
fn width(s: &str) -> usize {
    s.chars().count()
}

fn decimal_width(n: u64) -> usize {
    n.to_string().len()
}

/// git's scale_linear: at least one column for any change.
fn scale_linear(it: u64, width: u64, max_change: u64) -> u64 {
    if it == 0 || max_change == 0 {
        return 0;
    }
    1 + it * width.saturating_sub(1) / max_change
}

/// The stat lines of `files` laid out in `total_width` columns, as git does.
pub fn stat_lines(files: &[FileStat], total_width: usize) -> Vec<StatLine> {
    let shown: Vec<&FileStat> = files.iter().collect();
    if shown.is_empty() {
        return Vec::new();
    }
    let names: Vec<String> = shown.iter().map(|f| print_name(f)).collect();
    let max_len = names.iter().map(|n| width(n)).max().unwrap_or(0);
    let max_change = shown
        .iter()
        .filter(|f| !f.binary)
        .map(|f| u64::from(f.insertions) + u64::from(f.deletions))
        .max()
        .unwrap_or(0);
    // Binary files show "Bin"; git then aligns the counts on it.
    let bin_number_width = if shown.iter().any(|f| f.binary) { 3 } else { 0 };
    let number_width = decimal_width(max_change).max(bin_number_width);
    let width = total_width.max(16 + 6 + number_width);

    let mut graph_width = max_change as usize;
    let mut name_width = max_len;
    if name_width + number_width + 6 + graph_width > width {
        let limit = (width * 3 / 8).saturating_sub(number_width + 6);
        if graph_width > limit {
            graph_width = limit.max(6);
        }
        if name_width > width.saturating_sub(number_width + 6 + graph_width) {
            name_width = width.saturating_sub(number_width + 6 + graph_width);
        } else {
            graph_width = width.saturating_sub(number_width + 6 + name_width);
        }
    }

    shown
        .iter()
        .zip(&names)
        .map(|(f, name)| {
            let (shown_name, prefix, len) = scaled_name(name, name_width);
            let padding = len.saturating_sub(width_of(&shown_name));
            if f.binary {
                return StatLine {
                    head: format!(
                        " {prefix}{shown_name}{:padding$} | {:>number_width$}",
                        "", "Bin"
                    ),
                    plus: String::new(),
                    minus: String::new(),
                };
            }
            let (added, deleted) = (u64::from(f.insertions), u64::from(f.deletions));
            let (mut add, mut del) = (added, deleted);
            if graph_width as u64 <= max_change {
                let mut total = scale_linear(add + del, graph_width as u64, max_change);
                if total < 2 && add > 0 && del > 0 {
                    total = 2;
                }
                if add < del {
                    add = scale_linear(add, graph_width as u64, max_change);
                    del = total.saturating_sub(add);
                } else {
                    del = scale_linear(del, graph_width as u64, max_change);
                    add = total.saturating_sub(del);
                }
            }
            let changes = added + deleted;
            let sep = if changes > 0 { " " } else { "" };
            StatLine {
                head: format!(
                    " {prefix}{shown_name}{:padding$} | {changes:>number_width$}{sep}",
                    ""
                ),
                plus: "+".repeat(add as usize),
                minus: "-".repeat(del as usize),
            }
        })
        .collect()
}

fn width_of(s: &str) -> usize {
    width(s)
}

/// The name cut to `name_width` columns as git does: drop chars from the left until it fits
/// after a `...`, then cut further to the next `/` so a path component is whole.
fn scaled_name(name: &str, name_width: usize) -> (String, &'static str, usize) {
    let name_len = width(name);
    if name_width >= name_len {
        return (name.to_string(), "", name_width);
    }
    let len = name_width.saturating_sub(3);
    let skip = name_len - len;
    let tail: String = name.chars().skip(skip).collect();
    let tail = match tail.find('/') {
        Some(slash) => tail[slash..].to_string(),
        None => tail,
    };
    (tail, "...", len)
}

/// git's summary line: " 1 file changed, 3 insertions(+), 3 deletions(-)". Insertions are
/// left out when there are none but there are deletions, and the other way round.
pub fn summary_line(files: &[FileStat]) -> String {
    let n = files.len();
    let ins: u64 = files.iter().map(|f| u64::from(f.insertions)).sum();
    let del: u64 = files.iter().map(|f| u64::from(f.deletions)).sum();
    if n == 0 {
        return " 0 files changed".to_string();
    }
    let mut out = format!(" {n} file{} changed", if n == 1 { "" } else { "s" });
    if ins > 0 || del == 0 {
        out.push_str(&format!(", {ins} insertion{}(+)", if ins == 1 { "" } else { "s" }));
    }
    if del > 0 || ins == 0 {
        out.push_str(&format!(", {del} deletion{}(-)", if del == 1 { "" } else { "s" }));
    }
    out
}

/// The stat of a whole series: each path once, with the counts of every patch touching it
/// added up, in order of first appearance. (An approximation of the series' cumulative diff:
/// a line added by one patch and changed by the next counts twice.)
pub fn series_files<'a>(patches: impl IntoIterator<Item = &'a [FileStat]>) -> Vec<FileStat> {
    let mut out: Vec<FileStat> = Vec::new();
    for files in patches {
        for f in files {
            match out.iter_mut().find(|o| o.path == f.path) {
                Some(o) => {
                    o.insertions = o.insertions.saturating_add(f.insertions);
                    o.deletions = o.deletions.saturating_add(f.deletions);
                    o.binary |= f.binary;
                }
                None => out.push(f.clone()),
            }
        }
    }
    out
}

/// The diffstat a cover letter carries (`git format-patch --cover-letter` writes the whole
/// series' stat, computed on the cumulative diff), as its lines and summary, when it has one.
/// It is exact where adding up the patches' stats is not (a line changed by two patches).
pub fn cover_letter_stat(body: &str) -> Option<(Vec<StatLine>, String)> {
    let lines: Vec<&str> = body.lines().collect();
    let summary_at = lines.iter().position(|l| is_summary_line(l))?;
    let start =
        (0..summary_at).rev().take_while(|&i| parse_stat_line(lines[i]).is_some()).last()?;
    let stat = lines[start..summary_at].iter().filter_map(|l| parse_stat_line(l)).collect();
    Some((stat, lines[summary_at].trim_end().to_string()))
}

fn is_summary_line(line: &str) -> bool {
    let Some(rest) = line.strip_prefix(' ') else { return false };
    let mut words = rest.split_whitespace();
    words.next().is_some_and(|n| n.parse::<u64>().is_ok())
        && matches!(words.next(), Some("file" | "files"))
        && words.next().is_some_and(|w| w.starts_with("changed"))
}

/// " name | 12 ++++---" split into head and graph; None for a line of another shape.
fn parse_stat_line(line: &str) -> Option<StatLine> {
    if !line.starts_with(' ') || line.len() < 5 {
        return None;
    }
    let bar = line.rfind(" | ")?;
    let after = line[bar + 3..].trim_start();
    let (count, graph) = after.split_once(' ').unwrap_or((after, ""));
    if count == "Bin" {
        return Some(StatLine {
            head: line.to_string(),
            plus: String::new(),
            minus: String::new(),
        });
    }
    count.parse::<u64>().ok()?;
    if !graph.chars().all(|c| c == '+' || c == '-') {
        return None;
    }
    let graph_at = line.len() - graph.len();
    let plus_len = graph.chars().take_while(|&c| c == '+').count();
    Some(StatLine {
        head: line[..graph_at].to_string(),
        plus: graph[..plus_len].to_string(),
        minus: graph[plus_len..].to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, ins: u32, del: u32) -> FileStat {
        FileStat { path: path.into(), insertions: ins, deletions: del, ..Default::default() }
    }

    fn texts(files: &[FileStat], w: usize) -> Vec<String> {
        stat_lines(files, w).iter().map(|l| l.text()).collect()
    }

    #[test]
    fn xen_memory_h_as_format_patch_prints_it() {
        let files = [file("xen/include/public/memory.h", 3, 3)];
        assert_eq!(texts(&files, 72), vec![" xen/include/public/memory.h | 6 +++---"]);
        assert_eq!(summary_line(&files), " 1 file changed, 3 insertions(+), 3 deletions(-)");
    }

    #[test]
    fn summary_singular_plural_and_omitted_sides() {
        assert_eq!(summary_line(&[file("a", 1, 0)]), " 1 file changed, 1 insertion(+)");
        assert_eq!(
            summary_line(&[file("a", 0, 1), file("b", 0, 1)]),
            " 2 files changed, 2 deletions(-)"
        );
        assert_eq!(
            summary_line(&[file("a", 0, 0)]),
            " 1 file changed, 0 insertions(+), 0 deletions(-)"
        );
        assert_eq!(summary_line(&[]), " 0 files changed");
    }

    #[test]
    fn counts_align_and_names_pad() {
        let files = [file("a.c", 10, 2), file("longer/name.h", 1, 0)];
        assert_eq!(
            texts(&files, 72),
            vec![" a.c           | 12 ++++++++++--", " longer/name.h |  1 +"]
        );
    }

    /// From LTP's list (2019, copy_file_range v4): the stat as the sender's git printed it at
    /// 80 columns, long names cut on the left at a slash, the graph scaled to 239 changes.
    #[test]
    fn ltp_copy_file_range_stat_matches_the_mail() {
        let d = "testcases/kernel/syscalls/copy_file_range/";
        let files = [
            file("configure.ac", 1, 0),
            file("m4/ltp-copy_file_range.m4", 7, 0),
            file("runtest/syscalls", 2, 0),
            file(&format!("{d}.gitignore"), 2, 0),
            file(&format!("{d}copy_file_range.h"), 57, 0),
            file(&format!("{d}copy_file_range01.c"), 123, 116),
            file(&format!("{d}copy_file_range02.c"), 118, 0),
            file(&format!("{d}copy_file_range03.c"), 77, 0),
        ];
        let expected = [
            " configure.ac                                       |   1 +",
            " m4/ltp-copy_file_range.m4                          |   7 +",
            " runtest/syscalls                                   |   2 +",
            " .../kernel/syscalls/copy_file_range/.gitignore     |   2 +",
            " .../syscalls/copy_file_range/copy_file_range.h     |  57 +++++",
            " .../syscalls/copy_file_range/copy_file_range01.c   | 239 +++++++++++----------",
            " .../syscalls/copy_file_range/copy_file_range02.c   | 118 ++++++++++",
            " .../syscalls/copy_file_range/copy_file_range03.c   |  77 +++++++",
        ];
        assert_eq!(texts(&files, 80), expected);
        assert_eq!(summary_line(&files), " 8 files changed, 387 insertions(+), 116 deletions(-)");
    }

    #[test]
    fn renames_write_common_parts_once() {
        let mut f = file("a/c/d", 0, 0);
        f.old_path = Some("a/b/d".into());
        assert_eq!(print_name(&f), "a/{b => c}/d");
        let mut g = file("new.txt", 0, 0);
        g.old_path = Some("old.txt".into());
        assert_eq!(print_name(&g), "old.txt => new.txt");
        let mut h = file("dir/sub/x.c", 0, 0);
        h.old_path = Some("dir/x.c".into());
        assert_eq!(print_name(&h), "dir/{ => sub}/x.c");
        assert_eq!(texts(&[f], 72), vec![" a/{b => c}/d | 0"]);
    }

    #[test]
    fn binary_files_show_bin() {
        let mut f = file("logo.png", 0, 0);
        f.binary = true;
        assert_eq!(texts(&[f, file("x", 2, 0)], 72), vec![" logo.png | Bin", " x        |   2 ++"]);
    }

    #[test]
    fn huge_counts_scale_into_the_width() {
        let files = [file("big", 100_000, 50_000), file("small", 1, 1)];
        for line in texts(&files, 72) {
            assert!(line.len() <= 72, "{line}");
        }
        assert_eq!(texts(&files, 72)[1], " small |      2 +-");
    }

    #[test]
    fn series_stat_adds_up_paths() {
        let p1 = [file("a", 1, 0), file("b", 2, 2)];
        let p2 = [file("a", 3, 1)];
        let all = series_files([&p1[..], &p2[..]]);
        assert_eq!(all, vec![file("a", 4, 1), file("b", 2, 2)]);
    }

    /// Patchwork's base-cover-letter fixture: the cover letter's stat is of the cumulative diff
    /// (test.txt added by 1/2 then removed by 2/2 nets one deletion).
    #[test]
    fn a_cover_letter_stat_is_read_as_git_wrote_it() {
        let body = "This is a sample series.\n\nStephen Finucane (2):\n  test: Add some lorem ipsum\n  test: Convert to Markdown\n\n test.md  | 8 ++++++++\n test.txt | 1 -\n 2 files changed, 8 insertions(+), 1 deletion(-)\n\n-- \n2.7.4\n";
        let (lines, summary) = cover_letter_stat(body).expect("a stat");
        let texts: Vec<String> = lines.iter().map(|l| l.text()).collect();
        assert_eq!(texts, vec![" test.md  | 8 ++++++++", " test.txt | 1 -"]);
        assert_eq!(lines[1].minus, "-");
        assert_eq!(summary, " 2 files changed, 8 insertions(+), 1 deletion(-)");
    }

    #[test]
    fn a_cover_letter_without_a_stat_has_none() {
        assert_eq!(cover_letter_stat("Hi,\n\nthis fixes a | b things\n"), None);
        assert_eq!(cover_letter_stat(" 3 files changed, 1 insertion(+)\n"), None);
    }
}
