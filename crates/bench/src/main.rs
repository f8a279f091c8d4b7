//! `quire-bench`: the corpus generator and the one command that runs every benchmark.
//!
//!     quire-bench gen --messages N [--seed S] [--lists 50 --projects quire.toml] -o FILE.mbox[.gz]
//!     quire-bench profile ARCHIVE.mbox[.gz]...
//!     quire-bench run [--out BENCHMARKS.md] [--sizes 100000,1000000] [--no-postgres] ...
//!     quire-bench load --urls FILE [--clients 100] [--seconds 8] [--rendered]
//!     quire-bench revisions --data-dir DIR [--sample 20]

use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "quire-bench",
    about = "quire's benchmarks and the list-archive generator they use"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write a list archive (mboxrd) with the shape of real lists; same seed, same bytes.
    Gen {
        #[arg(long, default_value_t = 1000)]
        messages: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output file; `.gz` compresses.
        #[arg(short, long)]
        output: PathBuf,
        /// Spread the threads over this many lists (`list1`..`listN`, of very different sizes,
        /// as the kernel's are); each list keeps its own copy of a cross-posted message.
        #[arg(long, default_value_t = 1)]
        lists: usize,
        /// With --lists: chance per mille that a thread is cross-posted to one or two more lists.
        #[arg(long, default_value_t = 150)]
        cross_post: u32,
        /// Also write the `[[project]]` tables (one per list) for quire.toml to this file.
        #[arg(long)]
        projects: Option<PathBuf>,
    },
    /// Print the shape of real archives (what the generator's figures were taken from).
    Profile { archives: Vec<PathBuf> },
    /// Fetch the URLs of a file (one per line) round-robin from N client threads for S seconds
    /// and print p50/p99/req/s: the web rows' load, against any running server.
    Load {
        #[arg(long)]
        urls: PathBuf,
        #[arg(long, default_value_t = 100)]
        clients: usize,
        #[arg(long, default_value_t = 8)]
        seconds: u64,
        /// Send a session cookie, so that the server renders every page instead of serving
        /// pages kept rendered (the rows "rendered each time").
        #[arg(long)]
        rendered: bool,
    },
    /// Measure revision linking in a store (run `quire import` of an archive first): for every
    /// series at v2 or later, whether an earlier revision is linked and by which signal, and how
    /// many links agree on patch subjects or change-id.
    Revisions {
        /// The store's data dir (as `quire --data-dir`).
        #[arg(long)]
        data_dir: PathBuf,
        /// A PostgreSQL store instead (as QUIRE_DATABASE_URL).
        #[arg(long)]
        database_url: Option<String>,
        /// How many doubtful links to list for checking by hand.
        #[arg(long, default_value_t = 20)]
        sample: usize,
    },
    /// Run every benchmark and print one table (and write it to --out).
    Run {
        /// The release quire binary.
        #[arg(long, default_value = "target/release/quire")]
        quire: PathBuf,
        /// The repository (for ../shared/corpus, scripts/, cargo bench).
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        /// Where stores and generated archives go.
        #[arg(long, default_value = "/tmp/quire-bench")]
        work: PathBuf,
        /// Write the table here too, with the machine, commit and date.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Sizes of generated archives to import.
        #[arg(long, value_delimiter = ',', default_value = "100000,1000000")]
        sizes: Vec<u64>,
        /// Leave out the PostgreSQL rows.
        #[arg(long)]
        no_postgres: bool,
        /// Concurrent clients of the web rows.
        #[arg(long, value_delimiter = ',', default_value = "1,10,100")]
        clients: Vec<usize>,
        /// Seconds per web row.
        #[arg(long, default_value_t = 8)]
        seconds: u64,
        /// Leave out git mailsplit and public-inbox.
        #[arg(long)]
        no_peers: bool,
        /// Leave out the apply benchmark (cargo bench -p quire-worker --bench apply).
        #[arg(long)]
        no_apply: bool,
        /// Only the row of the web under load during an import of both real slices (issue 9's
        /// load point); the other options still apply.
        #[arg(long)]
        only_load: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Cmd::Gen { messages, seed, output, lists, cross_post, projects } => {
            gen_cmd(messages, seed, &output, &quire_bench::Lists { count: lists, cross_post })
                .and_then(|()| match projects {
                    Some(p) => {
                        std::fs::write(&p, quire_bench::Lists { count: lists, cross_post }.config())
                            .map_err(|e| format!("cannot write {}: {e}", p.display()))
                    }
                    None => Ok(()),
                })
        }
        Cmd::Profile { archives } => profile_cmd(&archives),
        Cmd::Revisions { data_dir, database_url, sample } => {
            quire_bench::revisions::revisions_cmd(&data_dir, database_url.as_deref(), sample)
        }
        Cmd::Load { urls, clients, seconds, rendered } => {
            quire_bench::run::load_cmd(&urls, clients, seconds, rendered)
        }
        Cmd::Run {
            quire,
            repo,
            work,
            out,
            sizes,
            no_postgres,
            clients,
            seconds,
            no_peers,
            no_apply,
            only_load,
        } => {
            let opts = quire_bench::run::Options {
                quire,
                repo,
                work,
                out,
                sizes,
                postgres: !no_postgres,
                clients,
                seconds,
                peers: !no_peers,
                apply: !no_apply,
                only_load,
            };
            quire_bench::run::run(&opts)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("quire-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn gen_cmd(
    n: u64,
    seed: u64,
    out: &std::path::Path,
    lists: &quire_bench::Lists,
) -> Result<(), String> {
    if lists.count == 0 || lists.count > 10_000 {
        return Err(format!("--lists {}: give 1 to 10000 lists", lists.count));
    }
    if lists.cross_post > 1000 {
        return Err(format!(
            "--cross-post {}: give a chance per mille, 0 to 1000",
            lists.cross_post
        ));
    }
    let f =
        std::fs::File::create(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let res = if out.extension().is_some_and(|e| e == "gz") {
        let mut gz = flate2::write::GzEncoder::new(BufWriter::new(f), flate2::Compression::fast());
        quire_bench::generate_lists(n, seed, lists, &mut gz).and_then(|_| gz.finish().map(|_| ()))
    } else {
        let mut w = BufWriter::with_capacity(1 << 20, f);
        quire_bench::generate_lists(n, seed, lists, &mut w).and_then(|_| w.flush())
    };
    res.map_err(|e| format!("cannot write {}: {e}", out.display()))
}

fn profile_cmd(archives: &[PathBuf]) -> Result<(), String> {
    if archives.is_empty() {
        return Err("name the archives to profile: quire-bench profile ARCHIVE.mbox[.gz]...".into());
    }
    for a in archives {
        let f = std::fs::File::open(a).map_err(|e| format!("cannot open {}: {e}", a.display()))?;
        let mut raw = Vec::new();
        let read = if a.extension().is_some_and(|e| e == "gz") {
            flate2::read::GzDecoder::new(f).read_to_end(&mut raw)
        } else {
            std::io::BufReader::new(f).read_to_end(&mut raw)
        };
        read.map_err(|e| format!("cannot read {}: {e}", a.display()))?;
        println!("{}\n{}", a.display(), quire_bench::profile::profile(&raw));
    }
    Ok(())
}
