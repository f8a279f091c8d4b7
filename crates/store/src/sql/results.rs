//! Results: apply results and checks of series and patches, and the states of list lines.
//!
//! Compiled once per database (`crate::sqlite`, `crate::pg`; declared in lib.rs).

use super::*;

// ---------------------------------------------------------------------------------------------
// Apply results and checks

pub(super) async fn apply_result_by_id(
    conn: &mut Conn,
    head_id: i64,
) -> Result<Option<ApplyResult>> {
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
        state: apply_state_from_name(&state_text)
            .ok_or_else(|| corrupt("apply state", state_text))?,
        base: get(&r, 1, what)?,
        result_commit: get(&r, 2, what)?,
        tree_url: get(&r, 3, what)?,
        log: get(&r, 4, what)?,
        failed_patch: get::<Option<i64>>(&r, 5, what)?.map(to_u32),
        updated: get(&r, 6, what)?,
    }))
}

/// The project and head of the (first) series a message belongs to, for events about it.
pub(super) async fn project_and_head_of(
    conn: &mut Conn,
    id: i64,
) -> Result<Option<(String, String)>> {
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

pub(super) async fn require_message(conn: &mut Conn, message_id: &str) -> Result<i64> {
    message_row_id(conn, message_id)
        .await?
        .ok_or_else(|| Error::Invalid(format!("no stored message <{message_id}>")))
}

pub(crate) async fn apply_result(pool: &DbPool, series_head: &str) -> Result<Option<ApplyResult>> {
    let mut conn = pool.acquire().await.ctx("connecting")?;
    let Some(id) = message_row_id(&mut conn, series_head).await? else { return Ok(None) };
    apply_result_by_id(&mut conn, id).await
}

pub(crate) async fn set_apply_result(
    pool: &DbPool,
    series_head: &str,
    r: &ApplyResult,
) -> Result<()> {
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    set_apply_result_in(&mut tx, series_head, r).await?;
    tx.commit().await.ctx("saving an apply result")
}

/// Saves `r` unless the series already has a result other than `pending`; returns the result
/// the series has after (`r`, or the one another worker saved first).
pub(crate) async fn set_apply_result_unless_done(
    pool: &DbPool,
    series_head: &str,
    r: &ApplyResult,
) -> Result<ApplyResult> {
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    let out = if save_apply_result(&mut tx, series_head, r, true).await? {
        r.clone()
    } else {
        let id = require_message(&mut tx, series_head).await?;
        apply_result_by_id(&mut tx, id).await?.unwrap_or_else(|| r.clone())
    };
    tx.commit().await.ctx("saving an apply result")?;
    Ok(out)
}

pub(super) async fn set_apply_result_in(
    tx: &mut Conn,
    series_head: &str,
    r: &ApplyResult,
) -> Result<()> {
    save_apply_result(tx, series_head, r, false).await.map(|_| ())
}

/// Writes an apply result and its event; with `unless_done`, only over no result or a
/// `pending` one. Whether it wrote.
async fn save_apply_result(
    tx: &mut Conn,
    series_head: &str,
    r: &ApplyResult,
    unless_done: bool,
) -> Result<bool> {
    let id = require_message(&mut *tx, series_head).await?;
    let guard = if unless_done { " WHERE apply_results.state = 'pending'" } else { "" };
    let written = sqlx::query(&format!(
        "INSERT INTO apply_results (head_id, state, base, result_commit, tree_url, log, failed_patch, updated) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (head_id) DO UPDATE SET state = excluded.state, \
         base = excluded.base, result_commit = excluded.result_commit, tree_url = excluded.tree_url, \
         log = excluded.log, failed_patch = excluded.failed_patch, updated = excluded.updated{guard}",
    ))
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
    .ctx("saving an apply result")?
    .rows_affected()
        > 0;
    if !written {
        return Ok(false);
    }
    touch_series_of(&mut *tx, &[id]).await?;
    if r.state != ApplyState::Pending {
        let payload = serde_json::json!({"state": apply_state_name(r.state), "result_commit": r.result_commit});
        let project = project_and_head_of(&mut *tx, id).await?.map(|(p, _)| p);
        add_event_in(
            &mut *tx,
            "series-applied",
            project.as_deref(),
            Some(series_head),
            None,
            &payload,
        )
        .await?;
    }
    Ok(true)
}

pub(super) async fn checks_by_ids(conn: &mut Conn, ids: &[i64]) -> Result<Vec<Check>> {
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
                state: check_state_from_name(&state_text)
                    .ok_or_else(|| corrupt("check state", state_text))?,
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

pub(crate) async fn line_states(
    pool: &DbPool,
    heads: &[String],
) -> Result<HashMap<String, LineState>> {
    let what = "reading the apply and check states of series";
    let mut conn = pool.acquire().await.ctx("connecting")?;
    let wanted: HashMap<String, &String> =
        heads.iter().map(|h| (clean(h).into_owned(), h)).collect();
    let hashes: Vec<i64> = wanted.keys().map(|m| text_hash(m)).collect();
    let mut head_of: HashMap<i64, &String> = HashMap::new();
    for r in fetch_in(
        &mut conn,
        "SELECT id, message_id FROM messages WHERE mid_hash IN",
        "",
        &hashes,
        what,
    )
    .await?
    {
        let mid: String = get(&r, 1, what)?;
        if let Some(&head) = wanted.get(&mid) {
            head_of.insert(get(&r, 0, what)?, head);
        }
    }
    let ids: Vec<i64> = head_of.keys().copied().collect();
    let mut out: HashMap<String, LineState> = HashMap::new();
    for r in fetch_in(
        &mut conn,
        "SELECT head_id, state FROM apply_results WHERE head_id IN",
        "",
        &ids,
        what,
    )
    .await?
    {
        let (id, state): (i64, String) = (get(&r, 0, what)?, get(&r, 1, what)?);
        let state = apply_state_from_name(&state).ok_or_else(|| corrupt("apply state", state))?;
        if let Some(head) = head_of.get(&id) {
            out.entry((*head).clone()).or_default().apply = Some(state);
        }
    }
    for r in fetch_in(
        &mut conn,
        "SELECT target_id, state FROM checks WHERE target_id IN",
        "",
        &ids,
        what,
    )
    .await?
    {
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

pub(super) async fn add_check_in(tx: &mut Conn, message_id: &str, c: &NewCheck) -> Result<i64> {
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
    add_event_in(
        &mut *tx,
        "check-finished",
        project.as_deref(),
        head.as_deref(),
        Some(message_id),
        &payload,
    )
    .await?;
    Ok(id)
}
