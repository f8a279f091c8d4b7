//! Reindex: every derived table emptied and derived again from the raw rows, in batches.
//!
//! Compiled once per database (`crate::sqlite`, `crate::pg`; declared in lib.rs).

use super::*;

/// Raw messages re-derived per transaction by `reindex`.
pub(super) const REINDEX_BATCH: i64 = 1000;

/// The tables a rebuild empties and fills again from the raw messages (with the search tables,
/// `search_clear`), children first.
pub(super) const DERIVED_TABLES: [&str; 6] = [
    "project_counts",
    "series_members",
    "series_signals",
    "series",
    "message_projects",
    "messages",
];

// ---------------------------------------------------------------------------------------------
// Reindex

/// PostgreSQL's way in: SQLite rebuilds on the store's own connection ([`reindex_on`]).
#[allow(dead_code, reason = "compiled for SQLite too, which calls reindex_on")]
pub(crate) async fn reindex(
    pool: &DbPool,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<()> {
    let mut conn = pool.acquire().await.ctx("opening a connection for the rebuild")?;
    let rebuilt = reindex_on(&mut conn, progress).await;
    if rebuilt.is_err() {
        // Never back in the pool in a state it may not know (foreign keys off).
        conn.close_on_drop();
    }
    rebuilt
}

/// [`reindex`] on a given connection (SQLite: the store's writing connection). One connection
/// reads and writes the whole rebuild: each connection keeps its own page cache, and reads
/// spread over four of them held 350 MiB on 1M messages. After an error the connection may
/// have its foreign keys off: the caller drops it.
pub(crate) async fn reindex_on(
    conn: &mut Conn,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> Result<()> {
    let total: i64 = sqlx::query("SELECT COUNT(*) FROM raw_messages")
        .fetch_one(&mut *conn)
        .await
        .ctx("counting raw messages")
        .and_then(|r| get(&r, 0, "counting raw messages"))?;
    let total = to_u64(total);
    // Events are history, not derived data: a rebuild neither erases nor repeats them
    // (replaying it would announce every series as new again).
    //
    // One transaction empties them all, so a writer never sees them half emptied. On SQLite
    // with foreign keys off (the pragma is ignored inside a transaction, so it is set around
    // it): with them on, a parent table is emptied row by row, each row checked against its
    // children (13 s for 1M messages), and every DELETE keeps a statement journal of the pages
    // it changes in memory (peak RSS 735 MiB on 1M messages); off, each table's pages are
    // dropped whole. The children go first, so no reference is left dangling.
    if !PG {
        sqlx::query("PRAGMA foreign_keys = OFF")
            .execute(&mut *conn)
            .await
            .ctx("dropping derived data")?;
    }
    let dropped = async {
        let mut tx = begin_write_on(&mut *conn).await?;
        search_clear(&mut tx).await?;
        for table in DERIVED_TABLES {
            sqlx::query(&format!("DELETE FROM {table}"))
                .execute(&mut *tx)
                .await
                .ctx("dropping derived data")?;
        }
        tx.commit().await.ctx("dropping derived data")
    }
    .await;
    if !PG && sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await.is_err() {
        // Never used again without its foreign keys: the caller drops the connection.
        return Err(Error::Invalid(
            "cannot turn foreign keys back on after dropping derived data".into(),
        ));
    }
    dropped?;
    progress(0, total);
    // Batch N+1 is read and parsed (on every core) while batch N is derived and written.
    let parse = |raws: Vec<StoredRawRow>| {
        (!raws.is_empty()).then(|| tokio::task::spawn_blocking(move || parse_raws(raws)))
    };
    let mut last = 0i64;
    let mut done = 0u64;
    let mut parsing = parse(read_raw_batch(&mut *conn, &mut last).await?);
    while let Some(parsed) = parsing.take() {
        parsing = parse(read_raw_batch(&mut *conn, &mut last).await?);
        let items =
            parsed.await.map_err(|e| Error::Invalid(format!("parsing raw messages: {e}")))??;
        done += items.len() as u64;
        let mut phases = Phases::new();
        let mut tx = begin_write_on(&mut *conn).await?;
        phases.mark("begin");
        derive(&mut tx, items, &mut BatchOutcome::default(), Events::Keep, &mut phases).await?;
        tx.commit().await.ctx("committing a reindex batch")?;
        phases.mark("commit");
        phases.log(done);
        progress(done, total);
    }
    Ok(())
}

/// The next [`REINDEX_BATCH`] raw rows after id `last` (moved to the last one read).
pub(super) async fn read_raw_batch(conn: &mut Conn, last: &mut i64) -> Result<Vec<StoredRawRow>> {
    let what = "reading raw messages";
    let rows = sqlx::query(
        "SELECT id, message_id, data, duplicate_of, forced_project, received FROM raw_messages WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(*last)
    .bind(REINDEX_BATCH)
    .fetch_all(&mut *conn)
    .await
    .ctx(what)?;
    let mut raws = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: i64 = get(r, 0, what)?;
        let data: Vec<u8> = get(r, 2, what)?;
        raws.push((
            id,
            get::<String>(r, 1, what)?,
            data,
            get::<Option<i64>>(r, 3, what)?,
            get::<Option<String>>(r, 4, what)?,
            get::<i64>(r, 5, what)?,
        ));
        *last = id;
    }
    Ok(raws)
}

/// A raw row as read back: id, Message-ID, compressed bytes, canonical copy, forced project,
/// when it was imported.
pub(super) type StoredRawRow = (i64, String, Vec<u8>, Option<i64>, Option<String>, i64);

/// Decompresses and parses raw rows on every core. The stored Message-ID is kept: raw rows
/// are keyed by it, and derived rows must point at the same message as before.
pub(super) fn parse_raws(raws: Vec<StoredRawRow>) -> Result<Vec<Derivable>> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).max(1);
    let per = raws.len().div_ceil(threads).max(1);
    let chunks: Vec<Vec<_>> = {
        let mut it = raws.into_iter();
        let mut v = Vec::new();
        loop {
            let c: Vec<_> = it.by_ref().take(per).collect();
            if c.is_empty() {
                break;
            }
            v.push(c);
        }
        v
    };
    let results: Vec<Result<Vec<Derivable>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|(raw_id, mid, data, canonical, forced_project, imported)| {
                            let bytes = zstd::decode_all(data.as_slice())
                                .map_err(|e| corrupt(format!("raw message {raw_id}"), e))?;
                            let mut parsed = quire_mail::parse(&bytes);
                            sanitize(&mut parsed);
                            parsed.hold_future_date(imported);
                            parsed.message_id = mid;
                            let text = crate::message_text::document(&parsed);
                            let received = parsed.received.unwrap_or(imported);
                            Ok(Derivable {
                                raw_id,
                                canonical,
                                parsed,
                                forced_project,
                                diff_zstd: None,
                                text,
                                received,
                            })
                        })
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Err(Error::Invalid("a parser thread panicked".into())))
            })
            .collect()
    });
    let mut out = Vec::new();
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}
