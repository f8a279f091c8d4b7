//! The maintainers' workflow (users, roles, patch states, bundles), on both backends.

#[allow(dead_code)]
mod common;

use common::*;
use quire_mail::ParsedMessage;
use quire_store::{
    BatchOutcome, PatchFilter, PatchUpdate, SeriesQuery, Store, UNASSIGNED, both_backends,
};

async fn ingest(store: &Store, msgs: Vec<ParsedMessage>) -> BatchOutcome {
    store.ingest(msgs.into_iter().map(incoming).collect()).await.expect("ingest")
}

fn ids(page: &quire_store::Page<quire_store::PatchInfo>) -> Vec<String> {
    page.items.iter().map(|p| format!("{}:{}", p.message_id, p.state)).collect()
}

both_backends!(states_delegates_superseded_and_events, |store| async move {
    let cover = patch("wc@x", 1, 0, 2, "mm: frob");
    let p1 = threaded(patch("w1@x", 1, 1, 2, "mm: frob"), &cover);
    let p2 = threaded(patch("w2@x", 1, 2, 2, "mm: frob more"), &cover);
    ingest(&store, vec![cover, p1, p2]).await;
    let all = PatchFilter {
        project: Some(UNASSIGNED.into()),
        order: quire_store::Order::Id,
        ..Default::default()
    };
    let page = store.patches(&all).await.unwrap();
    assert_eq!(ids(&page), vec!["w1@x:new", "w2@x:new"]);
    let p1_id = page.items[0].id;
    assert_eq!(page.items[0].number, 1);
    assert_eq!(page.items[0].series_head, "wc@x");

    let maint = store.add_user("maint", "maint@example.org", "Mai Ntainer").await.unwrap();
    assert!(
        store
            .add_user("maint", "other@example.org", "")
            .await
            .unwrap_err()
            .to_string()
            .contains("exists already")
    );
    assert!(!store.may_maintain(maint.id, UNASSIGNED).await.unwrap());
    store.grant_role(maint.id, UNASSIGNED, "maintainer").await.unwrap();
    assert!(store.may_maintain(maint.id, UNASSIGNED).await.unwrap());
    assert!(
        store
            .grant_role(maint.id, UNASSIGNED, "boss")
            .await
            .unwrap_err()
            .to_string()
            .contains("unknown role")
    );

    let change = PatchUpdate {
        state: Some("under-review".into()),
        delegate: Some(Some(maint.id)),
        archived: Some(true),
        ..Default::default()
    };
    let after = store.update_patch(p1_id, &change, &maint).await.unwrap().expect("patch exists");
    assert_eq!((after.state.as_str(), after.archived), ("under-review", true));
    assert_eq!(after.delegate.as_ref().map(|u| u.username.as_str()), Some("maint"));
    let bad = PatchUpdate { state: Some("bogus".into()), ..Default::default() };
    assert!(
        store
            .update_patch(p1_id, &bad, &maint)
            .await
            .unwrap_err()
            .to_string()
            .contains("unknown patch state")
    );

    // Filters: state, archived, delegate by name and id.
    let f = PatchFilter { states: vec!["under-review".into()], ..all.clone() };
    assert_eq!(ids(&store.patches(&f).await.unwrap()), vec!["w1@x:under-review"]);
    let f = PatchFilter { archived: Some(false), ..all.clone() };
    assert_eq!(ids(&store.patches(&f).await.unwrap()), vec!["w2@x:new"]);
    let f = PatchFilter { delegates: vec!["maint".into(), "999".into()], ..all.clone() };
    assert_eq!(store.patches(&f).await.unwrap().total, 1);
    let f = PatchFilter { msgid: Some("<w2@x>".into()), ..all.clone() };
    assert_eq!(ids(&store.patches(&f).await.unwrap()), vec!["w2@x:new"]);

    // Events name who changed what.
    let events = store.events(0, 100).await.unwrap();
    let changed = events.iter().find(|e| e.kind == "patch-state-changed").expect("state event");
    assert_eq!(changed.payload["current_state"], "under-review");
    assert_eq!(changed.payload["by"], "maint");
    assert!(events.iter().any(|e| e.kind == "patch-delegated"));

    // A v2 arrives: the v1 patches still new or under review read superseded; accepted stays.
    store
        .update_patch(
            page.items[1].id,
            &PatchUpdate { state: Some("accepted".into()), ..Default::default() },
            &maint,
        )
        .await
        .unwrap();
    let mut v2 = patch("w1v2@x", 2, 1, 1, "mm: frob");
    v2.date = Some(T0 + DAY);
    ingest(&store, vec![v2]).await;
    let page = store.patches(&all).await.unwrap();
    assert_eq!(ids(&page), vec!["w1@x:superseded", "w2@x:accepted", "w1v2@x:new"]);
    let f = PatchFilter { states: vec!["new".into(), "under-review".into()], ..all.clone() };
    assert_eq!(ids(&store.patches(&f).await.unwrap()), vec!["w1v2@x:new"]);

    // Series by number, with members.
    let series = store
        .series_infos(&SeriesQuery { project: Some(UNASSIGNED.into()), ..Default::default() })
        .await
        .unwrap();
    assert_eq!(
        series.items.iter().map(|s| s.summary.message_id.as_str()).collect::<Vec<_>>(),
        vec!["w1v2@x", "wc@x"]
    );
    let v1 = store.series_info(series.items[1].id).await.unwrap().unwrap();
    assert_eq!(v1.cover.as_ref().map(|c| c.message_id.as_str()), Some("wc@x"));
    assert_eq!(v1.patches.iter().map(|p| p.number).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(store.cover(v1.cover.as_ref().unwrap().id).await.unwrap().unwrap().id, v1.id);

    // Bundles: own and public ones are visible.
    let other = store.add_user("other", "o@example.org", "").await.unwrap();
    let b = store.create_bundle(&maint, UNASSIGNED, "mine", false, &[p1_id, p1_id]).await.unwrap();
    assert_eq!(b.patches, vec![p1_id]);
    assert!(
        store
            .create_bundle(&maint, UNASSIGNED, "mine", false, &[])
            .await
            .unwrap_err()
            .to_string()
            .contains("already")
    );
    assert!(
        store
            .create_bundle(&maint, UNASSIGNED, "x", false, &[424242])
            .await
            .unwrap_err()
            .to_string()
            .contains("no patch 424242")
    );
    assert_eq!(store.bundles(Some(UNASSIGNED), Some(maint.id)).await.unwrap().len(), 1);
    assert_eq!(store.bundles(Some(UNASSIGNED), Some(other.id)).await.unwrap().len(), 0);

    // User tokens carry their user; the tester/admin tokens still work.
    let (_t, secret) = store.create_user_token("laptop", maint.id).await.unwrap();
    let (tok, user) = store.token_user(&secret).await.unwrap().unwrap();
    assert_eq!((tok.scope.as_str(), user.map(|u| u.id)), ("user", Some(maint.id)));
    let (_t, tester) = store.create_token("ci", "tester").await.unwrap();
    assert_eq!(store.token_user(&tester).await.unwrap().unwrap().1, None);

    // People are numbered by their first message.
    let people = store.people(Some(UNASSIGNED), None, 1, 10).await.unwrap();
    assert_eq!(people.total, 1);
    assert_eq!(store.person(people.items[0].id).await.unwrap(), Some(people.items[0].clone()));
});
