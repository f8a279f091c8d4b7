//! Revisions found across threads: which earlier series a new one is the next revision of.
//!
//! Assembly links a series sent into the thread of another (`Series::answers`). Every other
//! link needs the earlier series of the whole archive, which the store keeps: for each series
//! it stores the [`signals`] below (hashed), looks up the earlier series sharing any of them,
//! and asks [`choose`] which one is the revision before. The rules, strongest first:
//!
//! - `Supersedes: <message-id>` in the cover letter (Patchew's): the series holding that message.
//! - The same sender and name (`Series::own_revision_key`): quire's first rule.
//! - b4's `change-id:` (the same for every revision `b4 prep` sends), at a version not higher.
//! - The same patches (half or more of the smaller series' patch-ids, or of its normalised
//!   patch subjects) from the same person (same address, or same name), at a lower version: the
//!   cover letter's subject changed, or the sender's address did.
//! - The same person's name and the same series name from another address, at a lower version.
//!
//! Sets that are kept apart by their identity tags (`[PART 3]`, a stable release, `AUTOSEL`) or
//! by being a pull request stay apart: every signal is scoped by them. Two different people's
//! series are never linked on subjects or patch-ids alone. Among the candidates of one rule the
//! nearest earlier version wins.

use crate::assemble::identity_tags;
use crate::{MessageMeta, Role, Series};
use quire_mail::{Address, normalized_name};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Why a series is linked to the revision before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Link {
    /// Sent in the thread of the revision before.
    Thread,
    /// Its cover letter says `Supersedes: <message-id>`.
    Supersedes,
    /// Same sender and same name (and identity tags).
    SenderAndName,
    /// The same b4 `change-id:`.
    ChangeId,
    /// Half or more of the patches have the same patch-id, from the same person.
    PatchIds,
    /// Half or more of the normalised patch subjects are the same, from the same person.
    PatchSubjects,
    /// The same person's name (another address) and the same series name.
    Person,
}

impl Link {
    pub fn as_str(self) -> &'static str {
        match self {
            Link::Thread => "thread",
            Link::Supersedes => "supersedes",
            Link::SenderAndName => "sender-and-name",
            Link::ChangeId => "change-id",
            Link::PatchIds => "patch-ids",
            Link::PatchSubjects => "patch-subjects",
            Link::Person => "person",
        }
    }

    pub fn parse(s: &str) -> Option<Link> {
        [
            Link::Thread,
            Link::Supersedes,
            Link::SenderAndName,
            Link::ChangeId,
            Link::PatchIds,
            Link::PatchSubjects,
            Link::Person,
        ]
        .into_iter()
        .find(|l| l.as_str() == s)
    }
}

/// A kind of signal a series is found by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// `Series::own_revision_key`.
    OwnKey,
    ChangeId,
    /// One per distinct patch-id.
    PatchId,
    /// One per distinct normalised patch subject.
    PatchSubject,
    /// Person's name and series name.
    Person,
}

impl Signal {
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::OwnKey => "own-key",
            Signal::ChangeId => "change-id",
            Signal::PatchId => "patch-id",
            Signal::PatchSubject => "patch-subject",
            Signal::Person => "person",
        }
    }

    pub fn parse(s: &str) -> Option<Signal> {
        [Signal::OwnKey, Signal::ChangeId, Signal::PatchId, Signal::PatchSubject, Signal::Person]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A person's name as compared: folded, lower case, without quotes; empty when it is only an
/// address or a single short word (too common to tell people apart).
pub fn person_name(a: &Address) -> String {
    let name = normalized_name(&a.name.replace(['"', '\''], ""));
    if name.is_empty() || name.contains('@') || !name.contains(' ') {
        return String::new();
    }
    name
}

/// The same person: the same address (any case), or the same full name.
pub fn same_person(a: &Address, b: &Address) -> bool {
    a.email.eq_ignore_ascii_case(&b.email) || {
        let n = person_name(a);
        !n.is_empty() && n == person_name(b)
    }
}

/// The signals series `s` is found by, each a text the store hashes: scoped by the identity
/// tags and pull-ness of the series, so that parts, backports and pull requests never meet.
/// `members` are the series' messages (its patches are read from them).
pub fn signals(s: &Series, members: &[&MessageMeta]) -> Vec<(Signal, String)> {
    let by_id: HashMap<&str, &MessageMeta> =
        members.iter().map(|m| (m.message_id.as_str(), *m)).collect();
    let head = by_id.get(s.head.as_str()).copied();
    let scope = format!(
        "{}\n{}\n",
        head.map(|m| identity_tags(&m.subject_info)).unwrap_or_default(),
        if s.is_pull { "pull" } else { "" }
    );
    let mut out: Vec<(Signal, String)> = Vec::new();
    if !s.own_revision_key.is_empty() {
        out.push((Signal::OwnKey, s.own_revision_key.clone()));
    }
    if let Some(c) = &s.change_id {
        out.push((Signal::ChangeId, format!("{scope}{c}")));
    }
    for (_, id) in &s.patches {
        let Some(m) = by_id.get(id.as_str()) else { continue };
        if let Some(p) = &m.patch_id {
            out.push((Signal::PatchId, format!("{scope}{p}")));
        }
        let name = normalized_name(&m.subject_info.name);
        if !name.is_empty() {
            out.push((Signal::PatchSubject, format!("{scope}{name}")));
        }
    }
    let person = person_name(&s.submitter);
    let name = normalized_name(&s.name);
    if !person.is_empty() && !name.is_empty() {
        out.push((Signal::Person, format!("{scope}{person}\n{name}")));
    }
    out.sort();
    out.dedup();
    out
}

/// What [`choose`] knows of the series being linked.
#[derive(Debug, Clone)]
pub struct Linking {
    pub version: u32,
    pub submitter: Address,
    /// Distinct patch-ids and patch subjects among its signals.
    pub patch_ids: usize,
    pub patch_subjects: usize,
}

impl Linking {
    pub fn of(s: &Series, signals: &[(Signal, String)]) -> Linking {
        let count = |k: Signal| signals.iter().filter(|(s, _)| *s == k).count();
        Linking {
            version: s.version,
            submitter: s.submitter.clone(),
            patch_ids: count(Signal::PatchId),
            patch_subjects: count(Signal::PatchSubject),
        }
    }
}

/// An earlier series that shares signals with the one being linked.
#[derive(Debug, Clone)]
pub struct Candidate<K> {
    /// The store's name for it.
    pub id: K,
    pub version: u32,
    pub date: i64,
    pub submitter: Address,
    /// Its own distinct patch-ids and patch subjects.
    pub patch_ids: usize,
    pub patch_subjects: usize,
    /// How many distinct signals of each kind it shares with the series being linked.
    pub shared: HashMap<Signal, usize>,
    /// It holds the message the series' `Supersedes:` names.
    pub superseded: bool,
}

/// Half or more of the smaller side.
fn half(shared: usize, a: usize, b: usize) -> bool {
    shared > 0 && shared * 2 >= a.min(b)
}

/// The revision before `me` among `candidates` (all earlier than it), and the rule that chose
/// it; see the module's rules.
pub fn choose<K: Clone>(me: &Linking, candidates: &[Candidate<K>]) -> Option<(K, Link)> {
    let shares = |c: &Candidate<K>, k: Signal| c.shared.get(&k).copied().unwrap_or(0);
    let rule = |c: &Candidate<K>| -> Option<Link> {
        if c.superseded {
            return Some(Link::Supersedes);
        }
        if shares(c, Signal::OwnKey) > 0 {
            return Some(Link::SenderAndName);
        }
        if shares(c, Signal::ChangeId) > 0 && c.version <= me.version {
            return Some(Link::ChangeId);
        }
        if c.version >= me.version || !same_person(&c.submitter, &me.submitter) {
            return None;
        }
        if half(shares(c, Signal::PatchId), me.patch_ids, c.patch_ids) {
            return Some(Link::PatchIds);
        }
        if half(shares(c, Signal::PatchSubject), me.patch_subjects, c.patch_subjects) {
            return Some(Link::PatchSubjects);
        }
        if shares(c, Signal::Person) > 0 {
            return Some(Link::Person);
        }
        None
    };
    let mut found: Vec<(Link, u32, i64, usize)> = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        if let Some(link) = rule(c) {
            found.push((link, c.version, c.date, i));
        }
    }
    // The strongest rule; within it the nearest earlier version (highest, then latest).
    let best = found.iter().min_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(b.2.cmp(&a.2)))?;
    Some((candidates[best.3].id.clone(), best.0))
}

/// The members of a series as the store reads them back: `(message_id, role)` pairs with
/// their metas, to compute [`signals`] from.
pub fn series_metas<'a>(
    members: &[(&str, Role)],
    meta_of: &HashMap<&str, &'a MessageMeta>,
) -> Vec<&'a MessageMeta> {
    members
        .iter()
        .filter(|(_, r)| !matches!(r, Role::Reply))
        .filter_map(|(m, _)| meta_of.get(m).copied())
        .collect()
}
