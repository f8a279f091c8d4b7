//! Whether a series has the approvals it needs, and from whom it still needs them.
//!
//! Xen's MAINTAINERS says it: "In order to get a change to a given file committed, it must have
//! the approval of at least one maintainer of that file", and for nested areas "the Ack of the
//! most specific maintainer is both necessary and sufficient to get a change to a given file
//! committed" (a change to xen/arch/x86/mm/shadow/multi.c needs the shadow maintainers' Ack, not
//! x86's). The default [`Rule`] is that: each file a patch touches needs an approving trailer
//! (Acked-by or Reviewed-by) on that patch (or on the cover letter, which b4 gives every patch)
//! from a maintainer (`M:`) of the most specific sections that have maintainers, or the
//! submitter being one. Files that no section with a maintainer takes need nobody. The rule
//! is a project's setting (quire.toml's `[project.approvals]`).

use serde::{Deserialize, Serialize};

use crate::person::{Identities, Person, Via, same_person};
use crate::series::{MatchKind, SeriesMaintainers};

/// What a project asks of a series.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Rule {
    pub rule: RuleKind,
    /// With `each-file`: only the maintainers of a file's most specific sections approve it
    /// (Xen's nesting); false: any of its sections' maintainers.
    pub most_specific: bool,
    /// The trailers that approve, compared without case.
    pub count: Vec<String>,
    /// A submitter who is a maintainer of a file approves it by sending it.
    pub submitter: bool,
}

impl Default for Rule {
    fn default() -> Rule {
        Rule {
            rule: RuleKind::EachFile,
            most_specific: true,
            count: vec!["Acked-by".into(), "Reviewed-by".into()],
            submitter: true,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RuleKind {
    /// Every touched file approved by one of its maintainers.
    #[default]
    EachFile,
    /// One approval from a maintainer of any touched file approves the series.
    AnyMaintainer,
}

impl Rule {
    fn counts(&self, tag: &str) -> bool {
        self.count.iter().any(|c| c.trim().eq_ignore_ascii_case(tag.trim()))
    }

    /// The rule in a sentence, for the page.
    pub fn describe(&self) -> String {
        let article = |w: &str| {
            if w.starts_with(['A', 'E', 'I', 'O', 'U', 'a', 'e', 'i', 'o', 'u']) {
                "an"
            } else {
                "a"
            }
        };
        let tags = match self.count.as_slice() {
            [] => "an approving trailer".to_string(),
            [one] => format!("{} {one}", article(one)),
            [first, .., last] => {
                let all = &self.count[..self.count.len() - 1];
                format!("{} {} or {last}", article(first), all.join(", "))
            }
        };
        let who = match (self.rule, self.most_specific) {
            (RuleKind::EachFile, true) => {
                "each touched file needs {tags} from a maintainer of its most specific section"
            }
            (RuleKind::EachFile, false) => {
                "each touched file needs {tags} from a maintainer of one of its sections"
            }
            (RuleKind::AnyMaintainer, _) => {
                "the series needs {tags} from a maintainer of one of the files it touches"
            }
        }
        .replace("{tags}", &tags);
        if self.submitter { format!("{who}, or a submitter who is one") } else { who }
    }
}

/// A trailer given to one patch of the series (the cover letter's are given to every patch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Given {
    pub patch: u32,
    pub tag: String,
    pub person: Person,
}

/// Someone whose trailer (or whose sending the series) approves a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approver {
    /// As the maintainers file lists them.
    pub person: Person,
    /// `Acked-by`..., or `submitter`.
    pub tag: String,
    /// The address the trailer came under, when it is not the listed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_email: Option<String>,
    /// How the trailer's person was found to be the listed one (none for the submitter).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via: Option<Via>,
}

/// A section's maintainer or reviewer, with the approving trailers they gave to the file's
/// patches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub person: Person,
    #[serde(default)]
    pub gave: Vec<Approver>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionView {
    pub name: String,
    #[serde(default)]
    pub status: Option<String>,
    pub by: MatchKind,
    /// Its maintainers' approval counts under the rule.
    pub required: bool,
    pub maintainers: Vec<Member>,
    pub reviewers: Vec<Member>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileState {
    Approved,
    Awaiting,
    /// No section with a maintainer takes it: nobody to ask.
    NoMaintainer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileApproval {
    pub path: String,
    /// The patches touching it.
    pub patches: Vec<u32>,
    pub state: FileState,
    pub sections: Vec<SectionView>,
    pub approved_by: Vec<Approver>,
    /// Whose approval would do, for the patches still without one.
    pub awaiting: Vec<Person>,
}

/// A series' approvals under a rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approvals {
    pub approved: bool,
    /// The rule in a sentence.
    pub rule: String,
    /// The maintainers file and the commit it was read at.
    pub file: String,
    pub base: String,
    pub files: Vec<FileApproval>,
    /// Everyone whose approval would do for something still missing, in file order.
    pub awaiting: Vec<Person>,
    /// Everyone whose approval counted.
    pub approved_by: Vec<Approver>,
    #[serde(default)]
    pub problems: Vec<String>,
}

fn push_person(list: &mut Vec<Person>, p: &Person) {
    let same = |q: &Person| {
        if p.email.is_empty() {
            q.email.is_empty() && q.name == p.name
        } else {
            q.email_key() == p.email_key()
        }
    };
    if !list.iter().any(same) {
        list.push(p.clone());
    }
}

fn push_approver(list: &mut Vec<Approver>, a: Approver) {
    if !list.iter().any(|b| b.person == a.person && b.tag == a.tag) {
        list.push(a);
    }
}

/// The approving trailers of `given` (on the patches `patches`) that come from `listed`.
fn approvals_from(
    listed: &Person,
    given: &[&Given],
    patches: &[u32],
    submitter: Option<&Person>,
    known: &Identities,
) -> Vec<Approver> {
    let mut out = Vec::new();
    for g in given.iter().filter(|g| patches.contains(&g.patch)) {
        if let Some(via) = same_person(&g.person, listed, known) {
            let as_email = (!g.person.email.is_empty()
                && g.person.email_key() != listed.email_key())
            .then(|| g.person.email.clone());
            push_approver(
                &mut out,
                Approver { person: listed.clone(), tag: g.tag.clone(), as_email, via: Some(via) },
            );
        }
    }
    if let Some(s) = submitter
        && same_person(s, listed, known).is_some()
    {
        push_approver(
            &mut out,
            Approver { person: listed.clone(), tag: "submitter".into(), as_email: None, via: None },
        );
    }
    out
}

/// Works out the approvals of a series: `map` its sections (from the worker), `given` the
/// trailers its patches were given, `submitter` who sent it, `known` the identities the
/// archive has seen (for people under several addresses).
pub fn evaluate(
    map: &SeriesMaintainers,
    rule: &Rule,
    given: &[Given],
    submitter: &Person,
    known: &Identities,
) -> Approvals {
    let counted: Vec<&Given> = given.iter().filter(|g| rule.counts(&g.tag)).collect();
    let submitter = rule.submitter.then_some(submitter);
    // Per (patch, file): the sections, which are required, and who approved.
    struct Pair {
        patch: u32,
        path: String,
        matches: Vec<(usize, i32, MatchKind)>,
        required: Vec<usize>,
        approvers: Vec<Approver>,
    }
    let mut pairs: Vec<Pair> = Vec::new();
    for p in &map.patches {
        for f in &p.files {
            let mut matches: Vec<(usize, i32, MatchKind)> =
                f.matches.iter().map(|m| (m.section, m.depth, m.by)).collect();
            for &k in &p.keywords {
                if !matches.iter().any(|m| m.0 == k) {
                    matches.push((k, 0, MatchKind::Keyword));
                }
            }
            let maintained: Vec<(usize, i32)> = matches
                .iter()
                .filter(|m| map.sections.get(m.0).is_some_and(|s| !s.maintainers.is_empty()))
                .map(|m| (m.0, m.1))
                .collect();
            let required: Vec<usize> = match (rule.rule, rule.most_specific) {
                (RuleKind::EachFile, true) => {
                    let top = maintained.iter().map(|m| m.1).max();
                    maintained.iter().filter(|m| Some(m.1) == top).map(|m| m.0).collect()
                }
                _ => maintained.iter().map(|m| m.0).collect(),
            };
            let mut approvers = Vec::new();
            for &s in &required {
                for m in &map.sections[s].maintainers {
                    for a in approvals_from(m, &counted, &[p.number], submitter, known) {
                        push_approver(&mut approvers, a);
                    }
                }
            }
            pairs.push(Pair {
                patch: p.number,
                path: f.path.clone(),
                matches,
                required,
                approvers,
            });
        }
    }
    let maintained_pairs = pairs.iter().filter(|p| !p.required.is_empty()).count();
    let series_approved = match rule.rule {
        RuleKind::EachFile => {
            pairs.iter().all(|p| p.required.is_empty() || !p.approvers.is_empty())
        }
        RuleKind::AnyMaintainer => {
            maintained_pairs == 0 || pairs.iter().any(|p| !p.approvers.is_empty())
        }
    };
    let pair_done = |p: &Pair| match rule.rule {
        RuleKind::EachFile => !p.approvers.is_empty(),
        RuleKind::AnyMaintainer => series_approved,
    };

    // Per file, in path order.
    let mut paths: Vec<&str> = pairs.iter().map(|p| p.path.as_str()).collect();
    paths.sort_unstable();
    paths.dedup();
    let mut files = Vec::new();
    let mut awaiting_all: Vec<Person> = Vec::new();
    let mut approved_all: Vec<Approver> = Vec::new();
    for path in paths {
        let of_file: Vec<&Pair> = pairs.iter().filter(|p| p.path == path).collect();
        let patches: Vec<u32> = of_file.iter().map(|p| p.patch).collect();
        let mut sections: Vec<SectionView> = Vec::new();
        let mut seen: Vec<usize> = Vec::new();
        for pair in &of_file {
            for &(s, _, by) in &pair.matches {
                if seen.contains(&s) {
                    continue;
                }
                seen.push(s);
                let info = &map.sections[s];
                let required = of_file.iter().any(|p| p.required.contains(&s));
                let member = |person: &Person| Member {
                    person: person.clone(),
                    gave: approvals_from(person, &counted, &patches, None, known),
                };
                sections.push(SectionView {
                    name: info.name.clone(),
                    status: info.status.clone(),
                    by,
                    required,
                    maintainers: info.maintainers.iter().map(member).collect(),
                    reviewers: info.reviewers.iter().map(member).collect(),
                });
            }
        }
        // Required sections first, then the rest as the file lists them.
        sections.sort_by_key(|s| !s.required);
        let mut approved_by = Vec::new();
        for p in &of_file {
            for a in &p.approvers {
                push_approver(&mut approved_by, a.clone());
                push_approver(&mut approved_all, a.clone());
            }
        }
        let mut awaiting = Vec::new();
        for p in of_file.iter().filter(|p| !p.required.is_empty() && !pair_done(p)) {
            for &s in &p.required {
                for m in &map.sections[s].maintainers {
                    push_person(&mut awaiting, m);
                    push_person(&mut awaiting_all, m);
                }
            }
        }
        let state = if of_file.iter().all(|p| p.required.is_empty()) {
            FileState::NoMaintainer
        } else if of_file.iter().all(|p| p.required.is_empty() || pair_done(p)) {
            FileState::Approved
        } else {
            FileState::Awaiting
        };
        files.push(FileApproval {
            path: path.to_string(),
            patches,
            state,
            sections,
            approved_by,
            awaiting,
        });
    }
    Approvals {
        approved: series_approved,
        rule: rule.describe(),
        file: map.file.clone(),
        base: map.base.clone(),
        files,
        awaiting: if series_approved { Vec::new() } else { awaiting_all },
        approved_by: approved_all,
        problems: map.problems.clone(),
    }
}
