//! quire-series: from single messages to series.
//!
//! [`assemble`] takes the messages of a *neighbourhood* (every message of the threads that
//! changed, plus unthreaded patches that could belong with them) and says which series exist
//! there and what role each message plays. It is a pure function of its input: the store
//! gathers the neighbourhood, calls it, and replaces what it had for those messages. A series
//! is named by its *head*: the cover letter's Message-ID, else patch 1's (else the lowest
//! numbered patch's).
//!
//! [`collect_trailers`] gives each patch of a series the review trailers of the replies that
//! answer it, the way b4 does.

use quire_mail::{Address, MessageKind, SubjectInfo, Trailer};
use serde::{Deserialize, Serialize};

/// What assembly needs to know of one message (a projection of `quire_mail::ParsedMessage`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageMeta {
    pub message_id: String,
    pub in_reply_to: Option<String>,
    /// Oldest first.
    pub references: Vec<String>,
    pub from: Address,
    /// Unix seconds; 0 when unknown.
    pub date: i64,
    /// The subject as sent.
    pub subject: String,
    pub subject_info: SubjectInfo,
    pub kind: MessageKind,
    pub patch_id: Option<String>,
    /// The trailers the message gives (`ParsedMessage::trailers`: a reply's b4 takes from it, a
    /// patch's those of its commit message).
    pub trailers: Vec<Trailer>,
    /// b4's `change-id:` (`ParsedMessage::change_id`).
    #[serde(default)]
    pub change_id: Option<String>,
    /// Patchew's `Supersedes: <message-id>` (`ParsedMessage::supersedes`).
    #[serde(default)]
    pub supersedes: Option<String>,
}

/// The part a message plays in a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "role", content = "number")]
pub enum Role {
    CoverLetter,
    /// Patch number `n` of the series (1-based; 1 for a lone patch).
    Patch(u32),
    /// A reply somewhere under the series' cover letter or patches.
    Reply,
}

/// One series (one revision of a patch set) as found in a neighbourhood.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    /// Message-ID that names the series (cover letter, else patch 1, else lowest patch).
    pub head: String,
    pub cover_letter: Option<String>,
    /// `(number, message_id)` sorted by number; one entry per number (a duplicate number
    /// keeps the first one received).
    pub patches: Vec<(u32, String)>,
    pub version: u32,
    /// `m` of `n/m` (1 for a lone patch).
    pub total: u32,
    /// Every patch 1..=total present.
    pub complete: bool,
    /// Subject of the head message as sent.
    pub subject: String,
    /// Subject name without tags (of the cover letter, else patch 1 / the head).
    pub name: String,
    pub submitter: Address,
    /// Date of the head message (unix seconds).
    pub date: i64,
    pub is_rfc: bool,
    pub is_pull: bool,
    /// Series that are revisions of each other share this key: the key of the series the
    /// head replies to when it replies into another series, else
    /// `lowercase(submitter email) + "\n" + normalized name`. The store may link the series to
    /// an earlier one of another thread by other signals (see [`revisions`]) and give it that
    /// one's key.
    pub revision_key: String,
    /// The key the series has of itself (`sender\nname`, with its identity tags): what a later
    /// revision sent under the same name finds it by.
    #[serde(default)]
    pub own_revision_key: String,
    /// The head of the series this one replies into and took its key from (a revision sent in
    /// the thread of the one before).
    #[serde(default)]
    pub answers: Option<String>,
    /// Patches taken from the revision before (b4's partial re-roll: a v3 of only patch 2/2,
    /// sent as a reply to v2's 2/2, takes v2's 1/2): `(number, message_id)`. They belong to
    /// that revision; `complete` counts them.
    #[serde(default)]
    pub taken: Vec<(u32, String)>,
    /// b4's `change-id:` of the cover letter, else of the first patch that has one.
    #[serde(default)]
    pub change_id: Option<String>,
    /// Patchew's `Supersedes:` of the cover letter.
    #[serde(default)]
    pub supersedes: Option<String>,
}

/// The result of assembling a neighbourhood.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assembly {
    pub series: Vec<Series>,
    /// For every input message that belongs to a series: (message_id, series head, role).
    /// Messages that belong to none (a discussion that is not about a patch) are absent.
    pub members: Vec<(String, String, Role)>,
}

/// Groups the messages of a neighbourhood into series. Pure and deterministic: the same input
/// (in any order) gives the same output. See the `assemble` module for the rules.
pub fn assemble(messages: &[MessageMeta]) -> Assembly {
    assemble::assemble(messages)
}

/// A trailer as given to one patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectedTrailer {
    pub trailer: Trailer,
    /// The reply that gave it (for one carried over, the reply to the earlier revision).
    pub message_id: String,
    /// The person trailer names the reply's sender (b4's rules: the address in any case, with or
    /// without a `+tag`, one subdomain level apart, or the same name; see [`person_matches`]).
    /// Always true for non-person trailers.
    pub verified: bool,
    /// Given to an earlier revision's patch with the same patch-id.
    pub carried_over: bool,
}

/// The trailers that reviewers gave each patch of `series`, b4's way: first those of replies
/// under the patch (walking up through replies to replies), then those carried over from earlier
/// revisions, then those of replies to the cover letter (for every patch); each group in the
/// order given (by date). A trailer the patch carries itself, or already got, is left out
/// (`quire_mail::trailer_key`), except that a verified copy follows an unverified one (`quire
/// am` writes the first of those it writes). `quire am` adds them below the patch's own trailers,
/// as b4 does.
///
/// `thread` holds the series' messages and every reply under them. `earlier` holds, for patches
/// of earlier revisions, `(patch_id, trailers given to that patch)`; those with a patch-id equal
/// to a patch of this series are carried over.
pub fn collect_trailers(
    series: &Series,
    thread: &[MessageMeta],
    earlier: &[(String, Vec<CollectedTrailer>)],
) -> Vec<(u32, Vec<CollectedTrailer>)> {
    trailers::collect(series, thread, earlier)
}

/// The projection of a parsed message that assembly needs.
pub fn meta_from_parsed(p: &quire_mail::ParsedMessage) -> MessageMeta {
    MessageMeta {
        message_id: p.message_id.clone(),
        in_reply_to: p.in_reply_to.clone(),
        references: p.references.clone(),
        from: p.from.clone(),
        date: p.date.unwrap_or(0),
        subject: p.subject.clone(),
        subject_info: p.subject_info.clone(),
        kind: p.kind,
        patch_id: p.diff.as_ref().map(|d| d.patch_id.clone()),
        trailers: p.trailers.clone(),
        change_id: p.change_id.clone(),
        supersedes: p.supersedes.clone(),
    }
}

pub use trailers::person_matches;

pub mod am;
mod assemble;
pub mod revisions;
mod thread;
mod trailers;
