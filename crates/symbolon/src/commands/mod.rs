//! One module per subcommand; each exposes its clap arguments and a `run`.

pub(crate) mod config;
pub(crate) mod jwk;
pub(crate) mod serve;
