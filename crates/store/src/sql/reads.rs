//! Reads: series, messages, threads, raw mail and the stamps the web's page cache compares.
//!
//! Compiled once per database (`crate::sqlite`, `crate::pg`; declared in lib.rs).

use super::*;

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

pub(crate) async fn series_page_stamp(
    pool: &DbPool,
    project: &str,
    message_id: &str,
) -> Result<Option<u64>> {
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

// ---------------------------------------------------------------------------------------------
// Reads

pub(super) async fn message_row_id(conn: &mut Conn, message_id: &str) -> Result<Option<i64>> {
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
pub(crate) async fn raw_batch(
    pool: &DbPool,
    after: i64,
    limit: i64,
    project: Option<&str>,
) -> Result<Vec<(i64, Vec<u8>)>> {
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
            let raw = zstd::decode_all(data.as_slice())
                .map_err(|e| corrupt(format!("raw message {id}"), e))?;
            Ok((id, raw))
        })
        .collect()
}

pub(crate) async fn messages_count(pool: &DbPool) -> Result<u64> {
    let row = sqlx::query("SELECT COUNT(*) FROM messages")
        .fetch_one(pool)
        .await
        .ctx("counting messages")?;
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
        conflicting_duplicates: count(
            "SELECT COUNT(*) FROM raw_messages WHERE duplicate_of IS NOT NULL",
        )
        .await?,
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

pub(super) const SUPERSEDED_BY: &str = "(SELECT s2.head FROM series s2 WHERE s2.project_id = s.project_id \
     AND s2.revision_hash = s.revision_hash AND s2.revision_key = s.revision_key \
     AND (s2.version > s.version OR (s2.version = s.version AND s2.date > s.date)) \
     ORDER BY s2.version DESC, s2.date DESC, s2.id DESC LIMIT 1)";

/// The columns of `series_select()`: queries that add columns after them read those from here
/// (the search's count, the Patchwork API's submitter).
pub(super) const SERIES_COLUMNS: usize = 23;

pub(super) fn series_select() -> String {
    format!(
        "SELECT s.id, p.name, s.head, s.subject, s.name, s.version, s.total, s.complete, s.submitter_name, \
         s.submitter_email, s.date, s.is_rfc, s.is_pull, s.patch_count, s.reply_count, s.last_activity, \
         {SUPERSEDED_BY}, s.project_id, s.revision_key, s.head_id, s.cover_id, s.revision_link, s.taken \
         FROM series s JOIN projects p ON p.id = s.project_id "
    )
}

pub(super) struct SeriesRow {
    pub(super) id: i64,
    pub(super) project_id: i64,
    pub(super) revision_key: String,
    pub(super) head_id: i64,
    pub(super) cover_id: Option<i64>,
    pub(super) revision_link: Option<String>,
    pub(super) taken: Vec<(u32, String)>,
    pub(super) summary: SeriesSummary,
}

pub(super) fn series_row(r: &DbRow) -> Result<SeriesRow> {
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

pub(super) fn like_pattern(word: &str) -> String {
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

pub(crate) async fn series_list(
    pool: &DbPool,
    project: &str,
    q: &SeriesFilter,
) -> Result<Page<SeriesSummary>> {
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
        let mut c = QueryBuilder::<Db>::new(
            "SELECT COUNT(*) FROM series_search ss JOIN projects p ON p.id = ss.project_id",
        );
        c.push(" WHERE p.name = ")
            .push_bind(clean(project).into_owned())
            .push(" AND ss.obsolete = FALSE");
        c
    } else {
        let mut c = QueryBuilder::<Db>::new(
            "SELECT COUNT(*) FROM series s JOIN projects p ON p.id = s.project_id",
        );
        filters(&mut c);
        c
    };
    let total: i64 =
        get(&count.build().fetch_one(pool).await.ctx("counting series")?, 0, "counting series")?;
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
pub(super) async fn series_of_message(
    conn: &mut Conn,
    message_id: &str,
) -> Result<Option<SeriesRow>> {
    let Some(id) = message_row_id(conn, message_id).await? else { return Ok(None) };
    let sql = format!(
        "{} JOIN series_members sm ON sm.series_id = s.id WHERE sm.message_id = $1 \
         ORDER BY CASE WHEN sm.role = 'reply' THEN 1 ELSE 0 END, s.project_id LIMIT 1",
        series_select()
    );
    let row = sqlx::query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .ctx("finding the series of a message")?;
    row.map(|r| series_row(&r)).transpose()
}

/// A member of a series with what the series page needs.
pub(super) struct Member {
    pub(super) id: i64,
    pub(super) role: Role,
    pub(super) thread_key: String,
    pub(super) meta: MessageMeta,
    pub(super) diffstat: Vec<FileStat>,
    pub(super) body: String,
}

pub(super) async fn load_members(conn: &mut Conn, series_id: i64) -> Result<Vec<Member>> {
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
        let role = role_from_name(&role_text, get(&r, 2, what)?).ok_or_else(|| {
            corrupt(format!("role of message row {id} in series {series_id}"), role_text)
        })?;
        let meta: String = get(&r, 4, what)?;
        out.push(Member {
            id,
            role,
            thread_key: get(&r, 3, what)?,
            meta: serde_json::from_str(&meta)
                .map_err(|e| corrupt(format!("meta of message row {id}"), e))?,
            diffstat: json_or_default(get(&r, 5, what)?, "diffstat")?,
            body: get(&r, 6, what)?,
        });
    }
    Ok(out)
}

pub(super) fn assembled(row: &SeriesRow, members: &[Member]) -> quire_series::Series {
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
        cover_letter: members
            .iter()
            .find(|m| m.role == Role::CoverLetter)
            .map(|m| m.meta.message_id.clone()),
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

pub(super) async fn thread_metas(conn: &mut Conn, members: &[Member]) -> Result<Vec<MessageMeta>> {
    let mut keys: Vec<String> = members.iter().map(|m| m.thread_key.clone()).collect();
    keys.sort();
    keys.dedup();
    Ok(load_threads(conn, &keys).await?.into_iter().map(|n| n.meta).collect())
}

pub(super) async fn series_row_by_id(conn: &mut Conn, id: i64) -> Result<Option<SeriesRow>> {
    let sql = format!("{} WHERE s.id = $1", series_select());
    let row =
        sqlx::query(&sql).bind(id).fetch_optional(&mut *conn).await.ctx("loading a series")?;
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
    let mut targets: Vec<i64> =
        members.iter().filter(|m| !matches!(m.role, Role::Reply)).map(|m| m.id).collect();
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
            .map(|r| Revision {
                message_id: r.head,
                version: to_u32(r.version),
                date: r.date,
                subject: r.subject,
            })
            .collect(),
        cover_letter,
        patches,
        replies: s.replies,
        apply,
        checks,
        approvals,
    }))
}

pub(super) fn series_trailer(c: quire_series::CollectedTrailer) -> SeriesTrailer {
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
pub(super) async fn taken_patch(
    conn: &mut Conn,
    number: u32,
    message_id: &str,
) -> Result<Option<SeriesPatch>> {
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

pub(super) const RECORD_COLS: &str = "m.id, m.message_id, m.thread_key, m.subject, m.date, m.kind, m.in_reply_to, m.patch_id, \
     m.diffstat, m.base_commit, m.based_on, m.pull_url, m.pull_branch, m.problems, m.meta, m.body, m.diff";

pub(super) fn record_from_row(r: &DbRow) -> Result<(i64, MessageRecord)> {
    let what = "reading a message";
    let id: i64 = get(r, 0, what)?;
    let kind_text: String = get(r, 5, what)?;
    let kind = kind_from_name(&kind_text)
        .ok_or_else(|| corrupt(format!("kind of message row {id}"), kind_text))?;
    let meta: String = get(r, 14, what)?;
    let meta: MessageMeta =
        serde_json::from_str(&meta).map_err(|e| corrupt(format!("meta of message row {id}"), e))?;
    let diff: Option<Vec<u8>> = get(r, 16, what)?;
    let diff = diff
        .map(|d| {
            zstd::decode_all(d.as_slice())
                .map_err(|e| corrupt(format!("diff of message row {id}"), e))
        })
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
pub(super) async fn complete_records(
    conn: &mut Conn,
    records: &mut [(i64, MessageRecord)],
) -> Result<()> {
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
    let sql =
        format!("SELECT {RECORD_COLS} FROM messages m WHERE m.mid_hash = $1 AND m.message_id = $2");
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
    let ancestors: Vec<String> =
        rec.in_reply_to.iter().chain(rec.references.iter().rev()).cloned().collect();
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
    out.sort_by(|a, b| {
        (a.date.unwrap_or(0), &a.message_id).cmp(&(b.date.unwrap_or(0), &b.message_id))
    });
    Ok(out)
}
