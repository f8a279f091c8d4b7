//! Header fields: Message-IDs, references, people, date, List-Id.

use crate::Address;
use mail_parser::Message;
use once_cell::sync::Lazy;
use regex::Regex;

static BRACKETED: Lazy<Regex> = Lazy::new(|| Regex::new(r"<([^<>\s]+)>").unwrap());

/// Message-IDs in a header value, without brackets, in order. A value without brackets
/// (`5899d592-...@radware.com>`, a client that lost its `<`) gives its first word.
pub fn ids_in(value: &str) -> Vec<String> {
    let found: Vec<String> = BRACKETED.captures_iter(value).map(|c| c[1].to_string()).collect();
    if !found.is_empty() {
        return found;
    }
    value
        .split_whitespace()
        .next()
        .map(|w| w.trim_matches(|c| c == '<' || c == '>').to_string())
        .filter(|w| !w.is_empty() && w.contains('@'))
        .into_iter()
        .collect()
}

/// The raw text of a header (first occurrence), unfolded.
pub fn raw_header<'a>(message: &'a Message<'_>, name: &'static str) -> Option<&'a str> {
    message.header_raw(name)
}

pub fn message_id(message: &Message<'_>) -> Option<String> {
    let raw = raw_header(message, "Message-ID")?;
    let id = ids_in(raw).into_iter().next().or_else(|| message.message_id().map(str::to_string))?;
    clean_id(&id)
}

/// Ids longer than any real one, or with control characters, are not usable as keys.
fn clean_id(id: &str) -> Option<String> {
    let id: String = id.chars().filter(|c| !c.is_control()).collect();
    (!id.is_empty() && id.len() <= 998).then_some(id)
}

pub fn in_reply_to(message: &Message<'_>) -> Option<String> {
    raw_header(message, "In-Reply-To")
        .and_then(|v| ids_in(v).into_iter().next())
        .and_then(|id| clean_id(&id))
}

pub fn references(message: &Message<'_>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for h in message.headers() {
        if h.name.as_str().eq_ignore_ascii_case("References") {
            let raw = std::str::from_utf8(
                message
                    .raw_message()
                    .get(h.offset_start as usize..h.offset_end as usize)
                    .unwrap_or(b""),
            )
            .unwrap_or("");
            for id in ids_in(raw).into_iter().filter_map(|i| clean_id(&i)) {
                if !out.contains(&id) {
                    out.push(id);
                }
            }
        }
    }
    out
}

/// The first person of an address header.
pub fn first_address(value: Option<&mail_parser::Address<'_>>) -> Option<Address> {
    addresses(value).into_iter().next()
}

pub fn addresses(value: Option<&mail_parser::Address<'_>>) -> Vec<Address> {
    let Some(value) = value else { return Vec::new() };
    value
        .iter()
        .map(|a| Address {
            name: a.name.as_deref().unwrap_or("").trim().trim_matches('"').trim().to_string(),
            email: a.address.as_deref().unwrap_or("").trim().to_string(),
        })
        .filter(|a| !a.email.is_empty() || !a.name.is_empty())
        .collect()
}

/// The Date header as sent: Unix seconds, and the sender's zone in minutes east of UTC (kept so
/// that an mbox quire writes gives `git am` the author's own time zone).
pub fn date_and_zone(message: &Message<'_>) -> Option<(i64, i32)> {
    let d = message.date()?;
    if !d.is_valid() || d.year < 1970 || d.year > 9999 {
        return None;
    }
    let zone =
        (i32::from(d.tz_hour) * 60 + i32::from(d.tz_minute)) * if d.tz_before_gmt { -1 } else { 1 };
    // No real zone is a day or more away from UTC.
    Some((d.to_timestamp(), if zone.abs() < 24 * 60 { zone } else { 0 }))
}

/// When the topmost `Received:` header (the last hop, nearest the archive) says the message
/// arrived: the date after its last `;`.
pub fn received(message: &Message<'_>) -> Option<i64> {
    // (`header_raw` gives the last of a repeated header: the first hop.)
    let first =
        message.headers().iter().find(|h| h.name.as_str().eq_ignore_ascii_case("Received"))?;
    let raw = message.raw_message().get(first.offset_start as usize..first.offset_end as usize)?;
    let raw = std::str::from_utf8(raw).ok()?;
    let (_, when) = raw.rsplit_once(';')?;
    let d = mail_parser::DateTime::parse_rfc822(when.trim())?;
    (d.is_valid() && d.year >= 1970 && d.year <= 9999).then(|| d.to_timestamp())
}

/// `List-Id: Name <id>` -> `id`; also the older `X-Mailing-List`/`X-list` headers.
pub fn list_id(message: &Message<'_>) -> Option<String> {
    for name in ["List-Id", "X-Mailing-List", "X-list"] {
        if let Some(v) = raw_header(message, name) {
            let id = match BRACKETED.captures(v) {
                Some(c) => c[1].to_string(),
                None => v.trim().trim_matches(|c| c == '<' || c == '>').to_string(),
            };
            if !id.is_empty() {
                return Some(id);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_comments_and_lost_brackets() {
        assert_eq!(
            ids_in("<xnzgy1de8d.fsf@rhel8.vm> (message ID with a comment)"),
            ["xnzgy1de8d.fsf@rhel8.vm"]
        );
        assert_eq!(ids_in("5899d592-abc@radware.com>"), ["5899d592-abc@radware.com"]);
        assert_eq!(ids_in("<a@b> <c@d>\n <e@f>"), ["a@b", "c@d", "e@f"]);
        assert!(ids_in("").is_empty());
    }
}
