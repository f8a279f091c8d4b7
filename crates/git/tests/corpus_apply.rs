//! Real patch mails, written as `quire am` writes them (render_mbox), applied with `apply` on a
//! tree rebuilt from the lines each diff expects to find (its context and removed lines).
mod common;

use common::*;
use flate2::read::GzDecoder;
use quire_git::{ApplyRequest, ApplyResult, apply};
use quire_series::am::{AmOptions, AmPatch, render_mbox};
use std::collections::BTreeMap;
use std::io::Read as _;

fn corpus_messages(name: &str) -> Vec<quire_mail::ParsedMessage> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/").to_string() + name;
    let mut data = Vec::new();
    GzDecoder::new(std::fs::File::open(&path).expect("corpus"))
        .read_to_end(&mut data)
        .expect("gunzip");
    let mut msgs: Vec<Vec<u8>> = Vec::new();
    let mut prev_blank = true;
    for line in data.split_inclusive(|&b| b == b'\n') {
        if prev_blank && line.starts_with(b"From ") {
            msgs.push(Vec::new());
        } else if let Some(m) = msgs.last_mut() {
            m.extend_from_slice(
                line.strip_prefix(b">").filter(|l| l.starts_with(b"From ")).unwrap_or(line),
            );
        }
        prev_blank = line.trim_ascii().is_empty();
    }
    msgs.iter().map(|raw| quire_mail::parse(raw)).collect()
}

/// The files a git diff expects before it applies: path -> its hunks' context and `-` lines.
/// `None` for diffs this simple rebuild cannot serve (renames, binaries, no-newline markers).
fn preimage(diff: &str) -> Option<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    let mut current: Option<String> = None;
    let mut in_hunk = false;
    for line in diff.lines() {
        if let Some(rest) = line.strip_prefix("diff --git a/") {
            let path = rest.split(" b/").next()?.to_string();
            files.insert(path.clone(), String::new());
            current = Some(path);
            in_hunk = false;
        } else if line.starts_with("new file mode") {
            files.remove(current.as_ref()?);
            current = None;
        } else if line.starts_with("rename ")
            || line.starts_with("copy ")
            || line.starts_with("GIT binary")
            || line.starts_with("Binary files")
            || line.starts_with('\\')
        {
            return None;
        } else if line.starts_with("@@") {
            in_hunk = true;
        } else if in_hunk && let Some(file) = current.as_ref().and_then(|c| files.get_mut(c)) {
            match line.chars().next() {
                Some(' ') | Some('-') => {
                    file.push_str(&line[1..]);
                    file.push('\n');
                }
                None => file.push('\n'),
                _ => {}
            }
        }
    }
    Some(files)
}

/// The address of a `From: Name <addr>` first body line.
fn in_body_from(body: &str) -> Option<String> {
    let first = body.lines().find(|l| !l.trim().is_empty())?;
    let rest = first.strip_prefix("From:")?;
    let addr = rest.rsplit_once('<').map_or(rest, |(_, a)| a.trim_end_matches('>'));
    Some(addr.trim().to_string())
}

#[test]
fn ltp_patch_mails_rendered_by_quire_am_apply_with_git_am() {
    let mut candidates: Vec<(quire_mail::ParsedMessage, BTreeMap<String, String>)> =
        corpus_messages("ltp-2019-2020.4k.mbox.gz")
            .into_iter()
            .filter(|m| m.subject_info.number.unwrap_or(1) >= 1 && !m.subject_info.is_reply)
            .filter_map(|m| {
                let d = m.diff.as_ref()?;
                if !d.text.starts_with("diff --git") {
                    return None;
                }
                let pre = preimage(&d.text)?;
                Some((m, pre))
            })
            .collect();
    candidates.truncate(40);
    assert_eq!(candidates.len(), 40);

    let world = World::new();
    let mut bases = Vec::new();
    for (i, (_, files)) in candidates.iter().enumerate() {
        sh(&world.upstream, &["rm", "-r", "-q", "--ignore-unmatch", "."]);
        for (path, text) in files {
            let full = world.upstream.join(path);
            std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            std::fs::write(&full, text).expect("write");
        }
        sh(&world.upstream, &["add", "-A"]);
        sh(&world.upstream, &["commit", "-q", "--allow-empty", "-m", &format!("preimage {i}")]);
        bases.push(world.head());
    }
    let mirror = mirror(&world);
    let mut failed = Vec::new();
    for ((m, _), base) in candidates.iter().zip(&bases) {
        let patch = AmPatch { message: m, number: 1, total: 1, version: 1, trailers: &[] };
        let mbox = render_mbox(&[patch], &AmOptions::default());
        let req = ApplyRequest { mbox, base_override: Some(base.clone()), ..Default::default() };
        let out = apply(&mirror, &req).expect("apply runs");
        match &out.result {
            ApplyResult::Applied { commit, commits } => {
                assert_eq!(*commits, 1);
                // The author is the mail's sender, or the in-body `From:` when the patch was
                // sent on someone's behalf (as git am reads it).
                let author = sh(mirror.dir(), &["log", "-1", "--format=%ae", commit]);
                let expected = in_body_from(&m.body).unwrap_or_else(|| m.from.email.clone());
                assert_eq!(author, expected, "{}", m.message_id);
            }
            ApplyResult::Failed { message, .. } => {
                failed.push(format!("{}: {message}", m.message_id))
            }
        }
    }
    assert!(failed.is_empty(), "{} of 40 failed:\n{}", failed.len(), failed.join("\n"));
}
