//! The shape of a list archive, as quire's parser sees it: what the generator's [`crate::SHAPE`]
//! was taken from (`quire-bench profile ARCHIVE...`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

#[derive(Debug, Default, Clone)]
pub struct Profile {
    pub messages: u64,
    pub patches: u64,
    pub cover_letters: u64,
    pub replies: u64,
    pub pull_requests: u64,
    pub unparsable: u64,
    pub with_trailers: u64,
    pub quoted_printable: u64,
    pub base64: u64,
    /// Patches and cover letters by revision.
    pub versions: BTreeMap<u32, u64>,
    /// Messages by reply depth (0: not a reply to a message in the archive).
    pub depths: BTreeMap<u32, u64>,
    pub max_depth: u32,
    /// Sizes in bytes: p50, p90, p99, max.
    pub sizes: [usize; 4],
}

/// Splits an mboxrd archive into messages (the `From ` lines dropped, `>From ` unquoted).
pub fn split_mbox(mbox: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur: Option<Vec<u8>> = None;
    for line in mbox.split_inclusive(|b| *b == b'\n') {
        if line.starts_with(b"From ") {
            if let Some(m) = cur.take() {
                out.push(m);
            }
            cur = Some(Vec::new());
            continue;
        }
        let Some(m) = cur.as_mut() else { continue };
        let quoted = line.iter().take_while(|b| **b == b'>').count();
        if quoted > 0 && line[quoted..].starts_with(b"From ") {
            m.extend_from_slice(&line[1..]);
        } else {
            m.extend_from_slice(line);
        }
    }
    out.extend(cur);
    out
}

/// The profile of an mbox archive.
pub fn profile(mbox: &[u8]) -> Profile {
    let mails = split_mbox(mbox);
    let mut p = Profile::default();
    let mut parent: HashMap<String, Option<String>> = HashMap::new();
    let mut ids = Vec::new();
    let mut sizes = Vec::new();
    for raw in &mails {
        p.messages += 1;
        sizes.push(raw.len());
        let head_end = raw.windows(2).position(|w| w == b"\n\n").unwrap_or(raw.len());
        let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
        if head.contains("content-transfer-encoding: quoted-printable") {
            p.quoted_printable += 1;
        }
        if head.contains("content-transfer-encoding: base64") {
            p.base64 += 1;
        }
        let m = quire_mail::parse(raw);
        match m.kind {
            quire_mail::MessageKind::Patch => p.patches += 1,
            quire_mail::MessageKind::CoverLetter => p.cover_letters += 1,
            quire_mail::MessageKind::PullRequest => p.pull_requests += 1,
            quire_mail::MessageKind::Reply => p.replies += 1,
            quire_mail::MessageKind::Unparsable => p.unparsable += 1,
        }
        if matches!(m.kind, quire_mail::MessageKind::Patch | quire_mail::MessageKind::CoverLetter) {
            *p.versions.entry(m.subject_info.version).or_default() += 1;
        }
        if !m.trailers.is_empty() && m.kind == quire_mail::MessageKind::Reply {
            p.with_trailers += 1;
        }
        parent.insert(m.message_id.clone(), m.in_reply_to.clone());
        ids.push(m.message_id);
    }
    for id in &ids {
        let mut depth = 0u32;
        let mut cur = id.clone();
        while let Some(Some(up)) = parent.get(&cur) {
            if !parent.contains_key(up) || depth > 10_000 {
                break;
            }
            depth += 1;
            cur = up.clone();
        }
        *p.depths.entry(depth).or_default() += 1;
        p.max_depth = p.max_depth.max(depth);
    }
    sizes.sort_unstable();
    if let Some(&max) = sizes.last() {
        let at = |q: usize| sizes[(sizes.len() * q / 100).min(sizes.len() - 1)];
        p.sizes = [at(50), at(90), at(99), max];
    }
    p
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.messages.max(1);
        let pm = |x: u64| format!("{x} ({:.1}%)", x as f64 * 100.0 / n as f64);
        writeln!(f, "messages        {}", self.messages)?;
        writeln!(f, "patches         {}", pm(self.patches))?;
        writeln!(f, "cover letters   {}", pm(self.cover_letters))?;
        writeln!(f, "replies         {}", pm(self.replies))?;
        writeln!(f, "pull requests   {}", pm(self.pull_requests))?;
        writeln!(f, "unparsable      {}", pm(self.unparsable))?;
        writeln!(f, "replies with trailers {}", pm(self.with_trailers))?;
        writeln!(f, "quoted-printable {}", pm(self.quoted_printable))?;
        writeln!(f, "base64          {}", pm(self.base64))?;
        let versions: Vec<String> =
            self.versions.iter().take(8).map(|(v, c)| format!("v{v}:{c}")).collect();
        writeln!(f, "revisions       {}", versions.join(" "))?;
        let depths: Vec<String> =
            self.depths.iter().take(10).map(|(d, c)| format!("{d}:{c}")).collect();
        writeln!(f, "reply depth     {} (max {})", depths.join(" "), self.max_depth)?;
        writeln!(
            f,
            "size bytes      p50 {} p90 {} p99 {} max {}",
            self.sizes[0], self.sizes[1], self.sizes[2], self.sizes[3]
        )
    }
}
