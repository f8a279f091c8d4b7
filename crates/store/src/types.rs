//! The values that go in and out of the store.

use quire_mail::{Address, FileStat, MessageKind, ParsedMessage, PullRequest, Trailer};
use quire_series::Role;
use serde::{Deserialize, Serialize};

/// One message as the importer hands it over: the bytes as received and what `quire_mail::parse`
/// made of them.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub raw: Vec<u8>,
    pub parsed: ParsedMessage,
    /// The project named by `--project`: used when neither List-Id nor To/Cc names a project.
    pub project: Option<String>,
    /// What its signatures said when it came in (quire-attest), stored with the raw bytes;
    /// `None`: not verified.
    pub attestation: Option<crate::Attestation>,
    /// The hash and compressed forms the store writes, made by [`Incoming::parse`] on the
    /// importer's parsing threads so that the store's single writer does not wait for them.
    /// `None`: the store makes them.
    pub(crate) prepared: Option<Prepared>,
}

/// See [`Incoming::prepared`].
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) sha256: String,
    pub(crate) raw_zstd: Vec<u8>,
    /// The compressed diff text, when the message has a diff.
    pub(crate) diff_zstd: Option<Vec<u8>>,
    /// The words the public-inbox search indexes (made here, on the caller's thread).
    pub(crate) text: crate::message_text::Document,
}

impl Incoming {
    /// Parses `raw` with `quire_mail::parse` and prepares what the store will write (hash,
    /// compressed bytes and diff): the CPU-bound part of an ingest, done by the caller's thread.
    pub fn parse(raw: Vec<u8>, project: Option<String>) -> Incoming {
        let mut parsed = quire_mail::parse(&raw);
        crate::sanitize(&mut parsed);
        // A failure is tried again, and reported, by the store.
        let prepared = Prepared::of(&raw, &parsed).ok();
        Incoming { raw, parsed, project, attestation: None, prepared }
    }

    /// A message parsed by the caller. The store hashes and compresses it when it is ingested.
    pub fn new(raw: Vec<u8>, parsed: ParsedMessage, project: Option<String>) -> Incoming {
        Incoming { raw, parsed, project, attestation: None, prepared: None }
    }
}

impl Prepared {
    /// From the bytes and the sanitized parse (the diff is stored as sanitized).
    pub(crate) fn of(raw: &[u8], parsed: &ParsedMessage) -> std::io::Result<Prepared> {
        let raw_zstd = crate::derive::compress(raw)?;
        let diff_zstd =
            parsed.diff.as_ref().map(|d| crate::derive::compress(d.text.as_bytes())).transpose()?;
        let text = crate::message_text::document(parsed);
        Ok(Prepared { sha256: crate::derive::sha256_hex(raw), raw_zstd, diff_zstd, text })
    }
}

/// What one message had wrong with it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageProblem {
    pub message_id: String,
    pub reasons: Vec<String>,
}

/// What a batch did. Counts are of messages of the batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchOutcome {
    /// Messages stored for the first time (a new Message-ID).
    pub new_messages: u64,
    /// Same Message-ID and same bytes as a stored message: ignored.
    pub duplicates: u64,
    /// Same Message-ID as a stored message but different bytes: kept as a second raw copy,
    /// linked to the first (which stays canonical). Their Message-IDs.
    pub conflicting_duplicates: Vec<String>,
    /// New messages that could not be understood (stored and flagged).
    pub unparsable: u64,
    pub patches: u64,
    pub cover_letters: u64,
    /// New messages that are neither patches, cover letters nor unparsable.
    pub replies: u64,
    /// Series (per project) whose rows were rewritten by this batch.
    pub series_touched: u64,
    /// Series (per project) that did not exist before this batch.
    pub series_created: u64,
    /// New messages with problems, and what they were.
    pub problems: Vec<MessageProblem>,
}

impl BatchOutcome {
    /// Adds `other`'s counts to these (for a whole import's summary).
    pub fn add(&mut self, other: &BatchOutcome) {
        self.new_messages += other.new_messages;
        self.duplicates += other.duplicates;
        self.conflicting_duplicates.extend(other.conflicting_duplicates.iter().cloned());
        self.unparsable += other.unparsable;
        self.patches += other.patches;
        self.cover_letters += other.cover_letters;
        self.replies += other.replies;
        self.series_touched += other.series_touched;
        self.series_created += other.series_created;
        self.problems.extend(other.problems.iter().cloned());
    }
}

/// A project as configured: which lists feed it and where its tree lives.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectConfig {
    pub name: String,
    /// List-Id values (without angle brackets), matched case-insensitively.
    pub list_ids: Vec<String>,
    /// Posting addresses of the list, matched case-insensitively against To and Cc.
    pub list_addresses: Vec<String>,
    /// Subject tags (`libvirt-python` of `[libvirt-python PATCH]`), matched case-insensitively:
    /// when given, the project takes only the mail of its lists that carries one of them, and
    /// the list's projects without tags take the rest.
    #[serde(default)]
    pub subject_prefixes: Vec<String>,
    pub git_url: Option<String>,
    pub branch: Option<String>,
    pub mirror_url: Option<String>,
    pub tag_prefix: Option<String>,
}

/// A project with its counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectSummary {
    #[serde(flatten)]
    pub config: ProjectConfig,
    pub series: u64,
    pub messages: u64,
}

/// The name of the project that takes messages no project claims.
pub const UNASSIGNED: &str = "unassigned";

/// Which series to list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesFilter {
    /// Plain words that must all appear in the subject (case-insensitive).
    pub words: Vec<String>,
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
    pub include_superseded: bool,
}

impl Default for SeriesFilter {
    fn default() -> Self {
        SeriesFilter { words: Vec::new(), page: 1, per_page: 50, include_superseded: false }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Items over all pages (with `total_capped`: more than this many).
    pub total: u64,
    /// The count stopped at `total`: more items match (the series search counts up to
    /// [`crate::search::SEARCH_TOTAL_CAP`]). Every other list counts exactly.
    #[serde(default)]
    pub total_capped: bool,
    pub page: u32,
    pub per_page: u32,
}

/// A series as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesSummary {
    pub project: String,
    /// The head's Message-ID (cover letter, else patch 1).
    pub message_id: String,
    pub subject: String,
    pub name: String,
    pub version: u32,
    pub total: u32,
    pub complete: bool,
    pub submitter: Address,
    /// Unix seconds of the head message.
    pub date: i64,
    pub is_rfc: bool,
    pub is_pull: bool,
    /// Patches present.
    pub patches: u32,
    pub replies: u32,
    /// Unix seconds of the newest message of the series.
    pub last_activity: i64,
    /// Head of the newest revision that supersedes this one.
    pub superseded_by: Option<String>,
    /// Acked-by, Reviewed-by and Tested-by over the series' patches; `None` for a series
    /// stored before they were counted and not assembled since (a reindex counts them).
    #[serde(default)]
    pub reviews: Option<crate::ReviewCounts>,
    /// Approved, or whose approval it awaits, when its project's maintainers file says
    /// (`None` without one: no tree, not applied yet, approvals off).
    #[serde(default)]
    pub approval: Option<crate::ApprovalLine>,
}

/// Another revision of the same series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    pub message_id: String,
    pub version: u32,
    pub date: i64,
    pub subject: String,
}

/// A review trailer as given to one patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesTrailer {
    pub tag: String,
    pub value: String,
    /// The person's name and address (empty for `Link:`/`Fixes:`-like trailers).
    pub name: String,
    pub email: String,
    /// The message that gave it.
    pub message_id: String,
    /// The address matches the sender's.
    pub verified: bool,
    /// Given to an earlier revision's patch with the same patch-id.
    pub carried_over: bool,
}

/// One patch of a series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesPatch {
    pub number: u32,
    pub message_id: String,
    pub subject: String,
    pub patch_id: Option<String>,
    pub diffstat: Vec<FileStat>,
    /// Trailers written in the patch itself.
    pub own_trailers: Vec<Trailer>,
    /// Trailers collected from replies (and earlier revisions).
    pub trailers: Vec<SeriesTrailer>,
    /// For a patch a partial re-roll takes from the revision before (b4's `--reroll` of some
    /// patches only), that revision's version; the patch and its trailers are that revision's.
    #[serde(default)]
    pub from_revision: Option<u32>,
}

/// A cover letter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverLetter {
    pub message_id: String,
    pub subject: String,
    pub body: String,
}

/// A series with everything a page about it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SeriesDetail {
    pub project: String,
    /// The head's Message-ID; callers asking by another message of the series redirect here.
    pub message_id: String,
    pub subject: String,
    pub name: String,
    pub version: u32,
    pub total: u32,
    pub complete: bool,
    pub is_rfc: bool,
    pub is_pull: bool,
    pub submitter: Address,
    pub date: i64,
    pub last_activity: i64,
    pub superseded_by: Option<String>,
    /// Every revision of the series, this one included, oldest first.
    pub revisions: Vec<Revision>,
    /// Why this series is linked to the revision before it (`thread`, `supersedes`,
    /// `sender-and-name`, `change-id`, `patch-ids`, `patch-subjects`, `person`); `None` for the
    /// first of its revisions or one linked by sender and name alone in its own thread.
    #[serde(default)]
    pub revision_link: Option<String>,
    pub cover_letter: Option<CoverLetter>,
    pub patches: Vec<SeriesPatch>,
    /// Replies under the series.
    pub replies: u32,
    pub apply: Option<ApplyResult>,
    /// Checks of the series and of its patches.
    pub checks: Vec<Check>,
    /// What the project's maintainers file says the series needs, and has (issue 29); `None`
    /// until the worker read the file at the series' base.
    #[serde(default)]
    pub approvals: Option<crate::Approvals>,
}

/// One stored message and what was derived from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    pub message_id: String,
    pub projects: Vec<String>,
    pub thread_key: String,
    /// The nearest ancestor present in the same listing (set by `thread`; for `message`, the
    /// nearest stored ancestor).
    pub parent: Option<String>,
    pub subject: String,
    pub from: Address,
    pub date: Option<i64>,
    pub kind: MessageKind,
    /// Head of the series the message belongs to, and its part in it.
    pub series_head: Option<String>,
    pub role: Option<Role>,
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    pub patch_id: Option<String>,
    pub diffstat: Vec<FileStat>,
    pub trailers: Vec<Trailer>,
    pub base_commit: Option<String>,
    pub based_on: Vec<String>,
    pub pull: Option<PullRequest>,
    pub problems: Vec<String>,
    /// Decoded text without the diff.
    pub body: String,
    pub diff: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplyState {
    Pending,
    Applied,
    Failed,
}

/// What applying a series to its project's tree gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyResult {
    pub state: ApplyState,
    pub base: Option<String>,
    pub result_commit: Option<String>,
    pub tree_url: Option<String>,
    pub log: Option<String>,
    /// Number of the patch that failed to apply.
    pub failed_patch: Option<u32>,
    /// Unix seconds.
    pub updated: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckState {
    Pass,
    Warning,
    Fail,
    Error,
}

/// A check to record on a series (its head) or on one patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewCheck {
    pub name: String,
    pub state: CheckState,
    pub url: Option<String>,
    pub description: Option<String>,
    pub log: Option<String>,
}

/// A recorded check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub id: i64,
    /// The series head or patch it is about.
    pub message_id: String,
    pub name: String,
    pub state: CheckState,
    pub url: Option<String>,
    pub description: Option<String>,
    pub log: Option<String>,
    pub created: i64,
}

/// Something that happened to a series: `series-new`, `series-complete`, `series-superseded`
/// (later `series-applied`, `check-finished`, `series-merged`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: i64,
    pub kind: String,
    pub project: Option<String>,
    pub series_head: Option<String>,
    pub message_id: Option<String>,
    pub payload: serde_json::Value,
    pub created: i64,
}

/// Counts over the whole store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Distinct messages (canonical copies).
    pub messages: u64,
    /// Raw copies kept, conflicting duplicates included.
    pub raw_messages: u64,
    pub conflicting_duplicates: u64,
    pub unparsable: u64,
    pub patches: u64,
    pub cover_letters: u64,
    pub pull_requests: u64,
    pub threads: u64,
    /// Series rows (one per project a series is posted to).
    pub series: u64,
    pub complete_series: u64,
    pub projects: u64,
    /// Bytes of raw mail as received, and as stored compressed.
    pub raw_bytes: u64,
    pub stored_bytes: u64,
}

pub(crate) fn kind_name(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Patch => "patch",
        MessageKind::CoverLetter => "cover-letter",
        MessageKind::PullRequest => "pull-request",
        MessageKind::Reply => "reply",
        MessageKind::Unparsable => "unparsable",
    }
}

pub(crate) fn kind_from_name(name: &str) -> Option<MessageKind> {
    Some(match name {
        "patch" => MessageKind::Patch,
        "cover-letter" => MessageKind::CoverLetter,
        "pull-request" => MessageKind::PullRequest,
        "reply" => MessageKind::Reply,
        "unparsable" => MessageKind::Unparsable,
        _ => return None,
    })
}

/// The apply state and check states of a series' head, as a list line shows them
/// ([`crate::Store::line_states`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineState {
    pub apply: Option<ApplyState>,
    pub checks: Vec<CheckState>,
}

pub(crate) fn apply_state_name(s: ApplyState) -> &'static str {
    match s {
        ApplyState::Pending => "pending",
        ApplyState::Applied => "applied",
        ApplyState::Failed => "failed",
    }
}

pub(crate) fn apply_state_from_name(s: &str) -> Option<ApplyState> {
    Some(match s {
        "pending" => ApplyState::Pending,
        "applied" => ApplyState::Applied,
        "failed" => ApplyState::Failed,
        _ => return None,
    })
}

pub(crate) fn check_state_name(s: CheckState) -> &'static str {
    match s {
        CheckState::Pass => "pass",
        CheckState::Warning => "warning",
        CheckState::Fail => "fail",
        CheckState::Error => "error",
    }
}

pub(crate) fn check_state_from_name(s: &str) -> Option<CheckState> {
    Some(match s {
        "pass" => CheckState::Pass,
        "warning" => CheckState::Warning,
        "fail" => CheckState::Fail,
        "error" => CheckState::Error,
        _ => return None,
    })
}

pub(crate) fn role_name(role: Role) -> (&'static str, Option<i64>) {
    match role {
        Role::CoverLetter => ("cover-letter", None),
        Role::Patch(n) => ("patch", Some(i64::from(n))),
        Role::Reply => ("reply", None),
    }
}

pub(crate) fn role_from_name(name: &str, number: Option<i64>) -> Option<Role> {
    match name {
        "cover-letter" => Some(Role::CoverLetter),
        "patch" => Some(Role::Patch(u32::try_from(number?).ok()?)),
        "reply" => Some(Role::Reply),
        _ => None,
    }
}

/// One series as `Store::revision_report` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionReportRow {
    pub id: i64,
    pub project_id: i64,
    pub head: String,
    pub subject: String,
    pub version: u32,
    pub date: i64,
    pub submitter: Address,
    pub revision_key: String,
    /// Why it is linked to the revision before (`SeriesDetail::revision_link`).
    pub revision_link: Option<String>,
    /// Normalised subjects of its patches.
    pub patch_subjects: Vec<String>,
    pub change_id: Option<String>,
}
