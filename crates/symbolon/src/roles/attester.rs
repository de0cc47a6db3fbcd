//! The attester role: its typed `[attester]` section turned into the A-Key, the audit log,
//! the challenge store and rate limiter, the TokenReview client, and from them the crate's
//! state, router and readiness.
//!
//! Alone (`--mode=attester`) the A-Key must be configured (`[attester.pkcs11]`, or
//! explicitly `[attester.software_key]`) and Kubernetes evidence is on. If the PKCS#11 key
//! is extractable, not sensitive, or may decrypt, unwrap or derive, the keys crate refuses
//! it and the role does not start; the reason is in the error.
//!
//! Under `--mode=all` with no key configured the embedded defaults apply: a software A-Key
//! sealed in `<data_dir>/attester/a-key.sealed` under a KEK generated into
//! `<data_dir>/attester/kek` (mode 0600), `dev` evidence on, Kubernetes evidence off, the
//! audit log in `<data_dir>/attester/audit.db`, an admin token in
//! `<data_dir>/attester/admin_token`; and the public JWK Set is written to
//! `<data_dir>/attester/jwks.json`, where the issuer of the same process reads its trust.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use attester::akey::AKey;
use attester::audit::sql::SqlAudit;
use attester::config::{AttesterConfig, KeyConfig};
use attester::evidence::kubernetes::{ReviewSettings, TokenReviewer};
use attester::random::{Random, SystemRandom};
use attester::{AttesterReadiness, Dependencies, Settings, State};
use keys::{ExposeSecret, KeySigner, SecretString};
use service::RoleService;
use service::http::AddressPolicy;

use crate::mode::RoleContext;

/// Reads a secret file this role created, or creates it (mode 0600) with `make()`.
fn secret_file(
    path: &Path,
    make: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => return Ok(text.trim().to_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let value = make()?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(value.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(value)
}

fn random_b64(n: usize) -> anyhow::Result<String> {
    attester::random::token(&SystemRandom, n).map_err(|e| anyhow::anyhow!("{e}"))
}

/// Writes `contents` to `path` through a temporary file and a rename, so a reader (the
/// issuer's trust loader) never sees half a file.
fn write_atomically(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, contents).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// The in-cluster API server address, from the variables the kubelet sets in every pod.
fn in_cluster_api_url() -> String {
    match (
        std::env::var("KUBERNETES_SERVICE_HOST"),
        std::env::var("KUBERNETES_SERVICE_PORT"),
    ) {
        (Ok(host), Ok(port)) if !host.is_empty() && !port.is_empty() => {
            if host.contains(':') {
                format!("https://[{host}]:{port}")
            } else {
                format!("https://{host}:{port}")
            }
        }
        _ => "https://kubernetes.default.svc".to_owned(),
    }
}

fn open_key(
    config: &AttesterConfig,
    ctx: &RoleContext,
    dir: &Path,
) -> anyhow::Result<Arc<dyn KeySigner>> {
    match &config.key {
        Some(KeyConfig::Pkcs11(p)) => {
            let signer = keys::pkcs11::Pkcs11Signer::open(p).with_context(|| {
                format!(
                    "cannot use the A-Key `{}` in PKCS#11 token `{}` (create it with `symbolon attester init-key`)",
                    p.key_label, p.token_label
                )
            })?;
            Ok(Arc::new(signer))
        }
        Some(KeyConfig::Software { key_file, kek }) => {
            let kek = kek
                .load()
                .context("cannot load `attester.software_key.kek`")?;
            let signer = keys::key_file::load_or_generate(key_file, &kek, jose::Algorithm::Es256)
                .context("cannot load `attester.software_key.key_file`")?;
            tracing::warn!(
                "the A-Key is a software key: attestations say `key_protection: software`, which production issuers refuse"
            );
            Ok(Arc::new(signer))
        }
        None if ctx.all => {
            let kek_path = dir.join("kek");
            let text = secret_file(&kek_path, || random_b64(32))?;
            let kek = keys::Kek::from_base64(
                &SecretString::from(text),
                &keys::SecretSource::File(kek_path.clone()),
            )
            .with_context(|| format!("cannot use the KEK in {}", kek_path.display()))?;
            let signer = keys::key_file::load_or_generate(
                &dir.join("a-key.sealed"),
                &kek,
                jose::Algorithm::Es256,
            )
            .context("cannot load the embedded A-Key")?;
            Ok(Arc::new(signer))
        }
        None => anyhow::bail!(
            "`attester.pkcs11` is required: the A-Key lives in a PKCS#11 token (or set `attester.software_key` for a development attester)"
        ),
    }
}

/// Builds the attester role.
pub(crate) async fn build(ctx: RoleContext) -> anyhow::Result<RoleService> {
    let config = ctx.config.attester.clone().unwrap_or_default();
    let dir = ctx.config.data_dir.join("attester");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;

    let identifier = config
        .identifier
        .clone()
        .unwrap_or_else(|| ctx.base_url.clone());
    let identifier =
        service::config::public_url("attester.identifier", &identifier, ctx.allow_http_loopback)?;

    let signer = open_key(&config, &ctx, &dir)?;
    let chain = match &config.certificate {
        Some(path) => AKey::read_chain(path)?,
        None => Vec::new(),
    };
    let akey = AKey::new(signer, chain).context("`attester.certificate`")?;

    let database_url = match &config.database_url {
        Some(url) => url.expose().to_owned(),
        None => store::Database::sqlite_url(&dir.join("audit.db"))
            .ok_or_else(|| anyhow::anyhow!("data_dir {} is not a UTF-8 path", dir.display()))?,
    };
    let database = store::Database::connect(&database_url)
        .await
        .context("cannot open the audit log database (`attester.database_url`)")?;
    let audit = SqlAudit::new(database.clone())
        .await
        .context("cannot prepare the audit log table")?;
    let clock: Arc<dyn jose::Clock> = Arc::new(jose::SystemClock);
    let cache = config
        .cache
        .to_store()
        .map_err(|e| e.in_section("attester"))?;
    let caches = store::Caches::open(&cache, Some(&database), Arc::clone(&clock))
        .await
        .context("cannot open the attester's challenge store (`attester.cache`)")?;

    let kubernetes = if config.kubernetes.enabled.unwrap_or(!ctx.all) {
        let k = &config.kubernetes;
        let ca_text = std::fs::read_to_string(&k.ca_file).with_context(|| {
            format!(
                "cannot read the Kubernetes API CA {} (`attester.kubernetes.ca_file`)",
                k.ca_file.display()
            )
        })?;
        let ca = attester::pem::certificates(&ca_text)
            .with_context(|| format!("`attester.kubernetes.ca_file` {}", k.ca_file.display()))?;
        let api_url = k.api_url.clone().unwrap_or_else(in_cluster_api_url);
        let reviewer = TokenReviewer::new(ReviewSettings {
            api_url: api_url.clone(),
            token_file: k.token_file.clone(),
            ca,
            audience: k.audience.clone().unwrap_or_else(|| identifier.clone()),
            allowed: k.allowed.clone(),
            timeout: k.timeout,
            policy: AddressPolicy::AllowPrivate,
        })
        .context("cannot set up the TokenReview client")?;
        tracing::info!(api_url, audience = reviewer.audience(), allowed = ?k.allowed, "Kubernetes evidence enabled");
        Some(reviewer)
    } else {
        None
    };

    let admin_token = match &config.admin_token {
        Some(source) => Some(
            source
                .load()
                .context("cannot read `attester.admin_token`")?,
        ),
        None if ctx.all => {
            let path = dir.join("admin_token");
            let token = secret_file(&path, || random_b64(32))?;
            tracing::info!(path = %path.display(), "attester admin token (generated for the demo)");
            Some(SecretString::from(token))
        }
        None => {
            tracing::warn!(
                "attester.admin_token is not set: the audit admin API refuses every call"
            );
            None
        }
    };
    let dev_evidence = config.dev_evidence.unwrap_or(ctx.all);
    if dev_evidence && !ctx.all {
        tracing::warn!(
            "dev evidence is enabled: any caller that reaches the attester gets attestations marked `evidence: dev`"
        );
    }

    let settings = Settings {
        identifier: identifier.clone(),
        attestation_ttl: config.attestation_ttl,
        challenge_ttl: config.challenge_ttl,
        clock_skew: config.clock_skew,
        dev_evidence,
        allowed_ips: config.allowed_ips.clone(),
        rate_limit: config.rate_limit,
        admin_token: admin_token.filter(|t| !t.expose_secret().is_empty()),
    };
    let random: Arc<dyn Random> = Arc::new(SystemRandom);
    let jwks = akey.jwks().to_string();
    let kid = akey.kid().to_owned();
    let protection = akey.protection();
    let state = Arc::new(State::new(
        settings,
        Dependencies {
            clock,
            random,
            akey,
            audit: Arc::new(audit),
            single_use: caches.single_use,
            rate_limiter: caches.rate_limiter,
            kubernetes,
        },
    ));
    if ctx.all {
        let path = dir.join("jwks.json");
        write_atomically(&path, jwks.as_bytes())?;
        tracing::info!(path = %path.display(), "attester public keys written for the local issuer");
    }
    tracing::info!(
        identifier,
        kid,
        key_protection = protection.as_str(),
        dev_evidence,
        "attester ready"
    );
    Ok(RoleService::new(
        "attester",
        attester::router(Arc::clone(&state)),
        AttesterReadiness(state),
    ))
}
