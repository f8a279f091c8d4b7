//! Following a mailbox over IMAP (`quire watch imap://user@host/INBOX`): new messages are
//! fetched by UID (never marked read: `BODY.PEEK[]`) and stored in batches, each batch with the
//! cursor `<UIDVALIDITY>:<last UID>` in the same transaction, so a restart goes on after the last
//! stored message and nothing is imported twice. The server's IDLE is used when it has it,
//! polling otherwise; a lost connection is opened again with a backoff.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use quire_store::{Incoming, Store};

use crate::Error;

/// Where to watch: `imap://user@host[:port]/MAILBOX` (plain, or STARTTLS when the server offers
/// it) or `imaps://...` (TLS, port 993).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapSource {
    pub tls: bool,
    pub host: String,
    pub port: u16,
    pub user: String,
    pub mailbox: String,
}

impl ImapSource {
    /// Parses the URL; errors say what is missing.
    pub fn parse(url: &str) -> Result<ImapSource, String> {
        let (tls, rest) = if let Some(r) = url.strip_prefix("imaps://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("imap://") {
            (false, r)
        } else {
            return Err(format!("{url:?} is not an imap:// or imaps:// URL"));
        };
        let (authority, mailbox) = rest.split_once('/').unwrap_or((rest, "INBOX"));
        let (user, hostport) = authority
            .rsplit_once('@')
            .ok_or_else(|| format!("{url:?} names no user: write imap://USER@HOST/MAILBOX"))?;
        let user = percent_encoding::percent_decode_str(user).decode_utf8_lossy().into_owned();
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => {
                (h.to_string(), p.parse::<u16>().map_err(|_| format!("{url:?}: bad port {p:?}"))?)
            }
            None => (hostport.to_string(), if tls { 993 } else { 143 }),
        };
        if user.is_empty() || host.is_empty() {
            return Err(format!("{url:?}: write imap://USER@HOST/MAILBOX"));
        }
        let mailbox =
            percent_encoding::percent_decode_str(mailbox).decode_utf8_lossy().into_owned();
        let mailbox = if mailbox.is_empty() { "INBOX".to_string() } else { mailbox };
        Ok(ImapSource { tls, host, port, user, mailbox })
    }

    /// The store cursor of this mailbox.
    pub fn cursor_key(&self) -> String {
        format!("imap:{}@{}:{}/{}", self.user, self.host, self.port, self.mailbox)
    }
}

/// How to watch.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// The project of mail whose List-Id and To/Cc name no configured project.
    pub project: Option<String>,
    /// Messages per transaction.
    pub batch_size: usize,
    /// Without IDLE: seconds between looks. With IDLE: the longest wait before looking anyway.
    pub poll: Duration,
    /// Fetch what is new once and return.
    pub once: bool,
    /// Set to stop a running watch: it returns after its current wait (at most `poll`).
    pub stop: Arc<AtomicBool>,
    /// Verifies the signatures of what comes in before it is stored (see
    /// [`crate::ImportOptions::attest`]).
    pub attest: Option<Arc<quire_attest::Verifier>>,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            project: None,
            batch_size: 500,
            poll: Duration::from_secs(60),
            once: false,
            stop: Arc::default(),
            attest: None,
        }
    }
}

/// What a watch stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchStats {
    pub fetched: u64,
    pub new_messages: u64,
    pub duplicates: u64,
}

fn imap_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Source(format!("IMAP {what}: {e}"))
}

type Session = imap::Session<imap::Connection>;

fn connect(src: &ImapSource, password: &str) -> Result<Session, Error> {
    // imap:// takes STARTTLS when the server offers it (Auto), plain text otherwise.
    let mode = if src.tls { imap::ConnectionMode::Tls } else { imap::ConnectionMode::Auto };
    let client = imap::ClientBuilder::new(src.host.as_str(), src.port)
        .mode(mode)
        .tls_kind(imap::TlsKind::Rust)
        .connect()
        .map_err(|e| imap_err(&format!("connecting to {}:{}", src.host, src.port), e))?;
    client
        .login(&src.user, password)
        .map_err(|(e, _)| imap_err(&format!("login as {}", src.user), e))
}

/// Watches `src` until `once` is done (or forever), storing new mail. Runs the IMAP
/// conversation on a blocking thread.
pub async fn watch_imap(
    store: &Store,
    src: &ImapSource,
    password: &str,
    opts: &WatchOptions,
) -> Result<WatchStats, Error> {
    let handle = tokio::runtime::Handle::current();
    let (store, src, password, opts) =
        (store.clone(), src.clone(), password.to_string(), opts.clone());
    tokio::task::spawn_blocking(move || watch_blocking(&handle, &store, &src, &password, &opts))
        .await
        .map_err(|e| Error::Source(format!("the IMAP watcher stopped: {e}")))?
}

fn watch_blocking(
    rt: &tokio::runtime::Handle,
    store: &Store,
    src: &ImapSource,
    password: &str,
    opts: &WatchOptions,
) -> Result<WatchStats, Error> {
    let mut stats = WatchStats::default();
    let mut backoff = Duration::from_secs(1);
    loop {
        match session_round(rt, store, src, password, opts, &mut stats) {
            Ok(()) => return Ok(stats),
            Err(e) if opts.once || opts.stop.load(Ordering::Relaxed) => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, mailbox = %src.cursor_key(), retry_in = ?backoff, "IMAP watch: connection lost");
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(Duration::from_secs(300));
            }
        }
    }
}

/// One connection: catch up, then (unless `once`) wait for more until the connection breaks.
fn session_round(
    rt: &tokio::runtime::Handle,
    store: &Store,
    src: &ImapSource,
    password: &str,
    opts: &WatchOptions,
    stats: &mut WatchStats,
) -> Result<(), Error> {
    let mut session = connect(src, password)?;
    let idle = session.capabilities().map(|c| c.has_str("IDLE")).unwrap_or(false);
    loop {
        let mailbox = session
            .select(&src.mailbox)
            .map_err(|e| imap_err(&format!("selecting {}", src.mailbox), e))?;
        let validity = mailbox.uid_validity.unwrap_or(0);
        catch_up(rt, store, src, &mut session, validity, opts, stats)?;
        if opts.once || opts.stop.load(Ordering::Relaxed) {
            let _ = session.logout();
            return Ok(());
        }
        if idle {
            session
                .idle()
                .timeout(opts.poll)
                // Return at the timeout (to look anyway, and to see a stop) instead of idling again.
                .keepalive(false)
                .wait_while(imap::extensions::idle::stop_on_any)
                .map_err(|e| imap_err("IDLE", e))?;
        } else {
            // Sleeps in short steps so that a stop is seen soon.
            let until = std::time::Instant::now() + opts.poll;
            while std::time::Instant::now() < until && !opts.stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200).min(opts.poll));
            }
        }
    }
}

/// Fetches every message above the stored cursor, in batches stored with their cursor.
fn catch_up(
    rt: &tokio::runtime::Handle,
    store: &Store,
    src: &ImapSource,
    session: &mut Session,
    validity: u32,
    opts: &WatchOptions,
    stats: &mut WatchStats,
) -> Result<(), Error> {
    let key = src.cursor_key();
    let cursor = rt.block_on(store.cursor(&key)).map_err(Error::Store)?;
    // A new UIDVALIDITY means the server renumbered the mailbox: start over (the store ignores
    // messages it has, so nothing is kept twice).
    let mut last: u32 = match cursor.as_deref().and_then(|c| c.split_once(':')) {
        Some((v, uid)) if v.parse::<u32>().ok() == Some(validity) => uid.parse().unwrap_or(0),
        _ => 0,
    };
    loop {
        let uids = session
            .uid_search(format!("UID {}:*", last.saturating_add(1)))
            .map_err(|e| imap_err("UID SEARCH", e))?;
        // `n:*` always matches the last message, even below n.
        let mut uids: Vec<u32> = uids.into_iter().filter(|u| *u > last).collect();
        if uids.is_empty() {
            return Ok(());
        }
        uids.sort_unstable();
        uids.truncate(opts.batch_size.max(1));
        let set = uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let fetches =
            session.uid_fetch(&set, "(UID BODY.PEEK[])").map_err(|e| imap_err("UID FETCH", e))?;
        let mut batch = Vec::new();
        let mut highest = last;
        for f in fetches.iter() {
            let (Some(uid), Some(body)) = (f.uid, f.body()) else { continue };
            highest = highest.max(uid);
            batch.push(Incoming::parse(body.to_vec(), opts.project.clone()));
        }
        // Messages that vanished between SEARCH and FETCH are skipped, not waited for.
        highest = highest.max(uids.last().copied().unwrap_or(last));
        stats.fetched += batch.len() as u64;
        let value = format!("{validity}:{highest}");
        if let Some(v) = &opts.attest {
            rt.block_on(v.attest_batch(&mut batch));
        }
        let outcome = rt
            .block_on(store.ingest_with_cursor(batch, Some((&key, &value))))
            .map_err(Error::Store)?;
        stats.new_messages += outcome.new_messages;
        stats.duplicates += outcome.duplicates;
        last = highest;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_user_host_port_and_mailbox() {
        let s =
            ImapSource::parse("imap://lists%40example.org@127.0.0.1:1143/Lists/xen-devel").unwrap();
        assert_eq!(
            s,
            ImapSource {
                tls: false,
                host: "127.0.0.1".into(),
                port: 1143,
                user: "lists@example.org".into(),
                mailbox: "Lists/xen-devel".into()
            }
        );
        let s = ImapSource::parse("imaps://me@mail.example.org").unwrap();
        assert_eq!((s.tls, s.port, s.mailbox.as_str()), (true, 993, "INBOX"));
        assert!(
            ImapSource::parse("imap://mail.example.org/INBOX")
                .unwrap_err()
                .contains("names no user")
        );
        assert!(ImapSource::parse("pop3://x@y").is_err());
        assert!(ImapSource::parse("imap://x@y:port/INBOX").unwrap_err().contains("bad port"));
    }
}
