//! `quire apply` and `quire worker`: the git worker from the command line.

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Args;
use quire_abi::AbiConfig;
use quire_store::{ApplyState, Store};
use quire_worker::{Worker, WorkerOptions};

use crate::{clean_msgid, exit};

#[derive(Args)]
pub struct ApplyArgs {
    /// The Message-ID of any message of the series (with or without <>).
    message_id: String,
    /// Apply on this revision of the project's tree instead of the series' own base.
    #[arg(long, value_name = "REV")]
    base: Option<String>,
}

#[derive(Args)]
pub struct WorkerArgs {
    /// Run one round (queue, fetch, apply everything due) and exit.
    #[arg(long)]
    once: bool,
    /// Name of this worker in the job table (default: host-pid).
    #[arg(long)]
    id: Option<String>,
    /// Seconds between rounds when idle.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=3600))]
    poll: u64,
    /// Seconds between fetches of a project's tree (merge detection, fresh bases).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(0..=86400))]
    fetch_every: u64,
}

/// The `[project.abi]` tables of the configuration file, by project.
fn abi_configs(data_dir: &Path) -> Result<HashMap<String, AbiConfig>> {
    let config = crate::config::load(data_dir)?;
    Ok(config.projects.into_iter().filter_map(|p| Some((p.name, p.abi?))).collect())
}

/// The `[[project.check]]` tables of the configuration file, by project.
fn check_specs(data_dir: &Path) -> Result<HashMap<String, Vec<quire_worker::checks::CheckSpec>>> {
    let config = crate::config::load(data_dir)?;
    Ok(config.projects.into_iter().map(|p| (p.name, p.checks)).collect())
}

/// Worker settings from the command line, with the mirrors under `<data-dir>/git`.
pub fn worker_options(data_dir: &Path, args: &WorkerArgs) -> Result<WorkerOptions> {
    let mut opts = WorkerOptions::new(data_dir.join("git"));
    opts.abi = abi_configs(data_dir)?;
    opts.checks = check_specs(data_dir)?;
    if let Some(id) = &args.id {
        opts.id = id.clone();
    }
    opts.poll = Duration::from_secs(args.poll);
    opts.fetch_every = Duration::from_secs(args.fetch_every);
    Ok(opts)
}

/// Options of the worker `quire serve` runs in-process.
pub fn serve_worker_options(data_dir: &Path) -> Result<WorkerOptions> {
    let mut opts = WorkerOptions::new(data_dir.join("git"));
    opts.abi = abi_configs(data_dir)?;
    opts.checks = check_specs(data_dir)?;
    Ok(opts)
}

/// `quire apply MSGID [--base REV]`: applies, stores the result, pushes the tag, prints the log.
/// Exit 0 when applied, 1 when it did not apply (or git could not run), 3 when no series has it.
pub async fn apply_cmd(store: &Store, data_dir: &Path, args: ApplyArgs) -> Result<ExitCode> {
    let id = clean_msgid(&args.message_id);
    let applied = match quire_worker::apply_series(
        store,
        &data_dir.join("git"),
        &id,
        args.base.as_deref(),
        true,
    )
    .await
    {
        Ok(a) => a,
        Err(quire_worker::Error::NoSeries(_)) => {
            eprintln!("quire: no series has a message <{id}>; find it with `quire series list`");
            return Ok(ExitCode::from(exit::NOT_FOUND));
        }
        Err(e) => bail!("cannot apply <{id}>: {e}"),
    };
    store.set_apply_result(&applied.head, &applied.result).await?;
    print!("{}", applied.result.log.as_deref().unwrap_or_default());
    for p in &applied.prerequisites {
        eprintln!("quire: applied <{p}> first (named by Based-on:)");
    }
    // The maintainers file at the base says whose approval the series needs, as the worker's.
    if let Some(project) =
        store.project_configs().await?.into_iter().find(|p| p.name == applied.project)
    {
        let recorded = quire_worker::approvals::record_maintainers(
            store,
            &data_dir.join("git"),
            &project,
            &applied.head,
            &applied.outcome.base.commit,
            &Default::default(),
        )
        .await;
        match recorded {
            Ok(Some(_)) => {
                let series = store.series(&applied.head).await?;
                if let Some(a) = series.and_then(|s| s.approvals) {
                    let names: Vec<&str> = a.awaiting.iter().map(|p| p.display()).collect();
                    if a.approved {
                        eprintln!("quire: approvals: approved ({} at {})", a.file, a.base);
                    } else {
                        eprintln!("quire: approvals: awaiting {}", names.join(", "));
                    }
                }
            }
            Ok(None) => {}
            Err(e) => eprintln!("quire: the maintainers file could not be read: {e}"),
        }
        // The range-diff with the neighbouring revisions that applied, as the worker's.
        if applied.result.state == ApplyState::Applied {
            let git_dir = data_dir.join("git");
            match quire_worker::range_diff::record_range_diffs(
                store,
                &git_dir,
                &project,
                &applied.head,
            )
            .await
            {
                Ok(0) => {}
                Ok(n) => eprintln!("quire: range-diff with {n} other revision(s) stored"),
                Err(e) => eprintln!("quire: the range-diff could not be computed: {e}"),
            }
        }
    }
    match applied.result.state {
        ApplyState::Applied => {
            let commit = applied.result.result_commit.as_deref().unwrap_or_default();
            if let Some(cfg) = abi_configs(data_dir)?.get(&applied.project) {
                let repo = quire_worker::mirror_dir(&data_dir.join("git"), &applied.project);
                let check = quire_worker::abi::run_abi_check(
                    store,
                    &repo,
                    &applied.head,
                    &applied.outcome.base.commit,
                    commit,
                    cfg,
                )
                .await?;
                print!("\n{}", check.log.as_deref().unwrap_or_default());
                eprintln!(
                    "quire: abi check: {:?}: {}",
                    check.state,
                    check.description.as_deref().unwrap_or_default()
                );
            }
            if let Some(specs) =
                check_specs(data_dir)?.get(&applied.project).filter(|s| !s.is_empty())
            {
                let project =
                    store.project_configs().await?.into_iter().find(|p| p.name == applied.project);
                let series = store.series(&applied.head).await?;
                if let (Some(project), Some(series)) = (project, series) {
                    quire_worker::checks::after_apply(
                        store,
                        &project,
                        specs,
                        &series,
                        commit,
                        applied.tag.as_deref(),
                    )
                    .await?;
                    eprintln!(
                        "quire: checks run or queued for testers: {}",
                        specs.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
                    );
                }
            }
            match &applied.tag {
                Some(tag) => {
                    eprintln!("quire: applied <{}> as {commit}, pushed as {tag}", applied.head)
                }
                None => eprintln!("quire: applied <{}> as {commit}", applied.head),
            }
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            eprintln!("quire: <{}> does not apply (log above)", applied.head);
            Ok(ExitCode::from(exit::FAILURE))
        }
    }
}

/// `quire worker`: applies series as they become complete, until interrupted (or one round with
/// `--once`).
pub async fn worker_cmd(store: &Store, data_dir: &Path, args: WorkerArgs) -> Result<ExitCode> {
    let mut worker = Worker::new(store.clone(), worker_options(data_dir, &args)?);
    if args.once {
        let stats = worker.round().await?;
        eprintln!(
            "quire: queued {}, applied {}, did not apply {}, errors {}, merged series {}",
            stats.queued,
            stats.applied,
            stats.failed_to_apply,
            stats.job_errors,
            stats.merged_series
        );
        return Ok(if stats.job_errors > 0 {
            ExitCode::from(exit::FAILURE)
        } else {
            ExitCode::SUCCESS
        });
    }
    eprintln!("quire: worker {} on {}", worker.options().id, store.target());
    worker.run(shutdown_signal()).await;
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C or SIGTERM (systemd's stop).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
