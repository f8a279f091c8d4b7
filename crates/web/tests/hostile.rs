//! Hostile input against the web side, on SQLite and on PostgreSQL: markup in every field of a
//! mail (shown as text on every page), hostile Message-IDs in every route that takes one (404 or
//! 400, never a 500, never a path escape), a 10,000-message thread and MIME nested 10,000 deep
//! (pages render, no stack overflow), malformed queries (400 with one line).

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
    let req = Request::builder().uri(uri).body(Body::empty()).expect("request");
    let resp = router(state.clone()).oneshot(req).await.expect("infallible");
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
