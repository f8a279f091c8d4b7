//! The series search (issue 4): the one place where a parsed `quire_query::Query` becomes SQL,
//! for both dialects, and where the search tables of migration 0007 are kept in step.
//! Compiled once per database like every file of `sql/` (inside `mod sqlite` and `mod pg`). Every user value is bound
//! as a parameter; only fixed SQL text is pushed.
//!
//! Each term is a condition on the series' search row `ss` (series_search, migration 0011: one
//! narrow row per series in date order, with its flags): a column test, or
//! `ss.series_id IN (subquery)` over the derived tables, keyed by series where they can be
//! (series_files, series_addresses, series_trailers), so AND/OR/NOT combine them freely, each
//! subquery is an index range evaluated once, and the newest matches are found by walking the
//! search rows in date order.

use super::*;
use crate::approvals::{GivenTrailer, ReviewCounts};
use quire_query::{Field, Query, Term};

/// Terms a series search may hold (each one is a subquery at most); fewer than the parser's
/// `quire_query::MAX_TERMS`, which b4's public-inbox queries need.
pub(super) const MAX_SEARCH_TERMS: usize = 64;

/// Series' own messages (cover letter and patches), not the replies under them.
pub(super) const OWN_MEMBER: &str = "sm.role <> 'reply'";

/// SQLite: the text of each series as `series_fts` holds it (migration 0017): (series id,
/// subjects, bodies) of its own messages, for the series the caller's `AND ...` and
/// `GROUP BY sm.series_id` pick.
pub(crate) const SERIES_TEXT: &str = "SELECT sm.series_id, group_concat(m.subject, char(10)), group_concat(m.body, char(10)) \
     FROM series_members sm JOIN messages m ON m.id = sm.message_id WHERE sm.role <> 'reply'";

/// (series, message) pairs as each series' messages, sorted and without repeats.
pub(super) fn messages_by_series(
    pairs: impl IntoIterator<Item = (i64, i64)>,
) -> HashMap<i64, Vec<i64>> {
    let mut by_series: HashMap<i64, Vec<i64>> = HashMap::new();
    for (series, message) in pairs {
        by_series.entry(series).or_default().push(message);
    }
    for v in by_series.values_mut() {
        v.sort_unstable();
        v.dedup();
    }
    by_series
}

/// Writes the public-inbox search index of freshly stored messages (migration 0050): their
/// words by part (`message_text`) and trailers (`message_trailers`). Takes each message's
/// [`crate::message_text::Document`]; nothing reads it after.
pub(super) async fn search_index_text(
    conn: &mut Conn,
    news: &mut [(Derivable, MessageMeta)],
) -> Result<()> {
    let what = "indexing message text";
    let docs: Vec<(i64, crate::message_text::Document)> =
        news.iter_mut().map(|(d, _)| (d.raw_id, std::mem::take(&mut d.text))).collect();
    if PG {
        let tsvs = par_map(&docs, |(id, doc)| (*id, crate::message_text::tsvector_binary(doc)));
        let mut tsvs = tsvs.into_iter().peekable();
        while tsvs.peek().is_some() {
            let mut qb = QueryBuilder::<Db>::new("INSERT INTO message_text (message_id, tsv) ");
            qb.push_values(tsvs.by_ref().take(INSERT_ROWS), |mut b, (id, tsv)| {
                b.push_bind(id).push_bind(tsv);
            });
            qb.build().execute(&mut *conn).await.ctx(what)?;
        }
    } else {
        let columns = crate::message_text::PARTS.join(", ");
        for chunk in docs.chunks(INSERT_ROWS) {
            let mut qb =
                QueryBuilder::<Db>::new(format!("INSERT INTO message_text (rowid, {columns}) "));
            qb.push_values(chunk, |mut b, (id, doc)| {
                b.push_bind(*id);
                for (p, name) in doc.parts.iter().zip(crate::message_text::PARTS) {
                    if name == "nq" {
                        b.push_bind(doc.nq_with_tail().into_owned());
                    } else {
                        b.push_bind(p.as_str());
                    }
                }
            });
            qb.build().execute(&mut *conn).await.ctx(what)?;
        }
    }
    let trailers: Vec<(&str, &str, i64)> = docs
        .iter()
        .flat_map(|(id, doc)| doc.trailers.iter().map(move |(t, v)| (t.as_str(), v.as_str(), *id)))
        .collect();
    for chunk in trailers.chunks(INSERT_ROWS) {
        let mut qb =
            QueryBuilder::<Db>::new("INSERT INTO message_trailers (tag, value, message_id) ");
        qb.push_values(chunk, |mut b, (t, v, id)| {
            b.push_bind(*t).push_bind(*v).push_bind(*id);
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().execute(&mut *conn).await.ctx(what)?;
    }
    Ok(())
}

/// Writes the search rows of freshly stored messages: recipients and touched files.
pub(super) async fn search_index_messages(
    conn: &mut Conn,
    news: &[(Derivable, MessageMeta)],
) -> Result<()> {
    if news.is_empty() {
        return Ok(());
    }
    // The text itself is indexed once per message, in message_text (search_index_text), which
    // the series search reads on PostgreSQL too; SQLite also keeps it per series (series_fts).
    // Recipients: distinct lowercased `name <email>` texts, then (message, kind, address) rows.
    let mut wanted: Vec<(i64, &'static str, String)> = Vec::new();
    for (d, _) in news {
        let p = &d.parsed;
        for (kind, list) in [("to", &p.to), ("cc", &p.cc)] {
            for a in list.iter() {
                wanted.push((d.raw_id, kind, address_text(&a.name, &a.email)));
            }
        }
    }
    let mut texts: Vec<&str> = wanted.iter().map(|(_, _, t)| t.as_str()).collect();
    texts.sort_unstable();
    texts.dedup();
    let mut ids: HashMap<String, i64> = HashMap::new();
    for chunk in texts.chunks(INSERT_ROWS) {
        let mut qb = QueryBuilder::<Db>::new("INSERT INTO search_addresses (text) ");
        qb.push_values(chunk, |mut b, t| {
            b.push_bind(*t);
        });
        qb.push(" ON CONFLICT (text) DO NOTHING");
        qb.build().execute(&mut *conn).await.ctx("indexing recipients")?;
        let mut qb =
            QueryBuilder::<Db>::new("SELECT id, text FROM search_addresses WHERE text IN (");
        let mut sep = qb.separated(", ");
        for t in chunk {
            sep.push_bind(*t);
        }
        qb.push(")");
        for r in qb.build().fetch_all(&mut *conn).await.ctx("indexing recipients")? {
            ids.insert(get(&r, 1, "indexing recipients")?, get(&r, 0, "indexing recipients")?);
        }
    }
    let mut rows: Vec<(i64, &str, i64)> =
        wanted.iter().filter_map(|(m, k, t)| ids.get(t).map(|id| (*m, *k, *id))).collect();
    rows.sort_unstable();
    rows.dedup();
    for chunk in rows.chunks(INSERT_ROWS) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO message_addresses (message_id, kind, address_id) ",
        );
        qb.push_values(chunk, |mut b, (m, k, a)| {
            b.push_bind(*m).push_bind(*k).push_bind(*a);
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().execute(&mut *conn).await.ctx("indexing recipients")?;
    }
    // Files: new and old paths.
    let mut files: Vec<(i64, &str)> = Vec::new();
    for (d, _) in news {
        if let Some(diff) = &d.parsed.diff {
            for f in &diff.files {
                files.push((d.raw_id, f.path.as_str()));
                if let Some(old) = &f.old_path {
                    files.push((d.raw_id, old.as_str()));
                }
            }
        }
    }
    files.sort_unstable();
    files.dedup();
    for chunk in files.chunks(INSERT_ROWS) {
        let mut qb = QueryBuilder::<Db>::new("INSERT INTO message_files (message_id, path) ");
        qb.push_values(chunk, |mut b, (m, path)| {
            b.push_bind(*m).push_bind(*path);
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().execute(&mut *conn).await.ctx("indexing touched files")?;
    }
    Ok(())
}

pub(super) fn address_text(name: &str, email: &str) -> String {
    let (name, email) = (name.trim(), email.trim());
    if name.is_empty() {
        format!("<{}>", email.to_lowercase())
    } else {
        format!("{} <{}>", name.to_lowercase(), email.to_lowercase())
    }
}

/// What the search keeps of one series: the trailers given to it (lowercased tag, person) and
/// whether every patch has a Reviewed-by or Acked-by; what sql/approvals.rs keeps: the
/// trailers per patch, and the Acked-by/Reviewed-by/Tested-by counts.
#[derive(Clone, Default)]
pub(super) struct SeriesFacts {
    pub(super) trailers: Vec<(String, String)>,
    pub(super) reviewed: bool,
    pub(super) given: Vec<GivenTrailer>,
    pub(super) reviews: ReviewCounts,
}

/// Collects a series' trailers b4's way (the patches' own and those of replies, a reply to the
/// cover letter counting for every patch) from the metas of its thread.
pub(super) fn series_facts(
    s: &quire_series::Series,
    members: &[(&str, Role)],
    meta_of: &HashMap<&str, &MessageMeta>,
) -> SeriesFacts {
    let thread: Vec<MessageMeta> =
        members.iter().filter_map(|(m, _)| meta_of.get(m).map(|x| (*x).clone())).collect();
    let collected = quire_series::collect_trailers(s, &thread, &[]);
    let mut trailers = Vec::new();
    let mut reviewed_patches = HashSet::new();
    let (given, reviews) = given_trailers(s, meta_of, &collected);
    for (n, list) in &collected {
        for c in list {
            let tag = c.trailer.tag.to_ascii_lowercase();
            if tag == "reviewed-by" || tag == "acked-by" {
                reviewed_patches.insert(*n);
            }
            let person = match &c.trailer.person {
                Some(a) => address_text(&a.name, &a.email),
                None => c.trailer.value.to_lowercase(),
            };
            trailers.push((tag, person));
        }
    }
    trailers.sort_unstable();
    trailers.dedup();
    let reviewed =
        !s.patches.is_empty() && s.patches.iter().all(|(n, _)| reviewed_patches.contains(n));
    SeriesFacts { trailers, reviewed, given, reviews }
}

/// Replaces the search rows of the series in `replaced` (ids before this assembly; those that
/// are gone just lose them) with `facts` of the series as assembled now.
pub(super) async fn search_index_series(
    conn: &mut Conn,
    replaced: &[i64],
    facts: &[(i64, SeriesFacts)],
) -> Result<()> {
    let what = "indexing series trailers";
    let mut ids: Vec<i64> =
        replaced.iter().copied().chain(facts.iter().map(|(id, _)| *id)).collect();
    ids.sort_unstable();
    ids.dedup();
    execute_in(conn, "DELETE FROM series_trailers WHERE series_id IN", &ids, what).await?;
    execute_in(conn, "DELETE FROM series_reviewed WHERE series_id IN", &ids, what).await?;
    let rows: Vec<(i64, &str, &str)> = facts
        .iter()
        .flat_map(|(id, f)| f.trailers.iter().map(move |(t, p)| (*id, t.as_str(), p.as_str())))
        .collect();
    for chunk in rows.chunks(INSERT_ROWS) {
        let mut qb =
            QueryBuilder::<Db>::new("INSERT INTO series_trailers (series_id, tag, person) ");
        qb.push_values(chunk, |mut b, (id, t, p)| {
            b.push_bind(*id).push_bind(*t).push_bind(*p);
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().execute(&mut *conn).await.ctx(what)?;
    }
    let reviewed: Vec<i64> = facts.iter().filter(|(_, f)| f.reviewed).map(|(id, _)| *id).collect();
    for chunk in reviewed.chunks(INSERT_ROWS) {
        let mut qb = QueryBuilder::<Db>::new("INSERT INTO series_reviewed (series_id) ");
        qb.push_values(chunk, |mut b, id| {
            b.push_bind(*id);
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().execute(&mut *conn).await.ctx(what)?;
    }
    Ok(())
}

/// SQLite: the own messages (cover letter and patches) of the series in `ids` as stored, read
/// before an assembly rewrites their members, so that [`search_index_series_text`] rewrites
/// the text of only the series whose own messages changed (a reply changes none).
pub(super) async fn own_members(conn: &mut Conn, ids: &[i64]) -> Result<HashMap<i64, Vec<i64>>> {
    let what = "reading the series' own messages";
    if PG {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT sm.series_id, sm.message_id FROM series_members sm WHERE {OWN_MEMBER} AND sm.series_id IN"
    );
    let rows = fetch_in(conn, &sql, "", ids, what).await?;
    let pairs = rows
        .iter()
        .map(|r| Ok((get(r, 0, what)?, get(r, 1, what)?)))
        .collect::<Result<Vec<(i64, i64)>>>()?;
    Ok(messages_by_series(pairs))
}

/// SQLite: keeps `series_fts` (migration 0017: the subjects and bodies of a series' own
/// messages, rowid = series id) in step with an assembly: `before` is [`own_members`] of the
/// series replaced, `members` the (series, message, role) rows written now. Series whose own
/// messages changed get their row written again from the stored messages; series left with
/// none (gone) lose it.
pub(super) async fn search_index_series_text(
    conn: &mut Conn,
    before: &HashMap<i64, Vec<i64>>,
    members: &[(i64, i64, Role)],
) -> Result<()> {
    if PG {
        return Ok(());
    }
    let what = "indexing series text";
    let now = messages_by_series(
        members.iter().filter(|(_, _, role)| *role != Role::Reply).map(|(s, m, _)| (*s, *m)),
    );
    let changed: Vec<i64> =
        now.iter().filter(|(id, own)| before.get(*id) != Some(*own)).map(|(id, _)| *id).collect();
    let stale: Vec<i64> =
        before.iter().filter(|(id, own)| now.get(*id) != Some(*own)).map(|(id, _)| *id).collect();
    execute_in(conn, "DELETE FROM series_fts WHERE rowid IN", &stale, what).await?;
    let insert =
        format!("INSERT INTO series_fts (rowid, subject, body) {SERIES_TEXT} AND sm.series_id IN");
    fetch_in(conn, &insert, "GROUP BY sm.series_id", &changed, what).await?;
    Ok(())
}

/// Whether a newer revision of the series row `s` is stored (`SUPERSEDED_BY IS NOT NULL`).
pub(super) const OBSOLETE: &str = "EXISTS (SELECT 1 FROM series s2 WHERE s2.project_id = s.project_id \
     AND s2.revision_hash = s.revision_hash AND s2.revision_key = s.revision_key \
     AND (s2.version > s.version OR (s2.version = s.version AND s2.date > s.date)))";

/// Rebuilds the series-level search rows (migration 0011) of the series in `ids` (those of a
/// neighbourhood before its assembly, gone or not, and after), once the series, their members
/// and trailers are stored. `obsolete` is recomputed for every revision of the series touched:
/// a new revision makes the older ones obsolete, a revision gone may make one current again.
pub(super) async fn search_index_series_rows(conn: &mut Conn, ids: &[i64]) -> Result<()> {
    let what = "indexing series for the search";
    if ids.is_empty() {
        return Ok(());
    }
    let mut groups: Vec<(i64, i64)> = Vec::new();
    for sql in [
        "SELECT project_id, revision_hash FROM series_search WHERE series_id IN",
        "SELECT project_id, revision_hash FROM series WHERE id IN",
    ] {
        for r in fetch_in(conn, sql, "", ids, what).await? {
            groups.push((get(&r, 0, what)?, get(&r, 1, what)?));
        }
    }
    groups.sort_unstable();
    groups.dedup();
    for table in ["series_search", "series_files", "series_addresses"] {
        execute_in(conn, &format!("DELETE FROM {table} WHERE series_id IN"), ids, what).await?;
    }
    execute_in(
        conn,
        "INSERT INTO series_search (date, series_id, project_id, head_id, version, revision_hash, submitter_name, \
         submitter_email, complete, obsolete, reviewed, trailers, replies, is_rfc, is_pull) \
         SELECT s.date, s.id, s.project_id, s.head_id, s.version, s.revision_hash, LOWER(s.submitter_name), \
         LOWER(s.submitter_email), s.complete, FALSE, \
         EXISTS (SELECT 1 FROM series_reviewed r WHERE r.series_id = s.id), \
         EXISTS (SELECT 1 FROM series_trailers t WHERE t.series_id = s.id), \
         s.reply_count > 0, s.is_rfc, s.is_pull FROM series s WHERE s.id IN",
        ids,
        what,
    )
    .await?;
    execute_in(
        conn,
        "INSERT INTO series_files (path, series_id) SELECT DISTINCT f.path, sm.series_id FROM series_members sm \
         JOIN message_files f ON f.message_id = sm.message_id WHERE sm.series_id IN",
        ids,
        what,
    )
    .await?;
    execute_in(
        conn,
        "INSERT INTO series_addresses (address_id, kind, series_id) SELECT DISTINCT ma.address_id, ma.kind, sm.series_id \
         FROM series_members sm JOIN message_addresses ma ON ma.message_id = sm.message_id \
         WHERE sm.role <> 'reply' AND sm.series_id IN",
        ids,
        what,
    )
    .await?;
    for chunk in groups.chunks(IN_CHUNK / 2) {
        let mut qb = QueryBuilder::<Db>::new("UPDATE series_search SET obsolete = (SELECT ");
        qb.push(OBSOLETE).push(" FROM series s WHERE s.id = series_search.series_id) WHERE series_id IN (SELECT g.series_id FROM (VALUES ");
        let mut sep = qb.separated(", ");
        for (project, hash) in chunk {
            sep.push("(")
                .push_bind_unseparated(*project)
                .push_unseparated(", ")
                .push_bind_unseparated(*hash)
                .push_unseparated(")");
        }
        // Joined, not `(a, b) IN (VALUES ...)`: SQLite would scan every row for that.
        qb.push(") AS v JOIN series_search g ON g.project_id = v.column1 AND g.revision_hash = v.column2)");
        qb.build().execute(&mut *conn).await.ctx(what)?;
    }
    Ok(())
}

/// Empties every search table (reindex rebuilds them with the messages and series).
pub(super) async fn search_clear(conn: &mut Conn) -> Result<()> {
    if !PG {
        for table in ["series_fts", "message_text"] {
            sqlx::query(&format!("INSERT INTO {table} ({table}) VALUES ('delete-all')"))
                .execute(&mut *conn)
                .await
                .ctx("dropping the full-text index")?;
        }
    }
    for table in [
        "series_approvals",
        "series_awaiting",
        "series_reviews",
        "message_addresses",
        "search_addresses",
        "message_files",
        "series_trailers",
        "series_reviewed",
        "series_search",
        "series_files",
        "series_addresses",
        "message_text",
        "message_trailers",
    ] {
        if table == "message_text" && !PG {
            continue;
        }
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *conn)
            .await
            .ctx("dropping search data")?;
    }
    Ok(())
}

pub(super) fn bad(message: impl Into<String>) -> Error {
    Error::BadQuery(message.into())
}

/// `%value%` for LIKE, lowercased, wildcards escaped (with `ESCAPE '\'`).
pub(super) fn contains_pattern(v: &str) -> String {
    like_pattern(v.trim())
}

/// A phrase for FTS5: `"..."` (quotes doubled). A word that the tokenizer splits
/// (`io_uring`) is then a phrase of its parts.
pub(super) fn fts_phrase(v: &str) -> String {
    format!("\"{}\"", clean(v).replace('"', "\"\""))
}

/// Words or a phrase in the subject and body (`column` None), or in one of them, of a
/// series' own messages. SQLite matches the series' text row (series_fts, migration 0017);
/// PostgreSQL the GIN-indexed tsvector of each message (message_text, migration 0050).
pub(super) fn push_text(qb: &mut QueryBuilder<'_, Db>, value: &str, column: Option<&str>) {
    // Words said in review replies count too (issue 26), except for the subject: a reply's
    // unquoted text, from the message index of migration 0050.
    let replies = column != Some("subject");
    if replies {
        qb.push("(");
    }
    push_own_text(qb, value, column);
    if replies {
        qb.push(" OR ");
        push_reply_text(qb, value);
        qb.push(")");
    }
}

/// Series with a review reply whose unquoted text (`nq`) holds the words of `value`.
pub(super) fn push_reply_text(qb: &mut QueryBuilder<'_, Db>, value: &str) {
    let Some(m) = crate::message_text::Match::new(&["nq"], value) else {
        qb.push("1 = 0");
        return;
    };
    if PG {
        qb.push("ss.series_id IN (SELECT sm.series_id FROM message_text mt JOIN series_members sm ON sm.message_id = mt.message_id \
                 WHERE sm.role = 'reply' AND mt.tsv @@ CAST(");
        qb.push_bind(m.tsquery()).push(" AS tsquery))");
    } else {
        // `+`: tested while the search rows are walked in date order, as the own text is.
        qb.push("+ss.series_id IN (SELECT sm.series_id FROM series_members sm WHERE sm.role = 'reply' AND sm.message_id IN \
                 (SELECT rowid FROM message_text WHERE message_text MATCH ");
        qb.push_bind(m.fts5()).push("))");
    }
}

/// The words of `value` in the series' own messages (cover letter and patches).
pub(super) fn push_own_text(qb: &mut QueryBuilder<'_, Db>, value: &str, column: Option<&str>) {
    if PG {
        // The message index of migration 0050 (one tsvector per message, lexemes `part:word`):
        // the subject is `s`, the body its unquoted and quoted text.
        let parts: &'static [&'static str] = match column {
            Some("subject") => &["s"],
            Some(_) => &["nq", "q"],
            None => &["s", "nq", "q"],
        };
        // Without the text below a diff: SQLite's series_fts holds `messages.body`, which has
        // none of it either.
        let Some(m) = crate::message_text::Match::new(parts, value).map(|m| m.without_tail())
        else {
            qb.push("1 = 0");
            return;
        };
        qb.push("ss.series_id IN (SELECT sm.series_id FROM message_text mt JOIN series_members sm ON sm.message_id = mt.message_id WHERE ");
        qb.push(OWN_MEMBER).push(" AND mt.tsv @@ CAST(");
        qb.push_bind(m.tsquery()).push(" AS tsquery))");
    } else {
        let q = match column {
            Some(c) => format!("{c} : {}", fts_phrase(value)),
            None => fts_phrase(value),
        };
        // `+`: not an index lookup per matching series (then a sort of all of them: 31 ms for
        // a word in 57k of 121k series), but a test while the search rows are walked in date
        // order, which stops at the cap (13 ms; 5 ms when the word is nowhere, on 1M messages).
        qb.push("+ss.series_id IN (SELECT rowid FROM series_fts WHERE series_fts MATCH ")
            .push_bind(q)
            .push(")");
    }
}

pub(super) fn push_addresses(qb: &mut QueryBuilder<'_, Db>, kinds: &str, value: &str) {
    qb.push("ss.series_id IN (SELECT sa.series_id FROM search_addresses a JOIN series_addresses sa ON sa.address_id = a.id WHERE ");
    qb.push("sa.kind IN ").push(kinds);
    qb.push(" AND a.text LIKE ").push_bind(contains_pattern(value)).push(" ESCAPE '\\')");
}

pub(super) fn push_trailer(qb: &mut QueryBuilder<'_, Db>, tag: &str, value: &str) {
    qb.push("ss.series_id IN (SELECT st.series_id FROM series_trailers st WHERE st.tag = ")
        .push_bind(tag.to_ascii_lowercase());
    qb.push(" AND st.person LIKE ").push_bind(contains_pattern(value)).push(" ESCAPE '\\')");
}

pub(super) fn push_apply_state(qb: &mut QueryBuilder<'_, Db>, state: &'static str) {
    qb.push("ss.head_id IN (SELECT ar.head_id FROM apply_results ar WHERE ar.state = ")
        .push_bind(state)
        .push(")");
}

/// Every patch of the series was found upstream: series with a patch found whose patches were
/// all found (from the patches found, not from every series).
/// (CROSS JOIN: SQLite keeps the order written, else it walks every member to group them.)
pub(super) const MERGED: &str = "ss.series_id IN (SELECT sm.series_id FROM merged_patches mp CROSS JOIN series_members sm \
     WHERE sm.message_id = mp.message_id AND sm.role = 'patch' GROUP BY sm.series_id \
     HAVING COUNT(*) = (SELECT COUNT(*) FROM series_members x WHERE x.series_id = sm.series_id AND x.role = 'patch'))";

pub(super) fn push_is(qb: &mut QueryBuilder<'_, Db>, what: &str) -> Result<()> {
    match what {
        "complete" => {
            qb.push("ss.complete");
        }
        "incomplete" => {
            qb.push("NOT ss.complete");
        }
        "reviewed" => {
            qb.push("ss.reviewed");
        }
        "obsolete" => {
            qb.push("ss.obsolete");
        }
        "applied" => push_apply_state(qb, "applied"),
        "failed" => push_apply_state(qb, "failed"),
        "merged" => {
            qb.push(MERGED);
        }
        "pull" => {
            qb.push("ss.is_pull");
        }
        "approved" => {
            qb.push(
                "ss.series_id IN (SELECT ap.series_id FROM series_approvals ap WHERE ap.approved)",
            );
        }
        "rfc" => {
            qb.push("ss.is_rfc");
        }
        other => return Err(bad(format!("unknown `is:{other}`"))),
    }
    Ok(())
}

pub(super) fn push_term(qb: &mut QueryBuilder<'_, Db>, t: &Term, now: i64) -> Result<()> {
    match t {
        Term::Text { value, .. } => push_text(qb, value, None),
        Term::Field { field, value } => match field {
            Field::SubjectOrBody | Field::NonQuoted | Field::Quoted => push_text(qb, value, None),
            Field::Body => push_text(qb, value, Some("body")),
            Field::Subject => push_text(qb, value, Some("subject")),
            Field::From => {
                let pat = contains_pattern(value);
                qb.push("(ss.submitter_name LIKE ")
                    .push_bind(pat.clone())
                    .push(" ESCAPE '\\' OR ss.submitter_email LIKE ");
                qb.push_bind(pat).push(" ESCAPE '\\')");
            }
            Field::To => push_addresses(qb, "('to')", value),
            Field::Cc => push_addresses(qb, "('cc')", value),
            Field::Recipients => push_addresses(qb, "('to', 'cc')", value),
            Field::MessageId => {
                let mid =
                    clean(value.trim().trim_start_matches('<').trim_end_matches('>')).into_owned();
                qb.push("ss.series_id IN (SELECT sm.series_id FROM messages m JOIN series_members sm ON sm.message_id = m.id WHERE m.mid_hash = ");
                qb.push_bind(text_hash(&mid)).push(" AND m.message_id = ").push_bind(mid).push(")");
            }
            Field::PatchId => {
                qb.push("ss.series_id IN (SELECT sm.series_id FROM messages m JOIN series_members sm ON sm.message_id = m.id WHERE m.patch_id = ");
                qb.push_bind(value.trim().to_ascii_lowercase()).push(")");
            }
            Field::Project => {
                qb.push("ss.project_id IN (SELECT id FROM projects WHERE name = ")
                    .push_bind(clean(value).into_owned())
                    .push(")");
            }
            Field::File => {
                let prefix = clean(value.trim().trim_start_matches("a/").trim_start_matches("b/"))
                    .into_owned();
                let high = format!("{prefix}\u{10FFFF}");
                qb.push(
                    "ss.series_id IN (SELECT sf.series_id FROM series_files sf WHERE sf.path >= ",
                );
                qb.push_bind(prefix).push(" AND sf.path < ").push_bind(high).push(")");
            }
            Field::Addresses => {
                let pat = contains_pattern(value);
                qb.push("(ss.submitter_name LIKE ")
                    .push_bind(pat.clone())
                    .push(" ESCAPE '\\' OR ss.submitter_email LIKE ");
                qb.push_bind(pat).push(" ESCAPE '\\' OR ");
                push_addresses(qb, "('to', 'cc')", value);
                qb.push(")");
            }
            Field::ToOrCc => push_addresses(qb, "('to', 'cc')", value),
            Field::Awaiting => {
                qb.push("ss.series_id IN (SELECT aw.series_id FROM series_awaiting aw WHERE aw.person LIKE ");
                qb.push_bind(contains_pattern(value)).push(" ESCAPE '\\')");
            }
            Field::DiffRemoved
            | Field::DiffAdded
            | Field::DiffContext
            | Field::DiffHunkHeader
            | Field::DiffPreImage
            | Field::DiffPostImage => {
                return Err(bad(
                    "`dfa:`/`dfb:` (diff lines, and `dfctx:` `dfhh:` `dfpre:` `dfpost:`) are for the public-inbox search; the series search has `file:`",
                ));
            }
            Field::ListId => {
                return Err(bad(
                    "`l:` (List-Id) is for the public-inbox search; the series search has `project:`",
                ));
            }
        },
        Term::Trailer { tag, value } => push_trailer(qb, tag, value),
        Term::Version(n) => {
            qb.push("ss.version = ").push_bind(i64::from(*n));
        }
        Term::Age { younger, seconds } => {
            let since = now.saturating_sub(*seconds);
            qb.push(if *younger { "ss.date >= " } else { "ss.date < " }).push_bind(since);
        }
        Term::Date { after, before } => {
            qb.push("(1 = 1");
            if let Some(a) = after {
                qb.push(" AND ss.date >= ").push_bind(a.saturating_mul(86_400));
            }
            if let Some(b) = before {
                qb.push(" AND ss.date < ").push_bind(b.saturating_mul(86_400));
            }
            qb.push(")");
        }
        Term::Is(what) => push_is(qb, what)?,
        Term::Has(what) => match what.as_str() {
            "replies" => {
                qb.push("ss.replies");
            }
            "trailers" => {
                qb.push("ss.trailers");
            }
            other => return Err(bad(format!("unknown `has:{other}`"))),
        },
        Term::State(name) => match name.as_str() {
            "new" => {
                qb.push("(ss.complete AND NOT ss.obsolete AND ss.head_id NOT IN (SELECT head_id FROM apply_results) AND NOT ");
                qb.push(MERGED).push(")");
            }
            // Waiting for the worker: an apply job queued or running, no result yet (nothing
            // stores a "pending" apply result).
            "pending" => {
                qb.push("(ss.head_id IN (SELECT j.target_id FROM jobs j WHERE j.kind = 'apply' AND j.state IN ('queued', 'running')) \
                         AND ss.head_id NOT IN (SELECT head_id FROM apply_results))");
            }
            "incomplete" | "obsolete" | "applied" | "failed" | "merged" => push_is(qb, name)?,
            other => {
                return Err(bad(format!(
                    "unknown `state:{other}`: expected one of {}",
                    quire_query::STATE_VALUES.join(", ")
                )));
            }
        },
        Term::Check { name, result } => {
            qb.push("ss.series_id IN (SELECT sm.series_id FROM checks c JOIN series_members sm ON sm.message_id = c.target_id WHERE c.name = ");
            qb.push_bind(clean(name).into_owned())
                .push(" AND c.state = ")
                .push_bind(result.clone())
                .push(")");
        }
    }
    Ok(())
}

pub(super) fn push_query(qb: &mut QueryBuilder<'_, Db>, q: &Query, now: i64) -> Result<()> {
    match q {
        Query::Term(t) => push_term(qb, t, now),
        Query::Not(x) => {
            qb.push("NOT (");
            push_query(qb, x, now)?;
            qb.push(")");
            Ok(())
        }
        Query::And(v) | Query::Or(v) => {
            let op = if matches!(q, Query::And(_)) { " AND " } else { " OR " };
            qb.push("(");
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    qb.push(op);
                }
                push_query(qb, x, now)?;
            }
            qb.push(")");
            Ok(())
        }
    }
}

pub(super) fn push_search_where(
    qb: &mut QueryBuilder<'_, Db>,
    project: Option<&str>,
    q: &Query,
    now: i64,
) -> Result<()> {
    qb.push(" WHERE ");
    if let Some(project) = project {
        // SQLite: `+`, else the planner takes the project's rows from an index and sorts them
        // all by date, instead of walking the search rows in date order up to the cap.
        qb.push(if PG { "ss.project_id IN" } else { "+ss.project_id IN" });
        qb.push(" (SELECT id FROM projects WHERE name = ")
            .push_bind(clean(project).into_owned())
            .push(") AND ");
    }
    push_query(qb, q, now)
}

pub(crate) async fn series_search(
    pool: &DbPool,
    project: Option<&str>,
    q: &Query,
    page: u32,
    per_page: u32,
) -> Result<Page<SeriesSummary>> {
    series_search_capped(pool, project, q, page, per_page, crate::search::SEARCH_TOTAL_CAP).await
}

/// The search with the total counted up to `cap` (or to the end of the asked page, if
/// further): one statement finds the newest `cap + 1` matching series in date order, the page
/// is cut from them and the total is their number (`total_capped` when there were more).
pub(crate) async fn series_search_capped(
    pool: &DbPool,
    project: Option<&str>,
    q: &Query,
    page: u32,
    per_page: u32,
    cap: u64,
) -> Result<Page<SeriesSummary>> {
    let terms = q.terms();
    if terms > MAX_SEARCH_TERMS {
        return Err(bad(format!(
            "the query has {terms} terms; the series search reads at most {MAX_SEARCH_TERMS}"
        )));
    }
    let per_page = per_page.clamp(1, 1000);
    let page = page.max(1);
    let offset = i64::from(page - 1) * i64::from(per_page);
    let cap = i64::try_from(cap).unwrap_or(i64::MAX).max(offset + i64::from(per_page));
    let now = now();
    let mut list = QueryBuilder::<Db>::new(
        "WITH found AS MATERIALIZED (SELECT ss.series_id AS id, ss.date AS date FROM series_search ss",
    );
    push_search_where(&mut list, project, q, now)?;
    list.push(" ORDER BY ss.date DESC, ss.series_id DESC LIMIT ").push_bind(cap + 1).push(") ");
    let select = series_select();
    let (columns, _) = select
        .split_once(" FROM series s ")
        .ok_or_else(|| Error::Invalid("series columns".into()))?;
    list.push(columns);
    list.push(", (SELECT COUNT(*) FROM found) FROM found f JOIN series s ON s.id = f.id JOIN projects p ON p.id = s.project_id");
    list.push(" ORDER BY f.date DESC, f.id DESC LIMIT ")
        .push_bind(i64::from(per_page))
        .push(" OFFSET ")
        .push_bind(offset);
    let rows = list.build().fetch_all(pool).await.ctx_query("searching series")?;
    let found: i64 = match rows.first() {
        Some(r) => get(r, SERIES_COLUMNS, "searching series")?,
        None if page == 1 => 0,
        None => {
            // Past the last page: the rows carry no count.
            let mut count = QueryBuilder::<Db>::new(
                "SELECT COUNT(*) FROM (SELECT ss.series_id FROM series_search ss",
            );
            push_search_where(&mut count, project, q, now)?;
            count.push(" LIMIT ").push_bind(cap + 1).push(") found");
            get(
                &count.build().fetch_one(pool).await.ctx_query("counting found series")?,
                0,
                "counting found series",
            )?
        }
    };
    let items = rows.iter().map(|r| series_row(r).map(|s| s.summary)).collect::<Result<_>>()?;
    let total_capped = found > cap;
    Ok(Page { items, total: to_u64(found.min(cap)), total_capped, page, per_page })
}
