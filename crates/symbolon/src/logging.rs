//! Logging to stderr (stdout carries command output such as `config check` and
//! `jwk generate`), as text or JSON lines, filtered by `RUST_LOG`.

use std::io::IsTerminal;

use anyhow::Context;
use tracing_subscriber::EnvFilter;

/// `--log-format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Installs the global subscriber. `default_filter` applies when `RUST_LOG` is unset; a
/// `RUST_LOG` that does not parse is an error rather than silently ignored.
pub(crate) fn init(format: LogFormat, default_filter: &str) -> anyhow::Result<()> {
    let filter = match std::env::var_os("RUST_LOG") {
        Some(value) => {
            let value = value
                .into_string()
                .map_err(|_| anyhow::anyhow!("RUST_LOG is not valid UTF-8"))?;
            EnvFilter::try_new(&value).with_context(|| format!("RUST_LOG={value:?}"))?
        }
        None => EnvFilter::try_new(default_filter)?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    installed.map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}
