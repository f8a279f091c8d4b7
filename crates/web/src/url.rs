//! Message-IDs in URLs: how they are written into links and which ones are worth looking up.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

/// Everything but RFC 3986's unreserved characters, `@`, `+`, `=`, `$` and `!` is encoded,
/// so a Message-ID is one path segment (a `/` in it becomes `%2F`) and reads naturally
/// (`20190503.1234-1-a@example.com`).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'\'')
    .add(b'(')
    .add(b')')
    .add(b'*')
    .add(b',')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// One path segment for `s`.
pub fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// The page of a message or series: `/<project>/<id>/`.
pub fn message_url(project: &str, message_id: &str) -> String {
    format!("/{}/{}/", segment(project), segment(message_id))
}

/// Longest Message-ID looked up; RFC 5322 lines are at most 998 characters, so a longer one
/// cannot be in any mail.
pub const MAX_ID_LEN: usize = 998;

/// Why a Message-ID from a URL is not worth a database query, if it is not: empty, too long,
/// or holding control characters (NUL would even make PostgreSQL refuse the query).
pub fn implausible_id(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        Some("an empty Message-ID")
    } else if id.len() > MAX_ID_LEN {
        Some("a Message-ID longer than a mail line can be")
    } else if id.chars().any(char::is_control) {
        Some("a Message-ID with control characters")
    } else {
        None
    }
}

/// The `id` attribute of a message on a page, and the fragment a redirect points at: `m-`
/// followed by the Message-ID with every character that would need escaping in a URL
/// fragment turned into `_`.
pub fn anchor(message_id: &str) -> String {
    let mut out = String::with_capacity(message_id.len() + 2);
    out.push_str("m-");
    out.extend(
        message_id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "@._-+=".contains(c) { c } else { '_' }),
    );
    out
}

/// A Message-ID as users paste it, angle brackets and spaces removed.
pub fn bare_id(id: &str) -> &str {
    let id = id.trim();
    id.strip_prefix('<').and_then(|s| s.strip_suffix('>')).unwrap_or(id)
}

/// Whether `url` may be a link on a page: `http://` or `https://` (any case) and a host, no
/// white space or control characters. Check URLs come from testers and CI (issue 24: a
/// `javascript:` URL was rendered as a link; only the CSP stopped it).
pub fn web_link(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return false;
    };
    !rest.is_empty()
        && !rest.starts_with('/')
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typical_ids_stay_readable() {
        assert_eq!(segment("20190503.1234-1-a@example.com"), "20190503.1234-1-a@example.com");
        assert_eq!(message_url("ltp", "x@y"), "/ltp/x@y/");
    }

    #[test]
    fn slashes_and_specials_are_encoded_into_one_segment() {
        assert_eq!(segment("a/b?c#d%e f"), "a%2Fb%3Fc%23d%25e%20f");
        assert_eq!(segment("../etc"), "..%2Fetc");
    }

    #[test]
    fn implausible_ids_are_refused_before_the_database() {
        assert!(implausible_id("").is_some());
        assert!(implausible_id("a\0b").is_some());
        assert!(implausible_id(&"x".repeat(10_000)).is_some());
        assert!(implausible_id("a@b").is_none());
    }

    #[test]
    fn anchors_are_fragment_safe() {
        assert_eq!(anchor("1234.5-1-a@ex.com"), "m-1234.5-1-a@ex.com");
        assert_eq!(anchor("a b/c\"<"), "m-a_b_c__");
    }

    #[test]
    fn pasted_ids_lose_their_brackets() {
        assert_eq!(bare_id(" <a@b> "), "a@b");
        assert_eq!(bare_id("a@b"), "a@b");
    }

    #[test]
    fn only_http_and_https_urls_are_links() {
        for ok in ["https://ci.example.org/42", "http://ci.example.org", "HTTPS://CI.example.org/x"]
        {
            assert!(web_link(ok), "{ok}");
        }
        for bad in [
            "javascript:alert(1)",
            " JaVaScRiPt:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)",
            "//evil.example.org/x",
            "https:///evil",
            "http://",
            "https://ci.example.org/\njavascript:x",
            "https://ci.example.org/a b",
            "ftp://ci.example.org/",
            "",
        ] {
            assert!(!web_link(bad), "{bad:?}");
        }
    }
}
