//! The real list archives in ../shared/corpus: every message parses without a panic, gets a
//! Message-ID, and every patch's patch-id is what `git patch-id --stable` says.

use flate2::read::GzDecoder;
use quire_mail::{MessageKind, parse};
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};

/// The messages of an mboxrd archive (a small splitter for the test; quire-import has the real
/// reader).
fn messages(file: &str) -> Vec<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus").join(file);
    let mut data = Vec::new();
    GzDecoder::new(std::fs::File::open(path).unwrap()).read_to_end(&mut data).unwrap();
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut prev_blank = true;
    for line in data.split_inclusive(|&b| b == b'\n') {
        if prev_blank && line.starts_with(b"From ") {
            out.push(Vec::new());
        } else if let Some(m) = out.last_mut() {
            let unquoted = if line.starts_with(b">")
                && line.iter().skip_while(|&&b| b == b'>').take(5).eq(b"From ".iter())
            {
                &line[1..]
            } else {
                line
            };
            m.extend_from_slice(unquoted);
        }
        prev_blank = line == b"\n" || line == b"\r\n";
    }
    out
}

fn check_slice(file: &str, expected_messages: usize) {
    let msgs = messages(file);
    assert_eq!(msgs.len(), expected_messages, "{file}: envelopes");
    let mut kinds = std::collections::BTreeMap::new();
    let mut diffs = Vec::new();
    for raw in &msgs {
        let m = parse(raw);
        assert!(!m.message_id.is_empty());
        *kinds.entry(format!("{:?}", m.kind)).or_insert(0) += 1;
        if m.kind == MessageKind::Patch {
            let d = m.diff.unwrap();
            if d.text.starts_with("diff --git") {
                diffs.push(d);
            }
        }
    }
    eprintln!("{file}: {kinds:?}");
    assert!(kinds.get("Patch").copied().unwrap_or(0) > expected_messages / 5, "{file}: {kinds:?}");
    assert!(kinds.get("Unparsable").copied().unwrap_or(0) < 5, "{file}: {kinds:?}");

    // git patch-id --stable over the same diffs, in one process.
    let sample: Vec<_> = diffs.iter().step_by((diffs.len() / 400).max(1)).collect();
    let mut input = Vec::new();
    for (i, d) in sample.iter().enumerate() {
        writeln!(input, "commit {:040x}", i + 1).unwrap();
        input.extend_from_slice(d.text.as_bytes());
    }
    let mut git = Command::new("git")
        .args(["patch-id", "--stable"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = git.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = git.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let theirs: std::collections::HashMap<usize, String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (pid, commit) = l.split_once(' ')?;
            Some((usize::from_str_radix(commit, 16).ok()? - 1, pid.to_string()))
        })
        .collect();
    let mut same = 0;
    for (i, d) in sample.iter().enumerate() {
        if let Some(pid) = theirs.get(&i) {
            assert_eq!(&d.patch_id, pid, "{file}: patch {i} ({} files)", d.files.len());
            same += 1;
        }
    }
    eprintln!("{file}: {same} patch-ids equal to git's");
    assert!(
        same >= sample.len() * 9 / 10,
        "{file}: only {same} of {} patch-ids checked",
        sample.len()
    );
}

#[test]
fn ltp_slice() {
    check_slice("ltp-2019-2020.4k.mbox.gz", 4000);
}

#[test]
fn io_uring_slice() {
    check_slice("io-uring-2019-2021.8k.mbox.gz", 8000);
}
