//! public-inbox archives, read through the `git` program.
//!
//! A v2 inbox keeps its mail in epochs, `<inbox>/git/0.git`, `1.git`..., each a bare repository
//! where every commit writes one message as the blob `m` (a commit that removes a message
//! writes `d` instead and has no `m`). A v1 inbox is one bare repository where every commit
//! adds one message at `xx/<38 hex>` (the SHA-1 of its Message-ID) and a removal deletes it.
//! Repositories built by hand with one `m` per commit read the same way.
//!
//! Per epoch, two long-running processes: `git log --reverse --raw [<last>..]HEAD` lists the
//! commits with the blob each one added, and `git cat-file --batch` streams those blobs. A
//! thread feeds the first into the second, so blobs come out in commit order while memory stays
//! flat. Each item carries its commit id: the importer keeps the last one per epoch as a cursor
//! (see [`cursor_key`]) so that the next run starts after it.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread::JoinHandle;

/// One epoch: a bare git repository of an inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Epoch {
    pub git_dir: PathBuf,
    /// `N` of `git/N.git` for a v2 inbox; 0 for a v1 inbox.
    pub number: u32,
}

/// What one commit of an epoch holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxCommit {
    pub commit: String,
    pub content: CommitContent,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitContent {
    /// The raw message the commit added.
    Message(Vec<u8>),
    /// The commit removes a message (v2 `d`, v1 deletion) or adds none: nothing to import.
    NoMessage,
    /// The message is larger than the limit; it was not read.
    TooLarge { size: u64 },
}

#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("cannot run git ({what}) in {git_dir}: {source}")]
    Spawn {
        what: &'static str,
        git_dir: String,
        #[source]
        source: io::Error,
    },
    #[error("git {what} failed in {git_dir}: {detail}")]
    Failed { what: &'static str, git_dir: String, detail: String },
}

/// A bare repository: `HEAD`, `objects/` and `refs/` in the directory itself.
pub fn is_bare_repo(dir: &Path) -> bool {
    dir.join("HEAD").is_file() && dir.join("objects").is_dir() && dir.join("refs").is_dir()
}

/// True for a v2 inbox (`git/0.git`...) or a bare repository (v1).
pub fn is_public_inbox(dir: &Path) -> bool {
    v2_epochs(dir).is_ok_and(|e| !e.is_empty()) || is_bare_repo(dir)
}

fn v2_epochs(inbox: &Path) -> io::Result<Vec<Epoch>> {
    let mut epochs = Vec::new();
    let git = inbox.join("git");
    if !git.is_dir() {
        return Ok(epochs);
    }
    for entry in std::fs::read_dir(&git)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some(number) =
            name.to_str().and_then(|n| n.strip_suffix(".git")).and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if is_bare_repo(&entry.path()) {
            epochs.push(Epoch { git_dir: entry.path(), number });
        }
    }
    epochs.sort_by_key(|e| e.number);
    Ok(epochs)
}

/// The epochs of an inbox in order (v2), or the inbox itself as epoch 0 (v1).
pub fn epochs(inbox: &Path) -> io::Result<Vec<Epoch>> {
    let v2 = v2_epochs(inbox)?;
    if !v2.is_empty() {
        return Ok(v2);
    }
    if is_bare_repo(inbox) {
        return Ok(vec![Epoch { git_dir: inbox.to_path_buf(), number: 0 }]);
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        "neither a v2 public-inbox (git/N.git) nor a bare git repository",
    ))
}

/// The store cursor of one epoch: `public-inbox:<canonical inbox path>:<epoch>`. The path is
/// canonical so that `./inbox` and `/srv/inbox` share one cursor.
pub fn cursor_key(inbox: &Path, epoch: &Epoch) -> String {
    let canonical = std::fs::canonicalize(inbox).unwrap_or_else(|_| inbox.to_path_buf());
    format!("public-inbox:{}:{}", canonical.display(), epoch.number)
}

/// git on the inbox through quire-git's runner: a clean environment (no system or global config,
/// no hooks, no GIT_DIR of the caller's), as every git run of quire.
fn git(git_dir: &Path) -> Command {
    let mut cmd = quire_git::run::command(&std::env::temp_dir());
    cmd.arg("--git-dir").arg(git_dir);
    cmd
}

fn display(git_dir: &Path) -> String {
    git_dir.display().to_string()
}

/// Runs a short git command, giving its stdout when it succeeds.
fn git_output(
    git_dir: &Path,
    what: &'static str,
    args: &[&str],
) -> Result<Option<String>, GitError> {
    let out = git(git_dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| GitError::Spawn { what, git_dir: display(git_dir), source })?;
    Ok(out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string()))
}

/// The commit HEAD points to, `None` for an epoch without commits.
pub fn head(git_dir: &Path) -> Result<Option<String>, GitError> {
    git_output(git_dir, "rev-parse", &["rev-parse", "-q", "--verify", "HEAD^{commit}"])
}

fn commit_exists(git_dir: &Path, commit: &str) -> Result<bool, GitError> {
    Ok(git_output(git_dir, "cat-file", &["cat-file", "-e", &format!("{commit}^{{commit}}")])?
        .is_some())
}

/// Streams the commits of one epoch after `after` (all of them when `None`), oldest first.
pub struct EpochReader {
    git_dir: PathBuf,
    log: Option<Child>,
    cat_file: Option<Child>,
    blobs: Option<BufReader<ChildStdout>>,
    feeder: Option<JoinHandle<Fed>>,
    max_message_bytes: usize,
    header: Vec<u8>,
    done: bool,
}

impl EpochReader {
    /// Starts reading. When `after` names a commit the repository no longer has (history
    /// rewritten by `public-inbox-purge`), the whole epoch is read again: the store recognises
    /// what it has already, while starting at HEAD could skip mail.
    pub fn open(
        epoch: &Epoch,
        after: Option<&str>,
        max_message_bytes: usize,
    ) -> Result<Self, GitError> {
        let git_dir = epoch.git_dir.clone();
        let mut reader = EpochReader {
            git_dir: git_dir.clone(),
            log: None,
            cat_file: None,
            blobs: None,
            feeder: None,
            max_message_bytes,
            header: Vec::new(),
            done: true,
        };
        let Some(head) = head(&git_dir)? else {
            return Ok(reader);
        };
        let range = match after {
            Some(last) if last == head => return Ok(reader),
            Some(last) if commit_exists(&git_dir, last)? => format!("{last}..{head}"),
            Some(last) => {
                tracing::warn!(git_dir = %git_dir.display(), last, "cursor commit not in the repository any more; reading the whole epoch");
                head
            }
            None => head,
        };
        let spawn_error =
            |what, source| GitError::Spawn { what, git_dir: display(&git_dir), source };
        let mut log = git(&git_dir)
            .args([
                "log",
                "--reverse",
                "--raw",
                "--no-renames",
                "--no-abbrev",
                "--format=%H",
                "--no-color",
                &range,
                "--",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| spawn_error("log", e))?;
        let mut cat_file = git(&git_dir)
            .args(["cat-file", "--batch=%(objectname) %(objecttype) %(objectsize) %(rest)"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| spawn_error("cat-file", e))?;
        let (Some(log_out), Some(log_err), Some(cat_in), Some(cat_out)) =
            (log.stdout.take(), log.stderr.take(), cat_file.stdin.take(), cat_file.stdout.take())
        else {
            return Err(GitError::Failed {
                what: "log",
                git_dir: display(&git_dir),
                detail: "pipes not available".into(),
            });
        };
        reader.feeder =
            Some(std::thread::spawn(move || feed_blob_requests(log_out, log_err, cat_in)));
        reader.log = Some(log);
        reader.cat_file = Some(cat_file);
        reader.blobs = Some(BufReader::with_capacity(256 << 10, cat_out));
        reader.done = false;
        Ok(reader)
    }

    fn failed(&mut self, what: &'static str, detail: String) -> GitError {
        self.done = true;
        GitError::Failed { what, git_dir: display(&self.git_dir), detail }
    }

    /// At the end of cat-file's output: whatever went wrong in `git log` is told now.
    fn finish(&mut self) -> Option<GitError> {
        self.done = true;
        let fed = self.feeder.take().map(|f| f.join());
        let log_status = self.log.as_mut().map(|l| l.wait());
        let stderr = match &fed {
            Some(Ok(f)) => f.stderr.trim().to_string(),
            _ => String::new(),
        };
        match (fed, log_status) {
            (Some(Err(_)), _) => Some(self.failed("log", "reader thread panicked".into())),
            (Some(Ok(Fed { error: Some(detail), .. })), _) => {
                Some(self.failed("log", format!("{detail} {stderr}")))
            }
            (_, Some(Err(e))) => Some(self.failed("log", e.to_string())),
            (_, Some(Ok(status))) if !status.success() => {
                Some(self.failed("log", format!("{status}: {stderr}")))
            }
            _ => None,
        }
    }

    fn read_item(&mut self) -> Result<Option<InboxCommit>, GitError> {
        let Some(blobs) = self.blobs.as_mut() else {
            return Ok(None);
        };
        self.header.clear();
        let n = blobs.read_until(b'\n', &mut self.header).map_err(|e| GitError::Failed {
            what: "cat-file",
            git_dir: display(&self.git_dir),
            detail: e.to_string(),
        })?;
        if n == 0 {
            return match self.finish() {
                Some(e) => Err(e),
                None => Ok(None),
            };
        }
        let header = String::from_utf8_lossy(&self.header).trim_end().to_string();
        let fields: Vec<&str> = header.split(' ').collect();
        // "<oid> <type> <size> <commit> <m|d>" or "<oid> missing" (never for objects log named).
        let [_, kind, size, commit, wanted] = fields[..] else {
            return Err(self.failed("cat-file", format!("unexpected answer {header:?}")));
        };
        let Ok(size) = size.parse::<u64>() else {
            return Err(self.failed("cat-file", format!("unexpected size in {header:?}")));
        };
        let commit = commit.to_string();
        let keep = wanted == "m" && kind == "blob" && size <= self.max_message_bytes as u64;
        let content = read_object(blobs, size, keep).map_err(|e| GitError::Failed {
            what: "cat-file",
            git_dir: display(&self.git_dir),
            detail: e.to_string(),
        })?;
        let content = match (wanted, content) {
            ("m", Some(bytes)) => CommitContent::Message(bytes),
            ("m", None) => CommitContent::TooLarge { size },
            _ => CommitContent::NoMessage,
        };
        Ok(Some(InboxCommit { commit, content }))
    }
}

/// Reads one object of `size` bytes and its trailing newline; keeps it only when asked.
fn read_object(input: &mut impl BufRead, size: u64, keep: bool) -> io::Result<Option<Vec<u8>>> {
    let kept = if keep {
        let mut bytes = Vec::with_capacity(size as usize);
        input.take(size).read_to_end(&mut bytes)?;
        Some(bytes)
    } else {
        io::copy(&mut input.take(size), &mut io::sink())?;
        None
    };
    let mut newline = [0u8; 1];
    input.read_exact(&mut newline)?;
    Ok(kept)
}

/// Turns `git log --raw` output into cat-file requests, one per commit, in order:
/// `<blob> <commit> m` for the blob a commit added (v2 `m`, v1 `xx/38hex`), or
/// `<commit> <commit> d` for a commit that added none (the commit object comes back and is
/// discarded, which keeps every commit in the stream for the cursor).
/// How feeding went: an error of the feeding itself, and what `git log` said on stderr.
struct Fed {
    error: Option<String>,
    stderr: String,
}

fn feed_blob_requests(
    log: ChildStdout,
    log_err: impl Read + Send + 'static,
    cat_file: ChildStdin,
) -> Fed {
    // Drain stderr on the side so that a chatty git cannot block on a full pipe.
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = BufReader::new(log_err).take(64 << 10).read_to_string(&mut text);
        text
    });
    let mut out = io::BufWriter::new(cat_file);
    let mut pending: Option<(String, Option<String>)> = None;
    let write_request = |out: &mut io::BufWriter<ChildStdin>,
                         (commit, blob): (String, Option<String>)| {
        match blob {
            Some(blob) => writeln!(out, "{blob} {commit} m"),
            None => writeln!(out, "{commit} {commit} d"),
        }
    };
    let mut fed = Ok(());
    for line in BufReader::new(log).lines() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                fed = Err(format!("reading git log: {e}"));
                break;
            }
        };
        if is_object_id(&line) {
            if let Some(done) = pending.take()
                && let Err(e) = write_request(&mut out, done)
            {
                fed = Err(format!("writing to git cat-file: {e}"));
                break;
            }
            pending = Some((line, None));
        } else if let Some(blob) = added_message_blob(&line)
            && let Some((_, slot)) = pending.as_mut()
        {
            *slot = Some(blob.to_string());
        }
    }
    if fed.is_ok()
        && let Some(done) = pending.take()
    {
        fed = write_request(&mut out, done).map_err(|e| format!("writing to git cat-file: {e}"));
    }
    // Closing cat-file's input lets it finish.
    let flushed = out.flush();
    drop(out);
    let stderr = errors.join().unwrap_or_default();
    let error = match (fed, flushed) {
        (Err(e), _) => Some(e),
        (Ok(()), Err(e)) => Some(format!("writing to git cat-file: {e}")),
        (Ok(()), Ok(())) => None,
    };
    Fed { error, stderr }
}

fn is_object_id(line: &str) -> bool {
    (line.len() == 40 || line.len() == 64) && line.bytes().all(|b| b.is_ascii_hexdigit())
}

/// From a `--raw` line `:000000 100644 <old> <new> A\tm`, the new blob when the commit adds or
/// changes a message file: `m` (v2) or `xx/<38 hex>` (v1).
fn added_message_blob(line: &str) -> Option<&str> {
    let (meta, path) = line.strip_prefix(':')?.split_once('\t')?;
    let fields: Vec<&str> = meta.split(' ').collect();
    let [_, _, _, new, status] = fields[..] else {
        return None;
    };
    let is_message_path = path == "m"
        || path
            .split_once('/')
            .is_some_and(|(a, b)| a.len() == 2 && b.len() == 38 && is_hex(a) && is_hex(b));
    (matches!(status, "A" | "M") && is_message_path).then_some(new)
}

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Iterator for EpochReader {
    type Item = Result<InboxCommit, GitError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_item() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl Drop for EpochReader {
    fn drop(&mut self) {
        // Stop early readers' processes; after a full read they have exited already.
        for child in [self.log.as_mut(), self.cat_file.as_mut()].into_iter().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.blobs = None;
        if let Some(feeder) = self.feeder.take() {
            let _ = feeder.join();
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds repositories the way public-inbox lays them out, with plain `git` commands.
    pub struct TestRepo {
        pub git_dir: PathBuf,
        work: tempfile::TempDir,
    }

    fn run(cmd: &mut Command) {
        let out = cmd.output().expect("git runs");
        assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    impl TestRepo {
        pub fn new(git_dir: PathBuf) -> Self {
            run(Command::new("git").args(["init", "-q", "--bare"]).arg(&git_dir));
            let work = tempfile::tempdir().expect("tempdir");
            TestRepo { git_dir, work }
        }

        fn git(&self) -> Command {
            let mut cmd = git(&self.git_dir);
            cmd.arg("--work-tree")
                .arg(self.work.path())
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.com");
            cmd.env("GIT_COMMITTER_NAME", "t").env("GIT_COMMITTER_EMAIL", "t@example.com");
            cmd
        }

        /// Commits `content` as the file at `path`, alone in the tree, as v2 does with `m`.
        pub fn commit_file(&self, path: &str, content: &[u8]) -> String {
            let _ = std::fs::remove_dir_all(self.work.path());
            let file = self.work.path().join(path);
            std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
            std::fs::write(&file, content).expect("write");
            run(self.git().args(["add", "-A", "."]));
            run(self.git().args(["commit", "-q", "--allow-empty", "-m", "m"]));
            head(&self.git_dir).expect("git").expect("head")
        }

        pub fn commit_message(&self, content: &[u8]) -> String {
            self.commit_file("m", content)
        }
    }

    pub fn message(n: u32) -> Vec<u8> {
        format!("From: A <a@example.com>\nSubject: [PATCH] change {n}\nMessage-ID: <{n}@example.com>\n\nFrom the top\n").into_bytes()
    }

    fn read(epoch: &Epoch, after: Option<&str>) -> Vec<InboxCommit> {
        EpochReader::open(epoch, after, 1 << 20)
            .expect("open")
            .map(|c| c.expect("commit"))
            .collect()
    }

    fn messages(commits: &[InboxCommit]) -> Vec<Vec<u8>> {
        commits
            .iter()
            .filter_map(|c| match &c.content {
                CommitContent::Message(m) => Some(m.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn v2_epochs_are_read_in_numeric_order_with_deletions_skipped() {
        let inbox = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(inbox.path().join("git")).expect("mkdir");
        let e0 = TestRepo::new(inbox.path().join("git/0.git"));
        let e10 = TestRepo::new(inbox.path().join("git/10.git"));
        let e2 = TestRepo::new(inbox.path().join("git/2.git"));
        e0.commit_message(&message(1));
        let deleting = e0.commit_file("d", &message(1));
        e0.commit_message(&message(2));
        e2.commit_message(&message(3));
        e10.commit_message(&message(4));
        assert!(is_public_inbox(inbox.path()));
        let epochs = epochs(inbox.path()).expect("epochs");
        assert_eq!(epochs.iter().map(|e| e.number).collect::<Vec<_>>(), [0, 2, 10]);
        let first = read(&epochs[0], None);
        assert_eq!(first.len(), 3);
        assert_eq!(first[1], InboxCommit { commit: deleting, content: CommitContent::NoMessage });
        assert_eq!(messages(&first), [message(1), message(2)]);
        assert_eq!(messages(&read(&epochs[1], None)), [message(3)]);
        assert_eq!(messages(&read(&epochs[2], None)), [message(4)]);
    }

    #[test]
    fn reading_after_a_commit_gives_only_newer_commits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = TestRepo::new(dir.path().join("inbox.git"));
        let first = repo.commit_message(&message(1));
        let second = repo.commit_message(&message(2));
        let epoch = &epochs(&repo.git_dir).expect("v1 epoch")[0];
        assert_eq!(epoch.number, 0);
        assert_eq!(messages(&read(epoch, Some(&first))), [message(2)]);
        assert!(read(epoch, Some(&second)).is_empty());
        repo.commit_message(&message(3));
        assert_eq!(messages(&read(epoch, Some(&second))), [message(3)]);
    }

    #[test]
    fn cursor_commit_missing_from_history_rereads_the_epoch() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = TestRepo::new(dir.path().join("inbox.git"));
        repo.commit_message(&message(1));
        let epoch = &epochs(&repo.git_dir).expect("epoch")[0];
        assert_eq!(
            messages(&read(epoch, Some("0123456789012345678901234567890123456789"))),
            [message(1)]
        );
    }

    #[test]
    fn v1_layout_reads_the_blob_each_commit_adds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = TestRepo::new(dir.path().join("v1.git"));
        repo.commit_file("ea/7aa9877ee644292005c756c13634ae50075f15", &message(1));
        repo.commit_file("b3/fc09cc274661f0d8445d25d832d4bd2bd0734a", &message(2));
        let epoch = &epochs(&repo.git_dir).expect("epoch")[0];
        assert_eq!(messages(&read(epoch, None)), [message(1), message(2)]);
    }

    #[test]
    fn message_over_the_limit_is_not_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = TestRepo::new(dir.path().join("inbox.git"));
        repo.commit_message(&vec![b'a'; 5000]);
        repo.commit_message(&message(2));
        let epoch = &epochs(&repo.git_dir).expect("epoch")[0];
        let got: Vec<_> = EpochReader::open(epoch, None, 1000)
            .expect("open")
            .map(|c| c.expect("commit").content)
            .collect();
        assert_eq!(
            got,
            [CommitContent::TooLarge { size: 5000 }, CommitContent::Message(message(2))]
        );
    }

    #[test]
    fn empty_epoch_has_no_commits() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = TestRepo::new(dir.path().join("inbox.git"));
        let epoch = &epochs(&repo.git_dir).expect("epoch")[0];
        assert!(read(epoch, None).is_empty());
    }

    #[test]
    fn stopping_early_ends_the_git_processes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let repo = TestRepo::new(dir.path().join("inbox.git"));
        for n in 0..3 {
            repo.commit_message(&message(n));
        }
        let epoch = &epochs(&repo.git_dir).expect("epoch")[0];
        let mut reader = EpochReader::open(epoch, None, 1 << 20).expect("open");
        assert!(reader.next().is_some());
        drop(reader); // must not hang
    }

    #[test]
    fn a_plain_directory_is_not_an_inbox() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(!is_public_inbox(dir.path()));
        assert!(epochs(dir.path()).is_err());
    }
}
