//! quire's own JSON API, `/api/v1/...`: projects, series (with revisions, patches, trailers,
//! apply and check results, and each patch's workflow state), messages, events, checks, search,
//! and the maintainer's PATCH of a patch's state. Lists are objects with `items`, `total`,
//! `page`, `per_page` and `next` (the URL of the next page, or null). The OpenAPI document
//! describing all of it is `/api/v1/openapi.json` (`openapi.json` next to this file); a test
//! checks every response of the API tests against it.
//!
//! Errors are `{"detail": "..."}` with a 4xx status naming the problem and the fix.
//! Writes need `Authorization: Bearer <token>` (or `Token <token>`) of a user (`quire token
//! create NAME --user USER`); tester/admin tokens keep posting checks (`testers.rs`).

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use quire_store::{PATCH_STATES, PatchFilter, PatchUpdate, SeriesFilter};

/// The OpenAPI document (hand-written; `tests/native_api.rs` holds the server to it).
pub const OPENAPI: &str = include_str!("openapi.json");

pub use crate::error::ApiError;

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::bad(msg)
}

fn not_found(msg: impl Into<String>) -> ApiError {
    ApiError::not_found(msg)
}

fn store_err(e: quire_store::Error) -> ApiError {
    ApiError::store("answering the API", e)
}

type ApiResult<T> = Result<T, ApiError>;

const MAX_PER_PAGE: u32 = 500;

fn message_id(raw: &str) -> ApiResult<String> {
    let id = crate::url::bare_id(raw);
    match crate::url::implausible_id(id) {
        Some(why) => Err(not_found(format!("no message has {why}"))),
        None => Ok(id.to_string()),
    }
}

fn page_json<T: serde::Serialize>(base: &str, page: &quire_store::Page<T>, extra: &str) -> Value {
    let more = u64::from(page.page) * u64::from(page.per_page) < page.total || page.total_capped;
    json!({
        "items": page.items,
        "total": page.total,
        "total_capped": page.total_capped,
        "page": page.page,
        "per_page": page.per_page,
        "next": more.then(|| format!("{base}?page={}&per_page={}{extra}", page.page + 1, page.per_page)),
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// `GET /api/v1/`: where everything is.
pub async fn index() -> Json<Value> {
    Json(json!({
        "projects": "/api/v1/projects",
        "series": "/api/v1/series/{message_id}",
        "messages": "/api/v1/messages/{message_id}",
        "events": "/api/v1/events",
        "checks": "/api/v1/checks",
        "search": "/api/v1/search",
        "openapi": "/api/v1/openapi.json",
    }))
}

/// `GET /api/v1/projects`.
pub async fn projects(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    let projects = state.store.projects().await.map_err(store_err)?;
    Ok(Json(json!({ "items": projects })))
}

#[derive(Deserialize)]
pub struct ListParams {
    page: Option<String>,
    per_page: Option<String>,
    q: Option<String>,
    project: Option<String>,
    include_superseded: Option<String>,
}

fn paging(p: &ListParams) -> ApiResult<(u32, u32)> {
    let page = match &p.page {
        None => 1,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| bad(format!("page={s}: pages are numbered from 1")))?,
    };
    let per_page = match &p.per_page {
        None => 50,
        Some(s) => {
            s.parse::<u32>().ok().filter(|&n| (1..=MAX_PER_PAGE).contains(&n)).ok_or_else(|| {
                bad(format!("per_page={s}: give a number from 1 to {MAX_PER_PAGE}"))
            })?
        }
    };
    Ok((page, per_page))
}

async fn known_project(state: &AppState, project: &str) -> ApiResult<()> {
    if state.project_configs().await.map_err(store_err)?.contains_key(project) {
        Ok(())
    } else {
        Err(not_found(format!("no project {project:?}; GET /api/v1/projects lists them")))
    }
}

fn flag(v: &Option<String>, name: &str) -> ApiResult<bool> {
    match v.as_deref() {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(o) => Err(bad(format!("{name}={o}: use true or false"))),
    }
}

/// `GET /api/v1/projects/{project}/series`: newest first, paged; `q` = a query in the query language.
pub async fn project_series(
    State(state): State<AppState>,
    Path(project): Path<String>,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<Value>> {
    known_project(&state, &project).await?;
    let (page, per_page) = paging(&p)?;
    let q = p.q.as_deref().unwrap_or("").trim().to_string();
    let include_superseded = flag(&p.include_superseded, "include_superseded")?;
    let found = if q.is_empty() {
        let filter = SeriesFilter { words: Vec::new(), page, per_page, include_superseded };
        state.store.series_list(&project, &filter).await.map_err(store_err)?
    } else {
        // A query answers what it asks: `is:obsolete` finds superseded revisions.
        let parsed = parse_query(&q)?;
        state
            .store
            .series_search(Some(&project), &parsed, page, per_page)
            .await
            .map_err(store_err)?
    };
    let mut extra = String::new();
    if !q.is_empty() {
        extra.push_str(&format!("&q={}", crate::url::segment(&q)));
    }
    if include_superseded {
        extra.push_str("&include_superseded=true");
    }
    Ok(Json(page_json(
        &format!("/api/v1/projects/{}/series", crate::url::segment(&project)),
        &found,
        &extra,
    )))
}

/// `GET /api/v1/search?q=...[&project=P]`: series matching a query in the query language
/// (docs/search.md), newest first, paged; across projects unless `project` (or `project:` in the
/// query) names one. A query that does not parse is a 400 naming the column and what was expected.
pub async fn search(
    State(state): State<AppState>,
    Query(p): Query<ListParams>,
) -> ApiResult<Json<Value>> {
    let (page, per_page) = paging(&p)?;
    let q = p.q.clone().unwrap_or_default();
    let parsed = parse_query(&q)?;
    if let Some(project) = &p.project {
        known_project(&state, project).await?;
    }
    let found = state
        .store
        .series_search(p.project.as_deref(), &parsed, page, per_page)
        .await
        .map_err(store_err)?;
    let mut extra = format!("&q={}", crate::url::segment(&q));
    if let Some(project) = &p.project {
        extra.push_str(&format!("&project={}", crate::url::segment(project)));
    }
    Ok(Json(page_json("/api/v1/search", &found, &extra)))
}

fn parse_query(q: &str) -> ApiResult<quire_query::Query> {
    quire_query::parse(q).map_err(|e| bad(format!("q: {} (at column {})", e.message, e.column)))
}

/// `GET /api/v1/series/{message_id}`: the series of any of its messages, with each patch's
/// workflow state.
pub async fn series(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = message_id(&raw)?;
    let detail = state
        .store
        .series(&id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| not_found(format!("no series has a message <{id}>")))?;
    let series_id = state.store.series_id_of_head(&detail.message_id).await.map_err(store_err)?;
    let mut states = Vec::new();
    if let Some(sid) = series_id {
        let f = PatchFilter {
            series: Some(sid),
            per_page: 1000,
            order: quire_store::Order::Id,
            ..Default::default()
        };
        for p in state.store.patches(&f).await.map_err(store_err)?.items {
            states.push(json!({
                "message_id": p.message_id,
                "number": p.number,
                "state": p.state,
                "archived": p.archived,
                "delegate": p.delegate.map(|u| u.username),
                "commit_ref": p.commit_ref,
            }));
        }
    }
    let mut v = serde_json::to_value(&detail)
        .map_err(|e| ApiError::from(anyhow::Error::new(e).context("writing JSON")))?;
    v["patch_states"] = Value::Array(states);
    attach_attestations(&state, &detail, &mut v).await?;
    let range_diff = state.store.range_diff_view(&detail).await.map_err(store_err)?;
    v["range_diff"] = serde_json::to_value(&range_diff)
        .map_err(|e| ApiError::from(anyhow::Error::new(e).context("writing JSON")))?;
    Ok(Json(v))
}

/// Puts on each patch, each trailer and the cover letter of a series' JSON the `attestation`
/// of its mail (issue 29): null when that mail was never verified.
async fn attach_attestations(
    state: &AppState,
    detail: &quire_store::SeriesDetail,
    v: &mut Value,
) -> ApiResult<()> {
    let mut ids: Vec<String> = detail.cover_letter.iter().map(|c| c.message_id.clone()).collect();
    for p in &detail.patches {
        ids.push(p.message_id.clone());
        ids.extend(p.trailers.iter().map(|t| t.message_id.clone()));
    }
    let found = state.store.attestations(&ids).await.map_err(store_err)?;
    let of =
        |id: &str| found.get(id).and_then(|a| serde_json::to_value(a).ok()).unwrap_or(Value::Null);
    if let Some(c) = &detail.cover_letter {
        v["cover_letter"]["attestation"] = of(&c.message_id);
    }
    for (i, p) in detail.patches.iter().enumerate() {
        v["patches"][i]["attestation"] = of(&p.message_id);
        for (j, t) in p.trailers.iter().enumerate() {
            v["patches"][i]["trailers"][j]["attestation"] = of(&t.message_id);
        }
    }
    Ok(())
}

/// `GET /api/v1/messages/{message_id}`.
pub async fn message(
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> ApiResult<Json<Value>> {
    let id = message_id(&raw)?;
    let m = state
        .store
        .message(&id)
        .await
        .map_err(store_err)?
        .ok_or_else(|| not_found(format!("no message <{id}>")))?;
    let mut v = serde_json::to_value(&m)
        .map_err(|e| ApiError::from(anyhow::Error::new(e).context("writing JSON")))?;
    let found =
        state.store.attestations(std::slice::from_ref(&m.message_id)).await.map_err(store_err)?;
    v["attestation"] =
        found.get(&m.message_id).and_then(|a| serde_json::to_value(a).ok()).unwrap_or(Value::Null);
    Ok(Json(v))
}

#[derive(Deserialize)]
pub struct EventParams {
    after: Option<String>,
    limit: Option<String>,
}

/// `GET /api/v1/events?after=ID&limit=N`: events oldest first after `after`; `next_after` to
/// continue.
pub async fn events(
    State(state): State<AppState>,
    Query(p): Query<EventParams>,
) -> ApiResult<Json<Value>> {
    let after = match &p.after {
        None => 0,
        Some(s) => s.parse::<i64>().map_err(|_| bad(format!("after={s}: give an event id")))?,
    };
    let limit = match &p.limit {
        None => 100,
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| bad(format!("limit={s}: give 1 to 1000")))?,
    };
    let items = state.store.events(after, limit).await.map_err(store_err)?;
    let next_after = items.last().map(|e| e.id).unwrap_or(after);
    Ok(Json(json!({ "items": items, "next_after": next_after })))
}

#[derive(Deserialize)]
pub struct CheckParams {
    message_id: Option<String>,
}

/// `GET /api/v1/checks?message_id=ID`: the checks on one message (a series head or a patch).
pub async fn checks(
    State(state): State<AppState>,
    Query(p): Query<CheckParams>,
) -> ApiResult<Json<Value>> {
    let raw = p.message_id.ok_or_else(|| bad("give ?message_id= of a series head or a patch"))?;
    let id = message_id(&raw)?;
    if state.store.message(&id).await.map_err(store_err)?.is_none() {
        return Err(not_found(format!("no message <{id}>")));
    }
    let items = state.store.checks(&id).await.map_err(store_err)?;
    Ok(Json(json!({ "items": items })))
}

#[derive(Deserialize)]
pub struct PatchChange {
    state: Option<String>,
    archived: Option<bool>,
    /// A username, or null to remove the delegate.
    #[serde(default, with = "double_option")]
    delegate: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    commit_ref: Option<Option<String>>,
}

mod double_option {
    use serde::{Deserialize, Deserializer};
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// `PATCH /api/v1/patches/{message_id}`: a maintainer of the patch's project changes its
/// state, delegate, archived flag or commit.
pub async fn patch_update(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    body: Result<Json<PatchChange>, axum::extract::rejection::JsonRejection>,
) -> ApiResult<Json<Value>> {
    let user = crate::auth::Caller::of(&state, &headers).await?.user()?;
    let Json(change) = body.map_err(|e| {
        bad(format!("the body must be JSON like {{\"state\": \"accepted\"}}: {}", e.body_text()))
    })?;
    let id = message_id(&raw)?;
    let f = PatchFilter { msgid: Some(id.clone()), per_page: 1, ..Default::default() };
    let p = state
        .store
        .patches(&f)
        .await
        .map_err(store_err)?
        .items
        .into_iter()
        .next()
        .ok_or_else(|| not_found(format!("<{id}> is not a patch")))?;
    if !state.store.may_maintain(user.id, &p.project).await.map_err(store_err)? {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("user {} is not a maintainer of project {}", user.username, p.project),
        ));
    }
    if let Some(s) = &change.state
        && !PATCH_STATES.contains(&s.as_str())
    {
        return Err(bad(format!("state {s:?}: use one of {}", PATCH_STATES.join(", "))));
    }
    let delegate = match change.delegate {
        None => None,
        Some(None) => Some(None),
        Some(Some(name)) => {
            let u = state
                .store
                .user_by_name(&name)
                .await
                .map_err(store_err)?
                .ok_or_else(|| bad(format!("delegate: no user {name:?}")))?;
            Some(Some(u.id))
        }
    };
    let update = PatchUpdate {
        state: change.state,
        delegate,
        archived: change.archived,
        commit_ref: change.commit_ref,
    };
    let after = state
        .store
        .update_patch(p.id, &update, &user)
        .await
        .map_err(store_err)?
        .ok_or_else(|| not_found(format!("<{id}> is not a patch")))?;
    Ok(Json(json!({
        "message_id": after.message_id,
        "project": after.project,
        "series": after.series_head,
        "number": after.number,
        "state": after.state,
        "archived": after.archived,
        "delegate": after.delegate.map(|u| u.username),
        "commit_ref": after.commit_ref,
    })))
}
