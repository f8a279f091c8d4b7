//! Faults, from the user's side: `quire import` killed with SIGKILL in the middle of a real
//! slice and run again; PostgreSQL stopped and started under a running `quire serve`; the disk
//! filling up during an import. Slower than the other CLI tests (each imports a real slice).

#[macro_use]
mod common;

use common::*;
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn ltp_slice() -> PathBuf {
    repo_root().join("../shared/corpus/ltp-2019-2020.4k.mbox.gz")
}

/// What a test sees of a site's store.
trait Inspect {
    /// Messages stored (every project), read through the store while quire may be writing.
    fn stored_messages(&self) -> u64;

    /// What a user can see of the store: the message count, every series (JSON), and every raw
    /// message as `quire export` gives it back, sorted (the order of the rows may differ).
    fn fingerprint(&self) -> (u64, Value, Vec<Vec<u8>>);
}

impl Inspect for Site {
    fn stored_messages(&self) -> u64 {
        block_on(async {
            let Ok(store) =
                quire_store::Store::open(self.dir.path(), self.database_url.as_deref()).await
            else {
                return 0;
            };
            let n =
                store.projects().await.map(|ps| ps.iter().map(|p| p.messages).sum()).unwrap_or(0);
            store.close().await;
            n
        })
    }

    fn fingerprint(&self) -> (u64, Value, Vec<Vec<u8>>) {
        let series = self.json(&["series", "list", "--all", "--limit", "1000", "--json"]);
        (self.stored_messages(), series, exported_messages(&self.ok_bytes(&["export"])))
    }
}

/// The messages of an mboxrd export, each with its `From ` line.
fn exported_messages(mbox: &[u8]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for line in mbox.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"From ") || out.is_empty() {
            out.push(Vec::new());
        }
        out.last_mut().unwrap().extend_from_slice(line);
    }
    out.sort();
    out
}

// SIGKILL in the middle of an import (some batches stored, most not), then the same import
// again: the store is the one a clean import makes: every message once, none lost, the same
// series, the same raw bytes.
both_backends!(
    an_import_killed_with_sigkill_and_run_again_stores_every_message_once,
    |site: Site| {
        let slice = ltp_slice();
        let slice = slice.to_str().unwrap();
        let clean = site.same_backend();
        clean.ok(&["import", "-q", slice]);
        let expected = clean.fingerprint();
        assert!(expected.0 > 3900, "the clean import stored {} messages", expected.0);

        let mut child = site
            .cmd(&["import", "-q", "--batch-size", "100", slice])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        let at_kill = loop {
            let n = site.stored_messages();
            if n >= 300 {
                break n;
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "the import ended before it could be killed"
            );
            assert!(Instant::now() < deadline, "the import stored nothing in 120 s");
            std::thread::sleep(Duration::from_millis(50));
        };
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert!(!status.success(), "the import finished before the kill ({at_kill} messages seen)");
        let after_kill = site.stored_messages();
        assert!(
            after_kill < expected.0,
            "the import was killed after storing everything ({after_kill})"
        );
        // What the killed import left is usable: whole batches only, readable.
        let (n, _, raws) = site.fingerprint();
        assert_eq!(
            n,
            raws.len() as u64,
            "after the kill, the count and the exported messages disagree"
        );

        site.ok(&["import", "-q", slice]);
        let again = site.fingerprint();
        assert_eq!(again.0, expected.0, "message count after kill + import again");
        assert!(
            again.2 == expected.2,
            "the raw messages after kill + import again differ from a clean import's"
        );
        assert_eq!(
            again.1, expected.1,
            "the series after kill + import again differ from a clean import's"
        );
    }
);

/// A PostgreSQL cluster of this test alone (scripts/throwaway-postgres), to stop and start.
struct OwnCluster {
    url: String,
    dir: String,
    port: String,
}

impl OwnCluster {
    fn start() -> OwnCluster {
        let out = Command::new(repo_root().join("scripts/throwaway-postgres"))
            .arg("start")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "throwaway-postgres start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        let var = |name: &str| {
            let line = text
                .lines()
                .find(|l| l.starts_with(&format!("{name}=")))
                .unwrap_or_else(|| panic!("no {name} in {text}"));
            line[name.len() + 1..].trim_matches('\'').to_string()
        };
        let url = var("QUIRE_TEST_PG");
        let port =
            url.split("localhost:").nth(1).and_then(|r| r.split('/').next()).unwrap().to_string();
        OwnCluster { url, dir: var("QUIRE_TEST_PG_DIR"), port }
    }

    fn pg_ctl(&self, args: &[&str]) {
        let bindir = std::fs::read_dir("/usr/lib/postgresql")
            .unwrap()
            .map(|e| e.unwrap().path().join("bin"))
            .max()
            .unwrap();
        let mut c = if nix_is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(bindir.join("pg_ctl"));
            c
        } else {
            Command::new(bindir.join("pg_ctl"))
        };
        let data = format!("{}/data", self.dir);
        let out = c.args(["-D", data.as_str(), "-w", "-s"]).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast"]);
    }

    fn start_again(&self) {
        let opts = format!("-c listen_addresses='' -k {} -p {} -c fsync=off", self.dir, self.port);
        let log = format!("{}/server.log", self.dir);
        self.pg_ctl(&["-l", log.as_str(), "-o", opts.as_str(), "start"]);
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/throwaway-postgres"))
            .arg("stop")
            .arg(&self.dir)
            .output();
    }
}

fn nix_is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false)
}

/// Status, body and time of a GET.
fn get(url: &str) -> (u16, String, Duration) {
    let started = Instant::now();
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
    match agent.get(url).call() {
        Ok(r) => (r.status(), r.into_string().unwrap_or_default(), started.elapsed()),
        Err(ureq::Error::Status(code, r)) => {
            (code, r.into_string().unwrap_or_default(), started.elapsed())
        }
        Err(e) => panic!("GET {url}: {e}"),
    }
}

// PostgreSQL stopped under a running `quire serve`: every page and the public-inbox API answer a
// clean 503 quickly (the pool's acquire timeout, not sqlx's 30 s), with one line saying so; after
// PostgreSQL is started again, the same process answers 200 again.
#[test]
fn postgres_stopped_under_a_running_server_gives_503_then_200_again() {
    let cluster = OwnCluster::start();
    let site = Site { dir: tempfile::tempdir().unwrap(), database_url: Some(cluster.url.clone()) };
    let sample = repo_root().join("samples/demo.mbox");
    site.ok(&["import", "-q", "--project", "demo", sample.to_str().unwrap()]);
    let series = site.json(&["series", "list", "--json"]);
    let head = series["series"][0]["message_id"].as_str().unwrap().to_string();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");
    let child = site
        .cmd(&["serve", "--listen", listen.as_str(), "--no-worker", "--no-notify"])
        .env("QUIRE_DB_ACQUIRE_TIMEOUT", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    wait_until_serving(&base);
    let paths = [
        "/".to_string(),
        "/demo/".to_string(),
        format!("/demo/{head}/"),
        format!("/demo/{head}/mbox"),
        format!("/demo/{head}/raw"),
        format!("/demo/{head}/t.mbox.gz"),
        "/demo/?q=s:ring&x=A".to_string(),
        "/all/new.atom".to_string(),
    ];
    for p in &paths {
        let (status, _, _) = get(&format!("{base}{p}"));
        assert_eq!(status, 200, "GET {p} before the stop");
    }

    cluster.stop();
    for p in &paths {
        let (status, body, took) = get(&format!("{base}{p}"));
        assert_eq!(status, 503, "GET {p} with PostgreSQL stopped: {body}");
        assert!(
            body.contains("The database is not reachable right now; try again in a moment."),
            "GET {p}: {body}"
        );
        assert!(took < Duration::from_secs(5), "GET {p} took {took:?} with PostgreSQL stopped");
    }
    let (status, _, _) = get(&format!("{base}/healthz"));
    assert_eq!(status, 200, "the process itself stays up");

    cluster.start_again();
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&format!("{base}/demo/")).0 != 200 {
        assert!(Instant::now() < deadline, "the server did not recover after PostgreSQL came back");
        std::thread::sleep(Duration::from_millis(200));
    }
    for p in &paths {
        let (status, body, _) = get(&format!("{base}{p}"));
        assert_eq!(status, 200, "GET {p} after PostgreSQL is back: {body}");
    }
}

/// mboxrd's quoting undone, the `From ` line and the separating blank line dropped.
fn unquoted_body(exported: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(exported.len());
    for line in exported.split_inclusive(|&b| b == b'\n').skip(1) {
        let quotes = line.iter().take_while(|&&b| b == b'>').count();
        if quotes > 0 && line[quotes..].starts_with(b"From ") {
            out.extend_from_slice(&line[1..]);
        } else {
            out.extend_from_slice(line);
        }
    }
    if out.ends_with(b"\n\n") {
        out.pop();
    }
    out
}

// The disk fills up during an import (SQLite on an 8 MB tmpfs, in a mount namespace of its own):
// one clear line, exit 75 (retry later), and the store opens afterwards with whole batches only:
// every stored message byte for byte one of the archive's.
#[test]
fn a_full_disk_during_an_import_is_one_clear_line_and_leaves_whole_batches() {
    let probe = Command::new("unshare")
        .args(["-m", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"])
        .output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        // CI runs as root, where it can: there a failure, elsewhere a line that says so.
        assert!(
            std::env::var_os("CI").is_none(),
            "cannot mount a small tmpfs under CI (needs root: unshare -m + mount -t tmpfs)"
        );
        println!(
            "SKIPPED: cannot mount a small tmpfs here (needs root: unshare -m + mount -t tmpfs)"
        );
        return;
    }
    let small = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let slice = ltp_slice();
    let script = r#"set -u
mount -t tmpfs -o size=8m tmpfs "$DATA" || exit 99
"$QUIRE" --data-dir "$DATA" import -q --batch-size 100 "$SLICE" >"$OUT/import.out" 2>"$OUT/import.err"; echo $? >"$OUT/import.rc"
"$QUIRE" --data-dir "$DATA" export -o "$OUT/export.mbox" 2>"$OUT/export.err"; echo $? >"$OUT/export.rc"
"#;
    let status = Command::new("unshare")
        .args(["-m", "sh", "-c", script])
        .env("DATA", small.path())
        .env("OUT", out.path())
        .env("QUIRE", QUIRE)
        .env("SLICE", &slice)
        .env_remove("QUIRE_DATABASE_URL")
        .env_remove("QUIRE_DATA_DIR")
        .status()
        .unwrap();
    assert!(status.success(), "the script in the mount namespace failed: {status}");
    let read = |name: &str| std::fs::read_to_string(out.path().join(name)).unwrap();
    let stderr = read("import.err");
    assert_eq!(
        read("import.rc").trim(),
        "75",
        "exit code of an import that filled the disk; stderr: {stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(
        stderr.starts_with("quire: ")
            && stderr.contains("disk is full")
            && stderr.contains("run the same command again"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("database or disk is full").count(), 1, "the cause once: {stderr}");

    assert_eq!(
        read("export.rc").trim(),
        "0",
        "the store opens after the full disk: {}",
        read("export.err")
    );
    let exported = exported_messages(&std::fs::read(out.path().join("export.mbox")).unwrap());
    assert!(!exported.is_empty(), "some batches were stored before the disk filled");
    // Batches of 100, the first three smaller (12, 25, 50): stored counts 12, 37, 87, 187, ...
    let n = exported.len();
    assert!(
        [12, 37].contains(&n) || (n >= 87 && (n - 87).is_multiple_of(100)),
        "only whole batches are stored, got {n}"
    );
    let (reader, _) = quire_import::mbox::open(&slice, 64 << 20).unwrap();
    let source: std::collections::HashSet<Vec<u8>> =
        reader.filter_map(Result::ok).take(exported.len() + 100).map(|m| m.bytes).collect();
    for m in &exported {
        let body = unquoted_body(m);
        assert!(
            source.contains(&body),
            "a stored message is not one of the archive's, byte for byte:\n{}",
            String::from_utf8_lossy(&body[..body.len().min(400)])
        );
    }
}
