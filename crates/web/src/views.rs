//! What each page shows, already worked out: the templates only lay it out. Every string here
//! that came from a mail is plain text; askama escapes it on the way out.

use crate::age::{Age, plural};
use crate::diff::{DiffLine, classify};
use crate::diffstat::StatLine;
use crate::quote::{Piece, fold_quotes};
use askama::Template;

/// One piece of a folded mail body, flattened for the template (see [`crate::quote::Piece`]).
#[derive(Debug, Clone)]
pub struct BodyPiece {
    /// "text", "open" or "close".
    pub kind: &'static str,
    pub text: String,
    pub open: bool,
}

pub fn body_pieces(body: &str) -> Vec<BodyPiece> {
    fold_quotes(body.trim_end())
        .into_iter()
        .map(|p| match p {
            Piece::Open { summary, open } => BodyPiece { kind: "open", text: summary, open },
            Piece::Text(text) => BodyPiece { kind: "text", text, open: false },
            Piece::Close => BodyPiece { kind: "close", text: String::new(), open: false },
        })
        .collect()
}

/// A small label on a series: its CSS class says its colour, `title` explains it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Badge {
    pub class: &'static str,
    pub text: String,
    pub title: String,
}

impl Badge {
    pub fn new(class: &'static str, text: impl Into<String>, title: impl Into<String>) -> Badge {
        Badge { class, text: text.into(), title: title.into() }
    }
}

#[derive(Debug, Clone)]
pub struct ProjectRow {
    pub name: String,
    pub url: String,
    pub series: u64,
    pub messages: u64,
    pub last_activity: Option<Age>,
}

#[derive(Template)]
#[template(path = "front.html")]
pub struct FrontPage {
    pub projects: Vec<ProjectRow>,
}

#[derive(Debug, Clone)]
pub struct SeriesRow {
    pub url: String,
    pub title: String,
    pub submitter: String,
    pub age: Age,
    pub patches: u32,
    /// "1 patch", "5 patches"
    pub patch_count: String,
    pub version: u32,
    pub badges: Vec<Badge>,
    /// Acked-by / Reviewed-by / Tested-by over the patches, as Patchwork's list shows them;
    /// None for a series not counted yet.
    pub reviews: Option<ReviewView>,
}

/// The A/R/T cell of a list line: each count, "-" for none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewView {
    pub acked: String,
    pub reviewed: String,
    pub tested: String,
    pub title: String,
}

#[derive(Template)]
#[template(path = "queue.html")]
pub struct QueuePage {
    pub project: String,
    pub project_url: String,
    /// The maintainer as the maintainers file names them (their address when no series says).
    pub who: String,
    pub email: String,
    pub total: u64,
    pub rows: Vec<SeriesRow>,
    pub prev_url: Option<String>,
    pub next_url: Option<String>,
    pub page: u32,
}

/// A maintainer or reviewer named on a page, linked to their queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonLink {
    pub name: String,
    pub email: String,
    pub url: String,
}

/// An approval that counted: who, and how ("Acked-by", "Acked-by as a@b", "submitter").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApproverView {
    pub who: PersonLink,
    pub how: String,
}

/// A section's maintainer or reviewer, with what they gave the file's patches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberView {
    pub who: PersonLink,
    /// "" when they gave nothing that counts.
    pub gave: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionLine {
    pub name: String,
    pub status: String,
    /// "F:", "N:" or "K:": how the section takes the file.
    pub how: String,
    /// Its maintainers' approval counts under the project's rule.
    pub required: bool,
    pub maintainers: Vec<MemberView>,
    pub reviewers: Vec<MemberView>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileApprovalView {
    pub path: String,
    /// "patch 2", "patches 1, 3"
    pub patches: String,
    /// "approved", "awaiting", "no maintainer"
    pub state: &'static str,
    pub class: &'static str,
    pub approved_by: Vec<ApproverView>,
    pub awaiting: Vec<PersonLink>,
    pub sections: Vec<SectionLine>,
}

/// What the maintainers file says of a series, for its page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalsView {
    pub approved: bool,
    pub awaiting: Vec<PersonLink>,
    pub approved_by: Vec<ApproverView>,
    pub rule: String,
    /// "MAINTAINERS at 0123456789ab"
    pub source: String,
    pub files: Vec<FileApprovalView>,
    pub problems: Vec<String>,
}

#[derive(Template)]
#[template(path = "list.html")]
pub struct ListPage {
    /// `?q=` did not parse: why (the page answers 400).
    pub bad_query: Option<String>,
    pub project: String,
    pub project_url: String,
    pub q: String,
    pub page: u32,
    pub rows: Vec<SeriesRow>,
    pub prev_url: Option<String>,
    pub next_url: Option<String>,
    pub atom_url: String,
}

#[derive(Debug, Clone)]
pub struct RevisionLink {
    pub label: String,
    pub url: String,
    pub current: bool,
    pub newest: bool,
    /// Interdiff from the current revision to this one (None for the current one).
    pub interdiff_url: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CheckView {
    pub name: String,
    pub state: String,
    /// "pass", "fail", "pending" or "other", for the colour.
    pub class: &'static str,
    pub url: Option<String>,
    pub description: String,
    /// Shown on the page under the table: the ABI check's per-target report when it found
    /// something (short: a few lines per group of targets).
    pub detail: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TrailerView {
    pub tag: String,
    pub value: String,
    pub verified: bool,
    pub carried_over: bool,
    pub from_anchor: String,
    /// The Message-ID of the mail that gave it (the patch itself for its own trailers).
    pub source: String,
    /// What that mail's signatures say (issue 29); `None` when it was never verified.
    pub attestation: Option<AttestView>,
}

/// A mail's attestation as a badge: "signed by the sender's domain", "signed by the list
/// only", "none", "bad"... with the one-line summary as its title.
#[derive(Debug, Clone)]
pub struct AttestView {
    pub label: String,
    pub class: String,
    pub summary: String,
}

impl AttestView {
    pub fn of(a: &quire_store::Attestation) -> AttestView {
        AttestView {
            label: a.level.label().to_string(),
            class: a.level.class().to_string(),
            summary: a.summary.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PatchTrailers {
    pub number: u32,
    pub subject: String,
    pub anchor: String,
    pub message_id: String,
    pub attestation: Option<AttestView>,
    pub trailers: Vec<TrailerView>,
}

/// Where the series stands with the project's tree.
#[derive(Debug, Clone)]
pub enum ApplyView {
    NotYet,
    Applied { tree_url: Option<String>, log_url: String },
    Failed { log_url: String, log: String },
}

/// One message in a thread, at its nesting depth.
#[derive(Debug, Clone)]
pub struct MessageView {
    pub anchor: String,
    /// Nesting under the thread's root, capped so deep threads stay readable.
    pub depth: usize,
    pub subject: String,
    pub from_name: String,
    pub from_email: String,
    pub age: Age,
    pub body: Vec<BodyPiece>,
    pub diff: Vec<DiffLine>,
    pub raw_url: String,
    pub url: String,
    /// Download of this message as a patch for `git am`, when it is one.
    pub patch_url: Option<String>,
    pub problems: Vec<String>,
}

/// Deepest indentation of a reply; deeper replies line up at this depth.
pub const MAX_DEPTH: usize = 6;

impl MessageView {
    /// The view of a stored message at `depth` in its thread.
    pub fn new(
        project: &str,
        m: &quire_store::MessageRecord,
        depth: usize,
        now: i64,
    ) -> MessageView {
        let url = crate::url::message_url(project, &m.message_id);
        let is_patch = m.diff.is_some() && matches!(m.role, Some(quire_series::Role::Patch(_)));
        MessageView {
            anchor: crate::url::anchor(&m.message_id),
            depth: depth.min(MAX_DEPTH),
            subject: if m.subject.trim().is_empty() {
                "(no subject)".into()
            } else {
                m.subject.clone()
            },
            from_name: if m.from.name.trim().is_empty() {
                m.from.email.clone()
            } else {
                m.from.name.clone()
            },
            from_email: m.from.email.clone(),
            age: Age::new(m.date.unwrap_or(0), now),
            body: body_pieces(&m.body),
            diff: m.diff.as_deref().map(classify).unwrap_or_default(),
            raw_url: format!("{url}raw"),
            patch_url: is_patch.then(|| format!("{url}patch")),
            url,
            problems: m.problems.clone(),
        }
    }
}

#[derive(Template)]
#[template(path = "series.html")]
pub struct SeriesPage {
    pub project: String,
    pub project_url: String,
    pub title: String,
    pub submitter: String,
    pub submitter_email: String,
    /// "posted 3 patches"
    pub posted: String,
    pub age: Age,
    pub version: u32,
    pub badges: Vec<Badge>,
    pub revisions: Vec<RevisionLink>,
    pub apply: ApplyView,
    pub fetch_line: Option<String>,
    /// Patches found upstream (empty when none is).
    pub merged: Vec<MergedLine>,
    pub total_patches: u32,
    pub stat: Vec<StatLine>,
    pub stat_summary: String,
    pub checks: Vec<CheckView>,
    /// What the project's maintainers file says the series needs, when the worker read it.
    pub approvals: Option<ApprovalsView>,
    /// `git range-diff` from the previous revision, or why there is none.
    pub range_diff: Option<crate::range_diff::RangeDiffSection>,
    pub trailers: Vec<PatchTrailers>,
    pub thread: Vec<MessageView>,
    pub mbox_url: String,
    pub cover_url: String,
    /// Patch states for everyone, forms for who may change them (crate::accounts).
    pub workflow: crate::accounts::WorkflowView,
}

/// A patch of the series found in the project's branch.
pub struct MergedLine {
    /// "2/3"
    pub label: String,
    pub subject: String,
    /// Abbreviated commit id.
    pub commit: String,
    /// How it was matched.
    pub how: String,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub project: String,
    pub project_url: String,
    pub title: String,
    pub thread: Vec<MessageView>,
    /// The message the URL named, highlighted in its thread.
    pub focus: String,
}

#[derive(Template)]
#[template(path = "interdiff.html")]
pub struct InterdiffPage {
    pub project: String,
    pub project_url: String,
    pub title: String,
    pub from_label: String,
    pub from_url: String,
    pub to_label: String,
    pub to_url: String,
    pub lines: Vec<DiffLine>,
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub status: u16,
    pub title: String,
    pub detail: String,
}

/// An Atom entry for one series.
#[derive(Debug, Clone)]
pub struct AtomEntry {
    pub id: String,
    pub title: String,
    pub link: String,
    pub updated: String,
    pub author_name: String,
    pub author_email: String,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "feed.atom", escape = "html")]
pub struct AtomFeed {
    pub id: String,
    pub title: String,
    pub self_link: String,
    pub html_link: String,
    pub updated: String,
    pub entries: Vec<AtomEntry>,
}

/// "posted 3 patches" / "posted 1 patch".
pub fn posted(patches: u32) -> String {
    format!("posted {}", plural(u64::from(patches), "patch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posted_counts_patches() {
        assert_eq!(posted(3), "posted 3 patches");
        assert_eq!(posted(1), "posted 1 patch");
    }

    #[test]
    fn hostile_text_in_an_error_page_is_escaped() {
        let page = ErrorPage {
            status: 404,
            title: "<script>alert(1)</script>".into(),
            detail: "a & b".into(),
        };
        let html = page.render().expect("renders");
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(
            html.contains("&#60;script&#62;alert(1)") || html.contains("&lt;script&gt;"),
            "{html}"
        );
    }
}
