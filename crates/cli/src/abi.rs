//! `quire abi`: compare the C ABI of public headers between two revisions of a git tree.
//!
//! Exit status: 0 no breaking change, 1 a breaking change, 2 a usage or tool error (bad
//! revision, clang or git missing), so that scripts and CI can tell the three apart.
use std::path::PathBuf;
use std::process::ExitCode;

use quire_abi::{AbiConfig, check_revisions};

#[derive(clap::Args)]
#[command(
    after_help = "Exit status: 0 no breaking ABI change, 1 breaking change found, 2 usage or tool error."
)]
pub struct AbiArgs {
    /// Run as if started in DIR (a git work tree or repository).
    #[arg(short = 'C', value_name = "DIR", default_value = ".")]
    pub repo: PathBuf,
    /// The revision before the change (commit, branch, tag).
    #[arg(long, value_name = "REV")]
    pub before: String,
    /// The revision after the change.
    #[arg(long, value_name = "REV")]
    pub after: String,
    /// Glob of public headers relative to the tree's root, e.g. 'xen/include/public/**/*.h'
    /// [default: **/*.h].
    #[arg(long = "path", value_name = "GLOB")]
    pub paths: Vec<String>,
    /// Include directory relative to the tree's root, passed to clang as -I.
    #[arg(long = "include", value_name = "DIR")]
    pub includes: Vec<String>,
    /// Line put before each header's #include, e.g. '#include <stdint.h>'.
    #[arg(long = "prelude", value_name = "LINE")]
    pub prelude: Vec<String>,
    /// An extra build with these macros (e.g. __XEN_TOOLS__ or "A=1 B"), besides the build
    /// without any; repeat for more builds.
    #[arg(long = "define", value_name = "D")]
    pub defines: Vec<String>,
    /// Target: x86_64, i386, aarch64, arm or a clang triple [default: the four].
    #[arg(long = "target", value_name = "T")]
    pub targets: Vec<String>,
    /// The clang to build with.
    #[arg(long, value_name = "PATH", env = "QUIRE_CLANG", default_value = "/usr/bin/clang")]
    pub clang: PathBuf,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: AbiArgs) -> anyhow::Result<ExitCode> {
    let cfg = config_from_args(&args);
    match check_revisions(&args.repo, &args.before, &args.after, &cfg) {
        Ok(report) => {
            if args.json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
            Ok(ExitCode::from(if report.is_breaking() { 1 } else { 0 }))
        }
        Err(e) => {
            // Not returned as an error: main maps errors to 1, which here means "breaking".
            eprintln!("quire abi: {e}");
            Ok(ExitCode::from(2))
        }
    }
}

fn config_from_args(args: &AbiArgs) -> AbiConfig {
    let mut cfg = AbiConfig { clang: args.clang.clone(), ..AbiConfig::default() };
    if !args.paths.is_empty() {
        cfg.headers = args.paths.clone();
    }
    cfg.include_dirs = args.includes.clone();
    cfg.prelude = args.prelude.clone();
    if !args.targets.is_empty() {
        cfg.targets = args.targets.clone();
    }
    cfg.macro_sets =
        std::iter::once(Vec::new()).chain(args.defines.iter().map(|d| macro_set(d))).collect();
    cfg
}

/// `__XEN_TOOLS__`, `-D__XEN_TOOLS__` and `A=1,B` all become clang `-D` arguments.
fn macro_set(spec: &str) -> Vec<String> {
    spec.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|m| !m.is_empty())
        .map(|m| {
            if m.starts_with("-D") || m.starts_with("-U") { m.to_owned() } else { format!("-D{m}") }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::macro_set;

    #[test]
    fn define_accepts_bare_names_dash_d_and_lists() {
        assert_eq!(macro_set("__XEN_TOOLS__"), vec!["-D__XEN_TOOLS__"]);
        assert_eq!(macro_set("-DX=1, -UY Z"), vec!["-DX=1", "-UY", "-DZ"]);
    }
}
