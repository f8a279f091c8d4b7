//! Web accounts (passwords, sessions, login limits): SQL for both backends (a
//! stage of `crate::sqlite` / `crate::pg`, declared in lib.rs). The public API and the rules are in accounts.rs.

use super::*;
use crate::workflow::User;

pub(crate) async fn set_password(pool: &DbPool, user_id: i64, hash: Option<&str>) -> Result<bool> {
    let r = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(hash)
        .bind(user_id)
        .execute(pool)
        .await
        .ctx("setting a password")?;
    if r.rows_affected() > 0 {
        // A new password ends every session of the old one.
        sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(pool)
            .await
            .ctx("ending sessions")?;
    }
    Ok(r.rows_affected() > 0)
}

/// The user called `username` with their password hash (None: no password set).
pub(crate) async fn login_user(
    pool: &DbPool,
    username: &str,
) -> Result<Option<(User, Option<String>)>> {
    let what = "reading a user";
    let row = sqlx::query(
        "SELECT id, username, email, name, created, password_hash FROM users WHERE username = $1",
    )
    .bind(username)
    .fetch_optional(pool)
    .await
    .ctx(what)?;
    let Some(r) = row else { return Ok(None) };
    let user = super::workflow::user_row(&r, 0)?;
    Ok(Some((user, get(&r, 5, what)?)))
}

/// Counts a login attempt of `username` from `client` on both of its counters (see
/// migration 0020), in one transaction: each upsert holds its row until the commit, so
/// simultaneous attempts are counted one after the other and none reads a count another
/// has not written yet. `Some(retry_after)` when a counter was full; nothing is counted
/// then (the transaction is rolled back), so a full counter's window is not stretched.
pub(crate) async fn reserve_login(
    pool: &DbPool,
    username: &str,
    client: &str,
    t: i64,
) -> Result<Option<i64>> {
    use crate::accounts::{
        FAILURE_WINDOW_SECS, MAX_FAILURES_PER_ACCOUNT_AND_CLIENT, MAX_FAILURES_PER_CLIENT,
    };
    let what = "counting a login attempt";
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    // The account's counter first, then the client's: every attempt takes them in this
    // order, so two attempts never wait for each other in a circle (PostgreSQL).
    for (kind, name, limit) in [
        ("account", username, MAX_FAILURES_PER_ACCOUNT_AND_CLIENT),
        ("client", "", MAX_FAILURES_PER_CLIENT),
    ] {
        let row = sqlx::query(
            "INSERT INTO login_limits (kind, client, username, window_start, attempts) VALUES ($1, $2, $3, $4, 1) \
             ON CONFLICT (kind, client, username) DO UPDATE SET \
             attempts = CASE WHEN login_limits.window_start <= $5 THEN 1 ELSE login_limits.attempts + 1 END, \
             window_start = CASE WHEN login_limits.window_start <= $5 THEN $4 ELSE login_limits.window_start END \
             RETURNING attempts, window_start",
        )
        .bind(kind)
        .bind(clean(client).as_ref())
        .bind(clean(name).as_ref())
        .bind(t)
        .bind(t - FAILURE_WINDOW_SECS)
        .fetch_one(&mut *tx)
        .await
        .ctx(what)?;
        let (attempts, start): (i64, i64) = (get(&row, 0, what)?, get(&row, 1, what)?);
        if attempts > limit {
            tx.rollback().await.ctx(what)?;
            return Ok(Some((start + FAILURE_WINDOW_SECS - t).max(1)));
        }
    }
    tx.commit().await.ctx(what)?;
    sweep_login_limits(pool, t).await;
    Ok(None)
}

/// Rows a day past their window's start count for nothing (the next attempt starts them
/// again): deleted, a thousand at a time. PostgreSQL skips rows an attempt holds, so the
/// sweep never waits for one, nor one for it in a circle. A sweep that fails is tried again
/// at the next login.
async fn sweep_login_limits(pool: &DbPool, t: i64) {
    let sql = if PG {
        "DELETE FROM login_limits WHERE (kind, client, username) IN (SELECT kind, client, username FROM login_limits \
         WHERE window_start < $1 LIMIT 1000 FOR UPDATE SKIP LOCKED)"
    } else {
        "DELETE FROM login_limits WHERE rowid IN (SELECT rowid FROM login_limits WHERE window_start < $1 LIMIT 1000)"
    };
    if let Err(e) = sqlx::query(sql).bind(t - 24 * 3600).execute(pool).await {
        tracing::debug!(error = %e, "sweeping old login counters");
    }
}

/// A successful login gives back the attempt it reserved: the account's counter from this
/// client starts again, the client's loses one. Not more: an address with one account of
/// its own must not be able to wipe its failures on others by logging in.
pub(crate) async fn release_login(pool: &DbPool, username: &str, client: &str) -> Result<()> {
    let what = "counting a successful login";
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    sqlx::query(
        "DELETE FROM login_limits WHERE kind = 'account' AND client = $1 AND username = $2",
    )
    .bind(clean(client).as_ref())
    .bind(clean(username).as_ref())
    .execute(&mut *tx)
    .await
    .ctx(what)?;
    sqlx::query("UPDATE login_limits SET attempts = attempts - 1 WHERE kind = 'client' AND client = $1 AND attempts > 0")
        .bind(clean(client).as_ref())
        .execute(&mut *tx)
        .await
        .ctx(what)?;
    tx.commit().await.ctx(what)?;
    Ok(())
}

pub(crate) async fn create_session(
    pool: &DbPool,
    id_hash: &str,
    user_id: i64,
    csrf: &str,
    created: i64,
    expires: i64,
) -> Result<()> {
    let what = "creating a session";
    sqlx::query("INSERT INTO sessions (id_hash, user_id, csrf, created, expires) VALUES ($1, $2, $3, $4, $5)")
        .bind(id_hash)
        .bind(user_id)
        .bind(csrf)
        .bind(created)
        .bind(expires)
        .execute(pool)
        .await
        .ctx(what)?;
    sqlx::query("DELETE FROM sessions WHERE expires < $1")
        .bind(created)
        .execute(pool)
        .await
        .ctx(what)?;
    Ok(())
}

/// The live session with this id hash: user, csrf secret, expiry.
pub(crate) async fn session(
    pool: &DbPool,
    id_hash: &str,
    at: i64,
) -> Result<Option<(User, String, i64)>> {
    let what = "reading a session";
    let row = sqlx::query(
        "SELECT u.id, u.username, u.email, u.name, u.created, s.csrf, s.expires FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1 AND s.expires > $2",
    )
    .bind(id_hash)
    .bind(at)
    .fetch_optional(pool)
    .await
    .ctx(what)?;
    let Some(r) = row else { return Ok(None) };
    let user = super::workflow::user_row(&r, 0)?;
    Ok(Some((user, get(&r, 5, what)?, get(&r, 6, what)?)))
}

pub(crate) async fn delete_session(pool: &DbPool, id_hash: &str) -> Result<bool> {
    let r = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
        .bind(id_hash)
        .execute(pool)
        .await
        .ctx("ending a session")?;
    Ok(r.rows_affected() > 0)
}

/// Appends patches to a bundle (after its last one); patches in it already stay where they are.
pub(crate) async fn add_to_bundle(pool: &DbPool, bundle_id: i64, patches: &[i64]) -> Result<()> {
    let what = "adding to a bundle";
    let mut tx = pool.begin().await.ctx("starting a transaction")?;
    let row =
        sqlx::query("SELECT COALESCE(MAX(position), -1) FROM bundle_patches WHERE bundle_id = $1")
            .bind(bundle_id)
            .fetch_one(&mut *tx)
            .await
            .ctx(what)?;
    let mut next: i64 = get::<i64>(&row, 0, what)? + 1;
    for &patch in patches {
        let r = sqlx::query("INSERT INTO bundle_patches (bundle_id, message_id, position) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(bundle_id)
            .bind(patch)
            .bind(next)
            .execute(&mut *tx)
            .await
            .ctx(what)?;
        next += r.rows_affected() as i64;
    }
    tx.commit().await.ctx(what)?;
    Ok(())
}
