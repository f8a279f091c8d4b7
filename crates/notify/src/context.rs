//! What a report says about an event: the values templates name, and the message a reply
//! threads under. Read from the store when the report is sent.

use std::collections::HashMap;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use quire_store::{ApplyState, CheckState, Event, Store};

/// Lines of a log a report quotes.
pub const LOG_TAIL_LINES: usize = 30;
/// Characters kept of each quoted log line.
const LOG_LINE_CHARS: usize = 300;

/// Same as the web's path segments: a Message-ID is one segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'&')
    .add(b'\'')
    .add(b'(')
    .add(b')')
    .add(b'*')
    .add(b',')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// The page of a series: `<base>/<project>/<head>/`.
pub fn series_url(base: &str, project: &str, head: &str) -> String {
    let seg = |s: &str| utf8_percent_encode(s, SEGMENT).to_string();
    format!("{}/{}/{}/", base.trim_end_matches('/'), seg(project), seg(head))
}

/// The message a report replies to.
#[derive(Debug, Clone, Default)]
pub struct Parent {
    pub message_id: String,
    pub references: Vec<String>,
    pub subject: String,
}

#[derive(Debug, Clone, Default)]
pub struct Context {
    pub values: HashMap<&'static str, String>,
    /// The series' cover letter, else its first patch.
    pub parent: Option<Parent>,
    /// Who posted the series.
    pub submitter: Option<quire_mail::Address>,
    /// The finest event name.
    pub event: &'static str,
}

pub async fn build(store: &Store, e: &Event, base_url: &str) -> quire_store::Result<Context> {
    let names = crate::config::event_names(e);
    let event = names.last().copied().unwrap_or("event");
    let mut values: HashMap<&'static str, String> = HashMap::new();
    let project = e.project.clone().unwrap_or_default();
    values.insert("project", project.clone());
    values.insert("event", event.to_string());
    let mut ctx = Context { event, ..Default::default() };
    let series = match &e.series_head {
        Some(head) => store.series(head).await?,
        None => None,
    };
    if let Some(s) = &series {
        values.insert("subject", s.subject.clone());
        values.insert("series_url", series_url(base_url, &project, &s.message_id));
        values.insert("version", s.version.to_string());
        values.insert("submitter", person(&s.submitter));
        ctx.submitter = Some(s.submitter.clone());
        if let Some(head) = store.message(&s.message_id).await? {
            let mut references = head.references.clone();
            if let Some(irt) = &head.in_reply_to
                && !references.contains(irt)
            {
                references.push(irt.clone());
            }
            ctx.parent = Some(Parent {
                message_id: head.message_id.clone(),
                references,
                subject: head.subject.clone(),
            });
        }
    } else if let Some(subject) = e.payload.get("subject").and_then(|s| s.as_str()) {
        values.insert("subject", subject.to_string());
    }
    let state = e.payload.get("state").and_then(|s| s.as_str()).unwrap_or_default().to_string();
    values.insert("state", state.clone());
    let result = match e.kind.as_str() {
        "series-new" => "new series posted".to_string(),
        "series-complete" => "all patches of the series have arrived".to_string(),
        "series-superseded" => {
            if let Some(by) = e.payload.get("superseded_by").and_then(|s| s.as_str()) {
                values.insert("superseded_by", series_url(base_url, &project, by));
            }
            "superseded by a newer revision".to_string()
        }
        "series-merged" => "merged upstream".to_string(),
        "series-applied" => {
            let apply = series.as_ref().and_then(|s| s.apply.clone());
            if let (Some(a), Some(s)) = (&apply, &series) {
                values.insert("log_tail", tail(a.log.as_deref().unwrap_or_default()));
                values.insert("log_excerpt", tail(a.log.as_deref().unwrap_or_default()));
                values.insert(
                    "log_url",
                    format!("{}apply.log", series_url(base_url, &project, &s.message_id)),
                );
            }
            match apply {
                Some(a) if a.state == ApplyState::Failed => match (a.failed_patch, series.as_ref())
                {
                    (Some(n), Some(s)) => {
                        format!("the series failed to apply at patch {n}/{}", s.total)
                    }
                    _ => "the series failed to apply".to_string(),
                },
                Some(a) if a.state == ApplyState::Applied => {
                    format!(
                        "the series applied cleanly{}",
                        a.result_commit.map(|c| format!(" as {c}")).unwrap_or_default()
                    )
                }
                _ if state == "failed" => "the series failed to apply".to_string(),
                _ => "the series applied cleanly".to_string(),
            }
        }
        "check-finished" => {
            let name =
                e.payload.get("name").and_then(|s| s.as_str()).unwrap_or_default().to_string();
            values.insert("check", name.clone());
            if let Some(target) = &e.message_id {
                let check = store.checks(target).await?.into_iter().rev().find(|c| c.name == name);
                if let Some(c) = check {
                    let log = c.log.as_deref().unwrap_or_default();
                    values.insert("log_tail", tail(log));
                    values.insert("log_excerpt", excerpt(&name, log));
                    values.insert("description", c.description.clone().unwrap_or_default());
                    let page = c.url.clone().or_else(|| {
                        series.as_ref().map(|s| {
                            format!(
                                "{}checks/{}",
                                series_url(base_url, &project, &s.message_id),
                                c.id
                            )
                        })
                    });
                    values.insert("log_url", page.unwrap_or_default());
                    let state = match c.state {
                        CheckState::Pass => "pass",
                        CheckState::Warning => "warning",
                        CheckState::Fail => "fail",
                        CheckState::Error => "error",
                    };
                    values.insert("state", state.to_string());
                }
            }
            let description = values
                .get("description")
                .filter(|d| !d.is_empty())
                .map(|d| format!(" ({d})"))
                .unwrap_or_default();
            format!(
                "check {name}: {}{description}",
                values.get("state").map(String::as_str).unwrap_or_default()
            )
        }
        other => other.to_string(),
    };
    values.insert("result", result);
    ctx.values = values;
    Ok(ctx)
}

/// `Name <address>`, or the address alone.
pub fn person(a: &quire_mail::Address) -> String {
    if a.name.trim().is_empty() {
        a.email.clone()
    } else {
        format!("{} <{}>", a.name.trim(), a.email)
    }
}

/// What a mail quotes of a check's log: its first lines for the `abi` check, whose report
/// leads with the verdict and the breaking findings (quire_abi::Report::to_text); the last
/// lines, where a build or a script says what failed, for every other.
pub fn excerpt(check: &str, log: &str) -> String {
    if check == ABI_CHECK { head(log) } else { tail(log) }
}

/// The name of the worker's ABI check (quire_worker::abi::CHECK_NAME).
const ABI_CHECK: &str = "abi";

/// The first [`LOG_TAIL_LINES`] lines of a log, cleaned as [`tail`] cleans them.
pub fn head(log: &str) -> String {
    clean_lines(log.trim_end().lines().take(LOG_TAIL_LINES))
}

fn clean_lines<'a>(lines: impl Iterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for line in lines {
        let clean: String =
            line.chars().filter(|c| *c == '\t' || !c.is_control()).take(LOG_LINE_CHARS).collect();
        out.push_str(clean.trim_end());
        out.push('\n');
    }
    out
}

/// The last [`LOG_TAIL_LINES`] lines of a log, each cut to a sane length, without control
/// characters but tabs.
pub fn tail(log: &str) -> String {
    let lines: Vec<&str> = log.trim_end().lines().collect();
    let start = lines.len().saturating_sub(LOG_TAIL_LINES);
    clean_lines(lines[start..].iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tail_is_the_last_lines_without_controls() {
        let log: String = (1..=100).map(|i| format!("line {i}\x1b[0m\n")).collect();
        let t = tail(&log);
        assert!(t.starts_with("line 71[0m\n") && t.ends_with("line 100[0m\n"), "{t}");
        assert_eq!(t.lines().count(), LOG_TAIL_LINES);
    }

    #[test]
    fn the_abi_report_is_quoted_from_its_start_other_logs_from_their_end() {
        let log: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        assert!(excerpt("abi", &log).starts_with("line 1\nline 2\n"));
        assert_eq!(excerpt("abi", &log).lines().count(), LOG_TAIL_LINES);
        assert!(excerpt("build", &log).ends_with("line 100\n"));
    }

    #[test]
    fn series_urls_keep_a_message_id_in_one_segment() {
        assert_eq!(series_url("http://h/", "xen", "a/b@c"), "http://h/xen/a%2Fb@c/");
    }
}
