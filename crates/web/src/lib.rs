//! quire-web: the pages maintainers live in, server-rendered with axum and askama.
//!
//! [`router`] builds the application over an [`AppState`] (a store and a [`WebConfig`]);
//! [`serve`] listens. Pages: `/` (projects), `/<project>/` (series list, `?page=N&q=words`),
//! `/<project>/<message-id>/` (series page, redirect to it, or message page),
//! `/<project>/<id>/interdiff/<other>`, downloads (`mbox`, `raw`, `patch`, `apply.log`) and
//! `/<project>/new.atom`; public-inbox's URLs for b4 and lei (`t.mbox.gz`, `?x=m&q=` searches,
//! `T/`, `/all/`) in [`inbox`].
//!
//! Invariants: mail text is never marked safe (askama escapes it everywhere); no input gives
//! a 500 (ids are checked before they reach the store, bad ones are 404 pages).

pub mod accounts;
pub mod age;
pub mod api;
pub mod auth;
pub mod build;
pub mod client;
pub mod diff;
pub mod diffstat;
pub mod error;
mod events_feed;
mod headers;
pub mod inbox;
pub mod interdiff;
pub mod metrics;
pub mod page_cache;
mod pages;
pub mod patchwork;
pub mod quote;
pub mod range_diff;
mod search;
pub mod shed;
pub mod testers;
pub mod url;
pub mod views;
pub mod warm;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use quire_store::Store;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

pub use error::{WebError, WebResult};

/// Per-project settings of the web pages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectWebConfig {
    /// Public URL of the git mirror holding applied series as tags; enables the fetch line.
    pub mirror_url: Option<String>,
    /// Tag prefix in the mirror (`<prefix>/<message-id>`); `quire` when None.
    pub tag_prefix: Option<String>,
}

/// Site-wide settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebConfig {
    /// The site's public base URL without trailing slash (`https://quire.example.org`), used
    /// for absolute links in the Atom feed.
    pub base_url: String,
    /// Keyed by project name; projects not named here use the store's project settings.
    pub projects: HashMap<String, ProjectWebConfig>,
    /// Series per list page.
    pub per_page: u32,
    /// How long a tester holds a claimed check job without a heartbeat.
    pub tester_lease_secs: i64,
    /// Expired leases after which a check job ends as an `error` check instead of being
    /// claimed again (`quire_store::Store::claim_job`).
    pub tester_max_lost_leases: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`[web] trusted_proxies`);
    /// none: the TCP peer is the client ([`client`]).
    pub trusted_proxies: client::TrustedProxies,
    /// Requests served at once, and how long one waits for its turn before a 503 ([`shed`]).
    pub shed: shed::ShedConfig,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            base_url: "http://127.0.0.1:8080".into(),
            projects: HashMap::new(),
            per_page: 50,
            tester_lease_secs: 120,
            tester_max_lost_leases: quire_store::MAX_LOST_LEASES,
            trusted_proxies: client::TrustedProxies::default(),
            shed: shed::ShedConfig::default(),
        }
    }
}

/// The largest request body of most routes (forms, the APIs' writes): axum's default, set here
/// so that it is a decision, and the one `client_max_body_size` in contrib/nginx.conf repeats.
pub const BODY_LIMIT: usize = 2 << 20;

/// The largest request body of the tester and check routes (8 MiB): a report with a log of
/// `quire_store::CHECK_LOG_LIMIT` bytes (1 MiB) that JSON escapes whole (a control character
/// is `\u0000`, 6 bytes), and 2 MiB for the rest. Larger logs within it are cut, not refused
/// (crate::testers); contrib/nginx.conf and docs/api.md say the same figure.
pub const CHECK_BODY_LIMIT: usize = 6 * quire_store::CHECK_LOG_LIMIT + (2 << 20);

/// The default tag prefix of applied series in a mirror.
pub const DEFAULT_TAG_PREFIX: &str = "quire";

/// The first path segments the router serves itself: a project of one of these names would be
/// shadowed by them (`/series/...` is Patchwork's download, not project `series`), so no project
/// may be named so. Held to the router by a test.
pub const RESERVED_NAMES: &[&str] = &[
    "all", "api", "bundle", "healthz", "login", "logout", "metrics", "my", "patch", "project",
    "readyz", "series", "static",
];

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub config: Arc<WebConfig>,
    projects: Arc<tokio::sync::Mutex<ProjectCache>>,
    pub(crate) metrics: Arc<metrics::Metrics>,
    /// Series pages rendered for anonymous visitors, kept while their stamp holds.
    pub(crate) pages: Arc<page_cache::PageCache>,
    /// Series list and search pages rendered for anonymous visitors, kept while their
    /// project's stamp holds.
    pub(crate) lists: Arc<page_cache::PageCache>,
    /// False while the start's pages are rendered (crate::warm); `/readyz` says so.
    pub(crate) warmth: Arc<warm::Warmth>,
    /// Turns to serve a request (crate::shed).
    pub(crate) turns: Arc<shed::Turns>,
}

/// What a list line shows of a series beyond its summary: applied or not, checks passed or
/// not (read for a whole page at once, `Store::line_states`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RowState {
    pub applied: Option<bool>,
    pub checks_pass: Option<bool>,
}

impl RowState {
    pub(crate) fn of(line: Option<&quire_store::LineState>) -> RowState {
        let Some(line) = line else { return RowState::default() };
        RowState {
            applied: build::applied(line.apply),
            checks_pass: build::checks_pass(line.checks.iter().copied()),
        }
    }
}

/// The projects' settings, read again after [`PROJECT_CACHE_TTL`]: every page names a project,
/// and the store's project list counts messages, which is not worth doing per request.
#[derive(Default)]
struct ProjectCache {
    read_at: Option<std::time::Instant>,
    projects: Arc<HashMap<String, quire_store::ProjectConfig>>,
}

/// How long the projects' settings are trusted; also the longest a new project waits to show.
pub const PROJECT_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(5);

impl AppState {
    pub fn new(store: Store, config: WebConfig) -> AppState {
        let turns = Arc::new(shed::Turns::new(config.shed));
        AppState {
            turns,
            store: Arc::new(store),
            config: Arc::new(config),
            projects: Default::default(),
            metrics: Default::default(),
            pages: Default::default(),
            lists: Default::default(),
            warmth: Default::default(),
        }
    }

    /// The settings of every project, by name, at most [`PROJECT_CACHE_TTL`] old.
    pub(crate) async fn project_configs(
        &self,
    ) -> Result<Arc<HashMap<String, quire_store::ProjectConfig>>, quire_store::Error> {
        let mut cache = self.projects.lock().await;
        if let Some(at) = cache.read_at
            && at.elapsed() < PROJECT_CACHE_TTL
        {
            return Ok(cache.projects.clone());
        }
        let fresh = self.store.project_configs().await?;
        cache.projects = Arc::new(fresh.into_iter().map(|c| (c.name.clone(), c)).collect());
        cache.read_at = Some(std::time::Instant::now());
        Ok(cache.projects.clone())
    }
}

/// The whole site.
pub fn router(state: AppState) -> Router {
    // Testers and external CI post logs (crate::testers): their own body limit.
    let checks = Router::new()
        .route("/api/v1/testers/claim", post(testers::claim))
        .route("/api/v1/testers/jobs/{id}/heartbeat", post(testers::heartbeat))
        .route("/api/v1/testers/jobs/{id}/result", post(testers::result))
        .route("/api/v1/checks", get(api::checks).post(testers::post_check))
        .layer(DefaultBodyLimit::max(CHECK_BODY_LIMIT));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(metrics::readyz))
        .route("/metrics", get(metrics::metrics))
        .merge(checks)
        .route("/api/v1", get(api::index))
        .route("/api/v1/", get(api::index))
        .route("/api/v1/openapi.json", get(api::openapi))
        .route("/api/v1/projects", get(api::projects))
        .route("/api/v1/projects/{project}/series", get(api::project_series))
        .route("/api/v1/search", get(api::search))
        .route("/api/v1/series/{*id}", get(api::series))
        .route("/api/v1/messages/{*id}", get(api::message))
        .route("/api/v1/events", get(api::events))
        .route("/api/v1/patches/{*id}", axum::routing::patch(api::patch_update))
        // Patchwork's REST API (its routes: crate::patchwork::routes) and download URLs (git-pw,
        // pwclient): static prefixes win over `{project}`, hence RESERVED_NAMES.
        .merge(patchwork::routes())
        .route("/series/{*rest}", get(patchwork::series_download))
        .route("/project/{*rest}", get(patchwork::project_download))
        .route("/patch/{*rest}", get(patchwork::patch_redirect))
        .route("/bundle/{*rest}", get(patchwork::bundle_download))
        .route("/login", get(accounts::login_get).post(accounts::login_post))
        .route("/logout", post(accounts::logout_post))
        .route("/my/bundles", get(accounts::my_bundles))
        .route("/my/bundles/{id}/mbox", get(accounts::bundle_mbox))
        .route("/{project}/{id}/workflow", post(accounts::workflow_post))
        .route("/{project}/{id}/bundle", post(accounts::bundle_post))
        .route("/", get(pages::front))
        .route("/static/style.css", get(pages::stylesheet))
        .route("/{project}", get(pages::project_slash))
        .route("/{project}/", get(inbox::list_get).post(inbox::list_post))
        .route("/{project}/new.atom", get(pages::atom))
        .route("/{project}/events.atom", get(events_feed::events_atom))
        .route("/{project}/{id}", get(pages::message_slash))
        .route("/{project}/{id}/", get(inbox::message_get).post(inbox::message_post))
        .route("/{project}/{id}/interdiff/{other}", get(pages::interdiff))
        .route("/{project}/queue/{address}", get(pages::queue))
        .route("/{project}/{id}/mbox", get(pages::mbox))
        .route("/{project}/{id}/raw", get(pages::raw))
        .route("/{project}/{id}/patch", get(pages::patch))
        .route("/{project}/{id}/apply.log", get(pages::apply_log))
        .route("/{project}/{id}/checks/{check}", get(pages::check_log))
        // public-inbox's URLs (b4, lei); `/all/` (static) wins over `{project}`.
        .route("/{project}/{id}/t.mbox.gz", get(inbox::t_mbox_gz))
        .route("/{project}/{id}/T/", get(inbox::thread_flat))
        .route("/all/", get(inbox::all_get).post(inbox::all_post))
        .route("/all/new.atom", get(inbox::all_atom))
        .route("/all/{id}", get(inbox::all_message_slash))
        .route("/all/{id}/", get(inbox::all_message).post(inbox::all_message_post))
        .route("/all/{id}/raw", get(inbox::all_raw))
        .route("/all/{id}/t.mbox.gz", get(inbox::all_t_mbox_gz))
        .route("/all/{id}/T/", get(inbox::all_thread_flat))
        .fallback(pages::not_found)
        // Outside the check routes' own limit, which wins over it there.
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        // Gzipped mboxes are sent as they are: compressing them again would give them a
        // Content-Encoding, and b4 then fails with BadGzipFile.
        .layer(tower_http::compression::CompressionLayer::new().compress_when({
            use tower_http::compression::Predicate as _;
            use tower_http::compression::predicate::{DefaultPredicate, NotForContentType};
            DefaultPredicate::new().and(NotForContentType::const_new("application/gzip"))
        }))
        .layer(axum::middleware::from_fn(headers::security))
        // Inside `track`, so that the latency of a refused request is counted too (as 5xx).
        .layer(axum::middleware::from_fn_with_state(state.clone(), shed::shed))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .with_state(state)
}

/// Serves the site on `listen` until the process is stopped, rendering the newest pages at
/// start as `warm` says (crate::warm; `/readyz` is 503 until it is done).
pub async fn serve(
    store: Store,
    listen: SocketAddr,
    config: WebConfig,
    warm: warm::WarmOptions,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr().unwrap_or(listen);
    tracing::info!(%addr, "serving");
    let state = AppState::new(store, config);
    warm::begin(&state, warm);
    tokio::spawn(warm::warm(state.clone(), warm));
    serve_on(listener, state).await
}

/// Serves the site on a listener already bound (tests bind 127.0.0.1:0 and read the port).
pub async fn serve_on(listener: tokio::net::TcpListener, state: AppState) -> anyhow::Result<()> {
    // The peer address is what failed logins are counted by (crate::client).
    axum::serve(listener, router(state).into_make_service_with_connect_info::<SocketAddr>())
        .await
        .context("the web server stopped")
}

#[cfg(test)]
mod reserved_names_tests {
    /// Every first path segment the router names itself is reserved, so that a new route cannot
    /// silently shadow a project of that name.
    #[test]
    fn every_top_level_route_is_a_reserved_name() {
        let source = include_str!("lib.rs");
        let mut segments: Vec<&str> = source
            .split(".route(\"/")
            .skip(1)
            .filter_map(|rest| rest.split(['/', '"']).next())
            .filter(|s| !s.is_empty() && !s.starts_with('{'))
            .collect();
        segments.sort();
        segments.dedup();
        for s in &segments {
            assert!(super::RESERVED_NAMES.contains(s), "route /{s}/ is not in RESERVED_NAMES");
        }
        assert!(segments.len() >= 10, "{segments:?}");
    }
}
