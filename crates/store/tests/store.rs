//! The store's rules, each test run on SQLite and on PostgreSQL.

mod common;

use common::*;
use quire_mail::MessageKind;
use quire_store::{both_backends, BatchOutcome, SeriesFilter, Store};

async fn ingest(store: &Store, msgs: Vec<quire_mail::ParsedMessage>) -> BatchOutcome {
    store.ingest(msgs.into_iter().map(incoming).collect()).await.expect("ingest")
}

both_backends!(same_batch_twice_changes_nothing, |store| async move {
    let cover = patch("c@x", 1, 0, 2, "frob the widget");
    let p1 = threaded(patch("p1@x", 1, 1, 2, "frob the widget"), &cover);
    let batch = vec![cover.clone(), p1.clone()];
    let first = ingest(&store, batch.clone()).await;
    assert_eq!(first.new_messages, 2);
    assert_eq!(first.patches, 1);
    assert_eq!(first.cover_letters, 1);
    let stats = store.stats().await.unwrap();
    let again = ingest(&store, batch).await;
    assert_eq!(again.new_messages, 0);
    assert_eq!(again.duplicates, 2);
    assert!(again.conflicting_duplicates.is_empty());
    assert_eq!(store.stats().await.unwrap(), stats);
    assert_eq!(store.messages_count().await.unwrap(), 2);
    let raw = store.raw("c@x").await.unwrap().expect("raw stored");
    assert_eq!(raw, incoming(cover).raw);
});
