//! Reading a MAINTAINERS file as `scripts/get_maintainer.pl` reads it (Linux's, and Xen's and
//! QEMU's copies of it): every line `X: value` (one capital letter, a colon) is an entry of the
//! section above it; any other line that is neither blank nor a `#` comment names a new section.
//! The header text is indented (`\tM: Mail patches to...`), so its lines name sections without
//! entries, which are dropped, like QEMU's group titles and their `-----` underlines.

use regex::Regex;

use crate::pattern::FilePattern;
use crate::person::Person;

/// One section: a title and its entries.
#[derive(Debug, Clone)]
pub struct Section {
    pub name: String,
    /// 1-based line of the title in the file.
    pub line: usize,
    /// `S:` (Supported, Maintained, Odd Fixes, Orphan, Obsolete...), the first one given.
    pub status: Option<String>,
    /// `M:`
    pub maintainers: Vec<Person>,
    /// `R:`
    pub reviewers: Vec<Person>,
    /// `L:` addresses (without the comments some carry, like "(moderated for non-subscribers)").
    pub lists: Vec<String>,
    /// `F:`
    pub files: Vec<FilePattern>,
    /// `X:`
    pub excludes: Vec<FilePattern>,
    /// `N:` regular expressions on file names.
    pub names: Vec<Regex>,
    /// `K:` regular expressions on the patch's changed lines.
    pub keywords: Vec<Regex>,
}

impl Section {
    fn new(name: &str, line: usize) -> Section {
        Section {
            name: name.trim().to_string(),
            line,
            status: None,
            maintainers: Vec::new(),
            reviewers: Vec::new(),
            lists: Vec::new(),
            files: Vec::new(),
            excludes: Vec::new(),
            names: Vec::new(),
            keywords: Vec::new(),
        }
    }

    fn has_entries(&self) -> bool {
        self.status.is_some()
            || !self.maintainers.is_empty()
            || !self.reviewers.is_empty()
            || !self.lists.is_empty()
            || !self.files.is_empty()
            || !self.excludes.is_empty()
            || !self.names.is_empty()
            || !self.keywords.is_empty()
    }
}

/// A parsed MAINTAINERS file.
#[derive(Debug, Clone, Default)]
pub struct Maintainers {
    pub sections: Vec<Section>,
    /// Entries that could not be used, each with its line (an `N:`/`K:` regular expression
    /// Rust's regex engine does not take, such as a Perl look-around): the rest of the file
    /// still counts.
    pub problems: Vec<String>,
}

/// Largest compiled `N:`/`K:` expression: the file comes from the project's tree, and one
/// expression must not take the worker's memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

fn regex(value: &str) -> Result<Regex, regex::Error> {
    // Perl's `m/.../x`, as get_maintainer.pl matches them: blanks in the pattern are ignored.
    regex::RegexBuilder::new(value).ignore_whitespace(true).size_limit(REGEX_SIZE_LIMIT).build()
}

/// Reads a MAINTAINERS file. Never fails: what cannot be read is a problem, not an error.
pub fn parse(text: &str) -> Maintainers {
    let mut out = Maintainers::default();
    let mut current: Option<Section> = None;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim_end();
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let Some((tag, value)) = entry(line) else {
            if is_underline(line) && current.as_ref().is_some_and(|s| !s.has_entries()) {
                // QEMU underlines its group titles: the title above is the name.
                continue;
            }
            if let Some(done) = current.take().filter(Section::has_entries) {
                out.sections.push(done);
            }
            current = Some(Section::new(line, line_no));
            continue;
        };
        // Entries before any title (a file that starts with them) form a nameless section.
        let section = current.get_or_insert_with(|| Section::new("", line_no));
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        match tag {
            'M' => section.maintainers.push(Person::parse(value)),
            'R' => section.reviewers.push(Person::parse(value)),
            'L' => {
                let list = value.split_whitespace().next().unwrap_or(value);
                section.lists.push(list.to_string());
            }
            'S' => {
                section.status.get_or_insert_with(|| value.to_string());
            }
            'F' => section.files.push(FilePattern::new(value)),
            'X' => section.excludes.push(FilePattern::new(value)),
            'N' | 'K' => match regex(value) {
                Ok(r) if tag == 'N' => section.names.push(r),
                Ok(r) => section.keywords.push(r),
                Err(e) => out.problems.push(format!(
                    "line {line_no}: {tag}: {value}: not a regular expression quire can use ({})",
                    e.to_string().lines().last().unwrap_or("")
                )),
            },
            // W: web pages, T: trees, B: bug trackers, C: chat, P: profiles, Q: patchwork...
            _ => {}
        }
    }
    if let Some(done) = current.filter(Section::has_entries) {
        out.sections.push(done);
    }
    out
}

/// `-----` or `=====` under a title.
fn is_underline(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 3 && (t.bytes().all(|b| b == b'-') || t.bytes().all(|b| b == b'='))
}

/// `X:\tvalue` (get_maintainer.pl: `^([A-Z]):\s*(.*)`).
fn entry(line: &str) -> Option<(char, &str)> {
    let mut chars = line.chars();
    let tag = chars.next().filter(char::is_ascii_uppercase)?;
    let rest = chars.as_str().strip_prefix(':')?;
    Some((tag, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indented_header_lines_and_underlined_group_titles_are_no_sections() {
        let text = "List of maintainers\n===================\n\n\tM: *Mail* patches to: FullName <address@domain>\n\
                    \tF: *Files* and directories\n\nGuest CPU cores (TCG)\n---------------------\n\
                    Alpha TCG CPUs\nM: Richard Henderson <richard.henderson@linaro.org>\nS: Maintained\nF: target/alpha/\n";
        let m = parse(text);
        assert_eq!(m.sections.len(), 1, "{:?}", m.sections);
        assert_eq!(m.sections[0].name, "Alpha TCG CPUs");
        assert_eq!(m.sections[0].line, 9);
        assert_eq!(m.sections[0].maintainers[0].email, "richard.henderson@linaro.org");
    }

    #[test]
    fn a_keyword_rust_cannot_compile_is_a_problem_not_a_failure() {
        let m = parse("FOO\nM: A <a@x.org>\nK: (?<!bar)foo\nK: \\bfoo_\\w+\nF: foo/\n");
        assert_eq!(m.sections[0].keywords.len(), 1);
        assert_eq!(m.problems.len(), 1);
        assert!(m.problems[0].starts_with("line 3: K: (?<!bar)foo"), "{:?}", m.problems);
    }

    #[test]
    fn lists_lose_their_comments() {
        let m = parse("NET\nL: netdev@vger.kernel.org (moderated for non-subscribers)\nF: net/\n");
        assert_eq!(m.sections[0].lists, ["netdev@vger.kernel.org"]);
    }
}
