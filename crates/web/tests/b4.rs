//! public-inbox's URLs: every route over HTTP on a store made from real mail (LTP's list), and
//! the real `b4` (PyPI) run against a quire server on 127.0.0.1 with its midmask pointed at
//! quire: `b4 am` gives the patches and trailers `quire am` gives and `git am` applies them,
//! `b4 mbox` gets the whole thread, and `b4 am` of a v2 finds the trailers given to v1 through
//! the search endpoint. The b4 part is skipped, saying why, only when no b4 can be found
//! (`scripts/install-deps` installs it).

mod common;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use quire_series::am::AmOptions;
use quire_store::{Incoming, ProjectConfig, Store};
use quire_web::{AppState, WebConfig, router};
use tower::ServiceExt;

struct Reply {
    status: StatusCode,
    location: Option<String>,
    content_type: String,
    content_encoding: Option<String>,
    /// `X-Quire-Search-More`: more matches follow, from this `o=`.
    search_more: Option<String>,
    body: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.decoded()).into_owned()
    }
    /// The body as sent, HTTP compression undone (pages may be compressed; mboxes never are).
    fn decoded(&self) -> Vec<u8> {
        match self.content_encoding.as_deref() {
            Some("gzip") => {
                let mut out = Vec::new();
                flate2::read::GzDecoder::new(self.body.as_slice())
                    .read_to_end(&mut out)
                    .expect("gunzip");
                out
            }
            _ => self.body.clone(),
        }
    }
    /// The gunzipped body, any bytes that are not UTF-8 replaced (real mail has latin-1).
    fn gunzip_lossy(&self) -> String {
        assert_eq!(self.body.get(..2), Some(&[0x1f, 0x8b][..]), "not gzip: {}", self.text());
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(self.body.as_slice()).read_to_end(&mut out).expect("gunzip");
        String::from_utf8_lossy(&out).into_owned()
    }
    /// The gunzipped body, checked to be gzip.
    fn gunzip(&self) -> String {
        assert_eq!(self.body.get(..2), Some(&[0x1f, 0x8b][..]), "not gzip: {}", self.text());
        let mut out = String::new();
        flate2::read::GzDecoder::new(self.body.as_slice())
            .read_to_string(&mut out)
            .expect("gunzip");
        out
    }
}

async fn request(state: &AppState, method: Method, uri: &str, body: &str) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        // As b4's requests sends it: the server must still not gzip the gzip again.
        .header(header::ACCEPT_ENCODING, "gzip, deflate")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body.to_string()))
        .expect("request");
    let resp = router(state.clone()).oneshot(req).await.expect("infallible");
    let status = resp.status();
    let h = |name| {
        resp.headers()
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
            .map(String::from)
    };
    let location = h(header::LOCATION);
    let content_type = h(header::CONTENT_TYPE).unwrap_or_default();
    let content_encoding = h(header::CONTENT_ENCODING);
    let search_more = h(header::HeaderName::from_static("x-quire-search-more"));
    let body = resp.into_body().collect().await.expect("body").to_bytes().to_vec();
    Reply { status, location, content_type, content_encoding, search_more, body }
}

async fn get(state: &AppState, uri: &str) -> Reply {
    request(state, Method::GET, uri, "").await
}

/// A Message-ID as b4 writes it into a URL (Python's `quote_plus`).
fn quote_plus(id: &str) -> String {
    id.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The Message-IDs of an mboxrd, in order.
fn mbox_ids(mbox: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut in_header = false;
    for line in mbox.lines() {
        if line.starts_with("From mboxrd@z ") {
            in_header = true;
        } else if line.is_empty() {
            in_header = false;
        } else if in_header && line.to_ascii_lowercase().starts_with("message-id:") {
            ids.push(line[11..].trim().trim_start_matches('<').trim_end_matches('>').to_string());
        }
    }
    ids
}

// ---------------------------------------------------------------------------------------------
// Every route over HTTP, on LTP's list.

/// An LTP series with replies: its head, every message of its thread, a patch-id of it.
async fn ltp_thread(store: &Store) -> (String, Vec<String>, String) {
    let filter =
        quire_store::SeriesFilter { per_page: 200, include_superseded: true, ..Default::default() };
    let page = store.series_list("ltp", &filter).await.expect("list");
    for s in page.items.iter().filter(|s| s.replies > 0 && s.patches > 0) {
        let detail = store.series(&s.message_id).await.expect("series").expect("listed series");
        let Some(pid) = detail.patches.iter().find_map(|p| p.patch_id.clone()) else { continue };
        let thread = store.thread(&s.message_id).await.expect("thread");
        return (s.message_id.clone(), thread.into_iter().map(|m| m.message_id).collect(), pid);
    }
    panic!("no LTP series with replies and a patch among the first 200");
}

async fn routes_on_real_mail(store: Store) {
    common::fill_with_real_mail(&store).await;
    let state = AppState::new(store.clone(), WebConfig::default());
    let (head, thread, patch_id) = ltp_thread(&store).await;
    let q = quote_plus(&head);

    // t.mbox.gz: gzip as a file, never as a transfer encoding; the whole thread, mboxrd.
    let r = get(&state, &format!("/ltp/{q}/t.mbox.gz")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.content_type, "application/gzip");
    assert_eq!(r.content_encoding, None);
    let mbox = r.gunzip();
    let ids = mbox_ids(&mbox);
    for id in &thread {
        assert!(ids.contains(id), "thread mbox of {head} lacks {id}: {ids:?}");
    }
    assert_eq!(ids.len(), mbox.matches("From mboxrd@z Thu Jan  1 00:00:00 1970\n").count());
    assert!(
        !mbox.lines().any(|l| l.starts_with("From ") && !l.starts_with("From mboxrd@z")),
        "an unescaped From line"
    );
    // The same thread from any of its messages, under /all/ too.
    let last = thread.last().expect("a message");
    let from_reply = get(&state, &format!("/all/{}/t.mbox.gz", quote_plus(last))).await;
    assert_eq!(mbox_ids(&from_reply.gunzip()), ids);

    // Unknown ids and other lists' messages are 404s.
    assert_eq!(
        get(&state, "/ltp/nobody%40example.org/t.mbox.gz").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&state, &format!("/patchwork/{q}/t.mbox.gz")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(get(&state, &format!("/nolist/{q}/t.mbox.gz")).await.status, StatusCode::NOT_FOUND);

    // Hostile ids: never a panic nor a 500, never a path outside the archive.
    let long = "x".repeat(10_000);
    for hostile in [
        "..",
        "%2E%2E",
        "..%2F..%2Fetc%2Fpasswd",
        "a%2Fb%2F..%2Fc",
        "%00",
        "a%00b%40c",
        long.as_str(),
        "%FF%FE",
        "%",
    ] {
        for base in ["/ltp", "/all"] {
            for tail in ["/t.mbox.gz", "/T/", "/raw", "/"] {
                let uri = format!("{base}/{hostile}{tail}");
                let r = get(&state, &uri).await;
                assert!(
                    matches!(r.status, StatusCode::NOT_FOUND | StatusCode::BAD_REQUEST),
                    "{}: {} {}",
                    &uri[..uri.len().min(80)],
                    r.status,
                    r.text()
                );
            }
        }
    }

    // At the root, a Message-ID redirects to /all/, which redirects to the message's list.
    for method in [Method::HEAD, Method::GET] {
        let r = request(&state, method.clone(), &format!("/{q}/"), "").await;
        assert_eq!(r.status, StatusCode::FOUND, "{method} /<msgid>/");
        assert_eq!(
            r.location.as_deref(),
            Some(format!("/all/{}/", quire_web::url::segment(&head)).as_str())
        );
    }
    let r = get(&state, &format!("/all/{q}/")).await;
    assert_eq!(
        (r.status, r.location.as_deref()),
        (StatusCode::FOUND, Some(quire_web::url::message_url("ltp", &head).as_str()))
    );
    assert_eq!(get(&state, "/nobody%40example.org/").await.status, StatusCode::NOT_FOUND);
    // The list's own page of a message: the series page for its head.
    assert_eq!(get(&state, &format!("/ltp/{q}/")).await.status, StatusCode::OK);

    // raw: the bytes as received.
    let raw = store.raw(&head).await.expect("raw").expect("stored");
    for uri in [format!("/ltp/{q}/raw"), format!("/all/{q}/raw")] {
        let r = get(&state, &uri).await;
        assert_eq!(
            (r.status, r.content_type.as_str()),
            (StatusCode::OK, "text/plain; charset=utf-8"),
            "{uri}"
        );
        assert!(r.decoded() == raw, "{uri}: not the raw bytes");
    }

    // T/: the thread on one page, mail text escaped.
    for uri in [format!("/ltp/{q}/T/"), format!("/all/{q}/T/")] {
        let r = get(&state, &uri).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text());
        assert!(r.content_type.starts_with("text/html"), "{uri}");
        let html = String::from_utf8_lossy(&r.decoded()).into_owned();
        assert!(html.contains(&quire_web::url::anchor(last)), "{uri} lacks the last reply");
        assert!(!html.contains("<script"), "{uri}");
    }

    // new.atom is the project's feed.
    let r = get(&state, "/ltp/new.atom").await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (StatusCode::OK, "application/atom+xml; charset=utf-8")
    );
    // /all/new.atom: every list's newest series, each linked under its list.
    let r = get(&state, "/all/new.atom").await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (StatusCode::OK, "application/atom+xml; charset=utf-8"),
        "{}",
        r.text()
    );
    let atom = r.text();
    let doc = roxmltree::Document::parse(&atom).expect("the feed is XML");
    let links: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("link") && n.parent().is_some_and(|p| p.has_tag_name("entry")))
        .filter_map(|n| n.attribute("href"))
        .collect();
    assert_eq!(links.len(), 30, "{atom}");
    assert!(links.iter().any(|l| l.contains("/ltp/")), "{links:?}");
    // Without x=m the list URL is still the series list.
    let r = get(&state, "/ltp/").await;
    assert!(r.status == StatusCode::OK && r.content_type.starts_with("text/html"));

    // Search, as b4 sends it: POST with x=m in the URL and the body.
    let query = format!("patchid:{patch_id} OR patchid:0000000000000000000000000000000000000000");
    let uri = format!("/ltp/?x=m&t=1&q={}", quote_plus(&query));
    let r = request(&state, Method::POST, &uri, "x=m").await;
    assert_eq!(
        (r.status, r.content_type.as_str(), r.content_encoding.as_deref()),
        (StatusCode::OK, "application/gzip", None),
        "{}",
        r.text()
    );
    let found = mbox_ids(&r.gunzip());
    for id in &thread {
        assert!(found.contains(id), "t=1 search lacks {id} of the patch's thread");
    }
    // Without t=1: only the patch(es) carrying that patch-id.
    let r =
        request(&state, Method::POST, &format!("/ltp/?x=m&q={}", quote_plus(&query)), "x=m").await;
    let only = mbox_ids(&r.gunzip());
    assert!(!only.is_empty() && only.len() < found.len(), "{only:?} vs {found:?}");
    for id in &only {
        let m = store.message(id).await.expect("message").expect("stored");
        assert_eq!(m.patch_id.as_deref(), Some(patch_id.as_str()));
    }
    // GET does the same; /all/ searches every list.
    let r = get(&state, &format!("/ltp/?x=m&q={}", quote_plus(&query))).await;
    assert_eq!(mbox_ids(&r.gunzip()), only);
    let r =
        request(&state, Method::POST, &format!("/all/?x=m&q={}", quote_plus(&query)), "x=m").await;
    assert_eq!(mbox_ids(&r.gunzip()), only);
    // ...but a list only its own.
    let r =
        request(&state, Method::POST, &format!("/patchwork/?x=m&q={}", quote_plus(&query)), "x=m")
            .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Within one thread (liblore's "what is new since"): POST with an empty body, no expansion.
    let newest = store.message(last).await.expect("message").expect("stored");
    let since = chrono::DateTime::from_timestamp(newest.date.expect("dated"), 0)
        .expect("a date")
        .format("%Y%m%d%H%M%S");
    for uri in
        [format!("/ltp/{q}/?x=m&q=dt%3A{since}.."), format!("/all/{q}/?x=m&q=dt%3A{since}..")]
    {
        let r = request(&state, Method::POST, &uri, "").await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text());
        let got = mbox_ids(&r.gunzip());
        assert!(
            got.contains(last) && got.iter().all(|id| ids.contains(id)),
            "{uri}: {got:?} not within {ids:?}"
        );
        assert!(got.len() < ids.len(), "{uri}: {got:?}");
    }
    let r = get(&state, &format!("/ltp/{q}/?x=m&q=dt%3A20990101000000..")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = request(&state, Method::POST, "/ltp/nobody%40example.org/?x=m&q=s%3Ax", "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Nothing found: 404. A bad query: 400 with one line naming the problem.
    let r = request(&state, Method::POST, "/ltp/?x=m&t=1&q=patchid%3Adeadbeef", "x=m").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let deep = "%28".repeat(5000);
    for (bad, says) in [
        ("s%3A%22unclosed", "unclosed quote"),
        ("is%3Arfc", "is:"),
        ("frm%3Ax", "did you mean"),
        ("(a", "parenthesis"),
        (deep.as_str(), "nests 5000 deep"),
    ] {
        let r = request(&state, Method::POST, &format!("/ltp/?x=m&q={bad}"), "x=m").await;
        let bad = &bad[..bad.len().min(40)];
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        let text = r.text();
        assert!(text.contains(says) && text.trim_end().lines().count() == 1, "{bad}: {text}");
    }
    let r = request(&state, Method::POST, "/ltp/?x=m", "x=m").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Offsets, as lei pages with o=: the same matches, newest first, from the offset on; a
    // match count under the cap says no more follow.
    let words = quote_plus("s:fanotify");
    let r = request(&state, Method::POST, &format!("/ltp/?x=m&q={words}"), "x=m").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let every = mbox_ids(&r.gunzip_lossy());
    assert!(every.len() > 3, "{every:?}");
    assert_eq!(r.search_more, None);
    let r = request(&state, Method::POST, &format!("/ltp/?x=m&q={words}&o=2"), "x=m").await;
    assert_eq!(mbox_ids(&r.gunzip_lossy()), every[2..]);
    let r = request(&state, Method::POST, &format!("/ltp/?x=m&q={words}"), "x=m&o=2").await;
    assert_eq!(mbox_ids(&r.gunzip_lossy()), every[2..], "o= in the form body");
    let r = request(&state, Method::POST, &format!("/ltp/?x=m&q={words}&o=99999"), "x=m").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = request(&state, Method::POST, &format!("/ltp/?x=m&q={words}&o=-1"), "x=m").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.text().contains("o=-1"), "{}", r.text());
    // The prefixes public-inbox has and quire refused before (a: tc: l: dfhh: dfctx:), and
    // any trailer, as b4 and lei send them.
    for q in ["a:vorel", "tc:ltp", "dfctx:include", "dfhh:main", "signed-off-by:vorel"] {
        let r = request(&state, Method::POST, &format!("/ltp/?x=m&t=1&q={}", quote_plus(q)), "x=m")
            .await;
        assert_eq!(r.status, StatusCode::OK, "{q}: {}", r.text());
        assert!(!mbox_ids(&r.gunzip_lossy()).is_empty(), "{q}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_inbox_routes_on_sqlite() {
    let (_dir, store) = common::sqlite_store().await;
    routes_on_real_mail(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn public_inbox_routes_on_postgres() {
    routes_on_real_mail(common::pg_store().await).await;
}

// ---------------------------------------------------------------------------------------------
// The real b4.

/// The `b4` to run: `$B4`, else on PATH, else where `pip install --user` puts it.
fn find_b4() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("B4").map(PathBuf::from).filter(|p| p.is_file()) {
        return Some(p);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".local/bin"));
    }
    dirs.into_iter().map(|d| d.join("b4")).find(|p| p.is_file())
}

/// A `git` with no system or user configuration and a fixed identity.
fn git(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Ann Author",
            "-c",
            "user.email=ann@example.org",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("HOME", dir)
        .envs(env.iter().copied())
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The mails of one revision: `git format-patch --cover-letter` of the two commits on
/// `branch`, cover letter filled in, Message-IDs made unique to the revision.
fn format_series(repo: &Path, branch: &str, version: u32) -> Vec<String> {
    let dir = repo.join(format!("out-v{version}"));
    let dir_arg = dir.to_str().expect("utf-8 path");
    let range = format!("main..{branch}");
    // A first revision is sent as plain `[PATCH n/m]`, as people do.
    let v = format!("-v{version}");
    let mut args =
        vec!["format-patch", "--cover-letter", "--thread=shallow", "-o", dir_arg, range.as_str()];
    if version > 1 {
        args.push(&v);
    }
    git(repo, &args, &[]);
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).expect("read out dir").map(|e| e.expect("entry").path()).collect();
    files.sort();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).expect("read patch");
            // Drop the mbox `From <sha> ...` line: quire stores mails as received.
            let text = text.split_once('\n').map(|(_, rest)| rest.to_string()).unwrap_or_default();
            text.replace("*** SUBJECT HERE ***", "greeting: tidy the greeting")
                .replace(
                    "*** BLURB HERE ***",
                    &format!("Revision {version} of the greeting tidy-up."),
                )
                // format-patch names the cover `cover.<time>.git.<email>`: two revisions made in
                // the same second would share it.
                .replace("<cover.", &format!("<cover-v{version}."))
        })
        .collect()
}

fn header<'a>(mail: &'a str, name: &str) -> &'a str {
    let prefix = format!("{name}: ");
    mail.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no {name} in\n{mail}"))
}

/// A reviewer's reply to `parent` giving `trailer`.
fn reply(parent: &str, root: &str, n: u32, trailer: &str, date: &str) -> String {
    let subject = header(parent, "Subject");
    let parent_id = header(parent, "Message-ID");
    let root_id = header(root, "Message-ID");
    let refs =
        if parent_id == root_id { root_id.to_string() } else { format!("{root_id} {parent_id}") };
    format!(
        "From: Rita Reviewer <rita@example.org>\nTo: demo@lists.example.org\nSubject: Re: {subject}\n\
         Date: {date}\nMessage-ID: <review-{n}@example.org>\nIn-Reply-To: {parent_id}\nReferences: {refs}\n\
         MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n\
         On the patch:\n> From the start, this looked right.\n\nLooks good.\n\n{trailer}\n"
    )
}

/// Patches of an mbox for `git am`: for each, its subject and its trailers (sorted), without
/// the `Link:` b4 adds and quire does not.
fn patches_and_trailers(mbox: &str) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = Vec::new();
    let mut in_body = false;
    for line in mbox.lines() {
        if let Some(s) = line.strip_prefix("Subject: ") {
            out.push((s.trim().to_string(), Vec::new()));
            in_body = false;
        } else if line.is_empty() {
            in_body = true;
        } else if line == "---" {
            in_body = false;
        } else if in_body
            && let Some(last) = out.last_mut()
            && let Some((tag, value)) = line.split_once(": ")
            && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && tag.contains('-')
            && value.contains('@')
        {
            last.1.push(line.to_string());
        }
    }
    for (_, t) in &mut out {
        t.sort();
        t.dedup();
    }
    out
}

struct B4 {
    bin: PathBuf,
    home: tempfile::TempDir,
}

impl B4 {
    /// b4 with its own HOME, git config and cache, pointed at `base/<list>/` (at `base/`
    /// when `list` is empty, as `https://lore.kernel.org/%s` is).
    fn new(bin: PathBuf, base: &str, list: &str) -> B4 {
        let home = tempfile::tempdir().expect("b4 home");
        let at = if list.is_empty() { base.to_string() } else { format!("{base}/{list}") };
        let config = format!(
            "[user]\n\tname = Max Maintainer\n\temail = max@example.org\n\
             [b4]\n\tmidmask = {at}/%s\n\tlinkmask = {at}/%s\n\
             \tsearchmask = {at}/?x=m&t=1&q=%s\n\tattestation-policy = off\n"
        );
        std::fs::write(home.path().join(".gitconfig"), config).expect("write gitconfig");
        B4 { bin, home }
    }

    fn run(&self, cwd: &Path, args: &[&str]) -> (String, String) {
        let h = self.home.path();
        let mut cmd = Command::new(&self.bin);
        // A `pip install --user` b4 finds its modules under the real HOME, which b4 itself
        // must not see (its config and cache go to the throwaway one).
        if std::env::var_os("PYTHONUSERBASE").is_none()
            && let Some(real) = std::env::var_os("HOME")
        {
            cmd.env("PYTHONUSERBASE", Path::new(&real).join(".local"));
        }
        let out = cmd
            .current_dir(cwd)
            .args(args)
            .env("HOME", h)
            .env("XDG_CONFIG_HOME", h.join(".config"))
            .env("XDG_CACHE_HOME", h.join(".cache"))
            .env("XDG_DATA_HOME", h.join(".local/share"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env_remove("GIT_CONFIG_GLOBAL")
            // The server is local: no proxy may stand in between.
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("all_proxy")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("ALL_PROXY")
            .env("NO_PROXY", "127.0.0.1")
            .env("no_proxy", "127.0.0.1")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run b4");
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(out.status.success(), "b4 {args:?} failed:\n{stdout}\n{stderr}");
        (stdout, stderr)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_b4_against_quire() {
    let Some(b4) = find_b4() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "b4 is missing under CI: scripts/install-deps installs it"
        );
        eprintln!(
            "SKIPPED real_b4_against_quire: no b4 found ($B4, PATH, ~/.local/bin); scripts/install-deps installs it"
        );
        return;
    };

    // A repository with a base and two commits, sent as v1; the same diffs with reworded
    // messages sent a week later as v2 (same patch-ids).
    let work = tempfile::tempdir().expect("work dir");
    let repo = work.path().join("repo");
    std::fs::create_dir(&repo).expect("mkdir");
    git(&repo, &["init", "-q", "-b", "main"], &[]);
    std::fs::write(repo.join("greeting.txt"), "hello\nworld\n").expect("write");
    std::fs::write(repo.join("README"), "A demo.\nFrom the start it greets.\n").expect("write");
    git(&repo, &["add", "."], &[]);
    git(
        &repo,
        &["commit", "-q", "-m", "base"],
        &[
            ("GIT_AUTHOR_DATE", "2024-03-01T10:00:00Z"),
            ("GIT_COMMITTER_DATE", "2024-03-01T10:00:00Z"),
        ],
    );
    let make = |branch: &str, date: &str, words: &str| {
        let d = [("GIT_AUTHOR_DATE", date), ("GIT_COMMITTER_DATE", date)];
        git(&repo, &["checkout", "-q", "-B", branch, "main"], &[]);
        std::fs::write(repo.join("greeting.txt"), "hello there\nworld\n").expect("write");
        git(
            &repo,
            &[
                "commit",
                "-q",
                "-a",
                "-s",
                "-m",
                &format!("greeting: say hello {words}\n\nFrom now on the greeting is warmer."),
            ],
            &d,
        );
        std::fs::write(repo.join("README"), "A demo.\nFrom the start it greets warmly.\n")
            .expect("write");
        git(
            &repo,
            &["commit", "-q", "-a", "-s", "-m", &format!("README: describe the greeting {words}")],
            &d,
        );
    };
    make("v1", "2024-03-04T10:00:00Z", "there");
    make("v2", "2024-03-11T10:00:00Z", "warmly");
    let tip_tree = git(&repo, &["rev-parse", "v2^{tree}"], &[]).trim().to_string();
    let v1 = format_series(&repo, "v1", 1);
    let v2 = format_series(&repo, "v2", 2);
    assert_eq!(v1.len(), 3, "cover + 2 patches");
    // Reviews of v1 only: per patch, and on the cover letter (for every patch).
    let reviews = vec![
        reply(
            &v1[1],
            &v1[0],
            1,
            "Reviewed-by: Rita Reviewer <rita@example.org>",
            "Tue, 5 Mar 2024 09:00:00 +0000",
        ),
        reply(
            &v1[2],
            &v1[0],
            2,
            "Tested-by: Rita Reviewer <rita@example.org>",
            "Tue, 5 Mar 2024 09:05:00 +0000",
        ),
        reply(
            &v1[0],
            &v1[0],
            3,
            "Acked-by: Rita Reviewer <rita@example.org>",
            "Tue, 5 Mar 2024 09:10:00 +0000",
        ),
    ];
    let odd = "From: Olle <olle@example.org>\nSubject: a slash in my id\nDate: Tue, 5 Mar 2024 11:00:00 +0000\n\
               Message-ID: <a/b/../c@example.org>\n\nFrom here on, odd ids.\n";

    let (_dir, store) = common::sqlite_store().await;
    let demo = ProjectConfig {
        name: "demo".into(),
        list_addresses: vec!["demo@lists.example.org".into()],
        ..Default::default()
    };
    store.upsert_project(&demo).await.expect("project");
    let mails: Vec<Vec<u8>> = v1
        .iter()
        .chain(&v2)
        .chain(&reviews)
        .map(|m| m.clone().into_bytes())
        .chain([odd.as_bytes().to_vec()])
        .collect();
    let batch = mails.into_iter().map(|raw| Incoming::parse(raw, Some("demo".into()))).collect();
    store.ingest(batch).await.expect("ingest");
    let base = common::spawn_server(store.clone()).await;

    let v1_cover = header(&v1[0], "Message-ID").trim_matches(['<', '>']).to_string();
    let v2_cover = header(&v2[0], "Message-ID").trim_matches(['<', '>']).to_string();

    // A Message-ID with slashes and dots is one percent-encoded segment.
    let state = AppState::new(store.clone(), WebConfig::default());
    let r = get(&state, &format!("/demo/{}/t.mbox.gz", quote_plus("a/b/../c@example.org"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.gunzip_lossy().contains("\n>From here on, odd ids.\n"), "mboxrd escaping");

    let b4 = B4::new(b4, &base, "demo");
    let out = work.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");

    // b4 mbox: the whole v1 thread.
    b4.run(&out, &["mbox", "-o", out.to_str().expect("utf-8"), &v1_cover]);
    let got = std::fs::read_to_string(out.join(format!("{v1_cover}.mbx"))).expect("b4 mbox output");
    let mut ids: Vec<String> = got
        .lines()
        .filter_map(|l| l.strip_prefix("Message-ID: ").or(l.strip_prefix("Message-Id: ")))
        .map(|s| s.trim_matches(['<', '>', ' ']).to_string())
        .collect();
    ids.sort();
    let mut want: Vec<String> = v1
        .iter()
        .chain(&reviews)
        .map(|m| header(m, "Message-ID").trim_matches(['<', '>']).to_string())
        .collect();
    want.sort();
    assert_eq!(ids, want, "b4 mbox of the v1 thread");

    // With a midmask that names no list, b4 asks /all/.
    let root = B4::new(b4.bin.clone(), &base, "");
    let all_out = work.path().join("all");
    std::fs::create_dir(&all_out).expect("mkdir");
    root.run(&all_out, &["mbox", "-o", all_out.to_str().expect("utf-8"), &v2_cover]);
    let got = std::fs::read_to_string(all_out.join(format!("{v2_cover}.mbx")))
        .expect("b4 mbox output from /all/");
    assert_eq!(got.matches("\nSubject: [PATCH v2 ").count(), 3, "{got}");

    // b4 am -c of v1 looks for newer revisions with `s:"..." AND f:"..." AND d:..` and takes v2.
    let (_, stderr) =
        b4.run(&out, &["am", "-c", "-o", out.to_str().expect("utf-8"), "-n", "newer", &v1_cover]);
    assert!(stderr.contains("Added from v2") && stderr.contains("latest revision: v2"), "{stderr}");
    let newer = std::fs::read_to_string(out.join("newer.mbx"))
        .unwrap_or_else(|e| panic!("b4 am -c: {e}\n{stderr}"));
    let newer = patches_and_trailers(&newer);
    let subjects: Vec<&str> = newer.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        subjects,
        [
            "[PATCH v2 1/2] greeting: say hello warmly",
            "[PATCH v2 2/2] README: describe the greeting warmly"
        ]
    );
    assert!(
        newer[0].1.contains(&"Reviewed-by: Rita Reviewer <rita@example.org>".to_string()),
        "{newer:?}"
    );

    // b4 am of v1 and of v2: the patches and trailers quire am gives.
    for (cover, name) in [(&v1_cover, "v1"), (&v2_cover, "v2")] {
        let (_, stderr) =
            b4.run(&out, &["am", "-o", out.to_str().expect("utf-8"), "-n", name, cover]);
        let b4_mbox = std::fs::read_to_string(out.join(format!("{name}.mbx")))
            .unwrap_or_else(|e| panic!("b4 am {name}: {e}\n{stderr}"));
        let quire = store
            .am_mbox(cover, false, &AmOptions::default())
            .await
            .expect("am")
            .expect("a series");
        let quire_mbox = String::from_utf8_lossy(&quire.mbox).into_owned();
        let theirs = patches_and_trailers(&b4_mbox);
        let ours = patches_and_trailers(&quire_mbox);
        assert_eq!(theirs.len(), 2, "{name}: b4 gave\n{b4_mbox}\n{stderr}");
        assert_eq!(
            theirs, ours,
            "{name}: b4 am and quire am differ\n--- b4:\n{b4_mbox}\n--- quire:\n{quire_mbox}\n{stderr}"
        );
        for (subject, trailers) in &theirs {
            assert!(
                trailers.iter().any(|t| t.starts_with("Signed-off-by: Ann Author")),
                "{subject}: {trailers:?}"
            );
            assert!(
                trailers.iter().any(|t| t == "Acked-by: Rita Reviewer <rita@example.org>"),
                "{name} {subject}: {trailers:?}"
            );
        }
        // v2 got no review in its own thread: its Reviewed-by and Tested-by come from v1's
        // replies, which b4 found through the patchid: search.
        assert!(
            theirs[0].1.contains(&"Reviewed-by: Rita Reviewer <rita@example.org>".to_string()),
            "{name}: {theirs:?}\n{stderr}"
        );
        assert!(
            theirs[1].1.contains(&"Tested-by: Rita Reviewer <rita@example.org>".to_string()),
            "{name}: {theirs:?}\n{stderr}"
        );
        if name == "v2" {
            assert!(
                stderr.contains("code-review trailers") || stderr.contains("Reviewed-by"),
                "{stderr}"
            );
        }

        // git am applies b4's mbox onto the base: the tree is the sent one.
        let apply = work.path().join(format!("apply-{name}"));
        git(
            work.path(),
            &[
                "clone",
                "-q",
                "-b",
                "main",
                repo.to_str().expect("utf-8"),
                apply.to_str().expect("utf-8"),
            ],
            &[],
        );
        git(&apply, &["am", "-q", out.join(format!("{name}.mbx")).to_str().expect("utf-8")], &[]);
        assert_eq!(git(&apply, &["rev-parse", "HEAD^{tree}"], &[]).trim(), tip_tree, "{name}");
        let log = git(&apply, &["log", "-1", "--format=%B", "HEAD~1"], &[]);
        assert!(log.contains("Reviewed-by: Rita Reviewer <rita@example.org>"), "{name}: {log}");
    }
}
