//! `symbolon wallet …`: the command-line holder wallet, a client of the wallet engine
//! (API v2, `wallet_client`). By default the engine runs inside this process over the
//! in-memory transport — no service outside the process sees the flows —; with
//! `--engine ws(s)://…/api/v2/wallet` a remote engine runs them. Either way the holder
//! key, the credentials and the matching stay here, sealed in a wallet directory
//! ([`store`]).
//!
//! The passphrase comes from `SYMBOLON_WALLET_PASSPHRASE` (the one `SYMBOLON_*` variable
//! that is not a config key, see `config::load::RESERVED_ENV`) or is read from stdin.

pub(crate) mod card;
pub(crate) mod store;
pub(crate) mod trust;

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
    /// Run the flows on a remote wallet engine (`wss://host/api/v2/wallet`) instead of
    /// the one inside this process.
    #[arg(long, global = true, value_name = "URL")]
    engine: Option<String>,
    /// The session token for `--engine` (a session JWT from the auth service;
    /// `anonymous` where the engine allows anonymous sessions).
    #[arg(
        long,
        global = true,
        env = ENGINE_TOKEN_ENV,
        value_name = "TOKEN",
        default_value = engine::auth::ANONYMOUS,
        hide_env_values = true
    )]
    engine_token: String,
    #[command(subcommand)]
    command: Command,
}

/// The variable holding `--engine-token`.
pub(crate) const ENGINE_TOKEN_ENV: &str = "SYMBOLON_ENGINE_TOKEN";

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
        /// With `--engine`: accept the credentials in plaintext through the remote engine
        /// from an issuer that cannot encrypt them to this wallet (the engine then sees
        /// them). The engine inside this process always may.
        #[arg(long)]
        allow_plaintext: bool,
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
    /// The verifier trust anchors (no passphrase needed).
    #[command(subcommand)]
    Trust(trust::Command),
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
    /// PEM file of certificates trusted for verifiers' signed requests (optional: add or
    /// remove them later with `symbolon wallet trust`).
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
    let random = Arc::new(jose::SystemRandom);
    let attestation = wallet::attestation::AttestationClient::new(
        wallet::attestation::ClientSettings::new(
            attester,
            client_id,
            wallet::attestation::EvidenceSource::Dev,
        ),
        http.clone(),
        Arc::clone(&clock),
        random.clone(),
    )?;
    // Without anchors the wallet still receives credentials; signed presentation
    // requests are then refused (see `present`).
    let mut settings = match anchors_pem {
        Some(pem) => {
            Settings::new(TrustAnchors::from_pem(pem).context("the verifier trust anchors")?)
        }
        None => Settings::without_verifier_anchors(),
    };
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
    jose::Random::fill(&jose::SystemRandom, &mut b)?;
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
    if let Command::Trust(command) = args.command {
        return trust::run(&dir, command, args.json);
    }
    if let Command::Init(init) = &args.command {
        let anchors = match &init.trust_anchors {
            Some(p) => trust::certificates_of(
                &std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {}", p.display()))?,
            )
            .context("--trust-anchors holds no usable certificate")?,
            None => Vec::new(),
        };
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
        )?;
        store::write_anchors(&dir, &anchors)?;
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
    let remote = args
        .engine
        .as_deref()
        .map(|url| (url, args.engine_token.as_str()));
    match args.command {
        Command::Init(_) | Command::Trust(_) => Ok(()),
        Command::Accept {
            offer,
            tx_code,
            allow_plaintext,
        } => {
            // The engine inside this process is this wallet: plaintext stays here.
            let policy = wallet_client::ReceivePolicy {
                allow_plaintext: allow_plaintext || remote.is_none(),
            };
            accept(&store, core()?, remote, &offer, tx_code, policy, args.json).await
        }
        Command::List => list(&store, args.json),
        Command::Show { id } => {
            let mut record = store.get(&id)?;
            let held = HeldCredential::parse(&record.compact)?;
            let state = core()?.check(&held).await;
            let status = state.label();
            remember(&store, &mut record, &state)?;
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
            present(&store, core()?, remote, &request, choice, args.json).await
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

/// A session with the wallet engine: the one inside this process (anonymous, on the
/// in-memory transport, running the flows with `core`), or the remote one `--engine`
/// names.
async fn session(
    core: Wallet,
    remote: Option<(&str, &str)>,
) -> anyhow::Result<wallet_client::Client> {
    let settings = core.settings().clone();
    match remote {
        Some((url, token)) => wallet_client::Client::connect(url, token, settings, &[])
            .await
            .with_context(|| format!("the wallet engine at {url}")),
        None => {
            let clock: Arc<dyn Clock> = Arc::new(jose::SystemClock);
            let tokens =
                engine::AppTokens::new(&[], None, "symbolon-cli-wallet", Arc::clone(&clock))?
                    .with_anonymous(engine::Permissions::ALL);
            let local = Arc::new(engine::Engine::new(
                core,
                tokens,
                engine::Limits::default(),
                clock,
                Arc::new(jose::SystemRandom),
            ));
            let (sink, stream) = engine::local::connect(local);
            Ok(
                wallet_client::Client::open(sink, stream, engine::auth::ANONYMOUS, settings)
                    .await?,
            )
        }
    }
}

/// The CLI as the holder's side of a flow: the holder key, the transaction code from
/// `--tx-code` or a prompt, and the presentation decision from the flags or a prompt.
struct CliHolder<'a> {
    key: &'a jose::SoftwareSigner,
    tx_code: Option<String>,
    decision: Decision,
    records: &'a [Record],
    json_out: bool,
    /// The holder declined at the prompt or with `--decline`.
    declined: bool,
}

impl CliHolder<'_> {
    fn consent_card(&self, view: &wallet_client::ConsentView<'_>) {
        if !self.json_out {
            eprintln!(
                "{}",
                card::consent(&card::verifier_view(view), view.consent, self.records)
            );
        }
    }
}

impl wallet_client::Holder for CliHolder<'_> {
    fn progress(
        &mut self,
        step: wallet_protocol::FlowStep,
        payload: &wallet_protocol::engine::ProgressPayload,
    ) {
        if self.json_out
            || step
                != wallet_protocol::FlowStep::Issuance(
                    wallet_protocol::IssuanceStep::MetadataFetched,
                )
        {
            return;
        }
        if let Some(issuer) = &payload.issuer {
            eprintln!(
                "Offer from {} ({} metadata)",
                issuer.credential_issuer,
                if issuer.signed_metadata == Some(true) {
                    "signed"
                } else {
                    "unsigned"
                }
            );
        }
    }

    fn tx_code(
        &mut self,
        spec: &wallet_protocol::engine::TxCodeSpec,
        retry: bool,
    ) -> Option<String> {
        if !retry && let Some(code) = self.tx_code.take() {
            return Some(code);
        }
        let text = format!(
            "{}ransaction code{}: ",
            if retry {
                "The issuer refused that code. T"
            } else {
                "T"
            },
            spec.description
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        );
        prompt(&text).ok().filter(|c| !c.is_empty())
    }

    fn proof_signers(&self) -> Vec<&dyn jose::Signer> {
        vec![self.key]
    }

    fn nothing_matches(&mut self, view: &wallet_client::ConsentView<'_>) {
        self.consent_card(view);
    }

    fn consent(&mut self, view: &wallet_client::ConsentView<'_>) -> Option<Choice> {
        self.consent_card(view);
        let recommended = view.consent.recommended_choice()?;
        let decision = match std::mem::replace(&mut self.decision, Decision::Decline) {
            Decision::Ask => {
                let answer = prompt(
                    "Disclose the ★ claims? [Enter = yes, n = decline, or a comma-separated list of claims] ",
                )
                .unwrap_or_else(|_| "n".into());
                match answer.trim() {
                    "" | "y" | "yes" => Decision::Recommended,
                    "n" | "no" => Decision::Decline,
                    list => {
                        Decision::Disclose(list.split(',').map(|s| s.trim().to_owned()).collect())
                    }
                }
            }
            d => d,
        };
        match decision {
            Decision::Decline => {
                self.declined = true;
                None
            }
            Decision::Recommended | Decision::Ask => Some(recommended),
            Decision::Disclose(names) => Some(Choice {
                picks: recommended
                    .picks
                    .into_iter()
                    .map(|p| ChosenCredential {
                        disclose: names.iter().map(|n| parse_dotted(n)).collect(),
                        ..p
                    })
                    .collect(),
            }),
        }
    }

    fn presentation_signer(&self) -> &dyn jose::Signer {
        self.key
    }
}

/// What a failed flow means for the holder, with the way out where there is one.
fn flow_failure(e: wallet_client::ClientError) -> anyhow::Error {
    const HINT: &str = "if you trust this verifier, add its CA certificate with `symbolon wallet trust add FILE.pem` (`symbolon wallet trust list` shows the current ones)";
    use wallet_protocol::ErrorCode;
    match &e {
        wallet_client::ClientError::Flow {
            code: ErrorCode::UntrustedVerifier,
            ..
        } => anyhow::anyhow!(
            "the verifier is not trusted: its request is signed by a certificate that does not chain to any of this wallet's verifier trust anchors (or the wallet has none); {HINT}"
        ),
        wallet_client::ClientError::Flow {
            code: ErrorCode::PresentationError,
            ..
        } => anyhow::anyhow!("the verifier refused the presentation ({e})"),
        _ => e.into(),
    }
}

async fn accept(
    store: &Store,
    core: Wallet,
    remote: Option<(&str, &str)>,
    offer: &str,
    tx_code: Option<String>,
    policy: wallet_client::ReceivePolicy,
    json_out: bool,
) -> anyhow::Result<()> {
    let mut client = session(core, remote).await?;
    let mut holder = CliHolder {
        key: &store.holder,
        tx_code,
        decision: Decision::Decline,
        records: &[],
        json_out,
        declined: false,
    };
    let receipt = client
        .receive(offer, &mut holder, policy)
        .await
        .map_err(flow_failure)?;
    if receipt.declined {
        anyhow::bail!("no credential was received: the transaction code was not given");
    }
    let mut out = Vec::new();
    for received in &receipt.credentials {
        let record = Record {
            id: random_id()?,
            configuration_id: received.configuration_id.clone(),
            issuer: receipt.issuer.clone(),
            display: received.display.clone(),
            compact: received.credential.compact.clone(),
            stored_at: jose::SystemClock.now(),
            status: None,
            checked_at: None,
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
    match client
        .notify(
            &receipt,
            wallet_protocol::client::NotificationEvent::CredentialAccepted,
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => eprintln!("warning: the issuer did not accept the notification"),
        Err(e) => eprintln!("warning: the issuer was not notified: {e}"),
    }
    client.close().await;
    if json_out {
        print_json(&json!({"stored": out}))?;
    }
    Ok(())
}

fn list(store: &Store, json_out: bool) -> anyhow::Result<()> {
    let mut rows = Vec::new();
    for record in store.all()? {
        let held = HeldCredential::parse(&record.compact)?;
        // The status the last `refresh` (or `show`) found; `list` does not go online.
        let status = record.status.as_deref();
        if json_out {
            let mut row = card::card_json(&record, &held, status);
            if let Some(o) = row.as_object_mut() {
                o.insert("checked_at".into(), json!(record.checked_at));
            }
            rows.push(row);
        } else {
            outln!(
                "{}  {:<28} {:<10} {}",
                record.id,
                record
                    .display
                    .name
                    .clone()
                    .unwrap_or_else(|| held.vct.clone()),
                status.unwrap_or("unchecked"),
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
    for mut record in store.all()? {
        let held = HeldCredential::parse(&record.compact)?;
        let state = core.check(&held).await;
        let dropped = state == wallet::lifecycle::Lifecycle::Expired;
        if dropped {
            store.delete(&record.id)?;
        } else {
            remember(store, &mut record, &state)?;
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

/// Keeps what a check found in the record, so `list` shows it without going online. A
/// check that could not run (`unknown`) does not overwrite an earlier finding: a revoked
/// credential stays shown as revoked while the status list is unreachable.
fn remember(
    store: &Store,
    record: &mut Record,
    state: &wallet::lifecycle::Lifecycle,
) -> anyhow::Result<()> {
    if matches!(state, wallet::lifecycle::Lifecycle::Unknown(_)) && record.status.is_some() {
        return Ok(());
    }
    record.status = Some(state.label());
    record.checked_at = Some(jose::SystemClock.now());
    store.put(record)
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
    core: Wallet,
    remote: Option<(&str, &str)>,
    uri: &str,
    decision: Decision,
    json_out: bool,
) -> anyhow::Result<()> {
    let records = store.all()?;
    let held = records
        .iter()
        .map(|r| HeldCredential::parse(&r.compact))
        .collect::<Result<Vec<_>, _>>()?;
    let ids: Vec<String> = records.iter().map(|r| r.id.clone()).collect();
    let wants_decline = matches!(decision, Decision::Decline);
    let mut client = session(core, remote).await?;
    let mut holder = CliHolder {
        key: &store.holder,
        tx_code: None,
        decision,
        records: &records,
        json_out,
        declined: false,
    };
    let outcome = client
        .present(uri, &held, &ids, &mut holder)
        .await
        .map_err(flow_failure)?;
    client.close().await;
    match outcome {
        wallet_client::Presented::Declined { matched, unmet, .. } => {
            if matched || wants_decline || holder.declined {
                if json_out {
                    print_json(&json!({"outcome": "declined"}))?;
                } else {
                    outln!("Declined: the verifier was told access_denied.")?;
                }
                return Ok(());
            }
            anyhow::bail!(
                "no stored credential answers this request (the verifier was told access_denied): {}",
                unmet.join("; ")
            );
        }
        wallet_client::Presented::Presented {
            disclosed,
            redirect_uri,
        } => {
            if json_out {
                print_json(&json!({
                    "outcome": "presented",
                    "disclosed": disclosed.iter().map(|(q, i, c)| json!({
                        "query": q,
                        "credential": records.get(*i).map(|r| r.id.clone()),
                        "claims": c,
                    })).collect::<Vec<_>>(),
                    "redirect_uri": redirect_uri,
                }))?;
            } else {
                for (q, _, claims) in &disclosed {
                    outln!("Presented for {q}: {}", claims.join(", "))?;
                }
                outln!("The verifier accepted the presentation.")?;
                if let Some(r) = &redirect_uri {
                    outln!("Continue at {r}")?;
                }
            }
            Ok(())
        }
    }
}
