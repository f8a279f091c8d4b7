//! `quire tester`: runs the projects' check scripts on applied series, on this or another
//! machine. It talks to the quire server over HTTP only (claim, heartbeat, report), fetches the
//! applied tree from the project's mirror tag, and runs the script without network and with a
//! time limit. It never needs the database.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Value, json};

#[derive(Args)]
pub struct TesterArgs {
    /// The quire server, e.g. https://quire.example.org
    #[arg(long)]
    server: String,
    /// A token of scope `tester` (`quire token create --scope tester NAME`).
    #[arg(long, env = "QUIRE_TESTER_TOKEN", hide_env_values = true)]
    token: String,
    /// Take checks that need this capability too (repeatable), e.g. `--capability x86`.
    #[arg(long = "capability")]
    capabilities: Vec<String>,
    /// Name of this tester in the job table (default: host-pid).
    #[arg(long)]
    name: Option<String>,
    /// Run scripts with the network (refused by default when no sandbox is available).
    #[arg(long)]
    no_sandbox: bool,
    /// Seconds between claims when there is nothing to do.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    poll: u64,
    /// Run jobs until none is due, then exit.
    #[arg(long)]
    once: bool,
    /// Where trees are checked out (default: the system's temp dir).
    #[arg(long)]
    work_dir: Option<PathBuf>,
}

/// The last bytes of a script's output that are reported.
const MAX_OUTPUT: u64 = 1 << 20;

pub fn run(args: TesterArgs) -> Result<ExitCode> {
    let sandbox = match (sandbox_command(), args.no_sandbox) {
        (_, true) => Vec::new(),
        (Some(s), false) => s,
        (None, false) => bail!(
            "cannot run scripts without network here (`unshare -rn` and `unshare -n` both fail); install bubblewrap or util-linux with user namespaces, or pass --no-sandbox"
        ),
    };
    let name = args.name.clone().unwrap_or_else(quire_worker::default_worker_id);
    let server = args.server.trim_end_matches('/').to_string();
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
    let api = Api { agent, server, token: args.token.clone(), tester: name.clone() };
    eprintln!(
        "quire: tester {name} on {} ({})",
        api.server,
        if sandbox.is_empty() { "no sandbox" } else { "no network" }
    );
    loop {
        match api.claim(&args.capabilities)? {
            Some(claimed) => {
                let report = run_claimed(&api, &claimed, &sandbox, args.work_dir.as_deref());
                match api.report(claimed.job_id, &report) {
                    Ok(true) => eprintln!(
                        "quire: job {} ({}): {}",
                        claimed.job_id, claimed.kind, report.state
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

/// `unshare -rn` (a user namespace: works unprivileged where the kernel allows it) or, as root,
/// `unshare -n`; `None` when neither runs.
fn sandbox_command() -> Option<Vec<String>> {
    for args in [["-rn"], ["-n"]] {
        let ok = Command::new("unshare")
            .args(args)
            .arg("true")
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            return Some(
                std::iter::once("unshare".to_string())
                    .chain(args.iter().map(|a| a.to_string()))
                    .collect(),
            );
        }
    }
    None
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

    /// True when stored, false when the job went to another tester.
    fn report(&self, job_id: i64, r: &Report) -> Result<bool> {
        let body = json!({ "tester": self.tester, "state": r.state, "description": r.description, "log": r.log });
        match self.post(&format!("/api/v1/testers/jobs/{job_id}/result"), body) {
            Ok(_) => Ok(true),
            Err(ureq::Error::Status(409, _)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }
}

/// Fetches the tree and runs the script, heartbeating meanwhile; every failure is a report.
fn run_claimed(
    api: &Api,
    claimed: &Claimed,
    sandbox: &[String],
    work_dir: Option<&Path>,
) -> Report {
    let job = &claimed.job;
    let field = |k: &str| job[k].as_str().unwrap_or_default().to_string();
    let (script, url, reference, commit) =
        (field("script"), field("fetch_url"), field("fetch_ref"), field("commit"));
    let timeout = Duration::from_secs(job["timeout"].as_u64().unwrap_or(1800).max(1));
    let tmp = match work_dir.map(tempfile::TempDir::new_in).unwrap_or_else(tempfile::TempDir::new) {
        Ok(t) => t,
        Err(e) => return error_report(format!("cannot create a work directory: {e}")),
    };
    let tree = tmp.path().join("tree");
    if let Err(e) = fetch_tree(&tree, &url, &reference, &commit) {
        return error_report(format!("cannot fetch {reference} from {url}: {e:#}"));
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
    let outcome = run_script(&tree, &script, sandbox, timeout, &lost, tmp.path());
    done.store(true, Ordering::Relaxed);
    let _ = beat.join();
    match outcome {
        Ok((Some(0), log)) => Report { state: "pass", description: "script passed".into(), log },
        Ok((Some(code), log)) => {
            Report { state: "fail", description: format!("script exited with {code}"), log }
        }
        Ok((None, log)) if lost.load(Ordering::Relaxed) => {
            Report { state: "error", description: "job lost to another tester".into(), log }
        }
        Ok((None, log)) => Report {
            state: "error",
            description: format!("killed after {} s (time limit)", timeout.as_secs()),
            log,
        },
        Err(e) => error_report(format!("cannot run the script: {e:#}")),
    }
}

fn error_report(why: String) -> Report {
    Report {
        state: "error",
        description: why.lines().next().unwrap_or_default().to_string(),
        log: format!("{why}\n"),
    }
}

/// `git init` + `git fetch --depth 1 <url> <ref>` + checkout, and the commit is the one the
/// server named.
fn fetch_tree(dir: &Path, url: &str, reference: &str, commit: &str) -> Result<()> {
    if url.starts_with('-') || reference.starts_with('-') {
        bail!("refusing an option-like url or ref");
    }
    std::fs::create_dir_all(dir).context("creating the tree directory")?;
    git(dir, &["init", "-q"])?;
    git(dir, &["fetch", "-q", "--depth", "1", url, reference])?;
    git(dir, &["checkout", "-q", "--detach", "FETCH_HEAD"])?;
    let head = git(dir, &["rev-parse", "HEAD"])?;
    if !commit.is_empty() && head.trim() != commit {
        bail!("{reference} is at {} but the server applied {commit}", head.trim());
    }
    Ok(())
}

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .args(["-c", "core.hooksPath=/dev/null"])
        .args(args)
        .output()
        .context("running git")?;
    if !out.status.success() {
        bail!("git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs `sh -c script` in `tree` (inside `sandbox`), in its own process group so that a time-out
/// kills everything it started; returns the exit code (`None` when killed) and the output's tail.
fn run_script(
    tree: &Path,
    script: &str,
    sandbox: &[String],
    timeout: Duration,
    lost: &AtomicBool,
    scratch: &Path,
) -> Result<(Option<i32>, String)> {
    use std::os::unix::process::CommandExt;
    let out_path = scratch.join("output");
    let out = std::fs::File::create(&out_path).context("creating the output file")?;
    let mut cmd = match sandbox.split_first() {
        Some((program, args)) => {
            let mut c = Command::new(program);
            c.args(args).args(["sh", "-c", script]);
            c
        }
        None => {
            let mut c = Command::new("sh");
            c.args(["-c", script]);
            c
        }
    };
    cmd.current_dir(tree)
        .stdin(Stdio::null())
        .stdout(out.try_clone().context("output file")?)
        .stderr(out)
        .process_group(0)
        .env("QUIRE_CHECK", "1");
    let mut child = cmd.spawn().context("starting the script")?;
    let started = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().context("waiting for the script")? {
            break status.code();
        }
        if started.elapsed() >= timeout || lost.load(Ordering::Relaxed) {
            // SAFETY: kill(2) on the child's own process group; no memory is touched.
            unsafe {
                libc::kill(-(child.id() as i32), libc::SIGKILL);
            }
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Ok((code, tail(&out_path)?))
}

fn tail(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).context("reading the output")?;
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(MAX_OUTPUT);
    f.seek(SeekFrom::Start(start)).context("reading the output")?;
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).context("reading the output")?;
    let text = String::from_utf8_lossy(&bytes).into_owned();
    Ok(if start > 0 { format!("[... {start} bytes cut ...]\n{text}") } else { text })
}
