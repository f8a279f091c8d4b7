//! Patchwork's series fixtures (../shared/corpus/patchwork-mail/series): every file gives the
//! series Patchwork's tests assert (golden.json), and where Patchwork is wrong quire does better.

use quire_mail::parse;
use quire_series::{MessageMeta, Role, assemble, meta_from_parsed};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/patchwork-mail")
}

/// The messages of an mbox file (each `From ` line after a blank line starts one).
fn mbox(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap();
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut prev_blank = true;
    for line in data.split_inclusive(|&b| b == b'\n') {
        if prev_blank && line.starts_with(b"From ") {
            out.push(Vec::new());
        } else if let Some(m) = out.last_mut() {
            m.extend_from_slice(line);
        }
        prev_blank = line.trim_ascii().is_empty();
    }
    out
}

fn metas(file: &str) -> Vec<MessageMeta> {
    mbox(&corpus().join("series").join(file))
        .iter()
        .map(|raw| meta_from_parsed(&parse(raw)))
        .collect()
}

/// (version, total, has cover letter, patches received, complete) of every series, sorted.
type Shape = (u32, u32, bool, usize, bool);

fn ours(file: &str) -> Vec<Shape> {
    let a = assemble(&metas(file));
    let mut v: Vec<Shape> = a
        .series
        .iter()
        .map(|s| (s.version, s.total, s.cover_letter.is_some(), s.patches.len(), s.complete))
        .collect();
    v.sort();
    v
}

#[test]
fn every_series_fixture_groups_as_patchwork_asserts() {
    let golden: Value =
        serde_json::from_slice(&std::fs::read(corpus().join("golden.json")).unwrap()).unwrap();
    let mut checked = 0;
    for (file, g) in golden["series"].as_object().unwrap() {
        if !file.ends_with(".mbox") {
            continue; // a two-project scenario, not a fixture file
        }
        let mut theirs: Vec<Shape> = g["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let total = s["total"].as_u64().unwrap() as u32;
                let received = s["received_total"].as_u64().unwrap() as usize;
                (
                    s["version"].as_u64().unwrap() as u32,
                    total,
                    !s["cover_msgid"].is_null(),
                    received,
                    s["received_all"].as_bool().unwrap(),
                )
            })
            .collect();
        theirs.sort();
        assert_eq!(ours(file), theirs, "{file}");
        checked += 1;
    }
    assert_eq!(checked, 28);
}

#[test]
fn the_order_of_arrival_does_not_matter() {
    for entry in std::fs::read_dir(corpus().join("series")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("mbox") {
            continue;
        }
        let file = path.file_name().unwrap().to_str().unwrap();
        let mut m = metas(file);
        let forward = assemble(&m);
        m.reverse();
        assert_eq!(assemble(&m), forward, "{file}");
    }
}

#[test]
fn revisions_share_a_key_and_the_cover_letter_names_the_series() {
    for file in [
        "revision-basic.mbox",
        "revision-threaded-to-cover.mbox",
        "revision-threaded-to-patch.mbox",
        "revision-out-of-order.mbox",
    ] {
        let a = assemble(&metas(file));
        assert_eq!(a.series.len(), 2, "{file}");
        assert_eq!(a.series[0].revision_key, a.series[1].revision_key, "{file}");
        assert_eq!(a.series[0].name, "A sample series", "{file}");
        assert_eq!(a.series[0].version, 1);
        assert_eq!(a.series[1].version, 2);
    }
}

/// EXPECTED.md (bugs-mixed-versions): "if the v2 mail replied to the v1 1/2, upstream would
/// wrongly put it into series 1 as #2". quire keeps versions apart.
#[test]
fn a_v2_patch_replying_to_v1_is_not_merged_into_v1_unlike_patchwork() {
    let mut m = metas("bugs-mixed-versions.mbox");
    let v1_patch = m.iter().find(|x| x.subject_info.version == 1).unwrap().message_id.clone();
    for x in m.iter_mut().filter(|x| x.subject_info.version == 2) {
        x.in_reply_to = Some(v1_patch.clone());
        x.references = vec![v1_patch.clone()];
    }
    let a = assemble(&m);
    assert_eq!(a.series.len(), 2);
    assert!(a.series.iter().all(|s| s.patches.len() == 1));
    // ...and the v2 counts as a revision of the v1 it answers.
    assert_eq!(a.series[0].revision_key, a.series[1].revision_key);
}

#[test]
fn replies_hang_under_the_series_they_answer() {
    let a = assemble(&metas("base-cover-letter.mbox"));
    let head = &a.series[0].head;
    assert!(a.members.iter().all(|(_, h, _)| h == head));
    assert_eq!(a.members.iter().filter(|(_, _, r)| *r == Role::CoverLetter).count(), 1);
}
