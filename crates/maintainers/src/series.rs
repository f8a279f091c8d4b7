//! The sections of a MAINTAINERS file that concern one series: for each patch, each file it
//! touches with the sections that take it (`F:`/`N:`, less those whose `X:` excludes it, each
//! with how specific its pattern is), and the sections whose `K:` keywords its changed lines
//! contain. This is what the worker stores once it knows the commit the series applies on, so
//! that pages never read the file again; approvals are worked out from it ([`crate::approvals`]).

use serde::{Deserialize, Serialize};

use crate::file::{Maintainers, Section};
use crate::person::Person;

/// How a section came to concern a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MatchKind {
    /// An `F:` pattern.
    File,
    /// An `N:` expression on the file's name.
    Name,
    /// A `K:` keyword in the patch's changed lines.
    Keyword,
}

/// A section as stored: what a page shows of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionInfo {
    pub name: String,
    pub line: usize,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub maintainers: Vec<Person>,
    #[serde(default)]
    pub reviewers: Vec<Person>,
    #[serde(default)]
    pub lists: Vec<String>,
}

impl SectionInfo {
    fn of(s: &Section) -> SectionInfo {
        SectionInfo {
            name: s.name.clone(),
            line: s.line,
            status: s.status.clone(),
            maintainers: s.maintainers.clone(),
            reviewers: s.reviewers.clone(),
            lists: s.lists.clone(),
        }
    }
}

/// A section taking a file: its index in [`SeriesMaintainers::sections`], and how specific
/// the match is (get_maintainer.pl's pattern depth: deeper directories are more specific;
/// `N:` and `K:` matches are 0, `THE REST`'s `*` -1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionMatch {
    pub section: usize,
    pub depth: i32,
    pub by: MatchKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSections {
    pub path: String,
    pub matches: Vec<SectionMatch>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchSections {
    pub number: u32,
    pub files: Vec<FileSections>,
    /// Sections whose `K:` keywords the patch's changed lines contain.
    #[serde(default)]
    pub keywords: Vec<usize>,
}

/// The sections of the maintainers file at `base` that concern one series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SeriesMaintainers {
    /// The commit the file was read at (the series' base).
    pub base: String,
    /// The file's path in the tree (`MAINTAINERS`).
    pub file: String,
    /// Its blob id: the same file at another commit is parsed once.
    pub blob: String,
    /// The sections concerning the series, in the file's order.
    pub sections: Vec<SectionInfo>,
    pub patches: Vec<PatchSections>,
    /// Entries of the file quire could not use.
    #[serde(default)]
    pub problems: Vec<String>,
}

/// One patch as the worker knows it.
#[derive(Debug, Clone)]
pub struct PatchInput<'a> {
    pub number: u32,
    /// Paths it touches (new and old names).
    pub files: Vec<&'a str>,
    /// Its diff text, for `K:`.
    pub diff: &'a str,
}

impl Maintainers {
    /// The sections taking `path` by `F:` or `N:` (not excluded by their `X:`), with the depth
    /// of their most specific pattern for it, in the file's order.
    pub fn sections_of_file(&self, path: &str) -> Vec<(usize, i32, MatchKind)> {
        let mut out = Vec::new();
        for (i, s) in self.sections.iter().enumerate() {
            if s.excludes.iter().any(|x| x.matches(path)) {
                continue;
            }
            let by_file = s.files.iter().filter(|f| f.matches(path)).map(|f| f.depth(path)).max();
            if let Some(depth) = by_file {
                out.push((i, depth, MatchKind::File));
            } else if s.names.iter().any(|n| n.is_match(path)) {
                out.push((i, 0, MatchKind::Name));
            }
        }
        out
    }

    /// The sections whose `K:` expressions match a changed line of `diff` (get_maintainer.pl
    /// reads keywords on the lines a patch adds or removes, not on its context).
    pub fn keyword_sections(&self, diff: &str) -> Vec<usize> {
        if self.sections.iter().all(|s| s.keywords.is_empty()) {
            return Vec::new();
        }
        let changed: String = diff
            .lines()
            .filter(|l| {
                (l.starts_with('+') && !l.starts_with("+++"))
                    || (l.starts_with('-') && !l.starts_with("---"))
            })
            .map(|l| &l[1..])
            .collect::<Vec<_>>()
            .join("\n");
        self.sections
            .iter()
            .enumerate()
            .filter(|(_, s)| s.keywords.iter().any(|k| k.is_match(&changed)))
            .map(|(i, _)| i)
            .collect()
    }
}

/// Maps every patch of a series onto the sections of `m`.
pub fn map_series(
    m: &Maintainers,
    base: &str,
    file: &str,
    blob: &str,
    patches: &[PatchInput<'_>],
) -> SeriesMaintainers {
    // Indexes of `m.sections` kept, in order, and their new index.
    let mut kept: Vec<usize> = Vec::new();
    let index_of = |i: usize, kept: &mut Vec<usize>| match kept.iter().position(|&k| k == i) {
        Some(p) => p,
        None => {
            kept.push(i);
            kept.len() - 1
        }
    };
    let mut out_patches = Vec::new();
    for p in patches {
        let mut files: Vec<FileSections> = Vec::new();
        let mut paths: Vec<&str> = p.files.clone();
        paths.sort_unstable();
        paths.dedup();
        for path in paths {
            let matches = m
                .sections_of_file(path)
                .into_iter()
                .map(|(i, depth, by)| SectionMatch { section: index_of(i, &mut kept), depth, by })
                .collect();
            files.push(FileSections { path: path.to_string(), matches });
        }
        let keywords =
            m.keyword_sections(p.diff).into_iter().map(|i| index_of(i, &mut kept)).collect();
        out_patches.push(PatchSections { number: p.number, files, keywords });
    }
    // Sections in the file's order: renumber.
    let mut order: Vec<usize> = (0..kept.len()).collect();
    order.sort_by_key(|&k| kept[k]);
    let mut new_index = vec![0; kept.len()];
    for (new, &old) in order.iter().enumerate() {
        new_index[old] = new;
    }
    for p in &mut out_patches {
        for f in &mut p.files {
            for mt in &mut f.matches {
                mt.section = new_index[mt.section];
            }
        }
        for k in &mut p.keywords {
            *k = new_index[*k];
        }
        p.keywords.sort_unstable();
    }
    SeriesMaintainers {
        base: base.to_string(),
        file: file.to_string(),
        blob: blob.to_string(),
        sections: order.iter().map(|&k| SectionInfo::of(&m.sections[kept[k]])).collect(),
        patches: out_patches,
        problems: m.problems.clone(),
    }
}
