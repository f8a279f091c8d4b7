//! quire-notify: reports. Every state change is an event in the store; the [`Notifier`] turns
//! the events after its cursor into deliveries (mail through SMTP, signed webhooks), each
//! recorded in the store before it is sent, so nothing is sent twice for one event — across
//! restarts and with any number of notifier processes. The Atom feed of events is served by
//! quire-web from the same events.
//!
//! A round: (1) plan: read the events after the cursor, write one delivery row per (event,
//! channel, target) the configuration asks for, and move the cursor, in one transaction;
//! (2) deliver: claim due rows one at a time (lease; `SKIP LOCKED` on PostgreSQL), send, and
//! record done / again later (exponential backoff) / failed.
//!
//! The cursor trails the newest events by [`NotifyOptions::planning_lag`]: on PostgreSQL an
//! event with a lower id can commit after one with a higher id, so events that young are read
//! again next round (planning twice adds nothing: rows are keyed by event, channel, target).
//! On its very first round a notifier starts after the newest event: history is not mailed.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use quire_store::{Delivery, DeliveryOutcome, EMAIL, Event, NewDelivery, Store, WEBHOOK};

pub mod config;
pub mod context;
pub mod email;
pub mod template;
pub mod webhook;

pub use config::{
    EVENTS, ReportRule, SmtpConfig, WebhookRule, event_names, validate_project, validate_smtp,
};

/// The target of a mail delivery: the rule's `to` entries it covers, as a JSON array.
pub fn email_target(to: &[String]) -> String {
    serde_json::Value::from(to.to_vec()).to_string()
}

/// The store cursor of planned events.
pub const CURSOR: &str = "notify:planned";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] quire_store::Error),
    #[error("{0}")]
    Config(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One project's reports and webhooks.
#[derive(Debug, Clone, Default)]
pub struct ProjectRules {
    pub list_addresses: Vec<String>,
    pub reports: Vec<ReportRule>,
    pub webhooks: Vec<WebhookRule>,
}

/// What the notifier delivers, and where links point.
#[derive(Debug, Clone, Default)]
pub struct NotifyConfig {
    pub smtp: Option<SmtpConfig>,
    /// The public base URL of the web site (series links).
    pub base_url: String,
    pub projects: HashMap<String, ProjectRules>,
}

impl NotifyConfig {
    /// Whether anything is to be delivered at all.
    pub fn is_empty(&self) -> bool {
        self.projects.values().all(|p| p.reports.is_empty() && p.webhooks.is_empty())
    }
}

#[derive(Debug, Clone)]
pub struct NotifyOptions {
    /// Name in the deliveries table (default: host-pid).
    pub id: String,
    pub poll: Duration,
    /// Seconds a claimed delivery is held.
    pub lease_secs: i64,
    /// First retry after this many seconds, doubling each time, at most an hour.
    pub retry_base_secs: i64,
    /// Attempts before a delivery fails for good.
    pub max_attempts: u32,
    /// Events younger than this are planned but the cursor stays before them.
    pub planning_lag: Duration,
    /// Time limit of a webhook POST.
    pub http_timeout: Duration,
}

impl Default for NotifyOptions {
    fn default() -> Self {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default();
        NotifyOptions {
            id: format!(
                "notify-{}-{}",
                if host.is_empty() { "host" } else { &host },
                std::process::id()
            ),
            poll: Duration::from_secs(5),
            lease_secs: 300,
            retry_base_secs: 30,
            max_attempts: 8,
            planning_lag: Duration::from_secs(120),
            http_timeout: Duration::from_secs(15),
        }
    }
}

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundStats {
    pub planned: u64,
    pub mailed: u64,
    pub posted: u64,
    /// Attempts that failed and will be tried again.
    pub retrying: u64,
    /// Deliveries given up.
    pub failed: u64,
}

pub struct Notifier {
    store: Store,
    config: NotifyConfig,
    options: NotifyOptions,
    mailer: Option<email::Mailer>,
    /// Webhook secrets by URL.
    secrets: HashMap<(String, String), Vec<u8>>,
}

impl Notifier {
    /// Checks the SMTP settings and reads the secrets' files; an error names what is wrong.
    pub fn new(store: Store, config: NotifyConfig, options: NotifyOptions) -> Result<Notifier> {
        let mailer =
            config.smtp.as_ref().map(email::Mailer::new).transpose().map_err(Error::Config)?;
        let mut secrets = HashMap::new();
        for (name, p) in &config.projects {
            for w in &p.webhooks {
                let secret = match (&w.secret, &w.secret_file) {
                    (Some(s), _) => s.as_bytes().to_vec(),
                    (None, Some(f)) => std::fs::read_to_string(f)
                        .map_err(|e| {
                            Error::Config(format!(
                                "project `{name}`: webhook {}: secret_file {}: {e}",
                                w.url,
                                f.display()
                            ))
                        })?
                        .trim_end()
                        .as_bytes()
                        .to_vec(),
                    (None, None) => {
                        return Err(Error::Config(format!(
                            "project `{name}`: webhook {} has no secret",
                            w.url
                        )));
                    }
                };
                secrets.insert((name.clone(), w.url.clone()), secret);
            }
        }
        Ok(Notifier { store, config, options, mailer, secrets })
    }

    pub fn options(&self) -> &NotifyOptions {
        &self.options
    }

    /// Runs rounds until `shutdown` completes; errors are logged and the next round tries again.
    pub async fn run(&mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.round().await {
                Ok(s) if s != RoundStats::default() => tracing::info!(?s, "notify round"),
                Ok(_) => {}
                Err(e) => tracing::warn!("notify round: {e}"),
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(self.options.poll) => {}
            }
        }
    }

    /// Plans the new events, then delivers everything due.
    pub async fn round(&mut self) -> Result<RoundStats> {
        let mut stats = RoundStats { planned: self.plan().await?, ..Default::default() };
        let channels: Vec<&str> = [(self.mailer.is_some(), EMAIL), (true, WEBHOOK)]
            .into_iter()
            .filter(|c| c.0)
            .map(|c| c.1)
            .collect();
        while let Some(d) =
            self.store.claim_delivery(&self.options.id, self.options.lease_secs, &channels).await?
        {
            let outcome = self.deliver(&d).await;
            match &outcome {
                DeliveryOutcome::Done if d.channel == EMAIL => stats.mailed += 1,
                DeliveryOutcome::Done => stats.posted += 1,
                DeliveryOutcome::Retry { error, .. } => {
                    tracing::warn!(
                        delivery = d.id,
                        event = d.event.id,
                        "{} to {}: {error}; trying again later",
                        d.channel,
                        d.target
                    );
                    stats.retrying += 1;
                }
                DeliveryOutcome::Failed { error } => {
                    tracing::warn!(
                        delivery = d.id,
                        event = d.event.id,
                        "{} to {}: {error}; giving up",
                        d.channel,
                        d.target
                    );
                    stats.failed += 1;
                }
            }
            if !self.store.finish_delivery(d.id, &self.options.id, &outcome).await? {
                tracing::warn!(delivery = d.id, "lost the delivery's lease before recording it");
            }
        }
        Ok(stats)
    }

    /// Writes the deliveries of the events after the cursor; returns how many rows were new.
    async fn plan(&mut self) -> Result<u64> {
        let Some(mut after) = self.store.cursor(CURSOR).await?.and_then(|c| c.parse::<i64>().ok())
        else {
            let last = self.store.last_event_id().await?;
            self.store.plan_deliveries(&[], CURSOR, last).await?;
            tracing::info!("notifier starts after event {last}: earlier events are not reported");
            return Ok(0);
        };
        let lag = i64::try_from(self.options.planning_lag.as_secs()).unwrap_or(i64::MAX);
        let mut added = 0;
        let mut settled = true;
        loop {
            let events = self.store.events(after, 500).await?;
            let Some(last) = events.last().map(|e| e.id) else { break };
            let cutoff = chrono::Utc::now().timestamp().saturating_sub(lag);
            let mut cursor = None;
            for e in &events {
                settled &= e.created <= cutoff;
                if settled {
                    cursor = Some(e.id);
                }
            }
            let rows: Vec<NewDelivery> =
                events.iter().flat_map(|e| self.deliveries_for(e)).collect();
            let current =
                self.store.cursor(CURSOR).await?.and_then(|c| c.parse().ok()).unwrap_or(0);
            added += self.store.plan_deliveries(&rows, CURSOR, cursor.unwrap_or(current)).await?;
            after = last;
            if events.len() < 500 {
                break;
            }
        }
        Ok(added)
    }

    /// The deliveries the configuration asks for on one event.
    pub fn deliveries_for(&self, e: &Event) -> Vec<NewDelivery> {
        let Some(rules) = e.project.as_ref().and_then(|p| self.config.projects.get(p)) else {
            return Vec::new();
        };
        let mut out: Vec<NewDelivery> = Vec::new();
        let mut push = |channel: &str, target: String| {
            if !out.iter().any(|d| d.channel == channel && d.target == target) {
                out.push(NewDelivery { event_id: e.id, channel: channel.to_string(), target });
            }
        };
        // A recipient named by several rules gets the first one's mail only: one mail per event.
        let mut covered: Vec<String> = Vec::new();
        for r in rules.reports.iter().filter(|r| config::matches(&r.event, e)) {
            let to: Vec<String> =
                r.to.iter()
                    .filter(|t| !covered.iter().any(|c| c.eq_ignore_ascii_case(t)))
                    .cloned()
                    .collect();
            covered.extend(to.iter().cloned());
            if !to.is_empty() {
                push(EMAIL, email_target(&to));
            }
        }
        for w in &rules.webhooks {
            if w.events.is_empty() || w.events.iter().any(|n| config::matches(n, e)) {
                push(WEBHOOK, w.url.clone());
            }
        }
        out
    }

    fn retry(&self, d: &Delivery, error: String) -> DeliveryOutcome {
        if d.attempts >= self.options.max_attempts {
            return DeliveryOutcome::Failed {
                error: format!("{error} (after {} attempts)", d.attempts),
            };
        }
        let exp = d.attempts.saturating_sub(1).min(20);
        let wait = self.options.retry_base_secs.saturating_mul(1 << exp).min(3600);
        DeliveryOutcome::Retry { error, at: chrono::Utc::now().timestamp() + wait }
    }

    async fn deliver(&self, d: &Delivery) -> DeliveryOutcome {
        let project = d.event.project.clone().unwrap_or_default();
        let Some(rules) = self.config.projects.get(&project) else {
            return DeliveryOutcome::Failed {
                error: format!("project `{project}` has no reports configured any more"),
            };
        };
        let ctx = match context::build(&self.store, &d.event, &self.config.base_url).await {
            Ok(c) => c,
            Err(e) => return self.retry(d, format!("reading the event's series: {e}")),
        };
        if d.channel == EMAIL {
            let to: Vec<String> = serde_json::from_str(&d.target).unwrap_or_default();
            let rule = rules.reports.iter().find(|r| {
                config::matches(&r.event, &d.event) && to.iter().all(|t| r.to.contains(t))
            });
            let (Some(mailer), Some(rule), false) = (&self.mailer, rule, to.is_empty()) else {
                return DeliveryOutcome::Failed {
                    error: "no [smtp] section or no report rule for it any more".into(),
                };
            };
            let domain =
                mailer.from.rsplit('@').next().unwrap_or("quire").trim_end_matches('>').to_string();
            let message_id = format!("quire.event-{}.delivery-{}@{domain}", d.event.id, d.id);
            let message = match email::compose(
                rule,
                &to,
                &ctx,
                &mailer.from,
                &rules.list_addresses,
                &message_id,
            ) {
                Ok(m) => m,
                Err(e) => return DeliveryOutcome::Failed { error: e },
            };
            let mailer = mailer.clone();
            match tokio::task::spawn_blocking(move || mailer.send(&message)).await {
                Ok(Ok(())) => DeliveryOutcome::Done,
                Ok(Err(e)) if e.permanent => DeliveryOutcome::Failed { error: e.message },
                Ok(Err(e)) => self.retry(d, e.message),
                Err(e) => self.retry(d, format!("the sending task failed: {e}")),
            }
        } else {
            let Some(secret) = self.secrets.get(&(project.clone(), d.target.clone())).cloned()
            else {
                return DeliveryOutcome::Failed {
                    error: "the webhook is no longer configured".into(),
                };
            };
            let names = config::event_names(&d.event);
            let body = webhook::body(
                d.id,
                &d.event,
                &names,
                ctx.values.get("series_url").map(String::as_str),
            );
            let (url, kind, id, timeout) =
                (d.target.clone(), d.event.kind.clone(), d.id, self.options.http_timeout);
            match tokio::task::spawn_blocking(move || {
                webhook::post(&url, &secret, &body, &kind, id, timeout)
            })
            .await
            {
                Ok(Ok(())) => DeliveryOutcome::Done,
                Ok(Err(e)) if e.permanent => DeliveryOutcome::Failed { error: e.message },
                Ok(Err(e)) => self.retry(d, e.message),
                Err(e) => self.retry(d, format!("the posting task failed: {e}")),
            }
        }
    }
}
