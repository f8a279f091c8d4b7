//! Web accounts: passwords, sessions, failed-login limits, on both backends.

use quire_store::accounts::{
    MAX_FAILURES_PER_USER, SESSION_SECS, hash_password, same_secret, verify_password,
};
use quire_store::{Login, both_backends};

#[test]
fn argon2id_hashes_verify_and_differ() {
    let a = hash_password("correct horse").unwrap();
    let b = hash_password("correct horse").unwrap();
    assert!(a.starts_with("$argon2id$"), "{a}");
    assert_ne!(a, b, "salted");
    assert!(verify_password("correct horse", &a));
    assert!(!verify_password("correct hors", &a));
    assert!(!verify_password("correct horse", "not a hash"));
    assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("abc", "abcd"));
}

both_backends!(login_sessions_logout_and_limits, |store| async move {
    let alice = store.add_user("alice", "alice@example.org", "").await.unwrap();
    // No password yet: cannot log in, same answer as a wrong one.
    assert_eq!(store.login("alice", "", "10.0.0.1", SESSION_SECS).await.unwrap(), Login::Bad);
    assert!(
        store
            .set_password(alice.id, Some("short"))
            .await
            .unwrap_err()
            .to_string()
            .contains("too short")
    );
    store.set_password(alice.id, Some("s3cret-pass")).await.unwrap();
    assert_eq!(
        store.login("alice", "wrong-pass", "10.0.0.1", SESSION_SECS).await.unwrap(),
        Login::Bad
    );
    assert_eq!(
        store.login("nobody", "s3cret-pass", "10.0.0.1", SESSION_SECS).await.unwrap(),
        Login::Bad
    );
    let Login::Ok { secret, session } =
        store.login("alice", "s3cret-pass", "10.0.0.1", SESSION_SECS).await.unwrap()
    else {
        panic!("login")
    };
    assert_eq!(secret.len(), 64);
    assert_eq!(session.user.username, "alice");
    let found = store.session(&secret).await.unwrap().expect("live session");
    assert_eq!(found.csrf, session.csrf);
    assert!(store.session("not-a-session").await.unwrap().is_none());
    assert!(store.logout(&secret).await.unwrap());
    assert!(store.session(&secret).await.unwrap().is_none());

    // Expired sessions are gone.
    let Login::Ok { secret, .. } =
        store.login("alice", "s3cret-pass", "10.0.0.1", -1).await.unwrap()
    else {
        panic!("login")
    };
    assert!(store.session(&secret).await.unwrap().is_none());

    // A new password ends old sessions.
    let Login::Ok { secret, .. } =
        store.login("alice", "s3cret-pass", "10.0.0.1", SESSION_SECS).await.unwrap()
    else {
        panic!("login")
    };
    store.set_password(alice.id, Some("another-pass")).await.unwrap();
    assert!(store.session(&secret).await.unwrap().is_none());

    // Failures per username: after the limit even the right password is refused for a while,
    // from any address.
    for i in 0..MAX_FAILURES_PER_USER {
        assert_eq!(
            store.login("alice", "bad-guess", &format!("10.1.0.{i}"), SESSION_SECS).await.unwrap(),
            Login::Bad
        );
    }
    let Login::Limited { retry_after } =
        store.login("alice", "another-pass", "10.2.0.1", SESSION_SECS).await.unwrap()
    else {
        panic!("limited")
    };
    assert!(retry_after > 0 && retry_after <= 15 * 60, "{retry_after}");

    // Failures per address: many usernames from one address.
    let bob = store.add_user("bob", "bob@example.org", "").await.unwrap();
    store.set_password(bob.id, Some("bobs-password")).await.unwrap();
    for i in 0..20 {
        assert_eq!(
            store.login(&format!("guess{i}"), "x", "10.9.9.9", SESSION_SECS).await.unwrap(),
            Login::Bad
        );
    }
    assert!(matches!(
        store.login("bob", "bobs-password", "10.9.9.9", SESSION_SECS).await.unwrap(),
        Login::Limited { .. }
    ));
    assert!(matches!(
        store.login("bob", "bobs-password", "10.9.9.10", SESSION_SECS).await.unwrap(),
        Login::Ok { .. }
    ));
});
