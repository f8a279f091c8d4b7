//! Attestation (issue 29): what the signatures of a message say about who sent it, as verified
//! when it came in (quire-attest) and stored with its raw bytes (`raw_messages.attestation`,
//! migration 0061). A reindex keeps it (raw rows are the truth); `quire reindex --attest`
//! verifies again. SQL in `sql/attestation.rs`.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{Pool, Result, Store};

/// The one-word answer a page shows, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttestationLevel {
    /// A patatt signature (`X-Developer-Signature`) of the From: address verified with its key.
    SenderKey,
    /// A DKIM signature of the From: address' domain (or a parent of it) verified.
    SenderDomain,
    /// Only the list's own DKIM signature verified (the list re-signed what it sent out).
    ListOnly,
    /// Only another domain's DKIM signature verified.
    OtherDomain,
    /// No signature at all.
    None,
    /// Signatures that could not be checked: DKIM not verified at import (no DNS asked), a key no
    /// longer published or not in the keyring, an algorithm quire does not check (openpgp).
    Unverified,
    /// A signature that does not verify: the mail or its signed headers changed after signing.
    Bad,
}

impl AttestationLevel {
    /// The words a page shows.
    pub fn label(self) -> &'static str {
        match self {
            AttestationLevel::SenderKey => "signed by the sender's key",
            AttestationLevel::SenderDomain => "signed by the sender's domain",
            AttestationLevel::ListOnly => "signed by the list only",
            AttestationLevel::OtherDomain => "signed by another domain only",
            AttestationLevel::None => "none",
            AttestationLevel::Unverified => "not verified",
            AttestationLevel::Bad => "bad",
        }
    }

    /// The page's badge class.
    pub fn class(self) -> &'static str {
        match self {
            AttestationLevel::SenderKey | AttestationLevel::SenderDomain => "ok",
            AttestationLevel::ListOnly | AttestationLevel::OtherDomain => "info",
            AttestationLevel::None | AttestationLevel::Unverified => "muted",
            AttestationLevel::Bad => "fail",
        }
    }
}

/// What one signature gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignatureResult {
    Pass,
    /// Verified and wrong: body or signed headers changed, or the signature does not match.
    Fail,
    /// The key is not published (DKIM) or not in the keyring (patatt), or was revoked.
    NoKey,
    /// An algorithm or form quire does not check (patatt openpgp/openssh).
    Unsupported,
    /// Not checked: DKIM at import without DNS, or DNS failed for now.
    NotChecked,
    /// The signature header cannot be read.
    Malformed,
}

/// One `DKIM-Signature`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DkimSignature {
    /// `d=`
    pub domain: String,
    /// `s=`
    pub selector: String,
    pub result: SignatureResult,
    /// Why, when it did not pass.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// One `X-Developer-Signature` (patatt).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeveloperSignature {
    /// `i=`: the signer's address (the From: address when absent).
    pub identity: String,
    /// `a=`, e.g. `ed25519-sha256`.
    pub algorithm: String,
    /// `s=` (`default` when absent).
    pub selector: String,
    pub result: SignatureResult,
    /// Where the key came from (`tree:.keys/ed25519/...` or a keyring path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// What a message's signatures say, as verified when it came in (or by `reindex --attest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attestation {
    pub level: AttestationLevel,
    /// One line for a reader: which signature gave the level.
    pub summary: String,
    /// False when DKIM signatures were not verified (an import without `--dkim`).
    pub dkim_checked: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dkim: Vec<DkimSignature>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub patatt: Vec<DeveloperSignature>,
    /// When it was verified (Unix seconds).
    pub checked: i64,
}

impl Attestation {
    pub fn label(&self) -> &'static str {
        self.level.label()
    }
}

/// One raw message to verify again: its row, bytes and Message-ID.
#[derive(Debug, Clone)]
pub struct RawForAttestation {
    pub id: i64,
    pub message_id: String,
    pub raw: Vec<u8>,
}

impl Store {
    /// The stored attestations of the messages `message_ids` (those never verified are left
    /// out), by Message-ID.
    pub async fn attestations(
        &self,
        message_ids: &[String],
    ) -> Result<HashMap<String, Attestation>> {
        on_backend!(self.pool, |p, m| m::attestation::attestations(p, message_ids).await)
    }

    /// Raw rows after `after_id` (by id), at most `limit`: for `quire reindex --attest`.
    pub async fn raw_for_attestation(
        &self,
        after_id: i64,
        limit: u32,
    ) -> Result<Vec<RawForAttestation>> {
        on_backend!(self.pool, |p, m| m::attestation::raw_for_attestation(p, after_id, limit).await)
    }

    /// Replaces the attestations of raw rows (by id) in one transaction, marking the series
    /// pages they show on changed.
    pub async fn set_attestations(&self, rows: &[(i64, Attestation)]) -> Result<()> {
        on_backend!(self.pool, |p, m| m::attestation::set_attestations(p, rows).await)
    }
}
