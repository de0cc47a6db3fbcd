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
//! `<data_dir>/attester/admin_token`; and the public A-Key is handed in memory to the issuer
//! of the same process ([`crate::mode::LocalRoles`]), which trusts it: nothing passes
//! between the roles through files.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use attester::akey::AKey;
use attester::audit::sql::SqlAudit;
use attester::config::{AttesterConfig, KeyConfig};
use attester::evidence::kubernetes::{ReviewSettings, TokenReviewer};
use attester::{AttesterReadiness, Dependencies, Settings, State};
use jose::random::{Random, SystemRandom};
use keys::{ExposeSecret, KeySigner, SecretString};
use service::RoleService;
use service::http::AddressPolicy;

use crate::mode::RoleContext;
use crate::roles::{random_b64, secret_file};

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

/// Why the attester does not start alone without a configured A-Key.
const MISSING_KEY: &str = "`attester.pkcs11` is required: the A-Key lives in a PKCS#11 token (or set `attester.software_key` for a development attester)";

/// The configured A-Key: in its PKCS#11 token, or the software key file (created there if
/// absent). Used by the role and by `attester gen-cert` / `csr`.
pub(crate) fn open_configured_key(key: &KeyConfig) -> anyhow::Result<Arc<dyn KeySigner>> {
    match key {
        KeyConfig::Pkcs11(p) => {
            let signer = keys::pkcs11::Pkcs11Signer::open(p).with_context(|| {
                format!(
                    "cannot use the A-Key `{}` in PKCS#11 token `{}` (create it with `symbolon attester init-key`)",
                    p.key_label, p.token_label
                )
            })?;
            Ok(Arc::new(signer))
        }
        KeyConfig::Software { key_file, kek } => {
            let kek = kek
                .load()
                .context("cannot load `attester.software_key.kek`")?;
            let signer = keys::key_file::load_or_generate(key_file, &kek, jose::Algorithm::Es256)
                .context("cannot load `attester.software_key.key_file`")?;
            Ok(Arc::new(signer))
        }
    }
}

fn open_key(
    config: &AttesterConfig,
    ctx: &RoleContext,
    dir: &Path,
) -> anyhow::Result<Arc<dyn KeySigner>> {
    match &config.key() {
        Some(key) => {
            if matches!(key, KeyConfig::Software { .. }) {
                tracing::warn!(
                    "the A-Key is a software key: attestations say `key_protection: software`, which production issuers refuse"
                );
            }
            open_configured_key(key)
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
        None => anyhow::bail!(MISSING_KEY),
    }
}

/// The attester's start-up checks that need only the configuration: `serve` runs them
/// first and `config check --mode` runs them alone. Nothing is opened or created here (no
/// token, key file, database or directory). Returns the attester identifier.
pub(crate) fn check(ctx: &RoleContext) -> anyhow::Result<String> {
    let config = ctx.config.attester.clone().unwrap_or_default();
    let identifier = config
        .identifier
        .clone()
        .unwrap_or_else(|| ctx.base_url.clone());
    let identifier =
        service::config::public_url("attester.identifier", &identifier, ctx.allow_http_loopback)?;
    if config.key().is_none() && !ctx.all {
        anyhow::bail!(MISSING_KEY);
    }
    config
        .cache_config()
        .map_err(|e| e.in_section("attester"))?;
    Ok(identifier)
}

/// Builds the attester role.
pub(crate) async fn build(ctx: RoleContext) -> anyhow::Result<RoleService> {
    let identifier = check(&ctx)?;
    let config = ctx.config.attester.clone().unwrap_or_default();
    let dir = ctx.config.data_dir.join("attester");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;

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
        .cache_config()
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
        let ca = jose::pem::certificates(&ca_text)
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
        Some(setting) => Some(
            setting
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
        base_url: ctx.base_url.trim_end_matches('/').to_owned(),
        attestation_ttl: config.attestation_ttl,
        challenge_ttl: config.challenge_ttl,
        clock_skew: config.clock_skew,
        dev_evidence,
        allowed_ips: config.allowed_ips.clone(),
        rate_limit: config.rate_limit,
        admin_token: admin_token
            .filter(|t| !t.expose_secret().is_empty())
            .map(|t| service::config::Secret::new(t.expose_secret().to_owned())),
    };
    let random: Arc<dyn Random> = Arc::new(SystemRandom);
    let public_key = akey.public_jwk().clone();
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
    if ctx.all && ctx.local.attester_key.set(public_key).is_err() {
        anyhow::bail!("a second attester in one process: its public key is already handed over");
    }
    if ctx.all {
        let local = crate::mode::LocalAttester {
            url: ctx.base_url.trim_end_matches('/').to_owned(),
            identifier: identifier.clone(),
        };
        if ctx.local.attester.set(local).is_err() {
            anyhow::bail!("a second attester in one process: its address is already handed over");
        }
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

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use jose::Signer;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::mode::{self, Role};

    fn context(dir: &Path, modes: &[Role]) -> RoleContext {
        let env: Vec<(OsString, OsString)> = vec![
            ("SYMBOLON_DATA_DIR".into(), dir.as_os_str().to_owned()),
            ("SYMBOLON_SERVER__ALLOW_HTTP_LOOPBACK".into(), "true".into()),
        ];
        let config = Arc::new(crate::config::load(None, env).unwrap());
        RoleContext::new(&config, &mode::plan(modes).unwrap(), Role::Attester).unwrap()
    }

    async fn call(app: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[test]
    fn the_example_configuration_is_accepted() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/attester.toml"
        ));
        let config = crate::config::load(Some(path), Vec::<(OsString, OsString)>::new()).unwrap();
        let a = config.attester.as_ref().unwrap();
        let Some(KeyConfig::Pkcs11(p)) = &a.key() else {
            panic!("the example keeps the A-Key in PKCS#11: {:?}", a.key());
        };
        assert_eq!(
            (p.token_label.as_str(), p.key_label.as_str()),
            ("IMMERSE", "A-Key")
        );
        assert_eq!(a.kubernetes.enabled, Some(true));
        assert_eq!(a.kubernetes.allowed[0].to_string(), "cvm-wallets:wallet-sa");
        assert_eq!(a.dev_evidence, Some(false));
        assert_eq!(config.listen().port(), 5000);
        // `config check` prints it with the tables as they are written.
        let shown = config.to_toml().unwrap();
        assert!(shown.contains("[attester.pkcs11]"), "{shown}");
        assert!(shown.contains("ATTESTER_HSM_PIN"), "{shown}");
    }

    #[tokio::test]
    async fn all_mode_needs_no_configuration_and_marks_the_software_key() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = context(dir.path(), &[Role::All]);
        let local = Arc::clone(&ctx.local);
        let base = ctx.base_url.clone();
        let config = Arc::clone(&ctx.config);
        let service = build(ctx).await.unwrap();
        let app = service::AppBuilder::new(config.server.http())
            .mount(mode::plan(&[Role::All]).unwrap().mount)
            .role(service)
            .build()
            .unwrap();

        // The key the issuer of the same process trusts, handed over in memory (public
        // only), and no file between the roles.
        let own = dir.path().join("attester");
        let published = local.attester_key.get().unwrap().clone();
        assert!(published.to_value().get("d").is_none());
        assert!(!own.join("jwks.json").exists());
        for secret in ["kek", "admin_token"] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(own.join(secret))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{secret}");
        }

        // A wallet with dev evidence gets an attestation saying the key is software.
        let (status, challenge) = call(
            &app,
            Request::post("/attester/v1/challenge")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{challenge}");
        let ci = jose::SoftwareSigner::generate(jose::Algorithm::Es256).unwrap();
        let now = jose::Clock::now(&jose::SystemClock);
        let proof = client_attestation::proof::sign_challenge_response(
            &ci,
            challenge["attestation_challenge"].as_str().unwrap(),
            &base,
            "wallet-1",
            now,
        )
        .unwrap();
        let body = serde_json::json!({
            "client_id": "wallet-1",
            "ci_jwk": ci.public_jwk().to_value(),
            "challenge_response": proof,
            "evidence": {"type": "dev"},
        });
        let (status, answer) = call(
            &app,
            Request::post("/attester/v1/attestations")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string()))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let jws = jose::CompactJws::parse(answer["client_attestation"].as_str().unwrap()).unwrap();
        let claims = jws.claims_unverified().unwrap();
        assert_eq!(claims["iss"], base.as_str());
        assert_eq!(claims["environment"]["key_protection"], "software");
        assert_eq!(claims["environment"]["evidence"], "dev");
        assert_eq!(jws.header().kid(), published.kid());

        // A restart keeps the key (the issuer's trust stays valid).
        let ctx2 = context(dir.path(), &[Role::All]);
        let local2 = Arc::clone(&ctx2.local);
        let again = build(ctx2).await;
        assert!(again.is_ok());
        assert!(local2.attester_key.get().unwrap().same_key(&published));
    }

    #[tokio::test]
    async fn rejects_starting_alone_without_a_configured_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let err = build(context(dir.path(), &[Role::Attester]))
            .await
            .unwrap_err();
        assert!(
            format!("{err:#}").contains("`attester.pkcs11` is required"),
            "{err:#}"
        );
    }
}
