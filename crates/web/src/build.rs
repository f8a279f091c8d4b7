//! Builds the pages' view models from what the store knows (shared types of quire-mail and
//! quire-series). Pure: the handlers fetch, these functions decide what is shown.

use crate::age::Age;
use crate::diffstat::{FORMAT_PATCH_WIDTH, series_files, stat_lines, summary_line};
use crate::url::{anchor, message_url, segment};
use crate::views::*;
use quire_mail::{MessageKind, ParsedMessage};
use quire_series::{CollectedTrailer, Series};
use std::collections::{HashMap, HashSet};

/// Where a series stands with the project's tree, as the web shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyState {
    NotYet,
    Applied { tree_url: Option<String> },
    Failed { log: String },
}

/// One check result (a CI job, checkpatch...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    /// "success"/"pass", "fail"/"failure"/"error", "pending"/"running", anything else.
    pub state: String,
    pub url: Option<String>,
    pub description: String,
}

fn check_class(state: &str) -> &'static str {
    match state.to_ascii_lowercase().as_str() {
        "success" | "pass" | "passed" | "ok" => "pass",
        "fail" | "failure" | "failed" | "error" => "fail",
        "pending" | "running" | "queued" | "warning" => "pending",
        _ => "other",
    }
}

/// What the list and the series page say about a series at a glance.
#[derive(Debug, Clone, Default)]
pub struct SeriesFacts {
    /// Every patch has a Reviewed-by or Acked-by (its own or collected).
    pub reviewed: bool,
    pub apply: Option<bool>,
    /// Some(true) when every check passed, Some(false) when one failed, None without checks.
    pub checks_pass: Option<bool>,
    /// A newer revision exists.
    pub obsolete: bool,
}

/// Every patch carries a Reviewed-by or Acked-by, its own or one a reviewer gave it.
pub fn is_reviewed(series: &Series, own: &HashMap<&str, &ParsedMessage>, collected: &[(u32, Vec<CollectedTrailer>)]) -> bool {
    if series.patches.is_empty() {
        return false;
    }
    series.patches.iter().all(|(n, id)| {
        let own_review = own.get(id.as_str()).is_some_and(|m| m.trailers.iter().any(|t| is_review_tag(&t.tag)));
        let given = collected
            .iter()
            .filter(|(pn, _)| pn == n)
            .flat_map(|(_, ts)| ts)
            .any(|t| t.verified && is_review_tag(&t.trailer.tag));
        own_review || given
    })
}

fn is_review_tag(tag: &str) -> bool {
    tag.eq_ignore_ascii_case("Reviewed-by") || tag.eq_ignore_ascii_case("Acked-by")
}

pub fn badges(series: &Series, facts: &SeriesFacts) -> Vec<Badge> {
    let mut out = Vec::new();
    if series.is_rfc {
        out.push(Badge::new("info", "RFC", "request for comments"));
    }
    if series.is_pull {
        out.push(Badge::new("info", "pull", "a git pull request"));
    }
    if facts.reviewed {
        out.push(Badge::new("ok", "reviewed", "every patch has a Reviewed-by or Acked-by"));
    }
    match facts.apply {
        Some(true) => out.push(Badge::new("ok", "applied", "the series applies to the project's tree")),
        Some(false) => out.push(Badge::new("fail", "apply failed", "the series does not apply to the project's tree")),
        None => out.push(Badge::new("info", "not applied", "no apply attempt yet")),
    }
    match facts.checks_pass {
        Some(true) => out.push(Badge::new("pass", "checks pass", "every check passed")),
        Some(false) => out.push(Badge::new("fail", "checks fail", "at least one check failed")),
        None => {}
    }
    if !series.complete {
        let have = series.patches.len();
        out.push(Badge::new("warn", "incomplete", format!("{have} of {} patches received", series.total)));
    }
    if facts.obsolete {
        out.push(Badge::new("obsolete", "obsolete", "a newer revision was posted"));
    }
    out
}

/// The title a series is shown with: the head's subject as sent (it carries the version and
/// the tags a maintainer scans for), else its name.
pub fn series_title(series: &Series) -> String {
    if !series.subject.trim().is_empty() {
        series.subject.trim().to_string()
    } else if !series.name.is_empty() {
        series.name.clone()
    } else {
        "(no subject)".to_string()
    }
}

fn person(a: &quire_mail::Address) -> String {
    if a.name.trim().is_empty() { a.email.clone() } else { a.name.trim().to_string() }
}

pub fn series_row(project: &str, series: &Series, facts: &SeriesFacts, now: i64) -> SeriesRow {
    SeriesRow {
        url: message_url(project, &series.head),
        title: series_title(series),
        submitter: person(&series.submitter),
        age: Age::new(series.date, now),
        patches: series.patches.len() as u32,
        version: series.version,
        badges: badges(series, facts),
    }
}

/// The messages of a thread in reading order, each with its depth: a reply sits under the
/// message it answers (In-Reply-To, else the nearest References entry in the thread),
/// siblings by date. Messages whose parent is not here start their own tree.
pub fn thread_order(messages: &[ParsedMessage]) -> Vec<(usize, usize)> {
    let index: HashMap<&str, usize> = messages.iter().enumerate().map(|(i, m)| (m.message_id.as_str(), i)).collect();
    let parent_of = |i: usize| -> Option<usize> {
        let m = &messages[i];
        let candidates = m.in_reply_to.iter().chain(m.references.iter().rev());
        candidates.filter_map(|id| index.get(id.as_str()).copied()).find(|&p| p != i)
    };
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); messages.len()];
    let mut roots = Vec::new();
    for i in 0..messages.len() {
        match parent_of(i) {
            Some(p) => children[p].push(i),
            None => roots.push(i),
        }
    }
    let by_date = |a: &usize, b: &usize| {
        let (ma, mb) = (&messages[*a], &messages[*b]);
        (ma.date.unwrap_or(0), patch_number(ma), &ma.message_id).cmp(&(mb.date.unwrap_or(0), patch_number(mb), &mb.message_id))
    };
    roots.sort_by(by_date);
    for c in &mut children {
        c.sort_by(by_date);
    }
    // Iterative walk: a reply loop (A answers B answers A) leaves both as children of each
    // other and neither a root; the `seen` set and the sweep below keep every message shown once.
    let mut out = Vec::with_capacity(messages.len());
    let mut seen = HashSet::new();
    let walk = |start: usize, out: &mut Vec<(usize, usize)>, seen: &mut HashSet<usize>| {
        let mut stack = vec![(start, 0usize)];
        while let Some((i, depth)) = stack.pop() {
            if !seen.insert(i) {
                continue;
            }
            out.push((i, depth));
            for &c in children[i].iter().rev() {
                stack.push((c, depth + 1));
            }
        }
    };
    for r in roots {
        walk(r, &mut out, &mut seen);
    }
    for i in 0..messages.len() {
        walk(i, &mut out, &mut seen);
    }
    out
}

/// Patches of one series sort by number when sent in the same second.
fn patch_number(m: &ParsedMessage) -> u32 {
    m.subject_info.number.unwrap_or(0)
}

pub fn thread_views(project: &str, messages: &[ParsedMessage], now: i64) -> Vec<MessageView> {
    thread_order(messages)
        .into_iter()
        .map(|(i, depth)| {
            let m = &messages[i];
            MessageView::new(project, m, depth, now, matches!(m.kind, MessageKind::Patch) && m.diff.is_some())
        })
        .collect()
}

/// How the web knows a project: its name and where its applied series can be fetched.
#[derive(Debug, Clone, Default)]
pub struct ProjectLinks {
    pub mirror_url: Option<String>,
    pub tag_prefix: String,
}

/// The `git fetch` line for an applied series: only when a mirror is configured.
pub fn fetch_line(links: &ProjectLinks, head: &str, apply: &ApplyState) -> Option<String> {
    let mirror = links.mirror_url.as_deref().filter(|m| !m.trim().is_empty())?;
    matches!(apply, ApplyState::Applied { .. }).then(|| format!("git fetch {} tags/{}/{}", mirror.trim(), links.tag_prefix, head))
}

/// Everything the series page needs, gathered by the handler.
pub struct SeriesInput<'a> {
    pub project: &'a str,
    pub series: &'a Series,
    /// The series' messages and every reply under them.
    pub thread: &'a [ParsedMessage],
    pub trailers: &'a [(u32, Vec<CollectedTrailer>)],
    /// Every revision of the series (this one included), oldest first.
    pub revisions: &'a [Series],
    pub apply: ApplyState,
    pub checks: Vec<Check>,
    pub links: ProjectLinks,
    pub now: i64,
}

pub fn series_page(input: SeriesInput<'_>) -> SeriesPage {
    let SeriesInput { project, series, thread, trailers, revisions, apply, checks, links, now } = input;
    let by_id: HashMap<&str, &ParsedMessage> = thread.iter().map(|m| (m.message_id.as_str(), m)).collect();
    let base = message_url(project, &series.head);
    let newest = revisions.iter().max_by_key(|r| (r.version, r.date)).map(|r| r.head.clone());
    let facts = SeriesFacts {
        reviewed: is_reviewed(series, &by_id, trailers),
        apply: match &apply {
            ApplyState::NotYet => None,
            ApplyState::Applied { .. } => Some(true),
            ApplyState::Failed { .. } => Some(false),
        },
        checks_pass: checks_pass(&checks),
        obsolete: newest.as_deref().is_some_and(|n| n != series.head),
    };
    let patch_files: Vec<&[quire_mail::FileStat]> = series
        .patches
        .iter()
        .filter_map(|(_, id)| by_id.get(id.as_str()))
        .filter_map(|m| m.diff.as_ref().map(|d| d.files.as_slice()))
        .collect();
    let files = series_files(patch_files);
    let revision_links = revisions
        .iter()
        .map(|r| RevisionLink {
            label: format!("v{}", r.version),
            url: message_url(project, &r.head),
            current: r.head == series.head,
            newest: newest.as_deref() == Some(r.head.as_str()) && revisions.len() > 1,
            interdiff_url: (r.head != series.head).then(|| format!("{base}interdiff/{}", segment(&r.head))),
        })
        .collect();
    let patch_trailers = series
        .patches
        .iter()
        .map(|(n, id)| {
            let own = by_id.get(id.as_str());
            let own_trailers = own.into_iter().flat_map(|m| m.trailers.iter()).map(|t| TrailerView {
                tag: t.tag.clone(),
                value: t.value.clone(),
                verified: true,
                carried_over: false,
                from_anchor: anchor(id),
            });
            let given = trailers.iter().filter(|(pn, _)| pn == n).flat_map(|(_, ts)| ts).map(|t| TrailerView {
                tag: t.trailer.tag.clone(),
                value: t.trailer.value.clone(),
                verified: t.verified,
                carried_over: t.carried_over,
                from_anchor: anchor(&t.message_id),
            });
            PatchTrailers {
                number: *n,
                subject: own.map(|m| m.subject.clone()).unwrap_or_else(|| format!("patch {n} (not received)")),
                anchor: anchor(id),
                trailers: own_trailers.chain(given).filter(|t| is_person_tag(&t.tag)).collect(),
            }
        })
        .collect();
    let apply_view = match &apply {
        ApplyState::NotYet => ApplyView::NotYet,
        ApplyState::Applied { tree_url } => ApplyView::Applied { tree_url: tree_url.clone(), log_url: format!("{base}apply.log") },
        ApplyState::Failed { log } => ApplyView::Failed { log_url: format!("{base}apply.log"), log: last_lines(log, 30) },
    };
    SeriesPage {
        project: project.to_string(),
        project_url: format!("/{}/", segment(project)),
        title: series_title(series),
        submitter: person(&series.submitter),
        submitter_email: series.submitter.email.clone(),
        posted: posted(series.patches.len() as u32),
        age: Age::new(series.date, now),
        version: series.version,
        badges: badges(series, &facts),
        revisions: revision_links,
        fetch_line: fetch_line(&links, &series.head, &apply),
        apply: apply_view,
        stat: stat_lines(&files, FORMAT_PATCH_WIDTH),
        stat_summary: if files.is_empty() { String::new() } else { summary_line(&files) },
        checks: checks
            .into_iter()
            .map(|c| CheckView { class: check_class(&c.state), name: c.name, state: c.state, url: c.url, description: c.description })
            .collect(),
        trailers: patch_trailers,
        thread: thread_views(project, thread, now),
        mbox_url: format!("{base}mbox"),
        cover_url: base,
    }
}

/// Review and credit trailers (`*-by`) are listed per patch; `Fixes:`/`Link:` stay in the
/// patch text.
fn is_person_tag(tag: &str) -> bool {
    tag.to_ascii_lowercase().ends_with("-by")
}

pub fn checks_pass(checks: &[Check]) -> Option<bool> {
    if checks.is_empty() {
        return None;
    }
    let classes: Vec<&str> = checks.iter().map(|c| check_class(&c.state)).collect();
    if classes.contains(&"fail") {
        Some(false)
    } else if classes.iter().all(|c| *c == "pass") {
        Some(true)
    } else {
        None
    }
}

/// The end of a log, where the failure is.
fn last_lines(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use quire_mail::{Address, Trailer};

    fn msg(id: &str, reply_to: Option<&str>, date: i64) -> ParsedMessage {
        ParsedMessage {
            message_id: id.into(),
            in_reply_to: reply_to.map(String::from),
            references: reply_to.map(|r| vec![r.to_string()]).unwrap_or_default(),
            subject: format!("subject of {id}"),
            date: Some(date),
            ..Default::default()
        }
    }

    fn series(head: &str, patches: &[(u32, &str)], version: u32) -> Series {
        Series {
            head: head.into(),
            cover_letter: None,
            patches: patches.iter().map(|(n, id)| (*n, id.to_string())).collect(),
            version,
            total: patches.len() as u32,
            complete: true,
            subject: format!("[PATCH v{version}] thing"),
            name: "thing".into(),
            submitter: Address { name: "Ann".into(), email: "ann@example.com".into() },
            date: 1_600_000_000,
            is_rfc: false,
            is_pull: false,
            revision_key: "k".into(),
        }
    }

    #[test]
    fn replies_nest_under_what_they_answer_siblings_by_date() {
        let ms = [msg("cover", None, 10), msg("p2", Some("cover"), 12), msg("p1", Some("cover"), 11), msg("re-p1", Some("p1"), 20), msg("re-re", Some("re-p1"), 30)];
        let order: Vec<(&str, usize)> = thread_order(&ms).into_iter().map(|(i, d)| (ms[i].message_id.as_str(), d)).collect();
        assert_eq!(order, vec![("cover", 0), ("p1", 1), ("re-p1", 2), ("re-re", 3), ("p2", 1)]);
    }

    #[test]
    fn a_reply_whose_parent_is_missing_hangs_on_the_nearest_reference() {
        let mut r = msg("late", Some("missing"), 5);
        r.references = vec!["root".into(), "missing".into()];
        let ms = [msg("root", None, 1), r];
        let order: Vec<(usize, usize)> = thread_order(&ms);
        assert_eq!(order, vec![(0, 0), (1, 1)]);
    }

    #[test]
    fn a_reply_loop_shows_every_message_once() {
        let ms = [msg("a", Some("b"), 1), msg("b", Some("a"), 2), msg("self", Some("self"), 3)];
        let mut seen: Vec<usize> = thread_order(&ms).into_iter().map(|(i, _)| i).collect();
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2]);
    }

    #[test]
    fn reviewed_needs_a_review_on_every_patch() {
        let s = series("p1", &[(1, "p1"), (2, "p2")], 1);
        let mut p1 = msg("p1", None, 1);
        p1.trailers.push(Trailer { tag: "Reviewed-by".into(), value: "R <r@x>".into(), person: None });
        let p2 = msg("p2", Some("p1"), 2);
        let own: HashMap<&str, &ParsedMessage> = [("p1", &p1), ("p2", &p2)].into_iter().collect();
        assert!(!is_reviewed(&s, &own, &[]));
        let acked = CollectedTrailer {
            trailer: Trailer { tag: "Acked-by".into(), value: "A <a@x>".into(), person: None },
            message_id: "re".into(),
            verified: true,
            carried_over: false,
        };
        assert!(is_reviewed(&s, &own, &[(2, vec![acked.clone()])]));
        let unverified = CollectedTrailer { verified: false, ..acked };
        assert!(!is_reviewed(&s, &own, &[(2, vec![unverified])]));
    }

    #[test]
    fn fetch_line_needs_a_mirror_and_an_applied_series() {
        let links = ProjectLinks { mirror_url: Some("https://git.example.org/xen.git".into()), tag_prefix: "quire".into() };
        let applied = ApplyState::Applied { tree_url: None };
        assert_eq!(fetch_line(&links, "a@b", &applied).as_deref(), Some("git fetch https://git.example.org/xen.git tags/quire/a@b"));
        assert_eq!(fetch_line(&links, "a@b", &ApplyState::NotYet), None);
        assert_eq!(fetch_line(&ProjectLinks::default(), "a@b", &applied), None);
    }

    #[test]
    fn older_revisions_are_obsolete_and_link_an_interdiff() {
        let v1 = series("v1@x", &[(1, "v1@x")], 1);
        let v2 = series("v2@x", &[(1, "v2@x")], 2);
        let thread = [msg("v1@x", None, 1)];
        let page = series_page(SeriesInput {
            project: "xen",
            series: &v1,
            thread: &thread,
            trailers: &[],
            revisions: &[v1.clone(), v2.clone()],
            apply: ApplyState::NotYet,
            checks: vec![],
            links: ProjectLinks::default(),
            now: 1_600_000_100,
        });
        assert!(page.badges.iter().any(|b| b.text == "obsolete"));
        assert_eq!(page.revisions[1].interdiff_url.as_deref(), Some("/xen/v1@x/interdiff/v2@x"));
        assert!(page.revisions[1].newest);
        assert_eq!(page.posted, "posted 1 patch");
    }

    #[test]
    fn check_states_fold_into_pass_or_fail() {
        let c = |s: &str| Check { name: "ci".into(), state: s.into(), url: None, description: String::new() };
        assert_eq!(checks_pass(&[]), None);
        assert_eq!(checks_pass(&[c("success"), c("pass")]), Some(true));
        assert_eq!(checks_pass(&[c("success"), c("fail")]), Some(false));
        assert_eq!(checks_pass(&[c("success"), c("pending")]), None);
    }
}
