//! Revisions beyond one thread (issue 25): b4's partial re-roll within a thread, and the signals
//! the store links revisions of other threads by (`quire_series::revisions`), on mail shaped like
//! each case.

use quire_mail::{Address, MessageKind, parse_subject};
use quire_series::revisions::{Candidate, Link, Linking, Signal, choose, signals};
use quire_series::{Assembly, MessageMeta, assemble};
use std::collections::HashMap;

fn msg(
    id: &str,
    parent: Option<&str>,
    from: &str,
    date: i64,
    subject: &str,
    diff: bool,
) -> MessageMeta {
    let info = parse_subject(subject);
    let kind = if info.number == Some(0) && !info.is_reply {
        MessageKind::CoverLetter
    } else if diff && !info.is_reply {
        MessageKind::Patch
    } else {
        MessageKind::Reply
    };
    MessageMeta {
        message_id: id.into(),
        in_reply_to: parent.map(Into::into),
        references: parent.map(|p| vec![p.to_string()]).unwrap_or_default(),
        from: Address { name: "Ann Dev".into(), email: from.into() },
        date,
        subject: subject.into(),
        subject_info: info,
        kind,
        patch_id: diff.then(|| format!("pid-{id}")),
        ..Default::default()
    }
}

fn series_of<'a>(a: &'a Assembly, head: &str) -> &'a quire_series::Series {
    a.series.iter().find(|s| s.head == head).unwrap_or_else(|| panic!("no series {head}: {a:#?}"))
}

fn v2_and_partial_v3(v3_parent: &str) -> Vec<MessageMeta> {
    vec![
        msg("c2", None, "ann@x.org", 100, "[PATCH v2 0/2] io_uring: poll fixes", false),
        msg("p1", Some("c2"), "ann@x.org", 101, "[PATCH v2 1/2] io_uring: fix poll race", true),
        msg("p2", Some("c2"), "ann@x.org", 102, "[PATCH v2 2/2] io_uring: drop poll ref", true),
        msg(
            "r1",
            Some("p1"),
            "rev@y.org",
            150,
            "Re: [PATCH v2 1/2] io_uring: fix poll race",
            false,
        ),
        // `b4 send --reroll` of patch 2 only: In-Reply-To v2's 2/2 (or its cover).
        msg(
            "q2",
            Some(v3_parent),
            "ann@x.org",
            200,
            "[PATCH v3 2/2] io_uring: drop poll ref",
            true,
        ),
    ]
}

#[test]
fn a_partial_reroll_takes_the_missing_patch_from_the_revision_before() {
    let a = assemble(&v2_and_partial_v3("p2"));
    let v3 = series_of(&a, "q2");
    assert_eq!(v3.version, 3);
    assert_eq!(v3.patches, vec![(2, "q2".to_string())]);
    assert_eq!(v3.taken, vec![(1, "p1".to_string())]);
    assert!(v3.complete);
    // It is v2's next revision (it answers into v2's thread) and named as v2 is.
    assert_eq!(v3.revision_key, series_of(&a, "c2").revision_key);
    assert_eq!(v3.name, "io_uring: poll fixes");
    // v2 keeps its own patches.
    assert_eq!(series_of(&a, "c2").patches.len(), 2);
}

#[test]
fn a_lone_patch_answering_another_number_is_no_partial_reroll() {
    // v3 2/2 answering v2's cover letter, not its 2/2: b4 does not reconstitute it.
    let a = assemble(&v2_and_partial_v3("c2"));
    let v3 = series_of(&a, "q2");
    assert!(v3.taken.is_empty());
    assert!(!v3.complete);
    // Nor does a v3 sent by itself, with no In-Reply-To.
    let mut mail = v2_and_partial_v3("p2");
    mail[4].in_reply_to = None;
    mail[4].references.clear();
    let a = assemble(&mail);
    assert!(series_of(&a, "q2").taken.is_empty());
}

fn linking(version: u32, email: &str, name: &str, ids: usize, subjects: usize) -> Linking {
    Linking {
        version,
        submitter: Address { name: name.into(), email: email.into() },
        patch_ids: ids,
        patch_subjects: subjects,
    }
}

fn candidate(
    id: u32,
    version: u32,
    email: &str,
    name: &str,
    shared: &[(Signal, usize)],
) -> Candidate<u32> {
    Candidate {
        id,
        version,
        date: i64::from(id),
        submitter: Address { name: name.into(), email: email.into() },
        patch_ids: 4,
        patch_subjects: 4,
        shared: shared.iter().copied().collect::<HashMap<_, _>>(),
        superseded: false,
    }
}

#[test]
fn shared_patch_subjects_link_the_same_person_only() {
    let me = linking(2, "ann@x.org", "Ann Dev", 4, 4);
    // Half of the subjects, same address: linked.
    let same = [candidate(1, 1, "ann@x.org", "Ann Dev", &[(Signal::PatchSubject, 2)])];
    assert_eq!(choose(&me, &same), Some((1, Link::PatchSubjects)));
    // The same person from another address (same full name): linked.
    let moved = [candidate(1, 1, "ann@work.example", "Ann Dev", &[(Signal::PatchSubject, 3)])];
    assert_eq!(choose(&me, &moved), Some((1, Link::PatchSubjects)));
    // Another person sending patches of the same subjects: never on subjects alone.
    let other = [candidate(
        1,
        1,
        "bob@z.org",
        "Bob Other",
        &[(Signal::PatchSubject, 4), (Signal::PatchId, 4)],
    )];
    assert_eq!(choose(&me, &other), None);
    // Less than half: not linked; nor from a version that is not lower.
    let few = [candidate(1, 1, "ann@x.org", "Ann Dev", &[(Signal::PatchSubject, 1)])];
    assert_eq!(choose(&me, &few), None);
    let same_version = [candidate(1, 2, "ann@x.org", "Ann Dev", &[(Signal::PatchSubject, 4)])];
    assert_eq!(choose(&linking(2, "ann@x.org", "Ann Dev", 4, 4), &same_version), None);
}

#[test]
fn the_nearest_earlier_version_wins_and_stronger_rules_first() {
    let me = linking(4, "ann@x.org", "Ann Dev", 4, 4);
    let c = [
        candidate(1, 1, "ann@x.org", "Ann Dev", &[(Signal::PatchId, 4)]),
        candidate(3, 3, "ann@x.org", "Ann Dev", &[(Signal::PatchId, 2)]),
        candidate(2, 2, "ann@x.org", "Ann Dev", &[(Signal::PatchId, 3)]),
    ];
    assert_eq!(choose(&me, &c), Some((3, Link::PatchIds)));
    // A change-id names the set: it wins over shared patches, and links another sender too.
    let c = [
        candidate(3, 3, "ann@x.org", "Ann Dev", &[(Signal::PatchId, 4)]),
        candidate(2, 2, "carl@z.org", "Carl Else", &[(Signal::ChangeId, 1)]),
    ];
    assert_eq!(choose(&me, &c), Some((2, Link::ChangeId)));
    // Supersedes: names the one before whatever else is shared.
    let mut s = candidate(1, 1, "bob@z.org", "Bob Other", &[]);
    s.superseded = true;
    assert_eq!(choose(&me, &[c[0].clone(), s]), Some((1, Link::Supersedes)));
}

#[test]
fn a_new_address_with_the_same_name_and_series_name_is_the_same_person() {
    let me = linking(2, "ann@new.example", "Ann Dev", 3, 3);
    let c = [candidate(1, 1, "ann@old.example", "Ann Dev", &[(Signal::Person, 1)])];
    assert_eq!(choose(&me, &c), Some((1, Link::Person)));
    // A one-word name tells nobody apart.
    let me = linking(2, "ann@new.example", "ann", 3, 3);
    let c = [candidate(1, 1, "ann@old.example", "ann", &[(Signal::PatchSubject, 3)])];
    assert_eq!(choose(&me, &c), None);
}

#[test]
fn signals_keep_parts_backports_and_pulls_apart() {
    let part = |id: &str, subject: &str| {
        let mail = [msg(id, None, "ann@x.org", 1, subject, true)];
        let a = assemble(&mail);
        signals(&a.series[0], &mail.iter().collect::<Vec<_>>())
    };
    let p3 = part("a", "[PATCH][PART 3] mm: fold pages");
    let p4 = part("b", "[PATCH][PART 4] mm: fold pages");
    let plain = part("c", "[PATCH] mm: fold pages");
    let stable = part("d", "[PATCH 5.10] mm: fold pages");
    let subject = |s: &[(Signal, String)]| {
        s.iter().find(|(k, _)| *k == Signal::PatchSubject).map(|(_, v)| v.clone()).unwrap()
    };
    let all = [subject(&p3), subject(&p4), subject(&plain), subject(&stable)];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a, b);
        }
    }
    // b4's change-id is read from the cover letter or patch and is a signal.
    let mut m = msg("e", None, "ann@x.org", 1, "[PATCH] mm: fold pages", true);
    m.change_id = Some("20240101-fold-1a2b3c4d".into());
    let a = assemble(std::slice::from_ref(&m));
    assert_eq!(a.series[0].change_id.as_deref(), Some("20240101-fold-1a2b3c4d"));
    assert!(signals(&a.series[0], &[&m]).iter().any(|(k, _)| *k == Signal::ChangeId));
}
