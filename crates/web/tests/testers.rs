//! The tester and check routes (`/api/v1/testers/...`, `POST /api/v1/checks`) on SQLite and
//! PostgreSQL, through the router: jobs that never report end as errors, logs are cut to
//! what the server stores instead of refused, check URLs are http(s) only.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use quire_store::{MAX_LOST_LEASES, ProjectConfig, Store, Token, tester_owner};
use quire_web::{AppState, WebConfig, router};
use serde_json::{Value, json};
use std::path::Path;
use tower::ServiceExt;

/// The series every test checks: the demo archive's v2.
const HEAD: &str = "v2-0@example.org";
const PAGE: &str = "/demo/v2-0@example.org/";
const BUILD: &str = "check:any:build";

struct Site {
    state: AppState,
    store: Store,
    token: Token,
    secret: String,
}

impl Site {
    async fn new(store: Store) -> Site {
        let demo = ProjectConfig { name: "demo".into(), ..Default::default() };
        store.upsert_project(&demo).await.unwrap();
        let mbox = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/demo.mbox");
        common::ingest(&store, common::mbox_messages(&mbox, usize::MAX), Some("demo")).await;
        let (token, secret) = store.create_token("ci", "tester").await.unwrap();
        let state = AppState::new(store.clone(), WebConfig::default());
        Site { state, store, token, secret }
    }

    /// Queues a `build` check job on the series, as the worker does after applying it.
    async fn queue_build(&self) -> i64 {
        let payload = json!({ "check": "build", "series": HEAD, "script": "make" });
        self.store.enqueue_job(BUILD, HEAD, "demo", Some(&payload)).await.unwrap()
    }

    async fn send(&self, method: Method, uri: &str, body: Body) -> (StatusCode, Vec<u8>) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.secret))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .unwrap();
        let resp = router(self.state.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        (status, resp.into_body().collect().await.unwrap().to_bytes().to_vec())
    }

    async fn post(&self, uri: &str, body: &Value) -> (StatusCode, Value) {
        let (status, bytes) = self.send(Method::POST, uri, Body::from(body.to_string())).await;
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn page(&self, uri: &str) -> String {
        let (status, bytes) = self.send(Method::GET, uri, Body::empty()).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        String::from_utf8(bytes).unwrap()
    }

    /// Claims the build job as tester `name` over HTTP: its id.
    async fn claim(&self, name: &str) -> Option<i64> {
        let (status, v) = self.post("/api/v1/testers/claim", &json!({ "tester": name })).await;
        match status {
            StatusCode::OK => Some(v["job_id"].as_i64().unwrap()),
            StatusCode::NO_CONTENT => None,
            other => panic!("claim: {other} {v}"),
        }
    }
}

/// Runs `check` on a fresh SQLite store and on a fresh PostgreSQL one.
macro_rules! both {
    ($name:ident, $check:ident) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (_dir, store) = common::sqlite_store().await;
                $check(Site::new(store).await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn pg() {
                $check(Site::new(common::pg_store().await).await).await;
            }
        }
    };
}

// A tester that crashes every time (three claims whose leases ran out): the next claim ends
// the job, the series page shows the `build` check as an error with the reason, and the
// crashed tester's late report is refused with that reason.
async fn a_job_that_never_reports_shows_as_an_error_on_the_series_page(site: Site) {
    let id = site.queue_build().await;
    let crashy = tester_owner(site.token.id, "crashy");
    for _ in 0..MAX_LOST_LEASES {
        let job = site.store.claim_job(&crashy, -1, &["check:*"], MAX_LOST_LEASES).await.unwrap();
        assert_eq!(job.map(|j| j.id), Some(id));
    }
    assert_eq!(site.claim("steady").await, None, "not claimed a fourth time");
    let reason = "no result after 3 claims (last by tester crashy); the tester may have crashed or its report was refused";
    let page = site.page(PAGE).await;
    assert!(page.contains("<span class=\"badge fail\">error</span>"), "{page}");
    assert!(page.contains(reason), "{page}");
    let (status, v) = site
        .post(
            &format!("/api/v1/testers/jobs/{id}/result"),
            &json!({ "tester": "crashy", "state": "pass", "log": "ok" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(v["detail"], format!("job {id} has ended: {reason}"));
}
both!(
    a_job_that_never_reports_is_an_error,
    a_job_that_never_reports_shows_as_an_error_on_the_series_page
);
