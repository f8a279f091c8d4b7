//! What a subject line says: reply/forward markers, bracketed tags, version, `n/m`.

use crate::SubjectInfo;
use once_cell::sync::Lazy;
use regex::Regex;

/// `Re:`, `RE`, `Aw:`, `SV:`, `Odp:`, `回复:`... and `Fwd:`-like forms, with an optional
/// `[2]` counter some clients add (`Re[2]:`).
static REPLY: Lazy<Regex> = Lazy::new(|| {
    Regex::new(r"(?i)^(re|aw|sv|vs|odp|antw|antwort|rif|r|ref|réf\.?|res|atb|vá|ynt|回复|回覆|答复|答覆)(\[\d+\])?\s*[:：]\s*").unwrap()
});
/// `Re meep` (no colon) counts as a reply as in Patchwork, but only for `re`.
static REPLY_NO_COLON: Lazy<Regex> = Lazy::new(|| Regex::new(r"(?i)^re\s+").unwrap());
static FORWARD: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"(?i)^(fwd?|wg|tr|pd|doorst)(\[\d+\])?\s*[:：]\s*").unwrap());
static MARKER: Lazy<Regex> = Lazy::new(|| Regex::new(r"(\d+)\s*/\s*(\d+)$").unwrap());
static MARKER_OF: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"(?i)(\d+)\s+of\s+(\d+)(?:$|[\s,])").unwrap());
static VERSION_TAG: Lazy<Regex> =
    Lazy::new(|| Regex::new(r"(?i)^(?:patch|rfc|resend)?v(\d+)(?:[a-z]+\d+/\d+)?").unwrap());
static VERSION_SUFFIX: Lazy<Regex> = Lazy::new(|| Regex::new(r"(?i)\(v(\d+)\)\s*$").unwrap());

/// Reads a subject as sent (already decoded).
pub fn parse_subject(subject: &str) -> SubjectInfo {
    let folded = fold_whitespace(subject);
    let mut rest = folded.as_str();
    let mut info = SubjectInfo { version: 1, ..Default::default() };
    loop {
        let before = rest.len();
        rest = strip_reply_forward(rest, &mut info);
        rest = take_bracket_tags(rest, &mut info.tags);
        if rest.len() == before {
            break;
        }
    }
    info.name = rest.trim().to_string();
    read_tags(&mut info);
    if let Some(c) = VERSION_SUFFIX.captures(&info.name)
        && info.version == 1
    {
        info.version = c[1].parse().unwrap_or(1).max(1);
    }
    info
}

fn fold_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn strip_reply_forward<'a>(s: &'a str, info: &mut SubjectInfo) -> &'a str {
    let mut rest = s;
    loop {
        if let Some(m) = REPLY.find(rest) {
            info.is_reply = true;
            rest = &rest[m.end()..];
        } else if let Some(m) = FORWARD.find(rest) {
            info.is_forward = true;
            rest = &rest[m.end()..];
        } else if let Some(m) = REPLY_NO_COLON.find(rest) {
            info.is_reply = true;
            rest = &rest[m.end()..];
        } else {
            return rest;
        }
    }
}

/// Takes the leading `[...]` groups; `[a-z]` later in the subject is text, not a tag.
fn take_bracket_tags<'a>(s: &'a str, tags: &mut Vec<String>) -> &'a str {
    let mut rest = s.trim_start();
    while rest.starts_with('[') {
        let Some(end) = rest.find(']') else { break };
        let inner = &rest[1..end];
        if let Some(c) = MARKER_OF.captures(inner) {
            // `1 of 2` is one marker, not three words.
            let m = c.get(0).map(|m| m.range()).unwrap_or(0..0);
            push_words(&inner[..m.start], tags);
            tags.push(format!("{}/{}", &c[1], &c[2]));
            push_words(&inner[m.end..], tags);
        } else {
            push_words(inner, tags);
        }
        rest = rest[end + 1..].trim_start();
    }
    rest
}

fn push_words(s: &str, tags: &mut Vec<String>) {
    tags.extend(
        s.split(|c: char| c.is_whitespace() || c == ',')
            .filter(|w| !w.is_empty())
            .map(str::to_string),
    );
}

fn read_tags(info: &mut SubjectInfo) {
    let mut saw_git = false;
    for tag in &info.tags {
        let lower = tag.to_ascii_lowercase();
        if let Some(c) = MARKER.captures(tag)
            && info.number.is_none()
        {
            info.number = c[1].parse().ok();
            info.total = c[2].parse().ok();
        }
        if let Some(c) = VERSION_TAG.captures(tag)
            && let Ok(v) = c[1].parse::<u32>()
            && v > 0
        {
            info.version = v;
        }
        match lower.as_str() {
            "rfc" | "rfcv2" => info.is_rfc = true,
            "resend" => info.is_resend = true,
            "pull" | "pull-request" | "pullreq" => info.is_pull = true,
            "git" => saw_git = true,
            "request" if saw_git => info.is_pull = true,
            _ => {}
        }
        if lower.starts_with("rfc") && lower.len() > 3 && lower[3..].starts_with('v') {
            info.is_rfc = true;
        }
    }
    // `[GIT] Networking`: Patchwork's fixture of davem's pulls.
    if saw_git && info.tags.len() == 1 {
        info.is_pull = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> String {
        parse_subject(s).name
    }

    // Patchwork's clean_subject cases (EXPECTED.md section 7).
    #[test]
    fn clean_subject_like_patchwork() {
        assert_eq!(name("meep"), "meep");
        assert_eq!(name("Re: meep"), "meep");
        assert_eq!(name("[PATCH] meep"), "meep");
        assert_eq!(name("[PATCH] meep \n meep"), "meep meep");
        assert_eq!(name("[PATCH] meep,\n meep"), "meep, meep");
        assert!(parse_subject("[PATCH RFC] meep").is_rfc);
        assert_eq!(parse_subject("[PATCH,RFC] meep").tags, ["PATCH", "RFC"]);
        assert_eq!(parse_subject("[PATCH,1/2] meep").number, Some(1));
        let s = parse_subject("[PATCH RFC 1/2] meep");
        assert_eq!(
            (s.is_rfc, s.number, s.total, s.name.as_str()),
            (true, Some(1), Some(2), "meep")
        );
        assert!(parse_subject("[PATCH] [RFC] meep").is_rfc);
        assert_eq!(parse_subject("[PATCH] [RFC] [1/2] meep").total, Some(2));
        assert_eq!(name("[PATCH] rewrite [a-z] regexes"), "rewrite [a-z] regexes");
        assert_eq!(name("[PATCH] [RFC] rewrite [a-z] regexes"), "rewrite [a-z] regexes");
    }

    #[test]
    fn reply_forms_in_several_languages() {
        for s in [
            "RE: meep",
            "Re: meep",
            "re: meep",
            "RE meep",
            "Re meep",
            "re meep",
            "AW: meep",
            "SV: meep",
            "Odp: meep",
            "回复: meep",
            "Re[2]: meep",
        ] {
            let p = parse_subject(s);
            assert!(p.is_reply, "{s}");
            assert_eq!(p.name, "meep", "{s}");
        }
        assert!(parse_subject("Fwd: [PATCH] x").is_forward);
        assert!(!parse_subject("Revert \"foo\"").is_reply);
        assert!(!parse_subject("Re-add the thing").is_reply);
        let p = parse_subject("[LTP] Re: [PATCH v2 1/3] x");
        assert!(p.is_reply && p.version == 2 && p.number == Some(1));
        let p = parse_subject("Re: [LTP] [PATCH v3 0/7] x");
        assert!(p.is_reply && p.number == Some(0) && p.total == Some(7) && p.version == 3);
    }

    #[test]
    fn series_markers_like_patchwork() {
        let m = |s: &str| {
            let p = parse_subject(s);
            (p.number, p.total)
        };
        assert_eq!(m("[bar] x"), (None, None));
        assert_eq!(m("[bar,1/2] x"), (Some(1), Some(2)));
        assert_eq!(m("[bar,0/12] x"), (Some(0), Some(12)));
        assert_eq!(m("[bar 1 of 2] x"), (Some(1), Some(2)));
        assert_eq!(m("[bar,0 of 12] x"), (Some(0), Some(12)));
        assert_eq!(m("[PATCH1/8] x"), (Some(1), Some(8)));
        assert_eq!(m("[PATCH1 of 8] x"), (Some(1), Some(8)));
        assert_eq!(m("[PATCH100/123] x"), (Some(100), Some(123)));
        assert_eq!(m("[v2PATCH1/4] x"), (Some(1), Some(4)));
        assert_eq!(m("[v2,PATCH1/4] x"), (Some(1), Some(4)));
        assert_eq!(m("[v2.3PATCH1/4] x"), (Some(1), Some(4)));
    }

    #[test]
    fn versions_like_patchwork() {
        let v = |s: &str| parse_subject(s).version;
        assert_eq!(v(""), 1);
        assert_eq!(v("Hello, world"), 1);
        assert_eq!(v("[version] x"), 1);
        assert_eq!(v("[v2] x"), 2);
        assert_eq!(v("[V6] x"), 6);
        assert_eq!(v("[v10] x"), 10);
        assert_eq!(v("Hello, world (v2)"), 2);
        assert_eq!(v("Hello, world (V6)"), 6);
        assert_eq!(v("[PATCHv3 2/5] x"), 3);
        assert_eq!(v("[RFC PATCH v4 for-4.14 3/5] x"), 4);
    }

    #[test]
    fn tags_of_real_lists() {
        let p = parse_subject("[PATCH v2 for-4.14 3/5] mm: fix public declaration");
        assert_eq!(p.tags, ["PATCH", "v2", "for-4.14", "3/5"]);
        assert_eq!((p.version, p.number, p.total), (2, Some(3), Some(5)));
        assert_eq!(p.name, "mm: fix public declaration");
        assert!(parse_subject("[PATCH RESEND] x").is_resend);
        assert!(parse_subject("[GIT PULL] soc: updates").is_pull);
        assert!(parse_subject("[git pull] Please pull powerpc.git next branch").is_pull);
        assert!(parse_subject("[GIT] Networking").is_pull);
        assert!(!parse_subject("[PATCH] pull: fix").is_pull);
        assert_eq!(parse_subject("[dpdk-dev] [PATCH] kni: fix").name, "kni: fix");
    }
}
