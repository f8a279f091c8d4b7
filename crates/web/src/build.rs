//! Builds the pages' view models from what the store returns. Pure: the handlers fetch, these
//! functions decide what is shown.

use crate::age::Age;
use crate::diffstat::{
    FORMAT_PATCH_WIDTH, cover_letter_stat, series_files, stat_lines, summary_line,
};
use crate::url::{anchor, message_url, segment};
use crate::views::*;
use quire_store::{
    ApplyState, Check, CheckState, MessageRecord, SeriesDetail, SeriesPatch, SeriesSummary,
};
use std::collections::{HashMap, HashSet};

/// What the badges of a series say.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeriesFacts {
    pub is_rfc: bool,
    pub is_pull: bool,
    /// Every patch has a Reviewed-by or Acked-by (its own or a verified collected one);
    /// None when the listing does not know.
    pub reviewed: Option<bool>,
    /// Some(true) applied, Some(false) failed, None not tried (or pending).
    pub applied: Option<bool>,
    /// Some(true) every check passed (warnings allowed), Some(false) one failed, None without
    /// checks.
    pub checks_pass: Option<bool>,
    pub complete: bool,
    pub patches: u32,
    pub total: u32,
    /// A newer revision supersedes this one.
    pub obsolete: bool,
}

fn is_review_tag(tag: &str) -> bool {
    tag.eq_ignore_ascii_case("Reviewed-by") || tag.eq_ignore_ascii_case("Acked-by")
}

/// Every patch carries a Reviewed-by or Acked-by, its own or a verified one a reviewer gave it.
pub fn is_reviewed(patches: &[SeriesPatch]) -> bool {
    !patches.is_empty()
        && patches.iter().all(|p| {
            p.own_trailers.iter().any(|t| is_review_tag(&t.tag))
                || p.trailers.iter().any(|t| t.verified && is_review_tag(&t.tag))
        })
}

pub fn applied(apply: Option<ApplyState>) -> Option<bool> {
    match apply {
        Some(ApplyState::Applied) => Some(true),
        Some(ApplyState::Failed) => Some(false),
        Some(ApplyState::Pending) | None => None,
    }
}

/// None without checks, else whether none failed or erred.
pub fn checks_pass(checks: impl IntoIterator<Item = CheckState>) -> Option<bool> {
    let mut any = false;
    for c in checks {
        if matches!(c, CheckState::Fail | CheckState::Error) {
            return Some(false);
        }
        any = true;
    }
    any.then_some(true)
}

pub fn badges(f: &SeriesFacts) -> Vec<Badge> {
    let mut out = Vec::new();
    if f.is_rfc {
        out.push(Badge::new("info", "RFC", "request for comments"));
    }
    if f.is_pull {
        out.push(Badge::new("info", "pull", "a git pull request"));
    }
    if f.reviewed == Some(true) {
        out.push(Badge::new("ok", "reviewed", "every patch has a Reviewed-by or Acked-by"));
    }
    match f.applied {
        Some(true) => {
            out.push(Badge::new("ok", "applied", "the series applies to the project's tree"))
        }
        Some(false) => out.push(Badge::new(
            "fail",
            "apply failed",
            "the series does not apply to the project's tree",
        )),
        None => {
            out.push(Badge::new("quiet", "not applied", "not applied to the project's tree yet"))
        }
    }
    match f.checks_pass {
        Some(true) => out.push(Badge::new("pass", "checks pass", "every check passed")),
        Some(false) => out.push(Badge::new("fail", "checks fail", "at least one check failed")),
        None => {}
    }
    if f.complete {
        out.push(Badge::new("quiet", "complete", "every patch of the series was received"));
    } else {
        out.push(Badge::new(
            "warn",
            "incomplete",
            format!("{} of {} patches received", f.patches, f.total),
        ));
    }
    if f.obsolete {
        out.push(Badge::new("obsolete", "obsolete", "a newer revision was posted"));
    }
    out
}

/// The title a series is shown with: the head's subject as sent (it carries the version and
/// the tags a maintainer scans for), else its name.
pub fn series_title(subject: &str, name: &str) -> String {
    if !subject.trim().is_empty() {
        subject.trim().to_string()
    } else if !name.trim().is_empty() {
        name.trim().to_string()
    } else {
        "(no subject)".to_string()
    }
}

pub fn person(a: &quire_mail::Address) -> String {
    if a.name.trim().is_empty() { a.email.clone() } else { a.name.trim().to_string() }
}

/// A line of the series list; `applied` and `checks_pass` as [`applied`] and [`checks_pass`]
/// say them of the series' head.
pub fn series_row(
    project: &str,
    s: &SeriesSummary,
    applied: Option<bool>,
    checks_pass: Option<bool>,
    now: i64,
) -> SeriesRow {
    let facts = SeriesFacts {
        is_rfc: s.is_rfc,
        is_pull: s.is_pull,
        reviewed: None,
        applied,
        checks_pass,
        complete: s.complete,
        patches: s.patches,
        total: s.total,
        obsolete: s.superseded_by.is_some(),
    };
    let mut badges = badges(&facts);
    if let Some(a) = &s.approval {
        // Right after RFC/pull: what a maintainer scans the list for.
        let at = badges.iter().take_while(|b| b.class == "info").count();
        badges.insert(at, approval_badge(a));
    }
    SeriesRow {
        url: message_url(project, &s.message_id),
        title: series_title(&s.subject, &s.name),
        submitter: person(&s.submitter),
        age: Age::new(s.date, now),
        patches: s.patches,
        patch_count: crate::age::plural(u64::from(s.patches), "patch"),
        version: s.version,
        badges,
        reviews: s.reviews.map(|r| review_view(&r)),
    }
}

/// Patchwork's A/R/T: each count, "-" for none.
pub fn review_view(r: &quire_store::ReviewCounts) -> ReviewView {
    let n = |v: u32| if v == 0 { "-".to_string() } else { v.to_string() };
    ReviewView {
        acked: n(r.acked),
        reviewed: n(r.reviewed),
        tested: n(r.tested),
        title: format!(
            "over the patches: {} Acked-by, {} Reviewed-by, {} Tested-by",
            r.acked, r.reviewed, r.tested
        ),
    }
}

/// `approved`, or `awaiting: A, B +2` with every name in the title.
pub fn approval_badge(a: &quire_store::ApprovalLine) -> Badge {
    if a.approved {
        return Badge::new(
            "ok",
            "approved",
            "every touched file has the approval its maintainers file asks for",
        );
    }
    let names: Vec<String> = a.awaiting.iter().map(person).collect();
    let shown = match names.len() {
        0 => "awaiting approval".to_string(),
        1 | 2 => format!("awaiting: {}", names.join(", ")),
        n => format!("awaiting: {}, {} +{}", names[0], names[1], n - 2),
    };
    Badge::new("warn", shown, format!("awaiting the approval of {}", names.join(", ")))
}

/// A maintainer's queue: the series awaiting their approval.
pub fn queue_url(project: &str, email: &str) -> String {
    format!("/{}/queue/{}", segment(project), segment(&email.trim().to_lowercase()))
}

fn person_link(project: &str, p: &quire_maintainers::Person) -> PersonLink {
    PersonLink {
        name: p.display().to_string(),
        email: p.email.clone(),
        url: if p.email.trim().is_empty() { String::new() } else { queue_url(project, &p.email) },
    }
}

fn approver_view(project: &str, a: &quire_maintainers::Approver) -> ApproverView {
    let how = match &a.as_email {
        Some(e) => format!("{} as {e}", a.tag),
        None => a.tag.clone(),
    };
    ApproverView { who: person_link(project, &a.person), how }
}

/// The approvals section of a series page.
pub fn approvals_view(project: &str, a: &quire_store::Approvals) -> ApprovalsView {
    use quire_maintainers::{FileState, MatchKind};
    let member = |m: &quire_maintainers::Member| MemberView {
        who: person_link(project, &m.person),
        gave: m.gave.iter().map(|g| approver_view(project, g).how).collect::<Vec<_>>().join(", "),
    };
    let files = a
        .files
        .iter()
        .map(|f| {
            let (state, class) = match f.state {
                FileState::Approved => ("approved", "ok"),
                FileState::Awaiting => ("awaiting", "warn"),
                FileState::NoMaintainer => ("no maintainer", "quiet"),
            };
            let numbers: Vec<String> = f.patches.iter().map(u32::to_string).collect();
            FileApprovalView {
                path: f.path.clone(),
                patches: format!(
                    "{} {}",
                    if numbers.len() == 1 { "patch" } else { "patches" },
                    numbers.join(", ")
                ),
                state,
                class,
                approved_by: f.approved_by.iter().map(|x| approver_view(project, x)).collect(),
                awaiting: f.awaiting.iter().map(|p| person_link(project, p)).collect(),
                sections: f
                    .sections
                    .iter()
                    .map(|s| SectionLine {
                        name: s.name.clone(),
                        status: s.status.clone().unwrap_or_default(),
                        how: match s.by {
                            MatchKind::File => "F:",
                            MatchKind::Name => "N:",
                            MatchKind::Keyword => "K:",
                        }
                        .into(),
                        required: s.required,
                        maintainers: s.maintainers.iter().map(member).collect(),
                        reviewers: s.reviewers.iter().map(member).collect(),
                    })
                    .collect(),
            }
        })
        .collect();
    ApprovalsView {
        approved: a.approved,
        awaiting: a.awaiting.iter().map(|p| person_link(project, p)).collect(),
        approved_by: a.approved_by.iter().map(|x| approver_view(project, x)).collect(),
        rule: a.rule.clone(),
        source: format!("{} at {}", a.file, a.base.chars().take(12).collect::<String>()),
        files,
        problems: a.problems.clone(),
    }
}

/// The messages of a thread in reading order, each with its depth: a reply sits under the
/// message it answers (In-Reply-To, else the nearest References entry present, else the
/// store's `parent`), siblings by date then patch number. Messages whose parent is absent
/// start their own tree.
pub fn thread_order(messages: &[MessageRecord]) -> Vec<(usize, usize)> {
    let index: HashMap<&str, usize> =
        messages.iter().enumerate().map(|(i, m)| (m.message_id.as_str(), i)).collect();
    let parent_of = |i: usize| -> Option<usize> {
        let m = &messages[i];
        let candidates =
            m.in_reply_to.iter().chain(m.references.iter().rev()).chain(m.parent.iter());
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
    let key = |i: &usize| {
        let m = &messages[*i];
        let number = match m.role {
            Some(quire_series::Role::Patch(n)) => n,
            _ => 0,
        };
        (m.date.unwrap_or(0), number, m.message_id.clone())
    };
    roots.sort_by_key(key);
    for c in &mut children {
        c.sort_by_key(key);
    }
    // Iterative walk, and a sweep over all messages after the roots: a reply loop (A answers
    // B answers A) has no root, and must still show every message once.
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

pub fn thread_views(project: &str, messages: &[MessageRecord], now: i64) -> Vec<MessageView> {
    thread_order(messages)
        .into_iter()
        .map(|(i, depth)| MessageView::new(project, &messages[i], depth, now))
        .collect()
}

/// Where a project's applied series can be fetched from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectLinks {
    pub mirror_url: Option<String>,
    pub tag_prefix: String,
}

/// The `git fetch` line for an applied series; only when a mirror is configured.
pub fn fetch_line(links: &ProjectLinks, head: &str, applied: Option<bool>) -> Option<String> {
    let mirror = links.mirror_url.as_deref().map(str::trim).filter(|m| !m.is_empty())?;
    // The tag as the worker pushed it: message-id characters a ref cannot hold are %-encoded.
    let tag = quire_git::tag_ref(&links.tag_prefix, head);
    let tag = tag.strip_prefix("refs/").unwrap_or(&tag);
    (applied == Some(true)).then(|| format!("git fetch {mirror} {tag}"))
}

/// The patches of a series found upstream, in patch order: "3/3 merged" lines for the page.
pub fn merged_lines(detail: &SeriesDetail, merged: &[quire_store::MergedPatch]) -> Vec<MergedLine> {
    detail
        .patches
        .iter()
        .filter_map(|p| {
            let m = merged.iter().find(|m| m.message_id == p.message_id)?;
            Some(MergedLine {
                label: format!("{}/{}", p.number, detail.total),
                subject: p.subject.clone(),
                commit: m.commit.chars().take(12).collect(),
                how: if m.matched_by == "patch-id" {
                    "same patch-id".into()
                } else {
                    "same author and subject".into()
                },
            })
        })
        .collect()
}

pub fn check_view(c: &Check, log_url: Option<String>) -> CheckView {
    let (state, class) = match c.state {
        CheckState::Pass => ("pass", "pass"),
        CheckState::Warning => ("warning", "pending"),
        CheckState::Fail => ("fail", "fail"),
        CheckState::Error => ("error", "fail"),
    };
    CheckView {
        name: c.name.clone(),
        state: state.to_string(),
        class,
        // Only web links, whatever is stored (rows from before testers' URLs were checked):
        // another scheme on a page is a script or a download waiting for a click.
        url: c.url.clone().filter(|u| crate::url::web_link(u)).or(log_url),
        description: c.description.clone().unwrap_or_default(),
        detail: (c.name == "abi" && c.state != CheckState::Pass).then(|| c.log.clone()).flatten(),
    }
}

/// The Message-IDs whose attestation a series page shows: each patch's and each trailer's mail.
pub fn attested_ids(page: &SeriesPage) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for p in &page.trailers {
        ids.push(p.message_id.clone());
        ids.extend(p.trailers.iter().map(|t| t.source.clone()));
    }
    ids.sort();
    ids.dedup();
    ids
}

/// Puts each mail's attestation on its patch and trailers.
pub fn attach_attestations(
    page: &mut SeriesPage,
    found: &std::collections::HashMap<String, quire_store::Attestation>,
) {
    for p in &mut page.trailers {
        p.attestation = found.get(&p.message_id).map(crate::views::AttestView::of);
        for t in &mut p.trailers {
            t.attestation = found.get(&t.source).map(crate::views::AttestView::of);
        }
    }
}

/// The series page: `detail` from the store, `thread` its messages and the replies under them.
pub fn series_page(
    project: &str,
    detail: &SeriesDetail,
    thread: &[MessageRecord],
    links: &ProjectLinks,
    now: i64,
) -> SeriesPage {
    let base = message_url(project, &detail.message_id);
    let newest =
        detail.revisions.iter().max_by_key(|r| (r.version, r.date)).map(|r| r.message_id.as_str());
    let applied_state = applied(detail.apply.as_ref().map(|a| a.state));
    let facts = SeriesFacts {
        is_rfc: detail.is_rfc,
        is_pull: detail.is_pull,
        reviewed: Some(is_reviewed(&detail.patches)),
        applied: applied_state,
        checks_pass: checks_pass(detail.checks.iter().map(|c| c.state)),
        complete: detail.complete,
        patches: detail.patches.len() as u32,
        total: detail.total,
        obsolete: detail.superseded_by.is_some(),
    };
    let (stat, stat_summary) = series_stat(detail);
    let many = detail.revisions.len() > 1;
    let revisions = detail
        .revisions
        .iter()
        .map(|r| RevisionLink {
            label: format!("v{}", r.version),
            url: message_url(project, &r.message_id),
            current: r.message_id == detail.message_id,
            newest: many && newest == Some(r.message_id.as_str()),
            interdiff_url: (r.message_id != detail.message_id)
                .then(|| format!("{base}interdiff/{}", segment(&r.message_id))),
        })
        .collect();
    let trailers = detail
        .patches
        .iter()
        .map(|p| {
            let own = p.own_trailers.iter().map(|t| TrailerView {
                tag: t.tag.clone(),
                value: t.value.clone(),
                verified: true,
                carried_over: false,
                from_anchor: anchor(&p.message_id),
                source: p.message_id.clone(),
                attestation: None,
            });
            let given = p.trailers.iter().map(|t| TrailerView {
                tag: t.tag.clone(),
                value: t.value.clone(),
                verified: t.verified,
                carried_over: t.carried_over,
                from_anchor: anchor(&t.message_id),
                source: t.message_id.clone(),
                attestation: None,
            });
            PatchTrailers {
                number: p.number,
                subject: p.subject.clone(),
                anchor: anchor(&p.message_id),
                message_id: p.message_id.clone(),
                attestation: None,
                trailers: own.chain(given).filter(|t| is_person_tag(&t.tag)).collect(),
            }
        })
        .collect();
    let apply = match &detail.apply {
        Some(a) if a.state == ApplyState::Applied => {
            ApplyView::Applied { tree_url: a.tree_url.clone(), log_url: format!("{base}apply.log") }
        }
        Some(a) if a.state == ApplyState::Failed => ApplyView::Failed {
            log_url: format!("{base}apply.log"),
            log: last_lines(a.log.as_deref().unwrap_or(""), 30),
        },
        _ => ApplyView::NotYet,
    };
    SeriesPage {
        project: project.to_string(),
        project_url: format!("/{}/", segment(project)),
        title: series_title(&detail.subject, &detail.name),
        submitter: person(&detail.submitter),
        submitter_email: detail.submitter.email.clone(),
        posted: posted(detail.patches.len() as u32),
        age: Age::new(detail.date, now),
        version: detail.version,
        badges: badges(&facts),
        revisions,
        fetch_line: fetch_line(links, &detail.message_id, applied_state),
        merged: Vec::new(),
        total_patches: detail.total,
        apply,
        stat,
        stat_summary,
        checks: detail
            .checks
            .iter()
            .map(|c| check_view(c, c.log.as_ref().map(|_| format!("{base}checks/{}", c.id))))
            .collect(),
        approvals: detail.approvals.as_ref().map(|a| approvals_view(project, a)),
        range_diff: None,
        trailers,
        thread: thread_views(project, thread, now),
        mbox_url: format!("{base}mbox"),
        cover_url: base,
        workflow: Default::default(),
    }
}

/// The stat of the whole series: the cover letter's, computed by git on the cumulative diff,
/// when it has one; else the patches' stats added up per file.
pub fn series_stat(detail: &SeriesDetail) -> (Vec<crate::diffstat::StatLine>, String) {
    if let Some(found) = detail.cover_letter.as_ref().and_then(|c| cover_letter_stat(&c.body)) {
        return found;
    }
    let files = series_files(detail.patches.iter().map(|p| p.diffstat.as_slice()));
    if files.is_empty() {
        return (Vec::new(), String::new());
    }
    (stat_lines(&files, FORMAT_PATCH_WIDTH), summary_line(&files))
}

/// Review and credit trailers (`*-by`) are listed per patch; `Fixes:`/`Link:` stay in the text.
fn is_person_tag(tag: &str) -> bool {
    tag.to_ascii_lowercase().ends_with("-by")
}

/// The end of a log, where the failure is.
fn last_lines(log: &str, n: usize) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use quire_mail::{Address, MessageKind, Trailer};
    use quire_store::{Revision, SeriesTrailer};

    fn rec(id: &str, reply_to: Option<&str>, date: i64) -> MessageRecord {
        MessageRecord {
            message_id: id.into(),
            projects: vec!["p".into()],
            thread_key: "t".into(),
            parent: None,
            subject: format!("subject of {id}"),
            from: Address { name: "Ann".into(), email: "ann@example.com".into() },
            date: Some(date),
            kind: MessageKind::Reply,
            series_head: None,
            role: None,
            in_reply_to: reply_to.map(String::from),
            references: reply_to.map(|r| vec![r.to_string()]).unwrap_or_default(),
            patch_id: None,
            diffstat: vec![],
            trailers: vec![],
            base_commit: None,
            based_on: vec![],
            pull: None,
            problems: vec![],
            body: String::new(),
            diff: None,
        }
    }

    fn patch(n: u32, own: &[&str], given: &[(&str, bool)]) -> SeriesPatch {
        SeriesPatch {
            number: n,
            message_id: format!("p{n}@x"),
            subject: format!("[PATCH {n}/2] x"),
            patch_id: None,
            diffstat: vec![],
            own_trailers: own
                .iter()
                .map(|t| Trailer { tag: t.to_string(), value: "R <r@x>".into(), person: None })
                .collect(),
            trailers: given
                .iter()
                .map(|(t, verified)| SeriesTrailer {
                    tag: t.to_string(),
                    value: "R <r@x>".into(),
                    name: "R".into(),
                    email: "r@x".into(),
                    message_id: "re@x".into(),
                    verified: *verified,
                    carried_over: false,
                })
                .collect(),
            from_revision: None,
        }
    }

    #[test]
    fn replies_nest_under_what_they_answer_siblings_by_date() {
        let ms = [
            rec("cover", None, 10),
            rec("p2", Some("cover"), 12),
            rec("p1", Some("cover"), 11),
            rec("re-p1", Some("p1"), 20),
            rec("re-re", Some("re-p1"), 30),
        ];
        let order: Vec<(&str, usize)> =
            thread_order(&ms).into_iter().map(|(i, d)| (ms[i].message_id.as_str(), d)).collect();
        assert_eq!(order, vec![("cover", 0), ("p1", 1), ("re-p1", 2), ("re-re", 3), ("p2", 1)]);
    }

    #[test]
    fn a_reply_whose_parent_is_missing_hangs_on_the_nearest_reference() {
        let mut r = rec("late", Some("missing"), 5);
        r.references = vec!["root".into(), "missing".into()];
        let ms = [rec("root", None, 1), r];
        assert_eq!(thread_order(&ms), vec![(0, 0), (1, 1)]);
    }

    #[test]
    fn a_reply_loop_shows_every_message_once() {
        let ms = [rec("a", Some("b"), 1), rec("b", Some("a"), 2), rec("self", Some("self"), 3)];
        let mut seen: Vec<usize> = thread_order(&ms).into_iter().map(|(i, _)| i).collect();
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2]);
    }

    #[test]
    fn reviewed_needs_a_verified_review_on_every_patch() {
        assert!(!is_reviewed(&[]));
        assert!(!is_reviewed(&[
            patch(1, &["Reviewed-by"], &[]),
            patch(2, &["Signed-off-by"], &[])
        ]));
        assert!(is_reviewed(&[
            patch(1, &["Reviewed-by"], &[]),
            patch(2, &[], &[("Acked-by", true)])
        ]));
        assert!(!is_reviewed(&[
            patch(1, &["Reviewed-by"], &[]),
            patch(2, &[], &[("Acked-by", false)])
        ]));
        assert!(!is_reviewed(&[patch(1, &[], &[("Tested-by", true)])]));
    }

    #[test]
    fn fetch_line_needs_a_mirror_and_an_applied_series() {
        let links = ProjectLinks {
            mirror_url: Some("https://git.example.org/xen.git".into()),
            tag_prefix: "quire".into(),
        };
        assert_eq!(
            fetch_line(&links, "a@b", Some(true)).as_deref(),
            Some("git fetch https://git.example.org/xen.git tags/quire/a@b")
        );
        assert_eq!(fetch_line(&links, "a@b", None), None);
        assert_eq!(fetch_line(&links, "a@b", Some(false)), None);
        assert_eq!(fetch_line(&ProjectLinks::default(), "a@b", Some(true)), None);
        // An id with characters a tag cannot hold, named as the worker pushed it.
        assert_eq!(
            fetch_line(&links, "x..y/z@b", Some(true)).as_deref(),
            Some("git fetch https://git.example.org/xen.git tags/quire/x.%2Ey%2Fz@b")
        );
    }

    #[test]
    fn incomplete_and_obsolete_series_say_so() {
        let f = SeriesFacts {
            complete: false,
            patches: 2,
            total: 3,
            obsolete: true,
            ..Default::default()
        };
        let b = badges(&f);
        assert!(b.iter().any(|b| b.text == "incomplete" && b.title == "2 of 3 patches received"));
        assert!(b.iter().any(|b| b.text == "obsolete"));
        assert!(b.iter().any(|b| b.text == "not applied"));
    }

    fn detail(head: &str, version: u32, revisions: Vec<Revision>) -> SeriesDetail {
        SeriesDetail {
            project: "xen".into(),
            message_id: head.into(),
            subject: format!("[PATCH v{version}] thing"),
            name: "thing".into(),
            version,
            total: 2,
            complete: true,
            is_rfc: false,
            is_pull: false,
            submitter: Address { name: "Ann".into(), email: "ann@example.com".into() },
            date: 1_600_000_000,
            last_activity: 1_600_000_000,
            superseded_by: None,
            revision_link: None,
            revisions,
            cover_letter: None,
            patches: vec![patch(1, &["Reviewed-by"], &[]), patch(2, &[], &[("Acked-by", false)])],
            replies: 0,
            apply: None,
            checks: vec![],
            approvals: None,
        }
    }

    #[test]
    fn older_revisions_link_an_interdiff_and_mark_the_newest() {
        let revs = vec![
            Revision { message_id: "v1@x".into(), version: 1, date: 1, subject: "v1".into() },
            Revision { message_id: "v2@x".into(), version: 2, date: 2, subject: "v2".into() },
        ];
        let mut d = detail("v1@x", 1, revs);
        d.superseded_by = Some("v2@x".into());
        let page = series_page("xen", &d, &[], &ProjectLinks::default(), 1_600_000_100);
        assert!(page.badges.iter().any(|b| b.text == "obsolete"));
        assert_eq!(page.revisions[1].interdiff_url.as_deref(), Some("/xen/v1@x/interdiff/v2@x"));
        assert!(page.revisions[1].newest && !page.revisions[0].newest);
        assert_eq!(page.posted, "posted 2 patches");
        assert!(!page.badges.iter().any(|b| b.text == "reviewed"), "patch 2's ack is unverified");
        assert!(page.trailers[1].trailers.iter().any(|t| !t.verified && t.tag == "Acked-by"));
    }

    #[test]
    fn check_states_fold_into_pass_or_fail() {
        let c = |state| Check {
            id: 1,
            message_id: "x".into(),
            name: "ci".into(),
            state,
            url: None,
            description: None,
            log: None,
            created: 0,
        };
        assert_eq!(checks_pass([]), None);
        assert_eq!(
            checks_pass([c(CheckState::Pass), c(CheckState::Warning)].iter().map(|c| c.state)),
            Some(true)
        );
        assert_eq!(
            checks_pass([c(CheckState::Pass), c(CheckState::Error)].iter().map(|c| c.state)),
            Some(false)
        );
    }
}
