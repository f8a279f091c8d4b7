//! `quire`: the command-line program. Thin glue over the library crates.

mod abi;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "quire", version, about = "Follow a mailing list's patches: series, reviews, trailers, apply, checks.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compare the C ABI of public headers between two revisions of a git tree.
    Abi(abi::AbiArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Abi(args) => abi::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("quire: {e:#}");
            ExitCode::from(1)
        }
    }
}
