//! Patchwork's REST API (`/api/1.0/` .. `/api/1.3/`, and `/api/` for the newest), as git-pw
//! and pwclient use it, over quire's store; and Patchwork's download URLs (`/series/N/mbox/`,
//! `/project/P/patch/MSGID/mbox/` with `?series=*`, `.../raw/`, `.../cover/MSGID/mbox/`,
//! `/bundle/USER/NAME/mbox/`, `/patch/N/mbox/`).
//!
//! Shapes follow Patchwork 3.3's responses (`../shared/reference/patchwork-api/`): lists are
//! bare JSON arrays, paged by `page`/`per_page` with `Link` headers; writes take JSON or
//! form-encoded bodies (`True`/`False`); `Authorization: Token <secret>`. Unlike Patchwork, a
//! bad filter (`state=bogus`, `order=sideways`, `archived=maybe`) is a 400 with a message,
//! never an empty 200.
//!
//! One file per resource, each with its handlers and JSON shape; [`routes`] registers them in
//! the router once per version prefix, and the [`Ctx`] extractor gives every handler the
//! version, the caller and the query. Numbers: a patch, a cover letter and a comment are their
//! raw message row id; a series its head's; a person the row id of their first message (see
//! `quire_store::workflow`).

mod bundles;
mod checks;
mod comments;
mod covers;
mod downloads;
mod events;
mod patches;
mod people;
mod projects;
mod series;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use quire_store::{
    Bundle, CheckState, CoverQuery, NewCheck, Order, PATCH_STATES, PatchFilter, PatchInfo,
    PatchUpdate, Person, ProjectRef, SeriesInfo, SeriesMember, SeriesQuery, User,
};
use serde_json::{Value, json};
use std::collections::HashMap;

use crate::AppState;
use checks::check_summary;
pub(crate) use downloads::series_patches_mbox;
pub use downloads::{bundle_download, patch_redirect, project_download, series_download};
use patches::load_patch;
use people::{person_json, user_json};
use projects::{project_filter, project_json};

/// API versions served; `/api/` without one is the newest.
pub const VERSIONS: &[&str] = &["1.0", "1.1", "1.2", "1.3"];
const NEWEST: &str = "1.3";
const DEFAULT_PER_PAGE: u32 = 30;
const MAX_PER_PAGE: u32 = 250;

/// An API answer that is not a success: a status and `{"detail": ...}` (or a field map).
pub struct PwError(StatusCode, Value);

impl PwError {
    fn bad(msg: impl Into<String>) -> PwError {
        PwError(StatusCode::BAD_REQUEST, json!({ "detail": msg.into() }))
    }
    fn not_found(msg: impl Into<String>) -> PwError {
        PwError(StatusCode::NOT_FOUND, json!({ "detail": msg.into() }))
    }
    fn forbidden(msg: impl Into<String>) -> PwError {
        PwError(StatusCode::FORBIDDEN, json!({ "detail": msg.into() }))
    }
}

impl IntoResponse for PwError {
    fn into_response(self) -> Response {
        (self.0, [(header::CONTENT_TYPE, "application/json")], self.1.to_string()).into_response()
    }
}

/// The web crate's one error (`crate::error`) as Patchwork's API answers it.
impl From<crate::error::WebError> for PwError {
    fn from(e: crate::error::WebError) -> PwError {
        let (status, _, detail) = e.told::<crate::error::Json>();
        PwError(status, json!({ "detail": detail }))
    }
}

/// A store error as the API answers it: the web crate's one mapping.
fn store_err(e: quire_store::Error) -> PwError {
    crate::error::WebError::store("answering Patchwork's API", e).into()
}

type PwResult<T> = Result<T, PwError>;
// ---------------------------------------------------------------------------------------------
// Request context

/// Query parameters in order, repeated keys kept.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: &str) -> Params {
        Params(
            form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
            .collect()
    }
    fn one(&self, key: &str) -> Option<String> {
        self.all(key).into_iter().last()
    }
}

/// What every API handler knows of its request: the version asked for, the caller, the query.
pub struct Ctx {
    state: AppState,
    /// `http://host:port`.
    base: String,
    version: (u32, u32),
    /// `http://host:port/api/1.3` (or `/api` when the request named no version).
    api: String,
    params: Params,
    /// The path of the list asked for, for Link headers.
    path: String,
    user: Option<User>,
    /// A token of scope tester/admin without a user.
    service: Option<String>,
}

impl Ctx {
    /// Whether the request carries a valid token (of a user, or a tester/admin token).
    fn authenticated(&self) -> bool {
        self.user.is_some() || self.service.is_some()
    }

    fn at_least(&self, major: u32, minor: u32) -> bool {
        self.version >= (major, minor)
    }
}

fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    let configured = state.config.base_url.trim_end_matches('/');
    let scheme = if configured.starts_with("https://") { "https" } else { "http" };
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host)
            if !host.is_empty()
                && host.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c)) =>
        {
            format!("{scheme}://{host}")
        }
        _ => configured.to_string(),
    }
}

/// Who the request is from: no token, a user's token, or a tester/admin token.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> PwResult<(Option<User>, Option<String>)> {
    use crate::auth::Caller;
    match Caller::of(state, headers).await {
        Ok(Caller::Anonymous) => Ok((None, None)),
        Ok(Caller::User(_, user)) => Ok((Some(user), None)),
        Ok(Caller::Service(token)) => Ok((None, Some(token.scope))),
        Err(crate::error::WebError::Refused(StatusCode::UNAUTHORIZED, _)) => Err(PwError(
            StatusCode::UNAUTHORIZED,
            json!({ "detail": "Invalid token: unknown or revoked (quire token create NAME --user USER)." }),
        )),
        Err(e) => Err(e.into()),
    }
}

// ---------------------------------------------------------------------------------------------
// Routes

/// The API's routes, once per version prefix (`/api/1.0` .. `/api/1.3`, and `/api` for the
/// newest), each with and without its trailing slash as clients send both; anything else under
/// `/api/` is a 404 that says what is served.
pub fn routes() -> Router<AppState> {
    let mut r = Router::new();
    let mut prefixes: Vec<(String, (u32, u32))> =
        VERSIONS.iter().map(|v| (format!("/api/{v}"), version_of(v))).collect();
    prefixes.push(("/api".into(), version_of(NEWEST)));
    for (prefix, version) in prefixes {
        let mut add = |path: &str, m: MethodRouter<AppState>| {
            let m = m.fallback(method_not_allowed);
            let full = format!("{prefix}{path}");
            r = std::mem::take(&mut r).route(&full, m.clone()).route(&format!("{full}/"), m);
        };
        add("", get(index));
        add("/projects", get(projects::list));
        add("/projects/{id}", get(projects::detail));
        add("/people", get(people::people_list));
        add("/people/{id}", get(people::person_detail));
        add("/users", get(people::users_list));
        add("/users/{id}", get(people::user_detail));
        add("/series", get(series::list));
        add("/series/{id}", get(series::detail));
        add("/patches", get(patches::list));
        add("/patches/{id}", get(patches::detail).patch(patches::update).put(patches::update));
        add("/patches/{id}/comments", get(comments::patch_comments));
        add("/patches/{id}/checks", get(checks::list).post(checks::create));
        add("/patches/{id}/checks/{check}", get(checks::detail));
        add("/covers", get(covers::list));
        add("/covers/{id}", get(covers::detail));
        add("/covers/{id}/comments", get(comments::cover_comments));
        add("/events", get(events::list));
        if version >= (1, 1) {
            let writes = if version >= (1, 2) {
                post(bundles::create)
            } else {
                post(bundles::create_needs_1_2)
            };
            add("/bundles", get(bundles::list).merge(writes));
            add("/bundles/{id}", get(bundles::detail));
        }
    }
    r.route("/api/{*rest}", axum::routing::any(no_resource))
}

fn version_of(v: &str) -> (u32, u32) {
    let (maj, min) = v.split_once('.').unwrap_or(("1", "3"));
    (maj.parse().unwrap_or(1), min.parse().unwrap_or(3))
}

async fn method_not_allowed(method: Method) -> PwError {
    PwError(
        StatusCode::METHOD_NOT_ALLOWED,
        json!({ "detail": format!("Method \"{method}\" not allowed here.") }),
    )
}

/// A path under `/api/` that no route serves: an unknown version, or an unknown resource.
async fn no_resource(uri: Uri) -> PwError {
    let rest = uri.path().strip_prefix("/api").unwrap_or("");
    let first = rest.split('/').find(|s| !s.is_empty()).unwrap_or("");
    let b = first.as_bytes();
    if b.len() == 3 && b[1] == b'.' && b[0].is_ascii_digit() && !VERSIONS.contains(&first) {
        return PwError::not_found(format!(
            "API version {first} is not served: use one of {}",
            VERSIONS.join(", ")
        ));
    }
    let api = if VERSIONS.contains(&first) { format!("/api/{first}") } else { "/api".into() };
    PwError::not_found(format!("no API resource {rest}; see {api}/"))
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = PwError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> PwResult<Ctx> {
        let path = parts.uri.path().to_string();
        let base = base_url(state, &parts.headers);
        let named = path
            .strip_prefix("/api/")
            .and_then(|rest| rest.split('/').next())
            .filter(|v| VERSIONS.contains(v));
        let (version, api) = match named {
            Some(v) => (version_of(v), format!("{base}/api/{v}")),
            None => (version_of(NEWEST), format!("{base}/api")),
        };
        let (user, service) = authenticate(state, &parts.headers).await?;
        Ok(Ctx {
            state: state.clone(),
            base,
            version,
            api,
            params: Params::parse(parts.uri.query().unwrap_or("")),
            path,
            user,
            service,
        })
    }
}

/// The path's ids (`{id}`, `{check}`), percent-decoded as sent.
struct Ids(Vec<String>);

impl Ids {
    fn first(&self) -> &str {
        self.0.first().map(String::as_str).unwrap_or("")
    }
    fn second(&self) -> &str {
        self.0.get(1).map(String::as_str).unwrap_or("")
    }
}

impl FromRequestParts<AppState> for Ids {
    type Rejection = PwError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> PwResult<Ids> {
        let raw = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| PwError::not_found("no such API resource"))?;
        Ok(Ids(raw.iter().map(|(_, v)| percent_decode(v)).collect()))
    }
}

/// A write's fields, from JSON or a form (repeated keys become arrays).
struct Fields(HashMap<String, Value>);

impl FromRequest<AppState> for Fields {
    type Rejection = PwError;

    async fn from_request(req: Request, state: &AppState) -> PwResult<Fields> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| PwError(e.status(), json!({ "detail": e.body_text() })))?;
        parse_body(&headers, &body).map(Fields)
    }
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

fn json_ok(v: Value) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response()
}

/// A page of a list: the items as a bare array, paging in `Link`.
fn json_page(ctx: &Ctx, items: Vec<Value>, page: u32, per_page: u32, total: u64) -> Response {
    let last = total.div_ceil(u64::from(per_page)).max(1);
    let link = |p: u64| -> String {
        let mut params: Vec<(String, String)> =
            ctx.params.0.iter().filter(|(k, _)| k != "page").cloned().collect();
        params.push(("page".into(), p.to_string()));
        params.sort_by(|a, b| a.0.cmp(&b.0));
        let q: String =
            form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
        format!("{}{}?{}", ctx.base, ctx.path, q)
    };
    let mut links = Vec::new();
    let page = u64::from(page);
    if page < last {
        links.push(format!("<{}>; rel=\"next\"", link(page + 1)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", link(page - 1)));
    }
    links.push(format!("<{}>; rel=\"first\"", link(1)));
    links.push(format!("<{}>; rel=\"last\"", link(last)));
    let mut resp = json_ok(Value::Array(items));
    if let Ok(v) = HeaderValue::from_str(&links.join(", ")) {
        resp.headers_mut().insert(header::LINK, v);
    }
    resp
}

fn paging(ctx: &Ctx) -> PwResult<(u32, u32)> {
    let page = match ctx.params.one("page") {
        None => 1,
        Some(p) => p
            .parse::<u32>()
            .ok()
            .filter(|&p| p >= 1)
            .ok_or_else(|| PwError::bad(format!("page={p}: pages are numbered from 1")))?,
    };
    let per_page = match ctx.params.one("per_page") {
        None => DEFAULT_PER_PAGE,
        Some(p) => {
            p.parse::<u32>().ok().filter(|&p| p >= 1).map(|p| p.min(MAX_PER_PAGE)).ok_or_else(
                || PwError::bad(format!("per_page={p}: give a number from 1 to {MAX_PER_PAGE}")),
            )?
        }
    };
    Ok((page, per_page))
}

fn order(ctx: &Ctx, default: Order) -> PwResult<Order> {
    match ctx.params.one("order") {
        None => Ok(default),
        Some(o) => Order::parse(&o).ok_or_else(|| {
            PwError::bad(format!("order={o}: use date, -date, id, -id, name or -name"))
        }),
    }
}

fn id_of(s: &str, what: &str) -> PwResult<i64> {
    s.parse::<i64>()
        .ok()
        .filter(|&n| n > 0)
        .ok_or_else(|| PwError::not_found(format!("no {what} {s:?}: {what}s are numbered")))
}

/// Patchwork dates: `2016-09-11T22:26:33` (UTC, no zone).
fn date(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}

fn parse_date(s: &str, name: &str) -> PwResult<i64> {
    let s = s.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(d.timestamp());
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(d) = chrono::NaiveDateTime::parse_from_str(s, f) {
            return Ok(d.and_utc().timestamp());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).map(|d| d.and_utc().timestamp()).unwrap_or(0));
    }
    Err(PwError::bad(format!("{name}={s}: give a date as 2024-01-31 or 2024-01-31T12:00:00")))
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// The fields of a JSON or form body.
fn parse_body(headers: &HeaderMap, body: &Bytes) -> PwResult<HashMap<String, Value>> {
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if ct.starts_with("application/json") {
        if body.is_empty() {
            return Ok(HashMap::new());
        }
        return match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => Ok(m.into_iter().collect()),
            Ok(_) => Err(PwError::bad("the JSON body must be an object")),
            Err(e) => Err(PwError::bad(format!("the JSON body does not parse: {e}"))),
        };
    }
    let mut out: HashMap<String, Value> = HashMap::new();
    for (k, v) in form_urlencoded::parse(body) {
        let v = Value::String(v.into_owned());
        match out.get_mut(k.as_ref()) {
            Some(Value::Array(a)) => a.push(v),
            Some(old) => *old = Value::Array(vec![old.clone(), v]),
            None => {
                out.insert(k.into_owned(), v);
            }
        }
    }
    Ok(out)
}

fn field_bool(v: &Value, name: &str) -> PwResult<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) => {
            parse_bool(s).ok_or_else(|| PwError::bad(format!("{name}={s}: use true or false")))
        }
        other => Err(PwError::bad(format!("{name}={other}: use true or false"))),
    }
}

fn field_ids(v: &Value, name: &str) -> PwResult<Vec<i64>> {
    let one = |v: &Value| -> PwResult<i64> {
        match v {
            Value::Number(n) => {
                n.as_i64().ok_or_else(|| PwError::bad(format!("{name}: {n} is not an id")))
            }
            Value::String(s) => {
                s.trim().parse().map_err(|_| PwError::bad(format!("{name}: {s:?} is not an id")))
            }
            other => Err(PwError::bad(format!("{name}: {other} is not an id"))),
        }
    };
    match v {
        Value::Array(a) => a.iter().map(one).collect(),
        v => Ok(vec![one(v)?]),
    }
}

// ---------------------------------------------------------------------------------------------
// Shapes

/// `/api/1.x/`: the resources of the version.
async fn index(ctx: Ctx) -> Response {
    let mut m = serde_json::Map::new();
    for r in ["projects", "users", "people", "patches", "covers", "series", "events"] {
        m.insert(r.into(), Value::String(format!("{}/{r}/", ctx.api)));
    }
    if ctx.at_least(1, 1) {
        m.insert("bundles".into(), Value::String(format!("{}/bundles/", ctx.api)));
    }
    json_ok(Value::Object(m))
}

fn enc(id: &str) -> String {
    crate::url::segment(id)
}

fn patch_web_url(ctx: &Ctx, project: &str, msgid: &str) -> String {
    format!("{}/project/{}/patch/{}/", ctx.base, enc(project), enc(msgid))
}

fn cover_web_url(ctx: &Ctx, project: &str, msgid: &str) -> String {
    format!("{}/project/{}/cover/{}/", ctx.base, enc(project), enc(msgid))
}

/// An embedded patch or cover letter (in series, bundles, events).
fn member_json(ctx: &Ctx, kind: &str, project: &str, m: &SeriesMember, name: String) -> Value {
    let web = if kind == "covers" {
        cover_web_url(ctx, project, &m.message_id)
    } else {
        patch_web_url(ctx, project, &m.message_id)
    };
    let mut v = json!({
        "id": m.id,
        "url": format!("{}/{kind}/{}/", ctx.api, m.id),
        "msgid": format!("<{}>", m.message_id),
        "date": date(m.date),
        "name": name,
        "mbox": format!("{web}mbox/"),
    });
    if ctx.at_least(1, 1) {
        v["web_url"] = json!(web);
    }
    if ctx.at_least(1, 2) {
        v["list_archive_url"] =
            json!(format!("{}/{}/{}/", ctx.base, enc(project), enc(&m.message_id)));
    }
    v
}

/// The subject without its `Re:`/`[...]` prefixes.
fn bare_subject(s: &str) -> &str {
    let mut s = s.trim();
    loop {
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("re:") {
            s = s[3..].trim_start();
        } else if s.starts_with('[')
            && let Some(end) = s.find(']')
        {
            s = s[end + 1..].trim_start();
        } else {
            return s;
        }
    }
}

/// Patchwork's name of a patch: `[v2,1/2] subject` (prefixes it keeps, PATCH dropped).
fn patch_name(subject: &str, version: u32, number: u32, total: u32) -> String {
    let mut prefixes = Vec::new();
    if version > 1 {
        prefixes.push(format!("v{version}"));
    }
    if total > 1 || number > 1 {
        prefixes.push(format!("{number}/{total}"));
    }
    if prefixes.is_empty() {
        bare_subject(subject).to_string()
    } else {
        format!("[{}] {}", prefixes.join(","), bare_subject(subject))
    }
}

fn series_embed(ctx: &Ctx, project: &str, id: i64, name: &str, version: u32, when: i64) -> Value {
    let mut v = json!({
        "id": id,
        "url": format!("{}/series/{id}/", ctx.api),
        "date": date(when),
        "name": name,
        "version": version,
        "mbox": format!("{}/series/{id}/mbox/", ctx.base),
    });
    if ctx.at_least(1, 1) {
        v["web_url"] = json!(format!("{}/project/{}/list/?series={id}", ctx.base, enc(project)));
    }
    v
}

struct Projects(HashMap<i64, ProjectRef>);

impl Projects {
    async fn load(ctx: &Ctx) -> PwResult<Projects> {
        Ok(Projects(
            ctx.state
                .store
                .project_refs()
                .await
                .map_err(store_err)?
                .into_iter()
                .map(|p| (p.id, p))
                .collect(),
        ))
    }
    fn json(&self, ctx: &Ctx, id: i64) -> Value {
        self.0.get(&id).map(|p| project_json(ctx, p, None)).unwrap_or(Value::Null)
    }
}

/// The header fields of a raw message (unfolded, first of each name).
fn headers_json(raw: Option<&[u8]>) -> Value {
    let mut m = serde_json::Map::new();
    let Some(raw) = raw else { return Value::Object(m) };
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\n\n").next().unwrap_or("").replace("\r\n", "\n");
    let mut current: Option<(String, String)> = None;
    let put = |m: &mut serde_json::Map<String, Value>, kv: Option<(String, String)>| {
        if let Some((k, v)) = kv
            && !m.contains_key(&k)
        {
            m.insert(k, Value::String(v));
        }
    };
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, v)) = current.as_mut() {
                v.push('\n');
                v.push_str(line);
            }
            continue;
        }
        put(&mut m, current.take());
        if let Some((k, v)) = line.split_once(':') {
            current = Some((k.trim().to_string(), v.trim().to_string()));
        }
    }
    put(&mut m, current.take());
    Value::Object(m)
}

fn words(ctx: &Ctx) -> Vec<String> {
    ctx.params
        .all("q")
        .iter()
        .flat_map(|q| q.split_whitespace().map(String::from).collect::<Vec<_>>())
        .collect()
}

fn need_user(ctx: &Ctx) -> PwResult<&User> {
    match (&ctx.user, &ctx.service) {
        (Some(u), _) => Ok(u),
        (None, Some(scope)) => Err(PwError::forbidden(format!(
            "this {scope} token belongs to no user; create one with `quire token create NAME --user USER`"
        ))),
        (None, None) => Err(PwError::forbidden("Authentication credentials were not provided.")),
    }
}

#[cfg(test)]
mod tests {
    use super::downloads::slug;
    use super::patches::prefixes;
    use super::*;

    #[test]
    fn names_and_slugs_are_patchworks() {
        assert_eq!(
            patch_name("[PATCH v2 1/2] test: Add some lorem ipsum", 2, 1, 2),
            "[v2,1/2] test: Add some lorem ipsum"
        );
        assert_eq!(slug("[v2,1/2] test: Add some lorem ipsum"), "v2-1-2-test-Add-some-lorem-ipsum");
        assert_eq!(patch_name("[PATCH] fix", 1, 1, 1), "fix");
        assert_eq!(prefixes("[PATCH v2 1/2] x"), vec!["v2", "1/2"]);
        assert_eq!(slug("A sample series"), "A-sample-series");
    }

    #[test]
    fn dates_parse_as_git_pw_sends_them() {
        assert_eq!(parse_date("2010-01-01T00:00:00", "since").ok(), Some(1262304000));
        assert_eq!(parse_date("2010-01-01", "since").ok(), Some(1262304000));
        assert!(parse_date("yesterday", "since").is_err());
        assert_eq!(date(1262304000), "2010-01-01T00:00:00");
    }
}
