//! What the check found, per target and macro set; serializable, and readable as text.
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

use crate::config::Target;
use crate::diff::{BitField, LayoutChange};
use crate::layout::TypeKind;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// Commit ids of the two revisions compared.
    pub before: String,
    pub after: String,
    /// Public headers that differ between them, sorted.
    pub headers: Vec<String>,
    pub configurations: Vec<ConfigurationReport>,
}

/// One build configuration: a target and a macro set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigurationReport {
    pub target: Target,
    pub defines: Vec<String>,
    pub failures: Vec<CompileFailure>,
    pub types: Vec<TypeChange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Revision {
    Before,
    After,
}

/// A header clang refused under a configuration, with its first lines of diagnostics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompileFailure {
    pub header: String,
    pub revision: Revision,
    pub message: String,
    /// A header that compiled before and no longer does breaks its users.
    pub breaking: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TypeStatus {
    Added,
    Removed,
    Changed,
}

/// Size and alignment, the two numbers that say whether a type can still be shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    pub size: u64,
    pub alignment: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TypeChange {
    pub name: String,
    pub kind: TypeKind,
    /// The declaring header (after the change when the type still exists).
    pub file: String,
    pub status: TypeStatus,
    pub breaking: bool,
    pub before: Option<Shape>,
    pub after: Option<Shape>,
    pub changes: Vec<LayoutChange>,
}

impl ConfigurationReport {
    pub fn is_breaking(&self) -> bool {
        self.types.iter().any(|t| t.breaking) || self.failures.iter().any(|f| f.breaking)
    }

    pub fn has_layout_change(&self) -> bool {
        !self.types.is_empty()
    }

    /// `i386 (i386-linux-gnu) -D__XEN_TOOLS__`
    pub fn label(&self) -> String {
        let mut label = if self.target.name == self.target.triple {
            self.target.name.clone()
        } else {
            format!("{} ({})", self.target.name, self.target.triple)
        };
        for d in &self.defines {
            label.push(' ');
            label.push_str(d);
        }
        label
    }

    pub fn type_change(&self, name: &str) -> Option<&TypeChange> {
        self.types.iter().find(|t| t.name == name)
    }
}

impl Report {
    pub fn is_breaking(&self) -> bool {
        self.configurations.iter().any(ConfigurationReport::is_breaking)
    }

    /// The configuration for a target name (or triple) and exact macro set.
    pub fn configuration(&self, target: &str, defines: &[&str]) -> Option<&ConfigurationReport> {
        self.configurations.iter().find(|c| {
            (c.target.name == target || c.target.triple == target)
                && c.defines.len() == defines.len()
                && c.defines.iter().zip(defines).all(|(a, b)| a == b)
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    /// Configurations with the same findings, together: on most series x86_64, aarch64 and
    /// arm agree and only i386 differs, and the text should say so in two blocks, not four.
    pub fn grouped_configurations(&self) -> Vec<(Vec<String>, &ConfigurationReport)> {
        let mut groups: Vec<(Vec<String>, &ConfigurationReport)> = Vec::new();
        for config in &self.configurations {
            match groups
                .iter_mut()
                .find(|(_, g)| g.failures == config.failures && g.types == config.types)
            {
                Some((labels, _)) => labels.push(config.label()),
                None => groups.push((vec![config.label()], config)),
            }
        }
        groups
    }

    /// A short block per group of configurations, fit for a series page, a mail or a log.
    ///
    /// What a reviewer must see comes first: the verdict (with where it breaks), then the
    /// groups that break, each with its breaking findings on top, then those that only change
    /// layouts, then those without a change. The page shows the report in a box of a few
    /// lines and a mail quotes its first lines: the i386 size change 32 -> 28 used to come
    /// after every x86_64 "not breaking" line.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "ABI check {}..{}", short(&self.before), short(&self.after));
        if self.headers.is_empty() {
            let _ = writeln!(out, "no public header touched");
            return out;
        }
        let mut groups = self.grouped_configurations();
        // Stable: within a rank, the configurations keep their order.
        groups.sort_by_key(|(_, c)| rank(c));
        let verdict = if self.is_breaking() {
            let on: Vec<String> = groups
                .iter()
                .filter(|(_, c)| c.is_breaking())
                .map(|(labels, _)| labels.join(", "))
                .collect();
            format!("breaking ABI change on {}", on.join("; "))
        } else if groups.iter().any(|(_, c)| rank(c) == 1) {
            "no breaking ABI change (layouts change)".to_string()
        } else {
            "no breaking ABI change".to_string()
        };
        let _ = writeln!(out, "result: {verdict}");
        let _ = writeln!(out, "headers touched: {}", self.headers.join(", "));
        for (labels, config) in groups {
            render_configuration(&mut out, &labels.join(", "), config);
        }
        out
    }
}

/// Breaking first, then layout changes (or headers that do not compile), then no change.
fn rank(c: &ConfigurationReport) -> u8 {
    if c.is_breaking() {
        0
    } else if c.has_layout_change() || !c.failures.is_empty() {
        1
    } else {
        2
    }
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

fn render_configuration(out: &mut String, label: &str, config: &ConfigurationReport) {
    let verdict = if config.is_breaking() {
        "BREAKING"
    } else if config.has_layout_change() || !config.failures.is_empty() {
        "not breaking"
    } else {
        "no layout change"
    };
    let _ = writeln!(out, "\n{label}: {verdict}");
    // Breaking findings first (headers that stopped compiling, then types), then the rest,
    // each in its order.
    for breaking in [true, false] {
        for (index, failure) in config.failures.iter().enumerate() {
            if failure.breaking == breaking {
                render_failure(out, &config.failures, index);
            }
        }
        for change in config.types.iter().filter(|t| t.breaking == breaking) {
            render_type(out, change);
        }
    }
}

/// Failure `index` of `all`; a header failing the same way before and after is one line.
fn render_failure(out: &mut String, all: &[CompileFailure], index: usize) {
    let failure = &all[index];
    let same_as_before =
        |f: &&CompileFailure| f.header == failure.header && f.message == failure.message;
    let earlier = all.get(..index).unwrap_or(&[]);
    let later = all.get(index + 1..).unwrap_or(&[]);
    if failure.revision == Revision::After && earlier.iter().any(|f| same_as_before(&f)) {
        return;
    }
    let revision = match failure.revision {
        Revision::Before if later.iter().any(|f| same_as_before(&f)) => "before and after",
        Revision::Before => "before",
        Revision::After => "after",
    };
    let mark = if failure.breaking { ", breaking" } else { "" };
    let _ = writeln!(out, "  {} does not compile ({revision}{mark}):", failure.header);
    for line in failure.message.lines() {
        let _ = writeln!(out, "    {line}");
    }
}

fn render_type(out: &mut String, change: &TypeChange) {
    let mark = if change.breaking { "breaking" } else { "not breaking" };
    match change.status {
        TypeStatus::Added | TypeStatus::Removed => {
            let status = if change.status == TypeStatus::Added { "added" } else { "removed" };
            let shape = change
                .after
                .or(change.before)
                .map_or(String::new(), |s| format!(", size {} alignment {}", s.size, s.alignment));
            let _ = writeln!(out, "  {} ({}): {status}{shape}, {mark}", change.name, change.file);
        }
        TypeStatus::Changed => {
            let _ = writeln!(out, "  {} ({}): {mark}", change.name, change.file);
            let rows: Vec<[String; 3]> = change.changes.iter().map(row).collect();
            let w0 = rows.iter().map(|r| r[0].len()).max().unwrap_or(0).max(4);
            let w1 = rows.iter().map(|r| r[1].len()).max().unwrap_or(0).max(6);
            let _ = writeln!(out, "    {:<w0$}  {:<w1$}  after", "what", "before");
            for r in rows {
                let _ = writeln!(out, "    {:<w0$}  {:<w1$}  {}", r[0], r[1], r[2]);
            }
        }
    }
}

fn bits(b: &Option<BitField>) -> String {
    b.map_or_else(|| "-".to_owned(), |b| format!("bit {}:{}", b.offset, b.size))
}

fn row(change: &LayoutChange) -> [String; 3] {
    use LayoutChange as C;
    let s = |v: &dyn std::fmt::Display| v.to_string();
    match change {
        C::Kind { before, after } => ["kind".into(), s(before), s(after)],
        C::Size { before, after } => ["size".into(), s(before), s(after)],
        C::Alignment { before, after } => ["alignment".into(), s(before), s(after)],
        C::TrailingPadding { before, after } => ["trailing padding".into(), s(before), s(after)],
        C::MemberAdded { member } => [
            format!("{} added", member.name),
            "-".into(),
            format!("{} at {} size {}", member.type_name, member.offset, member.size),
        ],
        C::MemberRemoved { member } => [
            format!("{} removed", member.name),
            format!("{} at {} size {}", member.type_name, member.offset, member.size),
            "-".into(),
        ],
        C::MemberOffset { member, before, after } => {
            [format!("{member} offset"), s(before), s(after)]
        }
        C::MemberBitField { member, before, after } => {
            [format!("{member} bits"), bits(before), bits(after)]
        }
        C::MemberSize { member, before, after } => [format!("{member} size"), s(before), s(after)],
        C::MemberType { member, before, after } => {
            [format!("{member} type"), before.clone(), after.clone()]
        }
        C::MemberTypeSpelling { member, before, after } => {
            [format!("{member} type"), before.clone(), after.clone()]
        }
        C::EnumeratorAdded { name, value } => [format!("{name} added"), "-".into(), s(value)],
        C::EnumeratorRemoved { name, value } => [format!("{name} removed"), s(value), "-".into()],
        C::EnumeratorValue { name, before, after } => {
            [format!("{name} value"), s(before), s(after)]
        }
        C::InReservedBytes { inner } => {
            let [what, before, after] = row(inner);
            [format!("{what} (in reserved bytes)"), before, after]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(
        target: &str,
        triple: &str,
        defines: &[&str],
        types: Vec<TypeChange>,
    ) -> ConfigurationReport {
        ConfigurationReport {
            target: Target { name: target.into(), triple: triple.into() },
            defines: defines.iter().map(|d| d.to_string()).collect(),
            failures: vec![],
            types,
        }
    }

    fn change(name: &str, breaking: bool, before: u64, after: u64) -> TypeChange {
        TypeChange {
            name: name.into(),
            kind: TypeKind::Struct,
            file: "xen/include/public/io/ring.h".into(),
            status: TypeStatus::Changed,
            breaking,
            before: Some(Shape { size: before, alignment: 8 }),
            after: Some(Shape { size: after, alignment: 8 }),
            changes: vec![LayoutChange::Size { before, after }],
        }
    }

    /// The seed's report: x86_64 changes a layout without breaking, i386 with the tools'
    /// macros shrinks a struct from 32 to 28 bytes. That size change used to come after every
    /// x86_64 line, below the fold of the page's box.
    #[test]
    fn the_breaking_findings_come_first() {
        let report = Report {
            before: "1111111111111111".into(),
            after: "2222222222222222".into(),
            headers: vec!["xen/include/public/io/ring.h".into()],
            configurations: vec![
                config(
                    "x86_64",
                    "x86_64-linux-gnu",
                    &[],
                    vec![change("struct grow", false, 16, 24)],
                ),
                config(
                    "x86_64",
                    "x86_64-linux-gnu",
                    &["-D__XEN_TOOLS__"],
                    vec![change("struct grow", false, 16, 24)],
                ),
                config("i386", "i386-linux-gnu", &[], vec![change("struct grow", false, 16, 24)]),
                config(
                    "i386",
                    "i386-linux-gnu",
                    &["-D__XEN_TOOLS__"],
                    vec![
                        change("struct grow", false, 16, 24),
                        change("struct ring_desc", true, 32, 28),
                    ],
                ),
            ],
        };
        let text = report.to_text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[1], "result: breaking ABI change on i386 (i386-linux-gnu) -D__XEN_TOOLS__",
            "{text}"
        );
        assert_eq!(lines[4], "i386 (i386-linux-gnu) -D__XEN_TOOLS__: BREAKING", "{text}");
        assert_eq!(
            lines[5], "  struct ring_desc (xen/include/public/io/ring.h): breaking",
            "{text}"
        );
        assert!(
            lines[7].trim_start().starts_with("size")
                && lines[7].contains("32")
                && lines[7].contains("28"),
            "{text}"
        );
        let not_breaking = text.find(": not breaking").expect("the other group");
        assert!(text.find("struct ring_desc").unwrap() < not_breaking, "{text}");
    }

    #[test]
    fn without_a_break_the_verdict_still_leads() {
        let report = Report {
            before: "1".into(),
            after: "2".into(),
            headers: vec!["a.h".into()],
            configurations: vec![config(
                "x86_64",
                "x86_64",
                &[],
                vec![change("struct grow", false, 16, 24)],
            )],
        };
        assert_eq!(
            report.to_text().lines().nth(1),
            Some("result: no breaking ABI change (layouts change)")
        );
    }
}
