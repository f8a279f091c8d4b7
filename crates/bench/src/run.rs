//! `quire-bench run`: every benchmark of quire in one run, against the release `quire` binary as
//! a user runs it, printed as one table and written to BENCHMARKS.md with the machine, the commit
//! and the date. Each row names the command that reproduces it.

use std::fmt::Write as _;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub struct Options {
    pub quire: PathBuf,
    pub repo: PathBuf,
    pub work: PathBuf,
    pub out: Option<PathBuf>,
    pub sizes: Vec<u64>,
    pub postgres: bool,
    pub clients: Vec<usize>,
    pub seconds: u64,
    pub peers: bool,
    pub apply: bool,
    pub only_load: bool,
}

/// One row of the table.
struct Row {
    what: String,
    figures: String,
    command: String,
}

struct Report {
    rows: Vec<Row>,
    notes: Vec<String>,
}

impl Report {
    fn row(
        &mut self,
        what: impl Into<String>,
        figures: impl Into<String>,
        command: impl Into<String>,
    ) {
        let row = Row { what: what.into(), figures: figures.into(), command: command.into() };
        println!("| {} | {} | `{}` |", row.what, row.figures, row.command);
        let _ = std::io::stdout().flush();
        self.rows.push(row);
    }

    fn note(&mut self, note: impl Into<String>) {
        let note = note.into();
        eprintln!("quire-bench: {note}");
        self.notes.push(note);
    }
}

/// What a finished child process used.
struct Usage {
    wall: Duration,
    max_rss_kib: u64,
    stdout: String,
    stderr: String,
    ok: bool,
}

/// Runs `cmd` to the end and reads its peak RSS from `/proc/<pid>/status` (VmHWM) while it runs.
///
/// Not from wait4's ru_maxrss: on Linux a forked child's ru_maxrss starts at the parent's RSS at
/// fork time (a 500 MiB parent spawning /bin/true reads back about 500 MiB), so quire-bench's own
/// size would show up in every row. VmHWM belongs to the exec'd image alone; it is a high-water
/// mark, so sampling every few milliseconds misses at most the last moments before exit.
/// ru_maxrss is the fallback when no sample was taken (a child that ended at once).
fn measure(cmd: &mut Command) -> Result<Usage, String> {
    let started = Instant::now();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        let status = format!("/proc/{}/status", child.id());
        std::thread::spawn(move || {
            let mut peak = 0u64;
            while !done.load(Ordering::Relaxed) {
                if let Some(kib) =
                    std::fs::read_to_string(&status).ok().as_deref().and_then(vm_hwm_kib)
                {
                    peak = peak.max(kib);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            peak
        })
    };
    let mut out = child.stdout.take().ok_or("no stdout")?;
    let mut err = child.stderr.take().ok_or("no stderr")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let mut stderr = String::new();
    let _ = err.read_to_string(&mut stderr);
    let stdout = reader.join().unwrap_or_default();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 fills it for our own child, which we have not waited for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    done.store(true, Ordering::Relaxed);
    let sampled = sampler.join().unwrap_or(0);
    if r != pid {
        return Err(format!("wait4 failed for {cmd:?}"));
    }
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    let max_rss_kib = if sampled > 0 { sampled } else { usage.ru_maxrss as u64 };
    Ok(Usage { wall: started.elapsed(), max_rss_kib, stdout, stderr, ok })
}

/// "VmHWM:\t  123456 kB" in a /proc status file -> 123456.
fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

fn mib(kib: u64) -> String {
    format!("{:.0} MiB", kib as f64 / 1024.0)
}

/// Bytes of mail in `path` (uncompressed when it is gzipped).
fn mail_bytes(path: &Path) -> u64 {
    let Ok(f) = std::fs::File::open(path) else { return 0 };
    if path.extension().is_some_and(|e| e == "gz") {
        let mut d = flate2::read::GzDecoder::new(BufReader::new(f));
        std::io::copy(&mut d, &mut std::io::sink()).unwrap_or(0)
    } else {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }
}

/// "imported 7992 messages (...)" -> 7992 (+ already stored ones are not counted).
fn imported_count(summary: &str) -> Option<u64> {
    summary
        .lines()
        .find_map(|l| l.strip_prefix("imported "))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

struct Pg {
    url: String,
    dir: String,
    script: PathBuf,
}

impl Pg {
    fn start(repo: &Path) -> Result<Pg, String> {
        let script = repo.join("scripts/throwaway-postgres");
        let out = Command::new(&script)
            .arg("start")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "throwaway-postgres: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")))
                .map(|v| v.trim_matches('\'').to_string())
        };
        match (get("QUIRE_TEST_PG"), get("QUIRE_TEST_PG_DIR")) {
            (Some(url), Some(dir)) => Ok(Pg { url, dir, script }),
            _ => Err(format!("throwaway-postgres printed no URL: {text}")),
        }
    }

    /// A fresh database's URL.
    fn database(&self, name: &str) -> Result<String, String> {
        let out = Command::new("psql")
            .arg(&self.url)
            .args(["-qc", &format!("CREATE DATABASE {name}")])
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if !out.status.success() {
            return Err(format!("psql: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        Ok(self.url.replacen("/postgres?", &format!("/{name}?"), 1))
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        let _ = Command::new(&self.script).args(["stop", &self.dir]).status();
    }
}

fn quire_cmd(o: &Options, data: &Path, url: Option<&str>) -> Command {
    let mut c = Command::new(&o.quire);
    c.arg("--data-dir").arg(data).env_remove("QUIRE_DATA_DIR").env_remove("QUIRE_DATABASE_URL");
    if let Some(url) = url {
        c.arg("--database-url").arg(url);
    }
    c
}

/// Runs of an import short enough that this machine's drift (it varies by 10% from one minute
/// to the next) would decide its figure: the median of these is reported, with the range.
const SHORT_IMPORT_RUNS: usize = 5;

/// An import into a new store at `data` (removed first), `runs` times on SQLite (once on
/// PostgreSQL): the median wall time and the highest peak RSS.
#[allow(clippy::too_many_arguments)]
fn import_row(
    o: &Options,
    r: &mut Report,
    label: &str,
    files: &[PathBuf],
    data: &Path,
    url: Option<&str>,
    backend: &str,
    runs: usize,
) -> Result<(), String> {
    let bytes: u64 = files.iter().map(|f| mail_bytes(f)).sum();
    let runs = if url.is_some() { 1 } else { runs.max(1) };
    let mut walls = Vec::with_capacity(runs);
    let (mut n, mut peak) = (0u64, 0u64);
    for _ in 0..runs {
        if url.is_none() {
            let _ = std::fs::remove_dir_all(data);
        }
        let mut cmd = quire_cmd(o, data, url);
        cmd.args(["import", "--project", "bench"]).args(files);
        let u = measure(&mut cmd)?;
        if !u.ok {
            return Err(format!("import of {label} failed: {}", u.stderr.trim()));
        }
        n = u.stdout.lines().filter_map(imported_count).sum::<u64>();
        peak = peak.max(u.max_rss_kib);
        walls.push(u.wall.as_secs_f64());
    }
    walls.sort_by(f64::total_cmp);
    let secs = walls[walls.len() / 2];
    let time = if runs > 1 {
        format!("{secs:.2} s (median of {runs}: {:.2}-{:.2} s)", walls[0], walls[walls.len() - 1])
    } else {
        format!("{secs:.1} s")
    };
    let files_s: Vec<String> = files.iter().map(|f| shorten(f)).collect();
    r.row(
        format!("import {label}, {backend}"),
        format!(
            "{n} msgs in {time}: **{:.0} msgs/s**, {:.1} MB/s, peak RSS {}",
            n as f64 / secs,
            bytes as f64 / 1e6 / secs,
            mib(peak)
        ),
        format!(
            "quire {}import --project bench {}",
            if url.is_some() { "--database-url $PG " } else { "" },
            files_s.join(" ")
        ),
    );
    Ok(())
}

fn shorten(p: &Path) -> String {
    let s = p.display().to_string();
    match s.find("shared/corpus/") {
        Some(i) => format!("../{}", &s[i..]),
        None => s.rsplit('/').next().unwrap_or(&s).to_string(),
    }
}

pub fn run(o: &Options) -> Result<(), String> {
    if !o.quire.exists() {
        return Err(format!(
            "{} does not exist: build it with `cargo build --release -p quire`",
            o.quire.display()
        ));
    }
    std::fs::create_dir_all(&o.work)
        .map_err(|e| format!("cannot create {}: {e}", o.work.display()))?;
    let mut r = Report { rows: Vec::new(), notes: Vec::new() };
    println!("| benchmark | figures | reproduce |\n|---|---|---|");
    let corpus = o.repo.join("../shared/corpus");
    let slices: Vec<PathBuf> = ["io-uring-2019-2021.8k.mbox.gz", "ltp-2019-2020.4k.mbox.gz"]
        .iter()
        .map(|f| corpus.join(f))
        .filter(|p| p.exists())
        .collect();
    if slices.len() < 2 {
        r.note(format!("the real slices are not in {}: their rows are left out", corpus.display()));
    }
    if o.only_load {
        if slices.len() < 2 {
            return Err(format!("the load row needs both real slices in {}", corpus.display()));
        }
        during_import_rows(o, &mut r, &slices)?;
        if let Some(out) = &o.out {
            write_markdown(o, &r, out)?;
        }
        return Ok(());
    }

    // Generated archives.
    let mut generated = Vec::new();
    for &n in &o.sizes {
        let path = o.work.join(format!("gen-{n}.mbox.gz"));
        let started = Instant::now();
        let f = std::fs::File::create(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        // Gzipped (fast level): a million messages are ~6 GB of mail, ~1 GB compressed.
        let mut w = flate2::write::GzEncoder::new(
            std::io::BufWriter::with_capacity(1 << 20, f),
            flate2::Compression::fast(),
        );
        crate::generate(n, 1, &mut w)
            .and_then(|_| w.finish())
            .and_then(|mut b| b.flush())
            .map_err(|e| format!("writing {}: {e}", path.display()))?;
        let secs = started.elapsed().as_secs_f64();
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        r.row(
            format!("generate {n} msgs"),
            format!(
                "{secs:.1} s ({:.0} msgs/s, {:.0} MB gzipped)",
                n as f64 / secs,
                size as f64 / 1e6
            ),
            format!("quire-bench gen --messages {n} --seed 1 -o gen-{n}.mbox.gz"),
        );
        generated.push((n, path));
    }

    let pg = if o.postgres {
        match Pg::start(&o.repo) {
            Ok(pg) => Some(pg),
            Err(e) => {
                r.note(format!("PostgreSQL rows left out: {e}"));
                None
            }
        }
    } else {
        None
    };

    // Imports: each slice alone, both together (the store the web rows use), the generated ones.
    let real_store = o.work.join("store-real");
    let _ = std::fs::remove_dir_all(&real_store);
    for s in &slices {
        let d = o.work.join(format!("store-{}", shorten(s).replace('/', "_")));
        let _ = std::fs::remove_dir_all(&d);
        import_row(
            o,
            &mut r,
            &shorten(s).replace("../shared/corpus/", ""),
            std::slice::from_ref(s),
            &d,
            None,
            "SQLite",
            SHORT_IMPORT_RUNS,
        )?;
        if let Some(pg) = &pg {
            let url = pg.database(&format!("b_{}", r.rows.len()))?;
            import_row(
                o,
                &mut r,
                &shorten(s).replace("../shared/corpus/", ""),
                std::slice::from_ref(s),
                &d.join("pg"),
                Some(&url),
                "PostgreSQL",
                1,
            )?;
        }
    }
    if !slices.is_empty() {
        import_row(
            o,
            &mut r,
            "both slices",
            &slices,
            &real_store,
            None,
            "SQLite",
            SHORT_IMPORT_RUNS,
        )?;
    }
    let mut big_store = None;
    for (n, path) in &generated {
        let d = o.work.join(format!("store-gen-{n}"));
        let _ = std::fs::remove_dir_all(&d);
        // 100k takes seconds, 1M minutes: the drift weighs on the first only.
        let runs = if *n <= 100_000 { SHORT_IMPORT_RUNS } else { 1 };
        import_row(
            o,
            &mut r,
            &format!("{n} generated"),
            std::slice::from_ref(path),
            &d,
            None,
            "SQLite",
            runs,
        )?;
        if let Some(pg) = &pg {
            let url = pg.database(&format!("g_{n}"))?;
            import_row(
                o,
                &mut r,
                &format!("{n} generated"),
                std::slice::from_ref(path),
                &d.join("pg"),
                Some(&url),
                "PostgreSQL",
                1,
            )?;
        }
        big_store = Some((*n, d));
    }

    // Reindex: everything derived rebuilt from the raw mail.
    for (label, store) in [
        ("both slices", Some(real_store.clone())),
        ("largest generated", big_store.as_ref().map(|(_, d)| d.clone())),
    ] {
        let Some(store) = store.filter(|s| s.exists()) else { continue };
        let u = measure(quire_cmd(o, &store, None).args(["-q", "reindex"]))?;
        if !u.ok {
            return Err(format!("reindex failed: {}", u.stderr.trim()));
        }
        r.row(
            format!("reindex {label}, SQLite"),
            format!("{:.1} s, peak RSS {}", u.wall.as_secs_f64(), mib(u.max_rss_kib)),
            "quire reindex",
        );
    }

    // The web under load.
    for (label, store) in [
        ("both slices", Some(real_store.clone())),
        ("largest generated", big_store.as_ref().map(|(_, d)| d.clone())),
    ] {
        let Some(store) = store.filter(|s| s.exists()) else { continue };
        web_rows(o, &mut r, label, &store)?;
    }

    // The web while an import runs: issue 9's load point.
    if slices.len() == 2 {
        during_import_rows(o, &mut r, &slices)?;
    }

    if o.apply {
        apply_rows(o, &mut r);
    }
    if o.peers {
        peer_rows(o, &mut r, &slices);
    }
    drop(pg);

    if let Some(out) = &o.out {
        write_markdown(o, &r, out)?;
        eprintln!("quire-bench: wrote {}", out.display());
    }
    Ok(())
}

/// Series ids of the store (page 1..3 of `quire series list --json`).
/// The patch-id of the first patch in the mbox at `url` (a series' `git am` mbox).
fn patch_id_of(url: &str) -> Option<String> {
    let mut mbox = Vec::new();
    ureq::get(url).call().ok()?.into_reader().read_to_end(&mut mbox).ok()?;
    let text = String::from_utf8_lossy(&mbox);
    text.split("\nFrom ").find_map(|m| {
        let raw = m.split_once('\n').map_or("", |(_, rest)| rest);
        quire_mail::parse(raw.as_bytes()).diff.map(|d| d.patch_id).filter(|p| !p.is_empty())
    })
}

fn series_ids(o: &Options, store: &Path) -> Result<Vec<String>, String> {
    let mut ids = Vec::new();
    for page in 1..=3 {
        let out = quire_cmd(o, store, None)
            .args(["series", "list", "--json", "--limit", "200", "--page", &page.to_string()])
            .output()
            .map_err(|e| e.to_string())?;
        let v: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|e| format!("series list --json: {e}"))?;
        let items = v
            .get("series")
            .or(v.get("items"))
            .and_then(|x| x.as_array())
            .cloned()
            .unwrap_or_default();
        ids.extend(
            items
                .iter()
                .filter_map(|s| s.get("message_id").and_then(|m| m.as_str()).map(str::to_string)),
        );
    }
    if ids.is_empty() {
        return Err("the store has no series to fetch".into());
    }
    Ok(ids)
}

struct Server {
    child: std::process::Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(o: &Options, store: &Path) -> Result<Server, String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    let child = quire_cmd(o, store, None)
        .args(["-q", "serve", "--no-worker", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start quire serve: {e}"))?;
    let server = Server { child, base: format!("http://127.0.0.1:{port}") };
    let deadline = Instant::now() + Duration::from_secs(30);
    while ureq::get(&format!("{}/readyz", server.base)).call().is_err() {
        if Instant::now() > deadline {
            return Err("quire serve did not become ready in 30 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(server)
}

fn enc(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}

struct Load {
    latencies: Vec<Duration>,
    failures: u64,
    elapsed: Duration,
}

/// `clients` threads fetching `urls` round-robin for `seconds`.
fn load(urls: &[String], clients: usize, seconds: u64, cookie: Option<&'static str>) -> Load {
    load_while(urls, clients, cookie, || std::thread::sleep(Duration::from_secs(seconds)))
}

/// A session cookie that names no session: the server treats the request as a logged-in
/// user's (pages rendered for it, never served from the kept pages) and then as anonymous.
const NO_SESSION: &str = "quire_session=quire-bench-renders-every-page";

/// `clients` threads fetching `urls` round-robin until `wait` returns, each request with
/// `cookie` when given.
fn load_while(
    urls: &[String],
    clients: usize,
    cookie: Option<&'static str>,
    wait: impl FnOnce(),
) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let urls = Arc::new(urls.to_vec());
    let started = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let (stop, urls) = (stop.clone(), urls.clone());
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
                let mut lat = Vec::new();
                let mut failures = 0u64;
                let mut i = c * 7919;
                while !stop.load(Ordering::Relaxed) {
                    let url = &urls[i % urls.len()];
                    i += 1;
                    let t = Instant::now();
                    let mut req = agent.get(url);
                    if let Some(cookie) = cookie {
                        req = req.set("cookie", cookie);
                    }
                    match req.call() {
                        Ok(resp) => {
                            let mut sink = Vec::new();
                            if resp.into_reader().read_to_end(&mut sink).is_err() {
                                failures += 1;
                            }
                        }
                        // A search that finds nothing answers 404 (public-inbox's way): an
                        // answer, not a failure.
                        Err(ureq::Error::Status(404, _)) => {}
                        Err(_) => failures += 1,
                    }
                    lat.push(t.elapsed());
                }
                (lat, failures)
            })
        })
        .collect();
    wait();
    stop.store(true, Ordering::Relaxed);
    let mut out = Load { latencies: Vec::new(), failures: 0, elapsed: Duration::ZERO };
    for t in threads {
        if let Ok((lat, f)) = t.join() {
            out.latencies.extend(lat);
            out.failures += f;
        }
    }
    out.elapsed = started.elapsed();
    out.latencies.sort();
    out
}

/// `quire-bench load`: the web rows' load against URLs of a file.
pub fn load_cmd(file: &Path, clients: usize, seconds: u64, rendered: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let urls: Vec<String> =
        text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect();
    if urls.is_empty() {
        return Err(format!("{} has no URLs: write one per line", file.display()));
    }
    let l = load(&urls, clients.max(1), seconds, rendered.then_some(NO_SESSION));
    let n = l.latencies.len() as f64;
    println!(
        "{} requests, {clients} clients, {seconds} s: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {:.0} req/s, {} failed",
        l.latencies.len(),
        pct(&l.latencies, 0.5),
        pct(&l.latencies, 0.99),
        pct(&l.latencies, 1.0),
        n / l.elapsed.as_secs_f64(),
        l.failures
    );
    if l.failures > 0 { Err(format!("{} requests failed", l.failures)) } else { Ok(()) }
}

fn pct(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_secs_f64() * 1000.0
}

fn web_rows(o: &Options, r: &mut Report, label: &str, store: &Path) -> Result<(), String> {
    let ids = series_ids(o, store)?;
    let server = serve(o, store)?;
    let b = &server.base;
    let queries = [
        "io_uring",
        "from:axboe",
        "is:reviewed",
        "subject:fix",
        "version:2",
        "has:replies",
        "\"fix a race\"",
        "-rfc fix",
    ];
    let lists: Vec<String> = (1..=5).map(|p| format!("{b}/bench/?page={p}")).collect();
    let mboxes: Vec<String> =
        ids.iter().take(300).map(|id| format!("{b}/bench/{}/mbox", enc(id))).collect();
    let pages: Vec<String> =
        ids.iter().take(300).map(|id| format!("{b}/bench/{}/", enc(id))).collect();
    let searches: Vec<String> =
        queries.iter().map(|q| format!("{b}/bench/?q={}", enc(q))).collect();
    // What b4 and lei ask (issue 26): a word found nowhere, body, subject and From words, a
    // patch-id (of a stored patch when the store has one).
    let patch_id =
        ids.iter().take(20).find_map(|id| patch_id_of(&format!("{b}/bench/{}/mbox", enc(id))));
    let patch_id = patch_id.unwrap_or_else(|| "0".repeat(40));
    let inbox_queries = [
        "zzzxqy".to_string(),
        "b:io_uring_submit".to_string(),
        "s:sqpoll".to_string(),
        "f:axboe".to_string(),
        format!("patchid:{patch_id}"),
    ];
    let inbox_searches: Vec<String> =
        inbox_queries.iter().map(|q| format!("{b}/bench/?x=m&q={}", enc(q))).collect();
    // What Patchwork's clients and bots poll: the events, newest first (issue 25: 1.3-1.5 s on
    // a 95k-message archive).
    let events: Vec<String> =
        (1..=5).map(|p| format!("{b}/api/1.3/events/?project=bench&page={p}")).collect();
    // Anonymous visitors get pages kept rendered while nothing on them changed; the rows
    // "rendered each time" send a session cookie (as a logged-in maintainer does), so every
    // request reads the store and renders: what a first visit or a changed page costs.
    let endpoints: Vec<(&str, &Vec<String>, Option<&'static str>)> = vec![
        ("series page", &pages, None),
        ("series page rendered each time", &pages, Some(NO_SESSION)),
        ("series list", &lists, None),
        ("series list rendered each time", &lists, Some(NO_SESSION)),
        ("search", &searches, None),
        ("search rendered each time", &searches, Some(NO_SESSION)),
        ("mbox", &mboxes, None),
        ("public-inbox search (x=m)", &inbox_searches, None),
        ("Patchwork API events/", &events, None),
    ];
    for (name, urls, cookie) in endpoints {
        for &c in &o.clients {
            let l = load(urls, c, o.seconds, cookie);
            let n = l.latencies.len() as f64;
            r.row(
                format!("web {name}, {label}, {c} client{}", if c == 1 { "" } else { "s" }),
                format!(
                    "p50 {:.1} ms, **p99 {:.1} ms**, {:.0} req/s, {} failed",
                    pct(&l.latencies, 0.5),
                    pct(&l.latencies, 0.99),
                    n / l.elapsed.as_secs_f64(),
                    l.failures
                ),
                format!("quire-bench run (web: {c} clients x {} s)", o.seconds),
            );
        }
    }
    Ok(())
}

/// Series pages at the largest client count while `quire import` of both real slices writes into
/// the store being served. The store holds a generated archive before (the pages read), so the
/// import stores all 12,000 real messages, none of them already there. Twice: on a server just
/// started (every page rendered for the first time under the import), and on a server that has
/// served each page once before (what a running site is).
fn during_import_rows(o: &Options, r: &mut Report, slices: &[PathBuf]) -> Result<(), String> {
    let before = o.work.join("gen-load-5000.mbox.gz");
    {
        let f = std::fs::File::create(&before)
            .map_err(|e| format!("cannot create {}: {e}", before.display()))?;
        let mut w =
            flate2::write::GzEncoder::new(std::io::BufWriter::new(f), flate2::Compression::fast());
        crate::generate(5000, 2, &mut w)
            .and_then(|_| w.finish())
            .and_then(|mut b| b.flush())
            .map_err(|e| format!("writing {}: {e}", before.display()))?;
    }
    let clients = o.clients.iter().copied().max().unwrap_or(100);
    for (warm, nice) in [(false, false), (true, false), (false, true), (true, true)] {
        let store = o.work.join(format!(
            "store-load-{}{}",
            if warm { "warm" } else { "cold" },
            if nice { "-nice" } else { "" }
        ));
        let _ = std::fs::remove_dir_all(&store);
        let u = measure(
            quire_cmd(o, &store, None).args(["-q", "import", "--project", "bench"]).arg(&before),
        )?;
        if !u.ok {
            return Err(format!(
                "import of the archive served during the load failed: {}",
                u.stderr.trim()
            ));
        }
        let ids = series_ids(o, &store)?;
        let server = serve(o, &store)?;
        let urls: Vec<String> =
            ids.iter().take(300).map(|id| format!("{}/bench/{}/", server.base, enc(id))).collect();
        if warm {
            let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
            for u in &urls {
                let _ = agent.get(u).call().map(|r| r.into_string());
            }
        }
        let figures = during_import(o, &store, slices, &urls, clients, nice)?;
        r.row(
            format!(
                "web series page during an import of both slices{}, {clients} clients, {}",
                if nice { " run with `nice -n 19` (as contrib/quire-watch.service)" } else { "" },
                if warm { "pages served once before" } else { "server just started" }
            ),
            figures,
            format!("quire-bench run --only-load (quire serve + {clients} clients on {} series pages while {}`quire import` of both slices runs)", urls.len(), if nice { "`nice -n 19` " } else { "" }),
        );
    }
    Ok(())
}

fn during_import(
    o: &Options,
    store: &Path,
    slices: &[PathBuf],
    urls: &[String],
    clients: usize,
    nice: bool,
) -> Result<String, String> {
    let mut import = if nice {
        let mut c = Command::new("nice");
        c.args(["-n", "19"])
            .arg(&o.quire)
            .arg("--data-dir")
            .arg(store)
            .env_remove("QUIRE_DATA_DIR")
            .env_remove("QUIRE_DATABASE_URL");
        c
    } else {
        quire_cmd(o, store, None)
    };
    import.args(["import", "--project", "lists"]).args(slices);
    let mut result = None;
    let l = load_while(urls, clients, None, || result = Some(measure(&mut import)));
    let u = result.ok_or("the import did not run")??;
    if !u.ok {
        return Err(format!("the import under load failed: {}", u.stderr.trim()));
    }
    let n = u.stdout.lines().filter_map(imported_count).sum::<u64>();
    let n_req = l.latencies.len() as f64;
    Ok(format!(
        "p50 {:.1} ms, **p99 {:.1} ms**, max {:.0} ms, {:.0} req/s, {} failed; the import: {n} msgs in {:.1} s ({:.0} msgs/s)",
        pct(&l.latencies, 0.5),
        pct(&l.latencies, 0.99),
        pct(&l.latencies, 1.0),
        n_req / l.elapsed.as_secs_f64(),
        l.failures,
        u.wall.as_secs_f64(),
        n as f64 / u.wall.as_secs_f64()
    ))
}

fn apply_rows(o: &Options, r: &mut Report) {
    let out = Command::new("cargo")
        .current_dir(&o.repo)
        .args(["bench", "-q", "-p", "quire-worker", "--bench", "apply"])
        .stderr(Stdio::null())
        .output();
    match out {
        Ok(out) if out.status.success() => {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
                // | backend | workers | series | import msgs/s | series/min | p50 ms | p99 ms | peak RSS MiB |
                if cells.len() == 8 && cells[1].parse::<u32>().is_ok() {
                    r.row(
                        format!(
                            "apply ({}, {} worker{})",
                            cells[0],
                            cells[1],
                            if cells[1] == "1" { "" } else { "s" }
                        ),
                        format!(
                            "**{} series/min**, p50 {} ms, p99 {} ms, peak RSS {} MiB",
                            cells[4], cells[5], cells[6], cells[7]
                        ),
                        "cargo bench -p quire-worker --bench apply",
                    );
                }
            }
        }
        Ok(out) => r.note(format!(
            "the apply benchmark failed: {}",
            String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or("")
        )),
        Err(e) => r.note(format!("cannot run cargo bench: {e}")),
    }
}

/// The peers on the same slices: git mailsplit (the floor), public-inbox-index.
fn peer_rows(o: &Options, r: &mut Report, slices: &[PathBuf]) {
    for s in slices {
        let plain =
            o.work.join(shorten(s).replace("../shared/corpus/", "").trim_end_matches(".gz"));
        if let Ok(f) = std::fs::File::open(s) {
            let mut d = flate2::read::GzDecoder::new(BufReader::new(f));
            if let Ok(mut w) = std::fs::File::create(&plain) {
                let _ = std::io::copy(&mut d, &mut w);
            }
        }
        let label = shorten(s).replace("../shared/corpus/", "");
        // git mailsplit: splitting only, no parsing, no storing.
        let dir = o.work.join("mailsplit");
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::create_dir_all(&dir);
        match measure(
            Command::new("git")
                .arg("mailsplit")
                .arg("--mboxrd")
                .arg(format!("-o{}", dir.display()))
                .arg(&plain),
        ) {
            Ok(u) if u.ok => {
                let n: u64 = u.stdout.trim().parse().unwrap_or(0);
                r.row(
                    format!("peer: git mailsplit {label}"),
                    format!(
                        "{n} msgs in {:.2} s: **{:.0} msgs/s** (split only), peak RSS {}",
                        u.wall.as_secs_f64(),
                        n as f64 / u.wall.as_secs_f64(),
                        mib(u.max_rss_kib)
                    ),
                    format!("git mailsplit --mboxrd -oDIR {}", label.trim_end_matches(".gz")),
                );
            }
            Ok(u) => r.note(format!("git mailsplit failed: {}", u.stderr.trim())),
            Err(e) => r.note(e),
        }
        public_inbox_row(o, r, &label, &plain);
    }
    r.note("Patchwork's parsearchive is not in the table: Patchwork is a Django site published neither on PyPI nor as a Debian package, so it cannot be set up from those here.".to_string());
}

/// public-inbox: the messages written into a v1 inbox's git (one commit each, as
/// public-inbox-mda does) by `git fast-import`, then `public-inbox-index` timed: the indexing that
/// makes an inbox searchable and servable, what quire's import does beyond storing.
fn public_inbox_row(o: &Options, r: &mut Report, label: &str, mbox: &Path) {
    if Command::new("public-inbox-index")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        r.note(
            "public-inbox is not installed (apt-get install public-inbox): its rows are left out"
                .to_string(),
        );
        return;
    }
    let inbox = o.work.join(format!("pi-{}", label.replace('.', "_")));
    let _ = std::fs::remove_dir_all(&inbox);
    let Ok(raw) = std::fs::read(mbox) else { return };
    let mails = crate::profile::split_mbox(&raw);
    let git = |args: &[&str]| Command::new("git").arg("--git-dir").arg(&inbox).args(args).output();
    if git(&["init", "-q", "--bare"]).map(|o| !o.status.success()).unwrap_or(true) {
        r.note("git init failed for the public-inbox row".to_string());
        return;
    }
    let mut fi = match Command::new("git")
        .arg("--git-dir")
        .arg(&inbox)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return r.note(format!("git fast-import: {e}")),
    };
    if let Some(mut stdin) = fi.stdin.take() {
        let mut w = std::io::BufWriter::new(&mut stdin);
        for (i, m) in mails.iter().enumerate() {
            // A v1 inbox holds each message as a new blob at `xx/yyy...` (40 hex digits):
            // public-inbox-index indexes only paths of that shape (one path for all messages
            // indexed none of them).
            let _ = write!(
                w,
                "commit refs/heads/master\ncommitter pi <pi@example.org> {} +0000\ndata 1\nm\n",
                1_600_000_000 + i
            );
            let _ = write!(w, "M 100644 inline {:02x}/{:038x}\ndata {}\n", i % 256, i, m.len());
            let _ = w.write_all(m);
            let _ = w.write_all(b"\n");
        }
        let _ = w.flush();
    }
    let _ = fi.wait();
    let cfg = o.work.join("pi-config");
    let _ = std::fs::write(
        &cfg,
        format!(
            "[publicinbox \"bench\"]\n\tinboxdir = {}\n\taddress = bench@example.org\n\turl = http://example.org/bench\n\tindexlevel = full\n",
            inbox.display()
        ),
    );
    let mut cmd = Command::new("public-inbox-index");
    cmd.env("PI_CONFIG", &cfg).env("HOME", &o.work).arg(&inbox);
    match measure(&mut cmd) {
        Ok(u) if u.ok => {
            // What it indexed, from its own message map (DBD::SQLite comes with public-inbox).
            let msgmap = inbox.join("public-inbox/msgmap.sqlite3");
            let count = Command::new("perl")
                .args(["-MDBI", "-e", "print DBI->connect('dbi:SQLite:dbname=' . $ARGV[0])->selectrow_array('SELECT COUNT(*) FROM msgmap')"])
                .arg(&msgmap)
                .output()
                .ok()
                .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse::<usize>().ok());
            let n = match count {
                Some(n) if n > 0 => n,
                _ => return r.note(format!("public-inbox-index of {label} exited 0 but its message map ({}) holds no message: its row is left out", msgmap.display())),
            };
            r.row(
                format!("peer: public-inbox-index {label}"),
                format!(
                    "{n} of {} msgs indexed in {:.1} s: **{:.0} msgs/s** (index level full: Xapian + SQLite, fsync on as by default), peak RSS {}",
                    mails.len(),
                    u.wall.as_secs_f64(),
                    n as f64 / u.wall.as_secs_f64(),
                    mib(u.max_rss_kib)
                ),
                "git fast-import (v1 inbox), then public-inbox-index INBOX",
            );
        }
        Ok(u) => {
            r.note(format!("public-inbox-index failed: {}", u.stderr.lines().last().unwrap_or("")))
        }
        Err(e) => r.note(e),
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map(|k| format!("{:.0} GiB", k as f64 / 1024.0 / 1024.0))
        .unwrap_or_default();
    format!("{cores} cores ({cpu}), {mem} RAM")
}

fn write_markdown(o: &Options, r: &Report, out: &Path) -> Result<(), String> {
    let commit = Command::new("git")
        .current_dir(&o.repo)
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let mut md = String::new();
    let _ = writeln!(md, "# quire benchmarks\n");
    let _ = writeln!(
        md,
        "Written by `quire-bench run` (crates/bench): machine {}, commit `{commit}`, {date}.",
        machine()
    );
    let _ = writeln!(
        md,
        "Release build; SQLite on the local disk; PostgreSQL 15 on a unix socket with fsync off (throwaway cluster); the web rows run `quire serve --no-worker` and N client threads on the same 2 cores. SQLite imports of the real slices and of 100k generated messages: the median of {SHORT_IMPORT_RUNS} runs, each into a new store (this machine drifts by 10% from one minute to the next); the others: one run.\n"
    );
    let _ = writeln!(
        md,
        "Reproduce everything: `cargo build --release -p quire -p quire-bench && target/release/quire-bench run --out BENCHMARKS.md`.\n"
    );
    let _ = writeln!(md, "| benchmark | figures | reproduce |\n|---|---|---|");
    for row in &r.rows {
        let _ = writeln!(md, "| {} | {} | `{}` |", row.what, row.figures, row.command);
    }
    if !r.notes.is_empty() {
        let _ = writeln!(md, "\nNotes:\n");
        for n in &r.notes {
            let _ = writeln!(md, "- {n}");
        }
    }
    std::fs::write(out, md).map_err(|e| format!("cannot write {}: {e}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_from_a_status_file() {
        assert_eq!(
            vm_hwm_kib("Name:\tquire\nVmPeak:\t  9000 kB\nVmHWM:\t  123456 kB\nVmRSS:\t 1 kB\n"),
            Some(123456)
        );
        assert_eq!(vm_hwm_kib("Name:\tzombie\nState:\tZ (zombie)\n"), None);
    }

    /// A big parent must not make a small child look big (wait4's ru_maxrss does on Linux).
    #[test]
    fn a_childs_peak_rss_is_its_own() {
        let mut ballast = vec![0u8; 256 << 20];
        for i in (0..ballast.len()).step_by(4096) {
            ballast[i] = 1;
        }
        let u = measure(Command::new("sleep").arg("0.2")).expect("sleep runs");
        assert!(u.ok);
        assert!(
            u.max_rss_kib > 0 && u.max_rss_kib < 64 * 1024,
            "sleep's peak RSS read as {} KiB",
            u.max_rss_kib
        );
        std::hint::black_box(&ballast);
    }
}
