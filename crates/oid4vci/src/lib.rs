//! OpenID for Verifiable Credential Issuance 1.0 (final) for Symbolon: the messages an
//! issuer and a wallet exchange, parsed and written both ways, and the rules on them. No
//! I/O; time is passed in.
//!
//! - [`offer`]: Credential Offers (§4) by value or by reference, the
//!   `openid-credential-offer://` and https invocation URIs, the pre-authorized code grant
//!   and its Transaction Code;
//! - [`metadata`]: Credential Issuer Metadata (§12.2; JSON and signed), Authorization
//!   Server Metadata (§12.3 + Attestation-Based Client Authentication), well-known URLs
//!   with path insertion;
//! - [`token`]: the pre-authorized code token request (form) and the token response
//!   (no `c_nonce` in 1.0);
//! - [`nonce`]: the nonce response (§7);
//! - [`credential`]: the credential request and response (§8), plain or encrypted (§10),
//!   with `credential_response_encryption`;
//! - [`dpop`]: DPoP proofs (RFC 9449): verification for servers, signing for clients;
//! - [`proof`]: proof JWTs (Appendix F): verification for issuers, signing for wallets;
//! - [`notification`]: the notification request (§11);
//! - [`error`]: every error code with its HTTP status, and the error body.
//!
//! Signatures and JWE come from `jose`; Attestation-Based Client Authentication from
//! `client-attestation`; SD-JWT VC issuance from `sd-jwt`.

pub mod credential;
pub mod dpop;
pub mod error;
mod json;
pub mod metadata;
pub mod nonce;
pub mod notification;
pub mod offer;
pub mod proof;
pub mod token;

pub use credential::{
    CredentialRequest, CredentialRequestError, CredentialResponse, CredentialResponseError,
    CredentialTarget, JWT_MEDIA_TYPE, Proofs, ResponseEncryption,
};
pub use dpop::{
    DPOP_HEADER, DPOP_NONCE_HEADER, DPOP_SCHEME, DPOP_TOKEN_TYPE, DpopClaims, DpopError,
    DpopPolicy, DpopRequest, VerifiedDpop, verify_dpop,
};
pub use error::{ErrorCode, ErrorResponse};
pub use metadata::{
    AuthorizationServerMetadata, CredentialConfiguration, CredentialIssuerMetadata, MetadataError,
    well_known_path, well_known_url,
};
pub use nonce::{NonceResponse, NonceResponseError};
pub use notification::{NotificationError, NotificationEvent, NotificationRequest};
pub use offer::{
    CredentialOffer, InputMode, OfferError, OfferReference, OfferUri, OfferUriOptions,
    PRE_AUTHORIZED_CODE_GRANT, PreAuthorizedCodeGrant, TxCode,
};
pub use proof::{PROOF_TYP, ProofClaims, ProofError, ProofPolicy, VerifiedProof, verify_proof};
pub use token::{TokenRequest, TokenRequestError, TokenResponse, TokenResponseError};
