//! The worker against real git repositories built here: series made with `git format-patch
//! --cover-letter`, sent through the importer into a store (SQLite and PostgreSQL), applied by
//! the worker, pushed to a bare mirror, found again upstream.

#[path = "../../git/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use quire_store::{ApplyState, ProjectConfig, Store, both_backends};
use quire_worker::{Worker, WorkerOptions};

/// A world with the project `demo` configured in `store`: upstream tree on `main`, a bare push
/// mirror, and the worker's git dir.
struct Site {
    world: World,
    bare: PathBuf,
    git_dir: PathBuf,
}

async fn site(store: &Store) -> Site {
    let world = World::new();
    let bare = world.path("published.git");
    sh(world.tmp.path(), &["init", "--quiet", "--bare", &bare.to_string_lossy()]);
    let git_dir = world.path("worker-git");
    store
        .upsert_project(&ProjectConfig {
            name: "demo".into(),
            list_ids: vec![],
            list_addresses: vec![],
            git_url: Some(world.upstream.to_string_lossy().into_owned()),
            branch: Some("main".into()),
            mirror_url: Some(bare.to_string_lossy().into_owned()),
            tag_prefix: None,
            ..Default::default()
        })
        .await
        .expect("project");
    Site { world, bare, git_dir }
}

impl Site {
    fn worker(&self, store: &Store, id: &str) -> Worker {
        let mut opts = WorkerOptions::new(self.git_dir.clone());
        opts.id = id.into();
        opts.fetch_every = Duration::ZERO;
        opts.poll = Duration::from_millis(50);
        Worker::new(store.clone(), opts)
    }

    /// A contributor's series: one commit per edit, formatted with a cover letter (base-commit
    /// given when `with_base`), the cover's blurb replaced by `blurb`; imported into `store`.
    /// Returns the cover letter's Message-ID and the contributor's tip.
    async fn post(
        &self,
        store: &Store,
        who: &str,
        edits: &[(u32, &str, &str)],
        with_base: bool,
        blurb: &str,
    ) -> (String, String) {
        let repo = self.world.clone(who);
        let base = sh(&repo, &["rev-parse", "HEAD"]);
        let tip = commit_edits(&repo, edits);
        let mbox = format_patch(&repo, &base, with_base.then_some(base.as_str()));
        let mbox = cover_text(mbox, &format!("{who}'s series"), blurb);
        let cover = first_message_id(&mbox);
        import(store, &self.world.path(&format!("{who}.mbox")), mbox.as_bytes()).await;
        (cover, tip)
    }
}

/// Fills in the cover letter `git format-patch --cover-letter` leaves for the author to write,
/// and makes its Message-ID unique (format-patch names it by the second it ran in).
fn cover_text(mbox: Vec<u8>, subject: &str, blurb: &str) -> String {
    let mbox = String::from_utf8(mbox).expect("utf-8");
    let id = first_message_id(&mbox);
    let unique = format!("{}-{id}", subject.replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
    mbox.replace(&id, &unique)
        .replace("*** SUBJECT HERE ***", subject)
        .replace("*** BLURB HERE ***", blurb)
}

fn first_message_id(mbox: &str) -> String {
    let line = mbox
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        .expect("a Message-ID");
    line[11..].trim().trim_start_matches('<').trim_end_matches('>').to_string()
}

async fn import(store: &Store, path: &Path, mbox: &[u8]) {
    std::fs::write(path, mbox).expect("write mbox");
    let opts = quire_import::ImportOptions { project: Some("demo".into()), ..Default::default() };
    quire_import::import(store, &[quire_import::Input::Path(path.to_path_buf())], &opts, &|_| {})
        .await
        .expect("import");
}

/// A page of the web UI, as the browser would get it.
async fn page(store: &Store, uri: &str) -> String {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let state = quire_web::AppState::new(store.clone(), quire_web::WebConfig::default());
    let req =
        axum::http::Request::builder().uri(uri).body(axum::body::Body::empty()).expect("request");
    let resp = quire_web::router(state).oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), axum::http::StatusCode::OK, "GET {uri}");
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8_lossy(&body).into_owned()
}

fn tree_of(repo: &Path, commit: &str) -> String {
    sh(repo, &["rev-parse", &format!("{commit}^{{tree}}")])
}

async fn applied_events(store: &Store, head: &str) -> usize {
    store
        .events(0, 10_000)
        .await
        .expect("events")
        .iter()
        .filter(|e| e.kind == "series-applied" && e.series_head.as_deref() == Some(head))
        .count()
}

const EDITS: &[(u32, &str, &str)] = &[
    (2, "line two", "lib: spell out two"),
    (5, "line five", "lib: spell out five"),
    (9, "line nine", "lib: spell out nine"),
];

both_backends!(complete_series_is_applied_pushed_as_a_tag_and_fetchable, |store| async move {
    let site = site(&store).await;
    let (cover, tip) = site.post(&store, "alice", EDITS, true, "Three small fixes.").await;
    let stats = site.worker(&store, "w1").round().await.expect("round");
    assert_eq!((stats.queued, stats.applied, stats.job_errors), (1, 1, 0), "{stats:?}");

    let r = store.apply_result(&cover).await.expect("read").expect("a result");
    assert_eq!(r.state, ApplyState::Applied, "{:?}", r.log);
    assert_eq!(r.base.as_deref(), Some(site.world.head().as_str()));
    let log = r.log.clone().unwrap_or_default();
    assert!(log.contains("git am --3way") && log.contains("applied 3 commit(s)"), "{log}");
    assert_eq!(r.tree_url.as_deref(), Some(site.bare.to_string_lossy().as_ref()));

    // `git fetch <mirror> tags/quire/<message-id>` gets exactly the result.
    let dev = site.world.clone("reviewer");
    let bare = site.bare.to_string_lossy().into_owned();
    let tag = format!("tags/quire/{}", quire_git::ref_name_for_message_id(&cover));
    sh(&dev, &["fetch", "--quiet", &bare, &tag]);
    let fetched = sh(&dev, &["rev-parse", "FETCH_HEAD"]);
    assert_eq!(Some(fetched.as_str()), r.result_commit.as_deref());
    assert_eq!(tree_of(&dev, &fetched), tree_of(&site.world.path("alice"), &tip));

    // Nothing to do the second time.
    let again = site.worker(&store, "w1").round().await.expect("round");
    assert_eq!((again.queued, again.applied), (0, 0));
    assert_eq!(applied_events(&store, &cover).await, 1);
});

both_backends!(conflict_is_stored_with_the_failing_patch_and_its_log, |store| async move {
    let site = site(&store).await;
    // Posted without a base-commit; upstream rewrote line 5 meanwhile.
    let (cover, _) = site.post(&store, "alice", EDITS, false, "Three small fixes.").await;
    site.world.upstream_edit(5, "line FIVE upstream", "lib: shout five");
    let stats = site.worker(&store, "w1").round().await.expect("round");
    assert_eq!((stats.applied, stats.failed_to_apply, stats.job_errors), (0, 1, 0), "{stats:?}");
    let r = store.apply_result(&cover).await.expect("read").expect("a result");
    assert_eq!(r.state, ApplyState::Failed);
    assert_eq!(r.failed_patch, Some(2), "{:?}", r.log);
    let log = r.log.unwrap_or_default();
    assert!(
        log.contains("patch 2 failed to apply") && log.contains("lib: spell out five"),
        "{log}"
    );
    assert!(r.result_commit.is_none() && r.tree_url.is_none());
    // Nothing pushed.
    assert_eq!(sh(&site.bare, &["tag", "--list"]), "");
});

both_backends!(unknown_base_commit_falls_back_to_the_branch_head_and_says_so, |store| async move {
    let site = site(&store).await;
    let repo = site.world.clone("bob");
    let base = sh(&repo, &["rev-parse", "HEAD"]);
    commit_edits(&repo, &[(3, "line three", "lib: spell out three")]);
    let mbox = cover_text(format_patch(&repo, &base, Some(&base)), "bob's series", "One fix.");
    // A base the tree never had (the contributor's private commit, say).
    let mbox = mbox.replace(
        &format!("base-commit: {base}"),
        "base-commit: 0123456789abcdef0123456789abcdef01234567",
    );
    import(&store, &site.world.path("bob.mbox"), mbox.as_bytes()).await;
    let cover = first_message_id(&mbox);
    site.worker(&store, "w1").round().await.expect("round");
    let r = store.apply_result(&cover).await.expect("read").expect("a result");
    assert_eq!(r.state, ApplyState::Applied, "{:?}", r.log);
    assert_eq!(r.base.as_deref(), Some(site.world.head().as_str()));
    let first_line = r.log.unwrap_or_default().lines().next().unwrap_or_default().to_string();
    assert!(first_line.contains("0123456789ab") && first_line.contains("unknown"), "{first_line}");
});

both_backends!(based_on_chain_applies_the_base_series_first, |store| async move {
    let site = site(&store).await;
    // Series A changes line 2; series B, written on top of A, changes line 2 again and says so.
    let repo = site.world.clone("carol");
    let base = sh(&repo, &["rev-parse", "HEAD"]);
    commit_edits(
        &repo,
        &[(2, "line 2 (A)", "lib: A edits two"), (4, "line 4 (A)", "lib: A edits four")],
    );
    let a_tip = sh(&repo, &["rev-parse", "HEAD"]);
    let a_mbox = cover_text(format_patch(&repo, &base, None), "series A", "The A series.");
    let a_cover = first_message_id(&a_mbox);
    commit_edits(
        &repo,
        &[(2, "line 2 (B on A)", "lib: B edits two again"), (6, "line 6 (B)", "lib: B edits six")],
    );
    let b_tip = sh(&repo, &["rev-parse", "HEAD"]);
    let b_mbox = cover_text(
        format_patch(&repo, &a_tip, None),
        "series B",
        &format!("Needs the A series.\n\nBased-on: <{a_cover}>"),
    );
    let b_cover = first_message_id(&b_mbox);
    // B arrives (and is applied) before anyone applied A.
    import(&store, &site.world.path("b.mbox"), b_mbox.as_bytes()).await;
    import(&store, &site.world.path("a.mbox"), a_mbox.as_bytes()).await;
    let mut worker = site.worker(&store, "w1");
    store.enqueue_job(quire_store::APPLY, &b_cover, "demo", None).await.expect("enqueue");
    let job = store
        .claim_job("w1", 60, &[quire_store::APPLY], quire_store::MAX_LOST_LEASES)
        .await
        .expect("claim")
        .expect("B's job");
    assert_eq!(job.target.as_deref(), Some(b_cover.as_str()));
    let applied = quire_worker::apply_series(&store, &site.git_dir, &b_cover, None, true)
        .await
        .expect("apply B");
    assert_eq!(applied.prerequisites, vec![a_cover.clone()], "{:?}", applied.result.log);
    assert!(
        store.finish_apply_job(job.id, "w1", &applied.head, &applied.result).await.expect("finish")
    );
    let a = store.apply_result(&a_cover).await.expect("read").expect("A applied first");
    let b = store.apply_result(&b_cover).await.expect("read").expect("B applied");
    assert_eq!((a.state, b.state), (ApplyState::Applied, ApplyState::Applied), "{:?}", b.log);
    assert_eq!(b.base, a.result_commit, "B sits on A's result");
    assert!(b.log.unwrap_or_default().contains(&format!("<{a_cover}>")));
    let mirror_dir = quire_worker::mirror_dir(&site.git_dir, "demo");
    assert_eq!(
        tree_of(&mirror_dir, b.result_commit.as_deref().expect("commit")),
        tree_of(&repo, &b_tip)
    );
    // The worker's round does not apply A again: it has its result.
    let stats = worker.round().await.expect("round");
    assert_eq!(stats.applied, 0, "{stats:?}");
    assert_eq!(applied_events(&store, &a_cover).await, 1);
});

both_backends!(based_on_given_by_the_submitter_in_a_reply_is_the_base, |store| async move {
    let site = site(&store).await;
    let repo = site.world.clone("dave");
    let base = sh(&repo, &["rev-parse", "HEAD"]);
    commit_edits(&repo, &[(2, "line 2 (A)", "lib: A edits two")]);
    let a_tip = sh(&repo, &["rev-parse", "HEAD"]);
    let a_mbox = cover_text(format_patch(&repo, &base, None), "series A2", "The A series.");
    let a_cover = first_message_id(&a_mbox);
    commit_edits(&repo, &[(2, "line 2 (B on A)", "lib: B edits two again")]);
    // B's cover forgets to say what it needs; its author says so in a reply, and a reviewer
    // suggests another base in a reply of their own, which is not taken.
    let b_mbox = cover_text(format_patch(&repo, &a_tip, None), "series B2", "Fixes two again.");
    let b_cover = first_message_id(&b_mbox);
    let author = b_mbox
        .lines()
        .find(|l| l.starts_with("From: "))
        .expect("a From: line")
        .trim_start_matches("From: ")
        .to_string();
    let reply = |from: &str, id: &str, based_on: &str| {
        format!(
            "From quire@z Thu Jan  1 00:00:00 1970\nFrom: {from}\nSubject: Re: [PATCH 0/1] series B2\n\
             Date: Mon, 4 Mar 2024 10:00:00 +0000\nMessage-ID: <{id}>\nIn-Reply-To: <{b_cover}>\n\
             References: <{b_cover}>\n\n{based_on}\n\n"
        )
    };
    let replies = reply(
        "Rita Reviewer <rita@example.org>",
        "rita-1@example.org",
        "Based-on: <nope@example.org>",
    ) + &reply(
        &author,
        "author-1@example.org",
        &format!("Forgot to say:\n\nBased-on: <{a_cover}>"),
    );
    import(&store, &site.world.path("a2.mbox"), a_mbox.as_bytes()).await;
    import(&store, &site.world.path("b2.mbox"), (b_mbox + "\n" + &replies).as_bytes()).await;
    let applied = quire_worker::apply_series(&store, &site.git_dir, &b_cover, None, true)
        .await
        .expect("apply B");
    assert_eq!(applied.prerequisites, vec![a_cover.clone()], "{:?}", applied.result.log);
    assert_eq!(applied.result.state, ApplyState::Applied, "{:?}", applied.result.log);
});

both_backends!(series_merged_upstream_with_other_commit_ids_are_found, |store| async move {
    let site = site(&store).await;
    let (cover, _) = site.post(&store, "alice", EDITS, true, "Three small fixes.").await;
    let mut worker = site.worker(&store, "w1");
    worker.round().await.expect("first round records the branch head");

    // The maintainer applies the series on a moved branch: same changes, other commit ids.
    site.world.upstream_edit(18, "line 18 upstream", "lib: unrelated upstream change");
    let alice = site.world.path("alice").to_string_lossy().into_owned();
    sh(&site.world.upstream, &["fetch", "--quiet", &alice, "main"]);
    sh_with(
        &site.world.upstream,
        &["cherry-pick", "main..FETCH_HEAD"],
        &[("GIT_COMMITTER_DATE", "2024-03-01T00:00:00Z")],
    );
    let stats = worker.round().await.expect("round");
    assert_eq!(stats.merged_series, 1, "{stats:?}");
    let series = store.series(&cover).await.expect("read").expect("series");
    let ids: Vec<String> = series.patches.iter().map(|p| p.message_id.clone()).collect();
    let merged = store.merged_patches(&ids).await.expect("merged");
    assert_eq!(merged.len(), 3);
    assert!(merged.iter().all(|m| m.matched_by == "patch-id"), "{merged:?}");
    let upstream_log = sh(&site.world.upstream, &["log", "--format=%H", "-4"]);
    assert!(merged.iter().all(|m| upstream_log.contains(&m.commit)));
    let events = store.events(0, 1000).await.expect("events");
    assert_eq!(events.iter().filter(|e| e.kind == "series-merged").count(), 1);
    assert!(
        events
            .iter()
            .any(|e| e.kind == "series-merged" && e.series_head.as_deref() == Some(cover.as_str()))
    );
    // The series page says so, patch by patch, with the apply state and the fetch line.
    let page = page(&store, &format!("/demo/{cover}/")).await;
    assert!(page.contains("Merged upstream: 3 of 3 patches"), "{page}");
    assert!(page.contains("(same patch-id)") && page.contains(&merged[0].commit[..12]), "{page}");
    assert!(page.contains("Patches applied successfully"), "{page}");
    let tag = quire_git::ref_name_for_message_id(&cover);
    assert!(page.contains(&format!("tags/quire/{tag}")), "{page}");
    // A re-scan finds nothing new and records nothing twice.
    let again = worker.round().await.expect("round");
    assert_eq!(again.merged_series, 0);
});

both_backends!(same_author_and_subject_marks_a_reworked_patch_merged, |store| async move {
    let site = site(&store).await;
    let (cover, _) = site
        .post(&store, "alice", &[(15, "line fifteen", "lib: spell out fifteen")], true, "One fix.")
        .await;
    let mut worker = site.worker(&store, "w1");
    worker.round().await.expect("round");
    // Merged with the maintainer's own wording of the change: another patch-id.
    edit_line(&site.world.upstream, 15, "line fifteen, as the maintainer wanted it");
    sh(&site.world.upstream, &["commit", "--quiet", "-a", "-m", "lib: spell out fifteen"]);
    let stats = worker.round().await.expect("round");
    assert_eq!(stats.merged_series, 1, "{stats:?}");
    let series = store.series(&cover).await.expect("read").expect("series");
    let merged =
        store.merged_patches(&[series.patches[0].message_id.clone()]).await.expect("merged");
    assert_eq!(merged.len(), 1);
    assert_eq!(merged[0].matched_by, "author+subject");
    assert_eq!(merged[0].commit, site.world.head());
});

both_backends!(
    a_worker_killed_mid_queue_loses_its_job_and_every_series_is_applied_once,
    |store| async move {
        let site = site(&store).await;
        let mut covers = Vec::new();
        for (i, who) in ["ann", "ben", "cat"].iter().enumerate() {
            let line = 3 + 5 * i as u32;
            let subject = format!("lib: {who} edits line {line}");
            let (cover, _) =
                site.post(&store, who, &[(line, "edited", subject.as_str())], true, "A fix.").await;
            covers.push(cover);
        }
        assert_eq!(store.enqueue_ready_series().await.expect("enqueue"), 3);
        // Worker "dead" claims a job with a 5 s lease and is killed before finishing it. (A
        // 1 s lease ran out during the next round on a busy machine: that round applied 3.)
        let lost = store
            .claim_job("dead", 5, &[], quire_store::MAX_LOST_LEASES)
            .await
            .expect("claim")
            .expect("a job");
        // While its lease runs, the job is not handed out again.
        let mut other = site.worker(&store, "alive");
        let first = other.round().await.expect("round");
        assert_eq!(first.applied, 2, "{first:?}");
        // Leases end on whole seconds (claimed at 100.0 with 5 s, it is taken again from 106.0).
        tokio::time::sleep(Duration::from_millis(6100)).await;
        let second = other.round().await.expect("round");
        assert_eq!(second.applied, 1, "{second:?}");
        for cover in &covers {
            let r = store.apply_result(cover).await.expect("read").expect("applied");
            assert_eq!(r.state, ApplyState::Applied);
            assert_eq!(applied_events(&store, cover).await, 1, "applied once: {cover}");
        }
        // The dead worker comes back: it cannot store a second result.
        let fake = store.apply_result(&covers[0]).await.expect("read").expect("result");
        assert!(!store.finish_apply_job(lost.id, "dead", &covers[0], &fake).await.expect("finish"));
        assert!(!store.fail_job(lost.id, "dead", "late", None).await.expect("fail"));
        let counts = store.job_counts().await.expect("counts");
        assert_eq!(
            counts.iter().map(|c| (c.state.as_str(), c.count)).collect::<Vec<_>>(),
            vec![("done", 3)]
        );
    }
);

both_backends!(git_errors_are_retried_with_backoff_then_failed, |store| async move {
    let site = site(&store).await;
    let (cover, _) = site.post(&store, "alice", EDITS, true, "Three small fixes.").await;
    // The tree's URL points nowhere: cloning fails, the job goes back to the queue for later.
    let mut project = store
        .projects()
        .await
        .expect("projects")
        .into_iter()
        .find(|p| p.config.name == "demo")
        .expect("demo")
        .config;
    project.git_url = Some(site.world.path("nowhere").to_string_lossy().into_owned());
    store.upsert_project(&project).await.expect("project");
    let mut worker = site.worker(&store, "w1");
    let stats = worker.round().await.expect("round");
    assert_eq!((stats.applied, stats.job_errors), (0, 1));
    assert_eq!(
        store.job_state(quire_store::APPLY, &cover).await.expect("state").map(|s| s.0).as_deref(),
        Some("queued")
    );
    // Not due yet: the next round leaves it alone.
    assert_eq!(worker.round().await.expect("round").job_errors, 0);
    assert!(store.apply_result(&cover).await.expect("read").is_none());
});

/// The ABI check end to end: the shipped sample archive (mail made with git format-patch), its
/// tree, the worker applying every series with `[project.abi]` configured: v2's "No functional
/// change expected" patch changes `struct ring_desc` on i386, and the series page says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abi_check_runs_on_applied_series_and_shows_on_the_page() {
    let (_dir, store) = quire_store::testing::sqlite_store().await;
    let work = tempfile::tempdir().expect("tempdir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let repo = work.path().join("demo");
    let made = std::process::Command::new(root.join("samples/make-demo-mbox.sh"))
        .arg(work.path().join("demo.mbox"))
        .arg(&repo)
        .output()
        .expect("run make-demo-mbox.sh");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    store
        .upsert_project(&ProjectConfig {
            name: "demo".into(),
            list_ids: vec![],
            list_addresses: vec![],
            git_url: Some(repo.to_string_lossy().into_owned()),
            branch: Some("main".into()),
            mirror_url: None,
            tag_prefix: None,
            ..Default::default()
        })
        .await
        .expect("project");
    let mbox = std::fs::read(root.join("samples/demo.mbox")).expect("sample");
    import(&store, &work.path().join("sample.mbox"), &mbox).await;
    let mut opts = WorkerOptions::new(work.path().join("git"));
    opts.abi.insert(
        "demo".into(),
        quire_abi::AbiConfig {
            headers: vec!["include/public/**/*.h".into()],
            prelude: vec!["#include <stdint.h>".into()],
            targets: vec!["x86_64".into(), "i386".into()],
            ..Default::default()
        },
    );
    let stats = Worker::new(store.clone(), opts).round().await.expect("round");
    assert_eq!((stats.applied, stats.job_errors), (3, 0), "{stats:?}");

    let v2 = store.series("v2-0@example.org").await.expect("read").expect("v2");
    let abi = v2.checks.iter().find(|c| c.name == "abi").expect("an abi check on v2");
    assert_eq!(abi.state, quire_store::CheckState::Fail, "{:?}", abi.log);
    assert_eq!(abi.description.as_deref(), Some("breaking ABI change on i386"));
    let log = abi.log.clone().unwrap_or_default();
    assert!(log.contains("ring_desc") && log.contains("32") && log.contains("28"), "{log}");
    // The lone patch touches no public header.
    let lone = store.series("lone-1@example.net").await.expect("read").expect("lone");
    let c = lone.checks.iter().find(|c| c.name == "abi").expect("an abi check");
    assert_eq!(
        (c.state, c.description.as_deref()),
        (quire_store::CheckState::Pass, Some("no public header touched"))
    );

    let page = page(&store, "/demo/v2-0@example.org/").await;
    assert!(page.contains("breaking ABI change on i386"), "{page}");
    assert!(page.contains("ring_desc"), "the report's table is on the page");
}

/// A MAINTAINERS file shaped like Xen's: lib.c in an area of its own, everything else under
/// THE REST.
const MAINTAINERS: &str = "\
\tList of maintainers and how to submit changes

Descriptions of section entries:

\tM: Mail patches to: FullName <address@domain>
\tF: Files and directories with wildcard patterns.

LIBRARY
M:\tLibby Maint <libby@example.org>
R:\tRoy Reviewer <roy@example.org>
S:\tSupported
F:\tlib.c

THE REST
M:\tRest Person <rest@example.org>
S:\tSupported
F:\t*
F:\t*/
";

both_backends!(approvals_come_from_the_maintainers_file_at_the_base, |store| async move {
    let site = site(&store).await;
    write(&site.world.upstream, "MAINTAINERS", MAINTAINERS);
    sh(&site.world.upstream, &["add", "MAINTAINERS"]);
    sh(&site.world.upstream, &["commit", "--quiet", "-m", "add MAINTAINERS"]);
    let (cover, _) = site.post(&store, "alice", EDITS, true, "Three small fixes.").await;
    let stats = site.worker(&store, "w1").round().await.expect("round");
    assert_eq!((stats.applied, stats.job_errors), (1, 0), "{stats:?}");

    let map = store.series_maintainers(&cover).await.expect("read").expect("a map");
    assert_eq!(map.base, site.world.head());
    assert_eq!(map.file, "MAINTAINERS");
    assert_eq!(map.blob, sh(&site.world.upstream, &["rev-parse", "HEAD:MAINTAINERS"]));
    let a = store.series(&cover).await.unwrap().unwrap().approvals.expect("approvals");
    assert!(!a.approved);
    assert_eq!(a.awaiting.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["Libby Maint"]);

    // The series page, the list line, the queue and the search say so.
    let series_page = page(&store, &format!("/demo/{cover}/")).await;
    assert!(
        series_page.contains("Awaiting: <a href=\"/demo/queue/libby@example.org\""),
        "{series_page}"
    );
    assert!(series_page.contains("MAINTAINERS at "), "{series_page}");
    let list = page(&store, "/demo/").await;
    assert!(list.contains("awaiting: Libby Maint"), "{list}");
    let queue = page(&store, "/demo/queue/libby@example.org").await;
    assert!(
        queue.contains("Awaiting Libby Maint") && queue.contains("alice&#39;s series"),
        "{queue}"
    );
    let list = page(&store, "/demo/?q=awaiting%3Alibby").await;
    assert!(list.contains("alice&#39;s series"), "{list}");

    // Libby acks the cover letter from another address: approved, shown as such.
    let ack = format!(
        "From: Libby Maint <libby@home.example>\nTo: demo@example.org\nSubject: Re: [PATCH 0/3] alice's series\n\
         Message-ID: <ack-libby@home.example>\nIn-Reply-To: <{cover}>\nReferences: <{cover}>\n\
         Date: Mon, 2 Mar 2026 10:00:00 +0000\n\n> Three small fixes.\n\nAcked-by: Libby Maint <libby@home.example>\n"
    );
    import(
        &store,
        &site.world.path("ack.mbox"),
        format!("From x@y Mon Mar  2 10:00:00 2026\n{ack}").as_bytes(),
    )
    .await;
    let a = store.series(&cover).await.unwrap().unwrap().approvals.expect("approvals");
    assert!(a.approved, "{a:#?}");
    let series_page = page(&store, &format!("/demo/{cover}/")).await;
    assert!(series_page.contains("Acked-by as libby@home.example"), "{series_page}");
    let list = page(&store, "/demo/?q=is%3Aapproved").await;
    assert!(list.contains(">approved<") && list.contains("alice&#39;s series"), "{list}");
    let queue = page(&store, "/demo/queue/libby@example.org").await;
    assert!(queue.contains("Nothing awaits"), "{queue}");
});

/// Posts `alice's series` again as revision `version` from a fresh clone `who`, with `edits`.
async fn post_revision(
    site: &Site,
    store: &Store,
    who: &str,
    version: u32,
    edits: &[(u32, &str, &str)],
) -> String {
    let repo = site.world.clone(who);
    let base = sh(&repo, &["rev-parse", "HEAD"]);
    commit_edits(&repo, edits);
    let v = format!("-v{version}");
    let base_arg = format!("--base={base}");
    let range = format!("{base}..HEAD");
    let args = ["format-patch", "--cover-letter", "--stdout", "--thread", &v, &base_arg, &range];
    let mbox = format!("{}\n", sh(&repo, &args)).into_bytes();
    let mbox =
        revision_ids(cover_text(mbox, "alice's series", &format!("Revision {version}.")), version);
    let cover = first_message_id(&mbox);
    import(store, &site.world.path(&format!("{who}.mbox")), mbox.as_bytes()).await;
    cover
}

/// Message-IDs of their own for revision `version`: `git format-patch` names mails by the second
/// it ran in, so two revisions made in the same second would share them.
fn revision_ids(mbox: String, version: u32) -> String {
    let mut out = mbox;
    for h in ["Message-ID: <", "Message-Id: <", "In-Reply-To: <", "References: <"] {
        out = out.replace(h, &format!("{h}v{version}."));
    }
    out
}

/// `GET /api/v1/series/{id}` as JSON.
async fn api_series(store: &Store, id: &str) -> serde_json::Value {
    serde_json::from_str(&page(store, &format!("/api/v1/series/{id}")).await).expect("JSON")
}

both_backends!(
    range_diff_of_two_applied_revisions_is_on_the_page_and_in_the_api,
    |store| async move {
        let site = site(&store).await;
        let v1 = post_revision(&site, &store, "alice", 1, EDITS).await;
        let stats = site.worker(&store, "w1").round().await.expect("round");
        assert_eq!((stats.applied, stats.job_errors), (1, 0), "{stats:?}");
        let v2_edits: &[(u32, &str, &str)] = &[
            (2, "line two", "lib: spell out two"),
            (5, "line FIVE", "lib: spell out five"),
            (9, "line nine", "lib: spell out nine"),
        ];
        let v2 = post_revision(&site, &store, "alice-v2", 2, v2_edits).await;
        let stats = site.worker(&store, "w1").round().await.expect("round");
        assert_eq!((stats.applied, stats.job_errors), (1, 0), "{stats:?}");

        let detail = store.series(&v2).await.unwrap().expect("v2");
        assert_eq!(detail.version, 2);
        let view = store.range_diff_view(&detail).await.unwrap().expect("a view");
        assert_eq!(view.from, v1);
        assert_eq!(view.state, quire_store::RangeDiffState::Ok, "{view:?}");
        let diff = view.diff.clone().unwrap_or_default();
        let lines: Vec<&str> = diff.lines().collect();
        assert!(lines[0].contains(" = ") && lines[0].ends_with("lib: spell out two"), "{diff}");
        assert!(lines[1].contains(" ! ") && lines[1].ends_with("lib: spell out five"), "{diff}");
        assert!(diff.contains("-+line five") && diff.contains("++line FIVE"), "{diff}");

        let html = page(&store, &format!("/demo/{v2}/")).await;
        assert!(html.contains("<section class=\"range-diff\">"), "{html}");
        assert!(html.contains("<code>git range-diff "), "{html}");
        assert!(html.contains("<span class=\"add\">    ++line FIVE"), "{html}");
        assert!(html.contains(&format!("interdiff/{}", quire_web::url::segment(&v1))), "{html}");

        let json = api_series(&store, &v2).await;
        assert_eq!(json["range_diff"]["state"], "ok", "{json}");
        assert_eq!(json["range_diff"]["from"], v1.as_str());
        assert_eq!(json["range_diff"]["diff"].as_str(), Some(diff.as_str()));
        assert!(api_series(&store, &v1).await["range_diff"].is_null());
    }
);

both_backends!(a_revision_that_did_not_apply_gives_the_reason_instead, |store| async move {
    let site = site(&store).await;
    let v1 = post_revision(&site, &store, "alice", 1, EDITS).await;
    site.world.upstream_edit(5, "line FIVE upstream", "lib: shout five");
    // v2 is made on the old tree without a base upstream has: it conflicts with line 5.
    let repo = site.world.clone("alice-v2");
    sh(&repo, &["reset", "--quiet", "--hard", "HEAD~1"]);
    commit_edits(&repo, EDITS);
    let range = "HEAD~3..HEAD";
    let args = ["format-patch", "--cover-letter", "--stdout", "--thread", "-v2", range];
    let mbox = format!("{}\n", sh(&repo, &args)).into_bytes();
    let mbox = revision_ids(cover_text(mbox, "alice's series", "Revision 2."), 2);
    let v2 = first_message_id(&mbox);
    import(&store, &site.world.path("v2.mbox"), mbox.as_bytes()).await;
    let stats = site.worker(&store, "w1").round().await.expect("round");
    assert_eq!((stats.applied, stats.failed_to_apply), (1, 1), "{stats:?}");
    assert_eq!(store.apply_result(&v1).await.unwrap().unwrap().state, ApplyState::Applied);

    let json = api_series(&store, &v2).await;
    assert_eq!(json["range_diff"]["state"], "unavailable", "{json}");
    let reason = json["range_diff"]["reason"].as_str().unwrap_or_default().to_string();
    assert!(
        reason == "v2 did not apply: patch 2 failed to apply: [PATCH v2 2/3] lib: spell out five",
        "{reason}"
    );
    assert!(json["range_diff"]["diff"].is_null());
    let html = page(&store, &format!("/demo/{v2}/")).await;
    assert!(html.contains("<p class=\"range-diff-state\">v2 did not apply: patch 2"), "{html}");
    assert!(html.contains("interdiff of the mails"), "{html}");
});
