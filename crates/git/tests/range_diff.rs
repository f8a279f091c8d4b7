//! `git range-diff` between two applied revisions, on real repositories built here.

mod common;

use common::*;
use quire_git::{AppliedRange, ApplyRequest, RangeDiff, apply, range_diff};

/// Applies a two-patch series made in a fresh clone `name`; `second` is the text patch 2 puts
/// on line 5. Returns the applied range.
fn applied(world: &World, mirror: &quire_git::Mirror, name: &str, second: &str) -> AppliedRange {
    let repo = world.clone(name);
    let base = sh(&repo, &["rev-parse", "HEAD"]);
    commit_edits(
        &repo,
        &[(2, "line two", "lib: spell out two"), (5, second, "lib: spell out five")],
    );
    let mbox = format_patch(&repo, &base, Some(&base));
    let out = apply(mirror, &ApplyRequest { mbox, ..Default::default() }).expect("apply");
    let result = out.applied_commit().expect("applied").to_string();
    AppliedRange { base: out.base.commit, result }
}

#[test]
fn range_diff_shows_the_changed_patch_and_the_unchanged_one() {
    let world = World::new();
    let mirror = mirror(&world);
    let v1 = applied(&world, &mirror, "v1", "line five");
    let v2 = applied(&world, &mirror, "v2", "line FIVE");
    let RangeDiff::Diff(text) = range_diff(&mirror, &v1, &v2).expect("range-diff") else {
        panic!("no range-diff")
    };
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("1:  ") && lines[0].contains(" = 1:  "), "{text}");
    assert!(lines[0].ends_with("lib: spell out two"), "{text}");
    assert!(lines[1].starts_with("2:  ") && lines[1].contains(" ! 2:  "), "{text}");
    assert!(text.contains("-+line five") && text.contains("++line FIVE"), "{text}");
}

#[test]
fn identical_revisions_pair_every_patch() {
    let world = World::new();
    let mirror = mirror(&world);
    let v1 = applied(&world, &mirror, "v1", "line five");
    let RangeDiff::Diff(text) = range_diff(&mirror, &v1, &v1).expect("range-diff") else {
        panic!("no range-diff")
    };
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.lines().all(|l| l.contains(" = ")), "{text}");
}

#[test]
fn a_commit_the_mirror_lacks_is_named_not_an_error() {
    let world = World::new();
    let mirror = mirror(&world);
    let v1 = applied(&world, &mirror, "v1", "line five");
    let gone = AppliedRange { base: v1.base.clone(), result: "1".repeat(40) };
    match range_diff(&mirror, &v1, &gone).expect("range-diff") {
        RangeDiff::Unavailable(why) => {
            assert!(why.contains("newer revision's result") && why.contains("1111"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn applied_revisions_survive_a_gc_of_the_mirror() {
    // apply keeps each result under refs/quire/results/: a range-diff asked for weeks later
    // still finds both revisions.
    let world = World::new();
    let mirror = mirror(&world);
    let v1 = applied(&world, &mirror, "v1", "line five");
    let v2 = applied(&world, &mirror, "v2", "line FIVE");
    sh(mirror.dir(), &["worktree", "prune"]);
    sh(mirror.dir(), &["reflog", "expire", "--expire=now", "--all"]);
    sh(mirror.dir(), &["gc", "--quiet", "--prune=now"]);
    assert!(matches!(range_diff(&mirror, &v1, &v2).expect("range-diff"), RangeDiff::Diff(_)));
}
