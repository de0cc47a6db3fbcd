//! `symbolon`: one binary for every platform role (`symbolon serve --mode=…`) and the
//! developer tools (`symbolon config check`, `symbolon jwk generate`, …).
//!
//! Exit codes: 0 success, 1 invalid input or failed operation (reason on stderr), 2 usage
//! error (clap).

mod cli;
mod commands;
mod config;
mod logging;
mod mode;
mod roles;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: request handling allocates many small,
/// short-lived buffers across threads, where glibc's malloc showed up in profiles of the
/// issuer (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if let Err(e) = logging::init(cli.log_format, cli.command.default_log_filter()) {
        eprintln!("error: {e:#}");
        return ExitCode::FAILURE;
    }
    match cli.command.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
