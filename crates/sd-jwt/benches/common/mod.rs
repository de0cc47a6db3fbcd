//! The standard SD-JWT VC workload (`/work/shared/bench/WORKLOAD.md`), shared by the
//! criterion bench and the `workload_rates` example: ES256 Issuer and Holder keys made once,
//! 13 Disclosures (10 top-level claims, `address` disclosable with 3 disclosable members),
//! no decoys, `typ` `dc+sd-jwt`; present `given_name`, `birthdate`, `address.locality` with
//! a KB-JWT; verify with the Issuer key imported once and the Holder key from `cnf.jwk`.
#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use jose::jwt::{Clock, SystemClock};
use jose::{Algorithm, Signer, SoftwareSigner, VerifyingKey};
use sd_jwt::vc::{self, VcVerifier};
use sd_jwt::{
    ClaimPath, Frame, KbExpectation, KbInput, KeyBinding, KeyResolver, Limits, SdJwt, SystemSalts,
};
use serde_json::{Map, Value, json};

pub const AUD: &str = "https://verifier.example.com";
pub const NONCE: &str = "n-0S6_WzA2Mj";
const ES256: &[Algorithm] = &[Algorithm::Es256];

pub struct Workload {
    pub issuer: SoftwareSigner,
    pub holder: SoftwareSigner,
    pub claims: Map<String, Value>,
    pub frame: Frame,
    pub selection: Vec<ClaimPath>,
    pub salts: SystemSalts,
    pub verifier: VcVerifier,
}

impl Workload {
    pub fn new() -> Self {
        let issuer = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let holder = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let now = SystemClock.now();
        let claims = json!({
            "iss": "https://issuer.example.com", "iat": now, "exp": now + 365 * 86_400,
            "vct": "https://credentials.example.com/identity_credential",
            "cnf": {"jwk": holder.public_jwk().to_value()},
            "given_name": "Erika", "family_name": "Mustermann",
            "email": "erika.mustermann@example.com", "phone_number": "+49-30-123456789",
            "birthdate": "1964-08-12", "nationality": "DE", "age_in_years": 61,
            "age_birth_year": 1964, "document_number": "T22000129",
            "address": {"street_address": "Heidestrasse 17", "locality": "Koeln", "postal_code": "51147"}
        });
        let frame = Frame::from_paths(
            [
                "given_name",
                "family_name",
                "email",
                "phone_number",
                "birthdate",
                "nationality",
                "age_in_years",
                "age_birth_year",
                "document_number",
                "address",
                "address.street_address",
                "address.locality",
                "address.postal_code",
            ]
            .into_iter()
            .map(|p| ClaimPath::parse(p).unwrap()),
        );
        let selection = ["given_name", "birthdate", "address.locality"]
            .into_iter()
            .map(|p| ClaimPath::parse(p).unwrap())
            .collect();
        // The verifier imports the Issuer key once.
        let key = VerifyingKey::from_jwk(issuer.public_jwk()).unwrap();
        let verifier = VcVerifier::new(KeyResolver::new().with_key(key), ES256);
        Workload {
            issuer,
            holder,
            claims: claims.as_object().unwrap().clone(),
            frame,
            selection,
            salts: SystemSalts::new(),
            verifier,
        }
    }

    /// ISSUE: one SD-JWT VC with 13 Disclosures, fresh salts.
    pub fn issue(&self) -> String {
        vc::issue(
            self.claims.clone(),
            &self.frame,
            &self.issuer,
            &self.salts,
            None,
        )
        .unwrap()
        .into_string()
    }

    /// PRESENT: from the compact SD-JWT, select 3 claims (4 Disclosures) and add a KB-JWT.
    pub fn present(&self, issued: &str) -> String {
        let sd = SdJwt::parse_issued(issued, &Limits::DEFAULT).unwrap();
        let mut p = sd.into_presenter().unwrap();
        for path in &self.selection {
            p.select(path).unwrap();
        }
        let input = KbInput::new(AUD, NONCE, SystemClock.now());
        p.with_key_binding(&input, &self.holder).unwrap()
    }

    /// VERIFY: the whole presentation, with the KB-JWT checked against `cnf.jwk`.
    pub fn verify(&self, presentation: &str) -> vc::VerifiedVc {
        let kb = KeyBinding::Required(KbExpectation::new(AUD, NONCE, ES256));
        self.verifier
            .verify(presentation, kb, &SystemClock)
            .unwrap()
    }

    /// A 700-byte message, its ES256 signature by the Issuer and the parsed Issuer key.
    pub fn es256_sample(&self) -> (Vec<u8>, Vec<u8>, VerifyingKey) {
        let msg: Vec<u8> = (0..700u32).map(|i| (i * 31 % 251) as u8).collect();
        let sig = self.issuer.sign(&msg).unwrap();
        let key = VerifyingKey::from_jwk(self.issuer.public_jwk()).unwrap();
        (msg, sig, key)
    }

    /// Checks that the three operations do what the workload says.
    pub fn sanity(&self) -> (String, String) {
        let issued = self.issue();
        assert_eq!(issued.matches('~').count(), 14, "13 disclosures");
        let presentation = self.present(&issued);
        assert_eq!(
            presentation.matches('~').count(),
            5,
            "4 disclosures + KB-JWT"
        );
        let v = self.verify(&presentation);
        assert_eq!(v.claims()["given_name"], "Erika");
        assert_eq!(v.claims()["address"], json!({"locality": "Koeln"}));
        assert!(!v.claims().contains_key("family_name"));
        let kb = KeyBinding::Required(KbExpectation::new(AUD, "other", ES256));
        assert!(
            self.verifier
                .verify(&presentation, kb, &SystemClock)
                .is_err()
        );
        (issued, presentation)
    }
}
