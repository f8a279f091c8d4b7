//! Range-diffs (migration 0060): compiled once per database like every file of `sql/`.

use super::*;
pub(crate) async fn set_range_diff(
    pool: &DbPool,
    r: &crate::range_diff::RangeDiffRecord,
) -> Result<()> {
    let what = "storing a range-diff";
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    let old_id = require_message(&mut tx, &r.old_head).await?;
    let new_id = require_message(&mut tx, &r.new_head).await?;
    sqlx::query(
        "INSERT INTO range_diffs (old_head_id, new_head_id, old_range, new_range, diff, problem, updated) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (old_head_id, new_head_id) DO UPDATE SET \
         old_range = excluded.old_range, new_range = excluded.new_range, diff = excluded.diff, \
         problem = excluded.problem, updated = excluded.updated",
    )
    .bind(old_id)
    .bind(new_id)
    .bind(clean(&r.old_range).as_ref())
    .bind(clean(&r.new_range).as_ref())
    .bind(r.diff.as_deref().map(clean).as_deref())
    .bind(r.problem.as_deref().map(clean).as_deref())
    .bind(r.updated)
    .execute(&mut *tx)
    .await
    .ctx(what)?;
    touch_series_of(&mut tx, &[old_id, new_id]).await?;
    tx.commit().await.ctx(what)
}

pub(crate) async fn range_diff(
    pool: &DbPool,
    old_head: &str,
    new_head: &str,
) -> Result<Option<crate::range_diff::RangeDiffRecord>> {
    let what = "reading a range-diff";
    let mut conn = pool.acquire().await.ctx("connecting")?;
    let (Some(old_id), Some(new_id)) =
        (message_row_id(&mut conn, old_head).await?, message_row_id(&mut conn, new_head).await?)
    else {
        return Ok(None);
    };
    let row = sqlx::query(
        "SELECT old_range, new_range, diff, problem, updated FROM range_diffs \
         WHERE old_head_id = $1 AND new_head_id = $2",
    )
    .bind(old_id)
    .bind(new_id)
    .fetch_optional(&mut *conn)
    .await
    .ctx(what)?;
    row.map(|r| {
        Ok(crate::range_diff::RangeDiffRecord {
            old_head: old_head.to_string(),
            new_head: new_head.to_string(),
            old_range: get(&r, 0, what)?,
            new_range: get(&r, 1, what)?,
            diff: get(&r, 2, what)?,
            problem: get(&r, 3, what)?,
            updated: get(&r, 4, what)?,
        })
    })
    .transpose()
}
