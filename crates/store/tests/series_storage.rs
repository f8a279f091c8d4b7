//! How the store keeps series: rows per project, re-assembly across batches, heads that move,
//! revisions and superseding, events, lists, thread views. These pin the store's side only, so
//! they install a small assembler of their own (`by_thread`: one series per thread that holds
//! patches) instead of depending on `quire_series::assemble`'s rules.

#[allow(dead_code)]
mod common;

use std::collections::BTreeMap;

use common::*;
use quire_mail::{MessageKind, ParsedMessage};
use quire_series::{Assembly, MessageMeta, Role, Series};
use quire_store::{
    ApplyResult, ApplyState, ProjectConfig, SeriesFilter, Store, UNASSIGNED, both_backends,
};

/// One series per thread root (first Reference, else In-Reply-To, else own id) holding a
/// cover letter or patches; the head is the cover letter, else the lowest patch.
fn by_thread(metas: &[MessageMeta]) -> Assembly {
    let mut threads: BTreeMap<String, Vec<&MessageMeta>> = BTreeMap::new();
    for m in metas {
        let root = m.references.first().or(m.in_reply_to.as_ref()).unwrap_or(&m.message_id).clone();
        threads.entry(root).or_default().push(m);
    }
    let mut out = Assembly::default();
    for msgs in threads.values() {
        let cover = msgs.iter().find(|m| m.kind == MessageKind::CoverLetter);
        let mut patches: Vec<(u32, &MessageMeta)> = msgs
            .iter()
            .filter(|m| m.kind == MessageKind::Patch)
            .map(|m| (m.subject_info.number.unwrap_or(1), *m))
            .collect();
        patches.sort_by_key(|(n, _)| *n);
        let Some(head) = cover.copied().or(patches.first().map(|(_, m)| *m)) else { continue };
        let total = head.subject_info.total.unwrap_or(1);
        let numbers: Vec<u32> = patches.iter().map(|(n, _)| *n).collect();
        out.series.push(Series {
            head: head.message_id.clone(),
            cover_letter: cover.map(|c| c.message_id.clone()),
            patches: patches.iter().map(|(n, m)| (*n, m.message_id.clone())).collect(),
            version: head.subject_info.version,
            total,
            complete: (1..=total).all(|n| numbers.contains(&n)),
            subject: head.subject.clone(),
            name: head.subject_info.name.clone(),
            submitter: head.from.clone(),
            date: head.date,
            is_rfc: false,
            is_pull: false,
            revision_key: format!(
                "{}\n{}",
                head.from.email.to_lowercase(),
                quire_mail::normalized_name(&head.subject_info.name)
            ),
            own_revision_key: String::new(),
            answers: None,
            taken: Vec::new(),
            change_id: None,
            supersedes: None,
        });
        for m in msgs {
            let role = match m.kind {
                MessageKind::CoverLetter => Role::CoverLetter,
                MessageKind::Patch => Role::Patch(m.subject_info.number.unwrap_or(1)),
                _ => Role::Reply,
            };
            out.members.push((m.message_id.clone(), head.message_id.clone(), role));
        }
    }
    out
}

async fn ingest(store: &Store, msgs: Vec<ParsedMessage>) -> quire_store::BatchOutcome {
    assert!(quire_store::testing::use_assembler(by_thread));
    store.ingest(msgs.into_iter().map(incoming).collect()).await.expect("ingest")
}

async fn event_kinds(store: &Store) -> Vec<(String, Option<String>)> {
    store.events(0, 1000).await.unwrap().into_iter().map(|e| (e.kind, e.series_head)).collect()
}

fn ev(kind: &str, head: &str) -> (String, Option<String>) {
    (kind.to_string(), Some(head.to_string()))
}

both_backends!(cover_then_patches_then_review, |store| async move {
    let cover = patch("cover@x", 1, 0, 2, "mm: fix the thing");
    let p1 = threaded(patch("p1@x", 1, 1, 2, "mm: fix the thing"), &cover);
    let p2 = threaded(patch("p2@x", 1, 2, 2, "mm: fix the other thing"), &cover);
    let review = reply_to("rev@x", &p1, "Reviewed-by: Rita Reviewer <rita@example.org>\n");
    let first = ingest(&store, vec![cover.clone()]).await;
    assert_eq!((first.series_created, first.series_touched), (1, 1));
    let d = store.series("cover@x").await.unwrap().unwrap();
    assert!(!d.complete);
    assert!(d.patches.is_empty());
    let second = ingest(&store, vec![p2, p1]).await;
    assert_eq!((second.series_created, second.series_touched), (0, 1));
    ingest(&store, vec![review]).await;
    let d = store.series("rev@x").await.unwrap().expect("found by a reply");
    assert_eq!(d.message_id, "cover@x");
    assert!(d.complete);
    assert_eq!(
        d.patches.iter().map(|p| (p.number, p.message_id.as_str())).collect::<Vec<_>>(),
        vec![(1, "p1@x"), (2, "p2@x")]
    );
    assert_eq!(d.patches[1].diffstat[0].path, "f2");
    assert!(d.patches[0].patch_id.is_some());
    assert_eq!(d.cover_letter.as_ref().map(|c| c.body.as_str()), Some("body of cover@x"));
    assert_eq!(d.replies, 1);
    assert_eq!(d.last_activity, T0 + 3600);
    assert_eq!(d.project, UNASSIGNED);
    assert_eq!(
        event_kinds(&store).await,
        vec![ev("series-new", "cover@x"), ev("series-complete", "cover@x")]
    );

    let thread = store.thread("p2@x").await.unwrap();
    let ids: Vec<&str> = thread.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids.len(), 4);
    let parent =
        |id: &str| thread.iter().find(|m| m.message_id == id).and_then(|m| m.parent.clone());
    assert_eq!(parent("cover@x"), None);
    assert_eq!(parent("p1@x").as_deref(), Some("cover@x"));
    assert_eq!(parent("rev@x").as_deref(), Some("p1@x"));
    let rec = thread.iter().find(|m| m.message_id == "p1@x").unwrap();
    assert_eq!((rec.series_head.as_deref(), rec.role), (Some("cover@x"), Some(Role::Patch(1))));
    assert!(rec.diff.as_deref().is_some_and(|d| d.starts_with("diff --git a/f1")));
});

both_backends!(head_moves_when_the_cover_letter_arrives_late, |store| async move {
    let cover = patch("late-cover@x", 1, 0, 1, "io: late cover");
    let p1 = threaded(patch("early-p1@x", 1, 1, 1, "io: late cover"), &cover);
    ingest(&store, vec![p1]).await;
    assert_eq!(store.series("early-p1@x").await.unwrap().unwrap().message_id, "early-p1@x");
    ingest(&store, vec![cover]).await;
    assert_eq!(store.series("early-p1@x").await.unwrap().unwrap().message_id, "late-cover@x");
    let all = SeriesFilter { include_superseded: true, ..Default::default() };
    let listed = store.series_list(UNASSIGNED, &all).await.unwrap();
    assert_eq!(
        listed.items.iter().map(|s| s.message_id.as_str()).collect::<Vec<_>>(),
        vec!["late-cover@x"]
    );
});

both_backends!(v2_supersedes_v1_once, |store| async move {
    let v1 = patch("v1@x", 1, 1, 1, "net: frob");
    let mut v2 = patch("v2@x", 2, 1, 1, "net: frob");
    v2.date = Some(T0 + DAY);
    let mut v3 = patch("v3@x", 3, 1, 1, "net: frob");
    v3.date = Some(T0 + 2 * DAY);
    ingest(&store, vec![v1]).await;
    ingest(&store, vec![v2]).await;
    let d1 = store.series("v1@x").await.unwrap().unwrap();
    assert_eq!(d1.superseded_by.as_deref(), Some("v2@x"));
    assert_eq!(store.series("v2@x").await.unwrap().unwrap().superseded_by, None);
    ingest(&store, vec![v3]).await;
    let d1 = store.series("v1@x").await.unwrap().unwrap();
    assert_eq!(d1.superseded_by.as_deref(), Some("v3@x"));
    assert_eq!(
        d1.revisions.iter().map(|r| (r.version, r.message_id.as_str())).collect::<Vec<_>>(),
        vec![(1, "v1@x"), (2, "v2@x"), (3, "v3@x")]
    );
    let listed = store.series_list(UNASSIGNED, &SeriesFilter::default()).await.unwrap();
    assert_eq!(
        listed.items.iter().map(|s| s.message_id.as_str()).collect::<Vec<_>>(),
        vec!["v3@x"]
    );
    assert_eq!(listed.total, 1);
    let all = SeriesFilter { include_superseded: true, ..Default::default() };
    let listed = store.series_list(UNASSIGNED, &all).await.unwrap();
    assert_eq!(
        listed.items.iter().map(|s| s.superseded_by.as_deref()).collect::<Vec<_>>(),
        vec![None, Some("v3@x"), Some("v3@x")]
    );
    let superseded: Vec<_> =
        event_kinds(&store).await.into_iter().filter(|(k, _)| k == "series-superseded").collect();
    assert_eq!(superseded, vec![ev("series-superseded", "v1@x"), ev("series-superseded", "v2@x")]);
});

async fn patch_of(store: &Store, msgid: &str) -> quire_store::PatchInfo {
    let f = quire_store::PatchFilter { msgid: Some(msgid.into()), ..Default::default() };
    store.patches(&f).await.unwrap().items.pop().expect("the patch")
}

both_backends!(superseding_writes_each_patch_state_change_once, |store| async move {
    let v1 = patch("sv1@x", 1, 1, 1, "io: frob");
    let mut v2 = patch("sv2@x", 2, 1, 1, "io: frob");
    v2.date = Some(T0 + DAY);
    let mut v3 = patch("sv3@x", 3, 1, 1, "io: frob");
    v3.date = Some(T0 + 2 * DAY);
    ingest(&store, vec![v1]).await;
    ingest(&store, vec![v2]).await;
    // A maintainer's choice on v2 is kept by superseding, so no event says it changed.
    let maint = store.add_user("m", "m@example.org", "M").await.unwrap();
    let p2 = patch_of(&store, "sv2@x").await;
    let change = quire_store::PatchUpdate { state: Some("accepted".into()), ..Default::default() };
    store.update_patch(p2.id, &change, &maint).await.unwrap();
    ingest(&store, vec![v3]).await;
    let changes: Vec<_> = store
        .events(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "patch-state-changed" && e.payload["by"].is_null())
        .map(|e| {
            (
                e.message_id.unwrap_or_default(),
                e.payload["previous_state"].as_str().unwrap_or_default().to_string(),
                e.payload["current_state"].as_str().unwrap_or_default().to_string(),
                e.payload["superseded_by"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let want = ("sv1@x", "new", "superseded", "sv2@x");
    assert_eq!(
        changes,
        vec![(want.0.to_string(), want.1.to_string(), want.2.to_string(), want.3.to_string())]
    );
    // The state the event announces is the state read.
    assert_eq!(patch_of(&store, "sv1@x").await.state, "superseded");
});

both_backends!(a_resend_with_the_same_version_and_a_later_date_supersedes, |store| async move {
    let first = patch("send1@x", 2, 1, 1, "fs: resend me");
    let mut resend = patch("send2@x", 2, 1, 1, "fs: resend me");
    resend.date = Some(T0 + 3600);
    ingest(&store, vec![resend, first]).await;
    assert_eq!(
        store.series("send1@x").await.unwrap().unwrap().superseded_by.as_deref(),
        Some("send2@x")
    );
    assert_eq!(store.series("send2@x").await.unwrap().unwrap().superseded_by, None);
});

both_backends!(cross_posted_series_is_listed_in_both_projects, |store| async move {
    assert!(quire_store::testing::use_assembler(by_thread));
    for (name, addr) in [("ltp", "ltp@lists.linux.it"), ("kernel", "linux-kernel@vger.kernel.org")]
    {
        let config = ProjectConfig {
            name: name.into(),
            list_addresses: vec![addr.into()],
            ..Default::default()
        };
        store.upsert_project(&config).await.unwrap();
    }
    let mut p = patch("xpost@x", 1, 1, 1, "syscalls: both lists");
    p.to = vec![person("", "ltp@lists.linux.it")];
    p.cc = vec![person("", "linux-kernel@vger.kernel.org")];
    ingest(&store, vec![p]).await;
    for project in ["kernel", "ltp"] {
        let listed = store.series_list(project, &SeriesFilter::default()).await.unwrap();
        assert_eq!(listed.items.len(), 1, "{project}");
        assert_eq!(listed.items[0].project, project);
    }
    let projects = store.projects().await.unwrap();
    assert!(projects.iter().all(|p| p.series == 1 && p.messages == 1), "{projects:?}");
    assert_eq!(store.stats().await.unwrap().series, 2);
});

both_backends!(series_detail_carries_apply_and_checks, |store| async move {
    let cover = patch("ac@x", 1, 0, 1, "apply: me");
    let p1 = threaded(patch("ac1@x", 1, 1, 1, "apply: me"), &cover);
    ingest(&store, vec![cover, p1]).await;
    let result = ApplyResult {
        state: ApplyState::Applied,
        base: Some("v6.1".into()),
        result_commit: Some("deadbeef".into()),
        tree_url: Some("https://example.org/tree".into()),
        log: None,
        failed_patch: None,
        updated: T0,
    };
    store.set_apply_result("ac@x", &result).await.unwrap();
    let check = |name: &str| quire_store::NewCheck {
        name: name.into(),
        state: quire_store::CheckState::Pass,
        url: None,
        description: None,
        log: None,
    };
    store.add_check("ac@x", &check("build")).await.unwrap();
    store.add_check("ac1@x", &check("checkpatch")).await.unwrap();
    let d = store.series("ac1@x").await.unwrap().unwrap();
    assert_eq!(d.apply, Some(result));
    let mut names: Vec<String> =
        d.checks.iter().map(|c| format!("{} {}", c.message_id, c.name)).collect();
    names.sort();
    assert_eq!(names, vec!["ac1@x checkpatch", "ac@x build"]);
});

both_backends!(unrelated_discussion_is_in_no_series, |store| async move {
    let q = msg("q@x", "how do I run the tests?", MessageKind::Reply);
    let a = reply_to("a@x", &q, "like this");
    let out = ingest(&store, vec![q, a]).await;
    assert_eq!((out.series_created, out.series_touched), (0, 0));
    assert!(store.series("a@x").await.unwrap().is_none());
    assert_eq!(store.stats().await.unwrap().series, 0);
});
