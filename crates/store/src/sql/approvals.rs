//! Approvals and review counts (issue 29; crate::approvals says what is kept and why). Compiled
//! once per database like every file of `sql/` (inside `mod sqlite` and `mod pg`).
//!
//! The approvals of a series are worked out where what they depend on is written, in the same
//! transaction, which also writes the series' `changed` stamp: its assembly (new trailers:
//! `approvals_index_series`, called by `reassemble`), its maintainers map
//! (`set_series_maintainers`, after the worker read the file) and its project's rule
//! (`set_project_approvals`). Pages, lists, the search and the queues only read the result.

use super::*;
use crate::approvals::{ApprovalConfig, ApprovalLine, GivenTrailer, ReviewCounts, person_text};

use quire_maintainers::{Identities, Person as Listed, SeriesMaintainers};

/// The person trailers each patch of `s` was given (its own, then those `collected` from
/// replies and the cover letter's replies) and their Acked-by/Reviewed-by/Tested-by counts.
pub(super) fn given_trailers(
    s: &quire_series::Series,
    meta_of: &HashMap<&str, &MessageMeta>,
    collected: &[(u32, Vec<quire_series::CollectedTrailer>)],
) -> (Vec<GivenTrailer>, ReviewCounts) {
    let mut given = Vec::new();
    let mut counts = ReviewCounts::default();
    let mut add = |patch: u32, t: &quire_mail::Trailer| {
        let tag = t.tag.to_ascii_lowercase();
        match tag.as_str() {
            "acked-by" => counts.acked += 1,
            "reviewed-by" => counts.reviewed += 1,
            "tested-by" => counts.tested += 1,
            _ => {}
        }
        if let Some(p) = &t.person {
            given.push(GivenTrailer {
                patch,
                tag: t.tag.clone(),
                name: p.name.clone(),
                email: p.email.clone(),
            });
        }
    };
    for (n, mid) in &s.patches {
        if let Some(meta) = meta_of.get(mid.as_str()) {
            for t in &meta.trailers {
                add(*n, t);
            }
        }
        for (m, list) in collected {
            if m == n {
                for c in list {
                    add(*n, &c.trailer);
                }
            }
        }
    }
    (given, counts)
}

/// Replaces the review counts and approvals of the series in `replaced` (before this assembly)
/// and of those in `facts` (as assembled now): counts for every series, approvals for those
/// with a maintainers map.
pub(super) async fn approvals_index_series(
    conn: &mut Conn,
    replaced: &[i64],
    facts: &[(i64, SeriesFacts)],
) -> Result<()> {
    let what = "indexing series reviews and approvals";
    let mut ids: Vec<i64> =
        replaced.iter().copied().chain(facts.iter().map(|(id, _)| *id)).collect();
    ids.sort_unstable();
    ids.dedup();
    for table in ["series_reviews", "series_approvals", "series_awaiting"] {
        execute_in(conn, &format!("DELETE FROM {table} WHERE series_id IN"), &ids, what).await?;
    }
    for chunk in facts.chunks(INSERT_ROWS) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO series_reviews (series_id, acked, reviewed, tested) ",
        );
        qb.push_values(chunk, |mut b, (id, f)| {
            b.push_bind(*id)
                .push_bind(i64::from(f.reviews.acked))
                .push_bind(i64::from(f.reviews.reviewed))
                .push_bind(i64::from(f.reviews.tested));
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().execute(&mut *conn).await.ctx(what)?;
    }
    let fact_ids: Vec<i64> = facts.iter().map(|(id, _)| *id).collect();
    let rows = fetch_in(
        conn,
        "SELECT s.id, s.project_id, s.submitter_name, s.submitter_email, m.map FROM series s \
         JOIN series_maintainers m ON m.head_id = s.head_id WHERE s.id IN",
        "",
        &fact_ids,
        what,
    )
    .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let given_of: HashMap<i64, &Vec<GivenTrailer>> =
        facts.iter().map(|(id, f)| (*id, &f.given)).collect();
    let mut todo = Vec::new();
    for r in &rows {
        let id: i64 = get(r, 0, what)?;
        todo.push(Pending {
            series_id: id,
            project_id: get(r, 1, what)?,
            submitter: Listed::new(&get::<String>(r, 2, what)?, &get::<String>(r, 3, what)?),
            map: parse_map(&get::<String>(r, 4, what)?, id)?,
            given: given_of.get(&id).map(|g| (*g).clone()).unwrap_or_default(),
        });
    }
    evaluate_and_write(conn, todo).await
}

/// A series whose approvals are to be worked out.
pub(super) struct Pending {
    pub(super) series_id: i64,
    pub(super) project_id: i64,
    pub(super) submitter: Listed,
    pub(super) map: SeriesMaintainers,
    pub(super) given: Vec<GivenTrailer>,
}

pub(super) fn parse_map(text: &str, series: i64) -> Result<SeriesMaintainers> {
    serde_json::from_str(text)
        .map_err(|e| corrupt(format!("maintainers map of series {series}"), e))
}

/// The approval settings of the projects `ids` (the defaults for those without).
pub(super) async fn approval_configs(
    conn: &mut Conn,
    ids: &[i64],
) -> Result<HashMap<i64, ApprovalConfig>> {
    let what = "reading projects' approval settings";
    let mut out: HashMap<i64, ApprovalConfig> =
        ids.iter().map(|id| (*id, ApprovalConfig::default())).collect();
    for r in fetch_in(
        conn,
        "SELECT project_id, config FROM project_approvals WHERE project_id IN",
        "",
        ids,
        what,
    )
    .await?
    {
        let id: i64 = get(&r, 0, what)?;
        let text: String = get(&r, 1, what)?;
        out.insert(
            id,
            serde_json::from_str(&text)
                .map_err(|e| corrupt(format!("approval settings of project {id}"), e))?,
        );
    }
    Ok(out)
}

/// Names seen with addresses in the archive's headers (search_addresses: lowercased
/// `name <email>`), for each of `names`: an index range per name.
pub(super) async fn known_identities(
    conn: &mut Conn,
    names: &BTreeSet<String>,
) -> Result<Identities> {
    let what = "reading the addresses people used";
    let mut known = Identities::default();
    for name in names {
        let low = format!("{name} <");
        let high = format!("{name} =");
        let rows = sqlx::query(
            "SELECT text FROM search_addresses WHERE text >= $1 AND text < $2 LIMIT 200",
        )
        .bind(low.as_str())
        .bind(high.as_str())
        .fetch_all(&mut *conn)
        .await
        .ctx(what)?;
        for r in rows {
            let text: String = get(&r, 0, what)?;
            if let Some(email) = text.strip_prefix(low.as_str()).and_then(|t| t.strip_suffix('>')) {
                known.add(name, email);
            }
        }
    }
    Ok(known)
}

/// Works the approvals of `todo` out under their projects' rules and writes them (the caller
/// removed the old rows).
pub(super) async fn evaluate_and_write(conn: &mut Conn, todo: Vec<Pending>) -> Result<()> {
    let what = "storing series approvals";
    if todo.is_empty() {
        return Ok(());
    }
    let mut projects: Vec<i64> = todo.iter().map(|p| p.project_id).collect();
    projects.sort_unstable();
    projects.dedup();
    let configs = approval_configs(conn, &projects).await?;
    let mut approvals: Vec<(i64, quire_maintainers::Approvals, String)> = Vec::new();
    for p in todo {
        let Some(config) = configs.get(&p.project_id).filter(|c| c.enabled) else { continue };
        let given: Vec<quire_maintainers::Given> =
            p.given.iter().filter(|g| config.counts(&g.tag)).map(GivenTrailer::given).collect();
        // The archive is asked only about people who gave an approving trailer without being
        // a listed maintainer by address or name, and about the maintainers they may be.
        let listed: Vec<&Listed> =
            p.map.sections.iter().flat_map(|s| s.maintainers.iter()).collect();
        let strangers: Vec<&Listed> = given
            .iter()
            .map(|g| &g.person)
            .filter(|g| {
                !listed
                    .iter()
                    .any(|m| quire_maintainers::same_person(g, m, &Identities::default()).is_some())
            })
            .collect();
        let known = if strangers.is_empty() {
            Identities::default()
        } else {
            let names: BTreeSet<String> = strangers
                .iter()
                .copied()
                .chain(listed.iter().copied())
                .map(|p| p.name.trim().to_lowercase())
                .filter(|n| !n.is_empty())
                .collect();
            known_identities(conn, &names).await?
        };
        let a = quire_maintainers::evaluate(&p.map, &config.rule(), &given, &p.submitter, &known);
        let given_json =
            serde_json::to_string(&p.given).map_err(|e| corrupt("trailers given", e))?;
        approvals.push((p.series_id, a, given_json));
    }
    for chunk in approvals.chunks(INSERT_ROWS / 4) {
        let mut rows = Vec::with_capacity(chunk.len());
        for (id, a, given) in chunk {
            rows.push((
                *id,
                a.approved,
                serde_json::to_string(a).map_err(|e| corrupt("approvals", e))?,
                given.as_str(),
            ));
        }
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO series_approvals (series_id, approved, detail, given) ",
        );
        qb.push_values(&rows, |mut b, (id, approved, detail, given)| {
            b.push_bind(*id)
                .push_bind(*approved)
                .push_bind(clean(detail).into_owned())
                .push_bind(clean(given).into_owned());
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().execute(&mut *conn).await.ctx(what)?;
    }
    let mut awaiting: Vec<(String, i64, String, String)> = Vec::new();
    for (id, a, _) in &approvals {
        for p in &a.awaiting {
            let key = if p.email.trim().is_empty() {
                p.name.trim().to_lowercase()
            } else {
                p.email_key()
            };
            awaiting.push((
                clean(&key).into_owned(),
                *id,
                clean(p.display()).into_owned(),
                clean(&person_text(p)).into_owned(),
            ));
        }
    }
    let mut seen = HashSet::new();
    awaiting.retain(|(email, id, _, _)| seen.insert((email.clone(), *id)));
    for chunk in awaiting.chunks(INSERT_ROWS) {
        let mut qb = QueryBuilder::<Db>::new(
            "INSERT INTO series_awaiting (email, series_id, name, person) ",
        );
        qb.push_values(chunk, |mut b, (email, id, name, person)| {
            b.push_bind(email.as_str())
                .push_bind(*id)
                .push_bind(name.as_str())
                .push_bind(person.as_str());
        });
        qb.push(" ON CONFLICT DO NOTHING");
        qb.build().execute(&mut *conn).await.ctx(what)?;
    }
    Ok(())
}

/// The person trailers the patches of series `id` were given, worked out from its thread as
/// its assembly does.
pub(super) async fn given_of_series(conn: &mut Conn, id: i64) -> Result<Vec<GivenTrailer>> {
    let Some(row) = series_row_by_id(conn, id).await? else { return Ok(Vec::new()) };
    let members = load_members(conn, id).await?;
    let thread = thread_metas(conn, &members).await?;
    let s = assembled(&row, &members);
    let collected = quire_series::collect_trailers(&s, &thread, &[]);
    let meta_of: HashMap<&str, &MessageMeta> =
        thread.iter().map(|m| (m.message_id.as_str(), m)).collect();
    Ok(given_trailers(&s, &meta_of, &collected).0)
}

pub(super) async fn delete_approvals(conn: &mut Conn, ids: &[i64]) -> Result<()> {
    for table in ["series_approvals", "series_awaiting"] {
        execute_in(
            conn,
            &format!("DELETE FROM {table} WHERE series_id IN"),
            ids,
            "replacing series approvals",
        )
        .await?;
    }
    Ok(())
}

pub(crate) async fn set_series_maintainers(
    pool: &DbPool,
    head: &str,
    map: &SeriesMaintainers,
) -> Result<()> {
    let what = "storing a series' maintainers";
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    let head_id = require_message(&mut tx, head).await?;
    let text = serde_json::to_string(map).map_err(|e| corrupt("maintainers map", e))?;
    sqlx::query(
        "INSERT INTO series_maintainers (head_id, map, updated) VALUES ($1, $2, $3) \
         ON CONFLICT (head_id) DO UPDATE SET map = excluded.map, updated = excluded.updated",
    )
    .bind(head_id)
    .bind(clean(&text).as_ref())
    .bind(now())
    .execute(&mut *tx)
    .await
    .ctx(what)?;
    let rows = sqlx::query(
        "SELECT id, project_id, submitter_name, submitter_email FROM series WHERE head_id = $1",
    )
    .bind(head_id)
    .fetch_all(&mut *tx)
    .await
    .ctx(what)?;
    let mut todo = Vec::new();
    for r in &rows {
        let id: i64 = get(r, 0, what)?;
        todo.push(Pending {
            series_id: id,
            project_id: get(r, 1, what)?,
            submitter: Listed::new(&get::<String>(r, 2, what)?, &get::<String>(r, 3, what)?),
            map: map.clone(),
            given: given_of_series(&mut tx, id).await?,
        });
    }
    let ids: Vec<i64> = todo.iter().map(|p| p.series_id).collect();
    delete_approvals(&mut tx, &ids).await?;
    evaluate_and_write(&mut tx, todo).await?;
    touch_series_of(&mut tx, &[head_id]).await?;
    tx.commit().await.ctx(what)
}

pub(crate) async fn series_maintainers(
    pool: &DbPool,
    head: &str,
) -> Result<Option<SeriesMaintainers>> {
    let what = "reading a series' maintainers";
    let mut conn = pool.acquire().await.ctx("connecting")?;
    let Some(head_id) = message_row_id(&mut conn, head).await? else { return Ok(None) };
    let row = sqlx::query("SELECT map FROM series_maintainers WHERE head_id = $1")
        .bind(head_id)
        .fetch_optional(&mut *conn)
        .await
        .ctx(what)?;
    row.map(|r| parse_map(&get::<String>(&r, 0, what)?, head_id)).transpose()
}

pub(crate) async fn project_approvals(pool: &DbPool, project: &str) -> Result<ApprovalConfig> {
    let what = "reading a project's approval settings";
    let row = sqlx::query("SELECT a.config FROM project_approvals a JOIN projects p ON p.id = a.project_id WHERE p.name = $1")
        .bind(clean(project).as_ref())
        .fetch_optional(pool)
        .await
        .ctx(what)?;
    match row {
        Some(r) => serde_json::from_str(&get::<String>(&r, 0, what)?)
            .map_err(|e| corrupt(format!("approval settings of project {project}"), e)),
        None => Ok(ApprovalConfig::default()),
    }
}

pub(crate) async fn set_project_approvals(
    pool: &DbPool,
    project: &str,
    config: &ApprovalConfig,
) -> Result<u64> {
    let what = "storing a project's approval settings";
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    let row = sqlx::query("SELECT p.id, a.config FROM projects p LEFT JOIN project_approvals a ON a.project_id = p.id WHERE p.name = $1")
        .bind(clean(project).as_ref())
        .fetch_optional(&mut *tx)
        .await
        .ctx(what)?;
    let Some(row) = row else { return Err(Error::Invalid(format!("no project {project:?}"))) };
    let project_id: i64 = get(&row, 0, what)?;
    let old: Option<ApprovalConfig> =
        get::<Option<String>>(&row, 1, what)?.and_then(|t| serde_json::from_str(&t).ok());
    if old.as_ref().unwrap_or(&ApprovalConfig::default()) == config {
        if old.is_none() {
            let text =
                serde_json::to_string(config).map_err(|e| corrupt("approval settings", e))?;
            sqlx::query("INSERT INTO project_approvals (project_id, config) VALUES ($1, $2) ON CONFLICT (project_id) DO NOTHING")
                .bind(project_id)
                .bind(text)
                .execute(&mut *tx)
                .await
                .ctx(what)?;
        }
        tx.commit().await.ctx(what)?;
        return Ok(0);
    }
    let text = serde_json::to_string(config).map_err(|e| corrupt("approval settings", e))?;
    sqlx::query("INSERT INTO project_approvals (project_id, config) VALUES ($1, $2) ON CONFLICT (project_id) DO UPDATE SET config = excluded.config")
        .bind(project_id)
        .bind(text)
        .execute(&mut *tx)
        .await
        .ctx(what)?;
    // Every series of the project with a maintainers map, with the trailers its approvals
    // were worked out from (none when approvals were off: then from its thread).
    let rows = sqlx::query(
        "SELECT s.id, s.submitter_name, s.submitter_email, m.map, a.given FROM series s \
         JOIN series_maintainers m ON m.head_id = s.head_id LEFT JOIN series_approvals a ON a.series_id = s.id \
         WHERE s.project_id = $1",
    )
    .bind(project_id)
    .fetch_all(&mut *tx)
    .await
    .ctx(what)?;
    let mut todo = Vec::new();
    for r in &rows {
        let id: i64 = get(r, 0, what)?;
        let given = match get::<Option<String>>(r, 4, what)? {
            Some(g) => serde_json::from_str(&g)
                .map_err(|e| corrupt(format!("trailers of series {id}"), e))?,
            None => given_of_series(&mut tx, id).await?,
        };
        todo.push(Pending {
            series_id: id,
            project_id,
            submitter: Listed::new(&get::<String>(r, 1, what)?, &get::<String>(r, 2, what)?),
            map: parse_map(&get::<String>(r, 3, what)?, id)?,
            given,
        });
    }
    let ids: Vec<i64> = todo.iter().map(|p| p.series_id).collect();
    delete_approvals(&mut tx, &ids).await?;
    evaluate_and_write(&mut tx, todo).await?;
    execute_in(
        &mut tx,
        &format!("UPDATE series SET changed = {} WHERE id IN", crate::change_stamp()),
        &ids,
        what,
    )
    .await?;
    tx.commit().await.ctx(what)?;
    Ok(ids.len() as u64)
}

/// The approvals stored for series `id`.
pub(super) async fn approvals_of(
    conn: &mut Conn,
    id: i64,
) -> Result<Option<quire_maintainers::Approvals>> {
    let what = "reading a series' approvals";
    let row = sqlx::query("SELECT detail FROM series_approvals WHERE series_id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .ctx(what)?;
    row.map(|r| {
        serde_json::from_str(&get::<String>(&r, 0, what)?)
            .map_err(|e| corrupt(format!("approvals of series {id}"), e))
    })
    .transpose()
}

pub(crate) async fn fill_review_lines(pool: &DbPool, items: &mut [SeriesSummary]) -> Result<()> {
    let what = "reading the series' reviews and approvals";
    if items.is_empty() {
        return Ok(());
    }
    let mut conn = pool.acquire().await.ctx("connecting")?;
    // Series rows by (project, head), as the summaries name them, with their counts and
    // approval state; then the names awaited by those not approved.
    let hashes: Vec<i64> = items.iter().map(|s| text_hash(&clean(&s.message_id))).collect();
    let mut ids: HashMap<(String, String), i64> = HashMap::new();
    let mut reviews: HashMap<i64, ReviewCounts> = HashMap::new();
    let mut lines: HashMap<i64, ApprovalLine> = HashMap::new();
    for r in fetch_in(
        &mut conn,
        "SELECT s.id, p.name, s.head, r.acked, r.reviewed, r.tested, a.approved FROM messages m \
         JOIN series s ON s.head_id = m.id JOIN projects p ON p.id = s.project_id \
         LEFT JOIN series_reviews r ON r.series_id = s.id LEFT JOIN series_approvals a ON a.series_id = s.id \
         WHERE m.mid_hash IN",
        "",
        &hashes,
        what,
    )
    .await?
    {
        let id: i64 = get(&r, 0, what)?;
        ids.insert((get(&r, 1, what)?, get(&r, 2, what)?), id);
        if let Some(acked) = get::<Option<i64>>(&r, 3, what)? {
            let reviewed: i64 = get::<Option<i64>>(&r, 4, what)?.unwrap_or(0);
            let tested: i64 = get::<Option<i64>>(&r, 5, what)?.unwrap_or(0);
            reviews.insert(id, ReviewCounts { acked: to_u32(acked), reviewed: to_u32(reviewed), tested: to_u32(tested) });
        }
        if let Some(approved) = get::<Option<bool>>(&r, 6, what)? {
            lines.insert(id, ApprovalLine { approved, awaiting: Vec::new() });
        }
    }
    let waiting: Vec<i64> = lines.iter().filter(|(_, l)| !l.approved).map(|(id, _)| *id).collect();
    // By name here; the approvals' own order (the files') is in the detail.
    for r in fetch_in(
        &mut conn,
        "SELECT series_id, name, email FROM series_awaiting WHERE series_id IN",
        "ORDER BY series_id, name",
        &waiting,
        what,
    )
    .await?
    {
        let id: i64 = get(&r, 0, what)?;
        if let Some(line) = lines.get_mut(&id) {
            line.awaiting.push(Address { name: get(&r, 1, what)?, email: get(&r, 2, what)? });
        }
    }
    for s in items.iter_mut() {
        if let Some(id) = ids.get(&(s.project.clone(), s.message_id.clone())) {
            s.reviews = reviews.get(id).copied();
            s.approval = lines.remove(id);
        }
    }
    Ok(())
}

pub(crate) async fn approval_queue(
    pool: &DbPool,
    project: &str,
    email: &str,
    page: u32,
    per_page: u32,
) -> Result<Page<SeriesSummary>> {
    let per_page = per_page.clamp(1, 1000);
    let page = page.max(1);
    let email = clean(email.trim()).to_lowercase();
    let filter = |qb: &mut QueryBuilder<'_, Db>| {
        qb.push(" WHERE p.name = ").push_bind(clean(project).into_owned());
        qb.push(" AND s.id IN (SELECT aw.series_id FROM series_awaiting aw WHERE aw.email = ")
            .push_bind(email.clone())
            .push(")");
        qb.push(" AND NOT EXISTS (SELECT 1 FROM series_search o WHERE o.series_id = s.id AND o.obsolete)");
    };
    let (total, rows) = count_and_page(
        pool,
        "SELECT COUNT(*) FROM series s JOIN projects p ON p.id = s.project_id",
        &series_select(),
        &filter,
        "s.date, s.id",
        page,
        per_page,
        ("counting a queue", "listing a queue"),
    )
    .await?;
    let items = rows.iter().map(|r| series_row(r).map(|s| s.summary)).collect::<Result<_>>()?;
    Ok(Page { items, total, total_capped: false, page, per_page })
}
