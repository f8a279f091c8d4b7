//! Web accounts: passwords (argon2id), login sessions and the rate limit on failed logins.
//!
//! Everything lives in the store so that web servers keep no state: any number of them can
//! serve the same sessions. A session id is 256 random bits given to the browser once; the
//! store keeps only its SHA-256. Each session has its own CSRF secret, which every form of the
//! session carries back.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::{Pool, Result, Store, User};

/// How long a login lasts.
pub const SESSION_SECS: i64 = 14 * 24 * 3600;
/// Failed logins counted over this window...
pub const FAILURE_WINDOW_SECS: i64 = 15 * 60;
/// ...at most this many per username...
pub const MAX_FAILURES_PER_USER: i64 = 5;
/// ...and this many per client address.
pub const MAX_FAILURES_PER_CLIENT: i64 = 20;
/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;

/// A live login session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub user: User,
    /// The secret every form of this session must carry back.
    pub csrf: String,
    /// Unix seconds.
    pub expires: i64,
}

/// What a login attempt gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    /// The cookie value (give it to the browser; it is not stored) and the session.
    Ok { secret: String, session: Session },
    /// Wrong username or password, or a user without a password: one answer for all of them.
    Bad,
    /// Too many failures for this username or address; try again after this many seconds.
    Limited { retry_after: i64 },
}

fn random_hex() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| crate::Error::Invalid(format!("no randomness for a session: {e}")))?;
    Ok(hex::encode(bytes))
}

/// An argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt)
        .map_err(|e| crate::Error::Invalid(format!("no randomness for a salt: {e}")))?;
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| crate::Error::Invalid(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| crate::Error::Invalid(format!("hashing a password: {e}")))
}

/// Whether `password` matches the PHC string `hash` (argon2 compares in constant time).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// Compares two secrets in time that depends only on their lengths.
pub fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A hash of a password nobody has, verified when the username is unknown so that an answer
/// takes as long whether or not the user exists.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password("quire: no such user").unwrap_or_default());

impl Store {
    /// Sets (or with `None` removes) a user's password; ends the user's sessions.
    pub async fn set_password(&self, user_id: i64, password: Option<&str>) -> Result<()> {
        let hash = match password {
            Some(p) => {
                if p.chars().count() < MIN_PASSWORD_LEN {
                    return Err(crate::Error::Invalid(format!(
                        "password too short: use at least {MIN_PASSWORD_LEN} characters"
                    )));
                }
                Some(hash_password(p)?)
            }
            None => None,
        };
        if on_backend!(self.pool, |p, m| m::accounts_sql::set_password(
            p,
            user_id,
            hash.as_deref()
        )
        .await)?
        {
            Ok(())
        } else {
            Err(crate::Error::Invalid(format!("no user with id {user_id}")))
        }
    }

    /// Checks a login from `client` (an address) and opens a session of `ttl` seconds.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: &str,
        ttl: i64,
    ) -> Result<Login> {
        let username = username.trim();
        let t = crate::now();
        let (by_user, by_client, oldest) =
            on_backend!(self.pool, |p, m| m::accounts_sql::failures(
                p,
                username,
                client,
                t - FAILURE_WINDOW_SECS
            )
            .await)?;
        if by_user >= MAX_FAILURES_PER_USER || by_client >= MAX_FAILURES_PER_CLIENT {
            return Ok(Login::Limited { retry_after: (oldest + FAILURE_WINDOW_SECS - t).max(1) });
        }
        let found = on_backend!(self.pool, |p, m| m::accounts_sql::login_user(p, username).await)?;
        let ok = match &found {
            Some((_, Some(hash))) => verify_password(password, hash),
            _ => {
                let _ = verify_password(password, &DUMMY_HASH);
                false
            }
        };
        let Some((user, _)) = found.filter(|_| ok) else {
            on_backend!(self.pool, |p, m| m::accounts_sql::add_failure(p, username, client, t)
                .await)?;
            return Ok(Login::Bad);
        };
        on_backend!(self.pool, |p, m| m::accounts_sql::clear_failures(p, username).await)?;
        let secret = random_hex()?;
        let csrf = random_hex()?;
        let expires = t + ttl;
        let id_hash = crate::derive::sha256_hex(secret.as_bytes());
        on_backend!(self.pool, |p, m| m::accounts_sql::create_session(
            p, &id_hash, user.id, &csrf, t, expires
        )
        .await)?;
        Ok(Login::Ok { secret, session: Session { user, csrf, expires } })
    }

    /// The live session whose cookie value is `secret`.
    pub async fn session(&self, secret: &str) -> Result<Option<Session>> {
        if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let id_hash = crate::derive::sha256_hex(secret.as_bytes());
        let found =
            on_backend!(self.pool, |p, m| m::accounts_sql::session(p, &id_hash, crate::now())
                .await)?;
        Ok(found.map(|(user, csrf, expires)| Session { user, csrf, expires }))
    }

    /// Ends a session; false when there was none.
    pub async fn logout(&self, secret: &str) -> Result<bool> {
        let id_hash = crate::derive::sha256_hex(secret.as_bytes());
        on_backend!(self.pool, |p, m| m::accounts_sql::delete_session(p, &id_hash).await)
    }

    /// Adds patches (ids, all of `project`) to `owner`'s bundle called `name`, creating it
    /// (private) when there is none.
    pub async fn add_to_bundle(
        &self,
        owner: &User,
        project: &str,
        name: &str,
        patches: &[i64],
    ) -> Result<crate::Bundle> {
        let name = name.trim();
        let mine = self
            .bundles(None, Some(owner.id))
            .await?
            .into_iter()
            .find(|b| b.owner.id == owner.id && b.name == name);
        let Some(b) = mine else {
            return self.create_bundle(owner, project, name, false, patches).await;
        };
        if b.project != project {
            return Err(crate::Error::Invalid(format!(
                "bundle {name:?} holds patches of project {}: use another name",
                b.project
            )));
        }
        for &id in patches {
            match self.patch(id).await? {
                Some(p) if p.project == project => {}
                _ => {
                    return Err(crate::Error::Invalid(format!(
                        "no patch {id} in project {project}"
                    )));
                }
            }
        }
        on_backend!(self.pool, |p, m| m::accounts_sql::add_to_bundle(p, b.id, patches).await)?;
        self.bundle(b.id)
            .await?
            .ok_or_else(|| crate::Error::Invalid(format!("bundle {} vanished", b.id)))
    }
}
