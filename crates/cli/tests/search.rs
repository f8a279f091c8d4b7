//! `quire series list --query Q` driven as a user drives it, on SQLite and PostgreSQL: the query
//! language of docs/search.md, obsolete revisions hidden unless --all or asked about, and a bad
//! query (or one past the limits) answered with one line naming the column and what was
//! expected, exit status 64.

mod common;

use common::*;

/// `series list --query` on a site, for the assertions below.
trait Found {
    /// The heads found by `series list --json --query q` (and `extra` arguments), and the total.
    fn found(&self, q: &str, extra: &[&str]) -> (u64, Vec<String>);
}

impl Found for Site {
    fn found(&self, q: &str, extra: &[&str]) -> (u64, Vec<String>) {
        let mut args = vec!["series", "list", "--json", "--limit", "1000", "--query", q];
        args.extend_from_slice(extra);
        let v = self.json(&args);
        let heads = v["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["message_id"].as_str().unwrap().to_string())
            .collect();
        (v["total"].as_u64().unwrap(), heads)
    }
}

fn search(site: Site) {
    site.ok(&["import", repo_root().join("samples/demo.mbox").to_str().unwrap()]);
    // samples/demo.mbox: "ring: setup helper" v1 and v2 (v1 obsolete), "[PATCH] ring: add
    // ring_fini", a pull request.
    assert_eq!(site.found("subject:setup", &[]), (1, vec!["v2-0@example.org".to_string()]));
    assert_eq!(site.found("subject:setup", &["--all"]).0, 2);
    assert_eq!(site.found("is:obsolete", &[]), (1, vec!["v1-0@example.org".to_string()]));
    // "ring" is in the ring_fini patch and in the pull request's shortlog (grep -n ring).
    assert_eq!(
        site.found("ring -subject:setup", &[]).1,
        ["pull-1@example.com", "lone-1@example.net"]
    );
    assert_eq!(site.found("ring -subject:setup -is:pull", &[]).1, ["lone-1@example.net"]);
    // A query may start with a negation.
    assert_eq!(site.found("-subject:setup ring -is:pull", &[]).1, ["lone-1@example.net"]);
    assert_eq!(site.found("is:pull OR ring_fini", &[]).0, 2);
    assert_eq!(site.found("\"public header\" version:2", &[]).1, ["v2-0@example.org"]);
    // The table form lists the same series.
    let table = site.ok(&["series", "list", "--query", "is:pull"]);
    assert!(table.contains("[GIT PULL] demo fixes for 1.1"), "{table}");
    assert_eq!(table.lines().count(), 1, "{table}");

    // Real mail: zcat ltp-2019-2020.4k.mbox.gz | grep -i '^Subject: .*\[PATCH.*fanotify' (not
    // Re:), grouped by series: 9 series (crates/store/tests/search.rs).
    let ltp = repo_root().join("../shared/corpus/ltp-2019-2020.4k.mbox.gz");
    site.ok(&["import", "--project", "ltp", ltp.to_str().unwrap()]);
    assert_eq!(site.found("subject:fanotify", &["--all"]).0, 9);
    assert_eq!(site.found("subject:fanotify", &["--all", "--project", "ltp"]).0, 9);
    assert_eq!(
        site.found("project:ltp file:testcases/kernel/syscalls/fanotify/", &["--all"]).0,
        14
    );

    // Bad queries: one line on stderr with the column and what was expected; exit 64.
    for (q, says) in [
        (
            "(fanotify",
            "quire: bad query: unbalanced parenthesis: `(` at column 1 is never closed\n",
        ),
        ("frm:jan", "quire: bad query: unknown prefix `frm:` at column 1; did you mean `from:`?\n"),
        (
            "fanotify is:done",
            "quire: bad query: unknown `is:done` at column 13: expected one of complete, incomplete, reviewed, obsolete, applied, failed, merged, pull, rfc, approved\n",
        ),
        ("age:<2x", "quire: bad query: `age:` takes a duration like `<2w` at column 5\n"),
        ("", "quire: bad query: empty query: expected a search term at column 1\n"),
    ] {
        let out = site.run(&["series", "list", "--query", q]);
        assert_eq!(out.status.code(), Some(64), "{q}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), says, "{q}");
        assert!(out.stdout.is_empty(), "{q}");
    }
    // Queries past the parser's limits, and past the series search's 64 terms: one line naming
    // the limit, exit 64, nothing on stdout. (100,000 levels do not fit in one argument: Linux
    // takes at most 128 KiB; 40,000 are past the 64 KiB the parser reads.)
    let terms = |n: usize| vec!["x"; n].join(" ");
    for (q, says) in [
        (
            format!("{}x{}", "(".repeat(3000), ")".repeat(3000)),
            "quire: bad query: the query nests 3000 deep at column 33; at most 32 levels of parentheses and negations (`-`, `NOT`) are read\n",
        ),
        (
            format!("{}x", "-".repeat(3000)),
            "quire: bad query: the query nests 3000 deep at column 33; at most 32 levels of parentheses and negations (`-`, `NOT`) are read\n",
        ),
        (
            format!("{}x", "NOT ".repeat(3000)),
            "quire: bad query: the query nests 3000 deep at column 129; at most 32 levels of parentheses and negations (`-`, `NOT`) are read\n",
        ),
        (
            format!("{}x{}", "(".repeat(40_000), ")".repeat(40_000)),
            "quire: bad query: the query is 80001 bytes long; at most 65536 are read (it runs past them at column 65537)\n",
        ),
        (
            terms(501),
            "quire: bad query: the query has 501 terms; at most 500 are read (term 501 is at column 1001)\n",
        ),
        (
            terms(65),
            "quire: bad query: the query has 65 terms; the series search reads at most 64\n",
        ),
    ] {
        let out = site.run(&["series", "list", "--all", "--query", &q]);
        let q = &q[..20];
        assert_eq!(out.status.code(), Some(64), "{q}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), says, "{q}");
        assert!(out.stdout.is_empty(), "{q}");
    }
    let out = site.run(&["series", "list", "--project", "nope", "--query", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no project `nope`; known projects:"));
}

#[test]
fn sqlite() {
    search(Site::sqlite());
}

#[test]
fn postgres() {
    search(Site::postgres());
}
