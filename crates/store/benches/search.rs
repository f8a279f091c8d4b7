//! Series search latency (docs/search.md): 20 typical queries, each run repeatedly, on
//! (a) a SQLite store holding both real list slices, (b) the same on PostgreSQL when
//! QUIRE_TEST_PG is set, (c) a SQLite store of QUIRE_BENCH_MESSAGES generated messages
//! (default 500,000; crates/bench's deterministic generator). Prints per query p50/p99, overall
//! p50/p99, queries/s and peak RSS.
//!
//! `cargo bench -p quire-store --bench search` (QUIRE_BENCH_RUNS: runs of each query, default 20)

#[path = "../tests/common/mod.rs"]
#[allow(dead_code)]
mod common;

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::time::{Duration, Instant};

use quire_store::{Incoming, Store};

const QUERIES: [&str; 20] = [
    "fanotify",
    "\"use after free\"",
    "from:axboe",
    "from:\"petr vorel\" is:reviewed",
    "to:io-uring@vger.kernel.org",
    "cc:viro",
    "subject:io_uring",
    "file:fs/io_uring.c",
    "file:testcases/kernel/syscalls/ -is:obsolete",
    "is:reviewed -is:obsolete",
    "is:incomplete",
    "has:trailers after:2020-06-01",
    "is:rfc OR is:pull",
    "reviewed-by:hrubis",
    "acked-by:axboe OR tested-by:axboe",
    "version:2 project:io-uring",
    "sqpoll -fixed",
    "state:new",
    "id:20200827145831.95189-1-sgarzare@redhat.com",
    "before:2020-01-01 has:replies",
];

fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse::<u64>().ok()))
        .unwrap_or(0)
        / 1024
}

fn parse_all(raws: Vec<Vec<u8>>, project: &str) -> Vec<Incoming> {
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
                s.spawn(move || {
                    c.into_iter()
                        .map(|r| Incoming::parse(r, Some(project.to_string())))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    })
}

async fn ingest(store: &Store, raws: Vec<Vec<u8>>, project: &str) {
    if let Err(e) = store.ingest(parse_all(raws, project)).await {
        panic!("ingest failed: {e}");
    }
}

async fn fill_real(store: &Store) -> usize {
    let mut n = 0;
    for (name, project) in
        [("ltp-2019-2020.4k.mbox.gz", "ltp"), ("io-uring-2019-2021.8k.mbox.gz", "io-uring")]
    {
        let raws = common::mboxrd_messages(&common::corpus(name));
        n += raws.len();
        for chunk in raws.chunks(1000) {
            ingest(store, chunk.to_vec(), project).await;
        }
    }
    n
}

/// Generates `n` messages into a temporary mbox and ingests them in batches of 1000, reading
/// the file as a stream.
async fn fill_generated(store: &Store, n: u64) -> Duration {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("generated.mbox");
    {
        let mut w = BufWriter::new(std::fs::File::create(&path).expect("create mbox"));
        quire_bench::generate(n, 42, &mut w).expect("generate");
        w.flush().expect("write mbox");
    }
    let started = Instant::now();
    let reader = BufReader::new(std::fs::File::open(&path).expect("open mbox"));
    let mut batch: Vec<Vec<u8>> = Vec::new();
    let mut current: Option<Vec<u8>> = None;
    let mut done = 0u64;
    for line in reader.split(b'\n') {
        let mut line = line.expect("read mbox");
        line.push(b'\n');
        if line.starts_with(b"From ") {
            if let Some(m) = current.take() {
                batch.push(m);
                if batch.len() == 1000 {
                    done += 1000;
                    ingest(store, std::mem::take(&mut batch), "gen").await;
                    if done.is_multiple_of(50_000) {
                        eprintln!(
                            "  {done} messages stored ({:.0} msg/s)",
                            done as f64 / started.elapsed().as_secs_f64()
                        );
                    }
                }
            }
            current = Some(Vec::new());
            continue;
        }
        let Some(m) = current.as_mut() else { continue };
        let quoted_from = line
            .iter()
            .position(|&b| b != b'>')
            .is_some_and(|i| i > 0 && line[i..].starts_with(b"From "));
        m.extend_from_slice(if quoted_from { &line[1..] } else { &line });
    }
    batch.extend(current);
    ingest(store, batch, "gen").await;
    started.elapsed()
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:8.2}", d.as_secs_f64() * 1000.0)
}

async fn run(label: &str, store: &Store, runs: usize) {
    let queries: Vec<(&str, quire_store::Query)> = QUERIES
        .iter()
        .map(|q| (*q, quire_query::parse(q).unwrap_or_else(|e| panic!("{q}: {e}"))))
        .collect();
    // One warm-up pass (page cache, prepared statements).
    for (_, q) in &queries {
        let _ = store.series_search(None, q, 1, 50).await;
    }
    let mut all = Vec::new();
    let started = Instant::now();
    println!("\n{label}");
    println!("{:48} {:>8} {:>8} {:>8}", "query", "found", "p50 ms", "p99 ms");
    for (text, q) in &queries {
        let mut times = Vec::with_capacity(runs);
        let mut found = 0;
        for _ in 0..runs {
            let t = Instant::now();
            match store.series_search(None, q, 1, 50).await {
                Ok(page) => found = page.total,
                Err(e) => panic!("{text}: {e}"),
            }
            times.push(t.elapsed());
        }
        times.sort();
        println!("{text:48} {found:8} {} {}", ms(pct(&times, 0.5)), ms(pct(&times, 0.99)));
        all.extend(times);
    }
    let elapsed = started.elapsed();
    all.sort();
    println!(
        "{:48} {:8} {} {}   {:.0} queries/s, peak RSS {} MiB",
        "overall",
        all.len(),
        ms(pct(&all, 0.5)),
        ms(pct(&all, 0.99)),
        all.len() as f64 / elapsed.as_secs_f64(),
        peak_rss_mib()
    );
}

fn main() {
    let runs: usize =
        std::env::var("QUIRE_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let messages: u64 =
        std::env::var("QUIRE_BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(500_000);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => panic!("cannot start tokio: {e}"),
    };
    rt.block_on(async {
        let (_dir, store) = quire_store::testing::sqlite_store().await;
        let n = fill_real(&store).await;
        run(&format!("(a) SQLite, both real slices ({n} messages), {runs} runs per query"), &store, runs).await;
        if std::env::var("QUIRE_TEST_PG").is_ok_and(|u| !u.is_empty()) {
            let store = quire_store::testing::pg_store().await;
            let n = fill_real(&store).await;
            run(&format!("(b) PostgreSQL, both real slices ({n} messages), {runs} runs per query"), &store, runs).await;
        } else {
            println!("\n(b) PostgreSQL: skipped (set QUIRE_TEST_PG)");
        }
        if messages > 0 {
            let (_dir, store) = quire_store::testing::sqlite_store().await;
            let took = fill_generated(&store, messages).await;
            eprintln!("  stored {messages} generated messages in {:.0} s", took.as_secs_f64());
            run(&format!("(c) SQLite, {messages} generated messages (stored in {:.0} s), {runs} runs per query", took.as_secs_f64()), &store, runs).await;
        }
    });
}
