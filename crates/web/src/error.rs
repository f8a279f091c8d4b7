//! The one error type of the pages: it knows which status it is and renders a page that says
//! what was not found or what was wrong with the request.

use crate::views::ErrorPage;
use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Nothing by that name: the text says what was looked for.
    #[error("{0}")]
    NotFound(String),
    /// The request itself makes no sense (a page number that is not a number...).
    #[error("{0}")]
    BadRequest(String),
    /// Our fault: the store failed. Logged in full, shown briefly.
    #[error("{0:#}")]
    Internal(#[from] anyhow::Error),
}

pub type WebResult<T> = Result<T, WebError>;

impl WebError {
    pub fn not_found(what: impl Into<String>) -> WebError {
        WebError::NotFound(what.into())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::Internal(e) if store_unavailable(e) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// What a store error means for the request that met it: the one mapping from store errors to
/// statuses (issue 28), whatever form the answer takes (a page, `{"detail": ...}`, a line for
/// b4). The store has no "not found" error: it answers `None`, which each route names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreFault {
    /// The search query is wrong, or too large for the database to run: 400 with the line
    /// saying where or why (the front end says it is about the query).
    BadQuery(String),
    /// Another argument of the request is wrong: 400 with the line.
    BadInput(String),
    /// The database cannot be reached right now: 503, try again.
    Unavailable,
    /// The store failed: 500, logged where it happened.
    Internal,
}

impl StoreFault {
    pub fn of(e: &quire_store::Error) -> StoreFault {
        match e {
            quire_store::Error::BadQuery(m) => StoreFault::BadQuery(m.clone()),
            quire_store::Error::Invalid(m) => StoreFault::BadInput(m.clone()),
            e if e.is_unavailable() => StoreFault::Unavailable,
            _ => StoreFault::Internal,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            StoreFault::BadQuery(_) | StoreFault::BadInput(_) => StatusCode::BAD_REQUEST,
            StoreFault::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            StoreFault::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The one line a client gets while the database cannot be reached.
pub const UNAVAILABLE: &str = "The database is not reachable right now; try again in a moment.";

/// True when the store error somewhere in `e`'s chain is "the database cannot be reached" (down,
/// restarting, no connection free in time): a 503, which clients retry, not a 500.
pub fn store_unavailable(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<quire_store::Error>().is_some_and(quire_store::Error::is_unavailable)
    })
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (title, detail) = match &self {
            WebError::NotFound(what) => ("Not found".to_string(), what.clone()),
            WebError::BadRequest(why) => ("Bad request".to_string(), why.clone()),
            WebError::Internal(e) if store_unavailable(e) => {
                tracing::warn!(error = %format!("{e:#}"), "database unavailable");
                ("Service unavailable".to_string(), UNAVAILABLE.to_string())
            }
            WebError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "page failed");
                (
                    "Something went wrong".to_string(),
                    "The server could not read its store; the error is in its log.".to_string(),
                )
            }
        };
        let page = ErrorPage { status: status.as_u16(), title, detail };
        let retry =
            (status == StatusCode::SERVICE_UNAVAILABLE).then_some([(header::RETRY_AFTER, "5")]);
        match page.render() {
            Ok(html) => (status, retry, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], html)
                .into_response(),
            Err(_) => (status, page.detail).into_response(),
        }
    }
}
