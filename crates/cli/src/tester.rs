//! `quire tester`: runs the projects' check scripts on applied series, on this or another
//! machine. It talks to the quire server over HTTP only (claim, heartbeat, report), fetches the
//! applied tree from the project's mirror tag, and runs the script in a sandbox
//! (`quire-sandbox`: bubblewrap, no network, nothing of this machine's writable, limits, a time
//! limit). It never needs the database. What the sandbox isolates: docs/testers.md, SECURITY.md.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use quire_sandbox::{End, Job, Limits, Sandbox, User};
use serde_json::{Value, json};

#[derive(Args)]
pub struct TesterArgs {
    /// The quire server, e.g. https://quire.example.org
    #[arg(long)]
    server: String,
    /// A token of scope `tester` (`quire token create --scope tester NAME`). Other users of this
    /// machine can read a command line: prefer --token-file or QUIRE_TESTER_TOKEN.
    #[arg(long, env = "QUIRE_TESTER_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// A file whose first line is the token.
    #[arg(long, conflicts_with = "token")]
    token_file: Option<PathBuf>,
    /// Take checks that need this capability too (repeatable), e.g. `--capability x86`.
    #[arg(long = "capability")]
    capabilities: Vec<String>,
    /// Name of this tester in the job table (default: host-pid).
    #[arg(long)]
    name: Option<String>,
    /// Run scripts as this user, with this machine's files and network: only for trusted code.
    #[arg(long)]
    no_sandbox: bool,
    /// The bubblewrap program (default: `bwrap` on PATH).
    #[arg(long, value_name = "PATH")]
    bwrap: Option<PathBuf>,
    /// When the tester runs as root: the unprivileged user jobs run as, `UID[:GID]`. Give each
    /// tester on a machine a uid of its own that nothing else uses (its process limit counts
    /// every process of that uid).
    #[arg(long, value_name = "UID[:GID]", value_parser = parse_user, default_value = "65534")]
    sandbox_user: User,
    /// Size of the tmpfs holding the job's tree (`/work`): the tree and all it builds there.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "4G")]
    disk_limit: u64,
    /// Size of the job's `/tmp` (a tmpfs).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "1G")]
    tmp_limit: u64,
    /// Address space of each process of a job (0: none).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "8G")]
    memory_limit: u64,
    /// Processes (and threads) a job may run at once.
    #[arg(long, value_name = "N", default_value_t = 512, value_parser = clap::value_parser!(u64).range(16..))]
    max_processes: u64,
    /// Also show this host path, read-only, inside the sandbox (repeatable), e.g. a toolchain
    /// in /opt.
    #[arg(long = "sandbox-ro", value_name = "PATH")]
    sandbox_ro: Vec<PathBuf>,
    /// Seconds between claims when there is nothing to do.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    poll: u64,
    /// Run jobs until none is due, then exit.
    #[arg(long)]
    once: bool,
    /// Where trees are fetched (default: the system's temp dir). Must exist.
    #[arg(long)]
    work_dir: Option<PathBuf>,
}

/// The largest log the server takes when it does not say (`log_limit` in the claim).
const DEFAULT_LOG_LIMIT: usize = 1 << 20;

/// How long fetching the tree may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(1800);

pub fn run(args: TesterArgs) -> Result<ExitCode> {
    // Trees are fetched as this user and read by the job's user: readable by all, whatever the
    // umask of the shell that started the tester.
    // SAFETY: umask(2) cannot fail.
    unsafe {
        libc::umask(0o022);
    }
    let token = token(&args)?;
    let work_dir = match &args.work_dir {
        Some(dir) => {
            let meta = std::fs::metadata(dir).map_err(|_| {
                anyhow::anyhow!(
                    "--work-dir {}: no such directory; create it (mkdir -p {0}) or leave --work-dir out to use {}",
                    dir.display(),
                    std::env::temp_dir().display()
                )
            })?;
            if !meta.is_dir() {
                bail!("--work-dir {}: not a directory", dir.display());
            }
            tempfile::Builder::new().prefix(".quire-tester-check").tempdir_in(dir).with_context(
                || format!("--work-dir {}: cannot create a directory in it", dir.display()),
            )?;
            dir.clone()
        }
        None => std::env::temp_dir(),
    };
    let limits = Limits {
        tree_bytes: args.disk_limit,
        tmp_bytes: args.tmp_limit,
        memory_bytes: args.memory_limit,
        processes: args.max_processes,
        ..Limits::default()
    };
    let sandbox = if args.no_sandbox {
        Sandbox::unsandboxed(limits)
    } else {
        let sandbox = Sandbox::bubblewrap(
            args.bwrap.as_deref(),
            Some(args.sandbox_user),
            limits,
            args.sandbox_ro.clone(),
        )
        .context("cannot run check scripts in a sandbox")?;
        sandbox.check_reachable(&work_dir)?;
        sandbox
    };
    let name = args.name.clone().unwrap_or_else(quire_worker::default_worker_id);
    let server = args.server.trim_end_matches('/').to_string();
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
    let api = Api { agent, server, token, tester: name.clone() };
    eprintln!("quire: tester {name} on {}: {}", api.server, sandbox.describe());
    loop {
        match api.claim(&args.capabilities)? {
            Some(claimed) => {
                let report = run_claimed(&api, &claimed, &sandbox, &work_dir);
                match api.report(claimed.job_id, &report) {
                    Ok(true) => eprintln!(
                        "quire: job {} ({}): {}: {}",
                        claimed.job_id, claimed.kind, report.state, report.description
                    ),
                    Ok(false) => eprintln!(
                        "quire: job {} was given to another tester meanwhile; result dropped",
                        claimed.job_id
                    ),
                    Err(e) => eprintln!("quire: cannot report job {}: {e:#}", claimed.job_id),
                }
            }
            None if args.once => return Ok(ExitCode::SUCCESS),
            None => std::thread::sleep(Duration::from_secs(args.poll)),
        }
    }
}

fn token(args: &TesterArgs) -> Result<String> {
    let token = match (&args.token, &args.token_file) {
        (Some(t), _) => t.trim().to_string(),
        (None, Some(file)) => std::fs::read_to_string(file)
            .with_context(|| format!("--token-file {}", file.display()))?
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string(),
        (None, None) => String::new(),
    };
    if token.is_empty() {
        bail!(
            "no tester token: give --token-file FILE (or QUIRE_TESTER_TOKEN); `quire token create --scope tester NAME` on the server makes one"
        );
    }
    Ok(token)
}

fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits.parse().map_err(|_| format!("`{s}`: expected a size like 512M or 4G"))?;
    let shift = match unit.to_ascii_uppercase().trim_end_matches(['B', 'I']) {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("`{s}`: expected a size like 512M or 4G")),
    };
    n.checked_mul(1 << shift).ok_or_else(|| format!("`{s}`: too large"))
}

fn parse_user(s: &str) -> std::result::Result<User, String> {
    let (uid, gid) = s.split_once(':').unwrap_or((s, s));
    let parse = |v: &str| {
        v.trim().parse::<u32>().map_err(|_| format!("`{s}`: expected UID or UID:GID (numbers)"))
    };
    Ok(User { uid: parse(uid)?, gid: parse(gid)? })
}

struct Api {
    agent: ureq::Agent,
    server: String,
    token: String,
    tester: String,
}

struct Claimed {
    job_id: i64,
    kind: String,
    lease: u64,
    log_limit: usize,
    job: Value,
}

struct Report {
    state: &'static str,
    description: String,
    log: String,
}

impl Api {
    // ureq's error is big, and it is only ever matched here, once per request.
    #[allow(clippy::result_large_err)]
    fn post(&self, path: &str, body: Value) -> std::result::Result<ureq::Response, ureq::Error> {
        self.agent
            .post(&format!("{}{path}", self.server))
            .set("Authorization", &format!("Bearer {}", self.token))
            .send_json(body)
    }

    fn claim(&self, capabilities: &[String]) -> Result<Option<Claimed>> {
        let resp = match self.post(
            "/api/v1/testers/claim",
            json!({ "tester": self.tester, "capabilities": capabilities }),
        ) {
            Ok(r) => r,
            Err(ureq::Error::Status(code @ (502..=504), _)) => {
                // Restarting, or shedding load (503 + Retry-After): wait like an idle round.
                eprintln!("quire: {} is busy or restarting ({code})", self.server);
                return Ok(None);
            }
            Err(ureq::Error::Status(code, r)) => {
                let detail = r
                    .into_json::<Value>()
                    .ok()
                    .and_then(|v| v["detail"].as_str().map(String::from))
                    .unwrap_or_default();
                bail!("the server refused the claim ({code}): {detail}");
            }
            Err(e) => {
                // The server is restarting or unreachable: wait like an idle round.
                eprintln!("quire: cannot reach {}: {e}", self.server);
                return Ok(None);
            }
        };
        if resp.status() == 204 {
            return Ok(None);
        }
        let v: Value = resp.into_json().context("reading the claimed job")?;
        Ok(Some(Claimed {
            job_id: v["job_id"].as_i64().context("claim without job_id")?,
            kind: v["kind"].as_str().unwrap_or_default().to_string(),
            lease: v["lease_secs"].as_u64().unwrap_or(60).max(1),
            log_limit: v["log_limit"]
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(DEFAULT_LOG_LIMIT)
                .max(1024),
            job: v["job"].clone(),
        }))
    }

    /// True when the job is still ours.
    fn heartbeat(&self, job_id: i64) -> bool {
        !matches!(
            self.post(
                &format!("/api/v1/testers/jobs/{job_id}/heartbeat"),
                json!({ "tester": self.tester })
            ),
            Err(ureq::Error::Status(409, _))
        )
    }

    /// True when stored, false when the job went to another tester. A server that cannot be
    /// reached or answers 5xx is asked again a few times: the result took the whole job to make.
    fn report(&self, job_id: i64, r: &Report) -> Result<bool> {
        let body = json!({ "tester": self.tester, "state": r.state, "description": r.description, "log": r.log });
        let mut pause = Duration::from_secs(2);
        for attempt in 1.. {
            match self.post(&format!("/api/v1/testers/jobs/{job_id}/result"), body.clone()) {
                Ok(_) => return Ok(true),
                Err(ureq::Error::Status(409, _)) => return Ok(false),
                Err(ureq::Error::Status(code, resp)) if code < 500 || attempt == 4 => {
                    let detail = resp.into_string().unwrap_or_default();
                    bail!("the server refused the result ({code}): {}", detail.trim());
                }
                Err(e) if attempt == 4 => return Err(e.into()),
                Err(_) => {
                    std::thread::sleep(pause);
                    pause *= 2;
                }
            }
        }
        unreachable!("the loop returns by its fourth attempt")
    }
}

/// Fetches the tree and runs the script, heartbeating meanwhile; every failure is a report.
fn run_claimed(api: &Api, claimed: &Claimed, sandbox: &Sandbox, work_dir: &Path) -> Report {
    let job = &claimed.job;
    let field = |k: &str| job[k].as_str().unwrap_or_default().to_string();
    let (script, url, reference, commit) =
        (field("script"), field("fetch_url"), field("fetch_ref"), field("commit"));
    let timeout = Duration::from_secs(job["timeout"].as_u64().unwrap_or(1800).max(1));
    let tmp = match tempfile::Builder::new().prefix("quire-job").tempdir_in(work_dir) {
        Ok(t) => t,
        Err(e) => {
            return error_report(format!(
                "cannot create a work directory in {}: {e}",
                work_dir.display()
            ));
        }
    };
    let tree = tmp.path().join("tree");
    if let Err(e) = fetch_tree(tmp.path(), &tree, &url, &reference, &commit) {
        return error_report(format!("cannot fetch {reference} from {url}: {e:#}"));
    }
    // The job's user reads the tree through this directory.
    if let Err(e) = quire_sandbox::make_reachable(tmp.path()) {
        return error_report(format!("cannot open the work directory to the sandbox: {e}"));
    }
    // Heartbeats while the script runs; a lost job stops the script.
    let (done, lost) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicBool::new(false)));
    let beat = {
        let (done, lost) = (done.clone(), lost.clone());
        let every = Duration::from_secs((claimed.lease / 3).max(1));
        let api = Api {
            agent: api.agent.clone(),
            server: api.server.clone(),
            token: api.token.clone(),
            tester: api.tester.clone(),
        };
        let job_id = claimed.job_id;
        std::thread::spawn(move || {
            let mut last = Instant::now();
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                if last.elapsed() >= every {
                    last = Instant::now();
                    if !api.heartbeat(job_id) {
                        lost.store(true, Ordering::Relaxed);
                        return;
                    }
                }
            }
        })
    };
    let outcome = sandbox.run(Job {
        tree: &tree,
        script: &script,
        env: Vec::new(),
        timeout,
        stop: &lost,
        log_limit: claimed.log_limit,
    });
    done.store(true, Ordering::Relaxed);
    let _ = beat.join();
    let out = match outcome {
        Ok(out) => out,
        Err(e) => return error_report(format!("cannot run the script: {e}")),
    };
    let log = out.log;
    match out.end {
        End::Exited(0) => Report { state: "pass", description: "script passed".into(), log },
        End::Exited(code) => {
            Report { state: "fail", description: format!("script exited with {code}"), log }
        }
        End::Stopped => {
            Report { state: "error", description: "job lost to another tester".into(), log }
        }
        End::TimedOut => Report {
            state: "error",
            description: format!("killed after {} s (time limit)", timeout.as_secs()),
            log,
        },
        End::Failed(why) => Report { state: "error", description: why, log },
    }
}

fn error_report(why: String) -> Report {
    Report {
        state: "error",
        description: why.lines().next().unwrap_or_default().to_string(),
        log: format!("{why}\n"),
    }
}

/// `git init` + `git fetch --depth 1 <url> <ref>` + checkout, through quire-git's runner (clean
/// environment, no hooks, a time limit), and the commit is the one the server named.
fn fetch_tree(home: &Path, dir: &Path, url: &str, reference: &str, commit: &str) -> Result<()> {
    if url.starts_with('-') || reference.starts_with('-') {
        bail!("refusing an option-like url or ref");
    }
    std::fs::create_dir_all(dir).context("creating the tree directory")?;
    let env = quire_git::run::Env { home, timeout: FETCH_TIMEOUT };
    let mut log = quire_git::run::Log::default();
    let mut git = |args: &[&str]| quire_git::run::git_ok(&mut log, &env, dir, args, None);
    git(&["init", "-q"])?;
    git(&["fetch", "-q", "--depth", "1", url, reference])?;
    git(&["checkout", "-q", "--detach", "FETCH_HEAD"])?;
    let head = git(&["rev-parse", "HEAD"])?.stdout.trim().to_string();
    if !commit.is_empty() && head != commit {
        bail!("{reference} is at {head} but the server applied {commit}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_the_usual_suffixes() {
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("4G"), Ok(4 << 30));
        assert_eq!(parse_size("4GiB"), Ok(4 << 30));
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("0"), Ok(0));
        assert!(parse_size("4X").is_err() && parse_size("G").is_err());
        assert!(parse_size("99999999999T").is_err());
    }

    #[test]
    fn users_are_uid_or_uid_and_gid() {
        assert_eq!(parse_user("65534"), Ok(User { uid: 65534, gid: 65534 }));
        assert_eq!(parse_user("1000:100"), Ok(User { uid: 1000, gid: 100 }));
        assert!(parse_user("nobody").is_err());
    }
}
