//! Approvals (issue 29) as the store keeps them: a project's rule, the sections of the
//! maintainers file that concern a series (written by the worker, which reads the file at the
//! commit the series applies on), and what they say of the series (derived: written in the
//! transaction that assembles it, so new trailers move it, and rebuilt by a reindex); and the
//! review counts of every series, for the list lines. SQL in `sql/approvals.rs`.

use quire_mail::Address;
use serde::{Deserialize, Serialize};

pub use quire_maintainers::{Approvals, Rule, RuleKind, SeriesMaintainers};

use crate::{Page, Pool, Result, SeriesSummary, Store};

/// A project's `[project.approvals]` (docs/config.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApprovalConfig {
    /// Work approvals out for the project's series (it needs a tree: `git` and `branch`).
    pub enabled: bool,
    /// The maintainers file, relative to the tree's root.
    pub maintainers_file: String,
    pub rule: RuleKind,
    pub most_specific: bool,
    pub count: Vec<String>,
    /// A submitter who is a maintainer of a file approves it.
    pub submitter: bool,
}

impl Default for ApprovalConfig {
    fn default() -> ApprovalConfig {
        let rule = Rule::default();
        ApprovalConfig {
            enabled: true,
            maintainers_file: "MAINTAINERS".into(),
            rule: rule.rule,
            most_specific: rule.most_specific,
            count: rule.count,
            submitter: rule.submitter,
        }
    }
}

impl ApprovalConfig {
    pub fn rule(&self) -> Rule {
        Rule {
            rule: self.rule,
            most_specific: self.most_specific,
            count: self.count.clone(),
            submitter: self.submitter,
        }
    }

    pub(crate) fn counts(&self, tag: &str) -> bool {
        self.count.iter().any(|c| c.trim().eq_ignore_ascii_case(tag.trim()))
    }
}

/// Acked-by, Reviewed-by and Tested-by given to a series, summed over its patches (each
/// patch's own and those its replies and the cover letter's replies gave it, as Patchwork
/// counts a patch's tags).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewCounts {
    pub acked: u32,
    pub reviewed: u32,
    pub tested: u32,
}

/// The approval state a list line shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalLine {
    pub approved: bool,
    /// Whose approval would do for what is missing, in the order the series' files list them.
    pub awaiting: Vec<Address>,
}

/// One person trailer given to one patch, as kept to work the approvals out again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GivenTrailer {
    pub(crate) patch: u32,
    pub(crate) tag: String,
    pub(crate) name: String,
    pub(crate) email: String,
}

impl GivenTrailer {
    pub(crate) fn given(&self) -> quire_maintainers::Given {
        quire_maintainers::Given {
            patch: self.patch,
            tag: self.tag.clone(),
            person: quire_maintainers::Person::new(&self.name, &self.email),
        }
    }
}

/// Lowercased `name <email>` (as the search keeps people), or the name alone.
pub(crate) fn person_text(p: &quire_maintainers::Person) -> String {
    let (name, email) = (p.name.trim().to_lowercase(), p.email.trim().to_lowercase());
    match (name.is_empty(), email.is_empty()) {
        (_, true) => name,
        (true, false) => format!("<{email}>"),
        (false, false) => format!("{name} <{email}>"),
    }
}

impl Store {
    /// Stores `project`'s approval settings; when they differ from those stored, works out the
    /// approvals of its series again (and marks their pages changed). Returns how many series
    /// were worked out again.
    pub async fn set_project_approvals(
        &self,
        project: &str,
        config: &ApprovalConfig,
    ) -> Result<u64> {
        on_backend!(self.pool, |p, m| m::approvals::set_project_approvals(p, project, config).await)
    }

    /// `project`'s approval settings (the defaults when none were stored).
    pub async fn project_approvals(&self, project: &str) -> Result<ApprovalConfig> {
        on_backend!(self.pool, |p, m| m::approvals::project_approvals(p, project).await)
    }

    /// Stores the sections of the maintainers file that concern the series headed by `head`
    /// (the worker reads it at the commit the series applies on) and works its approvals out,
    /// in one transaction that marks the series' page changed.
    pub async fn set_series_maintainers(&self, head: &str, map: &SeriesMaintainers) -> Result<()> {
        on_backend!(self.pool, |p, m| m::approvals::set_series_maintainers(p, head, map).await)
    }

    /// What [`Store::set_series_maintainers`] stored for the series headed by `head`.
    pub async fn series_maintainers(&self, head: &str) -> Result<Option<SeriesMaintainers>> {
        on_backend!(self.pool, |p, m| m::approvals::series_maintainers(p, head).await)
    }

    /// The current series of `project` awaiting the approval of `email` (a maintainer of files
    /// they touch, none of whose maintainers approved them yet), oldest first.
    pub async fn approval_queue(
        &self,
        project: &str,
        email: &str,
        page: u32,
        per_page: u32,
    ) -> Result<Page<SeriesSummary>> {
        let mut found = on_backend!(self.pool, |p, m| m::approvals::approval_queue(
            p, project, email, page, per_page
        )
        .await)?;
        self.fill_review_lines(&mut found.items).await?;
        Ok(found)
    }

    /// Sets [`SeriesSummary::reviews`] and [`SeriesSummary::approval`] of a page of series, in
    /// two statements ([`Store::series_list`] and the searches do it for their pages).
    pub async fn fill_review_lines(&self, items: &mut [SeriesSummary]) -> Result<()> {
        on_backend!(self.pool, |p, m| m::approvals::fill_review_lines(p, items).await)
    }
}
