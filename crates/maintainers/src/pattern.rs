//! `F:` and `X:` patterns, matched as get_maintainer.pl matches them (its `file_match_pattern`):
//!
//! - `*` is any run of characters (a slash too), `?` any one character, the rest is literal;
//! - a pattern matches from the start of the path, and need not reach its end;
//! - a pattern ending in `/` takes everything below it (`drivers/net/`);
//! - any other pattern only takes paths with as many slashes as itself: `drivers/net/*` takes
//!   the files in drivers/net but not below, `*/net/*` the files in any top-level directory's
//!   net/, `xen/common/sched*` xen/common/sched.c but not xen/common/sched/core.c;
//! - a pattern naming a directory without its slash (`F: arch/x86`) is a directory:
//!   get_maintainer.pl adds the slash when the directory exists in its tree, and a touched path
//!   below it shows that it does.

/// One `F:` or `X:` pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePattern {
    pub text: String,
}

impl FilePattern {
    pub fn new(text: &str) -> FilePattern {
        FilePattern { text: text.trim().to_string() }
    }

    fn is_literal(&self) -> bool {
        !self.text.contains(['*', '?'])
    }

    /// Whether `path` (relative to the tree's root, no leading slash) is matched.
    pub fn matches(&self, path: &str) -> bool {
        let p = self.text.as_str();
        if p.is_empty() {
            return false;
        }
        if p.ends_with('/') {
            return prefix_match(p, path);
        }
        if self.is_literal()
            && path.len() > p.len()
            && path.starts_with(p)
            && path.as_bytes()[p.len()] == b'/'
        {
            // A directory named without its slash.
            return true;
        }
        prefix_match(p, path) && slashes(p) == slashes(path)
    }

    /// How specific the pattern is, as get_maintainer.pl ranks sections for a file: its
    /// slashes, one more when it does not end with one, and -1 for a pattern starting with
    /// `*` (`THE REST`'s `*` and `*/`, `*/net/*`).
    pub fn depth(&self, path: &str) -> i32 {
        let p = self.text.as_str();
        if p.starts_with('*') {
            return -1;
        }
        let mut depth = slashes(p) as i32;
        let directory =
            self.is_literal() && !p.ends_with('/') && path.starts_with(&format!("{p}/"));
        if !p.ends_with('/') || directory {
            depth += 1;
        }
        depth
    }
}

fn slashes(s: &str) -> usize {
    s.bytes().filter(|&b| b == b'/').count()
}

/// Whether the glob `pattern` matches a prefix of `path` (`*` any run, `?` one character).
fn prefix_match(pattern: &str, path: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    // reach[j]: the pattern read so far can end at path position j.
    let mut reach = vec![false; s.len() + 1];
    reach[0] = true;
    for &c in &p {
        let mut next = vec![false; s.len() + 1];
        match c {
            '*' => {
                let mut on = false;
                for j in 0..=s.len() {
                    on |= reach[j];
                    next[j] = on;
                }
            }
            _ => {
                for j in 0..s.len() {
                    if reach[j] && (c == '?' || s[j] == c) {
                        next[j + 1] = true;
                    }
                }
            }
        }
        reach = next;
        if !reach.iter().any(|&r| r) {
            return false;
        }
    }
    reach.iter().any(|&r| r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        FilePattern::new(pattern).matches(path)
    }

    #[test]
    fn the_examples_of_the_file_headers() {
        // "F: drivers/net/ all files in and below drivers/net"
        assert!(m("drivers/net/", "drivers/net/foo.c"));
        assert!(m("drivers/net/", "drivers/net/ethernet/intel/e1000/e1000_main.c"));
        assert!(!m("drivers/net/", "drivers/network.c"));
        // "F: drivers/net/* all files in drivers/net, but not below"
        assert!(m("drivers/net/*", "drivers/net/foo.c"));
        assert!(!m("drivers/net/*", "drivers/net/ethernet/foo.c"));
        // "F: */net/* all files in "any top level directory"/net"
        assert!(m("*/net/*", "drivers/net/foo.c"));
        assert!(m("*/net/*", "include/net/sock.h"));
        assert!(!m("*/net/*", "drivers/net/ethernet/foo.c"));
        assert!(!m("*/net/*", "net/core/dev.c"));
    }

    #[test]
    fn the_rest_takes_every_file_with_its_two_patterns() {
        assert!(m("*", "MAINTAINERS"));
        assert!(!m("*", "xen/common/sched/core.c"));
        assert!(m("*/", "xen/common/sched/core.c"));
        assert!(!m("*/", "MAINTAINERS"));
        assert_eq!(FilePattern::new("*").depth("MAINTAINERS"), -1);
        assert_eq!(FilePattern::new("*/").depth("a/b"), -1);
    }

    #[test]
    fn globs_stay_within_the_pattern_s_slashes() {
        assert!(m("xen/common/sched*", "xen/common/sched.c"));
        assert!(m("xen/common/sched*", "xen/common/sched_credit2.c"));
        assert!(!m("xen/common/sched*", "xen/common/sched/core.c"));
        assert!(m("xen/include/asm-x86/x86_*/efi*.h", "xen/include/asm-x86/x86_64/efibind.h"));
        assert!(m("tools/blktap2/drivers/hashtable*", "tools/blktap2/drivers/hashtable_itr.c"));
        assert!(m("docs/misc/tmem?txt", "docs/misc/tmem.txt"));
    }

    #[test]
    fn a_file_pattern_matches_from_the_start_like_get_maintainer() {
        assert!(m("include/linux/mm.h", "include/linux/mm.h"));
        assert!(!m("include/linux/mm.h", "include/linux/mmzone.h"));
        assert!(!m("linux/mm.h", "include/linux/mm.h"));
        // get_maintainer.pl's match is not anchored at the end either.
        assert!(m(
            "Documentation/ABI/testing/sysfs-bus-iio",
            "Documentation/ABI/testing/sysfs-bus-iio-dac"
        ));
    }

    #[test]
    fn a_directory_without_its_slash_is_a_directory() {
        assert!(m("arch/x86", "arch/x86/kernel/cpu/common.c"));
        assert_eq!(FilePattern::new("arch/x86").depth("arch/x86/kernel/traps.c"), 2);
        assert_eq!(FilePattern::new("arch/x86/").depth("arch/x86/kernel/traps.c"), 2);
    }

    #[test]
    fn deeper_directories_are_more_specific() {
        let path = "xen/arch/x86/mm/shadow/multi.c";
        let d = |p: &str| FilePattern::new(p).depth(path);
        assert!(d("xen/arch/x86/mm/shadow/") > d("xen/arch/x86/mm/"));
        assert!(d("xen/arch/x86/mm/") > d("xen/arch/x86/"));
        assert!(d("xen/arch/x86/") > d("*/"));
        assert_eq!(d("xen/arch/x86/mm/shadow/multi.c"), d("xen/arch/x86/mm/shadow/") + 1);
    }
}
