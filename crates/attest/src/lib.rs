//! quire-attest: who really sent a mail. DKIM signatures are verified with Stalwart's
//! `mail-auth` (DNS through [`DkimKeys`]: pinned keys and a cache in front of an optional
//! resolver), patatt's `X-Developer-Signature` with the developer's ed25519 key from a keyring
//! directory or a project's tree ([`Keyrings`]). [`Verifier::attest`] gives the
//! [`quire_store::Attestation`] the store keeps with the raw mail.
//!
//! What a signature proves, and what it does not, is in SECURITY.md and docs/attestation.md.

pub mod dkim;
pub mod keyring;
pub mod patatt;

use std::sync::Arc;

use quire_store::{
    Attestation, AttestationLevel, DeveloperSignature, DkimSignature, SignatureResult,
};

pub use dkim::DkimKeys;
pub use keyring::{Keyring, Keyrings};

/// What a verifier checks.
pub struct Verifier {
    /// `None`: DKIM signatures are recorded as not checked (an import without `--dkim`).
    pub dkim: Option<DkimKeys>,
    pub keys: Arc<Keyrings>,
}

/// Messages verified at once in [`Verifier::attest_batch`] (DNS lookups overlap).
const CONCURRENCY: usize = 16;

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field(
                "dkim",
                &self.dkim.as_ref().map(|d| if d.resolves() { "dns" } else { "pinned keys" }),
            )
            .field("keyrings", &self.keys.len())
            .finish()
    }
}

impl Verifier {
    pub fn new(dkim: Option<DkimKeys>, keys: Keyrings) -> Verifier {
        Verifier { dkim, keys: Arc::new(keys) }
    }

    /// Verifies the signatures of one raw mail.
    pub async fn attest(&self, raw: &[u8]) -> Attestation {
        let (has_dkim, has_devsig) = (has_header(raw, "dkim-signature"), patatt::is_signed(raw));
        if !has_dkim && !has_devsig {
            // Most of an archive: nothing to verify, nothing to parse.
            return judge(&Facts::default(), Vec::new(), self.dkim.is_some(), Vec::new());
        }
        let dkim = match &self.dkim {
            Some(keys) if has_dkim => keys.verify(raw).await,
            Some(_) => Vec::new(),
            None => unchecked_dkim(raw),
        };
        let patatt = if has_devsig {
            let (raw, keys) = (raw.to_vec(), self.keys.clone());
            // git mailinfo runs as a process: off the async threads.
            tokio::task::spawn_blocking(move || patatt::verify(&raw, &keys, &mailinfo))
                .await
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let facts = Facts::of(raw);
        judge(&facts, dkim, self.dkim.is_some(), patatt)
    }

    /// Verifies every message of an import batch, several at a time.
    pub async fn attest_batch(self: &Arc<Self>, batch: &mut [quire_store::Incoming]) {
        use futures::StreamExt as _;
        // Unsigned mail is judged in place; only signed mail is copied to be verified.
        let mut raws: Vec<(usize, Vec<u8>)> = Vec::new();
        for (i, inc) in batch.iter_mut().enumerate() {
            let (has_dkim, has_devsig) =
                (has_header(&inc.raw, "dkim-signature"), patatt::is_signed(&inc.raw));
            if has_devsig || (has_dkim && self.dkim.is_some()) {
                raws.push((i, inc.raw.clone()));
            } else if has_dkim {
                // DKIM not asked for: nothing can verify, so neither the sender nor the list
                // matters; the signatures are listed as not checked, in place.
                inc.attestation =
                    Some(judge(&Facts::default(), unchecked_dkim(&inc.raw), false, Vec::new()));
            } else {
                inc.attestation =
                    Some(judge(&Facts::default(), Vec::new(), self.dkim.is_some(), Vec::new()));
            }
        }
        let jobs = raws.into_iter().map(|(i, raw)| {
            let me = self.clone();
            async move { (i, me.attest(&raw).await) }
        });
        let done: Vec<(usize, Attestation)> =
            futures::stream::iter(jobs).buffer_unordered(CONCURRENCY).collect().await;
        for (i, a) in done {
            batch[i].attestation = Some(a);
        }
    }
}

/// The DKIM signatures of a mail, not verified (DNS not asked).
fn unchecked_dkim(raw: &[u8]) -> Vec<DkimSignature> {
    if !has_header(raw, "dkim-signature") {
        return Vec::new();
    }
    // Read the d= and s= tags only: an import without --dkim must not parse every mail twice.
    header_values(raw, "dkim-signature")
        .into_iter()
        .map(|v| {
            let tag = |name: &str| {
                v.split(';')
                    .filter_map(|t| t.split_once('='))
                    .find(|(k, _)| k.trim() == name)
                    .map(|(_, val)| val.split_whitespace().collect::<String>())
                    .unwrap_or_default()
            };
            DkimSignature {
                domain: tag("d"),
                selector: tag("s"),
                result: SignatureResult::NotChecked,
                detail: "DKIM is not verified at import unless asked (quire import --dkim)".into(),
            }
        })
        .collect()
}

/// The (unfolded) values of every `name:` header of the header block.
fn header_values(raw: &[u8], name: &str) -> Vec<String> {
    let end = find(raw, b"\n\n").or_else(|| find(raw, b"\r\n\r\n")).unwrap_or(raw.len());
    let mut out: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for l in raw[..end].split(|&b| b == b'\n') {
        let text = String::from_utf8_lossy(l);
        if l.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            if let Some(c) = current.as_mut() {
                c.push(' ');
                c.push_str(text.trim());
            }
            continue;
        }
        out.extend(current.take());
        if l.len() > name.len()
            && l[name.len()] == b':'
            && l[..name.len()].eq_ignore_ascii_case(name.as_bytes())
        {
            current = Some(text[name.len() + 1..].trim().to_string());
        }
    }
    out.extend(current);
    out
}

/// Whether the header block has a `name:` header (cheap: no parse).
fn has_header(raw: &[u8], name: &str) -> bool {
    let end = find(raw, b"\n\n").or_else(|| find(raw, b"\r\n\r\n")).unwrap_or(raw.len());
    raw[..end].split(|&b| b == b'\n').any(|l| {
        l.len() > name.len()
            && l[name.len()] == b':'
            && l[..name.len()].eq_ignore_ascii_case(name.as_bytes())
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `git mailinfo --encoding=utf-8 --no-scissors` on `payload`, as patatt runs it, through
/// quire-git's runner (clean environment, time-out) in a throwaway directory.
pub fn mailinfo(payload: &[u8]) -> Result<patatt::MailInfo, String> {
    let dir = tempfile::tempdir().map_err(|e| format!("a temp dir: {e}"))?;
    let env = quire_git::run::Env { home: dir.path(), timeout: std::time::Duration::from_secs(30) };
    let mut log = quire_git::run::Log::default();
    let ran = quire_git::run::git(
        &mut log,
        &env,
        dir.path(),
        &["mailinfo", "--encoding=utf-8", "--no-scissors", "m", "p"],
        Some(payload),
    )
    .map_err(|e| e.to_string())?;
    if !ran.success {
        return Err(ran.stderr.trim().to_string());
    }
    let read = |f: &str| std::fs::read(dir.path().join(f)).map_err(|e| format!("{f}: {e}"));
    Ok(patatt::MailInfo { message: read("m")?, patch: read("p")?, info: ran.stdout })
}

/// What the level depends on besides the signatures: who the mail says it is from, and the
/// list it came through.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    /// The From: address, lowercased.
    pub from: String,
    /// List-Id values (`xen-devel.lists.xenproject.org`), and the domains of Sender: and
    /// List-Post:.
    pub list_ids: Vec<String>,
    pub list_domains: Vec<String>,
}

impl Facts {
    pub fn of(raw: &[u8]) -> Facts {
        let parsed = mail_parser::MessageParser::default().parse_headers(raw);
        let mut f = Facts::default();
        let Some(m) = parsed else { return f };
        if let Some(a) = m.from().and_then(|a| a.first()).and_then(|a| a.address()) {
            f.from = a.trim().to_ascii_lowercase();
        }
        if let Some(id) = m.header_raw("List-Id") {
            let id = id.trim();
            let id = id.rsplit('<').next().unwrap_or(id).trim_end_matches('>').trim();
            if !id.is_empty() {
                f.list_ids.push(id.to_ascii_lowercase());
            }
        }
        if let Some(a) = m.sender().and_then(|a| a.first()).and_then(|a| a.address()) {
            f.list_domains.extend(domain_of(a));
        }
        if let Some(post) = m.header_raw("List-Post") {
            let addr = post.trim().trim_start_matches('<').trim_end_matches('>');
            f.list_domains.extend(addr.strip_prefix("mailto:").and_then(domain_of));
        }
        f
    }
}

fn domain_of(addr: &str) -> Option<String> {
    addr.rsplit_once('@').map(|(_, d)| d.trim().trim_end_matches('>').to_ascii_lowercase())
}

/// `domain` is `d` or below it (relaxed alignment: `lists.example.org` is aligned with a
/// signature of `example.org`).
fn aligned(domain: &str, d: &str) -> bool {
    let (domain, d) = (domain.to_ascii_lowercase(), d.to_ascii_lowercase());
    !d.is_empty() && (domain == d || domain.ends_with(&format!(".{d}")))
}

/// The level and summary of what the signatures gave.
pub fn judge(
    facts: &Facts,
    dkim: Vec<DkimSignature>,
    dkim_checked: bool,
    patatt: Vec<DeveloperSignature>,
) -> Attestation {
    use AttestationLevel::*;
    let from_domain = domain_of(&facts.from).unwrap_or_default();
    let passed: Vec<&DkimSignature> =
        dkim.iter().filter(|s| s.result == SignatureResult::Pass).collect();
    let is_list = |d: &str| {
        facts.list_ids.iter().any(|id| aligned(id, d))
            || facts.list_domains.iter().any(|l| aligned(l, d))
    };
    let dev_pass = patatt.iter().find(|s| {
        s.result == SignatureResult::Pass && s.identity.eq_ignore_ascii_case(&facts.from)
    });
    let dev_bad = patatt.iter().find(|s| s.result == SignatureResult::Fail);
    let dkim_bad = dkim.iter().find(|s| s.result == SignatureResult::Fail);
    let (level, summary) = if let Some(s) = dev_bad {
        (Bad, format!("patatt signature of {} does not verify: {}", s.identity, s.detail))
    } else if let Some(s) = dev_pass {
        (
            SenderKey,
            format!(
                "patatt {} signature of {} verified with {}",
                s.algorithm,
                s.identity,
                s.key.as_deref().unwrap_or("its key")
            ),
        )
    } else if let Some(s) = passed.iter().find(|s| aligned(&from_domain, &s.domain)) {
        (SenderDomain, format!("DKIM signature of {} (the sender's domain) verified", s.domain))
    } else if let Some(s) = passed.iter().find(|s| is_list(&s.domain)) {
        let broken = dkim
            .iter()
            .find(|x| x.result == SignatureResult::Fail && aligned(&from_domain, &x.domain));
        let why = broken
            .map(|b| format!("; the sender's ({}) does not verify: {}", b.domain, b.detail))
            .unwrap_or_default();
        (ListOnly, format!("DKIM signature of the list's domain {} verified{why}", s.domain))
    } else if let Some(s) = passed.first() {
        (
            OtherDomain,
            format!(
                "DKIM signature of {} verified, not the sender's domain {from_domain}",
                s.domain
            ),
        )
    } else if let Some(s) = dkim_bad {
        (Bad, format!("DKIM signature of {} does not verify: {}", s.domain, s.detail))
    } else if dkim.is_empty() && patatt.is_empty() {
        (None, "no DKIM or patatt signature".to_string())
    } else {
        let first = dkim
            .iter()
            .map(|s| {
                format!(
                    "DKIM {}: {}",
                    s.domain,
                    if s.detail.is_empty() { "not checked" } else { &s.detail }
                )
            })
            .chain(patatt.iter().map(|s| format!("patatt {}: {}", s.identity, s.detail)))
            .next()
            .unwrap_or_default();
        (Unverified, first)
    };
    Attestation {
        level,
        summary,
        dkim_checked: dkim_checked || dkim.is_empty(),
        dkim,
        patatt,
        checked: chrono::Utc::now().timestamp(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(d: &str, result: SignatureResult) -> DkimSignature {
        DkimSignature { domain: d.into(), selector: "s".into(), result, detail: "why".into() }
    }

    fn facts() -> Facts {
        Facts {
            from: "ann@example.org".into(),
            list_ids: vec!["xen-devel.lists.xenproject.org".into()],
            list_domains: vec![],
        }
    }

    #[test]
    fn levels_follow_the_strongest_signature_that_verified() {
        use SignatureResult::*;
        let j = |d: Vec<DkimSignature>| judge(&facts(), d, true, vec![]).level;
        assert_eq!(j(vec![]), AttestationLevel::None);
        assert_eq!(j(vec![sig("example.org", Pass)]), AttestationLevel::SenderDomain);
        assert_eq!(j(vec![sig("mail.example.org", Pass)]), AttestationLevel::OtherDomain);
        assert_eq!(
            j(vec![sig("example.org", Fail), sig("lists.xenproject.org", Pass)]),
            AttestationLevel::ListOnly
        );
        assert_eq!(j(vec![sig("gmail.com", Pass)]), AttestationLevel::OtherDomain);
        assert_eq!(j(vec![sig("example.org", Fail)]), AttestationLevel::Bad);
        assert_eq!(j(vec![sig("example.org", NoKey)]), AttestationLevel::Unverified);
        assert_eq!(j(vec![sig("example.org", NotChecked)]), AttestationLevel::Unverified);
    }

    #[test]
    fn dkim_tags_are_read_without_verifying() {
        let raw = b"DKIM-Signature: v=1; a=rsa-sha256; d=example.org;\n s=sel1; b=AAA\n BBB\nFrom: a@example.org\n\nbody\n";
        let sigs = unchecked_dkim(raw);
        assert_eq!(sigs.len(), 1);
        assert_eq!((sigs[0].domain.as_str(), sigs[0].selector.as_str()), ("example.org", "sel1"));
        assert_eq!(sigs[0].result, SignatureResult::NotChecked);
    }

    #[test]
    fn list_headers_name_the_lists_domains() {
        let raw = b"From: Ann <ann@example.org>\nList-Id: Xen developer discussion <xen-devel.lists.xenproject.org>\nSender: \"Xen-devel\" <xen-devel-bounces@lists.xenproject.org>\nSubject: x\n\nbody\n";
        let f = Facts::of(raw);
        assert_eq!(f.from, "ann@example.org");
        assert_eq!(f.list_ids, ["xen-devel.lists.xenproject.org"]);
        assert_eq!(f.list_domains, ["lists.xenproject.org"]);
        assert!(has_header(raw, "list-id") && !has_header(raw, "dkim-signature"));
    }
}
