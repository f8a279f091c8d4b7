//! End-to-end import of the real list slices into a fresh store: messages/s, MB/s, per-batch
//! store latency (p50/p90/p99) and peak RSS. SQLite always; PostgreSQL too when
//! QUIRE_BENCH_PG is set (to a server URL, or to anything to use a throwaway server).
//!
//!     cargo bench -p quire-import --bench import

use std::path::PathBuf;
use std::time::Duration;

use quire_import::{ImportOptions, Input, import};
use quire_store::Store;

const SLICES: [&str; 2] = ["io-uring-2019-2021.8k.mbox.gz", "ltp-2019-2020.4k.mbox.gz"];

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus")).join(name)
}

fn decompressed_len(path: &PathBuf) -> u64 {
    let file = std::fs::File::open(path).expect("corpus file");
    std::io::copy(&mut flate2::read::MultiGzDecoder::new(file), &mut std::io::sink())
        .expect("gunzip")
}

/// Peak resident set size of this process so far, from /proc/self/status (VmHWM).
fn peak_rss() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// The reading stage alone (gunzip + split + unquote), and reading plus parsing on rayon, to
/// tell where an import's time goes.
fn bench_stages(name: &str) {
    use rayon::prelude::*;
    let path = corpus(name);
    let started = std::time::Instant::now();
    let (reader, _) = quire_import::mbox::open(&path, 64 << 20).expect("open");
    let messages: Vec<Vec<u8>> = reader.map(|m| m.expect("message").bytes).collect();
    let read = started.elapsed().as_secs_f64();
    let started = std::time::Instant::now();
    let parsed: usize = messages.par_iter().map(|m| quire_mail::parse(m).problems.len()).sum();
    let parse = started.elapsed().as_secs_f64();
    let n = messages.len() as f64;
    println!(
        "stages {name}: read {:.0} messages/s ({read:.2} s), parse on {} threads {:.0} messages/s ({parse:.2} s, {parsed} problems)",
        n / read,
        rayon::current_num_threads(),
        n / parse
    );
}

async fn bench(backend: &str, store: &Store, name: &str) {
    let path = corpus(name);
    let file_bytes = std::fs::metadata(&path).expect("stat").len() as f64;
    let raw_bytes = decompressed_len(&path) as f64;
    let summary = import(store, &[Input::Path(path)], &ImportOptions::default(), &|_| {})
        .await
        .expect("import");
    let secs = summary.elapsed.as_secs_f64();
    let mut latencies = summary.batch_store_times.clone();
    latencies.sort();
    println!("{backend} {name}: {summary}");
    println!(
        "{backend} {name}: {:.0} messages/s, {:.1} MB/s of mbox ({:.1} MB/s of gzip), {} batches, store latency per batch p50 {:.0} ms p90 {:.0} ms p99 {:.0} ms, peak RSS {}",
        summary.read as f64 / secs,
        raw_bytes / secs / 1e6,
        file_bytes / secs / 1e6,
        summary.batches,
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.9).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        peak_rss()
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for name in SLICES {
        bench_stages(name);
    }
    runtime.block_on(async {
        for name in SLICES {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = Store::open(dir.path(), None).await.expect("open SQLite store");
            bench("sqlite", &store, name).await;
            bench("sqlite again", &store, name).await;
        }
        if std::env::var_os("QUIRE_BENCH_PG").is_some() {
            for name in SLICES {
                let store = quire_store::testing::pg_store().await;
                bench("postgres", &store, name).await;
            }
        } else {
            println!("postgres: skipped (set QUIRE_BENCH_PG to run it)");
        }
    });
}
