//! What a message is, from mail shaped like the real cases: a maintainer's "applied" answer
//! quotes the patch's diff but is not a patch.

use quire_mail::{MessageKind, parse};

fn with_diff(subject: &str) -> Vec<u8> {
    format!(
        "From: Mark <broonie@example.org>\nSubject: {subject}\nMessage-Id: <a@example.org>\nDate: Mon, 4 Mar 2024 09:00:00 +0000\n\nThe patch\n\n   spi: fix x\n\nhas been applied to the spi tree.\n\n---\n x.c | 1 +\n\ndiff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -1 +1,2 @@\n a\n+b\n"
    )
    .into_bytes()
}

#[test]
fn an_applied_notice_with_the_diff_is_not_a_patch() {
    for subject in [
        "Applied \"spi: fix x\" to the spi tree",
        "applied: [PATCH] spi: fix x",
        "Applied, thanks: spi: fix x",
    ] {
        assert_eq!(parse(&with_diff(subject)).kind, MessageKind::Reply, "{subject}");
    }
    for subject in ["[PATCH] spi: applied the fix", "Appliedness: a patch"] {
        assert_eq!(parse(&with_diff(subject)).kind, MessageKind::Patch, "{subject}");
    }
}

/// A patch sent as an attachment of a type that does not say "patch" (Thunderbird and webmail
/// send `application/octet-stream`, base64 encoded): `git mailinfo` reads the diff from it.
fn attached(content_type: &str, file: &[u8]) -> Vec<u8> {
    let encoded = base64(file);
    format!(
        "From: Dev <dev@example.org>\nSubject: [PATCH] x: fix y\nMessage-Id: <att@example.org>\nDate: Mon, 4 Mar 2024 09:00:00 +0000\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nThe fix is attached.\n\n--b\nContent-Type: {content_type}; name=\"0001-x-fix-y\"\nContent-Disposition: attachment; filename=\"0001-x-fix-y\"\nContent-Transfer-Encoding: base64\n\n{encoded}\n--b--\n"
    )
    .into_bytes()
}

const ATTACHED_PATCH: &str = "From 1234 Mon Sep 17 00:00:00 2001\nFrom: Dev <dev@example.org>\nSubject: [PATCH] x: fix y\n\nFix y.\n\nSigned-off-by: Dev <dev@example.org>\n---\n x.c | 1 +\n\ndiff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -1 +1,2 @@\n a\n+b\n";

#[test]
fn a_patch_in_an_octet_stream_attachment_is_a_patch() {
    let m = parse(&attached("application/octet-stream", ATTACHED_PATCH.as_bytes()));
    assert_eq!(m.kind, MessageKind::Patch);
    let diff = m.diff.expect("the attached diff");
    assert_eq!(diff.files.len(), 1);
    assert_eq!(diff.files[0].path, "x.c");
    assert_eq!(diff.files[0].insertions, 1);
}

#[test]
fn binary_and_picture_attachments_are_not_read_for_diffs() {
    // A picture whose bytes happen to hold diff lines, and a binary file with NUL bytes.
    let m = parse(&attached("image/png", ATTACHED_PATCH.as_bytes()));
    assert_eq!(m.kind, MessageKind::Reply);
    let mut binary = b"\x00\x01ELF".to_vec();
    binary.extend_from_slice(ATTACHED_PATCH.as_bytes());
    let m = parse(&attached("application/octet-stream", &binary));
    assert_eq!(m.kind, MessageKind::Reply);
    assert!(m.diff.is_none());
}

fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
        if out.len() % 77 == 76 {
            out.push('\n');
        }
    }
    out
}
