//! The command line: global flags and one subcommand per module under
//! [`crate::commands`]. Adding a subcommand is a module with an `Args`/`Command` type and
//! a `run`, plus one variant and one match arm here.

use clap::{Parser, Subcommand};

use crate::commands;
use crate::logging::LogFormat;

/// Symbolon: an attested, privacy-preserving verifiable-credential platform.
#[derive(Debug, Parser)]
#[command(name = "symbolon", version, propagate_version = true)]
pub(crate) struct Cli {
    /// Log line format (logs go to stderr; filter with RUST_LOG).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "SYMBOLON_LOG_FORMAT",
        default_value_t = LogFormat::Text
    )]
    pub(crate) log_format: LogFormat,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Serve one or more platform roles over HTTP.
    Serve(commands::serve::Args),
    /// Inspect the layered configuration.
    #[command(subcommand)]
    Config(commands::config::Command),
    /// JSON Web Key tools.
    #[command(subcommand)]
    Jwk(commands::jwk::Command),
    /// Token Status List tools.
    #[command(subcommand, name = "status-list")]
    StatusList(commands::status_list::Command),
    /// SD-JWT VC tools: issue, present, verify, decode.
    #[command(name = "sd-jwt")]
    SdJwt(commands::sd_jwt::Args),
    /// Verifier tools.
    #[command(subcommand)]
    Verifier(commands::verifier::Command),
    /// Attester tools: create the A-Key, verify the audit log.
    #[command(subcommand)]
    Attester(commands::attester::Command),
    /// The command-line holder wallet (credentials encrypted at rest).
    Wallet(commands::wallet::Args),
    /// Run the whole platform in-process and walk through issuance and presentation.
    Demo(commands::demo::Args),
}

impl Command {
    /// Runs the subcommand. An error means invalid input or a failed operation (exit 1);
    /// usage errors never get here, clap exits with 2 for them.
    pub(crate) fn run(self) -> anyhow::Result<()> {
        match self {
            Command::Serve(args) => commands::serve::run(args),
            Command::Config(command) => commands::config::run(command),
            Command::Jwk(command) => commands::jwk::run(command),
            Command::StatusList(command) => commands::status_list::run(command),
            Command::SdJwt(args) => commands::sd_jwt::run(args),
            Command::Verifier(command) => commands::verifier::run(command),
            Command::Attester(command) => commands::attester::run(command),
            Command::Wallet(args) => commands::wallet::run(args),
            Command::Demo(args) => commands::demo::run(args),
        }
    }

    /// The log filter when `RUST_LOG` is unset: a server reports its lifecycle, a tool
    /// stays quiet unless something is wrong.
    pub(crate) fn default_log_filter(&self) -> &'static str {
        match self {
            Command::Serve(_) => "info",
            _ => "warn",
        }
    }
}
