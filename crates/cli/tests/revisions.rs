//! Revisions from the user's side (issue 25): `quire import` of mail shaped like each case, then
//! `quire series show` and `quire am`, on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use common::*;
use serde_json::Value;

const DIFF: &str =
    "---\n f.c | 1 +\n\ndiff --git a/f.c b/f.c\n--- a/f.c\n+++ b/f.c\n@@ -1 +1,2 @@\n a\n+";

/// One message of an mbox: `parent` is In-Reply-To; `diff` a line the patch adds.
fn mail(
    id: &str,
    parent: Option<&str>,
    from: &str,
    day: u32,
    subject: &str,
    body: &str,
    diff: Option<&str>,
) -> String {
    let mut m = format!(
        "From mboxrd@z Thu Jan  1 00:00:00 1970\nFrom: {from}\nSubject: {subject}\nMessage-ID: <{id}>\nDate: Mon, {day} Mar 2024 10:00:00 +0000\n"
    );
    if let Some(p) = parent {
        m.push_str(&format!("In-Reply-To: <{p}>\nReferences: <{p}>\n"));
    }
    m.push_str(&format!("\n{body}\n"));
    if let Some(line) = diff {
        m.push_str(&format!("\nSigned-off-by: {from}\n{DIFF}{line}\n"));
    }
    m.push('\n');
    m
}

fn import(site: &Site, mails: &[String]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.mbox");
    std::fs::write(&path, mails.concat()).unwrap();
    site.ok(&["import", path.to_str().unwrap()]);
}

fn show(site: &Site, id: &str) -> Value {
    site.json(&["series", "show", id, "--json"])
}

const ANN: &str = "Ann Dev <ann@x.org>";

both_backends!(a_partial_reroll_is_complete_with_the_patch_and_trailers_it_takes, |site: Site| {
    import(
        &site,
        &[
            mail("c2@x", None, ANN, 4, "[PATCH v2 0/2] io_uring: poll fixes", "Two fixes.", None),
            mail(
                "p1@x",
                Some("c2@x"),
                ANN,
                4,
                "[PATCH v2 1/2] io_uring: fix poll race",
                "Fix it.",
                Some("one"),
            ),
            mail(
                "p2@x",
                Some("c2@x"),
                ANN,
                4,
                "[PATCH v2 2/2] io_uring: drop poll ref",
                "Drop it.",
                Some("two"),
            ),
            mail(
                "r1@x",
                Some("p1@x"),
                "Rev Iewer <rev@y.org>",
                5,
                "Re: [PATCH v2 1/2] io_uring: fix poll race",
                "Reviewed-by: Rev Iewer <rev@y.org>",
                None,
            ),
            mail(
                "q2@x",
                Some("p2@x"),
                ANN,
                6,
                "[PATCH v3 2/2] io_uring: drop poll ref",
                "Drop it, v3.",
                Some("three"),
            ),
        ],
    );
    let v3 = show(&site, "q2@x");
    assert_eq!(v3["version"], 3);
    assert_eq!(v3["complete"], true);
    let patches = v3["patches"].as_array().unwrap();
    assert_eq!(patches.len(), 2, "{v3:#}");
    assert_eq!(patches[0]["message_id"], "p1@x");
    assert_eq!(patches[0]["from_revision"], 2);
    assert_eq!(patches[0]["trailers"][0]["email"], "rev@y.org");
    assert_eq!(patches[1]["message_id"], "q2@x");
    assert_eq!(v3["revisions"].as_array().unwrap().len(), 2);

    let out = tempfile::tempdir().unwrap();
    let mbox = out.path().join("v3.mbox");
    let (_, said) = site.ok_with_stderr(&["am", "q2@x", "-o", mbox.to_str().unwrap()]);
    assert!(said.contains("2 patch(es)"), "{said}");
    let written = std::fs::read_to_string(&mbox).unwrap();
    assert!(written.contains("Subject: [PATCH v3 1/2] io_uring: fix poll race"), "{written}");
    assert!(written.contains("Reviewed-by: Rev Iewer <rev@y.org>"), "{written}");
    assert!(written.contains("Subject: [PATCH v3 2/2] io_uring: drop poll ref"), "{written}");
    let text = site.ok(&["series", "show", "q2@x"]);
    assert!(text.contains("(taken from v2)"), "{text}");
});

both_backends!(
    revisions_of_other_threads_are_linked_by_change_id_subjects_and_supersedes,
    |site: Site| {
        let change =
            "---\nbase-commit: 1234567890abcdef\nchange-id: 20240301-poll-fixes-0a1b2c3d4e5f";
        import(
            &site,
            &[
                // b4's change-id, the cover subject changed between v1 and v2.
                mail(
                    "b1@x",
                    None,
                    ANN,
                    1,
                    "[PATCH 0/1] io_uring: poll fixes",
                    &format!("v1.\n\n{change}"),
                    None,
                ),
                mail(
                    "b1p@x",
                    Some("b1@x"),
                    ANN,
                    1,
                    "[PATCH 1/1] io_uring: fix poll",
                    "x",
                    Some("b1"),
                ),
                mail(
                    "b2@x",
                    None,
                    ANN,
                    8,
                    "[PATCH v2 0/1] io_uring: poll races",
                    &format!("v2.\n\n{change}"),
                    None,
                ),
                mail(
                    "b2p@x",
                    Some("b2@x"),
                    ANN,
                    8,
                    "[PATCH v2 1/1] io_uring: fix poll",
                    "x",
                    Some("b2"),
                ),
                // The same patches from the same person's new address, under another cover subject.
                mail("s1@x", None, ANN, 2, "[PATCH 0/2] net: tidy", "v1", None),
                mail("s1a@x", Some("s1@x"), ANN, 2, "[PATCH 1/2] net: drop a", "x", Some("s1a")),
                mail("s1b@x", Some("s1@x"), ANN, 2, "[PATCH 2/2] net: drop b", "x", Some("s1b")),
                mail(
                    "s2@x",
                    None,
                    "Ann Dev <ann@work.example>",
                    9,
                    "[PATCH v2 0/2] net: cleanups",
                    "v2",
                    None,
                ),
                mail(
                    "s2a@x",
                    Some("s2@x"),
                    "Ann Dev <ann@work.example>",
                    9,
                    "[PATCH v2 1/2] net: drop a",
                    "x",
                    Some("s2a"),
                ),
                mail(
                    "s2b@x",
                    Some("s2@x"),
                    "Ann Dev <ann@work.example>",
                    9,
                    "[PATCH v2 2/2] net: drop b",
                    "x",
                    Some("s2b"),
                ),
                // Another person's series of the same patch subjects: not a revision of Ann's.
                mail(
                    "o2@x",
                    None,
                    "Bob Other <bob@z.org>",
                    10,
                    "[PATCH v2 0/2] net: more cleanups",
                    "mine",
                    None,
                ),
                mail(
                    "o2a@x",
                    Some("o2@x"),
                    "Bob Other <bob@z.org>",
                    10,
                    "[PATCH v2 1/2] net: drop a",
                    "x",
                    Some("o2a"),
                ),
                mail(
                    "o2b@x",
                    Some("o2@x"),
                    "Bob Other <bob@z.org>",
                    10,
                    "[PATCH v2 2/2] net: drop b",
                    "x",
                    Some("o2b"),
                ),
                // Patchew's Supersedes: in the cover letter, everything else changed.
                mail("u1@x", None, "Carl <carl@c.org>", 3, "[PATCH 0/1] fs: one way", "v1", None),
                mail(
                    "u1p@x",
                    Some("u1@x"),
                    "Carl <carl@c.org>",
                    3,
                    "[PATCH 1/1] fs: do it one way",
                    "x",
                    Some("u1"),
                ),
                mail(
                    "u2@x",
                    None,
                    "Carl <carl@c.org>",
                    11,
                    "[PATCH v2 0/1] fs: another way",
                    "v2\n\nSupersedes: <u1p@x>",
                    None,
                ),
                mail(
                    "u2p@x",
                    Some("u2@x"),
                    "Carl <carl@c.org>",
                    11,
                    "[PATCH v2 1/1] fs: do it another way",
                    "x",
                    Some("u2"),
                ),
            ],
        );
        let linked = |head: &str, before: &str, link: &str| {
            let s = show(&site, head);
            let revs: Vec<&str> = s["revisions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["message_id"].as_str().unwrap())
                .collect();
            assert_eq!(revs, [before, head], "{s:#}");
            assert_eq!(s["revision_link"], link, "{s:#}");
            assert_eq!(show(&site, before)["superseded_by"], head);
        };
        linked("b2@x", "b1@x", "change-id");
        linked("s2@x", "s1@x", "patch-subjects");
        linked("u2@x", "u1@x", "supersedes");
        let bob = show(&site, "o2@x");
        assert_eq!(bob["revisions"].as_array().unwrap().len(), 1, "{bob:#}");
        let text = site.ok(&["series", "show", "b2@x"]);
        assert!(text.contains("linked to the one before by change-id"), "{text}");

        // A reindex links them the same way.
        site.ok(&["reindex"]);
        linked("s2@x", "s1@x", "patch-subjects");
    }
);

both_backends!(a_patch_attached_as_octet_stream_is_a_patch, |site: Site| {
    let m = "From mboxrd@z Thu Jan  1 00:00:00 1970\nFrom: Ann Dev <ann@x.org>\nSubject: [PATCH] f: fix\nMessage-ID: <att@x>\nDate: Mon, 4 Mar 2024 10:00:00 +0000\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nPatch attached.\n\n--b\nContent-Type: application/octet-stream; name=\"fix\"\nContent-Disposition: attachment; filename=\"fix\"\n\nFix f.\n\nSigned-off-by: Ann Dev <ann@x.org>\n---\n f.c | 1 +\n\ndiff --git a/f.c b/f.c\n--- a/f.c\n+++ b/f.c\n@@ -1 +1,2 @@\n a\n+b\n\n--b--\n\n";
    import(&site, &[m.to_string()]);
    let s = show(&site, "att@x");
    assert_eq!(s["patches"].as_array().unwrap().len(), 1, "{s:#}");
    assert_eq!(s["complete"], true);
});
