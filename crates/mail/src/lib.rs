//! quire-mail: what one list mail says.
//!
//! `parse(raw)` turns the bytes of one RFC 5322 message into a [`ParsedMessage`]: decoded
//! headers, the subject's tags (`[PATCH v2 3/5]`), the diff with its diffstat and a
//! `git patch-id --stable` equivalent, review trailers, `base-commit:`/`Based-on:` lines and
//! `git request-pull` details.
//!
//! Invariants: no I/O, and no input panics. A message that cannot be understood still gives a
//! `ParsedMessage` (with a synthesized Message-ID where it had none) whose `problems` say why.

use serde::{Deserialize, Serialize};

/// A person as named in a header: `Name <email>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub name: String,
    /// As written, trimmed. Compare with `email.to_ascii_lowercase()`.
    pub email: String,
}

/// What the subject line says, tags removed: `[LTP] [PATCH v3 2/7] foo: bar` ->
/// version 3, number 2, total 7, tags ["LTP", "PATCH", "v3", "2/7"], name "foo: bar".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectInfo {
    /// Starts with `Re:`/`AW:`/`SV:`/`Odp:`... (a reply), possibly after list tags.
    pub is_reply: bool,
    /// Starts with `Fwd:`/`Fw:`/`WG:`...
    pub is_forward: bool,
    /// Every bracketed tag word, in order, as written (`PATCH`, `v2`, `for-4.14`, `3/5`, `RFC`).
    pub tags: Vec<String>,
    /// `vN` (or `(vN)` at the end of the subject); 1 when absent.
    pub version: u32,
    /// `n` of `n/m` (or `n of m`); `None` when absent.
    pub number: Option<u32>,
    /// `m` of `n/m`; `None` when absent.
    pub total: Option<u32>,
    pub is_rfc: bool,
    pub is_resend: bool,
    /// `[GIT PULL]`, `[git pull]`, `[PULL]`, `[PULL REQUEST]`...
    pub is_pull: bool,
    /// The subject without `Re:` forms and bracketed tags, whitespace folded. Used to match
    /// revisions of one series (compare `normalized_name`).
    pub name: String,
}

/// One file a diff touches, with its counts, as `git diff --stat` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStat {
    /// The path after the change (the old path for a deletion), without `a/`/`b/`.
    pub path: String,
    /// For a rename or copy, the path before.
    pub old_path: Option<String>,
    pub insertions: u32,
    pub deletions: u32,
    pub binary: bool,
    pub status: FileStatus,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    #[default]
    Modified,
    Added,
    Deleted,
    Renamed,
    Copied,
    ModeChanged,
}

/// The diff a message carries (inline, `Index:` style, or in a text/x-patch attachment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    /// The diff text exactly as it appears once decoded, from its first `diff --git`/`Index:`/
    /// `--- ` line to its end (the `-- ` signature and list footers excluded).
    pub text: String,
    pub files: Vec<FileStat>,
    /// `git patch-id --stable` of `text`: 40 hex digits.
    pub patch_id: String,
    /// Patchwork's hash of the patch ([`diff::patchwork_hash`]): 40 hex digits; None where
    /// Patchwork finds no hunk.
    #[serde(default)]
    pub patchwork_hash: Option<String>,
}

impl Diff {
    pub fn insertions(&self) -> u32 {
        self.files.iter().map(|f| f.insertions).sum()
    }
    pub fn deletions(&self) -> u32 {
        self.files.iter().map(|f| f.deletions).sum()
    }
}

/// A `Tag: value` line in the body of a message (`Reviewed-by: A <a@b>`, `Fixes: abc ("x")`),
/// as b4 takes it (docs/trailers.md).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trailer {
    /// The tag as written (`Reviewed-by`, `acked-by`): b4 writes it so. Compare it lowercased.
    pub tag: String,
    /// What is written after `Tag: `: the value normalised as b4 does (`Name <address>` with the
    /// name's blanks folded, a bare address, a `<mailto:...>` left by a mail client dropped),
    /// then its comment, if it has one: `  # for arm64` on the same line, or a `[for arm64]`
    /// line below. [`trailer_key`] says which trailers are the same.
    pub value: String,
    /// For a person trailer, the parsed person (the name without quotes around it); `None` for
    /// `Link:`/`Fixes:` and values that name nobody.
    pub person: Option<Address>,
}

/// A `git request-pull` message: where to pull from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullRequest {
    /// Repository URL (`git://…/powerpc.git`).
    pub url: String,
    /// Branch or tag after the URL (`next`, `tags/v5.4-next-soc`); may be empty.
    pub branch: String,
}

/// What a message is, judged from itself alone (no knowledge of the thread).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MessageKind {
    /// Carries a diff and is not a reply (`Re:`): one patch of a series.
    Patch,
    /// `0/n` and not a reply: introduces a series.
    CoverLetter,
    /// A `git request-pull` (with or without a diff).
    PullRequest,
    /// Anything else that answers another message or starts a discussion.
    #[default]
    Reply,
    /// Could not be understood; see `ParsedMessage::problems`.
    Unparsable,
}

/// Everything quire derives from one raw message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParsedMessage {
    /// Without the angle brackets. Synthesized (`<sha1-of-raw>@quire.invalid`) when the message
    /// has none; then `message_id_generated` is true.
    pub message_id: String,
    pub message_id_generated: bool,
    /// Without angle brackets.
    pub in_reply_to: Option<String>,
    /// Without angle brackets, oldest first, as in the header.
    pub references: Vec<String>,
    /// Decoded, unfolded subject as sent.
    pub subject: String,
    pub subject_info: SubjectInfo,
    pub from: Address,
    pub to: Vec<Address>,
    pub cc: Vec<Address>,
    /// Unix seconds (UTC); `None` when missing or unreadable. A Date later than the message's
    /// arrival is replaced by the arrival (see [`ParsedMessage::hold_future_date`]).
    pub date: Option<i64>,
    /// The zone the Date header was written in, minutes east of UTC (`+0800`: 480).
    #[serde(default)]
    pub date_zone: Option<i32>,
    /// When the topmost `Received:` header says the message arrived (Unix seconds).
    #[serde(default)]
    pub received: Option<i64>,
    /// `List-Id` without angle brackets (also `X-Mailing-List`/`X-list` forms).
    pub list_id: Option<String>,
    pub kind: MessageKind,
    /// The decoded text of the message (text/plain parts, html ignored when a plain part
    /// exists), without the diff when there is one.
    pub body: String,
    pub diff: Option<Diff>,
    /// The text after an inline diff (b4's `base-commit:`/`change-id:` lines under a single
    /// patch, the signature, list footers): neither body nor diff, searched all the same.
    #[serde(default)]
    pub tail: String,
    /// The trailers the message gives: a reply's are b4's follow-up trailers (any `Tag: value`
    /// line of its text, diff included, above the signature and not quoted, that names a person
    /// or is a link or fix; none from a reply in HTML only), a patch's or cover letter's those of
    /// the last paragraph of its commit message. See [`trailers`].
    pub trailers: Vec<Trailer>,
    /// The `base-commit: <sha>` line, when present.
    pub base_commit: Option<String>,
    /// Message-IDs named by `Based-on:` lines (without brackets).
    pub based_on: Vec<String>,
    /// The Message-ID named by a `Supersedes:` line (Patchew's: this series replaces the one
    /// that message belongs to).
    #[serde(default)]
    pub supersedes: Option<String>,
    /// b4's `change-id:` line (the same in every revision of a series `b4 prep` sent).
    #[serde(default)]
    pub change_id: Option<String>,
    pub pull: Option<PullRequest>,
    /// What was wrong with the message, one short reason each ("no Message-ID",
    /// "unknown charset x-foo, decoded as latin-1", "headers larger than 1 MiB"...).
    pub problems: Vec<String>,
}

/// `Applied "spi: fix x" to the spi tree`, `applied: [PATCH] x`: a maintainer saying a patch
/// went in, often quoting its diff. It answers a series; it is not one.
fn is_applied_notice(subject: &str) -> bool {
    let s = subject.trim_start();
    s.len() > 8
        && s.is_char_boundary(7)
        && s[..7].eq_ignore_ascii_case("applied")
        && matches!(s.as_bytes()[7], b' ' | b':' | b'"' | b',')
}

/// How far past its arrival a Date may lie before it is doubted: wrong clocks are hours off, and a
/// message dated years ahead would otherwise head every list until that day.
pub const FUTURE_DATE_SLACK: i64 = 86_400;

impl ParsedMessage {
    /// A Date later than the message can have been sent (more than [`FUTURE_DATE_SLACK`] after
    /// it arrived: its topmost `Received:` header, or `imported`, when the archive gave it to
    /// quire, whichever is earlier) is doubtful: the message is dated by its arrival instead and
    /// flagged. Its raw bytes, and every mbox quire writes of it, keep the Date as sent.
    pub fn hold_future_date(&mut self, imported: i64) {
        let Some(date) = self.date else { return };
        let arrived = self.received.map_or(imported, |r| r.min(imported));
        if date > arrived.saturating_add(FUTURE_DATE_SLACK) {
            let show = |t: i64| mail_parser::DateTime::from_timestamp(t).to_rfc3339();
            self.problems.push(format!(
                "doubtful Date {}: later than its arrival {}, so dated by its arrival",
                show(date),
                show(arrived)
            ));
            self.date = Some(arrived);
        }
    }
}

/// Limits beyond which a message is kept but not parsed further.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_message_bytes: 64 << 20, max_header_bytes: 1 << 20 }
    }
}

mod body;
pub mod diff;
mod headers;
pub mod mbox;
mod person;
pub mod pull;
pub mod series_lines;
pub mod subject;
pub mod trailers;

pub use subject::parse_subject;
pub use trailers::{find_commit_trailers, find_trailers, parse_person, trailer_key};

/// Parses only the headers quire reads (MIME, date, subject, addresses, ids); the rest, such as
/// `Received:` chains that can be long, are kept raw: a fifth of the parse time otherwise.
static MAIL_PARSER: once_cell::sync::Lazy<mail_parser::MessageParser> =
    once_cell::sync::Lazy::new(|| {
        mail_parser::MessageParser::new().with_minimal_headers().with_message_ids()
    });

/// Understands one message. Never panics.
pub fn parse(raw: &[u8]) -> ParsedMessage {
    parse_with_limits(raw, Limits::default())
}

/// As [`parse`], with explicit size limits: a larger message is parsed only up to the limit,
/// and flagged.
pub fn parse_with_limits(raw: &[u8], limits: Limits) -> ParsedMessage {
    let mut problems = Vec::new();
    let mut raw = raw;
    if raw.len() > limits.max_message_bytes {
        problems.push(format!(
            "message of {} bytes is larger than the limit of {} bytes: only its start was read",
            raw.len(),
            limits.max_message_bytes
        ));
        raw = &raw[..limits.max_message_bytes];
    }
    let header_len = header_length(raw);
    if header_len > limits.max_header_bytes {
        problems.push(format!(
            "headers of {header_len} bytes are larger than the limit of {} bytes",
            limits.max_header_bytes
        ));
        return unparsable(raw, problems);
    }
    let Some(message) = MAIL_PARSER.parse(raw) else {
        problems.push("not a mail message: no headers could be read".into());
        return unparsable(raw, problems);
    };
    let has_headers = message.from().is_some()
        || message.subject().is_some()
        || message.message_id().is_some()
        || message.header_raw("Message-ID").is_some()
        || message.date().is_some();
    if !has_headers {
        problems.push("not a mail message: no From, Subject, Date or Message-ID header".into());
        return unparsable(raw, problems);
    }
    understand(&message, raw, problems)
}

fn understand(
    message: &mail_parser::Message<'_>,
    raw: &[u8],
    mut problems: Vec<String>,
) -> ParsedMessage {
    let (message_id, generated) = match headers::message_id(message) {
        Some(id) => (id, false),
        None => {
            problems.push("no Message-ID".into());
            (generated_id(raw), true)
        }
    };
    // As sent: the parser has unfolded it; runs of blanks stay (`subject_info.name` folds them).
    let subject = message.subject().map(|s| s.trim().to_string()).unwrap_or_default();
    let subject_info = subject::parse_subject(&subject);
    let from = headers::first_address(message.from()).unwrap_or_default();
    if from.email.is_empty() {
        problems.push("no sender address in From".into());
    }
    let (date, date_zone) = match headers::date_and_zone(message) {
        Some((date, zone)) => (Some(date), Some(zone)),
        None => (None, None),
    };
    if date.is_none() {
        problems.push("no readable Date".into());
    }
    let content = body::extract(message);
    let (body, diff_text, tail, patchwork_hash) = split_body(&content);
    let diff = diff_text.map(|text| Diff {
        files: diff::diffstat(&text),
        patch_id: diff::patch_id(&text),
        text,
        patchwork_hash,
    });
    let pull = pull::find_pull(&content.text);
    let base_commit = series_lines::find_base_commit(&content.text);
    let based_on = series_lines::find_based_on(&content.text);
    let supersedes = series_lines::find_supersedes(&content.text);
    let change_id = series_lines::find_change_id(&content.text);
    let kind = if pull.is_some() && !subject_info.is_reply {
        MessageKind::PullRequest
    } else if subject_info.number == Some(0) && !subject_info.is_reply {
        MessageKind::CoverLetter
    } else if diff.is_some() && !subject_info.is_reply && !is_applied_notice(&subject) {
        MessageKind::Patch
    } else {
        MessageKind::Reply
    };
    let trailers = match kind {
        // b4 reads a reply whole, a diff in it included (`Reviewed-by` often follows a quoted
        // patch that is not all quoted).
        MessageKind::Reply => {
            trailers::find_trailers(&body::follow_up_text(message, &content.text))
        }
        _ => trailers::find_commit_trailers(&body),
    };
    ParsedMessage {
        message_id,
        message_id_generated: generated,
        in_reply_to: headers::in_reply_to(message),
        references: headers::references(message),
        subject,
        subject_info,
        from,
        to: headers::addresses(message.to()),
        cc: headers::addresses(message.cc()),
        date,
        date_zone,
        received: headers::received(message),
        list_id: headers::list_id(message),
        kind,
        body,
        tail,
        diff,
        trailers,
        base_commit,
        based_on,
        supersedes,
        change_id,
        pull,
        problems,
    }
}

/// The body before the diff, the diff (inline and attached ones joined), the text after the
/// inline diff, and Patchwork's hash of the diff: of the inline text from the diff's start to the
/// end (Patchwork's parser reads on past the signature), else of the first attached diff taken
/// whole, as Patchwork takes an x-patch.
fn split_body(content: &body::Content) -> (String, Option<String>, String, Option<String>) {
    let text = &content.text;
    let mut diffs = Vec::new();
    let mut body = text.clone();
    let mut tail = String::new();
    let mut patchwork_hash = None;
    if let Some((start, end)) = diff::find_diff(text) {
        diffs.push(text[start..end].to_string());
        body = text[..start].to_string();
        tail = text[end..].to_string();
        patchwork_hash = diff::patchwork_hash(&text[start..]);
    }
    for a in &content.attached {
        if let Some((start, end)) = diff::find_diff(a) {
            diffs.push(a[start..end].to_string());
            if patchwork_hash.is_none() {
                patchwork_hash = diff::patchwork_hash_of_diff(a);
            }
        }
    }
    if diffs.is_empty() {
        return (body, None, tail, None);
    }
    let mut joined = String::new();
    for d in diffs {
        joined.push_str(&d);
        if !joined.ends_with('\n') {
            joined.push('\n');
        }
    }
    (body, Some(joined), tail, patchwork_hash)
}

/// Where the headers end (the first empty line), for the header size limit.
fn header_length(raw: &[u8]) -> usize {
    let mut pos = 0;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line == b"\n" || line == b"\r\n" {
            return pos;
        }
        pos += line.len();
    }
    pos
}

fn generated_id(raw: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    format!("{}@quire.invalid", hex::encode(Sha1::digest(raw)))
}

fn unparsable(raw: &[u8], problems: Vec<String>) -> ParsedMessage {
    ParsedMessage {
        message_id: generated_id(raw),
        message_id_generated: true,
        kind: MessageKind::Unparsable,
        subject_info: SubjectInfo { version: 1, ..Default::default() },
        problems,
        ..Default::default()
    }
}

/// Lower-cases and folds a subject name so that revisions of one series compare equal.
pub fn normalized_name(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reviewed_by_below_a_quoted_patch_left_unquoted_is_taken() {
        // The reply quotes the diff without `>` (so quire finds a diff in it) and reviews below.
        let raw = "From: R <r@example.com>\nSubject: Re: [PATCH] f: fix\nMessage-ID: <r@x>\nIn-Reply-To: <p@x>\n\n> Signed-off-by: A <a@example.com>\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n\nReviewed-by: R <r@example.com>\n";
        let m = parse(raw.as_bytes());
        assert_eq!(m.kind, MessageKind::Reply);
        assert_eq!(m.trailers.len(), 1);
        assert_eq!(m.trailers[0].value, "R <r@example.com>");
    }

    #[test]
    fn a_subject_keeps_its_runs_of_blanks() {
        let raw = "From: A <a@example.com>\nSubject: [PATCH v2]  widget:  two  blanks\n\tfolded\nMessage-ID: <s@x>\n\nbody\n";
        let m = parse(raw.as_bytes());
        assert_eq!(m.subject, "[PATCH v2]  widget:  two  blanks folded");
        assert_eq!(m.subject_info.name, "widget: two blanks folded");
    }

    #[test]
    fn a_patchs_trailers_are_its_commit_messages() {
        let raw = "From: A <a@example.com>\nSubject: [PATCH] f: fix\nMessage-ID: <p@x>\n\nFix f.\n\nLink: https://example.com/bug\nSigned-off-by: A <a@example.com>\n---\n f | 2 +-\n\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n";
        let m = parse(raw.as_bytes());
        assert_eq!(m.kind, MessageKind::Patch);
        let tags: Vec<&str> = m.trailers.iter().map(|t| t.tag.as_str()).collect();
        assert_eq!(tags, ["Link", "Signed-off-by"]);
    }
}
