//! Load: 100 concurrent clients fetch series pages, the series list and mboxes from `quire serve`
//! while `quire import` of both real slices (io-uring and LTP) writes into the same store.
//! Reports p50/p99 per kind of page and the failures; fails on any failed request. Ignored by
//! default (minutes in a debug build); `scripts/test` runs it:
//!
//!     cargo test -p quire --test load -- --ignored --nocapture

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const QUIRE: &str = env!("CARGO_BIN_EXE_quire");
const CLIENTS: usize = 100;

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus").join(name)
}

fn quire(data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(QUIRE);
    c.arg("--data-dir")
        .arg(data)
        .args(args)
        .env_remove("QUIRE_DATABASE_URL")
        .env_remove("QUIRE_DATA_DIR");
    c
}

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

#[test]
#[ignore = "minutes long: run by scripts/test with --ignored"]
fn pages_keep_answering_under_100_clients_during_an_import_of_both_slices() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let ltp = corpus("ltp-2019-2020.4k.mbox.gz");
    let io_uring = corpus("io-uring-2019-2021.8k.mbox.gz");
    // Half the mail is there before: pages to read while the rest comes in.
    let out = quire(data, &["project", "add", "ltp", "--list-id", "ltp.lists.linux.it"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = quire(data, &["import", "-q", ltp.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let list: Value = serde_json::from_slice(
        &quire(data, &["series", "list", "--project", "ltp", "--limit", "50", "--json"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let ids: Vec<String> = list["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["message_id"].as_str().unwrap().to_string())
        .collect();
    assert!(ids.len() >= 20, "{} series", ids.len());

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let _server = Kill(
        // Shedding off (a wait of a minute): this measures every request under the load; the
        // shedding itself is crates/web/src/shed.rs's test.
        quire(
            data,
            &["serve", "--listen", &listen, "--no-worker", "--no-notify", "--max-queue-wait", "60"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap(),
    );
    let base = format!("http://{listen}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(&format!("{base}/healthz")).call().is_err() {
        assert!(Instant::now() < deadline, "quire serve did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    let seg = |id: &str| {
        id.replace('%', "%25").replace('/', "%2F").replace('#', "%23").replace('?', "%3F")
    };
    let mut paths: Vec<(&'static str, String)> = Vec::new();
    for id in &ids {
        paths.push(("series", format!("/ltp/{}/", seg(id))));
        paths.push(("list", "/ltp/".to_string()));
        paths.push(("mbox", format!("/ltp/{}/mbox", seg(id))));
    }
    let paths = Arc::new(paths);

    let mut import =
        quire(data, &["import", "-q", io_uring.to_str().unwrap(), ltp.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (paths, stop, base) = (paths.clone(), stop.clone(), base.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(90)).build();
                let mut got: Vec<(&'static str, Duration)> = Vec::new();
                let mut failures: Vec<String> = Vec::new();
                let mut i = c * 7;
                while !stop.load(Ordering::Relaxed) {
                    let (kind, path) = &paths[i % paths.len()];
                    i += 1;
                    let t = Instant::now();
                    match agent.get(&format!("{base}{path}")).call() {
                        Ok(r) if r.status() == 200 => {
                            let _ = r.into_string();
                            got.push((kind, t.elapsed()));
                        }
                        Ok(r) => failures.push(format!("{path}: {}", r.status())),
                        Err(e) => failures.push(format!("{path}: {e}")),
                    }
                }
                (got, failures)
            })
        })
        .collect();
    let status = import.wait().unwrap();
    let import_time = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut all: Vec<(&'static str, Duration)> = Vec::new();
    let mut failures = Vec::new();
    for c in clients {
        let (g, f) = c.join().unwrap();
        all.extend(g);
        failures.extend(f);
    }
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut import.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "the import failed under load: {stderr}");
    eprintln!(
        "import of both slices under load: {import_time:?}; {} requests, {} failed",
        all.len(),
        failures.len()
    );
    for kind in ["series", "list", "mbox"] {
        let mut t: Vec<Duration> =
            all.iter().filter(|(k, _)| *k == kind).map(|(_, d)| *d).collect();
        t.sort();
        eprintln!(
            "{kind:>6}: {:>6} requests  p50 {:>8.1?}  p99 {:>8.1?}  max {:>8.1?}",
            t.len(),
            percentile(&t, 0.5),
            percentile(&t, 0.99),
            t.last().copied().unwrap_or_default()
        );
    }
    assert!(
        failures.is_empty(),
        "{} requests failed, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(all.len() >= CLIENTS, "only {} requests answered", all.len());
}
