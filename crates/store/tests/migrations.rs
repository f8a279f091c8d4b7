//! Upgrades: a database made by the first released schema (migration 0001 only), holding mail
//! written the way that release wrote it, is brought forward by `Store::open` (every later
//! migration), and a reindex gives the same series as a fresh import. SQLite and PostgreSQL.

use std::path::{Path, PathBuf};

use quire_store::{Incoming, ProjectConfig, SeriesFilter, Store};
use sqlx::Connection;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The sample archive's messages.
fn sample_messages() -> Vec<Vec<u8>> {
    split_mbox(&std::fs::read(repo().join("samples/demo.mbox")).expect("sample"))
}

/// Splits an mbox on envelope lines after a blank line (the sample has no `From ` in bodies).
fn split_mbox(mbox: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(mbox);
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut current = String::new();
    let mut previous_blank = true;
    for line in text.split_inclusive('\n') {
        if previous_blank && line.starts_with("From ") {
            if !current.is_empty() {
                current.pop();
                out.push(std::mem::take(&mut current).into_bytes());
            }
        } else {
            current.push_str(line);
        }
        previous_blank = line == "\n";
    }
    if !current.is_empty() {
        out.push(current.into_bytes());
    }
    out
}

/// The first migration alone, as the first release shipped it.
fn first_release_migrations(dialect: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(dialect)
        .join("0001_init.sql");
    std::fs::copy(&src, dir.path().join("0001_init.sql")).expect("copy 0001");
    dir
}

/// Raw rows and the project as the first release wrote them (one body, both connection types).
macro_rules! write_first_release_rows {
    ($conn:expr) => {{
        sqlx::query("INSERT INTO projects (name) VALUES ('demo')").execute(&mut *$conn).await.expect("project");
        for raw in sample_messages() {
            let id = quire_mail::parse(&raw).message_id;
            let data = zstd::encode_all(raw.as_slice(), 3).expect("zstd");
            sqlx::query(
                "INSERT INTO raw_messages (message_id, mid_hash, sha256, size, data, forced_project, received) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id.clone())
            .bind(quire_store::testing::text_hash(&id))
            .bind(sha256(&raw))
            .bind(raw.len() as i64)
            .bind(data)
            .bind("demo".to_string())
            // Imported after the sample's mail was sent (a Date after the import is doubted).
            .bind(1_800_000_000i64)
            .execute(&mut *$conn)
            .await
            .expect("raw row");
        }
    }};
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// What a fresh store makes of the sample.
async fn fresh_series() -> serde_json::Value {
    let (_dir, store) = quire_store::testing::sqlite_store().await;
    store
        .upsert_project(&ProjectConfig { name: "demo".into(), ..Default::default() })
        .await
        .expect("project");
    let batch =
        sample_messages().into_iter().map(|r| Incoming::parse(r, Some("demo".into()))).collect();
    store.ingest(batch).await.expect("ingest");
    series_of(&store).await
}

async fn series_of(store: &Store) -> serde_json::Value {
    let filter = SeriesFilter { include_superseded: true, ..Default::default() };
    let page = store.series_list("demo", &filter).await.expect("list");
    let mut out = Vec::new();
    for s in page.items {
        let d = store.series(&s.message_id).await.expect("series").expect("exists");
        out.push(serde_json::json!({
            "id": d.message_id, "version": d.version, "complete": d.complete,
            "patches": d.patches.iter().map(|p| (p.number, p.message_id.clone(), p.trailers.len())).collect::<Vec<_>>(),
            "superseded_by": d.superseded_by,
        }));
    }
    serde_json::Value::Array(out)
}

#[tokio::test]
async fn sqlite_store_of_the_first_release_is_migrated_and_reindexed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("quire.sqlite").display());
    {
        let mut conn = sqlx::SqliteConnection::connect(&url).await.expect("connect");
        let migrations = first_release_migrations("sqlite");
        sqlx::migrate::Migrator::new(migrations.path())
            .await
            .expect("migrator")
            .run(&mut conn)
            .await
            .expect("0001");
        write_first_release_rows!(&mut conn);
        conn.close().await.expect("close");
    }
    let store = Store::open(dir.path(), None).await.expect("open migrates forward");
    store.reindex(|_, _| {}).await.expect("reindex");
    let fresh = fresh_series().await;
    assert_eq!(fresh.as_array().map(Vec::len), Some(4), "{fresh}");
    assert_eq!(series_of(&store).await, fresh);
    // The later tables work: a job, a token.
    assert!(store.enqueue_ready_series().await.is_ok());
    assert!(store.create_token("t", "tester").await.is_ok());
}

#[tokio::test]
async fn postgres_store_of_the_first_release_is_migrated_and_reindexed() {
    let url = quire_store::testing::pg_empty_database().await.expect("database");
    {
        let mut conn = sqlx::PgConnection::connect(&url).await.expect("connect");
        let migrations = first_release_migrations("postgres");
        sqlx::migrate::Migrator::new(migrations.path())
            .await
            .expect("migrator")
            .run(&mut conn)
            .await
            .expect("0001");
        write_first_release_rows!(&mut conn);
        conn.close().await.expect("close");
    }
    let store = Store::open(Path::new("."), Some(&url)).await.expect("open migrates forward");
    store.reindex(|_, _| {}).await.expect("reindex");
    assert_eq!(series_of(&store).await, fresh_series().await);
    assert!(store.enqueue_ready_series().await.is_ok());
    assert!(store.create_token("t", "tester").await.is_ok());
}

/// Processes that start together on a new SQLite file (`quire serve` beside `quire watch`) must
/// not both create the schema: each open waits for the migration lock and then finds it done.
#[test]
fn sqlite_stores_opened_at_once_on_a_new_file_all_open() {
    let dir = tempfile::tempdir().unwrap();
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let path = dir.path().to_path_buf();
            std::thread::spawn(move || {
                let rt =
                    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async move {
                    let store = Store::open(&path, None).await.map_err(|e| e.to_string())?;
                    let n = store.messages_count().await.map_err(|e| e.to_string())?;
                    store.close().await;
                    Ok::<u64, String>(n)
                })
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), Ok(0));
    }
}
