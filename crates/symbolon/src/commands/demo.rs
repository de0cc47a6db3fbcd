//! `symbolon demo`: starts the `--mode=all` platform in this process on a free loopback
//! port (data in a temporary directory, or `--data-dir`), then walks the story with the
//! wallet core, printing what crossed the wire (abbreviated):
//!
//! 1. the school offers an IMMERSE classroom pass → attestation → token → credential;
//! 2. the classroom asks for it → consent with the recommended claims → access granted;
//! 3. the school revokes it → the same presentation is refused;
//! 4. with a fresh pass the holder withholds the essential `course` → access denied.
//!
//! Exit status 1 when any outcome differs from the expected one.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use jose::Signer;
use serde_json::{Value, json};
use wallet::presentation::consent::parse_dotted;
use wallet::{Exchange, HeldCredential, Wallet};

use crate::commands::serve::build_app;
use crate::config;
use crate::mode::{self, Role};

/// `symbolon demo`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Keep the platform's data here instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print the wire exchanges in full instead of abbreviated.
    #[arg(long)]
    verbose: bool,
}

const RP_TOKEN: &str = "symbolon-demo-rp-token";

/// Runs the demo.
pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(demo(args))
}

fn abbreviate(text: &str, verbose: bool) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if verbose || one_line.chars().count() <= 160 {
        return one_line;
    }
    let head: String = one_line.chars().take(150).collect();
    format!("{head}… ({} bytes)", text.len())
}

fn observer(verbose: bool) -> wallet::Observer {
    Arc::new(move |e: &Exchange| {
        // The observer cannot fail the flow; a closed standard output ends the demo at
        // its next step line instead.
        let _ = show_exchange(e, verbose);
    })
}

fn show_exchange(e: &Exchange, verbose: bool) -> anyhow::Result<()> {
    outln!("    → {} {}  ({})", e.method, e.url, e.what)?;
    for (k, v) in &e.request_headers {
        if k.starts_with("OAuth-Client-Attestation") || k == "Authorization" || k == "DPoP" {
            outln!("        {k}: {}", abbreviate(v, verbose))?;
        }
    }
    if let Some(body) = &e.request_body
        && !body.is_empty()
    {
        outln!("        {}", abbreviate(body, verbose))?;
    }
    outln!(
        "    ← {}  {}",
        e.status,
        abbreviate(&e.response_body, verbose)
    )?;
    Ok(())
}

struct Platform {
    base: String,
    admin: String,
    http: reqwest::Client,
}

impl Platform {
    async fn offer(&self) -> anyhow::Result<String> {
        let r: Value = self
            .http
            .post(format!("{}/issuer/admin/offers", self.base))
            .bearer_auth(&self.admin)
            .json(&json!({
                "credential_configuration_ids": [issuer::demo::CLASSROOM_PASS_ID],
                "claims": issuer::demo::example_claims(),
            }))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        r.get("offer_uri")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .context("the issuer returned no offer_uri")
    }

    async fn transaction(&self) -> anyhow::Result<(String, String)> {
        let r: Value = self
            .http
            .post(format!("{}/verifier/transactions", self.base))
            .bearer_auth(RP_TOKEN)
            .json(
                &json!({"client_id_prefix": "x509_san_dns", "request_uri_method": "post",
                          "response_mode": "direct_post.jwt"}),
            )
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = r
            .get("transaction_id")
            .and_then(Value::as_str)
            .context("no transaction_id")?;
        let link = r
            .get("authorization_request")
            .and_then(Value::as_str)
            .context("no authorization_request")?;
        Ok((id.to_owned(), link.to_owned()))
    }

    async fn result(&self, id: &str) -> anyhow::Result<Value> {
        Ok(self
            .http
            .get(format!("{}/verifier/transactions/{id}", self.base))
            .bearer_auth(RP_TOKEN)
            .send()
            .await?
            .json()
            .await?)
    }

    async fn revoke(&self, holder: &dyn Signer) -> anyhow::Result<usize> {
        let list: Value = self
            .http
            .get(format!("{}/issuer/admin/credentials", self.base))
            .bearer_auth(&self.admin)
            .send()
            .await?
            .json()
            .await?;
        let jkt = holder.public_jwk().thumbprint();
        let mut n = 0;
        for c in list
            .get("credentials")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if c.get("holder_key_thumbprint").and_then(Value::as_str) == Some(jkt.as_str())
                && let Some(id) = c.get("id").and_then(Value::as_str)
            {
                self.http
                    .post(format!(
                        "{}/issuer/admin/credentials/{id}/status",
                        self.base
                    ))
                    .bearer_auth(&self.admin)
                    .json(&json!({"status": "INVALID"}))
                    .send()
                    .await?
                    .error_for_status()?;
                n += 1;
            }
        }
        Ok(n)
    }
}

async fn start(dir: &std::path::Path) -> anyhow::Result<(Platform, String)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("cannot bind a loopback port")?;
    let port = listener.local_addr()?.port();
    let base = format!("http://localhost:{port}");
    let cert = verifier::keyfiles::generate_self_signed(
        &["localhost".into()],
        jose::Clock::now(&jose::SystemClock),
        30,
    )?;
    let key_path = dir.join("verifier-key.jwk");
    let cert_path = dir.join("verifier-cert.pem");
    std::fs::write(&key_path, cert.private_jwk.to_json().as_bytes())?;
    std::fs::write(&cert_path, cert.pem.as_bytes())?;
    let config_text = format!(
        "data_dir = {data:?}\n[server]\nlisten = \"127.0.0.1:{port}\"\npublic_url = \"{base}\"\n\
         [metrics]\nenabled = false\n\
         [verifier]\nrp_token = \"{RP_TOKEN}\"\nsigning_key = {key:?}\ncertificate = {cert:?}\n\
         [verifier.status_list]\ndefault_ttl = \"1s\"\nmax_ttl = \"1s\"\n",
        data = dir.join("data").display().to_string(),
        key = key_path.display().to_string(),
        cert = cert_path.display().to_string(),
    );
    let config_path = dir.join("demo.toml");
    std::fs::write(&config_path, config_text)?;
    let config = Arc::new(config::load(
        Some(&config_path),
        std::iter::empty::<(std::ffi::OsString, std::ffi::OsString)>(),
    )?);
    let plan = mode::plan(&[Role::All])?;
    let app = build_app(&config, &plan).await?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            eprintln!("demo server stopped: {e}");
        }
    });
    let admin = std::fs::read_to_string(dir.join("data/issuer/admin_token"))
        .context("the issuer wrote no admin token")?
        .trim()
        .to_owned();
    Ok((
        Platform {
            base,
            admin,
            http: reqwest::Client::builder().no_proxy().build()?,
        },
        cert.pem,
    ))
}

fn step(n: u32, text: &str) -> anyhow::Result<()> {
    outln!("\n━━ {n}. {text}")
}

async fn issue(p: &Platform, w: &Wallet, holder: &dyn Signer) -> anyhow::Result<HeldCredential> {
    let offer = p.offer().await?;
    outln!("  offer: {}", abbreviate(&offer, false))?;
    let pending = w.resolve_offer(&offer).await?;
    let issued = w.accept(&pending, None, &[holder]).await?;
    let received = issued
        .credentials
        .into_iter()
        .next()
        .context("no credential issued")?;
    for h in &issued.notifications {
        w.notify(h, oid4vci::NotificationEvent::CredentialAccepted, None)
            .await?;
    }
    let record = crate::commands::wallet::store::Record {
        id: "demo".into(),
        configuration_id: received.configuration_id.clone(),
        issuer: pending.issuer().to_owned(),
        display: received.display.clone(),
        compact: received.credential.compact.clone(),
        stored_at: 0,
        status: None,
        checked_at: None,
    };
    outln!(
        "{}",
        crate::commands::wallet::card::card(&record, &received.credential, Some("valid"))
    )?;
    Ok(received.credential)
}

/// Presents `held` (recommended claims, or `only` these) and returns the verifier's result.
async fn present(
    p: &Platform,
    w: &Wallet,
    holder: &dyn Signer,
    held: &[HeldCredential],
    only: Option<&[&str]>,
) -> anyhow::Result<(bool, Value)> {
    let (id, link) = p.transaction().await?;
    outln!("  request: {}", abbreviate(&link, false))?;
    let request = w.resolve_request(&link).await?;
    let consent = w.consent(&request, held);
    for q in &consent.queries {
        for c in &q.candidates {
            for claim in &c.claims {
                outln!(
                    "    {} {:<14} {}",
                    if claim.recommended { "★" } else { " " },
                    claim.name,
                    claim.value
                )?;
            }
        }
    }
    let mut choice = consent
        .recommended_choice()
        .context("the wallet holds nothing this verifier asks for")?;
    if let Some(names) = only {
        for pick in &mut choice.picks {
            pick.disclose = names.iter().map(|n| parse_dotted(n)).collect();
        }
    }
    let chosen: Vec<String> = choice
        .picks
        .iter()
        .flat_map(|p| p.disclose.iter().map(wallet::presentation::consent::dotted))
        .collect();
    outln!("  the holder discloses: {}", chosen.join(", "))?;
    let sent = w.present(&request, held, &choice, holder).await;
    let result = p.result(&id).await?;
    match sent {
        Ok(_) => Ok((
            result.get("status").and_then(Value::as_str) == Some("success"),
            result,
        )),
        Err(e) => {
            outln!("  verifier: {e}")?;
            Ok((false, result))
        }
    }
}

fn outcome(ok: bool, expected: bool, text: &str, failures: &mut Vec<String>) -> anyhow::Result<()> {
    let mark = if ok == expected { "✔" } else { "✘" };
    outln!(
        "  {mark} {text}: {}",
        if ok { "ACCESS GRANTED" } else { "REFUSED" }
    )?;
    if ok != expected {
        failures.push(text.to_owned());
    }
    Ok(())
}

async fn demo(args: Args) -> anyhow::Result<()> {
    let temp;
    let dir = match &args.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        None => {
            temp = tempfile_dir()?;
            temp.clone()
        }
    };
    step(
        0,
        "starting issuer, verifier, attester and wallet engine (--mode=all) in this process",
    )?;
    let (p, anchors) = start(&dir).await?;
    outln!("  platform at {}  (data in {})", p.base, dir.display())?;
    let w = crate::commands::wallet::core(
        &format!("{}/attester", p.base),
        "symbolon-demo-wallet",
        true,
        Some(&anchors),
    )?
    .with_observer(observer(args.verbose));
    let holder = jose::SoftwareSigner::generate(jose::Algorithm::Es256)?;
    let mut failures = Vec::new();

    step(
        1,
        "issuance: offer → attestation → token → nonce → credential",
    )?;
    let pass = issue(&p, &w, &holder).await?;

    step(
        2,
        "presentation: request → consent (★ recommended) → response",
    )?;
    let (ok, _) = present(&p, &w, &holder, std::slice::from_ref(&pass), None).await?;
    outcome(
        ok,
        true,
        "classroom with the recommended claims",
        &mut failures,
    )?;

    step(
        3,
        "the school revokes the pass; the holder presents it again",
    )?;
    let n = p.revoke(&holder).await?;
    outln!("  revoked {n} credential(s) through the issuer's admin API")?;
    // The demo verifier keeps a status list for at most a second (`max_ttl`); production
    // verifiers cache it for the token's `ttl`.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    outln!("  wallet status check: {}", w.check(&pass).await.label())?;
    let (ok, _) = present(&p, &w, &holder, std::slice::from_ref(&pass), None).await?;
    outcome(ok, false, "classroom with a revoked pass", &mut failures)?;

    step(
        4,
        "a fresh pass; the holder withholds the essential claim `course`",
    )?;
    let holder2 = jose::SoftwareSigner::generate(jose::Algorithm::Es256)?;
    let fresh = issue(&p, &w, &holder2).await?;
    let (ok, _) = present(&p, &w, &holder2, &[fresh], Some(&["role"])).await?;
    outcome(ok, false, "classroom without `course`", &mut failures)?;

    if args.data_dir.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    if failures.is_empty() {
        outln!(
            "\nAll outcomes as expected: granted, refused after revocation, denied without an essential claim."
        )?;
        Ok(())
    } else {
        anyhow::bail!("unexpected outcome(s): {}", failures.join("; "))
    }
}

/// A fresh private directory under the system temporary directory.
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let mut b = [0u8; 8];
    jose::Random::fill(&jose::SystemRandom, &mut b)?;
    let name: String = b.iter().map(|x| format!("{x:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("symbolon-demo-{name}"));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
