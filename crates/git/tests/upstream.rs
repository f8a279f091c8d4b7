mod common;

use common::*;
use quire_git::{
    ApplyRequest, Mirror, apply, message_id_from_ref_name, patch_ids, patch_ids_of_mbox, push_tag,
};

fn applied_series(world: &World) -> (Mirror, String, Vec<u8>) {
    let repo = world.clone("alice");
    let base = world.head();
    commit_edits(
        &repo,
        &[(2, "line two", "lib: spell out two"), (5, "line five", "lib: spell out five")],
    );
    let mbox = format_patch(&repo, &base, Some(&base));
    let mirror = mirror(world);
    let out = apply(
        &mirror,
        &ApplyRequest { mbox: mbox.clone(), base_commit: Some(base), ..Default::default() },
    )
    .expect("apply");
    let commit = out.applied_commit().expect("applies").to_string();
    (mirror, commit, mbox)
}

#[test]
fn pushed_tag_is_fetchable_by_its_message_id_even_with_characters_refs_cannot_hold() {
    let world = World::new();
    let (mirror, commit, _) = applied_series(&world);
    let public = world.path("public.git");
    sh(world.tmp.path(), &["init", "--quiet", "--bare", &public.to_string_lossy()]);
    let public_url = public.to_string_lossy().into_owned();
    let reader = world.path("reader");
    sh(world.tmp.path(), &["init", "--quiet", &reader.to_string_lossy()]);
    let ids = [
        "<20240102030405.1234-1-alice@example.org>",
        "<a..b@x>",
        "<path/with/slashes@x>",
        "<tilde~1^caret:colon@x>",
        "<with space and ? * [ \\ @{ @x>",
        "<.dot.lock>",
        "<CAHk-=wj+X_/5a%41@mail.gmail.com>",
    ];
    for id in ids {
        let tag = push_tag(&mirror, &public_url, "quire/series", id, &commit).expect("push");
        let name = tag.strip_prefix("refs/tags/quire/series/").expect("under the prefix");
        assert_eq!(message_id_from_ref_name(name).as_deref(), Some(&id[1..id.len() - 1]), "{tag}");
        let spec = format!("tags/quire/series/{name}");
        sh(&reader, &["fetch", "--quiet", &public_url, &spec]);
        assert_eq!(sh(&reader, &["rev-parse", "FETCH_HEAD"]), commit, "{id}");
    }
    // Pushing again (a re-apply) replaces the tag.
    let base = sh(mirror.dir(), &["rev-parse", &format!("{commit}~1")]);
    push_tag(&mirror, &public_url, "quire/series", ids[0], &base).expect("re-push");
    let tag = format!("refs/tags/quire/series/{}", &ids[0][1..ids[0].len() - 1]);
    assert_eq!(sh(&public, &["rev-parse", &tag]), base);
}

#[test]
fn push_of_unknown_commit_is_an_error() {
    let world = World::new();
    let (mirror, _, _) = applied_series(&world);
    let err = push_tag(&mirror, "/nonexistent", "quire", "<a@b>", "0123456789abcdef0123")
        .expect_err("unknown");
    assert!(err.to_string().contains("not in the mirror"), "{err}");
}

#[test]
fn rebased_upstream_commits_are_found_by_patch_id() {
    let world = World::new();
    let (mirror, _commit, mbox) = applied_series(&world);
    let before = mirror.fetch().expect("fetch");
    assert!(!before.changed());
    // The maintainer takes the series on top of another change: new commit ids, same patches.
    world.upstream_edit(15, "line fifteen", "lib: unrelated fifteen");
    let series_mbox = world.path("series.mbox");
    std::fs::write(&series_mbox, &mbox).expect("write mbox");
    sh_with(
        &world.upstream,
        &["am", "--quiet", "--empty=drop", &series_mbox.to_string_lossy()],
        &[("GIT_COMMITTER_NAME", "Maintainer"), ("GIT_COMMITTER_DATE", "2024-03-01T00:00:00Z")],
    );
    let fetched = mirror.fetch().expect("fetch");
    assert_eq!(fetched.old, before.old);
    assert_eq!(fetched.new, world.head());
    let new = patch_ids(&mirror, fetched.old.as_deref(), &fetched.new).expect("patch ids");
    let subjects: Vec<&str> = new.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(subjects, ["lib: spell out five", "lib: spell out two", "lib: unrelated fifteen"]);
    assert!(new.iter().all(|c| c.patch_id.is_some()));
    assert_eq!(new[0].author_email, "alice@example.org");
    let sent = patch_ids_of_mbox(&mirror, &mbox).expect("patch ids of mbox");
    assert_eq!(sent.len(), 3);
    assert_eq!(sent[0], None, "the cover letter has no patch-id");
    let merged: Vec<Option<String>> = new[..2].iter().rev().map(|c| c.patch_id.clone()).collect();
    assert_eq!(merged, sent[1..]);
    assert!(!new.iter().any(|c| c.commit == _commit), "upstream has other commit ids");
}

#[test]
fn first_fetch_has_no_old_head_and_patch_ids_cover_all_history() {
    let world = World::new();
    let mirror = mirror(&world);
    let again = mirror.fetch().expect("fetch");
    assert_eq!(again.old.as_deref(), Some(world.head().as_str()));
    let all = patch_ids(&mirror, None, &again.new).expect("patch ids");
    let subjects: Vec<&str> = all.iter().map(|c| c.subject.as_str()).collect();
    assert_eq!(subjects, ["add README", "initial"]);
}

#[test]
fn reopening_a_mirror_keeps_its_objects_and_follows_a_new_url() {
    let world = World::new();
    let (mirror, commit, _) = applied_series(&world);
    let moved = world.path("moved");
    std::fs::rename(&world.upstream, &moved).expect("move upstream");
    let reopened =
        Mirror::open_or_clone(mirror.dir(), &moved.to_string_lossy(), "main").expect("reopen");
    assert_eq!(reopened.resolve_commit(&commit).expect("resolve"), Some(commit));
    assert!(reopened.fetch().is_ok());
}

#[test]
fn bad_branch_name_is_refused() {
    let world = World::new();
    let err = Mirror::open_or_clone(&world.path("m.git"), "/x", "--upload-pack=touch /tmp/x")
        .expect_err("bad");
    assert!(matches!(err, quire_git::Error::BadRef { .. }), "{err}");
    let err = Mirror::open_or_clone(&world.path("m.git"), "--upload-pack=touch /tmp/x", "main")
        .expect_err("bad");
    assert!(err.to_string().contains("not a repository url"), "{err}");
}

#[test]
fn fetch_from_a_server_that_never_answers_is_killed_after_the_timeout() {
    let world = World::new();
    let first = mirror(&world);
    // Accepts connections and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let _held = std::thread::spawn(move || {
        let conns: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(std::time::Duration::from_secs(30));
        drop(conns);
    });
    let url = format!("git://127.0.0.1:{port}/project.git");
    let mirror = Mirror::open_or_clone(first.dir(), &url, "main")
        .expect("reopen")
        .with_timeout(std::time::Duration::from_secs(2));
    let start = std::time::Instant::now();
    let err = mirror.fetch().expect_err("hangs");
    assert!(matches!(err, quire_git::Error::Timeout { seconds: 2, .. }), "{err}");
    assert!(start.elapsed() < std::time::Duration::from_secs(10), "{:?}", start.elapsed());
}

#[test]
fn a_file_is_read_at_a_commit_with_its_blob_id_and_missing_or_too_large_ones_say_so() {
    let world = World::new();
    let repo = world.upstream.clone();
    write(&repo, "MAINTAINERS", "THE REST\nM:\tA Person <a@example.org>\nF:\t*\nF:\t*/\n");
    sh(&repo, &["add", "MAINTAINERS"]);
    sh(&repo, &["commit", "--quiet", "-m", "add MAINTAINERS"]);
    let with = sh(&repo, &["rev-parse", "HEAD"]);
    let without = sh(&repo, &["rev-parse", "HEAD~1"]);
    let mirror = mirror(&world);
    mirror.fetch().expect("fetch");
    let (blob, text) =
        mirror.read_file(&with, "MAINTAINERS", 1 << 20).expect("read").expect("there");
    assert_eq!(blob, sh(&repo, &["rev-parse", "HEAD:MAINTAINERS"]));
    assert!(String::from_utf8(text).unwrap().starts_with("THE REST\n"));
    assert_eq!(mirror.read_file(&without, "MAINTAINERS", 1 << 20).expect("read"), None);
    // A directory is no file.
    assert_eq!(mirror.read_file(&with, "", 1 << 20).expect("read"), None);
    let err = mirror.read_file(&with, "MAINTAINERS", 10).expect_err("too large");
    assert!(err.to_string().contains("more than 10"), "{err}");
}
