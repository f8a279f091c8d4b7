//! `quire notify`: delivers reports (mail, webhooks) for the store's events; `quire serve` runs
//! the same notifier in-process.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;
use quire_notify::{Notifier, NotifyConfig, NotifyOptions, ProjectRules};
use quire_store::Store;

use crate::exit;

#[derive(Args)]
pub struct NotifyArgs {
    /// Run one round (plan the new events, deliver everything due) and exit.
    #[arg(long)]
    once: bool,
    /// Print the deliveries by channel and state, and exit.
    #[arg(long, conflicts_with = "once")]
    status: bool,
    /// The public base URL of the web site, for the links in reports.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    base_url: String,
    /// Name of this notifier in the deliveries table (default: notify-host-pid).
    #[arg(long)]
    id: Option<String>,
    /// Seconds between rounds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    poll: u64,
    /// Seconds before the first retry of a failed delivery (doubling each time, at most an hour).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(i64).range(0..=3600))]
    retry_after: i64,
}

/// The reports, webhooks and SMTP settings of the configuration file.
pub fn notify_config(data_dir: &Path, base_url: &str) -> Result<NotifyConfig> {
    let config = crate::config::load(data_dir)?;
    let projects = config
        .projects
        .into_iter()
        .map(|p| {
            (
                p.name,
                ProjectRules {
                    list_addresses: p.list_address,
                    reports: p.reports,
                    webhooks: p.webhooks,
                },
            )
        })
        .collect();
    Ok(NotifyConfig {
        smtp: config.smtp,
        base_url: base_url.trim_end_matches('/').to_string(),
        projects,
    })
}

/// The notifier `quire serve` runs, when the configuration asks for any report.
pub fn serve_notifier(store: &Store, data_dir: &Path, base_url: &str) -> Result<Option<Notifier>> {
    let config = notify_config(data_dir, base_url)?;
    if config.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        Notifier::new(store.clone(), config, NotifyOptions::default())
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    ))
}

pub async fn notify_cmd(store: &Store, data_dir: &Path, args: NotifyArgs) -> Result<ExitCode> {
    if args.status {
        for c in store.delivery_counts().await? {
            println!("{}\t{}\t{}", c.channel, c.state, c.count);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let config = notify_config(data_dir, &args.base_url)?;
    if config.is_empty() {
        eprintln!(
            "quire: nothing to notify: add [[project.report]] or [[project.webhook]] tables to {}",
            crate::config::path(data_dir).display()
        );
        return Ok(ExitCode::from(exit::FAILURE));
    }
    let mut options = NotifyOptions {
        poll: Duration::from_secs(args.poll),
        retry_base_secs: args.retry_after,
        ..NotifyOptions::default()
    };
    if let Some(id) = args.id {
        options.id = id;
    }
    let mut notifier =
        Notifier::new(store.clone(), config, options).map_err(|e| anyhow::anyhow!("{e}"))?;
    if args.once {
        let s = notifier.round().await?;
        eprintln!(
            "quire: planned {}, mailed {}, posted {}, to retry {}, failed {}",
            s.planned, s.mailed, s.posted, s.retrying, s.failed
        );
        return Ok(if s.failed > 0 { ExitCode::from(exit::FAILURE) } else { ExitCode::SUCCESS });
    }
    eprintln!("quire: notifier {} on {}", notifier.options().id, store.target());
    notifier.run(crate::worker::shutdown_signal()).await;
    Ok(ExitCode::SUCCESS)
}
