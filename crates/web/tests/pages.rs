//! Every page and download over HTTP (the router driven with `oneshot`), on SQLite and on
//! PostgreSQL, with a store filled from real mail: Patchwork's series fixtures and a slice of
//! LTP's list.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use quire_store::{ApplyResult, ApplyState, CheckState, NewCheck, Store};
use quire_web::{AppState, ProjectWebConfig, WebConfig, router};
use tower::ServiceExt;

/// Patchwork's base-cover-letter series (v1 of revision-basic): a cover letter and 2 patches.
const V1_HEAD: &str = "1473632524-8585-1-git-send-email-stephenfinucane@gmail.com";
const V1_PATCH2: &str = "1473632524-8585-3-git-send-email-stephenfinucane@gmail.com";
const V2_HEAD: &str = "1473632795-9971-1-git-send-email-stephenfinucane@gmail.com";

struct Reply {
    status: StatusCode,
    location: Option<String>,
    content_type: String,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The page's text without tags and with entities decoded, as a reader sees it.
    fn seen(&self) -> String {
        let html = self.text();
        let mut out = String::with_capacity(html.len());
        let mut in_tag = false;
        for c in html.chars() {
            match c {
                '<' => in_tag = true,
                '>' if in_tag => in_tag = false,
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        out.replace("&#60;", "<")
            .replace("&#62;", ">")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#34;", "\"")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&#43;", "+")
            .replace("&amp;", "&")
            .replace("&#38;", "&")
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
    let body = resp.into_body().collect().await.expect("body").to_bytes().to_vec();
    Reply { status, location, content_type, body }
}

async fn ok(state: &AppState, uri: &str) -> Reply {
    let r = get(state, uri).await;
    assert_eq!(r.status, StatusCode::OK, "GET {uri}: {}", r.seen());
    r
}

fn state_for(store: Store) -> AppState {
    let mut config =
        WebConfig { base_url: "https://quire.example.org".into(), ..Default::default() };
    config.projects.insert(
        "patchwork".into(),
        ProjectWebConfig {
            mirror_url: Some("https://git.example.org/patchwork.git".into()),
            tag_prefix: None,
        },
    );
    AppState::new(store, config)
}

async fn pages_on_real_mail(store: Store) {
    common::fill_with_real_mail(&store).await;
    a_server_just_started_renders_its_newest_pages(&store).await;
    let state = state_for(store.clone());
    front_page_lists_projects_with_counts(&state).await;
    series_list_shows_revisions_and_badges(&state).await;
    series_page_shows_title_posted_diffstat_and_revisions(&state).await;
    a_patch_of_a_series_redirects_to_the_head_with_its_anchor(&state).await;
    interdiff_between_revisions(&state).await;
    downloads_mbox_raw_patch(&state).await;
    trailers_per_patch_from_real_reviews(&state).await;
    apply_state_log_fetch_line_and_checks(&store, &state).await;
    a_kept_series_page_changes_with_what_it_shows(&store, &state).await;
    kept_list_and_search_pages_change_with_the_project(&store, &state).await;
    atom_feed_is_valid_atom(&state).await;
    ltp_list_paginates_and_searches(&state).await;
    ltp_reply_outside_a_series_gets_a_message_page(&store, &state).await;
    bad_input_gets_404_or_400_never_500(&state).await;
}

async fn bad_input_on_a_fresh_store(store: Store) {
    common::add_projects(&store).await;
    let state = state_for(store);
    bad_input_gets_404_or_400_never_500(&state).await;
    health_check_answers_ok(&state).await;
}

/// `/healthz` is the process's own answer, not a project named "healthz".
async fn health_check_answers_ok(state: &AppState) {
    let r = ok(state, "/healthz").await;
    assert_eq!(r.body, b"ok");
}

async fn front_page_lists_projects_with_counts(state: &AppState) {
    let seen = ok(state, "/").await.seen();
    assert!(seen.contains("patchwork"), "{seen}");
    assert!(seen.contains("ltp"), "{seen}");
}

async fn series_list_shows_revisions_and_badges(state: &AppState) {
    let r = ok(state, "/patchwork/").await;
    let seen = r.seen();
    assert!(seen.contains("[PATCH 0/2] A sample series"), "{seen}");
    assert!(seen.contains("[PATCH v2 0/2] A sample series"), "{seen}");
    assert!(seen.contains("obsolete"), "v1 is superseded by v2: {seen}");
    assert!(seen.contains("complete"), "{seen}");
    assert!(r.text().contains(&format!("href=\"/patchwork/{V1_HEAD}/\"")));
}

async fn series_page_shows_title_posted_diffstat_and_revisions(state: &AppState) {
    let r = ok(state, &format!("/patchwork/{V1_HEAD}/")).await;
    let seen = r.seen();
    assert!(seen.contains("[PATCH 0/2] A sample series"), "{seen}");
    assert!(seen.contains("Stephen Finucane posted 2 patches"), "{seen}");
    // The cover letter's stat, as git computed it on the cumulative diff.
    assert!(seen.contains(" test.md  | 8 ++++++++\n test.txt | 1 -\n 2 files changed, 8 insertions(+), 1 deletion(-)"), "{seen}");
    assert!(seen.contains("v1") && seen.contains("v2"), "{seen}");
    assert!(
        r.text().contains(&format!("/patchwork/{V1_HEAD}/interdiff/{V2_HEAD}")),
        "interdiff link"
    );
    assert!(seen.contains("Not applied yet."), "{seen}");
    // The thread: every message, the patches as coloured diffs.
    assert!(
        seen.contains("[PATCH 1/2] test: Add some lorem ipsum")
            && seen.contains("[PATCH 2/2] test: Convert to Markdown")
    );
    assert!(r.text().contains("<span class=\"add\">+"), "diff lines are classed");
    assert!(r.text().contains("<span class=\"hunk\">@@ "), "hunks are classed");
    // %40 for @ reaches the same page.
    let encoded = ok(state, &format!("/patchwork/{}/", V1_HEAD.replace('@', "%40"))).await;
    assert!(encoded.seen().contains("posted 2 patches"));
}

async fn a_patch_of_a_series_redirects_to_the_head_with_its_anchor(state: &AppState) {
    let r = get(state, &format!("/patchwork/{V1_PATCH2}/")).await;
    assert_eq!(r.status, StatusCode::FOUND);
    assert_eq!(
        r.location.as_deref(),
        Some(format!("/patchwork/{V1_HEAD}/#m-{V1_PATCH2}").as_str())
    );
    let page =
        ok(state, r.location.as_deref().unwrap_or("/").split('#').next().unwrap_or("/")).await;
    assert!(
        page.text().contains(&format!("id=\"m-{V1_PATCH2}\"")),
        "the anchor exists on the page"
    );
}

async fn interdiff_between_revisions(state: &AppState) {
    let r = ok(state, &format!("/patchwork/{V1_HEAD}/interdiff/{V2_HEAD}")).await;
    let seen = r.seen();
    assert!(seen.contains("Interdiff from v1 to v2"), "{seen}");
    assert!(seen.contains("--- v1\n+++ v2") || seen.contains("carry the same patches"), "{seen}");
    let missing = get(state, &format!("/patchwork/{V1_HEAD}/interdiff/nope@example.com")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

async fn downloads_mbox_raw_patch(state: &AppState) {
    let mbox = ok(state, &format!("/patchwork/{V1_HEAD}/mbox")).await;
    assert_eq!(mbox.content_type, "application/mbox");
    let text = mbox.text();
    assert!(text.starts_with("From "), "{text}");
    let p1 = text.find("Subject: [PATCH 1/2] test: Add some lorem ipsum").expect("patch 1");
    let p2 = text.find("Subject: [PATCH 2/2] test: Convert to Markdown").expect("patch 2");
    assert!(p1 < p2, "patches in order");
    assert!(!text.contains("Subject: [PATCH 0/2]"), "the cover letter is not a patch");
    let am = state
        .store
        .am_mbox(V1_HEAD, false, &Default::default())
        .await
        .expect("am")
        .expect("a series");
    assert_eq!(mbox.body, am.mbox, "the same bytes as `quire am`");

    let raw = ok(state, &format!("/patchwork/{V1_PATCH2}/raw")).await;
    assert_eq!(raw.content_type, "text/plain; charset=utf-8");
    let original = common::mbox_messages(
        &common::shared("corpus/patchwork-mail/series/base-cover-letter.mbox"),
        3,
    )
    .into_iter()
    .find(|m| String::from_utf8_lossy(m).contains(&format!("Message-ID: <{V1_PATCH2}>")))
    .expect("the patch in the fixture");
    assert_eq!(raw.body, original, "raw is the bytes as received");

    let patch = ok(state, &format!("/patchwork/{V1_PATCH2}/patch")).await;
    assert!(patch.text().contains("Subject: [PATCH 2/2] test: Convert to Markdown"));
    assert!(!patch.text().contains("lorem ipsum\n"), "only that patch");
    let not_a_patch = get(state, &format!("/patchwork/{V1_HEAD}/patch")).await;
    assert_eq!(not_a_patch.status, StatusCode::NOT_FOUND);
}

async fn trailers_per_patch_from_real_reviews(state: &AppState) {
    // base-different-versions: patches carrying Vivien Didelot's Reviewed-by.
    let r = ok(state, "/patchwork/").await;
    let text = r.text();
    let needle = "Multi-CPU ground work";
    let at = text.find(needle).expect("the dsa series is listed");
    let href_start = text[..at].rfind("href=\"").expect("its link") + 6;
    let href_end = href_start + text[href_start..].find('"').expect("link end");
    let page = ok(state, &text[href_start..href_end]).await;
    let seen = page.seen();
    assert!(
        seen.contains("Reviewed-by: Vivien Didelot <vivien.didelot@savoirfairelinux.com>"),
        "{seen}"
    );
}

async fn apply_state_log_fetch_line_and_checks(store: &Store, state: &AppState) {
    let log_url = format!("/patchwork/{V2_HEAD}/apply.log");
    assert_eq!(
        get(state, &log_url).await.status,
        StatusCode::NOT_FOUND,
        "no apply log before an apply"
    );
    let failed = ApplyResult {
        state: ApplyState::Failed,
        base: Some("abc123".into()),
        result_commit: None,
        tree_url: None,
        log: Some("Applying: test: Add some lorem ipsum\nerror: patch failed: test.txt:1\n".into()),
        failed_patch: Some(1),
        updated: 1_700_000_000,
    };
    store.set_apply_result(V2_HEAD, &failed).await.expect("record apply");
    let seen = ok(state, &format!("/patchwork/{V2_HEAD}/")).await.seen();
    assert!(seen.contains("Failed to apply (apply log)"), "{seen}");
    assert!(seen.contains("error: patch failed: test.txt:1"), "{seen}");
    assert!(!seen.contains("git fetch"), "no fetch line for a failed apply");
    assert!(ok(state, &log_url).await.text().contains("error: patch failed"));

    let applied = ApplyResult {
        state: ApplyState::Applied,
        tree_url: Some("https://git.example.org/patchwork.git/log/?h=quire/x".into()),
        log: Some("Applying: ok\n".into()),
        failed_patch: None,
        ..failed
    };
    store.set_apply_result(V2_HEAD, &applied).await.expect("record apply");
    store
        .add_check(
            V2_HEAD,
            &NewCheck {
                name: "checkpatch".into(),
                state: CheckState::Fail,
                url: Some("https://ci.example.org/1".into()),
                description: Some("2 errors".into()),
                log: None,
            },
        )
        .await
        .expect("record check");
    let build = store
        .add_check(
            V2_HEAD,
            &NewCheck {
                name: "build".into(),
                state: CheckState::Pass,
                url: None,
                description: None,
                log: Some("make: ok\n".into()),
            },
        )
        .await
        .expect("record check");
    let log = ok(state, &format!("/patchwork/{V2_HEAD}/checks/{build}")).await;
    assert_eq!(log.text(), "make: ok\n");
    assert_eq!(
        get(state, &format!("/patchwork/{V2_HEAD}/checks/99999")).await.status,
        StatusCode::NOT_FOUND
    );
    let r = ok(state, &format!("/patchwork/{V2_HEAD}/")).await;
    let seen = r.seen();
    assert!(seen.contains("Patches applied successfully (tree, apply log)"), "{seen}");
    assert!(
        r.text().contains(&format!(
            "value=\"git fetch https://git.example.org/patchwork.git tags/quire/{V2_HEAD}\""
        )),
        "{seen}"
    );
    assert!(
        seen.contains("checkpatch") && seen.contains("2 errors") && seen.contains("checks fail"),
        "{seen}"
    );
    assert!(
        r.text().contains(&format!("href=\"/patchwork/{V2_HEAD}/checks/{build}\">build</a>")),
        "a check without URL links its log"
    );
}

async fn get_with(
    state: &AppState,
    uri: &str,
    name: &str,
    value: &str,
) -> (Reply, Option<String>, Option<String>) {
    let req = Request::builder().uri(uri).header(name, value).body(Body::empty()).expect("request");
    let resp = router(state.clone()).oneshot(req).await.expect("infallible");
    let kept = resp
        .headers()
        .get(quire_web::page_cache::KEPT_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let encoding = resp
        .headers()
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let status = resp.status();
    let content_type = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = resp.into_body().collect().await.expect("body").to_bytes().to_vec();
    (Reply { status, location: None, content_type, body }, kept, encoding)
}

/// Series pages are kept for anonymous visitors (crate page_cache) and rendered again as soon
/// as anything they show is written: a check, a patch state, a review reply, an apply result.
async fn a_kept_series_page_changes_with_what_it_shows(store: &Store, state: &AppState) {
    let url = format!("/patchwork/{V1_HEAD}/");
    let kept = |state: &AppState| {
        let url = url.clone();
        let state = state.clone();
        async move { get_with(&state, &url, "accept", "text/html").await }
    };
    let first = kept(state).await;
    let second = kept(state).await;
    assert_eq!(second.0.status, StatusCode::OK);
    assert_eq!(second.1.as_deref(), Some("kept"), "the second request is served from the cache");
    assert_eq!(first.0.body, second.0.body);
    assert!(second.0.content_type.starts_with("text/html"));

    // Gzip for a client that takes it, the same page inside.
    let (gz, hit, encoding) = get_with(state, &url, "accept-encoding", "gzip, br").await;
    assert_eq!((hit.as_deref(), encoding.as_deref()), (Some("kept"), Some("gzip")));
    let mut html = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz.body.as_slice()), &mut html)
        .expect("gzip");
    assert_eq!(html, first.0.body);

    // A check on one of its patches.
    store
        .add_check(
            V1_PATCH2,
            &NewCheck {
                name: "cache-check".into(),
                state: CheckState::Warning,
                url: None,
                description: Some("seen at once".into()),
                log: None,
            },
        )
        .await
        .expect("record check");
    let (r, hit, _) = kept(state).await;
    assert_eq!(hit, None, "a new check renders the page again");
    assert!(r.seen().contains("seen at once"), "{}", r.seen());
    assert_eq!(kept(state).await.1.as_deref(), Some("kept"));

    // A patch's state.
    let user = store.add_user("cachemaint", "cachemaint@example.org", "").await.expect("user");
    let patches = store
        .patches(&quire_store::PatchFilter {
            project: Some("patchwork".into()),
            per_page: 1000,
            ..Default::default()
        })
        .await
        .expect("patches");
    let patch = patches.items.iter().find(|p| p.message_id == V1_PATCH2).expect("patch 2 of v1");
    let change =
        quire_store::PatchUpdate { state: Some("changes-requested".into()), ..Default::default() };
    store.update_patch(patch.id, &change, &user).await.expect("update").expect("patch");
    let (r, hit, _) = kept(state).await;
    assert_eq!(hit, None, "a new patch state renders the page again");
    assert!(r.text().contains("state-changes-requested"), "{}", r.seen());

    // A review reply with a trailer.
    let reply = format!(
        "From: Kate Cache <kate@example.org>\nTo: patchwork@lists.ozlabs.org\nSubject: Re: [PATCH 2/2] test: Convert to Python 3\n\
         Date: Mon, 12 Sep 2016 11:00:00 +0100\nMessage-ID: <cache-review@example.org>\nIn-Reply-To: <{V1_PATCH2}>\n\
         References: <{V1_HEAD}> <{V1_PATCH2}>\n\nLooks right.\n\nReviewed-by: Kate Cache <kate@example.org>\n"
    );
    common::ingest(store, vec![reply.into_bytes()], Some("patchwork")).await;
    let (r, hit, _) = kept(state).await;
    assert_eq!(hit, None, "a new reply renders the page again");
    assert!(r.seen().contains("Reviewed-by: Kate Cache"), "{}", r.seen());

    // An apply result.
    let applied = ApplyResult {
        state: ApplyState::Failed,
        base: None,
        result_commit: None,
        tree_url: None,
        log: Some("cache: does not apply\n".into()),
        failed_patch: Some(2),
        updated: 1_700_000_001,
    };
    store.set_apply_result(V1_HEAD, &applied).await.expect("record apply");
    let (r, hit, _) = kept(state).await;
    assert_eq!(hit, None, "an apply result renders the page again");
    assert!(r.seen().contains("cache: does not apply"), "{}", r.seen());

    // A visitor with a session cookie (here not a valid one) never gets a kept page.
    for _ in 0..2 {
        let (r, hit, _) = get_with(state, &url, "cookie", "quire_session=not-a-session").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(hit, None);
    }
}

/// At start the server renders each project's first list page and its newest series pages,
/// round robin over the projects, and `/readyz` says "not ready" until it is done: the first
/// visitors of a server just started get kept pages.
async fn a_server_just_started_renders_its_newest_pages(store: &Store) {
    use quire_web::warm::{self, WarmOptions};
    let state = state_for(store.clone());
    let options = WarmOptions { pages: 3, ..Default::default() };
    warm::begin(&state, options);
    let r = get(&state, "/readyz").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.text().contains("warming up"), "{}", r.text());

    let done = warm::warm(state.clone(), options).await;
    // Three projects (io-uring has no mail here), three series pages.
    assert_eq!((done.lists, done.series), (3, 3), "{done:?}");
    assert_eq!(get(&state, "/readyz").await.status, StatusCode::OK);

    let newest = |project: &'static str| async move {
        let page = store.series_list(project, &Default::default()).await.expect("list");
        page.items.into_iter().map(|s| s.message_id).collect::<Vec<_>>()
    };
    let (pw, ltp) = (newest("patchwork").await, newest("ltp").await);
    assert!(pw.len() >= 2 && ltp.len() >= 2);
    for url in [
        "/patchwork/".to_string(),
        "/ltp/".into(),
        format!("/patchwork/{}/", pw[0]),
        format!("/ltp/{}/", ltp[0]),
        format!("/ltp/{}/", ltp[1]),
    ] {
        let (r, kept, _) = get_with(&state, &url, "accept", "text/html").await;
        assert_eq!(
            (r.status, kept.as_deref()),
            (StatusCode::OK, Some("kept")),
            "{url} was rendered at start"
        );
    }
    let url = format!("/patchwork/{}/", pw[1]);
    assert_eq!(
        get_with(&state, &url, "accept", "text/html").await.1,
        None,
        "{url}: the fourth page is past the warm-up"
    );

    // No warm-up: ready at once.
    let state = state_for(store.clone());
    let none = WarmOptions { pages: 0, ..Default::default() };
    warm::begin(&state, none);
    assert_eq!(get(&state, "/readyz").await.status, StatusCode::OK);
    assert_eq!(warm::warm(state.clone(), none).await.series, 0);
}

/// The series list and search pages are kept for anonymous visitors too, under the project's
/// stamp: a new series or an apply result shows at once.
async fn kept_list_and_search_pages_change_with_the_project(store: &Store, state: &AppState) {
    for url in ["/patchwork/", "/patchwork/?page=1&q=python"] {
        let first = get_with(state, url, "accept", "text/html").await;
        let second = get_with(state, url, "accept", "text/html").await;
        assert_eq!(second.0.status, StatusCode::OK, "{url}");
        assert_eq!(
            second.1.as_deref(),
            Some("kept"),
            "{url}: the second request is served from the cache"
        );
        assert_eq!(first.0.body, second.0.body, "{url}");
    }
    // Another page or another query is another page.
    assert_eq!(
        get_with(state, "/patchwork/?page=1&q=python3", "accept", "text/html").await.1,
        None
    );
    // A bad query is answered (400) but never kept.
    for _ in 0..2 {
        let (r, hit, _) = get_with(state, "/patchwork/?q=%28unclosed", "accept", "text/html").await;
        assert_eq!((r.status, hit), (StatusCode::BAD_REQUEST, None));
    }

    // A new series of the project.
    let patch = "From: Lena List <lena@example.org>\nTo: patchwork@lists.ozlabs.org\n\
                 Subject: [PATCH] docs: python cache of the list page\nDate: Mon, 12 Sep 2016 12:00:00 +0100\n\
                 Message-ID: <list-cache@example.org>\n\nText.\n\n---\n a | 1 +\n 1 file changed\n\n\
                 diff --git a/a b/a\n--- a/a\n+++ b/a\n@@ -0,0 +1 @@\n+a\n";
    common::ingest(store, vec![patch.as_bytes().to_vec()], Some("patchwork")).await;
    for url in ["/patchwork/", "/patchwork/?page=1&q=python"] {
        let (r, hit, _) = get_with(state, url, "accept", "text/html").await;
        assert_eq!(hit, None, "{url}: a new series renders the page again");
        assert!(r.seen().contains("python cache of the list page"), "{url}: {}", r.seen());
    }

    // An apply result of it: the list line says so at once, not after the line cache's delay.
    let applied = ApplyResult {
        state: ApplyState::Applied,
        base: None,
        result_commit: None,
        tree_url: None,
        log: Some("Applying: ok\n".into()),
        failed_patch: None,
        updated: 1_700_000_002,
    };
    let before = get_with(state, "/patchwork/", "accept", "text/html").await;
    assert_eq!(before.1.as_deref(), Some("kept"));
    store.set_apply_result("list-cache@example.org", &applied).await.expect("record apply");
    let (after, hit, _) = get_with(state, "/patchwork/", "accept", "text/html").await;
    assert_eq!(hit, None, "an apply result renders the list again");
    assert_ne!(after.body, before.0.body, "the list line shows the apply result");
}

async fn atom_feed_is_valid_atom(state: &AppState) {
    let r = ok(state, "/patchwork/new.atom").await;
    assert!(r.content_type.starts_with("application/atom+xml"));
    let text = r.text();
    let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("not XML: {e}\n{text}"));
    let feed = doc.root_element();
    assert_eq!(feed.tag_name().name(), "feed");
    assert_eq!(feed.tag_name().namespace(), Some("http://www.w3.org/2005/Atom"));
    for name in ["id", "title", "updated"] {
        assert!(feed.children().any(|c| c.tag_name().name() == name), "feed has {name}");
    }
    let entries: Vec<_> = feed.children().filter(|c| c.tag_name().name() == "entry").collect();
    assert!(!entries.is_empty());
    for e in &entries {
        for name in ["id", "title", "updated", "link", "author"] {
            assert!(e.children().any(|c| c.tag_name().name() == name), "entry has {name}");
        }
        let author = e.children().find(|c| c.tag_name().name() == "author").expect("author");
        assert!(
            author
                .children()
                .any(|c| c.tag_name().name() == "name" && c.text().is_some_and(|t| !t.is_empty()))
        );
    }
    assert!(text.contains(&format!("<link rel=\"alternate\" type=\"text/html\" href=\"https://quire.example.org/patchwork/{V2_HEAD}/\"/>")));
}

async fn ltp_list_paginates_and_searches(state: &AppState) {
    let first = ok(state, "/ltp/").await;
    assert!(
        first.text().contains("rel=\"next\" href=\"/ltp/?page=2\""),
        "1500 LTP mails make more than one page"
    );
    let second = ok(state, "/ltp/?page=2").await;
    assert!(second.text().contains("rel=\"prev\""));
    assert_ne!(first.text(), second.text());
    let q = ok(state, "/ltp/?q=subject:syscalls").await;
    let seen = q.seen();
    let html = q.text();
    let titles: Vec<&str> = html.split("<td class=\"title\"><a href=\"").skip(1).collect();
    // subject: matches the subjects of a series' patches too, not only its title: the exact
    // rows are checked against the store in tests/search.rs.
    assert!(!titles.is_empty(), "{seen}");
    let none = ok(state, "/ltp/?q=zzzqqqnotaword").await;
    assert!(none.seen().contains("No series matches “zzzqqqnotaword”."));
    // The query language (docs/search.md); a bad query is a 400 showing why, in the page.
    let bad = get(state, "/ltp/?q=from%3A%20is%3Arfc").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.seen());
    assert!(
        bad.seen().contains("Bad query: expected a value after `from:` at column 6"),
        "{}",
        bad.seen()
    );
    assert!(
        bad.text().contains("name=\"q\" value=\"from: is:rfc\""),
        "the search box keeps the query"
    );
    let unknown = get(state, "/ltp/?q=is%3Adone").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(
        unknown.seen().contains("unknown `is:done` at column 4: expected one of complete"),
        "{}",
        unknown.seen()
    );
    let rfc = ok(state, "/ltp/?q=is%3Arfc%20-subject%3Asyscalls").await.text();
    let rows = rfc.matches("<td class=\"title\">").count();
    assert!(rows > 0, "{rfc}");
}

async fn ltp_reply_outside_a_series_gets_a_message_page(store: &Store, state: &AppState) {
    for raw in common::mbox_messages(&common::shared("corpus/ltp-2019-2020.4k.mbox.gz"), 1500) {
        let parsed = quire_mail::parse(&raw);
        let Ok(Some(m)) = store.message(&parsed.message_id).await else { continue };
        if m.series_head.is_some() || m.subject.is_empty() || !m.projects.iter().any(|p| p == "ltp")
        {
            continue;
        }
        let url = quire_web::url::message_url("ltp", &m.message_id);
        let r = ok(state, &url).await;
        assert!(r.seen().contains(m.subject.trim()), "{url}");
        let raw_page = ok(state, &format!("{url}raw")).await;
        assert_eq!(raw_page.body, raw);
        return;
    }
    panic!("no LTP message outside a series among the first 1500");
}

async fn bad_input_gets_404_or_400_never_500(state: &AppState) {
    let long = "x".repeat(10 * 1024);
    let cases = [
        ("/nope/".to_string(), StatusCode::NOT_FOUND),
        ("/patchwork/unknown@example.com/".to_string(), StatusCode::NOT_FOUND),
        ("/patchwork/a%2Fb/".to_string(), StatusCode::NOT_FOUND),
        ("/patchwork/..%2F..%2Fetc%2Fpasswd/".to_string(), StatusCode::NOT_FOUND),
        ("/patchwork/../../etc/passwd".to_string(), StatusCode::NOT_FOUND),
        ("/patchwork/%00/".to_string(), StatusCode::NOT_FOUND),
        ("/patchwork/%00/raw".to_string(), StatusCode::NOT_FOUND),
        (format!("/patchwork/{long}/"), StatusCode::NOT_FOUND),
        (format!("/patchwork/{long}/mbox"), StatusCode::NOT_FOUND),
        ("/patchwork/%FF%FE/".to_string(), StatusCode::BAD_REQUEST),
        ("/patchwork/?page=abc".to_string(), StatusCode::BAD_REQUEST),
        ("/patchwork/?page=0".to_string(), StatusCode::BAD_REQUEST),
        ("/patchwork/?page=99999".to_string(), StatusCode::OK),
        (format!("/patchwork/?q={long}"), StatusCode::OK),
        ("/patchwork/%3Cscript%3E/".to_string(), StatusCode::NOT_FOUND),
        (format!("/patchwork/{V1_HEAD}/interdiff/%00"), StatusCode::NOT_FOUND),
        (format!("/nope/{V1_HEAD}/"), StatusCode::NOT_FOUND),
    ];
    for (uri, want) in cases {
        let r = get(state, &uri).await;
        assert_eq!(r.status, want, "GET {}: {}", &uri[..uri.len().min(80)], r.seen());
        if want == StatusCode::NOT_FOUND {
            assert!(r.seen().contains("Not found"), "a 404 page says so");
        }
        assert!(!r.text().contains("<script>"), "nothing from the URL is echoed as markup");
    }
    let unknown = get(state, "/patchwork/unknown@example.com/").await.seen();
    assert!(
        unknown.contains("No message <unknown@example.com> in project patchwork."),
        "{unknown}"
    );
}

/// A mail whose subject, sender name and body carry markup.
fn hostile_mail() -> Vec<u8> {
    [
        "From: \"<script>alert('name')</script>\" <evil@example.com>",
        "To: ltp@lists.linux.it",
        "List-Id: <ltp.lists.linux.it>",
        "Subject: [PATCH] <script>alert('subject')</script> <b>bold</b>",
        "Message-ID: <hostile-1@example.com>",
        "Date: Mon, 2 Mar 2020 10:00:00 +0000",
        "",
        "<img src=x onerror=alert('body')>",
        "> <script>alert('quote')</script>",
        "",
        "Signed-off-by: <script>x</script> <evil@example.com>",
        "---",
        " x.c | 1 +",
        " 1 file changed, 1 insertion(+)",
        "",
        "diff --git a/x.c b/x.c",
        "--- a/x.c",
        "+++ b/x.c",
        "@@ -1 +1,2 @@",
        " a",
        "+<script>alert('diff')</script>",
        "",
    ]
    .join("\r\n")
    .into_bytes()
}

async fn hostile_mail_is_shown_as_text(store: Store) {
    common::add_projects(&store).await;
    common::ingest(&store, vec![hostile_mail()], None).await;
    let state = state_for(store);
    for uri in ["/ltp/", "/ltp/hostile-1@example.com/", "/ltp/new.atom", "/"] {
        let r = ok(&state, uri).await;
        let html = r.text();
        assert!(!html.contains("<script>alert"), "{uri}: {html}");
        assert!(!html.contains("<img src=x"), "{uri}");
        assert!(!html.contains("<b>bold"), "{uri}");
    }
    let page = ok(&state, "/ltp/hostile-1@example.com/").await.seen();
    assert!(
        page.contains("<script>alert('subject')</script> <b>bold</b>"),
        "the subject reads as sent: {page}"
    );
    assert!(page.contains("<img src=x onerror=alert('body')>"), "{page}");
    let html = ok(&state, "/ltp/hostile-1@example.com/").await.text();
    assert!(page.contains("+<script>alert('diff')</script>"), "{html}");
}

quire_store::both_backends!(every_page_on_real_mail, |store| pages_on_real_mail(store));
quire_store::both_backends!(bad_input_is_404_or_400, |store| bad_input_on_a_fresh_store(store));
quire_store::both_backends!(hostile_mail_is_escaped, |store| hostile_mail_is_shown_as_text(store));
