//! Runs a check script that a stranger's patch wrote, on a tester's machine, without letting it
//! reach anything but its own copy of the tree.
//!
//! A check script runs in the tree a patch built: the patch's Makefile, scripts and tests execute.
//! So every job runs in a new [bubblewrap](https://github.com/containers/bubblewrap) sandbox:
//!
//! - new user, PID, mount, IPC, UTS, cgroup and network namespaces (only a loopback inside);
//!   no user namespace can be made inside; a new session (no terminal to inject into);
//! - as a user of no standing: when the tester runs as root, the job runs as another uid
//!   ([`User`], 65534 by default) with no capabilities, so nothing of root's is its;
//! - of the host's files only `/usr` (and the `/bin`, `/lib`... links to it), a short list of
//!   `/etc` files that programs need to start, and paths the operator adds, all read-only; a new
//!   `/proc` (its own processes only) and a minimal `/dev`; no `/home`, `/root`, `/run`, `/var`,
//!   no sockets of the host, nothing of the tester (its token, argv, environment, files);
//! - the tree is copied into a size-limited tmpfs at `/work`, `/tmp` is another: the only two
//!   writable places, so a job can neither fill the disk nor leave a file for a later job;
//! - resource limits per process (address space, CPU time, file size, open files) and on the
//!   processes of its user (so a fork bomb stops at the limit);
//! - a clean environment (`PATH`, `HOME=/tmp`, `LANG`, `QUIRE_CHECK=1` and what the job adds);
//! - every process of it ends when the job ends: the sandbox's PID namespace dies with its first
//!   process, which dies with bubblewrap, which dies with the tester (`PR_SET_PDEATHSIG`), and the
//!   tester kills bubblewrap at the time limit or when it loses the job. `setsid` and double forks
//!   do not leave a PID namespace.
//!
//! What it does not do (SECURITY.md): no seccomp filter (the kernel's whole system-call surface
//! is reachable, as from any unprivileged user), memory is limited per process and not per job,
//! and the CPU is shared with the host.

mod output;

use std::ffi::{OsStr, OsString};
use std::io::Read as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use output::{Capture, clean};

/// Resource limits of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Size of the tmpfs that holds the tree at `/work`: the tree as fetched and all the job writes
    /// there (build output included).
    pub tree_bytes: u64,
    /// Size of the tmpfs at `/tmp`.
    pub tmp_bytes: u64,
    /// Address space of each process (`RLIMIT_AS`); 0 for none.
    pub memory_bytes: u64,
    /// Processes (and threads) of the job's user (`RLIMIT_NPROC`).
    pub processes: u64,
    /// Open files per process (`RLIMIT_NOFILE`).
    pub open_files: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            tree_bytes: 4 << 30,
            tmp_bytes: 1 << 30,
            memory_bytes: 8 << 30,
            processes: 512,
            open_files: 4096,
        }
    }
}

/// The host user a job runs as when the tester runs as root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
}

impl User {
    /// `nobody`: owns nothing on a usual system.
    pub const NOBODY: User = User { uid: 65534, gid: 65534 };
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "bubblewrap (`{0}`) was not found: install it (Debian: apt-get install bubblewrap), or pass --no-sandbox to run check scripts unisolated"
    )]
    NotFound(String),
    #[error(
        "bubblewrap cannot make a sandbox on this machine ({0}); it needs unprivileged user namespaces (sysctl user.max_user_namespaces > 0), or pass --no-sandbox"
    )]
    Unusable(String),
    #[error(
        "the sandbox user must not be root: give an unprivileged uid (e.g. --sandbox-user 65534)"
    )]
    RootUser,
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// Where and how jobs run.
#[derive(Debug, Clone)]
pub struct Sandbox {
    kind: Kind,
    limits: Limits,
    read_only: Vec<PathBuf>,
}

#[derive(Debug, Clone)]
enum Kind {
    Bubblewrap {
        program: PathBuf,
        /// The uid the job runs as when we are root; `None` when we are not (the job runs as us).
        user: Option<User>,
    },
    /// `--no-sandbox`: the script runs as the tester, in the fetched tree, with the resource limits
    /// and its process group killed at the end, and nothing else.
    Unsandboxed,
}

/// One script to run.
pub struct Job<'a> {
    /// The tree as fetched: copied into the sandbox's `/work` (read in place when unsandboxed).
    /// The sandbox user must be able to reach it (see [`Sandbox::check_reachable`]).
    pub tree: &'a Path,
    /// Run by `/bin/sh -c` in the tree.
    pub script: &'a str,
    /// Variables set for the script besides the sandbox's own.
    pub env: Vec<(String, String)>,
    /// Wall-clock limit; also each process's CPU-time limit.
    pub timeout: Duration,
    /// Set by another thread to end the job now (the tester lost it).
    pub stop: &'a AtomicBool,
    /// Most bytes of output kept, as UTF-8 text.
    pub log_limit: usize,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// The script's exit status (a process killed by signal N gives 128 + N).
    Exited(i32),
    /// Killed at the time limit.
    TimedOut,
    /// Killed because [`Job::stop`] was set.
    Stopped,
    /// The sandbox could not be set up (the tree did not fit, bubblewrap failed): one line.
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub end: End,
    /// Standard output and error, interleaved, cut to [`Job::log_limit`].
    pub log: String,
    /// Bytes the script printed in all.
    pub output_bytes: u64,
    pub elapsed: Duration,
}

/// What a job's sandbox shows of the host's `/etc`: what dynamic linking, compilers (through
/// Debian's alternatives), name lookups of localhost, TLS roots and time zones need. Not the
/// host's accounts (a passwd of the sandbox's own is given), not its configuration.
const ETC: &[&str] = &[
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "timezone",
    "nsswitch.conf",
    "ssl",
    "ca-certificates",
    "ca-certificates.conf",
    "mime.types",
    "protocols",
    "services",
    "os-release",
    "debian_version",
    "gai.conf",
    "host.conf",
];

/// Top-level directories that merged-/usr systems link into `/usr` and others have as
/// directories of their own.
const USR_LINKS: &[&str] = &["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/// Exit status of the wrapper when the tree cannot be copied into `/work`, and the start of the
/// line it prints then: the script never ran.
const COPY_FAILED_STATUS: i32 = 125;
const COPY_FAILED: &str = "quire-sandbox: cannot copy the tree into /work";

/// Where the fetched tree is seen, read-only, inside the sandbox.
const TREE_SOURCE: &str = "/run/quire/tree";

/// The hostname, user and group name inside.
const NAME: &str = "quire-check";

impl Sandbox {
    /// A bubblewrap sandbox: `program` (default `bwrap` on `PATH`), run as `user` when we are root
    /// (default [`User::NOBODY`]). Runs `true` in it once, so that a machine where it cannot work
    /// is known now, not at the first job.
    pub fn bubblewrap(
        program: Option<&Path>,
        user: Option<User>,
        limits: Limits,
        read_only: Vec<PathBuf>,
    ) -> Result<Sandbox, Error> {
        let program = match program {
            Some(p) => p.to_path_buf(),
            None => find_on_path("bwrap").ok_or_else(|| Error::NotFound("bwrap".into()))?,
        };
        if !program.is_file() {
            return Err(Error::NotFound(program.display().to_string()));
        }
        // SAFETY: getuid(2) cannot fail and touches no memory.
        let root = unsafe { libc::getuid() } == 0;
        let user = if root { Some(user.unwrap_or(User::NOBODY)) } else { None };
        if user.is_some_and(|u| u.uid == 0 || u.gid == 0) {
            return Err(Error::RootUser);
        }
        let sandbox = Sandbox { kind: Kind::Bubblewrap { program, user }, limits, read_only };
        sandbox.probe()?;
        Ok(sandbox)
    }

    /// No sandbox: `--no-sandbox`.
    pub fn unsandboxed(limits: Limits) -> Sandbox {
        Sandbox { kind: Kind::Unsandboxed, limits, read_only: Vec::new() }
    }

    pub fn is_sandboxed(&self) -> bool {
        matches!(self.kind, Kind::Bubblewrap { .. })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// One line for the tester's start: what isolates the jobs.
    pub fn describe(&self) -> String {
        let l = &self.limits;
        let mib = |b: u64| b >> 20;
        match &self.kind {
            Kind::Bubblewrap { program, user } => format!(
                "sandbox {} as {}; /work {} MiB, /tmp {} MiB, {} processes, {} per process",
                program.display(),
                match user {
                    Some(u) => format!("uid {}", u.uid),
                    None => "this user".into(),
                },
                mib(l.tree_bytes),
                mib(l.tmp_bytes),
                l.processes,
                if l.memory_bytes == 0 {
                    "no memory limit".to_string()
                } else {
                    format!("{} MiB", mib(l.memory_bytes))
                },
            ),
            Kind::Unsandboxed => {
                "NO SANDBOX: check scripts run as this user, with this machine's files and network"
                    .into()
            }
        }
    }

    /// Whether the job's user can reach `dir` (where trees are fetched): bubblewrap, running as
    /// that user, binds the tree by its path. An error names the directory and the fix.
    pub fn check_reachable(&self, dir: &Path) -> Result<(), Error> {
        let Kind::Bubblewrap { user: Some(user), .. } = &self.kind else { return Ok(()) };
        let mut walked = PathBuf::new();
        for part in dir.components() {
            walked.push(part);
            let meta = std::fs::metadata(&walked).map_err(io(walked.display().to_string()))?;
            use std::os::unix::fs::MetadataExt as _;
            let mode = meta.mode();
            let can = if meta.uid() == user.uid {
                mode & 0o100 != 0
            } else if meta.gid() == user.gid {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            };
            if !can {
                return Err(Error::Io {
                    what: format!(
                        "the sandbox user (uid {}) cannot reach {}: `{}` is mode {:o}; make it searchable (chmod o+x) or choose another --work-dir",
                        user.uid,
                        dir.display(),
                        walked.display(),
                        mode & 0o7777
                    ),
                    source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
                });
            }
        }
        Ok(())
    }

    fn probe(&self) -> Result<(), Error> {
        let dir = tempfile::Builder::new()
            .prefix("quire-sandbox-probe")
            .tempdir()
            .map_err(io("creating a directory to try the sandbox in"))?;
        make_reachable(dir.path()).map_err(io("making the probe directory readable"))?;
        let stop = AtomicBool::new(false);
        let out = self.run(Job {
            tree: dir.path(),
            script: "true",
            env: Vec::new(),
            timeout: Duration::from_secs(30),
            stop: &stop,
            log_limit: 4096,
        })?;
        match out.end {
            End::Exited(0) => Ok(()),
            End::Failed(why) => Err(Error::Unusable(why)),
            _ => Err(Error::Unusable(first_line(&out.log))),
        }
    }

    /// Runs the job and waits for its end; every process it started is gone when this returns
    /// (unsandboxed: those that stayed in its process group).
    pub fn run(&self, job: Job<'_>) -> Result<Outcome, Error> {
        let started = Instant::now();
        let (out_read, out_write) = pipe().map_err(io("creating the output pipe"))?;
        set_nonblocking(&out_read).map_err(io("creating the output pipe"))?;
        let out_read = std::fs::File::from(out_read);
        // Files the sandbox reads its /etc/passwd... from (bubblewrap's --ro-bind-data): pipes
        // numbered high enough to miss any fd the child's setup uses, inheritable only there.
        let mut inherited: Vec<OwnedFd> = Vec::new();
        // Where bubblewrap says the host pid of the sandbox's first process (`--info-fd`).
        let mut info: Option<std::fs::File> = None;
        let mut cmd = match &self.kind {
            Kind::Bubblewrap { program, user } => {
                let mut cmd = Command::new(program);
                if let Some(u) = user {
                    cmd.uid(u.uid).gid(u.gid);
                }
                // SAFETY: getuid/getgid cannot fail and touch no memory.
                let (uid, gid) = match user {
                    Some(u) => (u.uid, u.gid),
                    None => unsafe { (libc::getuid(), libc::getgid()) },
                };
                let mut data = Vec::new();
                for (path, text) in etc_files(uid, gid) {
                    let fd =
                        data_fd(text.as_bytes()).map_err(io("passing files to the sandbox"))?;
                    data.push((fd.as_raw_fd(), path));
                    inherited.push(fd);
                }
                let (info_read, info_write) =
                    pipe().map_err(io("creating the sandbox's info pipe"))?;
                set_nonblocking(&info_read).map_err(io("creating the sandbox's info pipe"))?;
                let info_write = high_fd(info_write).map_err(io("creating the info pipe"))?;
                cmd.arg("--info-fd").arg(info_write.as_raw_fd().to_string());
                inherited.push(info_write);
                info = Some(std::fs::File::from(info_read));
                cmd.args(self.bwrap_args(job.tree, &data, &job.env));
                cmd
            }
            Kind::Unsandboxed => {
                let mut cmd = Command::new("/bin/sh");
                cmd.arg("-c").arg(job.script).current_dir(job.tree);
                cmd.env_clear();
                for (k, v) in sandbox_env(&job.env) {
                    cmd.env(k, v);
                }
                // Unsandboxed, HOME=/tmp would share a home with the host's users.
                cmd.env("HOME", job.tree);
                cmd
            }
        };
        if let Kind::Bubblewrap { .. } = self.kind {
            cmd.env_clear();
            cmd.arg(job.script);
        }
        let stderr = out_write.try_clone().map_err(io("creating the output pipe"))?;
        cmd.stdin(Stdio::null()).stdout(Stdio::from(out_write)).stderr(Stdio::from(stderr));
        cmd.process_group(0);
        let rlimits = self.rlimits(job.timeout);
        let keep: Vec<RawFd> = inherited.iter().map(|f| f.as_raw_fd()).collect();
        // SAFETY: getpid(2) cannot fail.
        let parent = unsafe { libc::getpid() };
        // SAFETY: only async-signal-safe calls (fcntl, setrlimit, prctl, getppid) on values made
        // before the fork; nothing is allocated.
        unsafe {
            cmd.pre_exec(move || {
                for &fd in &keep {
                    if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                for &(resource, value) in &rlimits {
                    let lim = libc::rlimit { rlim_cur: value, rlim_max: value };
                    if libc::setrlimit(resource, &lim) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                // Dies with the tester, even by kill -9; bubblewrap passes it on to the sandbox.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    // The tester died before the line above: nobody waits for this job.
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(io("starting the check script"))?;
        drop(cmd);
        drop(inherited);
        let mut capture = Capture::new(job.log_limit);
        let end = watch(&mut child, &out_read, &mut capture, &job)?;
        if let Some(info) = &info {
            wait_for_the_namespace(info);
        }
        let end = match end {
            End::Exited(COPY_FAILED_STATUS) if capture.text().starts_with(COPY_FAILED) => {
                End::Failed(first_line(&capture.text()))
            }
            End::Exited(1) if self.is_sandboxed() && capture.text().starts_with("bwrap: ") => {
                End::Failed(first_line(&capture.text()))
            }
            end => end,
        };
        Ok(Outcome {
            end,
            log: capture.text(),
            output_bytes: capture.total(),
            elapsed: started.elapsed(),
        })
    }

    fn rlimits(&self, timeout: Duration) -> Vec<(libc::__rlimit_resource_t, libc::rlim_t)> {
        let l = &self.limits;
        let mut r = vec![
            (libc::RLIMIT_NPROC, l.processes),
            (libc::RLIMIT_NOFILE, l.open_files),
            // No file can be bigger than the tree's tmpfs anyway; this also bounds /dev/shm.
            (libc::RLIMIT_FSIZE, l.tree_bytes.max(l.tmp_bytes)),
            (libc::RLIMIT_CPU, timeout.as_secs().max(1)),
            (libc::RLIMIT_CORE, 0),
        ];
        if l.memory_bytes > 0 {
            r.push((libc::RLIMIT_AS, l.memory_bytes));
        }
        r
    }

    fn bwrap_args(
        &self,
        tree: &Path,
        data: &[(RawFd, &'static str)],
        env: &[(String, String)],
    ) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        let mut add = |items: &[&OsStr]| a.extend(items.iter().map(|s| s.to_os_string()));
        let s = OsStr::new;
        add(&[
            s("--unshare-all"),
            s("--unshare-user"),
            s("--disable-userns"),
            s("--die-with-parent"),
            s("--new-session"),
            s("--hostname"),
            s(NAME),
            s("--clearenv"),
        ]);
        for (k, v) in sandbox_env(env) {
            add(&[s("--setenv"), s(&k), s(&v)]);
        }
        add(&[s("--ro-bind"), s("/usr"), s("/usr")]);
        for dir in USR_LINKS {
            match std::fs::symlink_metadata(dir) {
                Ok(m) if m.file_type().is_symlink() => {
                    if let Ok(target) = std::fs::read_link(dir) {
                        add(&[s("--symlink"), target.as_os_str(), s(dir)]);
                    }
                }
                Ok(m) if m.is_dir() => add(&[s("--ro-bind"), s(dir), s(dir)]),
                _ => {}
            }
        }
        for name in ETC {
            let path = Path::new("/etc").join(name);
            add(&[s("--ro-bind-try"), path.as_os_str(), path.as_os_str()]);
        }
        for path in &self.read_only {
            add(&[s("--ro-bind"), path.as_os_str(), path.as_os_str()]);
        }
        let fd_numbers: Vec<String> = data.iter().map(|(fd, _)| fd.to_string()).collect();
        for ((_, path), fd) in data.iter().zip(&fd_numbers) {
            add(&[s("--ro-bind-data"), s(fd), s(path)]);
        }
        let (tree_size, tmp_size) =
            (self.limits.tree_bytes.to_string(), self.limits.tmp_bytes.to_string());
        let shm_size = self.limits.tmp_bytes.min(64 << 20).to_string();
        add(&[
            s("--proc"),
            s("/proc"),
            s("--dev"),
            s("/dev"),
            s("--size"),
            s(&shm_size),
            s("--tmpfs"),
            s("/dev/shm"),
            s("--size"),
            s(&tmp_size),
            s("--tmpfs"),
            s("/tmp"),
            s("--symlink"),
            s("../tmp"),
            s("/var/tmp"),
            s("--size"),
            s(&tree_size),
            s("--tmpfs"),
            s("/work"),
            s("--ro-bind"),
            tree.as_os_str(),
            s(TREE_SOURCE),
            // The root and /dev are tmpfs that bubblewrap made, without a size: read-only, so that
            // /work and /tmp stay the only places a job writes.
            s("--remount-ro"),
            s("/dev"),
            s("--remount-ro"),
            s("/"),
            s("--chdir"),
            s("/work"),
            s("--"),
            s("/bin/sh"),
            s("-c"),
        ]);
        let copy = format!(
            "cp -a --no-preserve=ownership {TREE_SOURCE}/. /work/ 2>/tmp/.quire-copy || {{ echo \"{COPY_FAILED} (its size limit is {} MiB): $(head -n1 /tmp/.quire-copy)\"; exit {COPY_FAILED_STATUS}; }}; rm -f /tmp/.quire-copy; exec /bin/sh -c \"$1\"",
            self.limits.tree_bytes >> 20
        );
        add(&[s(&copy), s(NAME)]);
        a
    }
}

/// The environment of a job: nothing of the tester's.
fn sandbox_env(extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = [
        ("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        ("HOME", "/tmp"),
        ("TMPDIR", "/tmp"),
        ("LANG", "C.UTF-8"),
        ("USER", NAME),
        ("LOGNAME", NAME),
        ("SHELL", "/bin/sh"),
        ("QUIRE_CHECK", "1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in extra {
        env.retain(|(key, _)| key != k);
        env.push((k.clone(), v.clone()));
    }
    env
}

/// `/etc/passwd`, `/etc/group`, `/etc/hosts` and `/etc/hostname` of the sandbox: its own user,
/// and localhost.
fn etc_files(uid: u32, gid: u32) -> Vec<(&'static str, String)> {
    vec![
        (
            "/etc/passwd",
            format!(
                "root:x:0:0:root:/root:/usr/sbin/nologin\n{NAME}:x:{uid}:{gid}:quire check:/tmp:/bin/sh\n"
            ),
        ),
        ("/etc/group", format!("root:x:0:\n{NAME}:x:{gid}:\n")),
        ("/etc/hosts", format!("127.0.0.1\tlocalhost {NAME}\n::1\tlocalhost ip6-localhost\n")),
        ("/etc/hostname", format!("{NAME}\n")),
    ]
}

/// Reads the output and waits for the end, the time limit or the stop flag.
fn watch(
    child: &mut Child,
    out: &std::fs::File,
    capture: &mut Capture,
    job: &Job<'_>,
) -> Result<End, Error> {
    let started = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    let end = loop {
        poll_readable(out, Duration::from_millis(100));
        drain(out, &mut buf, capture);
        if let Some(status) = child.try_wait().map_err(io("waiting for the check script"))? {
            break End::Exited(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)));
        }
        let timed_out = started.elapsed() >= job.timeout;
        if timed_out || job.stop.load(Ordering::Relaxed) {
            kill_group(child);
            let _ = child.wait();
            break if timed_out { End::TimedOut } else { End::Stopped };
        }
    };
    // What is still in the pipe. Sandboxed, every writer is gone now; unsandboxed, a process that
    // left the group may hold the pipe open: read for a moment, not until it closes.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        poll_readable(out, Duration::from_millis(50));
        if drain(out, &mut buf, capture) {
            break;
        }
    }
    Ok(end)
}

/// Waits until every process of the sandbox is gone. bubblewrap's outer process exits as soon as
/// the sandbox's first process reports its status, and the kernel then kills the rest of the
/// PID namespace as that process exits: a moment later, not before. The first process is a
/// zombie, or gone, only once the namespace is empty (the kernel waits for it before), so that
/// is what is waited for; it is also killed directly, should bubblewrap have died before it.
fn wait_for_the_namespace(info: &std::fs::File) {
    let mut text = Vec::new();
    let mut buf = [0u8; 4096];
    let mut reader = info;
    while let Ok(n) = reader.read(&mut buf) {
        if n == 0 {
            break;
        }
        text.extend_from_slice(&buf[..n]);
    }
    let Some(pid) = child_pid(&String::from_utf8_lossy(&text)) else { return };
    // SAFETY: kill(2) with a pid bubblewrap just named; SIGKILL to our own sandbox.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state follows the command name in parentheses: "1234 (bwrap) Z ...".
            Ok(stat) if stat.rsplit_once(") ").is_some_and(|(_, rest)| !rest.starts_with('Z')) => {
                std::thread::sleep(Duration::from_millis(5));
            }
            _ => return,
        }
    }
}

/// `"child-pid": 1234` of bubblewrap's `--info-fd` JSON.
fn child_pid(info: &str) -> Option<i32> {
    let rest = &info[info.find("\"child-pid\"")? + "\"child-pid\"".len()..];
    let digits: String = rest
        .trim_start_matches(|c: char| c == ':' || c.is_whitespace())
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok().filter(|&p| p > 1)
}

/// Reads what is there; true at the end of the stream.
fn drain(mut file: &std::fs::File, buf: &mut [u8], capture: &mut Capture) -> bool {
    loop {
        match file.read(buf) {
            Ok(0) => return true,
            Ok(n) => capture.push(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

fn poll_readable(fd: &impl AsRawFd, timeout: Duration) {
    let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd on the stack.
    unsafe {
        libc::poll(&mut p, 1, timeout.as_millis() as libc::c_int);
    }
}

/// SIGKILL to the child's process group (bubblewrap's, whose sandbox then dies with it).
fn kill_group(child: &mut Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) on the process group we created for the child.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.kill();
}

fn pipe() -> std::io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two fds into the array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

fn set_nonblocking(fd: &OwnedFd) -> std::io::Result<()> {
    // SAFETY: fcntl on an fd we own.
    unsafe {
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags == -1 || libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) == -1
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// The read end of a pipe holding `bytes` (small: they fit the pipe's buffer), as an fd numbered
/// 100 or more and closed on exec (the child's setup makes it inheritable).
fn data_fd(bytes: &[u8]) -> std::io::Result<OwnedFd> {
    let (read, write) = pipe()?;
    std::io::Write::write_all(&mut std::fs::File::from(write), bytes)?;
    high_fd(read)
}

/// `fd` moved to a number of 100 or more, closed on exec: clear of the low fds the child's
/// setup uses, inheritable only where the child's setup makes it so.
fn high_fd(fd: OwnedFd) -> std::io::Result<OwnedFd> {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) makes a new fd we then own.
    let high = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 100) };
    if high == -1 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `high` was just created.
    Ok(unsafe { OwnedFd::from_raw_fd(high) })
}

/// Makes a fetched tree's directory readable and searchable by everyone: the job's user copies
/// it into the sandbox. (What is in it is public: it came from the project's mirror.)
pub fn make_reachable(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

fn first_line(text: &str) -> String {
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::child_pid;

    #[test]
    fn the_child_pid_is_read_from_bubblewraps_info() {
        assert_eq!(child_pid("{\n    \"child-pid\": 12345\n}\n"), Some(12345));
        assert_eq!(child_pid("{\"child-pid\":7,\"cgroup-namespace\":4026531835}"), Some(7));
        assert_eq!(child_pid(""), None);
        assert_eq!(child_pid("{\"child-pid\": 1}"), None, "never pid 1 of the host");
    }
}
