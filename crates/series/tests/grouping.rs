//! Grouping and revision rules learnt from real archives (issue 25), each on mail shaped like
//! the case: cover letters whose `n/m` is wrong, patches answering a message the archive does
//! not have, a cover letter numbered `01/27`, sets sent in parts or for several stable trees,
//! and pull requests or "applied" answers sent into a series' thread.

use quire_mail::{Address, MessageKind, parse_subject};
use quire_series::{Assembly, MessageMeta, Role, assemble};

/// A message as the mail crate makes it: kind from the subject and whether it has a diff.
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
        from: Address {
            name: from.split('@').next().unwrap_or_default().into(),
            email: from.into(),
        },
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

fn numbers(a: &Assembly, head: &str) -> Vec<u32> {
    series_of(a, head).patches.iter().map(|p| p.0).collect()
}

fn role(a: &Assembly, id: &str) -> Option<Role> {
    a.members.iter().find(|m| m.0 == id).map(|m| m.2)
}

#[test]
fn a_cover_letter_whose_count_is_wrong_gets_its_sender_s_patches() {
    let a = assemble(&[
        msg("c", None, "ann@x.org", 100, "[PATCH v4 0/2] mm: tidy", false),
        msg("p1", Some("c"), "ann@x.org", 101, "[PATCH v4 1/3] mm: one", true),
        msg("p2", Some("c"), "ann@x.org", 102, "[PATCH v4 2/3] mm: two", true),
        msg("p3", Some("c"), "ann@x.org", 103, "[PATCH v4 3/3] mm: three", true),
        // Someone else's patches sent in reply to it are not its patches.
        msg("o1", Some("c"), "bob@y.org", 104, "[PATCH v4 1/4] mm: other", true),
        msg("o2", Some("c"), "bob@y.org", 105, "[PATCH v4 2/4] mm: other two", true),
    ]);
    let s = series_of(&a, "c");
    assert_eq!((numbers(&a, "c"), s.total, s.complete), (vec![1, 2, 3], 3, true));
    assert_eq!(numbers(&a, "o1"), [1, 2]);
}

#[test]
fn a_cover_letter_with_patches_of_its_count_keeps_them_and_only_them() {
    // A set of ten sent later into the thread of a set of seven: two series, never a mix.
    let mut mail = vec![msg("c", None, "jens@k.dk", 100, "[PATCHSET v2 0/7] allow signals", false)];
    for n in 1..=7 {
        mail.push(msg(
            &format!("a{n}"),
            Some("c"),
            "jens@k.dk",
            100 + n,
            &format!("[PATCH {n}/7] a{n}"),
            true,
        ));
    }
    for n in 1..=10 {
        mail.push(msg(
            &format!("b{n}"),
            Some("c"),
            "jens@k.dk",
            200 + n,
            &format!("[PATCH {n:02}/10] b{n}"),
            true,
        ));
    }
    let a = assemble(&mail);
    assert_eq!(numbers(&a, "c"), (1..=7).collect::<Vec<_>>());
    assert_eq!(numbers(&a, "b1"), (1..=10).collect::<Vec<_>>());
}

#[test]
fn patches_answering_a_missing_message_group_as_its_siblings() {
    // AUTOSEL backports answer a first mail this list never got.
    let a = assemble(&[
        msg("p28", Some("missing-0"), "sasha@k.org", 100, "[PATCH AUTOSEL 5.4 028/350] a: b", true),
        msg("p29", Some("missing-0"), "sasha@k.org", 101, "[PATCH AUTOSEL 5.4 029/350] c: d", true),
        msg("q1", Some("missing-1"), "sasha@k.org", 102, "[PATCH AUTOSEL 5.10 001/200] e: f", true),
    ]);
    assert_eq!(numbers(&a, "p28"), [28, 29]);
    assert!(!series_of(&a, "p28").complete);
    assert_eq!(numbers(&a, "q1"), [1]);
}

#[test]
fn a_cover_letter_numbered_01_is_the_cover_letter() {
    let a = assemble(&[
        msg("c", None, "ann@x.org", 100, "[PATCH 01/3] drm: rework the planes", false),
        msg("p2", Some("c"), "ann@x.org", 101, "[PATCH 02/3] drm: one", true),
        msg("p3", Some("c"), "ann@x.org", 102, "[PATCH 03/3] drm: two", true),
        msg("r", Some("c"), "bob@y.org", 103, "Re: [PATCH 01/3] drm: rework the planes", false),
    ]);
    assert_eq!(series_of(&a, "c").cover_letter.as_deref(), Some("c"));
    assert_eq!(numbers(&a, "c"), [2, 3]);
    assert_eq!(role(&a, "c"), Some(Role::CoverLetter));
    assert_eq!(role(&a, "r"), Some(Role::Reply));
    // Another number without a diff is a comment, not a cover letter.
    let a = assemble(&[msg("x", None, "ann@x.org", 100, "[PATCH 2/3] drm: note", false)]);
    assert!(a.series.is_empty(), "{a:#?}");
}

#[test]
fn parts_and_stable_trees_are_not_revisions_of_each_other() {
    let a = assemble(&[
        msg("part1", None, "ann@x.org", 100, "[PATCH 0/8][PART 1] kvm: big rework", false),
        msg("part3", None, "ann@x.org", 200, "[PATCH 0/8][PART 3] kvm: big rework", false),
        msg("part3v2", None, "ann@x.org", 300, "[PATCH v2 0/8][PART 3] kvm: big rework", false),
        msg("s54", None, "greg@k.org", 100, "[PATCH 5.4 1/1] net: fix a leak", true),
        msg("s510", None, "greg@k.org", 101, "[PATCH 5.10 1/1] net: fix a leak", true),
        msg("s510y", None, "greg@k.org", 102, "[PATCH 5.10.y] net: fix a leak", true),
        msg("auto", None, "sasha@k.org", 103, "[PATCH AUTOSEL 5.4 1/1] net: fix a leak", true),
        // A tree name that revisions move between is not part of the identity.
        msg("nn", None, "ann@x.org", 100, "[PATCH net-next] tcp: tune", true),
        msg("nv2", None, "ann@x.org", 200, "[PATCH net v2] tcp: tune", true),
    ]);
    let key = |h: &str| series_of(&a, h).revision_key.clone();
    assert_ne!(key("part1"), key("part3"));
    assert_eq!(key("part3"), key("part3v2"));
    assert_ne!(key("s54"), key("s510"));
    assert_eq!(key("s510"), key("s510y"), "5.10.y is the branch of 5.10");
    assert_ne!(key("auto"), key("s54"));
    assert_eq!(key("nn"), key("nv2"));
}

#[test]
fn pulls_and_other_people_s_series_in_a_thread_are_not_its_revisions() {
    let a = assemble(&[
        msg("c", None, "ann@x.org", 100, "[PATCH 0/2] spi: faster", false),
        msg("p1", Some("c"), "ann@x.org", 101, "[PATCH 1/2] spi: one", true),
        msg("p2", Some("c"), "ann@x.org", 102, "[PATCH 2/2] spi: two", true),
        // A v2 in reply to the v1 is its revision.
        msg("v2", Some("c"), "ann@x.org", 200, "[PATCH v2 0/2] spi: faster", false),
        // A maintainer's pull request and another person's follow-up series are not.
        MessageMeta {
            kind: MessageKind::PullRequest,
            ..msg("pull", Some("c"), "mark@k.org", 300, "[GIT PULL] spi: faster", false)
        },
        MessageMeta {
            kind: MessageKind::PullRequest,
            ..msg("ownpull", Some("v2"), "ann@x.org", 350, "[GIT PULL] spi: faster", false)
        },
        msg("other", Some("c"), "bob@y.org", 400, "[PATCH] spi: on top of faster", true),
    ]);
    let key = |h: &str| series_of(&a, h).revision_key.clone();
    assert_eq!(key("v2"), key("c"));
    assert!(series_of(&a, "pull").is_pull && series_of(&a, "ownpull").is_pull);
    assert_ne!(key("pull"), key("c"));
    assert_ne!(key("ownpull"), key("c"), "a pull request of the same name is not a revision");
    assert_ne!(key("other"), key("c"));
}
