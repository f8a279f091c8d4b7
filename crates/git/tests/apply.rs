mod common;

use common::*;
use quire_git::{ApplyBase, ApplyRequest, ApplyResult, BaseSource, apply};

fn three_patch_series(world: &World, name: &str) -> (std::path::PathBuf, String, Vec<u8>) {
    let repo = world.clone(name);
    let base = sh(&repo, &["rev-parse", "HEAD"]);
    let tip = commit_edits(
        &repo,
        &[
            (2, "line two", "lib: spell out two"),
            (5, "line five", "lib: spell out five"),
            (9, "line nine", "lib: spell out nine"),
        ],
    );
    let mbox = format_patch(&repo, &base, Some(&base));
    (repo, tip, mbox)
}

fn tree_of(repo: &std::path::Path, commit: &str) -> String {
    sh(repo, &["rev-parse", &format!("{commit}^{{tree}}")])
}

#[test]
fn format_patch_series_with_cover_letter_applies_on_its_base_commit() {
    let world = World::new();
    let (repo, tip, mbox) = three_patch_series(&world, "alice");
    let base = world.head();
    let mirror = mirror(&world);
    let req = ApplyRequest { mbox, base_commit: Some(base.clone()), ..Default::default() };
    let out = apply(&mirror, &req).expect("apply");
    assert_eq!(out.base.source, BaseSource::BaseCommit, "{}", out.log);
    assert_eq!(out.base.commit, base);
    let ApplyResult::Applied { commit, commits } = &out.result else {
        panic!("{:?}\n{}", out.result, out.log)
    };
    assert_eq!(*commits, 3);
    // Same content as the contributor's branch, committed by quire.
    let got_tree = sh(mirror.dir(), &["rev-parse", &format!("{commit}^{{tree}}")]);
    assert_eq!(got_tree, tree_of(&repo, &tip));
    let who = sh(mirror.dir(), &["log", "-1", "--format=%cn <%ce> / %an <%ae> / %s", commit]);
    assert_eq!(
        who,
        "quire <quire@localhost> / Alice Dev <alice@example.org> / lib: spell out nine"
    );
    assert!(out.log.contains("git am --3way"), "{}", out.log);
}

#[test]
fn applying_twice_gives_the_same_commit() {
    let world = World::new();
    let (_repo, _tip, mbox) = three_patch_series(&world, "alice");
    let mirror = mirror(&world);
    let req = ApplyRequest { mbox, ..Default::default() };
    let a = apply(&mirror, &req).expect("apply");
    let b = apply(&mirror, &req).expect("apply");
    assert!(a.applied_commit().is_some(), "{}", a.log);
    assert_eq!(a.applied_commit(), b.applied_commit());
}

#[test]
fn conflict_names_the_failing_patch_and_cleans_the_worktree() {
    let world = World::new();
    let (_repo, _tip, mbox) = three_patch_series(&world, "alice");
    // Upstream rewrote line 5 meanwhile; the series has no usable base-commit.
    world.upstream_edit(5, "line FIVE upstream", "lib: shout five");
    let mirror = mirror(&world);
    let req = ApplyRequest { mbox, ..Default::default() };
    let out = apply(&mirror, &req).expect("apply");
    assert_eq!(out.base.source, BaseSource::BranchHead);
    let ApplyResult::Failed { patch: Some(p), message } = &out.result else {
        panic!("{:?}\n{}", out.result, out.log)
    };
    assert_eq!(p.number, Some(2));
    assert_eq!(p.index, 3, "git am counts the cover letter");
    assert_eq!(p.subject, "[PATCH 2/3] lib: spell out five");
    assert!(message.contains("lib.c"), "{message}");
    assert!(message.contains("Patch failed at 0003 lib: spell out five"), "{message}");
    // No worktree left behind, in git's list or on disk.
    let list = sh(mirror.dir(), &["worktree", "list", "--porcelain"]);
    assert_eq!(list.matches("worktree ").count(), 1, "{list}");
    let left = std::fs::read_dir(mirror.dir().join("quire-worktrees")).expect("dir").count();
    assert_eq!(left, 0);
}

#[test]
fn unknown_base_commit_falls_back_to_the_branch_head_and_says_so() {
    let world = World::new();
    let repo = world.clone("bob");
    // Bob's base holds a commit upstream never got.
    write(&repo, "NOTES", "bob's private notes\n");
    sh(&repo, &["add", "NOTES"]);
    sh(&repo, &["commit", "--quiet", "-m", "private"]);
    let private = sh(&repo, &["rev-parse", "HEAD"]);
    commit_edits(&repo, &[(3, "line three", "lib: spell out three")]);
    let mbox = format_patch(&repo, &private, Some(&private));
    assert!(String::from_utf8_lossy(&mbox).contains(&format!("base-commit: {private}")));
    let head = world.upstream_edit(18, "line eighteen", "lib: spell out eighteen");
    let mirror = mirror(&world);
    let req = ApplyRequest { mbox, base_commit: Some(private.clone()), ..Default::default() };
    let out = apply(&mirror, &req).expect("apply");
    assert_eq!(out.base.source, BaseSource::BranchHead);
    assert_eq!(out.base.commit, head);
    let want = format!(
        "base-commit {} unknown to the tree; applied on main at {}",
        &private[..12],
        &head[..12]
    );
    assert_eq!(out.base.reason, want);
    assert!(out.applied_commit().is_some(), "{}", out.log);
}

#[test]
fn base_commit_that_is_a_ref_name_is_not_looked_up() {
    let world = World::new();
    let (_repo, _tip, mbox) = three_patch_series(&world, "alice");
    let mirror = mirror(&world);
    let req = ApplyRequest { mbox, base_commit: Some("HEAD~1".into()), ..Default::default() };
    let out = apply(&mirror, &req).expect("apply");
    assert_eq!(out.base.source, BaseSource::BranchHead);
    assert!(
        out.base.reason.starts_with("base-commit HEAD~1 unknown to the tree"),
        "{}",
        out.base.reason
    );
}

#[test]
fn based_on_series_applies_on_the_result_of_the_other() {
    let world = World::new();
    let repo = world.clone("carol");
    let base = world.head();
    commit_edits(&repo, &[(2, "line two", "lib: two"), (4, "line four", "lib: four")]);
    let first_tip = sh(&repo, &["rev-parse", "HEAD"]);
    let first = format_patch(&repo, &base, Some(&base));
    // The second series edits the lines the first one wrote: it needs the first applied.
    commit_edits(
        &repo,
        &[
            (2, "line 2 (two)", "lib: both forms of two"),
            (4, "line 4 (four)", "lib: both forms of four"),
        ],
    );
    let second = format_patch(&repo, &first_tip, Some(&first_tip));
    let tip = sh(&repo, &["rev-parse", "HEAD"]);
    let mirror = mirror(&world);

    let a = apply(
        &mirror,
        &ApplyRequest { mbox: first, base_commit: Some(base), ..Default::default() },
    )
    .expect("apply");
    let a_commit = a.applied_commit().expect("first applies").to_string();
    // The second alone, on the branch head, conflicts.
    let alone = apply(&mirror, &ApplyRequest { mbox: second.clone(), ..Default::default() })
        .expect("apply");
    assert!(matches!(alone.result, ApplyResult::Failed { .. }), "{:?}", alone.result);

    let req = ApplyRequest {
        mbox: second,
        base_commit: Some(first_tip.clone()), // quire's result has another id: unknown to the tree
        based_on: Some(ApplyBase { commit: a_commit.clone(), label: "<first@x>".into() }),
        base_override: None,
    };
    let b = apply(&mirror, &req).expect("apply");
    assert_eq!(b.base.source, BaseSource::BasedOn);
    assert_eq!(
        b.base.reason,
        format!(
            "base-commit {} unknown to the tree; applied on the result of <first@x> at {}",
            &first_tip[..12],
            &a_commit[..12]
        )
    );
    let b_commit = b.applied_commit().expect("second applies");
    let got_tree = sh(mirror.dir(), &["rev-parse", &format!("{b_commit}^{{tree}}")]);
    assert_eq!(got_tree, tree_of(&repo, &tip));
    assert_eq!(sh(mirror.dir(), &["rev-parse", &format!("{b_commit}~2")]), a_commit);
}

#[test]
fn override_base_wins_and_unknown_override_is_an_error() {
    let world = World::new();
    let first = world.head();
    let (_repo, _tip, mbox) = three_patch_series(&world, "alice");
    world.upstream_edit(18, "line eighteen", "lib: eighteen");
    let mirror = mirror(&world);
    let req = ApplyRequest {
        mbox: mbox.clone(),
        base_override: Some(first.clone()),
        ..Default::default()
    };
    let out = apply(&mirror, &req).expect("apply");
    assert_eq!((out.base.source, out.base.commit.as_str()), (BaseSource::Override, first.as_str()));
    let bad =
        ApplyRequest { mbox, base_override: Some("no-such-rev".into()), ..Default::default() };
    let err = apply(&mirror, &bad).expect_err("unknown --base");
    assert!(err.to_string().contains("--base no-such-rev unknown to the tree"), "{err}");
}

#[test]
fn mbox_without_patches_fails_with_git_message() {
    let world = World::new();
    let mirror = mirror(&world);
    let out = apply(
        &mirror,
        &ApplyRequest { mbox: b"hello, not a mail\n".to_vec(), ..Default::default() },
    )
    .expect("apply");
    let ApplyResult::Failed { patch, message } = &out.result else { panic!("{:?}", out.result) };
    assert_eq!(*patch, None);
    assert!(!message.is_empty());
}

#[test]
fn series_applied_from_parallel_workers_on_one_mirror_all_succeed() {
    let world = World::new();
    let repo = world.clone("dave");
    let base = world.head();
    let mut mboxes = Vec::new();
    for i in 0..6u32 {
        sh(&repo, &["checkout", "--quiet", "-B", &format!("s{i}"), &base]);
        commit_edits(&repo, &[(i + 2, "changed", "lib: change a line")]);
        mboxes.push(format_patch(&repo, &base, Some(&base)));
    }
    let mirror = mirror(&world);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = mboxes
            .iter()
            .map(|mbox| {
                let mirror = &mirror;
                let req = ApplyRequest {
                    mbox: mbox.clone(),
                    base_commit: Some(base.clone()),
                    ..Default::default()
                };
                s.spawn(move || apply(mirror, &req))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("thread")).collect()
    });
    for r in &results {
        let out = r.as_ref().expect("apply runs");
        assert!(out.applied_commit().is_some(), "{}", out.log);
    }
    let list = sh(mirror.dir(), &["worktree", "list", "--porcelain"]);
    assert_eq!(list.matches("worktree ").count(), 1, "{list}");
}
