//! What an admin's monitoring reads: `/healthz`, `/readyz` and `/metrics`, on both backends.

mod common;

use common::*;
use http_body_util::BodyExt;
use quire_store::{Store, both_backends};
use quire_web::{AppState, WebConfig, router};
use tower::ServiceExt;

async fn get(state: &AppState, uri: &str) -> (u16, String, String) {
    let req =
        axum::http::Request::builder().uri(uri).body(axum::body::Body::empty()).expect("request");
    let resp = router(state.clone()).oneshot(req).await.expect("infallible");
    let status = resp.status().as_u16();
    let ct =
        resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, ct, String::from_utf8_lossy(&body).into_owned())
}

/// The value of one sample line `name{labels} value`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn check(store: Store) {
    fill_with_real_mail(&store).await;
    let stats = store.stats().await.expect("stats");
    let series = store.series_list("patchwork", &Default::default()).await.expect("list");
    let head = series.items[0].message_id.clone();
    store.enqueue_job(quire_store::APPLY, &head, "patchwork", None).await.expect("job");
    let state = AppState::new(store, WebConfig::default());

    assert_eq!(get(&state, "/healthz").await.0, 200);
    let (status, _, body) = get(&state, "/readyz").await;
    assert_eq!((status, body.as_str()), (200, "ready\n"));
    // A page, so that its route has a latency sample.
    assert_eq!(get(&state, "/ltp/").await.0, 200);
    let (status, ct, text) = get(&state, "/metrics").await;
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    assert_eq!(
        sample(&text, "quire_messages{kind=\"all\"}"),
        Some(stats.messages as f64),
        "{text}"
    );
    assert_eq!(sample(&text, "quire_messages{kind=\"unparsable\"}"), Some(stats.unparsable as f64));
    assert_eq!(sample(&text, "quire_series{state=\"all\"}"), Some(stats.series as f64));
    assert_eq!(sample(&text, "quire_jobs{kind=\"apply\",state=\"queued\"}"), Some(1.0), "{text}");
    let count = sample(
        &text,
        "quire_http_request_duration_seconds_count{method=\"GET\",route=\"/{project}/\",status=\"2xx\"}",
    );
    assert!(count.is_some_and(|c| c >= 1.0), "{text}");
    assert!(text.contains("quire_http_request_duration_seconds_bucket{method=\"GET\",route=\"/{project}/\",status=\"2xx\",le=\"0.02\"}"));
}

both_backends!(health_readiness_and_metrics, |store| async move { check(store).await });
