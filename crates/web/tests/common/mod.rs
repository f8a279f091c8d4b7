//! Stores filled from real mail, and the server on a free port, for the HTTP, browser and
//! benchmark runs.
#![allow(dead_code)]

use quire_store::{Incoming, ProjectConfig, Store};
use std::path::{Path, PathBuf};

pub fn shared(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared").join(rel)
}

/// Every message of an mbox (gzip or not), as the importer reads it.
pub fn mbox_messages(path: &Path, limit: usize) -> Vec<Vec<u8>> {
    let (reader, _) = quire_import::mbox::open(path, 64 << 20)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    reader.filter_map(Result::ok).take(limit).map(|m| m.bytes).collect()
}

/// A store on a fresh SQLite file; the TempDir must outlive it.
pub async fn sqlite_store() -> (tempfile::TempDir, Store) {
    quire_store::testing::sqlite_store().await
}

/// A store on a fresh PostgreSQL database (QUIRE_TEST_PG, else a cluster of this process).
pub async fn pg_store() -> Store {
    quire_store::testing::pg_store().await
}

pub async fn add_projects(store: &Store) {
    for (name, list_id) in [("ltp", "ltp.lists.linux.it"), ("io-uring", "io-uring.vger.kernel.org")]
    {
        let config = ProjectConfig {
            name: name.into(),
            list_ids: vec![list_id.into()],
            mirror_url: (name == "ltp").then(|| "https://git.example.org/ltp.git".to_string()),
            ..Default::default()
        };
        store.upsert_project(&config).await.expect("add project");
    }
    let patchwork = ProjectConfig { name: "patchwork".into(), ..Default::default() };
    store.upsert_project(&patchwork).await.expect("add project");
}

pub async fn ingest(store: &Store, raws: Vec<Vec<u8>>, project: Option<&str>) -> usize {
    let n = raws.len();
    for chunk in raws.chunks(500) {
        let batch: Vec<Incoming> =
            chunk.iter().map(|r| Incoming::parse(r.clone(), project.map(String::from))).collect();
        store.ingest(batch).await.expect("ingest");
    }
    n
}

/// The mail the page tests read: Patchwork's series fixtures (project `patchwork`) and the
/// first 1500 messages of LTP's list (project `ltp`).
pub async fn fill_with_real_mail(store: &Store) {
    add_projects(store).await;
    for name in [
        "base-cover-letter",
        "revision-basic",
        "base-different-versions",
        "base-incomplete",
        "base-deep-threaded",
    ] {
        let raws = mbox_messages(
            &shared(&format!("corpus/patchwork-mail/series/{name}.mbox")),
            usize::MAX,
        );
        ingest(store, raws, Some("patchwork")).await;
    }
    let ltp = mbox_messages(&shared("corpus/ltp-2019-2020.4k.mbox.gz"), 1500);
    ingest(store, ltp, None).await;
}

/// Both real list slices, whole: for the benchmark.
pub async fn fill_with_both_slices(store: &Store) -> usize {
    add_projects(store).await;
    let mut n = 0;
    for file in ["corpus/ltp-2019-2020.4k.mbox.gz", "corpus/io-uring-2019-2021.8k.mbox.gz"] {
        n += ingest(store, mbox_messages(&shared(file), usize::MAX), None).await;
    }
    n
}

/// Pages of the `n` LTP and io-uring series with the most replies.
pub async fn busiest_series_paths(store: &Store, n: usize) -> Vec<String> {
    let mut all = Vec::new();
    for project in ["ltp", "io-uring"] {
        let filter = quire_store::SeriesFilter {
            per_page: 200,
            include_superseded: true,
            ..Default::default()
        };
        let page = store.series_list(project, &filter).await.expect("list");
        all.extend(
            page.items
                .into_iter()
                .map(|s| (s.replies, quire_web::url::message_url(project, &s.message_id))),
        );
    }
    all.sort_by_key(|a| std::cmp::Reverse(a.0));
    all.into_iter().take(n).map(|(_, u)| u).collect()
}

/// The page of an LTP series where a reply quotes more than a few lines (so it is folded).
pub async fn series_with_folded_quote(store: &Store) -> String {
    let filter =
        quire_store::SeriesFilter { per_page: 200, include_superseded: true, ..Default::default() };
    let page = store.series_list("ltp", &filter).await.expect("list");
    for s in page.items.iter().filter(|s| s.replies > 0) {
        let thread = store.thread(&s.message_id).await.expect("thread");
        let quotes =
            thread.iter().any(|m| m.body.lines().filter(|l| l.starts_with('>')).count() > 5);
        if quotes {
            return quire_web::url::message_url("ltp", &s.message_id);
        }
    }
    panic!("no LTP series with a long quoted reply among the first 200");
}

/// Serves `store` on 127.0.0.1 at a free port; returns `http://127.0.0.1:PORT`.
pub async fn spawn_server(store: Store) -> String {
    spawn_server_with(store, quire_web::WebConfig::default()).await
}

/// [`spawn_server`] with settings of the test's own.
pub async fn spawn_server_with(store: Store, config: quire_web::WebConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let state = quire_web::AppState::new(store, config);
    tokio::spawn(quire_web::serve_on(listener, state));
    format!("http://{addr}")
}
