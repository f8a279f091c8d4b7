//! `git request-pull` messages: where to pull from.

use crate::PullRequest;
use once_cell::sync::Lazy;
use regex::Regex;

/// Patchwork's expression (parser.py parse_pull_request), which copes with a wrapped URL/branch
/// line, trailing spaces and every URL scheme git takes.
static PULL: Lazy<Regex> = Lazy::new(|| {
    Regex::new(
        r"(?ims)^The following changes since commit.*^are available in the git repository at:\s*\n^\s*([\w+-]+(?:://|@)[\w/.@:~-]+[\s\\]*[\w/._-]*)\s*$",
    )
    .unwrap()
});

pub fn find_pull(body: &str) -> Option<PullRequest> {
    let normalized;
    let body = if body.contains('\r') {
        normalized = body.replace("\r\n", "\n");
        &normalized
    } else {
        body
    };
    let c = PULL.captures(body)?;
    let joined = c[1]
        .split(|ch: char| ch.is_whitespace() || ch == '\\')
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>();
    let url = joined.first()?.to_string();
    let branch = joined[1..].join(" ");
    Some(PullRequest { url, branch })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_and_branch_of_a_request_pull() {
        let body = "Hi,\n\nThe following changes since commit abc:\n\n  x (2020)\n\nare available in the Git repository at:\n\n  git://git.kernel.org/pub/scm/x.git tags/for-v5.6  \n\nfor you to fetch changes up to def:\n";
        let p = find_pull(body).unwrap();
        assert_eq!(p.url, "git://git.kernel.org/pub/scm/x.git");
        assert_eq!(p.branch, "tags/for-v5.6");
    }

    #[test]
    fn no_pull_in_ordinary_mail() {
        assert_eq!(find_pull("Please pull my tree, it is at git://x/y.git\n"), None);
    }
}
