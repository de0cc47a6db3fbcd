//! One module per implemented role: each turns the typed configuration into the role's
//! [`service::RoleService`] (its crate's router plus readiness). Registered in
//! [`crate::mode::IMPLEMENTED`].

pub(crate) mod attester;
pub(crate) mod issuer;
pub(crate) mod verifier;
