//! The one error of the web crate (issue 28): `WebError` knows its status and its one line, and
//! the one mapping from store errors (`From<quire_store::Error>`: a bad query or argument 400, the
//! database out of reach 503, anything else 500 with the cause logged). A route chooses only the
//! form the answer takes: an HTML page (`WebError` itself), JSON `{"detail": ...}` as both APIs
//! answer (`ApiError`), or one line of text for programs such as b4 (`Refusal`).

use crate::views::ErrorPage;
use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::marker::PhantomData;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Nothing by that name: the text says what was looked for.
    #[error("{0}")]
    NotFound(String),
    /// The request itself makes no sense (a page number that is not a number...).
    #[error("{0}")]
    BadRequest(String),
    /// The search query is wrong, or too large for the database to run: the line says where
    /// or why (the answer says it is about the query).
    #[error("{0}")]
    BadQuery(String),
    /// Another refusal with its own status (401, 403, 409, 413...): the line says why.
    #[error("{1}")]
    Refused(StatusCode, String),
    /// Our fault, or the database's: logged in full, shown briefly; a 503 when the store
    /// cannot be reached (`store_unavailable`), else a 500.
    #[error("{0:#}")]
    Internal(#[from] anyhow::Error),
}

pub type WebResult<T> = Result<T, WebError>;

impl WebError {
    pub fn not_found(what: impl Into<String>) -> WebError {
        WebError::NotFound(what.into())
    }

    pub fn bad(why: impl Into<String>) -> WebError {
        WebError::BadRequest(why.into())
    }

    pub fn refused(status: StatusCode, why: impl Into<String>) -> WebError {
        WebError::Refused(status, why.into())
    }

    /// A store error met while doing `what` (kept in the log with the cause).
    pub fn store(what: impl Into<String>, e: quire_store::Error) -> WebError {
        match e {
            quire_store::Error::BadQuery(m) => WebError::BadQuery(m),
            quire_store::Error::Invalid(m) => WebError::BadRequest(m),
            e => WebError::Internal(anyhow::Error::new(e).context(what.into())),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            WebError::NotFound(_) => StatusCode::NOT_FOUND,
            WebError::BadRequest(_) | WebError::BadQuery(_) => StatusCode::BAD_REQUEST,
            WebError::Refused(status, _) => *status,
            WebError::Internal(e) if store_unavailable(e) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The status, a title and the one line, the cause logged: what every form shows.
    pub(crate) fn told<F: Form>(&self) -> (StatusCode, &'static str, String) {
        let status = self.status();
        let (title, line) = match self {
            WebError::NotFound(what) => ("Not found", what.clone()),
            WebError::BadRequest(why) => ("Bad request", why.clone()),
            WebError::BadQuery(why) => ("Bad request", F::bad_query(why)),
            WebError::Refused(_, why) => {
                (status.canonical_reason().unwrap_or("Refused"), why.clone())
            }
            WebError::Internal(e) if status == StatusCode::SERVICE_UNAVAILABLE => {
                tracing::warn!(error = %format!("{e:#}"), "database unavailable");
                ("Service unavailable", UNAVAILABLE.to_string())
            }
            WebError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "request failed");
                ("Something went wrong", INTERNAL.to_string())
            }
        };
        (status, title, line)
    }
}

/// `map_err(store_err("reading a series"))`: a store error met while doing that.
pub fn store_err(what: &str) -> impl FnOnce(quire_store::Error) -> WebError + '_ {
    move |e| WebError::store(what, e)
}

impl From<quire_store::Error> for WebError {
    fn from(e: quire_store::Error) -> WebError {
        WebError::store("reading the store", e)
    }
}

/// The one line a client gets while the database cannot be reached.
pub const UNAVAILABLE: &str = "The database is not reachable right now; try again in a moment.";

/// The one line a client gets when the server failed (the cause is in its log).
pub const INTERNAL: &str = "The server could not read its store; the error is in its log.";

/// True when the store error somewhere in `e`'s chain is "the database cannot be reached" (down,
/// restarting, no connection free in time): a 503, which clients retry, not a 500.
pub fn store_unavailable(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<quire_store::Error>().is_some_and(quire_store::Error::is_unavailable)
    })
}

/// 503s say when to come back.
fn retry_after(status: StatusCode) -> Option<[(header::HeaderName, &'static str); 1]> {
    (status == StatusCode::SERVICE_UNAVAILABLE).then_some([(header::RETRY_AFTER, "5")])
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, detail) = self.told::<Page>();
        let page = ErrorPage { status: status.as_u16(), title: title.to_string(), detail };
        match page.render() {
            Ok(html) => (
                status,
                retry_after(status),
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response(),
            Err(_) => (status, retry_after(status), page.detail).into_response(),
        }
    }
}

/// A form an error can take. The form changes how it is written, never its status or line.
pub trait Form {
    /// How a bad query's line is introduced.
    fn bad_query(why: &str) -> String;
    /// The answer, from the status and the line.
    fn answer(status: StatusCode, line: String) -> Response;
}

/// An HTML page (`WebError`'s own form).
pub struct Page;

impl Form for Page {
    fn bad_query(why: &str) -> String {
        format!("Bad query: {why}")
    }
    fn answer(status: StatusCode, line: String) -> Response {
        WebError::refused(status, line).into_response()
    }
}

/// `{"detail": "..."}`, as the native API and Patchwork's API answer.
pub struct Json;

impl Form for Json {
    fn bad_query(why: &str) -> String {
        format!("q: {why}")
    }
    fn answer(status: StatusCode, line: String) -> Response {
        let body = serde_json::json!({ "detail": line }).to_string();
        (status, retry_after(status), [(header::CONTENT_TYPE, "application/json")], body)
            .into_response()
    }
}

/// One line of plain text, for programs that show it as it is (b4, lei).
pub struct Text;

impl Form for Text {
    fn bad_query(why: &str) -> String {
        why.to_string()
    }
    fn answer(status: StatusCode, mut line: String) -> Response {
        line.push('\n');
        (status, retry_after(status), [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], line)
            .into_response()
    }
}

/// A `WebError` answered in the form `F`: the route's return type says the form, `?` converts.
#[derive(Debug)]
pub struct Shaped<F>(pub WebError, PhantomData<F>);

/// The JSON APIs' error.
pub type ApiError = Shaped<Json>;
/// The refusal of a route that programs read (public-inbox's, for b4 and lei).
pub type Refusal = Shaped<Text>;

impl<F: Form> Shaped<F> {
    pub fn new(status: StatusCode, line: impl Into<String>) -> Shaped<F> {
        WebError::refused(status, line).into()
    }
    pub fn not_found(what: impl Into<String>) -> Shaped<F> {
        WebError::not_found(what).into()
    }
    pub fn bad(why: impl Into<String>) -> Shaped<F> {
        WebError::bad(why).into()
    }
    /// A store error met while doing `what`.
    pub fn store(what: impl Into<String>, e: quire_store::Error) -> Shaped<F> {
        WebError::store(what, e).into()
    }
    pub fn status(&self) -> StatusCode {
        self.0.status()
    }
}

impl<F, E: Into<WebError>> From<E> for Shaped<F> {
    fn from(e: E) -> Shaped<F> {
        Shaped(e.into(), PhantomData)
    }
}

impl<F: Form> IntoResponse for Shaped<F> {
    fn into_response(self) -> Response {
        let (status, _, line) = self.0.told::<F>();
        F::answer(status, line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(e: quire_store::Error) -> (StatusCode, String) {
        let (status, _, line) = WebError::from(e).told::<Json>();
        (status, line)
    }

    #[test]
    fn one_mapping_from_store_errors() {
        let (s, line) = fault(quire_store::Error::BadQuery("unknown prefix `x:`".into()));
        assert_eq!((s, line.as_str()), (StatusCode::BAD_REQUEST, "q: unknown prefix `x:`"));
        let (s, line) = fault(quire_store::Error::Invalid("page: give a number".into()));
        assert_eq!((s, line.as_str()), (StatusCode::BAD_REQUEST, "page: give a number"));
        let (s, line) = fault(quire_store::Error::Corrupt {
            context: "reading a series".into(),
            detail: "not zstd".into(),
        });
        assert_eq!((s, line.as_str()), (StatusCode::INTERNAL_SERVER_ERROR, INTERNAL));
    }

    #[test]
    fn the_form_changes_the_words_not_the_status() {
        let e = || WebError::BadQuery("`(` never closed".into());
        assert_eq!(e().told::<Page>().2, "Bad query: `(` never closed");
        assert_eq!(e().told::<Text>().2, "`(` never closed");
        let r: Refusal = e().into();
        assert_eq!(r.into_response().status(), StatusCode::BAD_REQUEST);
    }
}
