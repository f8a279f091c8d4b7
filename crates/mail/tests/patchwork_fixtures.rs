//! Patchwork's parser fixtures (../shared/corpus/patchwork-mail) against what EXPECTED.md says and
//! what golden.json recorded of Patchwork's own parser. Where Patchwork is wrong, quire does
//! better and the test says so.

use quire_mail::{MessageKind, parse};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/patchwork-mail")
}

fn golden() -> Value {
    serde_json::from_slice(&std::fs::read(corpus().join("golden.json")).unwrap()).unwrap()
}

/// The message of a one-message mbox file, without its `From ` envelope line.
fn message(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap();
    match raw.strip_prefix(b"From ") {
        Some(_) => raw.splitn(2, |&b| b == b'\n').nth(1).unwrap_or(b"").to_vec(),
        None => raw,
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

#[test]
fn every_mail_fixture_parses_as_patchwork_says() {
    let golden = golden();
    let mut checked = 0;
    for (file, g) in golden["mail"].as_object().unwrap() {
        let m = parse(&message(&corpus().join("mail").join(file)));
        let pw = &g["parse_mail"];
        let diff_present = g["find_patch_content"]["diff_present"].as_bool().unwrap();
        // Diff found or not, and where it starts.
        assert_eq!(m.diff.is_some(), diff_present, "{file}: diff presence");
        if let Some(d) = &m.diff {
            // golden.json keeps the first 120 characters of a line.
            let want = g["find_patch_content"]["diff_first_line"].as_str().unwrap();
            assert!(first_line(&d.text).starts_with(want), "{file}: {:?}", first_line(&d.text));
        }
        // Pull requests: the URL (and branch) Patchwork finds.
        match g["find_patch_content"]["pull_url"].as_str() {
            Some(url) => {
                let p = m.pull.as_ref().unwrap_or_else(|| panic!("{file}: pull request not found"));
                let ours = if p.branch.is_empty() {
                    p.url.clone()
                } else {
                    format!("{} {}", p.url, p.branch)
                };
                assert_eq!(ours, url, "{file}");
                assert_eq!(m.kind, MessageKind::PullRequest, "{file}");
            }
            None => assert!(m.pull.is_none(), "{file}: no pull request"),
        }
        // Subject analysis.
        assert_eq!(
            m.subject_info.version as i64,
            g["version"].as_i64().unwrap(),
            "{file}: version"
        );
        let marker = &g["series_marker"];
        assert_eq!(m.subject_info.number.map(i64::from), marker[0].as_i64(), "{file}: n");
        assert_eq!(m.subject_info.total.map(i64::from), marker[1].as_i64(), "{file}: m");
        assert_eq!(
            m.subject_info.is_reply,
            g["is_reply_subject"].as_bool().unwrap(),
            "{file}: reply"
        );
        // The comment (body) starts where Patchwork's does.
        let body_first = g["find_patch_content"]["message_first_line"].as_str().unwrap_or("");
        if !body_first.is_empty() && file != "0010-invalid-charset.mbox" {
            let ours = first_line(m.body.trim_start_matches('\n')).trim_end();
            assert!(ours.starts_with(body_first.trim_end()), "{file}: body starts {ours:?}");
        }
        // What Patchwork stored it as.
        if pw["type"] == "Patch" {
            let (name, email) =
                (pw["submitter"][0].as_str().unwrap(), pw["submitter"][1].as_str().unwrap());
            assert_eq!(m.from.email, email, "{file}");
            if !name.contains('\u{fffd}') {
                assert_eq!(m.from.name, name, "{file}");
            }
            assert!(
                matches!(m.kind, MessageKind::Patch | MessageKind::PullRequest),
                "{file}: {:?}",
                m.kind
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 26);
}

/// `0014`: raw UTF-8 bytes in the headers. Patchwork stores U+FFFD; quire decodes them.
#[test]
fn unencoded_utf8_headers_decode_better_than_patchwork() {
    let m = parse(&message(&corpus().join("mail/0014-with-unencoded-utf8-headers.mbox")));
    assert_eq!(m.from.name, "Rafał Miłecki");
    assert!(m.subject.ends_with("Rafał Miłecki"), "{}", m.subject);
    let m = parse(&message(&corpus().join("mail/0013-with-utf8-body.mbox")));
    assert_eq!(m.from.name, "Rafał Miłecki");
}

/// `0025`-`0027`: Patchwork's binary diffs swallow git's `-- ` signature (so 0025 and 0027 get
/// the same hash). quire ends the diff before it.
#[test]
fn binary_diffs_end_before_the_signature_unlike_patchwork() {
    for file in [
        "0025-git-add-binary-file.mbox",
        "0026-git-add-mixed-binary-text-files.mbox",
        "0027-git-modify-binary-file.mbox",
    ] {
        let m = parse(&message(&corpus().join("mail").join(file)));
        let d = m.diff.unwrap_or_else(|| panic!("{file}: no diff"));
        assert!(d.text.contains("GIT binary patch\n"), "{file}");
        assert!(!d.text.contains("\n-- \n"), "{file}: the signature is not part of the diff");
        assert!(d.files.iter().any(|f| f.binary), "{file}");
    }
    // 0026: quit.sh's `new file mode` and `index` lines stay in the diff (Patchwork moves them
    // into the comment).
    let m = parse(&message(&corpus().join("mail/0026-git-add-mixed-binary-text-files.mbox")));
    let d = m.diff.unwrap();
    assert!(d.text.contains("diff --git quit.sh quit.sh\nnew file mode"), "{}", d.text);
    assert!(!m.body.contains("new file mode"));
    let paths: Vec<&str> = d.files.iter().map(|f| f.path.as_str()).collect();
    assert_eq!(paths, ["pixel.bmp", "quit.sh"]);
}

#[test]
fn renames_mode_changes_and_empty_files_are_diffs() {
    let m = parse(&message(&corpus().join("mail/0008-git-rename.mbox")));
    let d = m.diff.unwrap();
    assert_eq!(d.text.matches("\nrename from ").count(), 2);
    assert_eq!(d.text.matches("\nrename to ").count(), 2);
    assert_eq!(d.files.len(), 2);
    assert!(d.files.iter().all(|f| f.status == quire_mail::FileStatus::Renamed));
    let m = parse(&message(&corpus().join("mail/0009-git-rename-with-diff.mbox")));
    assert_eq!(m.diff.unwrap().text.matches("\n-a\n+b").count(), 1);
    let m = parse(&message(&corpus().join("mail/0022-git-mode-change.mbox")));
    assert_eq!(m.diff.unwrap().files[0].status, quire_mail::FileStatus::ModeChanged);
    let m = parse(&message(&corpus().join("mail/0021-git-empty-new-file.mbox")));
    assert_eq!(m.diff.unwrap().files[0].status, quire_mail::FileStatus::Added);
}

#[test]
fn no_newline_markers_stay_in_the_diff_only() {
    let m = parse(&message(&corpus().join("mail/0011-no-newline-at-end-of-file.mbox")));
    let d = m.diff.unwrap();
    assert!(d.text.trim_end().ends_with("\\ No newline at end of file"));
    assert_eq!(d.text.matches("\\ No newline at end of file").count(), 2);
    assert!(!m.body.trim_end().ends_with("\\ No newline at end of file"));
}

#[test]
fn html_parts_are_ignored_when_there_is_plain_text() {
    for file in ["0019-multipart-patch.mbox", "0020-multipart-comment.mbox"] {
        let m = parse(&message(&corpus().join("mail").join(file)));
        assert!(!m.body.contains("<div"), "{file}");
        assert!(!m.body.is_empty(), "{file}");
    }
}

#[test]
fn cvs_index_diffs_and_bogus_charsets() {
    let m = parse(&message(&corpus().join("mail/0007-cvs-format-diff.mbox")));
    assert!(m.diff.as_ref().unwrap().text.starts_with("Index"));
    assert_eq!(m.list_id.as_deref(), Some("linux-mips"));
    let m = parse(&message(&corpus().join("mail/0010-invalid-charset.mbox")));
    assert!(m.diff.is_some());
    assert!(m.body.contains("This patch, relative to a tree with"));
}

#[test]
fn crlf_pull_requests_still_parse() {
    let m = parse(&message(&corpus().join("historical/0018-git-pull-request-crlf-newlines.mbox")));
    let p = m.pull.unwrap();
    assert_eq!(
        format!("{} {}", p.url, p.branch),
        "git://git.kernel.org/pub/scm/linux/kernel/git/benh/powerpc.git next"
    );
    assert_eq!(m.diff, None);
}

/// Patchwork's fuzzed mails: the only requirement upstream is "does not crash"; quire also gives
/// every one a Message-ID and flags what was wrong.
#[test]
fn fuzzed_mails_never_crash_and_always_have_an_id() {
    let dir = corpus().join("fuzz");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let m = parse(&message(&path));
        assert!(!m.message_id.is_empty(), "{}", path.display());
        n += 1;
    }
    assert_eq!(n, 17);
    // codec-null: a charset name with NULs; Patchwork still made a patch of it, so does quire.
    let m = parse(&message(&dir.join("codec-null.mbox")));
    assert_eq!(m.kind, MessageKind::Patch);
    assert_eq!(m.subject_info.name, "net: ieee802154: remove explicit set skb->sk");
    let m = parse(&message(&dir.join("msgid-len.mbox")));
    assert!(m.message_id.len() <= 998);
}

#[test]
fn messages_without_a_message_id_get_a_stable_one_and_are_flagged() {
    let raw = message(&corpus().join("mail/0008-git-rename.mbox"));
    let a = parse(&raw);
    assert!(a.message_id_generated);
    assert!(a.message_id.ends_with("@quire.invalid"));
    assert_eq!(a.message_id, parse(&raw).message_id);
    assert!(a.problems.iter().any(|p| p == "no Message-ID"));
}

#[test]
fn binary_junk_and_huge_headers_are_unparsable_not_fatal() {
    let junk: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 24) as u8).collect();
    let m = parse(&junk);
    assert!(!m.message_id.is_empty());
    let mut big = b"Subject: x\n".to_vec();
    big.extend(
        std::iter::repeat_n(b"X-Junk: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n".as_slice(), 60_000)
            .flatten(),
    );
    big.extend(b"\nbody\n");
    let m = parse(&big);
    assert_eq!(m.kind, MessageKind::Unparsable);
    assert!(m.problems[0].contains("headers of"), "{:?}", m.problems);
    assert_eq!(parse(b"").kind, MessageKind::Unparsable);
}

#[test]
fn bare_patches_are_diffs_from_their_first_line() {
    for (file, hash) in [("0001-add-line.patch", "meep.text"), ("0002-utf-8.patch", "meep.text")] {
        let text = std::fs::read_to_string(corpus().join("patches").join(file)).unwrap();
        let mail = format!(
            "From: A <a@b.c>\nSubject: [PATCH] x\nMessage-Id: <p@x>\nContent-Type: text/plain; charset=utf-8\n\nTest for attached patch\n{text}"
        );
        let m = parse(mail.as_bytes());
        assert_eq!(m.diff.as_ref().unwrap().text, text, "{file}");
        assert_eq!(m.diff.unwrap().files[0].path, hash);
        assert_eq!(m.body.trim(), "Test for attached patch");
    }
}

/// The messages of an mbox file, split at `From ` lines after a blank line (the fixtures' own
/// separators), without their envelope lines.
fn mbox_messages(path: &Path) -> Vec<Vec<u8>> {
    let raw = std::fs::read(path).unwrap();
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut previous_blank = true;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") && previous_blank {
            out.push(Vec::new());
        } else if let Some(m) = out.last_mut() {
            m.extend_from_slice(line);
        }
        previous_blank = line == b"\n" || line == b"\r\n";
    }
    out
}

/// Patchwork's `hash` of every fixture with a diff: the single mails, the series' patches and
/// the bare diffs, as golden.json recorded them from Patchwork's own `hash_diff`.
#[test]
fn patchwork_hashes_are_patchworks_own() {
    let golden = golden();
    let mut checked = 0;
    for (file, g) in golden["mail"].as_object().unwrap() {
        let m = parse(&message(&corpus().join("mail").join(file)));
        let ours = m.diff.as_ref().and_then(|d| d.patchwork_hash.clone());
        let want = g["find_patch_content"]["hash_diff"].as_str();
        assert_eq!(ours.as_deref(), want, "{file}");
        checked += usize::from(want.is_some());
    }
    for (file, g) in golden["series"].as_object().unwrap() {
        let path = corpus().join("series").join(file);
        if !path.is_file() {
            continue;
        }
        let messages = mbox_messages(&path);
        for gm in g["messages"].as_array().unwrap() {
            let Some(want) = gm["result"]["hash"].as_str() else { continue };
            let want_id = gm["msgid"].as_str().unwrap().trim_matches(['<', '>']);
            let m = messages
                .iter()
                .map(|raw| parse(raw))
                .find(|m| m.message_id == want_id)
                .unwrap_or_else(|| panic!("{file}: no message {want_id}"));
            let ours = m.diff.as_ref().and_then(|d| d.patchwork_hash.clone());
            assert_eq!(ours.as_deref(), Some(want), "{file}: {want_id}");
            checked += 1;
        }
    }
    for (file, g) in golden["patches"].as_object().unwrap() {
        let text = std::fs::read_to_string(corpus().join("patches").join(file)).unwrap();
        let ours = quire_mail::diff::patchwork_hash(&text);
        assert_eq!(ours.as_deref(), g["hash_diff"].as_str(), "{file}");
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} hashes compared");
}
