//! The store's rules, each test run on SQLite and on PostgreSQL (`both_backends!`).

#[allow(dead_code)]
mod common;

use common::*;
use quire_mail::{MessageKind, ParsedMessage};
use quire_store::{
    ApplyResult, ApplyState, BatchOutcome, CheckState, NewCheck, ProjectConfig, SeriesFilter,
    Store, UNASSIGNED, both_backends,
};

async fn ingest(store: &Store, msgs: Vec<ParsedMessage>) -> BatchOutcome {
    store.ingest(msgs.into_iter().map(incoming).collect()).await.expect("ingest")
}

/// What `quire_series::assemble` says of all `msgs` at once must be what the store shows after
/// receiving them in any batches: the neighbourhoods it gathers are complete.
async fn assert_store_matches_assembly(store: &Store, msgs: &[ParsedMessage]) {
    let metas: Vec<_> = msgs.iter().map(meta).collect();
    let assembly = quire_series::assemble(&metas);
    for s in &assembly.series {
        let d = store
            .series(&s.head)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("series {} missing", s.head));
        assert_eq!(d.message_id, s.head);
        assert_eq!(
            (d.version, d.total, d.complete),
            (s.version, s.total, s.complete),
            "series {}",
            s.head
        );
        let patches: Vec<(u32, String)> =
            d.patches.iter().map(|p| (p.number, p.message_id.clone())).collect();
        assert_eq!(patches, s.patches, "patches of {}", s.head);
        assert_eq!(d.cover_letter.map(|c| c.message_id), s.cover_letter);
    }
    for m in msgs {
        let member = assembly.members.iter().find(|(id, _, _)| *id == m.message_id);
        let stored = store.series(&m.message_id).await.unwrap();
        match member {
            Some((_, head, _)) => assert_eq!(stored.map(|d| d.message_id).as_ref(), Some(head)),
            None => assert!(stored.is_none(), "{} is in no series", m.message_id),
        }
    }
}

both_backends!(same_batch_twice_changes_nothing, |store| async move {
    let cover = patch("c@x", 1, 0, 2, "frob the widget");
    let p1 = threaded(patch("p1@x", 1, 1, 2, "frob the widget"), &cover);
    let batch = vec![cover.clone(), p1.clone()];
    let first = ingest(&store, batch.clone()).await;
    assert_eq!(first.new_messages, 2);
    assert_eq!((first.patches, first.cover_letters, first.replies), (1, 1, 0));
    let stats = store.stats().await.unwrap();
    let events = store.events(0, 100).await.unwrap();
    let again = ingest(&store, batch).await;
    assert_eq!(again.new_messages, 0);
    assert_eq!(again.duplicates, 2);
    assert!(again.conflicting_duplicates.is_empty());
    assert_eq!(store.stats().await.unwrap(), stats);
    assert_eq!(store.events(0, 100).await.unwrap(), events);
    assert_eq!(store.messages_count().await.unwrap(), 2);
    assert_eq!(store.raw("c@x").await.unwrap().expect("raw stored"), incoming(cover).raw);
});

both_backends!(duplicate_within_one_batch_is_counted_once, |store| async move {
    let m = msg("once@x", "hello", MessageKind::Reply);
    let out = ingest(&store, vec![m.clone(), m]).await;
    assert_eq!((out.new_messages, out.duplicates), (1, 1));
    assert_eq!(store.stats().await.unwrap().raw_messages, 1);
});

both_backends!(different_bytes_same_id_are_kept_linked_and_reported, |store| async move {
    let first = msg("dup@x", "hello", MessageKind::Reply);
    store.ingest(vec![incoming_with_raw(first.clone(), b"first copy")]).await.unwrap();
    let mut second = first.clone();
    second.subject = "hello, rewritten by a list footer".into();
    let out = store.ingest(vec![incoming_with_raw(second, b"second copy")]).await.unwrap();
    assert_eq!(out.new_messages, 0);
    assert_eq!(out.conflicting_duplicates, vec!["dup@x".to_string()]);
    let stats = store.stats().await.unwrap();
    assert_eq!((stats.messages, stats.raw_messages, stats.conflicting_duplicates), (1, 2, 1));
    // The first copy stays canonical, for the bytes and for what is derived.
    assert_eq!(store.raw("dup@x").await.unwrap().unwrap(), b"first copy");
    assert_eq!(store.message("dup@x").await.unwrap().unwrap().subject, "hello");
    // The same second copy again is a plain duplicate.
    let m = msg("dup@x", "x", MessageKind::Reply);
    let out = store.ingest(vec![incoming_with_raw(m, b"second copy")]).await.unwrap();
    assert_eq!((out.duplicates, out.conflicting_duplicates.len()), (1, 0));
});

both_backends!(cross_posted_copy_adds_its_project, |store| async move {
    for (name, list) in [("ltp", "ltp.lists.linux.it"), ("io-uring", "io-uring.vger.kernel.org")] {
        store
            .upsert_project(&ProjectConfig {
                name: name.into(),
                list_ids: vec![list.into()],
                ..Default::default()
            })
            .await
            .unwrap();
    }
    let mut a = msg("cross@x", "[PATCH] both", MessageKind::Reply);
    a.list_id = Some("ltp.lists.linux.it".into());
    let mut b = a.clone();
    b.list_id = Some("io-uring.vger.kernel.org".into());
    store.ingest(vec![incoming_with_raw(a, b"List-Id: ltp")]).await.unwrap();
    store.ingest(vec![incoming_with_raw(b, b"List-Id: io-uring")]).await.unwrap();
    let rec = store.message("cross@x").await.unwrap().unwrap();
    assert_eq!(rec.projects, vec!["io-uring".to_string(), "ltp".to_string()]);
    // Each project counts the message once; the same copy again adds nothing.
    store.ingest(vec![incoming_with_raw(rec_copy(), b"List-Id: io-uring")]).await.unwrap();
    let kept = quire_store::testing::kept_project_counts(&store).await.unwrap();
    assert_eq!(kept, quire_store::testing::counted_projects(&store).await.unwrap());
    assert!(kept.iter().all(|(_, _, messages)| *messages == 1), "{kept:?}");
});

fn rec_copy() -> quire_mail::ParsedMessage {
    let mut b = msg("cross@x", "[PATCH] both", MessageKind::Reply);
    b.list_id = Some("io-uring.vger.kernel.org".into());
    b
}

both_backends!(unparsable_is_stored_and_flagged, |store| async move {
    let mut bad = msg("0123@quire.invalid", "", MessageKind::Unparsable);
    bad.message_id_generated = true;
    bad.problems = vec!["no Message-ID".into(), "headers larger than 1 MiB".into()];
    let out = store.ingest(vec![incoming_with_raw(bad, b"\xff\xfe garbage")]).await.unwrap();
    assert_eq!((out.new_messages, out.unparsable), (1, 1));
    assert_eq!(out.problems.len(), 1);
    assert_eq!(out.problems[0].message_id, "0123@quire.invalid");
    assert_eq!(out.problems[0].reasons.len(), 2);
    let rec = store.message("0123@quire.invalid").await.unwrap().unwrap();
    assert_eq!(rec.kind, MessageKind::Unparsable);
    assert_eq!(
        rec.problems,
        vec!["no Message-ID".to_string(), "headers larger than 1 MiB".to_string()]
    );
    assert_eq!(store.raw("0123@quire.invalid").await.unwrap().unwrap(), b"\xff\xfe garbage");
    assert_eq!(store.stats().await.unwrap().unparsable, 1);
});

both_backends!(child_before_parent_is_rekeyed_across_batches, |store| async move {
    let root = msg("root@x", "question", MessageKind::Reply);
    let mid = reply_to("mid@x", &root, "answer");
    let mut leaf = reply_to("leaf@x", &mid, "thanks");
    // A mailer that only sets In-Reply-To.
    leaf.references.clear();
    ingest(&store, vec![leaf]).await;
    assert_eq!(store.message("leaf@x").await.unwrap().unwrap().thread_key, "mid@x");
    ingest(&store, vec![mid]).await;
    assert_eq!(store.message("leaf@x").await.unwrap().unwrap().thread_key, "root@x");
    assert_eq!(store.message("mid@x").await.unwrap().unwrap().thread_key, "root@x");
    ingest(&store, vec![root]).await;
    for id in ["root@x", "mid@x", "leaf@x"] {
        assert_eq!(store.message(id).await.unwrap().unwrap().thread_key, "root@x", "{id}");
    }
    assert_eq!(store.stats().await.unwrap().threads, 1);
    assert_eq!(store.message("leaf@x").await.unwrap().unwrap().parent.as_deref(), Some("mid@x"));
});

both_backends!(child_before_parent_in_one_batch, |store| async move {
    let root = msg("r@x", "question", MessageKind::Reply);
    let a = reply_to("a@x", &root, "answer");
    let mut b = reply_to("b@x", &a, "more");
    b.references = vec!["a@x".into()];
    // Reversed: b is keyed by a, then a (replying to r) re-keys it.
    ingest(&store, vec![b, a, root]).await;
    for id in ["r@x", "a@x", "b@x"] {
        assert_eq!(store.message(id).await.unwrap().unwrap().thread_key, "r@x", "{id}");
    }
});

both_backends!(series_assembled_across_batches, |store| async move {
    let cover = patch("cover@x", 1, 0, 2, "mm: fix the thing");
    let p1 = threaded(patch("p1@x", 1, 1, 2, "mm: fix the thing"), &cover);
    let p2 = threaded(patch("p2@x", 1, 2, 2, "mm: fix the other thing"), &cover);
    let review =
        reply_to("rev@x", &p1, "Looks good.\n\nReviewed-by: Rita Reviewer <rita@example.org>\n");
    ingest(&store, vec![cover.clone()]).await;
    ingest(&store, vec![p2.clone(), p1.clone()]).await;
    ingest(&store, vec![review.clone()]).await;
    let all = [cover, p1, p2, review];
    assert_store_matches_assembly(&store, &all).await;
    let d = store.series("p2@x").await.unwrap().expect("series found by a patch");
    assert_eq!(d.message_id, "cover@x");
    assert!(d.complete);
    assert_eq!(d.patches.len(), 2);
    assert_eq!(d.replies, 1);
    let json = serde_json::to_value(&d).unwrap();
    for key in [
        "message_id",
        "subject",
        "version",
        "total",
        "complete",
        "submitter",
        "date",
        "superseded_by",
        "revisions",
        "patches",
        "replies",
    ] {
        assert!(json.get(key).is_some(), "series JSON lacks {key}");
    }
    let thread = store.thread("cover@x").await.unwrap();
    assert_eq!(thread.len(), 4);
    assert_eq!(
        thread.iter().find(|m| m.message_id == "rev@x").and_then(|m| m.parent.as_deref()),
        Some("p1@x")
    );
    let kinds: Vec<&str> = store
        .events(0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect::<Vec<_>>()
        .leak()
        .iter()
        .map(String::as_str)
        .collect();
    assert!(kinds.contains(&"series-new"), "{kinds:?}");
    assert!(kinds.contains(&"series-complete"), "{kinds:?}");
});

both_backends!(unthreaded_patches_of_one_submitter_are_gathered, |store| async move {
    // git send-email --no-thread: every patch stands alone.
    let cover = patch("u0@x", 1, 0, 2, "lib: unthreaded");
    let mut p1 = patch("u1@x", 1, 1, 2, "lib: unthreaded");
    p1.date = Some(T0 + 60);
    let mut p2 = patch("u2@x", 1, 2, 2, "lib: unthreaded");
    p2.date = Some(T0 + 2 * DAY);
    ingest(&store, vec![cover.clone()]).await;
    ingest(&store, vec![p1.clone()]).await;
    ingest(&store, vec![p2.clone()]).await;
    assert_store_matches_assembly(&store, &[cover, p1, p2]).await;
});

both_backends!(newer_revision_supersedes, |store| async move {
    let v1 = patch("v1@x", 1, 1, 1, "net: frob");
    let mut v2 = patch("v2@x", 2, 1, 1, "net: frob");
    v2.date = Some(T0 + DAY);
    ingest(&store, vec![v1.clone()]).await;
    ingest(&store, vec![v2.clone()]).await;
    assert_store_matches_assembly(&store, &[v1, v2]).await;
    let d1 = store.series("v1@x").await.unwrap().unwrap();
    assert_eq!(d1.superseded_by.as_deref(), Some("v2@x"));
    assert_eq!(d1.revisions.iter().map(|r| r.version).collect::<Vec<_>>(), vec![1, 2]);
    let d2 = store.series("v2@x").await.unwrap().unwrap();
    assert_eq!(d2.superseded_by, None);
    let project = store.message("v1@x").await.unwrap().unwrap().projects[0].clone();
    let listed = store.series_list(&project, &SeriesFilter::default()).await.unwrap();
    assert_eq!(
        listed.items.iter().map(|s| s.message_id.as_str()).collect::<Vec<_>>(),
        vec!["v2@x"]
    );
    assert_eq!(listed.total, 1);
    // The same with a word: counted the other way.
    let worded = SeriesFilter { words: vec!["frob".into()], ..Default::default() };
    let listed_worded = store.series_list(&project, &worded).await.unwrap();
    assert_eq!(
        listed_worded.items.iter().map(|s| s.message_id.as_str()).collect::<Vec<_>>(),
        vec!["v2@x"]
    );
    assert_eq!(listed_worded.total, 1);
    let all = SeriesFilter { include_superseded: true, ..Default::default() };
    let listed = store.series_list(&project, &all).await.unwrap();
    assert_eq!(
        listed.items.iter().map(|s| s.message_id.as_str()).collect::<Vec<_>>(),
        vec!["v2@x", "v1@x"]
    );
    assert_eq!(listed.total, 2);
    let superseded: Vec<_> = store
        .events(0, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "series-superseded")
        .collect();
    assert_eq!(superseded.len(), 1);
    assert_eq!(superseded[0].series_head.as_deref(), Some("v1@x"));
});

both_backends!(series_list_filters_words_and_pages, |store| async move {
    let mut msgs = Vec::new();
    for i in 0..5 {
        let mut p = patch(&format!("s{i}@x"), 1, 1, 1, &format!("area{i}: change 100%_{i}"));
        p.date = Some(T0 + i64::from(i) * DAY);
        p.from = person("Sub Mitter", &format!("s{i}@example.org"));
        msgs.push(p);
    }
    ingest(&store, msgs.clone()).await;
    let page = |words: Vec<&str>, page, per_page| SeriesFilter {
        words: words.into_iter().map(String::from).collect(),
        page,
        per_page,
        include_superseded: false,
    };
    let p1 = store.series_list(UNASSIGNED, &page(vec![], 1, 2)).await.unwrap();
    assert_eq!(p1.total, 5);
    assert_eq!(
        p1.items.iter().map(|s| s.message_id.as_str()).collect::<Vec<_>>(),
        vec!["s4@x", "s3@x"]
    );
    let p3 = store.series_list(UNASSIGNED, &page(vec![], 3, 2)).await.unwrap();
    assert_eq!(p3.items.len(), 1);
    let words =
        store.series_list(UNASSIGNED, &page(vec!["AREA3:", "change"], 1, 10)).await.unwrap();
    assert_eq!(words.items.iter().map(|s| s.message_id.as_str()).collect::<Vec<_>>(), vec!["s3@x"]);
    // LIKE wildcards in words are plain characters.
    let literal = store.series_list(UNASSIGNED, &page(vec!["100%_2"], 1, 10)).await.unwrap();
    assert_eq!(literal.total, 1);
    let none = store.series_list(UNASSIGNED, &page(vec!["100_%"], 1, 10)).await.unwrap();
    assert_eq!(none.total, 0);
});

both_backends!(projects_by_list_id_address_forced_or_unassigned, |store| async move {
    store
        .upsert_project(&ProjectConfig {
            name: "ltp".into(),
            list_ids: vec!["LTP.lists.linux.it".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    store
        .upsert_project(&ProjectConfig {
            name: "io-uring".into(),
            list_addresses: vec!["io-uring@vger.kernel.org".into()],
            git_url: Some("https://git.kernel.dk/linux-block".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut by_id = msg("byid@x", "a", MessageKind::Reply);
    by_id.list_id = Some("ltp.LISTS.linux.it".into());
    let mut by_cc = msg("bycc@x", "b", MessageKind::Reply);
    by_cc.cc = vec![person("", "IO-URING@vger.kernel.org")];
    let forced = msg("forced@x", "c", MessageKind::Reply);
    let nobody = msg("nobody@x", "d", MessageKind::Reply);
    let mut batch: Vec<_> = [by_id, by_cc].into_iter().map(incoming).collect();
    let mut f = incoming(forced);
    f.project = Some("qemu".into());
    batch.push(f);
    batch.push(incoming(nobody));
    store.ingest(batch).await.unwrap();
    for (id, project) in
        [("byid@x", "ltp"), ("bycc@x", "io-uring"), ("forced@x", "qemu"), ("nobody@x", UNASSIGNED)]
    {
        assert_eq!(
            store.message(id).await.unwrap().unwrap().projects,
            vec![project.to_string()],
            "{id}"
        );
    }
    let projects = store.projects().await.unwrap();
    let names: Vec<&str> = projects.iter().map(|p| p.config.name.as_str()).collect();
    assert_eq!(names, vec!["io-uring", "ltp", "qemu", UNASSIGNED]);
    assert!(projects.iter().all(|p| p.messages == 1));
    assert_eq!(projects[0].config.git_url.as_deref(), Some("https://git.kernel.dk/linux-block"));
});

both_backends!(cursor_is_written_with_its_batch, |store| async move {
    assert_eq!(store.cursor("public-inbox:ltp:0").await.unwrap(), None);
    let batch = vec![incoming(msg("c1@x", "one", MessageKind::Reply))];
    store.ingest_with_cursor(batch, Some(("public-inbox:ltp:0", "abc123"))).await.unwrap();
    assert_eq!(store.cursor("public-inbox:ltp:0").await.unwrap().as_deref(), Some("abc123"));
    store.set_cursor("public-inbox:ltp:0", "def456").await.unwrap();
    assert_eq!(store.cursor("public-inbox:ltp:0").await.unwrap().as_deref(), Some("def456"));
});

both_backends!(odd_message_ids_are_just_strings, |store| async move {
    let long: String = (0..10_000).map(|i| char::from(b'a' + (i * 7 % 26) as u8)).collect();
    let ids = [
        "../../etc/passwd".to_string(),
        "a/b@c".to_string(),
        long,
        "nul\0inside@x".to_string(),
        "ünïcödé@x".to_string(),
    ];
    let batch: Vec<_> = ids.iter().map(|id| incoming(msg(id, "odd", MessageKind::Reply))).collect();
    let out = store.ingest(batch).await.unwrap();
    assert_eq!(out.new_messages, 5);
    for id in &ids {
        let rec = store
            .message(id)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{} not found", &id[..id.len().min(20)]));
        assert_eq!(rec.message_id, id.replace('\0', "\u{FFFD}"));
        assert!(store.raw(id).await.unwrap().is_some());
    }
    assert!(store.message("missing@x").await.unwrap().is_none());
    assert!(store.series("missing@x").await.unwrap().is_none());
    assert!(store.thread("missing@x").await.unwrap().is_empty());
});

// A first import on PostgreSQL builds the text index at the end (one pass, 3x faster than row
// by row); a database holding mail keeps its index; whoever comes next after an import that
// stopped half-way builds it again; search answers the same meanwhile.
both_backends!(a_first_import_defers_the_text_index_and_builds_it_again, |store| async move {
    use quire_store::testing::text_index_present;
    let pg = store.backend() == "postgres";
    assert_eq!(store.defer_text_index_if_empty().await.unwrap(), pg);
    assert_eq!(text_index_present(&store).await.unwrap(), !pg);
    ingest(&store, vec![patch("deferred@x", 1, 1, 1, "fs: frobnicate the widget")]).await;
    let found = |q: &'static str| {
        let store = store.clone();
        async move { store.inbox_search(None, q, false).await.unwrap().len() }
    };
    assert_eq!(found("s:frobnicate").await, 1, "found without the index");
    store.build_deferred_text_index().await.unwrap();
    assert!(text_index_present(&store).await.unwrap());
    assert_eq!(found("s:frobnicate").await, 1, "found with it");
    // Mail stored: the index stays, and building it again is a no-op.
    assert!(!store.defer_text_index_if_empty().await.unwrap());
    assert!(text_index_present(&store).await.unwrap());
    store.build_deferred_text_index().await.unwrap();
});

// A worker that applies a `Based-on:` dependency on the way does not hold that series' job:
// what it found must not overwrite the result the job's own worker saved, and the first
// result saved is the one both build on.
both_backends!(
    a_dependency_applied_on_the_way_never_overwrites_a_saved_result,
    |store| async move {
        ingest(&store, vec![patch("dep@x", 1, 1, 1, "fs: the base")]).await;
        let pending = ApplyResult {
            state: ApplyState::Pending,
            base: None,
            result_commit: None,
            tree_url: None,
            log: None,
            failed_patch: None,
            updated: T0,
        };
        let applied = ApplyResult {
            state: ApplyState::Applied,
            result_commit: Some("aaaa".into()),
            updated: T0 + 1,
            ..pending.clone()
        };
        // Nothing saved: it is written.
        assert_eq!(store.set_apply_result_unless_done("dep@x", &applied).await.unwrap(), applied);
        // Saved already: the first stays, and is what the caller gets.
        let other = ApplyResult { result_commit: Some("bbbb".into()), ..applied.clone() };
        assert_eq!(store.set_apply_result_unless_done("dep@x", &other).await.unwrap(), applied);
        assert_eq!(store.apply_result("dep@x").await.unwrap(), Some(applied.clone()));
        // Over `pending` (queued, not applied yet) it writes.
        store.set_apply_result("dep@x", &pending).await.unwrap();
        assert_eq!(store.set_apply_result_unless_done("dep@x", &other).await.unwrap(), other);
        assert_eq!(store.apply_result("dep@x").await.unwrap(), Some(other));
    }
);

both_backends!(apply_results_checks_and_events, |store| async move {
    let p = patch("ap@x", 1, 1, 1, "fs: apply me");
    ingest(&store, vec![p]).await;
    assert_eq!(store.apply_result("ap@x").await.unwrap(), None);
    let result = ApplyResult {
        state: ApplyState::Failed,
        base: Some("v6.1".into()),
        result_commit: None,
        tree_url: None,
        log: Some("error: patch failed: f1:1".into()),
        failed_patch: Some(1),
        updated: T0,
    };
    store.set_apply_result("ap@x", &result).await.unwrap();
    assert_eq!(store.apply_result("ap@x").await.unwrap(), Some(result.clone()));
    let applied = ApplyResult {
        state: ApplyState::Applied,
        result_commit: Some("deadbeef".into()),
        failed_patch: None,
        ..result
    };
    store.set_apply_result("ap@x", &applied).await.unwrap();
    assert_eq!(store.apply_result("ap@x").await.unwrap(), Some(applied));
    let check = NewCheck {
        name: "checkpatch".into(),
        state: CheckState::Warning,
        url: None,
        description: Some("2 warnings".into()),
        log: None,
    };
    let id = store.add_check("ap@x", &check).await.unwrap();
    let checks = store.checks("ap@x").await.unwrap();
    assert_eq!(checks.len(), 1);
    assert_eq!(
        (checks[0].id, checks[0].state, checks[0].name.as_str()),
        (id, CheckState::Warning, "checkpatch")
    );
    assert!(store.add_check("nope@x", &check).await.is_err());
    // A list page's lines, in one read: the head with its states, others absent.
    ingest(&store, vec![patch("plain@x", 1, 1, 1, "fs: nothing yet")]).await;
    let lines =
        store.line_states(&["ap@x".into(), "plain@x".into(), "nope@x".into()]).await.unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        lines["ap@x"],
        quire_store::LineState {
            apply: Some(ApplyState::Applied),
            checks: vec![CheckState::Warning]
        }
    );
    let kinds: Vec<String> =
        store.events(0, 100).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert!(
        kinds.contains(&"series-applied".to_string())
            && kinds.contains(&"check-finished".to_string()),
        "{kinds:?}"
    );
    let d = store.series("ap@x").await.unwrap().unwrap();
    assert_eq!(d.apply.map(|a| a.state), Some(ApplyState::Applied));
    assert_eq!(d.checks.len(), 1);
});

both_backends!(reindex_rebuilds_the_same_data, |store| async move {
    let raws = mboxrd_messages(&corpus("ltp-2019-2020.4k.mbox.gz"));
    let slice: Vec<Vec<u8>> = raws.into_iter().take(1200).collect();
    for chunk in slice.chunks(500) {
        let batch = chunk
            .iter()
            .map(|r| quire_store::Incoming::parse(r.clone(), Some("ltp".into())))
            .collect();
        store.ingest(batch).await.unwrap();
    }
    let stats = store.stats().await.unwrap();
    let all = SeriesFilter { include_superseded: true, per_page: 1000, ..Default::default() };
    let projects = store.projects().await.unwrap();
    let counted = quire_store::testing::counted_projects(&store).await.unwrap();
    assert_eq!(quire_store::testing::kept_project_counts(&store).await.unwrap(), counted);
    let mut series_before = Vec::new();
    for p in &projects {
        series_before.push(store.series_list(&p.config.name, &all).await.unwrap());
    }
    let sample: Vec<String> =
        slice.iter().step_by(37).map(|r| quire_mail::parse(r).message_id).collect();
    let mut records_before = Vec::new();
    for id in &sample {
        records_before.push(store.message(id).await.unwrap());
    }
    store
        .add_event("series-merged", Some("ltp"), None, None, &serde_json::json!({"commit": "abc"}))
        .await
        .unwrap();
    let events_before = store.events(0, u32::MAX).await.unwrap();
    let progress = std::sync::Mutex::new(Vec::new());
    store.reindex(|done, total| progress.lock().unwrap().push((done, total))).await.unwrap();
    let progress = progress.into_inner().unwrap();
    assert_eq!(progress.last(), Some(&(stats.raw_messages, stats.raw_messages)));
    assert_eq!(store.stats().await.unwrap(), stats);
    assert_eq!(store.projects().await.unwrap(), projects);
    // Events are history: a reindex neither erases nor replays them.
    assert_eq!(store.events(0, u32::MAX).await.unwrap(), events_before);
    // SQLite empties the derived tables with foreign keys off: they are back on everywhere.
    assert!(quire_store::testing::foreign_keys_everywhere(&store).await.unwrap());
    for (p, before) in projects.iter().zip(series_before) {
        assert_eq!(store.series_list(&p.config.name, &all).await.unwrap(), before);
    }
    for (id, before) in sample.iter().zip(records_before) {
        assert_eq!(store.message(id).await.unwrap(), before, "{id}");
    }
});

/// Every message of a real list archive is stored, in batches as the importer sends them.
async fn import_slice(store: &Store, name: &str) {
    let raws = mboxrd_messages(&corpus(name));
    let n = raws.len() as u64;
    assert!(n > 3000, "{name}: only {n} messages split");
    let mut total = BatchOutcome::default();
    let mut batch = Vec::new();
    for raw in raws {
        batch.push(quire_store::Incoming::parse(raw, Some("ltp".into())));
        if batch.len() == 1000 {
            total.add(&store.ingest(std::mem::take(&mut batch)).await.unwrap());
        }
    }
    total.add(&store.ingest(batch).await.unwrap());
    let stats = store.stats().await.unwrap();
    // Messages in == messages stored: each is new, a duplicate, or a kept conflicting copy.
    assert_eq!(
        total.new_messages + total.duplicates + total.conflicting_duplicates.len() as u64,
        n
    );
    assert_eq!(stats.raw_messages, total.new_messages + total.conflicting_duplicates.len() as u64);
    assert_eq!(stats.messages, total.new_messages);
    assert_eq!(
        total.new_messages,
        total.patches + total.cover_letters + total.replies + total.unparsable
    );
    assert!(stats.stored_bytes < stats.raw_bytes / 2, "zstd should at least halve mail: {stats:?}");
    assert!(total.duplicates < n / 100, "{total:?}");
    assert!(total.unparsable < n / 100, "{} unparsable", total.unparsable);
    assert!(total.patches > n / 4, "{} patches of {n}", total.patches);
    assert!(stats.threads < n / 2, "{} threads for {n} messages", stats.threads);
    assert!(stats.series > total.cover_letters / 2, "{stats:?}");
}

both_backends!(real_ltp_archive_is_stored_whole, |store| async move {
    import_slice(&store, "ltp-2019-2020.4k.mbox.gz").await;
});

// The WAL is copied back into the database file after each import batch, in the background,
// not only when it reaches 64 MiB at a commit (which stopped the import for the copy): a copy
// of the database file alone soon holds what was ingested.
#[tokio::test]
async fn sqlite_checkpoints_each_batch_in_the_background() {
    let (dir, store) = quire_store::testing::sqlite_store().await;
    let raws = mboxrd_messages(&corpus("ltp-2019-2020.4k.mbox.gz"));
    for chunk in raws[..300].chunks(100) {
        let batch = chunk
            .iter()
            .map(|r| quire_store::Incoming::parse(r.clone(), Some("ltp".into())))
            .collect();
        store.ingest(batch).await.unwrap();
    }
    let stored = store.messages_count().await.unwrap();
    assert!(stored > 250, "{stored}");
    let wal = dir.path().join("quire.sqlite-wal");
    assert!(wal.exists(), "the store is open: its WAL is there");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        // The file without its WAL, as a reader that knows nothing of the WAL would see it.
        let copy = tempfile::tempdir().unwrap();
        std::fs::copy(dir.path().join("quire.sqlite"), copy.path().join("quire.sqlite")).unwrap();
        let in_file = match Store::open(copy.path(), None).await {
            Ok(s) => s.messages_count().await.unwrap_or(0),
            Err(_) => 0,
        };
        if in_file == stored {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "after 20 s the database file holds {in_file} of {stored} messages"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
