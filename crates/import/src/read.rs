//! The reading stage of the pipeline: turns inputs into batches of raw messages, in order,
//! each batch with the public-inbox cursor it completes. Runs on its own thread.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::public_inbox::{self, CommitContent, EpochReader};
use crate::{Error, Input, SourceKind, detect, maildir, mbox, stdin};

/// A run of messages to parse and store together.
pub(crate) struct RawBatch {
    pub messages: Vec<Vec<u8>>,
    /// `(key, value)` to store with the batch: the last commit of a public-inbox epoch that
    /// this batch includes.
    pub cursor: Option<(String, String)>,
    /// Messages that could not be kept (over the size limit), with where they were.
    pub skipped: Vec<String>,
    /// Messages of the batch that began at a bare `From ` line (see [`mbox::Separator`]).
    pub bare_separators: u64,
    /// Bytes of the inputs read so far when the batch was cut.
    pub bytes_read: u64,
    /// Name of the input being read.
    pub input: String,
}

/// What the reading thread sends: batches, then possibly the error that stopped it.
pub(crate) type Sent = Result<RawBatch, Error>;

pub(crate) struct Reader<'a> {
    batch_size: usize,
    batch_bytes: usize,
    /// Bytes of the messages of the batch being built.
    current_bytes: usize,
    max_message_bytes: usize,
    /// Store cursors of public-inbox epochs, read before the import started.
    cursors: &'a HashMap<String, String>,
    send: &'a mut dyn FnMut(Sent) -> bool,
    current: RawBatch,
    /// Bytes of the inputs finished so far.
    bytes_done: u64,
    /// Counter of the input being read (file bytes, compressed when it is).
    counter: Option<Arc<AtomicU64>>,
    /// False once the receiving side has gone: stop reading.
    open: bool,
    /// Batches sent so far (see [`Reader::push`]).
    sent: u32,
}

impl<'a> Reader<'a> {
    /// `batch`: (messages, bytes) per batch at most.
    pub fn new(
        (batch_size, batch_bytes): (usize, usize),
        max_message_bytes: usize,
        cursors: &'a HashMap<String, String>,
        send: &'a mut dyn FnMut(Sent) -> bool,
    ) -> Self {
        Reader {
            batch_size: batch_size.max(1),
            batch_bytes: batch_bytes.max(1),
            current_bytes: 0,
            max_message_bytes,
            cursors,
            send,
            current: empty_batch(String::new()),
            bytes_done: 0,
            counter: None,
            open: true,
            sent: 0,
        }
    }

    fn bytes_read(&self) -> u64 {
        self.bytes_done + self.counter.as_ref().map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// The first batches are smaller (an eighth, a quarter, a half of the limits, then whole):
    /// the store waits for the first batch to be read and parsed, and a whole one is about
    /// 80 ms of that on 2 cores for real mail.
    fn push(&mut self, bytes: Vec<u8>) {
        self.current_bytes += bytes.len();
        self.current.messages.push(bytes);
        let shrink = 8usize >> self.sent.min(3);
        if self.current.messages.len() >= (self.batch_size / shrink).max(1)
            || self.current_bytes >= self.batch_bytes / shrink
        {
            self.flush();
        }
    }

    fn skip(&mut self, what: String) {
        tracing::warn!("{what}");
        self.current.skipped.push(what);
    }

    /// Sends the batch being built, if it holds anything.
    fn flush(&mut self) {
        if self.current.messages.is_empty()
            && self.current.cursor.is_none()
            && self.current.skipped.is_empty()
        {
            return;
        }
        let input = self.current.input.clone();
        let mut batch = std::mem::replace(&mut self.current, empty_batch(input));
        self.current_bytes = 0;
        batch.bytes_read = self.bytes_read();
        if self.open {
            self.open = (self.send)(Ok(batch));
        }
        self.sent = self.sent.saturating_add(1);
    }

    /// Reads every input in order. Stops at the first input error (sent after the batches
    /// read before it) or when the receiving side goes away.
    pub fn read_all(&mut self, inputs: &[Input]) {
        for input in inputs {
            if !self.open {
                return;
            }
            self.current.input = input.to_string();
            let result = self.read_input(input);
            self.flush();
            if let Some(counter) = self.counter.take() {
                self.bytes_done += counter.load(Ordering::Relaxed);
            }
            if let Err(e) = result {
                if self.open {
                    (self.send)(Err(e));
                }
                return;
            }
        }
    }

    fn read_input(&mut self, input: &Input) -> Result<(), Error> {
        let name = input.to_string();
        match input {
            Input::Stdin => self.read_stdin(),
            Input::Path(path) => match detect(path)? {
                SourceKind::Mbox => self.read_mbox(path, &name),
                SourceKind::Maildir => self.read_maildir(path, &name),
                SourceKind::PublicInbox => self.read_public_inbox(path, &name),
                SourceKind::Stdin => self.read_stdin(),
            },
        }
    }

    fn read_stdin(&mut self) -> Result<(), Error> {
        let bytes = stdin::read_message(std::io::stdin().lock(), self.max_message_bytes)
            .map_err(|source| Error::Stdin { source })?;
        self.bytes_done += bytes.len() as u64;
        self.push(bytes);
        Ok(())
    }

    fn read_mbox(&mut self, path: &Path, name: &str) -> Result<(), Error> {
        let (reader, counter) = mbox::open(path, self.max_message_bytes)
            .map_err(|source| Error::Read { input: name.to_string(), source })?;
        self.counter = Some(counter);
        for message in reader {
            if !self.open {
                break;
            }
            match message {
                Ok(m) => {
                    if m.separator == mbox::Separator::Bare {
                        self.current.bare_separators += 1;
                    }
                    self.push(m.bytes)
                }
                Err(e @ mbox::MboxError::TooLarge { .. }) => self.skip(format!("{name}: {e}")),
                Err(mbox::MboxError::Io { offset, source }) => {
                    return Err(Error::Read {
                        input: format!("{name} (at byte {offset} of the decompressed stream)"),
                        source,
                    });
                }
            }
        }
        Ok(())
    }

    fn read_maildir(&mut self, path: &Path, name: &str) -> Result<(), Error> {
        let entries = maildir::list(path)
            .map_err(|source| Error::Read { input: name.to_string(), source })?;
        let counter = Arc::new(AtomicU64::new(0));
        self.counter = Some(Arc::clone(&counter));
        for entry in entries {
            if !self.open {
                break;
            }
            let file = entry.path.display().to_string();
            match maildir::read_message(&entry, self.max_message_bytes) {
                Ok(Ok(bytes)) => self.push(bytes),
                Ok(Err(size)) => {
                    let limit = self.max_message_bytes;
                    self.skip(format!(
                        "{file}: message is {size} bytes, over the {limit} bytes limit: skipped"
                    ));
                }
                Err(source) => return Err(Error::Read { input: file, source }),
            }
            counter.fetch_add(entry.size, Ordering::Relaxed);
        }
        Ok(())
    }

    fn read_public_inbox(&mut self, path: &Path, name: &str) -> Result<(), Error> {
        let epochs = public_inbox::epochs(path)
            .map_err(|source| Error::Read { input: name.to_string(), source })?;
        for epoch in epochs {
            let key = public_inbox::cursor_key(path, &epoch);
            let after = self.cursors.get(&key).map(String::as_str);
            let git_error = |source| Error::Git { input: name.to_string(), source };
            let reader =
                EpochReader::open(&epoch, after, self.max_message_bytes).map_err(git_error)?;
            for commit in reader {
                if !self.open {
                    return Ok(());
                }
                let commit = commit.map_err(git_error)?;
                match commit.content {
                    CommitContent::Message(bytes) => {
                        self.current.cursor = Some((key.clone(), commit.commit));
                        self.push(bytes);
                    }
                    CommitContent::NoMessage => {
                        self.current.cursor = Some((key.clone(), commit.commit))
                    }
                    CommitContent::TooLarge { size } => {
                        let limit = self.max_message_bytes;
                        self.skip(format!(
                            "{name}: epoch {} commit {}: message is {size} bytes, over the {limit} bytes limit: skipped",
                            epoch.number, commit.commit
                        ));
                        self.current.cursor = Some((key.clone(), commit.commit));
                    }
                }
            }
            // One cursor per batch: an epoch's last batch is cut at its end.
            self.flush();
        }
        Ok(())
    }
}

fn empty_batch(input: String) -> RawBatch {
    RawBatch {
        messages: Vec::new(),
        cursor: None,
        skipped: Vec::new(),
        bare_separators: 0,
        bytes_read: 0,
        input,
    }
}
