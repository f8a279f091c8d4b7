//! What the store derives from a parsed message before writing it, with no SQL: lookup hashes,
//! the assembly projection, which projects claim a message, and thread keys.

use std::collections::{HashMap, HashSet};

use quire_mail::{MessageKind, ParsedMessage};
use quire_series::MessageMeta;
use sha2::{Digest, Sha256};

use crate::types::{ProjectConfig, UNASSIGNED};

/// A stable 64-bit lookup key for a Message-ID or thread key. Message-IDs can be kilobytes
/// long and PostgreSQL cannot index such text in a b-tree, so indexes hold this and queries
/// compare the text after.
pub(crate) fn text_hash(text: &str) -> i64 {
    let digest = Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A patch or cover letter numbered `n/m` that answers nothing: sent without threading, so it
/// can only be grouped with its siblings by submitter and date.
pub(crate) fn is_unthreaded_patch(meta: &MessageMeta) -> bool {
    meta.in_reply_to.is_none()
        && meta.references.is_empty()
        && matches!(meta.kind, MessageKind::Patch | MessageKind::CoverLetter)
        && meta.subject_info.number.is_some()
        && meta.subject_info.total.is_some_and(|t| t > 1)
}

/// Unthreaded patches of one submitter sent within this many seconds of each other may be one
/// series.
pub(crate) const UNTHREADED_WINDOW: i64 = 3 * 24 * 3600;

/// Decides which projects a message belongs to.
pub(crate) struct ProjectMatcher {
    projects: Vec<Matching>,
}

/// A project as the matcher reads it: everything lower-cased.
struct Matching {
    name: String,
    list_ids: Vec<String>,
    addresses: Vec<String>,
    subject_prefixes: Vec<String>,
}

impl ProjectMatcher {
    pub(crate) fn new(configs: &[ProjectConfig]) -> ProjectMatcher {
        let lower = |v: &[String]| v.iter().map(|s| s.trim().to_lowercase()).collect::<Vec<_>>();
        ProjectMatcher {
            projects: configs
                .iter()
                .map(|c| Matching {
                    name: c.name.clone(),
                    list_ids: lower(&c.list_ids),
                    addresses: lower(&c.list_addresses),
                    subject_prefixes: lower(&c.subject_prefixes),
                })
                .collect(),
        }
    }

    /// The projects whose List-Id matches; else those whose list address is in To/Cc; else the
    /// forced project; else "unassigned". Never empty. Of a list's projects, those with subject
    /// prefixes take the mail tagged with one of them, the others the rest (see
    /// [`ProjectMatcher::by_subject`]).
    pub(crate) fn projects_of(&self, parsed: &ParsedMessage, forced: Option<&str>) -> Vec<String> {
        let by_list_id = self.by_subject(parsed, self.by_list_id(parsed));
        if !by_list_id.is_empty() {
            return by_list_id;
        }
        let by_address = self.by_subject(parsed, self.by_address(parsed));
        if !by_address.is_empty() {
            return by_address;
        }
        match forced {
            Some(name) if !name.trim().is_empty() => vec![name.trim().to_string()],
            _ => vec![UNASSIGNED.to_string()],
        }
    }

    fn by_list_id(&self, parsed: &ParsedMessage) -> Vec<&Matching> {
        let Some(list_id) = parsed.list_id.as_deref() else { return Vec::new() };
        let list_id = list_id.trim().trim_start_matches('<').trim_end_matches('>').to_lowercase();
        self.projects.iter().filter(|p| p.list_ids.contains(&list_id)).collect()
    }

    fn by_address(&self, parsed: &ParsedMessage) -> Vec<&Matching> {
        let recipients: HashSet<String> =
            parsed.to.iter().chain(&parsed.cc).map(|a| a.email.trim().to_lowercase()).collect();
        self.projects
            .iter()
            .filter(|p| p.addresses.iter().any(|a| recipients.contains(a)))
            .collect()
    }

    /// Of the projects of one list: those whose subject prefixes the subject carries (as a tag:
    /// `[libvirt-python PATCH]`, `Re: [libvirt-python] ...`); when none, those that have no
    /// prefixes. So a shared list's main project keeps the untagged mail, and mail tagged for a
    /// project whose prefix no project claims stays with the main one too.
    fn by_subject(&self, parsed: &ParsedMessage, of_list: Vec<&Matching>) -> Vec<String> {
        let tags: HashSet<String> =
            parsed.subject_info.tags.iter().map(|t| t.to_lowercase()).collect();
        let tagged: Vec<String> = of_list
            .iter()
            .filter(|p| p.subject_prefixes.iter().any(|t| tags.contains(t)))
            .map(|p| p.name.clone())
            .collect();
        if !tagged.is_empty() {
            return tagged;
        }
        of_list.iter().filter(|p| p.subject_prefixes.is_empty()).map(|p| p.name.clone()).collect()
    }
}

/// Gives messages thread keys incrementally. Knows the keys of stored messages the batch
/// refers to (`known`) and the stored thread keys that are Message-IDs of the batch
/// (`stored_keys`), so that messages which arrived before their ancestor get re-keyed.
pub(crate) struct ThreadKeyer {
    /// Message-ID -> thread key, stored and of the batch so far.
    known: HashMap<String, String>,
    /// Thread keys present among stored messages.
    stored_keys: HashSet<String>,
    /// Re-keyings of stored messages to apply, in order: (old key, new key).
    pub(crate) rekeys: Vec<(String, String)>,
    /// Every key given in this batch or found in `known` (a superset of the live ones): most
    /// new messages are no one's key, and this spares scanning the batch for each of them.
    keys_seen: HashSet<String>,
}

impl ThreadKeyer {
    /// `known`: Message-ID -> thread key of stored messages the batch refers to;
    /// `stored_keys`: stored thread keys that are Message-IDs of the batch.
    pub(crate) fn new(known: HashMap<String, String>, stored_keys: HashSet<String>) -> ThreadKeyer {
        let keys_seen = known.values().cloned().collect();
        ThreadKeyer { known, stored_keys, rekeys: Vec::new(), keys_seen }
    }

    /// The key of a message: its parent's (In-Reply-To, else the nearest stored Reference),
    /// else its first Reference, else its In-Reply-To, else its own id.
    fn key_for(&self, meta: &MessageMeta) -> String {
        let parents = meta.in_reply_to.iter().chain(meta.references.iter().rev());
        for parent in parents {
            if let Some(key) = self.known.get(parent) {
                return key.clone();
            }
        }
        meta.references.first().or(meta.in_reply_to.as_ref()).unwrap_or(&meta.message_id).clone()
    }

    /// Keys one new message; `batch_keys` holds the keys given to the batch so far and is
    /// re-keyed in place when this message turns out to be their ancestor.
    pub(crate) fn assign(&mut self, meta: &MessageMeta, batch_keys: &mut [String]) -> String {
        let key = self.key_for(meta);
        let id = &meta.message_id;
        if *id != key && self.keys_seen.contains(id) {
            // Messages that arrived before this one were keyed by its id: they join its thread.
            for k in batch_keys.iter_mut().filter(|k| *k == id) {
                *k = key.clone();
            }
            for k in self.known.values_mut().filter(|k| *k == id) {
                *k = key.clone();
            }
        }
        if *id != key && self.stored_keys.remove(id) {
            self.rekeys.push((id.clone(), key.clone()));
            self.stored_keys.insert(key.clone());
        }
        self.keys_seen.insert(key.clone());
        self.known.insert(id.clone(), key.clone());
        key
    }
}

/// zstd level 1 (the real slices still shrink 2-2.5x; level 3 doubled the CPU of a batch) with one
/// compression context per thread: creating a context per message costs
/// more than compressing a typical mail.
pub(crate) fn compress(data: &[u8]) -> std::io::Result<Vec<u8>> {
    thread_local! {
        static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    COMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Compressor::new(1)?);
        }
        match slot.as_mut() {
            Some(c) => c.compress(data),
            None => zstd::bulk::compress(data, 1),
        }
    })
}

/// `f` over `items` on every core, results in order. Hashing and compressing a batch is most
/// of the CPU an ingest spends outside SQL.
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    if threads < 2 || items.len() < 64 {
        return items.iter().map(&f).collect();
    }
    let per = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(per)
            .map(|chunk| scope.spawn(move || chunk.iter().map(f).collect::<Vec<R>>()))
            .collect();
        // A panic in `f` is a bug of ours, not of the input; propagate it as one.
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str, irt: Option<&str>, refs: &[&str]) -> MessageMeta {
        MessageMeta {
            message_id: id.into(),
            in_reply_to: irt.map(String::from),
            references: refs.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    #[test]
    fn child_before_parent_is_rekeyed_when_the_parent_arrives() {
        let mut k = ThreadKeyer::new(HashMap::new(), HashSet::new());
        let mut keys = vec![];
        // Only In-Reply-To: keyed by the unknown parent.
        let c = k.assign(&meta("c", Some("b"), &[]), &mut keys);
        keys.push(c);
        assert_eq!(keys[0], "b");
        // The parent arrives and replies to the root: the child follows it.
        let b = k.assign(&meta("b", Some("a"), &["a"]), &mut keys);
        keys.push(b);
        assert_eq!(keys, vec!["a", "a"]);
        let a = k.assign(&meta("a", None, &[]), &mut keys);
        assert_eq!(a, "a");
    }

    #[test]
    fn stored_messages_keyed_by_a_new_id_are_rekeyed() {
        let mut k = ThreadKeyer::new(HashMap::new(), HashSet::from(["b".to_string()]));
        let key = k.assign(&meta("b", Some("a"), &["root", "a"]), &mut []);
        assert_eq!(key, "root");
        assert_eq!(k.rekeys, vec![("b".to_string(), "root".to_string())]);
    }

    #[test]
    fn parent_key_wins_over_first_reference() {
        let mut k =
            ThreadKeyer::new(HashMap::from([("p".into(), "thread-of-p".into())]), HashSet::new());
        let key = k.assign(&meta("x", Some("p"), &["other-root", "p"]), &mut []);
        assert_eq!(key, "thread-of-p");
    }

    #[test]
    fn list_id_beats_address_and_forced_project() {
        let m = ProjectMatcher::new(&[
            ProjectConfig {
                name: "ltp".into(),
                list_ids: vec!["LTP.lists.linux.it".into()],
                ..Default::default()
            },
            ProjectConfig {
                name: "io".into(),
                list_addresses: vec!["io-uring@vger.kernel.org".into()],
                ..Default::default()
            },
        ]);
        let mut p =
            ParsedMessage { list_id: Some("ltp.LISTS.linux.it".into()), ..Default::default() };
        p.cc.push(quire_mail::Address {
            name: String::new(),
            email: "IO-uring@vger.kernel.org".into(),
        });
        assert_eq!(m.projects_of(&p, Some("forced")), vec!["ltp"]);
        p.list_id = None;
        assert_eq!(m.projects_of(&p, Some("forced")), vec!["io"]);
        p.cc.clear();
        assert_eq!(m.projects_of(&p, Some("forced")), vec!["forced"]);
        assert_eq!(m.projects_of(&p, None), vec![UNASSIGNED]);
    }

    // A list shared by projects (libvirt and its Python binding on libvir-list, as Patchew's
    // prefix_tags sort them): the tag decides, untagged mail stays with the main project.
    #[test]
    fn subject_prefixes_sort_a_shared_list() {
        let list = |name: &str, prefixes: &[&str]| ProjectConfig {
            name: name.into(),
            list_ids: vec!["libvir-list.redhat.com".into()],
            subject_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            ..Default::default()
        };
        let m = ProjectMatcher::new(&[
            list("libvirt", &[]),
            list("libvirt-python", &["libvirt-python"]),
            list("libvirt-go", &["libvirt-go", "libvirt-go-module"]),
        ]);
        let of = |subject: &str| {
            let p = ParsedMessage {
                list_id: Some("libvir-list.redhat.com".into()),
                subject_info: quire_mail::parse_subject(subject),
                ..Default::default()
            };
            m.projects_of(&p, None)
        };
        assert_eq!(of("[libvirt-python PATCH 1/2] add bindings"), ["libvirt-python"]);
        assert_eq!(of("Re: [LIBVIRT-PYTHON] [PATCH] add bindings"), ["libvirt-python"]);
        assert_eq!(of("[libvirt-go-module PATCH] x"), ["libvirt-go"]);
        assert_eq!(of("[PATCH v2 3/7] qemu: fix"), ["libvirt"]);
        assert_eq!(of("[libvirt-rust PATCH] nobody's tag"), ["libvirt"]);
        // Only tagged projects on a list: untagged mail belongs to none of them.
        let tagged_only = ProjectMatcher::new(&[list("libvirt-python", &["libvirt-python"])]);
        let p = ParsedMessage {
            list_id: Some("libvir-list.redhat.com".into()),
            subject_info: quire_mail::parse_subject("[PATCH] other"),
            ..Default::default()
        };
        assert_eq!(tagged_only.projects_of(&p, None), [UNASSIGNED]);
    }
}
