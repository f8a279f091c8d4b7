//! The API testers and external CI talk to (`/api/v1/testers/...`, `POST /api/v1/checks`).
//!
//! A tester (`quire tester`) claims a check job for `lease` seconds, heartbeats while its script
//! runs, and reports the result; the result is stored only while it still holds the job (a
//! tester that died loses the job to the next one when its lease expires). Tokens of scope
//! `tester` may do this and post checks, nothing else; `admin` tokens too.
//!
//! Logs longer than the store keeps (`quire_store::CHECK_LOG_LIMIT`, said in the claim's
//! `log_limit`) are stored cut to their end, never refused: a refused report left its job to
//! be claimed again every lease (issue 24). The routes take bodies up to
//! [`crate::CHECK_BODY_LIMIT`], enough for such a log even when JSON escapes every byte.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::auth::Caller;
use quire_store::{CheckState, NewCheck, Token};

pub use crate::error::ApiError;

fn store_error(e: quire_store::Error) -> ApiError {
    ApiError::store("serving a tester", e)
}

/// The token of the request (`crate::auth`), if it may act as a tester: a tester's or an
/// admin's.
pub async fn tester_token(state: &AppState, headers: &HeaderMap) -> Result<Token, ApiError> {
    match Caller::of(state, headers).await? {
        Caller::Anonymous => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "a token is needed: `Authorization: Bearer <token>` (quire token create)",
        )),
        Caller::User(t, _) | Caller::Service(t) if t.scope == "tester" || t.scope == "admin" => {
            Ok(t)
        }
        Caller::User(t, _) | Caller::Service(t) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("token {:?} (scope {}) may not run checks", t.name, t.scope),
        )),
    }
}

/// The lock owner of a tester (`quire_store::tester_owner`).
fn owner(token: &Token, tester: &str) -> String {
    quire_store::tester_owner(token.id, tester)
}

fn safe_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
}

#[derive(Deserialize)]
pub struct ClaimRequest {
    pub tester: String,
    #[serde(default)]
    pub capabilities: Vec<String>,
}

/// `POST /api/v1/testers/claim`: 200 with the job, or 204 when none is due.
pub async fn claim(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<ClaimRequest>,
) -> Result<Response, ApiError> {
    let token = tester_token(&state, &headers).await?;
    if !safe_name(&req.tester) || !req.capabilities.iter().all(|c| safe_name(c)) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "tester and capability names: letters, digits, `-_.@`, at most 100",
        ));
    }
    let kinds: Vec<String> = std::iter::once("check:any:*".to_string())
        .chain(req.capabilities.iter().map(|c| format!("check:{c}:*")))
        .collect();
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    let lease = state.config.tester_lease_secs.max(1);
    let job = state
        .store
        .claim_job(&owner(&token, &req.tester), lease, &kinds, state.config.tester_max_lost_leases)
        .await
        .map_err(store_error)?;
    let Some(job) = job else { return Ok(StatusCode::NO_CONTENT.into_response()) };
    tracing::info!(job = job.id, kind = %job.kind, tester = %req.tester, "check job claimed");
    // log_limit: the largest log stored (quire_store::check_log); a longer one is cut to its
    // end here, so a tester may as well send no more.
    Ok(Json(json!({
        "job_id": job.id,
        "kind": job.kind,
        "lease_secs": lease,
        "attempt": job.attempts,
        "log_limit": quire_store::CHECK_LOG_LIMIT,
        "job": job.payload,
    }))
    .into_response())
}

#[derive(Deserialize)]
pub struct Heartbeat {
    pub tester: String,
}

/// `POST /api/v1/testers/jobs/{id}/heartbeat`: 204, or 409 when the job is no longer this
/// tester's (its lease expired and another took it).
pub async fn heartbeat(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(req): Json<Heartbeat>,
) -> Result<StatusCode, ApiError> {
    let token = tester_token(&state, &headers).await?;
    let lease = state.config.tester_lease_secs.max(1);
    match state
        .store
        .extend_job(id, &owner(&token, &req.tester), lease)
        .await
        .map_err(store_error)?
    {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("job {id} is not held by tester {:?}", req.tester),
        )),
    }
}

#[derive(Deserialize)]
pub struct Report {
    pub tester: String,
    pub state: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub log: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

fn check_state(s: &str) -> Result<CheckState, ApiError> {
    match s {
        "pass" | "success" => Ok(CheckState::Pass),
        "warning" => Ok(CheckState::Warning),
        "fail" => Ok(CheckState::Fail),
        "error" => Ok(CheckState::Error),
        other => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("unknown check state {other:?}: use pass, warning, fail or error"),
        )),
    }
}

/// A check's link as given in `field`: none when empty; a 400 naming the field unless it is
/// `http://` or `https://` (crate::url::web_link): the series page links it.
fn check_url(field: &str, url: Option<String>) -> Result<Option<String>, ApiError> {
    let Some(url) = url.map(|u| u.trim().to_string()).filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    if crate::url::web_link(&url) {
        Ok(Some(url))
    } else {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{field}: only http:// and https:// URLs are accepted"),
        ))
    }
}

/// `POST /api/v1/testers/jobs/{id}/result`: stores the check on the series and finishes the
/// job, once: 201, or 409 when the job is no longer this tester's.
pub async fn result(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Json(req): Json<Report>,
) -> Result<Response, ApiError> {
    let token = tester_token(&state, &headers).await?;
    let check_state = check_state(&req.state)?;
    let url = check_url("url", req.url)?;
    // The job's payload names the check and the series; a tester cannot choose them.
    let (name, series) = match state.store.running_job(id).await.map_err(store_error)? {
        Some(job) if job.locked_by.as_deref() == Some(owner(&token, &req.tester).as_str()) => {
            let p = job.payload.unwrap_or_default();
            match (p["check"].as_str(), p["series"].as_str()) {
                (Some(n), Some(s)) => (n.to_string(), s.to_string()),
                _ => {
                    return Err(ApiError::new(
                        StatusCode::CONFLICT,
                        format!("job {id} is not a check job"),
                    ));
                }
            }
        }
        _ => return Err(not_held(&state, id, &req.tester).await),
    };
    let check =
        NewCheck { name, state: check_state, url, description: req.description, log: req.log };
    match state
        .store
        .finish_check_job(id, &owner(&token, &req.tester), &series, &check)
        .await
        .map_err(store_error)?
    {
        Some(check_id) => {
            Ok((StatusCode::CREATED, Json(json!({ "check_id": check_id }))).into_response())
        }
        None => Err(not_held(&state, id, &req.tester).await),
    }
}

/// The 409 for a result from a tester that does not hold the job, saying why when the job
/// ended meanwhile (its lease expired too often: `quire_store::Store::claim_job`).
async fn not_held(state: &AppState, id: i64, tester: &str) -> ApiError {
    let ended = match state.store.job(id).await {
        Ok(Some(job)) if job.state == "failed" => job.last_error,
        _ => None,
    };
    let detail = match ended {
        Some(why) => format!("job {id} has ended: {why}"),
        None => format!("job {id} is not held by tester {tester:?}"),
    };
    ApiError::new(StatusCode::CONFLICT, detail)
}

#[derive(Deserialize)]
pub struct PostCheck {
    /// The series head or a patch.
    pub message_id: String,
    pub name: String,
    pub state: String,
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub log: Option<String>,
}

/// `POST /api/v1/checks`: an external CI's result for a series or a patch.
pub async fn post_check(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(req): Json<PostCheck>,
) -> Result<Response, ApiError> {
    tester_token(&state, &headers).await?;
    let check_state = check_state(&req.state)?;
    let url = check_url("url", req.url)?;
    if !safe_name(&req.name) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "check names: letters, digits, `-_.@`, at most 100",
        ));
    }
    let id = req.message_id.trim().trim_start_matches('<').trim_end_matches('>').to_string();
    if state.store.message(&id).await.map_err(store_error)?.is_none() {
        return Err(ApiError::new(StatusCode::NOT_FOUND, format!("no message <{id}>")));
    }
    let check = NewCheck {
        name: req.name,
        state: check_state,
        url,
        description: req.description,
        log: req.log,
    };
    let check_id = state.store.add_check(&id, &check).await.map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(json!({ "check_id": check_id }))).into_response())
}
