//! The job queue's leases, on both backends: a job whose lease expires without a result again
//! and again ends, with the reason, instead of being claimed forever (issue 24).

#[allow(dead_code)]
mod common;

use common::*;
use quire_store::{
    CHECK_LOG_LIMIT, CheckState, MAX_LOST_LEASES, NewCheck, Store, both_backends, tester_owner,
};
use serde_json::json;

const BUILD: &str = "check:any:build";

/// A stored patch with a `build` check job queued on it; the job's id.
async fn check_job(store: &Store, id: &str) -> i64 {
    store.ingest(vec![incoming(patch(id, 1, 1, 1, "a change"))]).await.unwrap();
    let payload = json!({ "check": "build", "series": id, "script": "make" });
    store.enqueue_job(BUILD, id, "demo", Some(&payload)).await.unwrap()
}

fn result() -> NewCheck {
    NewCheck {
        name: "build".into(),
        state: CheckState::Pass,
        url: None,
        description: None,
        log: Some("ok".into()),
    }
}

// Three testers claim the job in turn and vanish (each lease is over at once: -1 s); the next
// claim ends it as failed and stores the reason as an `error` check on the series, instead of
// handing it out a fourth time. Late results are refused; queued again, it starts over.
both_backends!(
    a_check_job_that_never_reports_ends_as_an_error_after_three_claims,
    |store| async move {
        let id = check_job(&store, "lost-1@example.org").await;
        for (n, tester) in ["a", "b", "c"].iter().enumerate() {
            let job = store
                .claim_job(&tester_owner(7, tester), -1, &["check:*"], MAX_LOST_LEASES)
                .await
                .unwrap()
                .expect("claimed again after a lost lease");
            assert_eq!((job.id, job.attempts), (id, n as u32 + 1));
        }
        let next = store.claim_job(&tester_owner(7, "d"), 60, &["check:*"], MAX_LOST_LEASES).await;
        assert!(next.unwrap().is_none(), "a fourth claim");
        let reason = "no result after 3 claims (last by tester c); the tester may have crashed or its report was refused";
        let job = store.job(id).await.unwrap().unwrap();
        assert_eq!((job.state.as_str(), job.last_error.as_deref()), ("failed", Some(reason)));
        let checks = store.checks("lost-1@example.org").await.unwrap();
        assert_eq!(checks.len(), 1, "{checks:?}");
        assert_eq!(
            (checks[0].name.as_str(), checks[0].state, checks[0].description.as_deref()),
            ("build", CheckState::Error, Some(reason))
        );
        let late = store
            .finish_check_job(id, &tester_owner(7, "c"), "lost-1@example.org", &result())
            .await
            .unwrap();
        assert_eq!(late, None, "the last tester cannot report after the job ended");
        assert_eq!(store.checks("lost-1@example.org").await.unwrap().len(), 1);

        let payload = json!({ "check": "build", "series": "lost-1@example.org" });
        store.enqueue_job(BUILD, "lost-1@example.org", "demo", Some(&payload)).await.unwrap();
        for tester in ["e", "f", "g"] {
            let job =
                store.claim_job(&tester_owner(7, tester), -1, &[BUILD], MAX_LOST_LEASES).await;
            assert!(job.unwrap().is_some(), "queued again, the count starts over");
        }
    }
);

// A job that lost leases but then reports in time is done, with the tester's result only.
both_backends!(a_job_reported_within_its_lease_after_lost_ones_is_done, |store| async move {
    let id = check_job(&store, "late-1@example.org").await;
    for tester in ["a", "b"] {
        store.claim_job(&tester_owner(1, tester), -1, &[BUILD], MAX_LOST_LEASES).await.unwrap();
    }
    let job = store.claim_job(&tester_owner(1, "c"), 60, &[BUILD], MAX_LOST_LEASES).await;
    assert_eq!(job.unwrap().map(|j| j.attempts), Some(3));
    let stored = store
        .finish_check_job(id, &tester_owner(1, "c"), "late-1@example.org", &result())
        .await
        .unwrap();
    assert!(stored.is_some());
    assert!(store.claim_job("x", 60, &[BUILD], MAX_LOST_LEASES).await.unwrap().is_none());
    assert_eq!(store.job(id).await.unwrap().unwrap().state, "done");
    let checks = store.checks("late-1@example.org").await.unwrap();
    assert_eq!(checks.iter().map(|c| c.state).collect::<Vec<_>>(), vec![CheckState::Pass]);
});

// Ten claimers at once after the last lost lease: the job is ended once, one error check.
both_backends!(simultaneous_claims_end_a_lost_job_once, |store| async move {
    let id = check_job(&store, "race-1@example.org").await;
    for tester in ["a", "b", "c"] {
        store.claim_job(&tester_owner(1, tester), -1, &[BUILD], MAX_LOST_LEASES).await.unwrap();
    }
    let claims: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .claim_job(&tester_owner(1, &format!("t{i}")), 60, &[BUILD], MAX_LOST_LEASES)
                    .await
            })
        })
        .collect();
    for c in claims {
        assert!(c.await.unwrap().unwrap().is_none());
    }
    assert_eq!(store.job(id).await.unwrap().unwrap().state, "failed");
    let checks = store.checks("race-1@example.org").await.unwrap();
    assert_eq!(checks.len(), 1, "{checks:?}");
});

// Jobs that are not checks (apply) end the same way, with the worker named and no check.
both_backends!(an_apply_job_whose_worker_keeps_dying_ends_as_failed, |store| async move {
    store.ingest(vec![incoming(patch("apply-1@example.org", 1, 1, 1, "x"))]).await.unwrap();
    let id = store.enqueue_job("apply", "apply-1@example.org", "demo", None).await.unwrap();
    assert!(store.claim_job("host-1", -1, &["apply"], 1).await.unwrap().is_some());
    assert!(store.claim_job("host-2", 60, &["apply"], 1).await.unwrap().is_none());
    let job = store.job(id).await.unwrap().unwrap();
    assert_eq!(job.state, "failed");
    assert_eq!(
        job.last_error.as_deref(),
        Some("no result after 1 claim (last by worker host-1); the worker may have crashed")
    );
    assert!(store.checks("apply-1@example.org").await.unwrap().is_empty());
});

// Check logs are kept to CHECK_LOG_LIMIT bytes whatever writes them: the end of a longer one,
// after a line saying how much was cut; NULs (3 bytes each once replaced) are counted as
// stored, and the cut never splits a character.
both_backends!(long_check_logs_keep_their_end_within_the_limit, |store| async move {
    store.ingest(vec![incoming(patch("logs-1@example.org", 1, 1, 1, "x"))]).await.unwrap();
    let stored = |log: String| {
        let store = store.clone();
        async move {
            let check = NewCheck { log: Some(log), ..result() };
            let id = store.add_check("logs-1@example.org", &check).await.unwrap();
            let all = store.checks("logs-1@example.org").await.unwrap();
            all.into_iter().find(|c| c.id == id).unwrap().log.unwrap()
        }
    };
    let text: String = (0..5_000_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    let kept = stored(text.clone()).await;
    assert!(kept.len() <= CHECK_LOG_LIMIT, "{}", kept.len());
    let (first, rest) = kept.split_once('\n').unwrap();
    assert_eq!(first, format!("[... {} bytes cut ...]", text.len() - rest.len()));
    assert!(text.ends_with(rest) && rest.len() > CHECK_LOG_LIMIT - 100);

    let nuls = stored("\0".repeat(1_000_000)).await;
    assert!(nuls.len() <= CHECK_LOG_LIMIT, "{}", nuls.len());
    let (first, rest) = nuls.split_once('\n').unwrap();
    assert!(rest.chars().all(|c| c == '\u{FFFD}') && rest.len() > CHECK_LOG_LIMIT - 100);
    assert_eq!(first, format!("[... {} bytes cut ...]", 1_000_000 - rest.chars().count()));

    let wide = "é".repeat(CHECK_LOG_LIMIT);
    let kept = stored(wide).await;
    assert!(kept.len() <= CHECK_LOG_LIMIT && kept.ends_with('é'));
    let exact = "x".repeat(CHECK_LOG_LIMIT);
    assert_eq!(stored(exact.clone()).await, exact, "a log of the limit is kept whole");
});
