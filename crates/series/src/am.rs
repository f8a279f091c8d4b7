//! Writes a series back out as an mbox that `git am` applies, each patch carrying the trailers
//! that reviewers gave it (added below its own trailers, above the `---` line), as `b4 am` does.
//!
//! Pure: it takes parsed messages and collected trailers and returns bytes.

use crate::CollectedTrailer;
use base64::Engine as _;
use quire_mail::{ParsedMessage, trailer_key};
use std::collections::HashSet;

/// One patch to write.
pub struct AmPatch<'a> {
    pub message: &'a ParsedMessage,
    pub number: u32,
    pub total: u32,
    pub version: u32,
    /// Trailers collected from reviews (see [`crate::collect_trailers`]).
    pub trailers: &'a [CollectedTrailer],
}

#[derive(Debug, Clone, Default)]
pub struct AmOptions {
    /// Also add trailers whose person does not match their sender (b4's `--sloppy-trailers`).
    pub sloppy_trailers: bool,
}

/// The mbox (mboxrd) of `patches`, in the order given.
pub fn render_mbox(patches: &[AmPatch<'_>], opts: &AmOptions) -> Vec<u8> {
    let mut out = String::new();
    for p in patches {
        render_patch(&mut out, p, opts);
    }
    out.into_bytes()
}

fn render_patch(out: &mut String, p: &AmPatch<'_>, opts: &AmOptions) {
    let m = p.message;
    out.push_str("From git@z Thu Jan  1 00:00:00 1970\n");
    header(out, "Subject", &am_subject(p));
    let from = if m.from.name.is_empty() {
        m.from.email.clone()
    } else {
        format!("{} <{}>", encode_word_if_needed(&m.from.name), m.from.email)
    };
    out.push_str("From: ");
    out.push_str(&from);
    out.push('\n');
    if let Some(date) = m.date.and_then(|d| chrono::DateTime::from_timestamp(d, 0)) {
        // In the zone it was sent in: `git am` takes the author's time zone from it.
        let zone = m.date_zone.and_then(|z| chrono::FixedOffset::east_opt(z * 60));
        let zone = zone.unwrap_or(chrono::FixedOffset::east_opt(0).expect("UTC"));
        out.push_str(&format!("Date: {}\n", date.with_timezone(&zone).to_rfc2822()));
    }
    out.push_str(&format!("Message-Id: <{}>\n", m.message_id));
    out.push_str("MIME-Version: 1.0\nContent-Type: text/plain; charset=\"utf-8\"\nContent-Transfer-Encoding: 8bit\n\n");

    let added = added_trailers(p, opts);
    let (message, rest) = split_at_separator(&m.body);
    let mut body = with_trailers(message, &added);
    body.push_str("---\n");
    body.push_str(rest);
    if let Some(diff) = &m.diff {
        if !body.ends_with('\n') {
            body.push('\n');
        }
        body.push_str(&diff.text);
    }
    if !body.ends_with('\n') {
        body.push('\n');
    }
    for line in body.split_inclusive('\n') {
        if is_from_line(line) {
            out.push('>');
        }
        out.push_str(line);
    }
    out.push('\n');
}

/// The `Tag: value` lines to add to the patch: the verified ones (all when sloppy), each once,
/// none the patch carries already (b4 compares them normalised: `quire_mail::trailer_key`).
fn added_trailers(p: &AmPatch<'_>, opts: &AmOptions) -> Vec<String> {
    let mut seen: HashSet<(String, String)> = p.message.trailers.iter().map(trailer_key).collect();
    p.trailers
        .iter()
        .filter(|t| t.verified || opts.sloppy_trailers)
        .filter(|t| seen.insert(trailer_key(&t.trailer)))
        .map(|t| format!("{}: {}", t.trailer.tag, t.trailer.value))
        .collect()
}

/// `[PATCH v2 3/5] name`: the tags git am strips, rebuilt so every patch says where it stands.
fn am_subject(p: &AmPatch<'_>) -> String {
    let mut tag = String::from("PATCH");
    if p.version > 1 {
        tag.push_str(&format!(" v{}", p.version));
    }
    if p.total > 1 {
        let width = p.total.to_string().len();
        tag.push_str(&format!(" {:0width$}/{}", p.number, p.total));
    }
    let name = &p.message.subject_info.name;
    let name = if name.is_empty() { &p.message.subject } else { name };
    format!("[{tag}] {name}")
}

/// Splits a patch's text at the `---` line that ends the commit message. Without one, the whole
/// text is the commit message.
fn split_at_separator(body: &str) -> (&str, &str) {
    let mut pos = 0;
    for line in body.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return (&body[..pos], &body[pos + line.len()..]);
        }
        pos += line.len();
    }
    (body, "")
}

/// The commit message with `added` trailers appended to its trailer block (a new block, after a
/// blank line, when it has none). Trailers it already carries are not repeated.
fn with_trailers(message: &str, added: &[String]) -> String {
    let mut lines: Vec<&str> = message.lines().collect();
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    // The last paragraph holds trailers (b4's rule: a `[note]` under one belongs to it).
    let has_block = !quire_mail::find_commit_trailers(message).is_empty();
    let mut out = lines.join("\n");
    if !out.is_empty() {
        out.push('\n');
    }
    let existing: Vec<String> = lines.iter().map(|l| l.trim().to_ascii_lowercase()).collect();
    let mut first = true;
    for t in added {
        if existing.contains(&t.to_ascii_lowercase()) {
            continue;
        }
        if first && !has_block && !out.is_empty() {
            out.push('\n');
        }
        first = false;
        out.push_str(t);
        out.push('\n');
    }
    out
}

/// mboxrd: a body line that reads as an envelope (`>*From `) gets one more `>`.
fn is_from_line(line: &str) -> bool {
    quire_mail::mbox::needs_quoting(line.as_bytes())
}

fn header(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    out.push_str(&encode_word_if_needed(value));
    out.push('\n');
}

/// RFC 2047 `=?utf-8?b?...?=` for a header value that is not plain ASCII (git am decodes it).
fn encode_word_if_needed(value: &str) -> String {
    let value: String =
        value.chars().map(|c| if c == '\r' || c == '\n' { ' ' } else { c }).collect();
    if value.is_ascii() {
        return value;
    }
    // Encoded words are at most 75 characters: cut the UTF-8 text on character boundaries.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in value.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    if !chunk.is_empty() {
        words.push(chunk);
    }
    words
        .iter()
        .map(|w| format!("=?utf-8?b?{}?=", base64::engine::general_purpose::STANDARD.encode(w)))
        .collect::<Vec<_>>()
        .join("\n ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use quire_mail::{Address, Diff, SubjectInfo, Trailer};

    fn patch_message(body: &str) -> ParsedMessage {
        ParsedMessage {
            message_id: "p1@example.com".into(),
            subject: "[PATCH v2 1/2] mm: fix".into(),
            subject_info: SubjectInfo { name: "mm: fix".into(), version: 2, ..Default::default() },
            from: Address { name: "Rafał Miłecki".into(), email: "rafal@example.com".into() },
            date: Some(1_600_000_000),
            body: body.into(),
            diff: Some(Diff {
                text: "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn review(tag: &str, value: &str, verified: bool) -> CollectedTrailer {
        CollectedTrailer {
            trailer: Trailer { tag: tag.into(), value: value.into(), person: None },
            message_id: "r@example.com".into(),
            verified,
            carried_over: false,
        }
    }

    #[test]
    fn trailers_go_below_the_patchs_own_above_the_separator() {
        let m = patch_message("Fix it.\n\nSigned-off-by: A <a@example.com>\n---\n f | 2 +-\n\n");
        let t = [review("Reviewed-by", "R <r@example.com>", true)];
        let out = String::from_utf8(render_mbox(
            &[AmPatch { message: &m, number: 1, total: 2, version: 2, trailers: &t }],
            &AmOptions::default(),
        ))
        .unwrap();
        assert!(out.contains(
            "Fix it.\n\nSigned-off-by: A <a@example.com>\nReviewed-by: R <r@example.com>\n---\n f | 2 +-\n"
        ), "{out}");
        assert!(out.contains("Subject: [PATCH v2 1/2] mm: fix\n"));
        assert!(out.contains("From: =?utf-8?b?"), "non-ASCII name is encoded: {out}");
        assert!(out.contains("\n@@ -1 +1 @@\n-a\n+b\n"));
    }

    #[test]
    fn unverified_trailers_are_left_out_unless_sloppy() {
        let m = patch_message("Fix it.\n\nSigned-off-by: A <a@example.com>\n---\n");
        let t = [review("Acked-by", "X <x@elsewhere.org>", false)];
        let p = [AmPatch { message: &m, number: 1, total: 1, version: 1, trailers: &t }];
        let strict = String::from_utf8(render_mbox(&p, &AmOptions::default())).unwrap();
        assert!(!strict.contains("Acked-by"));
        let sloppy =
            String::from_utf8(render_mbox(&p, &AmOptions { sloppy_trailers: true })).unwrap();
        assert!(
            sloppy.contains("Signed-off-by: A <a@example.com>\nAcked-by: X <x@elsewhere.org>\n---")
        );
        assert!(sloppy.contains("Subject: [PATCH] mm: fix\n"), "no n/m for a lone patch");
    }

    #[test]
    fn a_message_without_trailers_gets_a_new_block() {
        let m = patch_message("Fix it.\n");
        let t = [review("Tested-by", "T <t@example.com>", true)];
        let out = String::from_utf8(render_mbox(
            &[AmPatch { message: &m, number: 1, total: 1, version: 1, trailers: &t }],
            &AmOptions::default(),
        ))
        .unwrap();
        assert!(out.contains("\n\nFix it.\n\nTested-by: T <t@example.com>\n---\n"), "{out}");
    }

    #[test]
    fn a_trailer_the_patch_already_has_is_not_repeated() {
        let m = patch_message("Fix it.\n\nReviewed-by: R <r@example.com>\n---\n");
        let t = [review("Reviewed-by", "R <r@example.com>", true)];
        let out = String::from_utf8(render_mbox(
            &[AmPatch { message: &m, number: 1, total: 1, version: 1, trailers: &t }],
            &AmOptions::default(),
        ))
        .unwrap();
        assert_eq!(out.matches("Reviewed-by").count(), 1);
    }

    #[test]
    fn a_trailer_given_twice_is_written_once() {
        let m = patch_message("Fix it.\n\nSigned-off-by: A <a@example.com>\n---\n");
        let t = [
            review("Acked-by", "R <r@example.com>", false),
            review("Acked-by", "R <r@example.com>", true),
        ];
        let p = [AmPatch { message: &m, number: 1, total: 1, version: 1, trailers: &t }];
        for opts in [AmOptions::default(), AmOptions { sloppy_trailers: true }] {
            let out = String::from_utf8(render_mbox(&p, &opts)).unwrap();
            assert_eq!(out.matches("Acked-by: R <r@example.com>").count(), 1, "{out}");
        }
    }

    #[test]
    fn a_trailer_the_patch_carries_in_another_spelling_is_not_added() {
        let body = "Fix it.\n\nReviewed-by: R   <r@example.com>\n---\n";
        let m = ParsedMessage {
            trailers: quire_mail::find_commit_trailers(body),
            ..patch_message(body)
        };
        let t = [review("reviewed-by", "R <r@example.com>", true)];
        let out = String::from_utf8(render_mbox(
            &[AmPatch { message: &m, number: 1, total: 1, version: 1, trailers: &t }],
            &AmOptions::default(),
        ))
        .unwrap();
        assert_eq!(out.to_lowercase().matches("reviewed-by").count(), 1, "{out}");
    }

    #[test]
    fn trailers_follow_a_maintainers_note_in_the_same_block() {
        let m = patch_message(
            "Fix it.\n\nSigned-off-by: A <a@example.com>\n[max: reworded the message]\n---\n",
        );
        let t = [review("Acked-by", "R <r@example.com>", true)];
        let out = String::from_utf8(render_mbox(
            &[AmPatch { message: &m, number: 1, total: 1, version: 1, trailers: &t }],
            &AmOptions::default(),
        ))
        .unwrap();
        assert!(
            out.contains("[max: reworded the message]\nAcked-by: R <r@example.com>\n---\n"),
            "{out}"
        );
    }

    #[test]
    fn body_lines_that_read_as_envelopes_are_quoted() {
        let m = patch_message("From the start.\n>From here.\n---\n");
        let out = String::from_utf8(render_mbox(
            &[AmPatch { message: &m, number: 1, total: 1, version: 1, trailers: &[] }],
            &AmOptions::default(),
        ))
        .unwrap();
        assert!(out.contains("\n>From the start.\n>>From here.\n"));
    }
}
