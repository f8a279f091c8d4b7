//! Shedding load: when the machine is saturated (an import and a hundred clients on two cores),
//! a request that would wait long for its turn is answered `503` with `Retry-After` at once,
//! instead of joining a queue that grows without bound while every client times out.
//!
//! At most `max_in_flight` requests are served at a time; the others wait for a turn, at most
//! `max_queue_wait`. The wait bounds the queue by time, not by count: a hundred clients of quick
//! pages all get their turn within milliseconds and none is refused; only when turns come slower
//! than that (the work outruns the machine) are requests shed. Probes and the testers' routes are
//! never shed: `/readyz` must tell the truth under load, and a tester's heartbeat or result is
//! a job's progress.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::AppState;

/// How many requests are served at once and how long one may wait for its turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShedConfig {
    pub max_in_flight: usize,
    pub max_queue_wait: Duration,
}

impl Default for ShedConfig {
    /// Eight per core: a page is a few milliseconds of CPU and of SQLite, so more at once only
    /// queues inside the database pool; two seconds of waiting is already a slow page.
    fn default() -> ShedConfig {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        ShedConfig { max_in_flight: 8 * cores, max_queue_wait: Duration::from_secs(2) }
    }
}

/// The turns: a semaphore of `max_in_flight` permits.
pub(crate) struct Turns {
    pub(crate) permits: Arc<Semaphore>,
    max_queue_wait: Duration,
}

impl Turns {
    pub(crate) fn new(config: ShedConfig) -> Turns {
        Turns {
            permits: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            max_queue_wait: config.max_queue_wait,
        }
    }
}

/// Routes that are never shed (see the module documentation).
fn never_shed(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics" | "/static/style.css")
        || path.starts_with("/api/v1/testers/")
}

/// The middleware: waits for a turn, or answers 503 with `Retry-After`.
pub async fn shed(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if never_shed(req.uri().path()) {
        return next.run(req).await;
    }
    let turns = &state.turns;
    match tokio::time::timeout(turns.max_queue_wait, turns.permits.clone().acquire_owned()).await {
        Ok(Ok(turn)) => {
            let response = next.run(req).await;
            drop(turn);
            response
        }
        _ => {
            state.metrics.shed.inc();
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::RETRY_AFTER, "1"), (header::CACHE_CONTROL, "no-store")],
                "The server is busy: try again in a second.\n",
            )
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt as _;

    async fn get(app: &axum::Router, path: &str) -> Response {
        app.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap()
    }

    // While every turn is taken for longer than a request may wait, pages are refused at once
    // with Retry-After (not queued); the probes still answer; a turn given back serves again.
    #[tokio::test]
    async fn a_saturated_server_sheds_pages_with_retry_after_but_not_its_probes() {
        let (_dir, store) = quire_store::testing::sqlite_store().await;
        let config = crate::WebConfig {
            shed: ShedConfig { max_in_flight: 2, max_queue_wait: Duration::from_millis(50) },
            ..Default::default()
        };
        let state = crate::AppState::new(store, config);
        let app = crate::router(state.clone());
        assert_eq!(get(&app, "/").await.status(), StatusCode::OK);

        let taken = state.turns.permits.clone().acquire_many_owned(2).await.unwrap();
        let started = std::time::Instant::now();
        let refused = get(&app, "/").await;
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "1");
        assert!(started.elapsed() < Duration::from_secs(2), "refused after its wait, not later");
        for probe in ["/healthz", "/readyz", "/metrics"] {
            assert_eq!(get(&app, probe).await.status(), StatusCode::OK, "{probe}");
        }
        let metrics = get(&app, "/metrics").await;
        let body = axum::body::to_bytes(metrics.into_body(), 1 << 20).await.unwrap();
        assert!(String::from_utf8_lossy(&body).contains("quire_http_requests_shed_total 1"));

        // A request waiting when a turn comes back is served, not refused.
        let waiting = tokio::spawn({
            let app = app.clone();
            async move { get(&app, "/").await.status() }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(taken);
        assert_eq!(waiting.await.unwrap(), StatusCode::OK);
    }
}
