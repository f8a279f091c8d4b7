//! `/metrics` (Prometheus text format), `/readyz`, and the request-latency middleware.
//!
//! Counts come from the store (stored and unparsable messages, series, jobs by kind and state),
//! read at most every [`STORE_METRICS_TTL`] so that a scrape never costs more than a page; request
//! latency is a histogram per route pattern (never per URL: message-ids would explode the series).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus::{Encoder, HistogramOpts, HistogramVec, IntGaugeVec, Opts, Registry, TextEncoder};

use crate::AppState;

/// How long store counts are reused between scrapes.
pub const STORE_METRICS_TTL: Duration = Duration::from_secs(10);

/// One server's metrics (kept in its [`AppState`]; two servers in one process, as in tests, do
/// not mix their counts).
pub struct Metrics {
    registry: Registry,
    latency: HistogramVec,
    messages: IntGaugeVec,
    series: IntGaugeVec,
    jobs: IntGaugeVec,
    /// Requests answered 503 because the server was saturated (crate::shed).
    pub(crate) shed: prometheus::IntCounter,
    read_at: Mutex<Option<Instant>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let registry = Registry::new();
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "quire_http_request_duration_seconds",
                "HTTP request latency by route and status class",
            )
            .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0]),
            &["route", "method", "status"],
        )
        .expect("valid histogram");
        let messages = IntGaugeVec::new(
            Opts::new(
                "quire_messages",
                "Stored messages by kind (all, unparsable, patch, cover-letter, pull-request)",
            ),
            &["kind"],
        )
        .expect("valid gauge");
        let series =
            IntGaugeVec::new(Opts::new("quire_series", "Series rows (all, complete)"), &["state"])
                .expect("valid gauge");
        let jobs = IntGaugeVec::new(
            Opts::new("quire_jobs", "Jobs by kind and state (queued, running, done, failed)"),
            &["kind", "state"],
        )
        .expect("valid gauge");
        let shed = prometheus::IntCounter::new(
            "quire_http_requests_shed_total",
            "Requests answered 503 with Retry-After because no turn came within the wait",
        )
        .expect("valid counter");
        for c in [
            Box::new(latency.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(shed.clone()),
            Box::new(messages.clone()),
            Box::new(series.clone()),
            Box::new(jobs.clone()),
        ] {
            let _ = registry.register(c);
        }
        Metrics { registry, latency, messages, series, jobs, shed, read_at: Mutex::new(None) }
    }
}

/// Records every request's latency under its route pattern.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    let status = format!("{}xx", resp.status().as_u16() / 100);
    state
        .metrics
        .latency
        .with_label_values(&[route.as_str(), method.as_str(), status.as_str()])
        .observe(started.elapsed().as_secs_f64());
    resp
}

/// `GET /metrics`.
pub async fn metrics(State(state): State<AppState>) -> Response {
    if let Err(e) = refresh_store_metrics(&state).await {
        // Still answer: the latency histograms are useful exactly when the database is not.
        tracing::warn!(error = %e, "metrics: cannot read the store");
    }
    let mut out = Vec::new();
    if let Err(e) = TextEncoder::new().encode(&state.metrics.registry.gather(), &mut out) {
        return (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot encode metrics: {e}"))
            .into_response();
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], out).into_response()
}

async fn refresh_store_metrics(state: &AppState) -> Result<(), quire_store::Error> {
    {
        let read_at = state.metrics.read_at.lock().map(|g| *g).unwrap_or(None);
        if read_at.is_some_and(|t| t.elapsed() < STORE_METRICS_TTL) {
            return Ok(());
        }
    }
    let stats = state.store.stats().await?;
    let m = &state.metrics;
    let g = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    m.messages.with_label_values(&["all"]).set(g(stats.messages));
    m.messages.with_label_values(&["unparsable"]).set(g(stats.unparsable));
    m.messages.with_label_values(&["patch"]).set(g(stats.patches));
    m.messages.with_label_values(&["cover-letter"]).set(g(stats.cover_letters));
    m.messages.with_label_values(&["pull-request"]).set(g(stats.pull_requests));
    m.series.with_label_values(&["all"]).set(g(stats.series));
    m.series.with_label_values(&["complete"]).set(g(stats.complete_series));
    m.jobs.reset();
    for c in state.store.job_counts().await? {
        m.jobs.with_label_values(&[c.kind.as_str(), c.state.as_str()]).set(g(c.count));
    }
    if let Ok(mut t) = m.read_at.lock() {
        *t = Some(Instant::now());
    }
    Ok(())
}

/// `GET /readyz`: 200 when the database answers, 503 (with why) when it does not or while the
/// server renders its newest pages at start (crate::warm): a load balancer stops sending
/// traffic until it is back, while `/healthz` says the process lives.
pub async fn readyz(State(state): State<AppState>) -> Response {
    if !state.warmth.is_warm() {
        return (StatusCode::SERVICE_UNAVAILABLE, "warming up: rendering the newest pages\n")
            .into_response();
    }
    match tokio::time::timeout(Duration::from_secs(2), state.store.cursor("readyz")).await {
        Ok(Ok(_)) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(e)) => {
            (StatusCode::SERVICE_UNAVAILABLE, format!("database not ready: {e}\n")).into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database not ready: no answer in 2 s\n")
            .into_response(),
    }
}
