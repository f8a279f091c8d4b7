//! One message on standard input, as a mail server pipes a list's mail to `quire import -`.
//!
//! Mail servers that deliver to a program often put an mbox envelope line first (Postfix
//! `pipe` with the `F` flag, sendmail's prog mailer, procmail): it is removed, since it is
//! not part of the message. Nothing else is changed.

use std::io::{self, Read};

use crate::mbox::is_envelope;

/// What reading standard input can give.
#[derive(Debug, thiserror::Error)]
pub enum StdinError {
    #[error("cannot read standard input: {0}")]
    Io(#[from] io::Error),
    #[error("the message on standard input is larger than {limit} bytes")]
    TooLarge { limit: usize },
}

/// Reads the whole message (at most `limit` bytes) and removes a leading envelope line.
pub fn read_message(input: impl Read, limit: usize) -> Result<Vec<u8>, StdinError> {
    let mut bytes = Vec::new();
    input.take(limit as u64 + 1).read_to_end(&mut bytes)?;
    if bytes.len() > limit {
        return Err(StdinError::TooLarge { limit });
    }
    let first_line_end = bytes.iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| i + 1);
    if is_envelope(&bytes[..first_line_end]) {
        bytes.drain(..first_line_end);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_read_whole_and_unchanged() {
        let msg = b"From: a@b\nSubject: x\n\n>From kept as sent\n\n";
        assert_eq!(read_message(&msg[..], 1000).expect("read"), msg.to_vec());
    }

    #[test]
    fn mta_envelope_line_is_removed() {
        let msg = b"From list-bounces@example.org Wed Oct 20 10:00:00 2021\nFrom: a@b\n\nbody\n";
        assert_eq!(read_message(&msg[..], 1000).expect("read"), b"From: a@b\n\nbody\n".to_vec());
    }

    #[test]
    fn message_over_the_limit_is_refused() {
        let msg = vec![b'a'; 1001];
        assert!(matches!(read_message(&msg[..], 1000), Err(StdinError::TooLarge { limit: 1000 })));
        assert_eq!(read_message(&msg[..1000], 1000).expect("read").len(), 1000);
    }
}
