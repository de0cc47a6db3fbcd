//! The issuer role: its typed `[issuer]` section, database, single-use store, key store and
//! attester trust turned into the crate's state, router, root well-known routes and
//! readiness.
//!
//! Under `--mode=all` with no `[issuer]` section the embedded defaults apply: the demo
//! "IMMERSE classroom pass" configuration, SQLite under `<data_dir>/issuer/`, in-process
//! single-use values, software keys sealed under a KEK generated into
//! `<data_dir>/issuer/kek` (mode 0600), an admin token generated into
//! `<data_dir>/issuer/admin_token`, and attester trust in the public A-Key the in-process
//! attester hands over in memory ([`crate::mode::LocalRoles`]). The demo attestation
//! policy also accepts `dev` evidence and software attester keys (there is no Kubernetes or
//! TPM in a one-command demo).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use client_attestation::{EvidenceType, KeyProtection};
use issuer::config::IssuerConfig;
use issuer::maintenance::IssuerReadiness;
use issuer::{Dependencies, KeyStore, State, SystemRandom, TrustSources};
use service::RoleService;
use service::config::Section;

use crate::mode::RoleContext;
use crate::roles::{random_b64, secret_file};

/// Why the issuer does not start with software keys and no KEK.
const MISSING_KEK: &str =
    "`issuer.keys.kek` is required: software signing keys are stored sealed under it";

/// What the start-up checks of the issuer decided, before anything is opened or created.
pub(crate) struct Checked {
    /// `[issuer]`, or the embedded defaults, with the demo configuration added.
    config: IssuerConfig,
    /// The attester JWK Set file the trust reads.
    jwks_file: Option<PathBuf>,
    /// Trust the attester of this process (`--mode=all` without `jwks_file`).
    local_attester: bool,
    /// The Credential Issuer Identifier.
    identifier: String,
}

/// The issuer's start-up checks that need only the configuration: `serve` runs them first
/// and `config check --mode` runs them alone, so both give the same verdict. Nothing is
/// opened, created or generated here (no database, token, KEK or admin token file).
pub(crate) fn check(ctx: &RoleContext) -> anyhow::Result<Checked> {
    let explicit = ctx.config.issuer.is_some();
    let mut config = match &ctx.config.issuer {
        Some(c) => c.clone(),
        None => IssuerConfig::default()
            .validated()
            .map_err(|e| e.in_section("issuer"))?,
    };
    if config.demo.unwrap_or(ctx.all) {
        issuer::demo::add_classroom_pass(&mut config);
    }
    if ctx.all && !explicit {
        let a = &mut config.attestation;
        a.evidence.push(EvidenceType::Dev);
        a.key_protection.push(KeyProtection::Software);
    }
    let jwks_file = config.attestation.jwks_file.clone();
    let local_attester = jwks_file.is_none() && ctx.all;
    if jwks_file.is_none()
        && !local_attester
        && config.attestation.x509_anchors.is_none()
        && config.attestation.wallet_providers.is_empty()
    {
        anyhow::bail!(
            "`issuer.attestation.jwks_file`, `issuer.attestation.x509_anchors` or an `[[issuer.attestation.wallet_providers]]` entry is required: the issuer only serves wallets whose attestation it can check"
        );
    }

    let identifier = config
        .identifier
        .clone()
        .unwrap_or_else(|| ctx.base_url.clone());
    let identifier =
        service::config::public_url("issuer.identifier", &identifier, ctx.allow_http_loopback)?;

    config.cache_config().map_err(|e| e.in_section("issuer"))?;
    // Under `--mode=all` a missing KEK is generated at start; alone it must be configured.
    let kek = config.keys.kek.is_some() || ctx.all;
    if config.keys.token().is_none() && !kek {
        anyhow::bail!(MISSING_KEK);
    }
    issuer::check_config(&config, kek)?;
    Ok(Checked {
        config,
        jwks_file,
        local_attester,
        identifier,
    })
}

/// Builds the issuer role.
pub(crate) async fn build(ctx: RoleContext) -> anyhow::Result<RoleService> {
    let Checked {
        mut config,
        jwks_file,
        local_attester,
        identifier,
    } = check(&ctx)?;
    let dir = ctx.config.data_dir.join("issuer");

    if config.admin_token.is_none() {
        if ctx.all {
            let path = dir.join("admin_token");
            let token = secret_file(&path, || random_b64(32))?;
            tracing::info!(path = %path.display(), "issuer admin token (generated for the demo)");
            config.admin_token = Some(keys::SecretSetting::inline(token));
        } else {
            tracing::warn!("issuer.admin_token is not set: the admin API refuses every call");
        }
    }

    let database_url = match &config.database_url {
        Some(url) => url.expose().to_owned(),
        None => format!("sqlite:{}", dir.join("issuer.db").display()),
    };
    let database = store::Database::connect(&database_url)
        .await
        .context("cannot open the issuer database (`issuer.database_url`)")?;
    let clock: Arc<dyn jose::Clock> = Arc::new(jose::SystemClock);
    let cache = config.cache_config().map_err(|e| e.in_section("issuer"))?;
    let caches = store::Caches::open(&cache, Some(&database), Arc::clone(&clock))
        .await
        .context("cannot open the issuer's single-use store (`issuer.cache`)")?;

    let kek = match (&config.keys.kek, ctx.all) {
        (Some(source), _) => Some(Arc::new(
            source.load().context("cannot load `issuer.keys.kek`")?,
        )),
        (None, true) => {
            let path = dir.join("kek");
            let text = secret_file(&path, || random_b64(32))?;
            let kek = keys::Kek::from_base64(
                &keys::SecretString::from(text),
                &keys::SecretSource::File(path.clone()),
            )
            .with_context(|| format!("cannot use the KEK in {}", path.display()))?;
            Some(Arc::new(kek))
        }
        (None, false) => None,
    };
    let key_store = match config.keys.token() {
        None => KeyStore::Software(kek.clone().ok_or_else(|| anyhow::anyhow!(MISSING_KEK))?),
        Some(p) => KeyStore::Pkcs11 {
            token: keys::pkcs11::Pkcs11Token::open(p)
                .context("cannot open the issuer's PKCS#11 token")?,
            label_prefix: p.key_label.clone(),
        },
    };
    let mut trust = TrustSources::from_config(&config.attestation, jwks_file);
    if local_attester {
        // The attester is built first (`mode::IMPLEMENTED`) and hands its key over.
        let key = ctx.local.attester_key.get().cloned().ok_or_else(|| {
            anyhow::anyhow!(
                "the attester of this process has not handed over its public key: it must be built before the issuer"
            )
        })?;
        trust.keys.push(key);
    }
    let state = State::new(Dependencies {
        config,
        identifier,
        database,
        single_use: caches.single_use,
        key_store,
        kek,
        trust,
        clock,
        random: Arc::new(SystemRandom),
    })
    .await?;
    issuer::maintenance::spawn(&state, Duration::from_secs(2), Duration::from_secs(60));
    tracing::info!(identifier = state.identifier(), "issuer ready to start");

    let mut service = RoleService::new(
        "issuer",
        issuer::router(Arc::clone(&state)),
        IssuerReadiness(Arc::clone(&state)),
    );
    for (path, route) in issuer::root_routes(&state) {
        service = service.with_root_route(path, route);
    }
    Ok(service)
}
