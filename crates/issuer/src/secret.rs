//! [`Secret`]: a configured secret (the admin token, a database URL with a password),
//! redacted, zeroized and compared in constant time; shared with the other roles.

pub use service::config::Secret;
