//! Telling "the database is not there right now" (PostgreSQL stopped or restarting, the network to
//! it down, every connection busy past the acquire timeout) from every other store error, so that
//! a server answers 503 (try again) instead of 500 and recovers by itself when the database is
//! back: the pool drops dead connections (it tests each before use) and connects anew. And
//! telling a statement the database refuses as too large for it, which a search query shapes:
//! that is the query's fault (a 400 naming the reason), not the database's absence.

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

/// Why the database refused to run a statement as too large or too complex for it, when it
/// did: SQLite's expression depth (1000), bound parameters (32,766), LIKE patterns (50,000
/// bytes) and statement length; PostgreSQL's class 54 (program limit exceeded: its stack depth,
/// too many arguments) and its wire protocol's 65,535 parameters, which sqlx checks before
/// sending. The refusal changes nothing and leaves the connection usable.
pub(crate) fn too_large_for_the_database(e: &sqlx::Error) -> Option<String> {
    match e {
        sqlx::Error::Database(db) => {
            let message = db.message();
            let refused = if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // SQLITE_TOOBIG (18), or one of SQLITE_ERROR's (1) limit messages.
                let primary = db.code().and_then(|c| c.parse::<u32>().ok()).map(|n| n & 0xff);
                primary == Some(18)
                    || (primary == Some(1)
                        && [
                            "too large",
                            "too many",
                            "too complex",
                            "too big",
                            "too long",
                            "stack overflow",
                        ]
                        .iter()
                        .any(|m| message.contains(m)))
            } else {
                db.code().is_some_and(|c| c.starts_with("54"))
            };
            refused.then(|| message.to_string())
        }
        sqlx::Error::Protocol(m) if m.contains("too many arguments") => {
            // "PgConnection::run(): too many arguments for query: 100000 (module:line)"
            Some(
                m.split(" (")
                    .next()
                    .unwrap_or(m)
                    .trim_start_matches("PgConnection::run(): ")
                    .to_string(),
            )
        }
        _ => None,
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

impl Error {
    /// True when trying again later may succeed: the database is unreachable, locked, busy or
    /// out of space, or the data dir or schema could not be made ready. A mail server piping a
    /// message to `quire import -` is then answered EX_TEMPFAIL (75), so that it retries.
    pub fn is_temporary(&self) -> bool {
        match self {
            Error::DataDir { .. } | Error::Migrate { .. } => true,
            Error::Open { source, .. } | Error::Db { source, .. } => sqlx_temporary(source),
            _ => false,
        }
    }
}

/// Connection trouble, timeouts, a locked or busy database, a full disk: all pass.
fn sqlx_temporary(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            let dialect = if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                Dialect::Sqlite
            } else {
                Dialect::Postgres
            };
            db.code().is_some_and(|code| database_code_is_temporary(dialect, &code))
        }
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

/// SQLite result codes (extended codes carry the primary one in their low byte) and
/// PostgreSQL SQLSTATEs that mean "try again later".
fn database_code_is_temporary(dialect: Dialect, code: &str) -> bool {
    match dialect {
        // SQLITE_BUSY 5, SQLITE_LOCKED 6, SQLITE_NOMEM 7, SQLITE_IOERR 10, SQLITE_FULL 13,
        // SQLITE_CANTOPEN 14, SQLITE_PROTOCOL 15.
        Dialect::Sqlite => {
            code.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6 | 7 | 10 | 13 | 14 | 15))
        }
        // 08: connection exception; 53: insufficient resources (disk full, out of memory, too
        // many connections); 57P0x: server shutting down or starting; 40001/40P01:
        // serialization failure or deadlock; 55P03: lock not available.
        Dialect::Postgres => {
            code.starts_with("08")
                || code.starts_with("53")
                || code.starts_with("57P0")
                || matches!(code, "40001" | "40P01" | "55P03")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busy_locked_full_databases_are_temporary_constraint_errors_are_not() {
        // SQLite: BUSY, LOCKED, extended BUSY_SNAPSHOT (517), FULL, IOERR_WRITE (778).
        for code in ["5", "6", "517", "13", "778", "14"] {
            assert!(database_code_is_temporary(Dialect::Sqlite, code), "sqlite {code}");
        }
        // SQLite CONSTRAINT (19) and CONSTRAINT_UNIQUE (2067); PostgreSQL unique_violation,
        // undefined_table.
        for code in ["2067", "19"] {
            assert!(!database_code_is_temporary(Dialect::Sqlite, code), "sqlite {code}");
        }
        for code in ["23505", "42P01"] {
            assert!(!database_code_is_temporary(Dialect::Postgres, code), "pg {code}");
        }
        // PostgreSQL: disk full, too many connections, admin shutdown, cannot connect now,
        // connection failure, deadlock.
        for code in ["53100", "53300", "57P01", "57P03", "08006", "40P01"] {
            assert!(database_code_is_temporary(Dialect::Postgres, code), "pg {code}");
        }
        let locked = Error::Db { context: "ingesting".into(), source: sqlx::Error::PoolTimedOut };
        assert!(locked.is_temporary());
        assert!(!Error::Invalid("x".into()).is_temporary());
    }

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
        assert!(!Error::BadQuery("x".into()).is_unavailable());
    }

    #[test]
    fn too_many_parameters_for_postgresql_is_too_large_and_other_errors_are_not() {
        // As sqlx words it, before it sends anything.
        let e = sqlx::Error::Protocol(
            "PgConnection::run(): too many arguments for query: 100000 (sqlx_postgres::connection::executor:221)".into(),
        );
        assert_eq!(
            too_large_for_the_database(&e).as_deref(),
            Some("too many arguments for query: 100000")
        );
        assert_eq!(too_large_for_the_database(&sqlx::Error::RowNotFound), None);
        assert_eq!(too_large_for_the_database(&sqlx::Error::PoolTimedOut), None);
        assert_eq!(too_large_for_the_database(&sqlx::Error::Protocol("bad message".into())), None);
    }
}
