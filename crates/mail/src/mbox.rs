//! Writing mail as mboxrd, the one way every mbox quire writes (`quire export`, `quire am`, the
//! web's `t.mbox.gz` and mbox downloads, the Patchwork API's mboxes): an envelope line before
//! each message, every line that is `From ` behind any number of `>` given one more `>` (so that
//! a reader can undo it exactly: mboxrd, as public-inbox and b4 read it), and a blank line after
//! each message. Pure: bytes in, bytes out.

use std::borrow::Cow;
use std::io;

/// A line a reader would take for an envelope once its `>` are removed: `>*From `.
pub fn needs_quoting(line: &[u8]) -> bool {
    let quotes = line.iter().take_while(|&&b| b == b'>').count();
    line[quotes..].starts_with(b"From ")
}

/// `line` as mboxrd writes it: one more `>` when [`needs_quoting`].
pub fn quote(line: &[u8]) -> Cow<'_, [u8]> {
    if needs_quoting(line) {
        let mut quoted = Vec::with_capacity(line.len() + 1);
        quoted.push(b'>');
        quoted.extend_from_slice(line);
        Cow::Owned(quoted)
    } else {
        Cow::Borrowed(line)
    }
}

/// Writes `raw` as one mboxrd message after `envelope` (a whole `From ...\n` line): quoted, given
/// a final line end when it has none, and followed by the separating blank line (CR LF for a
/// message whose lines end so).
pub fn write_message(out: &mut impl io::Write, envelope: &[u8], raw: &[u8]) -> io::Result<()> {
    out.write_all(envelope)?;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        out.write_all(&quote(line))?;
    }
    if !raw.ends_with(b"\n") {
        out.write_all(b"\n")?;
    }
    out.write_all(if raw.ends_with(b"\r\n") { b"\r\n" } else { b"\n" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_level_of_from_gets_one_more_quote() {
        let mut out = Vec::new();
        write_message(
            &mut out,
            b"From x@y Thu Jan  1 00:00:00 1970\n",
            b"Subject: a\n\nFrom here\n>From there\n>>From far\nFrom: no\nFromage\nlast",
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "From x@y Thu Jan  1 00:00:00 1970\nSubject: a\n\n>From here\n>>From there\n>>>From far\nFrom: no\nFromage\nlast\n\n"
        );
    }

    #[test]
    fn crlf_messages_are_separated_by_crlf() {
        let mut out = Vec::new();
        write_message(&mut out, b"From x\n", b"Subject: a\r\n\r\nFrom b\r\n").unwrap();
        assert_eq!(out, b"From x\nSubject: a\r\n\r\n>From b\r\n\r\n");
    }
}
