//! The text of a message: its text/plain parts (html only when there is nothing else), and the
//! diffs sent as attachments (text/x-patch, text/x-diff, *.patch, *.diff, and any other part
//! that holds a diff, such as `application/octet-stream`, as `git mailinfo` finds them).

use mail_parser::{Message, MimeHeaders, PartType};
use once_cell::sync::Lazy;
use regex::Regex;
use std::borrow::Cow;

/// b4's `DIFF_RE`: a part that holds a diff.
static B4_DIFF: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"(?mi)^(---.*\n\+\+\+|GIT binary patch|diff --git \w/\S+ \w/\S+)").unwrap()
});

pub struct Content {
    /// The text parts, in order, joined by a newline.
    pub text: String,
    /// Attachments that hold a diff, decoded.
    pub attached: Vec<String>,
}

pub fn extract(message: &Message<'_>) -> Content {
    let mut parts = Vec::new();
    for i in 0..message.text_body_count() {
        if let Some(t) = message.body_text(i) {
            parts.push(t.into_owned());
        }
    }
    let mut text = parts.join("\n");
    if text.contains('\r') {
        text = text.replace("\r\n", "\n");
    }
    let mut attached = Vec::new();
    for part in message.attachments() {
        if matches!(part.body, PartType::Message(_) | PartType::Multipart(_)) {
            continue;
        }
        let subtype =
            part.content_type().and_then(|c| c.subtype()).unwrap_or("").to_ascii_lowercase();
        let ctype = part.content_type().map(|c| c.ctype()).unwrap_or("").to_ascii_lowercase();
        let name = part.attachment_name().unwrap_or("").to_ascii_lowercase();
        let patchy = matches!(subtype.as_str(), "x-patch" | "x-diff" | "diff" | "patch")
            || name.ends_with(".patch")
            || name.ends_with(".diff")
            || ctype == "text"
            || may_hold_text(&ctype, part.contents());
        if !patchy {
            continue;
        }
        let mut content = String::from_utf8_lossy(part.contents()).into_owned();
        if content.contains('\r') {
            content = content.replace("\r\n", "\n");
        }
        if crate::diff::find_diff(&content).is_some() {
            attached.push(content);
        }
    }
    Content { text, attached }
}

/// A part of another type (`application/octet-stream`, as mail clients label a `.txt` or an
/// unnamed file) may still be a patch: `git mailinfo` reads every part. Pictures, sound, video
/// and anything with NUL bytes near its start are not text.
fn may_hold_text(ctype: &str, contents: &[u8]) -> bool {
    !matches!(ctype, "image" | "audio" | "video" | "font" | "model")
        && !contents[..contents.len().min(8192)].contains(&0)
}

/// The text b4 reads a reply's trailers from (`LoreMessage.get_payload`): the first text/plain or
/// x-patch part, or a later one that holds a diff (a patch attached to a reply); empty when there
/// is none (HTML mail). `text` is [`extract`]'s, taken as it is when the message is one part.
pub fn follow_up_text<'a>(message: &Message<'_>, text: &'a str) -> Cow<'a, str> {
    if message.parts.len() == 1 && is_plain(&message.parts[0]) {
        return Cow::Borrowed(text);
    }
    let mut chosen: Option<String> = None;
    for part in &message.parts {
        if !is_plain(part) {
            continue;
        }
        let content = match &part.body {
            PartType::Text(t) => t.to_string(),
            PartType::Binary(b) | PartType::InlineBinary(b) => {
                String::from_utf8_lossy(b).into_owned()
            }
            _ => continue,
        };
        if chosen.is_none() || B4_DIFF.is_match(&content) {
            chosen = Some(content);
        }
    }
    let mut chosen = chosen.unwrap_or_default();
    if chosen.contains('\r') {
        chosen = chosen.replace("\r\n", "\n");
    }
    Cow::Owned(chosen)
}

/// `text/plain` or `*/x-patch` (a part without a type is plain text).
fn is_plain(part: &mail_parser::MessagePart<'_>) -> bool {
    if matches!(part.body, PartType::Multipart(_) | PartType::Message(_)) {
        return false;
    }
    match part.content_type() {
        None => true,
        Some(c) => {
            let subtype = c.subtype().unwrap_or("");
            let full = format!("{}/{}", c.ctype(), subtype).to_ascii_lowercase();
            full.contains("/plain") || full.contains("/x-patch")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply_text(raw: &str) -> String {
        let m = mail_parser::MessageParser::new().parse(raw.as_bytes()).unwrap();
        let content = extract(&m);
        follow_up_text(&m, &content.text).into_owned()
    }

    const HEAD: &str = "From: R <r@example.com>\nSubject: Re: [PATCH] x\nMIME-Version: 1.0\n";

    #[test]
    fn a_reply_in_html_only_gives_no_text_for_trailers() {
        let raw = format!(
            "{HEAD}Content-Type: text/html\n\n<p>Reviewed-by: R &lt;r@example.com&gt;</p>\n"
        );
        assert_eq!(reply_text(&raw), "");
    }

    #[test]
    fn the_first_plain_part_of_a_reply_is_read() {
        let raw = format!(
            "{HEAD}Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nAcked-by: R <r@example.com>\n--b\nContent-Type: text/plain\nContent-Disposition: attachment; filename=dmesg.txt\n\nSigned-off-by: Someone <s@example.com>\n--b--\n"
        );
        assert_eq!(reply_text(&raw).trim(), "Acked-by: R <r@example.com>");
    }

    #[test]
    fn a_patch_attached_to_a_reply_is_read_instead_of_its_text() {
        // b4 prefers a later part that holds a diff: a reviewer's fixup patch, with their
        // Signed-off-by, gives its trailers.
        let raw = format!(
            "{HEAD}Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nHow about this?\n--b\nContent-Type: text/x-patch\nContent-Disposition: attachment; filename=fix.patch\n\nfix\n\nSigned-off-by: R <r@example.com>\n---\ndiff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-a\n+b\n--b--\n"
        );
        assert!(reply_text(&raw).starts_with("fix\n\nSigned-off-by: R <r@example.com>\n"));
    }
}
