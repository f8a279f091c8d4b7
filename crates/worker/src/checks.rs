//! The checks a project runs on every applied series (`[[project.check]]` in quire.toml): the
//! built-in `style` check, run by the worker itself, and scripts, run by testers (`quire tester`)
//! that claim `check:<capability>:<name>` jobs over the HTTP API.

use serde::{Deserialize, Serialize};

use quire_store::{CheckState, NewCheck, ProjectConfig, SeriesDetail, Store};

use crate::Result;

/// One `[[project.check]]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// Shown on the series page: letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// A check quire runs itself: `style`.
    #[serde(default)]
    pub builtin: Option<String>,
    /// A shell script run by a tester in a copy of the applied tree (`sh -c`), in its sandbox
    /// (quire-sandbox: no network, nothing of the host writable).
    #[serde(default)]
    pub script: Option<String>,
    /// Only for series touching one of these globs (relative to the tree's root); all when empty.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Seconds the script may run before it is killed (and the check is an error).
    #[serde(default = "default_timeout")]
    pub timeout: u64,
    /// Only testers started with `--capability NAME` take it.
    #[serde(default)]
    pub capability: Option<String>,
}

fn default_timeout() -> u64 {
    1800
}

/// Built-in checks.
pub const BUILTINS: &[&str] = &["style"];

impl CheckSpec {
    /// What is wrong with the table, in one line naming the field.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.name.is_empty()
            || !self.name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(format!("check name {:?}: use letters, digits, `-`, `_`, `.`", self.name));
        }
        match (&self.builtin, &self.script) {
            (Some(b), None) if BUILTINS.contains(&b.as_str()) => {}
            (Some(b), None) => {
                return Err(format!(
                    "check {:?}: unknown builtin {b:?} (known: {})",
                    self.name,
                    BUILTINS.join(", ")
                ));
            }
            (None, Some(s)) if !s.trim().is_empty() => {}
            _ => {
                return Err(format!(
                    "check {:?}: give exactly one of `builtin` or `script`",
                    self.name
                ));
            }
        }
        if let Some(c) = &self.capability
            && (c.is_empty() || !c.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
        {
            return Err(format!(
                "check {:?}: capability {c:?}: use letters, digits, `-`, `_`, `.`",
                self.name
            ));
        }
        for p in &self.paths {
            globset::Glob::new(p)
                .map_err(|e| format!("check {:?}: path glob {p:?}: {e}", self.name))?;
        }
        if self.timeout == 0 {
            return Err(format!("check {:?}: timeout must be at least 1 second", self.name));
        }
        Ok(())
    }

    /// The job kind testers claim: `check:<capability or any>:<name>`.
    pub fn job_kind(&self) -> String {
        format!("check:{}:{}", self.capability.as_deref().unwrap_or("any"), self.name)
    }

    /// Whether the series touches one of `paths` (any series when none is given).
    pub fn applies_to(&self, series: &SeriesDetail) -> bool {
        if self.paths.is_empty() {
            return true;
        }
        let mut builder = globset::GlobSetBuilder::new();
        for p in &self.paths {
            if let Ok(g) = globset::Glob::new(p) {
                builder.add(g);
            }
        }
        let Ok(set) = builder.build() else { return false };
        series.patches.iter().flat_map(|p| &p.diffstat).any(|f| set.is_match(&f.path))
    }
}

/// The job kinds a tester with `capabilities` claims: `check:any:*` and `check:<cap>:*`.
pub fn tester_kinds(capabilities: &[String]) -> Vec<String> {
    std::iter::once("check:any:*".to_string())
        .chain(capabilities.iter().map(|c| format!("check:{c}:*")))
        .collect()
}

/// What a tester gets with a claimed check job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckJob {
    pub check: String,
    pub script: String,
    pub timeout: u64,
    pub project: String,
    /// The series head the result is about.
    pub series: String,
    /// Where to fetch the applied tree, and what.
    pub fetch_url: String,
    pub fetch_ref: String,
    pub commit: String,
}

/// After a series applied: runs the built-in checks and queues the scripts for testers. A
/// script check of a project without a push mirror cannot be fetched by testers: it is stored
/// as an error saying so.
pub async fn after_apply(
    store: &Store,
    project: &ProjectConfig,
    specs: &[CheckSpec],
    series: &SeriesDetail,
    commit: &str,
    tag: Option<&str>,
) -> Result<()> {
    for spec in specs.iter().filter(|s| s.applies_to(series)) {
        if spec.builtin.as_deref() == Some("style") {
            let check = style_check(store, series).await?;
            store
                .add_check(&series.message_id, &NewCheck { name: spec.name.clone(), ..check })
                .await?;
            continue;
        }
        let Some(script) = &spec.script else { continue };
        let (Some(url), Some(tag)) = (project.mirror_url.clone(), tag) else {
            let check = NewCheck {
                name: spec.name.clone(),
                state: CheckState::Error,
                url: None,
                description: Some("not run: the project has no push mirror for testers to fetch from".into()),
                log: Some("Set `mirror` in the project's [[project]] table: testers fetch the applied series from there.\n".into()),
            };
            store.add_check(&series.message_id, &check).await?;
            continue;
        };
        let job = CheckJob {
            check: spec.name.clone(),
            script: script.clone(),
            timeout: spec.timeout,
            project: project.name.clone(),
            series: series.message_id.clone(),
            fetch_url: url,
            fetch_ref: tag.to_string(),
            commit: commit.to_string(),
        };
        let payload = serde_json::to_value(&job).unwrap_or_default();
        store
            .enqueue_job(&spec.job_kind(), &series.message_id, &project.name, Some(&payload))
            .await?;
    }
    Ok(())
}

/// The `style` check of a series' patches, each rule named in the log.
pub async fn style_check(store: &Store, series: &SeriesDetail) -> Result<NewCheck> {
    let mut findings = Vec::new();
    for patch in &series.patches {
        let Some(raw) = store.raw(&patch.message_id).await? else { continue };
        let parsed = quire_mail::parse(&raw);
        let label = format!("patch {}/{}", patch.number, series.total);
        findings.extend(
            style_findings(&parsed)
                .into_iter()
                .map(|f| Finding { message: format!("{label}: {}", f.message), ..f }),
        );
    }
    Ok(style_result(&findings))
}

/// One problem the style check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static str,
    /// Fails the check (a missing Signed-off-by); the rest are warnings.
    pub fatal: bool,
    pub message: String,
}

/// The style rules over one patch mail.
pub fn style_findings(p: &quire_mail::ParsedMessage) -> Vec<Finding> {
    let mut out = Vec::new();
    let author = p.from.email.to_ascii_lowercase();
    let signed = p.trailers.iter().any(|t| {
        t.tag.eq_ignore_ascii_case("Signed-off-by")
            && t.person.as_ref().is_some_and(|a| a.email.eq_ignore_ascii_case(&author))
    });
    if !signed {
        out.push(Finding {
            rule: "signed-off-by",
            fatal: true,
            message: format!("no Signed-off-by from the author <{}>", p.from.email),
        });
    }
    let name = p.subject_info.name.trim();
    if name.chars().count() > 75 {
        out.push(Finding {
            rule: "subject-length",
            fatal: false,
            message: format!(
                "subject is {} characters long (at most 75): {name:?}",
                name.chars().count()
            ),
        });
    }
    if !has_area_prefix(name) {
        out.push(Finding {
            rule: "subject-form",
            fatal: false,
            message: format!("subject does not start with `area: `: {name:?}"),
        });
    }
    if name.ends_with('.') {
        out.push(Finding {
            rule: "subject-form",
            fatal: false,
            message: format!("subject ends with a full stop: {name:?}"),
        });
    }
    if let Some(diff) = &p.diff {
        out.extend(diff_findings(&diff.text));
    }
    out
}

/// `area: summary` or `area/sub: summary`: a short first word (no spaces before the colon but
/// for one more word, as in `tools libxl: ...`).
fn has_area_prefix(name: &str) -> bool {
    let Some((area, rest)) = name.split_once(": ") else { return false };
    !area.is_empty() && area.split(' ').count() <= 2 && !rest.trim().is_empty()
}

/// Trailing white space and a space before a tab in the indentation of added lines, with the
/// file and the new line number.
fn diff_findings(diff: &str) -> Vec<Finding> {
    let mut out = Vec::new();
    let (mut file, mut line) = (String::new(), 0u64);
    for l in diff.lines() {
        if let Some(path) = l.strip_prefix("+++ ") {
            file = path.trim().trim_start_matches("b/").to_string();
            continue;
        }
        if let Some(h) = l.strip_prefix("@@ ") {
            line = h
                .split_whitespace()
                .find_map(|w| w.strip_prefix('+'))
                .and_then(|w| w.split(',').next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            continue;
        }
        if let Some(added) = l.strip_prefix('+') {
            if added.ends_with(' ') || added.ends_with('\t') {
                out.push(Finding {
                    rule: "trailing-whitespace",
                    fatal: false,
                    message: format!("{file}:{line}: trailing white space"),
                });
            }
            let indent: String = added.chars().take_while(|c| *c == ' ' || *c == '\t').collect();
            if indent.contains(" \t") {
                out.push(Finding {
                    rule: "space-before-tab",
                    fatal: false,
                    message: format!("{file}:{line}: space before tab in indent"),
                });
            }
            line += 1;
        } else if !l.starts_with('-') && !l.starts_with('\\') {
            line += 1;
        }
    }
    out
}

/// Fail when a rule that must hold is broken, warning for the rest, pass when nothing is found.
pub fn style_result(findings: &[Finding]) -> NewCheck {
    let state = if findings.iter().any(|f| f.fatal) {
        CheckState::Fail
    } else if findings.is_empty() {
        CheckState::Pass
    } else {
        CheckState::Warning
    };
    let mut rules: Vec<&str> = findings.iter().map(|f| f.rule).collect();
    rules.dedup();
    rules.sort();
    rules.dedup();
    let description = if findings.is_empty() {
        "no problems".to_string()
    } else {
        format!(
            "{} problem{}: {}",
            findings.len(),
            if findings.len() == 1 { "" } else { "s" },
            rules.join(", ")
        )
    };
    let mut log: String = findings.iter().map(|f| format!("{}: {}\n", f.rule, f.message)).collect();
    if log.is_empty() {
        log = "style: no problems\n".into();
    }
    NewCheck {
        name: "style".into(),
        state,
        url: None,
        description: Some(description),
        log: Some(log),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patch(from: &str, subject: &str, body: &str) -> quire_mail::ParsedMessage {
        let raw = format!("From: A Dev <{from}>\nSubject: {subject}\nMessage-Id: <x@y>\n\n{body}");
        quire_mail::parse(raw.as_bytes())
    }

    const DIFF: &str = "---\n f.c | 2 +-\n\ndiff --git a/f.c b/f.c\n--- a/f.c\n+++ b/f.c\n@@ -1,3 +1,3 @@\n a\n-b\n+b \n \tc\n";

    #[test]
    fn clean_patch_passes() {
        let p = patch(
            "a@x.org",
            "[PATCH] lib: fix b",
            &format!(
                "Fix it.\n\nSigned-off-by: A Dev <a@x.org>\n{}",
                DIFF.replace("+b \n", "+b\n")
            ),
        );
        assert_eq!(style_findings(&p), vec![]);
        assert_eq!(style_result(&[]).state, CheckState::Pass);
    }

    #[test]
    fn signed_off_by_someone_else_fails_the_check() {
        let p =
            patch("a@x.org", "[PATCH] lib: fix b", "Fix.\n\nSigned-off-by: B Other <b@x.org>\n");
        let f = style_findings(&p);
        assert_eq!(f.iter().map(|f| f.rule).collect::<Vec<_>>(), vec!["signed-off-by"]);
        assert_eq!(style_result(&f).state, CheckState::Fail);
    }

    #[test]
    fn trailing_white_space_is_found_with_its_file_and_line() {
        let p = patch(
            "a@x.org",
            "[PATCH] lib: fix b",
            &format!("Fix.\n\nSigned-off-by: A Dev <a@x.org>\n{DIFF}"),
        );
        let f = style_findings(&p);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].rule, "trailing-whitespace");
        assert_eq!(f[0].message, "f.c:2: trailing white space");
        let r = style_result(&f);
        assert_eq!(
            (r.state, r.description.as_deref()),
            (CheckState::Warning, Some("1 problem: trailing-whitespace"))
        );
    }

    #[test]
    fn space_before_tab_in_indent() {
        let d = DIFF.replace("+b \n", "+ \tb\n");
        let p = patch(
            "a@x.org",
            "[PATCH] lib: fix b",
            &format!("Fix.\n\nSigned-off-by: A Dev <a@x.org>\n{d}"),
        );
        assert_eq!(
            style_findings(&p).iter().map(|f| f.rule).collect::<Vec<_>>(),
            vec!["space-before-tab"]
        );
    }

    #[test]
    fn subject_form_and_length() {
        let long = format!("[PATCH] lib: {}", "x".repeat(80));
        let f = style_findings(&patch("a@x.org", &long, "Signed-off-by: A Dev <a@x.org>\n"));
        assert_eq!(f.iter().map(|f| f.rule).collect::<Vec<_>>(), vec!["subject-length"]);
        let f = style_findings(&patch(
            "a@x.org",
            "[PATCH] Fix the thing in the library.",
            "Signed-off-by: A Dev <a@x.org>\n",
        ));
        assert_eq!(
            f.iter().map(|f| f.rule).collect::<Vec<_>>(),
            vec!["subject-form", "subject-form"]
        );
        assert!(has_area_prefix("tools libxl: fix"));
        assert!(has_area_prefix("x86/mm: fix"));
    }

    #[test]
    fn specs_are_validated_with_the_field_named() {
        let ok = CheckSpec {
            name: "build".into(),
            builtin: None,
            script: Some("make".into()),
            paths: vec!["src/**".into()],
            timeout: 60,
            capability: Some("x86".into()),
        };
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(ok.job_kind(), "check:x86:build");
        let both = CheckSpec { builtin: Some("style".into()), ..ok.clone() };
        assert!(both.validate().unwrap_err().contains("exactly one of `builtin` or `script`"));
        let unknown = CheckSpec { builtin: Some("lint".into()), script: None, ..ok.clone() };
        assert!(unknown.validate().unwrap_err().contains("unknown builtin \"lint\""));
        let glob = CheckSpec { paths: vec!["src/[".into()], ..ok };
        assert!(glob.validate().unwrap_err().contains("path glob"));
    }
}
