//! Nothing in a repository runs: hooks in the mirror (or pointed at by its config) are ignored.
mod common;

use common::*;
use quire_git::{ApplyRequest, apply, push_tag};
use std::os::unix::fs::PermissionsExt as _;

const HOOKS: &[&str] = &[
    "applypatch-msg",
    "pre-applypatch",
    "post-applypatch",
    "pre-commit",
    "commit-msg",
    "post-commit",
    "post-checkout",
    "post-rewrite",
    "reference-transaction",
    "pre-push",
    "pre-auto-gc",
    "post-index-change",
];

fn plant(dir: &std::path::Path, witness: &std::path::Path) {
    std::fs::create_dir_all(dir).expect("hooks dir");
    for h in HOOKS {
        let path = dir.join(h);
        std::fs::write(&path, format!("#!/bin/sh\necho {h} >> '{}'\n", witness.display()))
            .expect("hook");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
}

#[test]
fn hooks_planted_in_the_mirror_never_run() {
    let world = World::new();
    let repo = world.clone("alice");
    let base = world.head();
    commit_edits(&repo, &[(2, "line two", "lib: two")]);
    let mbox = format_patch(&repo, &base, Some(&base));
    let mirror = mirror(&world);
    let witness = world.path("hook-ran");
    plant(&mirror.dir().join("hooks"), &witness);
    let elsewhere = world.path("evil-hooks");
    plant(&elsewhere, &witness);
    sh(mirror.dir(), &["config", "core.hooksPath", &elsewhere.to_string_lossy()]);

    // The planted hooks do run for a plain git: the test would see them.
    sh(mirror.dir(), &["update-ref", "refs/probe", &base]);
    assert!(witness.exists(), "the planted reference-transaction hook should run for plain git");
    std::fs::remove_file(&witness).expect("reset witness");

    let out = apply(&mirror, &ApplyRequest { mbox, base_commit: Some(base), ..Default::default() })
        .expect("apply");
    let commit = out.applied_commit().expect("applies").to_string();
    let public = world.path("public.git");
    sh(world.tmp.path(), &["init", "--quiet", "--bare", &public.to_string_lossy()]);
    push_tag(&mirror, &public.to_string_lossy(), "quire", "<a@b>", &commit).expect("push");
    mirror.fetch().expect("fetch");
    assert!(!witness.exists(), "a hook ran: {:?}", std::fs::read_to_string(&witness));
}
