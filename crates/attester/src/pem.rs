//! PEM certificate files (the attester's own `x5c` chain, the Kubernetes API server's CA):
//! every `CERTIFICATE` block, in order, as DER. Other block types are skipped (a chain file
//! may carry a comment or a key the attester must not read); a malformed block is an error.
//! The reader is the project's one, [`jose::pem`].

pub use jose::pem::{PemError, certificates};
