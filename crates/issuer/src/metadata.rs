//! The issuer's published documents: Credential Issuer Metadata (JSON, or signed
//! `application/jwt` when the wallet asks for it), Authorization Server Metadata, and the
//! JWT VC Issuer Metadata with every currently published signing key.
//!
//! Under path insertion (an identifier with a path, such as `…/issuer` under
//! `--mode=all`) the documents live at the root of the host
//! (`/.well-known/openid-credential-issuer/issuer`); the role also answers them at its own
//! `/.well-known/…` for convenience.

use crate::config::{ClaimConfig, CredentialConfig, Disclosure, IssuerConfig};
use oid4vci::metadata::{
    AuthorizationServerMetadata, BatchIssuance, ClaimDescription, ClaimDisplay,
    CredentialConfiguration, CredentialDisplay, CredentialIssuerMetadata, CredentialMetadata,
    FORMAT_SD_JWT_VC, IssuerDisplay, JwkSet, Logo, ProofTypeMetadata, RequestEncryptionMetadata,
    ResponseEncryptionMetadata,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Endpoint URLs under the identifier.
#[derive(Clone, Debug)]
pub struct Endpoints {
    /// The Credential Issuer Identifier (also the authorization server's issuer).
    pub identifier: String,
}

impl Endpoints {
    /// `<identifier><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.identifier)
    }
}

fn claim_description(c: &ClaimConfig) -> ClaimDescription {
    ClaimDescription {
        path: c.path.iter().cloned().map(Value::String).collect(),
        mandatory: c.mandatory.then_some(true),
        display: (!c.display.is_empty()).then(|| {
            c.display
                .iter()
                .map(|d| ClaimDisplay {
                    name: Some(d.name.clone()),
                    locale: d.locale.clone(),
                })
                .collect()
        }),
    }
}

fn configuration(c: &CredentialConfig, signing_alg: &str) -> CredentialConfiguration {
    let display = (!c.display.is_empty()).then(|| {
        c.display
            .iter()
            .map(|d| CredentialDisplay {
                name: d.name.clone(),
                locale: d.locale.clone(),
                logo: d.logo_uri.as_ref().map(|uri| Logo {
                    uri: uri.clone(),
                    alt_text: d.logo_alt_text.clone(),
                }),
                description: d.description.clone(),
                background_color: d.background_color.clone(),
                background_image: None,
                text_color: d.text_color.clone(),
            })
            .collect()
    });
    let claims = (!c.claims.is_empty()).then(|| c.claims.iter().map(claim_description).collect());
    let mut proof_types = BTreeMap::new();
    proof_types.insert(
        "jwt".to_owned(),
        ProofTypeMetadata {
            proof_signing_alg_values_supported: c
                .proof_algorithms
                .iter()
                .map(|a| a.name().to_owned())
                .collect(),
            key_attestations_required: None,
        },
    );
    CredentialConfiguration {
        format: FORMAT_SD_JWT_VC.to_owned(),
        scope: Some(c.scope.clone()),
        credential_signing_alg_values_supported: Some(vec![signing_alg.to_owned()]),
        cryptographic_binding_methods_supported: Some(vec!["jwk".to_owned()]),
        proof_types_supported: Some(proof_types),
        credential_metadata: Some(CredentialMetadata { display, claims }),
        vct: Some(c.vct.clone()),
        extra: Map::new(),
    }
}

/// Builds the Credential Issuer Metadata; `encryption_jwk` is the public key agreement
/// key for encrypted requests, when encryption is enabled.
pub fn issuer_metadata(
    config: &IssuerConfig,
    endpoints: &Endpoints,
    encryption_jwk: Option<&jose::PublicJwk>,
) -> CredentialIssuerMetadata {
    let signing_alg = config.keys.algorithm.name();
    let enc_names: Vec<String> = config
        .encryption
        .enc
        .iter()
        .map(|e| e.name().to_owned())
        .collect();
    let zip = config.encryption.zip.then(|| vec!["DEF".to_owned()]);
    let (request_encryption, response_encryption) =
        match (config.encryption.enabled, encryption_jwk) {
            (true, Some(jwk)) => (
                Some(RequestEncryptionMetadata {
                    jwks: JwkSet {
                        keys: vec![jwk.to_value()],
                    },
                    enc_values_supported: enc_names.clone(),
                    zip_values_supported: zip.clone(),
                    encryption_required: config.encryption.request_required,
                }),
                Some(ResponseEncryptionMetadata {
                    alg_values_supported: vec![jose::jwe::ECDH_ES.to_owned()],
                    enc_values_supported: enc_names,
                    zip_values_supported: zip,
                    encryption_required: config.encryption.response_required,
                }),
            ),
            _ => (None, None),
        };
    CredentialIssuerMetadata {
        credential_issuer: endpoints.identifier.clone(),
        authorization_servers: None,
        credential_endpoint: endpoints.url("/credential"),
        nonce_endpoint: Some(endpoints.url("/nonce")),
        deferred_credential_endpoint: None,
        notification_endpoint: Some(endpoints.url("/notification")),
        credential_request_encryption: request_encryption,
        credential_response_encryption: response_encryption,
        batch_credential_issuance: (config.batch_size >= 2).then_some(BatchIssuance {
            batch_size: config.batch_size,
        }),
        display: config.display_name.as_ref().map(|n| {
            vec![IssuerDisplay {
                name: Some(n.clone()),
                locale: None,
                logo: None,
            }]
        }),
        credential_configurations_supported: config
            .credentials
            .iter()
            .map(|(id, c)| (id.clone(), configuration(c, signing_alg)))
            .collect(),
    }
}

/// Builds the Authorization Server Metadata.
pub fn as_metadata(config: &IssuerConfig, endpoints: &Endpoints) -> AuthorizationServerMetadata {
    let algs: Vec<String> = config
        .attestation
        .algorithms
        .iter()
        .map(|a| a.name().to_owned())
        .collect();
    AuthorizationServerMetadata {
        issuer: endpoints.identifier.clone(),
        token_endpoint: Some(endpoints.url("/token")),
        grant_types_supported: Some(vec![oid4vci::PRE_AUTHORIZED_CODE_GRANT.to_owned()]),
        response_types_supported: None,
        // Every token request must authenticate the wallet instance.
        pre_authorized_grant_anonymous_access_supported: Some(false),
        token_endpoint_auth_methods_supported: Some(vec![
            client_attestation::AUTH_METHOD.to_owned(),
        ]),
        client_attestation_signing_alg_values_supported: Some(algs.clone()),
        client_attestation_pop_signing_alg_values_supported: Some(algs),
        client_attestation_pop_methods_supported: Some(vec!["attestation_pop_jwt".to_owned()]),
        challenge_endpoint: Some(endpoints.url("/challenge")),
        // RFC 9449 §5.1: listed only when a token request may carry a DPoP proof.
        dpop_signing_alg_values_supported: (config.dpop.mode != crate::dpop::DpopMode::Off).then(
            || {
                config
                    .dpop
                    .algorithms
                    .iter()
                    .map(|a| a.name().to_owned())
                    .collect()
            },
        ),
    }
}

/// The claims of a configuration that are selectively disclosable.
pub(crate) fn disclosable(c: &CredentialConfig) -> impl Iterator<Item = &ClaimConfig> {
    c.claims.iter().filter(|c| c.sd == Disclosure::Always)
}
