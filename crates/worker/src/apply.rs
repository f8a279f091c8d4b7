//! Applying one series: the mbox `quire am` would write, on the base the series asks for, in a
//! throwaway worktree of the project's mirror; the result pushed as a tag.

use std::path::Path;

use quire_git::{ApplyBase, ApplyOutcome, ApplyRequest, ApplyResult as GitResult};
use quire_series::am::AmOptions;
use quire_store::{ApplyResult, ApplyState, ProjectConfig, SeriesDetail, Store};

use crate::{Error, Result, blocking, open_mirror};

/// `Based-on:` chains longer than this are cut (and a loop is cut at once).
const MAX_CHAIN: usize = 8;

/// What applying a series gave, as stored and as git said it.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The series head (the series' canonical Message-ID).
    pub head: String,
    pub project: String,
    pub outcome: ApplyOutcome,
    /// What is (or is to be) stored for the series.
    pub result: ApplyResult,
    /// `refs/tags/<prefix>/<id>` when pushed to the project's mirror.
    pub tag: Option<String>,
    /// Series named by `Based-on:` that had to be applied first (their results are stored).
    pub prerequisites: Vec<String>,
}

/// Applies the series `message_id` belongs to on its base (`base_override` wins, as `quire apply
/// --base REV` says), pushing the result as a tag when the project has a push mirror. Series
/// named by `Based-on:` that have no result yet are applied (and stored) first. The result of
/// this series is returned, not stored: the caller stores it (with its job, atomically).
pub async fn apply_series(
    store: &Store,
    git_dir: &Path,
    message_id: &str,
    base_override: Option<&str>,
    fetch: bool,
) -> Result<Applied> {
    let series =
        store.series(message_id).await?.ok_or_else(|| Error::NoSeries(message_id.to_string()))?;
    let project = project_config(store, &series.project).await?;
    let mirror = open_mirror(git_dir, &project, fetch).await?;
    let mut chain = vec![series.message_id.clone()];
    apply_in_chain(store, &mirror, &project, series, base_override, &mut chain).await
}

async fn apply_in_chain(
    store: &Store,
    mirror: &quire_git::Mirror,
    project: &ProjectConfig,
    series: SeriesDetail,
    base_override: Option<&str>,
    chain: &mut Vec<String>,
) -> Result<Applied> {
    let head = series.message_id.clone();
    let am = store
        .am_mbox(&head, false, &AmOptions::default())
        .await?
        .ok_or_else(|| Error::NoSeries(head.clone()))?;
    let (base_commit, based_on_ids) = series_bases(store, &series).await?;
    let mut notes = Vec::new();
    let based_on_ids = based_on_ids.unwrap_or_default();
    if based_on_ids.len() > 1 {
        notes.push(format!(
            "several Based-on: lines; only the first is used as the base, not {}",
            based_on_ids[1..].iter().map(|i| format!("<{i}>")).collect::<Vec<_>>().join(", ")
        ));
    }
    let based_on_id = based_on_ids.first().cloned();
    let mut prerequisites = Vec::new();
    let mut based_on = None;
    if let (Some(id), None) = (&based_on_id, base_override) {
        match Box::pin(based_on_result(store, mirror, project, id, chain, &mut prerequisites))
            .await?
        {
            Ok(base) => based_on = Some(base),
            Err(why) => notes.push(format!("Based-on: <{id}>: {why}")),
        }
    }
    if !am.missing.is_empty() {
        notes.push(format!(
            "the series is incomplete: patch{} {} missing",
            if am.missing.len() == 1 { "" } else { "es" },
            am.missing.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(", ")
        ));
    }
    let request = ApplyRequest {
        mbox: am.mbox,
        base_commit,
        based_on,
        base_override: base_override.map(str::to_string),
    };
    let m = mirror.clone();
    let outcome = blocking(move || Ok(quire_git::apply(&m, &request)?)).await?;
    let tag = push_result(mirror, project, &head, &outcome, &mut notes).await;
    let result = stored_result(project, &outcome, &notes, tag.as_deref());
    Ok(Applied { head, project: project.name.clone(), outcome, result, tag, prerequisites })
}

/// The project as configured, or why it cannot be applied to.
async fn project_config(store: &Store, name: &str) -> Result<ProjectConfig> {
    let project = store
        .project_configs()
        .await?
        .into_iter()
        .find(|p| p.name == name)
        .ok_or_else(|| Error::NoProject(name.to_string()))?;
    if project.git_url.is_none() {
        return Err(Error::NoTree(name.to_string()));
    }
    Ok(project)
}

/// `base-commit:` and `Based-on:` of the series: from the cover letter, else from the first patch
/// that has them (re-read from the raw mail, the truth).
async fn series_bases(
    store: &Store,
    series: &SeriesDetail,
) -> Result<(Option<String>, Option<Vec<String>>)> {
    let ids = series
        .cover_letter
        .iter()
        .map(|c| c.message_id.as_str())
        .chain(series.patches.iter().map(|p| p.message_id.as_str()));
    let (mut base_commit, mut based_on) = (None, None);
    for id in ids {
        let Some(raw) = store.raw(id).await? else { continue };
        let parsed = quire_mail::parse(&raw);
        base_commit = base_commit.or(parsed.base_commit);
        // Several `Based-on:` lines: the first names the base (see the log note for the rest).
        if based_on.is_none() && !parsed.based_on.is_empty() {
            based_on = Some(parsed.based_on);
        }
        if base_commit.is_some() && based_on.is_some() {
            break;
        }
    }
    if based_on.is_none() {
        based_on = based_on_in_replies(store, series).await?;
    }
    Ok((base_commit, based_on))
}

/// `Based-on:` that the submitter gave later, in a reply to the series' head (Patchew takes it
/// there too: "this needs my other series first", said after posting). Only the submitter's
/// replies count: a reviewer's `Based-on:` is a suggestion, not the series' base.
async fn based_on_in_replies(store: &Store, series: &SeriesDetail) -> Result<Option<Vec<String>>> {
    let submitter = series.submitter.email.to_lowercase();
    let thread = store.thread(&series.message_id).await?;
    Ok(thread
        .into_iter()
        .filter(|m| m.in_reply_to.as_deref() == Some(series.message_id.as_str()))
        .filter(|m| m.from.email.to_lowercase() == submitter)
        .filter(|m| m.role.is_none_or(|r| r == quire_series::Role::Reply))
        .find(|m| !m.based_on.is_empty())
        .map(|m| m.based_on))
}

/// The applied result of the series named by `Based-on:`, applying it first when it has none.
/// The inner `Err` is why it cannot be used (then the next base in line is taken).
async fn based_on_result(
    store: &Store,
    mirror: &quire_git::Mirror,
    project: &ProjectConfig,
    id: &str,
    chain: &mut Vec<String>,
    prerequisites: &mut Vec<String>,
) -> Result<std::result::Result<ApplyBase, String>> {
    let Some(dep) = store.series(id).await? else {
        return Ok(Err("no such series is stored".into()));
    };
    if chain.contains(&dep.message_id) {
        return Ok(Err("the Based-on: chain loops".into()));
    }
    if chain.len() >= MAX_CHAIN {
        return Ok(Err(format!("the Based-on: chain is longer than {MAX_CHAIN}")));
    }
    let label = format!("<{}>", dep.message_id);
    let existing = store.apply_result(&dep.message_id).await?;
    let result = match existing {
        Some(r) if r.state != ApplyState::Pending => r,
        _ => {
            chain.push(dep.message_id.clone());
            let head = dep.message_id.clone();
            let applied =
                Box::pin(apply_in_chain(store, mirror, project, dep, None, chain)).await?;
            chain.pop();
            // Not this worker's job: another worker may hold that series' own job and save
            // its result; the first result saved stays (and is what this series builds on).
            let saved = store.set_apply_result_unless_done(&head, &applied.result).await?;
            prerequisites.push(head);
            prerequisites.extend(applied.prerequisites);
            saved
        }
    };
    match (result.state, result.result_commit) {
        (ApplyState::Applied, Some(commit)) => Ok(Ok(ApplyBase { commit, label })),
        _ => Ok(Err("that series did not apply".into())),
    }
}

/// Pushes an applied series to the project's mirror as `<prefix>/<message-id>`; a push that fails
/// is noted in the log (the series did apply).
async fn push_result(
    mirror: &quire_git::Mirror,
    project: &ProjectConfig,
    head: &str,
    outcome: &ApplyOutcome,
    notes: &mut Vec<String>,
) -> Option<String> {
    let commit = outcome.applied_commit()?.to_string();
    let push_url = project.mirror_url.clone().filter(|u| !u.trim().is_empty())?;
    let prefix = project
        .tag_prefix
        .clone()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "quire".into());
    let (m, head) = (mirror.clone(), head.to_string());
    let url = push_url.clone();
    match blocking(move || Ok(quire_git::push_tag(&m, &url, &prefix, &head, &commit)?)).await {
        Ok(tag) => {
            notes.push(format!("pushed {tag} to {push_url}"));
            Some(tag)
        }
        Err(e) => {
            notes.push(format!("pushing the result to {push_url} failed: {e}"));
            tracing::warn!(error = %e, "push failed");
            None
        }
    }
}

/// What the store keeps: state, base, result, where to get it, and the full log with our notes
/// (which base and why, what was pushed) on top.
fn stored_result(
    project: &ProjectConfig,
    outcome: &ApplyOutcome,
    notes: &[String],
    tag: Option<&str>,
) -> ApplyResult {
    let mut log = format!("quire: {}\n", outcome.base.reason);
    for n in notes {
        log.push_str(&format!("quire: {n}\n"));
    }
    match &outcome.result {
        GitResult::Applied { commits, .. } => {
            log.push_str(&format!("quire: applied {commits} commit(s)\n"))
        }
        GitResult::Failed { patch: Some(p), message } => log.push_str(&format!(
            "quire: patch {} failed to apply: {}\n{message}\n",
            p.number.unwrap_or(p.index),
            p.subject
        )),
        GitResult::Failed { patch: None, message } => {
            log.push_str(&format!("quire: git am failed: {message}\n"))
        }
    }
    log.push('\n');
    log.push_str(&outcome.log);
    let (state, failed_patch) = match &outcome.result {
        GitResult::Applied { .. } => (ApplyState::Applied, None),
        GitResult::Failed { patch, .. } => {
            (ApplyState::Failed, patch.as_ref().map(|p| p.number.unwrap_or(p.index)))
        }
    };
    // Where the result can be fetched: the push mirror when the tag was pushed there.
    let tree_url = match tag {
        Some(_) => project.mirror_url.clone(),
        None => None,
    };
    ApplyResult {
        state,
        base: Some(outcome.base.commit.clone()),
        result_commit: outcome.applied_commit().map(str::to_string),
        tree_url,
        log: Some(log),
        failed_patch,
        updated: chrono::Utc::now().timestamp(),
    }
}
