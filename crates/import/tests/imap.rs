//! The IMAP watcher against a real Dovecot (Debian's `dovecot-imapd`) started here with a
//! throwaway configuration on 127.0.0.1: catch-up, IDLE delivery, a restart mid-stream, nothing
//! imported twice. SQLite and PostgreSQL.

use std::path::Path;
use std::time::{Duration, Instant};

use quire_import::imap::{WatchOptions, watch_imap};
use quire_import::testing::Dovecot;
use quire_store::{Store, both_backends};

fn sample_messages() -> Vec<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples/demo.mbox");
    let (reader, _) = quire_import::mbox::open(&path, 1 << 20).expect("sample");
    reader.map(|m| m.expect("message").bytes).collect()
}

async fn wait_for_count(store: &Store, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.messages_count().await.unwrap() < n {
        assert!(
            Instant::now() < deadline,
            "expected {n} messages, have {}",
            store.messages_count().await.unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

both_backends!(imap_watch_catches_up_idles_and_resumes_after_a_restart, |store| async move {
    let dovecot = Dovecot::start();
    let mail = sample_messages();
    assert!(mail.len() >= 12, "the sample has {} messages", mail.len());
    for (i, m) in mail[..5].iter().enumerate() {
        dovecot.deliver(i, m);
    }
    let src = dovecot.source();
    let once = WatchOptions {
        project: Some("demo".into()),
        batch_size: 2,
        once: true,
        ..Default::default()
    };
    // Catch-up in batches of 2, each stored with its cursor.
    let stats = watch_imap(&store, &src, "secret", &once).await.expect("watch once");
    assert_eq!((stats.fetched, stats.new_messages), (5, 5), "{stats:?}");
    assert_eq!(store.messages_count().await.unwrap(), 5);
    let cursor = store.cursor(&src.cursor_key()).await.unwrap().expect("cursor");
    assert!(cursor.ends_with(":5"), "{cursor}");

    // Live: the watcher idles; new mail arrives and is stored at once.
    let live = WatchOptions { poll: Duration::from_secs(2), once: false, ..once.clone() };
    let task = {
        let (store, src, live) = (store.clone(), src.clone(), live.clone());
        tokio::spawn(async move { watch_imap(&store, &src, "secret", &live).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (i, m) in mail[5..8].iter().enumerate() {
        dovecot.deliver(5 + i, m);
    }
    wait_for_count(&store, 8).await;
    // The watcher stops (the CLI test kills `quire watch` with SIGKILL instead)...
    live.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let stats = task.await.unwrap().expect("live watch");
    assert_eq!(stats.new_messages, 3, "{stats:?}");
    for (i, m) in mail[8..10].iter().enumerate() {
        dovecot.deliver(8 + i, m);
    }
    // ...and on restart only what it had not stored is fetched.
    let stats = watch_imap(&store, &src, "secret", &once).await.expect("watch after restart");
    assert_eq!((stats.fetched, stats.new_messages, stats.duplicates), (2, 2, 0), "{stats:?}");
    assert_eq!(store.messages_count().await.unwrap(), 10);
    assert!(store.cursor(&src.cursor_key()).await.unwrap().unwrap().ends_with(":10"));

    // A wrong password is one clear error.
    let e = watch_imap(&store, &src, "wrong", &once).await.unwrap_err().to_string();
    assert!(e.contains("login as lists"), "{e}");
});
