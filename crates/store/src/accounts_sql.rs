// Web accounts (passwords, sessions, failed logins): SQL for both backends, included by lib.rs
// next to backend.rs. The public API and the rules are in accounts.rs.

pub(crate) mod accounts_sql {
    use super::*;
    use crate::workflow::User;

    pub(crate) async fn set_password(pool: &DbPool, user_id: i64, hash: Option<&str>) -> Result<bool> {
        let r = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(hash).bind(user_id).execute(pool).await.ctx("setting a password")?;
        if r.rows_affected() > 0 {
            // A new password ends every session of the old one.
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(pool).await.ctx("ending sessions")?;
        }
        Ok(r.rows_affected() > 0)
    }

    /// The user called `username` with their password hash (None: no password set).
    pub(crate) async fn login_user(pool: &DbPool, username: &str) -> Result<Option<(User, Option<String>)>> {
        let what = "reading a user";
        let row = sqlx::query("SELECT id, username, email, name, created, password_hash FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(pool)
            .await
            .ctx(what)?;
        let Some(r) = row else { return Ok(None) };
        let user = User { id: get(&r, 0, what)?, username: get(&r, 1, what)?, email: get(&r, 2, what)?, name: get(&r, 3, what)?, created: get(&r, 4, what)? };
        Ok(Some((user, get(&r, 5, what)?)))
    }

    /// Failures since `since` for this username and for this client address.
    pub(crate) async fn failures(pool: &DbPool, username: &str, client: &str, since: i64) -> Result<(i64, i64, i64)> {
        let what = "counting failed logins";
        let u = sqlx::query("SELECT COUNT(*), MIN(at) FROM login_failures WHERE username = $1 AND at >= $2").bind(username).bind(since).fetch_one(pool).await.ctx(what)?;
        let c = sqlx::query("SELECT COUNT(*), MIN(at) FROM login_failures WHERE client = $1 AND at >= $2").bind(client).bind(since).fetch_one(pool).await.ctx(what)?;
        let (un, umin): (i64, Option<i64>) = (get(&u, 0, what)?, get(&u, 1, what)?);
        let (cn, cmin): (i64, Option<i64>) = (get(&c, 0, what)?, get(&c, 1, what)?);
        Ok((un, cn, umin.into_iter().chain(cmin).min().unwrap_or(since)))
    }

    pub(crate) async fn add_failure(pool: &DbPool, username: &str, client: &str, at: i64) -> Result<()> {
        let what = "recording a failed login";
        sqlx::query("INSERT INTO login_failures (username, client, at) VALUES ($1, $2, $3)").bind(username).bind(client).bind(at).execute(pool).await.ctx(what)?;
        // Old failures count for nothing: keep the table small.
        sqlx::query("DELETE FROM login_failures WHERE at < $1").bind(at - 24 * 3600).execute(pool).await.ctx(what)?;
        Ok(())
    }

    pub(crate) async fn clear_failures(pool: &DbPool, username: &str) -> Result<()> {
        sqlx::query("DELETE FROM login_failures WHERE username = $1").bind(username).execute(pool).await.ctx("clearing failed logins")?;
        Ok(())
    }

    pub(crate) async fn create_session(pool: &DbPool, id_hash: &str, user_id: i64, csrf: &str, created: i64, expires: i64) -> Result<()> {
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
        sqlx::query("DELETE FROM sessions WHERE expires < $1").bind(created).execute(pool).await.ctx(what)?;
        Ok(())
    }

    /// The live session with this id hash: user, csrf secret, expiry.
    pub(crate) async fn session(pool: &DbPool, id_hash: &str, at: i64) -> Result<Option<(User, String, i64)>> {
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
        let user = User { id: get(&r, 0, what)?, username: get(&r, 1, what)?, email: get(&r, 2, what)?, name: get(&r, 3, what)?, created: get(&r, 4, what)? };
        Ok(Some((user, get(&r, 5, what)?, get(&r, 6, what)?)))
    }

    pub(crate) async fn delete_session(pool: &DbPool, id_hash: &str) -> Result<bool> {
        let r = sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(pool).await.ctx("ending a session")?;
        Ok(r.rows_affected() > 0)
    }

    /// Appends patches to a bundle (after its last one); patches in it already stay where they are.
    pub(crate) async fn add_to_bundle(pool: &DbPool, bundle_id: i64, patches: &[i64]) -> Result<()> {
        let what = "adding to a bundle";
        let mut tx = pool.begin().await.ctx("starting a transaction")?;
        let row = sqlx::query("SELECT COALESCE(MAX(position), -1) FROM bundle_patches WHERE bundle_id = $1").bind(bundle_id).fetch_one(&mut *tx).await.ctx(what)?;
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
}
