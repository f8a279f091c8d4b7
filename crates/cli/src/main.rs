//! `quire`: the command-line program. Thin glue over the library crates: argument parsing,
//! the configuration file, progress bars, output formats and exit codes.

mod abi;
mod attest;
mod config;
mod errline;
mod limits;
mod notify;
mod output;
mod search;
mod tester;
mod users;
mod watch;
mod worker;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use quire_store::{SeriesFilter, Store};
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit codes (sysexits.h where a mail server reads them).
mod exit {
    pub const FAILURE: u8 = 1;
    pub const NOT_FOUND: u8 = 3;
    /// What the user typed is wrong (EX_USAGE): a search query that does not parse, goes past
    /// its limits or is too large for the database.
    pub const BAD_QUERY: u8 = 64;
    /// The input itself is bad (EX_DATAERR): retrying will not help.
    pub const DATA_ERROR: u8 = 65;
    /// Try again later (EX_TEMPFAIL): a mail server queues the message and retries.
    pub const TEMP_FAIL: u8 = 75;
}

#[derive(Parser)]
#[command(
    name = "quire",
    version,
    about = "Follow a mailing list's patches: series, revisions, reviews and trailers, apply and checks.",
    after_help = "Exit codes: 0 success, 1 failure, 2 usage error, 3 not found, 64 bad query (series list --query), 65 bad input (import -), 75 temporary failure (import -: retry later; any command: disk full)."
)]
struct Cli {
    /// Where quire keeps its state: quire.toml, and quire.sqlite unless a database URL is given.
    #[arg(long, global = true, env = "QUIRE_DATA_DIR", default_value = "quire-data")]
    data_dir: PathBuf,
    /// A PostgreSQL URL (postgres://user@host/db) to keep the state in instead of SQLite.
    #[arg(long, global = true, env = "QUIRE_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Log format on standard error.
    #[arg(long, global = true, value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Print only errors (no progress, no summary).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Import mail: mbox files (.gz or not), maildirs, public-inbox archives, or `-` for one
    /// message on standard input (as a mail server pipes it). Importing twice changes nothing.
    Import(ImportArgs),
    /// Rebuild everything derived (messages, series, trailers) from the stored raw mail. The
    /// signatures' results stored with each mail are kept, unless `--attest`.
    Reindex(ReindexArgs),
    /// List and show series.
    #[command(subcommand)]
    Series(SeriesCommand),
    /// Write the newest revision of a series as an mbox for `git am`, with the trailers
    /// reviewers gave (Reviewed-by, Acked-by, ...) added to each patch.
    Am(AmArgs),
    /// Configure the projects mail is sorted into.
    #[command(subcommand)]
    Project(ProjectCommand),
    /// Serve the web pages.
    Serve(ServeArgs),
    /// Write a commented starter configuration file into the data dir.
    Init,
    /// Compare the C ABI of public headers between two revisions of a git tree.
    Abi(abi::AbiArgs),
    /// Apply one series to its project's tree now (git am --3way), store the result, push it
    /// as a tag to the project's mirror, and print the log. Exit 0 applied, 1 did not apply.
    Apply(worker::ApplyArgs),
    /// Apply every complete series as it arrives and notice merges upstream (jobs come from the
    /// store: run as many workers as you like; `quire serve` runs one unless --no-worker).
    Worker(worker::WorkerArgs),
    /// Deliver reports for events: mail (SMTP) and signed webhooks, as configured in
    /// [[project.report]] / [[project.webhook]]; each once, across restarts (`quire serve` runs one
    /// unless --no-notify).
    Notify(notify::NotifyArgs),
    /// Run the projects' check scripts on applied series, claimed from a quire server over HTTP
    /// (on this machine or another), each in a sandbox with a time limit (docs/testers.md).
    Tester(tester::TesterArgs),
    /// Write the stored raw mail back out as an mbox (mboxrd), byte for byte as received: a
    /// backup, or a move to another site (`quire import` of it gives the same store).
    Export(ExportArgs),
    /// Bring the database's schema up to date and exit (every command does it at start).
    Migrate,
    /// Follow live mail feeds: IMAP mailboxes (imap://USER@HOST/MAILBOX), public-inboxes
    /// (pi+file:///PATH, pi+https://URL), importing new mail as it arrives.
    Watch(watch::WatchArgs),
    /// API tokens: for testers and external CI (scope `tester`), or admins.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Accounts for the APIs and their roles per project (maintainers may change patch states).
    #[command(subcommand)]
    User(users::UserCommand),
}

#[derive(Args)]
struct ExportArgs {
    /// Only the mail of this project.
    #[arg(long)]
    project: Option<String>,
    /// Write here instead of standard output; gzipped when the name ends in `.gz`.
    #[arg(long, short)]
    output: Option<PathBuf>,
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print its secret (shown once; only a hash is stored).
    Create {
        /// What the token is for, e.g. the tester's host.
        name: String,
        /// `tester` (claim and report check jobs, post checks) or `admin`.
        #[arg(long, default_value = "tester")]
        scope: String,
        /// Make a token that acts as this user (see `quire user add`); --scope is then ignored.
        #[arg(long)]
        user: Option<String>,
    },
    /// List live tokens (without secrets).
    List,
    /// Revoke a token by id.
    Revoke { id: i64 },
}

#[derive(Args)]
struct ImportArgs {
    /// Archives to import: mbox files, maildirs, public-inbox directories, or `-` for stdin.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<String>,
    /// Project for mail whose List-Id and To/Cc match no configured project.
    #[arg(long)]
    project: Option<String>,
    /// Messages per database transaction at most.
    #[arg(long, default_value_t = 2500, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    batch_size: u64,
    /// Bytes of mail per database transaction at most (or with K/M/G): small messages go in
    /// larger batches, large ones in smaller, so that memory stays bounded.
    #[arg(long, value_name = "SIZE", default_value = "8M", value_parser = limits::parse_size)]
    batch_bytes: usize,
    /// Largest message stored (bytes, or with K/M/G). Larger ones are refused, each with a line;
    /// ones beyond 64 MiB are stored whole but parsed only up to 64 MiB, and flagged.
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = limits::parse_size)]
    max_message_size: usize,
    /// Verify DKIM signatures, asking DNS for each signer's key (off by default: an old
    /// archive's keys are mostly gone, and it is a query per signed message). patatt
    /// signatures are always verified (no DNS).
    #[arg(long)]
    dkim: bool,
}

#[derive(Args)]
struct ReindexArgs {
    /// Verify every stored mail's patatt signatures again (keys as they are now) and store the
    /// results; DKIM too with --dkim.
    #[arg(long)]
    attest: bool,
    /// With --attest: verify DKIM signatures as well, asking DNS for each signer's key (keys of
    /// old mail are often gone: those say "not verified").
    #[arg(long, requires = "attest")]
    dkim: bool,
}

#[derive(Subcommand)]
enum SeriesCommand {
    /// List series, newest first.
    List(ListArgs),
    /// Show one series (by the Message-ID of any of its messages).
    Show(ShowArgs),
}

#[derive(Args)]
struct ListArgs {
    /// The project (default: every project).
    #[arg(long)]
    project: Option<String>,
    /// A search query (docs/search.md): words, "phrases", from: file: is:reviewed age:<2w ...
    /// (`-q` is the global --quiet.)
    // A query may start with a negation (`-is:obsolete`): a value, not an option.
    #[arg(long, allow_hyphen_values = true)]
    query: Option<String>,
    /// Also list series superseded by a newer revision.
    #[arg(long)]
    all: bool,
    /// Page number (1 is the newest).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    page: u32,
    /// Series per page.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    limit: u32,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct ShowArgs {
    /// Message-ID of any message of the series, with or without <>.
    msgid: String,
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct AmArgs {
    /// Message-ID of any message of any revision of the series, with or without <>.
    msgid: String,
    /// Write the mbox here instead of standard output.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Also add trailers whose address does not match their sender's.
    #[arg(long)]
    sloppy_trailers: bool,
    /// Write the revision MSGID belongs to, not the newest one.
    #[arg(long)]
    this_revision: bool,
}

#[derive(Subcommand)]
enum ProjectCommand {
    /// Add a project or change one (stored in the database; quire.toml entries win at start).
    Add(ProjectAddArgs),
    /// List projects with their counts.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct ProjectAddArgs {
    /// Short name, used in URLs.
    name: String,
    /// List-Id of the project's list (repeatable).
    #[arg(long = "list-id")]
    list_ids: Vec<String>,
    /// Posting address of the list, matched in To/Cc (repeatable).
    #[arg(long = "list-address")]
    list_addresses: Vec<String>,
    /// Only the list's mail whose subject carries this tag, e.g. `libvirt-python` for
    /// `[libvirt-python PATCH]` on a list shared with other projects (repeatable).
    #[arg(long = "subject-prefix")]
    subject_prefixes: Vec<String>,
    /// URL of the project's git tree.
    #[arg(long)]
    git: Option<String>,
    /// Branch series apply to.
    #[arg(long, requires = "git")]
    branch: Option<String>,
    /// Where applied series are pushed as tags.
    #[arg(long)]
    mirror: Option<String>,
    /// Tag prefix on the mirror: tags are <prefix>/<message-id>.
    #[arg(long)]
    tag_prefix: Option<String>,
}

#[derive(Args)]
struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The public base URL of the site, for absolute links (Atom feeds).
    #[arg(long)]
    base_url: Option<String>,
    /// Do not run the git worker in this process (run `quire worker` processes instead).
    #[arg(long)]
    no_worker: bool,
    /// Do not deliver reports in this process (run `quire notify` instead).
    #[arg(long)]
    no_notify: bool,
    /// Seconds a tester holds a claimed check job without a heartbeat before another may take it.
    #[arg(long, default_value_t = 120, value_parser = clap::value_parser!(i64).range(1..=86400))]
    tester_lease: i64,
    /// Expired leases (the tester died, or the server refused its report) after which a check
    /// job ends as an `error` check on its series instead of being claimed again.
    #[arg(long, default_value_t = quire_store::MAX_LOST_LEASES, value_parser = clap::value_parser!(u32).range(1..=100))]
    tester_lost_leases: u32,
    /// Series pages rendered at start, the newest of each project, before /readyz says ready
    /// (at most 20 s; 0: none).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(0..=100000))]
    warm_pages: u32,
    /// Requests served at once (default: 8 per core); the others wait for a turn.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100000))]
    max_in_flight: Option<u64>,
    /// Seconds a request waits for its turn before it is answered 503 with Retry-After
    /// (shedding load when the machine is saturated; fractions allowed).
    #[arg(long, default_value_t = 2.0)]
    max_queue_wait: f64,
}

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (the same index in its v2 and v3 headers).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// mimalloc v3's `mi_option_allow_thp` (the v3 header, which the `mimalloc` crate builds).
const MI_OPTION_ALLOW_THP: libmimalloc_sys::mi_option_t = 43;

/// How freed memory goes back to the system. An import frees each batch's mail, parses and
/// rows as the next one comes, so the same memory is taken and freed over and over. Purged at
/// once (as quire did) and in transparent huge pages (mimalloc asks for them, and Debian gives
/// them on request), each batch faulted its memory back in 2 MiB pages zeroed by the kernel:
/// page faults were 11% of the storing thread's time. Without huge pages and purged after
/// 100 ms, an import of both real slices took 1.22 s instead of 1.33 s (medians of 9, run in
/// turn) with a lower peak (203 -> 189 MiB; 1M generated messages 205 -> 186 MiB). `MIMALLOC_PURGE_DELAY` and
/// `MIMALLOC_ALLOW_THP` in the environment still decide when set.
fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: called first thing in main, before any other thread exists (not thread safe).
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 100) };
    }
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: as above. mimalloc reads the option when it maps memory from now on; the
        // memory it mapped before main was already marked for huge pages, which the prctl
        // turns off for the whole process (what mimalloc does itself when the variable is 0).
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_ALLOW_THP, 0) };
        #[cfg(target_os = "linux")]
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and touches no memory of ours.
        unsafe {
            libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0)
        };
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    if prints_for_a_reader(&cli.command) {
        // SAFETY: signal(2) before any thread is started, restoring the default action.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    init_logging(cli.log_format, cli.quiet);
    let is_stdin_import =
        matches!(&cli.command, Command::Import(a) if a.paths.iter().any(|p| p == "-"));
    let result = match cli.command {
        Command::Abi(args) => abi::run(args),
        Command::Tester(args) => tester::run(args),
        Command::Init => init(&cli.data_dir).map(|()| ExitCode::SUCCESS),
        command => run_async(command, &cli.data_dir, cli.database_url.as_deref(), cli.quiet),
    };
    match result {
        Ok(code) => code,
        Err(e) if errline::broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quire: {}", errline::one_line(&e));
            if errline::disk_full(&e) {
                // Retry later (EX_TEMPFAIL), for a mail server and for scripts alike.
                return ExitCode::from(exit::TEMP_FAIL);
            }
            if let Some(import) = e.downcast_ref::<quire_import::Error>()
                && is_stdin_import
            {
                return ExitCode::from(if import.is_temporary() {
                    exit::TEMP_FAIL
                } else {
                    exit::DATA_ERROR
                });
            }
            if is_stdin_import {
                // A mail server must never bounce list mail because quire had a bad moment.
                return ExitCode::from(exit::TEMP_FAIL);
            }
            ExitCode::from(exit::FAILURE)
        }
    }
}

/// Commands whose output goes to a reader (`| head`, a pager): when the reader goes away they end
/// quietly, as `cat` and `git log` do (the default action of SIGPIPE), instead of with the error
/// that Rust's ignored SIGPIPE gives every write. Servers, workers and importers keep ignoring it:
/// a client closing its socket must not end them.
fn prints_for_a_reader(command: &Command) -> bool {
    matches!(
        command,
        Command::Series(_)
            | Command::Am(_)
            | Command::Project(_)
            | Command::Abi(_)
            | Command::Apply(_)
            | Command::Export(_)
            | Command::Token(_)
            | Command::User(_)
    )
}

fn init_logging(format: LogFormat, quiet: bool) {
    let default = if quiet { "error" } else { "warn,quire=info" };
    let filter = tracing_subscriber::EnvFilter::try_from_env("QUIRE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn run_async(
    command: Command,
    data_dir: &Path,
    database_url: Option<&str>,
    quiet: bool,
) -> Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async move {
        let store = open_store(data_dir, database_url).await?;
        let code = match command {
            Command::Import(args) => import(&store, data_dir, args, quiet).await,
            Command::Reindex(args) => reindex(&store, data_dir, args, quiet).await,
            Command::Series(SeriesCommand::List(args)) => series_list(&store, args).await,
            Command::Series(SeriesCommand::Show(args)) => series_show(&store, args).await,
            Command::Am(args) => am(&store, args, quiet).await,
            Command::Project(ProjectCommand::Add(args)) => project_add(&store, args).await,
            Command::Project(ProjectCommand::List { json }) => project_list(&store, json).await,
            Command::Serve(args) => serve(store.clone(), data_dir, args).await,
            Command::Apply(args) => worker::apply_cmd(&store, data_dir, args).await,
            Command::Worker(args) => worker::worker_cmd(&store, data_dir, args).await,
            Command::Notify(args) => notify::notify_cmd(&store, data_dir, args).await,
            Command::Token(TokenCommand::Create { name, user: Some(user), .. }) => {
                users::create_user_token(&store, &name, &user).await
            }
            Command::Token(cmd) => token(&store, cmd).await,
            Command::User(cmd) => users::user_cmd(&store, cmd).await,
            Command::Export(args) => export(&store, args, quiet).await,
            Command::Watch(args) => watch::watch_cmd(&store, data_dir, args, quiet).await,
            Command::Migrate => {
                eprintln!("quire: the schema of {} is up to date", store.target());
                Ok(ExitCode::SUCCESS)
            }
            Command::Init | Command::Abi(_) | Command::Tester(_) => {
                unreachable!("handled before the store is opened")
            }
        };
        store.close().await;
        code
    })
}

/// Opens the store and writes the configuration file's projects into it.
async fn open_store(data_dir: &Path, database_url: Option<&str>) -> Result<Store> {
    let config = config::load(data_dir)?;
    let store = Store::open(data_dir, database_url).await?;
    for p in &config.projects {
        store.upsert_project(&store_project(p)).await?;
        // Changed settings work every applied series' approvals out again, once.
        let approvals = p.approvals.clone().unwrap_or_default();
        let redone = store.set_project_approvals(&p.name, &approvals).await?;
        if redone > 0 {
            tracing::info!(project = %p.name, series = redone, "approval rule changed: approvals worked out again");
        }
    }
    Ok(store)
}

fn store_project(p: &config::ProjectConfig) -> quire_store::ProjectConfig {
    quire_store::ProjectConfig {
        name: p.name.clone(),
        list_ids: p.list_id.clone(),
        list_addresses: p.list_address.clone(),
        subject_prefixes: p.subject_prefix.clone(),
        git_url: p.git.clone(),
        branch: p.branch.clone(),
        mirror_url: p.mirror.clone(),
        tag_prefix: p.tag_prefix.clone(),
    }
}

fn init(data_dir: &Path) -> Result<()> {
    let path = config::path(data_dir);
    if path.exists() {
        bail!("{} exists already; edit it, or remove it to start again", path.display());
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    std::fs::write(&path, config::STARTER)
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

async fn import(store: &Store, data_dir: &Path, args: ImportArgs, quiet: bool) -> Result<ExitCode> {
    let inputs: Vec<quire_import::Input> =
        args.paths.iter().map(|p| quire_import::Input::from_arg(p)).collect();
    let opts = quire_import::ImportOptions {
        project: args.project,
        batch_size: args.batch_size as usize,
        batch_bytes: args.batch_bytes,
        max_message_bytes: args.max_message_size,
        attest: Some(
            attest::verifier(store, data_dir, &config::load(data_dir)?.attestation, args.dkim)
                .await?,
        ),
    };
    let bar = output::progress_bar(quiet);
    let progress = |p: &quire_import::Progress| output::show_progress(&bar, p);
    let summary = quire_import::import(store, &inputs, &opts, &progress).await;
    bar.finish_and_clear();
    let summary = summary?;
    if !quiet {
        println!("{summary}");
        for id in summary.conflicting_duplicates.iter().take(20) {
            eprintln!(
                "kept a second copy of <{id}>: same Message-ID as a stored message, different bytes"
            );
        }
        if summary.conflicting_duplicates.len() > 20 {
            eprintln!(
                "... and {} more second copies kept",
                summary.conflicting_duplicates.len() - 20
            );
        }
        for p in summary.problems.iter().take(20) {
            eprintln!("flagged <{}>: {}", p.message_id, p.reasons.join("; "));
        }
        if summary.problems.len() > 20 {
            eprintln!("... and {} more flagged messages", summary.problems.len() - 20);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn reindex(
    store: &Store,
    data_dir: &Path,
    args: ReindexArgs,
    quiet: bool,
) -> Result<ExitCode> {
    let bar = output::progress_bar(quiet);
    let started = std::time::Instant::now();
    let result = store
        .reindex(|done, total| {
            bar.set_length(total);
            bar.set_position(done);
        })
        .await;
    bar.finish_and_clear();
    result?;
    if !quiet {
        let stats = store.stats().await?;
        println!(
            "reindexed {} messages ({} patches, {} cover letters, {} series, {} unparsable) in {:.1} s",
            stats.messages,
            stats.patches,
            stats.cover_letters,
            stats.series,
            stats.unparsable,
            started.elapsed().as_secs_f64()
        );
    }
    if args.attest {
        let section = config::load(data_dir)?.attestation;
        let verifier = attest::verifier(store, data_dir, &section, args.dkim).await?;
        let n = attest::attest_all(store, &verifier, quiet).await?;
        if !quiet {
            println!("verified the signatures of {n} messages again");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A Message-ID as users paste it: with or without <>, maybe with `mid:` or a URL around it.
fn clean_msgid(arg: &str) -> String {
    let s = arg.trim();
    let s = s.strip_prefix("mid:").unwrap_or(s);
    let s = s.strip_prefix('<').unwrap_or(s);
    let s = s.strip_suffix('>').unwrap_or(s);
    s.to_string()
}

async fn series_list(store: &Store, args: ListArgs) -> Result<ExitCode> {
    if let Some(q) = args.query.as_deref() {
        return search::series_search(
            store,
            args.project.as_deref(),
            q,
            args.all,
            args.page,
            args.limit,
            args.json,
        )
        .await;
    }
    let filter = SeriesFilter {
        words: args.query.as_deref().unwrap_or("").split_whitespace().map(str::to_string).collect(),
        page: args.page,
        per_page: args.limit,
        include_superseded: args.all,
    };
    let projects: Vec<String> = match args.project {
        Some(p) => {
            require_project(store, &p).await?;
            vec![p]
        }
        None => project_names(store).await?,
    };
    let mut items = Vec::new();
    let mut total = 0;
    for project in &projects {
        let page = store.series_list(project, &filter).await?;
        total += page.total;
        items.extend(page.items);
    }
    items.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.message_id.cmp(&b.message_id)));
    items.truncate(args.limit as usize);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({ "total": total, "page": args.page, "series": items }),
        )?;
        writeln!(out)?;
    } else {
        output::series_table(&mut out, &items)?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn series_show(store: &Store, args: ShowArgs) -> Result<ExitCode> {
    let id = clean_msgid(&args.msgid);
    let Some(series) = store.series(&id).await? else {
        return not_found(store, &id).await;
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &output::series_json(&series))?;
        writeln!(out)?;
    } else {
        output::series_text(&mut out, &series)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Says why a Message-ID gave no series: unknown, or a message that is in no series.
async fn not_found(store: &Store, id: &str) -> Result<ExitCode> {
    match store.message(id).await? {
        Some(m) => eprintln!(
            "quire: <{id}> is a message ({}: \"{}\") that belongs to no series",
            output::kind_name(m.kind),
            m.subject
        ),
        None => eprintln!(
            "quire: no message <{id}> in the store; import the mail first (quire import ARCHIVE)"
        ),
    }
    Ok(ExitCode::from(exit::NOT_FOUND))
}

async fn am(store: &Store, args: AmArgs, quiet: bool) -> Result<ExitCode> {
    let id = clean_msgid(&args.msgid);
    let opts = quire_series::am::AmOptions { sloppy_trailers: args.sloppy_trailers };
    let Some(am) = store.am_mbox(&id, !args.this_revision, &opts).await? else {
        return not_found(store, &id).await;
    };
    match &args.output {
        Some(path) => std::fs::write(path, &am.mbox)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(&am.mbox)?,
    }
    if !quiet {
        let s = &am.series;
        let (mut trailers, mut unverified) = (0, 0);
        for p in &s.patches {
            let (added, left_out) = trailers_written(&p.trailers, args.sloppy_trailers);
            trailers += added;
            unverified += left_out;
        }
        eprintln!(
            "{} (v{}): {} patch(es), {} trailer(s) added{}",
            s.subject,
            s.version,
            s.patches.len(),
            trailers,
            if unverified > 0 && !args.sloppy_trailers {
                format!(", {unverified} unverified left out (--sloppy-trailers adds them)")
            } else {
                String::new()
            }
        );
        if !am.missing.is_empty() {
            let missing: Vec<String> = am.missing.iter().map(u32::to_string).collect();
            eprintln!(
                "warning: the series is incomplete: patch(es) {} of {} missing",
                missing.join(", "),
                s.total
            );
        }
        if let Some(path) = &args.output
            && std::io::stderr().is_terminal()
        {
            eprintln!("apply with: git am {}", path.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// How many of a patch's trailers `quire am` writes, and how many unverified ones it leaves out:
/// a trailer given twice (an unverified copy, then the reviewer's own) is written once.
fn trailers_written(given: &[quire_store::SeriesTrailer], sloppy: bool) -> (usize, usize) {
    let key = |t: &quire_store::SeriesTrailer| {
        quire_mail::trailer_key(&quire_mail::Trailer {
            tag: t.tag.clone(),
            value: t.value.clone(),
            person: None,
        })
    };
    let written: std::collections::HashSet<_> =
        given.iter().filter(|t| t.verified || sloppy).map(key).collect();
    let left_out = given.iter().filter(|t| !t.verified && !written.contains(&key(t))).count();
    (written.len(), left_out)
}

async fn project_add(store: &Store, args: ProjectAddArgs) -> Result<ExitCode> {
    config::validate_name(&args.name).map_err(anyhow::Error::msg)?;
    store
        .upsert_project(&quire_store::ProjectConfig {
            name: args.name.clone(),
            list_ids: args.list_ids,
            list_addresses: args.list_addresses,
            subject_prefixes: args.subject_prefixes,
            git_url: args.git,
            branch: args.branch,
            mirror_url: args.mirror,
            tag_prefix: args.tag_prefix,
        })
        .await?;
    println!(
        "project {} saved; mail imported from now on is matched to it (quire reindex re-sorts stored mail)",
        args.name
    );
    Ok(ExitCode::SUCCESS)
}

async fn project_list(store: &Store, json: bool) -> Result<ExitCode> {
    let projects = store.projects().await?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &projects)?;
        writeln!(out)?;
    } else {
        for p in &projects {
            writeln!(
                out,
                "{:<20} {:>7} series {:>9} messages  {}",
                p.config.name,
                p.series,
                p.messages,
                p.config.list_ids.join(", ")
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve(store: Store, data_dir: &Path, args: ServeArgs) -> Result<ExitCode> {
    // Checked when the file was read (config::parse).
    let trusted_proxies =
        config::load(data_dir)?.web.trusted_proxies().map_err(anyhow::Error::msg)?;
    if !(args.max_queue_wait.is_finite() && args.max_queue_wait > 0.0) {
        anyhow::bail!("--max-queue-wait {}: give a number of seconds above 0", args.max_queue_wait);
    }
    let mut shed = quire_web::shed::ShedConfig {
        max_queue_wait: std::time::Duration::from_secs_f64(args.max_queue_wait),
        ..Default::default()
    };
    if let Some(n) = args.max_in_flight {
        shed.max_in_flight = n as usize;
    }
    let config = quire_web::WebConfig {
        base_url: args.base_url.unwrap_or_else(|| format!("http://{}", args.listen)),
        tester_lease_secs: args.tester_lease,
        tester_max_lost_leases: args.tester_lost_leases,
        trusted_proxies,
        shed,
        ..Default::default()
    };
    eprintln!("quire: serving {} on http://{}/", store.target(), args.listen);
    if !args.no_worker {
        // Stops with the process; a job it held is taken again when its lease expires.
        let mut w =
            quire_worker::Worker::new(store.clone(), worker::serve_worker_options(data_dir)?);
        tokio::spawn(async move { w.run(std::future::pending()).await });
    }
    if !args.no_notify
        && let Some(mut n) = notify::serve_notifier(&store, data_dir, &config.base_url)?
    {
        tokio::spawn(async move { n.run(std::future::pending()).await });
    }
    let warm =
        quire_web::warm::WarmOptions { pages: args.warm_pages as usize, ..Default::default() };
    quire_web::serve(store, args.listen, config, warm).await?;
    Ok(ExitCode::SUCCESS)
}

/// The names of every project, sorted.
async fn project_names(store: &Store) -> Result<Vec<String>> {
    let mut names: Vec<String> =
        store.project_configs().await?.into_iter().map(|c| c.name).collect();
    names.sort();
    Ok(names)
}

/// An error naming the known projects unless `project` is one of them.
async fn require_project(store: &Store, project: &str) -> Result<()> {
    let names = project_names(store).await?;
    if !names.iter().any(|n| n == project) {
        bail!("no project `{project}`; known projects: {}", names.join(", "));
    }
    Ok(())
}

async fn export(store: &Store, args: ExportArgs, quiet: bool) -> Result<ExitCode> {
    if let Some(p) = &args.project
        && !project_names(store).await?.contains(p)
    {
        eprintln!("quire: no project {p:?}; see `quire project list`");
        return Ok(ExitCode::from(exit::NOT_FOUND));
    }
    let mut out: Box<dyn Write> = match &args.output {
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let file = std::io::BufWriter::new(file);
            if path.extension().is_some_and(|e| e == "gz") {
                Box::new(flate2::write::GzEncoder::new(file, flate2::Compression::default()))
            } else {
                Box::new(file)
            }
        }
    };
    let bar = output::progress_bar(quiet || args.output.is_none());
    let (mut after, mut count) = (0i64, 0u64);
    loop {
        let batch = store.raw_messages_after(after, 1000, args.project.as_deref()).await?;
        let Some(last) = batch.last() else { break };
        after = last.0;
        for (_, raw) in &batch {
            quire_import::mbox::write_mboxrd(&mut out, raw).context("writing the export")?;
        }
        count += batch.len() as u64;
        bar.set_message(format!("{count} messages"));
        bar.tick();
    }
    out.flush().context("writing the export")?;
    drop(out);
    bar.finish_and_clear();
    if !quiet {
        eprintln!("quire: exported {count} messages");
    }
    Ok(ExitCode::SUCCESS)
}

async fn token(store: &Store, cmd: TokenCommand) -> Result<ExitCode> {
    match cmd {
        TokenCommand::Create { name, scope, .. } => {
            let (token, secret) = store.create_token(&name, &scope).await?;
            println!("{secret}");
            eprintln!(
                "quire: token {} ({}, scope {}): keep the line above, it is not shown again",
                token.id, token.name, token.scope
            );
        }
        TokenCommand::List => {
            for t in store.tokens().await? {
                println!("{}\t{}\t{}", t.id, t.scope, t.name);
            }
        }
        TokenCommand::Revoke { id } => {
            if !store.revoke_token(id).await? {
                eprintln!("quire: no live token {id}; see `quire token list`");
                return Ok(ExitCode::from(exit::NOT_FOUND));
            }
            eprintln!("quire: token {id} revoked");
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn a_trailer_given_twice_is_counted_once() {
        let given = |value: &str, verified| quire_store::SeriesTrailer {
            tag: "Acked-by".into(),
            value: value.into(),
            name: String::new(),
            email: String::new(),
            message_id: "r@x".into(),
            verified,
            carried_over: false,
        };
        // An unverified copy, then the reviewer's own; and someone else's, unverified.
        let t =
            [given("R <r@x.org>", false), given("R <r@x.org>", true), given("Q <q@x.org>", false)];
        assert_eq!(trailers_written(&t, false), (1, 1));
        assert_eq!(trailers_written(&t, true), (2, 0));
    }

    #[test]
    fn message_ids_are_taken_as_users_paste_them() {
        assert_eq!(clean_msgid("<a@b>"), "a@b");
        assert_eq!(clean_msgid(" a@b "), "a@b");
        assert_eq!(clean_msgid("mid:<a@b>"), "a@b");
    }
}
