//! `quire series list --query Q`: the series search (docs/search.md). A query the parser
//! refuses (past its limits too) or the store cannot run is one line and exit 64.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use quire_store::Store;

pub(crate) async fn series_search(
    store: &Store,
    project: Option<&str>,
    text: &str,
    all: bool,
    page: u32,
    limit: u32,
    json: bool,
) -> Result<ExitCode> {
    let query = match quire_query::parse(text) {
        Ok(q) => q,
        Err(e) => return Ok(bad_query(&e.message)),
    };
    let query = if all { query } else { quire_store::search::newest_revisions_only(query) };
    if let Some(p) = project {
        crate::require_project(store, p).await?;
    }
    let found = match store.series_search(project, &query, page, limit).await {
        Ok(found) => found,
        Err(quire_store::Error::BadQuery(message)) => return Ok(bad_query(&message)),
        Err(e) => return Err(e.into()),
    };
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({ "total": found.total, "total_capped": found.total_capped, "page": page, "series": found.items }),
        )?;
        writeln!(out)?;
    } else {
        crate::output::series_table(&mut out, &found.items)?;
        if found.total_capped {
            writeln!(out, "(more than {} series match; narrow the query)", found.total)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn bad_query(message: &str) -> ExitCode {
    eprintln!("quire: bad query: {message}");
    ExitCode::from(crate::exit::BAD_QUERY)
}
