//! What the CLI tests share: the `quire` binary run on a data dir of its own, on SQLite or on a
//! PostgreSQL database of its own (`Site`), the checks that it succeeded, `both_backends!`, and
//! the waiting and child-killing a running `quire serve` wants.
// Each test target uses its own part of this module.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

pub const QUIRE: &str = env!("CARGO_BIN_EXE_quire");

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

/// A data dir, and a PostgreSQL database URL for the PostgreSQL variant.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub database_url: Option<String>,
}

impl Site {
    pub fn sqlite() -> Site {
        Site { dir: tempfile::tempdir().unwrap(), database_url: None }
    }

    pub fn postgres() -> Site {
        let url = block_on(async {
            let store = quire_store::testing::pg_store().await;
            let url = store.target().to_string();
            store.close().await;
            url
        });
        Site { dir: tempfile::tempdir().unwrap(), database_url: Some(url) }
    }

    /// A new, empty site on the same backend as this one.
    pub fn same_backend(&self) -> Site {
        if self.database_url.is_some() { Site::postgres() } else { Site::sqlite() }
    }

    /// `quire --data-dir <dir> args…`, with no QUIRE_* setting from the caller's environment.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(QUIRE);
        c.arg("--data-dir").arg(self.dir.path()).args(args);
        c.env_remove("QUIRE_DATA_DIR").env_remove("QUIRE_DATABASE_URL");
        if let Some(url) = &self.database_url {
            c.env("QUIRE_DATABASE_URL", url);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// The output of `quire args…`, which must succeed: else a panic with its status, stdout
    /// and stderr.
    pub fn succeeded(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "quire {args:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// The stdout of a successful `quire args…`.
    pub fn ok(&self, args: &[&str]) -> String {
        String::from_utf8(self.succeeded(args).stdout).unwrap()
    }

    /// The stdout of a successful `quire args…` as bytes (an export need not be UTF-8).
    pub fn ok_bytes(&self, args: &[&str]) -> Vec<u8> {
        self.succeeded(args).stdout
    }

    /// The stdout and the stderr of a successful `quire args…`.
    pub fn ok_with_stderr(&self, args: &[&str]) -> (String, String) {
        let out = self.succeeded(args);
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The stdout of a successful `quire args…`, parsed as JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }
}

/// `both_backends!(name, |site: Site| { … })`: the test `name::sqlite` and `name::postgres`,
/// each given a new site on its backend.
#[allow(unused_macros)] // search.rs runs its one body on both backends by hand.
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

/// A child process (a running `quire serve`), killed on drop.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until the `quire serve` at `url` answers /healthz, failing after 30 s.
pub fn wait_until_serving(url: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(&format!("{url}/healthz")).call().is_err() {
        assert!(Instant::now() < deadline, "quire serve did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until `cond` holds (polling), failing after `secs`.
pub fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}
