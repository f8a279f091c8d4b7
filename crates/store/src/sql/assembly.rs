//! Assembly: the neighbourhood of the messages a batch touched, grouped again into series and
//! revisions (quire-series), written back with the events they make.
//!
//! Compiled once per database (`crate::sqlite`, `crate::pg`; declared in lib.rs).

use super::*;

// ---------------------------------------------------------------------------------------------
// Series assembly

/// A message of a neighbourhood.
pub(super) struct Neighbour {
    pub(super) id: i64,
    pub(super) thread_key: String,
    pub(super) meta: MessageMeta,
}

pub(super) async fn load_threads(conn: &mut Conn, keys: &[String]) -> Result<Vec<Neighbour>> {
    let wanted: HashSet<&str> = keys.iter().map(String::as_str).collect();
    let hashes: Vec<i64> = keys.iter().map(|k| text_hash(k)).collect();
    let what = "loading threads";
    let rows = fetch_in(
        conn,
        "SELECT id, thread_key, meta FROM messages WHERE thread_hash IN",
        "",
        &hashes,
        what,
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let thread_key: String = get(&row, 1, what)?;
        if wanted.contains(thread_key.as_str()) {
            out.push(neighbour(&row, thread_key)?);
        }
    }
    Ok(out)
}

pub(super) fn neighbour(row: &DbRow, thread_key: String) -> Result<Neighbour> {
    let id: i64 = get(row, 0, "loading threads")?;
    let meta: String = get(row, 2, "loading threads")?;
    let meta =
        serde_json::from_str(&meta).map_err(|e| corrupt(format!("meta of message row {id}"), e))?;
    Ok(Neighbour { id, thread_key, meta })
}

/// Unthreaded numbered patches of `email` sent between `from` and `to`.
pub(super) async fn unthreaded_near(
    conn: &mut Conn,
    email: &str,
    from: i64,
    to: i64,
) -> Result<Vec<Neighbour>> {
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
pub(super) async fn neighbourhood(
    conn: &mut Conn,
    touched: BTreeSet<String>,
) -> Result<HashMap<i64, Neighbour>> {
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
            if matches!(m.kind, MessageKind::Patch | MessageKind::CoverLetter)
                && m.subject_info.number.is_some()
                && m.date > 0
            {
                let w =
                    windows.entry(m.from.email.trim().to_lowercase()).or_insert((m.date, m.date));
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
        let series_ids: Vec<i64> = fetch_in(
            conn,
            "SELECT DISTINCT series_id FROM series_members WHERE message_id IN",
            "",
            &fresh_ids,
            what,
        )
        .await?
        .iter()
        .map(|r| get(r, 0, what))
        .collect::<Result<_>>()?;
        let members: Vec<i64> = fetch_in(
            conn,
            "SELECT message_id FROM series_members WHERE series_id IN",
            "",
            &series_ids,
            what,
        )
        .await?
        .iter()
        .map(|r| get(r, 0, what))
        .collect::<Result<Vec<i64>>>()?
        .into_iter()
        .filter(|id| !rows.contains_key(id))
        .collect();
        for r in fetch_in(
            conn,
            "SELECT DISTINCT thread_key FROM messages WHERE id IN",
            "",
            &members,
            what,
        )
        .await?
        {
            let key: String = get(&r, 0, what)?;
            if !loaded.contains(&key) {
                pending.push(key);
            }
        }
    }
    Ok(rows)
}

pub(super) const SERIES_NEW: &str = "series-new";

pub(super) const SERIES_COMPLETE: &str = "series-complete";

pub(super) const SERIES_SUPERSEDED: &str = "series-superseded";

pub(super) const PATCH_STATE_CHANGED: &str = "patch-state-changed";

pub(super) struct OldSeries {
    pub(super) id: i64,
    pub(super) complete: bool,
}

/// Re-assembles the series of the touched threads and replaces their rows.
pub(super) async fn reassemble(
    conn: &mut Conn,
    touched: BTreeSet<String>,
    out: &mut BatchOutcome,
    events: Events,
    phases: &mut Phases,
) -> Result<()> {
    if touched.is_empty() {
        return Ok(());
    }
    let rows = neighbourhood(conn, touched).await?;
    phases.mark("series: neighbourhood");
    let ids: Vec<i64> = rows.keys().copied().collect();
    let what = "reading the series of a neighbourhood";

    let mut old: HashMap<(i64, i64), OldSeries> = HashMap::new();
    let old_ids: Vec<i64> = fetch_in(
        conn,
        "SELECT DISTINCT series_id FROM series_members WHERE message_id IN",
        "",
        &ids,
        what,
    )
    .await?
    .iter()
    .map(|r| get(r, 0, what))
    .collect::<Result<_>>()?;
    for r in fetch_in(
        conn,
        "SELECT id, project_id, head_id, complete FROM series WHERE id IN",
        "",
        &old_ids,
        what,
    )
    .await?
    {
        old.insert(
            (get(&r, 1, what)?, get(&r, 2, what)?),
            OldSeries { id: get(&r, 0, what)?, complete: get(&r, 3, what)? },
        );
    }
    let mut projects_of: HashMap<i64, Vec<i64>> = HashMap::new();
    for r in fetch_in(
        conn,
        "SELECT message_id, project_id FROM message_projects WHERE message_id IN",
        "",
        &ids,
        what,
    )
    .await?
    {
        projects_of.entry(get(&r, 0, what)?).or_default().push(get(&r, 1, what)?);
    }
    let project_names: HashMap<i64, String> =
        load_projects(conn).await?.into_iter().map(|(id, c)| (id, c.name)).collect();
    phases.mark("series: old rows");

    let mut metas: Vec<MessageMeta> = rows.values().map(|n| n.meta.clone()).collect();
    // Assembly is order-independent; sorting keeps runs reproducible when debugging.
    metas.sort_by(|a, b| a.message_id.cmp(&b.message_id));
    let assembly = crate::assemble(&metas);
    phases.mark("series: assemble");
    let id_of: HashMap<&str, i64> =
        rows.values().map(|n| (n.meta.message_id.as_str(), n.id)).collect();
    let date_of: HashMap<&str, i64> =
        rows.values().map(|n| (n.meta.message_id.as_str(), n.meta.date)).collect();
    let mut members_of: HashMap<&str, Vec<(&str, Role)>> = HashMap::new();
    for (mid, head, role) in &assembly.members {
        members_of.entry(head.as_str()).or_default().push((mid.as_str(), *role));
    }

    let meta_of: HashMap<&str, &MessageMeta> =
        rows.values().map(|n| (n.meta.message_id.as_str(), &n.meta)).collect();
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
        let last_activity = members
            .iter()
            .filter_map(|(m, _)| date_of.get(m).copied())
            .chain([s.date])
            .max()
            .unwrap_or(s.date);
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
            let payload =
                serde_json::json!({"version": s.version, "total": s.total, "subject": s.subject});
            events_out.push(EventRow::new(
                SERIES_NEW,
                project_name.clone(),
                Some(s.head.clone()),
                payload,
            ));
        }
        if events == Events::Record && s.complete && !previous.is_some_and(|p| p.complete) {
            let payload = serde_json::json!({"version": s.version, "total": s.total});
            events_out.push(EventRow::new(
                SERIES_COMPLETE,
                project_name.clone(),
                Some(s.head.clone()),
                payload,
            ));
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
    execute_in(
        conn,
        "DELETE FROM series_members WHERE series_id IN",
        &replaced,
        "replacing series members",
    )
    .await?;
    phases.mark("series: old members");
    search_index_series(conn, &replaced, &search_facts).await?;
    phases.mark("series: search facts");
    approvals_index_series(conn, &replaced, &search_facts).await?;
    phases.mark("series: approvals");
    execute_in(
        conn,
        "DELETE FROM series WHERE id IN",
        &gone,
        "removing series that no longer exist",
    )
    .await?;
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
    search_index_series_rows(conn, &replaced.iter().chain(&kept).copied().collect::<Vec<_>>())
        .await?;
    phases.mark("series: search rows");
    if events == Events::Record {
        superseded_events(conn, &created, &project_names).await?;
    }
    phases.mark("series: superseded");
    Ok(())
}

/// One series row to write, with what the rest of `reassemble` needs of it.
pub(super) struct SeriesUpsert<'a> {
    pub(super) series: &'a quire_series::Series,
    pub(super) project: i64,
    pub(super) head_id: i64,
    pub(super) cover_id: Option<i64>,
    pub(super) reply_count: i64,
    pub(super) last_activity: i64,
    pub(super) facts: SeriesFacts,
    pub(super) members: &'a [(&'a str, Role)],
}

/// Rows per multi-row series upsert (22 values each).
pub(super) const UPSERT_ROWS: usize = 200;

/// Inserts or updates the series rows; their ids by (project, head message row).
pub(super) async fn upsert_series(
    conn: &mut Conn,
    rows: &[SeriesUpsert<'_>],
) -> Result<HashMap<(i64, i64), i64>> {
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
                .push_bind(
                    s.answers.is_some().then_some(quire_series::revisions::Link::Thread.as_str()),
                )
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

/// Marks the series that the message rows `ids` belong to as changed (`series.changed`): the
/// web renders their pages again.
pub(super) async fn touch_series_of(conn: &mut Conn, ids: &[i64]) -> Result<()> {
    let what = "marking series as changed";
    let series: Vec<i64> = fetch_in(
        conn,
        "SELECT DISTINCT series_id FROM series_members WHERE message_id IN",
        "",
        ids,
        what,
    )
    .await?
    .iter()
    .map(|r| get(r, 0, what))
    .collect::<Result<_>>()?;
    execute_in(
        conn,
        &format!("UPDATE series SET changed = {} WHERE id IN", crate::change_stamp()),
        &series,
        what,
    )
    .await
}

pub(super) async fn insert_members(conn: &mut Conn, members: &[(i64, i64, Role)]) -> Result<()> {
    for chunk in members.chunks(INSERT_ROWS) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO series_members (series_id, message_id, role, number) ",
        );
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
pub(super) struct RevisionRow {
    pub(super) id: i64,
    pub(super) head: String,
    pub(super) version: i64,
    pub(super) date: i64,
    pub(super) subject: String,
}

pub(super) fn newer(a: &RevisionRow, b: &RevisionRow) -> bool {
    a.version > b.version || (a.version == b.version && a.date > b.date)
}

/// The revisions of many series at once (`revisions_of` for each (project, revision key)).
pub(super) async fn revisions_of_many<'k>(
    conn: &mut Conn,
    keys: &[(i64, &'k str)],
) -> Result<HashMap<(i64, &'k str), Vec<RevisionRow>>> {
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

pub(super) async fn revisions_of(
    conn: &mut Conn,
    project: i64,
    revision_key: &str,
) -> Result<Vec<RevisionRow>> {
    Ok(revisions_of_many(conn, &[(project, revision_key)])
        .await?
        .remove(&(project, revision_key))
        .unwrap_or_default())
}

/// `series-superseded` for every older revision that a series created by this batch made
/// superseded (it was not superseded by an already stored series before), followed by a
/// `patch-state-changed` to `superseded` for each of its patches that now reads so (those still
/// `new` or `under-review`: Patchwork's clients follow patch states through these events, and
/// quire works the state out on read, so this is the moment it changes), `by` null.
pub(super) async fn superseded_events(
    conn: &mut Conn,
    created: &[(i64, i64, String)],
    names: &HashMap<i64, String>,
) -> Result<()> {
    let mut events = Vec::new();
    let created_ids: HashSet<i64> = created.iter().map(|c| c.0).collect();
    let mut done: HashSet<i64> = HashSet::new();
    let keys: Vec<(i64, &str)> = created.iter().map(|(_, p, k)| (*p, k.as_str())).collect();
    let all = revisions_of_many(conn, &keys).await?;
    for (series_id, project, key) in created {
        let Some(revisions) = all.get(&(*project, key.as_str())) else { continue };
        let Some(new) = revisions.iter().find(|r| r.id == *series_id).cloned() else { continue };
        for old in revisions.iter().filter(|r| newer(&new, r)) {
            let was_superseded =
                revisions.iter().any(|u| !created_ids.contains(&u.id) && newer(u, old));
            if was_superseded || !done.insert(old.id) {
                continue;
            }
            let newest = revisions
                .iter()
                .filter(|u| newer(u, old))
                .max_by_key(|u| (u.version, u.date, u.id));
            let by = newest.map(|n| n.head.as_str()).unwrap_or(new.head.as_str());
            let payload = serde_json::json!({"superseded_by": by});
            events.push(EventRow::new(
                SERIES_SUPERSEDED,
                names.get(project).cloned(),
                Some(old.head.clone()),
                payload,
            ));
            for (patch, message_id, state) in patches_turning_superseded(conn, old.id).await? {
                let payload = serde_json::json!({
                    "patch": patch, "previous_state": state, "current_state": "superseded", "by": null, "superseded_by": by,
                });
                let mut e = EventRow::new(
                    PATCH_STATE_CHANGED,
                    names.get(project).cloned(),
                    Some(old.head.clone()),
                    payload,
                );
                e.message_id = Some(message_id);
                events.push(e);
            }
        }
    }
    insert_events(conn, &events).await
}

/// The patches of series row `series` that read `superseded` once a newer revision is stored:
/// (row id, Message-ID, state before), in their order in the series.
pub(super) async fn patches_turning_superseded(
    conn: &mut Conn,
    series: i64,
) -> Result<Vec<(i64, String, String)>> {
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
