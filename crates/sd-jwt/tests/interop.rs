//! Interop with third-party SD-JWT VC implementations: `@sd-jwt/sd-jwt-vc` 0.19 (Node,
//! `interop/js/sd-jwt-vc.mjs`) and the Python `sd-jwt` 0.10.4 reference implementation
//! (`interop/python/sd_jwt_vc.py`). Credentials and presentations (with a Key Binding JWT)
//! made here verify there; theirs verify here; tampered variants of theirs are refused here
//! with the specific error.
//!
//! Needs `npm ci` in `interop/` and the venv `interop/python/.venv` (scripts/test.sh
//! installs both); without them these tests fail and say so.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use jose::jwt::{Clock, SystemClock};
use jose::{Algorithm, Signer, SoftwareSigner, VerifyingKey, b64};
use sd_jwt::vc::{self, VcVerifier, VerifiedVc};
use sd_jwt::{
    ClaimPath, Frame, KbError, KbExpectation, KbInput, KeyBinding, KeyResolver, Limits, SdJwt,
    SystemSalts, VcError, VerifyError,
};
use serde_json::{Value, json};

const AUD: &str = "https://verifier.example.org";
const NONCE: &str = "n-0S6_WzA2Mj";
const VCT: &str = "https://credentials.example.com/identity_credential";
const ES256: &[Algorithm] = &[Algorithm::Es256];

fn interop() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../interop"))
}

fn node() -> Command {
    let dir = interop();
    assert!(
        dir.join("node_modules/@sd-jwt/sd-jwt-vc").is_dir(),
        "interop/node_modules is missing: run `npm ci` in interop/ (scripts/test.sh does)"
    );
    let mut c = Command::new("node");
    c.arg(dir.join("js/sd-jwt-vc.mjs")).current_dir(&dir);
    c
}

fn python() -> Command {
    let dir = interop().join("python");
    let py = dir.join(".venv/bin/python");
    assert!(
        py.is_file(),
        "interop/python/.venv is missing: create it and `pip install -r interop/python/requirements.txt` (scripts/test.sh does)"
    );
    let mut c = Command::new(py);
    c.arg(dir.join("sd_jwt_vc.py")).current_dir(&dir);
    c
}

/// Runs a peer script with `input` on stdin; its stdout as JSON.
fn run(mut command: Command, input: &Value) -> Value {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "peer script failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&out.stdout)))
}

#[derive(Clone, Copy, Debug)]
enum Peer {
    Js,
    Python,
}

impl Peer {
    fn run(self, input: &Value) -> Value {
        match self {
            Peer::Js => run(node(), input),
            Peer::Python => run(python(), input),
        }
    }
}

struct Keys {
    issuer: SoftwareSigner,
    holder: SoftwareSigner,
    verifier: VcVerifier,
}

impl Keys {
    fn new() -> Self {
        let issuer = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let holder = SoftwareSigner::generate(Algorithm::Es256).unwrap();
        let key = VerifyingKey::from_jwk(issuer.public_jwk()).unwrap();
        let verifier = VcVerifier::new(KeyResolver::new().with_key(key), ES256);
        Keys {
            issuer,
            holder,
            verifier,
        }
    }

    fn private(signer: &SoftwareSigner) -> Value {
        serde_json::from_str(&signer.to_private_jwk().unwrap().to_json()).unwrap()
    }

    fn verify(&self, text: &str, kb: KeyBinding<'_>) -> Result<VerifiedVc, VcError> {
        self.verifier.verify(text, kb, &SystemClock)
    }
}

fn required() -> KeyBinding<'static> {
    KeyBinding::Required(KbExpectation::new(AUD, NONCE, ES256))
}

/// The claims of the standard workload, plus an array with disclosable elements.
fn claims(holder: Option<&SoftwareSigner>) -> serde_json::Map<String, Value> {
    let now = SystemClock.now();
    let mut c = json!({
        "iss": "https://issuer.example.com", "iat": now - 10, "exp": now + 3600, "vct": VCT,
        "given_name": "Erika", "family_name": "Mustermann", "birthdate": "1964-08-12",
        "address": {"street_address": "Heidestrasse 17", "locality": "Koeln", "postal_code": "51147"},
        "nationalities": ["DE", "FR"]
    });
    if let Some(h) = holder {
        c["cnf"] = json!({"jwk": h.public_jwk().to_value()});
    }
    c.as_object().unwrap().clone()
}

fn paths(list: &[&str]) -> Vec<ClaimPath> {
    list.iter().map(|p| ClaimPath::parse(p).unwrap()).collect()
}

/// Issued here: given_name, family_name, birthdate, address (and its three members) and
/// both nationalities disclosable.
fn issue_here(keys: &Keys) -> String {
    let frame = Frame::from_paths(paths(&[
        "given_name",
        "family_name",
        "birthdate",
        "address",
        "address.street_address",
        "address.locality",
        "address.postal_code",
        "nationalities[*]",
    ]));
    vc::issue(
        claims(Some(&keys.holder)),
        &frame,
        &keys.issuer,
        &SystemSalts::new(),
        None,
    )
    .unwrap()
    .into_string()
}

/// Presented here: given_name, address.locality (brings address) and nationalities[1].
fn present_here(keys: &Keys, credential: &str) -> String {
    let sd = SdJwt::parse_issued(credential, &Limits::DEFAULT).unwrap();
    let mut p = sd.presenter().unwrap();
    for path in paths(&["given_name", "address.locality", "nationalities[1]"]) {
        p.select(&path).unwrap();
    }
    p.with_key_binding(&KbInput::new(AUD, NONCE, SystemClock.now()), &keys.holder)
        .unwrap()
}

fn peer_verify(peer: Peer, keys: &Keys, text: &str, kb: bool) -> Value {
    let mut input = json!({"op": "verify", "sd_jwt": text,
                           "issuer_jwk": keys.issuer.public_jwk().to_value()});
    if kb {
        input["aud"] = AUD.into();
        input["nonce"] = NONCE.into();
    }
    peer.run(&input)
}

fn ours_verifies_in(peer: Peer) {
    let keys = Keys::new();
    let credential = issue_here(&keys);
    let out = peer_verify(peer, &keys, &credential, false);
    assert_eq!(out["ok"], true, "{peer:?} refused our credential: {out}");
    assert_eq!(out["claims"]["address"]["postal_code"], "51147");
    assert_eq!(out["claims"]["nationalities"], json!(["DE", "FR"]));

    let presentation = present_here(&keys, &credential);
    let out = peer_verify(peer, &keys, &presentation, true);
    assert_eq!(out["ok"], true, "{peer:?} refused our presentation: {out}");
    let claims = &out["claims"];
    assert_eq!(claims["vct"], VCT);
    assert_eq!(claims["given_name"], "Erika");
    assert_eq!(claims["address"], json!({"locality": "Koeln"}));
    assert_eq!(claims["nationalities"], json!(["FR"]));
    assert!(claims.get("family_name").is_none() && claims.get("birthdate").is_none());

    // The peer refuses what it should: another nonce, and a dropped Disclosure (sd_hash).
    let mut other_nonce = json!({"op": "verify", "sd_jwt": presentation,
        "issuer_jwk": keys.issuer.public_jwk().to_value(), "aud": AUD, "nonce": "other"});
    assert_eq!(
        peer.run(&other_nonce)["ok"],
        false,
        "{peer:?} took another nonce"
    );
    let parts: Vec<&str> = presentation.split('~').collect();
    let dropped = [&parts[..1], &parts[2..]].concat().join("~");
    other_nonce["sd_jwt"] = dropped.into();
    other_nonce["nonce"] = NONCE.into();
    assert_eq!(
        peer.run(&other_nonce)["ok"],
        false,
        "{peer:?} took a broken sd_hash"
    );
}

#[test]
fn symbolon_credential_and_presentation_verify_in_sd_jwt_vc_js() {
    ours_verifies_in(Peer::Js);
}

#[test]
fn symbolon_credential_and_presentation_verify_in_python_sd_jwt() {
    ours_verifies_in(Peer::Python);
}

/// A credential and a presentation made by `peer`, checked here.
fn theirs(peer: Peer, keys: &Keys) -> (String, String) {
    let base = Value::Object(claims(None));
    let (issue, disclose) = match peer {
        Peer::Js => {
            let frame = json!({"_sd": ["given_name", "family_name", "birthdate", "address"],
                "address": {"_sd": ["street_address", "locality", "postal_code"]},
                "nationalities": {"_sd": [0, 1]}});
            let issue = json!({"op": "issue", "claims": base, "frame": frame});
            let disclose = json!({"given_name": true, "address": {"locality": true},
                                  "nationalities": {"1": true}});
            (issue, disclose)
        }
        Peer::Python => {
            let mut c = serde_json::Map::new();
            for (k, v) in base.as_object().unwrap() {
                match k.as_str() {
                    "given_name" | "family_name" | "birthdate" => {
                        c.insert(format!("!sd:{k}"), v.clone());
                    }
                    "address" => {
                        let inner: serde_json::Map<String, Value> = v
                            .as_object()
                            .unwrap()
                            .iter()
                            .map(|(n, x)| (format!("!sd:{n}"), x.clone()))
                            .collect();
                        c.insert("!sd:address".into(), Value::Object(inner));
                    }
                    "nationalities" => {
                        c.insert(k.clone(), json!([{"!sd": "DE"}, {"!sd": "FR"}]));
                    }
                    _ => {
                        c.insert(k.clone(), v.clone());
                    }
                }
            }
            let issue = json!({"op": "issue", "claims": c});
            let disclose = json!({"given_name": true, "address": {"locality": true},
                                  "nationalities": [false, true]});
            (issue, disclose)
        }
    };
    let mut issue = issue;
    issue["issuer_jwk"] = Keys::private(&keys.issuer);
    issue["holder_jwk"] = keys.holder.public_jwk().to_value();
    let credential = peer.run(&issue)["credential"].as_str().unwrap().to_owned();
    let presentation = peer.run(&json!({"op": "present", "credential": credential,
        "holder_jwk": Keys::private(&keys.holder), "frame": disclose, "disclose": disclose,
        "aud": AUD, "nonce": NONCE}))["presentation"]
        .as_str()
        .unwrap()
        .to_owned();
    (credential, presentation)
}

fn theirs_verify_here(peer: Peer) {
    let keys = Keys::new();
    let (credential, presentation) = theirs(peer, &keys);

    let all = keys.verify(&credential, KeyBinding::Forbidden).unwrap();
    assert_eq!(all.vct(), VCT);
    assert_eq!(all.claims()["address"]["street_address"], "Heidestrasse 17");
    assert_eq!(all.claims()["nationalities"], json!(["DE", "FR"]));
    assert_eq!(
        all.sd_jwt().disclosed().len(),
        9,
        "{:?}",
        all.sd_jwt().disclosed()
    );

    let shown = keys.verify(&presentation, required()).unwrap();
    let claims = shown.claims();
    assert_eq!(claims["given_name"], "Erika");
    assert_eq!(claims["address"], json!({"locality": "Koeln"}));
    assert_eq!(claims["nationalities"], json!(["FR"]));
    assert!(claims.get("family_name").is_none() && claims.get("birthdate").is_none());
    let kb = shown.sd_jwt().key_binding().unwrap();
    assert_eq!((kb.audience(), kb.nonce()), (AUD, NONCE));

    // Their credential presented by us verifies too.
    let ours = present_here(&keys, &credential);
    assert_eq!(
        keys.verify(&ours, required()).unwrap().claims()["nationalities"],
        json!(["FR"])
    );
}

#[test]
fn sd_jwt_vc_js_credential_and_presentation_verify_in_symbolon() {
    theirs_verify_here(Peer::Js);
}

#[test]
fn python_sd_jwt_credential_and_presentation_verify_in_symbolon() {
    theirs_verify_here(Peer::Python);
}

/// Tampered variants of a peer's presentation, each refused with its own error.
fn rejects_tampered(peer: Peer) {
    let keys = Keys::new();
    let (credential, presentation) = theirs(peer, &keys);
    let parts: Vec<&str> = presentation.split('~').collect();
    let (jwt, kb) = (parts[0], *parts.last().unwrap());

    // The Issuer-signed payload changed: the issuer signature no longer holds.
    let segments: Vec<&str> = jwt.split('.').collect();
    let mut payload: Value = serde_json::from_slice(&b64::decode(segments[1]).unwrap()).unwrap();
    payload["vct"] = "https://credentials.example.com/other".into();
    let forged_jwt = format!(
        "{}.{}.{}",
        segments[0],
        b64::encode(payload.to_string()),
        segments[2]
    );
    let forged = presentation.replacen(jwt, &forged_jwt, 1);
    assert!(
        matches!(
            keys.verify(&forged, required()),
            Err(VcError::Verify(VerifyError::IssuerSignature(_)))
        ),
        "{peer:?}: forged payload"
    );

    // A Disclosure dropped after signing (`given_name`, which nothing else hangs from):
    // `sd_hash` no longer covers what is sent.
    let given_name = parts
        .iter()
        .position(|p| {
            b64::decode(p).is_some_and(|d| String::from_utf8_lossy(&d).contains("\"given_name\""))
        })
        .unwrap();
    let mut kept = parts.clone();
    kept.remove(given_name);
    let dropped = kept.join("~");
    assert!(
        matches!(
            keys.verify(&dropped, required()),
            Err(VcError::Verify(VerifyError::KeyBinding(
                KbError::SdHashMismatch
            )))
        ),
        "{peer:?}: dropped disclosure"
    );

    // A Disclosure the credential does not reference.
    let stray = b64::encode(r#"["c2FsdHNhbHRzYWx0c2FsdA","given_name","Mallory"]"#);
    let added = presentation.replacen(&format!("{jwt}~"), &format!("{jwt}~{stray}~"), 1);
    assert!(
        matches!(
            keys.verify(&added, required()),
            Err(VcError::Verify(VerifyError::DisclosureNotReferenced(_)))
        ),
        "{peer:?}: stray disclosure"
    );

    // A KB-JWT signature with one bit flipped.
    let kb_segments: Vec<&str> = kb.split('.').collect();
    let mut sig = b64::decode(kb_segments[2]).unwrap();
    sig[7] ^= 1;
    let bad_sig = format!(
        "{}.{}.{}",
        kb_segments[0],
        kb_segments[1],
        b64::encode(&sig)
    );
    let flipped = presentation.replacen(kb, &bad_sig, 1);
    assert!(
        matches!(
            keys.verify(&flipped, required()),
            Err(VcError::Verify(VerifyError::KeyBinding(
                KbError::Signature(_)
            )))
        ),
        "{peer:?}: KB-JWT signature"
    );

    // The KB-JWT removed although key binding is required.
    let stripped = presentation.strip_suffix(kb).unwrap();
    assert!(
        matches!(
            keys.verify(stripped, required()),
            Err(VcError::Verify(VerifyError::KeyBinding(
                KbError::KbJwtMissing
            )))
        ),
        "{peer:?}: KB-JWT stripped"
    );

    // Another verifier's nonce and audience.
    let other = KeyBinding::Required(KbExpectation::new(AUD, "another-nonce", ES256));
    assert!(matches!(
        keys.verify(&presentation, other),
        Err(VcError::Verify(VerifyError::KeyBinding(
            KbError::NonceMismatch
        )))
    ));
    let other = KeyBinding::Required(KbExpectation::new("https://other.example", NONCE, ES256));
    assert!(matches!(
        keys.verify(&presentation, other),
        Err(VcError::Verify(VerifyError::KeyBinding(
            KbError::AudienceMismatch
        )))
    ));

    // The presentation's KB-JWT put on the full credential.
    let replayed = format!("{credential}{kb}");
    assert!(
        matches!(
            keys.verify(&replayed, required()),
            Err(VcError::Verify(VerifyError::KeyBinding(
                KbError::SdHashMismatch
            )))
        ),
        "{peer:?}: KB-JWT moved to another selection"
    );

    // Signed by a key other than the configured Issuer key.
    let stranger = Keys::new();
    assert!(
        matches!(
            stranger.verify(&presentation, required()),
            Err(VcError::Verify(VerifyError::IssuerSignature(_)))
        ),
        "{peer:?}: unknown issuer"
    );
}

#[test]
fn rejects_tampered_sd_jwt_vc_js_presentations() {
    rejects_tampered(Peer::Js);
}

#[test]
fn rejects_tampered_python_sd_jwt_presentations() {
    rejects_tampered(Peer::Python);
}
