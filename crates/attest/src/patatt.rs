//! patatt signatures (`X-Developer-Signature`, `X-Developer-Key`): DKIM's header and body hashing
//! over the mail as `git mailinfo` reads it, signed with the developer's own key. Verified the
//! way patatt 0.7 verifies them (its `DevsigHeader.validate` and `PatattMessage.git_canonicalize`):
//!
//! - the mail is split into header lines and body; the body and the `From:`/`Subject:` are
//!   replaced by what `git mailinfo --encoding=utf-8 --no-scissors` makes of the mail (decoded,
//!   in-body From:/Subject: applied, the subject cleaned as `git am` does);
//! - the body is the commit message and the patch, each line ending in CRLF, trailing blank
//!   lines dropped; `bh=` is its SHA-256;
//! - the headers named by `h=` (from and subject at least) are taken bottom-up, each
//!   canonicalized "relaxed", followed by the signature header itself up to `b=`; their SHA-256
//!   is the message signed;
//! - ed25519: `b=` is NaCl's signed message (64-byte signature, then the 32-byte digest);
//!   openpgp and openssh are reported as unsupported.
//!
//! Keys are looked up as patatt does: `<source>/ed25519/<domain>/<local>/<selector>`, the
//! parts lowercased and URL-quoted, in a keyring directory or under `.keys/` in a project's tree.

use base64::Engine as _;
use quire_store::{DeveloperSignature, SignatureResult};
use sha2::{Digest, Sha256};

use crate::keyring::Keyrings;

const DEVSIG: &str = "x-developer-signature";

/// A mail split as patatt splits it: header lines (folded lines kept with their header, line
/// ends kept) and the body after the first empty line.
struct Split<'a> {
    headers: Vec<&'a [u8]>,
    body: &'a [u8],
    lf: &'a [u8],
}

fn split(raw: &[u8]) -> Option<Split<'_>> {
    let mut headers: Vec<&[u8]> = Vec::new();
    let mut pos = 0;
    while pos < raw.len() {
        let end = raw[pos..].iter().position(|&b| b == b'\n').map_or(raw.len(), |i| pos + i + 1);
        let line = &raw[pos..end];
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            return Some(Split { headers, body: &raw[end..], lf: line });
        }
        if matches!(line[0], b' ' | b'\t') {
            let last = headers.last_mut()?;
            // Folded: the previous header grows to include this line (they are adjacent).
            let start = last.as_ptr() as usize - raw.as_ptr() as usize;
            *last = &raw[start..end];
        } else {
            headers.push(line);
        }
        pos = end;
    }
    None
}

fn header_name(line: &[u8]) -> Option<(String, &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = String::from_utf8_lossy(&line[..colon]).trim().to_ascii_lowercase();
    Some((name, &line[colon + 1..]))
}

/// True when the mail carries an `X-Developer-Signature` header (cheap: headers only).
pub fn is_signed(raw: &[u8]) -> bool {
    split(raw)
        .is_some_and(|s| s.headers.iter().any(|h| header_name(h).is_some_and(|(n, _)| n == DEVSIG)))
}

/// DKIM's "relaxed" header value, as patatt writes it: line breaks removed, runs of white space
/// one space, trimmed, CRLF at the end. (Encoded words are decoded by patatt first only for
/// `?q?`; quire's signatures of interest are ASCII.)
fn relaxed(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 2);
    let mut space = false;
    for &b in value.iter().filter(|b| !matches!(b, b'\r' | b'\n')) {
        if b.is_ascii_whitespace() {
            space = true;
            continue;
        }
        if space && !out.is_empty() {
            out.push(b' ');
        }
        space = false;
        out.push(b);
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// One parsed signature header: its canonical value and its tags.
struct DevSig {
    hval: Vec<u8>,
    tags: Vec<(String, String)>,
}

impl DevSig {
    fn parse(value: &[u8]) -> DevSig {
        let hval = relaxed(value);
        let squeezed: Vec<u8> = hval.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
        let mut tags = Vec::new();
        for chunk in squeezed.split(|&b| b == b';') {
            if let Some(eq) = chunk.iter().position(|&b| b == b'=') {
                let k = String::from_utf8_lossy(&chunk[..eq]).into_owned();
                let v = String::from_utf8_lossy(&chunk[eq + 1..]).into_owned();
                tags.retain(|(t, _): &(String, String)| *t != k);
                tags.push((k, v));
            }
        }
        DevSig { hval, tags }
    }

    fn tag(&self, name: &str) -> Option<&str> {
        self.tags.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// What `git mailinfo` made of the mail: the canonical body, the canonical identity (its
/// `Email:`) and the `From:`/`Subject:` values to sign.
pub struct MailInfo {
    pub message: Vec<u8>,
    pub patch: Vec<u8>,
    /// `Author:`, `Email:`, `Subject:` ... lines as mailinfo prints them.
    pub info: String,
}

/// Runs `git mailinfo` on a mail (see [`crate::mailinfo`]).
pub type MailInfoFn<'a> = &'a dyn Fn(&[u8]) -> Result<MailInfo, String>;

/// The body patatt hashes: message and patch, CRLF line ends, trailing line ends dropped.
pub fn canonical_body(info: &MailInfo) -> Vec<u8> {
    let mut all = info.message.clone();
    all.extend_from_slice(&info.patch);
    while matches!(all.last(), Some(b'\r' | b'\n')) {
        all.pop();
    }
    let mut out = Vec::with_capacity(all.len() + 64);
    for line in all.split(|&b| b == b'\n') {
        let mut l = line;
        while matches!(l.last(), Some(b'\r' | b'\n')) {
            l = &l[..l.len() - 1];
        }
        out.extend_from_slice(l);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn info_fields(info: &str) -> Vec<(String, String)> {
    info.trim_end_matches(['\r', '\n'])
        .split('\n')
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

/// The From: address of the mail (for a signature without `i=`).
fn from_address(split: &Split<'_>) -> Option<String> {
    let (_, value) =
        split.headers.iter().filter_map(|h| header_name(h)).find(|(n, _)| n == "from")?;
    let text = String::from_utf8_lossy(value);
    let text = text.trim();
    let addr = match (text.rfind('<'), text.rfind('>')) {
        (Some(a), Some(b)) if a < b => &text[a + 1..b],
        _ => text,
    };
    Some(addr.trim().to_string()).filter(|a| a.contains('@'))
}

/// Verifies every `X-Developer-Signature` of `raw`. Empty when there is none.
pub fn verify(raw: &[u8], keys: &Keyrings, mailinfo: MailInfoFn<'_>) -> Vec<DeveloperSignature> {
    let Some(split) = split(raw) else { return Vec::new() };
    let sigs: Vec<DevSig> = split
        .headers
        .iter()
        .filter_map(|h| header_name(h))
        .filter(|(n, _)| n == DEVSIG)
        .map(|(_, v)| DevSig::parse(v))
        .collect();
    if sigs.is_empty() {
        return Vec::new();
    }
    let from = from_address(&split);
    // patatt hands mailinfo the message with LF line ends.
    let mut payload: Vec<u8> = split.headers.concat();
    payload.extend_from_slice(split.lf);
    payload.extend_from_slice(split.body);
    let payload = crlf_to_lf(&payload);
    let canon = mailinfo(&payload);
    sigs.iter().map(|s| verify_one(s, &split, from.as_deref(), &canon, keys)).collect()
}

fn crlf_to_lf(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\r' && b.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn verify_one(
    sig: &DevSig,
    split: &Split<'_>,
    from: Option<&str>,
    canon: &Result<MailInfo, String>,
    keys: &Keyrings,
) -> DeveloperSignature {
    let identity =
        sig.tag("i").map(str::to_string).or(from.map(str::to_string)).unwrap_or_default();
    let algorithm = sig.tag("a").unwrap_or("").to_string();
    let selector = sig.tag("s").filter(|s| !s.is_empty()).unwrap_or("default").to_string();
    let mut out = DeveloperSignature {
        identity: identity.clone(),
        algorithm: algorithm.clone(),
        selector: selector.clone(),
        result: SignatureResult::Malformed,
        key: None,
        detail: String::new(),
    };
    if algorithm.is_empty() || identity.is_empty() {
        out.detail = "no algorithm (a=) or identity (i=) in the signature".into();
        return out;
    }
    if !algorithm.starts_with("ed25519") {
        out.result = SignatureResult::Unsupported;
        out.detail = format!("{algorithm} signatures are not verified by quire (ed25519 only)");
        return out;
    }
    let Some((key, source)) = keys.ed25519(&identity, &selector) else {
        out.result = SignatureResult::NoKey;
        out.detail = format!("no ed25519 key for {identity} (selector {selector}) in the keyrings");
        return out;
    };
    out.key = Some(source);
    let canon = match canon {
        Ok(c) => c,
        Err(e) => {
            out.detail = format!("git mailinfo could not read the mail: {e}");
            return out;
        }
    };
    match check(sig, split, canon, &key) {
        Ok(()) => out.result = SignatureResult::Pass,
        Err(Bad::Malformed(why)) => out.detail = why,
        Err(Bad::Fail(why)) => {
            out.result = SignatureResult::Fail;
            out.detail = why;
        }
    }
    out
}

enum Bad {
    Malformed(String),
    Fail(String),
}

fn check(sig: &DevSig, split: &Split<'_>, canon: &MailInfo, key: &[u8]) -> Result<(), Bad> {
    let fields = info_fields(&canon.info);
    let field =
        |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str()).unwrap_or("");
    // The headers as patatt signs them: From:/Subject: as mailinfo understood them.
    let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
    for h in &split.headers {
        let Some((name, value)) = header_name(h) else { continue };
        let value = match name.as_str() {
            "from" => format!(" {} <{}>", field("author"), field("email")).into_bytes(),
            "subject" => format!(" {}", field("subject")).into_bytes(),
            _ => value.to_vec(),
        };
        headers.push((name, value));
    }
    headers.reverse();
    let signed = sig.tag("h").ok_or_else(|| Bad::Malformed("no h= in the signature".into()))?;
    let list: Vec<&str> = signed.split(':').map(str::trim).collect();
    for required in ["from", "subject"] {
        if !list.contains(&required) {
            return Err(Bad::Fail(format!("{required} is not among the signed headers")));
        }
    }
    let mut hashed = Sha256::new();
    for name in list {
        if let Some(at) = headers.iter().position(|(n, _)| n == name) {
            let (n, v) = headers.remove(at);
            hashed.update(n.as_bytes());
            hashed.update(b":");
            hashed.update(relaxed(&v));
        }
    }
    let body = canonical_body(canon);
    let b64 = base64::engine::general_purpose::STANDARD;
    let bh = b64.encode(Sha256::digest(&body));
    if sig.tag("bh") != Some(bh.as_str()) {
        return Err(Bad::Fail("the body changed after it was signed (bh= differs)".into()));
    }
    if sig.tag("t").is_none_or(str::is_empty) {
        return Err(Bad::Malformed("no t= in an ed25519 signature".into()));
    }
    let at =
        rfind(&sig.hval, b"b=").ok_or_else(|| Bad::Malformed("no b= in the signature".into()))?;
    hashed.update(DEVSIG.as_bytes());
    hashed.update(b":");
    hashed.update(&sig.hval[..at + 2]);
    let digest = hashed.finalize();
    let bdata: Vec<u8> =
        sig.hval[at + 2..].iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    let signed = b64.decode(&bdata).map_err(|_| Bad::Malformed("b= is not base64".into()))?;
    if signed.len() < 64 {
        return Err(Bad::Malformed("b= is too short for an ed25519 signature".into()));
    }
    if key.len() != 32 {
        return Err(Bad::Malformed("the ed25519 key is not 32 bytes".into()));
    }
    ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, key)
        .verify(&signed[64..], &signed[..64])
        .map_err(|_| Bad::Fail("the signature does not match the key".into()))?;
    if signed[64..] != digest[..] {
        return Err(Bad::Fail("the signed headers changed after they were signed".into()));
    }
    Ok(())
}

fn rfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).rposition(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_headers_stay_with_their_header() {
        let raw =
            b"From: a@b\nX-Developer-Signature: v=1; a=ed25519-sha256;\n t=1\nSubject: s\n\nbody\n";
        let s = split(raw).expect("split");
        assert_eq!(s.headers.len(), 3);
        assert_eq!(s.headers[1], b"X-Developer-Signature: v=1; a=ed25519-sha256;\n t=1\n");
        assert_eq!(s.body, b"body\n");
        assert!(is_signed(raw));
        assert!(!is_signed(b"From: a@b\n\nX-Developer-Signature: in the body\n"));
    }

    #[test]
    fn relaxed_values_collapse_space_and_end_in_crlf() {
        assert_eq!(relaxed(b"  a\n\t b  c \n"), b"a b c\r\n");
        let s = DevSig::parse(b" v=1; a=ed25519-sha256;\n bh=x/Y=; b=AA\n BB\n");
        assert_eq!(s.tag("bh"), Some("x/Y="));
        assert_eq!(s.tag("b"), Some("AABB"));
        assert_eq!(s.hval, b"v=1; a=ed25519-sha256; bh=x/Y=; b=AA BB\r\n");
    }

    #[test]
    fn the_canonical_body_ends_lines_in_crlf_and_drops_trailing_blank_lines() {
        let info = MailInfo {
            message: b"Fix.\n\n".to_vec(),
            patch: b"---\n+x\n\n\n".to_vec(),
            info: String::new(),
        };
        assert_eq!(canonical_body(&info), b"Fix.\r\n\r\n---\r\n+x\r\n");
    }
}
