//! Each assembly and trailer rule on hand-built messages.

use quire_mail::{Address, MessageKind, SubjectInfo, Trailer};
use quire_series::{Assembly, CollectedTrailer, MessageMeta, Role, assemble, collect_trailers};

fn who(email: &str) -> Address {
    Address { name: email.split('@').next().unwrap_or_default().to_string(), email: email.into() }
}

/// A patch-like message: `n`/`m` of version `v` (`n == 0` is a cover letter).
fn patch(
    id: &str,
    parent: Option<&str>,
    from: &str,
    date: i64,
    v: u32,
    n: u32,
    m: u32,
) -> MessageMeta {
    MessageMeta {
        message_id: id.into(),
        in_reply_to: parent.map(Into::into),
        references: parent.map(|p| vec![p.to_string()]).unwrap_or_default(),
        from: who(from),
        date,
        subject: format!("[PATCH v{v} {n}/{m}] thing"),
        subject_info: SubjectInfo {
            version: v,
            number: Some(n),
            total: Some(m),
            name: "thing".into(),
            ..Default::default()
        },
        kind: if n == 0 { MessageKind::CoverLetter } else { MessageKind::Patch },
        patch_id: Some(format!("pid-{n}")),
        ..Default::default()
    }
}

fn lone(id: &str, from: &str, date: i64) -> MessageMeta {
    MessageMeta {
        subject_info: SubjectInfo { version: 1, name: id.into(), ..Default::default() },
        ..patch(id, None, from, date, 1, 1, 1)
    }
}

fn reply(id: &str, refs: &[&str], from: &str, date: i64, trailers: Vec<Trailer>) -> MessageMeta {
    MessageMeta {
        message_id: id.into(),
        in_reply_to: refs.last().map(|s| s.to_string()),
        references: refs.iter().map(|s| s.to_string()).collect(),
        from: who(from),
        date,
        subject: "Re: [PATCH] thing".into(),
        subject_info: SubjectInfo {
            is_reply: true,
            version: 1,
            name: "thing".into(),
            ..Default::default()
        },
        kind: MessageKind::Reply,
        trailers,
        ..Default::default()
    }
}

fn reviewed_by(email: &str) -> Trailer {
    Trailer { tag: "Reviewed-by".into(), value: format!("R <{email}>"), person: Some(who(email)) }
}

/// Each series: head, (number, message id) of its patches, complete.
type Heads = Vec<(String, Vec<(u32, String)>, bool)>;

fn heads(a: &Assembly) -> Heads {
    a.series.iter().map(|s| (s.head.clone(), s.patches.clone(), s.complete)).collect()
}

fn role(a: &Assembly, id: &str) -> Option<(String, Role)> {
    a.members.iter().find(|m| m.0 == id).map(|m| (m.1.clone(), m.2))
}

fn p(n: u32, id: &str) -> (u32, String) {
    (n, id.to_string())
}

/// The trailer values collected for each patch.
fn values(t: &[(u32, Vec<CollectedTrailer>)]) -> Vec<(u32, Vec<String>)> {
    t.iter().map(|(n, l)| (*n, l.iter().map(|c| c.trailer.value.clone()).collect())).collect()
}

#[test]
fn patches_answering_the_cover_letter() {
    let ms = [
        patch("c", None, "a@x", 0, 1, 0, 2),
        patch("1", Some("c"), "a@x", 1, 1, 1, 2),
        patch("2", Some("c"), "a@x", 2, 1, 2, 2),
    ];
    let a = assemble(&ms);
    assert_eq!(heads(&a), vec![("c".into(), vec![p(1, "1"), p(2, "2")], true)]);
    assert_eq!(role(&a, "c"), Some(("c".into(), Role::CoverLetter)));
}

#[test]
fn no_chain_reply_to_hangs_the_patches_under_patch_1() {
    let ms = [
        patch("1", None, "a@x", 1, 1, 1, 3),
        patch("2", Some("1"), "a@x", 2, 1, 2, 3),
        patch("3", Some("1"), "a@x", 3, 1, 3, 3),
    ];
    assert_eq!(
        heads(&assemble(&ms)),
        vec![("1".into(), vec![p(1, "1"), p(2, "2"), p(3, "3")], true)]
    );
}

#[test]
fn chain_reply_to_hangs_each_patch_under_the_previous() {
    let ms = [
        patch("1", None, "a@x", 1, 1, 1, 3),
        patch("2", Some("1"), "a@x", 2, 1, 2, 3),
        patch("3", Some("2"), "a@x", 3, 1, 3, 3),
    ];
    assert_eq!(
        heads(&assemble(&ms)),
        vec![("1".into(), vec![p(1, "1"), p(2, "2"), p(3, "3")], true)]
    );
}

#[test]
fn a_v2_cover_answering_the_v1_cover_is_its_own_series_and_revision() {
    // Patchwork merges this v2 into v1 (EXPECTED.md names the bug); quire keeps two revisions.
    let ms = [
        patch("c1", None, "a@x", 0, 1, 0, 1),
        patch("p1", Some("c1"), "a@x", 1, 1, 1, 1),
        patch("c2", Some("c1"), "a@x", 10, 2, 0, 1),
        patch("q1", Some("c2"), "a@x", 11, 2, 1, 1),
    ];
    let a = assemble(&ms);
    assert_eq!(
        heads(&a),
        vec![("c1".into(), vec![p(1, "p1")], true), ("c2".into(), vec![p(1, "q1")], true)]
    );
    assert_eq!(a.series[0].revision_key, a.series[1].revision_key);
    assert_eq!((a.series[0].version, a.series[1].version), (1, 2));
}

#[test]
fn a_v2_without_cover_sent_in_reply_to_the_v1_cover_groups_as_siblings() {
    let ms = [
        patch("c1", None, "a@x", 0, 1, 0, 2),
        patch("p1", Some("c1"), "a@x", 1, 1, 1, 2),
        patch("p2", Some("c1"), "a@x", 2, 1, 2, 2),
        patch("q1", Some("c1"), "a@x", 10, 2, 1, 2),
        patch("q2", Some("c1"), "a@x", 11, 2, 2, 2),
    ];
    let a = assemble(&ms);
    assert_eq!(
        heads(&a),
        vec![
            ("c1".into(), vec![p(1, "p1"), p(2, "p2")], true),
            ("q1".into(), vec![p(1, "q1"), p(2, "q2")], true)
        ]
    );
    assert_eq!(a.series[0].revision_key, a.series[1].revision_key);
}

#[test]
fn unthreaded_patches_group_by_submitter_version_total_and_time() {
    let day = 24 * 3600;
    let ms = [
        patch("a1", None, "a@x", 0, 1, 1, 2),
        patch("a2", None, "a@x", 5, 1, 2, 2),
        patch("b1", None, "b@x", 6, 1, 1, 2),
        // The same numbers again a few days later: another series.
        patch("a1'", None, "a@x", 3 * day, 1, 1, 2),
    ];
    let a = assemble(&ms);
    assert_eq!(
        heads(&a),
        vec![
            ("a1".into(), vec![p(1, "a1"), p(2, "a2")], true),
            ("b1".into(), vec![p(1, "b1")], false),
            ("a1'".into(), vec![p(1, "a1'")], false),
        ]
    );
}

#[test]
fn a_lone_patch_is_a_complete_series_of_one() {
    let a = assemble(&[lone("x", "a@x", 0)]);
    assert_eq!(heads(&a), vec![("x".into(), vec![p(1, "x")], true)]);
    assert_eq!(a.series[0].total, 1);
}

#[test]
fn the_head_stays_when_patch_1_arrives_later() {
    let c = patch("c", None, "a@x", 0, 1, 0, 2);
    let two = patch("2", Some("c"), "a@x", 2, 1, 2, 2);
    let one = patch("1", Some("c"), "a@x", 1, 1, 1, 2);
    assert_eq!(assemble(&[c.clone(), two.clone()]).series[0].head, "c");
    assert_eq!(assemble(&[c, two.clone(), one.clone()]).series[0].head, "c");
    // Without a cover letter: the lowest patch until patch 1 arrives.
    assert_eq!(assemble(std::slice::from_ref(&two)).series[0].head, "2");
    let two_under_one = patch("2", Some("1"), "a@x", 2, 1, 2, 2);
    assert_eq!(assemble(&[two_under_one, one]).series[0].head, "1");
}

#[test]
fn a_duplicated_number_starts_a_second_series_and_keeps_the_first_by_date() {
    let ms = [
        patch("c", None, "a@x", 0, 1, 0, 2),
        patch("1", Some("c"), "a@x", 1, 1, 1, 2),
        patch("2", Some("c"), "a@x", 2, 1, 2, 2),
        patch("2again", Some("c"), "a@x", 3, 1, 2, 2),
    ];
    let a = assemble(&ms);
    assert_eq!(
        heads(&a),
        vec![
            ("c".into(), vec![p(1, "1"), p(2, "2")], true),
            ("2again".into(), vec![p(2, "2again")], false)
        ]
    );
}

#[test]
fn replies_join_the_nearest_member_ancestor_skipping_missing_ones() {
    let ms = [
        patch("c", None, "a@x", 0, 1, 0, 1),
        patch("1", Some("c"), "a@x", 1, 1, 1, 1),
        // Answers a message the neighbourhood does not have; References still leads to patch 1.
        reply("r", &["c", "1", "ghost"], "r@y", 5, vec![]),
        reply("lost", &["elsewhere"], "r@y", 6, vec![]),
    ];
    let a = assemble(&ms);
    assert_eq!(role(&a, "r"), Some(("c".into(), Role::Reply)));
    assert_eq!(role(&a, "lost"), None);
}

#[test]
fn the_input_order_does_not_matter_even_for_a_message_id_seen_twice() {
    let first = patch("dup", None, "a@x", 5, 1, 1, 2);
    let mut second = first.clone();
    second.subject_info.number = Some(2);
    assert_eq!(assemble(&[first.clone(), second.clone()]), assemble(&[second, first]));
}

#[test]
fn trailers_come_from_replies_walking_up_and_from_the_cover_letter() {
    let ms = [
        patch("c", None, "a@x", 0, 1, 0, 2),
        MessageMeta {
            trailers: vec![reviewed_by("own@y")],
            ..patch("1", Some("c"), "a@x", 1, 1, 1, 2)
        },
        patch("2", Some("c"), "a@x", 2, 1, 2, 2),
        reply("r1", &["c", "1"], "r1@y", 10, vec![]),
        reply(
            "r1r",
            &["c", "1", "r1"],
            "r2@y",
            11,
            vec![reviewed_by("r2@y"), reviewed_by("own@y")],
        ),
        reply("rc", &["c"], "r3@y", 12, vec![reviewed_by("r3@y")]),
        reply("again", &["c", "2"], "r3@y", 13, vec![reviewed_by("R3@Y")]),
    ];
    let s = &assemble(&ms).series[0];
    let t = collect_trailers(s, &ms, &[]);
    // Patch 2: its own reply's copy, not the cover letter's given earlier: b4 gives a patch the
    // cover letter's trailers after its own.
    assert_eq!(
        values(&t),
        vec![(1, vec!["R <r2@y>".into(), "R <r3@y>".into()]), (2, vec!["R <R3@Y>".into()])]
    );
}

#[test]
fn a_trailer_from_another_address_is_collected_unverified() {
    let ms = [
        patch("1", None, "a@x", 1, 1, 1, 1),
        reply("r", &["1"], "someone@z", 2, vec![reviewed_by("other@y")]),
    ];
    let t = collect_trailers(&assemble(&ms).series[0], &ms, &[]);
    assert!(!t[0].1[0].verified);
}

#[test]
fn trailers_carry_over_by_patch_id() {
    let ms = [patch("1", None, "a@x", 1, 2, 1, 1)];
    let earlier = vec![(
        "pid-1".to_string(),
        vec![CollectedTrailer {
            trailer: reviewed_by("old@y"),
            message_id: "old".into(),
            verified: true,
            carried_over: false,
        }],
    )];
    let t = collect_trailers(&assemble(&ms).series[0], &ms, &earlier);
    assert_eq!(values(&t), vec![(1, vec!["R <old@y>".into()])]);
    assert!(t[0].1[0].carried_over);
}

#[test]
fn a_v1_gets_no_trailers_from_the_v2_sent_into_its_thread() {
    // Seen on LTP: 64 of 279 trailers went to the wrong revision before this rule.
    let ms = [
        patch("c1", None, "a@x", 0, 1, 0, 1),
        patch("p1", Some("c1"), "a@x", 1, 1, 1, 1),
        patch("c2", Some("c1"), "a@x", 10, 2, 0, 1),
        MessageMeta {
            trailers: vec![reviewed_by("suggested@y")],
            ..patch("q1", Some("c2"), "a@x", 11, 2, 1, 1)
        },
        reply("r2", &["c1", "c2", "q1"], "r@y", 12, vec![reviewed_by("r@y")]),
        reply("rc2", &["c1", "c2"], "s@y", 13, vec![reviewed_by("s@y")]),
    ];
    let a = assemble(&ms);
    let v1 = a.series.iter().find(|s| s.head == "c1").expect("v1");
    let v2 = a.series.iter().find(|s| s.head == "c2").expect("v2");
    assert_eq!(values(&collect_trailers(v1, &ms, &[])), vec![(1, vec![])]);
    assert_eq!(
        values(&collect_trailers(v2, &ms, &[])),
        vec![(1, vec!["R <r@y>".into(), "R <s@y>".into()])]
    );
}

fn trailer(tag: &str, name: &str, email: &str) -> Trailer {
    Trailer {
        tag: tag.into(),
        value: format!("{name} <{email}>"),
        person: Some(Address { name: name.into(), email: email.into() }),
    }
}

/// `Tag: value` of the trailers collected for each patch, with `?` for unverified ones.
fn lines(t: &[(u32, Vec<CollectedTrailer>)]) -> Vec<(u32, Vec<String>)> {
    t.iter()
        .map(|(n, l)| {
            let l = l.iter().map(|c| {
                let mark = if c.verified { "" } else { "?" };
                format!("{mark}{}: {}", c.trailer.tag, c.trailer.value)
            });
            (*n, l.collect())
        })
        .collect()
}

#[test]
fn the_cover_letters_trailers_come_after_the_patchs_own_even_on_the_same_date() {
    let ms = [
        patch("c", None, "a@x", 0, 1, 0, 1),
        patch("1", Some("c"), "a@x", 1, 1, 1, 1),
        reply("rc", &["c"], "cover@y", 5, vec![trailer("Acked-by", "C", "cover@y")]),
        reply("rp", &["c", "1"], "patch@y", 5, vec![trailer("Reviewed-by", "P", "patch@y")]),
        reply("early", &["c"], "early@y", 2, vec![trailer("Tested-by", "E", "early@y")]),
    ];
    let t = collect_trailers(&assemble(&ms).series[0], &ms, &[]);
    assert_eq!(
        lines(&t),
        vec![(
            1,
            vec![
                "Reviewed-by: P <patch@y>".into(),
                "Tested-by: E <early@y>".into(),
                "Acked-by: C <cover@y>".into()
            ]
        )]
    );
}

#[test]
fn carried_over_trailers_come_between_the_patchs_own_and_the_cover_letters() {
    let ms = [
        patch("c", None, "a@x", 0, 2, 0, 1),
        patch("1", Some("c"), "a@x", 1, 2, 1, 1),
        reply("rc", &["c"], "cover@y", 3, vec![trailer("Acked-by", "C", "cover@y")]),
        reply("rp", &["c", "1"], "patch@y", 4, vec![trailer("Reviewed-by", "P", "patch@y")]),
    ];
    let earlier = vec![(
        "pid-1".to_string(),
        vec![CollectedTrailer {
            trailer: trailer("Tested-by", "Old", "old@y"),
            message_id: "old".into(),
            verified: true,
            carried_over: false,
        }],
    )];
    let t = collect_trailers(&assemble(&ms).series[0], &ms, &earlier);
    assert_eq!(
        lines(&t),
        vec![(
            1,
            vec![
                "Reviewed-by: P <patch@y>".into(),
                "Tested-by: Old <old@y>".into(),
                "Acked-by: C <cover@y>".into()
            ]
        )]
    );
}

#[test]
fn one_person_under_two_names_gives_two_trailers() {
    // b4 compares whole values: the cover letter's trailer is not the patch's one.
    let ms = [
        patch("c", None, "a@x", 0, 1, 0, 1),
        patch("1", Some("c"), "a@x", 1, 1, 1, 1),
        reply("rp", &["c", "1"], "r@y", 2, vec![trailer("Reviewed-by", "Rev One", "r@y")]),
        reply("rc", &["c"], "r@y", 3, vec![trailer("Reviewed-by", "Reviewer One", "r@y")]),
        reply("again", &["c", "1"], "r@y", 4, vec![trailer("reviewed-by", "REV ONE", "R@Y")]),
    ];
    let t = collect_trailers(&assemble(&ms).series[0], &ms, &[]);
    assert_eq!(
        lines(&t),
        vec![(
            1,
            vec!["Reviewed-by: Rev One <r@y>".into(), "Reviewed-by: Reviewer One <r@y>".into()]
        )]
    );
}

#[test]
fn a_verified_copy_follows_an_unverified_one() {
    // Someone restates R's trailer before R gives it: `quire am` writes R's own (b4 leaves the
    // restated one out), `--sloppy-trailers` the first.
    let ms = [
        patch("1", None, "a@x", 1, 1, 1, 1),
        reply("other", &["1"], "o@y", 2, vec![trailer("Acked-by", "R", "r@y")]),
        reply("r", &["1"], "r@y", 3, vec![trailer("Acked-by", "R", "r@y")]),
        reply("again", &["1"], "o@y", 4, vec![trailer("Acked-by", "R", "r@y")]),
    ];
    let t = collect_trailers(&assemble(&ms).series[0], &ms, &[]);
    assert_eq!(lines(&t), vec![(1, vec!["?Acked-by: R <r@y>".into(), "Acked-by: R <r@y>".into()])]);
    assert_eq!(t[0].1[1].message_id, "r");
}

#[test]
fn a_trailer_the_patch_carries_is_not_given_again_in_another_case() {
    let ms = [
        MessageMeta {
            trailers: vec![trailer("Reviewed-by", "R", "r@y")],
            ..patch("1", None, "a@x", 1, 1, 1, 1)
        },
        reply("r", &["1"], "r@y", 2, vec![trailer("REVIEWED-BY", "r", "R@Y")]),
    ];
    assert_eq!(lines(&collect_trailers(&assemble(&ms).series[0], &ms, &[])), vec![(1, vec![])]);
}

/// One series of 20,000 patches and 20,000 unthreaded patches: hash look-ups only.
#[test]
fn large_inputs_assemble_in_linear_time() {
    let n = 20_000u32;
    let chained: Vec<_> = (1..=n)
        .map(|i| {
            let prev = (i > 1).then(|| (i - 1).to_string());
            patch(&i.to_string(), prev.as_deref(), "a@x", i as i64, 1, i, n)
        })
        .collect();
    let a = assemble(&chained);
    assert_eq!((a.series.len(), a.series[0].complete), (1, true));
    let loose: Vec<_> = (0..n)
        .map(|i| patch(&format!("u{i}"), None, &format!("s{i}@x"), i as i64, 1, 1, 2))
        .collect();
    assert_eq!(assemble(&loose).series.len(), n as usize);
}

/// A 10,000-deep chain of replies, each with a trailer: every reply is walked once.
#[test]
fn a_deep_reply_chain_collects_in_linear_time() {
    let mut ms = vec![lone("p", "a@x", 0)];
    for i in 0..10_000 {
        let parent = if i == 0 { "p".to_string() } else { format!("r{}", i - 1) };
        let email = format!("r{i}@y");
        ms.push(reply(&format!("r{i}"), &["p", &parent], &email, 1 + i, vec![reviewed_by(&email)]));
    }
    let t = collect_trailers(&assemble(&ms).series[0], &ms, &[]);
    assert_eq!(t[0].1.len(), 10_000);
}
