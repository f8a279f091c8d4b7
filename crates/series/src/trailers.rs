//! Review trailers, collected the way b4 collects them: from replies only, to the patch a reply
//! answers (through replies to replies), the cover letter's to every patch, carried over from
//! earlier revisions by patch-id; no duplicates, in the order given.

use crate::thread::Thread;
use crate::{CollectedTrailer, MessageMeta, Series};
use quire_mail::{Address, Trailer};
use std::collections::HashMap;

pub fn collect(series: &Series, thread: &[MessageMeta], earlier: &[(String, Vec<CollectedTrailer>)]) -> Vec<(u32, Vec<CollectedTrailer>)> {
    let index = Thread::new(thread);
    let patch_numbers: HashMap<&str, u32> = series.patches.iter().map(|(n, id)| (id.as_str(), *n)).collect();
    let cover = series.cover_letter.as_deref();
    // Where each reply's trailers go: Some(n) a patch, None every patch (the cover letter).
    let mut given: Vec<(&MessageMeta, Option<u32>)> = Vec::new();
    for m in index.by_id.values() {
        if m.trailers.is_empty() || patch_numbers.contains_key(m.message_id.as_str()) || Some(m.message_id.as_str()) == cover {
            continue;
        }
        let target = index.find_up(&m.message_id, |id| {
            if let Some(&n) = patch_numbers.get(id) {
                Some(Some(n))
            } else if Some(id) == cover {
                Some(None)
            } else {
                None
            }
        });
        if let Some(t) = target {
            given.push((m, t));
        }
    }
    given.sort_by(|a, b| (a.0.date, &a.0.message_id).cmp(&(b.0.date, &b.0.message_id)));

    let mut out = Vec::new();
    for (n, id) in &series.patches {
        let patch = index.by_id.get(id.as_str());
        let own: Vec<&Trailer> = patch.map(|p| p.trailers.iter().collect()).unwrap_or_default();
        let mut list: Vec<CollectedTrailer> = Vec::new();
        let push = |t: CollectedTrailer, list: &mut Vec<CollectedTrailer>| {
            if own.iter().any(|o| same(o, &t.trailer)) || list.iter().any(|l| same(&l.trailer, &t.trailer)) {
                return;
            }
            list.push(t);
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
            if target.is_none_or(|t| t == *n) {
                for t in &m.trailers {
                    let verified = t.person.as_ref().is_none_or(|p| person_matches(p, &m.from));
                    push(
                        CollectedTrailer { trailer: t.clone(), message_id: m.message_id.clone(), verified, carried_over: false },
                        &mut list,
                    );
                }
            }
        }
        out.push((*n, list));
    }
    out
}

/// The same trailer: same tag, and the same person (by address) or the same value.
fn same(a: &Trailer, b: &Trailer) -> bool {
    if !a.tag.eq_ignore_ascii_case(&b.tag) {
        return false;
    }
    match (&a.person, &b.person) {
        (Some(x), Some(y)) => x.email.eq_ignore_ascii_case(&y.email),
        _ => a.value.trim() == b.value.trim(),
    }
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
    if let (Some((la, da)), Some((lb, db))) = (split(&a), split(&b)) {
        if la == lb {
            if da == db {
                return true;
            }
            let one_level = |long: &str, short: &str| {
                long.strip_suffix(short).is_some_and(|rest| rest.ends_with('.') && !rest[..rest.len() - 1].contains('.'))
            };
            if one_level(&da, &db) || one_level(&db, &da) {
                return true;
            }
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
        assert!(person_matches(&addr("Jan Beulich", "jbeulich@suse.com"), &addr("Jan Beulich", "jan@other.org")));
        assert!(!person_matches(&addr("X", "x@elsewhere.org"), &addr("Y", "y@example.com")));
    }
}
