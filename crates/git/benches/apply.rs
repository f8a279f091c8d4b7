//! Series applied per minute: 50 series of 3 patches (plus cover letter), each made with
//! `git format-patch --cover-letter --base`, applied one after the other on one mirror.
//! Prints series/min, latency p50/p99, and peak RSS (this process, and the largest git child).
//!
//! `cargo bench -p quire-git --bench apply` (QUIRE_BENCH_SERIES=N to change the count,
//! QUIRE_BENCH_WORKERS=N to apply from N threads at once on the same mirror).

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use quire_git::{ApplyRequest, apply};
use std::time::{Duration, Instant};

fn main() {
    let n: usize =
        std::env::var("QUIRE_BENCH_SERIES").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let world = World::new();
    let repo = world.clone("dev");
    let base = world.head();
    let mut series = Vec::with_capacity(n);
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
            sh(&repo, &["commit", "--quiet", "-m", &format!("add {file}")]);
        }
        series.push(format_patch(&repo, &base, Some(&base)));
    }
    let mirror = mirror(&world);
    let workers: usize =
        std::env::var("QUIRE_BENCH_WORKERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1).max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let start = Instant::now();
    let mut latencies: Vec<Duration> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(mbox) = series.get(i) else { break mine };
                        let t = Instant::now();
                        let req = ApplyRequest {
                            mbox: mbox.clone(),
                            base_commit: Some(base.clone()),
                            ..Default::default()
                        };
                        let out = apply(&mirror, &req).expect("apply runs");
                        assert!(
                            out.applied_commit().is_some(),
                            "series failed to apply:\n{}",
                            out.log
                        );
                        mine.push(t.elapsed());
                    }
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("worker")).collect()
    });
    let total = start.elapsed();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 - 1.0) * p).round() as usize];
    println!(
        "series applied: {n} (3 patches + cover letter each), {workers} worker(s), in {:.2}s",
        total.as_secs_f64()
    );
    println!("series/min: {:.0}", n as f64 / total.as_secs_f64() * 60.0);
    println!("latency p50: {:.1} ms, p99: {:.1} ms", ms(pct(0.50)), ms(pct(0.99)));
    println!(
        "peak RSS: this process {} KiB, largest git child {} KiB",
        self_peak_kib(),
        children_peak_kib()
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// VmHWM of this process.
fn self_peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// ru_maxrss of the largest waited-for child (Linux reports KiB).
fn children_peak_kib() -> i64 {
    // SAFETY: getrusage only writes into the struct we pass.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        if libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) == 0 { usage.ru_maxrss } else { 0 }
    }
}
