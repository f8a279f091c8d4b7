//! The built-in `abi` check, run on an applied series: the C layouts of the public headers the
//! series touches, before (its base) and after (its result), per target and macro set.

use quire_abi::{AbiConfig, Report};
use quire_store::{CheckState, NewCheck, Store};

use crate::{Result, blocking};

/// The name the check is stored under.
pub const CHECK_NAME: &str = "abi";

/// Runs the check between `base` and `result` in the mirror at `repo` and stores it on the
/// series `head`. A check that cannot run (no clang, bad config) is stored as `error` with why.
pub async fn run_abi_check(
    store: &Store,
    repo: &std::path::Path,
    head: &str,
    base: &str,
    result: &str,
    cfg: &AbiConfig,
) -> Result<NewCheck> {
    let (repo, base_c, result_c, cfg) =
        (repo.to_path_buf(), base.to_string(), result.to_string(), cfg.clone());
    let report =
        blocking(move || Ok(quire_abi::check_revisions(&repo, &base_c, &result_c, &cfg))).await?;
    let check = match report {
        Ok(report) => check_of(&report),
        Err(e) => NewCheck {
            name: CHECK_NAME.into(),
            state: CheckState::Error,
            url: None,
            description: Some("the ABI check could not run".into()),
            log: Some(format!("{e}\n")),
        },
    };
    store.add_check(head, &check).await?;
    Ok(check)
}

/// The verdict: fail when a layout breaks on some target, warning when layouts change without
/// breaking (or a header does not compile), pass otherwise; the report's text is the log.
pub fn check_of(report: &Report) -> NewCheck {
    let changed =
        report.configurations.iter().any(|c| c.has_layout_change() || !c.failures.is_empty());
    let (state, description) = if report.headers.is_empty() {
        (CheckState::Pass, "no public header touched".to_string())
    } else if report.is_breaking() {
        let mut on: Vec<String> = Vec::new();
        for c in report.configurations.iter().filter(|c| c.is_breaking()) {
            let name = if c.defines.is_empty() {
                c.target.name.clone()
            } else {
                format!("{} {}", c.target.name, c.defines.join(" "))
            };
            if !on.contains(&name) {
                on.push(name);
            }
        }
        (CheckState::Fail, format!("breaking ABI change on {}", on.join(", ")))
    } else if changed {
        (CheckState::Warning, "layout changes, none breaking".to_string())
    } else {
        (CheckState::Pass, "no layout change".to_string())
    };
    NewCheck {
        name: CHECK_NAME.into(),
        state,
        url: None,
        description: Some(description),
        log: Some(report.to_text()),
    }
}
