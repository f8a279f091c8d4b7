//! Throwaway stores for tests (feature `testing`; enable it in a dev-dependency).
//!
//! [`sqlite_store`] gives a store in a fresh temp dir. [`pg_store`] gives a store on a fresh
//! PostgreSQL database: in the server named by `QUIRE_TEST_PG` (a `postgres://` URL) when set,
//! else in a cluster started once per test process with the machine's `initdb`/`pg_ctl` on a
//! unix socket in a temp dir (as user `postgres` when running as root, since initdb refuses
//! root). A watchdog stops that cluster and removes its directory when the process exits.
//!
//! [`both_backends!`](crate::both_backends) writes one test body for both backends.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Connection;

use crate::{Error, Result, Store};

/// The assembler installed by [`use_assembler`].
pub(crate) static ASSEMBLER: OnceLock<fn(&[quire_series::MessageMeta]) -> quire_series::Assembly> =
    OnceLock::new();

/// Makes every store of this process assemble series with `f` instead of
/// `quire_series::assemble`: lets tests pin how the store keeps series (rows, revisions,
/// events, membership) independently of the assembly rules. Process-wide and set once;
/// returns false when another assembler was installed first.
pub fn use_assembler(f: fn(&[quire_series::MessageMeta]) -> quire_series::Assembly) -> bool {
    ASSEMBLER.set(f).is_ok() || ASSEMBLER.get().is_some_and(|g| std::ptr::fn_addr_eq(*g, f))
}

/// A store on a fresh SQLite file; keep the `TempDir` alive as long as the store.
pub async fn sqlite_store() -> (tempfile::TempDir, Store) {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("cannot create a temp dir for a test store: {e}"),
    };
    match Store::open(dir.path(), None).await {
        Ok(store) => (dir, store),
        Err(e) => panic!("cannot open a test SQLite store: {e}"),
    }
}

/// A store on a fresh PostgreSQL database (`t_<pid>_<n>_<nanos>`).
pub async fn pg_store() -> Store {
    match try_pg_store().await {
        Ok(store) => store,
        Err(e) => panic!("{e}"),
    }
}

/// The URL of a fresh, empty PostgreSQL database (no schema): for tests of the migrations.
pub async fn pg_empty_database() -> Result<String> {
    let server = match std::env::var("QUIRE_TEST_PG") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => local_cluster()?.clone(),
    };
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = format!("m_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
    let mut admin = sqlx::PgConnection::connect(&server).await.map_err(|e| {
        Error::TestSetup(format!("cannot connect to test PostgreSQL {server}: {e}"))
    })?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .map_err(|e| Error::TestSetup(format!("cannot create database {name}: {e}")))?;
    let _ = admin.close().await;
    Ok(with_database(&server, &name))
}

/// The 64-bit hash the store keys Message-IDs by (for tests that write rows by hand).
pub fn text_hash(text: &str) -> i64 {
    crate::derive::text_hash(text)
}

/// As [`pg_store`], returning what went wrong instead of panicking.
pub async fn try_pg_store() -> Result<Store> {
    let server = match std::env::var("QUIRE_TEST_PG") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => local_cluster()?.clone(),
    };
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name =
        format!("t_{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed), nanos);
    let mut admin = sqlx::PgConnection::connect(&server).await.map_err(|e| {
        Error::TestSetup(format!("cannot connect to test PostgreSQL {server}: {e}"))
    })?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .map_err(|e| Error::TestSetup(format!("cannot create database {name}: {e}")))?;
    let _ = admin.close().await;
    Store::open(Path::new("."), Some(&with_database(&server, &name))).await
}

/// `url` pointing at database `name` (keeps the query string, e.g. `?host=/socket/dir`).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let after_scheme = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

fn local_cluster() -> Result<&'static String> {
    static CLUSTER: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    CLUSTER.get_or_init(start_cluster).as_ref().map_err(|e| Error::TestSetup(e.clone()))
}

fn pg_bindir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    dirs.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout.trim_ascii() == b"0").unwrap_or(false)
}

/// A command run as the cluster's owner.
fn as_owner(root: bool, program: &Path) -> Command {
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn start_cluster() -> std::result::Result<String, String> {
    let bindir = pg_bindir().ok_or("no PostgreSQL server in /usr/lib/postgresql/*/bin; install postgresql or set QUIRE_TEST_PG")?;
    let root = is_root();
    let dir = tempfile::Builder::new()
        .prefix("quire-store-pg.")
        .tempdir()
        .map_err(|e| format!("cannot create a temp dir for PostgreSQL: {e}"))?
        .keep();
    if root {
        let status = Command::new("chown").arg("postgres").arg(&dir).status();
        if !status.map(|s| s.success()).unwrap_or(false) {
            return Err(format!("cannot chown {} to postgres", dir.display()));
        }
    }
    let data = dir.join("data");
    let out = as_owner(root, &bindir.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
        .output()
        .map_err(|e| format!("cannot run initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
    }
    let port = 20000 + (std::process::id() % 20000);
    let opts = format!(
        "-c listen_addresses='' -k {} -p {port} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
        dir.display()
    );
    let out = as_owner(root, &bindir.join("pg_ctl"))
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("server.log"))
        .args(["-w", "-s", "-o", &opts, "start"])
        .output()
        .map_err(|e| format!("cannot run pg_ctl: {e}"))?;
    if !out.status.success() {
        let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
        return Err(format!("pg_ctl start failed: {}{log}", String::from_utf8_lossy(&out.stderr)));
    }
    spawn_watchdog(root, &bindir, &dir);
    Ok(format!("postgres://postgres@localhost:{port}/postgres?host={}", dir.display()))
}

/// Stops the cluster and removes its directory once this process has exited.
fn spawn_watchdog(root: bool, bindir: &Path, dir: &Path) {
    let pg_ctl = bindir.join("pg_ctl");
    let stop = if root {
        format!(
            "runuser -u postgres -- {} -D {}/data -m immediate -s stop",
            pg_ctl.display(),
            dir.display()
        )
    } else {
        format!("{} -D {}/data -m immediate -s stop", pg_ctl.display(), dir.display())
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display()
    );
    let _ = Command::new("setsid")
        .args(["sh", "-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// Writes a test twice, once per backend: `both_backends!(name, |store| async move { ... })`
/// gives `name_sqlite` and `name_pg`, each a `#[tokio::test]` getting a fresh `Store`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, |$store:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let (_dir, $store) = $crate::testing::sqlite_store().await;
                $body.await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn pg() {
                let $store = $crate::testing::pg_store().await;
                $body.await
            }
        }
    };
}

/// PostgreSQL: whether the GIN index of the message text exists (see
/// [`Store::defer_text_index_if_empty`]). Always true on SQLite (FTS5 is its own index).
pub async fn text_index_present(store: &Store) -> Result<bool> {
    let crate::Pool::Pg(pool) = &*store.pool else { return Ok(true) };
    sqlx::query_scalar("SELECT to_regclass('message_text_tsv') IS NOT NULL")
        .fetch_one(pool)
        .await
        .map_err(|e| Error::Invalid(format!("looking for the text index: {e}")))
}

/// Whether every connection the store's pool can hand out enforces foreign keys (always true
/// on PostgreSQL): holds all of them at once, so the one a rebuild used is among them.
pub async fn foreign_keys_everywhere(store: &Store) -> Result<bool> {
    let crate::Pool::Sqlite(pool, _) = &*store.pool else { return Ok(true) };
    let mut held = Vec::new();
    for _ in 0..pool.options().get_max_connections() {
        held.push(
            pool.acquire()
                .await
                .map_err(|e| Error::Invalid(format!("acquiring a connection: {e}")))?,
        );
    }
    for conn in &mut held {
        let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut **conn)
            .await
            .map_err(|e| Error::Invalid(format!("reading PRAGMA foreign_keys: {e}")))?;
        if on != 1 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// SQLite: the words whose series, matched in `series_fts` as imports and assemblies kept it,
/// differ from those matched in the same table built from scratch out of the stored series and
/// messages (the rows an assembly writes, for every series at once). Checks the most frequent `words` words and those
/// of the rarest kind (in one series), so that a series missing its text, holding a stale
/// text, or a series gone still matching shows. Always empty on PostgreSQL (no such table).
pub async fn series_text_mismatches(store: &Store, words: usize) -> Result<Vec<String>> {
    let crate::Pool::Sqlite(pool, _) = &*store.pool else { return Ok(Vec::new()) };
    let fail = |what: &'static str| move |e: sqlx::Error| Error::Invalid(format!("{what}: {e}"));
    let mut conn = pool.acquire().await.map_err(fail("acquiring a connection"))?;
    let fill = format!(
        "INSERT INTO temp.fresh_series_fts (rowid, subject, body) {} GROUP BY sm.series_id",
        crate::sqlite::search::SERIES_TEXT
    );
    for sql in [
        "DROP TABLE IF EXISTS temp.fresh_series_fts",
        "DROP TABLE IF EXISTS temp.fresh_vocab",
        "CREATE VIRTUAL TABLE temp.fresh_series_fts USING fts5(subject, body, content = '', tokenize = 'unicode61 remove_diacritics 2')",
        &fill,
        "CREATE VIRTUAL TABLE temp.fresh_vocab USING fts5vocab(temp, fresh_series_fts, row)",
    ] {
        sqlx::query(sql)
            .execute(&mut *conn)
            .await
            .map_err(fail("building the series text from scratch"))?;
    }
    let mut terms: Vec<String> =
        sqlx::query_scalar("SELECT term FROM temp.fresh_vocab ORDER BY doc DESC, term LIMIT $1")
            .bind(i64::try_from(words).unwrap_or(i64::MAX))
            .fetch_all(&mut *conn)
            .await
            .map_err(fail("reading the most frequent words"))?;
    terms.extend(
        sqlx::query_scalar::<_, String>(
            "SELECT term FROM temp.fresh_vocab WHERE doc = 1 ORDER BY term LIMIT $1",
        )
        .bind(i64::try_from(words).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await
        .map_err(fail("reading the rarest words"))?,
    );
    let mut mismatches = Vec::new();
    for term in terms {
        let phrase = format!("\"{}\"", term.replace('"', "\"\""));
        let mut sets = Vec::new();
        for table in ["series_fts", "temp.fresh_series_fts"] {
            let name = table.trim_start_matches("temp.");
            let ids: Vec<i64> = sqlx::query_scalar(&format!(
                "SELECT rowid FROM {table} WHERE {name} MATCH $1 ORDER BY rowid"
            ))
            .bind(&phrase)
            .fetch_all(&mut *conn)
            .await
            .map_err(fail("matching a word"))?;
            sets.push(ids);
        }
        if sets[0] != sets[1] {
            mismatches.push(term);
        }
    }
    for sql in ["DROP TABLE temp.fresh_vocab", "DROP TABLE temp.fresh_series_fts"] {
        sqlx::query(sql)
            .execute(&mut *conn)
            .await
            .map_err(fail("dropping the series text built from scratch"))?;
    }
    Ok(mismatches)
}

/// Each project's (name, series, messages) counted row by row, by name: what
/// [`Store::projects`] must say from the counts the writers keep (migration 0018).
pub async fn counted_projects(store: &Store) -> Result<Vec<(String, u64, u64)>> {
    let sql = "SELECT p.name, (SELECT COUNT(*) FROM series s WHERE s.project_id = p.id), \
               (SELECT COUNT(*) FROM message_projects mp WHERE mp.project_id = p.id) FROM projects p ORDER BY p.name";
    let fail = |e: sqlx::Error| Error::Invalid(format!("counting projects: {e}"));
    let rows: Vec<(String, i64, i64)> = match &*store.pool {
        crate::Pool::Sqlite(pool, _) => sqlx::query_as(sql).fetch_all(pool).await.map_err(fail)?,
        crate::Pool::Pg(pool) => sqlx::query_as(sql).fetch_all(pool).await.map_err(fail)?,
    };
    Ok(rows.into_iter().map(|(n, s, m)| (n, s.max(0) as u64, m.max(0) as u64)).collect())
}

/// [`Store::projects`] as (name, series, messages), to compare with [`counted_projects`].
pub async fn kept_project_counts(store: &Store) -> Result<Vec<(String, u64, u64)>> {
    Ok(store.projects().await?.into_iter().map(|p| (p.config.name, p.series, p.messages)).collect())
}
