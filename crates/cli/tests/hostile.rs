//! Hostile input through the `quire` program: a gzip bomb (memory stays bounded, measured as
//! the process's peak resident size), a 100 MB message (stored whole, parsed up to the limit,
//! flagged), the store limit itself configurable; and queries nested past the parser's limits
//! sent to a running `quire serve`, which answers 400 and goes on serving.

mod common;

use common::{QUIRE, Server, Site, free_port, repo_root, wait_until_serving};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn small(id: &str) -> String {
    format!(
        "From x@example.com Mon Mar  2 10:00:00 2020\nFrom: S <s@example.com>\nTo: ltp@lists.linux.it\nSubject: small {id}\nMessage-ID: <{id}@example.com>\nDate: Mon, 2 Mar 2020 10:00:00 +0000\n\nsmall\n\n"
    )
}

fn header(id: &str) -> String {
    format!(
        "From x@example.com Mon Mar  2 10:00:00 2020\nFrom: B <b@example.com>\nTo: ltp@lists.linux.it\nSubject: big {id}\nMessage-ID: <{id}@example.com>\nDate: Mon, 2 Mar 2020 10:00:00 +0000\n\n"
    )
}

/// Runs python3 `code` with `args`; panics with its error output.
fn python(code: &str, args: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .expect("python3 (the tests use it to write archives)");
    assert!(out.status.success(), "python3: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `quire ARGS` and returns (exit code, stderr, peak resident size in MiB), the peak read
/// by the parent from getrusage(RUSAGE_CHILDREN).
fn quire_with_peak(data: &Path, args: &[&str]) -> (i32, String, u64) {
    let code = r#"
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
sys.stdout.write("%d\n%d\n" % (p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024))
sys.stdout.write(p.stderr.decode("utf-8", "replace"))
"#;
    let mut full: Vec<&str> = vec![QUIRE, "--data-dir", data.to_str().unwrap()];
    full.extend_from_slice(args);
    let out = python(code, &full);
    let mut lines = out.splitn(3, '\n');
    let rc = lines.next().unwrap().parse().unwrap();
    let peak = lines.next().unwrap().parse().unwrap();
    (rc, lines.next().unwrap_or("").to_string(), peak)
}

fn stored(data: &Path, id: &str) -> Option<quire_store::MessageRecord> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
        let store = quire_store::Store::open(data, None).await.unwrap();
        let m = store.message(id).await.unwrap();
        store.close().await;
        m
    })
}

// A gzip bomb: 4 MB of gzip that unpacks to 1 GiB of mail lines and 512 MiB of one line
// without a newline, between two small messages. The import refuses the two giants (one line
// each), stores the small ones, and its peak memory stays near the message limit, not the size.
#[test]
fn a_gzip_bomb_is_refused_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let bomb: PathBuf = dir.path().join("bomb.mbox.gz");
    let code = r#"
import gzip, sys
out = open(sys.argv[1], "wb")
def member(data): out.write(gzip.compress(data, 9))
member(sys.argv[2].encode()); member(sys.argv[3].encode())
block = gzip.compress(b"a" * 75 + b"\n" * 1 + (b"a" * 75 + b"\n") * (64 * 1024 * 1024 // 76), 9)
for _ in range(16): out.write(block)
member(b"\n" + sys.argv[4].encode())
line = gzip.compress(b"b" * (64 * 1024 * 1024), 9)
for _ in range(8): out.write(line)
member(b"\n\n" + sys.argv[5].encode())
out.close()
"#;
    python(
        code,
        &[
            bomb.to_str().unwrap(),
            &small("before"),
            &header("bomb-lines"),
            &header("bomb-line"),
            &small("after"),
        ],
    );
    let packed = std::fs::metadata(&bomb).unwrap().len();
    assert!(packed < 8 << 20, "the bomb is small: {packed} bytes");
    let data = dir.path().join("data");
    let (rc, stderr, peak_mib) =
        quire_with_peak(&data, &["import", "--max-message-size", "16M", bomb.to_str().unwrap()]);
    eprintln!(
        "gzip bomb ({packed} bytes packed, 1.5 GiB unpacked): exit {rc}, peak {peak_mib} MiB\n{stderr}"
    );
    assert!(peak_mib < 200, "peak resident size {peak_mib} MiB for a 16 MiB message limit");
    assert!(
        stored(&data, "before@example.com").is_some()
            && stored(&data, "after@example.com").is_some(),
        "the small messages around the bomb are stored: {stderr}"
    );
    assert!(
        stored(&data, "bomb-lines@example.com").is_none()
            && stored(&data, "bomb-line@example.com").is_none()
    );
    assert!(stderr.contains("bytes limit: skipped"), "the refusal is said: {stderr}");
}

// A 100 MB message: stored byte for byte (`quire export` gives it back), parsed only up to the
// 64 MiB parse limit and flagged; with `--max-message-size 50M` it is refused with a line.
#[test]
fn a_100_mb_message_is_stored_whole_parsed_to_the_limit_and_flagged() {
    let dir = tempfile::tempdir().unwrap();
    let mbox = dir.path().join("big.mbox");
    let code = r#"
import sys
out = open(sys.argv[1], "wb")
out.write(sys.argv[2].encode())
line = b"c" * 99 + b"\n"
out.write(line * (100 * 1000 * 1000 // 100))
out.write(b"\n")
out.write(sys.argv[3].encode())
"#;
    python(code, &[mbox.to_str().unwrap(), &header("huge"), &small("next")]);
    let data = dir.path().join("data");
    let (rc, stderr, peak_mib) =
        quire_with_peak(&data, &["import", "--max-message-size", "50M", mbox.to_str().unwrap()]);
    eprintln!("100 MB message, limit 50M: exit {rc}, peak {peak_mib} MiB\n{stderr}");
    assert!(stored(&data, "huge@example.com").is_none(), "beyond --max-message-size: refused");
    assert!(stored(&data, "next@example.com").is_some(), "the next message is stored");
    assert!(stderr.contains("bytes limit: skipped"), "{stderr}");

    let data = dir.path().join("data2");
    let (rc, stderr, peak_mib) = quire_with_peak(&data, &["import", mbox.to_str().unwrap()]);
    eprintln!("100 MB message, default limit: exit {rc}, peak {peak_mib} MiB\n{stderr}");
    assert_eq!(rc, 0, "{stderr}");
    let huge = stored(&data, "huge@example.com").expect("the 100 MB message is stored");
    assert!(
        huge.problems.iter().any(|p| p.contains("larger than the limit")),
        "flagged: {:?}",
        huge.problems
    );
    assert!(
        huge.body.len() <= 64 << 20,
        "parsed only up to the limit: body of {} bytes",
        huge.body.len()
    );
    let export = dir.path().join("out.mbox");
    let out = Command::new(QUIRE)
        .arg("--data-dir")
        .arg(&data)
        .args(["export", "-o", export.to_str().unwrap()])
        .env_remove("QUIRE_DATABASE_URL")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exported = std::fs::metadata(&export).unwrap().len();
    assert!(exported > 100_000_000, "the whole message comes back out: {exported} bytes");
}

/// Status and body of a GET, whatever the status.
fn get(url: &str) -> (u16, String) {
    match ureq::get(url).call() {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        Err(ureq::Error::Transport(t)) => {
            panic!(
                "GET {}: no answer ({}): did quire serve die?",
                &url[..url.len().min(100)],
                t.kind()
            )
        }
    }
}

// The queries that aborted `quire serve` (issue 24: "thread 'tokio-rt-worker' has overflowed
// its stack") sent to a running server's list page, both JSON APIs and the public-inbox search:
// each is a 400 naming the limit, a query too long for a URL is hyper's 414, and the same
// process then answers /healthz, the list and a series page. The router-level test of every
// route is crates/web/tests/hostile.rs; this one would have caught the process dying.
fn deep_queries_leave_a_running_server_serving(site: Site) {
    let sample = repo_root().join("samples/demo.mbox");
    site.ok(&["import", "-q", "--project", "demo", sample.to_str().unwrap()]);
    let series = site.json(&["series", "list", "--json"]);
    let head = series["series"][0]["message_id"].as_str().unwrap().to_string();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let child = site
        .cmd(&["serve", "--listen", listen.as_str(), "--no-worker", "--no-notify"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut server = Server(child);
    wait_until_serving(&base);
    let deep = format!("{}x{}", "(".repeat(3000), ")".repeat(3000));
    let negated = format!("{}x", "-".repeat(3000));
    let nots = format!("{}x", "NOT+".repeat(3000));
    let many = vec!["x"; 501].join("+");
    let routes =
        ["/demo/?q=", "/api/v1/search?q=", "/api/v1/projects/demo/series?q=", "/demo/?x=m&q="];
    for route in routes {
        for (q, says) in [
            (&deep, "the query nests 3000 deep at column 33"),
            (&negated, "the query nests 3000 deep at column 33"),
            (&nots, "the query nests 3000 deep at column 129"),
            (&many, "the query has 501 terms; at most 500 are read"),
        ] {
            let (status, body) = get(&format!("{base}{route}{q}"));
            assert_eq!(status, 400, "GET {route}{}: {body}", &q[..20]);
            assert!(body.contains(says), "GET {route}{}: {body}", &q[..20]);
        }
        // 100,000 levels: no server reads a URI of 200 KB (hyper: at most 65,534 bytes).
        let deepest = format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000));
        assert_eq!(get(&format!("{base}{route}{deepest}")).0, 414, "GET {route}((((...");
    }
    assert!(server.0.try_wait().unwrap().is_none(), "quire serve is still running");
    for page in ["/healthz".to_string(), "/demo/".to_string(), format!("/demo/{head}/")] {
        let (status, body) = get(&format!("{base}{page}"));
        assert_eq!(status, 200, "GET {page} after the deep queries: {body}");
    }
}

#[test]
fn deep_queries_leave_a_running_server_serving_on_sqlite() {
    deep_queries_leave_a_running_server_serving(Site::sqlite());
}

#[test]
fn deep_queries_leave_a_running_server_serving_on_postgres() {
    deep_queries_leave_a_running_server_serving(Site::postgres());
}
