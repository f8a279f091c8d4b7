//! Web accounts: passwords (argon2id), login sessions and the limits on failed logins.
//!
//! Everything lives in the store so that web servers keep no state: any number of them can
//! serve the same sessions. A session id is 256 random bits given to the browser once; the
//! store keeps only its SHA-256. Each session has its own CSRF secret, which every form of the
//! session carries back.
//!
//! Failed logins are limited per (account name, client address) and per client address, never
//! per account alone: wrong passwords from one address must not lock the owner out from
//! another (issue 24: five guesses for `admin` from anywhere locked `admin` out everywhere).
//! A login reserves its attempt on both counters before it checks the password, in one
//! transaction that holds the counters' rows, so that simultaneous guesses cannot all read the
//! same count: 100 at once check at most the limit's worth of passwords.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::{Pool, Result, Store, User};

/// How long a login lasts.
pub const SESSION_SECS: i64 = 14 * 24 * 3600;
/// Failed logins are counted over a window of this length from the first of them...
pub const FAILURE_WINDOW_SECS: i64 = 15 * 60;
/// ...at most this many for one account name from one client address...
pub const MAX_FAILURES_PER_ACCOUNT_AND_CLIENT: i64 = 5;
/// ...and this many from one client address over all account names (one password tried on
/// many accounts).
pub const MAX_FAILURES_PER_CLIENT: i64 = 20;
/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;
/// Longest username [`Store::add_user`] accepts; a login counts a longer name by its first
/// `MAX_USERNAME_LEN + 1` characters, which no account has.
pub(crate) const MAX_USERNAME_LEN: usize = 100;

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
    /// Too many failures for this account name from this client, or from this client in all;
    /// try again after this many seconds. The password was not checked.
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
        if on_backend!(self.pool, |p, m| m::accounts::set_password(p, user_id, hash.as_deref())
            .await)?
        {
            Ok(())
        } else {
            Err(crate::Error::Invalid(format!("no user with id {user_id}")))
        }
    }

    /// Checks a login from `client` (the client's address, as the web gives it: the key its
    /// failures are counted under) and opens a session of `ttl` seconds.
    ///
    /// The attempt is counted first, as a failure, on the counters of (`username`, `client`)
    /// and of `client`; the password is checked only when neither is full, and a success gives
    /// the attempt back. An unknown username is counted and checked (against a hash nobody
    /// has) like a known one: same answers, same time.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        client: &str,
        ttl: i64,
    ) -> Result<Login> {
        let username = username.trim();
        let counted: String = username.chars().take(MAX_USERNAME_LEN + 1).collect();
        let t = crate::now();
        if let Some(retry_after) =
            on_backend!(self.pool, |p, m| m::accounts::reserve_login(p, &counted, client, t).await)?
        {
            return Ok(Login::Limited { retry_after });
        }
        let found = on_backend!(self.pool, |p, m| m::accounts::login_user(p, username).await)?;
        let hash = match &found {
            Some((_, Some(hash))) => Some(hash.clone()),
            _ => None,
        };
        let ok = self.check_password(password, hash.as_deref()).await;
        let Some((user, _)) = found.filter(|_| ok) else {
            // The reserved attempt stays: it was a failure.
            return Ok(Login::Bad);
        };
        on_backend!(self.pool, |p, m| m::accounts::release_login(p, &counted, client).await)?;
        let secret = random_hex()?;
        let csrf = random_hex()?;
        let expires = t + ttl;
        let id_hash = crate::derive::sha256_hex(secret.as_bytes());
        on_backend!(self.pool, |p, m| m::accounts::create_session(
            p, &id_hash, user.id, &csrf, t, expires
        )
        .await)?;
        Ok(Login::Ok { secret, session: Session { user, csrf, expires } })
    }

    /// Whether `password` matches `hash`; with no hash (no such user, or no password set)
    /// checks it against a hash nobody has, so the answer takes as long, and says no. On a
    /// blocking thread: a check fills 19 MiB twice, which would hold up the requests sharing
    /// the async worker thread.
    async fn check_password(&self, password: &str, hash: Option<&str>) -> bool {
        self.password_checks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let known = hash.is_some();
        let (password, hash) = (password.to_string(), hash.map(str::to_string));
        let matched = tokio::task::spawn_blocking(move || {
            verify_password(&password, hash.as_deref().unwrap_or(&DUMMY_HASH))
        })
        .await
        .unwrap_or(false);
        known && matched
    }

    /// How many passwords [`Store::login`] has checked through this store (and its clones):
    /// what the login limits bound, which tests count.
    pub fn password_checks(&self) -> u64 {
        self.password_checks.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The live session whose cookie value is `secret`.
    pub async fn session(&self, secret: &str) -> Result<Option<Session>> {
        if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let id_hash = crate::derive::sha256_hex(secret.as_bytes());
        let found =
            on_backend!(self.pool, |p, m| m::accounts::session(p, &id_hash, crate::now()).await)?;
        Ok(found.map(|(user, csrf, expires)| Session { user, csrf, expires }))
    }

    /// Ends a session; false when there was none.
    pub async fn logout(&self, secret: &str) -> Result<bool> {
        let id_hash = crate::derive::sha256_hex(secret.as_bytes());
        on_backend!(self.pool, |p, m| m::accounts::delete_session(p, &id_hash).await)
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
        on_backend!(self.pool, |p, m| m::accounts::add_to_bundle(p, b.id, patches).await)?;
        self.bundle(b.id)
            .await?
            .ok_or_else(|| crate::Error::Invalid(format!("bundle {} vanished", b.id)))
    }
}
