//! Page latency under load: a store holding both real list slices (io-uring and LTP), the
//! server on 127.0.0.1, 50 clients each on its own keep-alive connection. Prints p50/p99 and
//! requests per second for the series list and for series pages. Aim: p99 < 20 ms.
//!
//!     cargo bench -p quire-web --bench pages

#[path = "../tests/common/mod.rs"]
mod common;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::time::{Duration, Instant};

const CLIENTS: usize = 50;
const REQUESTS_PER_CLIENT: usize = 40;

/// Each client sends its share of `paths` (round robin) on one connection; returns every
/// request's latency and the wall time of the whole run.
async fn load(
    addr: std::net::SocketAddr,
    paths: &[String],
    clients: usize,
) -> (Vec<Duration>, Duration) {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..clients {
        let paths = paths.to_vec();
        tasks.push(tokio::spawn(async move {
            let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .expect("handshake");
            tokio::spawn(conn);
            let mut times = Vec::with_capacity(REQUESTS_PER_CLIENT);
            for i in 0..REQUESTS_PER_CLIENT {
                let path = &paths[(c * REQUESTS_PER_CLIENT + i) % paths.len()];
                let req = hyper::Request::get(path.as_str())
                    .header("host", "bench")
                    .body(Empty::<Bytes>::new())
                    .expect("request");
                let t = Instant::now();
                let resp = sender.send_request(req).await.expect("response");
                let status = resp.status();
                let body = resp.into_body().collect().await.expect("body").to_bytes();
                times.push(t.elapsed());
                assert!(status.is_success(), "{path}: {status}");
                assert!(!body.is_empty());
            }
            times
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client"));
    }
    (all, start.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let (_store_dir, store) = common::sqlite_store().await;
        let t = Instant::now();
        let imported = common::fill_with_both_slices(&store).await;
        eprintln!("imported {imported} messages in {:.1?}", t.elapsed());
        let series_paths = common::busiest_series_paths(&store, 50).await;
        let list_paths: Vec<String> = (1..=5)
            .flat_map(|p| [format!("/ltp/?page={p}"), format!("/io-uring/?page={p}")])
            .collect();
        let base = common::spawn_server(store).await;
        let addr: std::net::SocketAddr =
            base.trim_start_matches("http://").parse().expect("server address");
        // Warm up: first requests fill SQLite's page cache.
        load(addr, &series_paths, CLIENTS).await;

        println!(
            "{:<14} {:>8} {:>9} {:>10} {:>10} {:>10}",
            "page", "clients", "requests", "p50", "p99", "req/s"
        );
        for (name, paths, clients) in [
            ("series list", &list_paths, 1),
            ("series page", &series_paths, 1),
            ("series list", &list_paths, CLIENTS),
            ("series page", &series_paths, CLIENTS),
        ] {
            let (mut times, wall) = load(addr, paths, clients).await;
            times.sort();
            println!(
                "{:<14} {:>8} {:>9} {:>8.2}ms {:>8.2}ms {:>10.0}",
                name,
                clients,
                times.len(),
                percentile(&times, 0.5).as_secs_f64() * 1e3,
                percentile(&times, 0.99).as_secs_f64() * 1e3,
                times.len() as f64 / wall.as_secs_f64()
            );
        }
    });
}
