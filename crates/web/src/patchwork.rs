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
//! Numbers: a patch, a cover letter and a comment are their raw message row id; a series its
//! head's; a person the row id of their first message (see `quire_store::workflow`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use quire_store::{
    Bundle, CheckState, NewCheck, Order, PATCH_STATES, PatchFilter, PatchInfo, PatchUpdate, Person,
    ProjectRef, SeriesInfo, SeriesMember, SeriesQuery, User,
};
use serde_json::{Value, json};
use std::collections::HashMap;

use crate::AppState;

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

/// A store error as the API answers it: the web crate's one mapping (`crate::error`).
fn store_err(e: quire_store::Error) -> PwError {
    let (status, _, detail) =
        crate::error::WebError::store("answering Patchwork's API", e).told::<crate::error::Json>();
    PwError(status, json!({ "detail": detail }))
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

struct Ctx {
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
    let value =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).unwrap_or("").trim();
    let secret = value
        .strip_prefix("Token")
        .or_else(|| value.strip_prefix("Bearer"))
        .map(str::trim)
        .unwrap_or("");
    if secret.is_empty() {
        return Ok((None, None));
    }
    match state.store.token_user(secret).await.map_err(store_err)? {
        Some((_, Some(user))) => Ok((Some(user), None)),
        Some((token, None)) => Ok((None, Some(token.scope))),
        None => Err(PwError(
            StatusCode::UNAUTHORIZED,
            json!({ "detail": "Invalid token: unknown or revoked (quire token create NAME --user USER)." }),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Entry points

/// `/api/` and `/api/...`: every API call.
pub async fn api(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match api_inner(state, method, uri, headers, body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn api_inner(
    state: AppState,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> PwResult<Response> {
    let path = uri.path().to_string();
    let rest = path.strip_prefix("/api").unwrap_or("");
    let mut segs: Vec<String> =
        rest.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let base = base_url(&state, &headers);
    let (version_text, api) = match segs.first() {
        Some(v) if v.len() == 3 && v.as_bytes()[1] == b'.' && v.as_bytes()[0].is_ascii_digit() => {
            if !VERSIONS.contains(&v.as_str()) {
                return Err(PwError::not_found(format!(
                    "API version {v} is not served: use one of {}",
                    VERSIONS.join(", ")
                )));
            }
            let v = segs.remove(0);
            let api = format!("{base}/api/{v}");
            (v, api)
        }
        _ => (NEWEST.to_string(), format!("{base}/api")),
    };
    let (maj, min) = version_text.split_once('.').unwrap_or(("1", "3"));
    let version = (maj.parse().unwrap_or(1), min.parse().unwrap_or(3));
    let (user, service) = authenticate(&state, &headers).await?;
    let ctx = Ctx {
        state,
        base,
        version,
        api,
        params: Params::parse(uri.query().unwrap_or("")),
        path: path.clone(),
        user,
        service,
    };
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let body = || parse_body(&headers, &body);
    match (&method, segs.as_slice()) {
        (&Method::GET | &Method::HEAD, []) => Ok(json_ok(index(&ctx))),
        (&Method::GET | &Method::HEAD, ["projects"]) => projects_list(&ctx).await,
        (&Method::GET | &Method::HEAD, ["projects", id]) => project_detail(&ctx, id).await,
        (&Method::GET | &Method::HEAD, ["people"]) => people_list(&ctx).await,
        (&Method::GET | &Method::HEAD, ["people", id]) => person_detail(&ctx, id).await,
        (&Method::GET | &Method::HEAD, ["users"]) => users_list(&ctx).await,
        (&Method::GET | &Method::HEAD, ["users", id]) => user_detail(&ctx, id).await,
        (&Method::GET | &Method::HEAD, ["series"]) => series_list(&ctx).await,
        (&Method::GET | &Method::HEAD, ["series", id]) => series_detail(&ctx, id).await,
        (&Method::GET | &Method::HEAD, ["patches"]) => patches_list(&ctx).await,
        (&Method::GET | &Method::HEAD, ["patches", id]) => patch_detail(&ctx, id).await,
        (&Method::PATCH | &Method::PUT, ["patches", id]) => patch_update(&ctx, id, body()?).await,
        (&Method::GET | &Method::HEAD, ["patches", id, "comments"]) => {
            comments_list(&ctx, "patches", id).await
        }
        (&Method::GET | &Method::HEAD, ["patches", id, "checks"]) => checks_list(&ctx, id).await,
        (&Method::GET | &Method::HEAD, ["patches", id, "checks", check]) => {
            check_detail(&ctx, id, check).await
        }
        (&Method::POST, ["patches", id, "checks"]) => check_create(&ctx, id, body()?).await,
        (&Method::GET | &Method::HEAD, ["covers"]) => covers_list(&ctx).await,
        (&Method::GET | &Method::HEAD, ["covers", id]) => cover_detail(&ctx, id).await,
        (&Method::GET | &Method::HEAD, ["covers", id, "comments"]) => {
            comments_list(&ctx, "covers", id).await
        }
        (&Method::GET | &Method::HEAD, ["events"]) => events_list(&ctx).await,
        (&Method::GET | &Method::HEAD, ["bundles"]) if ctx.at_least(1, 1) => {
            bundles_list(&ctx).await
        }
        (&Method::GET | &Method::HEAD, ["bundles", id]) if ctx.at_least(1, 1) => {
            bundle_detail(&ctx, id).await
        }
        (&Method::POST, ["bundles"]) if ctx.at_least(1, 2) => bundle_create(&ctx, body()?).await,
        (_, ["bundles", ..]) if !ctx.at_least(1, 2) && method != Method::GET => Err(PwError(
            StatusCode::METHOD_NOT_ALLOWED,
            json!({ "detail": "writing bundles needs API 1.2 or later" }),
        )),
        (m, [resource, ..])
            if [
                "projects", "people", "users", "series", "patches", "covers", "events", "bundles",
            ]
            .contains(resource) =>
        {
            Err(PwError(
                StatusCode::METHOD_NOT_ALLOWED,
                json!({ "detail": format!("Method \"{m}\" not allowed here.") }),
            ))
        }
        _ => Err(PwError::not_found(format!("no API resource {rest}; see {}/", ctx.api))),
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

/// A write's fields, from JSON or a form (repeated keys become arrays).
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

fn index(ctx: &Ctx) -> Value {
    let mut m = serde_json::Map::new();
    for r in ["projects", "users", "people", "patches", "covers", "series", "events"] {
        m.insert(r.into(), Value::String(format!("{}/{r}/", ctx.api)));
    }
    if ctx.at_least(1, 1) {
        m.insert("bundles".into(), Value::String(format!("{}/bundles/", ctx.api)));
    }
    Value::Object(m)
}

fn enc(id: &str) -> String {
    crate::url::segment(id)
}

fn project_json(ctx: &Ctx, p: &ProjectRef, maintainers: Option<Vec<Value>>) -> Value {
    let c = &p.config;
    let mut v = json!({
        "id": p.id,
        "url": format!("{}/projects/{}/", ctx.api, p.id),
        "name": c.name,
        "link_name": c.name,
        "list_id": c.list_ids.first().cloned().unwrap_or_default(),
        "list_email": c.list_addresses.first().cloned().unwrap_or_default(),
        "web_url": format!("{}/{}/", ctx.base, enc(&c.name)),
        "scm_url": c.git_url.clone().unwrap_or_default(),
        "webscm_url": c.mirror_url.clone().unwrap_or_default(),
    });
    if ctx.at_least(1, 2) {
        v["list_archive_url"] = json!(format!("{}/{}/", ctx.base, enc(&c.name)));
        v["list_archive_url_format"] = json!(format!("{}/{}/{{}}/", ctx.base, enc(&c.name)));
        v["commit_url_format"] = json!("");
    }
    if let Some(m) = maintainers {
        v["maintainers"] = Value::Array(m);
        v["subject_match"] = json!("");
        if ctx.at_least(1, 2) {
            v["show_dependencies"] = json!(false);
        }
    }
    v
}

fn user_json(ctx: &Ctx, u: &User) -> Value {
    let (first, last) = u.name.split_once(' ').unwrap_or((u.name.as_str(), ""));
    json!({
        "id": u.id,
        "url": format!("{}/users/{}/", ctx.api, u.id),
        "username": u.username,
        "first_name": first,
        "last_name": last,
        // Accounts' addresses are for those with a token only, as in Patchwork: listed to
        // anybody, they named every account to guess at (issue 24). Null rather than absent,
        // so that clients reading the field keep working.
        "email": if ctx.authenticated() { Some(u.email.as_str()) } else { None },
    })
}

fn person_json(ctx: &Ctx, p: &Person) -> Value {
    json!({ "id": p.id, "url": format!("{}/people/{}/", ctx.api, p.id), "name": p.name, "email": p.email })
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

fn check_state_name(s: CheckState) -> &'static str {
    match s {
        CheckState::Pass => "success",
        CheckState::Warning => "warning",
        CheckState::Fail | CheckState::Error => "fail",
    }
}

/// Patchwork's summary of checks: the worst of the newest per context, `pending` when none.
fn check_summary(checks: &[quire_store::Check]) -> &'static str {
    let mut newest: HashMap<&str, CheckState> = HashMap::new();
    for c in checks {
        newest.insert(c.name.as_str(), c.state);
    }
    if newest.is_empty() {
        return "pending";
    }
    if newest.values().any(|s| matches!(s, CheckState::Fail | CheckState::Error)) {
        "fail"
    } else if newest.values().any(|s| *s == CheckState::Warning) {
        "warning"
    } else {
        "success"
    }
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

async fn patch_json(
    ctx: &Ctx,
    projects: &Projects,
    p: &PatchInfo,
    detail: bool,
) -> PwResult<Value> {
    let name = patch_name(&p.subject, p.series_version, p.number, p.series_total);
    let web = patch_web_url(ctx, &p.project, &p.message_id);
    let checks = ctx.state.store.checks(&p.message_id).await.map_err(store_err)?;
    let mut v = json!({
        "id": p.id,
        "url": format!("{}/patches/{}/", ctx.api, p.id),
        "project": projects.json(ctx, p.project_id),
        "msgid": format!("<{}>", p.message_id),
        "date": date(p.date),
        "name": name,
        "commit_ref": p.commit_ref,
        "pull_url": null,
        "state": p.state,
        "archived": p.archived,
        "hash": p.hash,
        "submitter": person_json(ctx, &p.submitter),
        "delegate": p.delegate.as_ref().map(|u| user_json(ctx, u)),
        "mbox": format!("{web}mbox/"),
        "series": [series_embed(ctx, &p.project, p.series_id, &p.series_name, p.series_version, p.series_date)],
        "check": check_summary(&checks),
        "checks": format!("{}/patches/{}/checks/", ctx.api, p.id),
        "tags": {},
    });
    if ctx.at_least(1, 1) {
        v["web_url"] = json!(web);
        v["comments"] = json!(format!("{}/patches/{}/comments/", ctx.api, p.id));
    }
    if ctx.at_least(1, 2) {
        v["list_archive_url"] =
            json!(format!("{}/{}/{}/", ctx.base, enc(&p.project), enc(&p.message_id)));
        v["related"] = json!([]);
    }
    if detail {
        let m = ctx.state.store.message(&p.message_id).await.map_err(store_err)?;
        let raw = ctx.state.store.raw(&p.message_id).await.map_err(store_err)?;
        v["headers"] = headers_json(raw.as_deref());
        v["content"] = json!(m.as_ref().map(|m| m.body.clone()).unwrap_or_default());
        v["diff"] = json!(m.and_then(|m| m.diff));
        v["prefixes"] = json!(prefixes(&p.subject));
    }
    Ok(v)
}

fn prefixes(subject: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut s = subject.trim();
    while s.starts_with('[') {
        let Some(end) = s.find(']') else { break };
        out.extend(
            s[1..end]
                .split([' ', ','])
                .filter(|t| !t.is_empty() && !t.eq_ignore_ascii_case("patch"))
                .map(String::from),
        );
        s = s[end + 1..].trim_start();
    }
    out
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

fn series_json(ctx: &Ctx, projects: &Projects, s: &SeriesInfo) -> Value {
    let sum = &s.summary;
    let submitter = Person {
        id: s.submitter_id,
        name: sum.submitter.name.clone(),
        email: sum.submitter.email.clone(),
    };
    let cover = s.cover.as_ref().map(|c| {
        member_json(
            ctx,
            "covers",
            &sum.project,
            c,
            patch_name(&c.subject, sum.version, 0, sum.total),
        )
    });
    let patches: Vec<Value> = s
        .patches
        .iter()
        .map(|p| {
            member_json(
                ctx,
                "patches",
                &sum.project,
                p,
                patch_name(&p.subject, sum.version, p.number, sum.total),
            )
        })
        .collect();
    let mut v = json!({
        "id": s.id,
        "url": format!("{}/series/{}/", ctx.api, s.id),
        "project": projects.json(ctx, s.project_id),
        "name": sum.name,
        "date": date(sum.date),
        "submitter": person_json(ctx, &submitter),
        "version": sum.version,
        "total": sum.total,
        "received_total": s.patches.len(),
        "received_all": sum.complete,
        "mbox": format!("{}/series/{}/mbox/", ctx.base, s.id),
        "cover_letter": cover,
        "patches": patches,
    });
    // quire's own (issue 29), which Patchwork's clients pass over: the A/R/T counts and,
    // where the project's maintainers file says, the approval state with who is awaited.
    v["reviews"] = json!(sum.reviews);
    v["approval"] = json!(sum.approval.as_ref().map(|a| json!({
        "approved": a.approved,
        "awaiting": a.awaiting.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
    })));
    if ctx.at_least(1, 1) {
        v["web_url"] =
            json!(format!("{}/project/{}/list/?series={}", ctx.base, enc(&sum.project), s.id));
    }
    if ctx.at_least(1, 3) {
        v["dependencies"] = json!([]);
        v["dependents"] = json!([]);
    }
    v
}

// ---------------------------------------------------------------------------------------------
// Handlers

async fn find_project(ctx: &Ctx, name_or_id: &str) -> PwResult<ProjectRef> {
    let projects = ctx.state.store.project_refs().await.map_err(store_err)?;
    projects
        .into_iter()
        .find(|p| {
            p.config.name == name_or_id || name_or_id.parse::<i64>().is_ok_and(|id| id == p.id)
        })
        .ok_or_else(|| PwError::not_found(format!("no project {name_or_id:?}")))
}

/// The `project=` filter, checked: a project that does not exist is a 404, not an empty list.
async fn project_filter(ctx: &Ctx) -> PwResult<Option<String>> {
    match ctx.params.one("project") {
        None => Ok(None),
        Some(p) => Ok(Some(find_project(ctx, &p).await?.config.name)),
    }
}

async fn maintainers(ctx: &Ctx, project: &str) -> PwResult<Vec<Value>> {
    let mut out = Vec::new();
    for u in ctx.state.store.users(None).await.map_err(store_err)? {
        if ctx.state.store.may_maintain(u.id, project).await.map_err(store_err)? {
            out.push(user_json(ctx, &u));
        }
    }
    Ok(out)
}

async fn projects_list(ctx: &Ctx) -> PwResult<Response> {
    let (page, per_page) = paging(ctx)?;
    let all = ctx.state.store.project_refs().await.map_err(store_err)?;
    let total = all.len() as u64;
    let mut items = Vec::new();
    for p in all.iter().skip(((page - 1) * per_page) as usize).take(per_page as usize) {
        items.push(project_json(ctx, p, Some(maintainers(ctx, &p.config.name).await?)));
    }
    Ok(json_page(ctx, items, page, per_page, total))
}

async fn project_detail(ctx: &Ctx, id: &str) -> PwResult<Response> {
    let p = find_project(ctx, id).await?;
    let m = maintainers(ctx, &p.config.name).await?;
    Ok(json_ok(project_json(ctx, &p, Some(m))))
}

async fn people_list(ctx: &Ctx) -> PwResult<Response> {
    let (page, per_page) = paging(ctx)?;
    let project = project_filter(ctx).await?;
    let q = ctx.params.one("q");
    let found = ctx
        .state
        .store
        .people(project.as_deref(), q.as_deref(), page, per_page)
        .await
        .map_err(store_err)?;
    let items = found.items.iter().map(|p| person_json(ctx, p)).collect();
    Ok(json_page(ctx, items, page, per_page, found.total))
}

async fn person_detail(ctx: &Ctx, id: &str) -> PwResult<Response> {
    let id = id_of(id, "person")?;
    let p = ctx
        .state
        .store
        .person(id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| PwError::not_found(format!("no person {id}")))?;
    Ok(json_ok(person_json(ctx, &p)))
}

async fn users_list(ctx: &Ctx) -> PwResult<Response> {
    let (page, per_page) = paging(ctx)?;
    let q = ctx.params.one("q");
    let mut all = ctx.state.store.users(q.as_deref()).await.map_err(store_err)?;
    if let Some(q) = q.as_deref().map(str::trim).filter(|q| !q.is_empty())
        && !ctx.authenticated()
    {
        // Without a token `q` matches what is shown (username, name, id), never the hidden
        // e-mail address: a match would tell that an address has an account.
        let q = q.to_lowercase();
        all.retain(|u| {
            u.username.to_lowercase().contains(&q)
                || u.name.to_lowercase().contains(&q)
                || u.id.to_string() == q
        });
    }
    let total = all.len() as u64;
    let items = all
        .iter()
        .skip(((page - 1) * per_page) as usize)
        .take(per_page as usize)
        .map(|u| user_json(ctx, u))
        .collect();
    Ok(json_page(ctx, items, page, per_page, total))
}

async fn user_detail(ctx: &Ctx, id: &str) -> PwResult<Response> {
    let id = id_of(id, "user")?;
    let u = ctx
        .state
        .store
        .user(id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| PwError::not_found(format!("no user {id}")))?;
    let mut v = user_json(ctx, &u);
    if ctx.user.as_ref().is_some_and(|me| me.id == u.id) {
        v["settings"] =
            json!({ "send_email": false, "items_per_page": DEFAULT_PER_PAGE, "show_ids": true });
    }
    Ok(json_ok(v))
}

fn words(ctx: &Ctx) -> Vec<String> {
    ctx.params
        .all("q")
        .iter()
        .flat_map(|q| q.split_whitespace().map(String::from).collect::<Vec<_>>())
        .collect()
}

async fn series_list(ctx: &Ctx) -> PwResult<Response> {
    let (page, per_page) = paging(ctx)?;
    let q = SeriesQuery {
        project: project_filter(ctx).await?,
        submitters: ctx.params.all("submitter"),
        since: ctx.params.one("since").map(|s| parse_date(&s, "since")).transpose()?,
        before: ctx.params.one("before").map(|s| parse_date(&s, "before")).transpose()?,
        words: words(ctx),
        order: order(ctx, Order::Id)?,
        page,
        per_page,
    };
    let mut found = ctx.state.store.series_infos(&q).await.map_err(store_err)?;
    with_review_lines(ctx, &mut found.items).await?;
    let projects = Projects::load(ctx).await?;
    let items = found.items.iter().map(|s| series_json(ctx, &projects, s)).collect();
    Ok(json_page(ctx, items, page, per_page, found.total))
}

async fn series_detail(ctx: &Ctx, id: &str) -> PwResult<Response> {
    let id = id_of(id, "series")?;
    let s = ctx
        .state
        .store
        .series_info(id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| PwError::not_found(format!("no series {id}")))?;
    let mut one = [s];
    with_review_lines(ctx, &mut one).await?;
    let projects = Projects::load(ctx).await?;
    Ok(json_ok(series_json(ctx, &projects, &one[0])))
}

/// The series' review counts and approval line, read for the page at once.
async fn with_review_lines(ctx: &Ctx, items: &mut [SeriesInfo]) -> PwResult<()> {
    let mut sums: Vec<quire_store::SeriesSummary> =
        items.iter().map(|s| s.summary.clone()).collect();
    ctx.state.store.fill_review_lines(&mut sums).await.map_err(store_err)?;
    for (s, sum) in items.iter_mut().zip(sums) {
        s.summary = sum;
    }
    Ok(())
}

async fn patches_list(ctx: &Ctx) -> PwResult<Response> {
    let (page, per_page) = paging(ctx)?;
    let states = ctx.params.all("state");
    for s in &states {
        if !PATCH_STATES.contains(&s.as_str()) {
            return Err(PwError::bad(format!("state={s}: use one of {}", PATCH_STATES.join(", "))));
        }
    }
    let archived = match ctx.params.one("archived") {
        None => None,
        Some(a) => Some(
            parse_bool(&a)
                .ok_or_else(|| PwError::bad(format!("archived={a}: use true or false")))?,
        ),
    };
    let series = match ctx.params.one("series") {
        None => None,
        Some(s) => Some(
            s.parse::<i64>().map_err(|_| PwError::bad(format!("series={s}: give a series id")))?,
        ),
    };
    let f = PatchFilter {
        project: project_filter(ctx).await?,
        states,
        archived,
        submitters: ctx.params.all("submitter"),
        delegates: ctx.params.all("delegate"),
        hash: ctx.params.one("hash"),
        msgid: ctx.params.one("msgid"),
        series,
        since: ctx.params.one("since").map(|s| parse_date(&s, "since")).transpose()?,
        before: ctx.params.one("before").map(|s| parse_date(&s, "before")).transpose()?,
        words: words(ctx),
        order: order(ctx, Order::Id)?,
        page,
        per_page,
    };
    let found = ctx.state.store.patches(&f).await.map_err(store_err)?;
    let projects = Projects::load(ctx).await?;
    let mut items = Vec::with_capacity(found.items.len());
    for p in &found.items {
        items.push(patch_json(ctx, &projects, p, false).await?);
    }
    Ok(json_page(ctx, items, page, per_page, found.total))
}

async fn load_patch(ctx: &Ctx, id: &str) -> PwResult<PatchInfo> {
    let id = id_of(id, "patch")?;
    ctx.state
        .store
        .patch(id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| PwError::not_found(format!("no patch {id}")))
}

async fn patch_detail(ctx: &Ctx, id: &str) -> PwResult<Response> {
    let p = load_patch(ctx, id).await?;
    let projects = Projects::load(ctx).await?;
    Ok(json_ok(patch_json(ctx, &projects, &p, true).await?))
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

async fn patch_update(ctx: &Ctx, id: &str, body: HashMap<String, Value>) -> PwResult<Response> {
    let user = need_user(ctx)?.clone();
    let p = load_patch(ctx, id).await?;
    if !ctx.state.store.may_maintain(user.id, &p.project).await.map_err(store_err)? {
        return Err(PwError::forbidden(format!(
            "user {} is not a maintainer of project {}",
            user.username, p.project
        )));
    }
    let mut change = PatchUpdate::default();
    if let Some(s) = body.get("state") {
        let s = s.as_str().unwrap_or_default().to_string();
        if !PATCH_STATES.contains(&s.as_str()) {
            return Err(PwError(
                StatusCode::BAD_REQUEST,
                json!({ "state": [format!("Invalid state {s}. Expected one of: {}.", PATCH_STATES.join(", "))] }),
            ));
        }
        change.state = Some(s);
    }
    if let Some(a) = body.get("archived") {
        change.archived = Some(field_bool(a, "archived")?);
    }
    if let Some(c) = body.get("commit_ref") {
        change.commit_ref =
            Some(c.as_str().map(str::trim).filter(|c| !c.is_empty()).map(String::from));
    }
    if let Some(d) = body.get("delegate") {
        change.delegate = Some(match d {
            Value::Null => None,
            Value::String(s) if s.trim().is_empty() => None,
            d => {
                let id = *field_ids(d, "delegate")?
                    .first()
                    .ok_or_else(|| PwError::bad("delegate: give a user id"))?;
                if ctx.state.store.user(id).await.map_err(store_err)?.is_none() {
                    return Err(PwError(
                        StatusCode::BAD_REQUEST,
                        json!({ "delegate": [format!("User {id} does not exist.")] }),
                    ));
                }
                Some(id)
            }
        });
    }
    let after = ctx.state.store.update_patch(p.id, &change, &user).await.map_err(store_err)?;
    let after = after.ok_or_else(|| PwError::not_found(format!("no patch {}", p.id)))?;
    let projects = Projects::load(ctx).await?;
    Ok(json_ok(patch_json(ctx, &projects, &after, true).await?))
}

async fn comments_list(ctx: &Ctx, kind: &str, id: &str) -> PwResult<Response> {
    let (page, per_page) = paging(ctx)?;
    let (row, project) = if kind == "patches" {
        let p = load_patch(ctx, id).await?;
        (p.id, p.project)
    } else {
        let id = id_of(id, "cover")?;
        let s = ctx
            .state
            .store
            .cover(id)
            .await
            .map_err(store_err)?
            .ok_or_else(|| PwError::not_found(format!("no cover letter {id}")))?;
        (id, s.summary.project)
    };
    let all = ctx.state.store.comments(row).await.map_err(store_err)?;
    let total = all.len() as u64;
    let mut items = Vec::new();
    for c in all.iter().skip(((page - 1) * per_page) as usize).take(per_page as usize) {
        let raw = ctx.state.store.raw(&c.message_id).await.map_err(store_err)?;
        let mut v = json!({
            "id": c.id,
            "msgid": format!("<{}>", c.message_id),
            "date": date(c.date),
            "subject": c.subject,
            "submitter": person_json(ctx, &c.submitter),
            "content": c.body,
            "headers": headers_json(raw.as_deref()),
        });
        if ctx.at_least(1, 1) {
            v["web_url"] = json!(format!("{}/{}/{}/", ctx.base, enc(&project), enc(&c.message_id)));
        }
        if ctx.at_least(1, 2) {
            v["list_archive_url"] =
                json!(format!("{}/{}/{}/", ctx.base, enc(&project), enc(&c.message_id)));
        }
        if ctx.at_least(1, 3) {
            v["url"] = json!(format!("{}/{kind}/{row}/comments/{}/", ctx.api, c.id));
            v["addressed"] = json!(false);
        }
        items.push(v);
    }
    Ok(json_page(ctx, items, page, per_page, total))
}

fn check_json(ctx: &Ctx, patch: i64, c: &quire_store::Check) -> Value {
    json!({
        "id": c.id,
        "url": format!("{}/patches/{patch}/checks/{}/", ctx.api, c.id),
        "user": null,
        "date": date(c.created),
        "state": check_state_name(c.state),
        "target_url": c.url,
        "context": c.name,
        "description": c.description,
    })
}

async fn checks_list(ctx: &Ctx, id: &str) -> PwResult<Response> {
    let (page, per_page) = paging(ctx)?;
    let p = load_patch(ctx, id).await?;
    let all = ctx.state.store.checks(&p.message_id).await.map_err(store_err)?;
    let total = all.len() as u64;
    let items = all
        .iter()
        .skip(((page - 1) * per_page) as usize)
        .take(per_page as usize)
        .map(|c| check_json(ctx, p.id, c))
        .collect();
    Ok(json_page(ctx, items, page, per_page, total))
}

async fn check_detail(ctx: &Ctx, id: &str, check: &str) -> PwResult<Response> {
    let p = load_patch(ctx, id).await?;
    let all = ctx.state.store.checks(&p.message_id).await.map_err(store_err)?;
    let c = check.parse::<i64>().ok().and_then(|n| all.iter().find(|c| c.id == n));
    let c =
        c.ok_or_else(|| PwError::not_found(format!("patch {} has no check {check:?}", p.id)))?;
    Ok(json_ok(check_json(ctx, p.id, c)))
}

async fn check_create(ctx: &Ctx, id: &str, body: HashMap<String, Value>) -> PwResult<Response> {
    let p = load_patch(ctx, id).await?;
    let allowed = match (&ctx.user, &ctx.service) {
        (Some(u), _) => {
            let roles = ctx.state.store.roles(u.id).await.map_err(store_err)?;
            roles.iter().any(|(proj, r)| {
                proj == &p.project && ["maintainer", "tester", "admin"].contains(&r.as_str())
            })
        }
        (None, Some(scope)) => scope == "tester" || scope == "admin",
        (None, None) => {
            return Err(PwError::forbidden("Authentication credentials were not provided."));
        }
    };
    if !allowed {
        return Err(PwError::forbidden(format!(
            "this token may not post checks on project {}",
            p.project
        )));
    }
    let text = |k: &str| {
        body.get(k)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
    };
    let state = match text("state").as_deref() {
        Some("success") => CheckState::Pass,
        Some("warning") => CheckState::Warning,
        Some("fail") => CheckState::Fail,
        Some("pending") => {
            return Err(PwError(
                StatusCode::BAD_REQUEST,
                json!({ "state": ["quire records finished checks only: post success, warning or fail when the check is done."] }),
            ));
        }
        other => {
            return Err(PwError(
                StatusCode::BAD_REQUEST,
                json!({ "state": [format!("Invalid state {}. Expected one of: success, warning, fail.", other.unwrap_or(""))] }),
            ));
        }
    };
    let context = text("context").unwrap_or_else(|| "default".into());
    if context.len() > 255
        || !context.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
    {
        return Err(PwError(
            StatusCode::BAD_REQUEST,
            json!({ "context": ["letters, digits and -_.@ only, at most 255"] }),
        ));
    }
    let target_url = text("target_url");
    if target_url.as_deref().is_some_and(|u| !crate::url::web_link(u)) {
        return Err(PwError(
            StatusCode::BAD_REQUEST,
            json!({ "target_url": ["only http:// and https:// URLs are accepted"] }),
        ));
    }
    let check = NewCheck {
        name: context,
        state,
        url: target_url,
        description: text("description"),
        log: None,
    };
    let check_id = ctx.state.store.add_check(&p.message_id, &check).await.map_err(store_err)?;
    let all = ctx.state.store.checks(&p.message_id).await.map_err(store_err)?;
    let c = all
        .iter()
        .find(|c| c.id == check_id)
        .ok_or_else(|| PwError::not_found("the check vanished"))?;
    let v = check_json(ctx, p.id, c);
    let mut resp =
        (StatusCode::CREATED, [(header::CONTENT_TYPE, "application/json")], v.to_string())
            .into_response();
    if let Ok(loc) =
        HeaderValue::from_str(&format!("{}/patches/{}/checks/{check_id}/", ctx.api, p.id))
    {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

fn cover_json(
    ctx: &Ctx,
    projects: &Projects,
    s: &SeriesInfo,
    detail: Option<(&str, Option<&[u8]>)>,
) -> Option<Value> {
    let c = s.cover.as_ref()?;
    let sum = &s.summary;
    let submitter = Person {
        id: s.submitter_id,
        name: sum.submitter.name.clone(),
        email: sum.submitter.email.clone(),
    };
    let mut v = member_json(
        ctx,
        "covers",
        &sum.project,
        c,
        patch_name(&c.subject, sum.version, 0, sum.total),
    );
    v["project"] = projects.json(ctx, s.project_id);
    v["submitter"] = person_json(ctx, &submitter);
    v["series"] = json!([series_embed(ctx, &sum.project, s.id, &sum.name, sum.version, sum.date)]);
    if ctx.at_least(1, 1) {
        v["comments"] = json!(format!("{}/covers/{}/comments/", ctx.api, c.id));
    }
    if let Some((body, raw)) = detail {
        v["headers"] = headers_json(raw);
        v["content"] = json!(body);
    }
    Some(v)
}

async fn covers_list(ctx: &Ctx) -> PwResult<Response> {
    let (page, per_page) = paging(ctx)?;
    let project = project_filter(ctx).await?;
    let found =
        ctx.state.store.covers(project.as_deref(), page, per_page).await.map_err(store_err)?;
    let projects = Projects::load(ctx).await?;
    let items =
        found.items.iter().filter_map(|(_, s)| cover_json(ctx, &projects, s, None)).collect();
    Ok(json_page(ctx, items, page, per_page, found.total))
}

async fn cover_detail(ctx: &Ctx, id: &str) -> PwResult<Response> {
    let id = id_of(id, "cover")?;
    let s = ctx
        .state
        .store
        .cover(id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| PwError::not_found(format!("no cover letter {id}")))?;
    let msgid = s.cover.as_ref().map(|c| c.message_id.clone()).unwrap_or_default();
    let body = ctx
        .state
        .store
        .message(&msgid)
        .await
        .map_err(store_err)?
        .map(|m| m.body)
        .unwrap_or_default();
    let raw = ctx.state.store.raw(&msgid).await.map_err(store_err)?;
    let projects = Projects::load(ctx).await?;
    cover_json(ctx, &projects, &s, Some((&body, raw.as_deref())))
        .map(json_ok)
        .ok_or_else(|| PwError::not_found(format!("no cover letter {id}")))
}

/// Patchwork's event categories and the store's event kinds.
const CATEGORIES: &[(&str, &str)] = &[
    ("series-created", "series-new"),
    ("series-completed", "series-complete"),
    ("patch-state-changed", "patch-state-changed"),
    ("patch-delegated", "patch-delegated"),
    ("check-created", "check-finished"),
];

async fn events_list(ctx: &Ctx) -> PwResult<Response> {
    let (page, per_page) = paging(ctx)?;
    let mut kinds = Vec::new();
    for c in ctx.params.all("category") {
        match CATEGORIES.iter().find(|(cat, _)| *cat == c) {
            Some((_, kind)) => kinds.push(kind.to_string()),
            None => {
                let known: Vec<&str> = CATEGORIES.iter().map(|(c, _)| *c).collect();
                return Err(PwError::bad(format!(
                    "category={c}: quire records {}",
                    known.join(", ")
                )));
            }
        }
    }
    if kinds.is_empty() {
        kinds = CATEGORIES.iter().map(|(_, k)| k.to_string()).collect();
    }
    let q = quire_store::EventQuery { project: project_filter(ctx).await?, kinds, page, per_page };
    let found = ctx.state.store.events_page(&q).await.map_err(store_err)?;
    let projects = Projects::load(ctx).await?;
    let by_name: HashMap<String, i64> =
        projects.0.values().map(|p| (p.config.name.clone(), p.id)).collect();
    let mut items = Vec::new();
    for e in &found.items {
        let category =
            CATEGORIES.iter().find(|(_, k)| *k == e.kind).map(|(c, _)| *c).unwrap_or("unknown");
        let mut payload = serde_json::Map::new();
        if let Some(head) = &e.series_head
            && let Some(id) = ctx.state.store.series_id_of_head(head).await.map_err(store_err)?
            && let Some(s) = ctx.state.store.series_info(id).await.map_err(store_err)?
        {
            let sum = &s.summary;
            payload.insert(
                "series".into(),
                series_embed(ctx, &sum.project, id, &sum.name, sum.version, sum.date),
            );
        }
        if let Some(mid) = &e.message_id
            && e.kind != "series-new"
            && e.kind != "series-complete"
        {
            let f = PatchFilter { msgid: Some(mid.clone()), per_page: 1, ..Default::default() };
            if let Some(p) =
                ctx.state.store.patches(&f).await.map_err(store_err)?.items.into_iter().next()
            {
                let total = p.series_total;
                let m = SeriesMember {
                    id: p.id,
                    message_id: p.message_id.clone(),
                    subject: p.subject.clone(),
                    date: p.date,
                    number: p.number,
                };
                payload.insert(
                    "patch".into(),
                    member_json(
                        ctx,
                        "patches",
                        &p.project,
                        &m,
                        patch_name(&p.subject, p.series_version, p.number, total),
                    ),
                );
            }
        }
        for (from, to) in [("previous_state", "previous_state"), ("current_state", "current_state")]
        {
            if let Some(v) = e.payload.get(from) {
                payload.insert(to.into(), v.clone());
            }
        }
        if e.kind == "check-finished" {
            payload.insert("check".into(), json!({ "context": e.payload.get("name"), "state": e.payload.get("state").and_then(|s| s.as_str()).map(|s| match s { "pass" => "success", "error" => "fail", o => o }) }));
        }
        let mut v = json!({
            "id": e.id,
            "category": category,
            "project": e.project.as_ref().and_then(|p| by_name.get(p)).map(|id| projects.json(ctx, *id)).unwrap_or(Value::Null),
            "date": date(e.created),
            "payload": payload,
        });
        if ctx.at_least(1, 2) {
            v["actor"] = Value::Null;
        }
        items.push(v);
    }
    Ok(json_page(ctx, items, page, per_page, found.total))
}

fn bundle_json(ctx: &Ctx, projects: &Projects, b: &Bundle, patches: Vec<Value>) -> Value {
    let web = format!("{}/bundle/{}/{}/", ctx.base, enc(&b.owner.username), enc(&b.name));
    let mut v = json!({
        "id": b.id,
        "url": format!("{}/bundles/{}/", ctx.api, b.id),
        "project": projects.json(ctx, b.project_id),
        "name": b.name,
        "owner": user_json(ctx, &b.owner),
        "patches": patches,
        "public": b.public,
        "mbox": format!("{web}mbox/"),
    });
    if ctx.at_least(1, 1) {
        v["web_url"] = json!(web);
    }
    v
}

async fn bundle_patches(ctx: &Ctx, b: &Bundle) -> PwResult<Vec<Value>> {
    let mut out = Vec::new();
    for &id in &b.patches {
        if let Some(p) = ctx.state.store.patch(id).await.map_err(store_err)? {
            let total = p.series_total;
            let m = SeriesMember {
                id: p.id,
                message_id: p.message_id.clone(),
                subject: p.subject.clone(),
                date: p.date,
                number: p.number,
            };
            out.push(member_json(
                ctx,
                "patches",
                &p.project,
                &m,
                patch_name(&p.subject, p.series_version, p.number, total),
            ));
        }
    }
    Ok(out)
}

async fn bundles_list(ctx: &Ctx) -> PwResult<Response> {
    let (page, per_page) = paging(ctx)?;
    let project = project_filter(ctx).await?;
    let mut all = ctx
        .state
        .store
        .bundles(project.as_deref(), ctx.user.as_ref().map(|u| u.id))
        .await
        .map_err(store_err)?;
    if let Some(q) = ctx.params.one("q") {
        let q = q.to_lowercase();
        all.retain(|b| b.name.to_lowercase().contains(&q));
    }
    let owners = ctx.params.all("owner");
    if !owners.is_empty() {
        all.retain(|b| {
            owners.iter().any(|o| {
                *o == b.owner.username || o.parse::<i64>().is_ok_and(|id| id == b.owner.id)
            })
        });
    }
    let total = all.len() as u64;
    let projects = Projects::load(ctx).await?;
    let mut items = Vec::new();
    for b in all.iter().skip(((page - 1) * per_page) as usize).take(per_page as usize) {
        items.push(bundle_json(ctx, &projects, b, bundle_patches(ctx, b).await?));
    }
    Ok(json_page(ctx, items, page, per_page, total))
}

async fn bundle_detail(ctx: &Ctx, id: &str) -> PwResult<Response> {
    let id = id_of(id, "bundle")?;
    let b = ctx.state.store.bundle(id).await.map_err(store_err)?;
    let b = b
        .filter(|b| b.public || ctx.user.as_ref().is_some_and(|u| u.id == b.owner.id))
        .ok_or_else(|| PwError::not_found(format!("no bundle {id}")))?;
    let projects = Projects::load(ctx).await?;
    Ok(json_ok(bundle_json(ctx, &projects, &b, bundle_patches(ctx, &b).await?)))
}

async fn bundle_create(ctx: &Ctx, body: HashMap<String, Value>) -> PwResult<Response> {
    let user = need_user(ctx)?.clone();
    let name = body.get("name").and_then(|v| v.as_str()).map(str::trim).unwrap_or("").to_string();
    if name.is_empty() {
        return Err(PwError(
            StatusCode::BAD_REQUEST,
            json!({ "name": ["This field is required."] }),
        ));
    }
    let ids = match body.get("patches") {
        Some(v) => field_ids(v, "patches")?,
        None => Vec::new(),
    };
    if ids.is_empty() {
        return Err(PwError(
            StatusCode::BAD_REQUEST,
            json!({ "patches": ["Bundles cannot be empty"] }),
        ));
    }
    let public = match body.get("public") {
        Some(v) => field_bool(v, "public")?,
        None => false,
    };
    let first = ctx.state.store.patch(ids[0]).await.map_err(store_err)?.ok_or_else(|| {
        PwError(
            StatusCode::BAD_REQUEST,
            json!({ "patches": [format!("Invalid pk \"{}\" - object does not exist.", ids[0])] }),
        )
    })?;
    let b = ctx
        .state
        .store
        .create_bundle(&user, &first.project, &name, public, &ids)
        .await
        .map_err(store_err)?;
    let projects = Projects::load(ctx).await?;
    let v = bundle_json(ctx, &projects, &b, bundle_patches(ctx, &b).await?);
    let mut resp =
        (StatusCode::CREATED, [(header::CONTENT_TYPE, "application/json")], v.to_string())
            .into_response();
    if let Ok(loc) = HeaderValue::from_str(&format!("{}/bundles/{}/", ctx.api, b.id)) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    Ok(resp)
}

// ---------------------------------------------------------------------------------------------
// Downloads

/// `Sample-series` from `A sample series`: Patchwork's file names.
fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').chars().take(100).collect::<String>();
    if out.is_empty() { "patch".into() } else { out }
}

fn download(body: Vec<u8>, content_type: &'static str, filename: &str) -> Response {
    let mut resp = (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename={filename}")) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// Patches `numbers` of the series of `head` as one mbox for `git am`, with collected trailers.
pub(crate) async fn series_patches_mbox(
    state: &AppState,
    head: &str,
    numbers: Option<&[u32]>,
) -> PwResult<Vec<u8>> {
    let s = state
        .store
        .series(head)
        .await
        .map_err(store_err)?
        .ok_or_else(|| PwError::not_found(format!("no series <{head}>")))?;
    let chosen: Vec<&quire_store::SeriesPatch> =
        s.patches.iter().filter(|p| numbers.is_none_or(|n| n.contains(&p.number))).collect();
    let mut parsed = Vec::with_capacity(chosen.len());
    for p in &chosen {
        let raw = state.store.raw(&p.message_id).await.map_err(store_err)?;
        let raw =
            raw.ok_or_else(|| PwError::not_found(format!("no raw copy of <{}>", p.message_id)))?;
        let trailers: Vec<quire_series::CollectedTrailer> = p
            .trailers
            .iter()
            .map(|t| quire_series::CollectedTrailer {
                trailer: quire_mail::Trailer {
                    tag: t.tag.clone(),
                    value: t.value.clone(),
                    person: (!t.email.is_empty()).then(|| quire_mail::Address {
                        name: t.name.clone(),
                        email: t.email.clone(),
                    }),
                },
                message_id: t.message_id.clone(),
                verified: t.verified,
                carried_over: t.carried_over,
            })
            .collect();
        parsed.push((p.number, quire_mail::parse(&raw), trailers));
    }
    let patches: Vec<quire_series::am::AmPatch<'_>> = parsed
        .iter()
        .map(|(number, message, trailers)| quire_series::am::AmPatch {
            message,
            number: *number,
            total: s.total,
            version: s.version,
            trailers,
        })
        .collect();
    Ok(quire_series::am::render_mbox(&patches, &quire_series::am::AmOptions::default()))
}

fn dl_error(e: PwError) -> Response {
    let msg =
        e.1.get("detail")
            .and_then(|d| d.as_str())
            .map(String::from)
            .unwrap_or_else(|| e.1.to_string());
    (e.0, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{msg}\n")).into_response()
}

/// `/series/{id}/mbox/`.
pub async fn series_download(State(state): State<AppState>, uri: Uri) -> Response {
    let segs: Vec<String> =
        uri.path().split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let r = async {
        match segs.as_slice() {
            [_, id, m] if m == "mbox" => {
                let id = id_of(id, "series")?;
                let s = state
                    .store
                    .series_info(id)
                    .await
                    .map_err(store_err)?
                    .ok_or_else(|| PwError::not_found(format!("no series {id}")))?;
                let mbox = series_patches_mbox(&state, &s.summary.message_id, None).await?;
                Ok(download(mbox, "text/plain", &format!("{}.patch", slug(&s.summary.name))))
            }
            _ => Err(PwError::not_found("no such download: /series/ID/mbox/")),
        }
    }
    .await;
    r.unwrap_or_else(dl_error)
}

/// `/patch/{id}/mbox/` (and `/raw/`, `/`) → `/project/P/patch/MSGID/...`.
pub async fn patch_redirect(State(state): State<AppState>, uri: Uri) -> Response {
    let segs: Vec<String> =
        uri.path().split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let r = async {
        let [_, id, rest @ ..] = segs.as_slice() else {
            return Err(PwError::not_found("no such patch"));
        };
        let id = id_of(id, "patch")?;
        let p = state
            .store
            .patch(id)
            .await
            .map_err(store_err)?
            .ok_or_else(|| PwError::not_found(format!("no patch {id}")))?;
        let mut to = format!("/project/{}/patch/{}/", enc(&p.project), enc(&p.message_id));
        for r in rest {
            to.push_str(&enc(r));
            to.push('/');
        }
        if let Some(q) = uri.query() {
            to.push('?');
            to.push_str(q);
        }
        Ok((StatusCode::FOUND, [(header::LOCATION, to)]).into_response())
    }
    .await;
    r.unwrap_or_else(dl_error)
}

/// `/project/{p}/patch/{msgid}/{mbox,raw}/`, `/project/{p}/cover/{msgid}/mbox/`,
/// `/project/{p}/list/?series=N`, and the web pages of patches and covers (redirects to
/// quire's own pages).
pub async fn project_download(State(state): State<AppState>, uri: Uri) -> Response {
    let path = uri.path();
    let params = Params::parse(uri.query().unwrap_or(""));
    let r = async {
        let rest = path.strip_prefix("/project/").unwrap_or("");
        let (project, rest) = rest.split_once('/').unwrap_or((rest, ""));
        let project = percent_decode(project);
        let (kind, rest) = rest.split_once('/').unwrap_or((rest, ""));
        if kind == "list" {
            return match params.one("series").and_then(|s| s.parse::<i64>().ok()) {
                Some(id) => {
                    let s = state.store.series_info(id).await.map_err(store_err)?.ok_or_else(|| PwError::not_found(format!("no series {id}")))?;
                    Ok((StatusCode::FOUND, [(header::LOCATION, format!("/{}/{}/", enc(&project), enc(&s.summary.message_id)))]).into_response())
                }
                None => Ok((StatusCode::FOUND, [(header::LOCATION, format!("/{}/", enc(&project)))]).into_response()),
            };
        }
        // The Message-ID may hold `/`: the action is the last segment when it is one we know.
        let rest = rest.trim_end_matches('/');
        let (msgid, action) = match rest.rsplit_once('/') {
            Some((m, a)) if ["mbox", "raw"].contains(&a) => (m, a),
            _ => (rest, ""),
        };
        let msgid = percent_decode(msgid);
        match (kind, action) {
            ("patch", "") | ("cover", "") => Ok((StatusCode::FOUND, [(header::LOCATION, format!("/{}/{}/", enc(&project), enc(&msgid)))]).into_response()),
            ("patch", action) => {
                let f = PatchFilter { project: Some(project.clone()), msgid: Some(msgid.clone()), per_page: 1, ..Default::default() };
                let p = state.store.patches(&f).await.map_err(store_err)?.items.into_iter().next();
                let p = p.ok_or_else(|| PwError::not_found(format!("no patch <{msgid}> in project {project}")))?;
                let total = p.series_total;
                let name = slug(&patch_name(&p.subject, p.series_version, p.number, total));
                if action == "raw" {
                    let m = state.store.message(&p.message_id).await.map_err(store_err)?;
                    let diff = m.and_then(|m| m.diff).unwrap_or_default();
                    return Ok(download(diff.into_bytes(), "text/x-patch", &format!("{name}.diff")));
                }
                // `?series=*` (or the series' id): this patch and the ones before it.
                let numbers: Vec<u32> = match params.one("series").as_deref() {
                    Some("*") => (1..=p.number).collect(),
                    Some(s) if s.parse::<i64>().ok() == Some(p.series_id) => (1..=p.number).collect(),
                    Some(s) => return Err(PwError::not_found(format!("patch {} is not in series {s}", p.id))),
                    None => vec![p.number],
                };
                let mbox = series_patches_mbox(&state, &p.series_head, Some(&numbers)).await?;
                Ok(download(mbox, "text/plain; charset=utf-8", &format!("{name}.patch")))
            }
            ("cover", "mbox") => {
                let raw = state.store.raw(&msgid).await.map_err(store_err)?.ok_or_else(|| PwError::not_found(format!("no cover letter <{msgid}>")))?;
                let m = state.store.message(&msgid).await.map_err(store_err)?;
                let name = m.map(|m| slug(bare_subject(&m.subject))).unwrap_or_else(|| "cover".into());
                let mut mbox = Vec::with_capacity(raw.len() + 64);
                // Writing to memory cannot fail.
                let _ = quire_mail::mbox::write_message(
                    &mut mbox,
                    b"From patchwork Thu Jan  1 00:00:00 1970\n",
                    &raw,
                );
                Ok(download(mbox, "text/plain", &format!("{name}.mbox")))
            }
            _ => Err(PwError::not_found("no such download: /project/P/patch/MSGID/mbox/, .../raw/ or /project/P/cover/MSGID/mbox/")),
        }
    }
    .await;
    r.unwrap_or_else(dl_error)
}

/// `/bundle/{user}/{name}/mbox/`: the bundle's patches in order, one mbox.
pub async fn bundle_download(State(state): State<AppState>, uri: Uri) -> Response {
    let segs: Vec<String> =
        uri.path().split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let r = async {
        let [_, owner, name, m] = segs.as_slice() else {
            return Err(PwError::not_found("no such download: /bundle/USER/NAME/mbox/"));
        };
        if m != "mbox" {
            return Err(PwError::not_found("no such download: /bundle/USER/NAME/mbox/"));
        }
        let user = state
            .store
            .user_by_name(owner)
            .await
            .map_err(store_err)?
            .ok_or_else(|| PwError::not_found(format!("no user {owner}")))?;
        let bundles = state.store.bundles(None, Some(user.id)).await.map_err(store_err)?;
        // Private bundles are served by their unguessable-enough name only to... nobody: public only.
        let b = bundles.into_iter().find(|b| b.owner.id == user.id && &b.name == name && b.public);
        let b =
            b.ok_or_else(|| PwError::not_found(format!("no public bundle {name} of {owner}")))?;
        let mut mbox = Vec::new();
        for id in &b.patches {
            if let Some(p) = state.store.patch(*id).await.map_err(store_err)? {
                mbox.extend(series_patches_mbox(&state, &p.series_head, Some(&[p.number])).await?);
            }
        }
        Ok(download(mbox, "text/plain", &format!("{}.mbox", slug(&b.name))))
    }
    .await;
    r.unwrap_or_else(dl_error)
}

#[cfg(test)]
mod tests {
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
