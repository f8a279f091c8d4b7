//! What the configuration file says about reports: the `[smtp]` section, and per project
//! `[[project.report]]` (which events mail whom, with which templates) and `[[project.webhook]]`.
//! The CLI deserialises these types inside its own `Config` and calls [`validate_project`].

use std::path::PathBuf;

use serde::Deserialize;

use crate::template;

/// `[smtp]`: how mail leaves.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Default 25 (587 is the usual port for `starttls = true` with a login).
    #[serde(default = "default_port")]
    pub port: u16,
    /// Upgrade the connection with STARTTLS, and refuse to send when the server cannot.
    #[serde(default)]
    pub starttls: bool,
    /// Implicit TLS from the first byte (port 465); excludes `starttls`.
    #[serde(default)]
    pub tls: bool,
    pub user: Option<String>,
    /// A file holding the password (its first line); never the password itself in quire.toml.
    pub password_file: Option<PathBuf>,
    /// The From address of report mails: `quire <quire@example.org>` or a bare address.
    pub from: String,
    /// Seconds for connecting and for each SMTP reply.
    #[serde(default = "default_timeout")]
    pub timeout: u64,
}

fn default_port() -> u16 {
    25
}

fn default_timeout() -> u64 {
    30
}

/// `[[project.report]]`: mail on an event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRule {
    /// One of [`EVENTS`].
    pub event: String,
    /// `"list"` (the project's list addresses), `"submitter"` (who sent the series), or addresses.
    pub to: Vec<String>,
    /// Subject template; default: `Re: <the series' subject>` for a reply, else
    /// `[<project>] <event>: <subject>`.
    pub subject: Option<String>,
    /// Body template; default: the result, the series URL and the log's tail.
    pub body: Option<String>,
    /// Thread the mail as a reply to the series' cover letter (or first patch). Default: yes for
    /// apply and check results, no for the other events.
    pub reply: Option<bool>,
}

/// `[[project.webhook]]`: a JSON POST on events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookRule {
    pub url: String,
    /// The HMAC key (or `secret_file`, a file holding it).
    pub secret: Option<String>,
    pub secret_file: Option<PathBuf>,
    /// Event names (see [`EVENTS`]); empty: every event.
    #[serde(default)]
    pub events: Vec<String>,
}

/// Event names a rule may name. The store's kinds, plus finer names: `apply-ok` and
/// `apply-failed` (a `series-applied`), `check-passed`, `check-warning` and `check-failed`
/// (a `check-finished`; `check-failed` covers fail and error), and `*` for all.
pub const EVENTS: &[&str] = &[
    "series-new",
    "series-complete",
    "series-superseded",
    "series-applied",
    "apply-ok",
    "apply-failed",
    "check-finished",
    "check-passed",
    "check-warning",
    "check-failed",
    "series-merged",
    "*",
];

/// A mistake in a rule: what is wrong, and the value written (to find its line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub message: String,
    pub value: Option<String>,
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Checks one project's rules (see [`check_rules`]); the error carries the offending value.
pub fn validate_project(
    reports: &[ReportRule],
    webhooks: &[WebhookRule],
    has_list: bool,
    has_smtp: bool,
) -> Result<(), RuleError> {
    check_rules(reports, webhooks, has_list, has_smtp)
        .map_err(|(message, value)| RuleError { message, value })
}

/// Checks one project's rules; `has_list` says whether the project has list addresses.
/// The error names the rule and the field, and says what to write instead.
fn check_rules(
    reports: &[ReportRule],
    webhooks: &[WebhookRule],
    has_list: bool,
    has_smtp: bool,
) -> Result<(), (String, Option<String>)> {
    for (i, r) in reports.iter().enumerate() {
        let at = format!("report {} (event `{}`)", i + 1, r.event);
        let event = Some(r.event.clone());
        check_event(&r.event).map_err(|e| (format!("{at}: {e}"), event.clone()))?;
        if r.to.is_empty() {
            return Err((
                format!("{at}: `to` is empty: name \"list\", \"submitter\" or addresses"),
                event,
            ));
        }
        for t in &r.to {
            match t.as_str() {
                "list" if !has_list => {
                    return Err((
                        format!("{at}: `to = \"list\"` needs the project's `list_address`"),
                        event,
                    ));
                }
                "list" | "submitter" => {}
                a => crate::email::mailbox(a)
                    .map_err(|e| (format!("{at}: `to`: {e}"), Some(a.to_string())))?,
            }
        }
        for (field, t) in [("subject", &r.subject), ("body", &r.body)] {
            if let Some(t) = t {
                template::check(t).map_err(|e| (format!("{at}: `{field}`: {e}"), event.clone()))?;
            }
        }
        if !has_smtp {
            return Err((format!("{at}: mail needs an `[smtp]` section (host, from)"), event));
        }
    }
    for (i, w) in webhooks.iter().enumerate() {
        let at = format!("webhook {} ({})", i + 1, w.url);
        let url = Some(w.url.clone());
        if !(w.url.starts_with("http://") || w.url.starts_with("https://"))
            || w.url.chars().any(char::is_control)
        {
            return Err((format!("{at}: `url` must be an http:// or https:// URL"), url));
        }
        if w.secret.is_some() == w.secret_file.is_some() {
            return Err((
                format!("{at}: give exactly one of `secret` or `secret_file` (the HMAC key)"),
                url,
            ));
        }
        if w.secret.as_deref().is_some_and(|s| s.is_empty()) {
            return Err((format!("{at}: `secret` is empty"), url));
        }
        for e in &w.events {
            check_event(e).map_err(|m| (format!("{at}: {m}"), Some(e.clone())))?;
        }
    }
    Ok(())
}

/// Checks the `[smtp]` section.
pub fn validate_smtp(s: &SmtpConfig) -> Result<(), String> {
    if s.host.trim().is_empty() {
        return Err("[smtp]: `host` is empty".into());
    }
    if s.starttls && s.tls {
        return Err("[smtp]: `starttls` and `tls` exclude each other: `tls` for port 465, `starttls` for 587".into());
    }
    if s.user.is_some() != s.password_file.is_some() {
        return Err("[smtp]: `user` and `password_file` go together".into());
    }
    crate::email::mailbox(&s.from).map_err(|e| format!("[smtp]: `from`: {e}"))?;
    Ok(())
}

fn check_event(e: &str) -> Result<(), String> {
    if EVENTS.contains(&e) {
        Ok(())
    } else {
        Err(format!("unknown event `{e}`: use one of {}", EVENTS.join(", ")))
    }
}

/// The names an event answers to: its kind and the finer name of its result.
pub fn event_names(e: &quire_store::Event) -> Vec<&'static str> {
    let state = e.payload.get("state").and_then(|s| s.as_str()).unwrap_or_default();
    let mut names: Vec<&'static str> = EVENTS.iter().copied().filter(|n| *n == e.kind).collect();
    match (e.kind.as_str(), state) {
        ("series-applied", "applied") => names.push("apply-ok"),
        ("series-applied", "failed") => names.push("apply-failed"),
        ("check-finished", "pass") => names.push("check-passed"),
        ("check-finished", "warning") => names.push("check-warning"),
        ("check-finished", "fail" | "error") => names.push("check-failed"),
        _ => {}
    }
    names
}

/// Whether an event matches a rule's event name.
pub fn matches(rule_event: &str, e: &quire_store::Event) -> bool {
    rule_event == "*" || event_names(e).contains(&rule_event)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, payload: serde_json::Value) -> quire_store::Event {
        quire_store::Event {
            id: 1,
            kind: kind.into(),
            project: None,
            series_head: None,
            message_id: None,
            payload,
            created: 0,
        }
    }

    #[test]
    fn finer_names_follow_the_result() {
        let e = event("check-finished", serde_json::json!({"name": "build", "state": "error"}));
        assert!(matches("check-failed", &e) && matches("check-finished", &e) && matches("*", &e));
        assert!(!matches("check-passed", &e));
        let e = event("series-applied", serde_json::json!({"state": "applied"}));
        assert!(matches("apply-ok", &e) && !matches("apply-failed", &e));
    }

    #[test]
    fn rules_are_checked_with_a_useful_message() {
        let r = ReportRule {
            event: "check-fail".into(),
            to: vec!["list".into()],
            ..Default::default()
        };
        let e = validate_project(&[r], &[], true, true).unwrap_err();
        assert_eq!(e.value.as_deref(), Some("check-fail"));
        let e = e.message;
        assert!(e.contains("unknown event `check-fail`") && e.contains("check-failed"), "{e}");
        let r = ReportRule {
            event: "check-failed".into(),
            to: vec!["list".into()],
            ..Default::default()
        };
        assert!(
            validate_project(std::slice::from_ref(&r), &[], false, true)
                .unwrap_err()
                .message
                .contains("list_address")
        );
        assert!(
            validate_project(std::slice::from_ref(&r), &[], true, false)
                .unwrap_err()
                .message
                .contains("[smtp]")
        );
        let bad = ReportRule { to: vec!["a@b\r\nBcc: x@y".into()], ..r.clone() };
        assert!(validate_project(&[bad], &[], true, true).is_err());
        let bad = ReportRule { body: Some("{nope}".into()), ..r };
        assert!(validate_project(&[bad], &[], true, true).unwrap_err().message.contains("{nope}"));
        let w =
            WebhookRule { url: "ftp://x".into(), secret: Some("s".into()), ..Default::default() };
        assert!(validate_project(&[], &[w], true, true).unwrap_err().message.contains("http://"));
        let w = WebhookRule { url: "http://x".into(), ..Default::default() };
        assert!(validate_project(&[], &[w], true, true).unwrap_err().message.contains("secret"));
    }
}
