//! `symbolon wallet …`: the command-line holder wallet. It embeds the wallet core
//! (`wallet` crate) locally — no cloud service sees the flows — and keeps its credentials
//! and holder key sealed in a wallet directory ([`store`]).
//!
//! The passphrase comes from `SYMBOLON_WALLET_PASSPHRASE` (the one `SYMBOLON_*` variable
//! that is not a config key, see `config::load::RESERVED_ENV`) or is read from stdin.

pub(crate) mod card;
pub(crate) mod store;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use jose::{Clock, TrustAnchors};
use keys::SecretString;
use serde_json::json;
use service::http::{AddressPolicy, GuardedClient, HttpSettings};
use wallet::presentation::consent::parse_dotted;
use wallet::presentation::{Choice, ChosenCredential};
use wallet::{HeldCredential, Settings, Wallet};

use store::{Record, Store, WalletFile};

/// The passphrase variable.
pub(crate) const PASSPHRASE_ENV: &str = "SYMBOLON_WALLET_PASSPHRASE";

/// `symbolon wallet`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The wallet directory (default: `$XDG_DATA_HOME/symbolon/wallet`, or
    /// `~/.local/share/symbolon/wallet`).
    #[arg(long, global = true, value_name = "DIR")]
    wallet_dir: Option<PathBuf>,
    /// Print JSON for scripts instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

/// The wallet subcommands.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Create a wallet: a P-256 holder key and an encrypted store.
    Init(InitArgs),
    /// Accept a credential offer (`openid-credential-offer://…` or an https link).
    Accept {
        /// The offer URI.
        offer: String,
        /// The transaction code, when the offer asks for one (prompted otherwise).
        #[arg(long)]
        tx_code: Option<String>,
    },
    /// List the stored credentials.
    List,
    /// Show one credential as a card, with its current status.
    Show {
        /// The credential id (from `list`).
        id: String,
    },
    /// Answer a presentation request (`openid4vp://…`).
    Present {
        /// The request URI.
        request: String,
        /// Disclose exactly these claims (comma-separated, `address.locality` for nested).
        #[arg(long, value_delimiter = ',')]
        disclose: Option<Vec<String>>,
        /// Disclose the recommended claims without asking.
        #[arg(long, conflicts_with = "disclose")]
        yes: bool,
        /// Refuse the request (the verifier gets `access_denied`).
        #[arg(long, conflicts_with_all = ["disclose", "yes"])]
        decline: bool,
    },
    /// Delete a credential.
    Delete {
        /// The credential id.
        id: String,
    },
    /// Check every credential's status and expiry; drop expired ones.
    Refresh,
}

/// `symbolon wallet init`.
#[derive(Debug, clap::Args)]
pub(crate) struct InitArgs {
    /// Base URL of the attester that attests this wallet instance (`dev` evidence).
    #[arg(long, default_value = "http://127.0.0.1:8080/attester")]
    attester: String,
    /// The client_id the attestation names.
    #[arg(long, default_value = "symbolon-cli-wallet")]
    client_id: String,
    /// PEM file of certificates trusted for verifiers' signed requests.
    #[arg(long, value_name = "FILE")]
    trust_anchors: Option<PathBuf>,
    /// Allow plain http and loopback peers (a local `symbolon serve --mode=all`).
    #[arg(long)]
    allow_loopback: bool,
}

fn default_dir() -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(
            std::env::var_os("HOME").context("set --wallet-dir (no HOME to derive it from)")?,
        )
        .join(".local/share"),
    };
    Ok(base.join("symbolon").join("wallet"))
}

fn passphrase(confirm: bool) -> anyhow::Result<SecretString> {
    if let Some(p) = std::env::var_os(PASSPHRASE_ENV) {
        let p = p
            .into_string()
            .map_err(|_| anyhow::anyhow!("{PASSPHRASE_ENV} is not UTF-8"))?;
        if p.is_empty() {
            anyhow::bail!("{PASSPHRASE_ENV} is empty");
        }
        return Ok(SecretString::from(p));
    }
    let first = secret_prompt("Wallet passphrase: ")?;
    if first.is_empty() {
        anyhow::bail!("an empty passphrase is not accepted");
    }
    if confirm && *zeroize::Zeroizing::new(secret_prompt("Repeat the passphrase: ")?) != first {
        anyhow::bail!("the passphrases differ");
    }
    Ok(SecretString::from(first))
}

/// Reads a secret: from the terminal with echo off when there is one, otherwise one line
/// of standard input (scripts piping the passphrase).
fn secret_prompt(text: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        return rpassword::prompt_password(text)
            .context("reading the passphrase from the terminal");
    }
    prompt(text)
}

fn prompt(text: &str) -> anyhow::Result<String> {
    eprint!("{text}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Builds the wallet core for an open store.
pub(crate) fn core(
    attester: &str,
    client_id: &str,
    allow_loopback: bool,
    anchors_pem: Option<&str>,
) -> anyhow::Result<Wallet> {
    let http = GuardedClient::new(HttpSettings {
        policy: if allow_loopback {
            AddressPolicy::AllowLoopback
        } else {
            AddressPolicy::PublicOnly
        },
        ..HttpSettings::default()
    })?;
    let clock: Arc<dyn Clock> = Arc::new(jose::SystemClock);
    let random = Arc::new(attester::random::SystemRandom);
    let attestation = attester::client::AttestationClient::new(
        attester::client::ClientSettings::new(
            attester,
            client_id,
            attester::client::EvidenceSource::Dev,
        ),
        http.clone(),
        Arc::clone(&clock),
        random.clone(),
    )?;
    let anchors = match anchors_pem {
        Some(pem) => TrustAnchors::from_pem(pem).context("the verifier trust anchors")?,
        None => TrustAnchors::from_der(Vec::<Vec<u8>>::new())?,
    };
    let mut settings = Settings::new(anchors);
    settings.allow_http_loopback = allow_loopback;
    Ok(Wallet::new(
        settings,
        http,
        Arc::new(attestation),
        clock,
        random,
    ))
}

fn random_id() -> anyhow::Result<String> {
    let mut b = [0u8; 6];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| anyhow::anyhow!("the random generator failed"))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

fn print_json(v: &serde_json::Value) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?)?;
    Ok(())
}

/// Runs `symbolon wallet …`.
pub(crate) fn run(args: Args) -> anyhow::Result<()> {
    let dir = match &args.wallet_dir {
        Some(d) => d.clone(),
        None => default_dir()?,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(args, dir))
}

async fn run_async(args: Args, dir: PathBuf) -> anyhow::Result<()> {
    if let Command::Init(init) = &args.command {
        let anchors = match &init.trust_anchors {
            Some(p) => Some(
                std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {}", p.display()))?,
            ),
            None => None,
        };
        if let Some(pem) = &anchors {
            TrustAnchors::from_pem(pem).context("--trust-anchors holds no usable certificate")?;
        }
        let store = Store::create(
            &dir,
            &passphrase(true)?,
            WalletFile {
                version: 1,
                kdf: String::new(),
                attester: init.attester.clone(),
                client_id: init.client_id.clone(),
                allow_loopback: init.allow_loopback,
            },
            anchors.as_deref(),
        )?;
        let kid = jose::Signer::public_jwk(&store.holder).thumbprint();
        if args.json {
            print_json(&json!({"wallet_dir": dir, "holder_key_thumbprint": kid}))?;
        } else {
            outln!("Created a wallet in {}", dir.display())?;
            outln!("Holder key (P-256), thumbprint {kid}")?;
        }
        return Ok(());
    }
    let store = Store::open(&dir, &passphrase(false)?)?;
    let anchors = store.anchors_pem()?;
    let core = || {
        core(
            &store.file.attester,
            &store.file.client_id,
            store.file.allow_loopback,
            anchors.as_deref(),
        )
    };
    match args.command {
        Command::Init(_) => Ok(()),
        Command::Accept { offer, tx_code } => {
            accept(&store, &core()?, &offer, tx_code, args.json).await
        }
        Command::List => list(&store, args.json),
        Command::Show { id } => {
            let record = store.get(&id)?;
            let held = HeldCredential::parse(&record.compact)?;
            let status = core()?.check(&held).await.label();
            if args.json {
                print_json(&card::card_json(&record, &held, Some(&status)))
            } else {
                outln!("{}", card::card(&record, &held, Some(&status)))?;
                Ok(())
            }
        }
        Command::Present {
            request,
            disclose,
            yes,
            decline,
        } => {
            let choice = match (disclose, yes, decline) {
                (Some(d), _, _) => Decision::Disclose(d),
                (None, true, _) => Decision::Recommended,
                (None, false, true) => Decision::Decline,
                (None, false, false) => Decision::Ask,
            };
            present(&store, &core()?, &request, choice, args.json).await
        }
        Command::Delete { id } => {
            store.delete(&id)?;
            if args.json {
                print_json(&json!({"deleted": id}))
            } else {
                outln!("Deleted {id}")?;
                Ok(())
            }
        }
        Command::Refresh => refresh(&store, &core()?, args.json).await,
    }
}

async fn accept(
    store: &Store,
    core: &Wallet,
    offer: &str,
    tx_code: Option<String>,
    json_out: bool,
) -> anyhow::Result<()> {
    let pending = core.resolve_offer(offer).await?;
    if !json_out {
        eprintln!(
            "Offer from {} ({} metadata)",
            pending.issuer(),
            if pending.signed_metadata {
                "signed"
            } else {
                "unsigned"
            }
        );
    }
    let tx_code = match (tx_code, pending.tx_code()) {
        (Some(t), _) => Some(t),
        (None, Some(t)) => Some(prompt(&format!(
            "Transaction code{}: ",
            t.description
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        ))?),
        (None, None) => None,
    };
    let issued = core
        .accept(&pending, tx_code.as_deref(), &[&store.holder])
        .await?;
    let mut out = Vec::new();
    for received in &issued.credentials {
        let record = Record {
            id: random_id()?,
            configuration_id: received.configuration_id.clone(),
            issuer: pending.issuer().to_owned(),
            display: received.display.clone(),
            compact: received.credential.compact.clone(),
            stored_at: jose::SystemClock.now(),
        };
        store.put(&record)?;
        if json_out {
            out.push(card::card_json(&record, &received.credential, None));
        } else {
            outln!(
                "Stored:\n{}",
                card::card(&record, &received.credential, None)
            )?;
        }
    }
    for handle in &issued.notifications {
        if let Err(e) = core
            .notify(handle, oid4vci::NotificationEvent::CredentialAccepted, None)
            .await
        {
            eprintln!("warning: the issuer was not notified: {e}");
        }
    }
    if json_out {
        print_json(&json!({"stored": out}))?;
    }
    Ok(())
}

fn list(store: &Store, json_out: bool) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for record in store.all()? {
        let held = HeldCredential::parse(&record.compact)?;
        if json_out {
            rows.push(card::card_json(&record, &held, None));
        } else {
            outln!(
                "{}  {:<28} {}",
                record.id,
                record
                    .display
                    .name
                    .clone()
                    .unwrap_or_else(|| held.vct.clone()),
                record.issuer
            )?;
        }
    }
    if json_out {
        print_json(&json!({"credentials": rows}))?;
    } else if rows.is_empty() && store.all()?.is_empty() {
        outln!("No credentials yet (`symbolon wallet accept <offer>`).")?;
    }
    Ok(())
}

async fn refresh(store: &Store, core: &Wallet, json_out: bool) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for record in store.all()? {
        let held = HeldCredential::parse(&record.compact)?;
        let state = core.check(&held).await;
        let dropped = state == wallet::lifecycle::Lifecycle::Expired;
        if dropped {
            store.delete(&record.id)?;
        }
        if json_out {
            rows.push(json!({"id": record.id, "status": state.label(), "dropped": dropped}));
        } else {
            outln!(
                "{}  {}{}",
                record.id,
                state.label(),
                if dropped { " (dropped)" } else { "" }
            )?;
        }
    }
    if json_out {
        print_json(&json!({"credentials": rows}))?;
    }
    Ok(())
}

/// How the holder answers a request.
enum Decision {
    Disclose(Vec<String>),
    Recommended,
    Decline,
    Ask,
}

async fn present(
    store: &Store,
    core: &Wallet,
    uri: &str,
    decision: Decision,
    json_out: bool,
) -> anyhow::Result<()> {
    let request = core.resolve_request(uri).await?;
    let records = store.all()?;
    let held = records
        .iter()
        .map(|r| HeldCredential::parse(&r.compact))
        .collect::<Result<Vec<_>, _>>()?;
    let consent = core.consent(&request, &held);
    if !json_out {
        eprintln!("{}", card::consent(&request, &consent, &records));
    }
    let recommended = consent.recommended_choice();
    let decision = match decision {
        Decision::Ask => {
            let answer = prompt(
                "Disclose the ★ claims? [Enter = yes, n = decline, or a comma-separated list of claims] ",
            )?;
            match answer.trim() {
                "" | "y" | "yes" => Decision::Recommended,
                "n" | "no" => Decision::Decline,
                list => Decision::Disclose(list.split(',').map(|s| s.trim().to_owned()).collect()),
            }
        }
        d => d,
    };
    let choice = match decision {
        Decision::Decline => {
            core.decline(&request).await?;
            if json_out {
                print_json(&json!({"outcome": "declined"}))?;
            } else {
                outln!("Declined: the verifier was told access_denied.")?;
            }
            return Ok(());
        }
        Decision::Recommended | Decision::Ask => recommended.ok_or_else(|| {
            anyhow::anyhow!(
                "no stored credential answers this request: {}",
                consent.unmet.join("; ")
            )
        })?,
        Decision::Disclose(names) => {
            let base = recommended.ok_or_else(|| {
                anyhow::anyhow!(
                    "no stored credential answers this request: {}",
                    consent.unmet.join("; ")
                )
            })?;
            Choice {
                picks: base
                    .picks
                    .into_iter()
                    .map(|p| ChosenCredential {
                        disclose: names.iter().map(|n| parse_dotted(n)).collect(),
                        ..p
                    })
                    .collect(),
            }
        }
    };
    let presented = core
        .present(&request, &held, &choice, &store.holder)
        .await?;
    if json_out {
        print_json(&json!({
            "outcome": "presented",
            "disclosed": presented.disclosed.iter().map(|(q, i, c)| json!({
                "query": q,
                "credential": records.get(*i).map(|r| r.id.clone()),
                "claims": c,
            })).collect::<Vec<_>>(),
            "redirect_uri": presented.redirect_uri,
        }))?;
    } else {
        for (q, _, claims) in &presented.disclosed {
            outln!("Presented for {q}: {}", claims.join(", "))?;
        }
        outln!("The verifier accepted the presentation.")?;
        if let Some(r) = &presented.redirect_uri {
            outln!("Continue at {r}")?;
        }
    }
    Ok(())
}
