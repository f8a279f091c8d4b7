//! Real git repositories built by the tests: an upstream project, contributors' clones, series
//! made with `git format-patch`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs git as a contributor would (own identity, no user config), panicking with git's message:
/// these are the tests' own setup steps, not code under test.
pub fn sh(dir: &Path, args: &[&str]) -> String {
    sh_with(dir, args, &[])
}

pub fn sh_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new("git")
        .env_clear()
        .envs(std::env::var_os("PATH").map(|p| ("PATH", p)))
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("LC_ALL", "C")
        .env("GIT_AUTHOR_NAME", "Alice Dev")
        .env("GIT_AUTHOR_EMAIL", "alice@example.org")
        .env("GIT_AUTHOR_DATE", "2024-01-02T03:04:05Z")
        .env("GIT_COMMITTER_NAME", "Alice Dev")
        .env("GIT_COMMITTER_EMAIL", "alice@example.org")
        .env("GIT_COMMITTER_DATE", "2024-01-02T03:04:05Z")
        .envs(env.iter().copied())
        .args(["-c", "init.defaultBranch=main"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("spawn git");
    assert!(
        out.status.success(),
        "git {args:?} in {}: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A temp directory with an `upstream` repository on `main`: a file `lib.c` of 20 lines, two
/// commits.
pub struct World {
    pub tmp: tempfile::TempDir,
    pub upstream: PathBuf,
}

impl World {
    pub fn new() -> World {
        let tmp = tempfile::tempdir().expect("tempdir");
        let upstream = tmp.path().join("upstream");
        std::fs::create_dir(&upstream).expect("mkdir");
        sh(&upstream, &["init", "--quiet"]);
        let lines: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        write(&upstream, "lib.c", &lines);
        sh(&upstream, &["add", "lib.c"]);
        sh(&upstream, &["commit", "--quiet", "-m", "initial"]);
        write(&upstream, "README", "quire test project\n");
        sh(&upstream, &["add", "README"]);
        sh(&upstream, &["commit", "--quiet", "-m", "add README"]);
        World { tmp, upstream }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    pub fn head(&self) -> String {
        sh(&self.upstream, &["rev-parse", "HEAD"])
    }

    /// A contributor's clone named `name`, at upstream's `main`.
    pub fn clone(&self, name: &str) -> PathBuf {
        let dir = self.path(name);
        let up = self.upstream.to_string_lossy().into_owned();
        let d = dir.to_string_lossy().into_owned();
        sh(self.tmp.path(), &["clone", "--quiet", &up, &d]);
        dir
    }

    /// A commit on upstream's main replacing `line N` of lib.c by `text`.
    pub fn upstream_edit(&self, line: u32, text: &str, msg: &str) -> String {
        edit_line(&self.upstream, line, text);
        sh(&self.upstream, &["commit", "--quiet", "-a", "-m", msg]);
        self.head()
    }
}

pub fn write(dir: &Path, file: &str, text: &str) {
    std::fs::write(dir.join(file), text).expect("write");
}

pub fn edit_line(dir: &Path, line: u32, text: &str) {
    let old = std::fs::read_to_string(dir.join("lib.c")).expect("read lib.c");
    let new: String = old
        .lines()
        .enumerate()
        .map(|(i, l)| if i + 1 == line as usize { format!("{text}\n") } else { format!("{l}\n") })
        .collect();
    write(dir, "lib.c", &new);
}

/// Commits one patch per `(line, text, subject)` in `repo` (editing lib.c), returning the tip.
pub fn commit_edits(repo: &Path, edits: &[(u32, &str, &str)]) -> String {
    for (line, text, subject) in edits {
        edit_line(repo, *line, text);
        sh(
            repo,
            &[
                "commit",
                "--quiet",
                "-a",
                "-m",
                subject,
                "-m",
                "Signed-off-by: Alice Dev <alice@example.org>",
            ],
        );
    }
    sh(repo, &["rev-parse", "HEAD"])
}

/// `git format-patch --cover-letter --stdout [--base=base] from..HEAD`: a valid mbox.
pub fn format_patch(repo: &Path, from: &str, base: Option<&str>) -> Vec<u8> {
    let range = format!("{from}..HEAD");
    let base_arg = base.map(|b| format!("--base={b}"));
    let mut args =
        vec!["format-patch", "--cover-letter", "--stdout", "--thread", "--subject-prefix=PATCH"];
    if let Some(b) = &base_arg {
        args.push(b);
    }
    args.push(&range);
    // sh() trims; an mbox ends with a newline.
    format!("{}\n", sh(repo, &args)).into_bytes()
}

pub fn mirror(world: &World) -> quire_git::Mirror {
    let url = world.upstream.to_string_lossy().into_owned();
    quire_git::Mirror::open_or_clone(&world.path("mirror.git"), &url, "main").expect("mirror")
}
