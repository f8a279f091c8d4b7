//! Attestation glue: the `[attestation]` settings, the verifier an import, a watch or a
//! `reindex --attest` uses, and `reindex --attest` itself.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use serde::Deserialize;

use quire_attest::{DkimKeys, Keyring, Keyrings, Verifier};
use quire_store::Store;

/// The `[attestation]` table (docs/attestation.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttestationSection {
    /// A patatt keyring directory (`<dir>/ed25519/<domain>/<local>/<selector>`), searched
    /// before the projects' trees (`.keys/` at their branch head).
    pub keyring: Option<PathBuf>,
    /// `quire watch` verifies DKIM (asks DNS) for the mail it receives.
    pub dkim_on_watch: bool,
    /// Seconds one DNS query may take.
    pub dns_timeout: u64,
}

impl Default for AttestationSection {
    fn default() -> Self {
        AttestationSection { keyring: None, dkim_on_watch: true, dns_timeout: 5 }
    }
}

impl AttestationSection {
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=60).contains(&self.dns_timeout) {
            return Err(format!("dns_timeout = {}: give 1 to 60 seconds", self.dns_timeout));
        }
        Ok(())
    }
}

/// The verifier for mail coming in: patatt always (keys from the keyring and the projects'
/// trees), DKIM through the system's resolver only when `dns`.
pub async fn verifier(
    store: &Store,
    data_dir: &Path,
    section: &AttestationSection,
    dns: bool,
) -> Result<Arc<Verifier>> {
    let mut sources = Vec::new();
    if let Some(dir) = &section.keyring {
        if !dir.is_dir() {
            anyhow::bail!(
                "[attestation] keyring = {}: no such directory; create it or remove the line",
                dir.display()
            );
        }
        sources.push(Keyring::Dir(dir.clone()));
    }
    for p in store.project_configs().await? {
        if p.git_url.is_none() {
            continue;
        }
        let repo = quire_worker::mirror_dir(&data_dir.join("git"), &p.name);
        if repo.join("HEAD").exists() {
            let branch = p.branch.clone().unwrap_or_else(|| "master".into());
            sources.push(Keyring::Tree { repo, rev: format!("refs/heads/{branch}") });
        }
    }
    let dkim = if dns {
        let keys = DkimKeys::system(Duration::from_secs(section.dns_timeout))
            .map_err(|e| anyhow::anyhow!("cannot verify DKIM: {e}; run without --dkim"))?;
        Some(keys)
    } else {
        None
    };
    Ok(Arc::new(Verifier::new(dkim, Keyrings::new(sources))))
}

/// `quire reindex --attest`: verifies every stored raw message again and stores the result.
pub async fn attest_all(store: &Store, verifier: &Arc<Verifier>, quiet: bool) -> Result<u64> {
    let (mut after, mut done) = (0i64, 0u64);
    loop {
        let rows = store.raw_for_attestation(after, 500).await?;
        let Some(last) = rows.last() else { break };
        after = last.id;
        let mut batch: Vec<quire_store::Incoming> = rows
            .iter()
            .map(|r| quire_store::Incoming::new(r.raw.clone(), Default::default(), None))
            .collect();
        verifier.attest_batch(&mut batch).await;
        let results: Vec<(i64, quire_store::Attestation)> = rows
            .iter()
            .zip(batch)
            .filter_map(|(r, inc)| inc.attestation.map(|a| (r.id, a)))
            .collect();
        store.set_attestations(&results).await?;
        done += rows.len() as u64;
        if !quiet {
            eprint!("\rverified {done} messages");
        }
    }
    if !quiet && done > 0 {
        eprintln!();
    }
    Ok(done)
}
