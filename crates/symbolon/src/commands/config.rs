//! `symbolon config check`: load the configuration exactly as `serve` would and print
//! the effective values (secrets redacted), or the first error.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::config;

/// `symbolon config …`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Load defaults → file → SYMBOLON_* environment and print the effective
    /// configuration as TOML, or the error (exit 1).
    Check {
        /// Config file (TOML).
        #[arg(long, env = "SYMBOLON_CONFIG", value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

/// Runs `config …`.
pub(crate) fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Check { config: file } => {
            let config = config::load(file.as_deref(), std::env::vars_os())?;
            let text = config
                .to_toml()
                .context("cannot print the effective configuration")?;
            outln!(
                "# effective configuration: defaults, then the file, then SYMBOLON_* variables"
            )?;
            out!("{text}")?;
            Ok(())
        }
    }
}
