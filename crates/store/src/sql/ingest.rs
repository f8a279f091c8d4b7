//! Ingest: a batch of incoming mail stored as raw rows and derived message rows, in one
//! transaction, with the import's cursor.
//!
//! Compiled once per database (`crate::sqlite`, `crate::pg`; declared in lib.rs).

use super::*;

pub(super) struct RawRow {
    pub(super) id: i64,
    pub(super) message_id: String,
    pub(super) sha256: String,
    pub(super) size: i64,
    pub(super) data: Vec<u8>,
    pub(super) duplicate_of: Option<i64>,
    pub(super) forced_project: Option<String>,
    /// quire_store::Attestation as JSON.
    pub(super) attestation: Option<String>,
}

/// A stored raw message to derive rows from.
pub(super) struct Derivable {
    pub(super) raw_id: i64,
    /// For a conflicting duplicate, the canonical copy's id.
    pub(super) canonical: Option<i64>,
    pub(super) parsed: ParsedMessage,
    pub(super) forced_project: Option<String>,
    /// The diff text already compressed (by [`Incoming::parse`]); `None`: compress it here.
    pub(super) diff_zstd: Option<Vec<u8>>,
    /// What the public-inbox search indexes of it (taken by [`insert_messages`]).
    pub(super) text: crate::message_text::Document,
    /// When it arrived: its topmost Received: header, else when it was imported (`rt:`).
    pub(super) received: i64,
}

pub(super) struct StoredRaw {
    pub(super) canonical: i64,
    pub(super) shas: HashSet<String>,
}

/// PostgreSQL's way in: SQLite writes on the store's own connection ([`ingest_on`]).
#[allow(dead_code, reason = "compiled for SQLite too, which calls ingest_on")]
pub(crate) async fn ingest(
    pool: &DbPool,
    batch: Vec<Incoming>,
    cursor: Option<(&str, &str)>,
) -> Result<BatchOutcome> {
    let mut conn = pool.acquire().await.ctx("opening a connection to store a batch")?;
    ingest_on(&mut conn, batch, cursor).await
}

/// [`ingest`] on a given connection (SQLite: the store's writing connection).
pub(crate) async fn ingest_on(
    conn: &mut Conn,
    batch: Vec<Incoming>,
    cursor: Option<(&str, &str)>,
) -> Result<BatchOutcome> {
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
        let made = par_map(&batch, |inc| {
            inc.prepared.is_none().then(|| Prepared::of(&inc.raw, &inc.parsed))
        });
        for (inc, made) in batch.iter_mut().zip(made) {
            if let Some(made) = made {
                let mid = &inc.parsed.message_id;
                inc.prepared =
                    Some(made.map_err(|e| {
                        Error::Invalid(format!("cannot compress message {mid}: {e}"))
                    })?);
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
                stored.insert(
                    mid.clone(),
                    StoredRaw { canonical: next_id, shas: HashSet::from([sha.clone()]) },
                );
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
pub(super) async fn stored_raws(
    conn: &mut Conn,
    batch: &[Incoming],
) -> Result<HashMap<String, StoredRaw>> {
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
        let entry =
            stored.entry(mid).or_insert(StoredRaw { canonical: i64::MAX, shas: HashSet::new() });
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
pub(super) async fn insert_raws(conn: &mut Conn, raws: Vec<RawRow>, received: i64) -> Result<()> {
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

/// Writes the derived rows of stored raw messages and re-assembles the series they touch.
/// Whether deriving records series events (ingest) or leaves the history as it is (reindex).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Events {
    Record,
    Keep,
}

pub(super) async fn derive(
    conn: &mut Conn,
    items: Vec<Derivable>,
    out: &mut BatchOutcome,
    events: Events,
    phases: &mut Phases,
) -> Result<()> {
    if items.is_empty() {
        return Ok(());
    }
    let configs = load_projects(conn).await?;
    let matcher = ProjectMatcher::new(&configs.iter().map(|(_, c)| c.clone()).collect::<Vec<_>>());
    let mut project_ids: HashMap<String, i64> =
        configs.iter().map(|(id, c)| (c.name.clone(), *id)).collect();
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
    for row in fetch_in(
        conn,
        "SELECT thread_key FROM messages WHERE id IN",
        "",
        &canonical_touched,
        "reading thread keys",
    )
    .await?
    {
        touched.insert(get(&row, 0, "reading thread keys")?);
    }
    for (item, _) in &news {
        count_new(out, &item.parsed);
    }
    phases.mark("memberships");
    reassemble(conn, touched, out, events, phases).await?;
    Ok(())
}

pub(super) fn count_new(out: &mut BatchOutcome, parsed: &ParsedMessage) {
    out.new_messages += 1;
    match parsed.kind {
        MessageKind::Patch => out.patches += 1,
        MessageKind::CoverLetter => out.cover_letters += 1,
        MessageKind::Unparsable => out.unparsable += 1,
        MessageKind::Reply | MessageKind::PullRequest => out.replies += 1,
    }
    if !parsed.problems.is_empty() {
        out.problems.push(MessageProblem {
            message_id: parsed.message_id.clone(),
            reasons: parsed.problems.clone(),
        });
    }
}

/// Thread keys for the new messages, in order; re-keys stored messages that turn out to
/// descend from one of them.
pub(super) async fn thread_keys(
    conn: &mut Conn,
    news: &[(Derivable, MessageMeta)],
) -> Result<Vec<String>> {
    let mut known: HashMap<String, String> = HashMap::new();
    let mut stored_keys: HashSet<String> = HashSet::new();
    let referenced: HashSet<&str> = news
        .iter()
        .flat_map(|(_, m)| m.in_reply_to.iter().chain(m.references.iter()))
        .map(String::as_str)
        .collect();
    let hashes: Vec<i64> = referenced.iter().map(|m| text_hash(m)).collect();
    let what = "looking up the threads of referenced messages";
    for row in fetch_in(
        conn,
        "SELECT message_id, thread_key FROM messages WHERE mid_hash IN",
        "",
        &hashes,
        what,
    )
    .await?
    {
        let mid: String = get(&row, 0, what)?;
        if referenced.contains(mid.as_str()) {
            known.insert(mid, get(&row, 1, what)?);
        }
    }
    let own: HashSet<&str> = news.iter().map(|(_, m)| m.message_id.as_str()).collect();
    let hashes: Vec<i64> = own.iter().map(|m| text_hash(m)).collect();
    let what = "looking up threads keyed by new messages";
    for row in fetch_in(
        conn,
        "SELECT DISTINCT thread_key FROM messages WHERE thread_hash IN",
        "",
        &hashes,
        what,
    )
    .await?
    {
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
pub(super) async fn insert_messages(
    conn: &mut Conn,
    news: &mut [(Derivable, MessageMeta)],
    keys: &[String],
) -> Result<()> {
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
    let taken: Vec<(String, Option<Vec<u8>>)> = news
        .iter_mut()
        .map(|(d, _)| (std::mem::take(&mut d.parsed.body), d.diff_zstd.take()))
        .collect();
    let pairs: Vec<(&(Derivable, MessageMeta), &String, bool)> =
        news.iter().zip(keys).zip(&taken).map(|((n, k), (_, z))| (n, k, z.is_some())).collect();
    fn prepare<'a>(
        &((d, meta), key, compressed): &(&'a (Derivable, MessageMeta), &'a String, bool),
    ) -> Result<Row<'a>> {
        let p = &d.parsed;
        let to_json = |v: &dyn erased::Json| {
            v.json().map_err(|e| corrupt(format!("serializing message {}", p.message_id), e))
        };
        Ok(Row {
            d,
            meta: to_json(meta)?,
            key,
            diffstat: p.diff.as_ref().map(|diff| to_json(&diff.files)).transpose()?,
            files: p.diff.as_ref().map(|diff| {
                diff.files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>().join("\n")
            }),
            based_on: (!p.based_on.is_empty()).then(|| to_json(&p.based_on)).transpose()?,
            problems: (!p.problems.is_empty()).then(|| to_json(&p.problems)).transpose()?,
            diff: p
                .diff
                .as_ref()
                .filter(|_| !compressed)
                .map(|diff| compress(diff.text.as_bytes()))
                .transpose()
                .map_err(|e| {
                    Error::Invalid(format!("cannot compress the diff of {}: {e}", p.message_id))
                })?,
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

pub(super) mod erased {
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
pub(super) async fn insert_memberships(conn: &mut Conn, pairs: &[(i64, i64)]) -> Result<()> {
    // By project, so that each statement's inserted rows are that project's new messages.
    let mut pairs: Vec<(i64, i64)> = pairs.iter().map(|&(m, p)| (p, m)).collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut added: HashMap<i64, (i64, i64)> = HashMap::new();
    for group in pairs.chunk_by(|a, b| a.0 == b.0) {
        for chunk in group.chunks(INSERT_ROWS) {
            let mut qb =
                QueryBuilder::<Db>::new("INSERT INTO message_projects (message_id, project_id) ");
            qb.push_values(chunk, |mut b, (p, m)| {
                b.push_bind(*m).push_bind(*p);
            });
            qb.push(" ON CONFLICT (message_id, project_id) DO NOTHING");
            let done = qb.build().execute(&mut *conn).await.ctx("storing message projects")?;
            added.entry(chunk[0].0).or_default().1 +=
                i64::try_from(done.rows_affected()).unwrap_or(i64::MAX);
        }
    }
    add_project_counts(conn, &added).await
}

/// Adds (series, messages) to each project's counts (migration 0018).
pub(super) async fn add_project_counts(
    conn: &mut Conn,
    deltas: &HashMap<i64, (i64, i64)>,
) -> Result<()> {
    let mut deltas: Vec<(i64, (i64, i64))> =
        deltas.iter().filter(|(_, d)| **d != (0, 0)).map(|(p, d)| (*p, *d)).collect();
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

pub(super) async fn write_cursor(conn: &mut Conn, key: &str, value: &str) -> Result<()> {
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
