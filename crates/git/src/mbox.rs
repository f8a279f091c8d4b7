//! Splitting an mbox into its messages the way `git mailsplit` does, so that our message numbers
//! are `git am`'s: a message starts at a `From ` line that ends in a date (`... 00:00:00 2001`),
//! wherever it is (mboxrd escapes body lines as `>From `, and `git format-patch` and `quire am`
//! write such dates).

/// The messages of `mbox`, each without its `From ` separator line.
pub fn split_mbox(mbox: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new();
    let mut pos = 0;
    for line in mbox.split_inclusive(|&b| b == b'\n') {
        if is_from_line(line) {
            starts.push((pos, pos + line.len()));
        }
        pos += line.len();
    }
    let mut messages = Vec::with_capacity(starts.len());
    for (i, &(_, body_start)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(mbox.len(), |&(next, _)| next);
        messages.push(&mbox[body_start..end]);
    }
    messages
}

/// `From <anything> <time> <year>`, as git's `is_from_line` wants: the last two words are a
/// `HH:MM:SS` time and a year.
fn is_from_line(line: &[u8]) -> bool {
    if line.len() < 20 || !line.starts_with(b"From ") {
        return false;
    }
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_whitespace().rev();
    let (Some(year), Some(time)) = (words.next(), words.next()) else { return false };
    let is_time = time.len() == 8
        && time
            .bytes()
            .enumerate()
            .all(|(i, b)| if i == 2 || i == 5 { b == b':' } else { b.is_ascii_digit() });
    is_time && year.parse::<u32>().is_ok_and(|y| y > 90)
}

/// The Subject header of one message (folded lines joined), empty when it has none.
pub fn subject_of(message: &[u8]) -> String {
    let text = String::from_utf8_lossy(message);
    let mut subject: Option<String> = None;
    let mut in_subject = false;
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if in_subject && let Some(s) = subject.as_mut() {
                s.push(' ');
                s.push_str(line.trim());
            }
            continue;
        }
        in_subject = false;
        if subject.is_none()
            && let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("subject")
        {
            subject = Some(value.trim().to_string());
            in_subject = true;
        }
    }
    subject.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_in_a_body_without_a_date_is_not_a_separator() {
        let mbox = b"From git@z Thu Jan  1 00:00:00 1970\nSubject: one\n\nbody\n\nFrom here on\nFrom 1234abcd Mon Sep 17 00:00:00 2001\nSubject: two\n\nx\n";
        let msgs = split_mbox(mbox);
        assert_eq!(msgs.len(), 2);
        assert_eq!(msgs[0], b"Subject: one\n\nbody\n\nFrom here on\n");
        assert_eq!(subject_of(msgs[1]), "two");
    }

    #[test]
    fn folded_subject_is_joined_and_body_subject_ignored() {
        let msg = b"From: a@b\nSubject: [PATCH 1/2] a\n long\n\nSubject: not a header\n";
        assert_eq!(subject_of(msg), "[PATCH 1/2] a long");
    }

    #[test]
    fn text_before_the_first_separator_is_not_a_message() {
        assert!(split_mbox(b"hello, not a mail\n").is_empty());
    }
}
