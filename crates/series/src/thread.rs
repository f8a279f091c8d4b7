//! Who answers whom: the nearest ancestor of a message that is present in a neighbourhood.

use crate::MessageMeta;
use std::collections::HashMap;

/// Messages by id (the first of duplicates, by date then id, wins) and each one's parent.
pub struct Thread<'a> {
    pub by_id: HashMap<&'a str, &'a MessageMeta>,
    parents: HashMap<&'a str, &'a str>,
}

impl<'a> Thread<'a> {
    pub fn new(messages: &'a [MessageMeta]) -> Thread<'a> {
        let mut by_id: HashMap<&str, &MessageMeta> = HashMap::with_capacity(messages.len());
        for m in messages {
            let keep = match by_id.get(m.message_id.as_str()) {
                // Same id twice: the earlier wins; on the same date, a fixed order of the
                // content, so that the input order never decides.
                Some(old) => tie_key(m) < tie_key(old),
                None => true,
            };
            if keep {
                by_id.insert(&m.message_id, m);
            }
        }
        let mut parents = HashMap::with_capacity(by_id.len());
        for (&id, m) in &by_id {
            // In-Reply-To first, then References newest first: skips ancestors that are missing.
            let candidates = m.in_reply_to.iter().chain(m.references.iter().rev());
            for c in candidates {
                if c != id && by_id.contains_key(c.as_str()) {
                    parents.insert(id, by_id[c.as_str()].message_id.as_str());
                    break;
                }
            }
        }
        Thread { by_id, parents }
    }

    pub fn parent(&self, id: &str) -> Option<&'a str> {
        self.parents.get(id).copied()
    }

    /// Walks up from `id` (excluded) to the first ancestor for which `f` gives a value.
    /// Stops on cycles (broken References can make them).
    pub fn find_up<T>(&self, id: &str, mut f: impl FnMut(&'a str) -> Option<T>) -> Option<T> {
        let mut seen = std::collections::HashSet::new();
        let mut cur = self.parent(id)?;
        loop {
            if !seen.insert(cur) {
                return None;
            }
            if let Some(v) = f(cur) {
                return Some(v);
            }
            cur = self.parent(cur)?;
        }
    }
}

/// Everything two messages are ordered by when their dates tie.
type TieKey<'a> =
    (i64, &'a str, &'a str, &'a Option<String>, &'a [String], &'a Option<String>, Option<u32>);

fn tie_key(m: &MessageMeta) -> TieKey<'_> {
    (
        m.date,
        &m.subject,
        &m.from.email,
        &m.in_reply_to,
        &m.references,
        &m.patch_id,
        m.subject_info.number,
    )
}
