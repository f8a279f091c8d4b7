//! Approvals as the store keeps them (issue 29), on SQLite and PostgreSQL: a maintainers map
//! stored for a series gives its approvals; trailers arriving later (in the ingest transaction)
//! and a new project rule change them and the page stamp; the list lines, the search terms
//! `awaiting:` and `is:approved` and a maintainer's queue read them; a reindex rebuilds them.

#[allow(dead_code)]
mod common;

use common::*;
use quire_maintainers::{PatchInput, map_series, parse};
use quire_store::{ApprovalConfig, Incoming, ProjectConfig, SeriesFilter, Store, both_backends};

/// Two sections for the two files the series touches, nested under THE REST.
const MAINTAINERS: &str = "\
\tM: Mail patches to: FullName <address@domain>

FIRST FILE
M:\tMia Maint <mia@example.org>
S:\tSupported
F:\tf1

SECOND FILE
M:\tMax Maint <max@example.org>
R:\tRita Reviewer <rita@example.org>
S:\tMaintained
F:\tf2

THE REST
M:\tTom Rest <tom@example.org>
F:\t*
F:\t*/
";

/// A message as a list delivers it, parsed from its bytes (a reindex parses them again).
fn mail(
    id: &str,
    parent: Option<&str>,
    from: &str,
    subject: &str,
    cc: &str,
    body: &str,
) -> Incoming {
    let mut raw = format!(
        "Message-ID: <{id}>\nSubject: {subject}\nFrom: {from}\nTo: demo@lists.example.org\n\
         Date: Mon, 2 Mar 2026 10:00:00 +0000\n"
    );
    if !cc.is_empty() {
        raw.push_str(&format!("Cc: {cc}\n"));
    }
    if let Some(p) = parent {
        raw.push_str(&format!("In-Reply-To: <{p}>\nReferences: <c@x> <{p}>\n"));
    }
    raw.push_str(&format!("\n{body}\n"));
    Incoming::parse(raw.into_bytes(), Some("demo".into()))
}

fn patch_mail(n: u32) -> Incoming {
    let body = format!(
        "Fix file {n}.\n\nSigned-off-by: Ann Author <ann@example.org>\n---\n f{n} | 2 +-\n\n\
         diff --git a/f{n} b/f{n}\n--- a/f{n}\n+++ b/f{n}\n@@ -1 +1 @@\n-a\n+b\n"
    );
    mail(
        &format!("p{n}@x"),
        Some("c@x"),
        "Ann Author <ann@example.org>",
        &format!("[PATCH {n}/2] two fixes"),
        "",
        &body,
    )
}

fn ack(id: &str, parent: &str, tag: &str, who: &str) -> Incoming {
    mail(id, Some(parent), who, "Re: [PATCH] two fixes", "", &format!("> Fix.\n\n{tag}: {who}\n"))
}

async fn total(store: &Store, q: &str) -> u64 {
    store
        .series_search_text(Some("demo"), q, 1, 10)
        .await
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .total
}

async fn line(store: &Store) -> quire_store::SeriesSummary {
    let f = SeriesFilter { include_superseded: true, ..Default::default() };
    store.series_list("demo", &f).await.expect("list").items.remove(0)
}

async fn stamp(store: &Store) -> u64 {
    store.series_page_stamp("demo", "c@x").await.expect("stamp").expect("a series")
}

fn awaiting(a: &quire_store::Approvals) -> Vec<&str> {
    a.awaiting.iter().map(|p| p.display()).collect()
}

both_backends!(approvals_follow_trailers_rules_and_reindex, |store| async move {
    store
        .upsert_project(&ProjectConfig { name: "demo".into(), ..Default::default() })
        .await
        .expect("project");
    let cover = mail(
        "c@x",
        None,
        "Ann Author <ann@example.org>",
        "[PATCH 0/2] two fixes",
        "",
        "Two fixes.",
    );
    store.ingest(vec![cover, patch_mail(1), patch_mail(2)]).await.expect("ingest");
    // Every series gets its review counts at assembly; approvals wait for a maintainers map.
    let l = line(&store).await;
    assert_eq!(l.reviews, Some(quire_store::ReviewCounts::default()));
    assert_eq!(l.approval, None);
    assert!(store.series("c@x").await.unwrap().unwrap().approvals.is_none());

    let mut diffs = Vec::new();
    for id in ["p1@x", "p2@x"] {
        diffs.push(store.message(id).await.unwrap().expect("patch").diff.expect("a diff"));
    }
    let map = map_series(
        &parse(MAINTAINERS),
        "0123abcd",
        "MAINTAINERS",
        "blob",
        &[
            PatchInput { number: 1, files: vec!["f1"], diff: &diffs[0] },
            PatchInput { number: 2, files: vec!["f2"], diff: &diffs[1] },
        ],
    );
    let before = stamp(&store).await;
    store.set_series_maintainers("c@x", &map).await.expect("store the map");
    assert_eq!(store.series_maintainers("c@x").await.unwrap().as_ref(), Some(&map));
    let after_map = stamp(&store).await;
    assert_ne!(before, after_map, "the page shows the approvals: its stamp moves");
    let a = store.series("c@x").await.unwrap().unwrap().approvals.expect("approvals");
    assert!(!a.approved);
    assert_eq!(awaiting(&a), ["Mia Maint", "Max Maint"]);
    let l = line(&store).await;
    let names: Vec<&str> =
        l.approval.as_ref().unwrap().awaiting.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["Max Maint", "Mia Maint"]);
    assert_eq!(total(&store, "awaiting:mia").await, 1);
    assert_eq!(total(&store, "awaiting:max@example.org").await, 1);
    assert_eq!(total(&store, "awaiting:tom").await, 0);
    assert_eq!(total(&store, "is:approved").await, 0);
    assert_eq!(total(&store, "-is:approved").await, 1);
    assert_eq!(store.approval_queue("demo", "Mia@Example.org", 1, 10).await.unwrap().total, 1);

    // Mia acks patch 1 from home, under her name.
    store
        .ingest(vec![ack("a1@x", "p1@x", "Acked-by", "Mia Maint <mia@home.example>")])
        .await
        .unwrap();
    let after_mia = stamp(&store).await;
    assert_ne!(after_map, after_mia);
    let a = store.series("c@x").await.unwrap().unwrap().approvals.expect("approvals");
    assert_eq!(awaiting(&a), ["Max Maint"]);
    let f1 = a.files.iter().find(|f| f.path == "f1").unwrap();
    assert_eq!(f1.approved_by[0].as_email.as_deref(), Some("mia@home.example"));
    assert_eq!(total(&store, "awaiting:mia").await, 0);
    assert_eq!(store.approval_queue("demo", "mia@example.org", 1, 10).await.unwrap().total, 0);
    assert_eq!(store.approval_queue("demo", "max@example.org", 1, 10).await.unwrap().total, 1);

    // Rita, a reviewer of f2, reviews patch 2: shown, but a reviewer does not approve.
    store
        .ingest(vec![ack("r2@x", "p2@x", "Reviewed-by", "Rita Reviewer <rita@example.org>")])
        .await
        .unwrap();
    let a = store.series("c@x").await.unwrap().unwrap().approvals.expect("approvals");
    assert_eq!(awaiting(&a), ["Max Maint"]);
    // Max acks the cover letter (for both patches) as "Maximilian M." from a work address
    // that the archive saw him addressed under.
    let seen = mail(
        "cc@x",
        None,
        "Ann Author <ann@example.org>",
        "unrelated",
        "Max Maint <mm@corp.example>",
        "Hi.",
    );
    store.ingest(vec![seen]).await.unwrap();
    store
        .ingest(vec![ack("a0@x", "c@x", "Acked-by", "Maximilian M. <mm@corp.example>")])
        .await
        .unwrap();
    let a = store.series("c@x").await.unwrap().unwrap().approvals.expect("approvals");
    assert!(a.approved, "{a:#?}");
    let f2 = a.files.iter().find(|f| f.path == "f2").unwrap();
    assert_eq!(f2.approved_by[0].person.name, "Max Maint");
    assert_eq!(f2.approved_by[0].via, Some(quire_maintainers::Via::Archive));
    assert_eq!(total(&store, "is:approved").await, 1);
    let l = line(&store).await;
    assert_eq!(l.approval, Some(quire_store::ApprovalLine { approved: true, awaiting: vec![] }));
    // Acked-by: Mia on patch 1, Max's on the cover letter for patches 1 and 2; Rita's review.
    assert_eq!(l.reviews, Some(quire_store::ReviewCounts { acked: 3, reviewed: 1, tested: 0 }));
    assert_eq!(store.approval_queue("demo", "max@example.org", 1, 10).await.unwrap().total, 0);

    // A reindex rebuilds them from the mail and the stored map.
    store.reindex(|_, _| {}).await.expect("reindex");
    let a = store.series("c@x").await.unwrap().unwrap().approvals.expect("approvals after reindex");
    assert!(a.approved);
    assert_eq!(line(&store).await.reviews.map(|r| r.acked), Some(3));

    // A stricter rule: only Reviewed-by counts. Worked out again at once, the page changed.
    let before = stamp(&store).await;
    let strict = ApprovalConfig { count: vec!["Reviewed-by".into()], ..Default::default() };
    assert_eq!(store.set_project_approvals("demo", &strict).await.unwrap(), 1);
    assert_eq!(store.set_project_approvals("demo", &strict).await.unwrap(), 0, "unchanged");
    assert_eq!(store.project_approvals("demo").await.unwrap(), strict);
    assert_ne!(before, stamp(&store).await);
    let a = store.series("c@x").await.unwrap().unwrap().approvals.expect("approvals");
    assert!(!a.approved);
    assert_eq!(awaiting(&a), ["Mia Maint", "Max Maint"]);
    assert_eq!(total(&store, "awaiting:\"max maint\"").await, 1);

    // Off: no approvals anywhere.
    let off = ApprovalConfig { enabled: false, ..Default::default() };
    store.set_project_approvals("demo", &off).await.unwrap();
    assert!(store.series("c@x").await.unwrap().unwrap().approvals.is_none());
    assert_eq!(line(&store).await.approval, None);
    assert_eq!(total(&store, "awaiting:max").await, 0);
    // And on again: from the thread, with the trailers given since.
    store.set_project_approvals("demo", &ApprovalConfig::default()).await.unwrap();
    assert!(store.series("c@x").await.unwrap().unwrap().approvals.expect("approvals").approved);
});

/// What approvals cost a page (run by hand: `cargo test -p quire-store --test approvals
/// measure -- --ignored --nocapture`): both real slices, a maintainers map for every series,
/// then the series page's read, a list page's extra statements, the searches and an ingest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn measure() {
    use std::time::Instant;
    let (_dir, store) = quire_store::testing::sqlite_store().await;
    let t = Instant::now();
    for (name, project) in
        [("ltp-2019-2020.4k.mbox.gz", "ltp"), ("io-uring-2019-2021.8k.mbox.gz", "io-uring")]
    {
        let raws = mboxrd_messages(&corpus(name));
        for chunk in raws.chunks(1000) {
            let batch =
                chunk.iter().map(|r| Incoming::parse(r.clone(), Some(project.into()))).collect();
            store.ingest(batch).await.unwrap();
        }
    }
    eprintln!("import of both slices: {:?}", t.elapsed());
    let maintainers = "LTP LIBRARY\nM:\tCyril Hrubis <chrubis@suse.cz>\nR:\tLi Wang <liwang@redhat.com>\nF:\tlib/\nF:\tinclude/\n\n\
        LTP SYSCALLS\nM:\tPetr Vorel <pvorel@suse.cz>\nF:\ttestcases/kernel/syscalls/\nN:\tfanotify\nK:\ttst_brk\n\n\
        IO_URING\nM:\tJens Axboe <axboe@kernel.dk>\nR:\tPavel Begunkov <asml.silence@gmail.com>\nF:\tio_uring/\nF:\tfs/io_uring.c\nF:\tinclude/uapi/linux/io_uring.h\n\n\
        THE REST\nM:\tLinus Torvalds <torvalds@linux-foundation.org>\nF:\t*\nF:\t*/\n";
    let parsed = parse(maintainers);
    let mut heads = Vec::new();
    for project in ["ltp", "io-uring"] {
        let f = SeriesFilter { include_superseded: true, per_page: 1000, ..Default::default() };
        for page in 1..=3 {
            let found =
                store.series_list(project, &SeriesFilter { page, ..f.clone() }).await.unwrap();
            heads.extend(found.items.into_iter().filter(|s| s.patches > 0).map(|s| s.message_id));
        }
    }
    let sample: Vec<String> = heads.iter().step_by((heads.len() / 200).max(1)).cloned().collect();
    let time_pages = |label: &'static str| {
        let (store, sample) = (store.clone(), sample.clone());
        async move {
            let mut best = std::time::Duration::MAX;
            for _ in 0..3 {
                let t = Instant::now();
                for h in &sample {
                    store.series(h).await.unwrap().unwrap();
                }
                best = best.min(t.elapsed() / sample.len() as u32);
            }
            eprintln!(
                "{label}: Store::series {best:?} per page (least of 3 rounds of {} pages)",
                sample.len()
            );
        }
    };
    time_pages("before maps").await;
    // A reply with an Acked-by to a series: its ingest, before and after the series has a map.
    let reply_ingest = |head: String, n: usize| {
        let store = store.clone();
        async move {
            let mut best = std::time::Duration::MAX;
            for i in 0..5 {
                let raw = format!(
                    "Message-ID: <measure-{n}-{i}@x>\nSubject: Re: x\nFrom: Jens Axboe <axboe@kernel.dk>\n\
                     In-Reply-To: <{head}>\nReferences: <{head}>\nDate: Mon, 2 Mar 2026 10:00:00 +0000\n\n\
                     Looks fine.\n\nAcked-by: Jens Axboe <axboe@kernel.dk>\n"
                );
                let t = Instant::now();
                store.ingest(vec![Incoming::parse(raw.into_bytes(), None)]).await.unwrap();
                best = best.min(t.elapsed());
            }
            best
        }
    };
    let plain = reply_ingest(sample[1].clone(), 1).await;
    let t = Instant::now();
    for h in &heads {
        let s = store.series(h).await.unwrap().unwrap();
        let mut patches = Vec::new();
        for p in &s.patches {
            let m = store.message(&p.message_id).await.unwrap().unwrap();
            let files: Vec<String> = m.diffstat.iter().map(|f| f.path.clone()).collect();
            patches.push((p.number, files, m.diff.unwrap_or_default()));
        }
        let inputs: Vec<PatchInput> = patches
            .iter()
            .map(|(n, f, d)| PatchInput {
                number: *n,
                files: f.iter().map(String::as_str).collect(),
                diff: d,
            })
            .collect();
        let map = map_series(&parsed, "base", "MAINTAINERS", "blob", &inputs);
        store.set_series_maintainers(h, &map).await.unwrap();
    }
    eprintln!(
        "maps for {} series: {:?} each (worker side, with reading the patches)",
        heads.len(),
        t.elapsed() / heads.len() as u32
    );
    time_pages("with approvals").await;
    let mapped = reply_ingest(sample[1].clone(), 2).await;
    eprintln!(
        "a reply's ingest (least of 5): {plain:?} without a map, {mapped:?} with approvals worked out again"
    );
    for project in ["ltp", "io-uring"] {
        let f = SeriesFilter { include_superseded: true, ..Default::default() };
        // The least of 3 rounds of 50: the machine is shared.
        let mut items = store.series_list(project, &f).await.unwrap().items;
        let heads: Vec<String> = items.iter().map(|s| s.message_id.clone()).collect();
        let (mut list, mut fill, mut states) =
            (std::time::Duration::MAX, std::time::Duration::MAX, std::time::Duration::MAX);
        for _ in 0..3 {
            let t = Instant::now();
            for _ in 0..50 {
                store.series_list(project, &f).await.unwrap();
            }
            list = list.min(t.elapsed() / 50);
            let t = Instant::now();
            for _ in 0..50 {
                store.fill_review_lines(&mut items).await.unwrap();
            }
            fill = fill.min(t.elapsed() / 50);
            let t = Instant::now();
            for _ in 0..50 {
                store.line_states(&heads).await.unwrap();
            }
            states = states.min(t.elapsed() / 50);
        }
        eprintln!(
            "{project} list page of 50: Store::series_list {list:?}, of which reviews and approvals {fill:?}; line_states (apply and checks) {states:?}"
        );
    }
    for q in ["is:approved", "-is:approved", "awaiting:axboe", "awaiting:chrubis -is:obsolete"] {
        let t = Instant::now();
        let n = store.series_search_text(None, q, 1, 50).await.unwrap().total;
        eprintln!("search {q:?}: {n} series, {:?}", t.elapsed());
    }
    let approved = store.series_search_text(None, "is:approved", 1, 1).await.unwrap().total;
    eprintln!("approved: {approved} of {}", heads.len());
    let t = Instant::now();
    let n = store.approval_queue("io-uring", "axboe@kernel.dk", 1, 50).await.unwrap().total;
    eprintln!("queue of axboe@kernel.dk: {n} series, {:?}", t.elapsed());
}
