//! `quire user` and `quire token create --user` from the user's side: the built binary on a
//! fresh data dir (SQLite).

use std::process::{Command, Output};

fn quire(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_quire"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("QUIRE_DATABASE_URL")
        .env_remove("QUIRE_DATA_DIR")
        .output()
        .expect("run quire")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn users_roles_and_user_tokens() {
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    // A role in a project that does not exist: one line naming the fix, and no half-made user.
    let out = quire(d, &["user", "add", "maint", "maint@example.org", "--maintainer", "nope"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no project \"nope\"") && err.contains("quire project add nope"), "{err}");
    assert_eq!(text(&quire(d, &["user", "list"]).stdout), "");

    assert!(quire(d, &["project", "add", "ltp", "-q"]).status.success());
    let out = quire(
        d,
        &[
            "user",
            "add",
            "maint",
            "maint@example.org",
            "--name",
            "Mai Ntainer",
            "--maintainer",
            "ltp",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = quire(d, &["user", "add", "maint", "x@example.org"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("exists already"), "{}", text(&out.stderr));
    let out = quire(d, &["user", "add", "rita", "rita@example.org", "--role", "boss:ltp"]);
    assert!(text(&out.stderr).contains("unknown role \"boss\""), "{}", text(&out.stderr));
    assert!(quire(d, &["user", "add", "rita", "rita@example.org"]).status.success());
    assert!(quire(d, &["user", "grant", "rita", "reviewer", "ltp"]).status.success());
    let list = text(&quire(d, &["user", "list"]).stdout);
    assert!(list.contains("maint\tmaint@example.org\tmaintainer:ltp"), "{list}");
    assert!(list.contains("rita\trita@example.org\treviewer:ltp"), "{list}");

    // A user token and a tester token side by side.
    let out = quire(d, &["token", "create", "laptop", "--user", "maint"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let secret = text(&out.stdout).trim().to_string();
    assert!(secret.starts_with("quire_") && secret.len() > 60, "{secret}");
    assert!(quire(d, &["token", "create", "ci"]).status.success());
    let tokens = text(&quire(d, &["token", "list"]).stdout);
    assert!(tokens.contains("\tuser\tlaptop") && tokens.contains("\ttester\tci"), "{tokens}");
    let out = quire(d, &["token", "create", "x", "--user", "ghost"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("no user \"ghost\""), "{}", text(&out.stderr));
}
