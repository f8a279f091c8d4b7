// The store's SQL, written once and compiled twice by lib.rs: inside `mod sqlite` with
// `Db = sqlx::Sqlite, PG = false` and inside `mod pg` with `Db = sqlx::Postgres, PG = true`.
// Statements use `$n` placeholders (both drivers accept them) and SQL both dialects agree on;
// the few differences branch on `PG`.

use std::collections::{BTreeSet, HashMap, HashSet};

use quire_mail::{Address, FileStat, MessageKind, ParsedMessage, PullRequest};
use quire_series::{MessageMeta, Role};
use sqlx::{QueryBuilder, Row};

use crate::derive::{
    ProjectMatcher, ThreadKeyer, UNTHREADED_WINDOW, compress, is_unthreaded_patch, par_map,
    text_hash,
};
use crate::error::{Context, Error, Result, corrupt};
use crate::types::*;
use crate::{clean, now, sanitize};

type Conn = <Db as sqlx::Database>::Connection;
type DbRow = <Db as sqlx::Database>::Row;
pub(crate) type DbPool = sqlx::Pool<Db>;

/// Values per `IN (...)` list. Lists are padded to a few fixed lengths so that each statement
/// is prepared once per connection and reused.
const IN_CHUNK: usize = 512;
/// Rows per multi-row INSERT (SQLite allows 32766 parameters, PostgreSQL 65535).
const INSERT_ROWS: usize = 400;
/// Raw messages re-derived per transaction by `reindex`.
const REINDEX_BATCH: i64 = 1000;

fn padded_len(n: usize) -> usize {
    [1, 8, 64, IN_CHUNK].into_iter().find(|&p| p >= n).unwrap_or(n)
}

fn get<'r, T>(row: &'r DbRow, index: usize, what: &str) -> Result<T>
where
    T: sqlx::Decode<'r, Db> + sqlx::Type<Db>,
{
    row.try_get::<T, usize>(index).ctx(what)
}

fn to_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

fn to_u64(v: i64) -> u64 {
    u64::try_from(v.max(0)).unwrap_or(0)
}

fn json_or_default<T: serde::de::DeserializeOwned + Default>(text: Option<String>, what: &str) -> Result<T> {
    match text {
        None => Ok(T::default()),
        Some(t) => serde_json::from_str(&t).map_err(|e| corrupt(what, e)),
    }
}

/// Runs `before (v1, v2, ...) after` for every chunk of `values` and gathers the rows.
async fn fetch_in(conn: &mut Conn, before: &str, after: &str, values: &[i64], what: &str) -> Result<Vec<DbRow>> {
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
async fn execute_in(conn: &mut Conn, before: &str, values: &[i64], what: &str) -> Result<()> {
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

/// The tables a rebuild empties and fills again from the raw messages (with the search tables,
/// `search_clear`), children first.
const DERIVED_TABLES: [&str; 6] =
    ["project_counts", "series_members", "series_signals", "series", "message_projects", "messages"];

/// Starts a writing transaction on `conn`. Writers are serialised (SQLite: `BEGIN IMMEDIATE`;
/// PostgreSQL: a lock on raw_messages) because raw ids are allocated by the writer.
async fn begin_write_on(conn: &mut Conn) -> Result<sqlx::Transaction<'_, Db>> {
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
async fn lock_writers(tx: &mut Conn) -> Result<()> {
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
struct Phases {
    last: std::time::Instant,
    spent: Vec<(&'static str, std::time::Duration)>,
}

impl Phases {
    fn new() -> Phases {
        Phases { last: std::time::Instant::now(), spent: Vec::new() }
    }

    fn mark(&mut self, phase: &'static str) {
        let now = std::time::Instant::now();
        self.spent.push((phase, now - self.last));
        self.last = now;
    }

    fn log(&self, messages: u64) {
        if tracing::enabled!(tracing::Level::DEBUG) {
            let total: std::time::Duration = self.spent.iter().map(|(_, d)| *d).sum();
            let parts: Vec<String> =
                self.spent.iter().map(|(p, d)| format!("{p} {:.1}", d.as_secs_f64() * 1000.0)).collect();
            tracing::debug!(messages, total_ms = total.as_secs_f64() * 1000.0, phases_ms = %parts.join(", "), "batch stored");
        }
    }
}

struct RawRow {
    id: i64,
    message_id: String,
    sha256: String,
    size: i64,
    data: Vec<u8>,
    duplicate_of: Option<i64>,
    forced_project: Option<String>,
    /// quire_store::Attestation as JSON.
    attestation: Option<String>,
}

/// A stored raw message to derive rows from.
struct Derivable {
    raw_id: i64,
    /// For a conflicting duplicate, the canonical copy's id.
    canonical: Option<i64>,
    parsed: ParsedMessage,
    forced_project: Option<String>,
    /// The diff text already compressed (by [`Incoming::parse`]); `None`: compress it here.
    diff_zstd: Option<Vec<u8>>,
    /// What the public-inbox search indexes of it (taken by [`insert_messages`]).
    text: crate::message_text::Document,
    /// When it arrived: its topmost Received: header, else when it was imported (`rt:`).
    received: i64,
}

struct StoredRaw {
    canonical: i64,
    shas: HashSet<String>,
}

/// PostgreSQL's way in: SQLite writes on the store's own connection ([`ingest_on`]).
#[allow(dead_code, reason = "compiled for SQLite too, which calls ingest_on")]
pub(crate) async fn ingest(pool: &DbPool, batch: Vec<Incoming>, cursor: Option<(&str, &str)>) -> Result<BatchOutcome> {
    let mut conn = pool.acquire().await.ctx("opening a connection to store a batch")?;
    ingest_on(&mut conn, batch, cursor).await
}

/// [`ingest`] on a given connection (SQLite: the store's writing connection).
pub(crate) async fn ingest_on(conn: &mut Conn, batch: Vec<Incoming>, cursor: Option<(&str, &str)>) -> Result<BatchOutcome> {
    let mut phases = Phases::new();
    let mut tx = begin_write_on(conn).await?;
    phases.mark("begin");
    let mut out = BatchOutcome::default();
    let mut batch = batch;
    // What `Incoming::parse` did not prepare (a message parsed by the caller) is prepared here,
    // the same way.
    for inc in batch.iter_mut().filter(|inc| inc.prepared.is_none()) {
        sanitize(&mut inc.parsed);
    }
    // A reindex dates each message by the same rule with the `received` stored below.
    let imported = now();
    for inc in batch.iter_mut() {
        inc.parsed.hold_future_date(imported);
    }
    // (Only when something is left to prepare: an import's batches come prepared, and
    // starting the threads for nothing cost 2-3 ms a batch.)
    if batch.iter().any(|inc| inc.prepared.is_none()) {
        let made = par_map(&batch, |inc| inc.prepared.is_none().then(|| Prepared::of(&inc.raw, &inc.parsed)));
        for (inc, made) in batch.iter_mut().zip(made) {
            if let Some(made) = made {
                let mid = &inc.parsed.message_id;
                inc.prepared = Some(made.map_err(|e| Error::Invalid(format!("cannot compress message {mid}: {e}")))?);
            }
        }
    }
    phases.mark("prepare");
    let mut stored = stored_raws(&mut tx, &batch).await?;
    phases.mark("lookup");
    let max_id: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM raw_messages")
        .fetch_one(&mut *tx)
        .await
        .ctx("reading the last raw id")
        .and_then(|r| get(&r, 0, "reading the last raw id"))?;
    let mut next_id = max_id + 1;
    let mut raws = Vec::with_capacity(batch.len());
    let mut derivables = Vec::with_capacity(batch.len());
    for inc in batch {
        let Some(prepared) = inc.prepared else { continue };
        let (sha, mid) = (prepared.sha256, inc.parsed.message_id);
        let duplicate_of = match stored.get_mut(&mid) {
            Some(s) if s.shas.contains(&sha) => {
                out.duplicates += 1;
                continue;
            }
            Some(s) => {
                s.shas.insert(sha.clone());
                out.conflicting_duplicates.push(mid.clone());
                Some(s.canonical)
            }
            None => {
                stored.insert(mid.clone(), StoredRaw { canonical: next_id, shas: HashSet::from([sha.clone()]) });
                None
            }
        };
        let id = next_id;
        next_id += 1;
        let forced_project = inc.project.as_deref().map(|p| clean(p).into_owned());
        raws.push(RawRow {
            id,
            message_id: mid.clone(),
            sha256: sha,
            size: i64::try_from(inc.raw.len()).unwrap_or(i64::MAX),
            data: prepared.raw_zstd,
            duplicate_of,
            forced_project: forced_project.clone(),
            attestation: inc.attestation.as_ref().and_then(|a| serde_json::to_string(a).ok()),
        });
        let parsed = ParsedMessage { message_id: mid, ..inc.parsed };
        let received = parsed.received.unwrap_or(imported);
        derivables.push(Derivable {
            raw_id: id,
            canonical: duplicate_of,
            parsed,
            forced_project,
            diff_zstd: prepared.diff_zstd,
            text: prepared.text,
            received,
        });
    }
    insert_raws(&mut tx, raws, imported).await?;
    phases.mark("raw rows");
    derive(&mut tx, derivables, &mut out, Events::Record, &mut phases).await?;
    if let Some((key, value)) = cursor {
        write_cursor(&mut tx, key, value).await?;
    }
    tx.commit().await.ctx("committing a batch")?;
    phases.mark("commit");
    phases.log(out.new_messages);
    Ok(out)
}

/// The stored raw copies of the batch's Message-IDs.
async fn stored_raws(conn: &mut Conn, batch: &[Incoming]) -> Result<HashMap<String, StoredRaw>> {
    let wanted: HashSet<&str> = batch.iter().map(|i| i.parsed.message_id.as_str()).collect();
    let hashes: Vec<i64> = wanted.iter().map(|m| text_hash(m)).collect();
    let rows = fetch_in(
        conn,
        "SELECT id, message_id, sha256, duplicate_of FROM raw_messages WHERE mid_hash IN",
        "",
        &hashes,
        "looking up stored raw messages",
    )
    .await?;
    let mut stored: HashMap<String, StoredRaw> = HashMap::new();
    for row in rows {
        let mid: String = get(&row, 1, "reading raw message ids")?;
        if !wanted.contains(mid.as_str()) {
            continue;
        }
        let id: i64 = get(&row, 0, "reading raw message ids")?;
        let sha: String = get(&row, 2, "reading raw message hashes")?;
        let dup: Option<i64> = get(&row, 3, "reading raw message links")?;
        let entry = stored.entry(mid).or_insert(StoredRaw { canonical: i64::MAX, shas: HashSet::new() });
        entry.shas.insert(sha);
        if dup.is_none() || entry.canonical == i64::MAX {
            entry.canonical = dup.unwrap_or(id);
        }
    }
    Ok(stored)
}

/// Binds the rows' texts and mail by value: sqlx copies what is bound by reference before it
/// hands a statement to SQLite's thread (`into_static`), which was a copy of every batch.
/// `received` is the time the messages were dated against (`hold_future_date`): the same second,
/// so that a reindex dates them as the import did.
async fn insert_raws(conn: &mut Conn, raws: Vec<RawRow>, received: i64) -> Result<()> {
    let mut raws = raws.into_iter().peekable();
    while raws.peek().is_some() {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO raw_messages (id, message_id, mid_hash, sha256, size, data, duplicate_of, forced_project, received, attestation) ",
        );
        qb.push_values(raws.by_ref().take(INSERT_ROWS), |mut b, r| {
            let mid_hash = text_hash(&r.message_id);
            b.push_bind(r.id)
                .push_bind(r.message_id)
                .push_bind(mid_hash)
                .push_bind(r.sha256)
                .push_bind(r.size)
                .push_bind(r.data)
                .push_bind(r.duplicate_of)
                .push_bind(r.forced_project)
                .push_bind(received)
                .push_bind(r.attestation.as_deref().map(clean).map(|c| c.into_owned()));
        });
        qb.build().execute(&mut *conn).await.ctx("storing raw messages")?;
    }
    Ok(())
}

/// Projects by name, with their ids.
async fn load_projects(conn: &mut Conn) -> Result<Vec<(i64, ProjectConfig)>> {
    let rows = sqlx::query(
        "SELECT id, name, list_ids, list_addresses, git_url, branch, mirror_url, tag_prefix, subject_prefixes FROM projects ORDER BY id",
    )
    .fetch_all(&mut *conn)
    .await
    .ctx("loading projects")?;
    rows.iter().map(project_from_row).collect()
}

fn project_from_row(row: &DbRow) -> Result<(i64, ProjectConfig)> {
    let what = "reading projects";
    let name: String = get(row, 1, what)?;
    let list_ids = serde_json::from_str(&get::<String>(row, 2, what)?).map_err(|e| corrupt(format!("list ids of project {name}"), e))?;
    let list_addresses =
        serde_json::from_str(&get::<String>(row, 3, what)?).map_err(|e| corrupt(format!("list addresses of project {name}"), e))?;
    let subject_prefixes =
        serde_json::from_str(&get::<String>(row, 8, what)?).map_err(|e| corrupt(format!("subject prefixes of project {name}"), e))?;
    Ok((
        get(row, 0, what)?,
        ProjectConfig {
            name,
            list_ids,
            list_addresses,
            subject_prefixes,
            git_url: get(row, 4, what)?,
            branch: get(row, 5, what)?,
            mirror_url: get(row, 6, what)?,
            tag_prefix: get(row, 7, what)?,
        },
    ))
}

/// The id of project `name`, created with no lists when missing.
async fn project_id(conn: &mut Conn, name: &str) -> Result<i64> {
    sqlx::query("INSERT INTO projects (name) VALUES ($1) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .execute(&mut *conn)
        .await
        .ctx("creating a project")?;
    let row = sqlx::query("SELECT id FROM projects WHERE name = $1")
        .bind(name)
        .fetch_one(&mut *conn)
        .await
        .ctx("looking up a project")?;
    get(&row, 0, "looking up a project")
}

/// Writes the derived rows of stored raw messages and re-assembles the series they touch.
/// Whether deriving records series events (ingest) or leaves the history as it is (reindex).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Events {
    Record,
    Keep,
}

async fn derive(conn: &mut Conn, items: Vec<Derivable>, out: &mut BatchOutcome, events: Events, phases: &mut Phases) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let configs = load_projects(conn).await?;
    let matcher = ProjectMatcher::new(&configs.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>());
    let mut project_ids: HashMap<String, i64> = configs.iter().map(|(id, c)| (c.name.clone(), *id)).collect();
    let mut memberships: Vec<(i64, i64)> = Vec::new();
    let mut canonical_touched: Vec<i64> = Vec::new();
    let mut news: Vec<(Derivable, MessageMeta)> = Vec::new();
    for item in items {
        let mut ids = Vec::new();
        for name in matcher.projects_of(&item.parsed, item.forced_project.as_deref()) {
            let id = match project_ids.get(&name) {
                Some(id) => *id,
                None => {
                    let id = project_id(conn, &name).await?;
                    project_ids.insert(name, id);
                    id
                }
            };
            ids.push(id);
        }
        let target = item.canonical.unwrap_or(item.raw_id);
        memberships.extend(ids.into_iter().map(|p| (target, p)));
        match item.canonical {
            // A second copy (cross-posted to another list, say): only its projects count.
            Some(canonical) => canonical_touched.push(canonical),
            None => {
                let meta = quire_series::meta_from_parsed(&item.parsed);
                news.push((item, meta));
            }
        }
    }

    phases.mark("projects");
    let keys = thread_keys(conn, &news).await?;
    phases.mark("thread keys");
    insert_messages(conn, &mut news, &keys).await?;
    phases.mark("message rows");
    search_index_text(conn, &mut news).await?;
    phases.mark("text index");
    search_index_messages(conn, &news).await?;
    phases.mark("search rows");
    insert_memberships(conn, &memberships).await?;

    let mut touched: BTreeSet<String> = keys.iter().cloned().collect();
    for row in fetch_in(conn, "SELECT thread_key FROM messages WHERE id IN", "", &canonical_touched, "reading thread keys").await? {
        touched.insert(get(&row, 0, "reading thread keys")?);
    }
    for (item, _) in &news {
        count_new(out, &item.parsed);
    }
    phases.mark("memberships");
    reassemble(conn, touched, out, events, phases).await?;
    Ok(())
}

fn count_new(out: &mut BatchOutcome, parsed: &ParsedMessage) {
    out.new_messages += 1;
    match parsed.kind {
        MessageKind::Patch => out.patches += 1,
        MessageKind::CoverLetter => out.cover_letters += 1,
        MessageKind::Unparsable => out.unparsable += 1,
        MessageKind::Reply | MessageKind::PullRequest => out.replies += 1,
    }
    if !parsed.problems.is_empty() {
        out.problems.push(MessageProblem { message_id: parsed.message_id.clone(), reasons: parsed.problems.clone() });
    }
}

/// Thread keys for the new messages, in order; re-keys stored messages that turn out to
/// descend from one of them.
async fn thread_keys(conn: &mut Conn, news: &[(Derivable, MessageMeta)]) -> Result<Vec<String>> {
    let mut known: HashMap<String, String> = HashMap::new();
    let mut stored_keys: HashSet<String> = HashSet::new();
    let referenced: HashSet<&str> = news
        .iter()
        .flat_map(|(_, m)| m.in_reply_to.iter().chain(m.references.iter()))
        .map(String::as_str)
        .collect();
    let hashes: Vec<i64> = referenced.iter().map(|m| text_hash(m)).collect();
    let what = "looking up the threads of referenced messages";
    for row in fetch_in(conn, "SELECT message_id, thread_key FROM messages WHERE mid_hash IN", "", &hashes, what).await? {
        let mid: String = get(&row, 0, what)?;
        if referenced.contains(mid.as_str()) {
            known.insert(mid, get(&row, 1, what)?);
        }
    }
    let own: HashSet<&str> = news.iter().map(|(_, m)| m.message_id.as_str()).collect();
    let hashes: Vec<i64> = own.iter().map(|m| text_hash(m)).collect();
    let what = "looking up threads keyed by new messages";
    for row in fetch_in(conn, "SELECT DISTINCT thread_key FROM messages WHERE thread_hash IN", "", &hashes, what).await? {
        let key: String = get(&row, 0, what)?;
        if own.contains(key.as_str()) {
            stored_keys.insert(key);
        }
    }
    let mut keyer = ThreadKeyer::new(known, stored_keys);
    let mut keys: Vec<String> = Vec::with_capacity(news.len());
    for (_, meta) in news {
        let key = keyer.assign(meta, &mut keys);
        keys.push(key);
    }
    for (old, new) in &keyer.rekeys {
        sqlx::query("UPDATE messages SET thread_key = $1, thread_hash = $2 WHERE thread_hash = $3 AND thread_key = $4")
            .bind(new.as_str())
            .bind(text_hash(new))
            .bind(text_hash(old))
            .bind(old.as_str())
            .execute(&mut *conn)
            .await
            .ctx("re-keying a thread")?;
    }
    Ok(keys)
}

/// Takes each message's body and compressed diff out of `news` to bind them by value (see
/// [`insert_raws`]); nothing reads them after.
async fn insert_messages(conn: &mut Conn, news: &mut [(Derivable, MessageMeta)], keys: &[String]) -> Result<()> {
    struct Row<'a> {
        d: &'a Derivable,
        meta: String,
        key: &'a str,
        diffstat: Option<String>,
        files: Option<String>,
        based_on: Option<String>,
        problems: Option<String>,
        /// The diff compressed here (when the batch came unprepared).
        diff: Option<Vec<u8>>,
        unthreaded: bool,
    }
    let taken: Vec<(String, Option<Vec<u8>>)> =
        news.iter_mut().map(|(d, _)| (std::mem::take(&mut d.parsed.body), d.diff_zstd.take())).collect();
    let pairs: Vec<(&(Derivable, MessageMeta), &String, bool)> =
        news.iter().zip(keys).zip(&taken).map(|((n, k), (_, z))| (n, k, z.is_some())).collect();
    fn prepare<'a>(&((d, meta), key, compressed): &(&'a (Derivable, MessageMeta), &'a String, bool)) -> Result<Row<'a>> {
        let p = &d.parsed;
        let to_json = |v: &dyn erased::Json| v.json().map_err(|e| corrupt(format!("serializing message {}", p.message_id), e));
        Ok(Row {
            d,
            meta: to_json(meta)?,
            key,
            diffstat: p.diff.as_ref().map(|diff| to_json(&diff.files)).transpose()?,
            files: p.diff.as_ref().map(|diff| diff.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>().join("\n")),
            based_on: (!p.based_on.is_empty()).then(|| to_json(&p.based_on)).transpose()?,
            problems: (!p.problems.is_empty()).then(|| to_json(&p.problems)).transpose()?,
            diff: p
                .diff
                .as_ref()
                .filter(|_| !compressed)
                .map(|diff| compress(diff.text.as_bytes()))
                .transpose()
                .map_err(|e| Error::Invalid(format!("cannot compress the diff of {}: {e}", p.message_id)))?,
            unthreaded: is_unthreaded_patch(meta),
        })
    }
    let rows = par_map(&pairs, prepare).into_iter().collect::<Result<Vec<_>>>()?;
    let mut rows = rows.into_iter().zip(taken).peekable();
    while rows.peek().is_some() {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO messages (id, message_id, mid_hash, thread_key, thread_hash, subject, from_name, from_email, \
             date, kind, in_reply_to, patch_id, pw_hash, diffstat, files, base_commit, based_on, pull_url, pull_branch, \
             problems, unthreaded_patch, meta, body, diff, received) ",
        );
        qb.push_values(rows.by_ref().take(INSERT_ROWS), |mut b, (r, (body, diff_zstd))| {
            let p = &r.d.parsed;
            b.push_bind(r.d.raw_id)
                .push_bind(p.message_id.as_str())
                .push_bind(text_hash(&p.message_id))
                .push_bind(r.key)
                .push_bind(text_hash(r.key))
                .push_bind(p.subject.as_str())
                .push_bind(p.from.name.as_str())
                .push_bind(p.from.email.trim().to_lowercase())
                .push_bind(p.date)
                .push_bind(kind_name(p.kind))
                .push_bind(p.in_reply_to.as_deref())
                .push_bind(p.diff.as_ref().map(|d| d.patch_id.as_str()))
                .push_bind(p.diff.as_ref().and_then(|d| d.patchwork_hash.as_deref()))
                .push_bind(r.diffstat)
                .push_bind(r.files)
                .push_bind(p.base_commit.as_deref())
                .push_bind(r.based_on)
                .push_bind(p.pull.as_ref().map(|x| x.url.as_str()))
                .push_bind(p.pull.as_ref().map(|x| x.branch.as_str()))
                .push_bind(r.problems)
                .push_bind(r.unthreaded)
                .push_bind(r.meta)
                .push_bind(body)
                .push_bind(diff_zstd.or(r.diff))
                .push_bind(r.d.received);
        });
        qb.build().execute(&mut *conn).await.ctx("storing messages")?;
    }
    Ok(())
}

mod erased {
    /// Lets one closure serialize values of different types.
    pub(super) trait Json {
        fn json(&self) -> serde_json::Result<String>;
    }
    impl<T: serde::Serialize> Json for T {
        fn json(&self) -> serde_json::Result<String> {
            serde_json::to_string(self)
        }
    }
}

/// Stores (message, project) memberships and counts the new ones in `project_counts`.
async fn insert_memberships(conn: &mut Conn, pairs: &[(i64, i64)]) -> Result<()> {
    // By project, so that each statement's inserted rows are that project's new messages.
    let mut pairs: Vec<(i64, i64)> = pairs.iter().map(|&(m, p)| (p, m)).collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut added: HashMap<i64, (i64, i64)> = HashMap::new();
    for group in pairs.chunk_by(|a, b| a.0 == b.0) {
        for chunk in group.chunks(INSERT_ROWS) {
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO message_projects (message_id, project_id) ");
            qb.push_values(chunk, |mut b, (p, m)| {
                b.push_bind(*m).push_bind(*p);
            });
            qb.push(" ON CONFLICT (message_id, project_id) DO NOTHING");
            let done = qb.build().execute(&mut *conn).await.ctx("storing message projects")?;
            added.entry(chunk[0].0).or_default().1 += i64::try_from(done.rows_affected()).unwrap_or(i64::MAX);
        }
    }
    add_project_counts(conn, &added).await
}

/// Adds (series, messages) to each project's counts (migration 0018).
async fn add_project_counts(conn: &mut Conn, deltas: &HashMap<i64, (i64, i64)>) -> Result<()> {
    let mut deltas: Vec<(i64, (i64, i64))> = deltas.iter().filter(|(_, d)| **d != (0, 0)).map(|(p, d)| (*p, *d)).collect();
    deltas.sort_unstable();
    for (project, (series, messages)) in deltas {
        sqlx::query(
            "INSERT INTO project_counts (project_id, series, messages) VALUES ($1, $2, $3) ON CONFLICT (project_id) \
             DO UPDATE SET series = project_counts.series + excluded.series, messages = project_counts.messages + excluded.messages",
        )
        .bind(project)
        .bind(series)
        .bind(messages)
        .execute(&mut *conn)
        .await
        .ctx("counting a project's series and messages")?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Series assembly

/// A message of a neighbourhood.
struct Neighbour {
    id: i64,
    thread_key: String,
    meta: MessageMeta,
}

async fn load_threads(conn: &mut Conn, keys: &[String]) -> Result<Vec<Neighbour>> {
    let wanted: HashSet<&str> = keys.iter().map(String::as_str).collect();
    let hashes: Vec<i64> = keys.iter().map(|k| text_hash(k)).collect();
    let what = "loading threads";
    let rows = fetch_in(conn, "SELECT id, thread_key, meta FROM messages WHERE thread_hash IN", "", &hashes, what).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let thread_key: String = get(&row, 1, what)?;
        if wanted.contains(thread_key.as_str()) {
            out.push(neighbour(&row, thread_key)?);
        }
    }
    Ok(out)
}

fn neighbour(row: &DbRow, thread_key: String) -> Result<Neighbour> {
    let id: i64 = get(row, 0, "loading threads")?;
    let meta: String = get(row, 2, "loading threads")?;
    let meta = serde_json::from_str(&meta).map_err(|e| corrupt(format!("meta of message row {id}"), e))?;
    Ok(Neighbour { id, thread_key, meta })
}

/// Unthreaded numbered patches of `email` sent between `from` and `to`.
async fn unthreaded_near(conn: &mut Conn, email: &str, from: i64, to: i64) -> Result<Vec<Neighbour>> {
    let what = "looking for unthreaded patches";
    let rows = sqlx::query(
        "SELECT id, thread_key, meta FROM messages WHERE unthreaded_patch AND date BETWEEN $1 AND $2 AND from_email = $3",
    )
    .bind(from)
    .bind(to)
    .bind(email)
    .fetch_all(&mut *conn)
    .await
    .ctx(what)?;
    rows.iter().map(|r| neighbour(r, get(r, 1, what)?)).collect()
}

/// Everything that may form series with the touched threads: those threads, unthreaded
/// patches of the same submitters within the window (with their threads), and every message
/// of the series these already belong to. Grows until nothing new is found.
async fn neighbourhood(conn: &mut Conn, touched: BTreeSet<String>) -> Result<HashMap<i64, Neighbour>> {
    let mut rows: HashMap<i64, Neighbour> = HashMap::new();
    let mut loaded: HashSet<String> = HashSet::new();
    let mut pending: Vec<String> = touched.into_iter().collect();
    let mut searched_submitters: HashSet<(String, i64, i64)> = HashSet::new();
    // Bounded: a pathological chain of unthreaded patches must not pull in the whole archive.
    for _round in 0..4 {
        pending.retain(|k| !loaded.contains(k));
        pending.sort();
        pending.dedup();
        if pending.is_empty() {
            break;
        }
        let fresh = load_threads(conn, &pending).await?;
        loaded.extend(pending.drain(..));
        let fresh_ids: Vec<i64> = fresh.iter().map(|n| n.id).collect();
        let mut windows: HashMap<String, (i64, i64)> = HashMap::new();
        for n in &fresh {
            let m = &n.meta;
            if matches!(m.kind, MessageKind::Patch | MessageKind::CoverLetter) && m.subject_info.number.is_some() && m.date > 0 {
                let w = windows.entry(m.from.email.trim().to_lowercase()).or_insert((m.date, m.date));
                w.0 = w.0.min(m.date);
                w.1 = w.1.max(m.date);
            }
        }
        for n in fresh {
            rows.entry(n.id).or_insert(n);
        }
        for (email, (lo, hi)) in windows {
            let span = (email, lo - UNTHREADED_WINDOW, hi + UNTHREADED_WINDOW);
            if !searched_submitters.insert(span.clone()) {
                continue;
            }
            for n in unthreaded_near(conn, &span.0, span.1, span.2).await? {
                if !loaded.contains(&n.thread_key) {
                    pending.push(n.thread_key.clone());
                }
            }
        }
        let what = "looking up series of a neighbourhood";
        let series_ids: Vec<i64> =
            fetch_in(conn, "SELECT DISTINCT series_id FROM series_members WHERE message_id IN", "", &fresh_ids, what)
                .await?
                .iter()
                .map(|r| get(r, 0, what))
                .collect::<Result<_>>()?;
        let members: Vec<i64> =
            fetch_in(conn, "SELECT message_id FROM series_members WHERE series_id IN", "", &series_ids, what)
                .await?
                .iter()
                .map(|r| get(r, 0, what))
                .collect::<Result<Vec<i64>>>()?
                .into_iter()
                .filter(|id| !rows.contains_key(id))
                .collect();
        for r in fetch_in(conn, "SELECT DISTINCT thread_key FROM messages WHERE id IN", "", &members, what).await? {
            let key: String = get(&r, 0, what)?;
            if !loaded.contains(&key) {
                pending.push(key);
            }
        }
    }
    Ok(rows)
}

const SERIES_NEW: &str = "series-new";
const SERIES_COMPLETE: &str = "series-complete";
const SERIES_SUPERSEDED: &str = "series-superseded";
const PATCH_STATE_CHANGED: &str = "patch-state-changed";

struct OldSeries {
    id: i64,
    complete: bool,
}

/// Re-assembles the series of the touched threads and replaces their rows.
async fn reassemble(conn: &mut Conn, touched: BTreeSet<String>, out: &mut BatchOutcome, events: Events, phases: &mut Phases) -> Result<()> {
    if touched.is_empty() {
        return Ok(());
    }
    let rows = neighbourhood(conn, touched).await?;
    phases.mark("series: neighbourhood");
    let ids: Vec<i64> = rows.keys().copied().collect();
    let what = "reading the series of a neighbourhood";

    let mut old: HashMap<(i64, i64), OldSeries> = HashMap::new();
    let old_ids: Vec<i64> = fetch_in(conn, "SELECT DISTINCT series_id FROM series_members WHERE message_id IN", "", &ids, what)
        .await?
        .iter()
        .map(|r| get(r, 0, what))
        .collect::<Result<_>>()?;
    for r in fetch_in(conn, "SELECT id, project_id, head_id, complete FROM series WHERE id IN", "", &old_ids, what).await? {
        old.insert((get(&r, 1, what)?, get(&r, 2, what)?), OldSeries { id: get(&r, 0, what)?, complete: get(&r, 3, what)? });
    }
    let mut projects_of: HashMap<i64, Vec<i64>> = HashMap::new();
    for r in fetch_in(conn, "SELECT message_id, project_id FROM message_projects WHERE message_id IN", "", &ids, what).await? {
        projects_of.entry(get(&r, 0, what)?).or_default().push(get(&r, 1, what)?);
    }
    let project_names: HashMap<i64, String> = load_projects(conn).await?.into_iter().map(|(id, c)| (id, c.name)).collect();
    phases.mark("series: old rows");

    let mut metas: Vec<MessageMeta> = rows.values().map(|n| n.meta.clone()).collect();
    // Assembly is order-independent; sorting keeps runs reproducible when debugging.
    metas.sort_by(|a, b| a.message_id.cmp(&b.message_id));
    let assembly = crate::assemble(&metas);
    phases.mark("series: assemble");
    let id_of: HashMap<&str, i64> = rows.values().map(|n| (n.meta.message_id.as_str(), n.id)).collect();
    let date_of: HashMap<&str, i64> = rows.values().map(|n| (n.meta.message_id.as_str(), n.meta.date)).collect();
    let mut members_of: HashMap<&str, Vec<(&str, Role)>> = HashMap::new();
    for (mid, head, role) in &assembly.members {
        members_of.entry(head.as_str()).or_default().push((mid.as_str(), *role));
    }

    let meta_of: HashMap<&str, &MessageMeta> = rows.values().map(|n| (n.meta.message_id.as_str(), &n.meta)).collect();
    let mut search_facts: Vec<(i64, SeriesFacts)> = Vec::new();
    let mut kept: HashSet<i64> = HashSet::new();
    let mut member_rows: Vec<(i64, i64, Role)> = Vec::new();
    let mut created: Vec<(i64, i64, String)> = Vec::new();
    let mut events_out: Vec<EventRow> = Vec::new();
    // Every series row of the neighbourhood first, then written in multi-row upserts: one
    // statement per series was the largest part of an import's series phase.
    let mut upserts: Vec<SeriesUpsert> = Vec::new();
    let mut linkables: Vec<Linkable<'_>> = Vec::new();
    let mut seen_rows: HashSet<(i64, i64)> = HashSet::new();
    for s in &assembly.series {
        let Some(&head_id) = id_of.get(s.head.as_str()) else {
            tracing::warn!(head = %s.head, "assembled series head is not in its neighbourhood; skipped");
            continue;
        };
        let members = members_of.get(s.head.as_str()).map(Vec::as_slice).unwrap_or(&[]);
        let reply_count = members.iter().filter(|(_, r)| *r == Role::Reply).count();
        let last_activity =
            members.iter().filter_map(|(m, _)| date_of.get(m).copied()).chain([s.date]).max().unwrap_or(s.date);
        let cover_id = s.cover_letter.as_deref().and_then(|c| id_of.get(c).copied());
        let facts = series_facts(s, members, &meta_of);
        let mut projects = projects_of.get(&head_id).cloned().unwrap_or_default();
        projects.sort_unstable();
        projects.dedup();
        for project in projects {
            if !seen_rows.insert((project, head_id)) {
                tracing::warn!(head = %s.head, "two assembled series share a head; the second is skipped");
                continue;
            }
            upserts.push(SeriesUpsert {
                series: s,
                project,
                head_id,
                cover_id,
                reply_count: i64::try_from(reply_count).unwrap_or(i64::MAX),
                last_activity,
                facts: facts.clone(),
                members,
            });
        }
    }
    let ids_of_rows = upsert_series(conn, &upserts).await?;
    for u in upserts {
        let s = u.series;
        let Some(&series_id) = ids_of_rows.get(&(u.project, u.head_id)) else {
            return Err(Error::Invalid(format!("the upsert of series {} returned no row", s.head)));
        };
        kept.insert(series_id);
        let own = quire_series::revisions::series_metas(u.members, &meta_of);
        linkables.push(Linkable {
            series_id,
            project: u.project,
            series: s,
            signals: quire_series::revisions::signals(s, &own),
        });
        search_facts.push((series_id, u.facts));
        out.series_touched += 1;
        let project_name = project_names.get(&u.project).cloned();
        let previous = old.get(&(u.project, u.head_id));
        if previous.is_none() {
            out.series_created += 1;
            created.push((series_id, u.project, s.revision_key.clone()));
        }
        if events == Events::Record && previous.is_none() {
            let payload = serde_json::json!({"version": s.version, "total": s.total, "subject": s.subject});
            events_out.push(EventRow::new(SERIES_NEW, project_name.clone(), Some(s.head.clone()), payload));
        }
        if events == Events::Record && s.complete && !previous.is_some_and(|p| p.complete) {
            let payload = serde_json::json!({"version": s.version, "total": s.total});
            events_out.push(EventRow::new(SERIES_COMPLETE, project_name.clone(), Some(s.head.clone()), payload));
        }
        for (mid, role) in u.members {
            if let Some(&mid_id) = id_of.get(mid) {
                member_rows.push((series_id, mid_id, *role));
            }
        }
    }
    insert_events(conn, &events_out).await?;
    phases.mark("series: upserts");
    let gone: Vec<i64> = old.values().map(|o| o.id).filter(|id| !kept.contains(id)).collect();
    let mut series_added: HashMap<i64, (i64, i64)> = HashMap::new();
    for (_, project, _) in &created {
        series_added.entry(*project).or_default().0 += 1;
    }
    for ((project, _), o) in &old {
        if !kept.contains(&o.id) {
            series_added.entry(*project).or_default().0 -= 1;
        }
    }
    add_project_counts(conn, &series_added).await?;
    let replaced: Vec<i64> = old.values().map(|o| o.id).collect();
    let own_before = own_members(conn, &replaced).await?;
    execute_in(conn, "DELETE FROM series_members WHERE series_id IN", &replaced, "replacing series members").await?;
    phases.mark("series: old members");
    search_index_series(conn, &replaced, &search_facts).await?;
    phases.mark("series: search facts");
    approvals_index_series(conn, &replaced, &search_facts).await?;
    phases.mark("series: approvals");
    execute_in(conn, "DELETE FROM series WHERE id IN", &gone, "removing series that no longer exist").await?;
    let mut seen = HashSet::new();
    member_rows.retain(|(s, m, _)| seen.insert((*s, *m)));
    insert_members(conn, &member_rows).await?;
    phases.mark("series: members");
    // After the members: a `Supersedes:` may name a message of a series of this same batch.
    let finals = link_revisions(conn, &linkables, &replaced).await?;
    for c in &mut created {
        if let Some(k) = finals.get(&c.0) {
            c.2.clone_from(k);
        }
    }
    phases.mark("series: revisions");
    search_index_series_text(conn, &own_before, &member_rows).await?;
    phases.mark("series: text");
    search_index_series_rows(conn, &replaced.iter().chain(&kept).copied().collect::<Vec<_>>()).await?;
    phases.mark("series: search rows");
    if events == Events::Record {
        superseded_events(conn, &created, &project_names).await?;
    }
    phases.mark("series: superseded");
    Ok(())
}

/// One series row to write, with what the rest of `reassemble` needs of it.
struct SeriesUpsert<'a> {
    series: &'a quire_series::Series,
    project: i64,
    head_id: i64,
    cover_id: Option<i64>,
    reply_count: i64,
    last_activity: i64,
    facts: SeriesFacts,
    members: &'a [(&'a str, Role)],
}

/// Rows per multi-row series upsert (22 values each).
const UPSERT_ROWS: usize = 200;

/// Inserts or updates the series rows; their ids by (project, head message row).
async fn upsert_series(conn: &mut Conn, rows: &[SeriesUpsert<'_>]) -> Result<HashMap<(i64, i64), i64>> {
    let what = "storing series";
    let stamp = crate::change_stamp();
    let mut ids = HashMap::with_capacity(rows.len());
    for chunk in rows.chunks(UPSERT_ROWS) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO series (project_id, head_id, head, cover_id, version, total, complete, subject, name, \
             submitter_name, submitter_email, date, is_rfc, is_pull, revision_key, revision_hash, patch_count, \
             reply_count, last_activity, changed, revision_link, taken) ",
        );
        qb.push_values(chunk, |mut b, u| {
            let s = u.series;
            b.push_bind(u.project)
                .push_bind(u.head_id)
                .push_bind(s.head.as_str())
                .push_bind(u.cover_id)
                .push_bind(i64::from(s.version))
                .push_bind(i64::from(s.total))
                .push_bind(s.complete)
                .push_bind(s.subject.as_str())
                .push_bind(s.name.as_str())
                .push_bind(s.submitter.name.as_str())
                .push_bind(s.submitter.email.as_str())
                .push_bind(s.date)
                .push_bind(s.is_rfc)
                .push_bind(s.is_pull)
                .push_bind(s.revision_key.as_str())
                .push_bind(text_hash(&s.revision_key))
                .push_bind(i64::try_from(s.patches.len()).unwrap_or(i64::MAX))
                .push_bind(u.reply_count)
                .push_bind(u.last_activity)
                .push_bind(stamp)
                .push_bind(s.answers.is_some().then_some(quire_series::revisions::Link::Thread.as_str()))
                .push_bind(serde_json::to_string(&s.taken).unwrap_or_else(|_| "[]".into()));
        });
        qb.push(
            " ON CONFLICT (project_id, head_id) DO UPDATE SET head = excluded.head, cover_id = excluded.cover_id, \
             version = excluded.version, total = excluded.total, complete = excluded.complete, \
             subject = excluded.subject, name = excluded.name, submitter_name = excluded.submitter_name, \
             submitter_email = excluded.submitter_email, date = excluded.date, is_rfc = excluded.is_rfc, \
             is_pull = excluded.is_pull, revision_key = excluded.revision_key, \
             revision_hash = excluded.revision_hash, patch_count = excluded.patch_count, \
             reply_count = excluded.reply_count, last_activity = excluded.last_activity, \
             changed = excluded.changed, revision_link = excluded.revision_link, taken = excluded.taken \
             RETURNING id, project_id, head_id",
        );
        for r in qb.build().fetch_all(&mut *conn).await.ctx(what)? {
            ids.insert((get(&r, 1, what)?, get(&r, 2, what)?), get(&r, 0, what)?);
        }
    }
    Ok(ids)
}

/// An event to record, written with others in one statement by `insert_events`.
struct EventRow {
    kind: String,
    project: Option<String>,
    series_head: Option<String>,
    message_id: Option<String>,
    payload: String,
}

impl EventRow {
    fn new(kind: &str, project: Option<String>, series_head: Option<String>, payload: serde_json::Value) -> EventRow {
        EventRow { kind: kind.to_string(), project, series_head, message_id: None, payload: payload.to_string() }
    }
}

/// Records `events` in their order (multi-row inserts keep it: ids ascend with the rows).
async fn insert_events(conn: &mut Conn, events: &[EventRow]) -> Result<()> {
    let created = now();
    for chunk in events.chunks(INSERT_ROWS) {
        let mut qb = QueryBuilder::<Db>::new("INSERT INTO events (kind, project, series_head, message_id, payload, created) ");
        qb.push_values(chunk, |mut b, e| {
            b.push_bind(e.kind.as_str())
                .push_bind(e.project.as_deref())
                .push_bind(e.series_head.as_deref())
                .push_bind(e.message_id.as_deref())
                .push_bind(e.payload.as_str())
                .push_bind(created);
        });
        qb.build().execute(&mut *conn).await.ctx("recording events")?;
    }
    Ok(())
}

/// Marks the series that the message rows `ids` belong to as changed (`series.changed`): the
/// web renders their pages again.
async fn touch_series_of(conn: &mut Conn, ids: &[i64]) -> Result<()> {
    let what = "marking series as changed";
    let series: Vec<i64> = fetch_in(conn, "SELECT DISTINCT series_id FROM series_members WHERE message_id IN", "", ids, what)
        .await?
        .iter()
        .map(|r| get(r, 0, what))
        .collect::<Result<_>>()?;
    execute_in(conn, &format!("UPDATE series SET changed = {} WHERE id IN", crate::change_stamp()), &series, what).await
}

pub(crate) async fn project_stamp(pool: &DbPool, project: &str) -> Result<Option<u64>> {
    let what = "reading what a project's lists depend on";
    let row = sqlx::query("SELECT p.id, (SELECT MAX(s.changed) FROM series s WHERE s.project_id = p.id) FROM projects p WHERE p.name = $1")
        .bind(project)
        .fetch_optional(pool)
        .await
        .ctx(what)?;
    let Some(row) = row else { return Ok(None) };
    let (id, changed): (i64, Option<i64>) = (get(&row, 0, what)?, get(&row, 1, what)?);
    // The project's id too: a project removed and made again under its name starts over.
    Ok(Some(((id as u64) << 48) ^ (changed.unwrap_or(0) as u64)))
}

pub(crate) async fn series_page_stamp(pool: &DbPool, project: &str, message_id: &str) -> Result<Option<u64>> {
    let what = "reading what a series page depends on";
    let mid = clean(message_id);
    let rows = sqlx::query(
        "SELECT s2.id, s2.changed FROM messages m \
         JOIN series s ON s.head_id = m.id AND s.project_id = (SELECT id FROM projects WHERE name = $3) \
         JOIN series s2 ON s2.project_id = s.project_id AND s2.revision_hash = s.revision_hash \
         WHERE m.mid_hash = $1 AND m.message_id = $2 ORDER BY s2.id",
    )
    .bind(text_hash(&mid))
    .bind(mid.as_ref())
    .bind(project)
    .fetch_all(pool)
    .await
    .ctx(what)?;
    if rows.is_empty() {
        return Ok(None);
    }
    // FNV-1a over the (id, changed) pairs of the series and its revisions.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for r in &rows {
        let (id, changed): (i64, i64) = (get(r, 0, what)?, get(r, 1, what)?);
        for b in id.to_le_bytes().into_iter().chain(changed.to_le_bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    Ok(Some(h))
}

async fn insert_members(conn: &mut Conn, members: &[(i64, i64, Role)]) -> Result<()> {
    for chunk in members.chunks(INSERT_ROWS) {
        let mut qb = QueryBuilder::<Db>::new("INSERT INTO series_members (series_id, message_id, role, number) ");
        qb.push_values(chunk, |mut b, (series, message, role)| {
            let (name, number) = role_name(*role);
            b.push_bind(*series).push_bind(*message).push_bind(name).push_bind(number);
        });
        qb.build().execute(&mut *conn).await.ctx("storing series members")?;
    }
    Ok(())
}

/// One revision of a series as stored: enough to order revisions.
#[derive(Clone)]
struct RevisionRow {
    id: i64,
    head: String,
    version: i64,
    date: i64,
    subject: String,
}

fn newer(a: &RevisionRow, b: &RevisionRow) -> bool {
    a.version > b.version || (a.version == b.version && a.date > b.date)
}

/// The revisions of many series at once (`revisions_of` for each (project, revision key)).
async fn revisions_of_many<'k>(conn: &mut Conn, keys: &[(i64, &'k str)]) -> Result<HashMap<(i64, &'k str), Vec<RevisionRow>>> {
    let what = "loading revisions";
    let wanted: HashMap<(i64, &str), &'k str> = keys.iter().map(|&(p, k)| ((p, k), k)).collect();
    let mut hashes_of: HashMap<i64, Vec<i64>> = HashMap::new();
    for (project, key) in keys {
        hashes_of.entry(*project).or_default().push(text_hash(key));
    }
    let mut out: HashMap<(i64, &'k str), Vec<RevisionRow>> = HashMap::new();
    for (project, hashes) in hashes_of {
        // The project id is ours (an integer), so it may be part of the statement's text.
        let sql = format!(
            "SELECT id, head, version, date, subject, revision_key FROM series WHERE project_id = {project} AND revision_hash IN"
        );
        for r in fetch_in(conn, &sql, "", &hashes, what).await? {
            let key: String = get(&r, 5, what)?;
            let Some(&key) = wanted.get(&(project, key.as_str())) else { continue };
            out.entry((project, key)).or_default().push(RevisionRow {
                id: get(&r, 0, what)?,
                head: get(&r, 1, what)?,
                version: get(&r, 2, what)?,
                date: get(&r, 3, what)?,
                subject: get(&r, 4, what)?,
            });
        }
    }
    for revisions in out.values_mut() {
        revisions.sort_by_key(|r| (r.version, r.date, r.id));
    }
    Ok(out)
}

async fn revisions_of(conn: &mut Conn, project: i64, revision_key: &str) -> Result<Vec<RevisionRow>> {
    Ok(revisions_of_many(conn, &[(project, revision_key)]).await?.remove(&(project, revision_key)).unwrap_or_default())
}

/// `series-superseded` for every older revision that a series created by this batch made
/// superseded (it was not superseded by an already stored series before), followed by a
/// `patch-state-changed` to `superseded` for each of its patches that now reads so (those still
/// `new` or `under-review`: Patchwork's clients follow patch states through these events, and
/// quire works the state out on read, so this is the moment it changes), `by` null.
async fn superseded_events(conn: &mut Conn, created: &[(i64, i64, String)], names: &HashMap<i64, String>) -> Result<()> {
    let mut events = Vec::new();
    let created_ids: HashSet<i64> = created.iter().map(|c| c.0).collect();
    let mut done: HashSet<i64> = HashSet::new();
    let keys: Vec<(i64, &str)> = created.iter().map(|(_, p, k)| (*p, k.as_str())).collect();
    let all = revisions_of_many(conn, &keys).await?;
    for (series_id, project, key) in created {
        let Some(revisions) = all.get(&(*project, key.as_str())) else { continue };
        let Some(new) = revisions.iter().find(|r| r.id == *series_id).cloned() else { continue };
        for old in revisions.iter().filter(|r| newer(&new, r)) {
            let was_superseded = revisions.iter().any(|u| !created_ids.contains(&u.id) && newer(u, old));
            if was_superseded || !done.insert(old.id) {
                continue;
            }
            let newest = revisions.iter().filter(|u| newer(u, old)).max_by_key(|u| (u.version, u.date, u.id));
            let by = newest.map(|n| n.head.as_str()).unwrap_or(new.head.as_str());
            let payload = serde_json::json!({"superseded_by": by});
            events.push(EventRow::new(SERIES_SUPERSEDED, names.get(project).cloned(), Some(old.head.clone()), payload));
            for (patch, message_id, state) in patches_turning_superseded(conn, old.id).await? {
                let payload = serde_json::json!({
                    "patch": patch, "previous_state": state, "current_state": "superseded", "by": null, "superseded_by": by,
                });
                let mut e = EventRow::new(PATCH_STATE_CHANGED, names.get(project).cloned(), Some(old.head.clone()), payload);
                e.message_id = Some(message_id);
                events.push(e);
            }
        }
    }
    insert_events(conn, &events).await
}

/// The patches of series row `series` that read `superseded` once a newer revision is stored:
/// (row id, Message-ID, state before), in their order in the series.
async fn patches_turning_superseded(conn: &mut Conn, series: i64) -> Result<Vec<(i64, String, String)>> {
    let what = "reading the patches of a superseded series";
    let rows = sqlx::query(
        "SELECT m.id, m.message_id, COALESCE(ps.state, 'new') FROM series_members sm JOIN messages m ON m.id = sm.message_id \
         LEFT JOIN patch_states ps ON ps.message_id = m.id \
         WHERE sm.series_id = $1 AND sm.role = 'patch' AND (ps.state IS NULL OR ps.state IN ('new', 'under-review')) \
         ORDER BY sm.number, m.id",
    )
    .bind(series)
    .fetch_all(&mut *conn)
    .await
    .ctx(what)?;
    rows.iter().map(|r| Ok((get(r, 0, what)?, get(r, 1, what)?, get(r, 2, what)?))).collect()
}

async fn add_event_in(
    conn: &mut Conn,
    kind: &str,
    project: Option<&str>,
    series_head: Option<&str>,
    message_id: Option<&str>,
    payload: &serde_json::Value,
) -> Result<()> {
    let event = EventRow {
        kind: kind.to_string(),
        project: project.map(str::to_string),
        series_head: series_head.map(str::to_string),
        message_id: message_id.map(str::to_string),
        payload: payload.to_string(),
    };
    insert_events(conn, &[event]).await
}

pub(crate) async fn add_event(
    pool: &DbPool,
    kind: &str,
    project: Option<&str>,
    series_head: Option<&str>,
    message_id: Option<&str>,
    payload: &serde_json::Value,
) -> Result<()> {
    let mut conn = pool.acquire().await.ctx("connecting")?;
    add_event_in(&mut conn, kind, project, series_head, message_id, payload).await
}

pub(crate) async fn events(pool: &DbPool, after: i64, limit: u32) -> Result<Vec<Event>> {
    let what = "reading events";
    let rows = sqlx::query(
        "SELECT id, kind, project, series_head, message_id, payload, created FROM events WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(after)
    .bind(i64::from(limit))
    .fetch_all(pool)
    .await
    .ctx(what)?;
    rows.iter()
        .map(|r| {
            let id: i64 = get(r, 0, what)?;
            Ok(Event {
                id,
                kind: get(r, 1, what)?,
                project: get(r, 2, what)?,
                series_head: get(r, 3, what)?,
                message_id: get(r, 4, what)?,
                payload: serde_json::from_str(&get::<String>(r, 5, what)?).map_err(|e| corrupt(format!("event {id}"), e))?,
                created: get(r, 6, what)?,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Reindex

/// PostgreSQL's way in: SQLite rebuilds on the store's own connection ([`reindex_on`]).
#[allow(dead_code, reason = "compiled for SQLite too, which calls reindex_on")]
pub(crate) async fn reindex(pool: &DbPool, progress: &(dyn Fn(u64, u64) + Send + Sync)) -> Result<()> {
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
pub(crate) async fn reindex_on(conn: &mut Conn, progress: &(dyn Fn(u64, u64) + Send + Sync)) -> Result<()> {
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
        sqlx::query("PRAGMA foreign_keys = OFF").execute(&mut *conn).await.ctx("dropping derived data")?;
    }
    let dropped = async {
        let mut tx = begin_write_on(&mut *conn).await?;
        search_clear(&mut tx).await?;
        for table in DERIVED_TABLES {
            sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *tx).await.ctx("dropping derived data")?;
        }
        tx.commit().await.ctx("dropping derived data")
    }
    .await;
    if !PG && sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await.is_err() {
        // Never used again without its foreign keys: the caller drops the connection.
        return Err(Error::Invalid("cannot turn foreign keys back on after dropping derived data".into()));
    }
    dropped?;
    progress(0, total);
    // Batch N+1 is read and parsed (on every core) while batch N is derived and written.
    let parse = |raws: Vec<StoredRawRow>| (!raws.is_empty()).then(|| tokio::task::spawn_blocking(move || parse_raws(raws)));
    let mut last = 0i64;
    let mut done = 0u64;
    let mut parsing = parse(read_raw_batch(&mut *conn, &mut last).await?);
    while let Some(parsed) = parsing.take() {
        parsing = parse(read_raw_batch(&mut *conn, &mut last).await?);
        let items = parsed.await.map_err(|e| Error::Invalid(format!("parsing raw messages: {e}")))??;
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
async fn read_raw_batch(conn: &mut Conn, last: &mut i64) -> Result<Vec<StoredRawRow>> {
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
        raws.push((id, get::<String>(r, 1, what)?, data, get::<Option<i64>>(r, 3, what)?, get::<Option<String>>(r, 4, what)?, get::<i64>(r, 5, what)?));
        *last = id;
    }
    Ok(raws)
}

/// A raw row as read back: id, Message-ID, compressed bytes, canonical copy, forced project,
/// when it was imported.
type StoredRawRow = (i64, String, Vec<u8>, Option<i64>, Option<String>, i64);

/// Decompresses and parses raw rows on every core. The stored Message-ID is kept: raw rows
/// are keyed by it, and derived rows must point at the same message as before.
fn parse_raws(raws: Vec<StoredRawRow>) -> Result<Vec<Derivable>> {
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
                            Ok(Derivable { raw_id, canonical, parsed, forced_project, diff_zstd: None, text, received })
                        })
                        .collect::<Result<Vec<_>>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(Error::Invalid("a parser thread panicked".into()))))
            .collect()
    });
    let mut out = Vec::new();
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Projects and cursors

pub(crate) async fn upsert_project(pool: &DbPool, p: &ProjectConfig) -> Result<()> {
    let json = |v: &Vec<String>| serde_json::to_string(v).map_err(|e| corrupt("project lists", e));
    sqlx::query(
        "INSERT INTO projects (name, list_ids, list_addresses, git_url, branch, mirror_url, tag_prefix, subject_prefixes) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO UPDATE SET list_ids = excluded.list_ids, \
         list_addresses = excluded.list_addresses, git_url = excluded.git_url, branch = excluded.branch, \
         mirror_url = excluded.mirror_url, tag_prefix = excluded.tag_prefix, subject_prefixes = excluded.subject_prefixes",
    )
    .bind(clean(&p.name).as_ref())
    .bind(clean(&json(&p.list_ids)?).as_ref())
    .bind(clean(&json(&p.list_addresses)?).as_ref())
    .bind(p.git_url.as_deref().map(clean).as_deref())
    .bind(p.branch.as_deref().map(clean).as_deref())
    .bind(p.mirror_url.as_deref().map(clean).as_deref())
    .bind(p.tag_prefix.as_deref().map(clean).as_deref())
    .bind(clean(&json(&p.subject_prefixes)?).as_ref())
    .execute(pool)
    .await
    .ctx("saving a project")?;
    Ok(())
}

/// Every project's settings, without counting their series and messages.
pub(crate) async fn project_configs(pool: &DbPool) -> Result<Vec<ProjectConfig>> {
    let mut conn = pool.acquire().await.ctx("loading projects")?;
    Ok(load_projects(&mut conn).await?.into_iter().map(|(_, c)| c).collect())
}

pub(crate) async fn projects(pool: &DbPool) -> Result<Vec<ProjectSummary>> {
    let what = "listing projects";
    let rows = sqlx::query(
        "SELECT p.id, p.name, p.list_ids, p.list_addresses, p.git_url, p.branch, p.mirror_url, p.tag_prefix, \
         p.subject_prefixes, COALESCE(c.series, 0), COALESCE(c.messages, 0) \
         FROM projects p LEFT JOIN project_counts c ON c.project_id = p.id ORDER BY p.name",
    )
    .fetch_all(pool)
    .await
    .ctx(what)?;
    rows.iter()
        .map(|r| {
            let (_, config) = project_from_row(r)?;
            Ok(ProjectSummary { config, series: to_u64(get(r, 9, what)?), messages: to_u64(get(r, 10, what)?) })
        })
        .collect()
}

async fn write_cursor(conn: &mut Conn, key: &str, value: &str) -> Result<()> {
    sqlx::query("INSERT INTO cursors (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(clean(key).as_ref())
        .bind(clean(value).as_ref())
        .execute(&mut *conn)
        .await
        .ctx("saving a cursor")?;
    Ok(())
}

pub(crate) async fn set_cursor(pool: &DbPool, key: &str, value: &str) -> Result<()> {
    let mut conn = pool.acquire().await.ctx("connecting")?;
    write_cursor(&mut conn, key, value).await
}

pub(crate) async fn cursor(pool: &DbPool, key: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT value FROM cursors WHERE key = $1")
        .bind(clean(key).as_ref())
        .fetch_optional(pool)
        .await
        .ctx("reading a cursor")?;
    row.map(|r| get(&r, 0, "reading a cursor")).transpose()
}

// ---------------------------------------------------------------------------------------------
// Reads

async fn message_row_id(conn: &mut Conn, message_id: &str) -> Result<Option<i64>> {
    let mid = clean(message_id);
    let row = sqlx::query("SELECT id FROM messages WHERE mid_hash = $1 AND message_id = $2")
        .bind(text_hash(&mid))
        .bind(mid.as_ref())
        .fetch_optional(&mut *conn)
        .await
        .ctx("looking up a message")?;
    row.map(|r| get(&r, 0, "looking up a message")).transpose()
}

pub(crate) async fn raw(pool: &DbPool, message_id: &str) -> Result<Option<Vec<u8>>> {
    let mid = clean(message_id);
    let row = sqlx::query(
        "SELECT id, data FROM raw_messages WHERE mid_hash = $1 AND message_id = $2 AND duplicate_of IS NULL ORDER BY id LIMIT 1",
    )
    .bind(text_hash(&mid))
    .bind(mid.as_ref())
    .fetch_optional(pool)
    .await
    .ctx("reading a raw message")?;
    let Some(row) = row else { return Ok(None) };
    let id: i64 = get(&row, 0, "reading a raw message")?;
    let data: Vec<u8> = get(&row, 1, "reading a raw message")?;
    zstd::decode_all(data.as_slice()).map(Some).map_err(|e| corrupt(format!("raw message {id}"), e))
}

/// Raw copies with a row id above `after`, in the order they were stored (canonical copies before
/// their later duplicates), at most `limit`; only those of `project` when given.
pub(crate) async fn raw_batch(pool: &DbPool, after: i64, limit: i64, project: Option<&str>) -> Result<Vec<(i64, Vec<u8>)>> {
    let what = "reading raw messages";
    let rows = match project {
        None => sqlx::query("SELECT id, data FROM raw_messages WHERE id > $1 ORDER BY id LIMIT $2")
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await
            .ctx(what)?,
        Some(p) => sqlx::query(
            "SELECT r.id, r.data FROM raw_messages r WHERE r.id > $1 AND EXISTS (SELECT 1 FROM message_projects mp \
             JOIN projects p ON p.id = mp.project_id WHERE mp.message_id = COALESCE(r.duplicate_of, r.id) AND p.name = $3) \
             ORDER BY r.id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .bind(clean(p).as_ref())
        .fetch_all(pool)
        .await
        .ctx(what)?,
    };
    rows.iter()
        .map(|r| {
            let id: i64 = get(r, 0, what)?;
            let data: Vec<u8> = get(r, 1, what)?;
            let raw = zstd::decode_all(data.as_slice()).map_err(|e| corrupt(format!("raw message {id}"), e))?;
            Ok((id, raw))
        })
        .collect()
}

pub(crate) async fn messages_count(pool: &DbPool) -> Result<u64> {
    let row = sqlx::query("SELECT COUNT(*) FROM messages").fetch_one(pool).await.ctx("counting messages")?;
    Ok(to_u64(get(&row, 0, "counting messages")?))
}

pub(crate) async fn stats(pool: &DbPool) -> Result<Stats> {
    let what = "computing statistics";
    let count = |sql: &'static str| async move {
        let row = sqlx::query(sql).fetch_one(pool).await.ctx(what)?;
        Ok::<u64, Error>(to_u64(get(&row, 0, what)?))
    };
    // SUM over BIGINT is NUMERIC on PostgreSQL: cast back.
    let sums = if PG {
        "SELECT COUNT(*), COALESCE(SUM(size), 0)::BIGINT, COALESCE(SUM(LENGTH(data)), 0)::BIGINT FROM raw_messages"
    } else {
        "SELECT COUNT(*), COALESCE(SUM(size), 0), COALESCE(SUM(LENGTH(data)), 0) FROM raw_messages"
    };
    let raw_row = sqlx::query(sums).fetch_one(pool).await.ctx(what)?;
    let raw_bytes = to_u64(get(&raw_row, 1, what)?);
    let stored_bytes = to_u64(get(&raw_row, 2, what)?);
    Ok(Stats {
        messages: count("SELECT COUNT(*) FROM messages").await?,
        raw_messages: to_u64(get(&raw_row, 0, what)?),
        conflicting_duplicates: count("SELECT COUNT(*) FROM raw_messages WHERE duplicate_of IS NOT NULL").await?,
        unparsable: count("SELECT COUNT(*) FROM messages WHERE kind = 'unparsable'").await?,
        patches: count("SELECT COUNT(*) FROM messages WHERE kind = 'patch'").await?,
        cover_letters: count("SELECT COUNT(*) FROM messages WHERE kind = 'cover-letter'").await?,
        pull_requests: count("SELECT COUNT(*) FROM messages WHERE kind = 'pull-request'").await?,
        threads: count("SELECT COUNT(DISTINCT thread_key) FROM messages").await?,
        series: count("SELECT COUNT(*) FROM series").await?,
        complete_series: count("SELECT COUNT(*) FROM series WHERE complete").await?,
        projects: count("SELECT COUNT(*) FROM projects").await?,
        raw_bytes,
        stored_bytes,
    })
}

const SUPERSEDED_BY: &str = "(SELECT s2.head FROM series s2 WHERE s2.project_id = s.project_id \
     AND s2.revision_hash = s.revision_hash AND s2.revision_key = s.revision_key \
     AND (s2.version > s.version OR (s2.version = s.version AND s2.date > s.date)) \
     ORDER BY s2.version DESC, s2.date DESC, s2.id DESC LIMIT 1)";

/// The columns of `series_select()`: queries that add columns after them read those from here
/// (the search's count, the Patchwork API's submitter).
const SERIES_COLUMNS: usize = 23;

fn series_select() -> String {
    format!(
        "SELECT s.id, p.name, s.head, s.subject, s.name, s.version, s.total, s.complete, s.submitter_name, \
         s.submitter_email, s.date, s.is_rfc, s.is_pull, s.patch_count, s.reply_count, s.last_activity, \
         {SUPERSEDED_BY}, s.project_id, s.revision_key, s.head_id, s.cover_id, s.revision_link, s.taken \
         FROM series s JOIN projects p ON p.id = s.project_id "
    )
}

struct SeriesRow {
    id: i64,
    project_id: i64,
    revision_key: String,
    head_id: i64,
    cover_id: Option<i64>,
    revision_link: Option<String>,
    taken: Vec<(u32, String)>,
    summary: SeriesSummary,
}

fn series_row(r: &DbRow) -> Result<SeriesRow> {
    let what = "reading series";
    Ok(SeriesRow {
        id: get(r, 0, what)?,
        project_id: get(r, 17, what)?,
        revision_key: get(r, 18, what)?,
        head_id: get(r, 19, what)?,
        cover_id: get(r, 20, what)?,
        revision_link: get(r, 21, what)?,
        taken: json_or_default(get(r, 22, what)?, "taken patches")?,
        summary: SeriesSummary {
            project: get(r, 1, what)?,
            message_id: get(r, 2, what)?,
            subject: get(r, 3, what)?,
            name: get(r, 4, what)?,
            version: to_u32(get(r, 5, what)?),
            total: to_u32(get(r, 6, what)?),
            complete: get(r, 7, what)?,
            submitter: Address { name: get(r, 8, what)?, email: get(r, 9, what)? },
            date: get(r, 10, what)?,
            is_rfc: get(r, 11, what)?,
            is_pull: get(r, 12, what)?,
            patches: to_u32(get(r, 13, what)?),
            replies: to_u32(get(r, 14, what)?),
            last_activity: get(r, 15, what)?,
            superseded_by: get(r, 16, what)?,
            reviews: None,
            approval: None,
        },
    })
}

fn like_pattern(word: &str) -> String {
    let mut p = String::from("%");
    for c in clean(word).to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

pub(crate) async fn series_list(pool: &DbPool, project: &str, q: &SeriesFilter) -> Result<Page<SeriesSummary>> {
    let per_page = q.per_page.clamp(1, 1000);
    let page = q.page.max(1);
    let words: Vec<&str> = q.words.iter().map(|w| w.trim()).filter(|w| !w.is_empty()).collect();
    // Superseded or not is the search row's `obsolete` flag (kept in step with every
    // assembly), not worked out per series.
    let filters = |qb: &mut QueryBuilder<'_, Db>| {
        qb.push(" WHERE p.name = ").push_bind(clean(project).into_owned());
        for w in &words {
            qb.push(" AND LOWER(s.subject) LIKE ").push_bind(like_pattern(w)).push(" ESCAPE '\\'");
        }
        if !q.include_superseded {
            qb.push(" AND NOT EXISTS (SELECT 1 FROM series_search o WHERE o.series_id = s.id AND o.obsolete)");
        }
    };
    let mut count = if words.is_empty() && !q.include_superseded {
        // The current series of a project, counted on their own index (migration 0016).
        let mut c = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM series_search ss JOIN projects p ON p.id = ss.project_id");
        c.push(" WHERE p.name = ").push_bind(clean(project).into_owned()).push(" AND ss.obsolete = FALSE");
        c
    } else {
        let mut c = QueryBuilder::<Db>::new("SELECT COUNT(*) FROM series s JOIN projects p ON p.id = s.project_id");
        filters(&mut c);
        c
    };
    let total: i64 = get(&count.build().fetch_one(pool).await.ctx("counting series")?, 0, "counting series")?;
    let mut list = QueryBuilder::<Db>::new(series_select());
    filters(&mut list);
    list.push(" ORDER BY s.date DESC, s.id DESC LIMIT ")
        .push_bind(i64::from(per_page))
        .push(" OFFSET ")
        .push_bind(i64::from(page - 1) * i64::from(per_page));
    let rows = list.build().fetch_all(pool).await.ctx("listing series")?;
    let items = rows.iter().map(|r| series_row(r).map(|s| s.summary)).collect::<Result<_>>()?;
    Ok(Page { items, total: to_u64(total), total_capped: false, page, per_page })
}

/// The series a message belongs to: as patch or cover letter first, else as a reply; the
/// lowest project first.
async fn series_of_message(conn: &mut Conn, message_id: &str) -> Result<Option<SeriesRow>> {
    let Some(id) = message_row_id(conn, message_id).await? else { return Ok(None) };
    let sql = format!(
        "{} JOIN series_members sm ON sm.series_id = s.id WHERE sm.message_id = $1 \
         ORDER BY CASE WHEN sm.role = 'reply' THEN 1 ELSE 0 END, s.project_id LIMIT 1",
        series_select()
    );
    let row = sqlx::query(&sql).bind(id).fetch_optional(&mut *conn).await.ctx("finding the series of a message")?;
    row.map(|r| series_row(&r)).transpose()
}

/// A member of a series with what the series page needs.
struct Member {
    id: i64,
    role: Role,
    thread_key: String,
    meta: MessageMeta,
    diffstat: Vec<FileStat>,
    body: String,
}

async fn load_members(conn: &mut Conn, series_id: i64) -> Result<Vec<Member>> {
    let what = "loading series members";
    let rows = sqlx::query(
        "SELECT sm.message_id, sm.role, sm.number, m.thread_key, m.meta, m.diffstat, m.body \
         FROM series_members sm JOIN messages m ON m.id = sm.message_id WHERE sm.series_id = $1",
    )
    .bind(series_id)
    .fetch_all(&mut *conn)
    .await
    .ctx(what)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: i64 = get(&r, 0, what)?;
        let role_text: String = get(&r, 1, what)?;
        let role = role_from_name(&role_text, get(&r, 2, what)?)
            .ok_or_else(|| corrupt(format!("role of message row {id} in series {series_id}"), role_text))?;
        let meta: String = get(&r, 4, what)?;
        out.push(Member {
            id,
            role,
            thread_key: get(&r, 3, what)?,
            meta: serde_json::from_str(&meta).map_err(|e| corrupt(format!("meta of message row {id}"), e))?,
            diffstat: json_or_default(get(&r, 5, what)?, "diffstat")?,
            body: get(&r, 6, what)?,
        });
    }
    Ok(out)
}

fn assembled(row: &SeriesRow, members: &[Member]) -> quire_series::Series {
    let s = &row.summary;
    let mut patches: Vec<(u32, String)> = members
        .iter()
        .filter_map(|m| match m.role {
            Role::Patch(n) => Some((n, m.meta.message_id.clone())),
            _ => None,
        })
        .collect();
    patches.sort();
    quire_series::Series {
        head: s.message_id.clone(),
        cover_letter: members.iter().find(|m| m.role == Role::CoverLetter).map(|m| m.meta.message_id.clone()),
        patches,
        version: s.version,
        total: s.total,
        complete: s.complete,
        subject: s.subject.clone(),
        name: s.name.clone(),
        submitter: s.submitter.clone(),
        date: s.date,
        is_rfc: s.is_rfc,
        is_pull: s.is_pull,
        revision_key: row.revision_key.clone(),
        own_revision_key: String::new(),
        answers: None,
        taken: row.taken.clone(),
        change_id: None,
        supersedes: None,
    }
}

async fn thread_metas(conn: &mut Conn, members: &[Member]) -> Result<Vec<MessageMeta>> {
    let mut keys: Vec<String> = members.iter().map(|m| m.thread_key.clone()).collect();
    keys.sort();
    keys.dedup();
    Ok(load_threads(conn, &keys).await?.into_iter().map(|n| n.meta).collect())
}

async fn series_row_by_id(conn: &mut Conn, id: i64) -> Result<Option<SeriesRow>> {
    let sql = format!("{} WHERE s.id = $1", series_select());
    let row = sqlx::query(&sql).bind(id).fetch_optional(&mut *conn).await.ctx("loading a series")?;
    row.map(|r| series_row(&r)).transpose()
}

pub(crate) async fn series(pool: &DbPool, message_id: &str) -> Result<Option<SeriesDetail>> {
    let mut conn = pool.acquire().await.ctx("connecting")?;
    let Some(row) = series_of_message(&mut conn, message_id).await? else { return Ok(None) };
    let members = load_members(&mut conn, row.id).await?;
    let thread = thread_metas(&mut conn, &members).await?;
    let this = assembled(&row, &members);

    let revisions = revisions_of(&mut conn, row.project_id, &row.revision_key).await?;
    let me = revisions.iter().find(|r| r.id == row.id).cloned();
    let mut earlier: Vec<(String, Vec<quire_series::CollectedTrailer>)> = Vec::new();
    for rev in revisions.iter().filter(|r| me.as_ref().is_some_and(|me| newer(me, r))) {
        let Some(rev_row) = series_row_by_id(&mut conn, rev.id).await? else { continue };
        let rev_members = load_members(&mut conn, rev.id).await?;
        let rev_thread = thread_metas(&mut conn, &rev_members).await?;
        let rev_series = assembled(&rev_row, &rev_members);
        let patch_ids: HashMap<u32, String> = rev_members
            .iter()
            .filter_map(|m| match m.role {
                Role::Patch(n) => m.meta.patch_id.clone().map(|p| (n, p)),
                _ => None,
            })
            .collect();
        for (n, trailers) in quire_series::collect_trailers(&rev_series, &rev_thread, &[]) {
            if let Some(pid) = patch_ids.get(&n) {
                earlier.push((pid.clone(), trailers));
            }
        }
    }
    let mut collected: HashMap<u32, Vec<quire_series::CollectedTrailer>> =
        quire_series::collect_trailers(&this, &thread, &earlier).into_iter().collect();

    let mut patches: Vec<SeriesPatch> = members
        .iter()
        .filter_map(|m| match m.role {
            Role::Patch(n) => Some(SeriesPatch {
                number: n,
                message_id: m.meta.message_id.clone(),
                subject: m.meta.subject.clone(),
                patch_id: m.meta.patch_id.clone(),
                diffstat: m.diffstat.clone(),
                own_trailers: m.meta.trailers.clone(),
                trailers: collected
                    .remove(&n)
                    .unwrap_or_default()
                    .into_iter()
                    .map(series_trailer)
                    .collect(),
                from_revision: None,
            }),
            _ => None,
        })
        .collect();
    for (n, mid) in &row.taken {
        if let Some(p) = taken_patch(&mut conn, *n, mid).await? {
            patches.push(p);
        }
    }
    patches.sort_by_key(|p| p.number);
    let cover_letter = members.iter().find(|m| m.role == Role::CoverLetter).map(|m| CoverLetter {
        message_id: m.meta.message_id.clone(),
        subject: m.meta.subject.clone(),
        body: m.body.clone(),
    });
    let apply = apply_result_by_id(&mut conn, row.head_id).await?;
    let mut targets: Vec<i64> = members.iter().filter(|m| !matches!(m.role, Role::Reply)).map(|m| m.id).collect();
    targets.push(row.head_id);
    let checks = checks_by_ids(&mut conn, &targets).await?;
    let approvals = approvals_of(&mut conn, row.id).await?;
    let _ = row.cover_id;
    let s = row.summary;
    Ok(Some(SeriesDetail {
        project: s.project,
        message_id: s.message_id,
        subject: s.subject,
        name: s.name,
        version: s.version,
        total: s.total,
        complete: s.complete,
        is_rfc: s.is_rfc,
        is_pull: s.is_pull,
        submitter: s.submitter,
        date: s.date,
        last_activity: s.last_activity,
        superseded_by: s.superseded_by,
        revision_link: row.revision_link,
        revisions: revisions
            .into_iter()
            .map(|r| Revision { message_id: r.head, version: to_u32(r.version), date: r.date, subject: r.subject })
            .collect(),
        cover_letter,
        patches,
        replies: s.replies,
        apply,
        checks,
        approvals,
    }))
}

fn series_trailer(c: quire_series::CollectedTrailer) -> SeriesTrailer {
    SeriesTrailer {
        name: c.trailer.person.as_ref().map(|p| p.name.clone()).unwrap_or_default(),
        email: c.trailer.person.as_ref().map(|p| p.email.clone()).unwrap_or_default(),
        tag: c.trailer.tag,
        value: c.trailer.value,
        message_id: c.message_id,
        verified: c.verified,
        carried_over: c.carried_over,
    }
}

/// Patch `number` taken by a partial re-roll from the revision before: as that revision has it,
/// with the trailers it was given there.
async fn taken_patch(conn: &mut Conn, number: u32, message_id: &str) -> Result<Option<SeriesPatch>> {
    let Some(row) = series_of_message(conn, message_id).await? else { return Ok(None) };
    let members = load_members(conn, row.id).await?;
    let Some(m) = members.iter().find(|m| m.meta.message_id == message_id) else { return Ok(None) };
    let thread = thread_metas(conn, &members).await?;
    let own_number = match m.role {
        Role::Patch(n) => n,
        _ => number,
    };
    let trailers = quire_series::collect_trailers(&assembled(&row, &members), &thread, &[])
        .into_iter()
        .find(|(n, _)| *n == own_number)
        .map(|(_, t)| t)
        .unwrap_or_default();
    Ok(Some(SeriesPatch {
        number,
        message_id: m.meta.message_id.clone(),
        subject: m.meta.subject.clone(),
        patch_id: m.meta.patch_id.clone(),
        diffstat: m.diffstat.clone(),
        own_trailers: m.meta.trailers.clone(),
        trailers: trailers.into_iter().map(series_trailer).collect(),
        from_revision: Some(row.summary.version),
    }))
}

const RECORD_COLS: &str = "m.id, m.message_id, m.thread_key, m.subject, m.date, m.kind, m.in_reply_to, m.patch_id, \
     m.diffstat, m.base_commit, m.based_on, m.pull_url, m.pull_branch, m.problems, m.meta, m.body, m.diff";

fn record_from_row(r: &DbRow) -> Result<(i64, MessageRecord)> {
    let what = "reading a message";
    let id: i64 = get(r, 0, what)?;
    let kind_text: String = get(r, 5, what)?;
    let kind = kind_from_name(&kind_text).ok_or_else(|| corrupt(format!("kind of message row {id}"), kind_text))?;
    let meta: String = get(r, 14, what)?;
    let meta: MessageMeta = serde_json::from_str(&meta).map_err(|e| corrupt(format!("meta of message row {id}"), e))?;
    let diff: Option<Vec<u8>> = get(r, 16, what)?;
    let diff = diff
        .map(|d| zstd::decode_all(d.as_slice()).map_err(|e| corrupt(format!("diff of message row {id}"), e)))
        .transpose()?
        .map(|d| String::from_utf8_lossy(&d).into_owned());
    let pull_url: Option<String> = get(r, 11, what)?;
    let pull_branch: Option<String> = get(r, 12, what)?;
    Ok((
        id,
        MessageRecord {
            message_id: get(r, 1, what)?,
            projects: Vec::new(),
            thread_key: get(r, 2, what)?,
            parent: None,
            subject: get(r, 3, what)?,
            from: meta.from.clone(),
            date: get(r, 4, what)?,
            kind,
            series_head: None,
            role: None,
            in_reply_to: get(r, 6, what)?,
            references: meta.references.clone(),
            patch_id: get(r, 7, what)?,
            diffstat: json_or_default(get(r, 8, what)?, "diffstat")?,
            trailers: meta.trailers,
            base_commit: get(r, 9, what)?,
            based_on: json_or_default(get(r, 10, what)?, "based-on")?,
            pull: pull_url.map(|url| PullRequest { url, branch: pull_branch.unwrap_or_default() }),
            problems: json_or_default(get(r, 13, what)?, "problems")?,
            body: get(r, 15, what)?,
            diff,
        },
    ))
}

/// Fills projects, series head and role of records.
async fn complete_records(conn: &mut Conn, records: &mut [(i64, MessageRecord)]) -> Result<()> {
    let ids: Vec<i64> = records.iter().map(|(id, _)| *id).collect();
    let what = "reading message projects";
    let mut projects: HashMap<i64, Vec<String>> = HashMap::new();
    for r in fetch_in(
        conn,
        "SELECT mp.message_id, p.name FROM message_projects mp JOIN projects p ON p.id = mp.project_id WHERE mp.message_id IN",
        "ORDER BY p.name",
        &ids,
        what,
    )
    .await?
    {
        projects.entry(get(&r, 0, what)?).or_default().push(get(&r, 1, what)?);
    }
    let what = "reading message series";
    let mut series: HashMap<i64, (String, Role)> = HashMap::new();
    for r in fetch_in(
        conn,
        "SELECT sm.message_id, s.head, sm.role, sm.number FROM series_members sm JOIN series s ON s.id = sm.series_id \
         WHERE sm.message_id IN",
        "ORDER BY s.project_id",
        &ids,
        what,
    )
    .await?
    {
        let id: i64 = get(&r, 0, what)?;
        let role_text: String = get(&r, 2, what)?;
        if let Some(role) = role_from_name(&role_text, get(&r, 3, what)?) {
            let head: String = get(&r, 1, what)?;
            series.entry(id).or_insert((head, role));
        }
    }
    for (id, rec) in records.iter_mut() {
        rec.projects = projects.remove(id).unwrap_or_default();
        rec.projects.sort();
        rec.projects.dedup();
        if let Some((head, role)) = series.remove(id) {
            rec.series_head = Some(head);
            rec.role = Some(role);
        }
    }
    Ok(())
}

pub(crate) async fn message(pool: &DbPool, message_id: &str) -> Result<Option<MessageRecord>> {
    let mut conn = pool.acquire().await.ctx("connecting")?;
    let mid = clean(message_id);
    let sql = format!("SELECT {RECORD_COLS} FROM messages m WHERE m.mid_hash = $1 AND m.message_id = $2");
    let row = sqlx::query(&sql)
        .bind(text_hash(&mid))
        .bind(mid.as_ref())
        .fetch_optional(&mut *conn)
        .await
        .ctx("reading a message")?;
    let Some(row) = row else { return Ok(None) };
    let mut records = vec![record_from_row(&row)?];
    complete_records(&mut conn, &mut records).await?;
    let Some((_, mut rec)) = records.pop() else { return Ok(None) };
    let ancestors: Vec<String> = rec.in_reply_to.iter().chain(rec.references.iter().rev()).cloned().collect();
    for a in ancestors {
        if message_row_id(&mut conn, &a).await?.is_some() {
            rec.parent = Some(a);
            break;
        }
    }
    Ok(Some(rec))
}

pub(crate) async fn thread(pool: &DbPool, message_id: &str) -> Result<Vec<MessageRecord>> {
    let mut conn = pool.acquire().await.ctx("connecting")?;
    let Some(row) = series_of_message(&mut conn, message_id).await? else { return Ok(Vec::new()) };
    let members = load_members(&mut conn, row.id).await?;
    let mut keys: Vec<String> = members.iter().map(|m| m.thread_key.clone()).collect();
    keys.sort();
    keys.dedup();
    let wanted: HashSet<&str> = keys.iter().map(String::as_str).collect();
    let hashes: Vec<i64> = keys.iter().map(|k| text_hash(k)).collect();
    let sql = format!("SELECT {RECORD_COLS} FROM messages m WHERE m.thread_hash IN");
    let mut records = Vec::new();
    for r in fetch_in(&mut conn, &sql, "", &hashes, "loading a thread").await? {
        let rec = record_from_row(&r)?;
        if wanted.contains(rec.1.thread_key.as_str()) {
            records.push(rec);
        }
    }
    // Keep the series' messages and what descends from them; other branches of the same
    // thread (another series, an unrelated discussion) stay out.
    let mut kept: HashSet<String> = members.iter().map(|m| m.meta.message_id.clone()).collect();
    loop {
        let before = kept.len();
        for (_, rec) in &records {
            if !kept.contains(&rec.message_id)
                && rec.in_reply_to.iter().chain(rec.references.iter()).any(|a| kept.contains(a))
            {
                kept.insert(rec.message_id.clone());
            }
        }
        if kept.len() == before {
            break;
        }
    }
    records.retain(|(_, r)| kept.contains(&r.message_id));
    for (_, rec) in records.iter_mut() {
        rec.parent = rec
            .in_reply_to
            .iter()
            .chain(rec.references.iter().rev())
            .find(|a| kept.contains(*a) && **a != rec.message_id)
            .cloned();
    }
    complete_records(&mut conn, &mut records).await?;
    let mut out: Vec<MessageRecord> = records.into_iter().map(|(_, r)| r).collect();
    out.sort_by(|a, b| (a.date.unwrap_or(0), &a.message_id).cmp(&(b.date.unwrap_or(0), &b.message_id)));
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Apply results and checks

async fn apply_result_by_id(conn: &mut Conn, head_id: i64) -> Result<Option<ApplyResult>> {
    let what = "reading an apply result";
    let row = sqlx::query(
        "SELECT state, base, result_commit, tree_url, log, failed_patch, updated FROM apply_results WHERE head_id = $1",
    )
    .bind(head_id)
    .fetch_optional(&mut *conn)
    .await
    .ctx(what)?;
    let Some(r) = row else { return Ok(None) };
    let state_text: String = get(&r, 0, what)?;
    Ok(Some(ApplyResult {
        state: apply_state_from_name(&state_text).ok_or_else(|| corrupt("apply state", state_text))?,
        base: get(&r, 1, what)?,
        result_commit: get(&r, 2, what)?,
        tree_url: get(&r, 3, what)?,
        log: get(&r, 4, what)?,
        failed_patch: get::<Option<i64>>(&r, 5, what)?.map(to_u32),
        updated: get(&r, 6, what)?,
    }))
}

/// The project and head of the (first) series a message belongs to, for events about it.
async fn project_and_head_of(conn: &mut Conn, id: i64) -> Result<Option<(String, String)>> {
    let what = "finding a message's series";
    let row = sqlx::query(
        "SELECT p.name, s.head FROM series_members sm JOIN series s ON s.id = sm.series_id \
         JOIN projects p ON p.id = s.project_id WHERE sm.message_id = $1 ORDER BY s.id LIMIT 1",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await
    .ctx(what)?;
    row.map(|r| Ok((get(&r, 0, what)?, get(&r, 1, what)?))).transpose()
}

async fn require_message(conn: &mut Conn, message_id: &str) -> Result<i64> {
    message_row_id(conn, message_id).await?.ok_or_else(|| Error::Invalid(format!("no stored message <{message_id}>")))
}

pub(crate) async fn apply_result(pool: &DbPool, series_head: &str) -> Result<Option<ApplyResult>> {
    let mut conn = pool.acquire().await.ctx("connecting")?;
    let Some(id) = message_row_id(&mut conn, series_head).await? else { return Ok(None) };
    apply_result_by_id(&mut conn, id).await
}

pub(crate) async fn set_apply_result(pool: &DbPool, series_head: &str, r: &ApplyResult) -> Result<()> {
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    set_apply_result_in(&mut tx, series_head, r).await?;
    tx.commit().await.ctx("saving an apply result")
}

async fn set_apply_result_in(tx: &mut Conn, series_head: &str, r: &ApplyResult) -> Result<()> {
    let id = require_message(&mut *tx, series_head).await?;
    sqlx::query(
        "INSERT INTO apply_results (head_id, state, base, result_commit, tree_url, log, failed_patch, updated) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (head_id) DO UPDATE SET state = excluded.state, \
         base = excluded.base, result_commit = excluded.result_commit, tree_url = excluded.tree_url, \
         log = excluded.log, failed_patch = excluded.failed_patch, updated = excluded.updated",
    )
    .bind(id)
    .bind(apply_state_name(r.state))
    .bind(r.base.as_deref().map(clean).as_deref())
    .bind(r.result_commit.as_deref().map(clean).as_deref())
    .bind(r.tree_url.as_deref().map(clean).as_deref())
    .bind(r.log.as_deref().map(clean).as_deref())
    .bind(r.failed_patch.map(i64::from))
    .bind(r.updated)
    .execute(&mut *tx)
    .await
    .ctx("saving an apply result")?;
    touch_series_of(&mut *tx, &[id]).await?;
    if r.state != ApplyState::Pending {
        let payload = serde_json::json!({"state": apply_state_name(r.state), "result_commit": r.result_commit});
        let project = project_and_head_of(&mut *tx, id).await?.map(|(p, _)| p);
        add_event_in(&mut *tx, "series-applied", project.as_deref(), Some(series_head), None, &payload).await?;
    }
    Ok(())
}

async fn checks_by_ids(conn: &mut Conn, ids: &[i64]) -> Result<Vec<Check>> {
    let what = "reading checks";
    let rows = fetch_in(
        conn,
        "SELECT c.id, m.message_id, c.name, c.state, c.url, c.description, c.log, c.created \
         FROM checks c JOIN messages m ON m.id = c.target_id WHERE c.target_id IN",
        "ORDER BY c.created, c.id",
        ids,
        what,
    )
    .await?;
    let mut out: Vec<Check> = rows
        .iter()
        .map(|r| {
            let state_text: String = get(r, 3, what)?;
            Ok(Check {
                id: get(r, 0, what)?,
                message_id: get(r, 1, what)?,
                name: get(r, 2, what)?,
                state: check_state_from_name(&state_text).ok_or_else(|| corrupt("check state", state_text))?,
                url: get(r, 4, what)?,
                description: get(r, 5, what)?,
                log: get(r, 6, what)?,
                created: get(r, 7, what)?,
            })
        })
        .collect::<Result<_>>()?;
    out.sort_by_key(|c| (c.created, c.id));
    Ok(out)
}

pub(crate) async fn line_states(pool: &DbPool, heads: &[String]) -> Result<HashMap<String, LineState>> {
    let what = "reading the apply and check states of series";
    let mut conn = pool.acquire().await.ctx("connecting")?;
    let wanted: HashMap<String, &String> = heads.iter().map(|h| (clean(h).into_owned(), h)).collect();
    let hashes: Vec<i64> = wanted.keys().map(|m| text_hash(m)).collect();
    let mut head_of: HashMap<i64, &String> = HashMap::new();
    for r in fetch_in(&mut conn, "SELECT id, message_id FROM messages WHERE mid_hash IN", "", &hashes, what).await? {
        let mid: String = get(&r, 1, what)?;
        if let Some(&head) = wanted.get(&mid) {
            head_of.insert(get(&r, 0, what)?, head);
        }
    }
    let ids: Vec<i64> = head_of.keys().copied().collect();
    let mut out: HashMap<String, LineState> = HashMap::new();
    for r in fetch_in(&mut conn, "SELECT head_id, state FROM apply_results WHERE head_id IN", "", &ids, what).await? {
        let (id, state): (i64, String) = (get(&r, 0, what)?, get(&r, 1, what)?);
        let state = apply_state_from_name(&state).ok_or_else(|| corrupt("apply state", state))?;
        if let Some(head) = head_of.get(&id) {
            out.entry((*head).clone()).or_default().apply = Some(state);
        }
    }
    for r in fetch_in(&mut conn, "SELECT target_id, state FROM checks WHERE target_id IN", "", &ids, what).await? {
        let (id, state): (i64, String) = (get(&r, 0, what)?, get(&r, 1, what)?);
        let state = check_state_from_name(&state).ok_or_else(|| corrupt("check state", state))?;
        if let Some(head) = head_of.get(&id) {
            out.entry((*head).clone()).or_default().checks.push(state);
        }
    }
    Ok(out)
}

pub(crate) async fn checks(pool: &DbPool, message_id: &str) -> Result<Vec<Check>> {
    let mut conn = pool.acquire().await.ctx("connecting")?;
    let Some(id) = message_row_id(&mut conn, message_id).await? else { return Ok(Vec::new()) };
    checks_by_ids(&mut conn, &[id]).await
}

pub(crate) async fn add_check(pool: &DbPool, message_id: &str, c: &NewCheck) -> Result<i64> {
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    let id = add_check_in(&mut tx, message_id, c).await?;
    tx.commit().await.ctx("saving a check")?;
    Ok(id)
}

async fn add_check_in(tx: &mut Conn, message_id: &str, c: &NewCheck) -> Result<i64> {
    let target = require_message(&mut *tx, message_id).await?;
    let row = sqlx::query(
        "INSERT INTO checks (target_id, name, state, url, description, log, created) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(target)
    .bind(clean(&c.name).as_ref())
    .bind(check_state_name(c.state))
    .bind(c.url.as_deref().map(clean).as_deref())
    .bind(c.description.as_deref().map(clean).as_deref())
    .bind(c.log.as_deref().map(crate::jobs::check_log).as_deref())
    .bind(now())
    .fetch_one(&mut *tx)
    .await
    .ctx("saving a check")?;
    let id: i64 = get(&row, 0, "saving a check")?;
    touch_series_of(&mut *tx, &[target]).await?;
    let payload = serde_json::json!({"name": c.name, "state": check_state_name(c.state)});
    let (project, head) = project_and_head_of(&mut *tx, target).await?.unzip();
    add_event_in(&mut *tx, "check-finished", project.as_deref(), head.as_deref(), Some(message_id), &payload).await?;
    Ok(id)
}
