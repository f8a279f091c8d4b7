//! The person a trailer names, and the value written for it, as b4 0.16 reads them
//! (`LoreTrailer.__init__`): `Name <a@b>` from the value's last `<...>`, else Python's
//! `email.utils.parseaddr` (ported here, since b4's results on odd values are that function's),
//! then written back as `Name <a@b>` with the name's whitespace folded, or as the bare address
//! when there is no name.

use crate::Address;
use once_cell::sync::Lazy;
use regex::Regex;

/// Tags b4 never takes for a person, whatever their value holds.
const UTILITY: &[&str] = &[
    "fixes",
    "link",
    "buglink",
    "closes",
    "obsoleted-by",
    "message-id",
    "change-id",
    "base-commit",
    "based-on",
];

/// A value holds a person when something in it looks like an address.
pub(crate) static LOOKS_LIKE_ADDRESS: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"\S+@\S+\.\S+").unwrap());
/// What a mail client leaves when it turns an HTML link back into text:
/// `a@b.com<mailto:a@b.com>`.
static MAILTO: Lazy<Regex> = Lazy::new(|| Regex::new(r"<mailto:[^>]+>").unwrap());
/// `Name <address>` at the end of the value (the name is everything before the last `<`).
static NAME_ADDR: Lazy<Regex> = Lazy::new(|| Regex::new(r"^(.*?)\s*<([^>]+)>\s*$").unwrap());
static WHITESPACE_RUN: Lazy<Regex> = Lazy::new(|| Regex::new(r"\n?\s+").unwrap());

/// A trailer's value as b4 writes it, and its person when it names one. `name` is the tag.
pub(crate) fn normalise(name: &str, value: &str) -> (String, Option<Address>) {
    let lname = name.to_lowercase();
    if UTILITY.contains(&lname.as_str()) || value.contains("://") {
        return (value.to_string(), None);
    }
    if !LOOKS_LIKE_ADDRESS.is_match(value) {
        return (value.to_string(), None);
    }
    let value = if value.contains("<mailto:") {
        MAILTO.replace_all(value, "").into_owned()
    } else {
        value.to_string()
    };
    let (display, email) = match NAME_ADDR.captures(&value) {
        Some(c) => (py_strip(&c[1]).to_string(), py_strip(&c[2]).to_string()),
        None => parseaddr(&value),
    };
    if display.is_empty() && email.is_empty() {
        // b4 gives up on the person and keeps the value as it is.
        return (value, None);
    }
    let written = if display.is_empty() || display == email {
        email.clone()
    } else {
        format!("{} <{email}>", clean_name(&display))
    };
    let person = Address { name: unquoted(&clean_name(&display)).to_string(), email };
    (written, Some(person))
}

/// b4's `clean_header` on a name: encoded words decoded, whitespace runs folded to one space.
fn clean_name(name: &str) -> String {
    let decoded = if name.contains("=?") { decode_words(name) } else { name.to_string() };
    WHITESPACE_RUN.replace_all(&decoded, " ").trim().to_string()
}

/// RFC 2047 encoded words (`=?utf-8?q?...?=`), decoded by the parser quire reads headers with.
fn decode_words(text: &str) -> String {
    let header = format!("Subject: {}\n\n", text.replace(['\r', '\n'], " "));
    mail_parser::MessageParser::new()
        .parse(header.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| text.to_string())
}

/// The name without the quotes around it (`"Doe, Jane"`), for showing and comparing; the value
/// keeps them, as b4 writes it.
fn unquoted(name: &str) -> &str {
    match name.strip_prefix('"').and_then(|n| n.strip_suffix('"')) {
        Some(inner) if name.len() > 1 => inner,
        _ => name,
    }
}

/// Python's `str.strip()`: Unicode whitespace, and the separators Python counts as such.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\x1c'..='\x1f').contains(&c))
}

/// Python 3.11's `email.utils.parseaddr`: the first address of `field`, as (name, address), or
/// two empty strings. A port of `email._parseaddr.AddrlistClass.getaddress`, quirks included:
/// `Name a@b.c` gives the address `Name a@b.c`, `a@b.c (Name)` the name `Name`.
pub(crate) fn parseaddr(field: &str) -> (String, String) {
    if field.is_empty() {
        return (String::new(), String::new());
    }
    let mut p = AddrList { field: field.chars().collect(), pos: 0, comments: Vec::new(), depth: 0 };
    p.address().into_iter().next().unwrap_or_default()
}

const SPECIALS: &str = "()<>@,:;.\"[]";
const LWS: &str = " \t";

fn atom_end(c: char) -> bool {
    SPECIALS.contains(c) || " \t\r\n".contains(c)
}

fn phrase_end(c: char) -> bool {
    c != '.' && atom_end(c)
}

/// Nested comments and groups deeper than this end the parse: Python would stop at its
/// recursion limit, and a hostile value must not exhaust the stack.
const MAX_DEPTH: u32 = 64;

struct AddrList {
    field: Vec<char>,
    pos: usize,
    comments: Vec<String>,
    depth: u32,
}

impl AddrList {
    fn at(&self) -> Option<char> {
        self.field.get(self.pos).copied()
    }

    /// Skips white space and collects comments; returns the blanks and tabs skipped.
    fn goto_next(&mut self) -> String {
        let mut ws = String::new();
        while let Some(c) = self.at() {
            if " \t\n\r".contains(c) {
                if c != '\n' && c != '\r' {
                    ws.push(c);
                }
                self.pos += 1;
            } else if c == '(' {
                let comment = self.comment();
                self.comments.push(comment);
            } else {
                break;
            }
        }
        ws
    }

    fn address(&mut self) -> Vec<(String, String)> {
        if self.depth >= MAX_DEPTH {
            self.pos = self.field.len();
            return Vec::new();
        }
        self.depth += 1;
        let out = self.address_inner();
        self.depth -= 1;
        out
    }

    fn address_inner(&mut self) -> Vec<(String, String)> {
        self.comments = Vec::new();
        self.goto_next();
        let old_pos = self.pos;
        let old_comments = self.comments.clone();
        let phrases = self.phrase_list();
        self.goto_next();
        let mut out = Vec::new();
        match self.at() {
            None => {
                if let Some(first) = phrases.first() {
                    out.push((self.comments.join(" "), first.clone()));
                }
            }
            Some('.' | '@') => {
                // Just an addr-spec: start over.
                self.pos = old_pos;
                self.comments = old_comments;
                let spec = self.addr_spec();
                out.push((self.comments.join(" "), spec));
            }
            Some(':') => {
                // A group: `name: a@b, c@d;`.
                self.pos += 1;
                while self.pos < self.field.len() {
                    self.goto_next();
                    if self.at() == Some(';') {
                        self.pos += 1;
                        break;
                    }
                    let before = self.pos;
                    out.extend(self.address());
                    if self.pos == before {
                        break;
                    }
                }
            }
            Some('<') => {
                let route = self.route_addr();
                let name = if self.comments.is_empty() {
                    phrases.join(" ")
                } else {
                    format!("{} ({})", phrases.join(" "), self.comments.join(" "))
                };
                out.push((name, route));
            }
            Some(c) => {
                if let Some(first) = phrases.first() {
                    out.push((self.comments.join(" "), first.clone()));
                } else if SPECIALS.contains(c) {
                    self.pos += 1;
                }
            }
        }
        self.goto_next();
        if self.at() == Some(',') {
            self.pos += 1;
        }
        out
    }

    /// `<@route:local@domain>`: the addr-spec, route skipped.
    fn route_addr(&mut self) -> String {
        let mut expect_route = false;
        self.pos += 1;
        self.goto_next();
        let mut spec = String::new();
        while let Some(c) = self.at() {
            if expect_route {
                self.domain();
                expect_route = false;
            } else if c == '>' {
                self.pos += 1;
                break;
            } else if c == '@' {
                self.pos += 1;
                expect_route = true;
            } else if c == ':' {
                self.pos += 1;
            } else {
                spec = self.addr_spec();
                self.pos += 1;
                break;
            }
            self.goto_next();
        }
        spec
    }

    fn addr_spec(&mut self) -> String {
        let mut parts: Vec<String> = Vec::new();
        let blank_last = |parts: &Vec<String>| parts.last().is_some_and(|p| p.trim().is_empty());
        self.goto_next();
        while let Some(c) = self.at() {
            let mut preserve_ws = true;
            if c == '.' {
                if blank_last(&parts) {
                    parts.pop();
                }
                parts.push(".".into());
                self.pos += 1;
                preserve_ws = false;
            } else if c == '"' {
                let q = self.quoted();
                parts.push(format!("\"{}\"", q.replace('\\', "\\\\").replace('"', "\\\"")));
            } else if atom_end(c) {
                if blank_last(&parts) {
                    parts.pop();
                }
                break;
            } else {
                parts.push(self.atom(atom_end));
            }
            let ws = self.goto_next();
            if preserve_ws && !ws.is_empty() {
                parts.push(ws);
            }
        }
        if self.at() != Some('@') {
            return parts.concat();
        }
        parts.push("@".into());
        self.pos += 1;
        self.goto_next();
        let domain = self.domain();
        if domain.is_empty() {
            return String::new();
        }
        parts.concat() + &domain
    }

    fn domain(&mut self) -> String {
        let mut out = String::new();
        while let Some(c) = self.at() {
            if LWS.contains(c) {
                self.pos += 1;
            } else if c == '(' {
                let comment = self.comment();
                self.comments.push(comment);
            } else if c == '[' {
                out.push('[');
                out.push_str(&self.delimited('[', "]\r", false));
                out.push(']');
            } else if c == '.' {
                self.pos += 1;
                out.push('.');
            } else if c == '@' {
                // Two `@` (`a@evil.org@good.com`) is no domain.
                return String::new();
            } else if atom_end(c) {
                break;
            } else {
                out.push_str(&self.atom(atom_end));
            }
        }
        out
    }

    fn delimited(&mut self, begin: char, ends: &str, comments: bool) -> String {
        if self.at() != Some(begin) {
            return String::new();
        }
        if self.depth >= MAX_DEPTH {
            self.pos = self.field.len();
            return String::new();
        }
        self.depth += 1;
        let mut out = String::new();
        let mut escaped = false;
        self.pos += 1;
        while let Some(c) = self.at() {
            if escaped {
                out.push(c);
                escaped = false;
            } else if ends.contains(c) {
                self.pos += 1;
                break;
            } else if comments && c == '(' {
                out.push_str(&self.comment());
                continue;
            } else if c == '\\' {
                escaped = true;
            } else {
                out.push(c);
            }
            self.pos += 1;
        }
        self.depth -= 1;
        out
    }

    fn quoted(&mut self) -> String {
        self.delimited('"', "\"\r", false)
    }

    fn comment(&mut self) -> String {
        self.delimited('(', ")\r", true)
    }

    fn atom(&mut self, end: fn(char) -> bool) -> String {
        let mut out = String::new();
        while let Some(c) = self.at() {
            if end(c) {
                break;
            }
            out.push(c);
            self.pos += 1;
        }
        out
    }

    fn phrase_list(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(c) = self.at() {
            if " \t\r\n".contains(c) {
                self.pos += 1;
            } else if c == '"' {
                out.push(self.quoted());
            } else if c == '(' {
                let comment = self.comment();
                self.comments.push(comment);
            } else if phrase_end(c) {
                break;
            } else {
                out.push(self.atom(phrase_end));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pa(s: &str) -> (String, String) {
        parseaddr(s)
    }

    fn both(a: &str, b: &str) -> (String, String) {
        (a.to_string(), b.to_string())
    }

    /// Each line here is what Python 3.11's `email.utils.parseaddr` returns.
    #[test]
    fn parseaddr_answers_as_python_does() {
        assert_eq!(pa("t@example.com"), both("", "t@example.com"));
        assert_eq!(pa("a@b.c (Name)"), both("Name", "a@b.c"));
        assert_eq!(pa("Name a@b.c"), both("", "Name a@b.c"));
        assert_eq!(pa("a@b.c, c@d.e"), both("", "a@b.c"));
        assert_eq!(pa("Foo <foo@bar.com"), both("Foo", "foo@bar.com"));
        assert_eq!(pa("Joe Bloggs joe@x.com (work)"), both("work", "Joe Bloggs joe@x.com"));
        assert_eq!(pa("\"Doe, J\" j@x.org"), both("", "\"Doe, J\" j@x.org"));
        assert_eq!(pa("foo@bar.com Foo Bar"), both("", "foo@bar.comFooBar"));
        assert_eq!(pa("Foo Bar <foo@bar.com> extra"), both("Foo Bar", "foo@bar.com"));
        assert_eq!(pa("Foo, Bar <foo@bar.com> x"), both("", "Foo"));
        assert_eq!(pa("Name: a@b.c"), both("", "a@b.c"));
        assert_eq!(pa("[a@b.c]"), both("", ""));
        assert_eq!(pa("Foo (bar) <x@y.z> z"), both("Foo (bar)", "x@y.z"));
        assert_eq!(pa("x@y.z\t(comment)"), both("comment", "x@y.z"));
        assert_eq!(pa("a@evil.org@good.com"), both("", ""));
    }

    #[test]
    fn hostile_nesting_ends_the_parse_without_exhausting_the_stack() {
        let deep = "(".repeat(100_000) + "a@b.c";
        assert_eq!(pa(&deep), both("", ""));
        let groups = "a:".repeat(100_000) + "a@b.c";
        let _ = pa(&groups);
    }

    fn norm(value: &str) -> (String, Option<(String, String)>) {
        let (v, p) = normalise("Reviewed-by", value);
        (v, p.map(|a| (a.name, a.email)))
    }

    #[test]
    fn a_name_written_with_two_spaces_is_folded() {
        assert_eq!(
            norm("Fabio Estevam  <festevam@example.com>").0,
            "Fabio Estevam <festevam@example.com>"
        );
        assert_eq!(
            norm("Fabio  Estevam <festevam@example.com>").0,
            "Fabio Estevam <festevam@example.com>"
        );
    }

    #[test]
    fn an_address_followed_by_its_mailto_link_is_one_address() {
        assert_eq!(
            norm("HTML Junker <html-junker@example.com<mailto:html-junker@example.com>>"),
            (
                "HTML Junker <html-junker@example.com>".into(),
                Some(("HTML Junker".into(), "html-junker@example.com".into()))
            )
        );
    }

    #[test]
    fn a_bare_address_is_written_bare() {
        assert_eq!(norm("<bare@example.com>").0, "bare@example.com");
        assert_eq!(norm("bare@example.com").0, "bare@example.com");
        assert_eq!(norm("bare@example.com (Bare Person)").0, "Bare Person <bare@example.com>");
    }

    #[test]
    fn quotes_commas_and_parentheses_in_names_are_kept() {
        assert_eq!(
            norm("\"Doe, Jane\" <jane@example.com>"),
            (
                "\"Doe, Jane\" <jane@example.com>".into(),
                Some(("Doe, Jane".into(), "jane@example.com".into()))
            )
        );
        assert_eq!(norm("Some, One <one@example.com>").0, "Some, One <one@example.com>");
        assert_eq!(norm("Jane \"JD\" Doe <jd@example.com>").0, "Jane \"JD\" Doe <jd@example.com>");
        assert_eq!(norm("Dev Foo (CORP) <dev@example.com>").0, "Dev Foo (CORP) <dev@example.com>");
    }

    #[test]
    fn links_and_values_without_an_address_are_kept_as_written() {
        assert_eq!(normalise("Link", "https://x.org/a@b.c").1, None);
        assert_eq!(normalise("Fixes", "abcdef012345 (\"x\")").0, "abcdef012345 (\"x\")");
        assert_eq!(normalise("Tested-by", "syzbot").1, None);
    }

    #[test]
    fn encoded_words_in_a_name_are_decoded() {
        assert_eq!(
            norm("=?utf-8?q?Rafa=C5=82_Mi=C5=82ecki?= <rafal@example.com>").0,
            "Rafał Miłecki <rafal@example.com>"
        );
    }
}
