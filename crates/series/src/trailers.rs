//! Review trailers, collected the way b4 0.16 collects them (`LoreMailbox.get_series`,
//! `LoreSeries.get_am_ready`): from replies only, to the patch a reply answers (through replies to
//! replies), the cover letter's to every patch, carried over from earlier revisions by patch-id.
//! A patch gets first the trailers of replies under it, then those carried over, then those of
//! replies to the cover letter, each group in the order given (by date); a trailer equal to one
//! the patch carries or already got (`quire_mail::trailer_key`) is left out. docs/trailers.md
//! says where quire differs from b4 and why.

use crate::assemble::{is_cover, is_patch};
use crate::thread::Thread;
use crate::{CollectedTrailer, MessageMeta, Series};
use quire_mail::{Address, Trailer, trailer_key};
use std::collections::{HashMap, HashSet};

/// Where a reply's trailers go.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Target {
    /// Patch `n` of the series.
    Patch(u32),
    /// The cover letter: every patch.
    Cover,
    /// Not this series: under another series' cover letter or patch (a v2 sent in reply to
    /// v1), or under nothing of this series at all.
    Elsewhere,
}

pub fn collect(
    series: &Series,
    thread: &[MessageMeta],
    earlier: &[(String, Vec<CollectedTrailer>)],
) -> Vec<(u32, Vec<CollectedTrailer>)> {
    let index = Thread::new(thread);
    let patch_numbers: HashMap<&str, u32> =
        series.patches.iter().map(|(n, id)| (id.as_str(), *n)).collect();
    let cover = series.cover_letter.as_deref();
    // What a message itself is, if it stops the walk up.
    let stop = |id: &str| -> Option<Target> {
        if let Some(&n) = patch_numbers.get(id) {
            return Some(Target::Patch(n));
        }
        if Some(id) == cover {
            return Some(Target::Cover);
        }
        index.by_id.get(id).filter(|m| is_patch(m) || is_cover(m)).map(|_| Target::Elsewhere)
    };
    // Each message's target, memoised along the walk so that a deep thread is walked once.
    let mut targets: HashMap<&str, Target> = HashMap::with_capacity(index.by_id.len());
    let mut given: Vec<(&MessageMeta, Target)> = Vec::new();
    for m in index.by_id.values() {
        // Only replies give trailers: a patch's or cover letter's own (of this series or of
        // another revision in the thread) are not collected.
        if m.trailers.is_empty() || is_patch(m) || is_cover(m) {
            continue;
        }
        let target = target_of(&index, &m.message_id, &stop, &mut targets);
        if target != Target::Elsewhere {
            given.push((m, target));
        }
    }
    given.sort_by(|a, b| (a.0.date, &a.0.message_id).cmp(&(b.0.date, &b.0.message_id)));
    let mut by_target: HashMap<Target, Vec<&MessageMeta>> = HashMap::new();
    for (m, target) in given {
        by_target.entry(target).or_default().push(m);
    }

    let mut out = Vec::new();
    for (n, id) in &series.patches {
        let patch = index.by_id.get(id.as_str());
        let mut list = Given::new(patch.map(|p| p.trailers.as_slice()).unwrap_or_default());
        let from_replies = |target: Target| {
            by_target.get(&target).into_iter().flatten().flat_map(|m| {
                m.trailers.iter().map(|t| CollectedTrailer {
                    trailer: t.clone(),
                    message_id: m.message_id.clone(),
                    verified: t.person.as_ref().is_none_or(|p| person_matches(p, &m.from)),
                    carried_over: false,
                })
            })
        };
        for t in from_replies(Target::Patch(*n)) {
            list.push(t);
        }
        if let Some(pid) = patch.and_then(|p| p.patch_id.as_deref()) {
            for (epid, trailers) in earlier {
                if epid == pid {
                    for t in trailers {
                        list.push(CollectedTrailer { carried_over: true, ..t.clone() });
                    }
                }
            }
        }
        for t in from_replies(Target::Cover) {
            list.push(t);
        }
        out.push((*n, list.list));
    }
    out
}

/// The trailers given to one patch so far.
struct Given {
    list: Vec<CollectedTrailer>,
    /// Trailers given or carried, and whether one of them was verified.
    seen: HashMap<(String, String), bool>,
}

impl Given {
    /// `own`: the patch's own trailers, never given again.
    fn new(own: &[Trailer]) -> Given {
        Given { list: Vec::new(), seen: own.iter().map(|t| (trailer_key(t), true)).collect() }
    }

    /// Adds `t` unless the same trailer was given before. A verified one is added after an
    /// unverified copy, though: b4 leaves the unverified out (unless told to be sloppy), so the
    /// verified one is the one `quire am` writes; `am` takes the first of those it writes.
    fn push(&mut self, t: CollectedTrailer) {
        let key = trailer_key(&t.trailer);
        match self.seen.get_mut(&key) {
            Some(verified) if *verified || !t.verified => {}
            Some(verified) => {
                *verified = true;
                self.list.push(t);
            }
            None => {
                self.seen.insert(key, t.verified);
                self.list.push(t);
            }
        }
    }
}

/// The target of `id`: the first ancestor that stops the walk, remembered for every message
/// passed on the way (so each message is walked through once over all calls).
fn target_of<'a>(
    index: &Thread<'a>,
    id: &'a str,
    stop: &impl Fn(&str) -> Option<Target>,
    targets: &mut HashMap<&'a str, Target>,
) -> Target {
    let mut path = vec![id];
    let mut seen: HashSet<&str> = HashSet::from([id]);
    let mut cur = id;
    let found = loop {
        let Some(p) = index.parent(cur) else { break Target::Elsewhere };
        if let Some(t) = stop(p) {
            break t;
        }
        if let Some(&t) = targets.get(p) {
            break t;
        }
        if !seen.insert(p) {
            break Target::Elsewhere;
        }
        path.push(p);
        cur = p;
    };
    for p in path {
        targets.insert(p, found);
    }
    found
}

/// b4's rule (`LoreMessage.get_trailers`) for a trailer's person and the reply's sender: the
/// same address ignoring case and a `+tag`, or addresses one subdomain level apart
/// (`a@mail.example.com`, `a@example.com`); else the same name in any case, or, for a sender named
/// "Last, First", a trailer name holding each part ("First Last"). b4 means that last rule but,
/// looking each part up in the sender's name instead of the trailer's, matches any trailer at
/// all from such a sender; quire does what it means (docs/trailers.md).
pub fn person_matches(trailer_person: &Address, sender: &Address) -> bool {
    if same_address(&trailer_person.email, &sender.email) {
        return true;
    }
    let trailer_name = trailer_person.name.trim().to_lowercase();
    // b4 names a sender without a name by their address.
    let sender_name = match sender.name.trim() {
        "" => sender.email.trim().to_lowercase(),
        name => name.to_lowercase(),
    };
    if trailer_name.is_empty() {
        return false;
    }
    if trailer_name == sender_name {
        return true;
    }
    sender_name.find(',').is_some_and(|i| i > 0)
        && sender_name
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .all(|part| trailer_name.contains(part))
}

/// b4's `LoreTrailer.email_eq`, fuzzy.
fn same_address(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_lowercase(), b.to_lowercase());
    if a == b {
        return !a.is_empty();
    }
    let split = |e: &str| -> Option<(String, String)> {
        let (local, domain) = e.split_once('@')?;
        Some((local.split('+').next().unwrap_or(local).to_string(), domain.to_string()))
    };
    let (Some((la, da)), Some((lb, db))) = (split(&a), split(&b)) else { return false };
    if la != lb {
        return false;
    }
    if da == db {
        return true;
    }
    let dots = |d: &str| d.matches('.').count();
    dots(&da).abs_diff(dots(&db)) == 1
        && (da.ends_with(&format!(".{db}")) || db.ends_with(&format!(".{da}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(name: &str, email: &str) -> Address {
        Address { name: name.into(), email: email.into() }
    }

    #[test]
    fn b4s_person_matching() {
        assert!(person_matches(&addr("A", "Jan@Example.com"), &addr("", "jan@example.com")));
        assert!(person_matches(&addr("", "jan+lists@example.com"), &addr("", "jan@example.com")));
        assert!(person_matches(&addr("", "jan@mail.example.com"), &addr("", "jan@example.com")));
        assert!(!person_matches(&addr("", "jan@a.b.example.com"), &addr("", "jan@example.com")));
        assert!(person_matches(
            &addr("Jan Beulich", "jbeulich@suse.com"),
            &addr("Jan Beulich", "jan@other.org")
        ));
        assert!(!person_matches(&addr("X", "x@elsewhere.org"), &addr("Y", "y@example.com")));
    }

    #[test]
    fn names_match_in_any_case() {
        assert!(person_matches(
            &addr("ÉLODIE Doe", "elodie@home.example"),
            &addr("élodie doe", "edoe@work.example")
        ));
    }

    #[test]
    fn a_last_first_sender_matches_a_first_last_trailer() {
        assert!(person_matches(
            &addr("Li Wang", "liwang@redhat.example"),
            &addr("Wang, Li", "li.wang@intel.example")
        ));
        assert!(person_matches(
            &addr("Rafael J. Wysocki", "rafael@kernel.example"),
            &addr("Wysocki, Rafael J", "rafael.j.wysocki@intel.example")
        ));
    }

    #[test]
    fn a_last_first_sender_does_not_vouch_for_someone_else() {
        // b4 0.16 matches any trailer from a sender with a comma in their name (it looks the
        // name's parts up in the sender's own name): a colleague's Signed-off-by pasted in an
        // Outlook reply would be verified.
        assert!(!person_matches(
            &addr("Other Person", "other@intel.example"),
            &addr("Wang, Li", "li.wang@intel.example")
        ));
    }

    #[test]
    fn a_sender_without_a_name_is_named_by_their_address() {
        assert!(person_matches(
            &addr("r@example.com", "r@other.example"),
            &addr("", "R@example.com")
        ));
        assert!(!person_matches(&addr("", "x@other.example"), &addr("", "")));
    }
}
