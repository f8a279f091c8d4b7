//! Web accounts and the maintainers' workflow on the pages.
//!
//! - `GET/POST /login`, `POST /logout`: sessions kept in the store (see
//!   `quire_store::accounts`), named by the `quire_session` cookie (HttpOnly, SameSite=Lax,
//!   Secure when the site's base URL is https). The server keeps no state of its own.
//! - Every form of a session carries its CSRF secret; a POST from a session without it, or with
//!   another one, is refused with 403. Failed logins are limited per (account, client address)
//!   and per client address (429; the address is the peer's or a trusted proxy's word,
//!   `crate::client`), and the answer never says whether the username exists.
//! - The series page shows each patch's state, delegate and archived flag to everyone; a
//!   maintainer (or admin) of the project also gets forms to change them, patch by patch or the
//!   whole series (`POST /<project>/<id>/workflow`); every change is an event naming who.
//! - Personal bundles: `POST /<project>/<id>/bundle` adds a patch or the series to one of the
//!   user's bundles, `/my/bundles` lists them, `/my/bundles/<id>/mbox` downloads one as a single
//!   mbox for `git am` (with collected trailers).

use crate::AppState;
use crate::error::{WebError, WebResult, store_err};
use crate::url::{message_url, segment};
use askama::Template;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use quire_store::accounts::{SESSION_SECS, same_secret};
use quire_store::{Login, PATCH_STATES, PatchFilter, PatchUpdate, SeriesDetail, Session};
use serde::Deserialize;
use std::net::SocketAddr;

/// The session cookie's name.
pub const COOKIE: &str = "quire_session";

/// A request refused for who sent it: not logged in, wrong CSRF token, or not allowed.
fn forbidden(why: &str) -> Response {
    crate::error::WebError::refused(StatusCode::FORBIDDEN, why).into_response()
}

/// The session cookie's value, if the request has one.
pub(crate) fn cookie_secret(headers: &HeaderMap) -> Option<String> {
    for v in headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for part in v.split(';') {
            if let Some((k, val)) = part.trim().split_once('=')
                && k == COOKIE
            {
                return Some(val.trim().to_string());
            }
        }
    }
    None
}

/// The live session of the request, if it has one.
pub(crate) async fn session(state: &AppState, headers: &HeaderMap) -> WebResult<Option<Session>> {
    let Some(secret) = cookie_secret(headers) else { return Ok(None) };
    state.store.session(&secret).await.map_err(store_err("reading a session"))
}

/// The session of a form POST whose CSRF token matches, or the 403 answer.
async fn form_session(
    state: &AppState,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<Session, Response> {
    let s = match session(state, headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(forbidden(
                "You are not logged in (or your session has expired): log in at /login and try again.",
            ));
        }
        Err(e) => return Err(e.into_response()),
    };
    if csrf.is_empty() || !same_secret(csrf, &s.csrf) {
        return Err(forbidden(
            "The form's CSRF token is missing or wrong: reload the page and submit the form again.",
        ));
    }
    Ok(s)
}

fn secure(state: &AppState) -> bool {
    state.config.base_url.starts_with("https://")
}

fn session_cookie(state: &AppState, value: &str, max_age: i64) -> Option<HeaderValue> {
    let secure = if secure(state) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .ok()
}

/// The key the request's failed logins are counted under: its client's address (the TCP
/// peer, or what a trusted proxy says: crate::client).
fn client(state: &AppState, headers: &HeaderMap, ext: &Extensions) -> String {
    match ext.get::<ConnectInfo<SocketAddr>>() {
        Some(c) => crate::client::limit_key(crate::client::client_ip(
            c.0.ip(),
            headers,
            &state.config.trusted_proxies,
        )),
        // Only a server started without connect info (tests calling the router directly).
        None => "unknown".into(),
    }
}

/// Where to go after logging in: a path on this site only.
fn local_target(next: &str) -> String {
    if next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
    {
        next.to_string()
    } else {
        "/".to_string()
    }
}

fn see_other(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(v) => (StatusCode::SEE_OTHER, [(header::LOCATION, v)]).into_response(),
        Err(_) => (StatusCode::SEE_OTHER, [(header::LOCATION, HeaderValue::from_static("/"))])
            .into_response(),
    }
}

/// Pages that depend on who is logged in must not be kept by caches.
pub(crate) fn private(mut r: Response) -> Response {
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    r
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage {
    pub error: Option<String>,
    pub username: String,
    pub next: String,
    pub user: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// `GET /login`.
pub async fn login_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    q: Result<Query<NextQuery>, axum::extract::rejection::QueryRejection>,
) -> WebResult<Response> {
    let next = q.map(|Query(q)| q.next).unwrap_or_default();
    let user = session(&state, &headers).await?.map(|s| s.user.username);
    let page = LoginPage { error: None, username: String::new(), next: local_target(&next), user };
    Ok(private(
        Html(
            page.render()
                .map_err(|e| WebError::Internal(anyhow::anyhow!("rendering a page: {e}")))?,
        )
        .into_response(),
    ))
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

/// `POST /login`: a session cookie and a redirect, or the form again with one message.
pub async fn login_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    ext: Extensions,
    form: Result<Form<LoginForm>, FormRejection>,
) -> WebResult<Response> {
    let Ok(Form(f)) = form else {
        return Err(WebError::BadRequest("The login form must be sent as application/x-www-form-urlencoded with username and password.".into()));
    };
    let again = |status: StatusCode, error: String| -> WebResult<Response> {
        let page = LoginPage {
            error: Some(error),
            username: f.username.clone(),
            next: local_target(&f.next),
            user: None,
        };
        let html = page
            .render()
            .map_err(|e| WebError::Internal(anyhow::anyhow!("rendering a page: {e}")))?;
        Ok(private((status, Html(html)).into_response()))
    };
    match state
        .store
        .login(&f.username, &f.password, &client(&state, &headers, &ext), SESSION_SECS)
        .await
        .map_err(store_err("logging in"))?
    {
        Login::Ok { secret, .. } => {
            let mut r = see_other(&local_target(&f.next));
            if let Some(c) = session_cookie(&state, &secret, SESSION_SECS) {
                r.headers_mut().insert(header::SET_COOKIE, c);
            }
            Ok(private(r))
        }
        Login::Bad => again(StatusCode::UNAUTHORIZED, "Wrong username or password.".into()),
        Login::Limited { retry_after } => {
            let minutes = (retry_after + 59) / 60;
            let mut r = again(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "Too many failed logins: try again in {minutes} minute{}.",
                    if minutes == 1 { "" } else { "s" }
                ),
            )?;
            if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
            Ok(r)
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// `POST /logout`: ends the session (CSRF-checked) and clears the cookie.
pub async fn logout_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let csrf = form.map(|Form(f)| f.csrf).unwrap_or_default();
    if let Err(r) = form_session(&state, &headers, &csrf).await {
        return r;
    }
    if let Some(secret) = cookie_secret(&headers)
        && let Err(e) = state.store.logout(&secret).await
    {
        return store_err("ending a session")(e).into_response();
    }
    let mut r = see_other("/");
    if let Some(c) = session_cookie(&state, "", 0) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    private(r)
}

// ---------------------------------------------------------------------------------------------
// The workflow on the series page

/// A patch's line in the series page's workflow table.
pub struct PatchStateView {
    pub number: u32,
    pub subject: String,
    pub message_id: String,
    pub state: String,
    pub delegate: String,
    pub archived: bool,
}

/// What the series page shows of the workflow: states for everyone, forms for who may.
#[derive(Default)]
pub struct WorkflowView {
    /// The logged-in user.
    pub user: Option<String>,
    pub csrf: String,
    /// May change states (maintainer or admin of the project).
    pub maintainer: bool,
    pub action: String,
    pub bundle_action: String,
    pub login_url: String,
    pub patches: Vec<PatchStateView>,
    pub states: Vec<&'static str>,
    /// Usernames a patch may be delegated to (people with a role in the project).
    pub delegates: Vec<String>,
    /// The user's bundles in this project.
    pub bundles: Vec<String>,
}

/// The workflow part of the series page of `detail` for the request's session.
pub(crate) async fn workflow_view(
    state: &AppState,
    project: &str,
    detail: &SeriesDetail,
    headers: &HeaderMap,
) -> WebResult<WorkflowView> {
    let url = message_url(project, &detail.message_id);
    let mut view = WorkflowView {
        action: format!("{url}workflow"),
        bundle_action: format!("{url}bundle"),
        login_url: format!("/login?next={}", segment(&url)),
        states: PATCH_STATES.to_vec(),
        ..Default::default()
    };
    for p in series_patches(state, detail).await? {
        view.patches.push(PatchStateView {
            number: p.number,
            subject: p.subject,
            message_id: p.message_id,
            state: p.state,
            delegate: p.delegate.map(|u| u.username).unwrap_or_default(),
            archived: p.archived,
        });
    }
    view.patches.sort_by_key(|p| p.number);
    if let Some(s) = session(state, headers).await? {
        view.maintainer = state
            .store
            .may_maintain(s.user.id, project)
            .await
            .map_err(store_err("reading roles"))?;
        if view.maintainer {
            for u in state.store.users(None).await.map_err(store_err("listing users"))? {
                if state
                    .store
                    .roles(u.id)
                    .await
                    .map_err(store_err("reading roles"))?
                    .iter()
                    .any(|(p, _)| p == project)
                {
                    view.delegates.push(u.username);
                }
            }
        }
        view.bundles = state
            .store
            .bundles(Some(project), Some(s.user.id))
            .await
            .map_err(store_err("reading bundles"))?
            .into_iter()
            .filter(|b| b.owner.id == s.user.id)
            .map(|b| b.name)
            .collect();
        view.user = Some(s.user.username);
        view.csrf = s.csrf;
    }
    Ok(view)
}

/// The workflow rows of the series' patches.
async fn series_patches(
    state: &AppState,
    detail: &SeriesDetail,
) -> WebResult<Vec<quire_store::PatchInfo>> {
    let Some(series) = state
        .store
        .series_id_of_head(&detail.message_id)
        .await
        .map_err(store_err("reading a series"))?
    else {
        return Ok(Vec::new());
    };
    let f = PatchFilter {
        series: Some(series),
        per_page: 1000,
        order: quire_store::Order::Id,
        ..Default::default()
    };
    Ok(state.store.patches(&f).await.map_err(store_err("reading patches"))?.items)
}

#[derive(Debug, Deserialize)]
pub struct WorkflowForm {
    #[serde(default)]
    csrf: String,
    /// A patch's Message-ID, or empty for every patch of the series.
    #[serde(default)]
    patch: String,
    /// A state; empty keeps it.
    #[serde(default)]
    state: String,
    /// A username, `-` for nobody; empty keeps it.
    #[serde(default)]
    delegate: String,
    /// `yes` or `no`; empty keeps it.
    #[serde(default)]
    archived: String,
}

/// The series page's series for a POST to `/<project>/<id>/...`, or a 404 answer.
async fn posted_series(
    state: &AppState,
    project: &str,
    id: &str,
) -> Result<SeriesDetail, Response> {
    let id = crate::url::bare_id(id).to_string();
    if crate::url::implausible_id(&id).is_some() {
        return Err(
            WebError::not_found(format!("No series <{id}> in project {project}.")).into_response()
        );
    }
    match state.store.series(&id).await {
        Ok(Some(d)) => Ok(d),
        Ok(None) => {
            Err(WebError::not_found(format!("No series <{id}> in project {project}."))
                .into_response())
        }
        Err(e) => Err(store_err("reading a series")(e).into_response()),
    }
}

/// `POST /<project>/<id>/workflow`: a maintainer changes the state, delegate or archived flag
/// of one patch or of every patch of the series.
pub async fn workflow_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    form: Result<Form<WorkflowForm>, FormRejection>,
) -> Response {
    let Ok(Path((project, id))) = path else {
        return WebError::BadRequest("The address cannot be read.".into()).into_response();
    };
    let f = match form {
        Ok(Form(f)) => f,
        Err(_) => WorkflowForm {
            csrf: String::new(),
            patch: String::new(),
            state: String::new(),
            delegate: String::new(),
            archived: String::new(),
        },
    };
    let s = match form_session(&state, &headers, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let r: WebResult<Response> = async {
        match state
            .store
            .may_maintain(s.user.id, &project)
            .await
            .map_err(store_err("reading roles"))?
        {
            true => {}
            false => {
                return Ok(forbidden(&format!(
                    "User {} is not a maintainer of project {project}.",
                    s.user.username
                )));
            }
        }
        let detail = match posted_series(&state, &project, &id).await {
            Ok(d) => d,
            Err(r) => return Ok(r),
        };
        let mut change = PatchUpdate::default();
        if !f.state.is_empty() {
            if !PATCH_STATES.contains(&f.state.as_str()) {
                return Err(WebError::BadRequest(format!(
                    "Unknown state {:?}: use one of {}.",
                    f.state,
                    PATCH_STATES.join(", ")
                )));
            }
            change.state = Some(f.state.clone());
        }
        match f.delegate.trim() {
            "" => {}
            "-" => change.delegate = Some(None),
            name => {
                let u = state.store.user_by_name(name).await.map_err(store_err("reading users"))?;
                let u = u.ok_or_else(|| {
                    WebError::BadRequest(format!("No user {name:?} to delegate to."))
                })?;
                change.delegate = Some(Some(u.id));
            }
        }
        match f.archived.as_str() {
            "" => {}
            "yes" => change.archived = Some(true),
            "no" => change.archived = Some(false),
            other => {
                return Err(WebError::BadRequest(format!("archived={other:?}: use yes or no.")));
            }
        }
        let patches = series_patches(&state, &detail).await?;
        // Only patches of the project the maintainer was checked for.
        let chosen: Vec<_> = patches
            .iter()
            .filter(|p| p.project == project && (f.patch.is_empty() || p.message_id == f.patch))
            .collect();
        if chosen.is_empty() {
            return Err(WebError::not_found(format!(
                "<{}> is not a patch of this series.",
                f.patch
            )));
        }
        for p in chosen {
            state
                .store
                .update_patch(p.id, &change, &s.user)
                .await
                .map_err(store_err("changing a patch"))?;
        }
        Ok(see_other(&message_url(&project, &detail.message_id)))
    }
    .await;
    private(r.unwrap_or_else(|e| e.into_response()))
}

#[derive(Debug, Deserialize)]
pub struct BundleForm {
    #[serde(default)]
    csrf: String,
    /// A patch's Message-ID, or empty for every patch of the series.
    #[serde(default)]
    patch: String,
    #[serde(default)]
    bundle: String,
}

/// `POST /<project>/<id>/bundle`: adds a patch or the series to one of the user's bundles
/// (created when new).
pub async fn bundle_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    form: Result<Form<BundleForm>, FormRejection>,
) -> Response {
    let Ok(Path((project, id))) = path else {
        return WebError::BadRequest("The address cannot be read.".into()).into_response();
    };
    let f = match form {
        Ok(Form(f)) => f,
        Err(_) => BundleForm { csrf: String::new(), patch: String::new(), bundle: String::new() },
    };
    let s = match form_session(&state, &headers, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let r: WebResult<Response> = async {
        let detail = match posted_series(&state, &project, &id).await {
            Ok(d) => d,
            Err(r) => return Ok(r),
        };
        if f.bundle.trim().is_empty() {
            return Err(WebError::BadRequest(
                "A bundle needs a name: type one in the bundle field.".into(),
            ));
        }
        let patches = series_patches(&state, &detail).await?;
        let ids: Vec<i64> = patches
            .iter()
            .filter(|p| p.project == project && (f.patch.is_empty() || p.message_id == f.patch))
            .map(|p| p.id)
            .collect();
        if ids.is_empty() {
            return Err(WebError::not_found(format!(
                "<{}> is not a patch of this series.",
                f.patch
            )));
        }
        state
            .store
            .add_to_bundle(&s.user, &project, &f.bundle, &ids)
            .await
            .map_err(store_err("adding to a bundle"))?;
        Ok(see_other(&message_url(&project, &detail.message_id)))
    }
    .await;
    private(r.unwrap_or_else(|e| e.into_response()))
}

// ---------------------------------------------------------------------------------------------
// My bundles

pub struct BundleView {
    pub name: String,
    pub project: String,
    pub public: bool,
    pub patches: usize,
    pub mbox_url: String,
    pub lines: Vec<String>,
}

#[derive(Template)]
#[template(path = "bundles.html")]
pub struct BundlesPage {
    pub user: Option<String>,
    pub csrf: String,
    pub bundles: Vec<BundleView>,
}

/// `GET /my/bundles`: the user's bundles.
pub async fn my_bundles(State(state): State<AppState>, headers: HeaderMap) -> WebResult<Response> {
    let Some(s) = session(&state, &headers).await? else {
        return Ok(see_other("/login?next=/my/bundles"));
    };
    let mut bundles = Vec::new();
    for b in
        state.store.bundles(None, Some(s.user.id)).await.map_err(store_err("reading bundles"))?
    {
        if b.owner.id != s.user.id {
            continue;
        }
        let mut lines = Vec::new();
        for id in &b.patches {
            if let Some(p) = state.store.patch(*id).await.map_err(store_err("reading a patch"))? {
                lines.push(format!("[{}] {}", p.state, p.subject));
            }
        }
        bundles.push(BundleView {
            mbox_url: format!("/my/bundles/{}/mbox", b.id),
            name: b.name,
            project: b.project,
            public: b.public,
            patches: b.patches.len(),
            lines,
        });
    }
    let page = BundlesPage { user: Some(s.user.username), csrf: s.csrf, bundles };
    Ok(private(
        Html(
            page.render()
                .map_err(|e| WebError::Internal(anyhow::anyhow!("rendering a page: {e}")))?,
        )
        .into_response(),
    ))
}

/// `GET /my/bundles/<id>/mbox`: one of the user's bundles (or a public one) as one mbox.
pub async fn bundle_mbox(
    State(state): State<AppState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Response {
    let r: WebResult<Response> = async {
        let Ok(Path(raw)) = path else { return Err(WebError::not_found("No such bundle.")) };
        let id: i64 = raw.parse().map_err(|_| {
            WebError::not_found(format!("No bundle {raw:?}: bundles are numbered."))
        })?;
        let viewer = session(&state, &headers).await?;
        let b = state.store.bundle(id).await.map_err(store_err("reading a bundle"))?;
        let b = b.filter(|b| b.public || viewer.as_ref().is_some_and(|s| s.user.id == b.owner.id));
        let b = b.ok_or_else(|| {
            WebError::not_found(format!(
                "No bundle {id} of yours (log in to download your own bundles)."
            ))
        })?;
        let mut mbox = Vec::new();
        for id in &b.patches {
            if let Some(p) = state.store.patch(*id).await.map_err(store_err("reading a patch"))? {
                let part = crate::patchwork::series_patches_mbox(
                    &state,
                    &p.series_head,
                    Some(&[p.number]),
                )
                .await;
                mbox.extend(part.map_err(|_| {
                    WebError::not_found(format!(
                        "Patch <{}> of the bundle has no stored mail.",
                        p.message_id
                    ))
                })?);
            }
        }
        let mut r =
            (StatusCode::OK, [(header::CONTENT_TYPE, "application/mbox")], mbox).into_response();
        let name: String = b
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename={name}.mbox")) {
            r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
        Ok(r)
    }
    .await;
    private(r.unwrap_or_else(|e| e.into_response()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_targets_after_login() {
        assert_eq!(local_target("/p/x@y/"), "/p/x@y/");
        assert_eq!(local_target("//evil.example/"), "/");
        assert_eq!(local_target("https://evil.example/"), "/");
        assert_eq!(local_target("/\\evil.example"), "/");
        assert_eq!(local_target(""), "/");
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=b; quire_session=abc; c=d"));
        assert_eq!(cookie_secret(&h).as_deref(), Some("abc"));
        assert_eq!(cookie_secret(&HeaderMap::new()), None);
    }
}
