//! The jobs queue and merge records: SQL for both backends, compiled once per
//! database (lib.rs); `Db`, `PG`, `DbPool`, `Conn`, `get`, `message_row_id` come from the other stages.
//! The public API and the rules are in jobs.rs.

use super::*;
use crate::jobs::{Job, JobCount, JobInfo, MergeCandidate, MergedPatch, Token, UpstreamMatch};

/// Queues an `apply` job for every complete series of a project with a git tree that has
/// neither an apply result nor a job yet. Returns how many were queued.
pub(crate) async fn enqueue_ready_apply(pool: &DbPool) -> Result<u64> {
    let t = now();
    let done = sqlx::query(
        "INSERT INTO jobs (kind, target_id, project, state, not_before, created, updated) \
         SELECT 'apply', s.head_id, p.name, 'queued', $1, $1, $1 FROM series s JOIN projects p ON p.id = s.project_id \
         WHERE p.git_url IS NOT NULL AND s.complete AND NOT s.is_pull \
         AND NOT EXISTS (SELECT 1 FROM apply_results a WHERE a.head_id = s.head_id) \
         AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.kind = 'apply' AND j.target_id = s.head_id) \
         ON CONFLICT (kind, target_id) DO NOTHING",
    )
    .bind(t)
    .execute(pool)
    .await
    .ctx("queueing series to apply")?;
    Ok(done.rows_affected())
}

/// Queues (or queues again, resetting attempts) one job about `message_id`.
pub(crate) async fn enqueue(
    pool: &DbPool,
    kind: &str,
    message_id: &str,
    project: &str,
    payload: Option<&str>,
) -> Result<i64> {
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    let target = require_message(&mut tx, message_id).await?;
    let t = now();
    let row = sqlx::query(
        "INSERT INTO jobs (kind, target_id, project, state, not_before, created, updated, payload) \
         VALUES ($1, $2, $3, 'queued', $4, $4, $4, $5) ON CONFLICT (kind, target_id) DO UPDATE SET \
         state = 'queued', attempts = 0, lost_leases = 0, not_before = excluded.not_before, locked_by = NULL, \
         locked_until = NULL, last_error = NULL, project = excluded.project, updated = excluded.updated, \
         payload = excluded.payload RETURNING id",
    )
    .bind(kind)
    .bind(target)
    .bind(clean(project).as_ref())
    .bind(t)
    .bind(payload.map(clean).as_deref())
    .fetch_one(&mut *tx)
    .await
    .ctx("queueing a job")?;
    let id = get(&row, 0, "queueing a job")?;
    tx.commit().await.ctx("queueing a job")?;
    Ok(id)
}

/// `kind = $n` or `kind LIKE $n` (an entry ending in `*` is a prefix) for each of `kinds`,
/// numbered from `$first`; `TRUE` when there are none. Bind them with [`bind_kinds`].
fn kind_filter(kinds: &[&str], first: usize) -> String {
    if kinds.is_empty() {
        return "TRUE".to_string();
    }
    let alternatives: Vec<String> = kinds
        .iter()
        .enumerate()
        .map(|(i, k)| {
            if k.ends_with('*') {
                format!("kind LIKE ${} ESCAPE '\\'", i + first)
            } else {
                format!("kind = ${}", i + first)
            }
        })
        .collect();
    format!("({})", alternatives.join(" OR "))
}

fn bind_kinds<'q>(
    mut q: sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>,
    kinds: &[&str],
) -> sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>> {
    for k in kinds {
        q = q.bind(match k.strip_suffix('*') {
            Some(prefix) => {
                format!("{}%", prefix.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
            }
            None => k.to_string(),
        });
    }
    q
}

/// Takes the oldest due job: queued and due, or running with an expired lease (its worker
/// died). PostgreSQL skips rows other workers are claiming; SQLite has one writer at a time,
/// so the single UPDATE is atomic there. Jobs whose lease has now expired `max_lost` times
/// are ended first ([`end_lost_jobs`]) instead of being handed out again.
pub(crate) async fn claim(
    pool: &DbPool,
    worker: &str,
    lease_secs: i64,
    kinds: &[&str],
    max_lost: u32,
) -> Result<Option<Job>> {
    let t = now();
    let max_lost = i64::from(max_lost.max(1));
    end_lost_jobs(pool, t, kinds, max_lost).await?;
    let kind_filter = kind_filter(kinds, 5);
    let lock = if PG { "FOR UPDATE SKIP LOCKED" } else { "" };
    // A running job is taken only when its lease is over, and counts one more lost lease.
    let sql = format!(
        "UPDATE jobs SET state = 'running', locked_by = $1, locked_until = $2, attempts = attempts + 1, \
         lost_leases = lost_leases + CASE WHEN state = 'running' THEN 1 ELSE 0 END, updated = $3 \
         WHERE id = (SELECT id FROM jobs WHERE ((state = 'queued' AND not_before <= $3) \
         OR (state = 'running' AND locked_until < $3 AND lost_leases + 1 < $4)) AND {kind_filter} ORDER BY not_before, id LIMIT 1 {lock}) \
         RETURNING id, kind, target_id, project, attempts, payload"
    );
    let worker = clean(worker);
    let q = sqlx::query(&sql).bind(worker.as_ref()).bind(t + lease_secs).bind(t).bind(max_lost);
    let q = bind_kinds(q, kinds);
    let mut conn = pool.acquire().await.ctx("connecting")?;
    let what = "claiming a job";
    let Some(row) = q.fetch_optional(&mut *conn).await.ctx(what)? else { return Ok(None) };
    let target_id: i64 = get(&row, 2, what)?;
    let target = sqlx::query("SELECT message_id FROM messages WHERE id = $1")
        .bind(target_id)
        .fetch_optional(&mut *conn)
        .await
        .ctx(what)?
        .map(|r| get::<String>(&r, 0, what))
        .transpose()?;
    let payload: Option<String> = get(&row, 5, what)?;
    Ok(Some(Job {
        id: get(&row, 0, what)?,
        kind: get(&row, 1, what)?,
        target,
        project: get(&row, 3, what)?,
        attempts: to_u32(get(&row, 4, what)?),
        lease_until: t + lease_secs,
        payload: payload.and_then(|p| serde_json::from_str(&p).ok()),
    }))
}

/// Ends the running jobs of `kinds` whose lease has expired for the `max_lost`-th time
/// without a result: failed, with the reason in `last_error`, and a check job's reason
/// stored as an `error` check on its series (the page shows it, reports are sent), all in
/// one transaction. Two claimers ending the same job: the second's UPDATE finds it failed.
async fn end_lost_jobs(pool: &DbPool, t: i64, kinds: &[&str], max_lost: i64) -> Result<()> {
    let what = "ending jobs that lost their lease";
    let sql = format!(
        "UPDATE jobs SET state = 'failed', locked_until = NULL, lost_leases = lost_leases + 1, updated = $1 \
         WHERE state = 'running' AND locked_until < $1 AND lost_leases + 1 >= $2 AND {} \
         RETURNING id, payload, locked_by, lost_leases",
        kind_filter(kinds, 3)
    );
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    let ended = bind_kinds(sqlx::query(&sql).bind(t).bind(max_lost), kinds)
        .fetch_all(&mut *tx)
        .await
        .ctx(what)?;
    if ended.is_empty() {
        tx.rollback().await.ctx(what)?;
        return Ok(());
    }
    for row in &ended {
        let id: i64 = get(row, 0, what)?;
        let payload: Option<String> = get(row, 1, what)?;
        let holder: Option<String> = get(row, 2, what)?;
        let lost: i64 = get(row, 3, what)?;
        let reason = crate::jobs::lost_lease_reason(lost, holder.as_deref().unwrap_or("nobody"));
        tracing::warn!(job = id, %reason, "job ended");
        sqlx::query("UPDATE jobs SET last_error = $1 WHERE id = $2")
            .bind(clean(&reason).as_ref())
            .bind(id)
            .execute(&mut *tx)
            .await
            .ctx(what)?;
        let payload: serde_json::Value =
            payload.and_then(|p| serde_json::from_str(&p).ok()).unwrap_or_default();
        if let (Some(name), Some(series)) = (payload["check"].as_str(), payload["series"].as_str())
            && message_row_id(&mut tx, series).await?.is_some()
        {
            let check = NewCheck {
                name: name.to_string(),
                state: CheckState::Error,
                url: None,
                description: Some(reason),
                log: None,
            };
            add_check_in(&mut tx, series, &check).await?;
        }
    }
    tx.commit().await.ctx(what)?;
    Ok(())
}

/// Extends the lease of a job this worker holds; false when it lost it.
pub(crate) async fn extend(pool: &DbPool, id: i64, worker: &str, lease_secs: i64) -> Result<bool> {
    let t = now();
    let done = sqlx::query(
        "UPDATE jobs SET locked_until = $1, updated = $2 WHERE id = $3 AND locked_by = $4 AND state = 'running'",
    )
    .bind(t + lease_secs)
    .bind(t)
    .bind(id)
    .bind(clean(worker).as_ref())
    .execute(pool)
    .await
    .ctx("extending a job's lease")?;
    Ok(done.rows_affected() == 1)
}

/// Marks a job this worker holds done (inside the caller's transaction); false when the
/// worker lost it to another (its lease expired).
pub(crate) async fn finish_in(conn: &mut Conn, id: i64, worker: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET state = 'done', locked_by = NULL, locked_until = NULL, last_error = NULL, updated = $1 \
         WHERE id = $2 AND locked_by = $3 AND state = 'running'",
    )
    .bind(now())
    .bind(id)
    .bind(clean(worker).as_ref())
    .execute(&mut *conn)
    .await
    .ctx("finishing a job")?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn finish(pool: &DbPool, id: i64, worker: &str) -> Result<bool> {
    let mut conn = pool.acquire().await.ctx("connecting")?;
    finish_in(&mut conn, id, worker).await
}

/// Records what applying gave and marks the job done, in one transaction, only if this
/// worker still holds the job: a worker that lost its lease stores nothing.
pub(crate) async fn finish_apply(
    pool: &DbPool,
    id: i64,
    worker: &str,
    head: &str,
    r: &ApplyResult,
) -> Result<bool> {
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    if !finish_in(&mut tx, id, worker).await? {
        return Ok(false);
    }
    set_apply_result_in(&mut tx, head, r).await?;
    tx.commit().await.ctx("saving an apply result")?;
    Ok(true)
}

/// Records a check's result and marks its job done, atomically, only while `worker` holds it.
pub(crate) async fn finish_check(
    pool: &DbPool,
    id: i64,
    worker: &str,
    message_id: &str,
    c: &NewCheck,
) -> Result<Option<i64>> {
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    if !finish_in(&mut tx, id, worker).await? {
        return Ok(None);
    }
    let check = add_check_in(&mut tx, message_id, c).await?;
    tx.commit().await.ctx("saving a check")?;
    Ok(Some(check))
}

/// Gives a job back: queued again at `retry_at`, or failed for good when `retry_at` is None.
pub(crate) async fn fail(
    pool: &DbPool,
    id: i64,
    worker: &str,
    error: &str,
    retry_at: Option<i64>,
) -> Result<bool> {
    let t = now();
    let done = sqlx::query(
        "UPDATE jobs SET state = $1, not_before = $2, locked_by = NULL, locked_until = NULL, last_error = $3, \
         updated = $4 WHERE id = $5 AND locked_by = $6 AND state = 'running'",
    )
    .bind(if retry_at.is_some() { "queued" } else { "failed" })
    .bind(retry_at.unwrap_or(t))
    .bind(clean(error).as_ref())
    .bind(t)
    .bind(id)
    .bind(clean(worker).as_ref())
    .execute(pool)
    .await
    .ctx("failing a job")?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn job_info(pool: &DbPool, id: i64) -> Result<Option<JobInfo>> {
    let what = "reading a job";
    let row = sqlx::query(
        "SELECT kind, state, locked_by, payload, attempts, last_error FROM jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(pool)
    .await
    .ctx(what)?;
    let Some(r) = row else { return Ok(None) };
    let payload: Option<String> = get(&r, 3, what)?;
    Ok(Some(JobInfo {
        id,
        kind: get(&r, 0, what)?,
        state: get(&r, 1, what)?,
        locked_by: get(&r, 2, what)?,
        payload: payload.and_then(|p| serde_json::from_str(&p).ok()),
        attempts: to_u32(get(&r, 4, what)?),
        last_error: get(&r, 5, what)?,
    }))
}

pub(crate) async fn job_counts(pool: &DbPool) -> Result<Vec<JobCount>> {
    let what = "counting jobs";
    let rows = sqlx::query(
        "SELECT kind, state, COUNT(*) FROM jobs GROUP BY kind, state ORDER BY kind, state",
    )
    .fetch_all(pool)
    .await
    .ctx(what)?;
    rows.iter()
        .map(|r| {
            Ok(JobCount {
                kind: get(r, 0, what)?,
                state: get(r, 1, what)?,
                count: to_u64(get(r, 2, what)?),
            })
        })
        .collect()
}

/// The state and last error of the job of `kind` about `message_id`.
pub(crate) async fn job_state(
    pool: &DbPool,
    kind: &str,
    message_id: &str,
) -> Result<Option<(String, Option<String>)>> {
    let mut conn = pool.acquire().await.ctx("connecting")?;
    let Some(target) = message_row_id(&mut conn, message_id).await? else { return Ok(None) };
    let what = "reading a job";
    let row = sqlx::query("SELECT state, last_error FROM jobs WHERE kind = $1 AND target_id = $2")
        .bind(kind)
        .bind(target)
        .fetch_optional(&mut *conn)
        .await
        .ctx(what)?;
    row.map(|r| Ok((get(&r, 0, what)?, get(&r, 1, what)?))).transpose()
}

/// The stored patches of `project` that an upstream commit may have merged: same patch-id,
/// or same author address (then the caller compares subjects); oldest first.
pub(crate) async fn merge_candidates(
    pool: &DbPool,
    project: &str,
    patch_ids: &[String],
    authors: &[String],
) -> Result<Vec<MergeCandidate>> {
    let what = "finding merged patches";
    let mut conn = pool.acquire().await.ctx("connecting")?;
    let Some(project_id) = project_id(&mut conn, project).await? else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    let (ids_json, authors_json) = (
        serde_json::to_string(patch_ids).unwrap_or_else(|_| "[]".into()),
        serde_json::to_string(authors).unwrap_or_else(|_| "[]".into()),
    );
    let list = |n: usize| {
        if PG {
            format!("SELECT jsonb_array_elements_text(${n}::jsonb)")
        } else {
            format!("SELECT value FROM json_each(${n})")
        }
    };
    let sql = format!(
        "SELECT m.id, m.message_id, m.patch_id, m.from_email, m.subject FROM messages m \
         JOIN message_projects mp ON mp.message_id = m.id \
         WHERE mp.project_id = $1 AND m.kind = 'patch' AND (m.patch_id IN ({}) OR lower(m.from_email) IN ({})) ORDER BY m.id",
        list(2),
        list(3)
    );
    let rows = sqlx::query(&sql)
        .bind(project_id)
        .bind(ids_json)
        .bind(authors_json)
        .fetch_all(&mut *conn)
        .await
        .ctx(what)?;
    for r in &rows {
        out.push(MergeCandidate {
            row_id: get(r, 0, what)?,
            message_id: get(r, 1, what)?,
            patch_id: get(r, 2, what)?,
            author_email: get(r, 3, what)?,
            subject: get(r, 4, what)?,
        });
    }
    Ok(out)
}

async fn project_id(conn: &mut Conn, name: &str) -> Result<Option<i64>> {
    let row = sqlx::query("SELECT id FROM projects WHERE name = $1")
        .bind(clean(name).as_ref())
        .fetch_optional(&mut *conn)
        .await
        .ctx("looking up a project")?;
    row.map(|r| get(&r, 0, "looking up a project")).transpose()
}

/// Records matches (keeping the first match of a patch), then a `series-merged` event for
/// every series of the project whose patches have all become merged. Returns the heads of
/// those series.
pub(crate) async fn record_merged(
    pool: &DbPool,
    project: &str,
    matches: &[UpstreamMatch],
) -> Result<Vec<String>> {
    let what = "recording merged patches";
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    let Some(project_id) = project_id(&mut tx, project).await? else { return Ok(Vec::new()) };
    let t = now();
    let mut touched = Vec::new();
    for m in matches {
        let done = sqlx::query(
            "INSERT INTO merged_patches (message_id, project_id, commit_id, matched_by, updated) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (message_id) DO NOTHING",
        )
        .bind(m.row_id)
        .bind(project_id)
        .bind(clean(&m.commit).as_ref())
        .bind(m.matched_by)
        .bind(t)
        .execute(&mut *tx)
        .await
        .ctx(what)?;
        if done.rows_affected() == 1 {
            touched.push(m.row_id);
        }
    }
    touch_series_of(&mut tx, &touched).await?;
    // Series of the project containing a newly merged patch, now merged in full.
    let mut heads = Vec::new();
    for chunk in touched.chunks(IN_CHUNK) {
        let json = serde_json::to_string(chunk).unwrap_or_else(|_| "[]".into());
        let list = if PG {
            "SELECT (jsonb_array_elements_text($2::jsonb))::bigint"
        } else {
            "SELECT value FROM json_each($2)"
        };
        let sql = format!(
            "SELECT DISTINCT s.head FROM series s JOIN series_members sm ON sm.series_id = s.id \
             WHERE s.project_id = $1 AND sm.role = 'patch' AND sm.message_id IN ({list}) \
             AND NOT EXISTS (SELECT 1 FROM series_members o WHERE o.series_id = s.id AND o.role = 'patch' \
             AND NOT EXISTS (SELECT 1 FROM merged_patches mp WHERE mp.message_id = o.message_id))"
        );
        let rows =
            sqlx::query(&sql).bind(project_id).bind(json).fetch_all(&mut *tx).await.ctx(what)?;
        for r in &rows {
            let head: String = get(r, 0, what)?;
            if !heads.contains(&head) {
                heads.push(head);
            }
        }
    }
    for head in &heads {
        let payload = serde_json::json!({ "project": project });
        add_event_in(&mut tx, "series-merged", Some(project), Some(head), None, &payload).await?;
    }
    tx.commit().await.ctx(what)?;
    Ok(heads)
}

/// The merged patches of a series, by patch number order of the caller's choosing.
pub(crate) async fn merged(pool: &DbPool, message_ids: &[String]) -> Result<Vec<MergedPatch>> {
    let what = "reading merged patches";
    let mut conn = pool.acquire().await.ctx("connecting")?;
    let mut out = Vec::new();
    for mid in message_ids {
        let Some(id) = message_row_id(&mut conn, mid).await? else { continue };
        let row = sqlx::query(
            "SELECT commit_id, matched_by, updated FROM merged_patches WHERE message_id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .ctx(what)?;
        if let Some(r) = row {
            out.push(MergedPatch {
                message_id: mid.clone(),
                commit: get(&r, 0, what)?,
                matched_by: get(&r, 1, what)?,
                updated: get(&r, 2, what)?,
            });
        }
    }
    Ok(out)
}

pub(crate) async fn create_token(
    pool: &DbPool,
    name: &str,
    scope: &str,
    hash: &str,
) -> Result<i64> {
    let row = sqlx::query(
        "INSERT INTO tokens (name, scope, hash, created) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(clean(name).as_ref())
    .bind(scope)
    .bind(hash)
    .bind(now())
    .fetch_one(pool)
    .await
    .ctx("creating a token")?;
    get(&row, 0, "creating a token")
}

/// The live token with this hash (and notes its use).
pub(crate) async fn token_by_hash(pool: &DbPool, hash: &str) -> Result<Option<Token>> {
    let what = "checking a token";
    let row = sqlx::query(
        "SELECT id, name, scope, created FROM tokens WHERE hash = $1 AND revoked IS NULL",
    )
    .bind(hash)
    .fetch_optional(pool)
    .await
    .ctx(what)?;
    let Some(r) = row else { return Ok(None) };
    let token = token_row(&r)?;
    sqlx::query("UPDATE tokens SET last_used = $1 WHERE id = $2")
        .bind(now())
        .bind(token.id)
        .execute(pool)
        .await
        .ctx(what)?;
    Ok(Some(token))
}

pub(crate) async fn tokens(pool: &DbPool) -> Result<Vec<Token>> {
    let what = "listing tokens";
    let rows = sqlx::query(
        "SELECT id, name, scope, created FROM tokens WHERE revoked IS NULL ORDER BY id",
    )
    .fetch_all(pool)
    .await
    .ctx(what)?;
    rows.iter().map(token_row).collect()
}

/// A token from `SELECT id, name, scope, created` (in that order).
fn token_row(r: &DbRow) -> Result<Token> {
    let what = "reading a token";
    Ok(Token {
        id: get(r, 0, what)?,
        name: get(r, 1, what)?,
        scope: get(r, 2, what)?,
        created: get(r, 3, what)?,
    })
}

pub(crate) async fn revoke_token(pool: &DbPool, id: i64) -> Result<bool> {
    let done = sqlx::query("UPDATE tokens SET revoked = $1 WHERE id = $2 AND revoked IS NULL")
        .bind(now())
        .bind(id)
        .execute(pool)
        .await
        .ctx("revoking a token")?;
    Ok(done.rows_affected() == 1)
}
