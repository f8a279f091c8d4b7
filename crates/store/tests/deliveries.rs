//! The notifier's deliveries table: planned once, claimed by one holder at a time, finished only
//! by its holder; on SQLite and PostgreSQL.

use quire_store::{DeliveryOutcome, EMAIL, NewDelivery, Store, WEBHOOK, both_backends};

async fn events(store: &Store, n: usize) -> Vec<i64> {
    for i in 0..n {
        store
            .add_event(
                "series-new",
                Some("demo"),
                None,
                None,
                &serde_json::json!({"subject": format!("s{i}")}),
            )
            .await
            .expect("event");
    }
    store.events(0, 1000).await.expect("events").into_iter().map(|e| e.id).collect()
}

fn row(event_id: i64, channel: &str, target: &str) -> NewDelivery {
    NewDelivery { event_id, channel: channel.into(), target: target.into() }
}

both_backends!(planning_twice_adds_nothing_and_the_cursor_never_goes_back, |store| async move {
    let ids = events(&store, 3).await;
    assert_eq!(store.last_event_id().await.unwrap(), ids[2]);
    let rows = vec![
        row(ids[0], EMAIL, "list"),
        row(ids[0], WEBHOOK, "http://h/"),
        row(ids[1], EMAIL, "list"),
    ];
    assert_eq!(store.plan_deliveries(&rows, "c", ids[1]).await.unwrap(), 3);
    assert_eq!(
        store.plan_deliveries(&rows, "c", ids[0]).await.unwrap(),
        0,
        "planned again: nothing new"
    );
    assert_eq!(
        store.cursor("c").await.unwrap().as_deref(),
        Some(ids[1].to_string().as_str()),
        "not moved back"
    );
    assert_eq!(store.deliveries_of_event(ids[0]).await.unwrap().len(), 2);
    let e = store.event(ids[2]).await.unwrap().unwrap();
    assert_eq!(e.payload["subject"], "s2");
    let newest = store.project_events("demo", 2).await.unwrap();
    assert_eq!(newest.iter().map(|e| e.id).collect::<Vec<_>>(), [ids[2], ids[1]]);
    assert!(store.project_events("other", 2).await.unwrap().is_empty());
});

both_backends!(a_delivery_has_one_holder_and_only_it_finishes_it, |store| async move {
    let ids = events(&store, 1).await;
    store.plan_deliveries(&[row(ids[0], WEBHOOK, "http://h/")], "c", ids[0]).await.unwrap();
    assert!(store.claim_delivery("a", 60, &[EMAIL]).await.unwrap().is_none(), "another channel");
    let d = store.claim_delivery("a", 60, &[WEBHOOK]).await.unwrap().expect("claimed");
    assert_eq!(
        (d.event.id, d.channel.as_str(), d.target.as_str(), d.attempts),
        (ids[0], WEBHOOK, "http://h/", 1)
    );
    assert!(store.claim_delivery("b", 60, &[]).await.unwrap().is_none(), "held by a");
    assert!(
        !store.finish_delivery(d.id, "b", &DeliveryOutcome::Done).await.unwrap(),
        "b does not hold it"
    );
    let retry = DeliveryOutcome::Retry { error: "500".into(), at: chrono_now() + 3600 };
    assert!(store.finish_delivery(d.id, "a", &retry).await.unwrap());
    assert!(store.claim_delivery("b", 60, &[]).await.unwrap().is_none(), "not due yet");
    let info = &store.deliveries_of_event(ids[0]).await.unwrap()[0];
    assert_eq!(
        (info.state.as_str(), info.attempts, info.last_error.as_deref()),
        ("pending", 1, Some("500"))
    );
    // A webhook whose holder died is taken again; a mail is not (it may have left).
    store
        .plan_deliveries(
            &[row(ids[0], EMAIL, "list"), row(ids[0], WEBHOOK, "http://other/")],
            "c",
            ids[0],
        )
        .await
        .unwrap();
    let mail = store.claim_delivery("dead", -1, &[EMAIL]).await.unwrap().expect("mail");
    let hook = store.claim_delivery("dead", -1, &[WEBHOOK]).await.unwrap().expect("hook");
    let again = store.claim_delivery("b", 60, &[]).await.unwrap().expect("the webhook again");
    assert_eq!((again.id, again.attempts), (hook.id, 2));
    let all = store.deliveries_of_event(ids[0]).await.unwrap();
    let mail_info = all.iter().find(|i| i.id == mail.id).unwrap();
    assert_eq!(mail_info.state, "failed");
    assert!(store.claim_delivery("b", 60, &[]).await.unwrap().is_none());
    let counts = store.delivery_counts().await.unwrap();
    let count = |c: &str, s: &str| {
        counts.iter().find(|x| x.channel == c && x.state == s).map(|x| x.count).unwrap_or(0)
    };
    assert_eq!(
        (count(EMAIL, "failed"), count(WEBHOOK, "sending"), count(WEBHOOK, "pending")),
        (1, 1, 1)
    );
});

both_backends!(concurrent_claims_never_share_a_delivery, |store| async move {
    let ids = events(&store, 40).await;
    let rows: Vec<NewDelivery> = ids.iter().map(|id| row(*id, WEBHOOK, "http://h/")).collect();
    store.plan_deliveries(&rows, "c", 0).await.unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(d) = store.claim_delivery(&format!("w{w}"), 60, &[]).await.unwrap() {
                    got.push(d.id);
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!((n, all.len()), (40, 40));
});

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}
