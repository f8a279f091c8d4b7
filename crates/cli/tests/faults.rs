//! Faults, from the user's side: `quire import` killed with SIGKILL in the middle of a real
//! slice and run again; PostgreSQL stopped and started under a running `quire serve`; the disk
//! filling up during an import. Slower than the other CLI tests (each imports a real slice).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const QUIRE: &str = env!("CARGO_BIN_EXE_quire");

fn ltp_slice() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/ltp-2019-2020.4k.mbox.gz")
}

/// A data dir, and a PostgreSQL database URL for the PostgreSQL variant.
struct Site {
    dir: tempfile::TempDir,
    database_url: Option<String>,
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

impl Site {
    fn sqlite() -> Site {
        Site { dir: tempfile::tempdir().unwrap(), database_url: None }
    }

    fn postgres() -> Site {
        let url = block_on(async {
            let store = quire_store::testing::pg_store().await;
            let url = store.target().to_string();
            store.close().await;
            url
        });
        Site { dir: tempfile::tempdir().unwrap(), database_url: Some(url) }
    }

    fn same_backend(&self) -> Site {
        if self.database_url.is_some() { Site::postgres() } else { Site::sqlite() }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(QUIRE);
        c.arg("--data-dir").arg(self.dir.path()).args(args);
        c.env_remove("QUIRE_DATA_DIR").env_remove("QUIRE_DATABASE_URL");
        if let Some(url) = &self.database_url {
            c.env("QUIRE_DATABASE_URL", url);
        }
        c
    }

    fn ok(&self, args: &[&str]) -> Vec<u8> {
        let out = self.cmd(args).output().unwrap();
        assert!(out.status.success(), "quire {args:?} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr));
        out.stdout
    }

    /// Messages stored (every project), read through the store while quire may be writing.
    fn stored_messages(&self) -> u64 {
        block_on(async {
            let Ok(store) = quire_store::Store::open(self.dir.path(), self.database_url.as_deref()).await else { return 0 };
            let n = store.projects().await.map(|ps| ps.iter().map(|p| p.messages).sum()).unwrap_or(0);
            store.close().await;
            n
        })
    }

    /// What a user can see of the store: the message count, every series (JSON), and every raw
    /// message as `quire export` gives it back, sorted (the order of the rows may differ).
    fn fingerprint(&self) -> (u64, Value, Vec<Vec<u8>>) {
        let series: Value = serde_json::from_slice(&self.ok(&["series", "list", "--all", "--limit", "1000", "--json"])).unwrap();
        (self.stored_messages(), series, exported_messages(&self.ok(&["export"])))
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

macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn sqlite() {
                ($body)(Site::sqlite());
            }
            #[test]
            fn postgres() {
                ($body)(Site::postgres());
            }
        }
    };
}

// SIGKILL in the middle of an import (some batches stored, most not), then the same import
// again: the store is the one a clean import makes: every message once, none lost, the same
// series, the same raw bytes.
both_backends!(an_import_killed_with_sigkill_and_run_again_stores_every_message_once, |site: Site| {
    let slice = ltp_slice();
    let slice = slice.to_str().unwrap();
    let clean = site.same_backend();
    clean.ok(&["import", "-q", slice]);
    let expected = clean.fingerprint();
    assert!(expected.0 > 3900, "the clean import stored {} messages", expected.0);

    let mut child = site.cmd(&["import", "-q", "--batch-size", "100", slice]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let at_kill = loop {
        let n = site.stored_messages();
        if n >= 300 {
            break n;
        }
        assert!(child.try_wait().unwrap().is_none(), "the import ended before it could be killed");
        assert!(Instant::now() < deadline, "the import stored nothing in 120 s");
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "the import finished before the kill ({at_kill} messages seen)");
    let after_kill = site.stored_messages();
    assert!(after_kill < expected.0, "the import was killed after storing everything ({after_kill})");
    // What the killed import left is usable: whole batches only, readable.
    let (n, _, raws) = site.fingerprint();
    assert_eq!(n, raws.len() as u64, "after the kill, the count and the exported messages disagree");

    site.ok(&["import", "-q", slice]);
    let again = site.fingerprint();
    assert_eq!(again.0, expected.0, "message count after kill + import again");
    assert!(again.2 == expected.2, "the raw messages after kill + import again differ from a clean import's");
    assert_eq!(again.1, expected.1, "the series after kill + import again differ from a clean import's");
});
