//! `symbolon`: one binary for every platform role (`symbolon serve --mode=…`) and the
//! developer tools (`symbolon config check`, `symbolon jwk generate`, …).
//!
//! Exit codes: 0 success, 1 invalid input or failed operation (reason on stderr), 2 usage
//! error (clap). A reader that closes standard output early (`symbolon … | head`) ends
//! the command quietly with 0 (see [`output`]).

// Every write to standard output goes through `output::outln!`, which cannot panic on a
// closed pipe; `println!` would.
#![deny(clippy::print_stdout)]

// First, so that its `outln!`/`out!` macros are in scope in every module below.
#[macro_use]
mod output;
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
        // The reader took what it wanted; nothing is wrong.
        Err(e) if output::is_stdout_closed(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
