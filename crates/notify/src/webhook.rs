//! Webhooks: the event as JSON, POSTed with `X-Quire-Signature: sha256=<hex HMAC-SHA256 of the
//! body, keyed with the webhook's secret>`, `X-Quire-Event` and `X-Quire-Delivery` (the same for
//! every attempt of one delivery, so a receiver can drop repeats).

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// `sha256=<hex>` of `body` under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        // HMAC takes keys of any length; this arm is never taken.
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The JSON a webhook receives.
pub fn body(
    delivery_id: i64,
    e: &quire_store::Event,
    names: &[&str],
    series_url: Option<&str>,
) -> String {
    serde_json::json!({
        "delivery": delivery_id,
        "event": {
            "id": e.id,
            "kind": e.kind,
            "names": names,
            "project": e.project,
            "series_head": e.series_head,
            "message_id": e.message_id,
            "payload": e.payload,
            "created": e.created,
        },
        "series_url": series_url,
    })
    .to_string()
}

/// Why a POST did not go through.
#[derive(Debug)]
pub struct PostError {
    /// The receiver refused it in a way that retrying will not change (a 4xx other than 408
    /// and 429).
    pub permanent: bool,
    pub message: String,
}

/// POSTs `body` (blocking: call from `spawn_blocking`). Redirects are not followed.
pub fn post(
    url: &str,
    secret: &[u8],
    body: &str,
    event: &str,
    delivery_id: i64,
    timeout: Duration,
) -> Result<(), PostError> {
    let agent = ureq::AgentBuilder::new().timeout(timeout).redirects(0).build();
    let response = agent
        .post(url)
        .set("Content-Type", "application/json")
        .set("User-Agent", concat!("quire/", env!("CARGO_PKG_VERSION")))
        .set("X-Quire-Event", event)
        .set("X-Quire-Delivery", &delivery_id.to_string())
        .set("X-Quire-Signature", &signature(secret, body.as_bytes()))
        .send_string(body);
    match response {
        Ok(r) if (200..300).contains(&r.status()) => Ok(()),
        Ok(r) => Err(PostError {
            permanent: false,
            message: format!("{url} answered {} {}", r.status(), r.status_text()),
        }),
        Err(ureq::Error::Status(code, r)) => Err(PostError {
            permanent: (400..500).contains(&code) && code != 408 && code != 429,
            message: format!("{url} answered {code} {}", r.status_text()),
        }),
        Err(e) => Err(PostError { permanent: false, message: format!("{url}: {e}") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_rfc_4231_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
