//! The real `git-pw` (PyPI) against a quire server on 127.0.0.1, over LTP's list (the whole
//! 4k-message slice) and the sample archive (whose series apply to the repository the sample
//! script builds): `git pw series list/show/apply`, `patch list/update`, `bundle create`, with
//! what they print and what changed in the store checked. Skipped, saying why, only when no
//! git-pw is found (`scripts/install-deps` installs it). Also the Patchwork API's errors and
//! downloads over HTTP, on SQLite and PostgreSQL.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use quire_store::{Incoming, PatchFilter, ProjectConfig, SeriesQuery, Store};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `git-pw` to run: `$GIT_PW`, else on PATH, else where `pip install --user` puts it.
fn find_git_pw() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GIT_PW").map(PathBuf::from).filter(|p| p.is_file()) {
        return Some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".local/bin"));
    }
    dirs.into_iter().map(|d| d.join("git-pw")).find(|p| p.is_file())
}

fn git(dir: &Path, home: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", home.join(".gitconfig"))
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct GitPw {
    bin: PathBuf,
    repo: PathBuf,
    home: PathBuf,
}

impl GitPw {
    fn run(&self, args: &[&str]) -> Output {
        // git-pw runs `git am`, which needs git on PATH; HOME is kept (pip's --user packages
        // are found through it), git's system and global configuration are not read.
        Command::new(&self.bin)
            .current_dir(&self.repo)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", self.home.join(".gitconfig"))
            .env("PAGER", "cat")
            .env("GIT_PAGER", "cat")
            .env_remove("PW_SERVER")
            .env_remove("PW_TOKEN")
            .env_remove("PW_PROJECT")
            .output()
            .expect("run git-pw")
    }
    /// Runs, asserts success, returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "git-pw {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// LTP's whole slice (project `ltp`) and the sample archive (project `demo`); returns the
/// sample repository (branch main = the base the sample's series apply to).
async fn fill(store: &Store, work: &Path) -> PathBuf {
    common::add_projects(store).await;
    store.upsert_project(&ProjectConfig { name: "demo".into(), ..Default::default() }).await.expect("project");
    let ltp = common::mbox_messages(&common::shared("corpus/ltp-2019-2020.4k.mbox.gz"), usize::MAX);
    assert!(ltp.len() > 3900, "the LTP slice has {} messages", ltp.len());
    common::ingest(store, ltp, None).await;
    let repo = work.join("demo");
    let mbox = work.join("demo.mbox");
    let made = Command::new(repo_root().join("samples/make-demo-mbox.sh")).arg(&mbox).arg(&repo).output().expect("run make-demo-mbox.sh");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let demo = common::mbox_messages(&mbox, usize::MAX);
    let batch: Vec<Incoming> = demo.into_iter().map(|raw| Incoming::parse(raw, Some("demo".into()))).collect();
    store.ingest(batch).await.expect("ingest demo");
    repo
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_git_pw_against_quire() {
    let Some(bin) = find_git_pw() else {
        eprintln!("SKIPPED real_git_pw_against_quire: no git-pw found ($GIT_PW, PATH, ~/.local/bin); scripts/install-deps installs it");
        return;
    };
    let work = tempfile::tempdir().expect("work dir");
    let (_dir, store) = common::sqlite_store().await;
    let repo = fill(&store, work.path()).await;
    let maint = store.add_user("maint", "maint@example.org", "Mai Ntainer").await.expect("user");
    store.grant_role(maint.id, "ltp", "maintainer").await.expect("role");
    store.grant_role(maint.id, "demo", "maintainer").await.expect("role");
    let reviewer = store.add_user("rev", "rev@example.org", "Rita Reviewer").await.expect("user");
    store.grant_role(reviewer.id, "ltp", "reviewer").await.expect("role");
    let (_, maint_token) = store.create_user_token("laptop", maint.id).await.expect("token");
    let (_, rev_token) = store.create_user_token("rev-laptop", reviewer.id).await.expect("token");
    let base = common::spawn_server(store.clone()).await;

    let home = work.path().join("home");
    std::fs::create_dir(&home).expect("mkdir home");
    git(&repo, &home, &["checkout", "-q", "main"]);
    let base_commit = git(&repo, &home, &["rev-parse", "main"]).trim().to_string();
    for (k, v) in [
        ("pw.server", format!("{base}/api/1.3")),
        ("pw.project", "ltp".to_string()),
        ("pw.token", maint_token.clone()),
        ("user.name", "Mai Ntainer".to_string()),
        ("user.email", "maint@example.org".to_string()),
    ] {
        git(&repo, &home, &["config", k, &v]);
    }
    let pw = GitPw { bin, repo: repo.clone(), home: home.clone() };

    // series list: the newest LTP series first, as the store orders them.
    let newest = store.series_infos(&SeriesQuery { project: Some("ltp".into()), per_page: 3, ..Default::default() }).await.expect("series");
    let out = pw.ok(&["series", "list", "--limit", "3"]);
    let shown_ids: Vec<i64> = out.lines().filter_map(|l| l.trim_start_matches('|').split('|').next()?.trim().parse().ok()).collect();
    assert_eq!(shown_ids, newest.items.iter().map(|s| s.id).collect::<Vec<_>>(), "{out}");
    assert!(out.contains(&newest.items[0].summary.submitter.email), "{out}");

    // series show of a complete multi-patch series.
    let all = store.series_infos(&SeriesQuery { project: Some("ltp".into()), per_page: 200, ..Default::default() }).await.expect("series");
    let multi = all.items.iter().find(|s| s.patches.len() >= 2 && s.summary.complete).expect("a complete LTP series of 2+ patches");
    let out = pw.ok(&["series", "show", &multi.id.to_string()]);
    let n = multi.patches.len();
    assert!(out.contains(&format!("{n} of {n}")), "{out}");
    for p in &multi.patches {
        assert!(out.contains(&format!("{:<4} [{}/{}]", p.id, p.number, multi.summary.total)), "patch {} missing: {out}", p.id);
    }
    assert!(out.contains(&multi.summary.submitter.email), "{out}");

    // patch list: git-pw asks for new and under-review patches, not archived, newest first.
    let out = pw.ok(&["patch", "list", "--limit", "5"]);
    let listed: Vec<i64> = out.lines().filter_map(|l| l.trim_start_matches('|').split('|').next()?.trim().parse().ok()).collect();
    assert_eq!(listed.len(), 5, "{out}");
    let target = multi.patches[0].id;
    let f = PatchFilter { project: Some("ltp".into()), states: vec!["new".into(), "under-review".into()], archived: Some(false), per_page: 5, ..Default::default() };
    assert_eq!(listed, store.patches(&f).await.expect("patches").items.iter().map(|p| p.id).collect::<Vec<_>>());

    // patch update by the maintainer: printed, stored, recorded as an event naming who.
    let out = pw.ok(&["patch", "update", &target.to_string(), "--state", "accepted", "--delegate", "maint"]);
    assert!(out.contains("accepted"), "{out}");
    let stored = store.patch(target).await.expect("patch").expect("exists");
    assert_eq!(stored.state, "accepted");
    assert_eq!(stored.delegate.as_ref().map(|u| u.username.as_str()), Some("maint"));
    let events = store.events(0, 100_000).await.expect("events");
    let ev = events.iter().rev().find(|e| e.kind == "patch-state-changed").expect("a state event");
    assert_eq!((ev.payload["current_state"].as_str(), ev.payload["by"].as_str()), (Some("accepted"), Some("maint")));
    let out = pw.ok(&["patch", "list", "--state", "accepted"]);
    assert!(out.contains(&format!("| {target} |")) || out.contains(&format!("{target} ")), "{out}");

    // A reviewer may not change states: git-pw fails, the store is unchanged.
    git(&repo, &home, &["config", "pw.token", &rev_token]);
    let out = pw.run(&["patch", "update", &target.to_string(), "--state", "rejected"]);
    assert!(!out.status.success(), "a reviewer changed a state: {}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(store.patch(target).await.expect("patch").expect("exists").state, "accepted");
    git(&repo, &home, &["config", "pw.token", &maint_token]);

    // bundle create.
    let second = multi.patches[1].id;
    let out = pw.ok(&["bundle", "create", "for-next", &target.to_string(), &second.to_string(), "--public"]);
    assert!(out.contains("for-next") && out.contains(&target.to_string()), "{out}");
    let bundles = store.bundles(Some("ltp"), Some(maint.id)).await.expect("bundles");
    assert_eq!(bundles.len(), 1);
    assert_eq!((bundles[0].name.as_str(), bundles[0].public, bundles[0].patches.clone()), ("for-next", true, vec![target, second]));
    let out = pw.ok(&["bundle", "list"]);
    assert!(out.contains("for-next") && out.contains("maint"), "{out}");

    // series apply: the sample's v2 into the sample repository at its base.
    let demo = store.series_infos(&SeriesQuery { project: Some("demo".into()), per_page: 50, ..Default::default() }).await.expect("series");
    let v2 = demo.items.iter().find(|s| s.summary.version == 2).expect("the sample's v2");
    assert_eq!(v2.patches.len(), 3);
    let out = pw.run(&["--debug", "--project", "demo", "series", "apply", &v2.id.to_string()]);
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{said}");
    let subjects = git(&repo, &home, &["log", "--format=%s", &format!("{base_commit}..HEAD")]);
    let expected: Vec<String> = v2.patches.iter().rev().map(|p| p.subject.split_once("] ").map(|(_, s)| s.to_string()).unwrap_or_default()).collect();
    assert_eq!(subjects.lines().collect::<Vec<_>>(), expected.iter().map(String::as_str).collect::<Vec<_>>(), "{said}");
    assert_eq!(git(&repo, &home, &["rev-parse", "HEAD^{tree}"]), git(&repo, &home, &["rev-parse", "v2^{tree}"]), "the applied tree is v2's");

    // series download: the file is named from Content-Disposition.
    let dl = work.path().join("dl");
    std::fs::create_dir(&dl).expect("mkdir");
    pw.ok(&["--project", "demo", "series", "download", &v2.id.to_string(), dl.to_str().expect("utf-8")]);
    let names: Vec<String> = std::fs::read_dir(&dl).expect("read").map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names.len(), 1);
    assert!(names[0].ends_with(".patch"), "{names:?}");
}
