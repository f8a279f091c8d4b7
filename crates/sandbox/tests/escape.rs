//! A check script trying to get out, as a stranger's patch would: each test is one attack, run in
//! the real bubblewrap sandbox, and fails if the sandbox lets it through. (The same attacks from a
//! patch, through `quire serve` and `quire tester`, are in crates/cli/tests/sandbox.rs.)

use quire_sandbox::{End, Job, Limits, Outcome, Sandbox, User};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// The sandbox, as a tester running as this user makes it. Each test runs its jobs as a uid of
/// its own when we are root: the process limit counts a user's processes, and tests run at once.
/// Without bubblewrap: a failure under CI, else the test says SKIPPED.
fn sandbox(uid: u32, limits: Limits) -> Option<Sandbox> {
    match Sandbox::bubblewrap(None, Some(User { uid, gid: uid }), limits, Vec::new()) {
        Ok(s) => Some(s),
        Err(e) if std::env::var_os("CI").is_some() => panic!("no sandbox under CI: {e}"),
        Err(e) => {
            println!("SKIPPED: {e}");
            None
        }
    }
}

fn run(sandbox: &Sandbox, tree: &Path, script: &str, timeout: Duration) -> Outcome {
    let stop = AtomicBool::new(false);
    sandbox
        .run(Job { tree, script, env: Vec::new(), timeout, stop: &stop, log_limit: 1 << 20 })
        .unwrap()
}

/// A tree to copy in: a directory everyone can read, with one file.
fn tree() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("quire-sandbox-test").tempdir().unwrap();
    quire_sandbox::make_reachable(dir.path()).unwrap();
    std::fs::write(dir.path().join("Makefile"), "all:\n\techo built\n").unwrap();
    dir
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

#[test]
fn the_job_sees_nothing_of_the_tester_and_is_nobody() {
    let Some(sb) = sandbox(61001, Limits::default()) else { return };
    let t = tree();
    let me = std::process::id();
    let out = run(
        &sb,
        t.path(),
        &format!(
            "env | sort; echo ---; ls /proc | grep -c '^[0-9]'; cat /proc/{me}/cmdline 2>&1 | head -c 200; echo; \
             cat /proc/1/environ | tr '\\0' '\\n' | grep -c TOKEN; hostname; id -un; grep CapEff /proc/self/status; \
             ls / ; ls /home /root /run/user /var/run 2>&1; unshare -U true 2>&1 || echo no-userns"
        ),
        Duration::from_secs(30),
    );
    assert_eq!(out.end, End::Exited(0), "{}", out.log);
    let (env, rest) = out.log.split_once("---\n").unwrap();
    let names: Vec<&str> = env.lines().filter_map(|l| l.split('=').next()).collect();
    assert_eq!(
        names,
        ["HOME", "LANG", "LOGNAME", "PATH", "PWD", "QUIRE_CHECK", "SHELL", "TMPDIR", "USER"],
        "the job's whole environment:\n{env}"
    );
    let lines: Vec<&str> = rest.lines().collect();
    let pids: u32 = lines[0].parse().unwrap();
    assert!(pids < 10, "the job sees only its own processes, not the host's {pids}:\n{}", out.log);
    assert!(lines[1].contains("No such file"), "the tester's /proc entry: {}", lines[1]);
    let at = |what: &str| lines.iter().position(|l| *l == what);
    assert!(at("0").is_some(), "no TOKEN in the environment of the sandbox's first process");
    let user = at("quire-check").unwrap_or_else(|| panic!("{}", out.log));
    assert_eq!(lines[user + 1], "quire-check", "{}", out.log);
    assert_eq!(lines[user + 2], "CapEff:\t0000000000000000", "{}", out.log);
    let root: Vec<&str> =
        lines[user + 3..].iter().take_while(|l| !l.contains("/home")).copied().collect();
    assert_eq!(
        root,
        ["bin", "dev", "etc", "lib", "lib64", "proc", "run", "sbin", "tmp", "usr", "var", "work"]
    );
    assert!(
        out.log.ends_with("no-userns\n"),
        "a user namespace could be made inside:\n{}",
        out.log
    );
}

#[test]
fn the_job_writes_only_its_tree_and_tmp() {
    let Some(sb) = sandbox(61002, Limits::default()) else { return };
    let t = tree();
    // A directory of the host that anyone may write to, and the tree's own source.
    let open = tempfile::Builder::new().prefix("quire-sandbox-open").tempdir().unwrap();
    std::fs::set_permissions(open.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .unwrap();
    let targets = [
        "/x".to_string(),
        "/etc/x".into(),
        "/usr/x".into(),
        "/usr/bin/x".into(),
        "/dev/x".into(),
        "/proc/x".into(),
        "/var/x".into(),
        "/run/quire/tree/x".into(),
        "/run/quire/tree/Makefile".into(),
        open.path().join("x").display().to_string(),
        "/work/x".into(),
        "/work/Makefile".into(),
        "/tmp/x".into(),
    ];
    let script: String = targets
        .iter()
        .map(|p| {
            format!("(echo pwned >> {p}) 2>/dev/null && echo 'wrote {p}' || echo 'refused {p}'; ")
        })
        .collect();
    let out = run(&sb, t.path(), &script, Duration::from_secs(30));
    assert_eq!(out.end, End::Exited(0), "{}", out.log);
    let wrote: Vec<&str> = out.log.lines().filter(|l| l.starts_with("wrote")).collect();
    assert_eq!(wrote, ["wrote /work/x", "wrote /work/Makefile", "wrote /tmp/x"], "{}", out.log);
    assert!(!open.path().join("x").exists());
    assert_eq!(std::fs::read_to_string(t.path().join("Makefile")).unwrap(), "all:\n\techo built\n");
    assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 1, "the fetched tree is untouched");
}

#[test]
fn host_sockets_and_the_network_are_out_of_reach() {
    let Some(sb) = sandbox(61003, Limits::default()) else { return };
    let t = tree();
    let dir = tempfile::Builder::new().prefix("quire-sandbox-sock").tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777))
        .unwrap();
    let path = dir.path().join("s");
    let unix = std::os::unix::net::UnixListener::bind(&path).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    unix.set_nonblocking(true).unwrap();
    let abstract_name = format!("quire-sandbox-test-{}", std::process::id());
    let abstract_addr =
        <std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(
            abstract_name.as_bytes(),
        )
        .unwrap();
    let abstract_sock = std::os::unix::net::UnixListener::bind_addr(&abstract_addr).unwrap();
    abstract_sock.set_nonblocking(true).unwrap();
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    tcp.set_nonblocking(true).unwrap();
    let port = tcp.local_addr().unwrap().port();
    let py = format!(
        r#"
import socket
for name, fam, addr in [("unix", socket.AF_UNIX, "{path}"), ("abstract", socket.AF_UNIX, "\0{abstract_name}"), ("tcp", socket.AF_INET, ("127.0.0.1", {port})), ("outside", socket.AF_INET, ("1.1.1.1", 53))]:
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(addr)
        print("connected", name)
    except Exception as e:
        print("refused", name, type(e).__name__)
"#,
        path = path.display()
    );
    let out = run(&sb, t.path(), &format!("python3 -c '{py}'"), Duration::from_secs(30));
    assert_eq!(out.end, End::Exited(0), "{}", out.log);
    assert_eq!(out.log.matches("refused").count(), 4, "{}", out.log);
    assert!(unix.accept().is_err() && abstract_sock.accept().is_err() && tcp.accept().is_err());
}

/// A `sleep` argument of this test run's own (a run whose sandbox was weakened by hand leaves
/// its sleepers behind, and they must not fail the next run).
fn marker(n: u32) -> String {
    format!("4242.{}{n:02}", std::process::id())
}

#[test]
fn nothing_of_a_job_outlives_it() {
    let Some(sb) = sandbox(61004, Limits::default()) else { return };
    let t = tree();
    // Daemons every way a shell can make one; the job itself ends at once.
    let out = run(
        &sb,
        t.path(),
        &format!(
            "setsid sh -c 'exec sleep {}' & (sleep {} &) ; nohup sleep {} >/dev/null 2>&1 & echo started",
            marker(1),
            marker(1),
            marker(1)
        ),
        Duration::from_secs(30),
    );
    assert_eq!(out.end, End::Exited(0), "{}", out.log);
    assert_eq!(host_processes_with(&marker(1)), Vec::<String>::new());

    // At the time limit.
    let out = run(
        &sb,
        t.path(),
        &format!("setsid sh -c 'exec sleep {}' & sleep {}", marker(2), marker(2)),
        Duration::from_secs(2),
    );
    assert_eq!(out.end, End::TimedOut, "{}", out.log);
    assert_eq!(host_processes_with(&marker(2)), Vec::<String>::new());

    // When the tester loses the job.
    let stop = AtomicBool::new(false);
    let script = format!("setsid sh -c 'exec sleep {}' & sleep {}", marker(3), marker(3));
    let out = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(Duration::from_secs(1));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        });
        sb.run(Job {
            tree: t.path(),
            script: &script,
            env: Vec::new(),
            timeout: Duration::from_secs(60),
            stop: &stop,
            log_limit: 4096,
        })
        .unwrap()
    });
    assert_eq!(out.end, End::Stopped, "{}", out.log);
    assert_eq!(host_processes_with(&marker(3)), Vec::<String>::new());
}

#[test]
fn a_fork_bomb_stops_at_the_process_limit() {
    let limits = Limits { processes: 40, ..Limits::default() };
    let Some(sb) = sandbox(61005, limits) else { return };
    let t = tree();
    // 300 processes asked for (without the limit they all start: a bounded bomb, so that a
    // weakened sandbox fails this test instead of the machine).
    let out = run(
        &sb,
        t.path(),
        &"python3 -c '
import os, time
n = 0
for i in range(300):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(MARKER)
        os._exit(0)
    n += 1
print(\"forked\", n)
print(\"running\", len([p for p in os.listdir(\"/proc\") if p.isdigit()]))
'"
        .replace("MARKER", &marker(4)),
        Duration::from_secs(60),
    );
    let running: u32 = out
        .log
        .lines()
        .find_map(|l| l.strip_prefix("running "))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{:?}\n{}", out.end, out.log));
    assert!(running <= 40, "{running} processes ran under a limit of 40");
    assert_eq!(host_processes_with(&marker(4)), Vec::<String>::new());
}

#[test]
fn the_disk_a_job_can_fill_is_bounded() {
    let limits = Limits { tree_bytes: 24 << 20, tmp_bytes: 16 << 20, ..Limits::default() };
    let Some(sb) = sandbox(61006, limits) else { return };
    let t = tree();
    // Up to 20 files of 4 MiB in each place, from several processes at once.
    let out = run(
        &sb,
        t.path(),
        "for d in /work /tmp /dev/shm; do for i in 1 2 3 4; do (for j in 1 2 3 4 5; do head -c 4194304 /dev/zero > $d/f$i$j 2>/dev/null || break; done) & done; done; wait; \
         for d in /work /tmp /dev/shm; do echo $d $(du -sk $d | cut -f1); done",
        Duration::from_secs(60),
    );
    assert_eq!(out.end, End::Exited(0), "{}", out.log);
    for (dir, limit_kib) in [("/work", 24 * 1024), ("/tmp", 16 * 1024), ("/dev/shm", 16 * 1024)] {
        let used: u64 = out
            .log
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{dir} ")))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("{}", out.log));
        assert!(used <= limit_kib, "{dir} holds {used} KiB, over its {limit_kib} KiB");
    }
}

#[test]
fn memory_is_limited_per_process() {
    let limits = Limits { memory_bytes: 256 << 20, ..Limits::default() };
    let Some(sb) = sandbox(61007, limits) else { return };
    let t = tree();
    let out = run(
        &sb,
        t.path(),
        "python3 -c 'x = bytearray(1024 << 20); print(\"allocated\")' 2>&1 | tail -n1",
        Duration::from_secs(60),
    );
    assert!(out.log.contains("MemoryError") && !out.log.contains("allocated"), "{}", out.log);
}

#[test]
fn the_tree_is_the_jobs_own_copy_and_one_too_big_is_an_error() {
    let Some(sb) = sandbox(61008, Limits { tree_bytes: 1 << 20, ..Limits::default() }) else {
        return;
    };
    let t = tree();
    let out = run(&sb, t.path(), "make -s 2>&1 || cat Makefile; pwd", Duration::from_secs(30));
    assert_eq!(out.end, End::Exited(0), "{}", out.log);
    assert!(out.log.contains("/work"), "{}", out.log);
    std::fs::write(t.path().join("big"), vec![b'x'; 2 << 20]).unwrap();
    let out = run(&sb, t.path(), "echo the script ran", Duration::from_secs(30));
    match &out.end {
        End::Failed(why) => {
            assert!(why.contains("cannot copy the tree") && why.contains("1 MiB"), "{why}")
        }
        other => panic!("{other:?}: {}", out.log),
    }
    assert!(!out.log.contains("the script ran"));
}

#[test]
fn output_is_cut_to_the_log_limit_and_cleaned() {
    let Some(sb) = sandbox(61009, Limits::default()) else { return };
    let t = tree();
    let stop = AtomicBool::new(false);
    let out = sb
        .run(Job {
            tree: t.path(),
            script: "echo first; head -c 3000000 /dev/zero; echo; echo last",
            env: vec![("QUIRE_PROJECT".into(), "demo".into())],
            timeout: Duration::from_secs(30),
            stop: &stop,
            log_limit: 65536,
        })
        .unwrap();
    assert_eq!(out.end, End::Exited(0));
    assert!(
        out.log.len() <= 65536 && out.log.starts_with("first\n") && out.log.ends_with("last\n")
    );
    assert!(!out.log.contains('\0'));
    assert!(out.output_bytes > 3_000_000);
}

#[test]
fn a_missing_bubblewrap_or_a_root_user_is_refused_with_one_line() {
    let e =
        Sandbox::bubblewrap(Some(Path::new("/nonexistent/bwrap")), None, Limits::default(), vec![])
            .unwrap_err();
    assert!(e.to_string().contains("apt-get install bubblewrap"), "{e}");
    // SAFETY: getuid cannot fail.
    if unsafe { libc_getuid() } == 0 {
        let e = Sandbox::bubblewrap(None, Some(User { uid: 0, gid: 0 }), Limits::default(), vec![])
            .unwrap_err();
        assert!(e.to_string().contains("must not be root"), "{e}");
    }
}

unsafe extern "C" {
    #[link_name = "getuid"]
    fn libc_getuid() -> u32;
}
