//! Range-diffs between applied revisions (issue 29), on SQLite and PostgreSQL: what the series
//! page and the API say before, while and after both revisions applied, and what a reindex keeps.

#[allow(dead_code)]
mod common;

use common::*;
use quire_store::{
    ApplyResult, ApplyState, ProjectConfig, RangeDiffRecord, RangeDiffState, Store, both_backends,
};

fn applied(base: &str, result: &str) -> ApplyResult {
    ApplyResult {
        state: ApplyState::Applied,
        base: Some(base.into()),
        result_commit: Some(result.into()),
        tree_url: None,
        log: Some("quire: applied 2 commit(s)\n".into()),
        failed_patch: None,
        updated: T0,
    }
}

fn failed() -> ApplyResult {
    ApplyResult {
        state: ApplyState::Failed,
        base: Some("b1".into()),
        result_commit: None,
        tree_url: None,
        log: Some("quire: branch head\nquire: patch 2 failed to apply: fix two\nerror: x\n".into()),
        failed_patch: Some(2),
        updated: T0,
    }
}

/// An RFC 2822 date for a Unix time (UTC), enough for these tests' days.
fn chrono_like(t: i64) -> String {
    let days = (t - T0) / DAY;
    format!("Sun, {} Sep 2020 12:26:{:02} +0000", 13 + days, (t - T0) % DAY % 60)
}

async fn view(store: &Store, head: &str) -> Option<quire_store::RangeDiffView> {
    let detail = store.series(head).await.expect("series").expect("stored");
    store.range_diff_view(&detail).await.expect("view")
}

async fn stamp(store: &Store) -> u64 {
    store.series_page_stamp("demo", "v2-0@x").await.expect("stamp").expect("a series")
}

both_backends!(range_diff_view_follows_apply_results, |store| async move {
    store
        .upsert_project(&ProjectConfig { name: "demo".into(), ..Default::default() })
        .await
        .expect("project");
    let mut batch = Vec::new();
    for (v, day) in [(1u32, 0i64), (2, 2)] {
        for n in 0..=2 {
            let mut p = patch(&format!("v{v}-{n}@x"), v, n, 2, "two fixes");
            p.date = Some(T0 + day * DAY + i64::from(n));
            if n > 0 {
                p = threaded(p, &patch(&format!("v{v}-0@x"), v, 0, 2, "two fixes"));
            }
            // Bytes that thread like the parse, so that a reindex assembles the same series.
            let mut raw = format!(
                "Message-ID: <{}>\nSubject: {}\nFrom: Ann Author <ann@example.org>\n\
                 Date: {}\n",
                p.message_id,
                p.subject,
                chrono_like(p.date.unwrap_or(T0))
            );
            if n > 0 {
                raw.push_str(&format!("In-Reply-To: <v{v}-0@x>\nReferences: <v{v}-0@x>\n"));
            }
            raw.push_str(&format!("\n{}\n", p.body));
            if let Some(d) = &p.diff {
                raw.push_str(&format!("---\n{}", d.text));
            }
            let mut inc = incoming_with_raw(p, raw.as_bytes());
            inc.project = Some("demo".into());
            batch.push(inc);
        }
    }
    store.ingest(batch).await.expect("ingest");
    assert_eq!(view(&store, "v1-0@x").await, None, "a first revision has nothing before it");

    let v = view(&store, "v2-0@x").await.expect("v2 has v1 before it");
    assert_eq!((v.from.as_str(), v.from_version, v.to_version), ("v1-0@x", 1, 2));
    assert_eq!(v.state, RangeDiffState::Unavailable);
    assert_eq!(v.reason.as_deref(), Some("v1 has not been applied yet"));

    store.set_apply_result("v1-0@x", &failed()).await.expect("v1 failed");
    store.set_apply_result("v2-0@x", &applied("b2", "r2")).await.expect("v2 applied");
    let v = view(&store, "v2-0@x").await.expect("view");
    assert_eq!(v.state, RangeDiffState::Unavailable);
    assert_eq!(v.reason.as_deref(), Some("v1 did not apply: patch 2 failed to apply: fix two"));
    assert_eq!(v.diff, None);

    store.set_apply_result("v1-0@x", &applied("b1", "r1")).await.expect("v1 applied");
    let v = view(&store, "v2-0@x").await.expect("view");
    assert_eq!(v.state, RangeDiffState::Pending, "{v:?}");
    assert_eq!(v.command.as_deref(), Some("git range-diff b1..r1 b2..r2"));

    let before = stamp(&store).await;
    let record = RangeDiffRecord {
        old_head: "v1-0@x".into(),
        new_head: "v2-0@x".into(),
        old_range: "b1..r1".into(),
        new_range: "b2..r2".into(),
        diff: Some("1:  r1a = 1:  r2a fix one\n2:  r1b ! 2:  r2b fix two\n".into()),
        problem: None,
        updated: T0,
    };
    store.set_range_diff(&record).await.expect("store range-diff");
    assert_ne!(stamp(&store).await, before, "a stored range-diff changes the page");
    let v = view(&store, "v2-0@x").await.expect("view");
    assert_eq!(v.state, RangeDiffState::Ok);
    assert_eq!(v.diff, record.diff);
    assert_eq!(store.range_diff("v1-0@x", "v2-0@x").await.expect("read"), Some(record.clone()));

    // v2 applied again on a newer base: the stored range-diff is for the old result.
    store.set_apply_result("v2-0@x", &applied("b3", "r3")).await.expect("v2 again");
    assert_eq!(view(&store, "v2-0@x").await.expect("view").state, RangeDiffState::Pending);
    store.set_apply_result("v2-0@x", &applied("b2", "r2")).await.expect("v2 back");

    // It comes from the tree, not from mail: a reindex keeps it.
    store.reindex(|_, _| {}).await.expect("reindex");
    let v = view(&store, "v2-0@x").await.expect("view");
    assert_eq!(v.state, RangeDiffState::Ok, "{v:?}");

    // A range-diff git could not make says why.
    let gone = RangeDiffRecord {
        diff: None,
        problem: Some("the older revision's result r1 is not in the mirror any more".into()),
        ..record
    };
    store.set_range_diff(&gone).await.expect("store");
    let v = view(&store, "v2-0@x").await.expect("view");
    assert_eq!(v.state, RangeDiffState::Unavailable);
    assert_eq!(
        v.reason.as_deref(),
        Some("no range-diff: the older revision's result r1 is not in the mirror any more")
    );
});
