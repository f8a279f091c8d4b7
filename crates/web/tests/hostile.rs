//! Hostile input against the web side, on SQLite and on PostgreSQL: markup in every field of a
//! mail (shown as text on every page), hostile Message-IDs in every route that takes one (404 or
//! 400, never a 500, never a path escape), a 10,000-message thread and MIME nested 10,000 deep
//! (pages render, no stack overflow), malformed queries (400 with one line), and queries nested
//! or long past the parser's limits in every route that takes one (400 naming the limit, never
//! a 5xx, and the server still serving).

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use quire_store::{Incoming, Store};
use quire_web::{AppState, WebConfig, router};
use std::time::Instant;
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    location: Option<String>,
    content_type: String,
    nosniff: bool,
    csp: bool,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn get(state: &AppState, uri: &str) -> Reply {
    send(state, "GET", uri, None).await
}

/// A request to the router as `quire serve` runs it: on a runtime worker thread (2 MiB of
/// stack, where a query parser recursing per level overflowed and aborted the process), with
/// `form` as an urlencoded body.
async fn send(state: &AppState, method: &str, uri: &str, form: Option<String>) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form.map_or_else(Body::empty, Body::from))
        .expect("request");
    let resp = tokio::spawn(router(state.clone()).oneshot(req))
        .await
        .expect("the request's task ended without a panic")
        .expect("infallible");
    let status = resp.status();
    let location =
        resp.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()).map(String::from);
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let nosniff =
        resp.headers().get(header::X_CONTENT_TYPE_OPTIONS).is_some_and(|v| v == "nosniff");
    let csp = resp
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("default-src 'none'") && !v.contains("unsafe-inline"));
    let body = resp.into_body().collect().await.expect("body").to_bytes().to_vec();
    Reply { status, location, content_type, nosniff, csp, body }
}

fn short(uri: &str) -> &str {
    &uri[..uri.len().min(100)]
}

async fn ingest(store: &Store, raws: Vec<Vec<u8>>) {
    for chunk in raws.chunks(1000) {
        let batch: Vec<Incoming> =
            chunk.iter().map(|r| Incoming::parse(r.clone(), Some("ltp".into()))).collect();
        store.ingest(batch).await.expect("ingest");
    }
}

const EVIL_ID: &str = "evil\"onmouseover=alert(1)'x@example.com";
const PATH_ID: &str = "a/../../etc/passwd@example.com";

/// A patch series (cover + patch) and a reply whose every field carries markup: sender names,
/// To/Cc, subjects, bodies, a diff's file names, an attachment's file name, and Message-IDs with
/// quotes (attribute injection) and with `/` and `..`.
fn hostile_thread() -> Vec<Vec<u8>> {
    let cover = format!(
        "From: \"<svg onload=alert('from')>\" <evil@example.com>\r\n\
         To: \"<script>alert('to')</script>\" <ltp@lists.linux.it>\r\n\
         Cc: <script>alert('cc')</script> <cc@example.com>\r\n\
         Subject: [PATCH 0/1] \"><script>alert('cover')</script>\r\n\
         Message-ID: <{EVIL_ID}>\r\n\
         Date: Mon, 2 Mar 2020 10:00:00 +0000\r\n\
         \r\n\
         <iframe src=javascript:alert('cover-body')></iframe>\r\n"
    );
    let patch = format!(
        "From: \"<svg onload=alert('from')>\" <evil@example.com>\r\n\
         To: ltp@lists.linux.it\r\n\
         Subject: [PATCH 1/1] <img src=x onerror=alert('patch')>\r\n\
         Message-ID: <{PATH_ID}>\r\n\
         In-Reply-To: <{EVIL_ID}>\r\n\
         References: <{EVIL_ID}>\r\n\
         Date: Mon, 2 Mar 2020 10:00:01 +0000\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/plain\r\n\
         \r\n\
         <script>alert('body')</script>\r\n\
         ---\r\n \"<script>.c\" | 1 +\r\n 1 file changed, 1 insertion(+)\r\n\r\n\
         diff --git a/<script>alert('file')</script>.c b/<script>alert('file')</script>.c\r\n\
         --- a/<script>alert('file')</script>.c\r\n\
         +++ b/<script>alert('file')</script>.c\r\n\
         @@ -1 +1,2 @@\r\n a\r\n+<script>alert('diff')</script>\r\n\
         --b1\r\n\
         Content-Type: text/plain; name=\"\\\"><script>alert('att')</script>.txt\"\r\n\
         Content-Disposition: attachment; filename=\"\\\"><img src=x onerror=alert('att')>.txt\"\r\n\
         \r\n\
         <script>alert('attachment body')</script>\r\n\
         --b1--\r\n"
    );
    let reply = format!(
        "From: <script>alert('reply-from')</script> <r@example.com>\r\n\
         To: ltp@lists.linux.it\r\n\
         Subject: Re: [PATCH 1/1] <img src=x onerror=alert('patch')>\r\n\
         Message-ID: <reply-<b>bold</b>@example.com>\r\n\
         In-Reply-To: <{PATH_ID}>\r\n\
         Date: Mon, 2 Mar 2020 10:00:02 +0000\r\n\
         \r\n\
         > <script>alert('quote')</script>\r\n\
         Reviewed-by: <script>alert('trailer')</script> <r@example.com>\r\n"
    );
    vec![cover.into_bytes(), patch.into_bytes(), reply.into_bytes()]
}

/// No markup from the mail made it into an HTML answer as markup; every answer forbids
/// sniffing (text/plain mail stays text) and scripts.
fn assert_safe(uri: &str, r: &Reply) {
    assert!(
        r.nosniff && r.csp,
        "{uri}: no nosniff or no script-forbidding Content-Security-Policy"
    );
    if r.content_type.starts_with("text/html") || r.content_type.contains("xml") {
        assert_inert(uri, &r.text());
    } else {
        let known = r.content_type.starts_with("text/plain")
            || r.content_type.starts_with("application/")
            || (r.status.is_redirection() && r.body.is_empty());
        assert!(known, "{uri}: {} {}", r.status, r.content_type);
    }
}

fn assert_inert(uri: &str, html: &str) {
    for bad in ["<script", "<svg", "<img", "<iframe", "\"onmouseover", "'onmouseover", "<b>bold"] {
        assert!(
            !html.contains(bad),
            "{uri}: {bad:?} reached the page as markup:\n{}",
            &html[..html.len().min(3000)]
        );
    }
}

async fn markup_in_every_field_is_text(store: Store) {
    common::add_projects(&store).await;
    ingest(&store, hostile_thread()).await;
    let state = AppState::new(store, WebConfig::default());
    let evil = quire_web::url::segment(EVIL_ID);
    let path = quire_web::url::segment(PATH_ID);
    let uris = [
        "/".to_string(),
        "/ltp/".to_string(),
        "/ltp/?q=script".to_string(),
        "/ltp/new.atom".to_string(),
        "/all/new.atom".to_string(),
        format!("/ltp/{evil}/"),
        format!("/ltp/{path}/"),
        format!("/ltp/{evil}/T/"),
        format!("/all/{evil}/T/"),
        format!("/ltp/{path}/T/"),
    ];
    let mut pages_with_the_series = 0;
    for uri in &uris {
        let r = get(&state, uri).await;
        assert!(
            r.status == StatusCode::OK || r.status == StatusCode::FOUND,
            "GET {uri}: {} {}",
            r.status,
            r.text()
        );
        assert_safe(uri, &r);
        if r.text().contains("alert(&#39;cover&#39;)")
            || r.text().contains("alert(&#x27;cover&#x27;)")
            || r.text().contains("alert('cover')")
        {
            pages_with_the_series += 1;
        }
    }
    assert!(
        pages_with_the_series >= 3,
        "the hostile series shows (escaped) on the list, feeds and its page"
    );
    // The message with `/` and `..` in its id is found by its id, and only by it: its raw bytes.
    let raw = get(&state, &format!("/ltp/{path}/raw")).await;
    assert_eq!(raw.status, StatusCode::OK);
    assert!(raw.text().contains(&format!("Message-ID: <{PATH_ID}>")));
    for uri in [
        "/ltp/a/../../etc/passwd@example.com/raw",
        "/ltp/..%2F..%2Fetc%2Fpasswd/raw",
        "/etc/passwd/",
        "/static/..%2F..%2FCargo.toml/",
        "/static/../../Cargo.toml",
    ] {
        let r = get(&state, uri).await;
        assert!(
            matches!(r.status, StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST),
            "GET {uri}: {}",
            r.status
        );
        assert!(
            !r.text().contains("root:") && !r.text().contains("[package]"),
            "GET {uri} escaped the archive"
        );
    }
}

quire_store::both_backends!(markup_in_every_field_of_a_mail_is_shown_as_text, |store| {
    markup_in_every_field_is_text(store)
});

/// Every route that takes a Message-ID (and the second parameter of the routes with two).
fn routes_with(id: &str) -> Vec<String> {
    let ok = quire_web::url::segment(PATH_ID);
    let mut out = Vec::new();
    for base in ["/ltp", "/all", "/nope"] {
        for tail in [
            "",
            "/",
            "/raw",
            "/t.mbox.gz",
            "/T/",
            "/mbox",
            "/patch",
            "/apply.log",
            "/checks/build",
            "/interdiff/x@y",
        ] {
            out.push(format!("{base}/{id}{tail}"));
        }
    }
    out.push(format!("/ltp/{ok}/interdiff/{id}"));
    out.push(format!("/ltp/{ok}/checks/{id}"));
    out.push(format!("/{id}/"));
    out.push(format!("/{id}"));
    out
}

async fn hostile_ids_in_every_route(store: Store) {
    common::add_projects(&store).await;
    ingest(&store, hostile_thread()).await;
    let state = AppState::new(store, WebConfig::default());
    let long = "x".repeat(10 * 1024);
    let long_at = format!("{}%40example.com", "y".repeat(10 * 1024));
    let ids = [
        "..",
        "%2E%2E",
        "..%2F..%2Fetc%2Fpasswd",
        "a%2F..%2F..%2Fb",
        "a/../b",
        "%00",
        "a%00b%40c",
        "%0D%0ASet-Cookie:%20x=1",
        long.as_str(),
        long_at.as_str(),
        "%FF%FE",
        "%",
        "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "%22onmouseover%3Dalert(1)",
    ];
    let mut checked = 0;
    for id in ids {
        for uri in routes_with(id) {
            let r = get(&state, &uri).await;
            checked += 1;
            let s = r.status;
            if s.is_redirection() {
                // Only the trailing-slash redirect, and it stays on this site.
                let to = r.location.clone().unwrap_or_default();
                assert!(
                    to.starts_with('/')
                        && !to.starts_with("//")
                        && !to.contains('\r')
                        && !to.contains('\n'),
                    "GET {}: {s} to {to:?}",
                    short(&uri)
                );
                continue;
            }
            assert!(
                matches!(s, StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST),
                "GET {}: {s} {}",
                short(&uri),
                &r.text()[..r.text().len().min(300)]
            );
            assert_safe(short(&uri), &r);
            assert!(!r.text().contains("root:x:0"), "GET {}: a file of the system", short(&uri));
        }
    }
    assert!(checked > 400, "{checked} requests");
}

quire_store::both_backends!(hostile_message_ids_in_every_route_are_404_or_400, |store| {
    hostile_ids_in_every_route(store)
});

async fn malformed_queries_are_400_with_one_line(store: Store) {
    common::add_projects(&store).await;
    ingest(&store, hostile_thread()).await;
    let state = AppState::new(store, WebConfig::default());
    let malformed = [
        "s:%22unclosed",
        "(a%20OR",
        ")",
        "d:yesterday..nonsense",
        "dt:2024..zz",
        "%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28%28",
    ];
    for base in ["/ltp/", "/all/"] {
        for q in malformed {
            for extra in ["x=m", "x=m&t=1"] {
                let uri = format!("{base}?{extra}&q={q}");
                let r = get(&state, &uri).await;
                assert_eq!(r.status, StatusCode::BAD_REQUEST, "GET {}: {}", short(&uri), r.text());
                let text = r.text();
                let line = text.trim();
                assert!(!line.is_empty() && line.len() < 400, "GET {}: {line}", short(&uri));
                assert_safe(&uri, &r);
            }
        }
    }
    // A query that is not UTF-8 or not a query string at all.
    for uri in [
        "/ltp/?x=m&q=%FF%FE",
        "/all/?x=m&q=%",
        "/ltp/?page=%FF",
        "/ltp/?page=-1",
        "/ltp/?page=99999999999999999999999",
    ] {
        let r = get(&state, uri).await;
        assert!(
            matches!(r.status, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND),
            "GET {uri}: {} {}",
            r.status,
            r.text()
        );
    }
}

quire_store::both_backends!(malformed_queries_get_400, |store| {
    malformed_queries_are_400_with_one_line(store)
});

/// `q` for a URL's query string or a form body: `+` for spaces, parentheses and `-` as they
/// are, everything else but letters and digits percent-encoded.
fn form_value(q: &str) -> String {
    let mut out = String::with_capacity(q.len());
    for b in q.bytes() {
        match b {
            b' ' => out.push('+'),
            b'(' | b')' | b'-' => out.push(b as char),
            _ if b.is_ascii_alphanumeric() => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// How a route reads `q`.
#[derive(Clone, Copy, PartialEq)]
enum Reads {
    /// quire's series search: the query language, at most 64 terms.
    SeriesSearch,
    /// public-inbox's search: the query language, at most 500 terms.
    Inbox,
    /// Patchwork's `q`: words (or a name) matched as text, not the query language.
    PatchworkWords,
}

/// Every route that takes a search query: (method, URL before `q`, whether `q` goes in a form
/// body, how it is read). URLs end where `q=` is appended.
const QUERY_ROUTES: &[(&str, &str, bool, Reads)] = &[
    ("GET", "/ltp/?", false, Reads::SeriesSearch),
    ("GET", "/api/v1/search?", false, Reads::SeriesSearch),
    ("GET", "/api/v1/projects/ltp/series?", false, Reads::SeriesSearch),
    ("GET", "/ltp/?x=m&", false, Reads::Inbox),
    ("POST", "/ltp/?x=m&t=1", true, Reads::Inbox),
    ("GET", "/all/?", false, Reads::Inbox),
    ("POST", "/all/?x=m", true, Reads::Inbox),
    ("GET", "/ltp/t-0%40example.com/?x=m&", false, Reads::Inbox),
    ("POST", "/all/t-0%40example.com/?x=m", true, Reads::Inbox),
    ("GET", "/api/1.3/series/?", false, Reads::PatchworkWords),
    ("GET", "/api/1.3/patches/?", false, Reads::PatchworkWords),
    ("GET", "/api/1.3/people/?", false, Reads::PatchworkWords),
    ("GET", "/api/1.3/users/?", false, Reads::PatchworkWords),
    ("GET", "/api/1.3/bundles/?", false, Reads::PatchworkWords),
];

/// `n` terms side by side.
fn terms(n: usize) -> String {
    vec!["x"; n].join(" ")
}

/// The queries of issue 24 and what the query language's routes answer each with: `None` for
/// "runs" (the public-inbox search reads 65 terms), else the reason the 400 names.
fn hostile_queries() -> Vec<(&'static str, String, Option<&'static str>, Option<&'static str>)> {
    // (what, query, series search says, public-inbox search says)
    vec![
        (
            "3,000 nested parentheses",
            format!("{}x{}", "(".repeat(3000), ")".repeat(3000)),
            Some("the query nests 3000 deep at column 33; at most 32"),
            Some("the query nests 3000 deep at column 33; at most 32"),
        ),
        (
            "100,000 nested parentheses",
            format!("{}x{}", "(".repeat(100_000), ")".repeat(100_000)),
            Some("the query is 200001 bytes long; at most 65536 are read"),
            Some("the query is 200001 bytes long; at most 65536 are read"),
        ),
        (
            "3,000 `-` prefixes",
            format!("{}x", "-".repeat(3000)),
            Some("the query nests 3000 deep at column 33; at most 32"),
            Some("the query nests 3000 deep at column 33; at most 32"),
        ),
        (
            "3,000 NOTs",
            format!("{}x", "NOT ".repeat(3000)),
            Some("the query nests 3000 deep at column 129; at most 32"),
            Some("the query nests 3000 deep at column 129; at most 32"),
        ),
        (
            "65 terms",
            terms(65),
            Some("the query has 65 terms; the series search reads at most 64"),
            None,
        ),
        (
            "501 terms",
            terms(501),
            Some("the query has 501 terms; at most 500 are read (term 501 is at column 1001)"),
            Some("the query has 501 terms; at most 500 are read (term 501 is at column 1001)"),
        ),
        (
            "100,000 terms",
            terms(100_000),
            Some("the query is 199999 bytes long; at most 65536 are read"),
            Some("the query is 199999 bytes long; at most 65536 are read"),
        ),
    ]
}

/// The line a refusal carries: the page's message, the API's `detail`, b4's line.
fn refusal_line(r: &Reply) -> String {
    let text = r.text();
    if r.content_type.starts_with("application/json") {
        let v: serde_json::Value = serde_json::from_str(&text).expect("a JSON error");
        v["detail"].as_str().expect("a detail").to_string()
    } else if r.content_type.starts_with("text/html") {
        // The list page shows the message above the search box.
        let start = text.find("Bad query: ").expect("the page names the bad query");
        text[start..].split('<').next().unwrap_or("").to_string()
    } else {
        text.trim_end_matches('\n').to_string()
    }
}

async fn every_query_route_refuses_queries_past_the_limits(store: Store) {
    let pg = store.target().starts_with("postgres");
    common::add_projects(&store).await;
    ingest(&store, long_thread(3)).await;
    let state = AppState::new(store, WebConfig::default());
    let mut checked = 0;
    for (what, q, series_says, inbox_says) in hostile_queries() {
        for &(method, before, in_body, reads) in QUERY_ROUTES {
            let value = form_value(&q);
            let (uri, body) = if in_body {
                (before.to_string(), Some(format!("x=m&q={value}")))
            } else {
                (format!("{before}q={value}"), None)
            };
            if uri.len() > usize::from(u16::MAX) - 1 {
                // No HTTP request carries a URI this long (`http` refuses to build one, and
                // hyper answers 414 before routing: crates/cli/tests/hostile.rs), so the
                // longest queries reach the GET routes no further than that.
                assert!(Request::builder().uri(uri.as_str()).body(()).is_err(), "{what}");
                continue;
            }
            let r = send(&state, method, &uri, body).await;
            let route = format!("{method} {}", short(before));
            assert!(!r.status.is_server_error(), "{route} with {what}: {} {}", r.status, r.text());
            assert_safe(&route, &r);
            let says = match reads {
                Reads::SeriesSearch => series_says,
                Reads::Inbox => inbox_says,
                Reads::PatchworkWords => {
                    // Words matched as text: found or not, or refused by the database as too
                    // large for it (SQLite's expression depth and LIKE pattern length).
                    if r.status == StatusCode::BAD_REQUEST {
                        let line = refusal_line(&r);
                        assert!(
                            line.starts_with("q: the query is too large for the database while ")
                                && !line.contains('\n'),
                            "{route} with {what}: {line}"
                        );
                    } else {
                        assert_eq!(r.status, StatusCode::OK, "{route} with {what}: {}", r.text());
                    }
                    checked += 1;
                    continue;
                }
            };
            match says {
                Some(says) => {
                    assert_eq!(
                        r.status,
                        StatusCode::BAD_REQUEST,
                        "{route} with {what}: {}",
                        r.text()
                    );
                    let line = refusal_line(&r);
                    assert!(
                        line.contains(says) && !line.contains('\n') && line.len() < 300,
                        "{route} with {what}: {line:?} does not say {says:?}"
                    );
                }
                // Read and run: the mbox of what matches, or public-inbox's 404 for nothing.
                None => assert!(
                    matches!(r.status, StatusCode::OK | StatusCode::NOT_FOUND),
                    "{route} with {what}: {} {}",
                    r.status,
                    r.text()
                ),
            }
            checked += 1;
        }
        // The same server goes on serving pages and searches.
        for uri in
            ["/healthz", "/ltp/", "/ltp/t-0%40example.com/T/", "/api/v1/search?q=long+thread"]
        {
            let r = send(&state, "GET", uri, None).await;
            assert_eq!(r.status, StatusCode::OK, "GET {uri} after {what}: {}", r.text());
        }
    }
    // A term the series search does not have, and a query the database refuses as too large
    // for it (SQLite's LIKE patterns stop at 50,000 bytes; PostgreSQL runs it): 400s naming
    // why, where the JSON API answered 503 "database not available".
    let long_from = format!("from:{}", "x".repeat(60_000));
    for (q, says) in [
        (
            "dfa:x",
            "`dfa:`/`dfb:` (diff lines, and `dfctx:` `dfhh:` `dfpre:` `dfpost:`) are for the public-inbox search; the series search has `file:`",
        ),
        (
            long_from.as_str(),
            "the query is too large for the database while searching series: LIKE or GLOB pattern too complex",
        ),
    ] {
        for before in ["/api/v1/search?", "/api/v1/projects/ltp/series?", "/ltp/?"] {
            let r = send(&state, "GET", &format!("{before}q={}", form_value(q)), None).await;
            let q = &q[..q.len().min(20)];
            if pg && q.starts_with("from:") {
                assert_eq!(r.status, StatusCode::OK, "{before} {q}: {}", r.text());
                continue;
            }
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{before} {q}: {}", r.text());
            // The APIs name the parameter; the page shows the line above its search box.
            let line = refusal_line(&r);
            let want = if before == "/ltp/?" {
                format!("Bad query: {says}")
            } else {
                format!("q: {says}")
            };
            assert_eq!(line, want, "{before} {q}");
        }
    }
    // 14 routes x 7 queries, less the GET routes' two queries past a URI's length.
    assert_eq!(checked, 14 * 7 - 11 * 2, "requests that reached the router");
}

quire_store::both_backends!(
    queries_past_the_limits_get_400_in_every_route_and_the_server_serves_on,
    |store| { every_query_route_refuses_queries_past_the_limits(store) }
);

/// A patch and `n - 1` replies, each answering the one before (the deepest thread there is).
fn long_thread(n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    out.push(
        "From: A <a@example.com>\r\nTo: ltp@lists.linux.it\r\nSubject: [PATCH] long thread\r\nMessage-ID: <t-0@example.com>\r\nDate: Mon, 2 Mar 2020 10:00:00 +0000\r\n\r\nbody\r\n---\r\ndiff --git a/x.c b/x.c\r\n--- a/x.c\r\n+++ b/x.c\r\n@@ -1 +1,2 @@\r\n a\r\n+b\r\n"
            .as_bytes()
            .to_vec(),
    );
    for i in 1..n {
        out.push(
            format!(
                "From: R{i} <r{i}@example.com>\r\nTo: ltp@lists.linux.it\r\nSubject: Re: [PATCH] long thread\r\nMessage-ID: <t-{i}@example.com>\r\nIn-Reply-To: <t-{}@example.com>\r\nReferences: <t-0@example.com> <t-{}@example.com>\r\nDate: Mon, 2 Mar 2020 10:{:02}:{:02} +0000\r\n\r\n> quoted\r\nreply {i}\r\n",
                i - 1,
                i - 1,
                (i / 60) % 60,
                i % 60
            )
            .into_bytes(),
        );
    }
    out
}

async fn a_10000_message_thread_renders(store: Store) {
    common::add_projects(&store).await;
    ingest(&store, long_thread(10_000)).await;
    let state = AppState::new(store, WebConfig::default());
    let last = get(&state, "/ltp/t-9999%40example.com/").await;
    assert_eq!(
        (last.status, last.location.as_deref()),
        (StatusCode::FOUND, Some("/ltp/t-0@example.com/#m-t-9999@example.com")),
        "the last reply points into its series"
    );
    for uri in [
        "/ltp/t-0%40example.com/",
        "/ltp/t-0%40example.com/T/",
        "/all/t-9999%40example.com/",
        "/ltp/t-0%40example.com/t.mbox.gz",
        "/ltp/t-0%40example.com/mbox",
        "/ltp/",
    ] {
        let started = Instant::now();
        let r = get(&state, uri).await;
        assert!(
            r.status == StatusCode::OK || r.status == StatusCode::FOUND,
            "GET {uri}: {}",
            &r.text()[..r.text().len().min(300)]
        );
        eprintln!("GET {uri}: {} bytes in {:?}", r.body.len(), started.elapsed());
    }
}

quire_store::both_backends!(a_thread_of_10000_messages_renders, |store| {
    a_10000_message_thread_renders(store)
});

/// A message whose MIME parts nest `depth` deep, with a text part at the bottom.
fn nested_mime(depth: usize) -> Vec<u8> {
    let mut out = String::from(
        "From: N <n@example.com>\r\nTo: ltp@lists.linux.it\r\nSubject: nested MIME\r\nMessage-ID: <nested@example.com>\r\nDate: Mon, 2 Mar 2020 10:00:00 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n",
    );
    for i in 1..depth {
        out.push_str(&format!(
            "--b{}\r\nContent-Type: multipart/mixed; boundary=\"b{i}\"\r\n\r\n",
            i - 1
        ));
    }
    out.push_str(&format!(
        "--b{}\r\nContent-Type: text/plain\r\n\r\n<script>alert('deep')</script> the bottom\r\n",
        depth - 1
    ));
    for i in (0..depth).rev() {
        out.push_str(&format!("--b{i}--\r\n"));
    }
    out.into_bytes()
}

async fn deeply_nested_mime_renders(store: Store) {
    common::add_projects(&store).await;
    let raw = nested_mime(10_000);
    // Parsed on a thread with the default 2 MB stack: recursion per level would overflow.
    let parse_raw = raw.clone();
    let incoming = std::thread::spawn(move || Incoming::parse(parse_raw, Some("ltp".into())))
        .join()
        .expect("parsing 10,000 nested parts overflowed the stack");
    store.ingest(vec![incoming]).await.expect("ingest");
    let state = AppState::new(store, WebConfig::default());
    let r = get(&state, "/ltp/nested%40example.com/").await;
    assert_eq!(r.status, StatusCode::OK, "{}", &r.text()[..r.text().len().min(300)]);
    assert_safe("/ltp/nested%40example.com/", &r);
    let r = get(&state, "/ltp/nested%40example.com/raw").await;
    assert!(r.status == StatusCode::OK && r.body == raw, "the raw bytes are kept whole");
}

quire_store::both_backends!(mime_nested_10000_deep_renders, |store| deeply_nested_mime_renders(
    store
));
