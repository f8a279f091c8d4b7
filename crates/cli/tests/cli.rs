//! The `quire` program driven as a user drives it, on the sample archive that ships with quire,
//! on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use std::os::unix::process::ExitStatusExt as _;

use common::*;
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn sample() -> PathBuf {
    repo_root().join("samples/demo.mbox")
}

fn trailers_of(patch: &Value) -> Vec<(String, String, bool)> {
    patch["trailers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["tag"].as_str().unwrap().to_string(),
                t["email"].as_str().unwrap().to_string(),
                t["verified"].as_bool().unwrap(),
            )
        })
        .collect()
}

both_backends!(the_sample_archive_imports_into_series_with_their_reviews, |site: Site| {
    let out = site.ok(&["import", sample().to_str().unwrap()]);
    assert!(
        out.starts_with("imported 16 messages (7 patches, 2 cover letters, 7 replies, 4 series, 0 unparsable) in "),
        "{out}"
    );

    // v1 asked by one of its patches: the series is named by its cover letter.
    let v1 = site.json(&["series", "show", "<v1-2@example.org>", "--json"]);
    assert_eq!(v1["message_id"], "v1-0@example.org");
    assert_eq!(v1["version"], 1);
    assert_eq!(v1["total"], 3);
    assert_eq!(v1["complete"], true);
    assert_eq!(v1["superseded_by"], "v2-0@example.org");
    assert_eq!(v1["submitter"]["email"], "ada@example.org");
    assert_eq!(v1["replies"], 4);
    let patches = v1["patches"].as_array().unwrap();
    assert_eq!(patches.len(), 3);
    // Charles reviewed patch 1; Grace acked the cover letter, which counts for every patch.
    assert_eq!(
        trailers_of(&patches[0]),
        vec![
            ("Reviewed-by".into(), "charles@example.com".into(), true),
            ("Acked-by".into(), "grace@example.net".into(), true)
        ]
    );
    assert_eq!(
        trailers_of(&patches[1]),
        vec![("Acked-by".into(), "grace@example.net".into(), true)]
    );
    assert_eq!(patches[0]["diffstat"][0]["path"], "src/ring.c");
    assert_eq!(patches[0]["patch_id"].as_str().unwrap().len(), 40);

    // v2: patch 1 and 3 are unchanged (same patch-id), so their trailers carry over; patch 2
    // was reworked and carries none.
    let v2 = site.json(&["series", "show", "v2-0@example.org", "--json"]);
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["superseded_by"], Value::Null);
    let revisions: Vec<&str> = v2["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(revisions, ["v1-0@example.org", "v2-0@example.org"]);
    let patches = v2["patches"].as_array().unwrap();
    assert_eq!(patches[0]["patch_id"], v1["patches"][0]["patch_id"]);
    assert!(trailers_of(&patches[0]).contains(&(
        "Reviewed-by".into(),
        "charles@example.com".into(),
        true
    )));
    assert!(trailers_of(&patches[1]).is_empty());

    // The list shows the newest revisions; --all shows v1 too.
    let list = site.ok(&["series", "list"]);
    assert!(list.contains("[PATCH v2 0/3] ring: setup helper"), "{list}");
    assert!(list.contains("[PATCH] ring: add ring_fini"), "{list}");
    assert!(list.contains("[GIT PULL] demo fixes for 1.1"), "{list}");
    assert!(!list.contains("<v1-0@example.org>"), "{list}");
    assert!(site.ok(&["series", "list", "--all"]).contains("<v1-0@example.org>"));
    let json = site.json(&["series", "list", "--json", "--query", "subject:ring_fini"]);
    assert_eq!(json["series"].as_array().unwrap().len(), 1);
});

both_backends!(importing_twice_changes_nothing_and_says_so, |site: Site| {
    site.ok(&["import", sample().to_str().unwrap()]);
    let before = site.ok(&["series", "list", "--all", "--json"]);
    let out = site.ok(&["import", sample().to_str().unwrap()]);
    assert!(
        out.starts_with(
            "imported 0 messages (0 patches, 0 cover letters, 0 replies, 0 series, 0 unparsable)"
        ),
        "{out}"
    );
    assert!(out.contains("16 already stored"), "{out}");
    assert_eq!(site.ok(&["series", "list", "--all", "--json"]), before);
});

both_backends!(reindex_rebuilds_the_same_series_from_raw_mail, |site: Site| {
    site.ok(&["import", sample().to_str().unwrap()]);
    let before = site.ok(&["series", "show", "v2-0@example.org", "--json"]);
    let out = site.ok(&["reindex"]);
    assert!(out.starts_with("reindexed 16 messages"), "{out}");
    assert_eq!(site.ok(&["series", "show", "v2-0@example.org", "--json"]), before);
});

/// `quire am` of any revision writes the newest one, and `git am` applies it with the review
/// trailers in the commit messages.
#[test]
fn am_writes_the_newest_revision_and_git_am_applies_it() {
    let site = Site::sqlite();
    site.ok(&["import", sample().to_str().unwrap()]);
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("demo");
    let mbox = work.path().join("series.mbox");
    let made = Command::new(repo_root().join("samples/make-demo-mbox.sh"))
        .arg(work.path().join("regenerated.mbox"))
        .arg(&repo)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    // The shipped sample is exactly what its generator writes.
    assert_eq!(
        std::fs::read(work.path().join("regenerated.mbox")).unwrap(),
        std::fs::read(sample()).unwrap()
    );

    let out = site.run(&["am", "v1-1@example.org", "-o", mbox.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("(v2): 3 patch(es)"), "{said}");

    let git = |args: &[&str]| {
        let o = Command::new("git")
            .current_dir(&repo)
            .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    git(&["checkout", "-q", "-b", "applied", "main"]);
    git(&["am", "-q", mbox.to_str().unwrap()]);
    let log = git(&["log", "--format=%s%n%b--", "main..applied"]);
    assert!(log.contains("public/ring: use plain uint64_t for the length"), "{log}");
    assert!(log.contains("Reviewed-by: Charles Babbage <charles@example.com>"), "{log}");
    // The tree is the one the v2 branch of the generator made.
    assert_eq!(git(&["rev-parse", "applied^{tree}"]), git(&["rev-parse", "v2^{tree}"]));
}

// `quire series list | head`: the reader going away ends the output quietly (it said "quire:
// Broken pipe (os error 32)"), for the commands that print for a reader.
#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    let site = Site::sqlite();
    let ltp = repo_root().join("../shared/corpus/ltp-2019-2020.4k.mbox.gz");
    site.ok(&["import", "-q", ltp.to_str().unwrap()]);
    for args in
        [&["export"][..], &["series", "list", "--all", "--json"], &["series", "list", "--all"]]
    {
        let mut child =
            site.cmd(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut first = [0u8; 100];
        std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stderr), "", "quire {args:?}");
        assert!(
            out.status.success() || out.status.signal() == Some(libc_sigpipe()),
            "{:?}",
            out.status
        );
    }
}

fn libc_sigpipe() -> i32 {
    13
}

// An import that keeps more than 20 second copies says how many it did not list.
#[test]
fn import_summaries_say_what_they_leave_out() {
    let site = Site::sqlite();
    let work = tempfile::tempdir().unwrap();
    let mbox = |body: &str| {
        (0..25)
            .map(|i| format!("From x@y Thu Jan  1 00:00:00 2024\nFrom: A <a@example.org>\nSubject: note {i}\nMessage-Id: <dup-{i}@example.org>\nDate: Mon, 4 Mar 2024 09:00:00 +0000\n\n{body}\n\n"))
            .collect::<String>()
    };
    std::fs::write(work.path().join("a.mbox"), mbox("first")).unwrap();
    std::fs::write(work.path().join("b.mbox"), mbox("second")).unwrap();
    site.ok(&["import", work.path().join("a.mbox").to_str().unwrap()]);
    let (_, said) = site.ok_with_stderr(&["import", work.path().join("b.mbox").to_str().unwrap()]);
    assert_eq!(
        said.lines().filter(|l| l.starts_with("kept a second copy of <dup-")).count(),
        20,
        "{said}"
    );
    assert!(said.contains("... and 5 more second copies kept"), "{said}");
}

// Every mbox quire writes keeps each message's Date as sent: `git am` of `quire am` gives the
// commit the mail's own author date and zone (it wrote the Date in UTC). A mail dated years
// ahead is dated by its arrival, flagged and listed by it; its mbox still says what it said.
both_backends!(dates_are_kept_as_sent_and_a_future_date_is_held_to_its_arrival, |site: Site| {
    let work = tempfile::tempdir().unwrap();
    let sh = |script: &str| {
        let out = Command::new("sh")
            .arg("-ec")
            .arg(script)
            .current_dir(work.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", work.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    sh(
        "git init -q -b main tree && cd tree && git config user.name 'Li Wang' && git config user.email li@example.com \
        && echo a > f && git add f && git commit -qm base \
        && echo b >> f && GIT_AUTHOR_DATE='2020-03-05T17:53:43+0800' git commit -qam 'f: add b' -m 'Signed-off-by: Li Wang <li@example.com>' \
        && git format-patch -q -1 --stdout --add-header='Message-Id: <zone-1@example.com>' > ../zone.mbox \
        && git reset -q --hard HEAD~1",
    );
    let lone = |id: &str, date: &str, file: &str, received: &str| {
        format!(
            "From x@y Thu Jan  1 00:00:00 2024\nReceived: from mx.example.org by lists.example.org; {received}\nFrom: Grace <grace@example.net>\nSubject: [PATCH] {file}: add\nMessage-Id: <{id}>\nDate: {date}\n\nSigned-off-by: Grace <grace@example.net>\n---\n {file} | 1 +\n\ndiff --git a/{file} b/{file}\nnew file mode 100644\nindex 0000000..e69de29\n--- /dev/null\n+++ b/{file}\n@@ -0,0 +1 @@\n+x\n\n"
        )
    };
    let future = lone(
        "future-1@example.net",
        "Sat, 1 Mar 2042 09:00:00 +0000",
        "g",
        "Fri, 1 Mar 2024 09:00:00 +0000",
    );
    let later = lone(
        "later-1@example.net",
        "Sat, 2 Mar 2024 09:00:00 +0100",
        "h",
        "Sat, 2 Mar 2024 08:00:05 +0000",
    );
    std::fs::write(work.path().join("more.mbox"), format!("{future}{later}")).unwrap();
    let (_, said) = site.ok_with_stderr(&[
        "import",
        work.path().join("zone.mbox").to_str().unwrap(),
        work.path().join("more.mbox").to_str().unwrap(),
    ]);
    assert!(said.contains("flagged <future-1@example.net>: doubtful Date 2042-03-01"), "{said}");

    let mbox = work.path().join("am.mbox");
    site.ok(&["am", "zone-1@example.com", "-o", mbox.to_str().unwrap()]);
    assert!(
        std::fs::read_to_string(&mbox).unwrap().contains("Date: Thu, 5 Mar 2020 17:53:43 +0800")
    );
    sh("cd tree && git am -q ../am.mbox");
    assert_eq!(sh("cd tree && git log -1 --format=%ad --date=raw").trim(), "1583402023 +0800");

    let listed = |site: &Site| -> Vec<(String, i64)> {
        site.json(&["series", "list", "--all", "--json"])["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["message_id"].as_str().unwrap().to_string(), s["date"].as_i64().unwrap()))
            .collect()
    };
    let expected = vec![
        ("later-1@example.net".to_string(), 1_709_366_400),
        ("future-1@example.net".to_string(), 1_709_283_600),
        ("zone-1@example.com".to_string(), 1_583_402_023),
    ];
    assert_eq!(listed(&site), expected);
    let am = site.ok(&["am", "future-1@example.net"]);
    assert!(am.contains("Date: Sat, 1 Mar 2042 09:00:00 +0000"), "{am}");
    site.ok(&["reindex"]);
    assert_eq!(listed(&site), expected, "a reindex dates them the same way");
});

/// The mail-server pipe: one message on stdin; a temporary failure exits 75 so the MTA retries.
#[test]
fn import_from_stdin_and_its_exit_codes() {
    let site = Site::sqlite();
    let message = b"From: A <a@example.com>\nTo: demo@lists.example.org\nSubject: [PATCH] x: y\nMessage-Id: <stdin-1@example.com>\nDate: Mon, 4 Mar 2024 10:00:00 +0000\n\nFix.\n\nSigned-off-by: A <a@example.com>\n---\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n";
    let pipe = |site: &Site, input: &[u8]| {
        let mut child = site
            .cmd(&["import", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    };
    let out = pipe(&site, message);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("imported 1 messages (1 patches"));
    site.ok(&["series", "show", "stdin-1@example.com"]);

    // A data dir that cannot be created (a file is in the way): temporary, exit 75.
    let blocked = tempfile::tempdir().unwrap();
    let file = blocked.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let mut c = Command::new(QUIRE);
    c.arg("--data-dir").arg(&file).args(["import", "-"]).env_remove("QUIRE_DATABASE_URL");
    let mut child =
        c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(message).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(75), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn unknown_message_ids_and_bad_configuration_get_one_clear_line() {
    let site = Site::sqlite();
    site.ok(&["import", sample().to_str().unwrap()]);
    let out = site.run(&["series", "show", "nope@example.org"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no message <nope@example.org> in the store")
    );
    let out = site.run(&["series", "show", "talk-1@example.com"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("belongs to no series"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    std::fs::write(
        site.dir.path().join("quire.toml"),
        "[[project]]\nname = \"demo\"\nlistid = [\"x\"]\n",
    )
    .unwrap();
    let out = site.run(&["series", "list"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("quire.toml") && err.contains("line 3") && err.contains("listid"),
        "{err}"
    );
}

#[test]
fn projects_from_the_configuration_file_sort_the_mail() {
    let site = Site::sqlite();
    site.ok(&["init"]);
    let config = site.dir.path().join("quire.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[[project]]\nname = \"demo\"\nlist_id = [\"demo.lists.example.org\"]\n");
    std::fs::write(&config, text).unwrap();
    site.ok(&["import", sample().to_str().unwrap()]);
    let projects = site.json(&["project", "list", "--json"]);
    let demo = projects.as_array().unwrap().iter().find(|p| p["name"] == "demo").unwrap();
    assert_eq!(demo["messages"], 16);
    assert_eq!(demo["series"], 4);
    let list = site.json(&["series", "list", "--project", "demo", "--all", "--json"]);
    assert_eq!(list["total"], 4);
    let out = site.run(&["series", "list", "--project", "nosuch"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no project `nosuch`; known projects:"));
}

// `quire apply` applies one series now and prints the log; `quire worker --once` applies every
// other complete series; results show in `series show`.
both_backends!(apply_and_worker_apply_the_sample_series_to_its_tree, |site: Site| {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("demo");
    let made = Command::new(repo_root().join("samples/make-demo-mbox.sh"))
        .arg(work.path().join("regenerated.mbox"))
        .arg(&repo)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let bare = work.path().join("published.git");
    let init = Command::new("git").args(["init", "-q", "--bare"]).arg(&bare).output().unwrap();
    assert!(init.status.success());
    site.ok(&[
        "project",
        "add",
        "demo",
        "--git",
        repo.to_str().unwrap(),
        "--branch",
        "main",
        "--mirror",
        bare.to_str().unwrap(),
    ]);
    site.ok(&["import", "--project", "demo", sample().to_str().unwrap()]);

    let out = site.run(&["apply", "<v1-1@example.org>"]);
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("git am --3way") && stdout.contains("applied 3 commit(s)"), "{stdout}");
    assert!(stderr.contains("pushed as refs/tags/quire/"), "{stderr}");
    let shown = site.json(&["series", "show", "v1-1@example.org", "--json"]);
    assert_eq!(shown["apply"]["state"], "applied", "{shown}");

    let out = site.run(&["worker", "--once"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("errors 0"), "{said}");
    let listed = site.json(&["series", "list", "--all", "--json"]);
    let series = listed["series"].as_array().cloned().unwrap_or_default();
    assert_eq!(series.len(), 4, "{listed}");
    let mut applied = 0;
    for s in &series {
        let id = s["message_id"].as_str().unwrap();
        let shown = site.json(&["series", "show", id, "--json"]);
        if shown["complete"] == true && shown["is_pull"] == false {
            assert!(shown["apply"]["state"].is_string(), "{id} has no apply result: {shown}");
            applied += 1;
        } else {
            assert!(shown["apply"].is_null(), "a pull request is not applied: {shown}");
        }
    }
    assert_eq!(applied, 3);
    // Unknown series: exit 3 and one line.
    let out = site.run(&["apply", "nope@example.org"]);
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
});

/// A running `quire serve` (killed on drop) and its URL.
struct Serving {
    _server: Server,
    url: String,
}

fn serve_on(site: &Site, port: u16, extra: &[&str]) -> Serving {
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec!["serve", "--listen", listen.as_str()];
    args.extend_from_slice(extra);
    let child = site.cmd(&args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let url = format!("http://{listen}");
    let server = Server(child);
    wait_until_serving(&url);
    Serving { _server: server, url }
}

/// The store of a site, opened next to the running server, to watch its jobs.
fn job_states(site: &Site, kind_prefix: &str) -> Vec<(String, u64)> {
    block_on(async {
        let store =
            quire_store::Store::open(site.dir.path(), site.database_url.as_deref()).await.unwrap();
        let counts = store.job_counts().await.unwrap();
        store.close().await;
        counts
            .into_iter()
            .filter(|c| c.kind.starts_with(kind_prefix))
            .map(|c| (c.state, c.count))
            .collect()
    })
}

fn checks_named(site: &Site, id: &str, name: &str) -> Vec<Value> {
    let shown = site.json(&["series", "show", id, "--json"]);
    shown["checks"].as_array().unwrap().iter().filter(|c| c["name"] == name).cloned().collect()
}

// Checks end to end: `quire serve` applies the sample's series and queues the `build` script for
// testers; tester A (a real `quire tester` process) is killed mid-job; tester B finishes every job,
// the lost one once; the built-in `style` check ran in the worker; tokens guard the API.
both_backends!(testers_run_check_scripts_and_a_killed_tester_loses_its_job, |site: Site| {
    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("demo");
    let made = Command::new(repo_root().join("samples/make-demo-mbox.sh"))
        .arg(work.path().join("d.mbox"))
        .arg(&repo)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let bare = work.path().join("published.git");
    assert!(
        Command::new("git").args(["init", "-q", "--bare"]).arg(&bare).status().unwrap().success()
    );
    // The script tries to reach the server (reachable from here): in the sandbox it cannot.
    let port = free_port();
    let config = format!(
        "[[project]]\nname = \"demo\"\ngit = \"{}\"\nbranch = \"main\"\nmirror = \"{}\"\n\n[[project.check]]\nname = \"style\"\nbuiltin = \"style\"\n\n[[project.check]]\nname = \"build\"\nscript = \"sleep 3; test -f include/public/ring.h && echo built ok; curl -s -m 2 http://127.0.0.1:{port}/healthz || echo no network\"\ntimeout = 60\n",
        repo.display(),
        bare.display()
    );
    std::fs::write(site.dir.path().join("quire.toml"), config).unwrap();
    site.ok(&["import", "--project", "demo", sample().to_str().unwrap()]);
    let token = site.ok(&["token", "create", "--scope", "tester", "ci-box"]).trim().to_string();
    assert!(token.starts_with("quire_") && token.len() > 40, "{token}");
    let server = serve_on(&site, port, &["--tester-lease", "2"]);
    assert!(
        ureq::get(&format!("{}/healthz", server.url)).call().is_ok(),
        "the server is reachable outside the sandbox"
    );

    // The worker in `serve` applies the three complete series and queues three build jobs.
    wait_for(60, "three queued build jobs", || {
        job_states(&site, "check:any:build").iter().map(|c| c.1).sum::<u64>() == 3
    });
    let style = checks_named(&site, "v2-0@example.org", "style");
    assert_eq!(style.len(), 1, "{style:?}");
    assert_eq!(style[0]["state"], "pass", "{style:?}");

    let tester = |name: &str| {
        site.cmd(&[
            "tester",
            "--server",
            &server.url,
            "--token",
            &token,
            "--name",
            name,
            "--poll",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
    };
    let mut a = tester("A");
    wait_for(30, "tester A to claim a job", || {
        job_states(&site, "check:any:build").iter().any(|(s, n)| s == "running" && *n == 1)
    });
    a.kill().unwrap();
    a.wait().unwrap();
    let mut b = tester("B");
    wait_for(90, "every build job done", || {
        job_states(&site, "check:any:build") == vec![("done".to_string(), 3)]
    });
    b.kill().unwrap();
    b.wait().unwrap();
    let said = {
        let mut s = String::new();
        std::io::Read::read_to_string(b.stderr.as_mut().unwrap(), &mut s).unwrap();
        s
    };
    for id in ["v1-0@example.org", "v2-0@example.org", "lone-1@example.net"] {
        let build = checks_named(&site, id, "build");
        assert_eq!(build.len(), 1, "{id}: one build check, not two: {build:?}\n{said}");
        assert_eq!(build[0]["state"], "pass", "{build:?}");
        let log = build[0]["log"].as_str().unwrap_or_default();
        assert!(
            log.contains("built ok") && log.contains("no network") && !log.contains("ok\nok"),
            "{log}"
        );
    }

    // Tokens: none, a wrong one, and external CI posting a result.
    let claim = |auth: Option<&str>| {
        let mut r = ureq::post(&format!("{}/api/v1/testers/claim", server.url));
        if let Some(a) = auth {
            r = r.set("Authorization", a);
        }
        match r.send_json(serde_json::json!({"tester": "x"})) {
            Ok(resp) => resp.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(claim(None), 401);
    assert_eq!(claim(Some("Bearer quire_wrong")), 401);
    assert_eq!(claim(Some(&format!("Bearer {token}"))), 204);
    let posted = ureq::post(&format!("{}/api/v1/checks", server.url))
        .set("Authorization", &format!("Token {token}"))
        .send_json(serde_json::json!({"message_id": "<lone-1@example.net>", "name": "kernelci", "state": "warning", "url": "https://ci.example.org/42", "description": "1 warning"}))
        .unwrap();
    assert_eq!(posted.status(), 201);
    let ci = checks_named(&site, "lone-1@example.net", "kernelci");
    assert_eq!((ci.len(), ci[0]["state"].as_str()), (1, Some("warning")));
    site.ok(&["token", "revoke", "1"]);
    assert_eq!(claim(Some(&format!("Bearer {token}"))), 401);
});

// `quire export` writes the raw mail back out; importing it into an empty store gives the same
// store (same series, same raw bytes: exporting again gives the same file), also gzipped.
both_backends!(export_then_import_gives_the_same_store, |site: Site| {
    let imported = site.run(&["import", "--project", "demo", sample().to_str().unwrap()]);
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&imported.stdout),
        String::from_utf8_lossy(&imported.stderr)
    );
    let count: usize = said
        .split("imported ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    let work = tempfile::tempdir().unwrap();
    let first = work.path().join("first.mbox");
    let gz = work.path().join("first.mbox.gz");
    site.ok(&["export", "-o", first.to_str().unwrap()]);
    site.ok(&["export", "--project", "demo", "-o", gz.to_str().unwrap()]);
    let stdout = site.ok(&["export"]);
    assert_eq!(stdout.as_bytes(), std::fs::read(&first).unwrap().as_slice(), "stdout and -o agree");

    let other = site.same_backend();
    other.ok(&["import", "--project", "demo", gz.to_str().unwrap()]);
    let list = |s: &Site| s.json(&["series", "list", "--all", "--json"]);
    assert_eq!(list(&site), list(&other));
    assert_eq!(
        site.json(&["series", "show", "v2-0@example.org", "--json"]),
        other.json(&["series", "show", "v2-0@example.org", "--json"])
    );
    let again = work.path().join("again.mbox");
    other.ok(&["export", "-o", again.to_str().unwrap()]);
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&again).unwrap(),
        "same raw bytes, same order"
    );
    // The sample's messages, each once.
    let text = String::from_utf8(std::fs::read(&first).unwrap()).unwrap();
    let envelopes = text.lines().filter(|l| l.starts_with("From quire@localhost ")).count();
    assert_eq!(envelopes, count, "{said}");
    let out = site.run(&["export", "--project", "nope"]);
    assert_eq!(out.status.code(), Some(3));
    site.ok(&["migrate"]);
});

/// `quire user add --password-file` and `quire user passwd`: the password is read from a file's
/// first line, stored as an argon2id hash, and a web login works with it; mistakes get one line.
#[test]
fn user_passwords_from_files() {
    let site = Site::sqlite();
    site.ok(&["project", "add", "demo"]);
    let pw = site.dir.path().join("pw.txt");
    std::fs::write(&pw, "first-password\n").unwrap();
    site.ok(&[
        "user",
        "add",
        "maint",
        "maint@example.org",
        "--maintainer",
        "demo",
        "--password-file",
        pw.to_str().unwrap(),
    ]);
    std::fs::write(&pw, "short\n").unwrap();
    let out = site.run(&["user", "passwd", "maint", "--password-file", pw.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("password too short: use at least 8 characters")
            && err.trim().lines().count() == 1,
        "{err}"
    );
    let out = site.run(&["user", "passwd", "nobody", "--password-file", pw.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no user \"nobody\""));
    let out = site.run(&["user", "passwd", "maint", "--password-file", "/nonexistent/pw"]);
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot read the password file /nonexistent/pw")
    );

    let login = |password: &str| {
        block_on(async {
            let store = quire_store::Store::open(site.dir.path(), site.database_url.as_deref())
                .await
                .unwrap();
            let r = store.login("maint", password, "cli-test", 60).await.unwrap();
            store.close().await;
            matches!(r, quire_store::Login::Ok { .. })
        })
    };
    assert!(login("first-password"));
    // From stdin.
    let mut child = site
        .cmd(&["user", "passwd", "maint", "--password-file", "-"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"second-password\n").unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    assert!(!login("first-password"));
    assert!(login("second-password"));
    site.ok(&["user", "passwd", "maint", "--remove"]);
    assert!(!login("second-password"));
}

/// The attestation stored with each mail at import (patatt always; DKIM only with --dkim): a
/// reindex keeps it, `reindex --attest` verifies again; a keyring that is not there is one
/// line naming it.
fn attestation_levels(site: &Site, ids: &[&str]) -> Vec<Option<quire_store::AttestationLevel>> {
    block_on(async {
        let store =
            quire_store::Store::open(site.dir.path(), site.database_url.as_deref()).await.unwrap();
        let ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
        let found = store.attestations(&ids).await.unwrap();
        store.close().await;
        ids.iter().map(|i| found.get(i).map(|a| a.level)).collect()
    })
}

both_backends!(
    attestation_is_stored_at_import_kept_by_reindex_and_redone_on_request,
    |site: Site| {
        site.ok(&["import", sample().to_str().unwrap()]);
        // The sample's mail is not signed: "none", verified at import without DNS.
        let ids = ["v2-0@example.org", "v2-1@example.org"];
        assert_eq!(
            attestation_levels(&site, &ids),
            vec![Some(quire_store::AttestationLevel::None); 2]
        );
        let out = site.ok(&["reindex"]);
        assert!(!out.contains("verified the signatures"), "{out}");
        assert_eq!(
            attestation_levels(&site, &ids),
            vec![Some(quire_store::AttestationLevel::None); 2]
        );
        let out = site.ok(&["reindex", "--attest"]);
        assert!(out.contains("verified the signatures of 16 messages again"), "{out}");

        // A configured keyring that does not exist stops the import with one line naming it.
        let keyring = site.dir.path().join("no-such-keyring");
        std::fs::write(
            site.dir.path().join("quire.toml"),
            format!("[attestation]\nkeyring = \"{}\"\n", keyring.display()),
        )
        .unwrap();
        let out = site.run(&["import", sample().to_str().unwrap()]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("[attestation] keyring = ") && err.contains("no such directory"),
            "{err}"
        );
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        // --dkim belongs to --attest.
        std::fs::write(site.dir.path().join("quire.toml"), "[attestation]\ndns_timeout = 0\n")
            .unwrap();
        let out = site.run(&["reindex"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("dns_timeout = 0: give 1 to 60 seconds"), "{err}");
        std::fs::remove_file(site.dir.path().join("quire.toml")).unwrap();
        let out = site.run(&["reindex", "--dkim"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("--attest"));
    }
);
