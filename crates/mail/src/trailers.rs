//! Trailers: `Reviewed-by: A U Thor <a@example.com>`, `Fixes: 1234abcd ("x")`, `Link: URL`.
//! Found the way b4 finds them: at the start of a line, never in quoted (`>`) text, never after
//! the `-- ` signature line; a person trailer needs an address.

use crate::{Address, Trailer};
use once_cell::sync::Lazy;
use regex::Regex;

static TRAILER: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"^([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*):[ \t]+(\S.*?)\s*$").unwrap()
});
static ANGLE: Lazy<Regex> = Lazy::new(|| Regex::new(r"^(.*?)\s*<([^<>\s]+@[^<>\s]+)>").unwrap());
static BARE: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"^([^\s<>@]+@[^\s<>@]+\.[^\s<>@]+)\s*(.*)$").unwrap());

/// Tags whose value is not a person: accepted without an address.
const NON_PERSON: &[&str] =
    &["link", "buglink", "closes", "fixes", "change-id", "message-id", "bug"];
/// Lines that look like trailers but are mail headers quoted in a body, or contact details.
const IGNORED: &[&str] = &[
    "from",
    "to",
    "subject",
    "date",
    "sender",
    "reply-to",
    "in-reply-to",
    "references",
    "phone",
    "email",
    "mobile",
    "fax",
    "web",
    "url",
    "http",
    "https",
    "note",
    "notes",
    "base-commit",
    "based-on",
];

/// The trailers of a message's text (patch commit message or reply body).
pub fn find_trailers(body: &str) -> Vec<Trailer> {
    let text = body.split("\n-- \n").next().unwrap_or(body);
    let lines: Vec<&str> = text.lines().map(|l| l.trim_end_matches('\r')).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        i += 1;
        if line == "-- " {
            break;
        }
        let Some(c) = TRAILER.captures(line) else { continue };
        let tag = canonical_tag(&c[1]);
        let lower = tag.to_ascii_lowercase();
        if IGNORED.contains(&lower.as_str()) {
            continue;
        }
        let mut value = c[2].to_string();
        // `Signed-off-by: Long Name` wrapped before `<address>`.
        if !value.contains('@')
            && let Some(next) = lines.get(i)
        {
            let n = next.trim();
            if n.starts_with('<') && n.ends_with('>') && n.contains('@') {
                value = format!("{value} {n}");
                i += 1;
            }
        }
        if NON_PERSON.contains(&lower.as_str()) {
            out.push(Trailer { tag, value, person: None });
        } else if let Some(person) = parse_person(&value) {
            out.push(Trailer { tag, value, person: Some(person) });
        }
    }
    out
}

/// `Reviewed-by`, whatever case it was written in.
pub fn canonical_tag(tag: &str) -> String {
    let mut out = String::with_capacity(tag.len());
    for (i, c) in tag.chars().enumerate() {
        if i == 0 { out.extend(c.to_uppercase()) } else { out.extend(c.to_lowercase()) }
    }
    out
}

/// `Name <a@b>`, `"Last, First" <a@b>`, `a@b`, `a@b (Name)`.
pub fn parse_person(value: &str) -> Option<Address> {
    if let Some(c) = ANGLE.captures(value) {
        let name = c[1].trim().trim_matches('"').trim().to_string();
        return Some(Address { name, email: c[2].to_string() });
    }
    let c = BARE.captures(value.trim())?;
    let name = c[2].trim().trim_start_matches('(').trim_end_matches(')').trim().to_string();
    Some(Address { name, email: c[1].to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(body: &str) -> Vec<(String, String)> {
        find_trailers(body).into_iter().map(|t| (t.tag, t.value)).collect()
    }

    #[test]
    fn review_trailers_and_their_people() {
        let t = find_trailers(
            "Looks good.\n\nReviewed-by: Jan Beulich <jbeulich@suse.com>\nacked-by: \"Doe, J\" <j@x.org>\n",
        );
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].tag, "Reviewed-by");
        assert_eq!(t[0].person.as_ref().unwrap().name, "Jan Beulich");
        assert_eq!(t[1].tag, "Acked-by");
        assert_eq!(
            t[1].person.as_ref().unwrap(),
            &Address { name: "Doe, J".into(), email: "j@x.org".into() }
        );
    }

    #[test]
    fn quoted_and_signature_lines_give_no_trailers() {
        assert!(tags("> Reviewed-by: A <a@b.c>\n").is_empty());
        assert!(tags("ok\n-- \nReviewed-by: A <a@b.c>\n").is_empty());
        assert!(tags("I think Reviewed-by: A <a@b.c> is wrong\n").is_empty());
    }

    #[test]
    fn release_acked_and_other_person_trailers() {
        assert_eq!(tags("Release-acked-by: Paul <p@x.org>\nCo-developed-by: X <x@y.z>\n").len(), 2);
        assert_eq!(tags("Tested-by: t@example.com\n")[0].1, "t@example.com");
    }

    #[test]
    fn link_and_fixes_need_no_person() {
        let t = tags("Fixes: 1234abcdef12 (\"foo: bar\")\nLink: https://lore.kernel.org/r/x@y\n");
        assert_eq!(t[0].0, "Fixes");
        assert_eq!(t[1].0, "Link");
    }

    #[test]
    fn quoted_mail_headers_and_non_people_are_not_trailers() {
        assert!(
            tags("From: A <a@b.c>\nSubject: x\nNote: nothing\nWarning: something odd\n").is_empty()
        );
    }

    #[test]
    fn a_name_wrapped_before_its_address() {
        let t = find_trailers("Signed-off-by: A Very Long Name\n<long@example.com>\n");
        assert_eq!(t[0].person.as_ref().unwrap().email, "long@example.com");
    }
}
