//! Web accounts and the maintainers' workflow over real HTTP (a server on 127.0.0.1, a plain
//! HTTP/1.1 client), on SQLite and PostgreSQL: login, sessions, CSRF, roles, rate limits, state
//! changes recorded as events, bundles downloaded as one mbox that real `git am` applies.

mod common;

use quire_store::accounts::SESSION_SECS;
use quire_store::{EventQuery, Login, ProjectConfig, Store};
use std::path::{Path, PathBuf};
use std::process::Command;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    bytes: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The session cookie this reply sets, as `quire_session=VALUE`.
    fn session_cookie(&self) -> Option<String> {
        let c = self.header("set-cookie")?;
        c.split(';').next().map(|s| s.trim().to_string())
    }

    /// The CSRF token of the first form of the page.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no csrf field in:\n{}", self.body));
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

/// One request over a fresh connection (`Connection: close`), read to the end.
async fn http(
    base: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    form: &[(&str, &str)],
) -> Reply {
    request(base, method, path, cookie, &[], form).await
}

/// [`http`] with more headers.
async fn request(
    base: &str,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    headers: &[(&str, &str)],
    form: &[(&str, &str)],
) -> Reply {
    let addr = base.strip_prefix("http://").unwrap();
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let body: String =
        form.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(c) = cookie {
        req.push_str(&format!("Cookie: {c}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(&body);
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut bytes = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        bytes = unchunk(&bytes);
    }
    Reply { status, headers, body: String::from_utf8_lossy(&bytes).to_string(), bytes }
}

fn unchunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else { return out };
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The demo archive in project `demo`, a second project, and users: a maintainer, a reviewer
/// of demo and a maintainer of the other project, each with a password.
async fn setup(store: &Store) -> String {
    let demo = ProjectConfig {
        name: "demo".into(),
        list_ids: vec!["demo.lists.example.org".into()],
        ..Default::default()
    };
    store.upsert_project(&demo).await.unwrap();
    store
        .upsert_project(&ProjectConfig { name: "other".into(), ..Default::default() })
        .await
        .unwrap();
    let raws = common::mbox_messages(&repo_root().join("samples/demo.mbox"), usize::MAX);
    common::ingest(store, raws, None).await;
    for (name, project, role) in [
        ("maint", "demo", "maintainer"),
        ("rev", "demo", "reviewer"),
        ("othermaint", "other", "maintainer"),
    ] {
        let u = store.add_user(name, &format!("{name}@example.org"), "").await.unwrap();
        store.grant_role(u.id, project, role).await.unwrap();
        store.set_password(u.id, Some(&format!("{name}-password"))).await.unwrap();
    }
    common::spawn_server(store.clone()).await
}

async fn login(base: &str, user: &str) -> String {
    let pw = format!("{user}-password");
    let r = http(
        base,
        "POST",
        "/login",
        None,
        &[("username", user), ("password", &pw), ("next", "/demo/v2-0@example.org/")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some("/demo/v2-0@example.org/"));
    r.session_cookie().expect("a session cookie")
}

const SERIES: &str = "/demo/v2-0@example.org/";
const ACTION: &str = "/demo/v2-0@example.org/workflow";

async fn check(store: Store) {
    let base = setup(&store).await;

    // The login page, then wrong passwords and unknown users: one answer, no hint which.
    let page = http(&base, "GET", "/login", None, &[]).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"password\" type=\"password\""), "{}", page.body);
    let bad =
        http(&base, "POST", "/login", None, &[("username", "maint"), ("password", "nope-nope")])
            .await;
    let unknown =
        http(&base, "POST", "/login", None, &[("username", "ghost"), ("password", "nope-nope")])
            .await;
    assert_eq!((bad.status, unknown.status), (401, 401));
    assert!(
        bad.body.contains("Wrong username or password.")
            && unknown.body.contains("Wrong username or password.")
    );
    assert!(bad.header("set-cookie").is_none());

    // Login: the cookie's flags.
    let r = http(
        &base,
        "POST",
        "/login",
        None,
        &[("username", "maint"), ("password", "maint-password")],
    )
    .await;
    assert_eq!(r.status, 303);
    let set = r.header("set-cookie").unwrap().to_string();
    assert!(
        set.starts_with("quire_session=")
            && set.contains("HttpOnly")
            && set.contains("SameSite=Lax")
            && !set.contains("Secure"),
        "{set}"
    );
    let maint = login(&base, "maint").await;

    // Anonymous: states, no forms.
    let anon = http(&base, "GET", SERIES, None, &[]).await;
    assert_eq!(anon.status, 200);
    assert!(
        anon.body.contains("class=\"patch-state\"") && anon.body.contains("state-new"),
        "{}",
        anon.body
    );
    assert!(!anon.body.contains("class=\"set-state\"") && !anon.body.contains("name=\"csrf\""));

    // The maintainer gets the forms, with the session's CSRF token.
    let page = http(&base, "GET", SERIES, Some(&maint), &[]).await;
    assert!(
        page.body.contains("class=\"set-state\"")
            && page.body.contains("class=\"set-series-state\""),
        "{}",
        page.body
    );
    assert_eq!(page.header("cache-control"), Some("private, no-store"));
    let csrf = page.csrf();
    assert_eq!(csrf.len(), 64);

    // CSRF: missing, wrong, or no session at all: 403, nothing changes.
    let change = |csrf: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("patch", "v2-2@example.org".into()),
            ("state", "accepted".into()),
            ("delegate", "maint".into()),
        ]
    };
    for (cookie, token) in [
        (Some(maint.as_str()), ""),
        (Some(maint.as_str()), "0".repeat(64).as_str()),
        (None, csrf.as_str()),
    ] {
        let form = change(token);
        let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = http(&base, "POST", ACTION, cookie, &form).await;
        assert_eq!(r.status, 403, "{cookie:?} {token:?}: {}", r.body);
    }
    assert!(!http(&base, "GET", SERIES, None, &[]).await.body.contains("state-accepted"));

    // The right token: the state changes, and the change is an event naming who.
    let form = change(&csrf);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = http(&base, "POST", ACTION, Some(&maint), &form).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.header("location"), Some(SERIES));
    let after = http(&base, "GET", SERIES, None, &[]).await;
    assert!(
        after.body.contains("<span class=\"state state-accepted\">accepted</span>"),
        "{}",
        after.body
    );
    let events = store
        .events_page(&EventQuery {
            project: Some("demo".into()),
            kinds: vec!["patch-state-changed".into()],
            page: 1,
            per_page: 50,
        })
        .await
        .unwrap();
    let e = events
        .items
        .iter()
        .find(|e| e.message_id.as_deref() == Some("v2-2@example.org"))
        .expect("a patch-state-changed event");
    assert_eq!(e.payload["by"], "maint");
    assert_eq!(e.payload["current_state"], "accepted");
    assert!(e.created > 0);
    let delegated = store
        .events_page(&EventQuery {
            project: Some("demo".into()),
            kinds: vec!["patch-delegated".into()],
            page: 1,
            per_page: 50,
        })
        .await
        .unwrap();
    assert_eq!(delegated.items.len(), 1);

    // The whole series at once, and archiving.
    let r = http(
        &base,
        "POST",
        ACTION,
        Some(&maint),
        &[("csrf", &csrf), ("state", "under-review"), ("archived", "yes")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let after = http(&base, "GET", SERIES, None, &[]).await;
    assert_eq!(after.body.matches("state-under-review\">").count(), 3, "{}", after.body);
    assert_eq!(after.body.matches("<td class=\"archived\">yes</td>").count(), 3);
    let archived = store
        .events_page(&EventQuery {
            project: Some("demo".into()),
            kinds: vec!["patch-archived".into()],
            page: 1,
            per_page: 50,
        })
        .await
        .unwrap();
    assert_eq!(archived.items.len(), 3);
    assert!(archived.items.iter().all(|e| e.payload["by"] == "maint"));
    // A state that does not exist.
    let r = http(&base, "POST", ACTION, Some(&maint), &[("csrf", &csrf), ("state", "done")]).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Unknown state"), "{}", r.body);

    // A reviewer sees no forms, and a forged POST with their own valid token is refused.
    let rev = login(&base, "rev").await;
    let page = http(&base, "GET", SERIES, Some(&rev), &[]).await;
    assert!(!page.body.contains("class=\"set-state\""));
    let rev_csrf = page.csrf(); // the logout and bundle forms carry it
    let r = http(&base, "POST", ACTION, Some(&rev), &[("csrf", &rev_csrf), ("state", "rejected")])
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("not a maintainer of project demo"), "{}", r.body);
    // Nor may the maintainer of another project.
    let other = login(&base, "othermaint").await;
    let other_csrf = http(&base, "GET", SERIES, Some(&other), &[]).await.csrf();
    let r =
        http(&base, "POST", ACTION, Some(&other), &[("csrf", &other_csrf), ("state", "rejected")])
            .await;
    assert_eq!(r.status, 403);
    assert!(!http(&base, "GET", SERIES, None, &[]).await.body.contains("state-rejected"));

    // Bundles: the whole series to a new bundle, then one patch of v1 to the same one.
    let r = http(
        &base,
        "POST",
        "/demo/v2-0@example.org/bundle",
        Some(&rev),
        &[("csrf", &rev_csrf), ("bundle", "queue")],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let r = http(
        &base,
        "POST",
        "/demo/v2-0@example.org/bundle",
        Some(&rev),
        &[("csrf", "wrong"), ("bundle", "queue")],
    )
    .await;
    assert_eq!(r.status, 403);
    let mine = http(&base, "GET", "/my/bundles", Some(&rev), &[]).await;
    assert_eq!(mine.status, 200);
    assert!(mine.body.contains("queue") && mine.body.contains("3 patches"), "{}", mine.body);
    let at = mine.body.find("/my/bundles/").unwrap();
    let mbox_url = mine.body[at..].split('"').next().unwrap().to_string();
    let mbox = http(&base, "GET", &mbox_url, Some(&rev), &[]).await;
    assert_eq!(mbox.status, 200);
    assert_eq!(
        mbox.body.matches("\nFrom ").count() + usize::from(mbox.body.starts_with("From ")),
        3,
        "{}",
        mbox.body
    );
    assert!(mbox.body.contains("Subject: [PATCH v2 2/3]"), "{}", mbox.body);
    // Private: not for others, not for anonymous.
    assert_eq!(http(&base, "GET", &mbox_url, None, &[]).await.status, 404);
    assert_eq!(http(&base, "GET", &mbox_url, Some(&maint), &[]).await.status, 404);
    assert_eq!(http(&base, "GET", "/my/bundles", None, &[]).await.status, 303);

    // Logout needs the token too; after it the cookie is worth nothing.
    assert_eq!(http(&base, "POST", "/logout", Some(&rev), &[]).await.status, 403);
    let r = http(&base, "POST", "/logout", Some(&rev), &[("csrf", &rev_csrf)]).await;
    assert_eq!(r.status, 303);
    assert!(r.header("set-cookie").unwrap().contains("Max-Age=0"));
    let r = http(
        &base,
        "POST",
        "/demo/v2-0@example.org/bundle",
        Some(&rev),
        &[("csrf", &rev_csrf), ("bundle", "queue")],
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(!http(&base, "GET", SERIES, Some(&rev), &[]).await.body.contains("name=\"csrf\""));

    // An expired session is no session.
    let Login::Ok { secret, session } =
        store.login("maint", "maint-password", "127.0.0.9", -1).await.unwrap()
    else {
        panic!("login")
    };
    let expired = format!("quire_session={secret}");
    let r = http(
        &base,
        "POST",
        ACTION,
        Some(&expired),
        &[("csrf", &session.csrf), ("state", "rejected")],
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("not logged in"), "{}", r.body);
    let _ = SESSION_SECS;

    // Rate limit: five failures for a user, then even the right password waits (429).
    for _ in 0..5 {
        assert_eq!(
            http(
                &base,
                "POST",
                "/login",
                None,
                &[("username", "othermaint"), ("password", "guess-guess")]
            )
            .await
            .status,
            401
        );
    }
    let r = http(
        &base,
        "POST",
        "/login",
        None,
        &[("username", "othermaint"), ("password", "othermaint-password")],
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.body.contains("Too many failed logins: try again in"), "{}", r.body);
    assert!(
        r.header("retry-after").is_some_and(|v| v.parse::<i64>().is_ok_and(|s| s > 0 && s <= 900))
    );
    assert!(r.header("set-cookie").is_none());
}

/// A login posted through a proxy that says the client is `forwarded_for`.
async fn login_via(base: &str, forwarded_for: &str, user: &str, password: &str) -> Reply {
    let form = [("username", user), ("password", password)];
    request(base, "POST", "/login", None, &[("X-Forwarded-For", forwarded_for)], &form).await
}

/// The lock-out of issue 24 through a proxy quire trusts (the test's 127.0.0.1, as nginx on
/// the same machine): wrong passwords for an account, and for made-up names, from client A
/// limit A only; the owner logs in from B. What A makes up at the left of X-Forwarded-For
/// does not give it a fresh address.
async fn wrong_passwords_from_one_client_do_not_lock_out_another(store: Store) {
    let admin = store.add_user("admin", "admin@example.org", "").await.unwrap();
    store.set_password(admin.id, Some("admins-password")).await.unwrap();
    let config = quire_web::WebConfig {
        trusted_proxies: quire_web::client::TrustedProxies::parse(&["127.0.0.1", "::1"]).unwrap(),
        ..Default::default()
    };
    let base = common::spawn_server_with(store.clone(), config).await;
    let a = "198.51.100.66";
    for i in 0..25 {
        let spoofed = format!("10.0.{i}.1, {a}");
        let user = if i < 10 { "admin".to_string() } else { format!("made-up-{i}") };
        let r = login_via(&base, &spoofed, &user, "guess-guess").await;
        assert!(r.status == 401 || r.status == 429, "{}: {}", r.status, r.body);
    }
    let r = login_via(&base, &format!("203.0.113.1, {a}"), "admin", "admins-password").await;
    assert_eq!(r.status, 429, "A is limited: {}", r.body);
    assert!(r.header("retry-after").is_some());
    let r = login_via(&base, "203.0.113.20", "admin", "admins-password").await;
    assert_eq!(r.status, 303, "B logs in: {}", r.body);
    assert!(r.session_cookie().is_some());
    // The failures were counted under A's address, not the proxy's.
    let r = request(
        &base,
        "POST",
        "/login",
        None,
        &[],
        &[("username", "admin"), ("password", "admins-password")],
    )
    .await;
    assert_eq!(r.status, 303, "the proxy's own address is not limited: {}", r.body);
}

/// A peer that is not a trusted proxy cannot name another client: X-Forwarded-For from it is
/// ignored, so a guesser cannot take a fresh address for each guess.
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(store: Store) {
    let u = store.add_user("erin", "erin@example.org", "").await.unwrap();
    store.set_password(u.id, Some("erins-password")).await.unwrap();
    let base = common::spawn_server(store.clone()).await;
    let checked = store.password_checks();
    for i in 0..10 {
        let r = login_via(&base, &format!("198.51.100.{i}"), "erin", "guess-guess").await;
        assert_eq!(r.status, if i < 5 { 401 } else { 429 }, "guess {i}: {}", r.body);
    }
    assert_eq!(store.password_checks() - checked, 5);
    let r = login_via(&base, "203.0.113.99", "erin", "erins-password").await;
    assert_eq!(r.status, 429, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_from_one_client_do_not_lock_out_another_sqlite() {
    let (_dir, store) = common::sqlite_store().await;
    wrong_passwords_from_one_client_do_not_lock_out_another(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_from_one_client_do_not_lock_out_another_pg() {
    wrong_passwords_from_one_client_do_not_lock_out_another(common::pg_store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored_sqlite() {
    let (_dir, store) = common::sqlite_store().await;
    a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored_pg() {
    a_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(common::pg_store().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_and_workflow_sqlite() {
    let (_dir, store) = common::sqlite_store().await;
    check(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_and_workflow_pg() {
    check(common::pg_store().await).await;
}

/// A bundle's mbox, downloaded from the web, applies with real `git am` to the demo's base and
/// gives the v2 tree, with the review trailers in the commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downloaded_bundle_applies_with_git_am() {
    let (_dir, store) = common::sqlite_store().await;
    let base = setup(&store).await;
    let rev = login(&base, "rev").await;
    let csrf = http(&base, "GET", SERIES, Some(&rev), &[]).await.csrf();
    // Patch by patch, out of order on purpose: the bundle keeps the order they were added in.
    for p in ["v2-1@example.org", "v2-2@example.org", "v2-3@example.org"] {
        let r = http(
            &base,
            "POST",
            "/demo/v2-0@example.org/bundle",
            Some(&rev),
            &[("csrf", &csrf), ("bundle", "to apply"), ("patch", p)],
        )
        .await;
        assert_eq!(r.status, 303, "{}", r.body);
    }
    let b = store.bundles(Some("demo"), None).await.unwrap();
    assert!(b.is_empty(), "new bundles are private");
    let mbox = http(&base, "GET", "/my/bundles", Some(&rev), &[]).await;
    let at = mbox.body.find("/my/bundles/").unwrap();
    let url = mbox.body[at..].split('"').next().unwrap().to_string();
    let mbox = http(&base, "GET", &url, Some(&rev), &[]).await;
    assert_eq!(mbox.status, 200);

    let work = tempfile::tempdir().unwrap();
    let repo = work.path().join("demo");
    let made = Command::new(repo_root().join("samples/make-demo-mbox.sh"))
        .arg(work.path().join("regenerated.mbox"))
        .arg(&repo)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let file = work.path().join("bundle.mbox");
    std::fs::write(&file, &mbox.bytes).unwrap();
    let git = |args: &[&str]| {
        let o = Command::new("git")
            .current_dir(&repo)
            .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .unwrap();
        assert!(o.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    git(&["checkout", "-q", "-b", "applied", "main"]);
    git(&["am", "-q", file.to_str().unwrap()]);
    let log = git(&["log", "--format=%s%n%b--", "main..applied"]);
    assert_eq!(log.matches("--").count(), 3, "{log}");
    assert!(log.contains("public/ring: use plain uint64_t for the length"), "{log}");
    assert!(log.contains("Reviewed-by: Charles Babbage <charles@example.com>"), "{log}");
    assert_eq!(git(&["rev-parse", "applied^{tree}"]), git(&["rev-parse", "v2^{tree}"]));
}
