//! Attestation of mail signed here with the tests' own keys: DKIM signed with mail-auth's
//! signer and verified against key records the test pins (nothing reaches the network), patatt
//! signed the way patatt signs (re-implemented below, with `git mailinfo` as patatt runs it) and
//! verified against keys in a keyring directory and in a project's tree.

use base64::Engine as _;
use mail_auth::common::crypto::Ed25519Key;
use mail_auth::common::headers::HeaderWriter as _;
use mail_auth::dkim::DkimSigner;
use quire_attest::{DkimKeys, Keyring, Keyrings, Verifier};
use quire_store::{AttestationLevel, SignatureResult};
use ring::signature::KeyPair as _;
use sha2::Digest as _;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A patch mail as `git format-patch` writes it, from Ann at example.org, through a list.
fn patch_mail(subject: &str, body_line: &str) -> String {
    format!(
        "From: Ann Author <ann@example.org>\nTo: devel@lists.example.net\nSubject: [PATCH 1/2] {subject}\n\
         Date: Mon, 2 Mar 2026 10:00:00 +0000\nMessage-ID: <p1@example.org>\n\
         List-Id: Devel list <devel.lists.example.net>\n\n\
         Fix the frobnicator.\n\nSigned-off-by: Ann Author <ann@example.org>\n---\n f.c | 2 +-\n\n\
         diff --git a/f.c b/f.c\n--- a/f.c\n+++ b/f.c\n@@ -1 +1 @@\n-a\n+{body_line}\n"
    )
}

/// An ed25519 DKIM key: the signer and the TXT record DNS would publish.
fn dkim_key() -> (Ed25519Key, String) {
    let pkcs8 = Ed25519Key::generate_pkcs8().expect("key");
    let key = Ed25519Key::from_pkcs8_der(&pkcs8).expect("key");
    let record = format!("v=DKIM1; k=ed25519; p={}", B64.encode(key.public_key()));
    (key, record)
}

fn dkim_sign(key: Ed25519Key, domain: &str, selector: &str, mail: &str) -> String {
    let sig = DkimSigner::from_key(key)
        .domain(domain)
        .selector(selector)
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
        .sign(mail.as_bytes())
        .expect("sign");
    format!("{}{mail}", sig.to_header())
}

fn verifier(dkim: DkimKeys, keyrings: Vec<Keyring>) -> Verifier {
    Verifier::new(Some(dkim), Keyrings::new(keyrings))
}

#[tokio::test]
async fn dkim_of_the_senders_domain_verifies_and_a_changed_body_is_bad() {
    let (key, record) = dkim_key();
    let signed = dkim_sign(key, "example.org", "s2026", &patch_mail("frob: fix", "b"));
    let keys = DkimKeys::offline();
    keys.add_key("s2026", "example.org", &record).expect("record");
    let v = verifier(keys, vec![]);

    let a = v.attest(signed.as_bytes()).await;
    assert_eq!(a.level, AttestationLevel::SenderDomain, "{a:?}");
    assert_eq!(a.label(), "signed by the sender's domain");
    assert_eq!(a.dkim[0].result, SignatureResult::Pass);
    assert!(a.dkim_checked);

    let changed = signed.replace("+b\n", "+evil\n");
    let a = v.attest(changed.as_bytes()).await;
    assert_eq!(a.level, AttestationLevel::Bad, "{a:?}");
    assert!(a.summary.contains("body changed"), "{}", a.summary);
}

#[tokio::test]
async fn a_list_that_changes_the_body_and_signs_again_is_signed_by_the_list_only() {
    let (sender_key, sender_record) = dkim_key();
    let (list_key, list_record) = dkim_key();
    let sent = dkim_sign(sender_key, "example.org", "a", &patch_mail("frob: fix", "b"));
    // The list appends its footer (breaking the sender's signature) and signs what it sends.
    let footer = format!("{sent}_______________\nDevel mailing list\n");
    let delivered = dkim_sign(list_key, "lists.example.net", "list", &footer);
    let keys = DkimKeys::offline();
    keys.add_key("a", "example.org", &sender_record).expect("record");
    keys.add_key("list", "lists.example.net", &list_record).expect("record");
    let a = verifier(keys, vec![]).attest(delivered.as_bytes()).await;
    assert_eq!(a.level, AttestationLevel::ListOnly, "{a:?}");
    assert_eq!(a.label(), "signed by the list only");
    assert!(
        a.summary.contains("lists.example.net") && a.summary.contains("example.org"),
        "{}",
        a.summary
    );
}

#[tokio::test]
async fn without_dns_a_key_not_pinned_is_not_checked_and_no_signature_is_none() {
    let (key, _) = dkim_key();
    let signed = dkim_sign(key, "example.org", "s1", &patch_mail("frob: fix", "b"));
    let a = verifier(DkimKeys::offline(), vec![]).attest(signed.as_bytes()).await;
    assert_eq!(a.level, AttestationLevel::Unverified, "{a:?}");
    assert_eq!(a.dkim[0].result, SignatureResult::NotChecked);
    // An import that does not verify DKIM records the signature as not checked.
    let plain = Verifier::new(None, Keyrings::new(vec![]));
    let a = plain.attest(signed.as_bytes()).await;
    assert_eq!((a.level, a.dkim_checked), (AttestationLevel::Unverified, false), "{a:?}");
    let a = plain.attest(patch_mail("frob: fix", "b").as_bytes()).await;
    assert_eq!(a.level, AttestationLevel::None);
    assert_eq!(a.label(), "none");
}

// ----- patatt, re-implemented from its description (DKIM relaxed/simple over git mailinfo) -----

fn relaxed(v: &str) -> String {
    let v: String = v.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    format!("{}\r\n", v.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// `git mailinfo --encoding=utf-8 --no-scissors` as patatt runs it: (message, patch, info).
fn git_mailinfo(mail: &str) -> (String, String, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let mut child = std::process::Command::new("git")
        .args(["mailinfo", "--encoding=utf-8", "--no-scissors", "m", "p"])
        .current_dir(dir.path())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("git");
    use std::io::Write as _;
    child.stdin.take().expect("stdin").write_all(mail.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("mailinfo");
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).expect("read");
    (read("m"), read("p"), String::from_utf8(out.stdout).expect("utf-8"))
}

/// Signs `mail` as `patatt sign` does with the ed25519 key `kp`, for `identity`.
fn patatt_sign(mail: &str, kp: &ring::signature::Ed25519KeyPair, identity: &str) -> String {
    let (m, p, i) = git_mailinfo(mail);
    let mut body = String::new();
    for line in format!("{m}{p}").trim_end_matches(['\r', '\n']).split('\n') {
        body.push_str(line.trim_end_matches(['\r', '\n']));
        body.push_str("\r\n");
    }
    let info: Vec<(String, String)> = i
        .trim_end()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_lowercase(), v.trim().to_string()))
        .collect();
    let get =
        |k: &str| info.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let (head, _) = mail.split_once("\n\n").expect("headers");
    let mut hashed = sha2::Sha256::new();
    for name in ["from", "subject", "message-id"] {
        let line = head
            .lines()
            .find(|l| l.to_lowercase().starts_with(&format!("{name}:")))
            .expect("header");
        let value = match name {
            "from" => format!(" {} <{}>", get("author"), get("email")),
            "subject" => format!(" {}", get("subject")),
            _ => line.split_once(':').expect(":").1.to_string(),
        };
        hashed.update(format!("{name}:{}", relaxed(&value)));
    }
    let bh = B64.encode(sha2::Sha256::digest(body.as_bytes()));
    let dshval = format!(
        "v=1; a=ed25519-sha256; t=1772445600; l={}; i={identity}; h=from:subject:message-id; bh={bh}; b=",
        body.len()
    );
    hashed.update(format!("x-developer-signature:{dshval}"));
    let digest = hashed.finalize();
    let mut signed = kp.sign(&digest).as_ref().to_vec();
    signed.extend_from_slice(&digest);
    let b = B64.encode(&signed);
    // Folded the way patatt's header comes out: split at 75, continuation lines indented.
    let (b1, b2) = b.split_at(73);
    let header = format!(
        "X-Developer-Signature: {}\n {b1}\n {b2}\nX-Developer-Key: i={identity}; a=ed25519;\n pk={}\n",
        dshval.replace("; bh=", ";\n bh="),
        B64.encode(kp.public_key().as_ref())
    );
    let (head, body) = mail.split_once("\n\n").expect("headers");
    format!("{head}\n{header}\n{body}")
}

fn ed25519() -> ring::signature::Ed25519KeyPair {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).expect("key");
    ring::signature::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("key")
}

fn keyring_with(dir: &std::path::Path, kp: &ring::signature::Ed25519KeyPair) {
    let at = dir.join("ed25519/example.org/ann/default");
    std::fs::create_dir_all(at.parent().expect("parent")).expect("mkdir");
    std::fs::write(at, format!("{}\n", B64.encode(kp.public_key().as_ref()))).expect("write");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patatt_signature_verifies_with_the_keyring_and_changes_are_bad() {
    let kp = ed25519();
    let signed = patatt_sign(&patch_mail("frob: fix", "b"), &kp, "ann@example.org");
    let dir = tempfile::tempdir().expect("tmp");
    keyring_with(dir.path(), &kp);
    let v = verifier(DkimKeys::offline(), vec![Keyring::Dir(dir.path().to_path_buf())]);

    let a = v.attest(signed.as_bytes()).await;
    assert_eq!(a.level, AttestationLevel::SenderKey, "{a:?}");
    assert_eq!(a.label(), "signed by the sender's key");
    let s = &a.patatt[0];
    assert_eq!(
        (s.identity.as_str(), s.result),
        ("ann@example.org", SignatureResult::Pass),
        "{s:?}"
    );
    assert!(s.key.as_deref().unwrap_or("").ends_with("ed25519/example.org/ann/default"));

    // The patch changed in transit.
    let a = v.attest(signed.replace("+b\n", "+evil\n").as_bytes()).await;
    assert_eq!(a.level, AttestationLevel::Bad, "{a:?}");
    assert!(a.summary.contains("body changed"), "{}", a.summary);
    // The subject changed: a signed header.
    let a = v.attest(signed.replace("frob: fix", "frob: break").as_bytes()).await;
    assert_eq!(a.level, AttestationLevel::Bad, "{a:?}");
    assert!(a.summary.contains("signed headers changed"), "{}", a.summary);
    // Another key in the keyring: the signature does not match it.
    let other = tempfile::tempdir().expect("tmp");
    keyring_with(other.path(), &ed25519());
    let v2 = verifier(DkimKeys::offline(), vec![Keyring::Dir(other.path().to_path_buf())]);
    assert_eq!(v2.attest(signed.as_bytes()).await.level, AttestationLevel::Bad);
    // No key at all: not verified, not bad.
    let v3 = verifier(DkimKeys::offline(), vec![]);
    let a = v3.attest(signed.as_bytes()).await;
    assert_eq!(
        (a.level, a.patatt[0].result),
        (AttestationLevel::Unverified, SignatureResult::NoKey)
    );
    // openpgp is reported, not checked.
    let pgp = signed.replace("a=ed25519-sha256", "a=openpgp-sha256");
    let a = v.attest(pgp.as_bytes()).await;
    assert_eq!(a.patatt[0].result, SignatureResult::Unsupported, "{a:?}");
    assert_eq!(a.level, AttestationLevel::Unverified);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patatt_keys_are_read_from_the_projects_tree() {
    let kp = ed25519();
    let signed = patatt_sign(&patch_mail("frob: fix", "b"), &kp, "ann@example.org");
    let tmp = tempfile::tempdir().expect("tmp");
    let work = tmp.path().join("work");
    keyring_with(&work.join(".keys"), &kp);
    let git = |dir: &std::path::Path, args: &[&str]| {
        let ok = std::process::Command::new("git")
            .args([
                "-c",
                "user.name=T",
                "-c",
                "user.email=t@example.org",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .status()
            .expect("git")
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&work, &["init", "--quiet"]);
    git(&work, &["add", "."]);
    git(&work, &["commit", "--quiet", "-m", "keys"]);
    let bare = tmp.path().join("mirror.git");
    git(
        tmp.path(),
        &["clone", "--quiet", "--bare", &work.to_string_lossy(), &bare.to_string_lossy()],
    );
    let tree = Keyring::Tree { repo: bare.clone(), rev: "refs/heads/main".into() };
    let a = verifier(DkimKeys::offline(), vec![tree]).attest(signed.as_bytes()).await;
    assert_eq!(a.level, AttestationLevel::SenderKey, "{a:?}");
    assert!(
        a.patatt[0].key.as_deref().unwrap_or("").contains(".keys/ed25519/example.org/ann/default")
    );
}
