//! quire-store: keeps every byte of every mail, and everything derived from it, in SQLite or
//! PostgreSQL. The only crate that speaks SQL.
//!
//! See [`Store`] for the API. Raw mail is the truth: it is stored zstd-compressed with its
//! sha256, and every derived table (messages, series, memberships, events) can be dropped and
//! rebuilt from it with [`Store::reindex`].

use std::borrow::Cow;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use quire_mail::ParsedMessage;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

mod am;
mod derive;
mod error;
mod inbox;
mod message_text;
pub mod search;
mod types;
mod unavailable;

#[cfg(feature = "testing")]
pub mod testing;

pub use am::AmMbox;
use error::Context as _;
pub use error::{Error, Result};
pub use inbox::{InboxMail, MAX_EXPANDED, MAX_MATCHES};
pub use quire_query::{ParseError, Query};
pub use quire_series::Role;
pub use types::*;

#[path = "sql"]
#[allow(clippy::duplicate_mod)] // each file once per database, on purpose
mod sqlite {
    type Db = sqlx::Sqlite;
    const PG: bool = false;
    pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
    mod common;
    pub(crate) use common::DbPool;
    use common::*;
    pub(crate) mod ingest;
    use ingest::*;
    pub(crate) mod projects;
    use projects::*;
    pub(crate) mod assembly;
    use assembly::*;
    pub(crate) mod events;
    use events::*;
    pub(crate) mod reads;
    pub(crate) mod reindex;
    use reads::*;
    pub(crate) mod results;
    use results::*;
    pub(crate) mod accounts;
    pub(crate) mod approvals;
    use approvals::*;
    pub(crate) mod attestation;
    pub(crate) mod deliveries;
    pub(crate) mod inbox;
    pub(crate) mod jobs;
    pub(crate) mod range_diff;
    pub(crate) mod revisions;
    use revisions::*;
    pub(crate) mod search;
    use search::*;
    pub(crate) mod workflow;
}

#[path = "sql"]
#[allow(clippy::duplicate_mod)] // each file once per database, on purpose
mod pg {
    type Db = sqlx::Postgres;
    const PG: bool = true;
    pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");
    mod common;
    pub(crate) use common::DbPool;
    use common::*;
    pub(crate) mod ingest;
    use ingest::*;
    pub(crate) mod projects;
    use projects::*;
    pub(crate) mod assembly;
    use assembly::*;
    pub(crate) mod events;
    use events::*;
    pub(crate) mod reads;
    pub(crate) mod reindex;
    use reads::*;
    pub(crate) mod results;
    use results::*;
    pub(crate) mod accounts;
    pub(crate) mod approvals;
    use approvals::*;
    pub(crate) mod attestation;
    pub(crate) mod deliveries;
    pub(crate) mod inbox;
    pub(crate) mod jobs;
    pub(crate) mod range_diff;
    pub(crate) mod revisions;
    use revisions::*;
    pub(crate) mod search;
    use search::*;
    pub(crate) mod workflow;
}

/// A value for `series.changed` (migration 0012), which the web's page cache compares: new at
/// every call in this process, and nanoseconds since 1970, so unlike what another process
/// (an import, a worker) writes for the same series in practice, and unlike anything written
/// before a `quire reindex` rebuilt the series.
pub(crate) fn change_stamp() -> i64 {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let mut prev = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(prev.saturating_add(1));
        match LAST.compare_exchange_weak(prev, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(p) => prev = p,
        }
    }
}

/// What [`Store::analyze_when_grown`] renews: the tables the assembly and revision linking query
/// by key, and of `messages` only the columns they look rows up by.
const ANALYZE_WHILE_IMPORTING: &str = "ANALYZE raw_messages (id, mid_hash), \
    messages (id, mid_hash, thread_hash, patch_id, from_email, date), series, series_members, \
    series_signals, series_search, message_files, message_addresses, search_addresses";

enum Pool {
    /// The pool (the web's readers) and the connections imports write on (see [`SqliteOwn`]).
    Sqlite(sqlite::DbPool, std::sync::Arc<SqliteOwn>),
    Pg(pg::DbPool),
}

/// Runs the same expression on whichever backend the store uses: `$m` names the backend's
/// module (`sqlite` or `pg`) and `$pool` its pool.
macro_rules! on_backend {
    ($self:expr, |$pool:ident, $m:ident| $body:expr) => {
        match &*$self {
            Pool::Sqlite($pool, _) => {
                use crate::sqlite as $m;
                $body
            }
            Pool::Pg($pool) => {
                use crate::pg as $m;
                $body
            }
        }
    };
}

pub mod approvals;
pub mod attestation;
mod deliveries;
mod export;
mod jobs;
pub mod range_diff;
pub use deliveries::{
    Delivery, DeliveryCount, DeliveryInfo, DeliveryOutcome, EMAIL, NewDelivery, WEBHOOK,
};
pub mod accounts;
mod workflow;
pub use accounts::{Login, Session};
pub use approvals::{ApprovalConfig, ApprovalLine, Approvals, ReviewCounts, SeriesMaintainers};
pub use attestation::{
    Attestation, AttestationLevel, DeveloperSignature, DkimSignature, RawForAttestation,
    SignatureResult,
};
pub use jobs::{
    APPLY, CHECK_LOG_LIMIT, Job, JobCount, JobInfo, MAX_LOST_LEASES, MergeCandidate, MergedPatch,
    TOKEN_SCOPES, Token, UpstreamMatch, check_log, tester_owner,
};
pub use range_diff::{RangeDiffRecord, RangeDiffState, RangeDiffView};
pub use workflow::{
    Bundle, Comment, CoverQuery, EventQuery, Order, PATCH_STATES, PatchFilter, PatchInfo,
    PatchUpdate, Person, ProjectRef, ROLES, SeriesInfo, SeriesMember, SeriesQuery, USER_SCOPE,
    User,
};

/// The store: raw mail, derived messages, series, projects, events, cursors, apply and check
/// results.
///
/// Cheap to clone (it holds a connection pool); share one per process.
///
/// # Writing
/// - [`Store::open`] opens (creating and migrating) the database.
/// - [`Store::ingest`] / [`Store::ingest_with_cursor`] store a batch of [`Incoming`] messages in
///   one transaction and re-assemble the series of the threads it touched; the
///   [`BatchOutcome`] says what happened. Same Message-ID and same bytes: ignored (a
///   duplicate). Same Message-ID, different bytes: kept as a second raw copy linked to the
///   first, which stays canonical (its projects are added to the message: a mail cross-posted
///   to two lists belongs to both).
/// - [`Store::upsert_project`] configures a project (List-Ids, list addresses, tree). A message
///   belongs to the projects whose List-Id matches, else whose list address is in To/Cc, else
///   to the importer's forced project, else to [`UNASSIGNED`]. Project changes apply to
///   messages stored afterwards; [`Store::reindex`] re-assigns everything.
/// - [`Store::set_cursor`], [`Store::set_apply_result`], [`Store::add_check`],
///   [`Store::add_event`] record the importers' and workers' state.
/// - [`Store::reindex`] rebuilds all derived data from the raw mail.
///
/// # Reading
/// - [`Store::series_list`] (newest first, paginated), [`Store::series`] (by any message of
///   the series), [`Store::thread`], [`Store::message`], [`Store::raw`], [`Store::projects`],
///   [`Store::messages_count`], [`Store::stats`], [`Store::events`], [`Store::cursor`],
///   [`Store::apply_result`], [`Store::checks`].
///
/// Message-IDs are plain strings everywhere, without angle brackets; any string is accepted
/// (`/`, `..`, 10 KB). NUL characters, which PostgreSQL cannot store in text, are replaced by
/// U+FFFD on both backends, in what is stored and in what is looked up.
#[derive(Clone)]
pub struct Store {
    pool: std::sync::Arc<Pool>,
    target: String,
    /// Passwords verified by [`Store::login`] (see [`Store::password_checks`]).
    password_checks: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// PostgreSQL: messages this store ingested, and how many of them when it last had the
    /// planner's statistics renewed (see [`Store::analyze_when_grown`]).
    ingested: std::sync::Arc<std::sync::Mutex<(u64, u64)>>,
}

/// The SQLite connections a store keeps outside its pool: one that imports write on, one
/// that checkpoints the WAL behind them.
///
/// Imports write on one connection: the pool hands out its idle connections in turn, so
/// batch after batch went to different connections, each filling its own 64 MiB page cache
/// (1M messages: peak RSS 209 MiB on one connection, 316-329 MiB on the pool's).
///
/// The WAL is copied back into the database file after each import or rebuild batch, while
/// the writer goes on with its next one (a PASSIVE checkpoint never blocks a writer). Left to
/// the writer (`wal_autocheckpoint`), the copy and its two fsyncs stopped the import at every
/// 64 MiB of WAL: 25% of the store's time on real mail. After each batch it copies one batch
/// (10-30 ms) and is through before the next commit, so the writer starts the WAL over from
/// its beginning; the writer's own checkpoint at 64 MiB stays as the bound when a reader holds
/// old pages. Its connection has a small page cache: a checkpoint copies frames without it.
struct SqliteOwn {
    writer: OwnConnection,
    checkpointer: OwnConnection,
    /// A commit not checkpointed yet.
    pending: std::sync::atomic::AtomicBool,
    /// A task is checkpointing.
    running: std::sync::atomic::AtomicBool,
}

/// A SQLite connection opened when first needed and kept; dropped after an error, so that the
/// next use opens a fresh one. Closed with the store, for good.
struct OwnConnection {
    options: SqliteConnectOptions,
    conn: tokio::sync::Mutex<Option<sqlx::SqliteConnection>>,
    closed: std::sync::atomic::AtomicBool,
}

impl OwnConnection {
    fn new(options: SqliteConnectOptions) -> OwnConnection {
        OwnConnection { options, conn: tokio::sync::Mutex::new(None), closed: Default::default() }
    }

    async fn close(&self) {
        use sqlx::Connection;
        let mut slot = self.conn.lock().await;
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(conn) = slot.take() {
            let _ = conn.close().await;
        }
    }

    /// Runs `f` on the connection, one caller at a time.
    async fn with<T>(
        &self,
        f: impl AsyncFnOnce(&mut sqlx::SqliteConnection) -> Result<T>,
    ) -> Result<T> {
        use sqlx::Connection;
        let mut slot = self.conn.lock().await;
        if self.closed.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::Db {
                context: "using a closed store".into(),
                source: sqlx::Error::PoolClosed,
            });
        }
        let mut conn = match slot.take() {
            Some(conn) => conn,
            None => {
                let mut conn = sqlx::SqliteConnection::connect_with(&self.options).await.map_err(
                    |source| Error::Db { context: "opening a connection".into(), source },
                )?;
                sqlite_connection_setup(&mut conn).await.map_err(|source| Error::Db {
                    context: "setting up a connection".into(),
                    source,
                })?;
                conn
            }
        };
        let result = f(&mut conn).await;
        if result.is_ok() {
            *slot = Some(conn);
        }
        result
    }
}

/// See [`Store::optimize`].
async fn sqlite_optimize(conn: &mut sqlx::SqliteConnection) -> Result<()> {
    let err =
        |source| Error::Db { context: "updating the query planner's statistics".into(), source };
    sqlx::query("PRAGMA optimize=0x10002").execute(&mut *conn).await.map_err(err)?;
    let stats: Option<(i64,)> =
        sqlx::query_as("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1'")
            .fetch_optional(&mut *conn)
            .await
            .map_err(err)?;
    if stats.is_some() {
        sqlx::query("DELETE FROM sqlite_stat1 WHERE tbl LIKE 'series\\_fts%' ESCAPE '\\'")
            .execute(&mut *conn)
            .await
            .map_err(err)?;
    }
    Ok(())
}

/// What every SQLite connection of a store sets beyond its connect options.
///
/// A batch writes megabytes of compressed mail: checkpointing the WAL every 4 MB (the
/// default: 1,000 pages of 4 KiB) would copy it back at nearly every commit. Every 64 MiB
/// instead, counted in the file's own pages.
async fn sqlite_connection_setup(
    conn: &mut sqlx::SqliteConnection,
) -> std::result::Result<(), sqlx::Error> {
    let page: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&mut *conn).await?;
    let pages = WAL_CHECKPOINT_BYTES / page.max(512);
    sqlx::query(&format!("PRAGMA wal_autocheckpoint = {pages}")).execute(&mut *conn).await?;
    Ok(())
}

impl SqliteOwn {
    /// Checkpoints until no commit is pending.
    async fn checkpoint(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        let copied = self
            .checkpointer
            .with(async |conn| {
                while self.pending.swap(false, SeqCst) {
                    sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                        .execute(&mut *conn)
                        .await
                        .map_err(|source| Error::Db {
                            context: "checkpointing the WAL".into(),
                            source,
                        })?;
                }
                Ok(())
            })
            .await;
        if let Err(e) = copied {
            // The writer's own checkpoint still bounds the WAL.
            self.pending.store(false, SeqCst);
            tracing::debug!(error = %e, "background WAL checkpoint");
        }
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("database", &self.target).finish()
    }
}

/// The page size of a new SQLite file (why: in `open_sqlite`).
const SQLITE_PAGE_SIZE: u32 = 16384;

/// How much the SQLite WAL grows before a commit copies it back into the file.
const WAL_CHECKPOINT_BYTES: i64 = 64 << 20;

impl Store {
    /// Opens the store: PostgreSQL when `database_url` starts with `postgres://` or
    /// `postgresql://`, else SQLite at `database_url` when it starts with `sqlite:`, else
    /// `<data_dir>/quire.sqlite` (WAL, synchronous=NORMAL, foreign keys on, pages of 16 KiB). Creates what is
    /// missing and runs the migrations.
    pub async fn open(data_dir: &Path, database_url: Option<&str>) -> Result<Store> {
        match database_url.map(str::trim).filter(|u| !u.is_empty()) {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Self::open_pg(url).await
            }
            Some(url) if url.starts_with("sqlite:") => {
                let options = SqliteConnectOptions::from_str(url)
                    .map_err(|source| Error::Open { target: url.to_string(), source })?;
                Self::open_sqlite(options.create_if_missing(true), url.to_string()).await
            }
            Some(url) => Err(Error::Invalid(format!(
                "database URL {} is neither postgres://... nor sqlite:...",
                redact(url)
            ))),
            None => {
                std::fs::create_dir_all(data_dir)
                    .map_err(|source| Error::DataDir { path: data_dir.to_path_buf(), source })?;
                let path = data_dir.join("quire.sqlite");
                let options = SqliteConnectOptions::new().filename(&path).create_if_missing(true);
                Self::open_sqlite(options, path.display().to_string()).await
            }
        }
    }

    async fn open_sqlite(options: SqliteConnectOptions, target: String) -> Result<Store> {
        let options = options
            // Pages of 16 KiB for a new file (an existing one keeps its own): most of the bytes
            // are compressed mail of 2-10 KB, which overflows 4 KiB pages into chains, and
            // every page is a write to the WAL at commit and another when it is checkpointed.
            // Importing both real slices: 1.40 -> 1.26 s (median of 7).
            .page_size(SQLITE_PAGE_SIZE)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30))
            // The writing connection's page cache (see `SqliteOwn`); the pool's are smaller.
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory")
            // Rows a statement's thread may send ahead (sqlx: 50): reading a batch's threads
            // with their metadata, it stopped every 50 rows until this side took them. Both
            // real slices: 10.5k -> 7.6k voluntary context switches.
            .row_buffer_size(4096);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .after_connect(|conn, _| Box::pin(sqlite_connection_setup(conn)))
            // Readers (the web's requests) get a small page cache each: the pool hands its
            // connections out in turn, and each filled its own 64 MiB (quire serve on 1M
            // messages, 10 clients on series pages rendered each time for 30 s: peak RSS 458 ->
            // 109-116 MiB with 8 MiB, p99 27.0 -> 21.6-25.1 ms). The kernel caches the file.
            .connect_with(options.clone().pragma("cache_size", "-8192"))
            .await
            .map_err(|source| Error::Open { target: target.clone(), source })?;
        // SQLite has no lock for migrations: two processes starting together on a new file (a
        // `quire serve` and a `quire watch`) would both create the tables. A lock file beside the
        // database makes the second wait and then find the schema up to date.
        let filename = options.get_filename().to_path_buf();
        let lock = if filename.as_os_str().is_empty()
            || filename.to_string_lossy().contains(":memory:")
        {
            None
        } else {
            let mut path = filename.into_os_string();
            path.push(".migrate-lock");
            let locked = tokio::task::spawn_blocking(move || {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&path)?;
                file.lock()?;
                Ok::<_, std::io::Error>(file)
            })
            .await
            .map_err(|e| Error::Invalid(format!("locking {target} for its migrations: {e}")))?
            .map_err(|e| Error::Invalid(format!("cannot lock {target} for its migrations: {e}")))?;
            Some(locked)
        };
        let migrated = sqlite::MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| Error::Migrate { target: target.clone(), source });
        drop(lock);
        migrated?;
        let own = SqliteOwn {
            writer: OwnConnection::new(options.clone()),
            checkpointer: OwnConnection::new(options.pragma("cache_size", "-1024")),
            pending: Default::default(),
            running: Default::default(),
        };
        Ok(Store {
            pool: std::sync::Arc::new(Pool::Sqlite(pool, std::sync::Arc::new(own))),
            target,
            password_checks: Default::default(),
            ingested: Default::default(),
        })
    }

    async fn open_pg(url: &str) -> Result<Store> {
        let target = redact(url);
        let options = PgConnectOptions::from_str(url)
            .map_err(|source| Error::Open { target: target.clone(), source })?;
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(unavailable::acquire_timeout())
            .connect_with(options)
            .await
            .map_err(|source| Error::Open { target: target.clone(), source })?;
        pg::MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| Error::Migrate { target: target.clone(), source })?;
        let store = Store {
            pool: std::sync::Arc::new(Pool::Pg(pool)),
            target,
            password_checks: Default::default(),
            ingested: Default::default(),
        };
        // An import that deferred the text index and was stopped before it built it again
        // (see `defer_text_index_if_empty`): whoever opens the database next builds it.
        // Searches are right without it (slower): a failure here does not stop the opening.
        if let Err(e) = store.build_deferred_text_index().await {
            tracing::warn!(error = %e, "the text index is missing and could not be built");
        }
        Ok(store)
    }

    /// PostgreSQL, before an import: when the database holds no message yet, drops the GIN
    /// index of the message text (migration 0050), for [`Store::build_deferred_text_index`] to
    /// build in one pass at the end. Kept up row by row, that index took 25-30 s of a 54-66 s
    /// import of the whole io-uring archive; built at the end it takes 9.5 s (BENCHMARKS.md).
    /// A database that holds mail keeps its index: other processes search it meanwhile.
    /// Whether it was dropped. SQLite: nothing to do (FTS5 is the index).
    pub async fn defer_text_index_if_empty(&self) -> Result<bool> {
        let Pool::Pg(pool) = &*self.pool else { return Ok(false) };
        let what = "deferring the text index";
        let mut tx = pool.begin().await.ctx(what)?;
        let empty: bool = sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM messages)")
            .fetch_one(&mut *tx)
            .await
            .ctx(what)?;
        if empty {
            sqlx::query("DROP INDEX IF EXISTS message_text_tsv")
                .execute(&mut *tx)
                .await
                .ctx(what)?;
        }
        tx.commit().await.ctx(what)?;
        Ok(empty)
    }

    /// PostgreSQL: builds the text index [`Store::defer_text_index_if_empty`] dropped, if it
    /// is missing (at the end of that import, or when a store is opened after one stopped).
    pub async fn build_deferred_text_index(&self) -> Result<()> {
        let Pool::Pg(pool) = &*self.pool else { return Ok(()) };
        let what = "building the text index";
        let mut tx = pool.begin().await.ctx(what)?;
        // One builder at a time: two processes opening the database after an import that
        // stopped would both find the index missing, and the second CREATE would fail.
        sqlx::query("SELECT pg_advisory_xact_lock(7133901)").execute(&mut *tx).await.ctx(what)?;
        let missing: bool = sqlx::query_scalar("SELECT to_regclass('message_text_tsv') IS NULL")
            .fetch_one(&mut *tx)
            .await
            .ctx(what)?;
        if !missing {
            return Ok(());
        }
        let started = std::time::Instant::now();
        // The build sorts in this much memory of the server (the default 64 MB spills to disk).
        sqlx::query("SET LOCAL maintenance_work_mem = '256MB'")
            .execute(&mut *tx)
            .await
            .ctx(what)?;
        sqlx::query("CREATE INDEX IF NOT EXISTS message_text_tsv ON message_text USING GIN (tsv)")
            .execute(&mut *tx)
            .await
            .ctx(what)?;
        tx.commit().await.ctx(what)?;
        tracing::debug!(elapsed = ?started.elapsed(), "text index built");
        Ok(())
    }

    /// "sqlite" or "postgres".
    pub fn backend(&self) -> &'static str {
        match *self.pool {
            Pool::Sqlite(..) => "sqlite",
            Pool::Pg(_) => "postgres",
        }
    }

    /// The database, for messages: a path or a URL without its password.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Closes the connections (waits for the ones in use).
    pub async fn close(&self) {
        match &*self.pool {
            Pool::Sqlite(p, own) => {
                p.close().await;
                own.writer.close().await;
                own.checkpointer.close().await;
            }
            Pool::Pg(p) => p.close().await,
        }
    }

    /// Stores a batch (one transaction) and re-assembles the series it touches.
    pub async fn ingest(&self, batch: Vec<Incoming>) -> Result<BatchOutcome> {
        self.ingest_with_cursor(batch, None).await
    }

    /// As [`Store::ingest`], and sets cursor `key` to `value` in the same transaction, so a
    /// crash never records a cursor past mail that was not stored.
    pub async fn ingest_with_cursor(
        &self,
        batch: Vec<Incoming>,
        cursor: Option<(&str, &str)>,
    ) -> Result<BatchOutcome> {
        let outcome = match &*self.pool {
            Pool::Sqlite(_, own) => {
                own.writer
                    .with(async |conn| sqlite::ingest::ingest_on(conn, batch, cursor).await)
                    .await?
            }
            Pool::Pg(p) => {
                let outcome = pg::ingest::ingest(p, batch, cursor).await?;
                self.analyze_when_grown(p, outcome.new_messages).await;
                outcome
            }
        };
        self.checkpoint_soon();
        Ok(outcome)
    }

    /// PostgreSQL: renews the planner's statistics (`ANALYZE`) each time the messages this store
    /// ingested have doubled since it last did (from 5,000 on). During a bulk import autovacuum
    /// lags behind, and with statistics of a nearly empty database the planner chose scans for
    /// the revision linking's candidate query: 5.8-7.7 s of the whole io-uring archive's import
    /// went there, 19 ms once analyzed (BENCHMARKS.md). A failed ANALYZE only costs speed.
    async fn analyze_when_grown(&self, pool: &sqlx::PgPool, new_messages: u64) {
        let due = {
            let Ok(mut n) = self.ingested.lock() else { return };
            n.0 += new_messages;
            let due = n.0 - n.1 >= n.1.max(5_000);
            if due {
                n.1 = n.0;
            }
            due
        };
        if due {
            let started = std::time::Instant::now();
            // Not the whole database: the statistics of the text index and of the mail's text
            // (tsvector and body columns) took 1.1-2.4 s a time, as long as what they saved.
            match sqlx::query(ANALYZE_WHILE_IMPORTING).execute(pool).await {
                Ok(_) => tracing::debug!(elapsed = ?started.elapsed(), "statistics renewed"),
                Err(e) => tracing::warn!(error = %e, "renewing the planner's statistics failed"),
            }
        }
    }

    /// Starts a WAL checkpoint in the background unless one is running, in which case it runs
    /// once more when it ends (see [`SqliteOwn`]). SQLite only; needs a tokio runtime.
    fn checkpoint_soon(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        let Pool::Sqlite(_, own) = &*self.pool else { return };
        own.pending.store(true, SeqCst);
        if own.running.swap(true, SeqCst) {
            return;
        }
        let own = own.clone();
        tokio::spawn(async move {
            loop {
                own.checkpoint().await;
                own.running.store(false, SeqCst);
                // A commit between the last look and the line above found it running.
                if !own.pending.load(SeqCst) || own.running.swap(true, SeqCst) {
                    break;
                }
            }
        });
    }

    /// Drops every derived row (messages, series, memberships) and rebuilds them from the raw
    /// mail, in id order, in batches; `progress(done, total)` after each batch. Apply results,
    /// checks, projects, cursors and events (history: neither erased nor replayed) are kept.
    pub async fn reindex(&self, progress: impl Fn(u64, u64) + Send + Sync) -> Result<()> {
        let after_batch = |done, total| {
            self.checkpoint_soon();
            progress(done, total);
        };
        match &*self.pool {
            Pool::Sqlite(_, own) => {
                own.writer
                    .with(async |conn| sqlite::reindex::reindex_on(conn, &after_batch).await)
                    .await?
            }
            Pool::Pg(p) => {
                // The text index is built again at the end in one pass, as after a first
                // import (see `defer_text_index_if_empty`): a reindex empties it anyway.
                sqlx::query("DROP INDEX IF EXISTS message_text_tsv")
                    .execute(p)
                    .await
                    .ctx("deferring the text index")?;
                let rebuilt = pg::reindex::reindex(p, &after_batch).await;
                let built = self.build_deferred_text_index().await;
                rebuilt?;
                built?;
            }
        }
        if let Err(e) = self.optimize().await {
            tracing::warn!(error = %e, "the query planner's statistics were not updated");
        }
        Ok(())
    }

    /// Brings the query planner's statistics up to date where tables grew or shrank a lot
    /// since they were last gathered (SQLite's `PRAGMA optimize`, which reads those tables'
    /// indexes whole: 24 ms after both real slices, 0.8 s on a million messages; a no-op when
    /// nothing changed much). Without them SQLite takes the project's index for a search
    /// instead of walking the newest series first: 130 ms instead of 5 ms for `version:2` on a
    /// million messages. Sampling (`analysis_limit`, 12 ms instead of 0.8 s there) misleads it
    /// the same way: it counted 1,001 series per project where one project had 121,193.
    /// Run after an import or a reindex, not when a store opens: statistics of near-empty
    /// tables are worse than none. The full-text index's
    /// own tables keep none at all: with the counts of a young store in them, its merges
    /// slowed a 1M-message import from 162 s to 364 s. PostgreSQL's autovacuum analyzes by
    /// itself.
    pub async fn optimize(&self) -> Result<()> {
        match &*self.pool {
            // On the writing connection, whose page cache holds what an import or a reindex
            // just wrote (ANALYZE reads every index whole).
            Pool::Sqlite(_, own) => own.writer.with(async |conn| sqlite_optimize(conn).await).await,
            Pool::Pg(_) => Ok(()),
        }
    }

    /// Creates or replaces the configuration of project `config.name`.
    pub async fn upsert_project(&self, config: &ProjectConfig) -> Result<()> {
        if config.name.trim().is_empty() {
            return Err(Error::Invalid("a project needs a name".into()));
        }
        on_backend!(self.pool, |p, m| m::projects::upsert_project(p, config).await)
    }

    /// Every project's settings, in the order they were made, without the counts of
    /// [`Store::projects`].
    pub async fn project_configs(&self) -> Result<Vec<ProjectConfig>> {
        on_backend!(self.pool, |p, m| m::projects::project_configs(p).await)
    }

    /// Every project, by name, with its counts of series and messages, as the writers keep
    /// them (migration 0018; counting them on each call took 90 ms on 1M messages).
    pub async fn projects(&self) -> Result<Vec<ProjectSummary>> {
        on_backend!(self.pool, |p, m| m::projects::projects(p).await)
    }

    /// The series of `project`, newest first, filtered by `q`.
    pub async fn series_list(
        &self,
        project: &str,
        q: &SeriesFilter,
    ) -> Result<Page<SeriesSummary>> {
        let mut found = on_backend!(self.pool, |p, m| m::reads::series_list(p, project, q).await)?;
        self.fill_review_lines(&mut found.items).await?;
        Ok(found)
    }

    /// The series matching `query` (see docs/search.md), in `project` or in every project,
    /// newest first; `page` is 1-based. A term the series search cannot answer (`dfa:`), more
    /// than 64 terms, or a query the database refuses as too large for it is an
    /// [`Error::BadQuery`] naming why; parse the text with [`quire_query::parse`] (or
    /// [`Store::series_search_text`]) first, which bounds its length and nesting.
    pub async fn series_search(
        &self,
        project: Option<&str>,
        query: &quire_query::Query,
        page: u32,
        per_page: u32,
    ) -> Result<Page<SeriesSummary>> {
        let mut found = on_backend!(self.pool, |p, m| m::search::series_search(
            p, project, query, page, per_page
        )
        .await)?;
        self.fill_review_lines(&mut found.items).await?;
        Ok(found)
    }

    /// As [`Store::series_search`] with the total counted up to `cap` instead of
    /// [`search::SEARCH_TOTAL_CAP`] (for tests of the cap).
    #[doc(hidden)]
    pub async fn series_search_capped(
        &self,
        project: Option<&str>,
        query: &quire_query::Query,
        page: u32,
        per_page: u32,
        cap: u64,
    ) -> Result<Page<SeriesSummary>> {
        let mut found = on_backend!(self.pool, |p, m| m::search::series_search_capped(
            p, project, query, page, per_page, cap
        )
        .await)?;
        self.fill_review_lines(&mut found.items).await?;
        Ok(found)
    }

    /// As [`Store::series_search`] on the text of a query: a query that does not parse is an
    /// [`Error::BadQuery`] naming the column and what was expected.
    pub async fn series_search_text(
        &self,
        project: Option<&str>,
        query: &str,
        page: u32,
        per_page: u32,
    ) -> Result<Page<SeriesSummary>> {
        let query = quire_query::parse(query)?;
        self.series_search(project, &query, page, per_page).await
    }

    /// The series that `message_id` belongs to (as cover letter, patch or reply), with its
    /// patches, trailers, revisions, apply result and checks. `SeriesDetail::message_id` is
    /// the head: redirect there when it differs from what was asked.
    pub async fn series(&self, message_id: &str) -> Result<Option<SeriesDetail>> {
        on_backend!(self.pool, |p, m| m::reads::series(p, message_id).await)
    }

    /// Every series of the store with what measuring revision links needs (its revision key,
    /// why it is linked, its patches' normalised subjects and b4 change-id): `quire-bench
    /// revisions`. Oldest first.
    pub async fn revision_report(&self) -> Result<Vec<RevisionReportRow>> {
        on_backend!(self.pool, |p, m| m::revisions::revision_report(p).await)
    }

    /// Every message of the series of `series_head` (any message of it works) and every reply
    /// under them, oldest first, each with `parent` set for nesting. Empty when the message
    /// belongs to no series.
    pub async fn thread(&self, series_head: &str) -> Result<Vec<MessageRecord>> {
        on_backend!(self.pool, |p, m| m::reads::thread(p, series_head).await)
    }

    /// What the series page of `message_id` in `project` depends on, as one number: `None` when
    /// the message is not the head of a series of that project. It changes whenever the series
    /// or one of its revisions is assembled again, or an apply result, a check, a patch state or
    /// a merge of its patches is stored (`series.changed`, migration 0012): the web serves a page
    /// it rendered before while this stays the same.
    pub async fn series_page_stamp(&self, project: &str, message_id: &str) -> Result<Option<u64>> {
        on_backend!(self.pool, |p, m| m::reads::series_page_stamp(p, project, message_id).await)
    }

    /// What the series lists and searches of `project` depend on, as one number (`None` when
    /// there is no such project): the newest `series.changed` of its series, which moves
    /// whenever one of them is assembled again or gets an apply result, a check, a patch state
    /// or a merge. The web serves a list page it rendered before while this stays the same.
    pub async fn project_stamp(&self, project: &str) -> Result<Option<u64>> {
        on_backend!(self.pool, |p, m| m::reads::project_stamp(p, project).await)
    }

    /// One message with its decoded body and diff.
    pub async fn message(&self, message_id: &str) -> Result<Option<MessageRecord>> {
        on_backend!(self.pool, |p, m| m::reads::message(p, message_id).await)
    }

    /// The bytes of a message as first received (the canonical copy).
    pub async fn raw(&self, message_id: &str) -> Result<Option<Vec<u8>>> {
        on_backend!(self.pool, |p, m| m::reads::raw(p, message_id).await)
    }

    /// Distinct messages stored.
    pub async fn messages_count(&self) -> Result<u64> {
        on_backend!(self.pool, |p, m| m::reads::messages_count(p).await)
    }

    pub async fn stats(&self) -> Result<Stats> {
        on_backend!(self.pool, |p, m| m::reads::stats(p).await)
    }

    /// The value of cursor `key` (e.g. the last imported commit of a public-inbox epoch).
    pub async fn cursor(&self, key: &str) -> Result<Option<String>> {
        on_backend!(self.pool, |p, m| m::ingest::cursor(p, key).await)
    }

    pub async fn set_cursor(&self, key: &str, value: &str) -> Result<()> {
        on_backend!(self.pool, |p, m| m::ingest::set_cursor(p, key, value).await)
    }

    /// Records what applying the series headed by `series_head` gave (replacing the previous
    /// result); an `applied`/`failed` result also records a `series-applied` event.
    pub async fn set_apply_result(&self, series_head: &str, result: &ApplyResult) -> Result<()> {
        on_backend!(self.pool, |p, m| m::results::set_apply_result(p, series_head, result).await)
    }

    /// As [`Store::set_apply_result`], unless the series already has a result other than
    /// `pending`: then that one stays and is returned. For a worker that applied another
    /// series on the way (a `Based-on:` dependency) without holding that series' job: the
    /// worker that holds it, or got there first, keeps its result.
    pub async fn set_apply_result_unless_done(
        &self,
        series_head: &str,
        result: &ApplyResult,
    ) -> Result<ApplyResult> {
        on_backend!(self.pool, |p, m| {
            m::results::set_apply_result_unless_done(p, series_head, result).await
        })
    }

    pub async fn apply_result(&self, series_head: &str) -> Result<Option<ApplyResult>> {
        on_backend!(self.pool, |p, m| m::results::apply_result(p, series_head).await)
    }

    /// Records a check on a series head or a patch, and a `check-finished` event; returns the
    /// check's id.
    pub async fn add_check(&self, message_id: &str, check: &NewCheck) -> Result<i64> {
        on_backend!(self.pool, |p, m| m::results::add_check(p, message_id, check).await)
    }

    /// What a list line shows of each series named by its head beyond its summary: the apply
    /// state and the states of the checks on the head, in three statements for a whole page.
    /// Heads with neither are absent.
    pub async fn line_states(
        &self,
        heads: &[String],
    ) -> Result<std::collections::HashMap<String, LineState>> {
        on_backend!(self.pool, |p, m| m::results::line_states(p, heads).await)
    }

    /// The checks recorded on one message (for a series' checks see [`SeriesDetail::checks`]).
    pub async fn checks(&self, message_id: &str) -> Result<Vec<Check>> {
        on_backend!(self.pool, |p, m| m::results::checks(p, message_id).await)
    }

    /// Records an event (for workers: `series-merged`...).
    pub async fn add_event(
        &self,
        kind: &str,
        project: Option<&str>,
        series_head: Option<&str>,
        message_id: Option<&str>,
        payload: &serde_json::Value,
    ) -> Result<()> {
        on_backend!(self.pool, |p, m| m::events::add_event(
            p,
            kind,
            project,
            series_head,
            message_id,
            payload
        )
        .await)
    }

    /// Events with an id above `after`, oldest first, at most `limit`.
    pub async fn events(&self, after: i64, limit: u32) -> Result<Vec<Event>> {
        on_backend!(self.pool, |p, m| m::events::events(p, after, limit).await)
    }
}

/// Groups a neighbourhood into series: `quire_series::assemble`, unless a test installed its own
/// with [`testing::use_assembler`].
pub(crate) fn assemble(metas: &[quire_series::MessageMeta]) -> quire_series::Assembly {
    #[cfg(feature = "testing")]
    if let Some(f) = testing::ASSEMBLER.get() {
        return f(metas);
    }
    quire_series::assemble(metas)
}

/// A URL without its password.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => {
                    format!("{}{}:***{}", &url[..scheme + 3], &userinfo[..colon], &url[at..])
                }
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Text as the database can hold it: PostgreSQL refuses NUL in text, so both backends store
/// U+FFFD instead (and lookups do the same, so they still match).
pub(crate) fn clean(s: &str) -> Cow<'_, str> {
    if s.contains('\0') { Cow::Owned(s.replace('\0', "\u{FFFD}")) } else { Cow::Borrowed(s) }
}

fn clean_in_place(s: &mut String) {
    if s.contains('\0') {
        *s = s.replace('\0', "\u{FFFD}");
    }
}

/// Applies [`clean`] to every text a parsed message carries.
pub(crate) fn sanitize(p: &mut ParsedMessage) {
    clean_in_place(&mut p.message_id);
    p.in_reply_to.iter_mut().for_each(clean_in_place);
    p.references.iter_mut().for_each(clean_in_place);
    clean_in_place(&mut p.subject);
    p.subject_info.tags.iter_mut().for_each(clean_in_place);
    clean_in_place(&mut p.subject_info.name);
    for a in std::iter::once(&mut p.from).chain(p.to.iter_mut()).chain(p.cc.iter_mut()) {
        clean_in_place(&mut a.name);
        clean_in_place(&mut a.email);
    }
    p.list_id.iter_mut().for_each(clean_in_place);
    clean_in_place(&mut p.body);
    clean_in_place(&mut p.tail);
    if let Some(d) = &mut p.diff {
        clean_in_place(&mut d.text);
        clean_in_place(&mut d.patch_id);
        for f in &mut d.files {
            clean_in_place(&mut f.path);
            f.old_path.iter_mut().for_each(clean_in_place);
        }
    }
    for t in &mut p.trailers {
        clean_in_place(&mut t.tag);
        clean_in_place(&mut t.value);
        if let Some(person) = &mut t.person {
            clean_in_place(&mut person.name);
            clean_in_place(&mut person.email);
        }
    }
    p.base_commit.iter_mut().for_each(clean_in_place);
    p.based_on.iter_mut().for_each(clean_in_place);
    if let Some(pull) = &mut p.pull {
        clean_in_place(&mut pull.url);
        clean_in_place(&mut pull.branch);
    }
    p.problems.iter_mut().for_each(clean_in_place);
}

/// Unix seconds now.
pub(crate) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
