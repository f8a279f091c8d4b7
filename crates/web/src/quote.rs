//! Folds quoted text in a mail body so a reply reads as its answer, not as the patch again.
//!
//! Runs of `>` lines become `<details>` blocks (folding works without JS); deeper quote levels
//! nest inside. The body is returned as a flat list of [`Piece`]s so the template renders it
//! in one loop, escaping every bit of text.

/// One piece of a folded body, in reading order. Every `Open` is matched by a `Close`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Starts a quote block. `summary` is what shows while folded; `open` is true for a
    /// short quote, shown unfolded because folding three lines hides more than it saves.
    Open {
        summary: String,
        open: bool,
    },
    /// Lines of text at the current level (quote markers of that level removed), joined by
    /// newlines.
    Text(String),
    Close,
}

/// Quotes of at most this many lines are shown unfolded (still foldable).
const SHORT_QUOTE_LINES: usize = 3;

/// Deepest quote level folded separately.
const MAX_LEVEL: usize = 8;

/// The quote level of a line: how many `>` start it, spaces between them allowed
/// (`> > text` and `>> text` are both level 2).
pub fn quote_level(line: &str) -> usize {
    let mut level = 0;
    let mut rest = line;
    loop {
        let trimmed = rest.trim_start_matches(' ');
        match trimmed.strip_prefix('>') {
            // Leading spaces only count between markers, not before the first one... except
            // a single one, which some mailers put before `>`.
            Some(after) if level > 0 || rest.len() - trimmed.len() <= 1 => {
                level += 1;
                rest = after;
            }
            _ => return level,
        }
    }
}

/// The line without its first `level` quote markers and the one space after the last.
fn strip_quote(line: &str, level: usize) -> &str {
    let mut rest = line;
    for _ in 0..level {
        rest = rest.trim_start_matches(' ');
        rest = rest.strip_prefix('>').unwrap_or(rest);
    }
    rest.strip_prefix(' ').unwrap_or(rest)
}

/// Folds `body` into pieces.
pub fn fold_quotes(body: &str) -> Vec<Piece> {
    let lines: Vec<&str> = body.lines().collect();
    // Capped so a hostile line of ten thousand `>` neither nests ten thousand blocks nor
    // recurses that deep: deeper markers stay in the text.
    let levels: Vec<usize> = lines.iter().map(|l| quote_level(l).min(MAX_LEVEL)).collect();
    let mut out = Vec::new();
    fold_range(&lines, &levels, 0, &mut out);
    out
}

/// Emits lines[..] whose levels are all >= `level`, opening a block for each run deeper than
/// `level`.
fn fold_range(lines: &[&str], levels: &[usize], level: usize, out: &mut Vec<Piece>) {
    let mut i = 0;
    let mut text: Vec<&str> = Vec::new();
    while i < lines.len() {
        if levels[i] <= level {
            text.push(strip_quote(lines[i], level));
            i += 1;
            continue;
        }
        if !text.is_empty() {
            out.push(Piece::Text(text.join("\n")));
            text.clear();
        }
        let end = (i..lines.len()).find(|&j| levels[j] <= level).unwrap_or(lines.len());
        let run = &lines[i..end];
        out.push(Piece::Open {
            summary: summary_of(run, level + 1),
            open: run.len() <= SHORT_QUOTE_LINES,
        });
        fold_range(run, &levels[i..end], level + 1, out);
        out.push(Piece::Close);
        i = end;
    }
    if !text.is_empty() {
        out.push(Piece::Text(text.join("\n")));
    }
}

/// "> first words of the quote… (12 lines)": enough to tell which part is being answered.
fn summary_of(run: &[&str], level: usize) -> String {
    let first = run
        .iter()
        .map(|l| strip_quote(l, quote_level(l).min(MAX_LEVEL)).trim())
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut preview: String = first.chars().take(72).collect();
    if preview.len() < first.len() {
        preview.push('…');
    }
    let lines = crate::age::plural(run.len() as u64, "line");
    let marker = ">".repeat(level);
    if preview.is_empty() {
        format!("{marker} ({lines})")
    } else {
        format!("{marker} {preview} ({lines})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Piece::*;

    fn text(s: &str) -> Piece {
        Text(s.to_string())
    }

    #[test]
    fn levels_count_markers_with_or_without_spaces() {
        assert_eq!(quote_level("plain"), 0);
        assert_eq!(quote_level("> one"), 1);
        assert_eq!(quote_level(">> two"), 2);
        assert_eq!(quote_level("> > two"), 2);
        assert_eq!(quote_level(" > one, outlook style"), 1);
        assert_eq!(quote_level("    > indented code is not a quote"), 0);
        assert_eq!(quote_level(">"), 1);
    }

    #[test]
    fn a_reply_with_a_long_quote_folds_it() {
        let body = "On Mon, Bob wrote:\n> a\n> b\n> c\n> d\n\nLooks good.\n";
        assert_eq!(
            fold_quotes(body),
            vec![
                text("On Mon, Bob wrote:"),
                Open { summary: "> a (4 lines)".into(), open: false },
                text("a\nb\nc\nd"),
                Close,
                text("\nLooks good."),
            ]
        );
    }

    #[test]
    fn short_quotes_stay_unfolded() {
        let pieces = fold_quotes("> just this\nYes.");
        assert_eq!(pieces[0], Open { summary: "> just this (1 line)".into(), open: true });
    }

    #[test]
    fn nested_quote_levels_nest_blocks() {
        let body = "> outer 1\n>> inner 1\n> > inner 2\n> outer 2\nreply";
        assert_eq!(
            fold_quotes(body),
            vec![
                Open { summary: "> outer 1 (4 lines)".into(), open: false },
                text("outer 1"),
                Open { summary: ">> inner 1 (2 lines)".into(), open: true },
                text("inner 1\ninner 2"),
                Close,
                text("outer 2"),
                Close,
                text("reply"),
            ]
        );
    }

    #[test]
    fn a_body_without_quotes_is_one_text() {
        assert_eq!(fold_quotes("hello\nworld"), vec![text("hello\nworld")]);
        assert_eq!(fold_quotes(""), vec![]);
    }

    #[test]
    fn opens_and_closes_balance_on_deep_hostile_nesting() {
        let body = (0..500).map(|i| ">".repeat(i % 37)).collect::<Vec<_>>().join("\n");
        let pieces = fold_quotes(&body);
        let opens = pieces.iter().filter(|p| matches!(p, Open { .. })).count();
        let closes = pieces.iter().filter(|p| matches!(p, Close)).count();
        assert_eq!(opens, closes);
        assert!(opens > 0);
    }

    #[test]
    fn ten_thousand_markers_fold_to_the_capped_depth() {
        let body = format!("{} deep", ">".repeat(10_000));
        let pieces = fold_quotes(&body);
        assert_eq!(pieces.iter().filter(|p| matches!(p, Open { .. })).count(), MAX_LEVEL);
        assert!(matches!(&pieces[MAX_LEVEL], Text(t) if t.ends_with("> deep")));
    }
}
