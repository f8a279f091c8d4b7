//! What every stage shares: the connection types, row readers, `IN (...)` lists, write transactions
//! and the timing of a batch's phases.
//!
//! Compiled once per database (`crate::sqlite`, `crate::pg`; declared in lib.rs).

use super::{Db, PG};

pub(super) use std::collections::{BTreeSet, HashMap, HashSet};

pub(super) use quire_mail::{Address, FileStat, MessageKind, ParsedMessage, PullRequest};

pub(super) use quire_series::{MessageMeta, Role};

pub(super) use sqlx::{QueryBuilder, Row};

pub(super) use crate::derive::{
    ProjectMatcher, ThreadKeyer, UNTHREADED_WINDOW, compress, is_unthreaded_patch, par_map,
    text_hash,
};

pub(super) use crate::error::{Context, Error, Result, corrupt};

pub(super) use crate::types::*;

pub(super) use crate::{clean, now, sanitize};

pub(super) type Conn = <Db as sqlx::Database>::Connection;

pub(super) type DbRow = <Db as sqlx::Database>::Row;

pub(crate) type DbPool = sqlx::Pool<Db>;

/// Values per `IN (...)` list. Lists are padded to a few fixed lengths so that each statement
/// is prepared once per connection and reused.
pub(super) const IN_CHUNK: usize = 512;

/// Rows per multi-row INSERT (SQLite allows 32766 parameters, PostgreSQL 65535).
pub(super) const INSERT_ROWS: usize = 400;

pub(super) fn padded_len(n: usize) -> usize {
    [1, 8, 64, IN_CHUNK].into_iter().find(|&p| p >= n).unwrap_or(n)
}

pub(super) fn get<'r, T>(row: &'r DbRow, index: usize, what: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Db> + sqlx::Type<Db>,
{
    row.try_get::<T, usize>(index).ctx(what)
}

pub(super) fn to_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

pub(super) fn to_u64(v: i64) -> u64 {
    u64::try_from(v.max(0)).unwrap_or(0)
}

pub(super) fn json_or_default<T: serde::de::DeserializeOwned + Default>(
    text: Option<String>,
    what: &str,
) -> Result<T> {
    match text {
        None => Ok(T::default()),
        Some(t) => serde_json::from_str(&t).map_err(|e| corrupt(what, e)),
    }
}

/// A filtered list read a page at a time: how many rows `count` (a `SELECT COUNT(*) FROM ...`)
/// keeps, and page `page` (from 1) of `per_page` rows of `list` (a `SELECT columns FROM ...`)
/// in `order`. `filters` pushes the same `WHERE ...` after each. `what` names the two
/// statements in errors; a statement the database refuses as too large is the fault of the
/// query a user gave, as everywhere a user's filter is bound ([`Context::ctx_query`]).
#[allow(clippy::too_many_arguments, reason = "the parts of one statement pair")]
pub(super) async fn count_and_page<'f>(
    pool: &DbPool,
    count: &str,
    list: &str,
    filters: &(dyn Fn(&mut QueryBuilder<'f, Db>) + Sync),
    order: &str,
    page: u32,
    per_page: u32,
    what: (&str, &str),
) -> Result<(u64, Vec<DbRow>)> {
    let mut count = QueryBuilder::<Db>::new(count);
    filters(&mut count);
    let total: i64 = get(&count.build().fetch_one(pool).await.ctx_query(what.0)?, 0, what.0)?;
    let mut list = QueryBuilder::<Db>::new(list);
    filters(&mut list);
    list.push(" ORDER BY ")
        .push(order)
        .push(" LIMIT ")
        .push_bind(i64::from(per_page))
        .push(" OFFSET ")
        .push_bind(i64::from(page.max(1) - 1) * i64::from(per_page));
    let rows = list.build().fetch_all(pool).await.ctx_query(what.1)?;
    Ok((to_u64(total), rows))
}

/// Runs `before (v1, v2, ...) after` for every chunk of `values` and gathers the rows.
pub(super) async fn fetch_in(
    conn: &mut Conn,
    before: &str,
    after: &str,
    values: &[i64],
    what: &str,
) -> Result<Vec<DbRow>> {
    let mut uniq = values.to_vec();
    uniq.sort_unstable();
    uniq.dedup();
    let mut rows = Vec::new();
    for chunk in uniq.chunks(IN_CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(before);
        qb.push(" (");
        let mut sep = qb.separated(", ");
        for i in 0..padded_len(chunk.len()) {
            sep.push_bind(chunk[i.min(chunk.len() - 1)]);
        }
        qb.push(") ");
        qb.push(after);
        rows.extend(qb.build().fetch_all(&mut *conn).await.ctx(what)?);
    }
    Ok(rows)
}

/// Runs `before (v1, v2, ...)` as a statement for every chunk of `values`.
pub(super) async fn execute_in(
    conn: &mut Conn,
    before: &str,
    values: &[i64],
    what: &str,
) -> Result<()> {
    let mut uniq = values.to_vec();
    uniq.sort_unstable();
    uniq.dedup();
    for chunk in uniq.chunks(IN_CHUNK) {
        let mut qb = QueryBuilder::<Db>::new(before);
        qb.push(" (");
        let mut sep = qb.separated(", ");
        for i in 0..padded_len(chunk.len()) {
            sep.push_bind(chunk[i.min(chunk.len() - 1)]);
        }
        qb.push(")");
        qb.build().execute(&mut *conn).await.ctx(what)?;
    }
    Ok(())
}

/// Starts a writing transaction on `conn`. Writers are serialised (SQLite: `BEGIN IMMEDIATE`;
/// PostgreSQL: a lock on raw_messages) because raw ids are allocated by the writer.
pub(super) async fn begin_write_on(conn: &mut Conn) -> Result<sqlx::Transaction<'_, Db>> {
    use sqlx::Connection as _;
    if PG {
        let mut tx = conn.begin().await.ctx("starting a transaction")?;
        lock_writers(&mut tx).await?;
        Ok(tx)
    } else {
        conn.begin_with("BEGIN IMMEDIATE").await.ctx("starting a transaction")
    }
}

/// PostgreSQL: takes the lock that serialises writers, for the rest of the transaction.
pub(super) async fn lock_writers(tx: &mut Conn) -> Result<()> {
    sqlx::query("LOCK TABLE raw_messages IN SHARE ROW EXCLUSIVE MODE")
        .execute(&mut *tx)
        .await
        .ctx("locking raw_messages for writing")?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Ingest

/// Where a batch's time goes, logged at debug level (`QUIRE_LOG=quire_store=debug`): the
/// first thing to look at when an import is slow.
pub(super) struct Phases {
    pub(super) last: std::time::Instant,
    pub(super) spent: Vec<(&'static str, std::time::Duration)>,
}

impl Phases {
    pub(super) fn new() -> Phases {
        Phases { last: std::time::Instant::now(), spent: Vec::new() }
    }

    pub(super) fn mark(&mut self, phase: &'static str) {
        let now = std::time::Instant::now();
        self.spent.push((phase, now - self.last));
        self.last = now;
    }

    pub(super) fn log(&self, messages: u64) {
        if tracing::enabled!(tracing::Level::DEBUG) {
            let total: std::time::Duration = self.spent.iter().map(|(_, d)| *d).sum();
            let parts: Vec<String> = self
                .spent
                .iter()
                .map(|(p, d)| format!("{p} {:.1}", d.as_secs_f64() * 1000.0))
                .collect();
            tracing::debug!(messages, total_ms = total.as_secs_f64() * 1000.0, phases_ms = %parts.join(", "), "batch stored");
        }
    }
}
