//! End-to-end tests of `symbolon sd-jwt issue|present|verify|decode`: each runs the real
//! binary with key and claims files in a temporary directory and checks the exit code
//! (0 valid, 1 refused with the reason on stderr, 2 usage), stdout and stderr.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use serde_json::{Value, json};

mod common;
use common::symbolon;

const VCT: &str = "https://credentials.example.com/identity_credential";
const ISS: &str = "https://issuer.example.com";
const AUD: &str = "https://verifier.example.org";
const NONCE: &str = "1234567890";

/// Runs `symbolon sd-jwt <args>` with `stdin` (or nothing) on standard input.
fn sd_jwt(args: &[&str], stdin: Option<&str>) -> (i32, String, String) {
    let mut child = symbolon()
        .arg("sd-jwt")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut input = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).unwrap();
        }
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().unwrap();
    (
        status.code().expect("exited normally"),
        String::from_utf8(stdout).unwrap(),
        String::from_utf8(stderr).unwrap(),
    )
}

/// Keys and claims in a temporary directory.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for name in ["issuer", "holder", "other"] {
            let out = symbolon()
                .args(["jwk", "generate", "--out"])
                .arg(dir.path().join(format!("{name}.jwk")))
                .output()
                .unwrap();
            assert!(out.status.success());
            std::fs::write(dir.path().join(format!("{name}.pub.jwk")), &out.stdout).unwrap();
        }
        let claims = json!({
            "given_name": "Erika",
            "family_name": "Mustermann",
            "birthdate": "1964-08-12",
            "address": {"street_address": "Heidestrasse 17", "locality": "Koeln"},
            "nationalities": ["DE", "FR"]
        });
        std::fs::write(dir.path().join("claims.json"), claims.to_string()).unwrap();
        Fixture { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    fn write(&self, name: &str, text: &str) -> String {
        std::fs::write(self.dir.path().join(name), text).unwrap();
        self.path(name)
    }

    fn issue(&self, extra: &[&str]) -> (i32, String, String) {
        let (issuer, holder, claims) = (
            self.path("issuer.jwk"),
            self.path("holder.pub.jwk"),
            self.path("claims.json"),
        );
        let mut args = vec![
            "issue",
            "--issuer-key",
            &issuer,
            "--holder-jwk",
            &holder,
            "--claims",
            &claims,
            "--vct",
            VCT,
            "--iss",
            ISS,
        ];
        args.extend_from_slice(extra);
        sd_jwt(&args, None)
    }

    /// A credential with every claim disclosable, saved as `cred.txt`.
    fn credential(&self) -> String {
        let (code, stdout, stderr) = self.issue(&["--sd-all"]);
        assert_eq!(code, 0, "{stderr}");
        self.write("cred.txt", stdout.trim())
    }

    fn present(&self, credential: &str, disclose: &str) -> (i32, String, String) {
        let key = self.path("holder.jwk");
        sd_jwt(
            &[
                "present",
                "--holder-key",
                &key,
                "--disclose",
                disclose,
                "--aud",
                AUD,
                "--nonce",
                NONCE,
                credential,
            ],
            None,
        )
    }

    /// A presentation of `given_name` and `address.locality`, saved as `pres.txt`.
    fn presentation(&self) -> String {
        let cred = self.credential();
        let (code, stdout, stderr) = self.present(&cred, "given_name,address.locality");
        assert_eq!(code, 0, "{stderr}");
        self.write("pres.txt", stdout.trim())
    }

    fn verify(&self, extra: &[&str], file: &str) -> (i32, String, String) {
        let key = self.path("issuer.pub.jwk");
        let mut args = vec!["verify", "--issuer-jwk", &key];
        args.extend_from_slice(extra);
        args.push(file);
        sd_jwt(&args, None)
    }
}

/// The strings of a JSON array, sorted (Disclosures follow the order of their digests).
fn sorted(list: &Value) -> Vec<&str> {
    let mut out: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    out.sort_unstable();
    out
}

fn vector(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sd-jwt/tests/vectors")
        .join(name)
}

#[test]
fn issue_present_verify_round_trip_with_key_binding() {
    let f = Fixture::new();
    let pres = f.presentation();
    let (code, stdout, stderr) = f.verify(&["--aud", AUD, "--nonce", NONCE, "--require-kb"], &pres);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("\n  \"claims\""), "readable form: {stdout}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    let claims = &out["claims"];
    assert_eq!(claims["vct"], VCT);
    assert_eq!(claims["iss"], ISS);
    assert!(claims["iat"].is_i64());
    assert_eq!(claims["given_name"], "Erika");
    assert_eq!(claims["address"], json!({"locality": "Koeln"}));
    for hidden in ["family_name", "birthdate", "nationalities"] {
        assert!(claims.get(hidden).is_none(), "{hidden} was not disclosed");
    }
    assert_eq!(
        sorted(&out["disclosed"]),
        ["address", "address.locality", "given_name"]
    );
    let holder: Value =
        serde_json::from_str(&std::fs::read_to_string(f.path("holder.pub.jwk")).unwrap()).unwrap();
    assert_eq!(claims["cnf"]["jwk"]["x"], holder["x"]);
    assert_eq!(out["kb"]["header"]["typ"], "kb+jwt");
    assert_eq!(out["kb"]["claims"]["aud"], AUD);
    assert_eq!(out["kb"]["claims"]["nonce"], NONCE);
}

#[test]
fn verify_reads_stdin_and_json_prints_one_line() {
    let f = Fixture::new();
    let pres = std::fs::read_to_string(f.presentation()).unwrap();
    let key = f.path("issuer.pub.jwk");
    let (code, stdout, stderr) = sd_jwt(
        &[
            "--json",
            "verify",
            "--issuer-jwk",
            &key,
            "--aud",
            AUD,
            "--nonce",
            NONCE,
            "-",
        ],
        Some(&pres),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["claims"]["given_name"], "Erika");
}

#[test]
fn verify_of_an_issued_credential_shows_every_claim() {
    let f = Fixture::new();
    let cred = f.credential();
    let (code, stdout, stderr) = f.verify(&[], &cred);
    assert_eq!(code, 0, "{stderr}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["claims"]["nationalities"], json!(["DE", "FR"]));
    assert_eq!(
        out["claims"]["address"]["street_address"],
        "Heidestrasse 17"
    );
    assert_eq!(out["kb"], Value::Null);
}

#[test]
fn issue_sd_all_makes_every_claim_disclosable_but_the_vc_reserved_ones() {
    let f = Fixture::new();
    let (code, stdout, stderr) = sd_jwt(
        &[
            "--json",
            "issue",
            "--issuer-key",
            &f.path("issuer.jwk"),
            "--holder-jwk",
            &f.path("holder.pub.jwk"),
            "--claims",
            &f.path("claims.json"),
            "--vct",
            VCT,
            "--sd-all",
        ],
        None,
    );
    assert_eq!(code, 0, "{stderr}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        out["disclosable"],
        json!([
            "given_name",
            "family_name",
            "birthdate",
            "address",
            "address.street_address",
            "address.locality",
            "nationalities",
            "nationalities[0]",
            "nationalities[1]"
        ])
    );
    let (code, stdout, stderr) = sd_jwt(&["decode"], Some(out["sd_jwt"].as_str().unwrap()));
    assert_eq!(code, 0, "{stderr}");
    let decoded: Value = serde_json::from_str(&stdout).unwrap();
    let payload = decoded["payload"].as_object().unwrap();
    let mut visible: Vec<&str> = payload.keys().map(String::as_str).collect();
    visible.sort_unstable();
    assert_eq!(visible, ["_sd", "_sd_alg", "cnf", "iat", "vct"]);
    assert_eq!(decoded["header"]["typ"], "dc+sd-jwt");
    assert_eq!(decoded["disclosures"].as_array().unwrap().len(), 9);
    assert_eq!(decoded["claims"]["address"]["locality"], "Koeln");
}

#[test]
fn issue_sd_paths_leave_other_claims_visible() {
    let f = Fixture::new();
    let (code, stdout, stderr) = f.issue(&["--sd", "birthdate,address.locality"]);
    assert_eq!(code, 0, "{stderr}");
    let (_, stdout, _) = sd_jwt(&["--json", "decode"], Some(stdout.trim()));
    let decoded: Value = serde_json::from_str(&stdout).unwrap();
    let payload = &decoded["payload"];
    assert_eq!(payload["given_name"], "Erika");
    assert!(payload.get("birthdate").is_none());
    assert_eq!(payload["address"]["street_address"], "Heidestrasse 17");
    assert!(payload["address"].get("locality").is_none());
    let names: Vec<&str> = decoded["disclosures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"birthdate") && names.contains(&"locality"));
}

#[test]
fn present_json_lists_the_disclosed_paths() {
    let f = Fixture::new();
    let cred = f.credential();
    let key = f.path("holder.jwk");
    let (code, stdout, stderr) = sd_jwt(
        &[
            "--json",
            "present",
            "--holder-key",
            &key,
            "--disclose",
            "address",
            "--aud",
            AUD,
            "--nonce",
            NONCE,
            &cred,
        ],
        None,
    );
    assert_eq!(code, 0, "{stderr}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        sorted(&out["disclosed"]),
        ["address", "address.locality", "address.street_address"]
    );
    assert!(out["presentation"].as_str().unwrap().split('~').count() == 5);
}

#[test]
fn decode_shows_the_key_binding_jwt_without_verifying() {
    let f = Fixture::new();
    let pres = f.presentation();
    let (code, stdout, stderr) = sd_jwt(&["decode", &pres], None);
    assert_eq!(code, 0, "{stderr}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["verified"], false);
    assert_eq!(out["kb"]["header"]["typ"], "kb+jwt");
    assert_eq!(out["kb"]["payload"]["nonce"], NONCE);
    assert_eq!(out["claims"]["address"], json!({"locality": "Koeln"}));
}

#[test]
fn rfc9901_5_presentation_verifies_with_plain_and_key_binding() {
    let presentation = vector("rfc9901_5_presentation.txt");
    let key = vector("rfc9901_issuer_key.json");
    let (code, stdout, stderr) = sd_jwt(
        &[
            "verify",
            "--plain",
            "--issuer-jwk",
            key.to_str().unwrap(),
            "--aud",
            AUD,
            "--nonce",
            NONCE,
            "--require-kb",
            // The example's KB-JWT dates from 2025.
            "--kb-max-age",
            "4000000000",
            presentation.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code, 0, "{stderr}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(vector("rfc9901_5_processed.json")).unwrap())
            .unwrap();
    assert_eq!(out["claims"], expected);
    assert_eq!(out["kb"]["claims"]["iat"], 1748537243);
}

#[test]
fn rfc9901_5_issued_decodes_to_every_claim() {
    let issued = vector("rfc9901_5_issued.txt");
    let (code, stdout, stderr) = sd_jwt(&["decode", issued.to_str().unwrap()], None);
    assert_eq!(code, 0, "{stderr}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["header"]["typ"], "example+sd-jwt");
    assert_eq!(out["disclosures"].as_array().unwrap().len(), 10);
    assert_eq!(out["claims"]["nationalities"], json!(["US", "DE"]));
    assert_eq!(out["claims"]["address"]["locality"], "Anytown");
    assert_eq!(out["kb"], Value::Null);
}

// ----- refusals -----

/// Exit 1, nothing on stdout, and `reason` on stderr.
fn refused((code, stdout, stderr): (i32, String, String), reason: &str) {
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains(reason), "{stderr}");
}

#[test]
fn rejects_an_rfc9901_example_as_sd_jwt_vc_without_plain() {
    let issued = vector("rfc9901_5_issued.txt");
    let key = vector("rfc9901_issuer_key.json");
    refused(
        sd_jwt(
            &[
                "verify",
                "--issuer-jwk",
                key.to_str().unwrap(),
                issued.to_str().unwrap(),
            ],
            None,
        ),
        "`typ` must be `dc+sd-jwt`",
    );
}

#[test]
fn rejects_a_wrong_nonce() {
    let f = Fixture::new();
    let pres = f.presentation();
    refused(
        f.verify(&["--aud", AUD, "--nonce", "other"], &pres),
        "KB-JWT `nonce` does not match",
    );
}

#[test]
fn rejects_a_wrong_audience() {
    let f = Fixture::new();
    let pres = f.presentation();
    refused(
        f.verify(&["--aud", "https://other.example", "--nonce", NONCE], &pres),
        "KB-JWT `aud` does not match",
    );
}

#[test]
fn rejects_a_key_binding_jwt_it_was_not_asked_to_check() {
    let f = Fixture::new();
    let pres = f.presentation();
    refused(f.verify(&[], &pres), "pass --aud and --nonce");
}

#[test]
fn rejects_a_missing_key_binding_jwt_when_required() {
    let f = Fixture::new();
    let cred = f.credential();
    refused(
        f.verify(&["--aud", AUD, "--nonce", NONCE, "--require-kb"], &cred),
        "no KB-JWT was presented",
    );
}

#[test]
fn rejects_a_tampered_disclosure() {
    let f = Fixture::new();
    let pres = std::fs::read_to_string(f.presentation()).unwrap();
    // Swap the first Disclosure for one with another salt: its digest is nowhere.
    let mut parts: Vec<String> = pres.split('~').map(str::to_owned).collect();
    parts[1] = base64_url(&json!(["AAAAAAAAAAAAAAAAAAAAAA", "given_name", "Mallory"]).to_string());
    let tampered = f.write("tampered.txt", &parts.join("~"));
    refused(
        f.verify(&["--aud", AUD, "--nonce", NONCE], &tampered),
        "is not referenced",
    );
}

#[test]
fn rejects_a_credential_signed_by_another_key() {
    let f = Fixture::new();
    let cred = f.credential();
    let key = f.path("other.pub.jwk");
    refused(
        sd_jwt(&["verify", "--issuer-jwk", &key, &cred], None),
        "invalid SD-JWT VC: issuer key",
    );
}

#[test]
fn rejects_a_private_key_where_the_public_jwk_goes() {
    let f = Fixture::new();
    let cred = f.credential();
    let key = f.path("issuer.jwk");
    refused(
        sd_jwt(&["verify", "--issuer-jwk", &key, &cred], None),
        "is not a public JWK",
    );
}

#[test]
fn rejects_presenting_with_a_key_other_than_cnf() {
    let f = Fixture::new();
    let cred = f.credential();
    let key = f.path("other.jwk");
    refused(
        sd_jwt(
            &[
                "present",
                "--holder-key",
                &key,
                "--disclose",
                "given_name",
                "--aud",
                AUD,
                "--nonce",
                NONCE,
                &cred,
            ],
            None,
        ),
        "not the credential's `cnf.jwk`",
    );
}

#[test]
fn rejects_disclosing_a_claim_that_does_not_exist() {
    let f = Fixture::new();
    let cred = f.credential();
    refused(
        f.present(&cred, "given_name,middle_name"),
        "claim middle_name does not exist",
    );
}

#[test]
fn rejects_presenting_a_presentation() {
    let f = Fixture::new();
    let pres = f.presentation();
    refused(
        f.present(&pres, "given_name"),
        "must not carry a key binding JWT",
    );
}

#[test]
fn rejects_a_claims_file_that_sets_vct() {
    let f = Fixture::new();
    f.write("claims.json", r#"{"vct":"urn:other","given_name":"Erika"}"#);
    refused(f.issue(&[]), "the claims file sets `vct`");
}

#[test]
fn rejects_a_claims_file_that_is_not_an_object() {
    let f = Fixture::new();
    f.write("claims.json", "[1, 2]");
    refused(f.issue(&[]), "is not a JSON object");
}

#[test]
fn rejects_making_a_vc_reserved_claim_disclosable() {
    let f = Fixture::new();
    refused(
        f.issue(&["--sd", "given_name,vct"]),
        "claim `vct` must not be selectively disclosable",
    );
}

#[test]
fn rejects_an_sd_path_that_names_no_claim() {
    let f = Fixture::new();
    refused(
        f.issue(&["--sd", "address.city"]),
        "frame path address.city does not exist",
    );
}

#[test]
fn rejects_a_malformed_sd_path() {
    let f = Fixture::new();
    refused(
        f.issue(&["--sd", "address..city"]),
        "invalid claim path `address..city`",
    );
}

#[test]
fn rejects_sd_together_with_sd_all_as_usage_error() {
    let f = Fixture::new();
    let (code, _, stderr) = f.issue(&["--sd", "given_name", "--sd-all"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
}

#[test]
fn rejects_require_kb_without_aud_and_nonce_as_usage_error() {
    let f = Fixture::new();
    let cred = f.credential();
    let (code, _, stderr) = f.verify(&["--require-kb"], &cred);
    assert_eq!(code, 2);
    assert!(stderr.contains("--aud"), "{stderr}");
}

#[test]
fn rejects_decoding_garbage() {
    refused(
        sd_jwt(&["decode", "-"], Some("not.an.sd-jwt")),
        "no `~` separator",
    );
}

#[test]
fn rejects_decoding_an_unreferenced_disclosure_but_shows_the_parts() {
    let f = Fixture::new();
    let cred = std::fs::read_to_string(f.credential()).unwrap();
    let extra = base64_url(&json!(["AAAAAAAAAAAAAAAAAAAAAA", "extra", 1]).to_string());
    // The parts still go to stdout: this refusal is the one that prints.
    let (code, stdout, stderr) = sd_jwt(&["decode"], Some(&format!("{cred}{extra}~")));
    assert_eq!(code, 1);
    assert!(stderr.contains("is not referenced"), "{stderr}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["claims"], Value::Null);
    assert_eq!(out["disclosures"].as_array().unwrap().len(), 10);
}

/// Unpadded base64url, written out so the test does not depend on the code under test.
fn base64_url(text: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = text.as_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
        }
    }
    out
}
