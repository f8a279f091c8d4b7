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
