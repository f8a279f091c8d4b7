//! Reports from the user's side: `quire notify` and `quire serve` mailing a real SMTP server
//! (aiosmtpd on 127.0.0.1, crates/notify/tests/smtp_sink.py), the events feed, and a mistake in
//! quire.toml; on SQLite and on PostgreSQL.

#[macro_use]
mod common;

use common::*;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// aiosmtpd on 127.0.0.1, keeping what it receives.
struct Sink {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl Sink {
    fn start() -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .arg(repo_root().join("crates/notify/tests/smtp_sink.py"))
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with aiosmtpd (scripts/install-deps)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port =
            line.trim().parse().unwrap_or_else(|_| panic!("smtp_sink.py did not start: {line:?}"));
        Sink { child, dir, port }
    }

    /// The raw mails received, in order, with their envelope recipients.
    fn mails(&self) -> Vec<(String, Vec<String>)> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names
            .iter()
            .map(|p| {
                let envelope: serde_json::Value = serde_json::from_str(
                    &std::fs::read_to_string(p.with_extension("json")).unwrap(),
                )
                .unwrap();
                let rcpt = envelope["rcpt_tos"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect();
                (String::from_utf8_lossy(&std::fs::read(p).unwrap()).replace("\r\n ", " "), rcpt)
            })
            .collect()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(port: u16, check_event: &str) -> String {
    format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {port}\nfrom = \"quire <quire@example.org>\"\n\n\
         [[project]]\nname = \"demo\"\nlist_id = [\"demo.lists.example.org\"]\nlist_address = [\"demo@lists.example.org\"]\n\n\
         [[project.report]]\nevent = \"series-new\"\nto = [\"maintainer@example.org\"]\nsubject = \"[{{project}}] new: {{subject}}\"\n\n\
         [[project.report]]\nevent = \"{check_event}\"\nto = [\"list\"]\n"
    )
}

both_backends!(quire_notify_and_serve_mail_each_event_once, |site: Site| {
    let sink = Sink::start();
    std::fs::write(site.dir.path().join("quire.toml"), config(sink.port, "check-failed")).unwrap();
    let (_, err) = site.ok_with_stderr(&["notify", "--once"]);
    assert!(err.contains("planned 0, mailed 0"), "{err}");
    site.ok(&["import", &repo_root().join("samples/demo.mbox").to_string_lossy()]);
    let (_, err) = site.ok_with_stderr(&["notify", "--once"]);
    let mails = sink.mails();
    assert!(!mails.is_empty(), "series-new mails: {err}");
    assert!(err.contains(&format!("mailed {}", mails.len())), "{err}");
    for (raw, rcpt) in &mails {
        assert_eq!(rcpt, &["maintainer@example.org"]);
        assert!(
            raw.contains("\r\nSubject: [demo] new: [") || raw.starts_with("Subject: [demo] new: ["),
            "{raw}"
        );
    }
    assert!(mails.iter().any(|(raw, _)| {
        raw.contains("[demo] new: [PATCH 0/3] ring: setup helper and public header cleanup")
    }));
    // A second process: nothing again.
    let (_, err) = site.ok_with_stderr(&["notify", "--once"]);
    assert!(err.contains("mailed 0"), "{err}");
    assert_eq!(sink.mails().len(), mails.len());
    let status = site.ok(&["notify", "--status"]);
    assert!(status.contains(&format!("email\tdone\t{}", mails.len())), "{status}");

    // quire serve delivers too: an external CI posts a failed check, the list gets a reply.
    let token = site.ok(&["token", "create", "ci"]);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}");
    let _server = Server(
        site.cmd(&["serve", "--listen", &listen, "--base-url", "https://q.example.org"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(30, "quire serve", || ureq::get(&format!("{url}/healthz")).call().is_ok());
    let log: String = (1..=80).map(|i| format!("build step {i}\n")).collect::<String>()
        + "ring.c:3: error: expected ';'\n";
    let posted = ureq::post(&format!("{url}/api/v1/checks"))
        .set("Authorization", &format!("Bearer {}", token.trim()))
        .send_json(serde_json::json!({"message_id": "v1-2@example.org", "name": "build", "state": "fail", "log": log}));
    assert!(posted.is_ok(), "{posted:?}");
    wait_for(30, "the check report", || sink.mails().len() == mails.len() + 1);
    let (raw, rcpt) = sink.mails().pop().unwrap();
    assert_eq!(rcpt, ["demo@lists.example.org"]);
    assert!(
        raw.contains(
            "\r\nSubject: Re: [PATCH 0/3] ring: setup helper and public header cleanup\r\n"
        ),
        "{raw}"
    );
    assert!(raw.contains("\r\nIn-Reply-To: <v1-0@example.org>\r\n"), "{raw}");
    assert!(raw.contains("\r\nReferences: <v1-0@example.org>\r\n"), "{raw}");
    assert!(
        raw.contains("ring.c:3: error: expected ';'")
            && raw.contains("https://q.example.org/demo/v1-0@example.org/"),
        "{raw}"
    );

    let feed = ureq::get(&format!("{url}/demo/events.atom")).call().unwrap();
    assert_eq!(feed.header("content-type"), Some("application/atom+xml; charset=utf-8"));
    let feed = feed.into_string().unwrap();
    assert!(feed.contains("<title>check build: fail: [PATCH 0/3] ring: setup helper and public header cleanup</title>"), "{feed}");
    assert!(
        feed.contains(
            "<title>new series: [PATCH 0/3] ring: setup helper and public header cleanup</title>"
        ),
        "{feed}"
    );
    assert!(feed.contains("<link rel=\"alternate\" type=\"text/html\" href=\"https://q.example.org/demo/v1-0@example.org/\"/>"), "{feed}");
    assert_eq!(
        ureq::get(&format!("{url}/nope/events.atom"))
            .call()
            .err()
            .and_then(|e| e.into_response())
            .map(|r| r.status()),
        Some(404)
    );
});

#[test]
fn a_mistake_in_a_report_table_names_the_line() {
    let site = Site::sqlite();
    std::fs::write(site.dir.path().join("quire.toml"), config(25, "check-fail")).unwrap();
    let out = site.run(&["notify", "--once"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("quire.toml: line 17: project `demo`: report 2 (event `check-fail`): unknown event `check-fail`"), "{err}");
}
