//! A throwaway git repository the tests write headers into, commit by commit.
#![allow(dead_code)]
use std::path::Path;
use std::process::Command;

pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn new() -> Repo {
        let dir = tempfile::Builder::new().prefix("quire-abi-test-").tempdir().expect("temp dir");
        let repo = Repo { dir };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .arg("-C")
            .arg(self.path())
            .args([
                "-c",
                "user.name=Quire Test",
                "-c",
                "user.email=test@quire.invalid",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git runs");
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Writes the files (an empty content removes the file) and commits; returns the commit id.
    pub fn commit(&self, message: &str, files: &[(&str, &str)]) -> String {
        for (path, content) in files {
            let full = self.path().join(path);
            if content.is_empty() {
                let _ = std::fs::remove_file(&full);
                continue;
            }
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent).expect("mkdir");
            }
            std::fs::write(&full, content).expect("write header");
        }
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

/// The config the tests use: Xen-like public headers that bring their own stdint.
pub fn config() -> quire_abi::AbiConfig {
    quire_abi::AbiConfig {
        headers: vec!["include/public/**/*.h".to_owned()],
        prelude: vec!["#include <stdint.h>".to_owned()],
        ..quire_abi::AbiConfig::default()
    }
}
