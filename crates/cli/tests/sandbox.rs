//! A stranger's patch attacking the tester, end to end: the patch adds `check.sh`, the project's
//! check is `sh ./check.sh`, `quire serve` applies the series and queues the job, and a real
//! `quire tester` runs it in its sandbox. Each attack of issue 24 is tried from the script; each
//! must fail, and the test fails if the sandbox lets one through. (The same attacks one by one,
//! on the sandbox alone: crates/sandbox/tests/escape.rs.)

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// bubblewrap is there, or this is not CI (then the test says SKIPPED and passes).
fn have_bwrap() -> bool {
    let found = Command::new("bwrap").arg("--version").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "bubblewrap is missing under CI: run scripts/install-deps"
        );
        println!("SKIPPED: bubblewrap (bwrap) is not installed");
    }
    found
}

/// A project `demo` with a tree, a mirror and the check `build` = `sh ./check.sh`; `patches` are
/// (message-id, date, contents of check.sh): each a one-patch series adding check.sh, written
/// with real `git format-patch`. Returns the mbox of each patch.
struct Project {
    work: tempfile::TempDir,
}

impl Project {
    fn new(site: &Site, timeout: u64) -> Project {
        let work = tempfile::tempdir().unwrap();
        let repo = work.path().join("tree");
        let bare = work.path().join("mirror.git");
        let sh = |script: &str| {
            let out = Command::new("sh")
                .arg("-ec")
                .arg(script)
                .current_dir(work.path())
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("HOME", work.path())
                .output()
                .unwrap();
            assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
        };
        sh(
            "git init -q -b main tree && cd tree && git config user.name Base && git config user.email base@example.org \
            && echo demo > README && git add README && GIT_AUTHOR_DATE=2024-03-01T10:00:00Z GIT_COMMITTER_DATE=2024-03-01T10:00:00Z git commit -qm 'Initial import'",
        );
        sh("git init -q --bare mirror.git");
        let config = format!(
            "[[project]]\nname = \"demo\"\ngit = \"{}\"\nbranch = \"main\"\nmirror = \"{}\"\n\n[[project.check]]\nname = \"build\"\nscript = \"sh ./check.sh\"\ntimeout = {timeout}\n",
            repo.display(),
            bare.display()
        );
        std::fs::write(site.dir.path().join("quire.toml"), config).unwrap();
        Project { work }
    }

    /// Imports a one-patch series adding `check.sh` with `script` as its text.
    fn send(&self, site: &Site, id: &str, date: &str, script: &str) {
        let repo = self.work.path().join("tree");
        std::fs::write(self.work.path().join("check.sh"), script).unwrap();
        let out = Command::new("sh")
            .arg("-ec")
            .arg(format!(
                "git checkout -q -B {id} main && cp ../check.sh check.sh && git add check.sh \
                 && GIT_AUTHOR_DATE={date} GIT_COMMITTER_DATE={date} git -c user.name=Mallory -c user.email=mallory@example.org commit -qm 'build: add check.sh' -m 'Signed-off-by: Mallory <mallory@example.org>' \
                 && git format-patch -q --stdout --add-header='Message-Id: <{id}@example.org>' -1 > ../{id}.mbox && git checkout -q main"
            ))
            .current_dir(&repo)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", self.work.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        site.ok(&[
            "import",
            "--project",
            "demo",
            self.work.path().join(format!("{id}.mbox")).to_str().unwrap(),
        ]);
    }
}

fn build_check(site: &Site, id: &str) -> Option<Value> {
    let shown = site.json(&["series", "show", id, "--json"]);
    shown["checks"].as_array()?.iter().find(|c| c["name"] == "build").cloned()
}

/// Host processes whose command line holds `marker`.
fn host_processes_with(marker: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(marker) {
                found.push(format!("{}: {cmdline}", entry.file_name().to_string_lossy()));
            }
        }
    }
    found
}

fn tester(
    site: &Site,
    url: &str,
    token: &str,
    work_dir: &Path,
    home: &Path,
    extra: &[&str],
) -> Child {
    // The job's user (not root) fetches nothing but must reach the trees the tester fetches here.
    std::fs::set_permissions(work_dir, std::os::unix::fs::PermissionsExt::from_mode(0o711))
        .unwrap();
    // The token both on the command line and in the environment: the two routes the script tries.
    let mut args =
        vec!["tester", "--server", url, "--token", token, "--name", "sandboxed", "--poll", "1"];
    args.extend_from_slice(&["--work-dir", work_dir.to_str().unwrap()]);
    args.extend_from_slice(extra);
    site.cmd(&args)
        .env("QUIRE_TESTER_TOKEN", token)
        .env("HOME", home)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn stderr_of(mut child: Child) -> String {
    let _ = child.kill();
    let _ = child.wait();
    let mut s = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut s).unwrap();
    s
}

#[test]
fn a_patch_s_check_script_cannot_get_out_of_the_sandbox() {
    if !have_bwrap() {
        return;
    }
    let site = Site::sqlite();
    let port = free_port();
    let project = Project::new(&site, 120);
    let token = site.ok(&["token", "create", "--scope", "tester", "box"]).trim().to_string();
    let work_dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    // Sockets of the host, in a directory anyone may enter, and one in the abstract namespace.
    let open = tempfile::tempdir().unwrap();
    std::fs::set_permissions(open.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .unwrap();
    let sock = open.path().join("host.sock");
    let unix = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    unix.set_nonblocking(true).unwrap();
    let abstract_name = format!("quire-test-{port}");
    let addr =
        <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(
            abstract_name.as_bytes(),
        )
        .unwrap();
    let abstract_sock = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
    abstract_sock.set_nonblocking(true).unwrap();
    let data = site.dir.path().display().to_string();
    let quire = Path::new(QUIRE);
    let bin_dir = quire.parent().unwrap().display().to_string();
    let (wd, hd) = (work_dir.path().display(), home.path().display());
    let marker = format!("quire-planter-{port}");
    let attack = format!(
        r#"echo "== environment"; env
echo "== processes"; for p in /proc/[0-9]*; do echo "$p: $(tr '\0' ' ' < $p/cmdline 2>/dev/null)"; tr '\0' '\n' < $p/environ 2>/dev/null; done
echo "== parent: $(tr '\0' ' ' < /proc/$PPID/cmdline 2>&1)"
echo "== files"; cat {hd}/.token {data}/quire.toml /root/.bash_history 2>&1 | head -n 20
echo "== writes"
for f in {data}/attack {bin_dir}/attack {hd}/attack {wd}/attack /etc/quire-attack /usr/local/bin/quire-attack /attack; do (echo pwned > $f) 2>/dev/null && echo "wrote $f" || echo "refused $f"; done
for f in {quire} {data}/quire.sqlite; do if [ -w $f ]; then echo "writable $f"; else echo "read-only $f"; fi; done
echo "== signals"
for p in /proc/[0-9]*; do if grep -q "127.0.0.1:{port}" $p/cmdline 2>/dev/null; then kill -9 ${{p#/proc/}} 2>/dev/null && echo "killed ${{p#/proc/}}"; fi; done
echo "== sockets"
python3 -c '
import socket
for name, fam, addr in [("unix", socket.AF_UNIX, "{sock}"), ("abstract", socket.AF_UNIX, "\0{abstract_name}"), ("server", socket.AF_INET, ("127.0.0.1", {port}))]:
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(addr)
        print("connected", name)
    except Exception as e:
        print("unreachable", name)
'
echo "== planter"
setsid sh -c 'end=$(($(date +%s)+60)); while [ $(date +%s) -lt $end ]; do for f in {wd}/*/tree/check.sh /tmp/*/tree/check.sh; do [ -w "$f" ] && printf "echo planted\nexit 0\n" > "$f"; done; sleep 0.2; done # {marker}' >/dev/null 2>&1 &
echo "== fork"
python3 -c '
import os, signal, time
children = []
for i in range(300):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(60)
        os._exit(0)
    children.append(pid)
print("forked", len(children))
for pid in children:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
'
echo "== disk"
for i in $(seq 1 32); do head -c 4194304 /dev/zero > fill$i 2>/dev/null || break; done; echo "tree-kib $(du -sk . | cut -f1)"
for i in $(seq 1 32); do head -c 4194304 /dev/zero > /tmp/fill$i 2>/dev/null || break; done; echo "tmp-kib $(du -sk /tmp | cut -f1)"
echo "== end"
"#,
        quire = quire.display(),
        sock = sock.display(),
    );
    project.send(&site, "attack", "2024-03-04T09:00:00Z", &attack);
    let server = Server(
        site.cmd(&["serve", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_until_serving(&url);
    let mut t = tester(
        &site,
        &url,
        &token,
        work_dir.path(),
        home.path(),
        &[
            "--sandbox-user",
            "61100",
            "--max-processes",
            "64",
            "--disk-limit",
            "64M",
            "--tmp-limit",
            "32M",
        ],
    );
    wait_for(120, "the attack's check", || build_check(&site, "attack@example.org").is_some());
    let check = build_check(&site, "attack@example.org").unwrap();
    let log = check["log"].as_str().unwrap_or_default().to_string();
    assert!(log.contains("== end"), "the script ran to its end:\n{check}");

    // The token, by every route: environment, argv and environ of every process, files.
    assert!(!log.contains(&token), "the token leaked into the public log:\n{log}");
    // Nothing written outside the tree.
    assert_eq!(log.matches("refused ").count(), 7, "{log}");
    assert!(!log.contains("wrote ") && !log.contains("writable "), "{log}");
    for f in [
        site.dir.path().join("attack"),
        quire.with_file_name("attack"),
        home.path().join("attack"),
        work_dir.path().join("attack"),
    ] {
        assert!(!f.exists(), "{} was written", f.display());
    }
    assert!(!Path::new("/etc/quire-attack").exists() && !Path::new("/attack").exists());
    // No signal reached the server or the tester, no socket of the host was reached.
    assert!(!log.contains("killed "), "{log}");
    assert_eq!(log.matches("unreachable ").count(), 3, "{log}");
    assert!(unix.accept().is_err() && abstract_sock.accept().is_err());
    assert!(ureq::get(&format!("{url}/healthz")).call().is_ok(), "the server is still up");
    assert!(t.try_wait().unwrap().is_none(), "the tester is still running");
    // Forks and disk bounded by the tester's limits.
    let number = |prefix: &str| -> u64 {
        log.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no `{prefix}` in {log}"))
    };
    assert!(number("forked ") < 64, "{log}");
    assert!(number("tree-kib ") <= 64 * 1024 && number("tmp-kib ") <= 32 * 1024, "{log}");
    // The planter did not outlive its job...
    wait_for(10, "the job's processes to end", || host_processes_with(&marker).is_empty());

    // ...and cannot touch a later job: this one fails unless its check.sh was rewritten.
    project.send(
        &site,
        "victim",
        "2024-03-05T09:00:00Z",
        "echo the victim ran its own script\nexit 3\n",
    );
    wait_for(120, "the victim's check", || build_check(&site, "victim@example.org").is_some());
    let victim = build_check(&site, "victim@example.org").unwrap();
    assert_eq!(victim["state"], "fail", "{victim}");
    let victim_log = victim["log"].as_str().unwrap_or_default();
    assert!(
        victim_log.contains("the victim ran its own script") && !victim_log.contains("planted"),
        "{victim_log}"
    );
    let said = stderr_of(t);
    assert!(said.contains("sandbox"), "{said}");
    drop(server);
}

#[test]
fn a_job_s_processes_end_with_a_killed_tester_and_at_the_time_limit() {
    if !have_bwrap() {
        return;
    }
    let site = Site::sqlite();
    let port = free_port();
    let project = Project::new(&site, 4);
    let token = site.ok(&["token", "create", "--scope", "tester", "box"]).trim().to_string();
    let marker = format!("4242.{port}");
    project.send(
        &site,
        "daemon",
        "2024-03-04T09:00:00Z",
        &format!("setsid sh -c 'exec sleep {marker}1' & (sleep {marker}2 &); sleep {marker}3\n"),
    );
    let _server = Server(
        site.cmd(&["serve", "--listen", &format!("127.0.0.1:{port}"), "--tester-lease", "2"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    wait_until_serving(&url);
    let work_dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let mut a = tester(&site, &url, &token, work_dir.path(), home.path(), &[]);
    wait_for(60, "the job's three processes", || host_processes_with(&marker).len() >= 3);
    // kill -9: nothing of the tester runs to clean up.
    a.kill().unwrap();
    a.wait().unwrap();
    wait_for(5, "the killed tester's job processes to end", || {
        host_processes_with(&marker).is_empty()
    });

    // The lease runs out; another tester takes the job and it reaches its time limit.
    let b = tester(&site, &url, &token, work_dir.path(), home.path(), &[]);
    wait_for(60, "the job's end", || build_check(&site, "daemon@example.org").is_some());
    let check = build_check(&site, "daemon@example.org").unwrap();
    assert_eq!(check["state"], "error", "{check}");
    assert!(check["description"].as_str().unwrap_or_default().contains("time limit"), "{check}");
    wait_for(5, "the timed-out job's processes to end", || host_processes_with(&marker).is_empty());
    stderr_of(b);
}

#[test]
fn a_tester_without_its_sandbox_or_work_dir_says_so_at_start() {
    let site = Site::sqlite();
    let run = |args: &[&str]| {
        let out = site.cmd(args).env_remove("QUIRE_TESTER_TOKEN").output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let base = ["tester", "--server", "http://127.0.0.1:9", "--token", "quire_x"];
    let (code, said) = run(&[&base[..], &["--work-dir", "/nonexistent/quire-work"]].concat());
    assert_eq!(code, Some(1), "{said}");
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.contains("--work-dir /nonexistent/quire-work: no such directory; create it"),
        "{said}"
    );
    let (code, said) = run(&[&base[..], &["--bwrap", "/nonexistent/bwrap"]].concat());
    assert_eq!(code, Some(1), "{said}");
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(said.contains("apt-get install bubblewrap") && said.contains("--no-sandbox"), "{said}");
    let (code, said) = run(&["tester", "--server", "http://127.0.0.1:9"]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("no tester token"), "{said}");
}
