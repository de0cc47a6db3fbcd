//! `symbolon config check --mode=…` against `symbolon serve --mode=…`, both through the
//! real binary: for each configuration, the two give the same verdict (and, when they
//! refuse, the same error), because the check runs the roles' own start-up checks.

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::free_port;

/// The environment variable the test configurations read the issuer's KEK from.
const KEK_VAR: &str = "CONFIG_CHECK_TEST_KEK";

/// The binary with a clean environment: no `SYMBOLON_*` or `RUST_LOG` from the shell.
fn symbolon() -> Command {
    let mut command = common::symbolon();
    let mut kek = [0u8; 32];
    aws_lc_rs::rand::fill(&mut kek).unwrap();
    command.env(KEK_VAR, jose::b64::encode(kek));
    command
}

/// `config check --mode=<mode>`: `Ok(stdout)` on exit 0, `Err(stderr)` on exit 1.
fn check(mode: &str, config: &Path) -> Result<String, String> {
    let out = symbolon()
        .args(["config", "check", &format!("--mode={mode}"), "--config"])
        .arg(config)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    match out.status.code() {
        Some(0) => Ok(stdout),
        Some(1) => Err(stderr),
        other => panic!("config check exited with {other:?}: {stderr}"),
    }
}

/// `serve --mode=<mode>`: `Ok(())` once it listens (then it is stopped), `Err(stderr)`
/// when it exits 1 before listening.
fn serve(mode: &str, config: &Path) -> Result<(), String> {
    let mut child = symbolon()
        .args(["serve", &format!("--mode={mode}"), "--config"])
        .arg(config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    let listening = loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            break false;
        };
        match lines.recv_timeout(left) {
            Ok(line) if line.contains("listening") => break true,
            Ok(line) => seen.push(line),
            // stderr closed: the process ended.
            Err(mpsc::RecvTimeoutError::Disconnected) => break false,
            Err(mpsc::RecvTimeoutError::Timeout) => break false,
        }
    };
    if listening {
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let status = child.wait().unwrap();
        assert!(status.success(), "serve did not stop cleanly: {status:?}");
        return Ok(());
    }
    let _ = child.kill();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "serve: {}", seen.join("\n"));
    Err(seen.join("\n"))
}

/// The `error: …` line of a refusal.
fn error_line(stderr: &str) -> String {
    stderr
        .lines()
        .find(|l| l.starts_with("error:"))
        .unwrap_or_else(|| panic!("no error line in {stderr}"))
        .to_owned()
}

/// Both commands refuse `config` for `mode`, with the same error naming `key`; and
/// `config check` without `--mode` (which only parses the sections) still accepts it.
fn both_refuse(mode: &str, config: &Path, key: &str) {
    let checked = check(mode, config).expect_err("config check --mode must refuse");
    let served = serve(mode, config).expect_err("serve must refuse");
    assert!(checked.contains(key), "{checked}");
    assert_eq!(error_line(&checked), error_line(&served));
    let out = symbolon()
        .args(["config", "check", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A configuration `serve --mode=issuer` starts with; `edit` changes it.
fn issuer_config(dir: &Path, edit: impl FnOnce(String) -> String) -> std::path::PathBuf {
    let text = format!(
        "data_dir = {data:?}\n\
         [server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"https://issuer.example\"\n\
         [issuer]\nadmin_token = \"config-check-admin\"\n\
         [issuer.keys]\nkek = {{ key = {{ env = \"{KEK_VAR}\" }} }}\n\
         [issuer.attestation]\njwks_file = {jwks:?}\n\
         [issuer.credentials.pass]\nvct = \"https://issuer.example/vct/pass\"\n",
        data = dir.join("data").display().to_string(),
        port = free_port(),
        jwks = dir.join("attester-jwks.json").display().to_string(),
    );
    let path = dir.join("issuer.toml");
    std::fs::write(&path, edit(text)).unwrap();
    path
}

#[test]
fn issue10_config_check_mode_issuer_gives_the_serve_verdict() {
    let dir = tempfile::tempdir().unwrap();

    // The unchanged configuration: both accept it (and serve really starts).
    let good = issuer_config(dir.path(), |t| t);
    let stdout = check("issuer", &good).unwrap();
    assert!(
        stdout.contains("start-up checks of --mode=issuer passed"),
        "{stdout}"
    );
    assert!(stdout.contains("[issuer.credentials.pass]"), "{stdout}");
    serve("issuer", &good).unwrap();

    // 1. A public URL that is plain http to a non-loopback host.
    let config = issuer_config(dir.path(), |t| {
        t.replace("https://issuer.example\"", "http://issuer.example\"")
    });
    both_refuse("issuer", &config, "server.public_url");

    // 2. No attestation trust at all.
    let config = issuer_config(dir.path(), |t| {
        t.replace("[issuer.attestation]\n", "")
            .lines()
            .filter(|l| !l.starts_with("jwks_file"))
            .collect::<Vec<_>>()
            .join("\n")
    });
    both_refuse("issuer", &config, "issuer.attestation.jwks_file");

    // 3. Software keys without a KEK.
    let config = issuer_config(dir.path(), |t| {
        t.lines()
            .filter(|l| !l.starts_with("kek"))
            .collect::<Vec<_>>()
            .join("\n")
    });
    both_refuse("issuer", &config, "issuer.keys.kek");
}

/// A configuration `serve --mode=verifier` starts with (no signing key: only the
/// `redirect_uri` prefix); `extra` goes into `[verifier]`.
fn plain_verifier_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let text = format!(
        "data_dir = {data:?}\n\
         [server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"https://verifier.example\"\n\
         [verifier]\nrp_token = \"config-check-rp\"\n{extra}\n\
         [verifier.issuers.school]\niss = \"https://issuer.example\"\nmetadata = true\n\
         [verifier.policies.pass]\ntrusted_issuers = [\"school\"]\n\
         dcql_query = {{ credentials = [{{ id = \"pass\", format = \"dc+sd-jwt\", meta = {{ vct_values = [\"urn:example:pass\"] }} }}] }}\n",
        data = dir.join("data").display().to_string(),
        port = free_port(),
    );
    let path = dir.join("plain-verifier.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn issue10_config_check_mode_verifier_and_attester_give_the_serve_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let good = plain_verifier_config(dir.path(), "");
    check("verifier", &good).unwrap();
    serve("verifier", &good).unwrap();

    // An x509 prefix with no certificate to carry it.
    let config = plain_verifier_config(dir.path(), "client_id_prefix = \"x509_hash\"");
    both_refuse("verifier", &config, "verifier.certificate");
    // A certificate without the key that signs with it.
    let config = plain_verifier_config(dir.path(), "certificate = \"verifier.pem\"");
    both_refuse("verifier", &config, "verifier.signing_key");

    // The attester alone needs its A-Key configured.
    let attester = dir.path().join("attester.toml");
    std::fs::write(
        &attester,
        format!(
            "data_dir = {:?}\n[server]\npublic_url = \"https://attester.example\"\n",
            dir.path().join("data").display().to_string()
        ),
    )
    .unwrap();
    both_refuse("attester", &attester, "attester.pkcs11");
}

#[test]
fn issue11_rp_token_from_a_file_or_variable_is_read_by_serve_not_by_config_check() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(plain_verifier_config(dir.path(), "")).unwrap();
    let with_token = |form: &str| {
        let path = dir.path().join("token-verifier.toml");
        let edited = text.replace(
            "rp_token = \"config-check-rp\"",
            &format!("rp_token = {form}"),
        );
        assert_ne!(edited, text);
        std::fs::write(&path, edited).unwrap();
        path
    };
    let token_file = dir.path().join("rp-token");
    std::fs::write(&token_file, "from-a-file\n").unwrap();
    let config = with_token(&format!(
        "{{ file = {:?} }}",
        token_file.display().to_string()
    ));
    check("verifier", &config).unwrap();
    serve("verifier", &config).unwrap();
    // `symbolon()` sets this variable for every run of this file.
    let config = with_token(&format!("{{ env = \"{KEK_VAR}\" }}"));
    check("verifier", &config).unwrap();
    serve("verifier", &config).unwrap();
    // A file that is not there: `config check` reads no secret and accepts it; `serve`
    // refuses naming the key and the file.
    let config = with_token("{ file = \"/nonexistent/issue11/rp-token\" }");
    check("verifier", &config).unwrap();
    let refused = error_line(&serve("verifier", &config).unwrap_err());
    assert!(
        refused.contains("verifier.rp_token") && refused.contains("/nonexistent/issue11/rp-token"),
        "{refused}"
    );
}

/// A verifier trusting an issuer found through JWT VC Issuer Metadata of a loopback
/// `http://` identifier; `allow_loopback` is written when given.
fn verifier_config(dir: &Path, allow_loopback: Option<bool>) -> std::path::PathBuf {
    let allow = allow_loopback
        .map(|a| format!("[verifier.status_list]\nallow_loopback = {a}\n"))
        .unwrap_or_default();
    let text = format!(
        "data_dir = {data:?}\n\
         [server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"https://verifier.example\"\n\
         [verifier]\nrp_token = \"config-check-rp\"\n{allow}\
         [verifier.issuers.local]\niss = \"http://127.0.0.1:9/issuer\"\nmetadata = true\n\
         [verifier.policies.pass]\ntrusted_issuers = [\"local\"]\n\
         dcql_query = {{ credentials = [{{ id = \"pass\", format = \"dc+sd-jwt\", meta = {{ vct_values = [\"urn:example:pass\"] }} }}] }}\n",
        data = dir.join("data").display().to_string(),
        port = free_port(),
    );
    let path = dir.join("verifier.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn issue10_metadata_of_a_loopback_http_issuer_is_refused_at_start_unless_loopback_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    // Outside --mode=all, http to loopback is off by default: such an issuer could never
    // be reached, so both commands refuse the configuration instead of every presentation.
    for allow in [None, Some(false)] {
        let config = verifier_config(dir.path(), allow);
        both_refuse("verifier", &config, "allow_loopback");
    }
    // Allowed: both accept it (the presentations themselves are tested in the verifier's
    // router tests).
    let config = verifier_config(dir.path(), Some(true));
    check("verifier", &config).unwrap();
    serve("verifier", &config).unwrap();
}

#[test]
fn issue10_rejects_a_same_device_policy_without_success_redirect() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("verifier.toml");
    std::fs::write(
        &path,
        "[verifier.issuers.school]\niss = \"https://issuer.example\"\nmetadata = true\n\
         [verifier.policies.pass]\ntrusted_issuers = [\"school\"]\nflow = \"same_device\"\n\
         dcql_query = { credentials = [{ id = \"pass\", format = \"dc+sd-jwt\", meta = { vct_values = [\"urn:example:pass\"] } }] }\n",
    )
    .unwrap();
    let out = symbolon()
        .args(["config", "check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("verifier.policies.pass.flow")
            && stderr.contains("verifier.policies.pass.success_redirect"),
        "{stderr}"
    );
    // With a redirect the same policy is fine.
    let text = std::fs::read_to_string(&path).unwrap().replace(
        "flow = \"same_device\"\n",
        "flow = \"same_device\"\nsuccess_redirect = \"https://rp.example/done\"\n",
    );
    std::fs::write(&path, text).unwrap();
    let out = symbolon()
        .args(["config", "check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("flow = \"same_device\"")
    );
}

#[test]
fn issue10_config_check_prints_365d_as_365d() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("issuer.toml");
    std::fs::write(
        &path,
        "[issuer.credentials.pass]\nvct = \"https://issuer.example/vct/pass\"\nvalidity = \"365d\"\n\
         [issuer.keys]\nrotation_period = \"36h\"\n",
    )
    .unwrap();
    let out = symbolon()
        .args(["config", "check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: toml::Table = toml::from_str(&stdout).unwrap();
    let issuer = &printed["issuer"];
    assert_eq!(
        issuer["credentials"]["pass"]["validity"].as_str(),
        Some("365d")
    );
    assert_eq!(issuer["keys"]["rotation_period"].as_str(), Some("1d 12h"));
    assert!(!stdout.contains("months"), "{stdout}");
}
