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
    store
        .upsert_project(&ProjectConfig { name: "demo".into(), ..Default::default() })
        .await
        .expect("project");
    let ltp = common::mbox_messages(&common::shared("corpus/ltp-2019-2020.4k.mbox.gz"), usize::MAX);
    assert!(ltp.len() > 3900, "the LTP slice has {} messages", ltp.len());
    common::ingest(store, ltp, None).await;
    let repo = work.join("demo");
    let mbox = work.join("demo.mbox");
    let made = Command::new(repo_root().join("samples/make-demo-mbox.sh"))
        .arg(&mbox)
        .arg(&repo)
        .output()
        .expect("run make-demo-mbox.sh");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let demo = common::mbox_messages(&mbox, usize::MAX);
    let batch: Vec<Incoming> =
        demo.into_iter().map(|raw| Incoming::parse(raw, Some("demo".into()))).collect();
    store.ingest(batch).await.expect("ingest demo");
    // Patchwork's own fixture, whose hashes Patchwork computed (golden.json).
    let fixture = common::mbox_messages(
        &common::shared("corpus/patchwork-mail/series/base-cover-letter.mbox"),
        usize::MAX,
    );
    common::ingest(store, fixture, Some("demo")).await;
    common::ingest(store, comment_thread(), Some("demo")).await;
    repo
}

/// A mail of the thread [`comment_thread`] writes.
fn thread_mail(id: &str, subject: &str, parents: &[&str], minute: u32, body: &str) -> Vec<u8> {
    let mut m = format!(
        "From: Ann Author <ann@example.org>\nTo: demo@example.org\nSubject: {subject}\n\
         Date: Mon, 2 Mar 2026 10:{minute:02}:00 +0000\nMessage-ID: <{id}>\n"
    );
    if let Some(last) = parents.last() {
        m.push_str(&format!("In-Reply-To: <{last}>\nReferences:"));
        for p in parents {
            m.push_str(&format!(" <{p}>"));
        }
        m.push('\n');
    }
    m.push('\n');
    m.push_str(body);
    m.into_bytes()
}

/// A two-patch series whose first patch has replies three deep and one whose parent never
/// reached the list, and a cover letter with a reply and a reply to that: Patchwork lists four
/// comments on the patch and two on the cover letter.
fn comment_thread() -> Vec<Vec<u8>> {
    let diff = |n: u32| {
        format!(
            "Change {n}.\n\nSigned-off-by: Ann Author <ann@example.org>\n---\n\
             diff --git a/f{n} b/f{n}\n--- a/f{n}\n+++ b/f{n}\n@@ -1 +1 @@\n-a\n+b\n"
        )
    };
    let c = "ct-cover@example.org";
    let p1 = "ct-p1@example.org";
    vec![
        thread_mail(c, "[PATCH 0/2] comment thread", &[], 0, "Two changes.\n"),
        thread_mail(p1, "[PATCH 1/2] comment thread one", &[c], 1, &diff(1)),
        thread_mail("ct-p2@example.org", "[PATCH 2/2] comment thread two", &[c], 2, &diff(2)),
        thread_mail(
            "ct-r1@example.org",
            "Re: [PATCH 1/2] comment thread one",
            &[c, p1],
            3,
            "Why?\n",
        ),
        thread_mail(
            "ct-r2@example.org",
            "Re: [PATCH 1/2] comment thread one",
            &[c, p1, "ct-r1@example.org"],
            4,
            "Because.\n",
        ),
        thread_mail(
            "ct-r3@example.org",
            "Re: [PATCH 1/2] comment thread one",
            &[c, p1, "ct-r1@example.org", "ct-r2@example.org"],
            5,
            "Reviewed-by: Rita Reviewer <rev@example.org>\n",
        ),
        thread_mail(
            "ct-r4@example.org",
            "Re: [PATCH 1/2] comment thread one",
            &[c, p1, "ct-never-arrived@example.org"],
            6,
            "Me too.\n",
        ),
        thread_mail("ct-cr1@example.org", "Re: [PATCH 0/2] comment thread", &[c], 7, "Nice.\n"),
        thread_mail(
            "ct-cr2@example.org",
            "Re: [PATCH 0/2] comment thread",
            &[c, "ct-cr1@example.org"],
            8,
            "Indeed.\n",
        ),
    ]
}

/// Patchwork's hash of patch 1/2 of its fixture `series/base-cover-letter.mbox` (golden.json).
const FIXTURE_HASH: &str = "26b6c59a31ac0e6854a9c4f93f4b19e2c2172ff0";
const FIXTURE_PATCH: &str = "1473632524-8585-2-git-send-email-stephenfinucane@gmail.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_git_pw_against_quire() {
    let Some(bin) = find_git_pw() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "git-pw is missing under CI: scripts/install-deps installs it"
        );
        eprintln!(
            "SKIPPED real_git_pw_against_quire: no git-pw found ($GIT_PW, PATH, ~/.local/bin); scripts/install-deps installs it"
        );
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
    let newest = store
        .series_infos(&SeriesQuery {
            project: Some("ltp".into()),
            per_page: 3,
            ..Default::default()
        })
        .await
        .expect("series");
    let out = pw.ok(&["series", "list", "--limit", "3"]);
    let shown_ids: Vec<i64> = out
        .lines()
        .filter_map(|l| l.trim_start_matches('|').split('|').next()?.trim().parse().ok())
        .collect();
    assert_eq!(shown_ids, newest.items.iter().map(|s| s.id).collect::<Vec<_>>(), "{out}");
    assert!(out.contains(&newest.items[0].summary.submitter.email), "{out}");

    // series show of a complete multi-patch series.
    let all = store
        .series_infos(&SeriesQuery {
            project: Some("ltp".into()),
            per_page: 200,
            ..Default::default()
        })
        .await
        .expect("series");
    let multi = all
        .items
        .iter()
        .find(|s| s.patches.len() >= 2 && s.summary.complete)
        .expect("a complete LTP series of 2+ patches");
    let out = pw.ok(&["series", "show", &multi.id.to_string()]);
    let n = multi.patches.len();
    assert!(out.contains(&format!("{n} of {n}")), "{out}");
    for p in &multi.patches {
        assert!(
            out.contains(&format!("{:<4} [{}/{}]", p.id, p.number, multi.summary.total)),
            "patch {} missing: {out}",
            p.id
        );
    }
    assert!(out.contains(&multi.summary.submitter.email), "{out}");

    // patch list: git-pw asks for new and under-review patches, not archived, newest first.
    let out = pw.ok(&["patch", "list", "--limit", "5"]);
    let listed: Vec<i64> = out
        .lines()
        .filter_map(|l| l.trim_start_matches('|').split('|').next()?.trim().parse().ok())
        .collect();
    assert_eq!(listed.len(), 5, "{out}");
    let target = multi.patches[0].id;
    let f = PatchFilter {
        project: Some("ltp".into()),
        states: vec!["new".into(), "under-review".into()],
        archived: Some(false),
        per_page: 5,
        ..Default::default()
    };
    assert_eq!(
        listed,
        store.patches(&f).await.expect("patches").items.iter().map(|p| p.id).collect::<Vec<_>>()
    );

    // patch update by the maintainer: printed, stored, recorded as an event naming who.
    let out = pw.ok(&[
        "patch",
        "update",
        &target.to_string(),
        "--state",
        "accepted",
        "--delegate",
        "maint",
    ]);
    assert!(out.contains("accepted"), "{out}");
    let stored = store.patch(target).await.expect("patch").expect("exists");
    assert_eq!(stored.state, "accepted");
    assert_eq!(stored.delegate.as_ref().map(|u| u.username.as_str()), Some("maint"));
    let events = store.events(0, 100_000).await.expect("events");
    let ev = events.iter().rev().find(|e| e.kind == "patch-state-changed").expect("a state event");
    assert_eq!(
        (ev.payload["current_state"].as_str(), ev.payload["by"].as_str()),
        (Some("accepted"), Some("maint"))
    );
    let out = pw.ok(&["patch", "list", "--state", "accepted"]);
    assert!(out.contains(&format!("| {target} |")) || out.contains(&format!("{target} ")), "{out}");

    // A reviewer may not change states: git-pw fails, the store is unchanged.
    git(&repo, &home, &["config", "pw.token", &rev_token]);
    let out = pw.run(&["patch", "update", &target.to_string(), "--state", "rejected"]);
    assert!(
        !out.status.success(),
        "a reviewer changed a state: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(store.patch(target).await.expect("patch").expect("exists").state, "accepted");
    git(&repo, &home, &["config", "pw.token", &maint_token]);

    // bundle create.
    let second = multi.patches[1].id;
    let out = pw.ok(&[
        "bundle",
        "create",
        "for-next",
        &target.to_string(),
        &second.to_string(),
        "--public",
    ]);
    assert!(out.contains("for-next") && out.contains(&target.to_string()), "{out}");
    let bundles = store.bundles(Some("ltp"), Some(maint.id)).await.expect("bundles");
    assert_eq!(bundles.len(), 1);
    assert_eq!(
        (bundles[0].name.as_str(), bundles[0].public, bundles[0].patches.clone()),
        ("for-next", true, vec![target, second])
    );
    let out = pw.ok(&["bundle", "list"]);
    assert!(out.contains("for-next") && out.contains("maint"), "{out}");

    // bundle show prints the bundle's web_url: that page exists and shows the bundle's patches;
    // bundle download fetches its mbox, a private bundle's too (with the owner's token), which
    // nobody else sees.
    let page_of = |out: &str| -> String {
        let url = out
            .lines()
            .find_map(|l| l.split_whitespace().find(|w| w.starts_with(&format!("{base}/bundle/"))))
            .unwrap_or_else(|| panic!("no bundle URL in: {out}"))
            .to_string();
        url.strip_prefix(&base).expect("on this server").to_string()
    };
    let web = http::state(store.clone());
    let id = bundles[0].id.to_string();
    let path = page_of(&pw.ok(&["bundle", "show", &id]));
    assert_eq!(path, "/bundle/maint/for-next/");
    let page = http::get(&web, &path).await;
    assert_eq!(page.status, axum::http::StatusCode::OK, "{}", String::from_utf8_lossy(&page.body));
    let html = String::from_utf8_lossy(&page.body).into_owned();
    for p in [target, second] {
        let p = store.patch(p).await.expect("patch").expect("exists");
        let link = format!("/ltp/{}/", quire_web::url::segment(&p.message_id));
        assert!(html.contains(&link), "{link} not on the bundle page: {html}");
    }
    let dl = work.path().join("bundle-dl");
    std::fs::create_dir(&dl).expect("mkdir");
    pw.ok(&["bundle", "download", &id, dl.join("b.mbox").to_str().expect("utf-8")]);
    let mbox = std::fs::read_to_string(dl.join("b.mbox")).expect("the bundle's mbox");
    assert_eq!(mbox.matches("\nSubject: ").count() + usize::from(mbox.starts_with("Subject: ")), 2);
    let out = pw.ok(&["bundle", "create", "mine-only", &target.to_string()]);
    let private_id = out
        .lines()
        .find_map(|l| {
            let l = l.trim_start_matches('|').trim();
            l.strip_prefix("ID")?.trim().trim_matches('|').trim().parse::<i64>().ok()
        })
        .unwrap_or_else(|| panic!("no ID in: {out}"));
    let path = page_of(&pw.ok(&["bundle", "show", &private_id.to_string()]));
    assert_eq!(http::get(&web, &path).await.status, axum::http::StatusCode::NOT_FOUND);
    assert_eq!(
        http::get(&web, &format!("{path}mbox/")).await.status,
        axum::http::StatusCode::NOT_FOUND
    );
    pw.ok(&[
        "bundle",
        "download",
        &private_id.to_string(),
        dl.join("p.mbox").to_str().expect("utf-8"),
    ]);
    assert!(std::fs::read_to_string(dl.join("p.mbox")).expect("mbox").contains("Subject: "));

    // patch list --hash: Patchwork's hash finds the patch it was computed for.
    let fixture_id = store
        .patches(&PatchFilter { msgid: Some(FIXTURE_PATCH.into()), ..Default::default() })
        .await
        .expect("patches")
        .items[0]
        .id;
    let out = pw.ok(&["--project", "demo", "patch", "list", "--hash", FIXTURE_HASH]);
    let listed: Vec<i64> = out
        .lines()
        .filter_map(|l| l.trim_start_matches('|').split('|').next()?.trim().parse().ok())
        .collect();
    assert_eq!(listed, vec![fixture_id], "{out}");

    // series apply: the sample's v2 into the sample repository at its base.
    let demo = store
        .series_infos(&SeriesQuery {
            project: Some("demo".into()),
            per_page: 50,
            ..Default::default()
        })
        .await
        .expect("series");
    let v2 = demo.items.iter().find(|s| s.summary.version == 2).expect("the sample's v2");
    assert_eq!(v2.patches.len(), 3);
    let out = pw.run(&["--debug", "--project", "demo", "series", "apply", &v2.id.to_string()]);
    let said =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{said}");
    let subjects = git(&repo, &home, &["log", "--format=%s", &format!("{base_commit}..HEAD")]);
    let expected: Vec<String> = v2
        .patches
        .iter()
        .rev()
        .map(|p| p.subject.split_once("] ").map(|(_, s)| s.to_string()).unwrap_or_default())
        .collect();
    assert_eq!(
        subjects.lines().collect::<Vec<_>>(),
        expected.iter().map(String::as_str).collect::<Vec<_>>(),
        "{said}"
    );
    assert_eq!(
        git(&repo, &home, &["rev-parse", "HEAD^{tree}"]),
        git(&repo, &home, &["rev-parse", "v2^{tree}"]),
        "the applied tree is v2's"
    );

    // series download: the file is named from Content-Disposition.
    let dl = work.path().join("dl");
    std::fs::create_dir(&dl).expect("mkdir");
    pw.ok(&[
        "--project",
        "demo",
        "series",
        "download",
        &v2.id.to_string(),
        dl.to_str().expect("utf-8"),
    ]);
    let names: Vec<String> = std::fs::read_dir(&dl)
        .expect("read")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1);
    assert!(names[0].ends_with(".patch"), "{names:?}");
}

/// The `pwclient` to run: `$PWCLIENT`, else on PATH, else where `pip install --user` puts it.
fn find_pwclient() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("PWCLIENT").map(PathBuf::from).filter(|p| p.is_file()) {
        return Some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".local/bin"));
    }
    dirs.into_iter().map(|d| d.join("pwclient")).find(|p| p.is_file())
}

/// The real `pwclient` (PyPI) finds a patch by Patchwork's hash: `list -H`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_pwclient_finds_patches_by_hash() {
    let Some(bin) = find_pwclient() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "pwclient is missing under CI: scripts/install-deps installs it"
        );
        eprintln!(
            "SKIPPED real_pwclient_finds_patches_by_hash: no pwclient found ($PWCLIENT, PATH, ~/.local/bin); scripts/install-deps installs it"
        );
        return;
    };
    let work = tempfile::tempdir().expect("work dir");
    let (_dir, store) = common::sqlite_store().await;
    store
        .upsert_project(&ProjectConfig { name: "demo".into(), ..Default::default() })
        .await
        .expect("project");
    let fixture = common::mbox_messages(
        &common::shared("corpus/patchwork-mail/series/base-cover-letter.mbox"),
        usize::MAX,
    );
    common::ingest(&store, fixture, Some("demo")).await;
    let id = store
        .patches(&PatchFilter { msgid: Some(FIXTURE_PATCH.into()), ..Default::default() })
        .await
        .expect("patches")
        .items[0]
        .id;
    let base = common::spawn_server(store.clone()).await;
    let rc = work.path().join("pwclientrc");
    std::fs::write(
        &rc,
        format!("[options]\ndefault = demo\n\n[demo]\nbackend = rest\nurl = {base}/api/1.3/\n"),
    )
    .expect("write pwclientrc");
    let run = |args: &[&str]| {
        let out = Command::new(&bin)
            .args(args)
            .env("PWCLIENTRC", &rc)
            .env("PAGER", "cat")
            .output()
            .expect("run pwclient");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "pwclient {args:?}: {text}");
        text
    };
    let out = run(&["list", "-H", FIXTURE_HASH]);
    let listed: Vec<i64> =
        out.lines().filter_map(|l| l.split_whitespace().next()?.parse().ok()).collect();
    assert_eq!(listed, vec![id], "{out}");
    assert!(out.contains("test: Add some lorem ipsum"), "{out}");
    // (`info -h HASH` fails inside pwclient 2.11 itself over REST: it takes len() of a
    // generator; `list -H` is its working way.)
    let out = run(&["list", "-H", &"0".repeat(40)]);
    assert!(!out.contains("lorem ipsum"), "{out}");
}

// ---------------------------------------------------------------------------------------------
// The API over HTTP without git-pw: errors, paging, auth, writes as pwclient sends them, downloads.

mod http {
    use super::*;
    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode, header};
    use http_body_util::BodyExt;
    use quire_web::{AppState, WebConfig, router};
    use serde_json::Value;
    use tower::ServiceExt;

    pub struct Reply {
        pub status: StatusCode,
        pub headers: axum::http::HeaderMap,
        pub body: Vec<u8>,
    }

    impl Reply {
        pub fn json(&self) -> Value {
            serde_json::from_slice(&self.body).unwrap_or_else(|e| {
                panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body))
            })
        }
        pub fn header(&self, name: header::HeaderName) -> String {
            self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
        }
    }

    pub async fn call(
        state: &AppState,
        method: Method,
        uri: &str,
        token: Option<&str>,
        ct: &str,
        body: &str,
    ) -> Reply {
        let mut req =
            Request::builder().method(method).uri(uri).header(header::HOST, "pw.example.org");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Token {t}"));
        }
        if !ct.is_empty() {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let resp = router(state.clone())
            .oneshot(req.body(Body::from(body.to_string())).expect("request"))
            .await
            .expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.into_body().collect().await.expect("body").to_bytes().to_vec();
        Reply { status, headers, body }
    }

    pub async fn get(state: &AppState, uri: &str) -> Reply {
        call(state, Method::GET, uri, None, "", "").await
    }

    pub fn state(store: Store) -> AppState {
        AppState::new(store, WebConfig::default())
    }
}

async fn patchwork_api_over_http(store: Store) {
    use axum::http::{Method, StatusCode, header};
    let work = tempfile::tempdir().expect("work dir");
    fill(&store, work.path()).await;
    let maint = store.add_user("maint", "maint@example.org", "Mai Ntainer").await.expect("user");
    store.grant_role(maint.id, "ltp", "maintainer").await.expect("role");
    let other = store.add_user("other", "other@example.org", "").await.expect("user");
    let (_, token) = store.create_user_token("t", maint.id).await.expect("token");
    let (_, other_token) = store.create_user_token("o", other.id).await.expect("token");
    let (_, tester_token) = store.create_token("ci", "tester").await.expect("token");
    let state = http::state(store.clone());

    // Index per version; bundles only from 1.1; an unknown version is a 404 that says which exist.
    let idx = http::get(&state, "/api/1.3/").await.json();
    assert_eq!(idx["patches"], "http://pw.example.org/api/1.3/patches/");
    assert!(http::get(&state, "/api/1.0/").await.json().get("bundles").is_none());
    let r = http::get(&state, "/api/9.9/").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.json()["detail"].as_str().unwrap().contains("1.0, 1.1, 1.2, 1.3"));

    // Paging: bare arrays, Link headers with next/prev/first/last.
    let r = http::get(&state, "/api/1.3/patches/?project=ltp&per_page=2&order=id&page=2").await;
    assert_eq!(r.status, StatusCode::OK);
    let items = r.json();
    assert_eq!(items.as_array().map(Vec::len), Some(2));
    let link = r.header(header::LINK);
    assert!(link.contains("<http://pw.example.org/api/1.3/patches/?order=id&page=3&per_page=2&project=ltp>; rel=\"next\""), "{link}");
    assert!(link.contains("page=1&per_page=2&project=ltp>; rel=\"prev\""), "{link}");
    assert!(link.contains("rel=\"first\"") && link.contains("rel=\"last\""), "{link}");
    let first_page =
        http::get(&state, "/api/1.3/patches/?project=ltp&per_page=2&order=id").await.json();
    assert!(first_page[1]["id"].as_i64() < items[0]["id"].as_i64(), "ordered by id across pages");
    // 1.0 has no web_url; 1.2 has list_archive_url.
    assert!(items[0].get("web_url").is_some() && items[0].get("list_archive_url").is_some());
    let old = http::get(&state, "/api/1.0/patches/?project=ltp&per_page=1").await.json();
    assert!(old[0].get("web_url").is_none() && old[0].get("list_archive_url").is_none());

    // Bad filters are 400s with a message (Patchwork answers `200 []`).
    for (q, word) in [
        ("state=bogus", "state=bogus"),
        ("order=sideways", "order=sideways"),
        ("archived=maybe", "archived=maybe"),
        ("per_page=0", "per_page=0"),
        ("since=yesterday", "since=yesterday"),
        ("page=x", "page=x"),
    ] {
        let r = http::get(&state, &format!("/api/1.3/patches/?project=ltp&{q}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{q}");
        assert!(r.json()["detail"].as_str().unwrap().contains(word), "{q}: {}", r.json());
    }
    assert_eq!(
        http::get(&state, "/api/1.3/patches/?project=nope").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        http::get(&state, "/api/1.3/patches/999999999/").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(http::get(&state, "/api/1.3/patches/abc/").await.status, StatusCode::NOT_FOUND);
    assert_eq!(http::get(&state, "/api/1.3/nothing/").await.status, StatusCode::NOT_FOUND);

    // Detail of a patch with replies: headers, content, diff, comments.
    let series = store
        .series_infos(&SeriesQuery {
            project: Some("ltp".into()),
            per_page: 300,
            ..Default::default()
        })
        .await
        .expect("series");
    let mut with_comments = None;
    for s in &series.items {
        for p in &s.patches {
            if !store.comments(p.id).await.expect("comments").is_empty() {
                with_comments = Some((s.clone(), p.clone()));
                break;
            }
        }
        if with_comments.is_some() {
            break;
        }
    }
    let (s, p) = with_comments.expect("an LTP patch with replies");
    let d = http::get(&state, &format!("/api/1.3/patches/{}/", p.id)).await.json();
    assert_eq!(d["msgid"], format!("<{}>", p.message_id));
    assert_eq!(
        d["headers"]["Message-ID"].as_str().or(d["headers"]["Message-Id"].as_str()),
        Some(format!("<{}>", p.message_id).as_str())
    );
    assert!(d["diff"].as_str().unwrap_or("").contains("diff --git"), "{d}");
    assert_eq!(d["series"][0]["id"], s.id);
    assert_eq!(d["state"], "new");
    let comments = http::get(&state, &format!("/api/1.3/patches/{}/comments/", p.id)).await.json();
    assert!(!comments.as_array().unwrap().is_empty());
    assert!(
        comments[0]["subject"].as_str().unwrap().to_lowercase().starts_with("re:"),
        "{comments}"
    );

    // Writes: no token 403, another user's token 403, a bad state 400 naming the states, and a
    // form-encoded PATCH with `False` as pwclient sends it.
    let uri = format!("/api/1.3/patches/{}/", p.id);
    let form = "application/x-www-form-urlencoded";
    let r = http::call(&state, Method::PATCH, &uri, None, form, "state=accepted").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r =
        http::call(&state, Method::PATCH, &uri, Some(&other_token), form, "state=accepted").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.json()["detail"].as_str().unwrap().contains("not a maintainer of project ltp"));
    let r = http::call(&state, Method::PATCH, &uri, Some("quire_nonsense"), form, "state=accepted")
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = http::call(
        &state,
        Method::PATCH,
        &uri,
        Some(&token),
        "application/json",
        r#"{"state":"bogus"}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["state"][0].as_str().unwrap().contains("Expected one of: new, under-review"));
    let r = http::call(
        &state,
        Method::PATCH,
        &uri,
        Some(&token),
        form,
        &format!("state=changes-requested&archived=True&delegate={}&commit_ref=", maint.id),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    let j = r.json();
    assert_eq!(
        (j["state"].as_str(), j["archived"].as_bool(), j["delegate"]["username"].as_str()),
        (Some("changes-requested"), Some(true), Some("maint"))
    );
    assert_eq!(store.patch(p.id).await.unwrap().unwrap().state, "changes-requested");
    let r = http::get(&state, "/api/1.3/patches/?project=ltp&archived=true&delegate=maint")
        .await
        .json();
    assert_eq!(
        r.as_array().unwrap().iter().map(|x| x["id"].as_i64().unwrap()).collect::<Vec<_>>(),
        vec![p.id]
    );

    // pwclient's requests, as its wire trace shows them: `archived=False` in the query,
    // `"archived": "yes"` in a JSON PATCH, a JSON check.
    let email = p_submitter_email(&store, p.id).await;
    let r = http::get(
        &state,
        &format!("/api/1.3/patches/?state=new&project=ltp&archived=False&submitter={email}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .all(|x| x["submitter"]["email"] == email.as_str() && x["state"] == "new")
    );
    let other_patch =
        s.patches.iter().map(|m| m.id).find(|&id| id != p.id).expect("a second patch");
    let r = http::call(
        &state,
        Method::PATCH,
        &format!("/api/1.3/patches/{other_patch}/"),
        Some(&token),
        "application/json",
        r#"{"state": "accepted", "commit_ref": "abc123", "archived": "yes"}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        (
            r.json()["state"].as_str(),
            r.json()["commit_ref"].as_str(),
            r.json()["archived"].as_bool()
        ),
        (Some("accepted"), Some("abc123"), Some(true))
    );
    let r = http::call(&state, Method::POST, &format!("/api/1.3/patches/{other_patch}/checks/"), Some(&token), "application/json", r#"{"context": "ci", "state": "success", "target_url": "https://ci.example.com/2", "description": "ok"}"#).await;
    assert_eq!(
        r.status,
        StatusCode::CREATED,
        "a maintainer posts checks: {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.json()["target_url"], "https://ci.example.com/2");

    // Patchwork's hash, as Patchwork computed it for its own fixture, shown and filterable (in
    // any case); nothing else has it.
    let found = http::get(&state, &format!("/api/1.3/patches/?hash={FIXTURE_HASH}")).await.json();
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(
        (found[0]["hash"].as_str(), found[0]["msgid"].as_str()),
        (Some(FIXTURE_HASH), Some(format!("<{FIXTURE_PATCH}>").as_str()))
    );
    let upper = FIXTURE_HASH.to_uppercase();
    let found = http::get(&state, &format!("/api/1.3/patches/?hash={upper}")).await.json();
    assert_eq!(found.as_array().map(Vec::len), Some(1), "{found}");
    let none = http::get(&state, &format!("/api/1.3/patches/?hash={}", "0".repeat(40))).await;
    assert_eq!(none.json().as_array().map(Vec::len), Some(0));

    // Comments as Patchwork lists them: every reply below the patch (or cover letter), however
    // deep, and a reply whose parent never arrived; not the other patch's, not the cover's.
    let p1 = &http::get(&state, "/api/1.3/patches/?msgid=ct-p1@example.org").await.json()[0];
    let listed = http::get(&state, &format!("/api/1.3/patches/{}/comments/", p1["id"])).await;
    let ids: Vec<String> = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["msgid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        ids,
        ["r1", "r2", "r3", "r4"].map(|r| format!("<ct-{r}@example.org>")).to_vec(),
        "{}",
        listed.json()
    );
    let cover = http::get(&state, "/api/1.3/covers/?msgid=ct-cover@example.org").await.json();
    assert_eq!(cover.as_array().map(Vec::len), Some(1), "{cover}");
    let listed = http::get(&state, &format!("/api/1.3/covers/{}/comments/", cover[0]["id"])).await;
    let ids: Vec<String> = listed
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["msgid"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["<ct-cr1@example.org>", "<ct-cr2@example.org>"], "{}", listed.json());

    // Covers' filters narrow the list as Patchwork's do (or refuse a bad value); none returns
    // unrelated covers.
    let covers_of = |q: String| {
        let state = state.clone();
        async move {
            let r = http::get(&state, &format!("/api/1.3/covers/?{q}")).await;
            assert_eq!(r.status, StatusCode::OK, "{q}: {}", String::from_utf8_lossy(&r.body));
            r.json()
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["msgid"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        }
    };
    let ct = "<ct-cover@example.org>".to_string();
    assert_eq!(covers_of("msgid=%3Cct-cover%40example.org%3E".into()).await, vec![ct.clone()]);
    assert_eq!(covers_of("msgid=nobody@example.org".into()).await, Vec::<String>::new());
    let series_id = cover[0]["series"][0]["id"].as_i64().unwrap();
    assert_eq!(covers_of(format!("series={series_id}")).await, vec![ct.clone()]);
    assert_eq!(covers_of("project=demo&q=comment+thread".into()).await, vec![ct.clone()]);
    assert_eq!(
        covers_of(
            "submitter=ann@example.org&since=2026-03-02T10:00:00&before=2026-03-02T10:01:00".into()
        )
        .await,
        vec![ct.clone()]
    );
    assert_eq!(
        covers_of("submitter=ann@example.org&since=2026-03-02T10:01:00".into()).await,
        Vec::<String>::new()
    );
    let ltp = covers_of("project=ltp&per_page=250".into()).await;
    assert!(!ltp.is_empty() && !ltp.contains(&ct));
    let all = covers_of("per_page=250".into()).await;
    assert!(all.len() > ltp.len());
    for (q, status) in [
        ("series=abc", StatusCode::BAD_REQUEST),
        ("since=yesterday", StatusCode::BAD_REQUEST),
        ("before=soon", StatusCode::BAD_REQUEST),
        ("order=sideways", StatusCode::BAD_REQUEST),
        ("project=nope", StatusCode::NOT_FOUND),
    ] {
        assert_eq!(http::get(&state, &format!("/api/1.3/covers/?{q}")).await.status, status, "{q}");
    }

    // The state is not derived from mail: a reindex keeps it (patches are numbered by raw row).
    store.reindex(|_, _| {}).await.expect("reindex");
    let kept = store.patch(p.id).await.expect("patch").expect("still there");
    assert_eq!((kept.state.as_str(), kept.archived), ("changes-requested", true));
    // ...and derives the hash again.
    let found = http::get(&state, &format!("/api/1.3/patches/?hash={FIXTURE_HASH}")).await.json();
    assert_eq!(found[0]["hash"], FIXTURE_HASH);

    // Superseded is automatic: the patches of an LTP series that has a newer revision read
    // `superseded`, and git-pw's default listing (new, under-review) leaves them out.
    let all = store
        .series_infos(&SeriesQuery {
            project: Some("ltp".into()),
            per_page: 1000,
            ..Default::default()
        })
        .await
        .expect("series");
    let old = all
        .items
        .iter()
        .find(|s| s.summary.superseded_by.is_some() && !s.patches.is_empty())
        .expect("an LTP series with a newer revision");
    let j = http::get(&state, &format!("/api/1.3/patches/{}/", old.patches[0].id)).await.json();
    assert_eq!(j["state"], "superseded");
    let listed = http::get(
        &state,
        &format!("/api/1.3/patches/?project=ltp&series={}&state=new&state=under-review", old.id),
    )
    .await
    .json();
    assert_eq!(listed.as_array().map(Vec::len), Some(0));
    // ...and said so in an event, as Patchwork's clients follow states: `patch-state-changed`
    // to superseded, by nobody, written when the newer revision was stored.
    let mut said = None;
    for page in 1..20 {
        let ev = http::get(
            &state,
            &format!(
                "/api/1.3/events/?project=ltp&category=patch-state-changed&per_page=250&page={page}"
            ),
        )
        .await
        .json();
        let Some(items) = ev.as_array().filter(|a| !a.is_empty()) else { break };
        said = said.or_else(|| {
            items.iter().find(|e| e["payload"]["patch"]["id"] == old.patches[0].id).cloned()
        });
    }
    let said = said.expect("an event for the superseded patch");
    assert_eq!(
        (said["payload"]["previous_state"].as_str(), said["payload"]["current_state"].as_str()),
        (Some("new"), Some("superseded")),
        "{said}"
    );

    // Checks: a tester token posts (form), the list and the patch's summary show it; `pending`
    // is refused with the reason.
    let checks_uri = format!("/api/1.3/patches/{}/checks/", p.id);
    let r = http::call(
        &state,
        Method::POST,
        &checks_uri,
        Some(&tester_token),
        form,
        "state=fail&context=ci-test&description=boom",
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    assert!(r.header(header::LOCATION).contains(&checks_uri));
    let r = http::call(
        &state,
        Method::POST,
        &checks_uri,
        Some(&tester_token),
        "application/json",
        r#"{"state":"pending","context":"ci"}"#,
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        http::call(&state, Method::POST, &checks_uri, None, form, "state=success").await.status,
        StatusCode::FORBIDDEN
    );
    let list = http::get(&state, &checks_uri).await.json();
    assert_eq!(
        (list[0]["state"].as_str(), list[0]["context"].as_str()),
        (Some("fail"), Some("ci-test"))
    );
    assert_eq!(http::get(&state, &uri).await.json()["check"], "fail");

    // Events: the state change and the check, newest first; a bad category is a 400.
    let ev =
        http::get(&state, "/api/1.3/events/?project=ltp&category=patch-state-changed").await.json();
    assert_eq!(
        (ev[0]["payload"]["current_state"].as_str(), ev[0]["payload"]["previous_state"].as_str()),
        (Some("accepted"), Some("new"))
    );
    let mine = ev
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["payload"]["patch"]["id"] == p.id)
        .expect("the first change");
    assert_eq!(mine["payload"]["current_state"], "changes-requested");
    assert!(ev[0]["id"].as_i64() > mine["id"].as_i64(), "newest first");
    assert_eq!(
        http::get(&state, "/api/1.3/events/?category=nope").await.status,
        StatusCode::BAD_REQUEST
    );
    let ev = http::get(&state, "/api/1.3/events/?category=check-created").await.json();
    assert_eq!(ev[0]["payload"]["check"]["state"], "fail");

    // People and users as git-pw looks them up.
    let people = http::get(&state, &format!("/api/1.3/people/?q={}", s.summary.submitter.email))
        .await
        .json();
    assert_eq!(people[0]["email"], s.summary.submitter.email.as_str());
    let users = http::get(&state, "/api/1.3/users/?q=maint").await.json();
    assert_eq!(users.as_array().map(Vec::len), Some(1));
    let me = http::call(
        &state,
        Method::GET,
        &format!("/api/1.3/users/{}/", maint.id),
        Some(&token),
        "",
        "",
    )
    .await
    .json();
    assert!(me.get("settings").is_some());

    // Bundles: JSON create; private ones are the owner's only; 1.1 cannot write.
    let r = http::call(
        &state,
        Method::POST,
        "/api/1.3/bundles/",
        Some(&token),
        "application/json",
        &format!(r#"{{"name":"mine","patches":[{}],"public":false}}"#, p.id),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&r.body));
    let id = r.json()["id"].as_i64().unwrap();
    assert_eq!(
        http::get(&state, &format!("/api/1.3/bundles/{id}/")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        http::call(&state, Method::GET, &format!("/api/1.3/bundles/{id}/"), Some(&token), "", "")
            .await
            .status,
        StatusCode::OK
    );
    let r = http::call(
        &state,
        Method::POST,
        "/api/1.1/bundles/",
        Some(&token),
        form,
        "name=x&patches=1",
    )
    .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = http::call(&state, Method::POST, "/api/1.3/bundles/", Some(&token), form, "name=empty")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Downloads: file names in Content-Disposition, `?series=*` adds the earlier patches, the
    // raw diff, the series mbox, old-style /patch/N/mbox/ redirects.
    let last = s.patches.last().expect("patches");
    let patch_uri =
        format!("/project/ltp/patch/{}/mbox/", quire_web::url::segment(&last.message_id));
    let r = http::get(&state, &patch_uri).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.header(header::CONTENT_DISPOSITION).starts_with("attachment; filename=")
            && r.header(header::CONTENT_DISPOSITION).ends_with(".patch")
    );
    let one = String::from_utf8_lossy(&r.body).matches("\nSubject: ").count()
        + usize::from(r.body.starts_with(b"Subject: "));
    let r = http::get(&state, &format!("{patch_uri}?series=*")).await;
    let all = String::from_utf8_lossy(&r.body).matches("\nSubject: ").count();
    assert_eq!((one, all), (1, s.patches.len()), "{}", String::from_utf8_lossy(&r.body));
    let r = http::get(&state, &patch_uri.replace("/mbox/", "/raw/")).await;
    assert!(r.header(header::CONTENT_DISPOSITION).ends_with(".diff"));
    assert!(
        String::from_utf8_lossy(&r.body).starts_with("diff --git")
            || String::from_utf8_lossy(&r.body).contains("\ndiff --git")
    );
    let r = http::get(&state, &format!("/series/{}/mbox/", s.id)).await;
    assert_eq!(r.status, StatusCode::OK);
    // quire's own fields on a series (issue 29): the A/R/T counts, and no approval line for a
    // project whose maintainers file was never read.
    let v = http::get(&state, &format!("/api/1.3/series/{}/", s.id)).await.json();
    assert!(v["reviews"]["acked"].is_u64() && v["reviews"]["tested"].is_u64(), "{v}");
    assert!(v["approval"].is_null(), "{v}");
    assert_eq!(String::from_utf8_lossy(&r.body).matches("\nSubject: ").count(), s.patches.len());
    let r = http::get(&state, &format!("/patch/{}/mbox/", last.id)).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(r.header(header::LOCATION), patch_uri);
    assert_eq!(http::get(&state, "/series/0/mbox/").await.status, StatusCode::NOT_FOUND);
}

async fn p_submitter_email(store: &Store, id: i64) -> String {
    store.patch(id).await.expect("patch").expect("exists").submitter.email
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patchwork_api_on_sqlite() {
    let (_dir, store) = common::sqlite_store().await;
    patchwork_api_over_http(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patchwork_api_on_postgres() {
    patchwork_api_over_http(common::pg_store().await).await;
}

/// Accounts' e-mail addresses go to token holders only (issue 24: `/api/1.3/users/` listed
/// them to anybody, naming every account to guess at): users, a project's maintainers, a
/// patch's delegate and a bundle's owner carry `"email": null` without a token, and `q`
/// without a token does not match addresses. What git-pw reads (usernames, ids) stays.
async fn account_addresses_are_shown_to_token_holders_only(store: Store) {
    use axum::http::Method;
    store
        .upsert_project(&ProjectConfig { name: "demo".into(), ..Default::default() })
        .await
        .expect("project");
    let raws = common::mbox_messages(&repo_root().join("samples/demo.mbox"), usize::MAX);
    common::ingest(&store, raws, Some("demo")).await;
    let maint = store.add_user("maint", "maint@example.org", "Mai Ntainer").await.expect("user");
    store.grant_role(maint.id, "demo", "maintainer").await.expect("role");
    let (_, token) = store.create_user_token("t", maint.id).await.expect("token");
    let (_, tester) = store.create_token("ci", "tester").await.expect("token");
    let state = http::state(store.clone());
    let patch = http::get(&state, "/api/1.3/patches/?project=demo").await.json()[0]["id"]
        .as_i64()
        .expect("a patch");
    let r = http::call(
        &state,
        Method::PATCH,
        &format!("/api/1.3/patches/{patch}/"),
        Some(&token),
        "application/json",
        &format!(r#"{{"delegate": {}}}"#, maint.id),
    )
    .await;
    assert!(r.status.is_success(), "{}", String::from_utf8_lossy(&r.body));
    let r = http::call(
        &state,
        Method::POST,
        "/api/1.3/bundles/",
        Some(&token),
        "application/json",
        &format!(r#"{{"name":"shown","patches":[{patch}],"public":true}}"#),
    )
    .await;
    assert!(r.status.is_success(), "{}", String::from_utf8_lossy(&r.body));

    let seen = |v: &serde_json::Value| v.to_string().contains("maint@example.org");
    let anonymous = [
        http::get(&state, "/api/1.3/users/").await.json(),
        http::get(&state, &format!("/api/1.3/users/{}/", maint.id)).await.json(),
        http::get(&state, "/api/1.3/projects/demo/").await.json(),
        http::get(&state, &format!("/api/1.3/patches/{patch}/")).await.json(),
        http::get(&state, "/api/1.3/patches/?project=demo").await.json(),
        http::get(&state, "/api/1.3/bundles/").await.json(),
        http::get(&state, "/api/1.3/events/?category=patch-delegated").await.json(),
    ];
    for v in &anonymous {
        assert!(!seen(v), "an account's address shown without a token: {v}");
    }
    let users = &anonymous[0];
    assert_eq!(users[0]["username"], "maint");
    assert!(users[0]["email"].is_null(), "{users}");
    assert_eq!(anonymous[2]["maintainers"][0]["username"], "maint");
    assert_eq!(anonymous[3]["delegate"]["username"], "maint");
    // `q` without a token: the username matches, the hidden address does not.
    let by_name = http::get(&state, "/api/1.3/users/?q=maint").await.json();
    assert_eq!(by_name.as_array().map(Vec::len), Some(1));
    let by_address = http::get(&state, "/api/1.3/users/?q=maint%40example.org").await.json();
    assert_eq!(by_address.as_array().map(Vec::len), Some(0), "{by_address}");
    // With a token (a user's or a tester's): shown, and `q` matches it.
    for t in [&token, &tester] {
        let get = |uri: String| {
            let state = state.clone();
            async move { http::call(&state, Method::GET, &uri, Some(t), "", "").await.json() }
        };
        let users = get("/api/1.3/users/?q=maint%40example.org".into()).await;
        assert_eq!(users[0]["email"], "maint@example.org", "{users}");
        assert!(seen(&get("/api/1.3/projects/demo/".into()).await));
        assert!(seen(&get(format!("/api/1.3/patches/{patch}/")).await));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_addresses_are_shown_to_token_holders_only_sqlite() {
    let (_dir, store) = common::sqlite_store().await;
    account_addresses_are_shown_to_token_holders_only(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_addresses_are_shown_to_token_holders_only_pg() {
    account_addresses_are_shown_to_token_holders_only(common::pg_store().await).await;
}
