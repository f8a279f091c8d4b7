//! Lines that tie a series to others: `base-commit:` (git format-patch --base) and Patchew's
//! `Based-on: <message-id>`.

use once_cell::sync::Lazy;
use regex::Regex;

static BASE_COMMIT: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"(?m)^base-commit:[ \t]*([0-9a-fA-F]{7,64})[ \t]*\r?$").unwrap());
static BASED_ON: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"(?mi)^Based-on:[ \t]*<?([^<>\s]+@[^<>\s]+?)>?[ \t]*\r?$").unwrap());

pub fn find_base_commit(text: &str) -> Option<String> {
    BASE_COMMIT.captures(text).map(|c| c[1].to_ascii_lowercase())
}

pub fn find_based_on(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in BASED_ON.captures_iter(text) {
        let id = c[1].to_string();
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_commit_and_based_on() {
        let t = "cover\n\nBased-on: <20200101.1-a@x.org>\nBased-on: 2@y.org\n\nbase-commit: ee1c382df803dce8c9d8a03c6bea3854d5ef01d3\n-- \n2.47.3\n";
        assert_eq!(
            find_base_commit(t).as_deref(),
            Some("ee1c382df803dce8c9d8a03c6bea3854d5ef01d3")
        );
        assert_eq!(find_based_on(t), ["20200101.1-a@x.org", "2@y.org"]);
        assert_eq!(find_base_commit("no base-commit: here\n"), None);
    }
}
