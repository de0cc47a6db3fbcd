//! OpenID for Verifiable Presentations 1.0 (final) for Symbolon: the protocol types and
//! rules, shared by the verifier and by wallets. No I/O; time is passed in.
//!
//! - [`dcql`]: the Digital Credentials Query Language — the query, claims path pointers,
//!   matching on the wallet side ([`dcql::match_query`]: which credentials answer, why
//!   others do not, what to disclose) and on the verifier side ([`dcql::check_response`]:
//!   does what was disclosed answer the query);
//! - [`client_id`]: client identifiers with the `redirect_uri`, `x509_san_dns`,
//!   `x509_hash` and pre-registered prefixes and their rules;
//! - [`metadata`]: `client_metadata` (`vp_formats_supported`, `jwks` for response
//!   encryption, `encrypted_response_enc_values_supported`) and `wallet_metadata`;
//! - [`request`]: the authorization request, the invocation URI (by value or by
//!   reference with `request_uri_method`), the `request_uri` POST body, and the request
//!   object (`typ` `oauth-authz-req+jwt`) — signing and wallet-side verification;
//! - [`response`]: the `vp_token`, `direct_post` / `direct_post.jwt` bodies and the
//!   verifier's reply;
//! - [`error`]: the error codes of §8.5;
//! - [`sd_jwt_vc`]: wallet glue for SD-JWT VCs — describe a held credential for matching,
//!   build the presentation a plan asks for.
//!
//! Presentations themselves (SD-JWT+KB) are built and verified with the `sd-jwt` crate;
//! response encryption uses `jose::jwe`.

pub mod client_id;
pub mod dcql;
pub mod error;
pub mod metadata;
pub mod request;
pub mod response;
pub mod sd_jwt_vc;

pub use client_id::{ClientId, ClientIdError, ClientIdPrefix};
pub use dcql::{DcqlError, DcqlQuery};
pub use error::ErrorCode;
pub use metadata::{ClientMetadata, MetadataError, SdJwtVcFormat, WalletMetadata};
pub use request::object::{
    ObjectError, Refusal, ReplyTo, sign_request_object, verify_request_object,
    verify_request_object_for_reply,
};
pub use request::{
    AuthorizationRequest, Invocation, RequestError, RequestUriMethod, RequestUriPost, ResponseMode,
};
pub use response::{
    AuthorizationResponse, DirectPostBody, Presentation, ResponseError, ResponseUriReply, VpToken,
};
