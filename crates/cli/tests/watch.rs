//! `quire watch` as an admin runs it: an IMAP mailbox on a real Dovecot (killed with SIGKILL
//! mid-stream, then started again: nothing lost, nothing twice), a public-inbox on disk followed
//! incrementally, and the clear errors of a bad feed or a missing password.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use quire_import::testing::Dovecot;

const QUIRE: &str = env!("CARGO_BIN_EXE_quire");

fn quire(data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(QUIRE);
    c.arg("--data-dir").arg(data).args(args);
    c.env_remove("QUIRE_DATA_DIR")
        .env_remove("QUIRE_DATABASE_URL")
        .env_remove("QUIRE_IMAP_PASSWORD");
    c
}

fn output(data: &Path, args: &[&str]) -> Output {
    quire(data, args).output().unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

fn messages_in(data: &Path) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let store = quire_store::Store::open(data, None).await.unwrap();
        let n = store.messages_count().await.unwrap();
        store.close().await;
        n
    })
}

fn wait_for_messages(data: &Path, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while messages_in(data) < n {
        let log = std::fs::read_to_string(data.join("watch.log")).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "expected {n} messages, have {}; quire watch said:\n{log}",
            messages_in(data)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn sample_messages() -> Vec<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/demo.mbox");
    let (reader, _) = quire_import::mbox::open(&path, 1 << 20).unwrap();
    reader.map(|m| m.unwrap().bytes).collect()
}

#[test]
fn imap_watch_survives_sigkill_and_imports_nothing_twice() {
    if quire_import::testing::dovecot_binary().is_none() {
        panic!("dovecot is not installed: run scripts/install-deps (Debian package dovecot-imapd)");
    }
    let dovecot = Dovecot::start();
    let data = tempfile::tempdir().unwrap();
    let data = data.path();
    let secret = data.join("imap-password");
    std::fs::write(&secret, "secret\n").unwrap();
    let url = format!("imap://lists@127.0.0.1:{}/INBOX", dovecot.port);
    let args = [
        "watch",
        url.as_str(),
        "--password-file",
        secret.to_str().unwrap(),
        "--project",
        "demo",
        "--poll",
        "1",
    ];

    let mail = sample_messages();
    for (i, m) in mail[..4].iter().enumerate() {
        dovecot.deliver(i, m);
    }
    let log = std::fs::File::create(data.join("watch.log")).unwrap();
    let mut child = quire(data, &args).stdout(Stdio::null()).stderr(log).spawn().unwrap();
    wait_for_messages(data, 4);
    for (i, m) in mail[4..7].iter().enumerate() {
        dovecot.deliver(4 + i, m);
    }
    wait_for_messages(data, 7);
    // SIGKILL: no chance to clean up.
    child.kill().unwrap();
    child.wait().unwrap();
    for (i, m) in mail[7..9].iter().enumerate() {
        dovecot.deliver(7 + i, m);
    }
    let mut once = args.to_vec();
    once.push("--once");
    let out = output(data, &once);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("fetched 2, 2 new, 0 already stored"), "{}", text(&out));
    assert_eq!(messages_in(data), 9);

    // The password from the environment; a wrong one is one clear line and exit 1.
    let out = quire(data, &["watch", url.as_str(), "--once"])
        .env("QUIRE_IMAP_PASSWORD", "wrong")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("login as lists"), "{}", text(&out));
}

#[test]
fn feeds_that_cannot_be_watched_get_one_clear_line() {
    let data = tempfile::tempdir().unwrap();
    let out = output(data.path(), &["watch", "imap://lists@127.0.0.1:1/INBOX", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--password-file") && err.lines().count() == 1, "{err}");
    let out = output(data.path(), &["watch", "ftp://example.org/list"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pi+file:///PATH"), "{}", text(&out));
    let out = output(data.path(), &["watch", "pi+file:///nonexistent/inbox", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("/nonexistent/inbox does not exist"),
        "{}",
        text(&out)
    );
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "pi")
        .env("GIT_AUTHOR_EMAIL", "pi@example.org")
        .env("GIT_COMMITTER_NAME", "pi")
        .env("GIT_COMMITTER_EMAIL", "pi@example.org")
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Appends `raw` to a public-inbox v1 repository the way public-inbox does: one commit whose
/// tree holds the message in a file named after it.
fn pi_append(repo: &Path, work: &Path, n: usize, raw: &[u8]) {
    let _ = std::fs::remove_dir_all(work);
    std::fs::create_dir_all(work.join("ab")).unwrap();
    std::fs::write(work.join(format!("ab/{n:038}")), raw).unwrap();
    let work_tree = format!("--work-tree={}", work.display());
    git(repo, &[&work_tree, "add", "-A", "."]);
    git(repo, &[&work_tree, "commit", "-q", "-m", "m"]);
}

#[test]
fn public_inbox_watch_imports_new_commits_incrementally() {
    let tmp = tempfile::tempdir().unwrap();
    let repo: PathBuf = tmp.path().join("inbox.git");
    let work = tmp.path().join("work");
    git(&repo, &["init", "-q", "--bare"]);
    let mail = sample_messages();
    for (i, m) in mail[..5].iter().enumerate() {
        pi_append(&repo, &work, i, m);
    }
    let data = tmp.path().join("data");
    let url = format!("pi+file://{}", repo.display());
    let out = output(&data, &["watch", url.as_str(), "--once", "--project", "demo"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(messages_in(&data), 5);
    let out = output(&data, &["watch", url.as_str(), "--once"]);
    assert!(text(&out).contains("nothing new"), "{}", text(&out));

    // Live: new commits are picked up at the next look.
    let log = std::fs::File::create(data.join("watch.log")).unwrap();
    let mut child = quire(&data, &["watch", url.as_str(), "--poll", "1", "--project", "demo"])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    for (i, m) in mail[5..8].iter().enumerate() {
        pi_append(&repo, &work, 5 + i, m);
    }
    wait_for_messages(&data, 8);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(messages_in(&data), 8);
}
