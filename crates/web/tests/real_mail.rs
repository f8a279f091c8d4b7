//! The pure helpers on real list mail (LTP's archive), no store needed: quote folding keeps
//! every line, and the diff colouring counts the same added/removed lines as the stat git
//! wrote in the mail.

mod common;

use quire_web::diff::{LineKind, classify};
use quire_web::quote::{Piece, fold_quotes};

/// The body of a plain (not base64/quoted-printable, not multipart) message, as text.
fn plain_body(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8(raw.to_vec()).ok()?;
    let text = text.replace("\r\n", "\n");
    let (head, body) = text.split_once("\n\n")?;
    let head = head.to_ascii_lowercase();
    if head.contains("content-transfer-encoding: base64")
        || head.contains("quoted-printable")
        || head.contains("multipart/")
    {
        return None;
    }
    Some(body.to_string())
}

fn ltp_bodies() -> Vec<String> {
    common::mbox_messages(&common::shared("corpus/ltp-2019-2020.4k.mbox.gz"), usize::MAX)
        .iter()
        .filter_map(|r| plain_body(r))
        .collect()
}

#[test]
fn quote_folding_keeps_every_line_of_real_ltp_mail() {
    let bodies = ltp_bodies();
    assert!(bodies.len() > 2000, "{} plain bodies", bodies.len());
    let mut folded = 0;
    for body in &bodies {
        let pieces = fold_quotes(body);
        let opens = pieces.iter().filter(|p| matches!(p, Piece::Open { .. })).count();
        let closes = pieces.iter().filter(|p| matches!(p, Piece::Close)).count();
        assert_eq!(opens, closes);
        let kept: usize = pieces
            .iter()
            .map(|p| if let Piece::Text(t) = p { t.split('\n').count() } else { 0 })
            .sum();
        assert_eq!(kept, body.lines().count(), "every line shows once:\n{body}");
        folded += usize::from(pieces.iter().any(|p| matches!(p, Piece::Open { open: false, .. })));
    }
    // Review on LTP quotes the patch: a good share of the mail has a long folded quote.
    assert!(folded > 500, "{folded} mails with a folded quote");
}

/// `N files changed, X insertions(+), Y deletions(-)` in the mail, as (X, Y).
fn stat_summary(body: &str) -> Option<(u64, u64)> {
    let line = body.lines().find(|l| {
        l.starts_with(' ') && (l.contains(" file changed") || l.contains(" files changed"))
    })?;
    let number_before = |word: &str| {
        let at = line.find(word)?;
        line[..at].rsplit([' ', ',']).find(|w| !w.is_empty())?.parse::<u64>().ok()
    };
    Some((number_before(" insertion").unwrap_or(0), number_before(" deletion").unwrap_or(0)))
}

#[test]
fn diff_colouring_counts_what_git_counted_in_real_ltp_patches() {
    let mut checked = 0;
    for body in ltp_bodies() {
        let Some(at) = body.find("\ndiff --git ") else { continue };
        let Some((ins, del)) = stat_summary(&body[..at]) else { continue };
        // The diff ends at the signature git appends.
        let diff = &body[at + 1..];
        let diff = diff.split("\n-- \n").next().unwrap_or(diff);
        let lines = classify(diff);
        let adds = lines.iter().filter(|l| l.kind == LineKind::Add).count() as u64;
        let dels = lines.iter().filter(|l| l.kind == LineKind::Del).count() as u64;
        if body[..at].contains("Binary files") || body[..at].contains(" Bin ") {
            continue;
        }
        assert_eq!((adds, dels), (ins, del), "{}", &body[..at.min(400)]);
        checked += 1;
    }
    // 820 plain-text LTP patches carry a stat and a diff.
    assert!(checked > 800, "{checked} patches checked");
}

/// Per-file counts of a git diff, read with the colouring's own line classes.
fn file_stats(diff: &str) -> Vec<quire_mail::FileStat> {
    let mut out: Vec<quire_mail::FileStat> = Vec::new();
    for chunk in diff.split("diff --git ").skip(1) {
        let text = format!("diff --git {chunk}");
        let mut f = quire_mail::FileStat::default();
        let header = chunk.lines().next().unwrap_or("");
        f.path = header.rsplit_once(" b/").map(|(_, p)| p.to_string()).unwrap_or_default();
        for line in text.lines() {
            if let Some(p) = line.strip_prefix("rename from ") {
                f.old_path = Some(p.to_string());
            }
            if line.starts_with("Binary files ") || line == "GIT binary patch" {
                f.binary = true;
            }
        }
        for l in classify(&text) {
            match l.kind {
                LineKind::Add => f.insertions += 1,
                LineKind::Del => f.deletions += 1,
                _ => {}
            }
        }
        out.push(f);
    }
    out
}

#[test]
fn diffstat_layout_matches_what_git_wrote_in_real_ltp_patches() {
    let (mut same, mut checked) = (0, 0);
    let mut first_mismatch = None;
    for body in ltp_bodies() {
        let Some(at) = body.find("\ndiff --git ") else { continue };
        let before: Vec<&str> = body[..at].lines().collect();
        let Some(summary) =
            before.iter().position(|l| l.starts_with(' ') && l.contains(" changed"))
        else {
            continue;
        };
        let Some(sep) = before[..summary].iter().rposition(|l| *l == "---") else { continue };
        let written: Vec<&str> = before[sep + 1..summary].to_vec();
        if written.iter().any(|l| !l.contains(" | ")) {
            continue;
        }
        let diff = body[at + 1..].split("\n-- \n").next().unwrap_or("");
        let files = file_stats(diff);
        if files.iter().any(|f| f.binary) {
            continue;
        }
        checked += 1;
        let matches_at = |w: usize| {
            let ours: Vec<String> =
                quire_web::diffstat::stat_lines(&files, w).iter().map(|l| l.text()).collect();
            // git sorts the stat by path; the diff follows the same order.
            ours == written
        };
        if matches_at(72) || matches_at(80) {
            same += 1;
        } else if first_mismatch.is_none() {
            first_mismatch = Some(written.join("\n"));
        }
        assert_eq!(
            quire_web::diffstat::summary_line(&files),
            before[summary].trim_end(),
            "summary of\n{}",
            written.join("\n")
        );
    }
    assert!(checked > 650, "{checked} stats checked");
    // Measured: all 686 plain-text LTP stats, at 72 (format-patch) or 80 columns.
    assert_eq!(
        same,
        checked,
        "stats laid out otherwise than git did; the first:\n{}",
        first_mismatch.unwrap_or_default()
    );
    eprintln!("{same} of {checked} diffstats identical to git's");
}
