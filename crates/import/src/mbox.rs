//! Streaming mbox reader: one message's bytes at a time, memory flat whatever the file size.
//!
//! What counts as a message boundary follows the mailbox readers that agree with each other on
//! real archives (public-inbox's `PublicInbox::MboxReader`, mutt's `is_from`, Python's
//! `mailbox.mbox`): a `From ` envelope line at the start of the file or right after a blank
//! line. The envelope must also *look like* one (`From <sender> <date with hh:mm and a year>`,
//! as in `From mboxrd@z Thu Jan  1 00:00:00 1970` or git's `From <sha> Mon Sep 17 00:00:00
//! 2001`), so that an unquoted `From here on...` paragraph of an mboxo body does not split a
//! message in two.
//!
//! Some writers (Patchew's test data, hand-made files, `From nobody` of old tools) give bare
//! separators without a date; Python's `mailbox.mbox` splits at any `From ` line. quire splits at
//! a bare `From ` line too when it follows a blank line and the line after it is a header field
//! (`Name: value`): a sentence of an unquoted body ("From then on...") is followed by more text,
//! not a header. Each message says which kind of line it began at ([`Separator`]), so an import
//! can tell how it split the file.
//!
//! Unquoting is mboxrd's (`>From ` -> `From `, `>>From ` -> `>From `: one `>` removed); for
//! mboxo, which quoted a single level, this gives the same result. The blank line that the
//! format puts after every message is removed. A file whose first line is not an envelope is
//! not an mbox: it is one message (a single `.eml` or `.patch`), kept byte for byte.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::bufread::MultiGzDecoder;

/// One message read from an mbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MboxMessage {
    /// The message as it was before the mbox writer quoted it: envelope line removed, `>From `
    /// unquoted, the separating blank line removed.
    pub bytes: Vec<u8>,
    /// 1-based position of the message in the file.
    pub number: u64,
    /// Byte offset of its envelope line (of its first line for a non-mbox file), counted in the
    /// decompressed stream.
    pub offset: u64,
    /// The line it began at.
    pub separator: Separator,
}

/// Where a message of an mbox began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separator {
    /// A `From <sender> <date>` envelope line.
    Envelope,
    /// A `From ` line without a date, followed by a header field.
    Bare,
    /// The file is not an mbox: the message is the whole file.
    None,
}

/// What can go wrong while reading an mbox. `TooLarge` concerns one message only: the reader
/// skips it (without buffering it) and goes on; `Io` ends the reading.
#[derive(Debug, thiserror::Error)]
pub enum MboxError {
    #[error("read error at byte {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: io::Error,
    },
    #[error(
        "message {number} at byte {offset} is {size} bytes, over the {limit} bytes limit: skipped"
    )]
    TooLarge { number: u64, offset: u64, size: u64, limit: usize },
}

/// The first two bytes of every gzip member (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Counts the bytes that pass through, so that progress can be told in bytes of the file as
/// stored (compressed or not) while the reader sees decompressed bytes.
#[derive(Debug)]
pub struct CountingReader<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R> CountingReader<R> {
    pub fn new(inner: R) -> (Self, Arc<AtomicU64>) {
        let count = Arc::new(AtomicU64::new(0));
        (CountingReader { inner, count: Arc::clone(&count) }, count)
    }
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Wraps `input` in a gzip decoder when it starts with the gzip magic bytes (whatever the
/// file is called); every member of a multi-member file is read (`MultiGzDecoder`).
pub fn decompressed<R: BufRead + Send + 'static>(
    mut input: R,
) -> io::Result<Box<dyn BufRead + Send>> {
    let head = input.fill_buf()?;
    if head.starts_with(&GZIP_MAGIC) {
        Ok(Box::new(BufReader::with_capacity(256 << 10, MultiGzDecoder::new(input))))
    } else {
        Ok(Box::new(input))
    }
}

/// An mbox read from a file, decompressed when it is gzip.
pub type FileMbox = MboxReader<Box<dyn BufRead + Send>>;

/// Opens an mbox file, gzip or not. Returns the reader and a counter of the file's bytes read
/// so far (for progress).
pub fn open(path: &Path, max_message_bytes: usize) -> io::Result<(FileMbox, Arc<AtomicU64>)> {
    let file = File::open(path)?;
    let (counting, count) = CountingReader::new(file);
    let input = decompressed(BufReader::with_capacity(256 << 10, counting))?;
    Ok((MboxReader::new(input, max_message_bytes), count))
}

/// Iterator over the messages of an mbox (see the module documentation for the format).
pub struct MboxReader<R> {
    input: R,
    max_message_bytes: usize,
    /// Bytes consumed from `input` so far.
    offset: u64,
    /// Messages started so far.
    number: u64,
    /// `Some(offset)` when the envelope line of the next message has been read already.
    next_envelope: Option<u64>,
    /// What that line was.
    next_separator: Separator,
    /// The next message's first line, read to tell that the bare `From ` line before it was a
    /// separator.
    carry: Option<Vec<u8>>,
    mode: Mode,
    /// Reused line buffer.
    line: Vec<u8>,
    /// Full length of what `line` holds when the input is not an mbox.
    first_line_len: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Nothing read yet.
    Start,
    Mbox,
    /// The file had no envelope first line: it is one message, already returned or to return.
    SingleMessage,
    Done,
}

/// A line longer than this is still counted but not kept whole; only envelope detection and
/// unquoting look at lines, and they need the first few bytes.
const LINE_KEEP: usize = 1 << 20;

impl<R: BufRead> MboxReader<R> {
    pub fn new(input: R, max_message_bytes: usize) -> Self {
        MboxReader {
            input,
            max_message_bytes,
            offset: 0,
            number: 0,
            next_envelope: None,
            next_separator: Separator::Envelope,
            carry: None,
            mode: Mode::Start,
            line: Vec::new(),
            first_line_len: 0,
        }
    }

    /// Bytes of the (decompressed) stream consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn io_error(&mut self, source: io::Error) -> MboxError {
        self.mode = Mode::Done;
        MboxError::Io { offset: self.offset, source }
    }

    /// Reads one line (with its `\n`) into `self.line`, keeping at most `keep` bytes of it, and
    /// returns its full length (0 at end of input).
    fn read_line(&mut self, keep: usize) -> io::Result<u64> {
        self.line.clear();
        let mut total = 0u64;
        loop {
            let available = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..=i], true),
                None => (available, false),
            };
            let room = keep.saturating_sub(self.line.len());
            self.line.extend_from_slice(&chunk[..chunk.len().min(room)]);
            let used = chunk.len();
            self.input.consume(used);
            total += used as u64;
            if found {
                break;
            }
        }
        self.offset += total;
        Ok(total)
    }

    /// Reads the first line and decides whether the input is an mbox at all.
    /// Blank lines before the first envelope (left by some archivers) are skipped, as
    /// Python's `mailbox` and public-inbox's reader do: they belong to no message.
    fn start(&mut self) -> Result<(), MboxError> {
        // The first line is kept whole (up to the message limit): if the input is not an mbox
        // it is the start of the one message.
        let keep = self.max_message_bytes.saturating_add(1);
        let mut start = self.offset;
        let mut len = self.read_line(keep).map_err(|e| self.io_error(e))?;
        let mut skipped = Vec::new();
        while len > 0 && is_blank(&self.line) && skipped.len() < LINE_KEEP {
            skipped.extend_from_slice(&self.line);
            start = self.offset;
            len = self.read_line(keep).map_err(|e| self.io_error(e))?;
        }
        if len > 0 && is_envelope(&self.line) {
            self.mode = Mode::Mbox;
            self.next_envelope = Some(start);
            return Ok(());
        }
        if len == 0 {
            self.mode = Mode::Done;
            return Ok(());
        }
        // A bare `From ` line is a separator when a header field follows it.
        if is_bare_separator(&self.line, len) {
            let first = std::mem::take(&mut self.line);
            let next_len = self.read_line(keep).map_err(|e| self.io_error(e))?;
            if next_len == self.line.len() as u64 && is_header_field(&self.line) {
                self.mode = Mode::Mbox;
                self.next_envelope = Some(start);
                self.next_separator = Separator::Bare;
                self.carry = Some(std::mem::take(&mut self.line));
                return Ok(());
            }
            let mut both = first;
            both.extend_from_slice(&self.line);
            self.line = both;
            len += next_len;
        }
        // Not an mbox: the message starts at the very first byte, blank lines included.
        self.first_line_len = skipped.len() as u64 + len;
        skipped.extend_from_slice(&self.line);
        self.line = skipped;
        self.mode = Mode::SingleMessage;
        Ok(())
    }

    /// The whole input, first line included, as one message.
    fn single_message(&mut self) -> Result<MboxMessage, MboxError> {
        self.mode = Mode::Done;
        self.number = 1;
        let mut bytes = std::mem::take(&mut self.line);
        let mut size = self.first_line_len;
        let limit = self.max_message_bytes;
        let mut oversized = size > limit as u64;
        if oversized {
            bytes = Vec::new();
        }
        let mut chunk = [0u8; 64 << 10];
        loop {
            let n = match self.input.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error(e)),
            };
            self.offset += n as u64;
            size += n as u64;
            if !oversized && bytes.len() + n <= limit {
                bytes.extend_from_slice(&chunk[..n]);
            } else if !oversized {
                oversized = true;
                bytes = Vec::new();
            }
        }
        if oversized {
            return Err(MboxError::TooLarge { number: 1, offset: 0, size, limit });
        }
        Ok(MboxMessage { bytes, number: 1, offset: 0, separator: Separator::None })
    }

    /// Reads the message whose envelope was at `envelope_offset`, up to the next envelope.
    ///
    /// Lines are taken where they lie in the input's buffer, and only a line that runs past
    /// its end is gathered into `self.line` first: reading a line at a time into `self.line`
    /// and from there into the message copied every byte twice (the reading thread spent a
    /// third of its time on it, beside decompressing).
    fn mbox_message(&mut self, envelope_offset: u64) -> Result<MboxMessage, MboxError> {
        self.number += 1;
        let number = self.number;
        let separator = self.next_separator;
        let mut m = Gathering {
            limit: self.max_message_bytes,
            bytes: Vec::new(),
            size: 0,
            oversized: false,
            previous_blank: false,
            pending: None,
        };
        if let Some(first) = self.carry.take() {
            m.add(&first, first.len() as u64);
        }
        loop {
            let available = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io_error(e)),
            };
            // The whole lines in the buffer.
            let mut used = 0;
            // The offset of the next envelope, read (consumed) like the other lines.
            let mut envelope = None;
            while let Some(i) = memchr::memchr(b'\n', &available[used..]) {
                let line = &available[used..used + i + 1];
                let at = self.offset + used as u64;
                used += i + 1;
                if let Some(next) = m.take(line, line.len() as u64, at) {
                    envelope = Some(next);
                    break;
                }
            }
            self.input.consume(used);
            self.offset += used as u64;
            if let Some(next) = envelope {
                self.set_next(next, &mut m);
                break;
            }
            if used > 0 {
                continue;
            }
            // No whole line left in the buffer: one that runs past its end, or the last
            // line of the input without its newline, or the end.
            let line_start = self.offset;
            let len = self.read_line(LINE_KEEP).map_err(|e| self.io_error(e))?;
            if len == 0 {
                m.finish();
                self.mode = Mode::Done;
                break;
            }
            let line = std::mem::take(&mut self.line);
            let next = m.take(&line, len, line_start);
            self.line = line;
            if let Some(next) = next {
                self.set_next(next, &mut m);
                break;
            }
        }
        if m.oversized {
            return Err(MboxError::TooLarge {
                number,
                offset: envelope_offset,
                size: m.size,
                limit: m.limit,
            });
        }
        let mut bytes = m.bytes;
        strip_separator_blank_line(&mut bytes);
        Ok(MboxMessage { bytes, number, offset: envelope_offset, separator })
    }

    /// The next message begins at the line that made `m` stop.
    fn set_next(&mut self, next: Next, m: &mut Gathering) {
        match next {
            Next::Envelope(at) => {
                self.next_envelope = Some(at);
                self.next_separator = Separator::Envelope;
            }
            Next::Bare { at, first_line } => {
                self.next_envelope = Some(at);
                self.next_separator = Separator::Bare;
                self.carry = Some(first_line);
            }
        }
        m.pending = None;
    }
}

/// Where the next message begins, as found by [`Gathering::take`].
enum Next {
    /// At the envelope line at this offset (consumed).
    Envelope(u64),
    /// At the bare `From ` line at `at`; `first_line` (consumed too) is its first line.
    Bare { at: u64, first_line: Vec<u8> },
}

/// A message being read by [`MboxReader::mbox_message`].
struct Gathering {
    limit: usize,
    bytes: Vec<u8>,
    /// Its size so far, unquoted, counted on when it is over the limit.
    size: u64,
    oversized: bool,
    previous_blank: bool,
    /// A bare `From ` line after a blank line, and its offset: a separator if the next line is
    /// a header field, else a line of this message.
    pending: Option<(Vec<u8>, u64)>,
}

impl Gathering {
    /// Takes the line at offset `at` (`len` bytes long, of which `line` holds the first):
    /// `Some` when the next message begins there (or at the pending line before it).
    fn take(&mut self, line: &[u8], len: u64, at: u64) -> Option<Next> {
        if let Some((pending, pending_at)) = self.pending.take() {
            if line.len() as u64 == len && is_header_field(line) {
                return Some(Next::Bare { at: pending_at, first_line: line.to_vec() });
            }
            self.add(&pending, pending.len() as u64);
            self.add(line, len);
            return None;
        }
        if self.previous_blank && is_envelope(line) {
            return Some(Next::Envelope(at));
        }
        if self.previous_blank && is_bare_separator(line, len) {
            self.pending = Some((line.to_vec(), at));
            return None;
        }
        self.add(line, len);
        None
    }

    /// The end of the input: a pending line was the message's last.
    fn finish(&mut self) {
        if let Some((pending, _)) = self.pending.take() {
            self.add(&pending, pending.len() as u64);
        }
    }

    /// Adds a line of `len` bytes, of which `line` holds the first (all of them unless the
    /// line was longer than the reader keeps, which makes the message too large).
    fn add(&mut self, line: &[u8], len: u64) {
        self.previous_blank = is_blank(line);
        let unquoted = unquote(line);
        let whole = line.len() as u64 == len;
        self.size += if whole { unquoted.len() as u64 } else { len };
        if self.oversized {
            return;
        }
        if self.size > self.limit as u64 || !whole {
            self.oversized = true;
            self.bytes = Vec::new();
            return;
        }
        self.bytes.extend_from_slice(unquoted);
    }
}

impl<R: BufRead> Iterator for MboxReader<R> {
    type Item = Result<MboxMessage, MboxError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.mode == Mode::Start
            && let Err(e) = self.start()
        {
            return Some(Err(e));
        }
        match self.mode {
            Mode::Start | Mode::Done => None,
            Mode::SingleMessage => Some(self.single_message()),
            Mode::Mbox => {
                let envelope = self.next_envelope.take()?;
                Some(self.mbox_message(envelope))
            }
        }
    }
}

fn is_blank(line: &[u8]) -> bool {
    line == b"\n" || line == b"\r\n"
}

/// A `From ` line that is not a dated envelope (`From nobody`, `From A`), read whole.
fn is_bare_separator(line: &[u8], len: u64) -> bool {
    line.starts_with(b"From ")
        && line.len() as u64 == len
        && line.len() < 1024
        && !is_envelope(line)
}

/// `Name: value`: a header field name (printable ASCII but `:`, RFC 5322) then a colon.
fn is_header_field(line: &[u8]) -> bool {
    let Some(colon) = line.iter().position(|&b| b == b':') else { return false };
    (1..=76).contains(&colon) && line[..colon].iter().all(|&b| (b'!'..=b'~').contains(&b))
}

/// `From <sender> <date>` where the date has a `hh:mm` time and a four-digit year, the shape
/// every mbox writer uses (`From mboxrd@z Thu Jan  1 00:00:00 1970`, `From MAILER-DAEMON Fri
/// Jul  8 12:08:34 2011`, `From - Wed Oct 20 12:00:00 2021 +0200`). mutt's `is_from` checks
/// the same way, more strictly.
pub fn is_envelope(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else {
        return false;
    };
    let mut words = rest.split(|b| b.is_ascii_whitespace()).filter(|w| !w.is_empty());
    if words.next().is_none() {
        return false;
    }
    let (mut time, mut year) = (false, false);
    for w in words {
        time |= is_time(w);
        year |= w.len() == 4 && w.iter().all(u8::is_ascii_digit);
    }
    time && year
}

/// `hh:mm` or `hh:mm:ss` (one or two digit hours).
fn is_time(word: &[u8]) -> bool {
    let parts: Vec<&[u8]> = word.split(|&b| b == b':').collect();
    (2..=3).contains(&parts.len())
        && parts.iter().enumerate().all(|(i, p)| {
            let len_ok = if i == 0 { (1..=2).contains(&p.len()) } else { p.len() == 2 };
            len_ok && p.iter().all(u8::is_ascii_digit)
        })
}

/// mboxrd unquoting: a line of one or more `>` followed by `From ` loses one `>`.
pub fn unquote(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|&&b| b == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") { &line[1..] } else { line }
}

/// mboxrd quoting, the inverse of [`unquote`]: what an mbox writer does to each body line.
pub fn quote(line: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    quire_mail::mbox::quote(line)
}

/// The envelope line `quire export` writes (the shape [`is_envelope`] and every reader accept).
pub const EXPORT_ENVELOPE: &[u8] = b"From quire@localhost Thu Jan  1 00:00:00 1970\n";

/// Writes one message as mboxrd: the envelope, every line quoted with [`quote`], and the blank
/// separator line (`\r\n` after CRLF mail) that [`MboxReader`] strips again, so that reading
/// gives back exactly `raw` when it ends with a line end.
pub fn write_mboxrd(out: &mut impl io::Write, raw: &[u8]) -> io::Result<()> {
    quire_mail::mbox::write_message(out, EXPORT_ENVELOPE, raw)
}

/// Every mbox writer ends a message with an extra blank line that is not part of the message.
fn strip_separator_blank_line(bytes: &mut Vec<u8>) {
    if bytes.ends_with(b"\r\n\r\n") {
        bytes.truncate(bytes.len() - 2);
    } else if bytes.ends_with(b"\n\n") {
        bytes.truncate(bytes.len() - 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};

    #[test]
    fn what_write_mboxrd_writes_reads_back_byte_for_byte() {
        let messages: Vec<&[u8]> = vec![
            b"From: a@b\nSubject: x\n\nFrom the start\n>From quoted\n\n",
            b"From: a@b\r\nSubject: crlf\r\n\r\nbody\r\n",
            b"Subject: no final newline\n\nlast",
        ];
        let mut out = Vec::new();
        for m in &messages {
            write_mboxrd(&mut out, m).unwrap();
        }
        let read: Vec<Vec<u8>> =
            MboxReader::new(Cursor::new(out), 1 << 20).map(|m| m.unwrap().bytes).collect();
        assert_eq!(read[0], messages[0]);
        assert_eq!(read[1], messages[1]);
        // A message without a final line end gets one.
        assert_eq!(read[2], b"Subject: no final newline\n\nlast\n");
    }

    const BIG: usize = 64 << 20;

    fn read_all(data: &[u8]) -> Vec<Vec<u8>> {
        let whole: Vec<MboxMessage> =
            MboxReader::new(Cursor::new(data.to_vec()), BIG).map(|m| m.expect("message")).collect();
        // Through buffers too small for a line, every line takes the other path (gathered
        // across refills): the same messages, numbers and offsets.
        for capacity in [1, 2, 5, 64] {
            let input = BufReader::with_capacity(capacity, Cursor::new(data.to_vec()));
            let small: Vec<MboxMessage> =
                MboxReader::new(input, BIG).map(|m| m.expect("message")).collect();
            assert_eq!(small, whole, "read through a buffer of {capacity} bytes");
        }
        whole.into_iter().map(|m| m.bytes).collect()
    }

    /// Writes messages as an mboxrd writer (public-inbox, b4, `quire export`) does.
    fn write_all_mboxrd(messages: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for m in messages {
            super::write_mboxrd(&mut out, m).expect("write to memory");
        }
        out
    }

    #[test]
    fn mboxrd_quoting_round_trips_every_level() {
        let m1: &[u8] = b"Subject: a\n\nFrom the start\n>From quoted once\n>>From quoted twice\n> From not quoted\nFrom\n";
        let m2: &[u8] = b"Subject: b\n\nbody\n";
        let mbox = write_all_mboxrd(&[m1, m2]);
        assert!(mbox.windows(19).any(|w| w == b"\n>>>From quoted twi"));
        assert_eq!(read_all(&mbox), vec![m1.to_vec(), m2.to_vec()]);
    }

    /// Random messages made of the lines that trouble mbox readers, written the mboxrd way,
    /// read back identical (every message non-empty and ending with a newline, as mail does).
    #[test]
    fn random_messages_of_tricky_lines_round_trip() {
        const LINES: [&[u8]; 10] = [
            b"From x Thu Jan  1 00:00:00 1970\n",
            b">From x Thu Jan  1 00:00:00 1970\n",
            b">>From here\n",
            b"From here\n",
            b"\n",
            b"\r\n",
            b"Subject: s\r\n",
            b"text\n",
            b">\n",
            b"From:\n",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for _ in 0..2000 {
            let messages: Vec<Vec<u8>> = (0..1 + next(4))
                .map(|_| {
                    (0..1 + next(8))
                        .flat_map(|_| LINES[next(LINES.len() as u64) as usize].to_vec())
                        .collect()
                })
                .collect();
            let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
            assert_eq!(read_all(&write_all_mboxrd(&refs)), messages);
        }
    }

    #[test]
    fn mboxo_single_level_quote_is_undone() {
        let mbox = b"From a@b Wed Oct 20 10:00:00 2021\nSubject: x\n\n>From my point of view\n\n";
        assert_eq!(read_all(mbox), vec![b"Subject: x\n\nFrom my point of view\n".to_vec()]);
    }

    #[test]
    fn trailing_separator_blank_line_is_removed_but_body_blank_lines_kept() {
        let mbox = b"From x Thu Jan  1 00:00:00 1970\nSubject: a\n\nbody\n\n\n\nFrom x Thu Jan  1 00:00:00 1970\nSubject: b\n\nlast\n";
        assert_eq!(
            read_all(mbox),
            vec![b"Subject: a\n\nbody\n\n\n".to_vec(), b"Subject: b\n\nlast\n".to_vec()]
        );
    }

    fn separators(data: &[u8]) -> Vec<Separator> {
        read_all(data);
        MboxReader::new(Cursor::new(data.to_vec()), BIG).map(|m| m.unwrap().separator).collect()
    }

    #[test]
    fn bare_from_lines_before_a_header_split_as_python_s_mailbox_does() {
        // Patchew's test data: `From nobody` and `From A` without a date.
        let mbox = b"From nobody\nFrom: A <a@example.org>\nSubject: one\n\nbody\n\nFrom A\nSubject: two\n\nFrom then on, text.\n\nFrom x Thu Jan  1 00:00:00 1970\nSubject: three\n\nlast\nFrom B\n";
        assert_eq!(
            read_all(mbox),
            vec![
                b"From: A <a@example.org>\nSubject: one\n\nbody\n".to_vec(),
                b"Subject: two\n\nFrom then on, text.\n".to_vec(),
                b"Subject: three\n\nlast\nFrom B\n".to_vec(),
            ]
        );
        assert_eq!(separators(mbox), [Separator::Bare, Separator::Bare, Separator::Envelope]);
    }

    #[test]
    fn a_bare_from_line_before_text_or_at_the_end_is_body() {
        let mbox = b"From x Thu Jan  1 00:00:00 1970\nSubject: a\n\nhello\n\nFrom here on it works.\nReally.\n\nFrom me\n";
        assert_eq!(
            read_all(mbox),
            vec![b"Subject: a\n\nhello\n\nFrom here on it works.\nReally.\n\nFrom me\n".to_vec()]
        );
        // A file beginning with a bare `From ` line and text is one message, kept whole.
        let eml = b"From the desk of A\nthis is not a header\n";
        assert_eq!(read_all(eml), vec![eml.to_vec()]);
        assert_eq!(separators(eml), [Separator::None]);
    }

    #[test]
    fn from_line_inside_paragraph_does_not_split() {
        // No blank line before it: not a boundary even though it looks like an envelope.
        let mbox = b"From x Thu Jan  1 00:00:00 1970\nSubject: a\n\ntext\nFrom x Thu Jan  1 00:00:00 1970\n\n";
        assert_eq!(read_all(mbox).len(), 1);
    }

    #[test]
    fn unquoted_from_sentence_after_blank_line_does_not_split() {
        // mboxo writers that forgot to quote: "From here..." has no date, so it is body text.
        let mbox =
            b"From x Thu Jan  1 00:00:00 1970\nSubject: a\n\nhello\n\nFrom here on it works.\n\n";
        assert_eq!(
            read_all(mbox),
            vec![b"Subject: a\n\nhello\n\nFrom here on it works.\n".to_vec()]
        );
    }

    #[test]
    fn envelope_shapes_of_real_writers_are_recognised() {
        for line in [
            &b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"[..],
            b"From 3f1b2c0e9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a Mon Sep 17 00:00:00 2001\n",
            b"From MAILER-DAEMON Fri Jul  8 12:08:34 2011\r\n",
            b"From - Wed Oct 20 12:00:00 2021 +0200\n",
            b"From user@example.com Wed Oct 20 9:05 2021\n",
        ] {
            assert!(is_envelope(line), "{}", String::from_utf8_lossy(line));
        }
        for line in [
            &b"From: a@b\n"[..],
            b"From here on\n",
            b"From \n",
            b"From a b c 1970\n",
            b">From x Thu Jan  1 00:00:00 1970\n",
        ] {
            assert!(!is_envelope(line), "{}", String::from_utf8_lossy(line));
        }
    }

    #[test]
    fn crlf_mbox_keeps_crlf_and_strips_crlf_separator() {
        let mbox = b"From x Thu Jan  1 00:00:00 1970\r\nSubject: a\r\n\r\n>From b\r\n\r\nFrom x Thu Jan  1 00:00:00 1970\r\nSubject: b\r\n\r\nbody\r\n\r\n";
        assert_eq!(
            read_all(mbox),
            vec![b"Subject: a\r\n\r\nFrom b\r\n".to_vec(), b"Subject: b\r\n\r\nbody\r\n".to_vec()]
        );
    }

    #[test]
    fn empty_file_has_no_message() {
        assert!(read_all(b"").is_empty());
    }

    #[test]
    fn file_without_envelope_is_one_message_kept_byte_for_byte() {
        // A single .eml or .patch: no unquoting, no stripping, even of trailing blank lines.
        let eml = b"From: a@b\nSubject: x\n\n>From kept\n\nFrom x Thu Jan  1 00:00:00 1970\n\n";
        assert_eq!(read_all(eml), vec![eml.to_vec()]);
    }

    #[test]
    fn blank_lines_before_the_first_envelope_belong_to_no_message() {
        let mbox = b"\n\r\nFrom x Thu Jan  1 00:00:00 1970\nSubject: a\n\nbody\n\n";
        let got: Vec<_> =
            MboxReader::new(Cursor::new(&mbox[..]), BIG).map(|m| m.expect("message")).collect();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].bytes.as_slice(), got[0].offset), (&b"Subject: a\n\nbody\n"[..], 3));
        assert!(read_all(b"\n\n").is_empty());
        // Not an mbox after the blank lines: kept whole, blank lines included.
        assert_eq!(read_all(b"\nSubject: x\n\nbody\n"), vec![b"\nSubject: x\n\nbody\n".to_vec()]);
    }

    #[test]
    fn git_format_patch_file_is_an_mbox_of_one() {
        let patch = b"From 1234567890abcdef1234567890abcdef12345678 Mon Sep 17 00:00:00 2001\nFrom: A <a@b>\nSubject: [PATCH] x\n\n---\n f | 1 +\n-- \n2.30.0\n\n";
        assert_eq!(
            read_all(patch),
            vec![b"From: A <a@b>\nSubject: [PATCH] x\n\n---\n f | 1 +\n-- \n2.30.0\n".to_vec()]
        );
    }

    #[test]
    fn single_message_with_a_first_line_longer_than_a_line_buffer_is_whole() {
        let mut eml = b"X-Long: ".to_vec();
        eml.extend(std::iter::repeat_n(b'a', LINE_KEEP + 10));
        eml.extend_from_slice(b"\nSubject: x\n\nbody\n");
        assert_eq!(read_all(&eml), vec![eml.clone()]);
        let got: Vec<_> = MboxReader::new(Cursor::new(eml), 1000).collect();
        assert!(
            matches!(got[..], [Err(MboxError::TooLarge { number: 1, limit: 1000, .. })]),
            "{got:?}"
        );
    }

    #[test]
    fn last_message_without_final_newline_is_kept() {
        let mbox = b"From x Thu Jan  1 00:00:00 1970\nSubject: a\n\nno newline";
        assert_eq!(read_all(mbox), vec![b"Subject: a\n\nno newline".to_vec()]);
    }

    #[test]
    fn numbers_and_offsets_point_at_envelopes() {
        let mbox =
            b"From x Thu Jan  1 00:00:00 1970\nA: 1\n\nFrom x Thu Jan  1 00:00:00 1970\nB: 2\n\n";
        let got: Vec<_> =
            MboxReader::new(Cursor::new(&mbox[..]), BIG).map(|m| m.expect("message")).collect();
        assert_eq!(
            got.iter().map(|m| (m.number, m.offset)).collect::<Vec<_>>(),
            vec![(1, 0), (2, 38)]
        );
        assert!(mbox[38..].starts_with(b"From x"));
    }

    #[test]
    fn oversized_message_is_skipped_and_reading_goes_on() {
        let mut mbox = b"From x Thu Jan  1 00:00:00 1970\nSubject: big\n\n".to_vec();
        mbox.extend(std::iter::repeat_n(b'a', 5000));
        mbox.extend_from_slice(b"\n\nFrom x Thu Jan  1 00:00:00 1970\nSubject: small\n\nok\n\n");
        for capacity in [mbox.len(), 7, 4096] {
            let got: Vec<_> = MboxReader::new(
                BufReader::with_capacity(capacity, Cursor::new(mbox.clone())),
                1000,
            )
            .collect();
            assert_eq!(got.len(), 2);
            assert!(
                matches!(
                    got[0],
                    Err(MboxError::TooLarge { number: 1, offset: 0, limit: 1000, .. })
                ),
                "{:?}",
                got[0]
            );
            assert_eq!(got[1].as_ref().expect("second message").bytes, b"Subject: small\n\nok\n");
        }
    }

    #[test]
    fn gzip_is_detected_by_magic_bytes_not_name() {
        let mbox = write_all_mboxrd(&[b"Subject: a\n\n>From x\n", b"Subject: b\n\nb\n"]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&mbox[..40]).expect("gzip");
        let mut data = gz.finish().expect("gzip");
        // A second gzip member, as `cat a.gz b.gz` makes.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&mbox[40..]).expect("gzip");
        data.extend(gz.finish().expect("gzip"));
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("archive.mbox");
        std::fs::write(&path, &data).expect("write");
        let (reader, count) = open(&path, BIG).expect("open");
        let got: Vec<_> = reader.map(|m| m.expect("message").bytes).collect();
        assert_eq!(got, vec![b"Subject: a\n\n>From x\n".to_vec(), b"Subject: b\n\nb\n".to_vec()]);
        assert_eq!(count.load(Ordering::Relaxed), data.len() as u64);
    }

    /// Counts envelope lines the simplest way (every `From mboxrd@z` line of the file), to
    /// compare with the reader.
    fn count_envelopes(path: &str) -> u64 {
        let file = File::open(path).expect("corpus file");
        let reader = BufReader::new(flate2::read::MultiGzDecoder::new(file));
        reader
            .split(b'\n')
            .filter(|l| l.as_ref().is_ok_and(|l| l.starts_with(b"From mboxrd@z ")))
            .count() as u64
    }

    fn corpus(name: &str) -> String {
        format!("{}/../../../shared/corpus/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn real_io_uring_archive_yields_every_envelope() {
        let path = corpus("io-uring-2019-2021.8k.mbox.gz");
        let (reader, _) = open(Path::new(&path), BIG).expect("open corpus");
        let mut n = 0u64;
        let mut unquoted_from_lines = 0;
        let mut kept_bytes = 0u64;
        for m in reader {
            let m = m.expect("message");
            n += 1;
            assert_eq!(m.number, n);
            assert!(
                m.bytes.starts_with(b"Return-Path:")
                    || m.bytes.starts_with(b"X-")
                    || m.bytes.contains(&b':')
            );
            kept_bytes += m.bytes.len() as u64;
            unquoted_from_lines +=
                m.bytes.split(|&b| b == b'\n').filter(|l| l.starts_with(b"From ")).count();
        }
        assert_eq!(n, count_envelopes(&path));
        assert_eq!(n, 8000);
        // `grep -c '^>From '` on the decompressed file says 57 quoted lines.
        assert_eq!(unquoted_from_lines, 57);
        // Every byte of the file is accounted for: the messages, plus per message its envelope
        // line and its separator blank line, plus one `>` per quoted line. Nothing else lost.
        let envelope = b"From mboxrd@z Thu Jan  1 00:00:00 1970\n".len() as u64;
        assert_eq!(kept_bytes + n * (envelope + 1) + 57, decompressed_len(&path));
    }

    fn decompressed_len(path: &str) -> u64 {
        let file = File::open(path).expect("corpus file");
        io::copy(&mut flate2::read::MultiGzDecoder::new(file), &mut io::sink()).expect("gunzip")
    }

    #[test]
    fn real_ltp_archive_yields_every_envelope() {
        let path = corpus("ltp-2019-2020.4k.mbox.gz");
        let (reader, count) = open(Path::new(&path), BIG).expect("open corpus");
        let mut n = 0u64;
        for m in reader {
            m.expect("message");
            n += 1;
        }
        assert_eq!(n, count_envelopes(&path));
        assert_eq!(n, 4000);
        assert_eq!(count.load(Ordering::Relaxed), std::fs::metadata(&path).expect("stat").len());
    }
}
