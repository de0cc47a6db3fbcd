//! One module per subcommand; each exposes its clap arguments and a `run`.

pub(crate) mod attester;
pub(crate) mod config;
pub(crate) mod demo;
pub(crate) mod input;
pub(crate) mod jwk;
pub(crate) mod sd_jwt;
pub(crate) mod serve;
pub(crate) mod status_list;
pub(crate) mod verifier;
pub(crate) mod wallet;
