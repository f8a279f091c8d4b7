//! The public-inbox search's SQL (`crate::inbox` holds its rules): threads, matches of a
//! compiled query against the message index, and the mails themselves.
//!
//! Compiled once per database (`crate::sqlite`, `crate::pg`; declared in lib.rs).

use super::*;
use crate::inbox::*;

/// ` AND m is a message of project` when a project is given: one lookup in
/// message_projects' key per row (see [`search`] for why not `m.id IN (...)`).
fn push_project(qb: &mut QueryBuilder<'_, Db>, project: Option<&str>) {
    if let Some(p) = project {
        qb.push(
            " AND EXISTS (SELECT 1 FROM message_projects mp JOIN projects p ON p.id = mp.project_id WHERE mp.message_id = m.id AND p.name = ",
        );
        qb.push_bind(clean(p).into_owned());
        qb.push(")");
    }
}

/// The thread key of a stored message (within `project` when given).
pub(crate) async fn thread_key(
    pool: &DbPool,
    project: Option<&str>,
    message_id: &str,
) -> Result<Option<String>> {
    let mid = bare(message_id);
    let mut qb = QueryBuilder::<Db>::new("SELECT m.thread_key FROM messages m WHERE m.mid_hash = ");
    qb.push_bind(text_hash(&mid));
    qb.push(" AND m.message_id = ");
    qb.push_bind(mid);
    push_project(&mut qb, project);
    let row = qb.build().fetch_optional(pool).await.ctx("looking up a message's thread")?;
    row.map(|r| get(&r, 0, "looking up a message's thread")).transpose()
}

/// The messages of the threads `keys` (within `project`), oldest first: row id,
/// Message-ID, date and, with `with_raw`, the compressed raw bytes.
async fn thread_rows(
    pool: &DbPool,
    project: Option<&str>,
    keys: &[String],
    with_raw: bool,
    limit: usize,
) -> Result<Vec<(i64, String, Option<i64>, Option<Vec<u8>>)>> {
    let what = "reading a thread";
    let mut out = Vec::new();
    for key in keys {
        if out.len() >= limit {
            break;
        }
        let cols = if with_raw { "r.data" } else { "NULL" };
        let mut qb = QueryBuilder::<Db>::new(format!(
            "SELECT m.id, m.message_id, m.date, {cols} FROM messages m JOIN raw_messages r ON r.id = m.id WHERE m.thread_hash = "
        ));
        qb.push_bind(text_hash(key));
        qb.push(" AND m.thread_key = ");
        qb.push_bind(key.clone());
        push_project(&mut qb, project);
        // NULL dates sort first on both backends (PostgreSQL would put them last).
        qb.push(" ORDER BY COALESCE(m.date, 0), m.id LIMIT ");
        qb.push_bind(i64::try_from(limit - out.len()).unwrap_or(i64::MAX));
        for r in qb.build().fetch_all(pool).await.ctx(what)? {
            out.push((get(&r, 0, what)?, get(&r, 1, what)?, get(&r, 2, what)?, get(&r, 3, what)?));
        }
    }
    Ok(out)
}

fn decompress(id: i64, data: Option<Vec<u8>>) -> Result<Vec<u8>> {
    let data = data.ok_or_else(|| corrupt(format!("raw message {id}"), "missing"))?;
    zstd::decode_all(data.as_slice()).map_err(|e| corrupt(format!("raw message {id}"), e))
}

pub(crate) async fn thread(
    pool: &DbPool,
    project: Option<&str>,
    message_id: &str,
) -> Result<Option<Vec<InboxMail>>> {
    let Some(key) = thread_key(pool, project, message_id).await? else { return Ok(None) };
    let rows = thread_rows(pool, project, &[key], true, MAX_EXPANDED).await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, message_id, date, data) in rows {
        out.push(InboxMail { message_id, date, raw: decompress(id, data)? });
    }
    Ok(Some(out))
}

pub(crate) async fn thread_ids(
    pool: &DbPool,
    project: Option<&str>,
    message_id: &str,
) -> Result<Vec<String>> {
    let Some(key) = thread_key(pool, project, message_id).await? else { return Ok(Vec::new()) };
    let rows = thread_rows(pool, project, &[key], false, MAX_EXPANDED).await?;
    Ok(rows.into_iter().map(|(_, id, _, _)| id).collect())
}

/// Appends `q` as one SQL condition on the message row `m`. `top`: `q` is the
/// whole WHERE clause.
fn push_query(qb: &mut QueryBuilder<'_, Db>, q: &Query, now: i64, top: bool) {
    match q {
        Query::And(parts) => push_group(qb, parts, true, now, top),
        Query::Or(parts) => push_group(qb, parts, false, now, false),
        Query::Not(inner) => {
            qb.push("NOT (");
            push_query(qb, inner, now, false);
            qb.push(")");
        }
        Query::Term(t) => push_lookup(qb, &lookup(t, now)),
    }
}

/// The terms of an AND (`and`) or OR group: its word terms as one lookup of the
/// message index (`s:a s:b ... ` 500 times is one index query, not 500), then
/// the others.
fn push_group(qb: &mut QueryBuilder<'_, Db>, parts: &[Query], and: bool, now: i64, top: bool) {
    let mut words: Vec<Match> = Vec::new();
    let mut rest: Vec<&Query> = Vec::new();
    for p in parts {
        match p {
            Query::Term(t) => match lookup(t, now) {
                Lookup::Words(m) => words.push(m),
                _ => rest.push(p),
            },
            _ => rest.push(p),
        }
    }
    let joiner = if and { " AND " } else { " OR " };
    qb.push("(");
    let mut first = true;
    if !words.is_empty() {
        push_words(qb, &words, and);
        first = false;
    }
    // PostgreSQL makes each `IN (subquery)` ANDed at the top of the WHERE clause
    // a join and searches their orders: past a few, planning grows without bound
    // (500 trailer terms ANDed planned for minutes). Past the fourth, each is a
    // test the planner leaves as it is (a hashed subplan, evaluated once).
    let mut joins = usize::from(!words.is_empty());
    for p in rest {
        if !first {
            qb.push(joiner);
        }
        first = false;
        let sublink = matches!(p, Query::Term(Term::Trailer { .. }));
        joins += usize::from(sublink);
        if PG && top && and && joins > 4 {
            qb.push("((");
            push_query(qb, p, now, false);
            qb.push(") IS TRUE)");
        } else {
            push_query(qb, p, now, false);
        }
    }
    qb.push(")");
}

/// One lookup of the message index for all of `words`, ANDed (`and`) or ORed.
fn push_words(qb: &mut QueryBuilder<'_, Db>, words: &[Match], and: bool) {
    if PG {
        let op = if and { " & " } else { " | " };
        let q: Vec<String> = words.iter().map(|m| format!("({})", m.tsquery())).collect();
        qb.push("m.id IN (SELECT mt.message_id FROM message_text mt WHERE mt.tsv @@ CAST(");
        qb.push_bind(q.join(op));
        qb.push(" AS tsquery))");
    } else {
        let op = if and { " AND " } else { " OR " };
        let q: Vec<String> = words.iter().map(|m| format!("({})", m.fts5())).collect();
        qb.push("m.id IN (SELECT rowid FROM message_text WHERE message_text MATCH ");
        qb.push_bind(q.join(op));
        qb.push(")");
    }
}

fn push_range(qb: &mut QueryBuilder<'_, Db>, column: &str, from: Option<i64>, to: Option<i64>) {
    qb.push(format!("({column} IS NOT NULL"));
    if let Some(f) = from {
        qb.push(format!(" AND {column} >= "));
        qb.push_bind(f);
    }
    if let Some(t) = to {
        qb.push(format!(" AND {column} < "));
        qb.push_bind(t);
    }
    qb.push(")");
}

fn push_lookup(qb: &mut QueryBuilder<'_, Db>, l: &Lookup) {
    match l {
        Lookup::Words(m) => push_words(qb, std::slice::from_ref(m), true),
        Lookup::Trailer { tag, pattern } => {
            qb.push("m.id IN (SELECT tr.message_id FROM message_trailers tr WHERE tr.tag = ");
            qb.push_bind(tag.clone());
            qb.push(" AND tr.value LIKE ");
            qb.push_bind(pattern.clone());
            qb.push(" ESCAPE '\\')");
        }
        Lookup::PatchId(p) => {
            qb.push("m.patch_id = ");
            qb.push_bind(p.clone());
        }
        Lookup::MessageId(mid) => {
            qb.push("(m.mid_hash = ");
            qb.push_bind(text_hash(mid));
            qb.push(" AND m.message_id = ");
            qb.push_bind(mid.clone());
            qb.push(")");
        }
        Lookup::Date { from, to } => push_range(qb, "m.date", *from, *to),
        Lookup::Received { from, to } => push_range(qb, "m.received", *from, *to),
        Lookup::Nothing => {
            qb.push("1 = 0");
        }
    }
}

/// Raw row ids of the messages matching `plan` (within `project`, and the thread
/// `thread`), newest first, `limit` of them from `offset`; with `threads`, the
/// messages of their threads instead.
pub(crate) async fn search(
    pool: &DbPool,
    project: Option<&str>,
    thread: Option<&str>,
    plan: &Plan,
    threads: bool,
    offset: usize,
    limit: usize,
) -> Result<InboxHits> {
    let what = "searching messages";
    let now = crate::now();
    let mut qb = QueryBuilder::<Db>::new("SELECT m.id, m.thread_key FROM messages m WHERE ");
    push_query(&mut qb, &plan.query, now, true);
    if let Some(p) = project {
        // A test of each row the index found, one lookup in message_projects' key: not
        // `m.id IN (the project's messages)`, which both databases build whole before the first
        // test (a single match took 200-400 ms on 1M generated messages in one project; 0.4 ms
        // so). PostgreSQL's `IS TRUE` keeps it from becoming a join the planner may drive the
        // search with (a word found nowhere took 570 ms on 33k messages, each message's
        // tsvector tested; 38 ms so).
        qb.push(if PG { " AND (EXISTS" } else { " AND EXISTS" });
        qb.push(" (SELECT 1 FROM message_projects mp JOIN projects p ON p.id = mp.project_id WHERE mp.message_id = m.id AND p.name = ");
        qb.push_bind(clean(p).into_owned());
        qb.push(if PG { ")) IS TRUE" } else { ")" });
    }
    if let Some(key) = thread {
        qb.push(" AND m.thread_hash = ");
        qb.push_bind(text_hash(key));
        qb.push(" AND m.thread_key = ");
        qb.push_bind(key.to_string());
    }
    qb.push(" ORDER BY m.id DESC LIMIT ");
    qb.push_bind(i64::try_from(limit + 1).unwrap_or(i64::MAX));
    qb.push(" OFFSET ");
    qb.push_bind(i64::try_from(offset).unwrap_or(i64::MAX));
    let rows = qb.build().fetch_all(pool).await.ctx_query(what)?;
    let more = rows.len() > limit;
    let mut found: Vec<(i64, String)> = Vec::with_capacity(rows.len().min(limit));
    for r in rows.iter().take(limit) {
        found.push((get(r, 0, what)?, get(r, 1, what)?));
    }
    if !threads {
        return Ok(InboxHits { ids: found.into_iter().map(|(id, _)| id).collect(), offset, more });
    }
    let mut keys: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (_, key) in &found {
        if seen.insert(key.clone()) {
            keys.push(key.clone());
        }
    }
    let rows = thread_rows(pool, project, &keys, false, MAX_EXPANDED + 1).await?;
    let expanded_more = rows.len() > MAX_EXPANDED;
    let mut ids = Vec::with_capacity(rows.len().min(MAX_EXPANDED));
    let mut unique = std::collections::HashSet::new();
    for (id, ..) in rows.into_iter().take(MAX_EXPANDED) {
        if unique.insert(id) {
            ids.push(id);
        }
    }
    Ok(InboxHits { ids, offset, more: more || expanded_more })
}

/// The mails of raw row ids `ids`, in that order.
pub(crate) async fn mails(pool: &DbPool, ids: &[i64]) -> Result<Vec<InboxMail>> {
    let what = "reading matching messages";
    let mut by_id: std::collections::HashMap<i64, InboxMail> =
        std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT m.id, m.message_id, m.date, r.data FROM messages m JOIN raw_messages r ON r.id = m.id WHERE m.id IN (",
        );
        let mut sep = qb.separated(", ");
        for id in chunk {
            sep.push_bind(*id);
        }
        qb.push(")");
        for r in qb.build().fetch_all(pool).await.ctx(what)? {
            let id: i64 = get(&r, 0, what)?;
            let mail = InboxMail {
                message_id: get(&r, 1, what)?,
                date: get(&r, 2, what)?,
                raw: decompress(id, get(&r, 3, what)?)?,
            };
            by_id.insert(id, mail);
        }
    }
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}
