//! The text of a message: its text/plain parts (html only when there is nothing else), and the
//! diffs sent as attachments (text/x-patch, text/x-diff, *.patch, *.diff).

use mail_parser::{Message, MimeHeaders, PartType};

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
            || ctype == "text";
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
