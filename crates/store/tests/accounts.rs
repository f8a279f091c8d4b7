//! Web accounts: passwords, sessions, failed-login limits, on both backends.

use quire_store::accounts::{
    FAILURE_WINDOW_SECS, MAX_FAILURES_PER_ACCOUNT_AND_CLIENT, MAX_FAILURES_PER_CLIENT,
    SESSION_SECS, hash_password, same_secret, verify_password,
};
use quire_store::{Login, Store, both_backends};

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

    // Failures of one account from one address: after the limit even the right password is
    // refused from that address for a while.
    for _ in 0..MAX_FAILURES_PER_ACCOUNT_AND_CLIENT {
        assert_eq!(
            store.login("alice", "bad-guess", "10.1.0.1", SESSION_SECS).await.unwrap(),
            Login::Bad
        );
    }
    let Login::Limited { retry_after } =
        store.login("alice", "another-pass", "10.1.0.1", SESSION_SECS).await.unwrap()
    else {
        panic!("limited")
    };
    assert!(retry_after > 0 && retry_after <= FAILURE_WINDOW_SECS, "{retry_after}");
});

async fn with_password(store: &Store, name: &str, password: &str) {
    let u = store.add_user(name, &format!("{name}@example.org"), "").await.unwrap();
    store.set_password(u.id, Some(password)).await.unwrap();
}

// The attack of issue 24: wrong passwords for an account from one address (made-up names
// too) must not stop its owner, who logs in from another.
both_backends!(
    failures_from_one_address_never_stop_the_right_password_from_another,
    |store| async move {
        with_password(&store, "admin", "admins-password").await;
        for _ in 0..MAX_FAILURES_PER_ACCOUNT_AND_CLIENT + 3 {
            let r = store.login("admin", "guess", "192.0.2.66", SESSION_SECS).await.unwrap();
            assert!(matches!(r, Login::Bad | Login::Limited { .. }), "{r:?}");
        }
        for i in 0..MAX_FAILURES_PER_CLIENT + 3 {
            let r = store.login(&format!("made-up{i}"), "guess", "192.0.2.66", SESSION_SECS).await;
            assert!(matches!(r.unwrap(), Login::Bad | Login::Limited { .. }));
        }
        assert!(matches!(
            store.login("admin", "admins-password", "192.0.2.66", SESSION_SECS).await.unwrap(),
            Login::Limited { .. }
        ));
        assert!(matches!(
            store.login("admin", "admins-password", "198.51.100.7", SESSION_SECS).await.unwrap(),
            Login::Ok { .. }
        ));
    }
);

// One address trying a password on many accounts is slowed down: after its limit it gets no
// more answers, for any account, while other addresses do.
both_backends!(one_address_spraying_many_accounts_is_limited, |store| async move {
    with_password(&store, "bob", "bobs-password").await;
    for i in 0..MAX_FAILURES_PER_CLIENT {
        assert_eq!(
            store.login(&format!("guess{i}"), "x", "10.9.9.9", SESSION_SECS).await.unwrap(),
            Login::Bad
        );
    }
    let checked = store.password_checks();
    assert!(matches!(
        store.login("bob", "bobs-password", "10.9.9.9", SESSION_SECS).await.unwrap(),
        Login::Limited { .. }
    ));
    assert_eq!(store.password_checks(), checked, "a limited attempt checks no password");
    assert!(matches!(
        store.login("bob", "bobs-password", "10.9.9.10", SESSION_SECS).await.unwrap(),
        Login::Ok { .. }
    ));
});

// A success gives back its own attempt only: an address cannot wipe its failures on other
// accounts by logging into one of its own, but a user who mistyped can go on.
both_backends!(a_success_gives_back_its_own_attempt_only, |store| async move {
    with_password(&store, "carol", "carols-password").await;
    for _ in 0..MAX_FAILURES_PER_ACCOUNT_AND_CLIENT - 1 {
        store.login("carol", "typo", "10.3.3.3", SESSION_SECS).await.unwrap();
    }
    assert!(matches!(
        store.login("carol", "carols-password", "10.3.3.3", SESSION_SECS).await.unwrap(),
        Login::Ok { .. }
    ));
    // carol's counter from this address started again.
    for _ in 0..MAX_FAILURES_PER_ACCOUNT_AND_CLIENT - 1 {
        assert_eq!(
            store.login("carol", "typo", "10.3.3.3", SESSION_SECS).await.unwrap(),
            Login::Bad
        );
    }
    // The address's counter did not: 8 failures so far, and logins of carol do not clear them.
    let mut failures = 2 * (MAX_FAILURES_PER_ACCOUNT_AND_CLIENT - 1);
    while failures < MAX_FAILURES_PER_CLIENT {
        assert!(matches!(
            store.login("carol", "carols-password", "10.3.3.3", SESSION_SECS).await.unwrap(),
            Login::Ok { .. }
        ));
        assert_eq!(
            store.login(&format!("other{failures}"), "x", "10.3.3.3", SESSION_SECS).await.unwrap(),
            Login::Bad
        );
        failures += 1;
    }
    assert!(matches!(
        store.login("carol", "carols-password", "10.3.3.3", SESSION_SECS).await.unwrap(),
        Login::Limited { .. }
    ));
});

// 100 wrong guesses at once for one account from one address: the counting is atomic, so at
// most the limit's worth of passwords are checked and the rest are refused unchecked; an
// unknown name gets the very same answers and checks.
both_backends!(a_hundred_parallel_guesses_check_at_most_the_limit, |store| async move {
    with_password(&store, "dave", "daves-password").await;
    for name in ["dave", "nobody-has-this-name"] {
        let before = store.password_checks();
        let guesses: Vec<_> = (0..100)
            .map(|i| {
                let store = store.clone();
                let name = name.to_string();
                tokio::spawn(async move {
                    store.login(&name, &format!("guess-{i}"), "203.0.113.5", SESSION_SECS).await
                })
            })
            .collect();
        let (mut bad, mut limited) = (0, 0);
        for g in guesses {
            match g.await.unwrap().unwrap() {
                Login::Bad => bad += 1,
                Login::Limited { retry_after } => {
                    assert!(retry_after > 0 && retry_after <= FAILURE_WINDOW_SECS);
                    limited += 1
                }
                Login::Ok { .. } => panic!("{name}: a guess logged in"),
            }
        }
        assert_eq!(
            (bad, limited),
            (MAX_FAILURES_PER_ACCOUNT_AND_CLIENT, 100 - MAX_FAILURES_PER_ACCOUNT_AND_CLIENT),
            "{name}"
        );
        assert_eq!(
            store.password_checks() - before,
            MAX_FAILURES_PER_ACCOUNT_AND_CLIENT as u64,
            "{name}"
        );
    }
});
