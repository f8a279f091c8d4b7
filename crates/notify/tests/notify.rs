//! The notifier against real servers on 127.0.0.1: aiosmtpd receiving the report mails
//! (tests/smtp_sink.py) and a webhook receiver on a std TcpListener; the store on both backends.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use quire_notify::{
    Notifier, NotifyConfig, NotifyOptions, ProjectRules, ReportRule, SmtpConfig, WebhookRule,
};
use quire_store::{
    ApplyResult, ApplyState, CheckState, DeliveryOutcome, Incoming, NewCheck, NewDelivery,
    ProjectConfig, Store, both_backends,
};

const LIST: &str = "devel@lists.example.org";
const BASE: &str = "https://quire.example.org";
const FROM: &str = "quire <quire@example.org>";

/// aiosmtpd on a free port of 127.0.0.1, writing what it receives to a temp dir.
struct SmtpSink {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl SmtpSink {
    fn start() -> SmtpSink {
        SmtpSink::start_on(None)
    }

    fn start_on(port: Option<u16>) -> SmtpSink {
        let dir = tempfile::tempdir().expect("temp dir");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(dir.path())
            .args(port.map(|p| p.to_string()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs tests/smtp_sink.py (aiosmtpd: scripts/install-deps)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("the sink's port");
        let port = line.trim().parse().unwrap_or_else(|_| {
            panic!("smtp_sink.py did not start (is aiosmtpd installed?): {line:?}")
        });
        SmtpSink { child, dir, port }
    }

    /// (envelope, raw bytes) of every mail received, in order.
    fn mails(&self) -> Vec<(serde_json::Value, Vec<u8>)> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("sink dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names
            .into_iter()
            .map(|p| {
                let envelope = std::fs::read_to_string(p.with_extension("json")).expect("envelope");
                (serde_json::from_str(&envelope).expect("json"), std::fs::read(&p).expect("eml"))
            })
            .collect()
    }

    fn smtp(&self) -> SmtpConfig {
        SmtpConfig {
            host: "127.0.0.1".into(),
            port: self.port,
            starttls: false,
            tls: false,
            user: None,
            password_file: None,
            from: FROM.into(),
            timeout: 10,
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rule(event: &str, to: &[&str]) -> ReportRule {
    ReportRule {
        event: event.into(),
        to: to.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

fn config(
    smtp: Option<SmtpConfig>,
    reports: Vec<ReportRule>,
    webhooks: Vec<WebhookRule>,
) -> NotifyConfig {
    let rules = ProjectRules { list_addresses: vec![LIST.into()], reports, webhooks };
    NotifyConfig {
        smtp,
        base_url: BASE.into(),
        projects: HashMap::from([("demo".to_string(), rules)]),
    }
}

fn options(id: &str) -> NotifyOptions {
    NotifyOptions { id: id.into(), retry_base_secs: 1, ..NotifyOptions::default() }
}

async fn demo_project(store: &Store) {
    let project = ProjectConfig {
        name: "demo".into(),
        list_addresses: vec![LIST.into()],
        ..Default::default()
    };
    store.upsert_project(&project).await.expect("project");
}

/// Posts a one-patch series with a cover letter; returns the cover letter's Message-ID.
async fn post_series(store: &Store, tag: &str, subject: &str, from: &str) -> String {
    let cover = format!("cover.{tag}@example.org");
    let cover_mail = format!(
        "From: {from}\nTo: {LIST}\nSubject: {subject}\nDate: Mon, 1 Dec 2025 10:00:00 +0000\nMessage-Id: <{cover}>\n\nThis fixes the frobnicator.\n"
    );
    let patch_mail = format!(
        "From: {from}\nTo: {LIST}\nSubject: [PATCH 1/1] net: fix frob {tag}\nDate: Mon, 1 Dec 2025 10:00:01 +0000\n\
         Message-Id: <patch.{tag}@example.org>\nIn-Reply-To: <{cover}>\nReferences: <{cover}>\n\n\
         Signed-off-by: Alice Dev <alice@example.org>\n---\n a.c | 2 +-\n 1 file changed, 1 insertion(+), 1 deletion(-)\n\n\
         diff --git a/a.c b/a.c\nindex 1111111..2222222 100644\n--- a/a.c\n+++ b/a.c\n@@ -1 +1 @@\n-old {tag}\n+new {tag}\n"
    );
    let batch = vec![
        Incoming::parse(cover_mail.into_bytes(), None),
        Incoming::parse(patch_mail.into_bytes(), None),
    ];
    store.ingest(batch).await.expect("ingest");
    let s = store.series(&cover).await.expect("series").expect("the series exists");
    assert_eq!(s.message_id, cover, "the cover letter heads the series");
    cover
}

fn failing_log() -> String {
    (1..=100).map(|i| format!("make[{i}]: step {i}\n")).collect::<String>()
        + "error: frob.c:12: undefined reference to `frob'\n"
}

/// The values of header `name` (unfolded).
fn header(raw: &str, name: &str) -> Vec<String> {
    let head = raw
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .replace("\r\n ", " ")
        .replace("\r\n\t", "\t");
    head.split("\r\n")
        .filter_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        })
        .collect()
}

both_backends!(
    a_failed_check_is_a_threaded_reply_on_the_list_and_is_mailed_once,
    |store| async move {
        let sink = SmtpSink::start();
        demo_project(&store).await;
        let reports =
            vec![rule("check-failed", &["list"]), rule("series-new", &["maintainer@example.org"])];
        let cfg = config(Some(sink.smtp()), reports, vec![]);
        let mut notifier =
            Notifier::new(store.clone(), cfg.clone(), options("n1")).expect("notifier");
        assert_eq!(
            notifier.round().await.expect("first round").planned,
            0,
            "a new notifier starts after the history"
        );

        let head = post_series(
            &store,
            "t1",
            "[PATCH 0/1] net: fix the frobnicator",
            "Alice Dev <alice@example.org>",
        )
        .await;
        let patch = "patch.t1@example.org";
        let log = failing_log();
        let check = NewCheck {
            name: "build".into(),
            state: CheckState::Fail,
            url: None,
            description: Some("make failed".into()),
            log: Some(log),
        };
        let check_id = store.add_check(patch, &check).await.expect("check");
        let passed = NewCheck {
            name: "style".into(),
            state: CheckState::Pass,
            url: None,
            description: None,
            log: None,
        };
        store.add_check(patch, &passed).await.expect("check");

        let stats = notifier.round().await.expect("round");
        assert_eq!((stats.mailed, stats.failed, stats.retrying), (2, 0, 0), "{stats:?}");
        let mails = sink.mails();
        assert_eq!(mails.len(), 2);
        let (new_envelope, new_raw) = &mails[0];
        assert_eq!(new_envelope["rcpt_tos"], serde_json::json!(["maintainer@example.org"]));
        let new_raw = String::from_utf8_lossy(new_raw);
        assert_eq!(
            header(&new_raw, "Subject"),
            ["[demo] series-new: [PATCH 0/1] net: fix the frobnicator"]
        );
        assert!(
            header(&new_raw, "In-Reply-To").is_empty(),
            "a series-new report is not a reply by default"
        );

        let (envelope, raw) = &mails[1];
        assert_eq!(envelope["mail_from"], "quire@example.org");
        assert_eq!(envelope["rcpt_tos"], serde_json::json!([LIST]));
        let text = String::from_utf8_lossy(raw);
        assert_eq!(header(&text, "From"), ["quire <quire@example.org>"]);
        assert_eq!(header(&text, "To"), [LIST]);
        assert_eq!(header(&text, "Subject"), ["Re: [PATCH 0/1] net: fix the frobnicator"]);
        assert_eq!(header(&text, "In-Reply-To"), [format!("<{head}>")]);
        assert_eq!(header(&text, "References"), [format!("<{head}>")]);
        let mid = header(&text, "Message-ID");
        assert_eq!(mid.len(), 1);
        assert!(
            mid[0].starts_with("<quire.event-") && mid[0].ends_with("@example.org>"),
            "{mid:?}"
        );
        assert_eq!(header(&text, "Auto-Submitted"), ["auto-generated"]);
        let parsed = quire_mail::parse(raw);
        assert!(parsed.body.contains("check build: fail (make failed)"), "{}", parsed.body);
        assert!(
            parsed.body.contains(&format!("{BASE}/demo/{head}/")),
            "the series URL: {}",
            parsed.body
        );
        assert!(
            parsed.body.contains(&format!("{BASE}/demo/{head}/checks/{check_id}")),
            "the log's URL: {}",
            parsed.body
        );
        assert!(
            parsed.body.contains("error: frob.c:12: undefined reference to `frob'"),
            "the log's last line: {}",
            parsed.body
        );
        assert!(
            parsed.body.contains("make[100]: step 100")
                && !parsed.body.contains("make[60]: step 60\n"),
            "only the tail: {}",
            parsed.body
        );

        // Restarted (a new process: a new notifier on the same store), and a second one beside it.
        let mut again = Notifier::new(store.clone(), cfg.clone(), options("n2")).expect("notifier");
        let mut other = Notifier::new(store.clone(), cfg, options("n3")).expect("notifier");
        assert_eq!(again.round().await.expect("round").mailed, 0);
        assert_eq!(other.round().await.expect("round").mailed, 0);
        assert_eq!(notifier.round().await.expect("round").mailed, 0);
        assert_eq!(sink.mails().len(), 2, "nothing is mailed twice");
        let events = store.events(0, 100).await.expect("events");
        let failed = events
            .iter()
            .find(|e| e.kind == "check-finished" && e.payload["state"] == "fail")
            .expect("the event");
        let deliveries = store.deliveries_of_event(failed.id).await.expect("deliveries");
        assert_eq!(deliveries.len(), 1);
        assert_eq!((deliveries[0].state.as_str(), deliveries[0].attempts), ("done", 1));
    }
);

both_backends!(
    an_apply_failure_mails_the_list_and_the_submitter_with_the_apply_log,
    |store| async move {
        let sink = SmtpSink::start();
        demo_project(&store).await;
        let cfg =
            config(Some(sink.smtp()), vec![rule("apply-failed", &["list", "submitter"])], vec![]);
        let mut notifier = Notifier::new(store.clone(), cfg, options("n1")).expect("notifier");
        notifier.round().await.expect("first round");
        let head = post_series(
            &store,
            "t2",
            "[PATCH 0/1] net: fix the frobnicator",
            "Alice Dev <alice@example.org>",
        )
        .await;
        let ok = ApplyResult {
            state: ApplyState::Applied,
            base: None,
            result_commit: Some("abc".into()),
            tree_url: None,
            log: None,
            failed_patch: None,
            updated: 1,
        };
        store.set_apply_result(&head, &ok).await.expect("apply result");
        assert_eq!(notifier.round().await.expect("round").mailed, 0, "apply-ok is not asked for");
        let log = "Applying: net: fix frob\nerror: patch failed: a.c:1\nPatch failed at 0001 net: fix frob\n".to_string();
        let failed = ApplyResult {
            state: ApplyState::Failed,
            log: Some(log),
            failed_patch: Some(1),
            result_commit: None,
            ..ok
        };
        store.set_apply_result(&head, &failed).await.expect("apply result");
        assert_eq!(notifier.round().await.expect("round").mailed, 1);
        let mails = sink.mails();
        assert_eq!(mails.len(), 1);
        let (envelope, raw) = &mails[0];
        assert_eq!(envelope["rcpt_tos"], serde_json::json!([LIST, "alice@example.org"]));
        let text = String::from_utf8_lossy(raw);
        assert_eq!(header(&text, "To"), [format!("{LIST}, \"Alice Dev\" <alice@example.org>")]);
        assert_eq!(header(&text, "In-Reply-To"), [format!("<{head}>")]);
        let parsed = quire_mail::parse(raw);
        assert!(parsed.body.contains("the series failed to apply at patch 1/1"), "{}", parsed.body);
        assert!(parsed.body.contains("Patch failed at 0001 net: fix frob"), "{}", parsed.body);
        assert!(parsed.body.contains(&format!("{BASE}/demo/{head}/apply.log")), "{}", parsed.body);
    }
);

both_backends!(subjects_and_names_from_mail_cannot_inject_headers, |store| async move {
    let sink = SmtpSink::start();
    demo_project(&store).await;
    let r = ReportRule {
        subject: Some("Re: {subject} ({check}: {state})".into()),
        ..rule("check-failed", &["list", "submitter"])
    };
    let cfg = config(Some(sink.smtp()), vec![r], vec![]);
    let mut notifier = Notifier::new(store.clone(), cfg, options("n1")).expect("notifier");
    notifier.round().await.expect("first round");
    // Encoded words that decode to CR LF and a header, in the subject and the sender's name.
    let subject = "=?utf-8?b?W1BBVENIIDAvMV0gZXZpbA0KQmNjOiB2aWN0aW1AZXZpbC5leGFtcGxlDQo=?=";
    let from = "=?utf-8?b?RXZlDQpCY2M6IG5hbWVAZXZpbC5leGFtcGxl?= <eve@example.org>";
    let head = post_series(&store, "t3", subject, from).await;
    // A check's name comes from a tester over HTTP: anything.
    let name = "build\r\nBcc: check@evil.example";
    let check = NewCheck {
        name: name.into(),
        state: CheckState::Error,
        url: None,
        description: None,
        log: Some("boom\r\nBcc: log@evil.example\n".into()),
    };
    store.add_check(&head, &check).await.expect("check");
    assert!(
        store.checks(&head).await.expect("checks")[0].name.contains("\r\n"),
        "the attack reaches the store"
    );
    assert_eq!(notifier.round().await.expect("round").mailed, 1);
    let mails = sink.mails();
    let (envelope, raw) = &mails[0];
    assert_eq!(
        envelope["rcpt_tos"],
        serde_json::json!([LIST, "eve@example.org"]),
        "nobody else receives it"
    );
    let text = String::from_utf8_lossy(raw);
    let head_part = text.split("\r\n\r\n").next().unwrap_or_default();
    assert!(!head_part.to_ascii_lowercase().contains("\r\nbcc:"), "no Bcc header: {head_part}");
    assert_eq!(
        header(&text, "Subject"),
        ["Re: [PATCH 0/1] evil Bcc: victim@evil.example (build Bcc: check@evil.example: error)"]
    );
    let parsed = quire_mail::parse(raw);
    assert_eq!(
        parsed.to.iter().map(|a| a.email.as_str()).collect::<Vec<_>>(),
        [LIST, "eve@example.org"]
    );
    assert!(!parsed.to[1].name.contains('\n'), "{:?}", parsed.to[1].name);
});

both_backends!(a_mail_cut_off_while_sending_is_not_sent_again, |store| async move {
    let sink = SmtpSink::start();
    demo_project(&store).await;
    let cfg = config(Some(sink.smtp()), vec![rule("series-new", &["list"])], vec![]);
    let mut notifier = Notifier::new(store.clone(), cfg, options("n1")).expect("notifier");
    notifier.round().await.expect("first round");
    post_series(&store, "t4", "[PATCH 0/1] x", "Alice Dev <alice@example.org>").await;
    let event = store
        .events(0, 100)
        .await
        .expect("events")
        .into_iter()
        .find(|e| e.kind == "series-new")
        .expect("event");
    let row = NewDelivery {
        event_id: event.id,
        channel: "email".into(),
        target: quire_notify::email_target(&["list".into()]),
    };
    store.plan_deliveries(&[row], "test", 0).await.expect("plan");
    // A notifier that claimed it and died (its lease is over).
    let claimed =
        store.claim_delivery("dead", -5, &["email"]).await.expect("claim").expect("a delivery");
    assert_eq!(claimed.event.id, event.id);
    assert_eq!(notifier.round().await.expect("round").mailed, 0);
    assert!(sink.mails().is_empty());
    let d = store.deliveries_of_event(event.id).await.expect("deliveries");
    assert_eq!(d[0].state, "failed");
    assert!(
        d[0].last_error.as_deref().unwrap_or_default().contains("not sent again"),
        "{:?}",
        d[0].last_error
    );
    // The dead notifier cannot record anything afterwards.
    assert!(
        !store.finish_delivery(claimed.id, "dead", &DeliveryOutcome::Done).await.expect("finish")
    );
});

/// What a webhook receiver got: headers (lower-case names) and body.
type Received = Arc<Mutex<Vec<(HashMap<String, String>, Vec<u8>)>>>;

/// An HTTP receiver on 127.0.0.1 that answers 500 to the first `fail_first` requests, then 204.
fn webhook_receiver(fail_first: usize) -> (String, Received) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let received: Received = Arc::default();
    let seen = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut headers = HashMap::new();
            let mut line = String::new();
            reader.read_line(&mut line).expect("request line");
            headers.insert(":request".to_string(), line.trim().to_string());
            loop {
                line.clear();
                reader.read_line(&mut line).expect("header");
                if line.trim().is_empty() {
                    break;
                }
                if let Some((n, v)) = line.split_once(':') {
                    headers.insert(n.trim().to_ascii_lowercase(), v.trim().to_string());
                }
            }
            let len: usize =
                headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).expect("body");
            let n = {
                let mut r = seen.lock().expect("lock");
                r.push((headers, body));
                r.len()
            };
            let status =
                if n <= fail_first { "500 Internal Server Error" } else { "204 No Content" };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    (url, received)
}

both_backends!(a_webhook_is_signed_and_retried_after_a_500, |store| async move {
    demo_project(&store).await;
    let (url, received) = webhook_receiver(1);
    let hook = WebhookRule {
        url: url.clone(),
        secret: Some("s3cret".into()),
        secret_file: None,
        events: vec!["check-failed".into()],
    };
    let cfg = config(None, vec![], vec![hook]);
    let mut notifier = Notifier::new(store.clone(), cfg.clone(), options("n1")).expect("notifier");
    notifier.round().await.expect("first round");
    let head = post_series(&store, "t5", "[PATCH 0/1] x", "Alice Dev <alice@example.org>").await;
    let check = NewCheck {
        name: "build".into(),
        state: CheckState::Fail,
        url: None,
        description: None,
        log: None,
    };
    store.add_check(&head, &check).await.expect("check");
    let first = notifier.round().await.expect("round");
    assert_eq!((first.posted, first.retrying), (0, 1), "{first:?}");
    let failed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let event = store
        .events(0, 100)
        .await
        .expect("events")
        .into_iter()
        .find(|e| e.kind == "check-finished")
        .expect("event");
    let d = store.deliveries_of_event(event.id).await.expect("deliveries");
    assert_eq!((d[0].state.as_str(), d[0].attempts), ("pending", 1));
    assert!(
        (failed_at..=failed_at + 1).contains(&d[0].next_attempt),
        "retried after retry_base_secs = 1: {} vs {failed_at}",
        d[0].next_attempt
    );
    assert!(
        d[0].last_error.as_deref().unwrap_or_default().contains("500"),
        "{:?}",
        d[0].last_error
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let second = notifier.round().await.expect("round");
    assert_eq!((second.posted, second.retrying), (1, 0), "{second:?}");
    let mut restarted = Notifier::new(store.clone(), cfg, options("n2")).expect("notifier");
    assert_eq!(restarted.round().await.expect("round").posted, 0);

    let got = received.lock().expect("lock").clone();
    assert_eq!(got.len(), 2, "one 500, one retry that went through");
    for (headers, body) in &got {
        assert_eq!(headers[":request"], "POST /hook HTTP/1.1");
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers["x-quire-event"], "check-finished");
        assert_eq!(headers["x-quire-signature"], quire_notify::webhook::signature(b"s3cret", body));
        assert_ne!(headers["x-quire-signature"], quire_notify::webhook::signature(b"other", body));
        let json: serde_json::Value = serde_json::from_slice(body).expect("json");
        assert_eq!(json["event"]["kind"], "check-finished");
        assert_eq!(json["event"]["names"], serde_json::json!(["check-finished", "check-failed"]));
        assert_eq!(json["event"]["series_head"], head.as_str());
        assert_eq!(json["series_url"], format!("{BASE}/demo/{head}/"));
    }
    assert_eq!(
        got[0].0["x-quire-delivery"], got[1].0["x-quire-delivery"],
        "the same delivery, tried twice"
    );
    let d = store.deliveries_of_event(event.id).await.expect("deliveries");
    assert_eq!((d[0].state.as_str(), d[0].attempts), ("done", 2));
    assert!(d[0].last_error.is_none());
});

both_backends!(a_webhook_answering_404_is_given_up, |store| async move {
    demo_project(&store).await;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/gone", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 65536];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    let hook = WebhookRule { url, secret: Some("k".into()), secret_file: None, events: vec![] };
    let mut notifier =
        Notifier::new(store.clone(), config(None, vec![], vec![hook]), options("n1"))
            .expect("notifier");
    notifier.round().await.expect("first round");
    post_series(&store, "t6", "[PATCH 0/1] x", "Alice Dev <alice@example.org>").await;
    let stats = notifier.round().await.expect("round");
    assert_eq!((stats.posted, stats.failed), (0, 2), "series-new and series-complete: {stats:?}");
    let event = store
        .events(0, 100)
        .await
        .expect("events")
        .into_iter()
        .find(|e| e.kind == "series-new")
        .expect("event");
    let d = store.deliveries_of_event(event.id).await.expect("deliveries");
    assert_eq!(d[0].state, "failed");
    assert!(
        d[0].last_error.as_deref().unwrap_or_default().contains("404"),
        "{:?}",
        d[0].last_error
    );
});

both_backends!(
    mail_is_retried_while_the_server_is_down_and_sent_once_it_is_up,
    |store| async move {
        demo_project(&store).await;
        let port =
            TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let smtp = SmtpConfig { port, ..SmtpSink::start().smtp() };
        let cfg = config(Some(smtp), vec![rule("series-new", &["list"])], vec![]);
        let mut notifier = Notifier::new(store.clone(), cfg, options("n1")).expect("notifier");
        notifier.round().await.expect("first round");
        post_series(&store, "t7", "[PATCH 0/1] x", "Alice Dev <alice@example.org>").await;
        let down = notifier.round().await.expect("round");
        assert_eq!((down.mailed, down.retrying, down.failed), (0, 1, 0), "{down:?}");
        let event = store
            .events(0, 100)
            .await
            .expect("events")
            .into_iter()
            .find(|e| e.kind == "series-new")
            .expect("event");
        let d = store.deliveries_of_event(event.id).await.expect("deliveries");
        assert_eq!(d[0].state, "pending");
        assert!(
            d[0].last_error.as_deref().unwrap_or_default().contains("Connection error"),
            "{:?}",
            d[0].last_error
        );
        let sink = SmtpSink::start_on(Some(port));
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let up = notifier.round().await.expect("round");
        assert_eq!((up.mailed, up.retrying), (1, 0), "{up:?}");
        assert_eq!(sink.mails().len(), 1);
        let d = store.deliveries_of_event(event.id).await.expect("deliveries");
        assert_eq!((d[0].state.as_str(), d[0].attempts), ("done", 2));
    }
);

both_backends!(
    a_refused_recipient_fails_for_good_and_a_deferred_one_is_retried,
    |store| async move {
        let sink = SmtpSink::start();
        demo_project(&store).await;
        let reports = vec![
            rule("series-new", &["bounce@example.org"]),
            rule("series-new", &["later@example.org"]),
        ];
        let mut notifier =
            Notifier::new(store.clone(), config(Some(sink.smtp()), reports, vec![]), options("n1"))
                .expect("notifier");
        notifier.round().await.expect("first round");
        post_series(&store, "t8", "[PATCH 0/1] x", "Alice Dev <alice@example.org>").await;
        let stats = notifier.round().await.expect("round");
        assert_eq!((stats.mailed, stats.failed, stats.retrying), (0, 1, 1), "{stats:?}");
        assert!(sink.mails().is_empty());
        let event = store
            .events(0, 100)
            .await
            .expect("events")
            .into_iter()
            .find(|e| e.kind == "series-new")
            .expect("event");
        let d = store.deliveries_of_event(event.id).await.expect("deliveries");
        let by_target: HashMap<&str, &quire_store::DeliveryInfo> =
            d.iter().map(|d| (d.target.as_str(), d)).collect();
        let (bounce, later) =
            (by_target[r#"["bounce@example.org"]"#], by_target[r#"["later@example.org"]"#]);
        assert_eq!(bounce.state, "failed");
        assert!(bounce.last_error.as_deref().unwrap_or_default().contains("550"), "{d:?}");
        assert_eq!(later.state, "pending");
        assert!(later.last_error.as_deref().unwrap_or_default().contains("451"), "{d:?}");
    }
);

both_backends!(notifiers_running_at_once_mail_each_event_once, |store| async move {
    let sink = SmtpSink::start();
    demo_project(&store).await;
    let cfg = config(
        Some(sink.smtp()),
        vec![rule("series-new", &["list"]), rule("series-complete", &["list"])],
        vec![],
    );
    let mut notifiers: Vec<Notifier> = (0..4)
        .map(|i| {
            Notifier::new(store.clone(), cfg.clone(), options(&format!("n{i}"))).expect("notifier")
        })
        .collect();
    for n in &mut notifiers {
        n.round().await.expect("first round");
    }
    for i in 0..6 {
        post_series(
            &store,
            &format!("c{i}"),
            &format!("[PATCH 0/1] series {i}"),
            "Alice Dev <alice@example.org>",
        )
        .await;
    }
    let rounds = notifiers
        .into_iter()
        .map(|mut n| tokio::spawn(async move { n.round().await.expect("round") }));
    let mut mailed = 0;
    for r in rounds {
        mailed += r.await.expect("task").mailed;
    }
    assert_eq!(mailed, 12, "6 series-new and 6 series-complete");
    let mails = sink.mails();
    assert_eq!(mails.len(), 12);
    let mut ids: Vec<String> = mails
        .iter()
        .map(|(_, raw)| header(&String::from_utf8_lossy(raw), "Message-ID").concat())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 12, "twelve different reports");
});

both_backends!(a_recipient_of_several_rules_gets_one_mail_per_event, |store| async move {
    let sink = SmtpSink::start();
    demo_project(&store).await;
    let everything = ReportRule {
        subject: Some("[{project}] {event}".into()),
        ..rule("*", &["list", "maintainer@example.org"])
    };
    let cfg = config(Some(sink.smtp()), vec![rule("check-failed", &["list"]), everything], vec![]);
    let mut notifier = Notifier::new(store.clone(), cfg, options("n1")).expect("notifier");
    notifier.round().await.expect("first round");
    let head =
        post_series(&store, "t9", "[PATCH 0/1] net: one mail", "Alice Dev <alice@example.org>")
            .await;
    let before = notifier.round().await.expect("round").mailed;
    assert_eq!(before, 2, "series-new and series-complete, by the second rule");
    let check = NewCheck {
        name: "build".into(),
        state: CheckState::Fail,
        url: None,
        description: None,
        log: Some("x".into()),
    };
    store.add_check(&head, &check).await.expect("check");
    assert_eq!(notifier.round().await.expect("round").mailed, 2);
    let mails = sink.mails();
    let reports: Vec<(Vec<serde_json::Value>, String)> = mails[2..]
        .iter()
        .map(|(env, raw)| {
            (
                env["rcpt_tos"].as_array().cloned().unwrap_or_default(),
                header(&String::from_utf8_lossy(raw), "Subject").concat(),
            )
        })
        .collect();
    assert!(
        reports.contains(&(vec![LIST.into()], "Re: [PATCH 0/1] net: one mail".to_string())),
        "{reports:?}"
    );
    assert!(
        reports
            .contains(&(vec!["maintainer@example.org".into()], "[demo] check-failed".to_string())),
        "{reports:?}"
    );
});
