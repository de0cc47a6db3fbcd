//! The verifier role: its typed `[verifier]` section, keys, transaction store and
//! outbound client turned into the crate's state, router and readiness.
//!
//! Keys: the request signing key and certificate come from `verifier.signing_key` and
//! `verifier.certificate`; under `--mode=all` without them a key and a self-signed
//! certificate for the host of the public URL (plus `localhost`) are generated at start
//! and kept in memory, so the demo works with no setup. Without a certificate outside
//! `--mode=all`, only the `redirect_uri` client identifier prefix is available. The
//! session token key is `verifier.session_key`, or generated in memory. The key encryption
//! key sealing the per-transaction response decryption keys is
//! `verifier.key_encryption_key`; with the embedded database (no `verifier.database_url`)
//! it is generated once into `<data_dir>/verifier/kek` (0600) and kept, so a
//! `direct_post.jwt` transaction pending at a restart is answered after it.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use jose::SystemClock;
use jose::random::SystemRandom;
use jose::{Algorithm, SoftwareSigner};
use service::RoleService;
use service::config::Section;
use service::http::{AddressPolicy, GuardedClient, HttpSettings};
use verifier::config::{IssuerConfig, VerifierConfig};
use verifier::demo::add_classroom_policy;
use verifier::maintenance::{StoreReady, spawn_janitor};
use verifier::seal::Sealer;
use verifier::sql::SqlTransactions;

use verifier::{Dependencies, State};

use crate::mode::RoleContext;
use crate::roles::{random_b64, secret_file};

/// The issuer role of the same process, for the demo policy under `--mode=all`: its
/// public keys are read from its JWKS.
fn local_issuer(ctx: &RoleContext) -> IssuerConfig {
    let root = ctx
        .base_url
        .strip_suffix("/verifier")
        .unwrap_or(&ctx.base_url);
    IssuerConfig {
        iss: None,
        jwks: None,
        jwks_file: None,
        jwks_uri: Some(format!("{root}/issuer/jwks")),
        x509_anchors: None,
        metadata: false,
    }
}

fn now() -> i64 {
    use jose::Clock;
    SystemClock.now()
}

/// Why the verifier does not start with a certificate but no key.
const CERTIFICATE_WITHOUT_KEY: &str = "`verifier.certificate` is set without `verifier.signing_key` or `verifier.signing_key_pkcs11`: the certificate's key is needed to sign requests";

/// What the start-up checks of the verifier decided, before anything is opened.
pub(crate) struct Checked {
    /// `[verifier]`, or the defaults, with the demo policy added.
    config: VerifierConfig,
    /// The demo is served.
    demo: bool,
    /// Plain http to loopback is allowed for outbound retrievals.
    loopback: bool,
}

/// The verifier's start-up checks that need only the configuration: `serve` runs them
/// first and `config check --mode` runs them alone. Nothing is read, opened or generated
/// here (no key file, token or database).
pub(crate) fn check(ctx: &RoleContext) -> anyhow::Result<Checked> {
    let mut config = match &ctx.config.verifier {
        Some(c) => c.clone(),
        None => VerifierConfig::default()
            .validated()
            .map_err(|e| e.in_section("verifier"))?,
    };
    let demo = config.demo.unwrap_or(ctx.all);
    if demo {
        add_classroom_policy(&mut config, "local-issuer", local_issuer(ctx), None)
            .map_err(|e| e.in_section("verifier"))?;
    }
    if config.certificate.is_some()
        && config.signing_key.is_none()
        && config.signing_key_pkcs11.is_none()
    {
        anyhow::bail!(CERTIFICATE_WITHOUT_KEY);
    }
    config
        .cache_config()
        .map_err(|e| e.in_section("verifier"))?;
    let loopback = config
        .status_list
        .allow_loopback
        .unwrap_or(ctx.allow_http_loopback);
    // Under `--mode=all` without any key, a key and certificate are generated at start.
    let has_certificate = config.certificate.is_some()
        || (ctx.all && config.signing_key.is_none() && config.signing_key_pkcs11.is_none());
    verifier::check_config(&config, has_certificate, loopback)?;
    Ok(Checked {
        config,
        demo,
        loopback,
    })
}

/// Builds the verifier role.
pub(crate) async fn build(ctx: RoleContext) -> anyhow::Result<RoleService> {
    let Checked {
        config,
        demo,
        loopback,
    } = check(&ctx)?;
    if config.rp_token.is_none() {
        tracing::warn!("verifier.rp_token is not set: the RP API refuses every call");
    }

    let host = url::Url::parse(&ctx.base_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_else(|| "localhost".into());
    let (request_signer, chain): (Arc<dyn jose::Signer>, Vec<Vec<u8>>) = match (
        &config.signing_key,
        &config.signing_key_pkcs11,
        &config.certificate,
    ) {
        (Some(key), None, cert) => (
            Arc::new(verifier::keyfiles::read_signer(key)?),
            cert.as_deref()
                .map(verifier::keyfiles::read_chain)
                .transpose()?
                .unwrap_or_default(),
        ),
        (None, Some(pkcs11), cert) => {
            let signer = keys::pkcs11::Pkcs11Signer::open(pkcs11).with_context(|| {
                format!(
                    "cannot open the request signing key `{}` in PKCS#11 token `{}`",
                    pkcs11.key_label, pkcs11.token_label
                )
            })?;
            let chain = cert
                .as_deref()
                .map(verifier::keyfiles::read_chain)
                .transpose()?
                .unwrap_or_default();
            (Arc::new(signer), chain)
        }
        (None, None, Some(_)) => anyhow::bail!(CERTIFICATE_WITHOUT_KEY),
        (None, None, None) if ctx.all => {
            let mut names = vec![host.clone()];
            if host != "localhost" {
                names.push("localhost".into());
            }
            // An IP address is not a dNSName; such a host gets `localhost` only.
            names.retain(|n| {
                oid4vp::ClientId::x509_san_dns(n).is_ok() && n.parse::<std::net::IpAddr>().is_err()
            });
            let generated = verifier::keyfiles::generate_self_signed(&names, now(), 30)?;
            tracing::info!(
                client_id = oid4vp::ClientId::x509_hash_of(&generated.der).as_str(),
                "generated a development request signing certificate"
            );
            (Arc::new(generated.signer), vec![generated.der])
        }
        (None, None, None) => {
            tracing::warn!(
                "no request signing key and certificate are configured: only the redirect_uri client_id prefix is available"
            );
            (
                Arc::new(SoftwareSigner::generate(Algorithm::Es256)?),
                Vec::new(),
            )
        }
        (Some(_), Some(_), _) => anyhow::bail!(
            "`verifier.signing_key` and `verifier.signing_key_pkcs11` cannot be used together"
        ),
    };
    let session_signer = match &config.session_key {
        Some(path) => verifier::keyfiles::read_signer(path)?,
        None => {
            let s = SoftwareSigner::generate(Algorithm::Es256)?;
            let kid = jose::Signer::public_jwk(&s).thumbprint();
            s.with_kid(kid)
        }
    };

    let database_url = match &config.database_url {
        Some(url) => url.expose().to_owned(),
        None => {
            let dir = ctx.config.data_dir.clone();
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create data_dir {}", dir.display()))?;
            store::Database::sqlite_url(&dir.join("verifier.db"))
                .ok_or_else(|| anyhow::anyhow!("data_dir {} is not a UTF-8 path", dir.display()))?
        }
    };
    let database = store::Database::connect(&database_url)
        .await
        .context("cannot open the verifier's database")?;
    let transactions = SqlTransactions::new(&database)
        .await
        .context("cannot prepare the verifier's tables")?;
    let clock: Arc<dyn jose::Clock> = Arc::new(SystemClock);
    let caches = store::Caches::open(
        &config
            .cache_config()
            .map_err(|e| e.in_section("verifier"))?,
        Some(&database),
        Arc::clone(&clock),
    )
    .await
    .context("cannot open the verifier's cache")?;

    let http = GuardedClient::new(HttpSettings {
        policy: if loopback {
            AddressPolicy::AllowLoopback
        } else {
            AddressPolicy::PublicOnly
        },
        timeout: config.status_list.timeout,
        max_body: config.status_list.max_bytes,
        ..HttpSettings::default()
    })?;
    let random = Arc::new(SystemRandom);
    let sealer = match (&config.key_encryption_key, &config.database_url) {
        (Some(k), _) => Sealer::from_secret(k).context("`verifier.key_encryption_key`")?,
        // The embedded database: the key lives next to it, created once and kept, so
        // transactions pending at a restart can still be answered after it.
        (None, None) => {
            let path = ctx.config.data_dir.join("verifier").join("kek");
            let text = secret_file(&path, || random_b64(32))?;
            let secret = service::config::Secret::new(text);
            Sealer::from_secret(&secret).with_context(|| {
                format!(
                    "the key encryption key in {} is not 32 bytes, base64url",
                    path.display()
                )
            })?
        }
        (None, Some(_)) => anyhow::bail!(
            "`verifier.key_encryption_key` is required with `verifier.database_url`: it seals the response decryption keys stored in that database, and every process (and every restart) must open them"
        ),
    };
    let deps = Dependencies {
        clock,
        random: random.clone(),
        http,
        store: Arc::new(transactions),
        request_signer,
        certificate_chain: chain,
        session_signer: Arc::new(session_signer),
        sealer,
        single_use: caches.single_use,
    };
    let state = Arc::new(State::new(config, &ctx.base_url, demo, deps).await?);
    spawn_janitor(Arc::clone(&state), Duration::from_secs(60));
    tracing::info!(
        base_url = %ctx.base_url,
        default_prefix = state.settings().default_prefix.name(),
        demo = state.settings().demo,
        "verifier ready"
    );
    Ok(RoleService::new(
        "verifier",
        verifier::router(Arc::clone(&state)),
        StoreReady(state),
    ))
}
