//! Review trailers, collected the way b4 collects them: from replies only, to the patch a reply
//! answers (through replies to replies), the cover letter's to every patch, carried over from
//! earlier revisions by patch-id; no duplicates, in the order given.

use crate::assemble::{is_cover, is_patch};
use crate::thread::Thread;
use crate::{CollectedTrailer, MessageMeta, Series};
use quire_mail::{Address, Trailer};
use std::collections::{HashMap, HashSet};

/// Where a reply's trailers go.
#[derive(Clone, Copy, PartialEq, Eq)]
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

    let mut out = Vec::new();
    for (n, id) in &series.patches {
        let patch = index.by_id.get(id.as_str());
        let mut seen: HashSet<(String, String)> =
            patch.map(|p| p.trailers.iter().map(same_key).collect()).unwrap_or_default();
        let mut list: Vec<CollectedTrailer> = Vec::new();
        let mut push = |t: CollectedTrailer, list: &mut Vec<CollectedTrailer>| {
            if seen.insert(same_key(&t.trailer)) {
                list.push(t);
            }
        };
        if let Some(pid) = patch.and_then(|p| p.patch_id.as_deref()) {
            for (epid, trailers) in earlier {
                if epid == pid {
                    for t in trailers {
                        push(CollectedTrailer { carried_over: true, ..t.clone() }, &mut list);
                    }
                }
            }
        }
        for (m, target) in &given {
            if *target == Target::Cover || *target == Target::Patch(*n) {
                for t in &m.trailers {
                    let verified = t.person.as_ref().is_none_or(|p| person_matches(p, &m.from));
                    push(
                        CollectedTrailer {
                            trailer: t.clone(),
                            message_id: m.message_id.clone(),
                            verified,
                            carried_over: false,
                        },
                        &mut list,
                    );
                }
            }
        }
        out.push((*n, list));
    }
    out
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

/// Two trailers are the same when they have this key: the tag (any case), and the person's
/// address (any case) or else the value.
fn same_key(t: &Trailer) -> (String, String) {
    let who = match &t.person {
        Some(p) => format!("<{}", p.email.to_ascii_lowercase()),
        None => t.value.trim().to_string(),
    };
    (t.tag.to_ascii_lowercase(), who)
}

/// b4's rule for a trailer's person and the reply's sender: the same address ignoring case and a
/// `+tag`, or addresses one subdomain level apart (`a@mail.example.com`, `a@example.com`), or the
/// same display name.
pub fn person_matches(trailer_person: &Address, sender: &Address) -> bool {
    let (a, b) = (trailer_person.email.to_ascii_lowercase(), sender.email.to_ascii_lowercase());
    if !a.is_empty() && a == b {
        return true;
    }
    let split = |e: &str| -> Option<(String, String)> {
        let (local, domain) = e.rsplit_once('@')?;
        Some((local.split('+').next().unwrap_or(local).to_string(), domain.to_string()))
    };
    if let (Some((la, da)), Some((lb, db))) = (split(&a), split(&b))
        && la == lb
    {
        if da == db {
            return true;
        }
        let one_level = |long: &str, short: &str| {
            long.strip_suffix(short)
                .is_some_and(|rest| rest.ends_with('.') && !rest[..rest.len() - 1].contains('.'))
        };
        if one_level(&da, &db) || one_level(&db, &da) {
            return true;
        }
    }
    let (na, nb) = (trailer_person.name.trim(), sender.name.trim());
    !na.is_empty() && na.eq_ignore_ascii_case(nb)
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
}
