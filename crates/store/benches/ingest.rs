//! Ingest throughput on the two real list slices, on SQLite (and on PostgreSQL when
//! QUIRE_TEST_PG is set): messages/s for the store alone (ingest, including series assembly)
//! and end to end (parse on every core + ingest), and peak RSS.
//!
//! `cargo bench -p quire-store --bench ingest`

#[path = "../tests/common/mod.rs"]
#[allow(dead_code)]
mod common;

use std::time::{Duration, Instant};

use quire_store::{BatchOutcome, Incoming, Store};

const BATCH: usize = 1000;

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn parse_all(raws: Vec<Vec<u8>>) -> Vec<Incoming> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let per = raws.len().div_ceil(threads).max(1);
    let mut chunks: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut it = raws.into_iter();
    loop {
        let c: Vec<_> = it.by_ref().take(per).collect();
        if c.is_empty() {
            break;
        }
        chunks.push(c);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| {
                s.spawn(move || c.into_iter().map(|r| Incoming::parse(r, None)).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

async fn run(store: &Store, raws: &[Vec<u8>]) -> (Duration, Duration, BatchOutcome) {
    let mut parse = Duration::ZERO;
    let mut ingest = Duration::ZERO;
    let mut total = BatchOutcome::default();
    for chunk in raws.chunks(BATCH) {
        let t = Instant::now();
        let batch = parse_all(chunk.to_vec());
        parse += t.elapsed();
        let t = Instant::now();
        match store.ingest(batch).await {
            Ok(out) => total.add(&out),
            Err(e) => panic!("ingest failed: {e}"),
        }
        ingest += t.elapsed();
    }
    (parse, ingest, total)
}

fn report(
    backend: &str,
    name: &str,
    n: usize,
    parse: Duration,
    ingest: Duration,
    out: &BatchOutcome,
) {
    let rate = |d: Duration| n as f64 / d.as_secs_f64().max(1e-9);
    println!(
        "{backend:8} {name:32} {n:6} msgs  store {:8.0} msg/s  end-to-end {:8.0} msg/s  (parse {:.2}s, store {:.2}s)  new {} dup {} conflicting {} patches {} series {}  peak RSS {} MiB",
        rate(ingest),
        rate(parse + ingest),
        parse.as_secs_f64(),
        ingest.as_secs_f64(),
        out.new_messages,
        out.duplicates,
        out.conflicting_duplicates.len(),
        out.patches,
        out.series_created,
        peak_rss_kib() / 1024,
    );
}

fn main() {
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => panic!("cannot start tokio: {e}"),
    };
    rt.block_on(async {
        for name in ["ltp-2019-2020.4k.mbox.gz", "io-uring-2019-2021.8k.mbox.gz"] {
            let raws = common::mboxrd_messages(&common::corpus(name));
            let (dir, store) = quire_store::testing::sqlite_store().await;
            let (parse, ingest, out) = run(&store, &raws).await;
            report("sqlite", name, raws.len(), parse, ingest, &out);
            if let Ok(stats) = store.stats().await {
                println!(
                    "sqlite   {name:32} raw {} MB stored {} MB (zstd ratio {:.1})",
                    stats.raw_bytes >> 20,
                    stats.stored_bytes >> 20,
                    stats.raw_bytes as f64 / stats.stored_bytes.max(1) as f64
                );
            }
            let t = Instant::now();
            if let Err(e) = store.reindex(|_, _| {}).await {
                panic!("reindex failed: {e}");
            }
            println!(
                "sqlite   {name:32} reindex {:8.0} msg/s",
                raws.len() as f64 / t.elapsed().as_secs_f64()
            );
            store.close().await;
            drop(dir);
            if std::env::var("QUIRE_TEST_PG").is_ok() || std::env::var("QUIRE_BENCH_PG").is_ok() {
                let store = quire_store::testing::pg_store().await;
                let (parse, ingest, out) = run(&store, &raws).await;
                report("postgres", name, raws.len(), parse, ingest, &out);
                store.close().await;
            }
        }
    });
}
