//! The assembly rules.
//!
//! - A cover letter (`0/n`) starts a series; patches join the series of the nearest cover letter
//!   or patch they answer (In-Reply-To, then References newest first) when it has the same
//!   version and total and is not the same number: that covers `git send-email` threading to the
//!   cover, to patch 1 (`--no-chain-reply-to`) and to the previous patch (`--chain-reply-to`).
//!   Patches without a version join a `vN` cover letter they answer (the version is often
//!   written on the cover letter only).
//! - Patches that answer something they cannot join (a v2 sent In-Reply-To the v1 cover letter)
//!   group with their siblings: patches of the same submitter, version and total answering the
//!   same message.
//! - Patches sent with no threading at all group by submitter, version and total when sent
//!   within a day of each other and their numbers do not collide.
//! - A number taken twice in one group (a series re-sent into its own thread) starts a second
//!   series with the second copies, instead of corrupting the first.
//! - Replies belong to the series of their nearest ancestor that belongs to one.

use crate::thread::Thread;
use crate::{Assembly, MessageMeta, Role, Series};
use quire_mail::{MessageKind, normalized_name};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Unthreaded patches of one submitter this close in time may be one series.
const UNTHREADED_WINDOW: i64 = 24 * 3600;

pub(crate) fn is_cover(m: &MessageMeta) -> bool {
    !m.subject_info.is_reply
        && (m.kind == MessageKind::CoverLetter
            || (m.kind == MessageKind::PullRequest && m.subject_info.number == Some(0)))
}

pub(crate) fn is_patch(m: &MessageMeta) -> bool {
    !m.subject_info.is_reply
        && (m.kind == MessageKind::Patch
            || (m.kind == MessageKind::PullRequest && m.subject_info.number != Some(0)))
}

fn number(m: &MessageMeta) -> u32 {
    if is_cover(m) { 0 } else { m.subject_info.number.unwrap_or(1) }
}

fn total(m: &MessageMeta) -> u32 {
    m.subject_info.total.unwrap_or(1)
}

fn email(m: &MessageMeta) -> String {
    m.from.email.to_ascii_lowercase()
}

/// Union-find over indexes of patch-like messages; a set holds at most one cover letter.
struct Groups {
    parent: Vec<usize>,
    cover: Vec<Option<usize>>,
}

impl Groups {
    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb || (self.cover[ra].is_some() && self.cover[rb].is_some()) {
            return;
        }
        let (keep, gone) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[gone] = keep;
        self.cover[keep] = self.cover[keep].or(self.cover[gone]);
    }
}

pub fn assemble(messages: &[MessageMeta]) -> Assembly {
    let thread = Thread::new(messages);
    // Patch-like messages in a fixed order (date, id) so that the result does not depend on
    // the input order.
    let mut items: Vec<&MessageMeta> =
        thread.by_id.values().copied().filter(|m| is_cover(m) || is_patch(m)).collect();
    items.sort_by(|a, b| (a.date, &a.message_id).cmp(&(b.date, &b.message_id)));
    let index: HashMap<&str, usize> =
        items.iter().enumerate().map(|(i, m)| (m.message_id.as_str(), i)).collect();
    let mut groups = Groups {
        parent: (0..items.len()).collect(),
        cover: items.iter().enumerate().map(|(i, m)| is_cover(m).then_some(i)).collect(),
    };

    // Patches without a version answering a `vN` cover letter are its patches (people often
    // put the version on the cover letter only).
    let compatible = |p: &MessageMeta, a: &MessageMeta| {
        (a.subject_info.version == p.subject_info.version
            || (p.subject_info.version == 1 && is_cover(a)))
            && total(a) == total(p)
            && (is_cover(a) || number(a) != number(p))
    };

    // Threaded patches: join the nearest patch-like ancestor when compatible.
    let mut by_parent: BTreeMap<(&str, String, u32, u32), Vec<usize>> = BTreeMap::new();
    let mut unthreaded: Vec<usize> = Vec::new();
    for (i, p) in items.iter().enumerate() {
        if is_cover(p) {
            continue;
        }
        let anchor = thread.find_up(&p.message_id, |id| index.get(id).copied());
        match anchor {
            Some(a) if compatible(p, items[a]) => groups.union(i, a),
            _ => match thread.parent(&p.message_id) {
                Some(parent) => by_parent
                    .entry((parent, email(p), p.subject_info.version, total(p)))
                    .or_default()
                    .push(i),
                None if p.in_reply_to.is_none() && p.references.is_empty() && total(p) > 1 => {
                    unthreaded.push(i)
                }
                None => {}
            },
        }
    }
    // Siblings answering the same message.
    for members in by_parent.values() {
        for w in members.windows(2) {
            groups.union(w[0], w[1]);
        }
    }
    // Unthreaded patches (and their cover letters) of one submitter, close in time.
    let unthreaded_covers = items
        .iter()
        .enumerate()
        .filter(|(_, m)| is_cover(m) && m.in_reply_to.is_none() && m.references.is_empty());
    let mut loose: Vec<usize> = unthreaded.clone();
    loose.extend(unthreaded_covers.map(|(i, _)| i));
    loose.sort();
    // Open groups per (submitter, version, total): (last date, numbers taken, first member).
    type OpenGroup = (i64, HashSet<u32>, usize);
    let mut open: HashMap<(String, u32, u32), Vec<OpenGroup>> = HashMap::new();
    for i in loose {
        let m = items[i];
        let n = number(m);
        let slots = open.entry((email(m), m.subject_info.version, total(m))).or_default();
        let slot = slots
            .iter_mut()
            .rev()
            .find(|(last, taken, _)| m.date - *last <= UNTHREADED_WINDOW && !taken.contains(&n));
        match slot {
            Some(g) => {
                groups.union(i, g.2);
                g.0 = m.date;
                g.1.insert(n);
            }
            None => slots.push((m.date, HashSet::from([n]), i)),
        }
    }

    // Collect groups; a number taken twice sends the later copy to an overflow group.
    let mut sets: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..items.len() {
        let r = groups.find(i);
        sets.entry(r).or_default().push(i);
    }
    let mut series_sets: Vec<Vec<usize>> = Vec::new();
    for (_, members) in sets {
        // The k-th copy of a number (by date) goes to layer k: one hash look-up per member.
        let mut layers: Vec<Vec<usize>> = Vec::new();
        let mut copies: HashMap<u32, usize> = HashMap::new();
        for i in members {
            let seen = copies.entry(number(items[i])).or_insert(0);
            if *seen == layers.len() {
                layers.push(Vec::new());
            }
            layers[*seen].push(i);
            *seen += 1;
        }
        series_sets.extend(layers);
    }

    let mut series: Vec<Series> = Vec::new();
    let mut member_of: HashMap<&str, (usize, Role)> = HashMap::new();
    for set in &series_sets {
        let cover = set.iter().copied().find(|&i| is_cover(items[i]));
        let mut patches: Vec<(u32, &MessageMeta)> = set
            .iter()
            .copied()
            .filter(|&i| !is_cover(items[i]))
            .map(|i| (number(items[i]), items[i]))
            .collect();
        patches.sort_by_key(|(n, m)| (*n, m.date));
        let head = cover.map(|i| items[i]).or_else(|| patches.first().map(|p| p.1));
        let Some(head) = head else { continue };
        let named = cover
            .map(|i| items[i])
            .or_else(|| patches.iter().find(|p| p.0 == 1).map(|p| p.1))
            .unwrap_or(head);
        let tot = cover
            .map(|i| total(items[i]))
            .unwrap_or_else(|| patches.iter().map(|p| total(p.1)).max().unwrap_or(1));
        let complete = (1..=tot).all(|n| patches.iter().any(|p| p.0 == n));
        let s = series.len();
        if let Some(i) = cover {
            member_of.insert(&items[i].message_id, (s, Role::CoverLetter));
        }
        for (n, m) in &patches {
            member_of.insert(&m.message_id, (s, Role::Patch(*n)));
        }
        series.push(Series {
            head: head.message_id.clone(),
            cover_letter: cover.map(|i| items[i].message_id.clone()),
            patches: patches.iter().map(|(n, m)| (*n, m.message_id.clone())).collect(),
            version: set.iter().map(|&i| items[i].subject_info.version).max().unwrap_or(1),
            total: tot,
            complete,
            subject: head.subject.clone(),
            name: named.subject_info.name.clone(),
            submitter: head.from.clone(),
            date: head.date,
            is_rfc: head.subject_info.is_rfc,
            is_pull: set.iter().any(|&i| items[i].kind == MessageKind::PullRequest),
            revision_key: String::new(),
        });
    }

    // Replies: the series of the nearest ancestor that has one (memoised along the path).
    let mut of_message: HashMap<&str, Option<usize>> = HashMap::with_capacity(thread.by_id.len());
    for &id in thread.by_id.keys() {
        if member_of.contains_key(id) || of_message.contains_key(id) {
            continue;
        }
        let mut path = vec![id];
        let mut found = None;
        let mut cur = id;
        let mut seen = std::collections::HashSet::new();
        seen.insert(id);
        while let Some(p) = thread.parent(cur) {
            if let Some(&(s, _)) = member_of.get(p) {
                found = Some(s);
                break;
            }
            if let Some(&known) = of_message.get(p) {
                found = known;
                break;
            }
            if !seen.insert(p) {
                break;
            }
            path.push(p);
            cur = p;
        }
        for p in path {
            of_message.insert(p, found);
        }
    }

    // Revision keys: a head answering into another series takes that series' key.
    let order: Vec<usize> = {
        let mut o: Vec<usize> = (0..series.len()).collect();
        o.sort_by_key(|&s| (series[s].date, series[s].head.clone()));
        o
    };
    let mut keys: Vec<Option<String>> = vec![None; series.len()];
    for &s in &order {
        revision_key(s, &series, &thread, &member_of, &mut keys, 0);
    }
    for (s, k) in keys.into_iter().enumerate() {
        series[s].revision_key = k.unwrap_or_default();
    }

    let mut members: Vec<(String, String, Role)> = Vec::new();
    for (id, (s, role)) in &member_of {
        members.push((id.to_string(), series[*s].head.clone(), *role));
    }
    for (id, s) in &of_message {
        if let Some(s) = s {
            members.push((id.to_string(), series[*s].head.clone(), Role::Reply));
        }
    }
    members.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    series.sort_by(|a, b| (a.date, &a.head).cmp(&(b.date, &b.head)));
    Assembly { series, members }
}

fn revision_key(
    s: usize,
    series: &[Series],
    thread: &Thread<'_>,
    member_of: &HashMap<&str, (usize, Role)>,
    keys: &mut Vec<Option<String>>,
    depth: usize,
) -> String {
    if let Some(k) = &keys[s] {
        return k.clone();
    }
    let own = format!(
        "{}\n{}",
        series[s].submitter.email.to_ascii_lowercase(),
        normalized_name(&series[s].name)
    );
    let answered = thread
        .find_up(&series[s].head, |id| member_of.get(id).map(|&(o, _)| o))
        .filter(|&o| o != s);
    let key = match answered {
        Some(o) if depth < 64 && series[o].date <= series[s].date => {
            revision_key(o, series, thread, member_of, keys, depth + 1)
        }
        _ => own,
    };
    keys[s] = Some(key.clone());
    key
}
