//! A script's output, kept within a size: its first and last bytes, and how many went between.
//!
//! Why not the whole output: a check log is stored, mailed and shown on a public page, and a
//! script may print without end (or print 1 MB of NULs to make the upload fail). The start says
//! what ran; the end says why it failed. Both are kept, in bounded memory however much is printed.

/// The first `limit / 4` bytes and the last `limit` bytes of a stream, and its length.
pub struct Capture {
    limit: usize,
    head: Vec<u8>,
    /// A ring of the last bytes: `tail[start..]` then `tail[..start]` once it has wrapped.
    tail: Vec<u8>,
    start: usize,
    total: u64,
}

impl Capture {
    pub fn new(limit: usize) -> Capture {
        Capture { limit: limit.max(64), head: Vec::new(), tail: Vec::new(), start: 0, total: 0 }
    }

    pub fn push(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        let head_room = (self.limit / 4).saturating_sub(self.head.len());
        if head_room > 0 {
            let n = head_room.min(bytes.len());
            self.head.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
        if bytes.len() >= self.limit {
            self.tail.clear();
            self.tail.extend_from_slice(&bytes[bytes.len() - self.limit..]);
            self.start = 0;
            return;
        }
        for &b in bytes {
            if self.tail.len() < self.limit {
                self.tail.push(b);
            } else {
                self.tail[self.start] = b;
                self.start = (self.start + 1) % self.limit;
            }
        }
    }

    /// Bytes seen.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The output as text of at most `limit` bytes (UTF-8): invalid UTF-8 and control characters
    /// shown as U+FFFD, terminal escapes dropped, and a line saying how much was left out.
    pub fn text(&self) -> String {
        let mut tail = self.tail[self.start..].to_vec();
        tail.extend_from_slice(&self.tail[..self.start]);
        let cut = self.total - (self.head.len() + tail.len()) as u64;
        if cut == 0 {
            let mut all = self.head.clone();
            all.extend_from_slice(&tail);
            return truncate_front(clean(&all), self.limit);
        }
        let head = clean(&self.head);
        let note = format!("\n[... {cut} bytes of output left out ...]\n");
        let room = self.limit.saturating_sub(head.len() + note.len());
        let tail = truncate_front(clean(&tail), room);
        format!("{head}{note}{tail}")
    }
}

/// `text` cut at the front to at most `limit` bytes, on a character boundary.
fn truncate_front(text: String, limit: usize) -> String {
    if text.len() <= limit {
        return text;
    }
    let mut from = text.len() - limit;
    while !text.is_char_boundary(from) {
        from += 1;
    }
    text[from..].to_string()
}

/// Text for a log: UTF-8 (invalid bytes become U+FFFD), CR LF and lone CR as LF, ANSI escape
/// sequences (colours, cursor moves) dropped, every other control character but tab as U+FFFD.
pub fn clean(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            '\u{1b}' => {
                // CSI: ESC [ parameters intermediates final (0x40-0x7e); other escapes: ESC X.
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for c in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&c) {
                            break;
                        }
                    }
                } else {
                    chars.next();
                }
            }
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_output_is_kept_whole() {
        let mut c = Capture::new(1000);
        c.push(b"hello\n");
        c.push(b"world\n");
        assert_eq!(c.text(), "hello\nworld\n");
        assert_eq!(c.total(), 12);
    }

    #[test]
    fn long_output_keeps_its_start_and_end_within_the_limit() {
        let mut c = Capture::new(1000);
        for i in 0..10_000 {
            c.push(format!("line {i}\n").as_bytes());
        }
        let text = c.text();
        assert!(text.len() <= 1000, "{}", text.len());
        assert!(text.starts_with("line 0\nline 1\n"), "{text}");
        assert!(text.ends_with("line 9999\n"), "{text}");
        assert!(text.contains("bytes of output left out"), "{text}");
    }

    #[test]
    fn a_megabyte_of_nuls_is_a_log_within_the_limit() {
        let mut c = Capture::new(1 << 16);
        c.push(&vec![0u8; 1 << 20]);
        let text = c.text();
        // U+FFFD is three bytes: the cut is made after cleaning, so the limit still holds.
        assert!(text.len() <= 1 << 16, "{}", text.len());
        assert!(!text.contains('\0'));
    }

    #[test]
    fn pushes_of_any_size_give_the_same_text() {
        let data: Vec<u8> = (0..50_000u32).flat_map(|i| format!("{i},").into_bytes()).collect();
        let whole = {
            let mut c = Capture::new(4096);
            c.push(&data);
            c.text()
        };
        for size in [1, 7, 4095, 4096, 4097, 10_000] {
            let mut c = Capture::new(4096);
            for chunk in data.chunks(size) {
                c.push(chunk);
            }
            assert_eq!(c.text(), whole, "chunks of {size}");
        }
    }

    #[test]
    fn control_characters_and_terminal_escapes_are_not_passed_on() {
        assert_eq!(
            clean(b"\x1b[31mred\x1b[0m ok\r\nnext\rover\x07\x00\xff"),
            "red ok\nnext\nover\u{fffd}\u{fffd}\u{fffd}"
        );
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        let mut c = Capture::new(100);
        c.push("é".repeat(500).as_bytes());
        let text = c.text();
        assert!(text.len() <= 100);
        assert!(text.ends_with('é'));
    }
}
