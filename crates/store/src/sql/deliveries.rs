//! The notifier's deliveries: SQL for both backends, compiled once per database (lib.rs).
//! The public API and the rules are in deliveries.rs.

use super::*;
use crate::deliveries::{Delivery, DeliveryCount, DeliveryInfo, DeliveryOutcome, NewDelivery};

pub(crate) async fn plan(
    pool: &DbPool,
    rows: &[NewDelivery],
    cursor_key: &str,
    cursor: i64,
) -> Result<u64> {
    let what = "planning deliveries";
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    let t = now();
    let mut added = 0;
    for d in rows {
        let done = sqlx::query(
            "INSERT INTO deliveries (event_id, channel, target, state, attempts, next_attempt, created, updated) \
             VALUES ($1, $2, $3, 'pending', 0, $4, $4, $4) ON CONFLICT (event_id, channel, target) DO NOTHING",
        )
        .bind(d.event_id)
        .bind(clean(&d.channel).as_ref())
        .bind(clean(&d.target).as_ref())
        .bind(t)
        .execute(&mut *tx)
        .await
        .ctx(what)?;
        added += done.rows_affected();
    }
    let key = clean(cursor_key);
    let current = sqlx::query("SELECT value FROM cursors WHERE key = $1")
        .bind(key.as_ref())
        .fetch_optional(&mut *tx)
        .await
        .ctx(what)?
        .map(|r| get::<String>(&r, 0, what))
        .transpose()?
        .and_then(|v| v.parse::<i64>().ok());
    if current.is_none_or(|c| c < cursor) {
        sqlx::query("INSERT INTO cursors (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key.as_ref())
            .bind(cursor.to_string())
            .execute(&mut *tx)
            .await
            .ctx(what)?;
    }
    tx.commit().await.ctx(what)?;
    Ok(added)
}

pub(crate) async fn claim(
    pool: &DbPool,
    worker: &str,
    lease_secs: i64,
    channels: &[&str],
) -> Result<Option<Delivery>> {
    let what = "claiming a delivery";
    let t = now();
    let mut conn = pool.acquire().await.ctx("connecting")?;
    // A mail that may have left: never sent twice.
    sqlx::query(
        "UPDATE deliveries SET state = 'failed', locked_by = NULL, locked_until = NULL, updated = $1, \
         last_error = 'the notifier stopped while sending it; not sent again, so that nobody gets it twice' \
         WHERE state = 'sending' AND locked_until < $1 AND channel = 'email'",
    )
    .bind(t)
    .execute(&mut *conn)
    .await
    .ctx(what)?;
    let channel_filter = if channels.is_empty() {
        "TRUE".to_string()
    } else {
        let alternatives: Vec<String> =
            (0..channels.len()).map(|i| format!("${}", i + 4)).collect();
        format!("channel IN ({})", alternatives.join(", "))
    };
    let lock = if PG { "FOR UPDATE SKIP LOCKED" } else { "" };
    let sql = format!(
        "UPDATE deliveries SET state = 'sending', locked_by = $1, locked_until = $2, attempts = attempts + 1, updated = $3 \
         WHERE id = (SELECT id FROM deliveries WHERE ((state = 'pending' AND next_attempt <= $3) \
         OR (state = 'sending' AND locked_until < $3 AND channel <> 'email')) AND {channel_filter} \
         ORDER BY next_attempt, id LIMIT 1 {lock}) \
         RETURNING id, event_id, channel, target, attempts"
    );
    let worker = clean(worker);
    let mut q = sqlx::query(&sql).bind(worker.as_ref()).bind(t + lease_secs).bind(t);
    for c in channels {
        q = q.bind(*c);
    }
    let Some(row) = q.fetch_optional(&mut *conn).await.ctx(what)? else { return Ok(None) };
    let event_id: i64 = get(&row, 1, what)?;
    let event_sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1");
    let event = sqlx::query(&event_sql).bind(event_id).fetch_one(&mut *conn).await.ctx(what)?;
    Ok(Some(Delivery {
        id: get(&row, 0, what)?,
        event: event_row(&event, what)?,
        channel: get(&row, 2, what)?,
        target: get(&row, 3, what)?,
        attempts: to_u32(get(&row, 4, what)?),
    }))
}

pub(crate) async fn finish(
    pool: &DbPool,
    id: i64,
    worker: &str,
    outcome: &DeliveryOutcome,
) -> Result<bool> {
    let t = now();
    let (state, next, error) = match outcome {
        DeliveryOutcome::Done => ("done", t, None),
        DeliveryOutcome::Retry { error, at } => ("pending", *at, Some(error.as_str())),
        DeliveryOutcome::Failed { error } => ("failed", t, Some(error.as_str())),
    };
    let done = sqlx::query(
        "UPDATE deliveries SET state = $1, next_attempt = $2, last_error = $3, locked_by = NULL, locked_until = NULL, \
         updated = $4 WHERE id = $5 AND locked_by = $6 AND state = 'sending'",
    )
    .bind(state)
    .bind(next)
    .bind(error.map(clean).as_deref())
    .bind(t)
    .bind(id)
    .bind(clean(worker).as_ref())
    .execute(pool)
    .await
    .ctx("finishing a delivery")?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn of_event(pool: &DbPool, event_id: i64) -> Result<Vec<DeliveryInfo>> {
    let what = "reading deliveries";
    let rows = sqlx::query(
        "SELECT id, event_id, channel, target, state, attempts, next_attempt, last_error FROM deliveries \
         WHERE event_id = $1 ORDER BY id",
    )
    .bind(event_id)
    .fetch_all(pool)
    .await
    .ctx(what)?;
    rows.iter()
        .map(|r| {
            Ok(DeliveryInfo {
                id: get(r, 0, what)?,
                event_id: get(r, 1, what)?,
                channel: get(r, 2, what)?,
                target: get(r, 3, what)?,
                state: get(r, 4, what)?,
                attempts: to_u32(get(r, 5, what)?),
                next_attempt: get(r, 6, what)?,
                last_error: get(r, 7, what)?,
            })
        })
        .collect()
}

pub(crate) async fn counts(pool: &DbPool) -> Result<Vec<DeliveryCount>> {
    let what = "counting deliveries";
    let rows = sqlx::query("SELECT channel, state, COUNT(*) FROM deliveries GROUP BY channel, state ORDER BY channel, state")
        .fetch_all(pool)
        .await
        .ctx(what)?;
    rows.iter()
        .map(|r| {
            Ok(DeliveryCount {
                channel: get(r, 0, what)?,
                state: get(r, 1, what)?,
                count: to_u64(get(r, 2, what)?),
            })
        })
        .collect()
}

pub(crate) async fn last_event_id(pool: &DbPool) -> Result<i64> {
    let row = sqlx::query("SELECT COALESCE(MAX(id), 0) FROM events")
        .fetch_one(pool)
        .await
        .ctx("reading events")?;
    get(&row, 0, "reading events")
}

pub(crate) async fn event(pool: &DbPool, id: i64) -> Result<Option<Event>> {
    let what = "reading an event";
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE id = $1");
    let row = sqlx::query(&sql).bind(id).fetch_optional(pool).await.ctx(what)?;
    row.map(|r| event_row(&r, what)).transpose()
}

pub(crate) async fn project_events(pool: &DbPool, project: &str, limit: u32) -> Result<Vec<Event>> {
    let what = "reading a project's events";
    let sql =
        format!("SELECT {EVENT_COLUMNS} FROM events WHERE project = $1 ORDER BY id DESC LIMIT $2");
    let rows = sqlx::query(&sql)
        .bind(clean(project).as_ref())
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await
        .ctx(what)?;
    rows.iter().map(|r| event_row(r, what)).collect()
}
