//! What verifying signatures at import costs, on the real io-uring list: the messages of
//! `../shared/corpus/io-uring-2019-2026.full.mbox.gz` (the first QUIRE_BENCH_MESSAGES, default
//! 20,000) through `Verifier::attest_batch` in batches of 2,500 as the import hands them over,
//! without DNS (as `quire import` runs it) and with DKIM verified against an empty key cache
//! (every key "not looked up": the parse and canonicalization cost, not the network's).
//! Prints messages, how many carry DKIM / patatt signatures, and messages per second.
//!
//! `cargo bench -p quire-attest --bench attest`

use std::io::Read as _;
use std::sync::Arc;
use std::time::Instant;

use quire_attest::{DkimKeys, Keyrings, Verifier};

fn messages(limit: usize) -> Vec<Vec<u8>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/io-uring-2019-2026.full.mbox.gz"
    );
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(file).read_to_end(&mut text).expect("gunzip");
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    for line in text.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
                if out.len() == limit {
                    return out;
                }
            }
            continue;
        }
        current.extend_from_slice(
            line.strip_prefix(b">").filter(|l| l.starts_with(b"From ")).unwrap_or(line),
        );
    }
    if !current.is_empty() {
        out.push(current);
    }
    out.truncate(limit);
    out
}

fn main() {
    let limit =
        std::env::var("QUIRE_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let raws = messages(limit);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    for (name, dkim) in
        [("no DNS (quire import)", None), ("DKIM, empty key cache", Some(DkimKeys::offline()))]
    {
        let verifier = Arc::new(Verifier::new(dkim, Keyrings::new(vec![])));
        let mut batches: Vec<Vec<quire_store::Incoming>> = raws
            .chunks(2500)
            .map(|c| {
                c.iter()
                    .map(|r| quire_store::Incoming::new(r.clone(), Default::default(), None))
                    .collect()
            })
            .collect();
        let start = Instant::now();
        rt.block_on(async {
            for b in &mut batches {
                verifier.attest_batch(b).await;
            }
        });
        let secs = start.elapsed().as_secs_f64();
        let all: Vec<&quire_store::Attestation> =
            batches.iter().flatten().filter_map(|i| i.attestation.as_ref()).collect();
        let dkim = all.iter().filter(|a| !a.dkim.is_empty()).count();
        let patatt = all.iter().filter(|a| !a.patatt.is_empty()).count();
        println!(
            "{name}: {} messages ({dkim} with DKIM, {patatt} with patatt) in {secs:.2} s: {:.0} messages/s",
            all.len(),
            all.len() as f64 / secs
        );
    }
}
