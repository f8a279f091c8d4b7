//! The import pipeline end to end: every kind of source into a real store, on SQLite and on
//! PostgreSQL, on archives the tests write and on the real list slices of ../shared/corpus.

use std::cell::RefCell;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Command;

use quire_import::{ImportOptions, Input, Progress, Summary, import};
use quire_store::Store;
use quire_store::testing::{pg_store, sqlite_store};

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/corpus")).join(name)
}

fn message(n: u32, subject: &str, in_reply_to: Option<u32>) -> Vec<u8> {
    let reply = in_reply_to
        .map(|p| format!("In-Reply-To: <{p}@example.com>\nReferences: <{p}@example.com>\n"))
        .unwrap_or_default();
    format!(
        "From: A U Thor <author@example.com>\nTo: list@example.com\nSubject: {subject}\nMessage-ID: <{n}@example.com>\n{reply}Date: Wed, 20 Oct 2021 10:00:{:02} +0000\n\nFrom the start, message {n}.\n",
        n % 60
    )
    .into_bytes()
}

/// A small series: cover letter, two patches, a reply.
fn series_messages(base: u32) -> Vec<Vec<u8>> {
    let patch = |n: u32, of: u32| {
        let mut m = message(base + n, &format!("[PATCH {n}/{of}] change {}", base + n), Some(base));
        m.extend_from_slice(
            format!("---\n f.c | 1 +\n 1 file changed, 1 insertion(+)\n\ndiff --git a/f.c b/f.c\nindex 0000000..1111111 100644\n--- a/f.c\n+++ b/f.c\n@@ -1 +1,2 @@\n a\n+b{}\n-- \n2.30.0\n", base + n).as_bytes(),
        );
        m
    };
    vec![
        message(base, &format!("[PATCH 0/2] series {base}"), None),
        patch(1, 2),
        patch(2, 2),
        message(base + 3, &format!("Re: [PATCH 1/2] change {}", base + 1), Some(base + 1)),
    ]
}

fn write_mboxrd(path: &Path, messages: &[Vec<u8>]) {
    let mut out = Vec::new();
    for m in messages {
        out.extend_from_slice(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n");
        for line in m.split_inclusive(|&b| b == b'\n') {
            out.extend_from_slice(&quire_import::mbox::quote(line));
        }
        out.push(b'\n');
    }
    std::fs::write(path, out).expect("write mbox");
}

async fn run(store: &Store, inputs: &[Input], opts: &ImportOptions) -> Summary {
    let summary = import(store, inputs, opts, &|_| {}).await.expect("import");
    println!("{summary}");
    summary
}

fn inputs(paths: &[&Path]) -> Vec<Input> {
    paths.iter().map(|p| Input::Path(p.to_path_buf())).collect()
}

/// Runs an async test body on SQLite and on PostgreSQL.
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (_dir, store) = sqlite_store().await;
                ($body)(store).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let store = pg_store().await;
                ($body)(store).await;
            }
        }
    };
}

both_backends!(
    mbox_import_counts_kinds_and_second_run_imports_nothing,
    |store: Store| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let mbox = dir.path().join("list.mbox");
        let mut all = series_messages(100);
        all.extend(series_messages(200));
        write_mboxrd(&mbox, &all);

        let first = run(&store, &inputs(&[&mbox]), &ImportOptions::default()).await;
        assert_eq!(first.messages, 8);
        assert_eq!(
            (first.cover_letters, first.patches, first.replies, first.unparsable),
            (2, 4, 2, 0)
        );
        assert_eq!(first.series, 2);
        assert_eq!(first.duplicates, 0);
        assert!(first.to_string().starts_with("imported 8 messages (4 patches, 2 cover letters, 2 replies, 2 series, 0 unparsable) in "));

        let second = run(&store, &inputs(&[&mbox]), &ImportOptions::default()).await;
        assert_eq!((second.messages, second.duplicates, second.series), (0, 8, 0));
        assert!(second.to_string().ends_with(" s\n8 already stored"), "{second}");
        assert_eq!(store.messages_count().await.expect("count"), 8);
    }
);

both_backends!(forced_project_takes_the_messages_no_project_claims, |store: Store| async move {
    let dir = tempfile::tempdir().expect("tempdir");
    let mbox = dir.path().join("list.mbox");
    write_mboxrd(&mbox, &series_messages(1300));
    let opts = ImportOptions { project: Some("demo".into()), ..ImportOptions::default() };
    run(&store, &inputs(&[&mbox]), &opts).await;
    let projects = store.projects().await.expect("projects");
    let demo = projects.iter().find(|p| p.config.name == "demo").expect("project demo created");
    assert_eq!((demo.messages, demo.series), (4, 1));
    assert!(projects.iter().all(|p| p.config.name != quire_store::UNASSIGNED || p.messages == 0));
});

both_backends!(maildir_and_single_message_file_import, |store: Store| async move {
    let dir = tempfile::tempdir().expect("tempdir");
    let maildir = dir.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).expect("mkdir");
    }
    for (i, m) in series_messages(300).iter().enumerate() {
        let sub = if i % 2 == 0 { "cur" } else { "new" };
        std::fs::write(maildir.join(sub).join(format!("16000000{i}.M{i}P1.host:2,S")), m)
            .expect("write");
    }
    std::fs::write(maildir.join("tmp/1600000099.M9P1.host"), message(399, "half delivered", None))
        .expect("write");
    let eml = dir.path().join("one.eml");
    std::fs::write(&eml, message(400, "[PATCH] lone", None)).expect("write");

    let summary = run(&store, &inputs(&[&maildir, &eml]), &ImportOptions::default()).await;
    assert_eq!(summary.messages, 5, "tmp/ is not read");
    assert_eq!(summary.cover_letters, 1);
    assert_eq!(store.messages_count().await.expect("count"), 5);
});

// Patchew's test data separates messages by bare `From nobody` / `From A` lines, as Python's
// mailbox splits them: one message each (it was one message for the whole file), and the
// summary says how many were split that way.
both_backends!(bare_from_separators_split_and_are_counted, |store: Store| async move {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut mbox = Vec::new();
    for (i, m) in series_messages(500).iter().enumerate() {
        mbox.extend_from_slice(if i % 2 == 0 { b"From nobody\n" } else { b"From A\n" });
        mbox.extend_from_slice(m);
        mbox.extend_from_slice(b"\n");
    }
    let path = dir.path().join("patchew.mbox");
    std::fs::write(&path, &mbox).expect("write");
    let summary = run(&store, &inputs(&[&path]), &ImportOptions::default()).await;
    assert_eq!(summary.messages, series_messages(500).len() as u64, "{summary}");
    assert_eq!(summary.bare_separators, summary.messages);
    assert!(summary.to_string().contains("began at a bare `From ` line"), "{summary}");
});

both_backends!(oversized_message_is_skipped_and_named_the_rest_stored, |store: Store| async move {
    let dir = tempfile::tempdir().expect("tempdir");
    let mbox = dir.path().join("big.mbox");
    let mut big = message(500, "big", None);
    big.extend(std::iter::repeat_n(b'x', 10_000));
    big.push(b'\n');
    write_mboxrd(&mbox, &[message(501, "small", None), big, message(502, "small too", None)]);
    let opts = ImportOptions { max_message_bytes: 5_000, ..ImportOptions::default() };
    let summary = run(&store, &inputs(&[&mbox]), &opts).await;
    assert_eq!(summary.messages, 2);
    assert_eq!(summary.skipped.len(), 1);
    assert!(
        summary.skipped[0].contains("big.mbox") && summary.skipped[0].contains("message 2 at byte"),
        "{:?}",
        summary.skipped
    );
    assert!(summary.to_string().ends_with("\n1 skipped"), "{summary}");
});

both_backends!(missing_input_stops_after_storing_the_inputs_before_it, |store: Store| async move {
    let dir = tempfile::tempdir().expect("tempdir");
    let mbox = dir.path().join("good.mbox");
    write_mboxrd(&mbox, &series_messages(600));
    let missing = dir.path().join("missing.mbox");
    let err = import(&store, &inputs(&[&mbox, &missing]), &ImportOptions::default(), &|_| {})
        .await
        .expect_err("missing input");
    assert!(err.to_string().contains("missing.mbox"), "{err}");
    assert!(!err.is_temporary());
    assert_eq!(store.messages_count().await.expect("count"), 4);
});

both_backends!(progress_reports_every_batch_up_to_the_total_bytes, |store: Store| async move {
    let dir = tempfile::tempdir().expect("tempdir");
    let mbox = dir.path().join("list.mbox");
    let all: Vec<Vec<u8>> = (0..25).flat_map(|i| series_messages(1000 + i * 10)).collect();
    write_mboxrd(&mbox, &all);
    let seen = RefCell::new(Vec::<Progress>::new());
    let opts = ImportOptions { batch_size: 30, ..ImportOptions::default() };
    let summary = import(&store, &inputs(&[&mbox]), &opts, &|p| seen.borrow_mut().push(p.clone()))
        .await
        .expect("import");
    let seen = seen.into_inner();
    assert_eq!(summary.messages, 100);
    // The first three batches are an eighth, a quarter and a half of the limit (3, 7, 15),
    // then 30 each.
    assert_eq!(
        seen.iter().map(|p| p.messages).collect::<Vec<_>>(),
        [3, 10, 25, 55, 85, 100],
        "100 messages in batches of 30"
    );
    let total = std::fs::metadata(&mbox).expect("stat").len();
    assert!(seen.iter().all(|p| p.bytes_total == Some(total)));
    assert!(seen.windows(2).all(|w| w[0].bytes_read <= w[1].bytes_read));
    assert_eq!(seen.last().map(|p| p.bytes_read), Some(total));
});

both_backends!(batches_are_cut_by_bytes_too, |store: Store| async move {
    let dir = tempfile::tempdir().expect("tempdir");
    let mbox = dir.path().join("list.mbox");
    let all: Vec<Vec<u8>> = (0..25).flat_map(|i| series_messages(1000 + i * 10)).collect();
    write_mboxrd(&mbox, &all);
    // A budget of three messages' bytes: every batch ends at the message that reaches it.
    let budget = all[..3].iter().map(Vec::len).sum::<usize>();
    let seen = RefCell::new(Vec::<u64>::new());
    let opts = ImportOptions { batch_size: 1000, batch_bytes: budget, ..ImportOptions::default() };
    let summary = import(&store, &inputs(&[&mbox]), &opts, &|p| seen.borrow_mut().push(p.messages))
        .await
        .expect("import");
    assert_eq!(summary.messages, 100);
    let seen = seen.into_inner();
    let sizes: Vec<u64> =
        seen.iter().scan(0, |last, &n| Some(n - std::mem::replace(last, n))).collect();
    assert!(sizes.len() >= 100 / 4, "{sizes:?}");
    assert!(sizes.iter().all(|&n| (1..=4).contains(&n)), "{sizes:?}");
    // A message larger than the budget is a batch of its own, never refused for it.
    let opts = ImportOptions { batch_bytes: 1, ..ImportOptions::default() };
    let again = import(&store, &inputs(&[&mbox]), &opts, &|_| {}).await.expect("import");
    assert_eq!((again.duplicates, again.batches), (100, 100));
});

#[tokio::test]
async fn unreachable_or_closed_store_is_a_temporary_failure() {
    // Nothing listens on port 1: the mail server should retry later (EX_TEMPFAIL).
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Store::open(dir.path(), Some("postgres://quire@127.0.0.1:1/quire?connect_timeout=2"))
        .await
        .expect_err("no server");
    assert!(err.is_temporary(), "{err}");

    let (_dir, store) = sqlite_store().await;
    store.close().await;
    let mbox = dir.path().join("one.mbox");
    write_mboxrd(&mbox, &series_messages(1200));
    let err = import(&store, &inputs(&[&mbox]), &ImportOptions::default(), &|_| {})
        .await
        .expect_err("closed store");
    assert!(err.is_temporary(), "{err}");
    assert!(err.to_string().starts_with("cannot store: "), "{err}");
}

// ---- public-inbox ----

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("--git-dir")
        .arg(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Commits `content` as the only file `name` of a new commit on HEAD, with plumbing only (as
/// public-inbox does): `m` for a message, `d` for a removal.
fn commit_file(git_dir: &Path, name: &str, content: &[u8]) -> String {
    let blob_file = tempfile::NamedTempFile::new().expect("temp");
    std::fs::write(blob_file.path(), content).expect("write");
    let blob = git(git_dir, &["hash-object", "-w", &blob_file.path().display().to_string()]);
    let index = tempfile::tempdir().expect("tempdir");
    let index_file = index.path().join("index");
    let with_index = |args: &[&str]| {
        let out = Command::new("git")
            .arg("--git-dir")
            .arg(git_dir)
            .args(args)
            .env("GIT_INDEX_FILE", &index_file)
            .output()
            .expect("git");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    with_index(&["update-index", "--add", "--cacheinfo", &format!("100644,{blob},{name}")]);
    let tree = with_index(&["write-tree"]);
    let head = Command::new("git")
        .arg("--git-dir")
        .arg(git_dir)
        .args(["rev-parse", "-q", "--verify", "HEAD"])
        .output()
        .expect("git");
    let parent = if head.status.success() {
        vec!["-p".to_string(), String::from_utf8_lossy(&head.stdout).trim().to_string()]
    } else {
        vec![]
    };
    let mut args = vec!["commit-tree".to_string(), tree];
    args.extend(parent);
    args.extend(["-m".to_string(), "m".to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let commit = git(git_dir, &args);
    git(git_dir, &["update-ref", "HEAD", &commit]);
    commit
}

fn init_bare(dir: &Path) {
    let out =
        Command::new("git").args(["init", "-q", "--bare"]).arg(dir).output().expect("git init");
    assert!(out.status.success());
}

both_backends!(public_inbox_v2_second_run_imports_only_new_commits, |store: Store| async move {
    let inbox = tempfile::tempdir().expect("tempdir");
    let e0 = inbox.path().join("git/0.git");
    let e1 = inbox.path().join("git/1.git");
    init_bare(&e0);
    init_bare(&e1);
    let mut messages = series_messages(700).into_iter();
    for m in messages.by_ref().take(2) {
        commit_file(&e0, "m", &m);
    }
    let deleting = commit_file(&e0, "d", b"removed");
    let e1_head = commit_file(&e1, "m", &messages.next().expect("third"));
    let input = vec![Input::Path(inbox.path().to_path_buf())];

    let first = run(&store, &input, &ImportOptions::default()).await;
    assert_eq!(first.messages, 3);
    let key = |n: u32| {
        format!(
            "public-inbox:{}:{n}",
            std::fs::canonicalize(inbox.path()).expect("canonical").display()
        )
    };
    assert_eq!(
        store.cursor(&key(0)).await.expect("cursor").as_deref(),
        Some(deleting.as_str()),
        "a trailing removal moves the cursor too"
    );
    assert_eq!(store.cursor(&key(1)).await.expect("cursor").as_deref(), Some(e1_head.as_str()));

    let unchanged = run(&store, &input, &ImportOptions::default()).await;
    assert_eq!(
        (unchanged.messages, unchanged.duplicates, unchanged.read),
        (0, 0, 0),
        "nothing re-read"
    );

    let new_head = commit_file(&e1, "m", &messages.next().expect("fourth"));
    let second = run(&store, &input, &ImportOptions::default()).await;
    assert_eq!((second.messages, second.duplicates, second.read), (1, 0, 1));
    assert_eq!(store.cursor(&key(1)).await.expect("cursor").as_deref(), Some(new_head.as_str()));
    assert_eq!(store.messages_count().await.expect("count"), 4);
});

both_backends!(public_inbox_v1_incremental_in_small_batches, |store: Store| async move {
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("list.git");
    init_bare(&repo);
    for m in series_messages(800) {
        commit_file(&repo, "m", &m);
    }
    let input = vec![Input::Path(repo.clone())];
    let opts = ImportOptions { batch_size: 3, ..ImportOptions::default() };
    let first = run(&store, &input, &opts).await;
    // 1, 1, 1 (the first three are smaller), then 1 left.
    assert_eq!((first.messages, first.batches), (4, 4));
    for m in series_messages(900) {
        commit_file(&repo, "m", &m);
    }
    let second = run(&store, &input, &opts).await;
    assert_eq!((second.messages, second.read, second.series), (4, 4, 1));
});

/// Closes the store's connections and opens it again, as a restarted process would.
async fn reopen(store: Store) -> Store {
    let (backend, target) = (store.backend(), store.target().to_string());
    store.close().await;
    let reopened = match backend {
        "sqlite" => Store::open(Path::new(&target).parent().expect("data dir"), None).await,
        _ => Store::open(Path::new("."), Some(&target)).await,
    };
    reopened.expect("reopen store")
}

both_backends!(
    public_inbox_import_stopped_midway_resumes_without_loss_or_rereading,
    |store: Store| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = dir.path().join("list.git");
        init_bare(&repo);
        for m in series_messages(1400).into_iter().chain(series_messages(1500)) {
            commit_file(&repo, "m", &m);
        }
        let input = vec![Input::Path(repo.clone())];
        let opts = ImportOptions { batch_size: 1, ..ImportOptions::default() };
        // The import is dropped (as a crash would stop it) once two batches are stored, possibly in
        // the middle of a third batch's transaction.
        let stored = std::sync::atomic::AtomicU64::new(0);
        {
            let note = |p: &Progress| {
                stored.store(p.messages, std::sync::atomic::Ordering::SeqCst);
                // Gives the stopping timer time to fire before the import can run to its end.
                std::thread::sleep(std::time::Duration::from_millis(5));
            };
            let running = import(&store, &input, &opts, &note);
            tokio::pin!(running);
            loop {
                tokio::select! {
                    done = &mut running => panic!("import finished before it was stopped: {done:?}"),
                    _ = tokio::time::sleep(std::time::Duration::from_millis(1)) => {
                        if stored.load(std::sync::atomic::Ordering::SeqCst) >= 2 { break; }
                    }
                }
            }
        }
        // A crash ends the process, and with it the connections (and any open transaction).
        let store = reopen(store).await;
        let before = store.messages_count().await.expect("count");
        assert!((2..8).contains(&before), "{before} stored before the stop");
        let rest = run(&store, &input, &opts).await;
        assert_eq!(rest.duplicates, 0, "nothing stored twice: the cursor moved with each batch");
        assert_eq!(before + rest.messages, 8, "nothing skipped");
        assert_eq!(rest.read, 8 - before);
    }
);

/// An inbox made by the real public-inbox tools (Debian's `public-inbox` package), v2 and v1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_inbox_made_by_public_inbox_tools() {
    if Command::new("public-inbox-init").arg("--help").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "public-inbox-init is missing under CI: scripts/install-deps installs it (Debian package public-inbox)"
        );
        println!("SKIPPED: public-inbox-init is not installed (apt-get install public-inbox)");
        return;
    }
    let home = tempfile::tempdir().expect("tempdir");
    let pi = |args: &[&str], stdin: Option<&[u8]>, recipient: &str| {
        use std::io::Write;
        let mut cmd = Command::new(args[0]);
        cmd.args(&args[1..])
            .env("HOME", home.path())
            .env("ORIGINAL_RECIPIENT", recipient)
            .env_remove("PI_CONFIG");
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("spawn public-inbox tool");
        if let Some(input) = stdin {
            child.stdin.take().expect("stdin").write_all(input).expect("write");
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let v2 = home.path().join("v2");
    let v1 = home.path().join("v1");
    pi(
        &[
            "public-inbox-init",
            "-V2",
            "test2",
            &v2.display().to_string(),
            "http://example.com/test2",
            "list2@example.com",
        ],
        None,
        "",
    );
    pi(
        &[
            "public-inbox-init",
            "test1",
            &v1.display().to_string(),
            "http://example.com/test1",
            "list1@example.com",
        ],
        None,
        "",
    );
    let config = home.path().join(".public-inbox/config");
    let out = Command::new("git")
        .args(["config", "-f"])
        .arg(&config)
        .args(["publicinboxmda.spamcheck", "none"])
        .output()
        .expect("git config");
    assert!(out.status.success());
    let deliver = |m: &[u8]| {
        pi(&["public-inbox-mda", "--no-precheck"], Some(m), "list2@example.com");
        pi(&["public-inbox-mda", "--no-precheck"], Some(m), "list1@example.com");
    };
    let mut messages = series_messages(1100).into_iter();
    for m in messages.by_ref().take(3) {
        deliver(&m);
    }

    let (_dir, store) = sqlite_store().await;
    let both = vec![Input::Path(v2.clone()), Input::Path(v1.clone())];
    let first = run(&store, &both, &ImportOptions::default()).await;
    // The same three mails went to both inboxes, each adding its own List-Id: stored once,
    // then kept as copies with different bytes.
    assert_eq!((first.messages, first.conflicting_duplicates.len(), first.read), (3, 3, 6));

    deliver(&messages.next().expect("fourth"));
    let second = run(&store, &both, &ImportOptions::default()).await;
    assert_eq!(
        (second.messages, second.conflicting_duplicates.len(), second.read),
        (1, 1, 2),
        "only the new mail is read"
    );
    assert_eq!(store.messages_count().await.expect("count"), 4);
}

// ---- real list archives ----

/// Envelope lines of the archive, counted without the importer.
fn count_envelopes(path: &Path) -> u64 {
    let reader = BufReader::new(flate2::read::MultiGzDecoder::new(
        std::fs::File::open(path).expect("corpus"),
    ));
    reader
        .split(b'\n')
        .filter(|l| l.as_ref().is_ok_and(|l| l.starts_with(b"From mboxrd@z ")))
        .count() as u64
}

/// Imports a real slice, checks nothing is lost, then imports it again: nothing new.
async fn real_slice(store: Store, name: &str, expect: RealCounts) {
    let path = corpus(name);
    let envelopes = count_envelopes(&path);
    let input = vec![Input::Path(path)];
    let first = run(&store, &input, &ImportOptions::default()).await;
    assert_eq!(first.read, envelopes);
    assert_eq!(
        first.messages + first.duplicates + first.conflicting_duplicates.len() as u64,
        envelopes,
        "0 lost"
    );
    assert_eq!(first.duplicates, expect.same_bytes_duplicates);
    assert_eq!(first.conflicting_duplicates.len() as u64, expect.conflicting_duplicates);
    assert_eq!(first.messages, expect.distinct_message_ids);
    assert_eq!(store.messages_count().await.expect("count"), expect.distinct_message_ids);
    assert_eq!(
        first.patches + first.cover_letters + first.replies + first.unparsable,
        first.messages
    );
    // Counted by hand with a script on the Subject lines: `[...PATCH...0/n]` not a reply.
    let cover_letters = expect.cover_letter_subjects as f64;
    assert!(
        (first.cover_letters as f64 - cover_letters).abs() <= cover_letters * 0.05,
        "{} cover letters",
        first.cover_letters
    );
    assert!(first.patches >= expect.min_patches, "{} patches", first.patches);
    assert!(first.series >= first.cover_letters, "every cover letter starts a series");

    let second = run(&store, &input, &ImportOptions::default()).await;
    assert_eq!(second.messages, 0);
    assert_eq!(second.series, 0);
    assert_eq!(second.duplicates + second.conflicting_duplicates.len() as u64, envelopes);
    assert_eq!(store.messages_count().await.expect("count"), expect.distinct_message_ids);
}

struct RealCounts {
    distinct_message_ids: u64,
    same_bytes_duplicates: u64,
    conflicting_duplicates: u64,
    cover_letter_subjects: u64,
    min_patches: u64,
}

/// io-uring: 8000 envelopes, 7992 distinct Message-IDs: one mail twice with the same bytes,
/// seven twice with different bytes (cross-posted copies with other list headers). 345
/// `[PATCH 0/n]` subjects and 2522 other `[PATCH` subjects that are not replies.
const IO_URING: RealCounts = RealCounts {
    distinct_message_ids: 7992,
    same_bytes_duplicates: 1,
    conflicting_duplicates: 7,
    cover_letter_subjects: 345,
    min_patches: 2300,
};

/// LTP: 4000 envelopes, one Message-ID twice with different bytes; 74 cover letters, 1049 other
/// `[PATCH` subjects that are not replies.
const LTP: RealCounts = RealCounts {
    distinct_message_ids: 3999,
    same_bytes_duplicates: 0,
    conflicting_duplicates: 1,
    cover_letter_subjects: 74,
    min_patches: 950,
};

both_backends!(real_io_uring_slice_every_message_stored, |store: Store| async move {
    real_slice(store, "io-uring-2019-2021.8k.mbox.gz", IO_URING).await;
});

both_backends!(real_ltp_slice_every_message_stored, |store: Store| async move {
    real_slice(store, "ltp-2019-2020.4k.mbox.gz", LTP).await;
});
