//! Parses both real list archives (mboxrd .mbox.gz) and prints messages/s.
//! Run: `cargo bench -p quire-mail --bench parse`.

use std::io::Read;
use std::time::Instant;

const SLICES: [&str; 2] = ["io-uring", "ltp"];

/// Splits an mboxrd archive on its `From ` separator lines and unquotes `>From ` lines.
fn split_mboxrd(data: &[u8]) -> Vec<Vec<u8>> {
    let mut messages = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    for line in data.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") {
            if let Some(m) = current.take() {
                messages.push(m);
            }
            current = Some(Vec::new());
            continue;
        }
        let Some(m) = current.as_mut() else { continue };
        let quoted = line
            .iter()
            .position(|&b| b != b'>')
            .is_some_and(|i| i > 0 && line[i..].starts_with(b"From "));
        m.extend_from_slice(if quoted { &line[1..] } else { line });
    }
    messages.extend(current);
    messages
}

fn main() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    paths.retain(|p| p.to_string_lossy().ends_with(".mbox.gz"));
    paths.sort();
    if paths.is_empty() {
        eprintln!("no .mbox.gz under {dir} (expected {SLICES:?})");
        return;
    }
    for path in paths {
        let mut data = Vec::new();
        let Ok(file) = std::fs::File::open(&path) else { continue };
        if let Err(e) = flate2::read::GzDecoder::new(file).read_to_end(&mut data) {
            eprintln!("{}: {e}", path.display());
            continue;
        }
        let messages = split_mboxrd(&data);
        let bytes: usize = messages.iter().map(Vec::len).sum();
        let start = Instant::now();
        let mut patches = 0usize;
        for m in &messages {
            if quire_mail::parse(m).diff.is_some() {
                patches += 1;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{}: {} messages ({} with a diff, {:.1} MB) in {:.3} s: {:.0} messages/s, {:.1} MB/s",
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            messages.len(),
            patches,
            bytes as f64 / 1e6,
            secs,
            messages.len() as f64 / secs,
            bytes as f64 / 1e6 / secs
        );
    }
}
