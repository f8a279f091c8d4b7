//! Trailers: `Reviewed-by: A U Thor <a@example.com>`, `Fixes: 1234abcd ("x")`, `Link: URL`,
//! found as b4 0.16 finds them (`LoreMessage.find_trailers`), so that `quire am` gives what
//! `b4 am` gives. docs/trailers.md says the rules and where quire differs on purpose.
//!
//! A reply's trailers ([`find_trailers`]) are b4's follow-up trailers: any line of the text, above
//! the `-- ` signature, that starts (after any indentation) with `Tag: value`, where the value
//! holds an address or the tag is one of the few that never name a person (`Link`, `Fixes`...);
//! mail headers and contact details pasted into a reply are not trailers. A patch's own trailers
//! ([`find_commit_trailers`]) are those of the last paragraph of its commit message.

use crate::Trailer;
use crate::person::{self, LOOKS_LIKE_ADDRESS, py_strip};
use once_cell::sync::Lazy;
use regex::Regex;

/// `Tag: value`, indented or not: b4's trailer line. The tag starts with a word character and
/// holds no blank; the value starts with a non-blank.
static TRAILER_LINE: Lazy<Regex> = Lazy::new(|| Regex::new(r"^\s*(\w\S+):\s+(\S.*)").unwrap());
/// `Fixes: abcd0123 (foo bar` wrapped before `baz)`: joined back.
static WRAPPED_FIXES: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"(?m)^(\S+:\s+[\da-f]+\s+\([^)]+)\n([^\n]+\))").unwrap());
/// `Signed-off-by: Long Name` wrapped before `<address>`: joined back.
static WRAPPED_ADDRESS: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"(?m)^(\S+:\s+[^<]+)\n(<[^>]+>)$").unwrap());
/// `Acked-by: A <a@b.c>  # for the arm64 bits`: the comment after the value.
static HASH_COMMENT: Lazy<Regex> = Lazy::new(|| Regex::new(r"(.*\S+)(\s+#[^#]+)$").unwrap());
/// `[for the arm64 bits]` on the line below a trailer.
static BRACKET_COMMENT: Lazy<Regex> = Lazy::new(|| Regex::new(r"^\s*\[[^]]+]\s*$").unwrap());
static HTTP: Lazy<Regex> = Lazy::new(|| Regex::new(r"https?://").unwrap());
static COMMIT_HASH: Lazy<Regex> = Lazy::new(|| Regex::new(r"^[0-9a-f]{6,}").unwrap());
static SEPARATOR: Lazy<Regex> = Lazy::new(|| Regex::new(r"(?m)^---\s*\n").unwrap());
static LINK_MESSAGE_ID: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"(?i)^https?://[^@]+/([^/]+@[^/]+)").unwrap());

/// Contact details, never trailers.
const CONTACT: &[&str] = &["phone", "mail", "email", "e-mail", "prerequisite-message-id"];
/// Mail headers: trailers only at the very top of the text (a header block pasted further down
/// is quoted mail).
const HEADERS: &[&str] = &["subject", "date", "from"];
/// Tags whose value is a URL.
const LINKS: &[&str] = &["link", "buglink", "closes"];
/// Tags taken in a reply without an address in their value.
const NON_PERSON: &[&str] = &[
    "link",
    "buglink",
    "closes",
    "fixes",
    "subject",
    "date",
    "obsoleted-by",
    "change-id",
    "base-commit",
];
/// Patch metadata and headers that replies quote (`Cc: a; b; c` of an Outlook header block,
/// `Message-id:` of a forwarded mail): never taken from a reply.
const NOT_FROM_REPLIES: &[&str] = &[
    "from",
    "author",
    "cc",
    "to",
    "date",
    "subject",
    "subscribe",
    "unsubscribe",
    "base-commit",
    "change-id",
    "message-id",
];

/// The trailers a reply gives, from the text b4 reads of it (quoted lines, a diff and all).
pub fn find_trailers(body: &str) -> Vec<Trailer> {
    scan(body, true)
        .into_iter()
        .filter(|t| !NOT_FROM_REPLIES.contains(&t.tag.to_lowercase().as_str()))
        .collect()
}

/// The trailers a patch carries itself: those of the last paragraph of its commit message (the
/// text above the `---` line), as b4 and `git interpret-trailers` read them.
pub fn find_commit_trailers(body: &str) -> Vec<Trailer> {
    // The text ends where the diff starts: give the `---` line above it its line end again.
    let body = format!("{}\n", body.replace('\r', "").trim_matches('\n'));
    let mut body = body.as_str();
    if let Some((above, _signature)) = body.rsplit_once("\n-- \n") {
        body = above;
    }
    if let Some(m) = SEPARATOR.find(body) {
        body = &body[..m.start()];
    }
    let message = body.trim_matches('\n');
    let last = message.rsplit("\n\n").next().unwrap_or(message);
    scan(last, false)
}

/// b4's `find_trailers`. `follow_up` adds the rules for replies: the value must hold an address
/// unless the tag never names a person, a URL only in a link tag, an ASCII tag.
fn scan(body: &str, follow_up: bool) -> Vec<Trailer> {
    let text = body.split("\n-- \n").next().unwrap_or(body);
    let mut text = py_strip(text).to_string();
    text.push('\n');
    if text.contains('(') {
        text = WRAPPED_FIXES.replace_all(&text, "${1} ${2}").into_owned();
    }
    if text.contains("\n<") {
        text = WRAPPED_ADDRESS.replace_all(&text, "${1} ${2}").into_owned();
    }
    let mut found: Vec<(String, String, Option<String>)> = Vec::new();
    // Whether a line that is not a trailer came before: mail headers count only above it.
    let mut other_text = false;
    let mut after_trailer = false;
    for line in text.split('\n') {
        let line = line.trim_matches('\r');
        // Most lines have no colon: spare them the capturing match.
        if let Some(c) = line.contains(':').then(|| TRAILER_LINE.captures(line)).flatten() {
            let (tag, value) = (&c[1], &c[2]);
            let lname = tag.to_lowercase();
            let lname = lname.as_str();
            if CONTACT.contains(&lname) || (other_text && HEADERS.contains(&lname)) {
                continue;
            }
            if follow_up {
                if !lname.is_ascii() {
                    continue;
                }
                if !LOOKS_LIKE_ADDRESS.is_match(value) && !NON_PERSON.contains(&lname) {
                    // `Bug: sleeping function called from...` of a pasted log.
                    continue;
                }
                if HTTP.is_match(value) && !LINKS.contains(&lname) {
                    continue;
                }
            }
            if lname == "fixes" && !COMMIT_HASH.is_match(value) {
                continue;
            }
            let (value, comment) = match HASH_COMMENT.captures(value) {
                Some(h) => (h[1].to_string(), Some(h[2].to_string())),
                None => (value.to_string(), None),
            };
            found.push((tag.to_string(), value, comment));
            after_trailer = true;
            continue;
        }
        if after_trailer && line.chars().count() > 2 && BRACKET_COMMENT.is_match(line) {
            if let Some(last) = found.last_mut() {
                last.2 = Some(line.to_string());
            }
            after_trailer = false;
            continue;
        }
        after_trailer = false;
        other_text = true;
    }
    found.into_iter().map(|(tag, value, comment)| trailer(tag, &value, comment)).collect()
}

/// A trailer with its value normalised (b4's `LoreTrailer`) and its comment written after it, as
/// b4 writes it: a `# comment` on the same line, a `[comment]` on the line below.
fn trailer(tag: String, value: &str, comment: Option<String>) -> Trailer {
    let (mut value, person) = person::normalise(&tag, value);
    value.truncate(value.trim_end().len());
    match comment {
        Some(c) if c.trim_start().starts_with('#') => value.push_str(c.trim_end()),
        Some(c) => {
            value.push('\n');
            value.push_str(c.trim_end());
        }
        None => {}
    }
    Trailer { tag, value, person }
}

/// What makes two trailers the same for b4 (`LoreTrailer.__eq__`): the tag and the normalised
/// value, in any case, comments aside; `Link:`s to one message through two archives are one.
pub fn trailer_key(t: &Trailer) -> (String, String) {
    let tag = t.tag.to_lowercase();
    let value = bare_value(&t.value);
    if tag == "link"
        && let Some(id) = link_message_id(value)
    {
        return (tag, format!("<{id}>"));
    }
    (tag, value.to_lowercase())
}

/// The value without the comment [`trailer`] wrote after it.
fn bare_value(value: &str) -> &str {
    if let Some((first, _below)) = value.split_once('\n') {
        return first;
    }
    match HASH_COMMENT.captures(value) {
        Some(c) => c.get(1).map_or(value, |m| m.as_str()),
        None => value,
    }
}

/// The Message-ID a `Link:` names (`https://lore.kernel.org/r/<id>`, `https://patch.msgid.link/<id>`),
/// lowercased.
fn link_message_id(url: &str) -> Option<String> {
    let decoded = percent_decode(url);
    LINK_MESSAGE_ID.captures(&decoded).map(|c| c[1].to_lowercase())
}

fn percent_decode(s: &str) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) =
                (bytes.get(i + 1).and_then(|&b| hex(b)), bytes.get(i + 2).and_then(|&b| hex(b)))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The person a trailer's value names, as b4 reads it (`Name <a@b>`, `a@b (Name)`, a bare
/// address), or `None`.
pub fn parse_person(value: &str) -> Option<crate::Address> {
    person::normalise("", value).1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Address;

    /// `Tag: value` of each trailer a reply gives.
    fn lines(body: &str) -> Vec<String> {
        find_trailers(body).into_iter().map(|t| format!("{}: {}", t.tag, t.value)).collect()
    }

    fn commit_lines(body: &str) -> Vec<String> {
        find_commit_trailers(body).into_iter().map(|t| format!("{}: {}", t.tag, t.value)).collect()
    }

    #[test]
    fn review_trailers_and_their_people() {
        let t = find_trailers(
            "Looks good.\n\nReviewed-by: Jan Beulich <jbeulich@suse.com>\nacked-by: \"Doe, J\" <j@x.org>\n",
        );
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].tag, "Reviewed-by");
        assert_eq!(t[0].person.as_ref().unwrap().name, "Jan Beulich");
        // The tag as written: b4 writes it so.
        assert_eq!(t[1].tag, "acked-by");
        assert_eq!(t[1].value, "\"Doe, J\" <j@x.org>");
        assert_eq!(
            t[1].person.as_ref().unwrap(),
            &Address { name: "Doe, J".into(), email: "j@x.org".into() }
        );
    }

    #[test]
    fn quoted_and_signature_lines_give_no_trailers() {
        assert!(lines("> Reviewed-by: A <a@b.cz>\n").is_empty());
        assert!(lines("ok\n-- \nReviewed-by: A <a@b.cz>\n").is_empty());
        assert!(lines("I think Reviewed-by: A <a@b.cz> is wrong\n").is_empty());
    }

    #[test]
    fn release_acked_and_other_person_trailers() {
        assert_eq!(
            lines("Release-acked-by: Paul <p@x.org>\nCo-developed-by: X <x@y.zz>\n").len(),
            2
        );
        assert_eq!(lines("Tested-by: t@example.com\n"), ["Tested-by: t@example.com"]);
    }

    #[test]
    fn link_and_fixes_need_no_person() {
        assert_eq!(
            lines("Fixes: 1234abcdef12 (\"foo: bar\")\nLink: https://lore.kernel.org/r/x@y\n"),
            ["Fixes: 1234abcdef12 (\"foo: bar\")", "Link: https://lore.kernel.org/r/x@y"]
        );
    }

    #[test]
    fn a_pasted_kernel_log_line_is_no_trailer() {
        assert!(
            lines(
                "I see this on boot:\n\nBug: sleeping function called from invalid context at drivers/gpio/gpiolib.c:3738\nin_atomic(): 1, irqs_disabled(): 1, pid: 1, name: swapper\n"
            )
            .is_empty()
        );
    }

    #[test]
    fn an_outlook_header_block_in_a_reply_gives_no_trailers() {
        let body = "Looks fine to me.\n\n-----Original Message-----\nFrom: Some One <some.one@example.com>\nSent: Monday, March 2, 2020 10:00 AM\nTo: list@example.org\nCc: A <a@example.com>; B <b@example.com>; C <c@example.com>\nSubject: [PATCH] thing\n";
        assert!(lines(body).is_empty(), "{:?}", lines(body));
    }

    #[test]
    fn patch_metadata_quoted_in_a_reply_gives_no_trailers() {
        let body = "Author: Some One <some.one@example.com>\nDate:   Mon Mar 2 10:00:00 2020\nMessage-id: <20200302100000.1234-1-some.one@example.com>\nchange-id: 20200302-thing-abcdef\n";
        assert!(lines(body).is_empty(), "{:?}", lines(body));
    }

    #[test]
    fn contact_details_are_no_trailers() {
        assert!(
            lines("Phone: +1 555 0100\nEmail: me@example.com\nE-mail: me@example.com\n").is_empty()
        );
    }

    #[test]
    fn a_url_is_taken_only_in_a_link_tag() {
        assert_eq!(
            lines("See: https://example.com/x@y.zz\nCloses: https://bugs.example.org/1\n"),
            ["Closes: https://bugs.example.org/1"]
        );
        assert!(lines("Reviewed-by: A <a@b.cz> https://example.com/\n").is_empty());
    }

    #[test]
    fn fixes_needs_a_commit_hash() {
        assert!(lines("Fixes: ?\nFixes: the bug in foo\nFixes: ABCDEF012345\n").is_empty());
        assert_eq!(lines("Fixes: abcdef012345\n"), ["Fixes: abcdef012345"]);
        let sha256 = format!("Fixes: {} (\"x\")\n", "a".repeat(64));
        assert_eq!(lines(&sha256), [sha256.trim_end()]);
    }

    #[test]
    fn an_indented_trailer_is_a_trailer() {
        assert_eq!(
            lines("Thanks!\n\n  Reviewed-by: Li Wang <liwang@example.com>\n"),
            ["Reviewed-by: Li Wang <liwang@example.com>"]
        );
        assert_eq!(lines("\tAcked-by: A <a@b.cz>\n"), ["Acked-by: A <a@b.cz>"]);
    }

    #[test]
    fn values_are_normalised() {
        assert_eq!(
            lines("Reviewed-by: Fabio Estevam  <festevam@example.com>   \n"),
            ["Reviewed-by: Fabio Estevam <festevam@example.com>"]
        );
        assert_eq!(
            lines(
                "Reviewed-by: HTML Junker <html-junker@example.com<mailto:html-junker@example.com>>\n"
            ),
            ["Reviewed-by: HTML Junker <html-junker@example.com>"]
        );
        assert_eq!(
            lines("Signed-off-by: X <x@y.com<mailto:x@y.com>>\n"),
            ["Signed-off-by: X <x@y.com>"]
        );
    }

    #[test]
    fn a_non_ascii_tag_is_no_trailer_in_a_reply() {
        assert!(lines("Geprüft-von: A <a@b.cz>\n").is_empty());
    }

    #[test]
    fn mail_headers_count_only_at_the_top() {
        assert_eq!(find_commit_trailers("Subject: x\nSigned-off-by: A <a@b.cz>\n").len(), 2);
        assert_eq!(commit_lines("Some text.\nSubject: x\nSigned-off-by: A <a@b.cz>\n").len(), 1);
    }

    #[test]
    fn comments_after_a_trailer_stay_with_it() {
        let t = find_trailers(
            "Acked-by: A <a@b.cz>  # for the arm64 bits\nReviewed-by: B <b@b.cz>\n   [for the rest]\nTested-by: C <c@b.cz>\n",
        );
        assert_eq!(t[0].value, "A <a@b.cz>  # for the arm64 bits");
        assert_eq!(t[0].person.as_ref().unwrap().email, "a@b.cz");
        assert_eq!(t[1].value, "B <b@b.cz>\n   [for the rest]");
        assert_eq!(t[2].value, "C <c@b.cz>");
        assert_eq!(trailer_key(&t[0]), ("acked-by".into(), "a <a@b.cz>".into()));
        assert_eq!(trailer_key(&t[1]), ("reviewed-by".into(), "b <b@b.cz>".into()));
    }

    #[test]
    fn a_name_wrapped_before_its_address() {
        let t = find_trailers("Signed-off-by: A Very Long Name\n<long@example.com>\n");
        assert_eq!(t[0].value, "A Very Long Name <long@example.com>");
        assert_eq!(t[0].person.as_ref().unwrap().email, "long@example.com");
    }

    #[test]
    fn a_wrapped_fixes_line_is_joined() {
        assert_eq!(
            lines("Fixes: 1234abcdef12 (\"foo: a long\nsubject\")\n"),
            ["Fixes: 1234abcdef12 (\"foo: a long subject\")"]
        );
    }

    #[test]
    fn the_same_trailer_in_another_case_or_through_another_archive() {
        let a = &find_trailers("Reviewed-by: Jan <JAN@example.com>\n")[0];
        let b = &find_trailers("reviewed-by: jan <jan@example.com>\n")[0];
        assert_eq!(trailer_key(a), trailer_key(b));
        let l1 = &find_trailers("Link: https://lore.kernel.org/r/Abc%40x.org\n")[0];
        let l2 = &find_trailers("Link: https://patch.msgid.link/abc@x.org\n")[0];
        assert_eq!(trailer_key(l1), trailer_key(l2));
        let other = &find_trailers("Reviewed-by: Jan B <jan@example.com>\n")[0];
        assert_ne!(trailer_key(a), trailer_key(other));
    }

    /// Shaped like b4's `trailers-test-extinfo` sample (its `test_parse_trailers`).
    #[test]
    fn a_commit_messages_trailers_with_comments_and_a_wrapped_name() {
        let body = "Turn the knob.\n\nReported-by: Some, One <one@example.org>\nReviewed-by: Ann Other <ann@example.org>\n[for the parts that are hers]\nFixes: abcdef01234567890\nTested-by: Tim Tester <tim@example.org>\n           [indented by the tester]\nLink: https://msgid.link/first@example.org  # the first posting\nSigned-off-by: A Wrapped Name\n<wrapped@example.org>\n---\n 1 file changed\n";
        assert_eq!(
            commit_lines(body),
            [
                "Reported-by: Some, One <one@example.org>",
                "Reviewed-by: Ann Other <ann@example.org>\n[for the parts that are hers]",
                "Fixes: abcdef01234567890",
                "Tested-by: Tim Tester <tim@example.org>\n           [indented by the tester]",
                "Link: https://msgid.link/first@example.org  # the first posting",
                "Signed-off-by: A Wrapped Name <wrapped@example.org>",
            ]
        );
    }

    #[test]
    fn a_patchs_own_trailers_are_those_of_its_last_paragraph() {
        let body = "mm: fix\n\nReported-by: R <r@x.org>\nThis is still the message.\n\nFixes: abcdef012345 (\"x\")\nCc: stable@example.org\nSigned-off-by: A <a@x.org>\n---\nv2: Reviewed-by: Q <q@x.org>\n 1 file changed, 1 insertion(+)\n";
        assert_eq!(
            commit_lines(body),
            ["Fixes: abcdef012345 (\"x\")", "Cc: stable@example.org", "Signed-off-by: A <a@x.org>"]
        );
    }
}
