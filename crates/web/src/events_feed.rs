//! `/<project>/events.atom`: everything that happened to the project's series (new, complete,
//! superseded, applied or not, checks, merged), newest first, from the store's events — the
//! same events quire-notify mails and posts.

use askama::Template;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::age::rfc3339;
use crate::error::{WebError, WebResult, store_err};
use crate::url::{implausible_id, message_url, segment};
use crate::views::{AtomEntry, AtomFeed};

/// Entries in the feed.
const ENTRIES: u32 = 50;

/// What an event says, in a few words.
fn summary(e: &quire_store::Event) -> String {
    let text = |k: &str| e.payload.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    match e.kind.as_str() {
        "series-new" => "new series".into(),
        "series-complete" => "all patches arrived".into(),
        "series-superseded" => format!("superseded by <{}>", text("superseded_by")),
        "series-applied" if text("state") == "failed" => "failed to apply".into(),
        "series-applied" => format!(
            "applied{}",
            Some(text("result_commit"))
                .filter(|c| !c.is_empty())
                .map(|c| format!(" as {c}"))
                .unwrap_or_default()
        ),
        "check-finished" => format!("check {}: {}", text("name"), text("state")),
        "series-merged" => "merged upstream".into(),
        other => other.to_string(),
    }
}

pub async fn events_atom(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
) -> WebResult<Response> {
    let Path(project) = path.map_err(|e| {
        WebError::BadRequest(format!("The address cannot be read: {}", e.body_text()))
    })?;
    let projects = state.project_configs().await.map_err(store_err("reading the projects"))?;
    if implausible_id(&project).is_some() || !projects.contains_key(&project) {
        return Err(WebError::not_found(format!("No project is named “{project}”.")));
    }
    let events =
        state.store.project_events(&project, ENTRIES).await.map_err(store_err("reading events"))?;
    let base = state.config.base_url.trim_end_matches('/');
    let html_link = format!("{base}/{}/", segment(&project));
    let mut entries = Vec::with_capacity(events.len());
    for e in &events {
        let subject = match &e.series_head {
            Some(head) => state
                .store
                .message(head)
                .await
                .map_err(store_err("reading a series"))?
                .map(|m| m.subject),
            None => None,
        };
        let link = e
            .series_head
            .as_deref()
            .map(|h| format!("{base}{}", message_url(&project, h)))
            .unwrap_or_else(|| html_link.clone());
        let summary = summary(e);
        entries.push(AtomEntry {
            id: format!("{html_link}events.atom#event-{}", e.id),
            title: format!("{}: {}", summary, subject.unwrap_or_default()),
            link,
            updated: rfc3339(e.created),
            author_name: "quire".into(),
            author_email: String::new(),
            summary: format!("{} ({})", summary, e.kind),
        });
    }
    let updated =
        events.first().map(|e| e.created).unwrap_or_else(|| chrono::Utc::now().timestamp());
    let feed = AtomFeed {
        id: format!("{html_link}events.atom"),
        title: format!("{project}: events"),
        self_link: format!("{html_link}events.atom"),
        html_link,
        updated: rfc3339(updated),
        entries,
    };
    let xml = feed
        .render()
        .map_err(|e| WebError::Internal(anyhow::anyhow!("rendering the feed: {e}")))?;
    Ok(([(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")], xml).into_response())
}
