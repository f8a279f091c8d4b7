//! Revisions found across threads (issue 25, migration 0023): each series' signals are stored
//! hashed in `series_signals`; a series that assembly did not link (it was not sent into the
//! thread of the one before) is linked to the earlier series that `quire_series::revisions::choose`
//! picks among those sharing its signals, and takes that one's revision key. Compiled once per
//! database (lib.rs). Runs in the transaction that stores the series, before the search rows are
//! written (their `obsolete` flags follow the keys).

use super::*;
use quire_series::revisions::{Candidate, Link, Linking, Signal};

/// One series just stored, to link.
pub(super) struct Linkable<'a> {
    pub(super) series_id: i64,
    pub(super) project: i64,
    pub(super) series: &'a quire_series::Series,
    pub(super) signals: Vec<(Signal, String)>,
}

/// An earlier series as the candidates' query reads it.
pub(super) struct CandidateRow {
    pub(super) version: i64,
    pub(super) date: i64,
    pub(super) submitter: Address,
    pub(super) revision_key: String,
}

/// A candidate from `s.version, s.date, s.submitter_name, s.submitter_email, s.revision_key`
/// selected from column `at` on.
fn candidate_row(r: &DbRow, at: usize) -> Result<CandidateRow> {
    let what = "reading earlier revisions";
    Ok(CandidateRow {
        version: get(r, at, what)?,
        date: get(r, at + 1, what)?,
        submitter: Address { name: get(r, at + 2, what)?, email: get(r, at + 3, what)? },
        revision_key: get(r, at + 4, what)?,
    })
}

pub(super) fn signal_hash(kind: Signal, value: &str) -> i64 {
    text_hash(&format!("{}\n{value}", kind.as_str()))
}

/// Stores the signals of `items` (replacing those of `replaced`), links each item to the revision
/// before it, and writes the key and the link of those whose key or link changed. Returns the
/// final key of every item by series id.
pub(super) async fn link_revisions(
    conn: &mut Conn,
    items: &[Linkable<'_>],
    replaced: &[i64],
) -> Result<HashMap<i64, String>> {
    let what = "linking revisions";
    execute_in(conn, "DELETE FROM series_signals WHERE series_id IN", replaced, what).await?;
    let mut rows: Vec<(i64, i64, &'static str, i64)> = Vec::new();
    for it in items {
        let mut seen = HashSet::new();
        for (kind, value) in &it.signals {
            let h = signal_hash(*kind, value);
            if seen.insert(h) {
                rows.push((it.series_id, it.project, kind.as_str(), h));
            }
        }
    }
    for chunk in rows.chunks(INSERT_ROWS) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO series_signals (series_id, project_id, kind, hash) ",
        );
        qb.push_values(chunk, |mut b, (s, p, k, h)| {
            b.push_bind(*s).push_bind(*p).push_bind(*k).push_bind(*h);
        });
        qb.build().execute(&mut *conn).await.ctx(what)?;
    }

    // Candidates: every series of the project sharing a signal with an item to link.
    let mut by_project: HashMap<i64, Vec<i64>> = HashMap::new();
    for it in items.iter().filter(|it| it.series.answers.is_none()) {
        let hashes = by_project.entry(it.project).or_default();
        hashes.extend(it.signals.iter().map(|(k, v)| signal_hash(*k, v)));
    }
    // (project, hash) -> [(series id, kind)]
    let mut sharing: HashMap<(i64, i64), Vec<(i64, Signal)>> = HashMap::new();
    let mut found: HashMap<i64, CandidateRow> = HashMap::new();
    for (project, hashes) in &by_project {
        let sql = format!(
            "SELECT g.series_id, g.kind, g.hash, s.version, s.date, s.submitter_name, s.submitter_email, s.revision_key \
             FROM series_signals g JOIN series s ON s.id = g.series_id WHERE g.project_id = {project} AND g.hash IN"
        );
        for r in fetch_in(conn, &sql, "", hashes, what).await? {
            let id: i64 = get(&r, 0, what)?;
            let kind: String = get(&r, 1, what)?;
            let Some(kind) = Signal::parse(&kind) else { continue };
            sharing.entry((*project, get(&r, 2, what)?)).or_default().push((id, kind));
            if let std::collections::hash_map::Entry::Vacant(e) = found.entry(id) {
                e.insert(candidate_row(&r, 3)?);
            }
        }
    }
    // The series named by `Supersedes:` (any of their own messages).
    let mut superseding: HashMap<i64, Vec<i64>> = HashMap::new();
    for it in items.iter().filter(|it| it.series.answers.is_none()) {
        let Some(mid) = it.series.supersedes.as_deref() else { continue };
        let rows = sqlx::query(
            "SELECT s.id, s.version, s.date, s.submitter_name, s.submitter_email, s.revision_key \
             FROM messages m JOIN series_members sm ON sm.message_id = m.id JOIN series s ON s.id = sm.series_id \
             WHERE m.mid_hash = $1 AND m.message_id = $2 AND sm.role <> 'reply' AND s.project_id = $3",
        )
        .bind(text_hash(mid))
        .bind(mid)
        .bind(it.project)
        .fetch_all(&mut *conn)
        .await
        .ctx(what)?;
        for r in rows {
            let id: i64 = get(&r, 0, what)?;
            superseding.entry(it.series_id).or_default().push(id);
            if let std::collections::hash_map::Entry::Vacant(e) = found.entry(id) {
                e.insert(candidate_row(&r, 1)?);
            }
        }
    }
    // How many patch-ids and patch subjects each candidate has.
    let candidate_ids: Vec<i64> = found.keys().copied().collect();
    let mut counts: HashMap<(i64, Signal), usize> = HashMap::new();
    for r in fetch_in(
        conn,
        "SELECT series_id, kind, COUNT(*) FROM series_signals WHERE series_id IN",
        " GROUP BY series_id, kind",
        &candidate_ids,
        what,
    )
    .await?
    {
        let kind: String = get(&r, 1, what)?;
        if let Some(kind) = Signal::parse(&kind) {
            let n: i64 = get(&r, 2, what)?;
            counts.insert((get(&r, 0, what)?, kind), usize::try_from(n).unwrap_or(0));
        }
    }

    // Oldest first, so that a series links to one whose own key is already final.
    let mut order: Vec<&Linkable<'_>> = items.iter().collect();
    order.sort_by_key(|it| (it.series.date, it.series_id));
    let head_ids: HashMap<(i64, &str), i64> =
        items.iter().map(|it| ((it.project, it.series.head.as_str()), it.series_id)).collect();
    let mut finals: HashMap<i64, String> = HashMap::new();
    let mut updates: Vec<(i64, String, Option<Link>)> = Vec::new();
    for it in order {
        let s = it.series;
        let (key, link) = if let Some(answered) = s.answers.as_deref() {
            let key = head_ids
                .get(&(it.project, answered))
                .and_then(|id| finals.get(id))
                .cloned()
                .unwrap_or_else(|| s.revision_key.clone());
            (key, Some(Link::Thread))
        } else {
            let mut shared: HashMap<i64, HashMap<Signal, usize>> = HashMap::new();
            let mut seen = HashSet::new();
            for (kind, value) in &it.signals {
                let h = signal_hash(*kind, value);
                if !seen.insert(h) {
                    continue;
                }
                for (id, k) in sharing.get(&(it.project, h)).map(Vec::as_slice).unwrap_or(&[]) {
                    *shared.entry(*id).or_default().entry(*k).or_insert(0) += 1;
                }
            }
            let supersedes = superseding.get(&it.series_id).cloned().unwrap_or_default();
            for id in &supersedes {
                shared.entry(*id).or_default();
            }
            let earlier = |id: i64| {
                found
                    .get(&id)
                    .is_some_and(|c| id != it.series_id && (c.date, id) < (s.date, it.series_id))
            };
            let candidates: Vec<Candidate<i64>> = shared
                .into_iter()
                .filter(|(id, _)| earlier(*id))
                .filter_map(|(id, shared)| {
                    let c = found.get(&id)?;
                    Some(Candidate {
                        id,
                        version: to_u32(c.version),
                        date: c.date,
                        submitter: c.submitter.clone(),
                        patch_ids: counts.get(&(id, Signal::PatchId)).copied().unwrap_or(0),
                        patch_subjects: counts
                            .get(&(id, Signal::PatchSubject))
                            .copied()
                            .unwrap_or(0),
                        shared,
                        superseded: supersedes.contains(&id),
                    })
                })
                .collect();
            match quire_series::revisions::choose(&Linking::of(s, &it.signals), &candidates) {
                Some((id, link)) => {
                    let key = finals
                        .get(&id)
                        .cloned()
                        .or_else(|| found.get(&id).map(|c| c.revision_key.clone()));
                    (key.unwrap_or_else(|| s.revision_key.clone()), Some(link))
                }
                None => (s.revision_key.clone(), None),
            }
        };
        let stored_link = s.answers.is_some().then_some(Link::Thread);
        if key != s.revision_key || link != stored_link {
            updates.push((it.series_id, key.clone(), link));
        }
        finals.insert(it.series_id, key);
    }
    for (id, key, link) in updates {
        sqlx::query("UPDATE series SET revision_key = $1, revision_hash = $2, revision_link = $3 WHERE id = $4")
            .bind(key.as_str())
            .bind(text_hash(&key))
            .bind(link.map(Link::as_str))
            .bind(id)
            .execute(&mut *conn)
            .await
            .ctx(what)?;
    }
    Ok(finals)
}

pub(crate) async fn revision_report(pool: &DbPool) -> Result<Vec<RevisionReportRow>> {
    let what = "listing series for the revision report";
    let mut conn = pool.acquire().await.ctx("connecting")?;
    let rows = sqlx::query(
        "SELECT id, project_id, head, subject, version, date, submitter_name, submitter_email, revision_key, revision_link \
         FROM series ORDER BY date, id",
    )
    .fetch_all(&mut *conn)
    .await
    .ctx(what)?;
    let mut out: Vec<RevisionReportRow> = Vec::with_capacity(rows.len());
    let mut at: HashMap<i64, usize> = HashMap::new();
    for r in rows {
        at.insert(get(&r, 0, what)?, out.len());
        out.push(RevisionReportRow {
            id: get(&r, 0, what)?,
            project_id: get(&r, 1, what)?,
            head: get(&r, 2, what)?,
            subject: get(&r, 3, what)?,
            version: to_u32(get(&r, 4, what)?),
            date: get(&r, 5, what)?,
            submitter: Address { name: get(&r, 6, what)?, email: get(&r, 7, what)? },
            revision_key: get(&r, 8, what)?,
            revision_link: get(&r, 9, what)?,
            patch_subjects: Vec::new(),
            change_id: None,
        });
    }
    let members = sqlx::query(
        "SELECT sm.series_id, sm.role, m.meta FROM series_members sm JOIN messages m ON m.id = sm.message_id \
         WHERE sm.role <> 'reply' ORDER BY sm.series_id, sm.number",
    )
    .fetch_all(&mut *conn)
    .await
    .ctx(what)?;
    for r in members {
        let Some(&i) = at.get(&get::<i64>(&r, 0, what)?) else { continue };
        let role: String = get(&r, 1, what)?;
        let meta: String = get(&r, 2, what)?;
        let meta: MessageMeta =
            serde_json::from_str(&meta).map_err(|e| corrupt("meta of a series member", e))?;
        let row = &mut out[i];
        if row.change_id.is_none() {
            row.change_id = meta.change_id.clone();
        }
        if role == "patch" {
            row.patch_subjects.push(quire_mail::normalized_name(&meta.subject_info.name));
        }
    }
    Ok(out)
}
