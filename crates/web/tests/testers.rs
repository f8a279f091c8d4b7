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

    async fn get_json(&self, uri: &str) -> (StatusCode, Value) {
        let (status, bytes) = self.send(Method::GET, uri, Body::empty()).await;
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

// The claim says how long a log may be; results whose log is longer are stored cut to their
// end, not refused: 1 MB of NULs (6 MB of JSON) and 5 MB of text, from a tester and from
// external CI. Only a body past CHECK_BODY_LIMIT is refused (413), and other routes keep the
// general BODY_LIMIT.
async fn long_logs_are_stored_cut_and_never_refused(site: Site) {
    for (n, log) in ["\0".repeat(1_000_000), "make: line\n".repeat(500_000)].into_iter().enumerate()
    {
        let id = site.queue_build().await;
        let tester = format!("t{n}");
        let (status, claim) =
            site.post("/api/v1/testers/claim", &json!({ "tester": tester })).await;
        assert_eq!((status, claim["job_id"].as_i64()), (StatusCode::OK, Some(id)), "{claim}");
        assert_eq!(claim["log_limit"], quire_store::CHECK_LOG_LIMIT);
        let report =
            json!({ "tester": tester, "state": "fail", "description": "boom", "log": log });
        let body = report.to_string();
        assert!(body.len() > 5_000_000 && body.len() <= quire_web::CHECK_BODY_LIMIT);
        let (status, v) = site.post(&format!("/api/v1/testers/jobs/{id}/result"), &report).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        let check_id = v["check_id"].as_i64().unwrap();
        let stored = site.store.checks(HEAD).await.unwrap();
        let stored = stored.iter().find(|c| c.id == check_id).unwrap().log.clone().unwrap();
        assert!(stored.len() <= quire_store::CHECK_LOG_LIMIT, "{}", stored.len());
        assert!(
            stored.starts_with("[... ")
                && stored.lines().next().unwrap().ends_with(" bytes cut ...]")
        );
    }
    let ci = json!({ "message_id": HEAD, "name": "kernelci", "state": "warning", "log": "x".repeat(5_000_000) });
    let (status, v) = site.post("/api/v1/checks", &ci).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");

    let too_big = json!({ "message_id": HEAD, "name": "ci", "state": "pass", "log": "x".repeat(quire_web::CHECK_BODY_LIMIT) });
    let (status, _) = site.post("/api/v1/checks", &too_big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let form = Body::from("x".repeat(quire_web::BODY_LIMIT + 1));
    let (status, _) = site.send(Method::POST, "/api/1.3/bundles/", form).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "other routes keep the general limit");
}
both!(long_logs_are_cut_not_refused, long_logs_are_stored_cut_and_never_refused);

/// The body limits are stated in three more places than the code: each must say the same.
#[test]
fn nginx_conf_and_the_docs_state_the_body_limits_the_server_sets() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let read = |f: &str| std::fs::read_to_string(repo.join(f)).unwrap();
    let mib = |bytes: usize| {
        assert_eq!(bytes % (1 << 20), 0, "{bytes} is whole MiB");
        bytes >> 20
    };
    let (general, checks, log) = (
        mib(quire_web::BODY_LIMIT),
        mib(quire_web::CHECK_BODY_LIMIT),
        mib(quire_store::CHECK_LOG_LIMIT),
    );
    let nginx = read("contrib/nginx.conf");
    let sizes: Vec<&str> = nginx
        .lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix("client_max_body_size "))
        .collect();
    assert_eq!(sizes, [format!("{general}m;"), format!("{checks}m;")], "{nginx}");
    let at = nginx.find(&format!("client_max_body_size {checks}m;")).unwrap();
    let location = nginx[..at].rsplit("location").next().unwrap();
    assert!(
        location.contains("testers/|checks$"),
        "the larger limit is the check routes': {location}"
    );
    let api = read("docs/api.md");
    for said in [
        format!("up to {checks} MiB"),
        format!("takes {general} MiB"),
        format!("`log_limit` bytes of a check's log (UTF-8; {log} MiB"),
        "1,048,576".to_string(),
    ] {
        assert!(api.contains(&said), "docs/api.md does not say {said:?}");
    }
    assert_eq!(quire_store::CHECK_LOG_LIMIT, 1_048_576);
}

const HOSTILE_URLS: &[&str] = &[
    "javascript:alert(1)",
    " JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example.org/",
];

// Every route that takes a check's URL refuses other schemes than http(s) with a 400 naming
// the field, and stores nothing; http(s) URLs are stored and linked.
async fn check_urls_other_than_http_are_refused_everywhere(site: Site) {
    let (_, patches) = site.get_json("/api/1.3/patches/?project=demo").await;
    let patch = patches[0]["id"].as_i64().unwrap();
    for url in HOSTILE_URLS {
        let id = site.queue_build().await;
        assert_eq!(site.claim("t").await, Some(id));
        let (status, v) = site
            .post(
                &format!("/api/v1/testers/jobs/{id}/result"),
                &json!({ "tester": "t", "state": "pass", "url": url }),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {v}");
        assert_eq!(v["detail"], "url: only http:// and https:// URLs are accepted");
        let ci = json!({ "message_id": HEAD, "name": "ci", "state": "pass", "url": url });
        let (status, v) = site.post("/api/v1/checks", &ci).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {v}");
        assert_eq!(v["detail"], "url: only http:// and https:// URLs are accepted");
        let pw = json!({ "state": "success", "context": "pw", "target_url": url });
        let (status, v) = site.post(&format!("/api/1.3/patches/{patch}/checks/"), &pw).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{url}: {v}");
        assert_eq!(v["target_url"][0], "only http:// and https:// URLs are accepted");
    }
    let all = site.store.checks(HEAD).await.unwrap();
    assert!(all.is_empty(), "{all:?}");

    let ci = json!({ "message_id": HEAD, "name": "ci", "state": "pass", "url": "https://ci.example.org/42" });
    assert_eq!(site.post("/api/v1/checks", &ci).await.0, StatusCode::CREATED);
    let page = site.page(PAGE).await;
    assert!(page.contains("<a href=\"https://ci.example.org/42\">ci</a>"), "{page}");
}
both!(check_urls_are_http_only, check_urls_other_than_http_are_refused_everywhere);

// Defence in depth: a check stored with another scheme (before URLs were checked) is never a
// link on the series page; its log's page is linked instead when it has a log.
async fn a_stored_javascript_url_is_never_a_link(site: Site) {
    for (n, url) in HOSTILE_URLS.iter().enumerate() {
        let check = quire_store::NewCheck {
            name: format!("old{n}"),
            state: quire_store::CheckState::Fail,
            url: Some(url.to_string()),
            description: None,
            log: (n == 0).then(|| "the log".to_string()),
        };
        site.store.add_check(HEAD, &check).await.unwrap();
    }
    let page = site.page(PAGE).await.to_lowercase();
    for scheme in ["javascript:", "data:", "vbscript:", "//evil"] {
        assert!(!page.contains(&format!("href=\"{scheme}")), "{scheme}: {page}");
        assert!(!page.contains(&format!("href=\" {scheme}")), "{scheme}: {page}");
    }
    assert!(page.contains("/checks/") && page.contains(">old0</a>"), "{page}");
    assert!(page.contains("<td>old1</td>"), "{page}");
}
both!(stored_javascript_urls_are_not_links, a_stored_javascript_url_is_never_a_link);
