//! `quire abi` as a user runs it: the built binary on a temporary git repository.
use std::path::Path;
use std::process::{Command, Output};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
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

fn commit(dir: &Path, path: &str, content: &str, message: &str) -> String {
    let full = dir.join(path);
    std::fs::create_dir_all(full.parent().expect("has parent")).expect("mkdir");
    std::fs::write(full, content).expect("write");
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", message]);
    git(dir, &["rev-parse", "HEAD"])
}

const BEFORE: &str = "#include <stdint.h>\ntypedef uint64_t uint64_aligned_t __attribute__((aligned(8)));\nstruct xen_domctl_example {\n    uint64_aligned_t gfn;\n    uint32_t nr;\n    uint32_t flags;\n    uint32_t pad[3];\n};\n";

/// A repository with the Xen change: v1 (aligned), v2 (plain uint64_t), v3 (a comment only).
fn xen_repo() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("quire-cli-abi-").tempdir().expect("temp dir");
    git(dir.path(), &["init", "-q", "-b", "main"]);
    commit(dir.path(), "xen/include/public/domctl.h", BEFORE, "v1");
    git(dir.path(), &["tag", "v1"]);
    commit(
        dir.path(),
        "xen/include/public/domctl.h",
        &BEFORE.replace("uint64_aligned_t gfn", "uint64_t gfn"),
        "No functional change expected",
    );
    git(dir.path(), &["tag", "v2"]);
    commit(
        dir.path(),
        "xen/include/public/domctl.h",
        &format!("/* comment */\n{}", BEFORE.replace("uint64_aligned_t gfn", "uint64_t gfn")),
        "comment",
    );
    git(dir.path(), &["tag", "v3"]);
    dir
}

fn quire(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quire"))
        .arg("abi")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env_remove("QUIRE_CLANG")
        .output()
        .expect("quire runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn breaking_change_on_i386_exits_one_and_shows_the_table() {
    let repo = xen_repo();
    let out = quire(
        repo.path(),
        &["--before", "v1", "--after", "v2", "--path", "xen/include/public/**/*.h"],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("headers touched: xen/include/public/domctl.h"), "{text}");
    assert!(text.contains("\nx86_64 (x86_64-linux-gnu), aarch64 (aarch64-linux-gnu), arm (arm-linux-gnueabihf): no layout change\n"), "{text}");
    assert!(text.contains("\ni386 (i386-linux-gnu): BREAKING\n"), "{text}");
    let i386 = text.split("\ni386 (i386-linux-gnu): BREAKING").nth(1).expect("i386 block");
    let size_row = i386.lines().find(|l| l.trim_start().starts_with("size")).expect("size row");
    assert_eq!(size_row.split_whitespace().collect::<Vec<_>>(), vec!["size", "32", "28"]);
    let align_row =
        i386.lines().find(|l| l.trim_start().starts_with("alignment")).expect("alignment row");
    assert_eq!(align_row.split_whitespace().collect::<Vec<_>>(), vec!["alignment", "8", "4"]);
    assert!(i386.contains("gfn type") && i386.contains("uint64_aligned_t"), "{text}");
    // The verdict and the breaking block lead (issue 29): read first in a box or a mail.
    assert_eq!(text.lines().nth(1), Some("result: breaking ABI change on i386 (i386-linux-gnu)"));
    assert!(text.find("\ni386 (i386-linux-gnu): BREAKING") < text.find("\nx86_64 ("), "{text}");
}

#[test]
fn json_output_carries_the_same_verdict() {
    let repo = xen_repo();
    let out = quire(
        repo.path(),
        &["--before", "v1", "--after", "v2", "--target", "i386", "--target", "x86_64", "--json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
    let configs = json["configurations"].as_array().expect("configurations");
    assert_eq!(configs.len(), 2);
    let i386 = configs.iter().find(|c| c["target"]["name"] == "i386").expect("i386");
    let change = &i386["types"][0];
    assert_eq!(change["name"], "struct xen_domctl_example");
    assert_eq!(change["breaking"], true);
    assert_eq!(change["before"]["size"], 32);
    assert_eq!(change["after"]["size"], 28);
    let x86 = configs.iter().find(|c| c["target"]["name"] == "x86_64").expect("x86_64");
    assert_eq!(x86["types"].as_array().map(Vec::len), Some(0));
}

#[test]
fn comment_only_change_exits_zero() {
    let repo = xen_repo();
    let out = quire(repo.path(), &["--before", "v2", "--after", "v3", "--define", "__XEN_TOOLS__"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_eq!(
        text.matches("no layout change").count(),
        1,
        "4 targets x 2 macro sets on one line: {text}"
    );
    assert!(
        text.contains("x86_64 (x86_64-linux-gnu), x86_64 (x86_64-linux-gnu) -D__XEN_TOOLS__, i386"),
        "{text}"
    );
    assert_eq!(text.matches("-D__XEN_TOOLS__").count(), 4, "{text}");
}

#[test]
fn unknown_revision_exits_two_with_gits_reason() {
    let repo = xen_repo();
    let out = quire(repo.path(), &["--before", "v1", "--after", "no-such-tag"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("quire abi: `git rev-parse"), "{err}");
}

#[test]
fn missing_clang_exits_two_naming_the_fix() {
    let repo = xen_repo();
    let out =
        quire(repo.path(), &["--before", "v1", "--after", "v2", "--clang", "/nonexistent/clang"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.trim(),
        "quire abi: clang not found at /nonexistent/clang: install it with `apt-get install clang`"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn missing_required_revision_is_a_usage_error() {
    let repo = xen_repo();
    let out = quire(repo.path(), &["--before", "v1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--after"));
}

#[test]
fn header_that_stops_compiling_exits_one_with_the_compiler_message() {
    let repo = xen_repo();
    let broken = commit(
        repo.path(),
        "xen/include/public/domctl.h",
        "struct broken { undefined_t x; };\n",
        "break it",
    );
    let out = quire(repo.path(), &["--before", "v3", "--after", &broken, "--target", "x86_64"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("xen/include/public/domctl.h does not compile (after, breaking):"),
        "{text}"
    );
    assert!(
        text.contains("xen/include/public/domctl.h:1:17: error: unknown type name 'undefined_t'"),
        "{text}"
    );
}
