//! `symbolon config check`: load the configuration exactly as `serve` would and print
//! the effective values (secrets redacted), or the first error. With `--mode` it also runs
//! the start-up checks of those roles, so it refuses what `serve --mode=…` would refuse.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Subcommand;

use crate::mode::{self, Role};

/// `symbolon config …`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Load defaults → file → SYMBOLON_* environment and print the effective
    /// configuration as TOML, or the error (exit 1).
    Check {
        /// Config file (TOML).
        #[arg(long, env = "SYMBOLON_CONFIG", value_name = "FILE")]
        config: Option<PathBuf>,
        /// Also run the start-up checks of these roles, as `serve --mode` does (public
        /// URL, trust, keys required…), without opening databases, tokens or listeners.
        #[arg(
            long,
            env = "SYMBOLON_MODE",
            value_name = "ROLE[,ROLE…]",
            value_delimiter = ',',
            value_parser = mode::parse_role
        )]
        mode: Vec<Role>,
    },
}

/// Runs `config …`.
pub(crate) fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Check {
            config: file,
            mode: modes,
        } => {
            let config = if modes.is_empty() {
                let mut config = crate::config::load(file.as_deref(), std::env::vars_os())?;
                config.default_listen_for(None);
                config
            } else {
                let (config, plan) = mode::load(file.as_deref(), &modes)?;
                let config = Arc::new(config);
                mode::check(&config, &plan)?;
                Arc::unwrap_or_clone(config)
            };
            let text = config
                .to_toml()
                .context("cannot print the effective configuration")?;
            outln!(
                "# effective configuration: defaults, then the file, then SYMBOLON_* variables"
            )?;
            if modes.is_empty() {
                outln!(
                    "# the roles' start-up checks were not run: add --mode=<role> as for serve"
                )?;
            } else {
                let names: Vec<&str> = modes.iter().map(|r| r.name()).collect();
                outln!(
                    "# start-up checks of --mode={} passed (databases, tokens and secret files are not opened)",
                    names.join(",")
                )?;
            }
            out!("{text}")?;
            Ok(())
        }
    }
}
