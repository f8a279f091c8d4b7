//! Test harness (feature `testing`): a real Dovecot IMAP server started with a throwaway
//! configuration, for the IMAP watcher's tests here and in the CLI.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::imap::ImapSource;

/// A Dovecot IMAP server on 127.0.0.1 with one user `lists` (password `secret`) whose INBOX is a
/// Maildir in a temp dir; stopped when dropped.
pub struct Dovecot {
    child: Child,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Debian's dovecot, or None.
pub fn dovecot_binary() -> Option<PathBuf> {
    ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"].iter().map(PathBuf::from).find(|p| p.exists())
}

impl Dovecot {
    /// Starts it; panics with Dovecot's log when it does not come up.
    pub fn start() -> Dovecot {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let d = dir.path().display();
        for sub in ["run", "state", "mail/lists/cur", "mail/lists/new", "mail/lists/tmp"] {
            std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        // Dovecot's login processes run as dovenull and must reach the socket dir.
        let _ = Command::new("chmod").args(["-R", "a+rwX"]).arg(dir.path()).status();
        let id = |flag: &str, who: Option<&str>| {
            let out = Command::new("id").arg(flag).args(who).output().unwrap();
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        };
        // Dovecot refuses to run a mailbox as root: as root, the mail belongs to `dovecot`.
        let (uid, gid) = if id("-u", None) == "0" {
            let _ = Command::new("chown")
                .args(["-R", "dovecot:dovecot"])
                .arg(dir.path().join("mail"))
                .status();
            (id("-u", Some("dovecot")), id("-g", Some("dovecot")))
        } else {
            (id("-u", None), id("-g", None))
        };
        let conf = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\nprotocols = imap\nlisten = 127.0.0.1\n\
             ssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\nfirst_valid_uid = 0\nfirst_valid_gid = 0\n\
             mail_location = maildir:{d}/mail/%u\nmailbox_idle_check_interval = 1 secs\n\
             passdb {{\n  driver = static\n  args = password=secret\n}}\n\
             userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={d}/mail/%u\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n  inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
             service pop3-login {{\n  inet_listener pop3 {{\n    port = 0\n  }}\n}}\n"
        );
        let conf_path = dir.path().join("dovecot.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(
            dovecot_binary()
                .expect("dovecot is not installed: scripts/install-deps installs dovecot-imapd"),
        )
        .arg("-F")
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dovecot");
        let dovecot = Dovecot { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            let log =
                std::fs::read_to_string(dovecot.dir.path().join("dovecot.log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "dovecot did not start:\n{log}");
            std::thread::sleep(Duration::from_millis(100));
        }
        dovecot
    }

    pub fn source(&self) -> ImapSource {
        ImapSource::parse(&format!("imap://lists@127.0.0.1:{}/INBOX", self.port)).unwrap()
    }

    /// Delivers a message the way a local delivery agent does: into the Maildir's new/.
    pub fn deliver(&self, n: usize, raw: &[u8]) {
        let base = self.dir.path().join("mail/lists");
        let name = format!("{}.quire-test-{n}.localhost", 1_700_000_000 + n);
        std::fs::write(base.join("tmp").join(&name), raw).unwrap();
        std::fs::rename(base.join("tmp").join(&name), base.join("new").join(&name)).unwrap();
    }
}
