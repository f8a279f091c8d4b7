//! What the notifier (crates/notify) delivers for events: one row per (event, channel, target),
//! so an event reaches a target at most once, across restarts and any number of notifier
//! processes.
//!
//! The notifier *plans* deliveries for the events after its cursor ([`Store::plan_deliveries`]:
//! rows and cursor in one transaction, a row that exists is left alone), then *claims* one due
//! row at a time ([`Store::claim_delivery`]: a lease, `FOR UPDATE SKIP LOCKED` on PostgreSQL),
//! sends, and *finishes* it ([`Store::finish_delivery`]: done, again later, or failed) only while
//! it still holds it.
//!
//! A mail whose sender died while sending (its lease ran out in state `sending`) is not sent
//! again: the SMTP server may have taken it already, and a second copy on a list is worse than
//! a missing one. It is marked failed with that reason. A webhook in the same case is posted
//! again (receivers get the delivery id in a header to notice repeats).

use crate::{Event, Pool, Result, Store};

/// The email channel: target is the recipients, comma-separated.
pub const EMAIL: &str = "email";
/// The webhook channel: target is the URL.
pub const WEBHOOK: &str = "webhook";

/// A delivery to plan for an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDelivery {
    pub event_id: i64,
    pub channel: String,
    pub target: String,
}

/// A claimed delivery, with its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i64,
    pub event: Event,
    pub channel: String,
    pub target: String,
    /// Claims so far, this one included.
    pub attempts: u32,
}

/// How sending went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Done,
    /// Try again at this time (unix seconds).
    Retry {
        error: String,
        at: i64,
    },
    /// Give up.
    Failed {
        error: String,
    },
}

/// A delivery as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryInfo {
    pub id: i64,
    pub event_id: i64,
    pub channel: String,
    pub target: String,
    /// pending, sending, done, failed.
    pub state: String,
    pub attempts: u32,
    pub next_attempt: i64,
    pub last_error: Option<String>,
}

/// Deliveries by channel and state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DeliveryCount {
    pub channel: String,
    pub state: String,
    pub count: u64,
}

impl Store {
    /// Records `rows` (a row that exists is left as it is) and moves cursor `cursor_key` to
    /// `cursor` (never backwards), in one transaction. Returns how many rows were new.
    pub async fn plan_deliveries(
        &self,
        rows: &[NewDelivery],
        cursor_key: &str,
        cursor: i64,
    ) -> Result<u64> {
        on_backend!(self.pool, |p, m| m::deliveries::plan(p, rows, cursor_key, cursor).await)
    }

    /// Claims the oldest due delivery for `lease_secs` (on `channels`, or any when empty).
    /// Mails left in `sending` by a notifier that died are marked failed first (see the module
    /// documentation).
    pub async fn claim_delivery(
        &self,
        worker: &str,
        lease_secs: i64,
        channels: &[&str],
    ) -> Result<Option<Delivery>> {
        on_backend!(self.pool, |p, m| m::deliveries::claim(p, worker, lease_secs, channels).await)
    }

    /// Records how a claimed delivery went; false (nothing recorded) when `worker` no longer
    /// holds it.
    pub async fn finish_delivery(
        &self,
        id: i64,
        worker: &str,
        outcome: &DeliveryOutcome,
    ) -> Result<bool> {
        on_backend!(self.pool, |p, m| m::deliveries::finish(p, id, worker, outcome).await)
    }

    /// The deliveries of one event.
    pub async fn deliveries_of_event(&self, event_id: i64) -> Result<Vec<DeliveryInfo>> {
        on_backend!(self.pool, |p, m| m::deliveries::of_event(p, event_id).await)
    }

    /// Deliveries by channel and state (for `quire notify --status`).
    pub async fn delivery_counts(&self) -> Result<Vec<DeliveryCount>> {
        on_backend!(self.pool, |p, m| m::deliveries::counts(p).await)
    }

    /// The id of the newest event (0 when there is none).
    pub async fn last_event_id(&self) -> Result<i64> {
        on_backend!(self.pool, |p, m| m::deliveries::last_event_id(p).await)
    }

    /// One event by id.
    pub async fn event(&self, id: i64) -> Result<Option<Event>> {
        on_backend!(self.pool, |p, m| m::deliveries::event(p, id).await)
    }

    /// The newest events of `project`, newest first, at most `limit` (for its Atom feed).
    pub async fn project_events(&self, project: &str, limit: u32) -> Result<Vec<Event>> {
        on_backend!(self.pool, |p, m| m::deliveries::project_events(p, project, limit).await)
    }
}
