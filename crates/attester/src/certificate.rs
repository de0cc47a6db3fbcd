//! X.509 for the A-Key, signed by the A-Key itself wherever it lives (PKCS#11 token or
//! software key file): a self-signed certificate an issuer can take as its trust anchor,
//! or a PKCS#10 certificate signing request for the operator's CA. With the certificate
//! (or the CA's chain) in `attester.certificate`, attestations carry `x5c`, so an issuer
//! that does not have the attester's JWKS can still verify them. The implementation is
//! the project's one, [`keys::x509`].

pub use keys::x509::{CertificateError, Subject, self_signed, signing_request};
