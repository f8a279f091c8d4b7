//! Telling "the database is not there right now" (PostgreSQL stopped or restarting, the network to
//! it down, every connection busy past the acquire timeout) from every other store error, so that
//! a server answers 503 (try again) instead of 500 and recovers by itself when the database is
//! back: the pool drops dead connections (it tests each before use) and connects anew.

use std::time::Duration;

use crate::Error;

/// How long a request waits for a PostgreSQL connection before it fails as unavailable:
/// `QUIRE_DB_ACQUIRE_TIMEOUT` seconds (fractions allowed), default 5 (sqlx's own is 30 s, which
/// keeps a page hanging for half a minute while the database is down).
pub(crate) fn acquire_timeout() -> Duration {
    std::env::var("QUIRE_DB_ACQUIRE_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(5))
}

fn sqlx_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            // 08: connection exception; 57P01-57P03: admin/crash shutdown, cannot connect now.
            db.code().is_some_and(|c| {
                c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03")
            })
        }
        _ => false,
    }
}

impl Error {
    /// True when the database could not be reached (down, restarting, or no connection free in
    /// time): the request may succeed when tried again; nothing about it was wrong.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Db { source, .. } | Error::Open { source, .. } => sqlx_unavailable(source),
            _ => false,
        }
    }
}

impl Error {
    /// True when the database refused a write because its disk is full (SQLite SQLITE_FULL,
    /// PostgreSQL 53100 disk_full). The transaction was rolled back: nothing of it is stored.
    pub fn is_disk_full(&self) -> bool {
        match self {
            Error::Db { source: sqlx::Error::Database(db), .. } => db.code().is_some_and(|c| {
                c == "53100"
                    || (db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some()
                        && c.parse::<u32>().is_ok_and(|n| n & 0xff == 13))
            }),
            Error::Db { source: sqlx::Error::Io(io), .. } => io.raw_os_error() == Some(28),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_errors_are_unavailable_and_others_are_not() {
        let db = |source| Error::Db { context: "reading".into(), source };
        assert!(db(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(
            db(sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)))
                .is_unavailable()
        );
        assert!(!db(sqlx::Error::RowNotFound).is_unavailable());
        assert!(!Error::Invalid("x".into()).is_unavailable());
    }
}
