//! public-inbox's URLs, so that b4 and lei work with `b4.midmask = http://HOST/<list>/%s`.
//!
//! - `GET /<list>/<msgid>/t.mbox.gz`: the whole thread, mboxrd, gzipped. Sent as
//!   `Content-Type: application/gzip` and never with `Content-Encoding` (b4 gunzips the body
//!   itself and fails with BadGzipFile when an HTTP layer already did).
//! - `POST /<list>/?x=m[&t=1]&q=QUERY` (body `x=m`) and `GET /<list>/?x=m&q=QUERY`: the
//!   matching messages (with `t=1`, their whole threads) as a gzipped mboxrd; 404 when nothing
//!   matches, 400 with one line when the query cannot be read.
//! - `/<list>/<msgid>/T/`: the thread on one page. `/<list>/<msgid>/`, `/raw` and
//!   `/<list>/new.atom` are the pages' own routes.
//! - `/all/...`: the same across every list (a project named `all` is hidden behind it);
//!   `/<msgid>/` at the root answers 302 to `/all/<msgid>/` (b4 finds a message's list that
//!   way when its midmask names no list).
//!
//! `<list>` is a project's name. Message-IDs arrive percent-encoded (`%40`, `%2F`); axum
//! decodes them, and implausible ones (NUL, 10 KB) are 404s before they reach the store.

use std::io::Write as _;

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use quire_store::{InboxMail, MessageRecord};
use serde::Deserialize;

use crate::AppState;
use crate::build;
use crate::error::WebError;
use crate::url::{anchor, bare_id, implausible_id, message_url, segment};
use crate::views::MessagePage;

/// The name under which every list is searched together, as on lore.
pub const ALL: &str = "all";

/// The parameters public-inbox reads on a list's URL.
#[derive(Debug, Default, Deserialize)]
pub struct InboxQuery {
    /// `m` asks for an mbox of the results.
    x: Option<String>,
    /// `1` expands every match to its whole thread.
    t: Option<String>,
    q: Option<String>,
    /// The offset of the first match answered, as public-inbox's `o=`.
    o: Option<String>,
}

impl InboxQuery {
    fn wants_mbox(&self) -> bool {
        self.x.as_deref() == Some("m")
    }
    fn threads(&self) -> bool {
        self.t.as_deref().is_some_and(|t| t.trim() == "1")
    }
    /// `o=N`: `Some(Ok(N))`, or the line saying what is wrong with it.
    fn offset(&self) -> Option<Result<usize, Refusal>> {
        let o = self.o.as_deref()?.trim();
        Some(o.parse::<usize>().map_err(|_| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("The offset o={o} is not a number of messages: write o=0, o=10000..."),
            )
        }))
    }
}

/// Why a request gets no mail: the status and one line for the client (b4 shows it), the
/// web crate's one error in its plain-text form.
pub use crate::error::Refusal;

type Answer = Result<Response, Refusal>;

/// A 302 Found (axum's `Redirect` has no 302).
fn found(location: &str) -> Answer {
    match HeaderValue::from_str(location) {
        Ok(v) => Ok((StatusCode::FOUND, [(header::LOCATION, v)]).into_response()),
        Err(_) => Err(Refusal::not_found("That message cannot be named in a URL.")),
    }
}

/// `mails` as an mboxrd (public-inbox's flavour): a `From mboxrd@z` line before each message,
/// every line that is `From ` behind any number of `>` gets one more `>`, and a blank line
/// after each message.
pub fn mboxrd(mails: &[InboxMail]) -> Vec<u8> {
    let mut out = Vec::with_capacity(mails.iter().map(|m| m.raw.len() + 64).sum());
    for m in mails {
        // Writing to memory cannot fail.
        let _ = quire_mail::mbox::write_message(
            &mut out,
            b"From mboxrd@z Thu Jan  1 00:00:00 1970\n",
            &m.raw,
        );
    }
    out
}

/// The gzipped mboxrd answer, or a 404 when there is nothing to send.
fn gzip_mbox(mails: &[InboxMail], empty: &str) -> Answer {
    if mails.is_empty() {
        return Err(Refusal::not_found(empty));
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let body =
        gz.write_all(&mboxrd(mails)).and_then(|()| gz.finish()).map_err(|e| gzip_failed(&e))?;
    // application/gzip and no Content-Encoding: the client gunzips the file itself (and the
    // compression layer leaves this type alone, see `router`).
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "application/gzip")], body).into_response())
}

/// The list a URL names: `None` for `/all/`, else the project (checked to exist).
async fn list_scope(state: &AppState, list: &str) -> Result<Option<String>, Refusal> {
    if list == ALL {
        return Ok(None);
    }
    if implausible_id(list).is_some() {
        return Err(Refusal::not_found("No such list."));
    }
    let projects =
        state.project_configs().await.map_err(|e| Refusal::store("reading the projects", e))?;
    if projects.contains_key(list) {
        Ok(Some(list.to_string()))
    } else {
        Err(Refusal::not_found(format!("No list is named “{list}”.")))
    }
}

/// A Message-ID from the URL, angle brackets dropped, or a 404 when no mail can have it.
fn message_id(raw: &str) -> Result<String, Refusal> {
    let id = bare_id(raw);
    match implausible_id(id) {
        Some(why) => Err(Refusal::not_found(format!("No message has {why}."))),
        None => Ok(id.to_string()),
    }
}

fn path_parts<T>(p: Result<Path<T>, PathRejection>) -> Result<T, Refusal> {
    p.map(|Path(t)| t).map_err(|e| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("The address cannot be read: {}", e.body_text()),
        )
    })
}

fn query_parts(q: Result<Query<InboxQuery>, QueryRejection>) -> Result<InboxQuery, Refusal> {
    q.map(|Query(q)| q).map_err(|e| {
        Refusal::new(
            StatusCode::BAD_REQUEST,
            format!("The query cannot be read: {}", e.body_text()),
        )
    })
}

/// Runs a search of `list` and answers with its mbox: at most [`quire_store::MAX_MATCHES`]
/// matches from `o=` (public-inbox streams them all). When more follow, the answer says so in
/// its headers: `X-Quire-Search-More: o=N` and `Link: <...&o=N>; rel="next"`.
async fn search(state: &AppState, list: &str, params: &InboxQuery, body: &[u8]) -> Answer {
    let scope = list_scope(state, list).await?;
    // public-inbox takes `q` from the URL; a form body may carry it too.
    let from_body: InboxQuery = form(body);
    let q = params.q.as_deref().or(from_body.q.as_deref()).map(str::trim).unwrap_or_default();
    if q.is_empty() {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "No query: add q=... (for example q=s:\"subject\").",
        ));
    }
    let threads = params.threads() || from_body.threads();
    let offset = params.offset().or_else(|| from_body.offset()).transpose()?.unwrap_or(0);
    let hits = state
        .store
        .inbox_search_hits(scope.as_deref(), q, threads, offset)
        .await
        .map_err(|e| Refusal::store("searching", e))?;
    if hits.ids.is_empty() {
        return Err(Refusal::not_found(format!("No message matches “{q}”.")));
    }
    // The mails are read and compressed a chunk at a time: the answer is held compressed.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for chunk in hits.ids.chunks(500) {
        let mails =
            state.store.inbox_mails(chunk).await.map_err(|e| Refusal::store("searching", e))?;
        gz.write_all(&mboxrd(&mails)).map_err(|e| gzip_failed(&e))?;
    }
    let body = gz.finish().map_err(|e| gzip_failed(&e))?;
    let mut answer =
        (StatusCode::OK, [(header::CONTENT_TYPE, "application/gzip")], body).into_response();
    if hits.more {
        let next = hits.offset + quire_store::MAX_MATCHES;
        let h = answer.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&format!("o={next}")) {
            h.insert("x-quire-search-more", v);
        }
        let link = format!(
            "</{}/?x=m{}&q={}&o={next}>; rel=\"next\"",
            segment(list),
            if threads { "&t=1" } else { "" },
            percent_encoding::utf8_percent_encode(q, percent_encoding::NON_ALPHANUMERIC)
        );
        if let Ok(v) = HeaderValue::from_str(&link) {
            h.insert(header::LINK, v);
        }
    }
    Ok(answer)
}

fn gzip_failed(e: &std::io::Error) -> Refusal {
    tracing::error!(error = %e, "gzipping an mbox");
    Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, "The server could not compress the mbox.")
}

/// The fields of a urlencoded form body; anything unreadable counts as absent (the body only
/// repeats `x=m`).
fn form(body: &[u8]) -> InboxQuery {
    let mut out = InboxQuery::default();
    for pair in body.split(|&b| b == b'&') {
        let mut kv = pair.splitn(2, |&b| b == b'=');
        let key = kv.next().unwrap_or_default();
        let value = kv.next().unwrap_or_default();
        let value = value.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect::<Vec<u8>>();
        let Ok(value) = percent_encoding::percent_decode(&value).decode_utf8() else { continue };
        let value = Some(value.into_owned());
        match key {
            b"x" => out.x = value,
            b"t" => out.t = value,
            b"q" => out.q = value,
            b"o" => out.o = value,
            _ => {}
        }
    }
    out
}

/// `GET /<list>/`: with `x=m` a search (as the POST); else the series list. At the root a
/// Message-ID that names no list but a stored message answers 302 to `/all/<msgid>/`.
pub async fn list_get(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    inbox: Result<Query<InboxQuery>, QueryRejection>,
    list: Result<Query<crate::pages::ListQuery>, QueryRejection>,
    headers: axum::http::HeaderMap,
) -> Answer {
    let name = path_parts(path)?;
    let params = query_parts(inbox)?;
    if params.wants_mbox() {
        return search(&state, &name, &params, b"").await;
    }
    let projects =
        state.project_configs().await.map_err(|e| Refusal::store("reading the projects", e))?;
    if !projects.contains_key(&name)
        && let Ok(id) = message_id(&name)
        && state
            .store
            .message(&id)
            .await
            .map_err(|e| Refusal::store("looking up a message", e))?
            .is_some()
    {
        return found(&format!("/{ALL}/{}/", segment(&id)));
    }
    let page = async {
        let query = crate::pages::list_query(list)?;
        crate::pages::series_list_page(state, name, query, headers).await
    };
    Ok(page.await.into_response())
}

/// `POST /<list>/?x=m&t=1&q=QUERY`, b4's search.
pub async fn list_post(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    inbox: Result<Query<InboxQuery>, QueryRejection>,
    body: Bytes,
) -> Answer {
    let name = path_parts(path)?;
    search(&state, &name, &query_parts(inbox)?, &body).await
}

/// `GET /all/` and `POST /all/`: searches across every list (there is no series list of all).
pub async fn all_get(
    State(state): State<AppState>,
    inbox: Result<Query<InboxQuery>, QueryRejection>,
) -> Answer {
    let params = query_parts(inbox)?;
    if params.q.is_none() {
        return found("/");
    }
    search(&state, ALL, &params, b"").await
}

pub async fn all_post(
    State(state): State<AppState>,
    inbox: Result<Query<InboxQuery>, QueryRejection>,
    body: Bytes,
) -> Answer {
    search(&state, ALL, &query_parts(inbox)?, &body).await
}

/// The thread mbox of `id` under `list`.
async fn thread_mbox(state: &AppState, list: &str, raw_id: &str) -> Answer {
    let scope = list_scope(state, list).await?;
    let id = message_id(raw_id)?;
    match state.store.inbox_thread(scope.as_deref(), &id).await {
        Ok(Some(mails)) => gzip_mbox(&mails, &format!("No message <{id}> in {list}.")),
        Ok(None) => Err(Refusal::not_found(format!("No message <{id}> in {list}."))),
        Err(e) => Err(Refusal::store("reading a thread", e)),
    }
}

pub async fn t_mbox_gz(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let (list, id) = path_parts(path)?;
    thread_mbox(&state, &list, &id).await
}

pub async fn all_t_mbox_gz(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    thread_mbox(&state, ALL, &path_parts(path)?).await
}

/// The stored message `id` if it is in `scope` (any list for `None`).
async fn scoped_message(
    state: &AppState,
    scope: Option<&str>,
    id: &str,
) -> Result<MessageRecord, Refusal> {
    match state.store.message(id).await {
        Ok(Some(m)) if scope.is_none_or(|s| m.projects.iter().any(|p| p == s)) => Ok(m),
        Ok(_) => Err(Refusal::not_found(format!("No message <{id}> in {}.", scope.unwrap_or(ALL)))),
        Err(e) => Err(Refusal::store("reading a message", e)),
    }
}

/// `/<list>/<msgid>/T/`: every message of the thread on one page, the named one marked.
async fn thread_page(state: &AppState, list: &str, raw_id: &str) -> Answer {
    let scope = list_scope(state, list).await?;
    let id = message_id(raw_id)?;
    let named = scoped_message(state, scope.as_deref(), &id).await?;
    // Links on the page go to a list the message is in.
    let project = scope
        .clone()
        .or_else(|| named.projects.first().cloned())
        .unwrap_or_else(|| ALL.to_string());
    let ids = state
        .store
        .inbox_thread_ids(scope.as_deref(), &id)
        .await
        .map_err(|e| Refusal::store("reading a thread", e))?;
    let mut records = Vec::with_capacity(ids.len());
    for mid in ids {
        if let Some(m) = state
            .store
            .message(&mid)
            .await
            .map_err(|e| Refusal::store("reading a thread's messages", e))?
        {
            records.push(m);
        }
    }
    if records.is_empty() {
        records.push(named);
    }
    let title = records
        .first()
        .map(|m| m.subject.clone())
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "(no subject)".into());
    let page = MessagePage {
        project_url: format!("/{}/", segment(&project)),
        title,
        thread: build::thread_views(&project, &records, chrono::Utc::now().timestamp()),
        focus: anchor(&id),
        project,
    };
    match askama::Template::render(&page) {
        Ok(html) => Ok(axum::response::Html(html).into_response()),
        Err(e) => {
            Ok(WebError::Internal(anyhow::anyhow!("rendering a thread page: {e}")).into_response())
        }
    }
}

pub async fn thread_flat(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Answer {
    let (list, id) = path_parts(path)?;
    thread_page(&state, &list, &id).await
}

pub async fn all_thread_flat(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    thread_page(&state, ALL, &path_parts(path)?).await
}

/// `/<list>/<msgid>/?x=m&q=QUERY`: the messages of that thread matching the query (liblore
/// asks `dt:`/`rt:` ranges for what is new in a thread), gzipped mboxrd; 404 when none.
async fn thread_search(
    state: &AppState,
    list: &str,
    raw_id: &str,
    params: &InboxQuery,
    body: &[u8],
) -> Answer {
    let scope = list_scope(state, list).await?;
    let id = message_id(raw_id)?;
    let from_body = form(body);
    let q = params.q.as_deref().or(from_body.q.as_deref()).map(str::trim).unwrap_or_default();
    if q.is_empty() {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            "No query: add q=... (for example q=dt:20240101000000..).",
        ));
    }
    match state.store.inbox_search_thread(scope.as_deref(), &id, q).await {
        Ok(Some(mails)) => {
            gzip_mbox(&mails, &format!("No message of the thread of <{id}> matches “{q}”."))
        }
        Ok(None) => Err(Refusal::not_found(format!("No message <{id}> in {list}."))),
        Err(e) => Err(Refusal::store("searching a thread", e)),
    }
}

/// `GET /<list>/<msgid>/`: with `x=m` a search of the thread; else the message's page.
pub async fn message_get(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    inbox: Result<Query<InboxQuery>, QueryRejection>,
    headers: axum::http::HeaderMap,
) -> Answer {
    let (list, id) = path_parts(path)?;
    let params = query_parts(inbox)?;
    if params.wants_mbox() {
        return thread_search(&state, &list, &id, &params, b"").await;
    }
    Ok(crate::pages::message_page(state, list, id, headers).await.into_response())
}

/// `POST /<list>/<msgid>/?x=m&q=QUERY`.
pub async fn message_post(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    inbox: Result<Query<InboxQuery>, QueryRejection>,
    body: Bytes,
) -> Answer {
    let (list, id) = path_parts(path)?;
    thread_search(&state, &list, &id, &query_parts(inbox)?, &body).await
}

pub async fn all_message_post(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    inbox: Result<Query<InboxQuery>, QueryRejection>,
    body: Bytes,
) -> Answer {
    thread_search(&state, ALL, &path_parts(path)?, &query_parts(inbox)?, &body).await
}

/// `/all/<msgid>/`: 302 to the message under a list it is in (whose page redirects on to its
/// series); with `x=m` a search of the thread.
pub async fn all_message(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    inbox: Result<Query<InboxQuery>, QueryRejection>,
) -> Answer {
    let raw = path_parts(path)?;
    let params = query_parts(inbox)?;
    if params.wants_mbox() {
        return thread_search(&state, ALL, &raw, &params, b"").await;
    }
    let id = message_id(&raw)?;
    let m = scoped_message(&state, None, &id).await?;
    match m.projects.first() {
        Some(p) => found(&message_url(p, &id)),
        None => Err(Refusal::not_found(format!("<{id}> belongs to no list."))),
    }
}

/// `/all/<msgid>` without the slash: where public-inbox sends it.
pub async fn all_message_slash(path: Result<Path<String>, PathRejection>) -> Answer {
    found(&format!("/{ALL}/{}/", segment(&path_parts(path)?)))
}

/// `/all/<msgid>/raw`: the bytes as received.
pub async fn all_raw(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> Answer {
    let id = message_id(&path_parts(path)?)?;
    match state.store.raw(&id).await {
        Ok(Some(raw)) => {
            Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], raw)
                .into_response())
        }
        Ok(None) => Err(Refusal::not_found(format!("No message <{id}>."))),
        Err(e) => Err(Refusal::store("reading a raw message", e)),
    }
}

/// Entries of the `/all/` feed.
const ALL_FEED_ENTRIES: u32 = 30;

/// `/all/new.atom`: the newest series of every list, as each list's own `new.atom` shows them.
pub async fn all_atom(State(state): State<AppState>) -> Answer {
    let projects =
        state.project_configs().await.map_err(|e| Refusal::store("reading the projects", e))?;
    let filter = quire_store::SeriesFilter {
        words: Vec::new(),
        page: 1,
        per_page: ALL_FEED_ENTRIES,
        include_superseded: true,
    };
    let mut newest = Vec::new();
    for name in projects.keys() {
        let listed = state
            .store
            .series_list(name, &filter)
            .await
            .map_err(|e| Refusal::store("listing series", e))?;
        newest.extend(listed.items);
    }
    // Newest first; a series cross-posted to several lists once.
    newest.sort_by(|a, b| {
        (b.date, &b.message_id, &b.project).cmp(&(a.date, &a.message_id, &a.project))
    });
    newest.dedup_by(|a, b| a.message_id == b.message_id);
    newest.truncate(ALL_FEED_ENTRIES as usize);
    let base = state.config.base_url.trim_end_matches('/');
    let html_link = format!("{base}/{ALL}/");
    let entries = newest
        .iter()
        .map(|s| {
            let link = format!("{base}{}", message_url(&s.project, &s.message_id));
            let name = build::person(&s.submitter);
            crate::views::AtomEntry {
                id: link.clone(),
                title: build::series_title(&s.subject, &s.name),
                link,
                updated: crate::age::rfc3339(s.date),
                author_name: if name.trim().is_empty() { "unknown".into() } else { name },
                author_email: s.submitter.email.clone(),
                summary: format!(
                    "{}: {} by {}",
                    s.project,
                    crate::age::plural(u64::from(s.patches), "patch"),
                    build::person(&s.submitter)
                ),
            }
        })
        .collect();
    // An empty feed was last updated now, as far as a reader can tell.
    let updated =
        newest.iter().map(|s| s.date).max().unwrap_or_else(|| chrono::Utc::now().timestamp());
    let feed = crate::views::AtomFeed {
        id: format!("{html_link}new.atom"),
        title: "all lists: new series".into(),
        self_link: format!("{html_link}new.atom"),
        html_link,
        updated: crate::age::rfc3339(updated),
        entries,
    };
    match askama::Template::render(&feed) {
        Ok(xml) => Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
            xml,
        )
            .into_response()),
        Err(e) => {
            Ok(WebError::Internal(anyhow::anyhow!("rendering the feed: {e}")).into_response())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(raw: &str) -> InboxMail {
        InboxMail { message_id: "x@y".into(), date: None, raw: raw.as_bytes().to_vec() }
    }

    #[test]
    fn mboxrd_escapes_from_lines_at_every_depth() {
        let out = mboxrd(&[
            mail("Subject: a\n\nFrom here\n>From there\n>>From far\nFromage\n"),
            mail("Subject: b\n\nno newline"),
        ]);
        let text = String::from_utf8(out).expect("utf-8");
        assert_eq!(
            text,
            "From mboxrd@z Thu Jan  1 00:00:00 1970\nSubject: a\n\n>From here\n>>From there\n>>>From far\nFromage\n\n\
             From mboxrd@z Thu Jan  1 00:00:00 1970\nSubject: b\n\nno newline\n\n"
        );
    }

    #[test]
    fn form_bodies_are_read_leniently() {
        let f = form(b"x=m&t=1&q=s%3A%22a+b%22");
        assert!(f.wants_mbox() && f.threads());
        assert_eq!(f.q.as_deref(), Some("s:\"a b\""));
        let junk = form(b"\xff&&=&q=%ZZ");
        assert_eq!(junk.q.as_deref(), Some("%ZZ"));
        assert!(!junk.wants_mbox());
    }
}
