//! quire-import: reads list archives and feeds them to the store.
//!
//! Sources, one module each: [`mbox`] (mboxrd/mboxo, gzip or not, streamed), [`maildir`],
//! [`stdin`] (one message piped by a mail server) and [`public_inbox`] (v1/v2 git archives,
//! incremental). [`detect`] tells which one a path is.
//!
//! [`import`] is the pipeline: a reading thread cuts the inputs into batches of raw messages, a
//! parsing thread parses each batch in parallel (rayon, `quire_mail::parse`), and the async
//! side stores each batch in one store transaction. Reading and parsing run at a lower
//! priority than the store (see [`lower_priority`]). The stages are joined by channels of two
//! batches, so memory stays flat whatever the archive size. A message that cannot be read
//! whole (over the size limit) is skipped and reported; a message that cannot be understood is
//! stored and flagged by the store. Only an I/O error on an input or a store error stops an
//! import, and the batches before it stay stored.

pub mod imap;
pub mod maildir;
pub mod mbox;
pub mod public_inbox;
mod read;
pub mod stdin;
#[cfg(feature = "testing")]
pub mod testing;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use quire_store::{BatchOutcome, Incoming, Store};
use rayon::prelude::*;

/// One thing to import: a path (mbox file, maildir, public-inbox) or standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Path(PathBuf),
    Stdin,
}

impl Input {
    /// `-` is standard input, anything else a path.
    pub fn from_arg(arg: &str) -> Input {
        if arg == "-" { Input::Stdin } else { Input::Path(PathBuf::from(arg)) }
    }
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Path(p) => write!(f, "{}", p.display()),
            Input::Stdin => f.write_str("standard input"),
        }
    }
}

/// What kind of archive an input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A file: an mbox (gzip or not), or a single message.
    Mbox,
    Maildir,
    PublicInbox,
    Stdin,
}

/// Tells what `path` is: `-` is standard input; a directory with `cur/` or `new/` is a
/// maildir; a directory with `git/N.git` epochs, or a bare git repository, is a public-inbox;
/// any other file is an mbox (gzip or not; a file that is not an mbox is one message).
pub fn detect(path: &Path) -> Result<SourceKind, Error> {
    if path.as_os_str() == "-" {
        return Ok(SourceKind::Stdin);
    }
    let input = path.display().to_string();
    let meta =
        std::fs::metadata(path).map_err(|source| Error::Read { input: input.clone(), source })?;
    if meta.is_dir() {
        if maildir::is_maildir(path) {
            Ok(SourceKind::Maildir)
        } else if public_inbox::is_public_inbox(path) {
            Ok(SourceKind::PublicInbox)
        } else {
            Err(Error::Unrecognised { input })
        }
    } else {
        Ok(SourceKind::Mbox)
    }
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The project of messages whose List-Id and To/Cc name no configured project.
    pub project: Option<String>,
    /// Messages per store transaction at most.
    pub batch_size: usize,
    /// Bytes of raw mail per store transaction at most (a batch holds one message at least).
    /// A transaction's cost goes with its messages (statements, index pages written); the
    /// memory of the batches in flight with their messages and their bytes (measured: about
    /// 8 KB per message plus twice its size): 2,500 small generated messages (2.7 MB) or about
    /// 1,000 real ones of the list slices (7-11 KB each) per batch.
    pub batch_bytes: usize,
    /// Larger messages are skipped (and reported), never held in memory whole.
    pub max_message_bytes: usize,
    /// Verifies each message's DKIM and patatt signatures before it is stored (the result is
    /// kept with the raw mail). `None`: stored as never verified. DNS is asked only when the
    /// verifier has a resolver (`quire import --dkim`, `quire watch`).
    pub attest: Option<std::sync::Arc<quire_attest::Verifier>>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            project: None,
            batch_size: 2500,
            batch_bytes: 8 << 20,
            max_message_bytes: quire_mail::Limits::default().max_message_bytes,
            attest: None,
        }
    }
}

/// Where an import is, for a progress bar. Sent after every stored batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Messages read and stored (new or already stored) so far.
    pub messages: u64,
    /// Bytes of the inputs read so far (as stored on disk: compressed bytes for a .gz).
    pub bytes_read: u64,
    /// Total bytes of the inputs when known (files and maildirs; not stdin or public-inbox).
    pub bytes_total: Option<u64>,
    /// The input being read.
    pub input: String,
}

/// What an import did.
///
/// Its `Display` is one line, exactly
/// `imported N messages (P patches, C cover letters, R replies, S series, E unparsable) in T s`
/// (N: new messages; S: new series; T with one decimal), followed, only when there is
/// something to say, by a second line `D already stored, X stored again with different bytes,
/// K skipped` (each part present only when not zero). So a second import of the same archive
/// says `imported 0 messages (...)` and then `8000 already stored`.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// New messages stored.
    pub messages: u64,
    pub patches: u64,
    pub cover_letters: u64,
    pub replies: u64,
    /// Series created by this import.
    pub series: u64,
    /// Series created or changed.
    pub series_touched: u64,
    pub unparsable: u64,
    /// Messages already stored with the same bytes (ignored).
    pub duplicates: u64,
    /// Message-IDs already stored with different bytes (kept as linked copies).
    pub conflicting_duplicates: Vec<String>,
    /// New messages with problems, and what they were.
    pub problems: Vec<quire_store::MessageProblem>,
    /// Messages not stored because they could not be read whole (over the size limit), each
    /// naming the input and the message number, byte offset, file or commit.
    pub skipped: Vec<String>,
    /// Messages of mbox files that began at a bare `From ` line (no date) rather than an
    /// envelope: said in the summary, so that a file split unexpectedly is noticed.
    pub bare_separators: u64,
    /// Messages read from the inputs (stored, duplicates and skipped).
    pub read: u64,
    /// Batches stored.
    pub batches: u64,
    /// How long the store took for each batch, in order (for latency percentiles).
    pub batch_store_times: Vec<Duration>,
    pub elapsed: Duration,
}

impl Summary {
    fn add(&mut self, outcome: &BatchOutcome) {
        self.messages += outcome.new_messages;
        self.patches += outcome.patches;
        self.cover_letters += outcome.cover_letters;
        self.replies += outcome.replies;
        self.series += outcome.series_created;
        self.series_touched += outcome.series_touched;
        self.unparsable += outcome.unparsable;
        self.duplicates += outcome.duplicates;
        self.conflicting_duplicates.extend(outcome.conflicting_duplicates.iter().cloned());
        self.problems.extend(outcome.problems.iter().cloned());
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "imported {} messages ({} patches, {} cover letters, {} replies, {} series, {} unparsable) in {:.1} s",
            self.messages,
            self.patches,
            self.cover_letters,
            self.replies,
            self.series,
            self.unparsable,
            self.elapsed.as_secs_f64()
        )?;
        let mut more = Vec::new();
        if self.duplicates > 0 {
            more.push(format!("{} already stored", self.duplicates));
        }
        if !self.conflicting_duplicates.is_empty() {
            more.push(format!(
                "{} stored again with different bytes",
                self.conflicting_duplicates.len()
            ));
        }
        if !self.skipped.is_empty() {
            more.push(format!("{} skipped", self.skipped.len()));
        }
        if self.bare_separators > 0 {
            more.push(format!(
                "{} began at a bare `From ` line (no date) and were split there",
                self.bare_separators
            ));
        }
        if !more.is_empty() {
            write!(f, "\n{}", more.join(", "))?;
        }
        Ok(())
    }
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {input}: {source}")]
    Read {
        input: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{input} is a directory but neither a maildir (cur/, new/) nor a public-inbox (git/N.git or a bare git repository)"
    )]
    Unrecognised { input: String },
    #[error("cannot read public-inbox {input}: {source}")]
    Git {
        input: String,
        #[source]
        source: public_inbox::GitError,
    },
    #[error(transparent)]
    Stdin { source: stdin::StdinError },
    #[error("cannot store: {0}")]
    Store(#[from] quire_store::Error),
    #[error("import pipeline: {0}")]
    Pipeline(String),
    /// A live source (an IMAP server) failed: watchers retry.
    #[error("{0}")]
    Source(String),
}

impl Error {
    /// True when trying again later may succeed: the store is unavailable, locked or out of
    /// space. A mail server piping a message to `quire import -` should then answer
    /// EX_TEMPFAIL (75) so that it retries; otherwise the input itself is at fault
    /// (EX_DATAERR, 65).
    pub fn is_temporary(&self) -> bool {
        match self {
            Error::Store(e) => e.is_temporary(),
            Error::Pipeline(_) | Error::Source(_) => true,
            Error::Read { .. }
            | Error::Unrecognised { .. }
            | Error::Git { .. }
            | Error::Stdin { .. } => false,
        }
    }
}

/// A batch parsed and ready for the store.
struct ParsedBatch {
    incoming: Vec<Incoming>,
    cursor: Option<(String, String)>,
    skipped: Vec<String>,
    bare_separators: u64,
    bytes_read: u64,
    input: String,
}

/// Total size of the inputs when every one is a file or a maildir.
fn total_bytes(inputs: &[Input]) -> Option<u64> {
    let mut total = 0;
    for input in inputs {
        let Input::Path(path) = input else { return None };
        match detect(path).ok()? {
            SourceKind::Mbox => total += std::fs::metadata(path).ok()?.len(),
            SourceKind::Maildir => {
                total += maildir::list(path).ok()?.iter().map(|e| e.size).sum::<u64>()
            }
            SourceKind::PublicInbox | SourceKind::Stdin => return None,
        }
    }
    Some(total)
}

/// The store cursors of every public-inbox epoch among the inputs.
async fn public_inbox_cursors(
    store: &Store,
    inputs: &[Input],
) -> Result<HashMap<String, String>, Error> {
    let mut cursors = HashMap::new();
    for input in inputs {
        // An input that cannot be read is reported by the reading stage, in its turn, after
        // the inputs before it are stored.
        let Input::Path(path) = input else { continue };
        let Ok(SourceKind::PublicInbox) = detect(path) else { continue };
        let Ok(epochs) = public_inbox::epochs(path) else { continue };
        for epoch in epochs {
            let key = public_inbox::cursor_key(path, &epoch);
            if let Some(value) = store.cursor(&key).await? {
                cursors.insert(key, value);
            }
        }
    }
    Ok(cursors)
}

/// Imports `inputs` in order into `store`. `progress` is called after every stored batch.
/// See the crate documentation for the stages and what stops an import.
pub async fn import(
    store: &Store,
    inputs: &[Input],
    opts: &ImportOptions,
    progress: &dyn Fn(&Progress),
) -> Result<Summary, Error> {
    let started = Instant::now();
    // A first import builds PostgreSQL's text index at the end, in one pass (see
    // `Store::defer_text_index_if_empty`); built again whether the import ends well or not.
    let deferred = store.defer_text_index_if_empty().await?;
    let imported = import_inner(store, inputs, opts, progress, started).await;
    let built = if deferred { store.build_deferred_text_index().await } else { Ok(()) };
    // The import's own error first: it says what stopped it.
    let mut summary = imported?;
    built?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

async fn import_inner(
    store: &Store,
    inputs: &[Input],
    opts: &ImportOptions,
    progress: &dyn Fn(&Progress),
    started: Instant,
) -> Result<Summary, Error> {
    let cursors = public_inbox_cursors(store, inputs).await?;
    let bytes_total = total_bytes(inputs);

    // Batches in flight: one being stored, one parsed waiting for the store, one being parsed,
    // one read waiting for the parser (handed over, not queued: a rendezvous). Each is
    // `batch_size` messages or `batch_bytes` held whole; fewer would leave a stage idle.
    let (raw_tx, raw_rx) = std::sync::mpsc::sync_channel::<read::Sent>(0);
    let (parsed_tx, mut parsed_rx) = tokio::sync::mpsc::channel::<Result<ParsedBatch, Error>>(1);

    let reader = {
        let inputs = inputs.to_vec();
        let (batch_size, batch_bytes, limit) =
            (opts.batch_size, opts.batch_bytes, opts.max_message_bytes);
        std::thread::Builder::new()
            .name("quire-import-read".into())
            .spawn(move || {
                lower_priority();
                let mut send = |sent: read::Sent| raw_tx.send(sent).is_ok();
                read::Reader::new((batch_size, batch_bytes), limit, &cursors, &mut send)
                    .read_all(&inputs);
            })
            .map_err(|e| Error::Pipeline(format!("cannot start the reading thread: {e}")))?
    };
    let parser = {
        let project = opts.project.clone();
        // Attestation runs here, beside parsing, not in the store's turn: a batch's signatures
        // are checked while the batch before it is stored (patatt's `git mailinfo` per signed
        // mail, DNS for DKIM when asked).
        let attest = opts.attest.clone();
        let runtime = tokio::runtime::Handle::current();
        std::thread::Builder::new()
            .name("quire-import-parse".into())
            .spawn(move || {
                lower_priority();
                let pool = rayon::ThreadPoolBuilder::new()
                    .thread_name(|i| format!("quire-parse-{i}"))
                    .start_handler(|_| lower_priority())
                    .build();
                for sent in raw_rx {
                    let parsed = sent.map(|batch| {
                        let mut parsed = match &pool {
                            Ok(pool) => pool.install(|| parse_batch(batch, &project)),
                            Err(_) => parse_batch(batch, &project),
                        };
                        if let Some(v) = &attest {
                            runtime.block_on(v.attest_batch(&mut parsed.incoming));
                        }
                        parsed
                    });
                    if parsed_tx.blocking_send(parsed).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| Error::Pipeline(format!("cannot start the parsing thread: {e}")))?
    };

    let mut summary = Summary::default();
    let mut seen = 0u64;
    let stored = async {
        while let Some(batch) = parsed_rx.recv().await {
            let batch = batch?;
            let n = batch.incoming.len() as u64;
            let cursor = batch.cursor.as_ref().map(|(k, v)| (k.as_str(), v.as_str()));
            let storing = Instant::now();
            let outcome = store.ingest_with_cursor(batch.incoming, cursor).await?;
            summary.batch_store_times.push(storing.elapsed());
            summary.add(&outcome);
            summary.skipped.extend(batch.skipped);
            summary.bare_separators += batch.bare_separators;
            summary.batches += 1;
            seen += n;
            summary.read = seen + summary.skipped.len() as u64;
            progress(&Progress {
                messages: seen,
                bytes_read: batch.bytes_read,
                bytes_total,
                input: batch.input,
            });
        }
        Ok::<(), Error>(())
    }
    .await;
    // Dropping the receiver stops the other stages when the store failed.
    drop(parsed_rx);
    let joined =
        tokio::task::spawn_blocking(move || (reader.join().is_ok(), parser.join().is_ok()))
            .await
            .map_err(|e| Error::Pipeline(e.to_string()))?;
    stored?;
    if joined != (true, true) {
        return Err(Error::Pipeline("a reading or parsing thread panicked".into()));
    }
    if summary.batches > 0
        && let Err(e) = store.optimize().await
    {
        tracing::warn!(error = %e, "the query planner's statistics were not updated");
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Reading and parsing run ahead of the store, which is the slowest stage and runs one
/// transaction at a time: when they compete for the cores, the store should win, and the
/// others fill the time it leaves (its threads wait on each other and on the disk). A nice
/// of 10 for the reading and parsing threads (Linux, where a nice is per thread): importing
/// both real slices on 2 cores 1.53 -> 1.40 s (median of 7). Also keeps an import out of
/// the way of a server's requests in the same process.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread (`who` 0) only reads its arguments; raising a
    // nice needs no privilege, and a failure leaves the priority as it was.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

fn parse_batch(batch: read::RawBatch, project: &Option<String>) -> ParsedBatch {
    let incoming =
        batch.messages.into_par_iter().map(|raw| Incoming::parse(raw, project.clone())).collect();
    ParsedBatch {
        incoming,
        cursor: batch.cursor,
        skipped: batch.skipped,
        bare_separators: batch.bare_separators,
        bytes_read: batch.bytes_read,
        input: batch.input,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_tells_each_kind_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        let maildir = dir.path().join("maildir");
        std::fs::create_dir_all(maildir.join("new")).expect("mkdir");
        let mbox = dir.path().join("list.archive");
        std::fs::write(&mbox, b"From x Thu Jan  1 00:00:00 1970\n\n").expect("write");
        let bare = dir.path().join("inbox.git");
        public_inbox::tests::TestRepo::new(bare.clone());
        let v2 = dir.path().join("v2");
        std::fs::create_dir_all(v2.join("git")).expect("mkdir");
        public_inbox::tests::TestRepo::new(v2.join("git/0.git"));
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).expect("mkdir");

        assert_eq!(detect(Path::new("-")).expect("stdin"), SourceKind::Stdin);
        assert_eq!(detect(&maildir).expect("maildir"), SourceKind::Maildir);
        assert_eq!(detect(&mbox).expect("mbox"), SourceKind::Mbox);
        assert_eq!(detect(&bare).expect("v1"), SourceKind::PublicInbox);
        assert_eq!(detect(&v2).expect("v2"), SourceKind::PublicInbox);
        let err = detect(&empty).expect_err("plain directory");
        assert!(err.to_string().contains("neither a maildir"), "{err}");
        assert!(!err.is_temporary());
        let err = detect(&dir.path().join("missing.mbox")).expect_err("missing file");
        assert!(
            err.to_string().starts_with("cannot read ") && err.to_string().contains("missing.mbox"),
            "{err}"
        );
    }

    #[test]
    fn input_dash_is_stdin() {
        assert_eq!(Input::from_arg("-"), Input::Stdin);
        assert_eq!(Input::from_arg("a.mbox"), Input::Path("a.mbox".into()));
        assert_eq!(Input::Stdin.to_string(), "standard input");
    }

    #[test]
    fn summary_first_line_is_exact_and_second_line_only_when_needed() {
        let mut s = Summary {
            messages: 12,
            patches: 7,
            cover_letters: 2,
            replies: 3,
            series: 2,
            unparsable: 0,
            elapsed: Duration::from_millis(1260),
            ..Summary::default()
        };
        assert_eq!(
            s.to_string(),
            "imported 12 messages (7 patches, 2 cover letters, 3 replies, 2 series, 0 unparsable) in 1.3 s"
        );
        s.duplicates = 8000;
        s.skipped.push("a.mbox: message 3 at byte 100 is 70000000 bytes".into());
        assert_eq!(
            s.to_string(),
            "imported 12 messages (7 patches, 2 cover letters, 3 replies, 2 series, 0 unparsable) in 1.3 s\n8000 already stored, 1 skipped"
        );
    }

    #[test]
    fn a_locked_store_is_a_temporary_failure_and_bad_input_is_not() {
        // (Which database errors are temporary is the store's rule: quire_store::Error::is_temporary.)
        let no_data_dir = Error::Store(quire_store::Error::DataDir {
            path: "/nonexistent".into(),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        });
        assert!(no_data_dir.is_temporary());
        let unreadable =
            Error::Read { input: "-".into(), source: std::io::Error::other("broken pipe") };
        assert!(!unreadable.is_temporary());
        let too_large = Error::Stdin { source: stdin::StdinError::TooLarge { limit: 10 } };
        assert!(!too_large.is_temporary());
        assert_eq!(too_large.to_string(), "the message on standard input is larger than 10 bytes");
    }
}
