//! What the CLI prints: tables, text and JSON views of series, and the progress bar.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use quire_mail::MessageKind;
use quire_store::{SeriesDetail, SeriesSummary};
use std::io::{IsTerminal, Write};

/// A progress bar on a terminal; hidden when stderr is not one, or with --quiet.
pub fn progress_bar(quiet: bool) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(8));
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

pub fn show_progress(bar: &ProgressBar, p: &quire_import::Progress) {
    match p.bytes_total {
        Some(total) if total > 0 => {
            bar.set_length(total);
            bar.set_position(p.bytes_read.min(total));
        }
        _ => bar.tick(),
    }
    bar.set_message(format!("{} messages  {}", p.messages, p.input));
}

pub fn kind_name(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Patch => "a patch",
        MessageKind::CoverLetter => "a cover letter",
        MessageKind::PullRequest => "a pull request",
        MessageKind::Reply => "a reply",
        MessageKind::Unparsable => "an unparsable message",
    }
}

fn date(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "-".into())
}

/// One line per series: date, version, patches/total, flags, subject, submitter, id.
pub fn series_table(out: &mut impl Write, items: &[SeriesSummary]) -> std::io::Result<()> {
    for s in items {
        let mut flags = String::new();
        flags.push(if s.complete { ' ' } else { 'I' });
        flags.push(if s.superseded_by.is_some() { 'O' } else { ' ' });
        flags.push(if s.is_rfc { 'R' } else { ' ' });
        flags.push(if s.is_pull { 'P' } else { ' ' });
        writeln!(
            out,
            "{}  v{:<2} {:>3}/{:<3} {} {}  [{}]  <{}>",
            date(s.date),
            s.version,
            s.patches,
            s.total,
            flags,
            s.subject,
            if s.submitter.name.is_empty() { &s.submitter.email } else { &s.submitter.name },
            s.message_id
        )?;
    }
    if items.is_empty() {
        writeln!(out, "no series")?;
    }
    Ok(())
}

/// `series show --json`: the stored detail, with the date also in RFC 3339.
pub fn series_json(s: &SeriesDetail) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or(serde_json::Value::Null);
    if let Some(obj) = v.as_object_mut() {
        obj.insert("date_rfc3339".into(), serde_json::Value::String(rfc3339(s.date)));
    }
    v
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0).map(|d| d.to_rfc3339()).unwrap_or_default()
}

pub fn series_text(out: &mut impl Write, s: &SeriesDetail) -> std::io::Result<()> {
    writeln!(out, "{}", s.subject)?;
    writeln!(
        out,
        "{} <{}> posted {} patch{} on {}  (v{}, {}{})",
        s.submitter.name,
        s.submitter.email,
        s.patches.len(),
        if s.patches.len() == 1 { "" } else { "es" },
        date(s.date),
        s.version,
        if s.complete { "complete" } else { "incomplete" },
        if s.superseded_by.is_some() { ", superseded" } else { "" }
    )?;
    writeln!(out, "message-id: <{}>", s.message_id)?;
    if s.revisions.len() > 1 {
        let revs: Vec<String> = s
            .revisions
            .iter()
            .map(|r| {
                format!("v{}{}", r.version, if r.message_id == s.message_id { "*" } else { "" })
            })
            .collect();
        let why = match s.revision_link.as_deref() {
            Some(link) => format!("  (linked to the one before by {link})"),
            None => String::new(),
        };
        writeln!(out, "revisions: {}{why}", revs.join(" "))?;
    }
    if let Some(next) = &s.superseded_by {
        writeln!(out, "superseded by: <{next}>")?;
    }
    writeln!(out, "replies: {}", s.replies)?;
    writeln!(out)?;
    for p in &s.patches {
        let taken = match p.from_revision {
            Some(v) => format!("  (taken from v{v})"),
            None => String::new(),
        };
        writeln!(out, "[{}/{}] {}  <{}>{taken}", p.number, s.total, p.subject, p.message_id)?;
        for t in &p.trailers {
            let mut marks = Vec::new();
            if !t.verified {
                marks.push("unverified");
            }
            if t.carried_over {
                marks.push("from an earlier revision");
            }
            let marks =
                if marks.is_empty() { String::new() } else { format!("  ({})", marks.join(", ")) };
            writeln!(out, "    {}: {}{}", t.tag, t.value, marks)?;
        }
    }
    Ok(())
}
