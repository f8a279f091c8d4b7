//! Lines that tie a series to others: `base-commit:` (git format-patch --base), Patchew's
//! `Based-on: <message-id>` and `Supersedes: <message-id>`, and b4's `change-id:` (written by
//! `b4 prep` below the cover letter or a lone patch, the same for every revision).

use once_cell::sync::Lazy;
use regex::Regex;

static BASE_COMMIT: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"(?m)^base-commit:[ \t]*([0-9a-fA-F]{7,64})[ \t]*\r?$").unwrap());
static BASED_ON: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"(?mi)^Based-on:[ \t]*<?([^<>\s]+@[^<>\s]+?)>?[ \t]*\r?$").unwrap());

static SUPERSEDES: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"(?mi)^Supersedes:[ \t]*<?([^<>\s]+@[^<>\s]+?)>?[ \t]*\r?$").unwrap());
static CHANGE_ID: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"(?m)^change-id:[ \t]*([0-9A-Za-z][0-9A-Za-z._-]{7,127})[ \t]*\r?$").unwrap()
});

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

/// Patchew's `Supersedes: <message-id>` in a cover letter: the series it names (by any of its
/// messages) is the previous revision of this one. The first such line counts.
pub fn find_supersedes(text: &str) -> Option<String> {
    SUPERSEDES.captures(text).map(|c| c[1].to_string())
}

/// b4's `change-id: 20230102-topic-1a2b3c4d5e6f`: one id for every revision of a series.
pub fn find_change_id(text: &str) -> Option<String> {
    CHANGE_ID.captures(text).map(|c| c[1].to_string())
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

    #[test]
    fn supersedes_and_change_id() {
        let cover = "v2: fix x\n\nSupersedes: <20200101.1-a@x.org>\n\n---\nbase-commit: ee1c382df803\nchange-id: 20230912-io-wq-fix-5f3a2b1c9d8e\n\nBest regards,\n";
        assert_eq!(find_supersedes(cover).as_deref(), Some("20200101.1-a@x.org"));
        assert_eq!(find_change_id(cover).as_deref(), Some("20230912-io-wq-fix-5f3a2b1c9d8e"));
        // Quoted in a reply, or only mentioned in a sentence: not the message's own.
        assert_eq!(find_change_id("> change-id: 20230912-io-wq-fix-5f3a2b1c9d8e\n"), None);
        assert_eq!(find_supersedes("This Supersedes: <a@b> nothing\n"), None);
        assert_eq!(find_change_id("change-id: x\n"), None);
    }
}
