//! Every Message-ID of the real list archives becomes a tag name git accepts, and comes back.
mod common;

use flate2::read::GzDecoder;
use quire_git::{message_id_from_ref_name, ref_name_for_message_id};
use std::collections::BTreeSet;
use std::io::Read as _;

fn corpus(name: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/").to_string() + name;
    let mut bytes = Vec::new();
    GzDecoder::new(std::fs::File::open(&path).expect("corpus file"))
        .read_to_end(&mut bytes)
        .expect("gunzip");
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The Message-ID header values (unfolded) of an mbox.
fn message_ids(mbox: &str) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut lines = mbox.lines().peekable();
    while let Some(line) = lines.next() {
        let Some((name, value)) = line.split_once(':') else { continue };
        if !name.eq_ignore_ascii_case("message-id") {
            continue;
        }
        let mut value = value.trim().to_string();
        while let Some(next) = lines.peek().filter(|l| l.starts_with(' ') || l.starts_with('\t')) {
            value.push_str(next.trim());
            lines.next();
        }
        let id = value.trim().trim_start_matches('<').trim_end_matches('>').to_string();
        if !id.is_empty() {
            ids.insert(id);
        }
    }
    ids
}

/// Creates one tag per id in a fresh repository with a single `git update-ref --stdin`
/// transaction (git validates every name), then reads the names back.
fn round_trip_through_git(ids: &BTreeSet<String>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path();
    common::sh(repo, &["init", "--quiet"]);
    common::sh(repo, &["commit", "--quiet", "--allow-empty", "-m", "root"]);
    let head = common::sh(repo, &["rev-parse", "HEAD"]);
    let script: String = ids
        .iter()
        .map(|id| format!("create refs/tags/quire/{} {head}\n", ref_name_for_message_id(id)))
        .collect();
    let script_path = tmp.path().join("script");
    std::fs::write(&script_path, script).expect("write");
    let out = std::process::Command::new("git")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args(["update-ref", "--stdin"])
        .current_dir(repo)
        .stdin(std::fs::File::open(&script_path).expect("open"))
        .output()
        .expect("git update-ref");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listed = common::sh(repo, &["for-each-ref", "--format=%(refname)", "refs/tags/quire/"]);
    let back: BTreeSet<String> = listed
        .lines()
        .map(|r| {
            let name = r.strip_prefix("refs/tags/quire/").expect("prefix");
            message_id_from_ref_name(name).expect("decodes")
        })
        .collect();
    assert_eq!(&back, ids);
}

#[test]
fn io_uring_message_ids_are_valid_tag_names_and_decode_back() {
    let ids = message_ids(&corpus("io-uring-2019-2021.8k.mbox.gz"));
    assert!(ids.len() > 7000, "{}", ids.len());
    // The kernel test robot's ids hold a `%`: encoded too, so that decoding stays exact.
    assert!(ids.contains("202001242024.G3dRihh2%lkp@intel.com"));
    assert_eq!(
        ref_name_for_message_id("202001242024.G3dRihh2%lkp@intel.com"),
        "202001242024.G3dRihh2%25lkp@intel.com"
    );
    round_trip_through_git(&ids);
}

#[test]
fn ltp_message_ids_are_valid_tag_names_and_decode_back() {
    let ids = message_ids(&corpus("ltp-2019-2020.4k.mbox.gz"));
    assert!(ids.len() > 3500, "{}", ids.len());
    // Outlook's ids hold `$`, which we encode (outside the kept set) although git would take it.
    let id = "015a01d56486$6c905050$45b0f0f0$@jv-coder.de";
    assert!(ids.contains(id));
    assert_eq!(ref_name_for_message_id(id), "015a01d56486%246c905050%2445b0f0f0%24@jv-coder.de");
    round_trip_through_git(&ids);
}
