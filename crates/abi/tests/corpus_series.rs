//! A real series from the io-uring list archive: "[PATCH v2 1/2] io_uring: add 'cq_flags'
//! field for the CQ ring" (2020) turned `__u64 resv[2]` of `struct io_cqring_offsets` into
//! `flags`, `resv1`, `resv2`. Same size, same offsets for everything that existed: the
//! reserved bytes were put to use, which is how UAPI structs grow without breaking anyone.
//!
//! The patch is taken from the archive as posted and applied in reverse to the io_uring.h of
//! this machine (linux-libc-dev), which contains it: before = without the patch, after = with.
mod common;

use std::io::Read;

use common::Repo;
use quire_abi::{AbiConfig, LayoutChange, TypeStatus, check_revisions};

const ARCHIVE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus/io-uring-2019-2021.8k.mbox.gz");
const MESSAGE_ID: &str = "<20200515163805.235098-2-sgarzare@redhat.com>";
const HEADER: &str = "include/uapi/linux/io_uring.h";

/// The body of the message with that Message-ID, mboxrd `>From ` quoting undone.
fn message_body(archive: &str, message_id: &str) -> String {
    let mut bytes = Vec::new();
    let file = std::fs::File::open(archive).unwrap_or_else(|e| panic!("{archive}: {e}"));
    flate2::read::GzDecoder::new(file).read_to_end(&mut bytes).expect("gzip archive");
    // Some messages of the archive are Latin-1; this one is 8-bit UTF-8, kept intact.
    let text = String::from_utf8_lossy(&bytes);
    let needle = format!("\nmessage-id: {}", message_id.to_ascii_lowercase());
    let lower = text.to_ascii_lowercase();
    let at = lower.find(&needle).unwrap_or_else(|| panic!("{message_id} not in the archive"));
    let start = text[..at].rfind("\nFrom ").map_or(0, |i| i + 1);
    let end = text[at..].find("\nFrom ").map_or(text.len(), |i| at + i + 1);
    let message = &text[start..end];
    let body = message.split_once("\n\n").map_or("", |(_, body)| body);
    body.lines()
        .map(|l| {
            if l.trim_start_matches('>').starts_with("From ") && l.starts_with('>') {
                &l[1..]
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The part of the patch touching one file, up to the next file or the signature.
fn file_diff(body: &str, path: &str) -> String {
    let marker = format!("diff --git a/{path} b/{path}");
    let start = body.find(&marker).unwrap_or_else(|| panic!("patch does not touch {path}"));
    let rest = &body[start..];
    let end = [rest[1..].find("\ndiff --git ").map(|i| i + 1), rest.find("\n-- \n")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(rest.len());
    format!("{}\n", &rest[..end])
}

#[test]
fn io_uring_cq_flags_takes_reserved_bytes_without_breaking() {
    let installed = std::fs::read_to_string("/usr/include/linux/io_uring.h")
        .expect("/usr/include/linux/io_uring.h: apt-get install linux-libc-dev");
    let diff = file_diff(&message_body(ARCHIVE, MESSAGE_ID), HEADER);
    assert!(diff.contains("-\t__u64 resv[2];"), "{diff}");

    let repo = Repo::new();
    let with_patch = repo.commit("io_uring.h as installed", &[(HEADER, &installed)]);
    std::fs::write(repo.path().join("cq_flags.diff"), &diff).expect("write patch");
    repo.git(&["apply", "-R", "cq_flags.diff"]);
    std::fs::remove_file(repo.path().join("cq_flags.diff")).expect("remove patch");
    let without_patch = repo.commit("without 'add cq_flags field for the CQ ring'", &[]);

    // The UAPI header includes <linux/types.h> and friends from the machine, which carries
    // asm/ for x86_64 only.
    let cfg = AbiConfig {
        headers: vec!["include/uapi/**/*.h".to_owned()],
        targets: vec!["x86_64".to_owned()],
        ..AbiConfig::default()
    };
    let report =
        check_revisions(repo.path(), &without_patch, &with_patch, &cfg).expect("check runs");
    assert_eq!(report.headers, vec![HEADER]);
    let x86 = report.configuration("x86_64", &[]).expect("built");
    assert!(x86.failures.is_empty(), "{:?}", x86.failures);
    assert_eq!(x86.types.len(), 1, "only the struct the patch touched: {:?}", x86.types);
    let offsets = &x86.types[0];
    assert_eq!(offsets.name, "struct io_cqring_offsets");
    assert_eq!(offsets.status, TypeStatus::Changed);
    assert_eq!(offsets.before, offsets.after, "size and alignment kept");
    assert_eq!(offsets.after.map(|s| (s.size, s.alignment)), Some((40, 8)));
    let inner: Vec<&LayoutChange> = offsets
        .changes
        .iter()
        .map(|c| match c {
            LayoutChange::InReservedBytes { inner } => inner.as_ref(),
            other => panic!("not within reserved bytes: {other:?}"),
        })
        .collect();
    assert!(
        inner
            .iter()
            .any(|c| matches!(c, LayoutChange::MemberRemoved { member } if member.name == "resv"))
    );
    assert!(inner.iter().any(|c| matches!(c, LayoutChange::MemberAdded { member } if member.name == "flags" && member.offset == 24)));
    assert!(!offsets.breaking);
    assert!(!report.is_breaking());
    assert!(report.to_text().contains("flags added (in reserved bytes)"), "{}", report.to_text());
}
