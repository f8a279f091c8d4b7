//! Spawning `git` with a clean environment, and the log of every command run.
//!
//! Why a clean environment: the worker runs series taken from public mail. Nothing from the mail,
//! the user's config or the repository's hooks may run, and the result must not depend on who
//! runs the worker. So: no system or global config, `HOME` pointed at a directory we own, hooks
//! pointed at `/dev/null`, a fixed committer, C locale so git's messages (which we read) are the
//! English ones.

use crate::Error;
use std::io::{Read, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Committer of every commit quire makes: fixed so that applying the same series on the same
/// base gives the same commit id, whoever runs the worker.
pub const COMMITTER_NAME: &str = "quire";
pub const COMMITTER_EMAIL: &str = "quire@localhost";

/// `-c` options given to every git command.
const SAFE_CONFIG: &[&str] = &[
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "gc.auto=0",
    "commit.gpgSign=false",
    "tag.gpgSign=false",
    "advice.detachedHead=false",
    "init.defaultBranch=main",
    "protocol.ext.allow=never",
];

/// What one git command did.
#[derive(Debug, Clone)]
pub struct Ran {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Every command run for one operation, with its output: shown to the user as is.
#[derive(Debug, Clone, Default)]
pub struct Log {
    pub text: String,
}

impl Log {
    fn record(&mut self, cwd: &Path, args: &[&str], ran: &Ran, code: Option<i32>) {
        self.text.push_str(&format!("$ (cd {}) git {}\n", cwd.display(), args.join(" ")));
        for out in [&ran.stdout, &ran.stderr] {
            if !out.is_empty() {
                self.text.push_str(out);
                if !out.ends_with('\n') {
                    self.text.push('\n');
                }
            }
        }
        match code {
            Some(0) => {}
            Some(c) => self.text.push_str(&format!("[exit status {c}]\n")),
            None => self.text.push_str("[killed by a signal]\n"),
        }
    }
}

/// Where git runs from: its `$HOME`, and how long a command may take.
#[derive(Debug, Clone, Copy)]
pub struct Env<'a> {
    pub home: &'a Path,
    pub timeout: Duration,
}

/// Runs `git args` in `cwd` with `env.home` as `$HOME`, feeding `stdin`, recording into `log`.
/// A non-zero exit is not an error here (callers decide); failing to spawn or running past
/// `env.timeout` is (the command and whatever it started are killed).
pub fn git(
    log: &mut Log,
    env: &Env<'_>,
    cwd: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> Result<Ran, Error> {
    let mut cmd = command(env.home);
    cmd.args(args).current_dir(cwd);
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let spawn_err =
        |e: std::io::Error| Error::Spawn { command: format!("git {}", args.join(" ")), source: e };
    let mut child = cmd.spawn().map_err(spawn_err)?;
    // Write stdin from a thread: git may fill its stdout pipe before reading all of a large mbox.
    let writer = match (stdin, child.stdin.take()) {
        (Some(bytes), Some(mut pipe)) => {
            let bytes = bytes.to_vec();
            Some(std::thread::spawn(move || {
                // A broken pipe means git stopped reading (e.g. it failed early): its exit status
                // and stderr say why, so the write error itself adds nothing.
                let _ = pipe.write_all(&bytes);
            }))
        }
        _ => None,
    };
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    let status = wait_or_kill(&mut child, env.timeout).map_err(spawn_err)?;
    if let Some(w) = writer {
        let _ = w.join();
    }
    let ran = Ran {
        success: status.is_some_and(|s| s.success()),
        stdout: String::from_utf8_lossy(&stdout.join().unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned(),
    };
    let Some(status) = status else {
        log.record(cwd, args, &ran, None);
        log.text.push_str(&format!("[killed after {} s]\n", env.timeout.as_secs()));
        return Err(Error::Timeout {
            command: format!("git {}", args.join(" ")),
            seconds: env.timeout.as_secs(),
        });
    };
    log.record(cwd, args, &ran, status.code());
    Ok(ran)
}

/// A `git` command with the environment and configuration every git run of quire gets (see the
/// module documentation), in a process group of its own; the caller adds the arguments, the
/// working directory and stdio. For the runs [`git`] cannot hold in memory, or that stream:
/// `cat-file --batch`, `archive`.
pub fn command(home: &Path) -> Command {
    let mut cmd = Command::new(git_program());
    cmd.env_clear();
    if let Some(path) = std::env::var_os("PATH") {
        cmd.env("PATH", path);
    }
    cmd.env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_ASKPASS", "/bin/false")
        .env("SSH_ASKPASS", "/bin/false")
        .env("GIT_EDITOR", "false")
        .env("LC_ALL", "C")
        .env("LANG", "C")
        .env("TZ", "UTC")
        .env("GIT_COMMITTER_NAME", COMMITTER_NAME)
        .env("GIT_COMMITTER_EMAIL", COMMITTER_EMAIL)
        // Only used by commands that author something themselves (none on the apply path: `git am`
        // keeps the mail's author), set so git never guesses from the host name.
        .env("GIT_AUTHOR_NAME", COMMITTER_NAME)
        .env("GIT_AUTHOR_EMAIL", COMMITTER_EMAIL);
    for c in SAFE_CONFIG {
        cmd.arg("-c").arg(c);
    }
    // Its own process group, so that a timeout kills the helpers git started too
    // (git-remote-https, ssh) and nothing keeps our pipes open.
    cmd.process_group(0);
    cmd
}

/// `git` as found on `PATH` (the first executable file of that name), looked up on each call.
///
/// A full path, not the bare name: the standard library spawns a command whose environment
/// sets `PATH` and whose program is a bare name by fork + exec (`posix_spawnp` would search
/// the parent's `PATH`), and a fork copies the page tables of the whole process. An import
/// verifying the patatt signatures of the whole io-uring archive runs `git mailinfo` for
/// each signed mail: those forks of a 260 MB process were 18% of the import's CPU time
/// (`perf record`). With a full path it is `posix_spawn` (a vfork), whatever the size.
pub fn git_program() -> std::ffi::OsString {
    use std::os::unix::fs::PermissionsExt as _;
    let found = std::env::var_os("PATH").and_then(|paths| {
        let dirs = std::env::split_paths(&paths).filter(|dir| dir.is_absolute());
        dirs.map(|dir| dir.join("git")).find(|candidate| {
            std::fs::metadata(candidate)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    });
    // Not found: the bare name, so that spawning fails the usual way ("No such file").
    found.map_or_else(|| "git".into(), |p| p.into_os_string())
}

/// [`git`] for output that is not text (`-z` lists, blobs): stdout and stderr as read, and no
/// log. Failing to spawn or running past `env.timeout` is an error; a non-zero exit is not.
pub fn output(env: &Env<'_>, cwd: &Path, args: &[&str]) -> Result<std::process::Output, Error> {
    let mut cmd = command(env.home);
    cmd.args(args).current_dir(cwd);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let spawn_err =
        |e: std::io::Error| Error::Spawn { command: format!("git {}", args.join(" ")), source: e };
    let mut child = cmd.spawn().map_err(spawn_err)?;
    let stdout = read_all(child.stdout.take());
    let stderr = read_all(child.stderr.take());
    let Some(status) = wait_or_kill(&mut child, env.timeout).map_err(spawn_err)? else {
        return Err(Error::Timeout {
            command: format!("git {}", args.join(" ")),
            seconds: env.timeout.as_secs(),
        });
    };
    Ok(std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Reads a pipe to its end on a thread (git may fill stdout while we wait on stderr).
fn read_all<R: Read + Send + 'static>(pipe: Option<R>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            // A read error ends the output early; the exit status tells whether git succeeded.
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

/// The exit status, or `None` when `timeout` passed and the process group was killed.
fn wait_or_kill(child: &mut Child, timeout: Duration) -> std::io::Result<Option<ExitStatus>> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if start.elapsed() >= timeout {
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: kill(2) with a negative pid signals the process group we created.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            let _ = child.kill();
            child.wait()?;
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// Like [`git`], but a non-zero exit is an [`Error::Git`] carrying git's message.
pub fn git_ok(
    log: &mut Log,
    env: &Env<'_>,
    cwd: &Path,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> Result<Ran, Error> {
    let ran = git(log, env, cwd, args, stdin)?;
    if ran.success {
        Ok(ran)
    } else {
        Err(Error::Git {
            command: format!("git {}", args.join(" ")),
            message: ran.stderr.trim().to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A bare program name with PATH set in the child's environment makes the standard library
    // fork the whole process; a full path lets it use posix_spawn.
    #[test]
    fn git_is_spawned_by_its_full_path() {
        let program = git_program();
        let path = Path::new(&program);
        assert!(path.is_absolute(), "{program:?}");
        assert!(path.ends_with("git"), "{program:?}");
        let cmd = command(Path::new("/nonexistent"));
        assert_eq!(cmd.get_program(), program.as_os_str());
        let home = std::env::temp_dir();
        let env = Env { home: &home, timeout: Duration::from_secs(30) };
        let out = output(&env, &home, &["--version"]).expect("git runs");
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("git version"));
    }
}
