//! `?q=` on the series list page: the series search (docs/search.md) of the store.

use quire_store::{Page, SeriesSummary, Store};

/// What a search gives the list page.
pub(crate) enum Found {
    Page(Page<SeriesSummary>),
    /// The query is wrong: the message (column and what was expected) for the page, which is
    /// answered with a 400.
    BadQuery(String),
}

/// The series of `project` matching `q`, newest first (obsolete revisions included, marked
/// as the plain list does).
pub(crate) async fn find(
    store: &Store,
    project: &str,
    q: &str,
    page: u32,
    per_page: u32,
) -> quire_store::Result<Found> {
    match store.series_search_text(Some(project), q, page, per_page).await {
        Ok(p) => Ok(Found::Page(p)),
        Err(quire_store::Error::BadQuery(m)) => Ok(Found::BadQuery(m)),
        Err(e) => Err(e),
    }
}
