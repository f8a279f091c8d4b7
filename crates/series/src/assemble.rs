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
//! - A cover letter's `n/m` may disagree with its patches (`[PATCH v4 0/2]` sent with `1/3`..`3/3`):
//!   the patches of its sender that answer it are its patches, and their count is the total.
//! - Patches answering a message that is not in the archive (a cover letter sent to another
//!   list) group as siblings of that missing message.
//! - A first message labelled `1/m` without a diff (`[PATCH 01/27]` holding the cover text) is
//!   the cover letter.
//! - A revision that re-sends only some patches, each as a reply to the same-numbered patch of
//!   the revision before (b4's partial re-roll: v3 of only 2/2 answering v2's 2/2), takes the
//!   other patches from that revision when that makes it complete (`Series::taken`).
//! - Revision keys tell apart sets that share a sender and a name but not their part or tree
//!   (`[PART 3]`, `[PATCH 5.4 ...]`, `[PATCH AUTOSEL 5.10 ...]`), and pull requests from patches.

use crate::thread::Thread;
use crate::{Assembly, MessageMeta, Role, Series};
use quire_mail::{MessageKind, normalized_name};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Unthreaded patches of one submitter this close in time may be one series.
const UNTHREADED_WINDOW: i64 = 24 * 3600;

pub(crate) fn is_cover(m: &MessageMeta) -> bool {
    !m.subject_info.is_reply
        && (m.kind == MessageKind::CoverLetter
            || (m.kind == MessageKind::PullRequest && m.subject_info.number == Some(0))
            || is_cover_labelled_as_patch_1(m))
}

/// `[PATCH 01/27] ...` without a diff: a cover letter numbered as the first patch. (Any other
/// number without a diff is a comment, as in Patchwork.)
fn is_cover_labelled_as_patch_1(m: &MessageMeta) -> bool {
    m.kind == MessageKind::Reply
        && m.patch_id.is_none()
        && m.subject_info.number == Some(1)
        && m.subject_info.total.is_some_and(|t| t > 1)
        && m.subject_info.tags.iter().any(|t| {
            let t = t.to_ascii_lowercase();
            t == "patch" || t.starts_with("rfc")
        })
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
    let same_version = |p: &MessageMeta, a: &MessageMeta| {
        a.subject_info.version == p.subject_info.version
            || (p.subject_info.version == 1 && is_cover(a))
    };
    let compatible = |p: &MessageMeta, a: &MessageMeta| {
        same_version(p, a) && total(a) == total(p) && (is_cover(a) || number(a) != number(p))
    };
    // A cover letter whose `n/m` is wrong (a `0/2` sent with `1/3`..`3/3`): its sender's patches
    // answering it, when it gets no patch of its own count (see below).
    let miscounted = |p: &MessageMeta, a: &MessageMeta| {
        is_cover(a) && same_version(p, a) && email(a) == email(p) && p.kind == MessageKind::Patch
    };
    let mut miscounted_candidates: Vec<(usize, usize)> = Vec::new();

    // Threaded patches: join the nearest patch-like ancestor when compatible.
    let mut by_parent: BTreeMap<(&str, String, u32, u32), Vec<usize>> = BTreeMap::new();
    let mut unthreaded: Vec<usize> = Vec::new();
    for (i, p) in items.iter().enumerate() {
        if is_cover(p) {
            continue;
        }
        let anchor = thread.find_up(&p.message_id, |id| index.get(id).copied());
        if let Some(a) = anchor
            && !compatible(p, items[a])
            && miscounted(p, items[a])
        {
            miscounted_candidates.push((i, a));
        }
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
                // Answering a message that is not here: siblings of that missing message.
                None => {
                    let missing =
                        p.in_reply_to.as_deref().or(p.references.last().map(String::as_str));
                    if let Some(missing) = missing {
                        by_parent
                            .entry((missing, email(p), p.subject_info.version, total(p)))
                            .or_default()
                            .push(i);
                    }
                }
            },
        }
    }
    // Siblings answering the same message.
    for members in by_parent.values() {
        for w in members.windows(2) {
            groups.union(w[0], w[1]);
        }
    }
    // Cover letters that got no patch of their own count take the miscounted ones (with their
    // siblings): never both, which would mix two sets numbered alike.
    let mut with_patches: HashSet<usize> =
        (0..items.len()).filter(|&i| !is_cover(items[i])).map(|i| groups.find(i)).collect();
    for (i, a) in miscounted_candidates {
        let cover = groups.find(a);
        if !with_patches.contains(&cover) {
            groups.union(i, a);
            with_patches.insert(groups.find(a));
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
        // The patches' own count: a cover letter's `n/m` can be wrong (see `compatible`).
        let tot = match patches.iter().map(|p| total(p.1)).max() {
            Some(t) => t,
            None => cover.map(|i| total(items[i])).unwrap_or(1),
        };
        let complete = (1..=tot).all(|n| patches.iter().any(|p| p.0 == n));
        let change_id = cover
            .map(|i| items[i])
            .into_iter()
            .chain(patches.iter().map(|p| p.1))
            .find_map(|m| m.change_id.clone());
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
            own_revision_key: String::new(),
            answers: None,
            taken: Vec::new(),
            change_id,
            supersedes: cover.and_then(|i| items[i].supersedes.clone()),
        });
    }
    partial_rerolls(&mut series, &thread, &member_of);

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
    let mut keys: Vec<Option<(String, Option<usize>)>> = vec![None; series.len()];
    for &s in &order {
        revision_key(s, &series, &thread, &member_of, &mut keys, 0);
    }
    let answered: Vec<Option<String>> = keys
        .iter()
        .map(|k| k.as_ref().and_then(|(_, o)| *o).map(|o| series[o].head.clone()))
        .collect();
    for (s, (k, answers)) in keys.into_iter().zip(answered).enumerate() {
        let head = thread.by_id.get(series[s].head.as_str()).copied();
        series[s].own_revision_key = own_revision_key(&series[s], head);
        series[s].revision_key = k.map(|k| k.0).unwrap_or_default();
        series[s].answers = answers;
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

/// The key of series `s`, and the series it took it from when it replies into one.
fn revision_key(
    s: usize,
    series: &[Series],
    thread: &Thread<'_>,
    member_of: &HashMap<&str, (usize, Role)>,
    keys: &mut Vec<Option<(String, Option<usize>)>>,
    depth: usize,
) -> String {
    if let Some(k) = &keys[s] {
        return k.0.clone();
    }
    let own = own_revision_key(&series[s], thread.by_id.get(series[s].head.as_str()).copied());
    // A series sent into another's thread is its revision when it is of the same kind and by
    // the same sender or of the same name: not a maintainer's pull request or "applied"
    // answer to it, nor another person's series.
    let answered = thread
        .find_up(&series[s].head, |id| member_of.get(id).map(|&(o, _)| o))
        .filter(|&o| o != s)
        .filter(|&o| {
            let (a, b) = (&series[s], &series[o]);
            a.is_pull == b.is_pull
                && (a.submitter.email.eq_ignore_ascii_case(&b.submitter.email)
                    || normalized_name(&a.name) == normalized_name(&b.name))
        });
    let key = match answered {
        Some(o) if depth < 64 && series[o].date <= series[s].date => {
            (revision_key(o, series, thread, member_of, keys, depth + 1), Some(o))
        }
        _ => (own, None),
    };
    keys[s] = Some(key.clone());
    key.0
}

/// b4's partial re-roll (`LoreMailbox.partial_reroll`): an incomplete series of version > 1
/// whose every patch answers (through In-Reply-To, upwards) a patch of the same number and
/// total of one earlier revision takes that revision's other patches, when they complete it.
fn partial_rerolls(
    series: &mut [Series],
    thread: &Thread<'_>,
    member_of: &HashMap<&str, (usize, Role)>,
) {
    let mut order: Vec<usize> = (0..series.len()).collect();
    order.sort_by_key(|&s| (series[s].version, series[s].date));
    for s in order {
        let this = &series[s];
        if this.complete || this.version < 2 || this.patches.is_empty() {
            continue;
        }
        let mut earlier: Option<usize> = None;
        let sane = this.patches.iter().all(|(n, id)| {
            let mut cur = thread.by_id.get(id.as_str()).and_then(|m| m.in_reply_to.as_deref());
            let mut hops = 0;
            while let Some(up) = cur {
                hops += 1;
                if hops > 64 {
                    return false;
                }
                if let Some(&(o, Role::Patch(on))) = member_of.get(up)
                    && on == *n
                    && series[o].total == this.total
                    && series[o].version < this.version
                {
                    return *earlier.get_or_insert(o) == o;
                }
                cur = thread.by_id.get(up).and_then(|m| m.in_reply_to.as_deref());
            }
            false
        });
        let Some(o) = earlier.filter(|_| sane) else { continue };
        let from: Vec<(u32, String)> =
            series[o].patches.iter().chain(&series[o].taken).cloned().collect();
        let have: HashSet<u32> = series[s].patches.iter().map(|p| p.0).collect();
        let mut taken: Vec<(u32, String)> =
            from.into_iter().filter(|(n, _)| !have.contains(n)).collect();
        taken.sort();
        taken.dedup_by_key(|p| p.0);
        let complete =
            (1..=series[s].total).all(|n| have.contains(&n) || taken.iter().any(|p| p.0 == n));
        if complete {
            let name = series[o].name.clone();
            let t = &mut series[s];
            t.taken = taken;
            t.complete = true;
            if t.cover_letter.is_none() {
                t.name = name;
            }
        }
    }
}

/// `sender\nname` (and the identity tags, and `pull` for a pull request, when there are any:
/// keys stored before they were added stay the same for the usual series).
pub(crate) fn own_revision_key(series: &Series, head: Option<&MessageMeta>) -> String {
    let identity = head.map(|m| identity_tags(&m.subject_info)).unwrap_or_default();
    let mut key = format!("{}\n", series.submitter.email.to_ascii_lowercase());
    if series.is_pull {
        key.push_str("pull\n");
    }
    if !identity.is_empty() {
        key.push_str(&identity);
        key.push('\n');
    }
    key.push_str(&normalized_name(&series.name));
    key
}

/// Subject tags that tell apart patch sets sharing a sender and a name: the part of a set sent
/// in parts (`[PART 3]`, `[PART3]`), the stable tree a backport is for (`[PATCH 5.4 12/50]`,
/// `[PATCH 4.19.y]`) and `AUTOSEL`. A revision keeps them. Other tree names (`net-next`,
/// `for-4.19`) are not among them: a patch moves between those as it is revised.
pub(crate) fn identity_tags(info: &quire_mail::SubjectInfo) -> String {
    let mut out: Vec<String> = Vec::new();
    let tags = &info.tags;
    for (i, t) in tags.iter().enumerate() {
        let l = t.to_ascii_lowercase();
        if l == "part" {
            if let Some(n) = tags.get(i + 1).filter(|n| n.chars().all(|c| c.is_ascii_digit())) {
                out.push(format!("part {n}"));
            }
        } else if let Some(n) = l
            .strip_prefix("part")
            .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        {
            out.push(format!("part {n}"));
        } else if l == "autosel" {
            out.push(l);
        } else if is_release(&l) {
            // `5.10.y` is the branch of `5.10`.
            out.push(l.trim_end_matches(".y").to_string());
        }
    }
    out.join(" ")
}

/// `5.4`, `5.10`, `4.19.y`, `6.1.12`: a kernel (or any) release a backport is made for.
fn is_release(tag: &str) -> bool {
    let parts: Vec<&str> = tag.split('.').collect();
    (2..=3).contains(&parts.len())
        && parts[..2]
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 3 && p.chars().all(|c| c.is_ascii_digit()))
        && parts
            .get(2)
            .is_none_or(|p| *p == "y" || (!p.is_empty() && p.chars().all(|c| c.is_ascii_digit())))
}
