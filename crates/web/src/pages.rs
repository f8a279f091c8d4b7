//! The handlers: each fetches what its page needs from the store (few, batched reads), hands
//! it to `build`, and renders. Store errors become 400 pages when the request was at fault (a
//! bad query), else 503 or 500 pages with the cause logged; unknown names become 404 pages
//! that say what was not found.

use crate::age::{Age, rfc3339};
use crate::build::{self, ProjectLinks};
use crate::error::{WebError, WebResult, store_err};
use crate::interdiff::{RevisionPatch, interdiff_lines};
use crate::url::{anchor, bare_id, implausible_id, message_url, segment};
use crate::views::*;
use crate::{AppState, DEFAULT_TAG_PREFIX};
use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use quire_mail::{Address, Trailer};
use quire_series::CollectedTrailer;
use quire_series::am::{AmOptions, AmPatch, render_mbox};
use quire_store::{MessageRecord, SeriesDetail, SeriesFilter};
use serde::Deserialize;

const STYLE: &str = include_str!("../static/style.css");

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn render(t: &impl Template) -> WebResult<Response> {
    let html =
        t.render().map_err(|e| WebError::Internal(anyhow::anyhow!("rendering a page: {e}")))?;
    Ok(Html(html).into_response())
}

/// The path's parts, or a 400 page saying why they could not be read (bad percent-encoding,
/// invalid UTF-8).
fn path_parts<T>(p: Result<Path<T>, PathRejection>) -> WebResult<T> {
    p.map(|Path(t)| t)
        .map_err(|e| WebError::BadRequest(format!("The address cannot be read: {}", e.body_text())))
}

/// A Message-ID from the URL, checked before it reaches the store.
fn checked_id(raw: &str) -> WebResult<String> {
    let id = bare_id(raw);
    match implausible_id(id) {
        Some(why) => Err(WebError::not_found(format!("No message has {why}."))),
        None => Ok(id.to_string()),
    }
}

/// The project, or a 404 naming it.
async fn project_links(state: &AppState, project: &str) -> WebResult<ProjectLinks> {
    if implausible_id(project).is_some() {
        return Err(WebError::not_found("No such project."));
    }
    let projects = state.project_configs().await.map_err(store_err("reading the projects"))?;
    let Some(stored) = projects.get(project).cloned() else {
        return Err(WebError::not_found(format!("No project is named “{project}”.")));
    };
    let web = state.config.projects.get(project);
    Ok(ProjectLinks {
        mirror_url: web.and_then(|w| w.mirror_url.clone()).or(stored.mirror_url),
        tag_prefix: web
            .and_then(|w| w.tag_prefix.clone())
            .or(stored.tag_prefix)
            .unwrap_or_else(|| DEFAULT_TAG_PREFIX.to_string()),
    })
}

pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLE,
    )
        .into_response()
}

pub async fn not_found(uri: Uri) -> WebError {
    WebError::not_found(format!("Nothing lives at {}.", uri.path()))
}

pub async fn front(State(state): State<AppState>) -> WebResult<Response> {
    let projects = state.store.projects().await.map_err(store_err("listing projects"))?;
    let mut rows = Vec::with_capacity(projects.len());
    // The catch-all project is listed only when some mail landed there.
    for p in
        projects.into_iter().filter(|p| p.messages > 0 || p.config.name != quire_store::UNASSIGNED)
    {
        rows.push(ProjectRow {
            url: format!("/{}/", segment(&p.config.name)),
            last_activity: last_activity(&state, &p.config.name).await?.map(|t| Age::new(t, now())),
            name: p.config.name,
            series: p.series,
            messages: p.messages,
        });
    }
    render(&FrontPage { projects: rows })
}

/// The last activity of a project: that of its newest series. (The store's project summary
/// does not carry it yet; one small query per project.)
async fn last_activity(state: &AppState, project: &str) -> WebResult<Option<i64>> {
    let filter = SeriesFilter { words: Vec::new(), page: 1, per_page: 1, include_superseded: true };
    let newest = state
        .store
        .series_list(project, &filter)
        .await
        .map_err(store_err("reading a project's newest series"))?;
    Ok(newest.items.first().map(|s| s.last_activity.max(s.date)))
}

pub async fn project_slash(path: Result<Path<String>, PathRejection>) -> WebResult<Redirect> {
    let project = path_parts(path)?;
    Ok(Redirect::permanent(&format!("/{}/", segment(&project))))
}

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    page: Option<String>,
    q: Option<String>,
}

impl ListQuery {
    /// The first page, no search (what `/<project>/` shows).
    pub(crate) fn first() -> ListQuery {
        ListQuery { page: None, q: None }
    }
}

/// `?page=` as a page number: absent or empty is 1; anything else must be a number from 1.
fn page_number(raw: Option<&str>) -> WebResult<u32> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(1),
        Some(s) => s.parse::<u32>().ok().filter(|&n| n >= 1).ok_or_else(|| {
            WebError::BadRequest(format!("“{s}” is not a page number: pages count from 1."))
        }),
    }
}

fn list_url(project: &str, page: u32, q: &str) -> String {
    let mut url = format!("/{}/?page={page}", segment(project));
    if !q.is_empty() {
        url.push_str("&q=");
        url.push_str(
            &percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
        );
    }
    url
}

/// The list's query parameters, or a 400 page saying why they could not be read.
pub fn list_query(
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> WebResult<ListQuery> {
    query
        .map(|Query(q)| q)
        .map_err(|e| WebError::BadRequest(format!("The query cannot be read: {}", e.body_text())))
}

/// A project's series list (or search) page: the one renderer, for its route and for whoever
/// else shows it (public-inbox's list URL, the warm-up at start).
pub async fn series_list_page(
    state: AppState,
    project: String,
    query: ListQuery,
    headers: axum::http::HeaderMap,
) -> WebResult<Response> {
    project_links(&state, &project).await?;
    let page = page_number(query.page.as_deref())?;
    let q = query.q.unwrap_or_default().trim().to_string();
    // Anonymous visitors get the page (list or search) rendered before while the project's
    // stamp holds: any series of it assembled again, applied, checked or changed state moves
    // it. Read before the page's data, like the series page's (crate::page_cache).
    let kept = if crate::accounts::cookie_secret(&headers).is_none() {
        let stamp =
            state.store.project_stamp(&project).await.map_err(store_err("reading a project"))?;
        stamp.map(|s| (s, (project.clone(), format!("{page}\n{q}"))))
    } else {
        None
    };
    if let Some((stamp, key)) = &kept
        && let Some(r) = state.lists.get(key, *stamp, &headers)
    {
        return Ok(r);
    }
    let mut bad_query = None;
    let listed = if q.is_empty() {
        let filter = SeriesFilter {
            words: Vec::new(),
            page,
            per_page: state.config.per_page,
            include_superseded: true,
        };
        state.store.series_list(&project, &filter).await.map_err(store_err("listing series"))?
    } else {
        match crate::search::find(&state.store, &project, &q, page, state.config.per_page)
            .await
            .map_err(store_err("searching series"))?
        {
            crate::search::Found::Page(p) => p,
            crate::search::Found::BadQuery(m) => {
                bad_query = Some(m);
                quire_store::Page {
                    items: Vec::new(),
                    total: 0,
                    total_capped: false,
                    page,
                    per_page: state.config.per_page,
                }
            }
        }
    };
    // The summary carries no apply or check state: read for the whole page at once.
    let heads: Vec<String> = listed.items.iter().map(|s| s.message_id.clone()).collect();
    let lines = state
        .store
        .line_states(&heads)
        .await
        .map_err(store_err("reading the series' apply and check states"))?;
    let states: Vec<crate::RowState> =
        heads.iter().map(|h| crate::RowState::of(lines.get(h))).collect();
    let now = now();
    let pages = listed.total.div_ceil(u64::from(listed.per_page.max(1)));
    let status = if bad_query.is_some() {
        axum::http::StatusCode::BAD_REQUEST
    } else {
        axum::http::StatusCode::OK
    };
    let html = ListPage {
        bad_query,
        project_url: format!("/{}/", segment(&project)),
        atom_url: format!("/{}/new.atom", segment(&project)),
        rows: listed
            .items
            .iter()
            .zip(&states)
            .map(|(s, st)| build::series_row(&project, s, st.applied, st.checks_pass, now))
            .collect(),
        prev_url: (page > 1).then(|| list_url(&project, page - 1, &q)),
        next_url: (u64::from(page) < pages || listed.total_capped)
            .then(|| list_url(&project, page + 1, &q)),
        project,
        q,
        page,
    }
    .render()
    .map_err(|e| WebError::Internal(anyhow::anyhow!("rendering a page: {e}")))?;
    if let Some((stamp, key)) = kept
        && status == axum::http::StatusCode::OK
    {
        state.lists.put(key, stamp, &html);
    }
    Ok((status, Html(html)).into_response())
}

/// `/<project>/queue/<address>`: the current series awaiting a maintainer's approval (they
/// maintain files the series touch, whose maintainers have not approved them), oldest first.
pub async fn queue(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> WebResult<Response> {
    let (project, email) = path_parts(path)?;
    let Query(query) = query.map_err(|e| {
        WebError::BadRequest(format!("The query cannot be read: {}", e.body_text()))
    })?;
    project_links(&state, &project).await?;
    let email = email.trim().to_lowercase();
    if email.is_empty()
        || email.len() > crate::url::MAX_ID_LEN
        || email.chars().any(char::is_control)
    {
        return Err(WebError::BadRequest("The queue of whom? Give an address.".into()));
    }
    let page = page_number(query.page.as_deref())?;
    let found = state
        .store
        .approval_queue(&project, &email, page, state.config.per_page)
        .await
        .map_err(store_err("reading a queue"))?;
    let heads: Vec<String> = found.items.iter().map(|s| s.message_id.clone()).collect();
    let lines = state
        .store
        .line_states(&heads)
        .await
        .map_err(store_err("reading the series' apply and check states"))?;
    // Named as the maintainers file names them, from the series awaiting them.
    let who = found
        .items
        .iter()
        .filter_map(|s| s.approval.as_ref())
        .flat_map(|a| a.awaiting.iter())
        .find(|a| a.email.eq_ignore_ascii_case(&email) && !a.name.trim().is_empty())
        .map(|a| a.name.clone())
        .unwrap_or_else(|| email.clone());
    let now = now();
    let pages = found.total.div_ceil(u64::from(found.per_page.max(1)));
    let url = |p: u32| format!("{}?page={p}", build::queue_url(&project, &email));
    render(&crate::views::QueuePage {
        project_url: format!("/{}/", segment(&project)),
        rows: found
            .items
            .iter()
            .map(|s| {
                let st = crate::RowState::of(lines.get(&s.message_id));
                build::series_row(&project, s, st.applied, st.checks_pass, now)
            })
            .collect(),
        prev_url: (page > 1).then(|| url(page - 1)),
        next_url: (u64::from(page) < pages).then(|| url(page + 1)),
        total: found.total,
        project,
        who,
        email,
        page,
    })
}

pub async fn message_slash(
    path: Result<Path<(String, String)>, PathRejection>,
) -> WebResult<Redirect> {
    let (project, id) = path_parts(path)?;
    Ok(Redirect::permanent(&message_url(&project, &id)))
}

/// What a Message-ID names within a project.
enum Named {
    Series(Box<SeriesDetail>),
    /// A message of a series that is not its head: the head.
    InSeries {
        head: String,
    },
    Message(Box<MessageRecord>),
}

async fn lookup(state: &AppState, project: &str, id: &str) -> WebResult<Named> {
    let detail = state.store.series(id).await.map_err(store_err("reading a series"))?;
    // The store answers with the series' first project; a series cross-posted to this one
    // is shown here too.
    let in_project = match &detail {
        Some(d) if d.project != project => {
            let m =
                state.store.message(&d.message_id).await.map_err(store_err("reading a message"))?;
            m.is_some_and(|m| m.projects.iter().any(|p| p == project))
        }
        Some(_) => true,
        None => false,
    };
    if let Some(detail) = detail.filter(|_| in_project) {
        if detail.message_id == id {
            return Ok(Named::Series(Box::new(detail)));
        }
        return Ok(Named::InSeries { head: detail.message_id });
    }
    let message = state.store.message(id).await.map_err(store_err("reading a message"))?;
    match message {
        Some(m) if m.projects.iter().any(|p| p == project) => match &m.series_head {
            Some(head) if head != id => Ok(Named::InSeries { head: head.clone() }),
            _ => Ok(Named::Message(Box::new(m))),
        },
        _ => Err(WebError::not_found(format!("No message <{id}> in project {project}."))),
    }
}

/// The page of a Message-ID in a project (a series page, or a message's): the one renderer,
/// for its route and for whoever else shows it (public-inbox's message URL, the warm-up).
pub async fn message_page(
    state: AppState,
    project: String,
    raw_id: String,
    headers: axum::http::HeaderMap,
) -> WebResult<Response> {
    let links = project_links(&state, &project).await?;
    let id = checked_id(&raw_id)?;
    // Anonymous visitors get the page rendered before while its stamp holds
    // (crate::page_cache); the stamp is read before the page's data, so a change made while
    // the page renders makes the next request render it again.
    let kept = if crate::accounts::cookie_secret(&headers).is_none() {
        let stamp = state
            .store
            .series_page_stamp(&project, &id)
            .await
            .map_err(store_err("reading a series"))?;
        stamp.map(|s| (s ^ links_hash(&links), (project.clone(), id.clone())))
    } else {
        None
    };
    if let Some((stamp, key)) = &kept
        && let Some(r) = state.pages.get(key, *stamp, &headers)
    {
        return Ok(r);
    }
    match lookup(&state, &project, &id).await? {
        Named::Series(detail) => {
            let thread = state
                .store
                .thread(&detail.message_id)
                .await
                .map_err(store_err("reading a series' thread"))?;
            let mut page = build::series_page(&project, &detail, &thread, &links, now());
            let patch_ids: Vec<String> =
                detail.patches.iter().map(|p| p.message_id.clone()).collect();
            let merged = state
                .store
                .merged_patches(&patch_ids)
                .await
                .map_err(store_err("reading merged patches"))?;
            page.merged = build::merged_lines(&detail, &merged);
            let range_diff = state
                .store
                .range_diff_view(&detail)
                .await
                .map_err(store_err("reading a range-diff"))?;
            page.range_diff = range_diff.map(|v| crate::range_diff::section(&project, &v));
            let attested = state
                .store
                .attestations(&build::attested_ids(&page))
                .await
                .map_err(store_err("reading attestations"))?;
            build::attach_attestations(&mut page, &attested);
            page.workflow =
                crate::accounts::workflow_view(&state, &project, &detail, &headers).await?;
            let logged_in = page.workflow.user.is_some();
            let html = page
                .render()
                .map_err(|e| WebError::Internal(anyhow::anyhow!("rendering a page: {e}")))?;
            if let Some((stamp, key)) = kept
                && !logged_in
            {
                state.pages.put(key, stamp, &html);
            }
            let mut r = Html(html).into_response();
            if logged_in {
                r.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
            }
            Ok(r)
        }
        Named::InSeries { head } => {
            let to = format!("{}#{}", message_url(&project, &head), anchor(&id));
            Ok(found(&to))
        }
        Named::Message(m) => {
            // The store reads threads of series only; a discussion outside any series shows
            // the message itself.
            let title = m.subject.clone();
            let thread = [*m];
            render(&MessagePage {
                project_url: format!("/{}/", segment(&project)),
                title: if title.trim().is_empty() { "(no subject)".into() } else { title },
                thread: build::thread_views(&project, &thread, now()),
                focus: anchor(&thread[0].message_id),
                project,
            })
        }
    }
}

/// The project's links (mirror, tag prefix) as a number, mixed into a kept page's stamp: a
/// changed setting renders the pages again.
fn links_hash(links: &ProjectLinks) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (&links.mirror_url, &links.tag_prefix).hash(&mut h);
    h.finish()
}

/// The series named by `id` (its head, or any message of it), or a 404.
async fn series_of(state: &AppState, project: &str, id: &str) -> WebResult<SeriesDetail> {
    match lookup(state, project, id).await? {
        Named::Series(d) => Ok(*d),
        Named::InSeries { head } => {
            state.store.series(&head).await.map_err(store_err("reading a series"))?.ok_or_else(
                || WebError::not_found(format!("No series <{head}> in project {project}.")),
            )
        }
        Named::Message(_) => Err(WebError::not_found(format!(
            "<{id}> is not part of a series in project {project}."
        ))),
    }
}

pub async fn interdiff(
    State(state): State<AppState>,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> WebResult<Response> {
    let (project, raw_id, raw_other) = path_parts(path)?;
    project_links(&state, &project).await?;
    let (id, other) = (checked_id(&raw_id)?, checked_id(&raw_other)?);
    let from = series_of(&state, &project, &id).await?;
    let to = series_of(&state, &project, &other).await?;
    let (old, new) = (revision_patches(&state, &from).await?, revision_patches(&state, &to).await?);
    let (from_label, to_label) = (format!("v{}", from.version), format!("v{}", to.version));
    render(&InterdiffPage {
        project_url: format!("/{}/", segment(&project)),
        title: build::series_title(&to.subject, &to.name),
        from_url: message_url(&project, &from.message_id),
        to_url: message_url(&project, &to.message_id),
        lines: interdiff_lines(&old, &new, &from_label, &to_label),
        from_label,
        to_label,
        project,
    })
}

async fn revision_patches(state: &AppState, s: &SeriesDetail) -> WebResult<Vec<RevisionPatch>> {
    // One read for the whole revision: its thread holds every patch with body and diff.
    let records = state
        .store
        .thread(&s.message_id)
        .await
        .map_err(store_err("reading a revision's patches"))?;
    Ok(s.patches
        .iter()
        .map(|p| {
            let m = records.iter().find(|r| r.message_id == p.message_id);
            RevisionPatch {
                number: p.number,
                subject: p.subject.clone(),
                message: m.map(|m| m.body.clone()).unwrap_or_default(),
                diff: m.and_then(|m| m.diff.clone()).unwrap_or_default(),
            }
        })
        .collect())
}

/// A 302 Found to `location` (axum's `Redirect` offers 303/307/308 only).
fn found(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => (StatusCode::FOUND, [(header::LOCATION, v)]).into_response(),
        Err(_) => {
            WebError::not_found("The message's series cannot be named in a URL.").into_response()
        }
    }
}

fn text_response(
    body: impl Into<axum::body::Body>,
    content_type: &'static str,
    filename: Option<String>,
) -> Response {
    let mut resp =
        (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body.into()).into_response();
    if let Some(name) = filename
        && let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
    {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// A file name from a Message-ID: only characters safe everywhere.
fn file_name(id: &str, ext: &str) -> String {
    let stem: String = id
        .chars()
        .take(100)
        .map(|c| if c.is_ascii_alphanumeric() || "._-@".contains(c) { c } else { '_' })
        .collect();
    format!("{stem}.{ext}")
}

pub async fn raw(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> WebResult<Response> {
    let (project, raw_id) = path_parts(path)?;
    project_links(&state, &project).await?;
    let id = checked_id(&raw_id)?;
    let m = state.store.message(&id).await.map_err(store_err("reading a message"))?;
    if !m.is_some_and(|m| m.projects.iter().any(|p| p == &project)) {
        return Err(WebError::not_found(format!("No message <{id}> in project {project}.")));
    }
    let raw = state.store.raw(&id).await.map_err(store_err("reading a raw message"))?;
    let raw = raw.ok_or_else(|| WebError::not_found(format!("No raw copy of <{id}>.")))?;
    Ok(text_response(raw, "text/plain; charset=utf-8", None))
}

/// The trailers of a stored patch as `quire_series::am` takes them.
fn collected(p: &quire_store::SeriesPatch) -> Vec<CollectedTrailer> {
    p.trailers
        .iter()
        .map(|t| CollectedTrailer {
            trailer: Trailer {
                tag: t.tag.clone(),
                value: t.value.clone(),
                person: (!t.email.is_empty())
                    .then(|| Address { name: t.name.clone(), email: t.email.clone() }),
            },
            message_id: t.message_id.clone(),
            verified: t.verified,
            carried_over: t.carried_over,
        })
        .collect()
}

/// One patch of `s` as an mbox for `git am`, with the trailers reviewers gave it, written the
/// way the store's `am_mbox` writes the whole series.
async fn patch_mbox(state: &AppState, s: &SeriesDetail, only: &str) -> WebResult<Vec<u8>> {
    let patches: Vec<&quire_store::SeriesPatch> =
        s.patches.iter().filter(|p| p.message_id == only).collect();
    let mut parsed = Vec::with_capacity(patches.len());
    for p in &patches {
        let raw = state.store.raw(&p.message_id).await.map_err(store_err("reading a patch"))?;
        let raw = raw.ok_or_else(|| {
            WebError::not_found(format!("No raw copy of patch <{}>.", p.message_id))
        })?;
        parsed.push(quire_mail::parse(&raw));
    }
    let trailers: Vec<Vec<CollectedTrailer>> = patches.iter().map(|p| collected(p)).collect();
    let am: Vec<AmPatch<'_>> = patches
        .iter()
        .zip(&parsed)
        .zip(&trailers)
        .map(|((p, m), t)| AmPatch {
            message: m,
            number: p.number,
            total: s.total,
            version: s.version,
            trailers: t,
        })
        .collect();
    Ok(render_mbox(&am, &AmOptions::default()))
}

pub async fn mbox(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> WebResult<Response> {
    let (project, raw_id) = path_parts(path)?;
    project_links(&state, &project).await?;
    let id = checked_id(&raw_id)?;
    let s = series_of(&state, &project, &id).await?;
    // The store's am_mbox is what `quire am` writes: the same bytes here.
    let am = state
        .store
        .am_mbox(&s.message_id, false, &AmOptions::default())
        .await
        .map_err(store_err("writing the series mbox"))?;
    let am = am.ok_or_else(|| {
        WebError::not_found(format!("No series <{}> in project {project}.", s.message_id))
    })?;
    Ok(text_response(am.mbox, "application/mbox", Some(file_name(&s.message_id, "mbox"))))
}

pub async fn patch(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> WebResult<Response> {
    let (project, raw_id) = path_parts(path)?;
    project_links(&state, &project).await?;
    let id = checked_id(&raw_id)?;
    let s = series_of(&state, &project, &id).await?;
    if !s.patches.iter().any(|p| p.message_id == id) {
        return Err(WebError::not_found(format!(
            "<{id}> is not a patch of series <{}>.",
            s.message_id
        )));
    }
    let bytes = patch_mbox(&state, &s, &id).await?;
    Ok(text_response(bytes, "text/plain; charset=utf-8", None))
}

pub async fn apply_log(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> WebResult<Response> {
    let (project, raw_id) = path_parts(path)?;
    project_links(&state, &project).await?;
    let id = checked_id(&raw_id)?;
    let s = series_of(&state, &project, &id).await?;
    match s.apply.and_then(|a| a.log) {
        Some(log) => Ok(text_response(log, "text/plain; charset=utf-8", None)),
        None => Err(WebError::not_found(format!(
            "Series <{}> has not been applied yet: there is no apply log.",
            s.message_id
        ))),
    }
}

/// The log of one check of a series, by the check's number.
pub async fn check_log(
    State(state): State<AppState>,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> WebResult<Response> {
    let (project, raw_id, check) = path_parts(path)?;
    project_links(&state, &project).await?;
    let id = checked_id(&raw_id)?;
    let s = series_of(&state, &project, &id).await?;
    let log = check
        .parse::<i64>()
        .ok()
        .and_then(|n| s.checks.iter().find(|c| c.id == n))
        .and_then(|c| c.log.clone())
        .ok_or_else(|| {
            WebError::not_found(format!("Series <{}> has no check log “{check}”.", s.message_id))
        })?;
    Ok(text_response(log, "text/plain; charset=utf-8", None))
}

pub async fn atom(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> WebResult<Response> {
    let project = path_parts(path)?;
    project_links(&state, &project).await?;
    let filter =
        SeriesFilter { words: Vec::new(), page: 1, per_page: 30, include_superseded: true };
    let listed =
        state.store.series_list(&project, &filter).await.map_err(store_err("listing series"))?;
    let base = state.config.base_url.trim_end_matches('/');
    let html_link = format!("{base}/{}/", segment(&project));
    let entries: Vec<AtomEntry> = listed
        .items
        .iter()
        .map(|s| {
            let link = format!("{base}{}", message_url(&project, &s.message_id));
            let name = build::person(&s.submitter);
            AtomEntry {
                id: link.clone(),
                title: build::series_title(&s.subject, &s.name),
                link,
                updated: rfc3339(s.date),
                author_name: if name.trim().is_empty() { "unknown".into() } else { name },
                author_email: s.submitter.email.clone(),
                summary: format!(
                    "{} by {}",
                    crate::age::plural(u64::from(s.patches), "patch"),
                    build::person(&s.submitter)
                ),
            }
        })
        .collect();
    // An empty feed was last updated now, as far as a reader can tell.
    let updated = listed.items.iter().map(|s| s.date).max().unwrap_or_else(now);
    let feed = AtomFeed {
        id: format!("{html_link}new.atom"),
        title: format!("{project}: new series"),
        self_link: format!("{html_link}new.atom"),
        html_link,
        updated: rfc3339(updated),
        entries,
    };
    let xml = feed
        .render()
        .map_err(|e| WebError::Internal(anyhow::anyhow!("rendering the feed: {e}")))?;
    Ok(text_response(xml, "application/atom+xml; charset=utf-8", None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_numbers_count_from_one() {
        assert_eq!(page_number(None).ok(), Some(1));
        assert_eq!(page_number(Some("")).ok(), Some(1));
        assert_eq!(page_number(Some("3")).ok(), Some(3));
        assert!(matches!(page_number(Some("0")), Err(WebError::BadRequest(_))));
        assert!(matches!(page_number(Some("-1")), Err(WebError::BadRequest(_))));
        assert!(matches!(page_number(Some("99999999999999")), Err(WebError::BadRequest(_))));
    }

    #[test]
    fn file_names_are_safe() {
        assert_eq!(file_name("a/b\"c@d", "mbox"), "a_b_c@d.mbox");
    }
}
