//! People: as a MAINTAINERS entry names them, as a trailer names them, and whether two of those
//! are the same person.
//!
//! One person writes under several addresses and spellings: "Roger Pau Monné
//! <roger.pau@citrix.com>" in MAINTAINERS acks as "Roger Pau Monne <roger.pau@cloud.com>"; a
//! maintainer listed under a work address acks from a personal one. Two entries are the same
//! person when their addresses are the same (case aside), when their names are the same once
//! folded ([`name_key`]: case, accents, punctuation and "Last, First" aside), or when the
//! archive has seen one's name with the other's address ([`Identities`]).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Person {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub email: String,
}

impl Person {
    pub fn new(name: &str, email: &str) -> Person {
        Person { name: name.trim().to_string(), email: email.trim().to_string() }
    }

    /// `Full Name <address@domain>`, `address@domain`, `"Name, Jr." <a@b>` or a bare name.
    pub fn parse(value: &str) -> Person {
        let value = value.trim();
        if let (Some(open), Some(close)) = (value.find('<'), value.rfind('>'))
            && open < close
        {
            let name = value[..open].trim().trim_matches('"').trim();
            return Person::new(name, &value[open + 1..close]);
        }
        if value.contains('@') && !value.contains(char::is_whitespace) {
            return Person::new("", value);
        }
        // `Name (comment) a@b` and other odd forms: the token with an @ is the address.
        match value.split_whitespace().find(|w| w.contains('@')) {
            Some(email) => {
                let name: Vec<&str> = value.split_whitespace().filter(|w| *w != email).collect();
                Person::new(&name.join(" "), email.trim_matches(['(', ')', ',']))
            }
            None => Person::new(value, ""),
        }
    }

    /// The name, or the address when there is none.
    pub fn display(&self) -> &str {
        if self.name.is_empty() { &self.email } else { &self.name }
    }

    pub fn email_key(&self) -> String {
        self.email.trim().to_lowercase()
    }
}

/// A name as compared: lower case, accents dropped, only letters and digits, words in order,
/// "Last, First" read as "First Last". Empty when nothing is left.
pub fn name_key(name: &str) -> String {
    let name = name.trim().trim_matches('"');
    let ordered = match name.split_once(',') {
        Some((last, first)) if !first.contains(',') && !first.trim().is_empty() => {
            format!("{} {}", first.trim(), last.trim())
        }
        _ => name.to_string(),
    };
    let mut out = String::with_capacity(ordered.len());
    for c in ordered.nfkd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        let c = match c {
            'ß' => 's',
            'ø' | 'Ø' => 'o',
            'ł' | 'Ł' => 'l',
            'đ' | 'Đ' => 'd',
            'æ' | 'Æ' => 'a',
            _ => c,
        };
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.is_empty() && !out.ends_with(' ') {
            out.push(' ');
        }
    }
    out.trim_end().to_string()
}

/// How a trailer's person was found to be a listed person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Via {
    /// The same address.
    Address,
    /// Another address, under the same name.
    Name,
    /// Another address and name, which the archive has seen together with the listed
    /// person's name or address.
    Archive,
}

/// Names seen with addresses in the archive (`name <address>` in the headers of its mail), as
/// ([`name_key`], lowercased address) pairs.
#[derive(Debug, Clone, Default)]
pub struct Identities {
    pairs: HashSet<(String, String)>,
}

impl Identities {
    pub fn add(&mut self, name: &str, email: &str) {
        let key = name_key(name);
        let email = email.trim().to_lowercase();
        if !key.is_empty() && !email.is_empty() {
            self.pairs.insert((key, email));
        }
    }

    fn seen(&self, name: &str, email: &str) -> bool {
        let key = name_key(name);
        !key.is_empty() && self.pairs.contains(&(key, email.trim().to_lowercase()))
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

/// Whether `given` (a trailer's person) is `listed` (a MAINTAINERS entry), and how.
pub fn same_person(given: &Person, listed: &Person, known: &Identities) -> Option<Via> {
    let (ge, le) = (given.email_key(), listed.email_key());
    if !ge.is_empty() && ge == le {
        return Some(Via::Address);
    }
    let (gn, ln) = (name_key(&given.name), name_key(&listed.name));
    if !gn.is_empty() && gn == ln {
        return Some(Via::Name);
    }
    if (!ge.is_empty() && known.seen(&listed.name, &ge))
        || (!le.is_empty() && known.seen(&given.name, &le))
    {
        return Some(Via::Archive);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_read_in_their_usual_forms() {
        assert_eq!(
            Person::parse("Jan Beulich <jbeulich@suse.com>"),
            Person::new("Jan Beulich", "jbeulich@suse.com")
        );
        assert_eq!(Person::parse("jbeulich@suse.com"), Person::new("", "jbeulich@suse.com"));
        assert_eq!(
            Person::parse("\"Daniel P. Smith\" <dpsmith@apertussolutions.com>"),
            Person::new("Daniel P. Smith", "dpsmith@apertussolutions.com")
        );
        assert_eq!(
            Person::parse("Some Body (odd) sb@x.org"),
            Person::new("Some Body (odd)", "sb@x.org")
        );
    }

    #[test]
    fn names_compare_without_case_accents_punctuation_or_order() {
        assert_eq!(name_key("Roger Pau Monné"), name_key("roger pau monne"));
        assert_eq!(name_key("Jürgen Groß"), "jurgen gros");
        assert_eq!(name_key("Beulich, Jan"), name_key("Jan Beulich"));
        assert_eq!(name_key("Daniel P. Smith"), "daniel p smith");
        assert_eq!(name_key("  "), "");
    }

    #[test]
    fn the_same_person_by_address_name_or_archive() {
        let listed = Person::new("Andrew Cooper", "andrew.cooper3@citrix.com");
        let none = Identities::default();
        let p = |n: &str, e: &str| Person::new(n, e);
        assert_eq!(
            same_person(&p("Andrew Cooper", "ANDREW.COOPER3@citrix.com"), &listed, &none),
            Some(Via::Address)
        );
        assert_eq!(
            same_person(&p("andrew cooper", "andrew.cooper@cloud.com"), &listed, &none),
            Some(Via::Name)
        );
        assert_eq!(same_person(&p("Andy Cooper", "andrew.cooper@cloud.com"), &listed, &none), None);
        let mut known = Identities::default();
        known.add("Andrew Cooper", "Andrew.Cooper@cloud.com");
        assert_eq!(
            same_person(&p("Andy Cooper", "andrew.cooper@cloud.com"), &listed, &known),
            Some(Via::Archive)
        );
        let mut other_way = Identities::default();
        other_way.add("Andy Cooper", "andrew.cooper3@citrix.com");
        assert_eq!(
            same_person(&p("Andy Cooper", "andy@example.org"), &listed, &other_way),
            Some(Via::Archive)
        );
        assert_eq!(same_person(&p("", ""), &Person::new("", ""), &known), None);
    }
}
