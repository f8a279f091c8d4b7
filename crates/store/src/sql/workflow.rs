//! The maintainers' workflow (users, roles, patch states, bundles): SQL for both backends,
//! compiled once per database (lib.rs). The public API and the rules are in workflow.rs.

use super::*;
use crate::workflow::*;

const USER_COLS: &str = "u.id, u.username, u.email, u.name, u.created";

/// The one decoder of a user's columns (`USER_COLS`), starting at column `at`.
pub(super) fn user_row(r: &DbRow, at: usize) -> Result<User> {
    let what = "reading a user";
    Ok(User {
        id: get(r, at, what)?,
        username: get(r, at + 1, what)?,
        email: get(r, at + 2, what)?,
        name: get(r, at + 3, what)?,
        created: get(r, at + 4, what)?,
    })
}

pub(crate) async fn add_user(
    pool: &DbPool,
    username: &str,
    email: &str,
    name: &str,
) -> Result<User> {
    let what = "adding a user";
    let exists = sqlx::query("SELECT 1 FROM users WHERE username = $1")
        .bind(username)
        .fetch_optional(pool)
        .await
        .ctx(what)?;
    if exists.is_some() {
        return Err(Error::Invalid(format!("user {username:?} exists already")));
    }
    let t = now();
    let row = sqlx::query(
        "INSERT INTO users (username, email, name, created) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(clean(username).as_ref())
    .bind(clean(email).as_ref())
    .bind(clean(name).as_ref())
    .bind(t)
    .fetch_one(pool)
    .await
    .ctx(what)?;
    Ok(User {
        id: get(&row, 0, what)?,
        username: username.into(),
        email: email.into(),
        name: name.into(),
        created: t,
    })
}

pub(crate) async fn users(pool: &DbPool, q: Option<&str>) -> Result<Vec<User>> {
    let mut qb = QueryBuilder::<Db>::new(format!("SELECT {USER_COLS} FROM users u"));
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        let pat = like_pattern(q);
        qb.push(" WHERE LOWER(u.username) LIKE ").push_bind(pat.clone()).push(" ESCAPE '\\'");
        qb.push(" OR LOWER(u.email) LIKE ").push_bind(pat.clone()).push(" ESCAPE '\\'");
        qb.push(" OR LOWER(u.name) LIKE ").push_bind(pat).push(" ESCAPE '\\'");
        if let Ok(id) = q.parse::<i64>() {
            qb.push(" OR u.id = ").push_bind(id);
        }
    }
    qb.push(" ORDER BY u.id");
    let rows = qb.build().fetch_all(pool).await.ctx_query("listing users")?;
    rows.iter().map(|r| user_row(r, 0)).collect()
}

pub(crate) async fn user(pool: &DbPool, id: i64) -> Result<Option<User>> {
    let row = sqlx::query(&format!("SELECT {USER_COLS} FROM users u WHERE u.id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
        .ctx("reading a user")?;
    row.map(|r| user_row(&r, 0)).transpose()
}

pub(crate) async fn grant_role(
    pool: &DbPool,
    user_id: i64,
    project: &str,
    role: &str,
) -> Result<()> {
    let what = "granting a role";
    let Some(p) = sqlx::query("SELECT id FROM projects WHERE name = $1")
        .bind(clean(project).as_ref())
        .fetch_optional(pool)
        .await
        .ctx(what)?
    else {
        return Err(Error::Invalid(format!("no project {project:?} (quire project add)")));
    };
    let pid: i64 = get(&p, 0, what)?;
    sqlx::query("INSERT INTO project_roles (user_id, project_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
        .bind(user_id)
        .bind(pid)
        .bind(role)
        .execute(pool)
        .await
        .ctx(what)?;
    Ok(())
}

pub(crate) async fn roles(pool: &DbPool, user_id: i64) -> Result<Vec<(String, String)>> {
    let what = "reading roles";
    let rows = sqlx::query(
        "SELECT p.name, r.role FROM project_roles r JOIN projects p ON p.id = r.project_id WHERE r.user_id = $1 ORDER BY p.name, r.role",
    )
    .bind(user_id)
    .fetch_all(pool)
    .await
    .ctx(what)?;
    rows.iter().map(|r| Ok((get(r, 0, what)?, get(r, 1, what)?))).collect()
}

pub(crate) async fn create_user_token(
    pool: &DbPool,
    name: &str,
    hash: &str,
    user_id: i64,
) -> Result<i64> {
    let row = sqlx::query("INSERT INTO tokens (name, scope, hash, created, user_id) VALUES ($1, 'user', $2, $3, $4) RETURNING id")
        .bind(clean(name).as_ref())
        .bind(hash)
        .bind(now())
        .bind(user_id)
        .fetch_one(pool)
        .await
        .ctx("creating a token")?;
    get(&row, 0, "creating a token")
}

pub(crate) async fn token_owner(pool: &DbPool, token_id: i64) -> Result<Option<User>> {
    let row = sqlx::query(&format!(
        "SELECT {USER_COLS} FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1"
    ))
    .bind(token_id)
    .fetch_optional(pool)
    .await
    .ctx("reading a token's user")?;
    row.map(|r| user_row(&r, 0)).transpose()
}

pub(crate) async fn project_refs(pool: &DbPool) -> Result<Vec<ProjectRef>> {
    let mut conn = pool.acquire().await.ctx("connecting")?;
    Ok(load_projects(&mut conn)
        .await?
        .into_iter()
        .map(|(id, config)| ProjectRef { id, config })
        .collect())
}

// -----------------------------------------------------------------------------------------
// Patches

/// One row per (patch, series); `x.*` columns in this order.
fn patch_inner() -> String {
    format!(
        "SELECT m.id AS id, m.message_id AS msgid, m.mid_hash AS mid_hash, p.name AS project, p.id AS project_id, m.subject AS subject, \
         m.from_name AS from_name, m.from_email AS from_email, COALESCE(m.date, 0) AS date, m.pw_hash AS hash, \
         CASE WHEN (ps.state IS NULL OR ps.state IN ('new', 'under-review')) AND {SUPERSEDED_BY} IS NOT NULL \
              THEN 'superseded' ELSE COALESCE(ps.state, 'new') END AS state, \
         COALESCE(ps.archived, FALSE) AS archived, ps.delegate_id AS delegate_id, ps.commit_ref AS commit_ref, \
         s.head_id AS series_id, s.head AS series_head, s.name AS series_name, s.version AS series_version, \
         s.date AS series_date, COALESCE(sm.number, 1) AS number, s.total AS series_total, \
         (SELECT MIN(m2.id) FROM messages m2 WHERE m2.from_email = m.from_email) AS submitter_id \
         FROM series_members sm JOIN series s ON s.id = sm.series_id JOIN projects p ON p.id = s.project_id \
         JOIN messages m ON m.id = sm.message_id LEFT JOIN patch_states ps ON ps.message_id = m.id \
         WHERE sm.role = 'patch'"
    )
}

const PATCH_COLS: &str = "x.id, x.msgid, x.project, x.project_id, x.subject, x.from_name, x.from_email, x.date, x.hash, \
     x.state, x.archived, x.delegate_id, x.commit_ref, x.series_id, x.series_head, x.series_name, x.series_version, \
     x.series_date, x.number, x.submitter_id, x.series_total";

fn patch_row(r: &DbRow) -> Result<(PatchInfo, Option<i64>)> {
    let what = "reading a patch";
    let id: i64 = get(r, 0, what)?;
    Ok((
        PatchInfo {
            id,
            message_id: get(r, 1, what)?,
            project: get(r, 2, what)?,
            project_id: get(r, 3, what)?,
            subject: get(r, 4, what)?,
            submitter: Person {
                id: get::<Option<i64>>(r, 19, what)?.unwrap_or(id),
                name: get(r, 5, what)?,
                email: get(r, 6, what)?,
            },
            date: get(r, 7, what)?,
            hash: get(r, 8, what)?,
            state: get(r, 9, what)?,
            archived: get(r, 10, what)?,
            delegate: None,
            commit_ref: get(r, 12, what)?,
            series_id: get(r, 13, what)?,
            series_head: get(r, 14, what)?,
            series_name: get(r, 15, what)?,
            series_version: to_u32(get(r, 16, what)?),
            series_date: get(r, 17, what)?,
            number: to_u32(get(r, 18, what)?),
            series_total: to_u32(get(r, 20, what)?),
        },
        get(r, 11, what)?,
    ))
}

fn push_or<'a>(
    qb: &mut QueryBuilder<'a, Db>,
    items: &[String],
    one: impl Fn(&mut QueryBuilder<'a, Db>, &str),
) {
    if items.is_empty() {
        return;
    }
    qb.push(" AND (");
    for (i, v) in items.iter().enumerate() {
        if i > 0 {
            qb.push(" OR ");
        }
        one(qb, v);
    }
    qb.push(")");
}

fn patch_filters<'a>(qb: &mut QueryBuilder<'a, Db>, f: &'a PatchFilter) {
    qb.push(" WHERE 1 = 1");
    if let Some(p) = &f.project {
        match p.parse::<i64>() {
            Ok(id) => qb.push(" AND x.project_id = ").push_bind(id),
            Err(_) => qb.push(" AND x.project = ").push_bind(clean(p).into_owned()),
        };
    }
    push_or(qb, &f.states, |qb, s| {
        qb.push("x.state = ").push_bind(s.to_string());
    });
    if let Some(a) = f.archived {
        qb.push(" AND x.archived = ").push_bind(a);
    }
    push_or(qb, &f.submitters, |qb, s| match s.parse::<i64>() {
        Ok(id) => {
            qb.push("x.submitter_id = ").push_bind(id);
        }
        Err(_) => {
            qb.push("LOWER(x.from_email) = ").push_bind(clean(s).to_lowercase());
        }
    });
    push_or(qb, &f.delegates, |qb, s| match s.parse::<i64>() {
        Ok(id) => {
            qb.push("x.delegate_id = ").push_bind(id);
        }
        Err(_) => {
            qb.push("x.delegate_id IN (SELECT id FROM users WHERE username = ")
                .push_bind(clean(s).into_owned())
                .push(")");
        }
    });
    if let Some(h) = &f.hash {
        qb.push(" AND x.hash = ").push_bind(clean(h.trim()).to_lowercase());
    }
    if let Some(m) = &f.msgid {
        // By the indexed hash first: `message_id` has no index of its own, and a scan of the
        // messages per lookup is what made the events list slow (issue 25).
        let m = clean(m.trim().trim_start_matches('<').trim_end_matches('>')).into_owned();
        qb.push(" AND x.mid_hash = ").push_bind(text_hash(&m)).push(" AND x.msgid = ").push_bind(m);
    }
    if let Some(s) = f.series {
        qb.push(" AND x.series_id = ").push_bind(s);
    }
    if let Some(t) = f.since {
        qb.push(" AND x.date >= ").push_bind(t);
    }
    if let Some(t) = f.before {
        qb.push(" AND x.date < ").push_bind(t);
    }
    for w in f.words.iter().filter(|w| !w.trim().is_empty()) {
        qb.push(" AND LOWER(x.subject) LIKE ")
            .push_bind(like_pattern(w.trim()))
            .push(" ESCAPE '\\'");
    }
}

fn order_sql(o: Order, date: &str, id: &str, name: &str) -> String {
    match o {
        Order::DateDesc => format!("{date} DESC, {id} DESC"),
        Order::Date => format!("{date}, {id}"),
        Order::Id => id.to_string(),
        Order::IdDesc => format!("{id} DESC"),
        Order::Name => format!("{name}, {id}"),
        Order::NameDesc => format!("{name} DESC, {id} DESC"),
    }
}

async fn with_delegates(
    pool: &DbPool,
    rows: Vec<(PatchInfo, Option<i64>)>,
) -> Result<Vec<PatchInfo>> {
    let mut cache: HashMap<i64, Option<User>> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for (mut p, d) in rows {
        if let Some(d) = d {
            let known = match cache.get(&d) {
                Some(u) => u.clone(),
                None => {
                    let u = user(pool, d).await?;
                    cache.insert(d, u.clone());
                    u
                }
            };
            p.delegate = known;
        }
        out.push(p);
    }
    Ok(out)
}

pub(crate) async fn patches(pool: &DbPool, f: &PatchFilter) -> Result<Page<PatchInfo>> {
    let per_page = f.per_page.clamp(1, 1000);
    let page = f.page.max(1);
    let inner = patch_inner();
    let (total, rows) = count_and_page(
        pool,
        &format!("SELECT COUNT(*) FROM ({inner}) x"),
        &format!("SELECT {PATCH_COLS} FROM ({inner}) x"),
        &|qb| patch_filters(qb, f),
        &order_sql(f.order, "x.date", "x.id", "x.subject"),
        page,
        per_page,
        ("counting patches", "listing patches"),
    )
    .await?;
    let rows = rows.iter().map(patch_row).collect::<Result<Vec<_>>>()?;
    Ok(Page {
        items: with_delegates(pool, rows).await?,
        total,
        total_capped: false,
        page,
        per_page,
    })
}

pub(crate) async fn patch(pool: &DbPool, id: i64, _f: &PatchFilter) -> Result<Option<PatchInfo>> {
    let sql = format!(
        "SELECT {PATCH_COLS} FROM ({}) x WHERE x.id = $1 ORDER BY x.project_id, x.series_id DESC LIMIT 1",
        patch_inner()
    );
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await.ctx("reading a patch")?;
    let Some(row) = row else { return Ok(None) };
    Ok(with_delegates(pool, vec![patch_row(&row)?]).await?.pop())
}

pub(crate) async fn update_patch(
    pool: &DbPool,
    before: &PatchInfo,
    c: &PatchUpdate,
    by: &User,
) -> Result<()> {
    let what = "updating a patch";
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    let row = sqlx::query(
        "SELECT state, delegate_id, archived, commit_ref FROM patch_states WHERE message_id = $1",
    )
    .bind(before.id)
    .fetch_optional(&mut *tx)
    .await
    .ctx(what)?;
    let (mut state, mut delegate, mut archived, mut commit_ref): (
        String,
        Option<i64>,
        bool,
        Option<String>,
    ) = match row {
        Some(r) => (get(&r, 0, what)?, get(&r, 1, what)?, get(&r, 2, what)?, get(&r, 3, what)?),
        None => (before.state.clone(), None, false, None),
    };
    let old_delegate = delegate;
    let old_archived = archived;
    if let Some(s) = &c.state {
        state = s.clone();
    }
    if let Some(d) = c.delegate {
        delegate = d;
    }
    if let Some(a) = c.archived {
        archived = a;
    }
    if let Some(r) = &c.commit_ref {
        commit_ref = r.as_deref().map(|r| clean(r).into_owned());
    }
    sqlx::query(
        "INSERT INTO patch_states (message_id, state, delegate_id, archived, commit_ref, updated, updated_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (message_id) DO UPDATE SET state = excluded.state, \
         delegate_id = excluded.delegate_id, archived = excluded.archived, commit_ref = excluded.commit_ref, \
         updated = excluded.updated, updated_by = excluded.updated_by",
    )
    .bind(before.id)
    .bind(&state)
    .bind(delegate)
    .bind(archived)
    .bind(commit_ref.as_deref())
    .bind(now())
    .bind(by.id)
    .execute(&mut *tx)
    .await
    .ctx(what)?;
    touch_series_of(&mut tx, &[before.id]).await?;
    if state != before.state {
        let payload = serde_json::json!({"patch": before.id, "previous_state": before.state, "current_state": state, "by": by.username});
        add_event_in(
            &mut tx,
            "patch-state-changed",
            Some(&before.project),
            Some(&before.series_head),
            Some(&before.message_id),
            &payload,
        )
        .await?;
    }
    if delegate != old_delegate {
        let payload = serde_json::json!({"patch": before.id, "previous_delegate": old_delegate, "current_delegate": delegate, "by": by.username});
        add_event_in(
            &mut tx,
            "patch-delegated",
            Some(&before.project),
            Some(&before.series_head),
            Some(&before.message_id),
            &payload,
        )
        .await?;
    }
    if archived != old_archived {
        let payload =
            serde_json::json!({"patch": before.id, "archived": archived, "by": by.username});
        add_event_in(
            &mut tx,
            "patch-archived",
            Some(&before.project),
            Some(&before.series_head),
            Some(&before.message_id),
            &payload,
        )
        .await?;
    }
    tx.commit().await.ctx(what)
}

// -----------------------------------------------------------------------------------------
// Series, covers, comments, people

async fn members(
    pool: &DbPool,
    series_row_id: i64,
) -> Result<(Option<SeriesMember>, Vec<SeriesMember>)> {
    let what = "reading series members";
    let rows = sqlx::query(
        "SELECT m.id, m.message_id, m.subject, COALESCE(m.date, 0), sm.role, COALESCE(sm.number, 0) FROM series_members sm \
         JOIN messages m ON m.id = sm.message_id WHERE sm.series_id = $1 AND sm.role <> 'reply' ORDER BY sm.number, m.id",
    )
    .bind(series_row_id)
    .fetch_all(pool)
    .await
    .ctx(what)?;
    let mut cover = None;
    let mut patches = Vec::new();
    for r in rows {
        let role: String = get(&r, 4, what)?;
        let m = SeriesMember {
            id: get(&r, 0, what)?,
            message_id: get(&r, 1, what)?,
            subject: get(&r, 2, what)?,
            date: get(&r, 3, what)?,
            number: to_u32(get(&r, 5, what)?),
        };
        if role == "cover-letter" {
            cover = Some(m);
        } else {
            patches.push(m);
        }
    }
    patches.sort_by_key(|p| p.number);
    Ok((cover, patches))
}

async fn series_infos_of(pool: &DbPool, rows: Vec<DbRow>) -> Result<Vec<SeriesInfo>> {
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let row = series_row(&r)?;
        let submitter_id: Option<i64> = get(&r, SERIES_COLUMNS, "reading series")?;
        let (cover, patches) = members(pool, row.id).await?;
        out.push(SeriesInfo {
            id: row.head_id,
            project_id: row.project_id,
            submitter_id: submitter_id.unwrap_or(row.head_id),
            summary: row.summary,
            cover,
            patches,
        });
    }
    Ok(out)
}

/// The filters every Patchwork list of series shares: the project (by id or name) and the
/// submitters (by person id, the row id of their first mail, or by address).
fn push_project_and_submitters(
    qb: &mut QueryBuilder<'_, Db>,
    project: Option<&str>,
    submitters: &[String],
) {
    if let Some(p) = project {
        match p.parse::<i64>() {
            Ok(id) => qb.push(" AND s.project_id = ").push_bind(id),
            Err(_) => qb.push(" AND p.name = ").push_bind(clean(p).into_owned()),
        };
    }
    push_or(qb, submitters, |qb, s| match s.parse::<i64>() {
        Ok(id) => {
            qb.push(
                "(SELECT MIN(m2.id) FROM messages m2 WHERE m2.from_email = s.submitter_email) = ",
            )
            .push_bind(id);
        }
        Err(_) => {
            qb.push("LOWER(s.submitter_email) = ").push_bind(clean(s).to_lowercase());
        }
    });
}

/// How many series `filters` keeps, and one page of them as `series_select_pw()` rows: the
/// count and the page of the Patchwork API's series and covers lists. `what` names the two
/// statements (count, list) in errors.
async fn series_page(
    pool: &DbPool,
    filters: &(dyn Fn(&mut QueryBuilder<'_, Db>) + Sync),
    order: Order,
    page: u32,
    per_page: u32,
    what: (&str, &str),
) -> Result<(u64, Vec<DbRow>)> {
    count_and_page(
        pool,
        "SELECT COUNT(*) FROM series s JOIN projects p ON p.id = s.project_id",
        &series_select_pw(),
        filters,
        &order_sql(order, "s.date", "s.head_id", "s.name"),
        page,
        per_page,
        what,
    )
    .await
}

fn series_select_pw() -> String {
    series_select().replacen(
        " FROM series s JOIN projects p",
        ", (SELECT MIN(m2.id) FROM messages m2 WHERE m2.from_email = s.submitter_email) FROM series s JOIN projects p",
        1,
    )
}

pub(crate) async fn series_infos(pool: &DbPool, q: &SeriesQuery) -> Result<Page<SeriesInfo>> {
    let per_page = q.per_page.clamp(1, 1000);
    let page = q.page.max(1);
    let filters = |qb: &mut QueryBuilder<'_, Db>| {
        qb.push(" WHERE 1 = 1");
        push_project_and_submitters(qb, q.project.as_deref(), &q.submitters);
        if let Some(t) = q.since {
            qb.push(" AND s.date >= ").push_bind(t);
        }
        if let Some(t) = q.before {
            qb.push(" AND s.date < ").push_bind(t);
        }
        for w in q.words.iter().filter(|w| !w.trim().is_empty()) {
            qb.push(" AND LOWER(s.subject) LIKE ")
                .push_bind(like_pattern(w.trim()))
                .push(" ESCAPE '\\'");
        }
    };
    let (total, rows) =
        series_page(pool, &filters, q.order, page, per_page, ("counting series", "listing series"))
            .await?;
    Ok(Page {
        items: series_infos_of(pool, rows).await?,
        total,
        total_capped: false,
        page,
        per_page,
    })
}

pub(crate) async fn series_info(pool: &DbPool, id: i64) -> Result<Option<SeriesInfo>> {
    let sql = format!("{} WHERE s.head_id = $1 ORDER BY s.project_id LIMIT 1", series_select_pw());
    let rows = sqlx::query(&sql).bind(id).fetch_all(pool).await.ctx("reading a series")?;
    Ok(series_infos_of(pool, rows).await?.pop())
}

pub(crate) async fn series_id_of_head(pool: &DbPool, head: &str) -> Result<Option<i64>> {
    let mut conn = pool.acquire().await.ctx("connecting")?;
    let Some(id) = message_row_id(&mut conn, head).await? else { return Ok(None) };
    let row = sqlx::query("SELECT head_id FROM series WHERE head_id = $1 LIMIT 1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .ctx("finding a series")?;
    row.map(|r| get(&r, 0, "finding a series")).transpose()
}

pub(crate) async fn message_id_of(pool: &DbPool, id: i64) -> Result<Option<String>> {
    let row = sqlx::query("SELECT message_id FROM messages WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await
        .ctx("reading a message")?;
    row.map(|r| get(&r, 0, "reading a message")).transpose()
}

pub(crate) async fn covers(pool: &DbPool, q: &CoverQuery) -> Result<Page<(String, SeriesInfo)>> {
    let per_page = q.per_page.clamp(1, 1000);
    let page = q.page.max(1);
    // The cover letter's own columns, by its row id (`s.cover_id`).
    let cover = |col: &str| format!("(SELECT c.{col} FROM messages c WHERE c.id = s.cover_id)");
    let filters = |qb: &mut QueryBuilder<'_, Db>| {
        qb.push(" WHERE s.cover_id IS NOT NULL");
        push_project_and_submitters(qb, q.project.as_deref(), &q.submitters);
        if let Some(t) = q.since {
            qb.push(format!(" AND COALESCE({}, 0) >= ", cover("date"))).push_bind(t);
        }
        if let Some(t) = q.before {
            qb.push(format!(" AND COALESCE({}, 0) < ", cover("date"))).push_bind(t);
        }
        for w in q.words.iter().filter(|w| !w.trim().is_empty()) {
            qb.push(format!(" AND LOWER({}) LIKE ", cover("subject")))
                .push_bind(like_pattern(w.trim()))
                .push(" ESCAPE '\\'");
        }
        if let Some(m) = &q.msgid {
            let m = clean(m.trim().trim_start_matches('<').trim_end_matches('>')).into_owned();
            qb.push(" AND s.cover_id IN (SELECT c.id FROM messages c WHERE c.message_id = ")
                .push_bind(m)
                .push(")");
        }
        if let Some(id) = q.series {
            qb.push(" AND s.head_id = ").push_bind(id);
        }
    };
    let (total, rows) =
        series_page(pool, &filters, q.order, page, per_page, ("counting covers", "listing covers"))
            .await?;
    let items = series_infos_of(pool, rows)
        .await?
        .into_iter()
        .map(|s| (s.summary.project.clone(), s))
        .collect();
    Ok(Page { items, total, total_capped: false, page, per_page })
}

pub(crate) async fn cover(pool: &DbPool, id: i64) -> Result<Option<SeriesInfo>> {
    let sql = format!("{} WHERE s.cover_id = $1 ORDER BY s.project_id LIMIT 1", series_select_pw());
    let rows = sqlx::query(&sql).bind(id).fetch_all(pool).await.ctx("reading a cover letter")?;
    Ok(series_infos_of(pool, rows).await?.pop())
}

pub(crate) async fn comments(pool: &DbPool, id: i64) -> Result<Vec<Comment>> {
    let what = "reading comments";
    let mut conn = pool.acquire().await.ctx("connecting")?;
    // The thread, light: which mail is a patch or cover letter, and whose reply each is.
    let rows = sqlx::query(
        "SELECT m.id, m.message_id, m.kind, m.in_reply_to, m.meta FROM messages m JOIN messages t ON t.id = $1 \
         WHERE m.thread_hash = t.thread_hash AND m.thread_key = t.thread_key",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await
    .ctx(what)?;
    let mut thread = Vec::with_capacity(rows.len());
    for r in &rows {
        let row_id: i64 = get(r, 0, what)?;
        let kind: String = get(r, 2, what)?;
        let in_reply_to: Option<String> = get(r, 3, what)?;
        let meta: String = get(r, 4, what)?;
        let meta: MessageMeta = serde_json::from_str(&meta)
            .map_err(|e| corrupt(format!("meta of message row {row_id}"), e))?;
        let mut ancestors: Vec<String> = in_reply_to.into_iter().collect();
        for a in meta.references.iter().rev() {
            if !ancestors.contains(a) {
                ancestors.push(a.clone());
            }
        }
        thread.push(ThreadMail {
            id: row_id,
            message_id: get(r, 1, what)?,
            submission: match kind.as_str() {
                "patch" | "pull-request" => Some(Submission::Patch),
                "cover-letter" => Some(Submission::Cover),
                _ => None,
            },
            ancestors,
        });
    }
    let ids: Vec<i64> =
        attach_comments(&thread).into_iter().filter(|&(_, s)| s == id).map(|(c, _)| c).collect();
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut qb = QueryBuilder::<Db>::new(
            "SELECT m.id, m.message_id, m.subject, m.from_name, m.from_email, COALESCE(m.date, 0), m.body, \
             (SELECT MIN(m2.id) FROM messages m2 WHERE m2.from_email = m.from_email) FROM messages m WHERE m.id IN (",
        );
        let mut sep = qb.separated(", ");
        for c in chunk {
            sep.push_bind(*c);
        }
        qb.push(")");
        for r in qb.build().fetch_all(&mut *conn).await.ctx(what)? {
            let id: i64 = get(&r, 0, what)?;
            out.push(Comment {
                id,
                message_id: get(&r, 1, what)?,
                subject: get(&r, 2, what)?,
                submitter: Person {
                    id: get::<Option<i64>>(&r, 7, what)?.unwrap_or(id),
                    name: get(&r, 3, what)?,
                    email: get(&r, 4, what)?,
                },
                date: get(&r, 5, what)?,
                body: get(&r, 6, what)?,
            });
        }
    }
    out.sort_by_key(|c| (c.date, c.id));
    Ok(out)
}

pub(crate) async fn people(
    pool: &DbPool,
    project: Option<&str>,
    q: Option<&str>,
    page: u32,
    per_page: u32,
) -> Result<Page<Person>> {
    let per_page = per_page.clamp(1, 1000);
    let page = page.max(1);
    let filters = |qb: &mut QueryBuilder<'_, Db>| {
        qb.push(
            " WHERE m.id = (SELECT MIN(m2.id) FROM messages m2 WHERE m2.from_email = m.from_email)",
        );
        if let Some(p) = project {
            qb.push(" AND EXISTS (SELECT 1 FROM message_projects mp JOIN projects p ON p.id = mp.project_id WHERE mp.message_id = m.id AND ");
            match p.parse::<i64>() {
                Ok(id) => qb.push("p.id = ").push_bind(id),
                Err(_) => qb.push("p.name = ").push_bind(clean(p).into_owned()),
            };
            qb.push(")");
        }
        if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
            let pat = like_pattern(q);
            qb.push(" AND (LOWER(m.from_name) LIKE ")
                .push_bind(pat.clone())
                .push(" ESCAPE '\\' OR LOWER(m.from_email) LIKE ");
            qb.push_bind(pat).push(" ESCAPE '\\')");
        }
    };
    let (total, rows) = count_and_page(
        pool,
        "SELECT COUNT(*) FROM messages m",
        "SELECT m.id, m.from_name, m.from_email FROM messages m",
        &filters,
        "m.id",
        page,
        per_page,
        ("counting people", "listing people"),
    )
    .await?;
    let items = rows.iter().map(person_row).collect::<Result<_>>()?;
    Ok(Page { items, total, total_capped: false, page, per_page })
}

pub(crate) async fn person(pool: &DbPool, id: i64) -> Result<Option<Person>> {
    let what = "reading a person";
    let row = sqlx::query(
        "SELECT m.id, m.from_name, m.from_email FROM messages m WHERE m.id = $1 \
         AND m.id = (SELECT MIN(m2.id) FROM messages m2 WHERE m2.from_email = m.from_email)",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
    .ctx(what)?;
    row.as_ref().map(person_row).transpose()
}

/// A person from `SELECT m.id, m.from_name, m.from_email` (in that order).
fn person_row(r: &DbRow) -> Result<Person> {
    let what = "reading a person";
    Ok(Person { id: get(r, 0, what)?, name: get(r, 1, what)?, email: get(r, 2, what)? })
}

// -----------------------------------------------------------------------------------------
// Bundles

pub(crate) async fn create_bundle(
    pool: &DbPool,
    owner: i64,
    project: &str,
    name: &str,
    public: bool,
    patches: &[i64],
) -> Result<i64> {
    let what = "creating a bundle";
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    let Some(p) = sqlx::query("SELECT id FROM projects WHERE name = $1")
        .bind(clean(project).as_ref())
        .fetch_optional(&mut *tx)
        .await
        .ctx(what)?
    else {
        return Err(Error::Invalid(format!("no project {project:?}")));
    };
    let pid: i64 = get(&p, 0, what)?;
    if sqlx::query("SELECT 1 FROM bundles WHERE owner_id = $1 AND name = $2")
        .bind(owner)
        .bind(clean(name).as_ref())
        .fetch_optional(&mut *tx)
        .await
        .ctx(what)?
        .is_some()
    {
        return Err(Error::Invalid(format!("you have a bundle named {name:?} already")));
    }
    let row = sqlx::query("INSERT INTO bundles (owner_id, project_id, name, public, created) VALUES ($1, $2, $3, $4, $5) RETURNING id")
        .bind(owner)
        .bind(pid)
        .bind(clean(name).as_ref())
        .bind(public)
        .bind(now())
        .fetch_one(&mut *tx)
        .await
        .ctx(what)?;
    let id: i64 = get(&row, 0, what)?;
    let mut seen = HashSet::new();
    for (pos, &patch) in patches.iter().enumerate() {
        if !seen.insert(patch) {
            continue;
        }
        sqlx::query(
            "INSERT INTO bundle_patches (bundle_id, message_id, position) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(patch)
        .bind(pos as i64)
        .execute(&mut *tx)
        .await
        .ctx(what)?;
    }
    tx.commit().await.ctx(what)?;
    Ok(id)
}

pub(crate) async fn bundles(
    pool: &DbPool,
    project: Option<&str>,
    viewer: Option<i64>,
    id: Option<i64>,
) -> Result<Vec<Bundle>> {
    let what = "reading bundles";
    let mut qb = QueryBuilder::<Db>::new(format!(
        "SELECT b.id, b.project_id, p.name, b.name, b.public, {USER_COLS} FROM bundles b JOIN projects p ON p.id = b.project_id \
         JOIN users u ON u.id = b.owner_id WHERE 1 = 1"
    ));
    if let Some(id) = id {
        qb.push(" AND b.id = ").push_bind(id);
    } else {
        qb.push(" AND (b.public");
        if let Some(v) = viewer {
            qb.push(" OR b.owner_id = ").push_bind(v);
        }
        qb.push(")");
    }
    if let Some(p) = project {
        match p.parse::<i64>() {
            Ok(pid) => qb.push(" AND b.project_id = ").push_bind(pid),
            Err(_) => qb.push(" AND p.name = ").push_bind(clean(p).into_owned()),
        };
    }
    qb.push(" ORDER BY b.name, b.id");
    let rows = qb.build().fetch_all(pool).await.ctx(what)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let id: i64 = get(&r, 0, what)?;
        let patches = sqlx::query(
            "SELECT message_id FROM bundle_patches WHERE bundle_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(pool)
        .await
        .ctx(what)?
        .iter()
        .map(|r| get::<i64>(r, 0, what))
        .collect::<Result<Vec<_>>>()?;
        out.push(Bundle {
            id,
            project_id: get(&r, 1, what)?,
            project: get(&r, 2, what)?,
            name: get(&r, 3, what)?,
            public: get(&r, 4, what)?,
            owner: user_row(&r, 5)?,
            patches,
        });
    }
    Ok(out)
}

// -----------------------------------------------------------------------------------------
// Events

pub(crate) async fn events_page(pool: &DbPool, q: &EventQuery) -> Result<Page<Event>> {
    let what = "reading events";
    let per_page = q.per_page.clamp(1, 1000);
    let page = q.page.max(1);
    let filters = |qb: &mut QueryBuilder<'_, Db>| {
        qb.push(" WHERE 1 = 1");
        if let Some(p) = &q.project {
            qb.push(" AND project = ").push_bind(clean(p).into_owned());
        }
        push_or(qb, &q.kinds, |qb, k| {
            qb.push("kind = ").push_bind(k.to_string());
        });
    };
    let (total, rows) = count_and_page(
        pool,
        "SELECT COUNT(*) FROM events",
        &format!("SELECT {EVENT_COLUMNS} FROM events"),
        &filters,
        "id DESC",
        page,
        per_page,
        (what, what),
    )
    .await?;
    let items = rows.iter().map(|r| event_row(r, what)).collect::<Result<_>>()?;
    Ok(Page { items, total, total_capped: false, page, per_page })
}
