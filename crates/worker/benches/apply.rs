//! Series applied per minute by N workers sharing the store's job queue, on SQLite and on
//! PostgreSQL: 40 series of 3 patches + cover letter (git format-patch --cover-letter --base),
//! imported through the importer, then applied by workers that each keep their own mirror (as
//! workers on separate machines do). Prints messages/s of the import, series/min, per-series
//! latency p50/p99 and peak RSS.
//!
//! `cargo bench -p quire-worker --bench apply` (QUIRE_BENCH_SERIES=N, QUIRE_BENCH_WORKERS=1,2).

#[path = "../../git/tests/common/mod.rs"]
mod common;

use common::*;
use quire_store::{ProjectConfig, Store};
use quire_worker::{RoundStats, Worker, WorkerOptions};
use std::time::{Duration, Instant};

fn main() {
    let n: usize = env("QUIRE_BENCH_SERIES", 40);
    let workers: Vec<usize> = std::env::var("QUIRE_BENCH_WORKERS")
        .ok()
        .map(|v| v.split(',').filter_map(|w| w.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2]);
    let world = World::new();
    let mbox = make_series(&world, n);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    println!(
        "| backend | workers | series | import msgs/s | series/min | p50 ms | p99 ms | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for backend in ["sqlite", "postgres"] {
        for &w in &workers {
            rt.block_on(async {
                let (_dir, store) = match backend {
                    "sqlite" => {
                        let (d, s) = quire_store::testing::sqlite_store().await;
                        (Some(d), s)
                    }
                    _ => (None, quire_store::testing::pg_store().await),
                };
                run(&world, &store, &mbox, n, w, backend).await;
                store.close().await;
            });
        }
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// `n` independent series on upstream's head, as one mbox.
fn make_series(world: &World, n: usize) -> Vec<u8> {
    let repo = world.clone("dev");
    let base = world.head();
    let mut all = Vec::new();
    for i in 0..n {
        sh(&repo, &["checkout", "--quiet", "-B", &format!("s{i}"), &base]);
        for j in 0..3 {
            let file = format!("s{i}_{j}.c");
            write(
                &repo,
                &file,
                &format!("/* series {i} patch {j} */\nint f{i}_{j}(void) {{ return {j}; }}\n"),
            );
            sh(&repo, &["add", &file]);
            sh(&repo, &["commit", "--quiet", "-m", &format!("s{i}: add {file}")]);
        }
        let text = String::from_utf8(format_patch(&repo, &base, Some(&base))).expect("utf-8");
        // Unique cover letters (format-patch names them by the second).
        let cover = text
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("message-id: <"))
            .map(|l| l[13..].trim_end_matches('>').to_string());
        let mut text = text.replace("*** SUBJECT HERE ***", &format!("series {i}"));
        if let Some(c) = cover {
            text = text.replace(&c, &format!("s{i}-{c}"));
        }
        all.extend_from_slice(text.as_bytes());
        // An mbox separates messages by a blank line before `From `.
        all.push(b'\n');
    }
    all
}

async fn run(world: &World, store: &Store, mbox: &[u8], n: usize, workers: usize, backend: &str) {
    store
        .upsert_project(&ProjectConfig {
            name: "demo".into(),
            list_ids: vec![],
            list_addresses: vec![],
            git_url: Some(world.upstream.to_string_lossy().into_owned()),
            branch: Some("main".into()),
            mirror_url: None,
            tag_prefix: None,
            ..Default::default()
        })
        .await
        .expect("project");
    let path = world.path(&format!("bench-{backend}-{workers}.mbox"));
    std::fs::write(&path, mbox).expect("write");
    let opts = quire_import::ImportOptions { project: Some("demo".into()), ..Default::default() };
    let t = Instant::now();
    let summary = quire_import::import(store, &[quire_import::Input::Path(path)], &opts, &|_| {})
        .await
        .expect("import");
    let import_rate = summary.messages as f64 / t.elapsed().as_secs_f64();
    assert_eq!(store.enqueue_ready_series().await.expect("queue"), n as u64);

    let start = Instant::now();
    let handles: Vec<_> = (0..workers)
        .map(|i| {
            let mut opts = WorkerOptions::new(world.path(&format!("git-{backend}-{workers}-{i}")));
            opts.id = format!("bench-{i}");
            let mut worker = Worker::new(store.clone(), opts);
            tokio::spawn(async move {
                let mut stats = RoundStats::default();
                let mut latencies = Vec::new();
                while let Some(done) = worker.run_next_job(&mut stats).await.expect("job") {
                    latencies.push(done.elapsed);
                }
                assert_eq!(stats.job_errors + stats.failed_to_apply, 0, "{stats:?}");
                latencies
            })
        })
        .collect();
    let mut latencies: Vec<Duration> = Vec::new();
    for h in handles {
        latencies.extend(h.await.expect("worker"));
    }
    let total = start.elapsed();
    assert_eq!(latencies.len(), n, "every series applied once");
    latencies.sort();
    let pct = |p: f64| {
        latencies[((latencies.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
    };
    println!(
        "| {backend} | {workers} | {n} | {import_rate:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
        n as f64 / total.as_secs_f64() * 60.0,
        pct(0.5),
        pct(0.99),
        peak_rss_mib()
    );
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}
