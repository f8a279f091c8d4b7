//! DKIM signatures, verified with Stalwart's `mail-auth`. DNS goes through [`DkimKeys`]: a cache
//! of key records that tests (and an operator pinning keys) fill, in front of an optional real
//! resolver. Without a resolver a key that is not in the cache is "not checked": nothing
//! reaches the network.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::resolver::ToFqdn;
use mail_auth::common::verify::DomainKey;
use mail_auth::{
    AuthenticatedMessage, DkimResult, Error, MessageAuthenticator, Parameters, ResolverCache,
    Txt as TxtRecord,
};
use quire_store::{DkimSignature, SignatureResult};

/// Longest a message's DKIM verification may take (all its signatures' key lookups).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A record and until when it holds (`None`: pinned, for ever).
type Entry = (TxtRecord, Option<Instant>);

/// Key records by name (`<selector>._domainkey.<domain>.`), each until its TTL ends.
#[derive(Default)]
pub struct TxtCache {
    entries: Mutex<HashMap<Box<str>, Entry>>,
}

impl ResolverCache<Box<str>, TxtRecord> for TxtCache {
    fn get<Q>(&self, name: &Q) -> Option<TxtRecord>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (record, until) = entries.get(name)?;
        until.is_none_or(|u| u > Instant::now()).then(|| record.clone())
    }

    fn remove<Q>(&self, name: &Q) -> Option<TxtRecord>
    where
        Box<str>: std::borrow::Borrow<Q>,
        Q: std::hash::Hash + Eq + ?Sized,
    {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.remove(name).map(|(r, _)| r)
    }

    fn insert(&self, key: Box<str>, value: TxtRecord, valid_until: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded: a hostile archive naming a million selectors must not grow it forever.
        if entries.len() >= 100_000 {
            entries.clear();
        }
        entries.insert(key, (value, Some(valid_until)));
    }
}

/// The DNS side of DKIM: pinned keys and a cache, and the resolver (if any) behind them.
pub struct DkimKeys {
    txt: TxtCache,
    resolver: Option<MessageAuthenticator>,
    /// What the verifier runs with when there is no resolver: one that has no name server, so
    /// a cache miss fails at once instead of asking anyone.
    offline: Option<MessageAuthenticator>,
    timeout: Duration,
}

impl DkimKeys {
    /// Keys from the cache only: nothing is looked up (tests, and imports without `--dkim`
    /// that still want pinned keys).
    pub fn offline() -> DkimKeys {
        use mail_auth::hickory_resolver::config::{ResolverConfig, ResolverOpts};
        let offline = MessageAuthenticator::new(
            ResolverConfig::from_parts(None, Vec::new(), Vec::new()),
            ResolverOpts::default(),
        )
        .ok();
        DkimKeys { txt: TxtCache::default(), resolver: None, offline, timeout: DEFAULT_TIMEOUT }
    }

    /// The system's resolver (`/etc/resolv.conf`), each query limited to `timeout`, the whole
    /// verification of a message to twice that.
    pub fn system(timeout: Duration) -> Result<DkimKeys, String> {
        use mail_auth::hickory_resolver::system_conf::read_system_conf;
        let (config, mut opts) = read_system_conf()
            .map_err(|e| format!("reading the system's DNS configuration: {e}"))?;
        opts.timeout = timeout;
        opts.attempts = 2;
        let resolver = MessageAuthenticator::new(config, opts)
            .map_err(|e| format!("starting a DNS resolver: {e}"))?;
        let mut keys = DkimKeys::offline();
        keys.resolver = Some(resolver);
        keys.timeout = timeout * 2;
        Ok(keys)
    }

    /// Whether keys are looked up in DNS (not only in the cache).
    pub fn resolves(&self) -> bool {
        self.resolver.is_some()
    }

    /// Pins the key record `record` (`v=DKIM1; k=ed25519; p=...`) of `selector` at `domain`,
    /// as DNS would answer it. An unreadable record is an error naming it.
    pub fn add_key(&self, selector: &str, domain: &str, record: &str) -> Result<(), String> {
        let key = DomainKey::parse(record.as_bytes())
            .map_err(|e| format!("DKIM key record for {selector}._domainkey.{domain}: {e}"))?;
        let name = format!("{selector}._domainkey.{domain}");
        let fqdn: Box<str> = name.to_fqdn();
        let mut entries = self.txt.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.insert(fqdn, (TxtRecord::from(key), None));
        Ok(())
    }

    /// Verifies every `DKIM-Signature` of `raw`. Empty when there is none.
    pub async fn verify(&self, raw: &[u8]) -> Vec<DkimSignature> {
        let Some(message) = AuthenticatedMessage::parse(raw) else { return Vec::new() };
        let Some(auth) = self.resolver.as_ref().or(self.offline.as_ref()) else {
            return not_checked(&message, "no DNS resolver could be started");
        };
        let params = Parameters::new(&message).with_txt_cache(&self.txt);
        let outputs = match tokio::time::timeout(self.timeout, auth.verify_dkim(params)).await {
            Ok(o) => o,
            Err(_) => return not_checked(&message, "DNS did not answer in time"),
        };
        outputs
            .iter()
            .map(|o| {
                let (domain, selector) =
                    o.signature().map(|s| (s.d.clone(), s.s.clone())).unwrap_or_default();
                let (result, detail) = result_of(o.result(), self.resolver.is_some());
                DkimSignature { domain, selector, result, detail }
            })
            .collect()
    }
}

fn not_checked(message: &AuthenticatedMessage<'_>, why: &str) -> Vec<DkimSignature> {
    signatures(message, SignatureResult::NotChecked, why)
}

/// Every readable `DKIM-Signature` of `message`, with `result`.
pub(crate) fn signatures(
    message: &AuthenticatedMessage<'_>,
    result: SignatureResult,
    why: &str,
) -> Vec<DkimSignature> {
    message
        .dkim_headers
        .iter()
        .map(|h| match &h.header {
            Ok(s) => DkimSignature {
                domain: s.d.clone(),
                selector: s.s.clone(),
                result,
                detail: why.to_string(),
            },
            Err(e) => DkimSignature {
                domain: String::new(),
                selector: String::new(),
                result: SignatureResult::Malformed,
                detail: e.to_string(),
            },
        })
        .collect()
}

fn result_of(r: &DkimResult, resolves: bool) -> (SignatureResult, String) {
    match r {
        DkimResult::Pass => (SignatureResult::Pass, String::new()),
        DkimResult::Fail(e) => (SignatureResult::Fail, e.to_string()),
        DkimResult::Neutral(Error::FailedBodyHashMatch) => {
            (SignatureResult::Fail, "the body changed after it was signed (bh= differs)".into())
        }
        DkimResult::Neutral(e) => (SignatureResult::Unsupported, e.to_string()),
        // Offline, a key missing from the cache was never asked for.
        DkimResult::PermError(Error::DnsError(_)) | DkimResult::TempError(_) if !resolves => {
            (SignatureResult::NotChecked, "the key was not looked up (no DNS)".into())
        }
        DkimResult::PermError(e) => (SignatureResult::NoKey, e.to_string()),
        DkimResult::TempError(e) => (SignatureResult::NotChecked, e.to_string()),
        DkimResult::None => (SignatureResult::NotChecked, String::new()),
    }
}
