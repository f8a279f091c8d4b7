//! `quire abi`: owned by the ABI work (crates/abi); placeholder until it lands.
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct AbiArgs {}

pub fn run(_args: AbiArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("quire abi is not available in this build yet")
}
