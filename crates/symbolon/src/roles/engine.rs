//! The wallet engine role: its typed `[engine]` section turned into the wallet core
//! (the SSRF-guarded client of the flows, the engine's own attestation client and
//! CI-Key, the trust settings), the session JWT check, and from them the crate's
//! `Engine`, router (`GET /api/v2/wallet`, `GET /api/v2/schema.json`) and readiness.
//!
//! Alone (`--mode=engine`) `engine.attester_url` is required, the engine proves itself
//! with Kubernetes evidence (its projected service-account token), anonymous sessions are
//! refused unless `engine.app_tokens.anonymous` lists permissions, and the flows' outbound
//! calls reach public addresses only.
//!
//! Under `--mode=all` the embedded defaults apply: the engine gets its attestation from
//! the attester of the same process, which hands its address and identifier over in
//! memory ([`crate::mode::LocalRoles`]), with `dev` evidence; anonymous sessions may
//! receive and present (the process is a one-machine demo); and the flows may reach the
//! `http://` issuer and verifier of the same process on loopback.
//!
//! Readiness: ready once built. The engine has no database; its one dependency, the
//! attester, is needed only when an issuer asks for client attestation, and a probe that
//! called it would take every engine out of service together whenever the attester
//! blinks, presentations included. An attester that cannot be reached ends the flow that
//! needs it with its own error code instead.

use std::sync::Arc;

use anyhow::Context;
use engine::config::{EngineConfig, Evidence, Section, permissions};
use engine::{AppTokens, Engine, Limits, Permissions};
use jose::{Clock, PublicJwk, TrustAnchors};
use service::RoleService;
use service::http::{AddressPolicy, FetchError, GuardedClient, HttpSettings};
use wallet::attestation::{AttestationClient, ClientSettings, EvidenceSource};

use crate::mode::RoleContext;

/// Why the engine does not start alone without an attester.
const MISSING_ATTESTER: &str = "`engine.attester_url` is required: the engine attests itself (its client instance key) to the attester before it asks an issuer for credentials";
/// Why the engine does not start without a way for clients to authenticate.
const NO_CLIENTS: &str = "`engine.app_tokens.jwks_file`, `engine.app_tokens.jwks_url` or `engine.app_tokens.anonymous` is required: without the auth role's JWK Set or anonymous sessions no client can open a session";

/// What the start-up checks of the engine decided, before any file is read.
pub(crate) struct Checked {
    /// `[engine]`, or its defaults.
    config: EngineConfig,
    /// The attester's base URL and identifier; `None`: the attester of this process.
    attester: Option<(String, Option<String>)>,
    /// The evidence the engine proves itself with.
    evidence: Evidence,
    /// What anonymous sessions may do; `None`: refused.
    anonymous: Option<Permissions>,
    /// The flows' outbound policy.
    policy: AddressPolicy,
    /// `http://` issuer and verifier identifiers on loopback.
    allow_http_loopback: bool,
}

/// The engine's start-up checks that need only the configuration: `serve` runs them first
/// and `config check --mode` runs them alone, so both give the same verdict. No file is
/// read here (JWK Set, anchors, token).
pub(crate) fn check(ctx: &RoleContext) -> anyhow::Result<Checked> {
    let config = match &ctx.config.engine {
        Some(c) => c.clone(),
        None => EngineConfig::default()
            .validated()
            .map_err(|e| e.in_section("engine"))?,
    };
    let attester = match &config.attester_url {
        Some(url) => Some((url.clone(), config.attester_id.clone())),
        None if ctx.all => None,
        None => anyhow::bail!(MISSING_ATTESTER),
    };
    let evidence = config.evidence.unwrap_or(if ctx.all {
        Evidence::Dev
    } else {
        Evidence::Kubernetes
    });
    if evidence == Evidence::Dev && !ctx.all {
        tracing::warn!(
            "engine.evidence = \"dev\": only an attester that accepts development evidence will attest this engine"
        );
    }
    let anonymous = match &config.app_tokens.anonymous {
        Some(list) if list.is_empty() => None,
        Some(list) => Some(permissions(list)),
        None if ctx.all => {
            if !ctx.config.listen().ip().is_loopback() {
                tracing::warn!(
                    listen = %ctx.config.listen(),
                    "--mode=all admits anonymous engine sessions by default, and this process does not listen on loopback only: set engine.app_tokens.anonymous = [] to refuse them"
                );
            }
            Some(Permissions::ALL)
        }
        None => None,
    };
    if anonymous.is_none()
        && config.app_tokens.jwks_file.is_none()
        && config.app_tokens.jwks_url.is_none()
    {
        anyhow::bail!(NO_CLIENTS);
    }
    let allow_http_loopback = config.trust.allow_http_loopback.unwrap_or(ctx.all);
    let policy = match config.outbound.address_policy {
        Some(p) => p.into(),
        None if allow_http_loopback => AddressPolicy::AllowLoopback,
        None => AddressPolicy::PublicOnly,
    };
    if let engine::config::Issuers::Only(list) = &config.trust.issuers {
        for issuer in list {
            service::config::public_url("engine.trust.issuers", issuer, allow_http_loopback)?;
        }
    }
    Ok(Checked {
        config,
        attester,
        evidence,
        anonymous,
        policy,
        allow_http_loopback,
    })
}

/// The keys of a JWK Set file: public keys, each with a `kid` (a session JWT names its
/// key), no private member.
fn read_jwks(path: &std::path::Path) -> anyhow::Result<Vec<PublicJwk>> {
    let what = || format!("`engine.app_tokens.jwks_file` {}", path.display());
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", what()))?;
    let set = jose::json::parse_value(&text).with_context(|| format!("{} is not JSON", what()))?;
    let Some(serde_json::Value::Array(keys)) = set.get("keys") else {
        anyhow::bail!("{} is not a JWK Set: no `keys` array", what());
    };
    if keys.is_empty() {
        anyhow::bail!("{} holds no key", what());
    }
    keys.iter()
        .enumerate()
        .map(|(i, k)| {
            let jwk = PublicJwk::from_value(k)
                .with_context(|| format!("{}: key {i} is not a usable public JWK", what()))?;
            if jwk.kid().is_none_or(str::is_empty) {
                anyhow::bail!(
                    "{}: key {i} has no `kid` (session JWTs name their key)",
                    what()
                );
            }
            Ok(jwk)
        })
        .collect()
}

/// A guarded client with the configured timeout and body cap.
fn outbound(config: &EngineConfig, policy: AddressPolicy) -> Result<GuardedClient, FetchError> {
    GuardedClient::new(HttpSettings {
        policy,
        timeout: config.outbound.timeout,
        connect_timeout: config
            .outbound
            .timeout
            .min(HttpSettings::default().connect_timeout),
        max_body: config.outbound.max_body,
        ..HttpSettings::default()
    })
}

/// The engine's own attestation client: its CI-Key (generated now, in memory only) and the
/// attester it gets attestations from — the configured one, or under `--mode=all` the
/// attester of this process, which hands its address over while it is built. Returns the
/// client and the attester's URL.
fn attestation_client(
    ctx: &RoleContext,
    config: &EngineConfig,
    attester: Option<(String, Option<String>)>,
    evidence: Evidence,
) -> anyhow::Result<(AttestationClient, String)> {
    // The attester is an operator-configured in-cluster address, never taken from input:
    // its own client may reach private networks (loopback under `--mode=all`).
    let policy = if ctx.all {
        AddressPolicy::AllowLoopback
    } else {
        AddressPolicy::AllowPrivate
    };
    let http = outbound(config, policy).context("cannot build the attester's HTTP client")?;
    let (attester_url, attester_id) = match attester {
        Some(a) => a,
        None => {
            // The attester is built first (`mode::IMPLEMENTED`) and hands its address over.
            let local = ctx.local.attester.get().cloned().ok_or_else(|| {
                anyhow::anyhow!(
                    "the attester of this process has not handed over its address: it must be built before the engine"
                )
            })?;
            (
                local.url,
                config.attester_id.clone().or(Some(local.identifier)),
            )
        }
    };
    let evidence = match evidence {
        Evidence::Kubernetes => EvidenceSource::Kubernetes {
            token_file: config.token_file.clone(),
        },
        Evidence::Dev => EvidenceSource::Dev,
    };
    let mut settings =
        ClientSettings::new(attester_url.clone(), config.client_id.clone(), evidence);
    settings.attester_id = attester_id;
    let client = AttestationClient::new(
        settings,
        http,
        Arc::new(jose::SystemClock),
        Arc::new(jose::SystemRandom),
    )
    .context("cannot set up the engine's attestation client")?;
    Ok((client, attester_url))
}

/// Builds the engine role.
pub(crate) async fn build(ctx: RoleContext) -> anyhow::Result<RoleService> {
    let Checked {
        config,
        attester,
        evidence,
        anonymous,
        policy,
        allow_http_loopback,
    } = check(&ctx)?;
    let clock: Arc<dyn Clock> = Arc::new(jose::SystemClock);
    let random = Arc::new(jose::SystemRandom);

    let keys = match &config.app_tokens.jwks_file {
        Some(path) => read_jwks(path)?,
        None => Vec::new(),
    };
    let mut tokens = match &config.app_tokens.jwks_url {
        // Operator-configured, possibly in-cluster: private addresses allowed.
        Some(url) => AppTokens::remote(
            engine::auth::RemoteJwks::new(
                url.clone(),
                outbound(&config, AddressPolicy::AllowPrivate)
                    .context("cannot build the session keys' HTTP client")?,
            ),
            config.app_tokens.issuer.clone(),
            config.app_tokens.audience.clone(),
            Arc::clone(&clock),
        ),
        None => AppTokens::new(
            &keys,
            config.app_tokens.issuer.clone(),
            config.app_tokens.audience.clone(),
            Arc::clone(&clock),
        )
        .context("`engine.app_tokens.jwks_file`: a key cannot verify session JWTs")?,
    };
    if let Some(permissions) = anonymous {
        tokens = tokens.with_anonymous(permissions);
    }

    let mut settings =
        match &config.trust.verifier_anchors {
            Some(path) => {
                let pem = std::fs::read_to_string(path).with_context(|| {
                    format!(
                        "cannot read `engine.trust.verifier_anchors` {}",
                        path.display()
                    )
                })?;
                wallet::Settings::new(TrustAnchors::from_pem(&pem).with_context(|| {
                    format!("`engine.trust.verifier_anchors` {}", path.display())
                })?)
            }
            None => wallet::Settings::without_verifier_anchors(),
        };
    settings.issuers = (&config.trust.issuers).into();
    settings.allow_http_loopback = allow_http_loopback;

    let http = outbound(&config, policy).context("cannot build the outbound HTTP client")?;
    let (attestation, attester_url) = attestation_client(&ctx, &config, attester, evidence)?;
    let ci_kid = attestation.ci_jwk().kid().unwrap_or_default().to_owned();

    let core = wallet::Wallet::new(
        settings,
        http,
        Arc::new(attestation),
        Arc::clone(&clock),
        random.clone(),
    );
    let engine = Arc::new(Engine::new(core, tokens, Limits::default(), clock, random));
    tracing::info!(
        attester = attester_url,
        evidence = ?evidence,
        ci_key = ci_kid,
        session_keys = keys.len(),
        anonymous = ?anonymous,
        outbound = ?policy,
        "wallet engine ready"
    );
    // At shutdown every session says `draining` to its client and closes once its
    // running flows end (within the shutdown grace).
    let draining = Arc::clone(&engine);
    let drain: service::Drain = Arc::new(move || {
        let engine = Arc::clone(&draining);
        Box::pin(async move {
            engine.drain();
            engine.drained().await;
        })
    });
    Ok(RoleService::new(
        "engine",
        engine::routes::router(engine),
        service::AlwaysReady,
    )
    .with_drain(drain))
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;
    use std::path::Path;

    use super::*;
    use crate::mode::{self, Role};

    fn context(dir: &Path, modes: &[Role], vars: &[(&str, &str)]) -> RoleContext {
        let mut env: Vec<(OsString, OsString)> =
            vec![("SYMBOLON_DATA_DIR".into(), dir.as_os_str().to_owned())];
        env.extend(vars.iter().map(|(k, v)| ((*k).into(), (*v).into())));
        let config = Arc::new(crate::config::load(None, env).unwrap());
        let plan = mode::plan(modes).unwrap();
        RoleContext::new(&config, &plan, Role::Engine).unwrap()
    }

    #[test]
    fn issue12_the_example_configuration_is_accepted() {
        let path = Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/engine.toml"
        ));
        let mut config =
            crate::config::load(Some(path), Vec::<(OsString, OsString)>::new()).unwrap();
        config.default_listen_for(Some(Role::Engine));
        let config = Arc::new(config);
        let plan = mode::plan(&[Role::Engine]).unwrap();
        let ctx = RoleContext::new(&config, &plan, Role::Engine).unwrap();
        let checked = check(&ctx).unwrap();
        assert_eq!(checked.evidence, Evidence::Kubernetes);
        assert_eq!(checked.policy, AddressPolicy::PublicOnly);
        assert!(!checked.allow_http_loopback);
        let shown = config.to_toml().unwrap();
        assert!(shown.contains("[engine.app_tokens]"), "{shown}");
    }

    #[test]
    fn issue12_all_mode_defaults_to_the_local_attester_and_anonymous_sessions() {
        let dir = tempfile::tempdir().unwrap();
        let checked = check(&context(dir.path(), &[Role::All], &[])).unwrap();
        assert!(checked.attester.is_none());
        assert_eq!(checked.evidence, Evidence::Dev);
        assert_eq!(checked.anonymous, Some(Permissions::ALL));
        assert_eq!(checked.policy, AddressPolicy::AllowLoopback);
        assert!(checked.allow_http_loopback);
    }

    #[test]
    fn issue12_rejects_starting_alone_without_an_attester_or_client_authentication() {
        let dir = tempfile::tempdir().unwrap();
        let loopback = ("SYMBOLON_SERVER__ALLOW_HTTP_LOOPBACK", "true");
        let e = check(&context(dir.path(), &[Role::Engine], &[loopback]))
            .err()
            .unwrap();
        assert!(
            e.to_string().contains("`engine.attester_url` is required"),
            "{e}"
        );
        let e = check(&context(
            dir.path(),
            &[Role::Engine],
            &[
                loopback,
                ("SYMBOLON_ENGINE__ATTESTER_URL", "http://attester.svc:5000"),
            ],
        ))
        .err()
        .unwrap();
        assert!(e.to_string().contains("engine.app_tokens.jwks_file"), "{e}");
    }

    /// Under `--mode=all` the engine attests itself to the attester of the same process,
    /// with `dev` evidence, at the address and identifier the attester hands over: a real
    /// attestation from the real attester role served on a loopback port.
    #[tokio::test]
    async fn issue12_all_mode_engine_attests_itself_to_the_attester_of_the_process() {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let ctx = context(
            dir.path(),
            &[Role::All],
            &[("SYMBOLON_SERVER__LISTEN", addr.as_str())],
        );
        let plan = mode::plan(&[Role::All]).unwrap();
        let plan = mode::Plan {
            local: Arc::clone(&ctx.local),
            ..plan
        };

        // Before the attester is built there is no address to call.
        let checked = check(&ctx).unwrap();
        let e = attestation_client(&ctx, &checked.config, None, checked.evidence)
            .err()
            .unwrap();
        assert!(e.to_string().contains("has not handed over"), "{e}");

        let attester_ctx = RoleContext::new(&ctx.config, &plan, Role::Attester).unwrap();
        let attester = crate::roles::attester::build(attester_ctx).await.unwrap();
        let app = service::AppBuilder::new(ctx.config.server.http())
            .mount(plan.mount)
            .role(attester)
            .build()
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(service::serve_with_shutdown(
            listener,
            app,
            async move {
                let _ = stopped.await;
            },
            std::time::Duration::from_secs(1),
        ));

        let (client, url) =
            attestation_client(&ctx, &checked.config, checked.attester, checked.evidence).unwrap();
        assert_eq!(url, format!("http://{addr}/attester"));
        let jwt = client.attestation().await.unwrap();
        let jws = jose::CompactJws::parse(&jwt).unwrap();
        let claims = jws.claims_unverified().unwrap();
        assert_eq!(claims["iss"], url.as_str());
        assert_eq!(claims["sub"], "symbolon-engine");
        assert_eq!(claims["environment"]["evidence"], "dev");
        let bound = PublicJwk::from_value(&claims["cnf"]["jwk"]).unwrap();
        assert!(bound.same_key(client.ci_jwk()));

        let _ = stop.send(());
        server.await.unwrap().unwrap();
    }

    #[test]
    fn issue12_rejects_plain_http_trusted_issuers_outside_loopback_mode() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("engine.toml");
        let text = |issuer: &str| {
            format!(
                "[server]\npublic_url = \"https://wallet.example\"\n[engine]\nattester_url = \"http://attester.svc:5000\"\n[engine.app_tokens]\nanonymous = [\"present\"]\n[engine.trust]\nissuers = [\"{issuer}\"]\n"
            )
        };
        let checked = |issuer: &str| {
            std::fs::write(&file, text(issuer)).unwrap();
            let config =
                crate::config::load(Some(&file), Vec::<(OsString, OsString)>::new()).unwrap();
            let plan = mode::plan(&[Role::Engine]).unwrap();
            check(&RoleContext::new(&Arc::new(config), &plan, Role::Engine).unwrap())
        };
        let e = checked("http://issuer.example").err().unwrap();
        assert!(e.to_string().contains("engine.trust.issuers"), "{e}");
        let e = checked("http://127.0.0.1:8080/issuer").err().unwrap();
        assert!(e.to_string().contains("engine.trust.issuers"), "{e}");
        let ok = checked("https://issuer.example").unwrap();
        assert_eq!(
            ok.anonymous,
            Some(Permissions {
                receive: false,
                present: true
            })
        );
    }

    #[tokio::test]
    async fn issue12_rejects_starting_with_a_missing_jwk_set_naming_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let ctx = context(
            dir.path(),
            &[Role::All],
            &[(
                "SYMBOLON_ENGINE__APP_TOKENS__JWKS_FILE",
                missing.to_str().unwrap(),
            )],
        );
        let e = build(ctx).await.err().unwrap();
        assert!(
            format!("{e:#}").contains("engine.app_tokens.jwks_file"),
            "{e:#}"
        );
    }

    #[tokio::test]
    async fn issue12_rejects_a_jwk_set_with_a_private_key_or_without_kid() {
        let dir = tempfile::tempdir().unwrap();
        let signer = jose::SoftwareSigner::generate(jose::Algorithm::Es256).unwrap();
        let public = jose::Signer::public_jwk(&signer).to_value();
        let mut private = public.clone();
        private["d"] = "AAAA".into();
        private["kid"] = "k1".into();
        for (keys, needle) in [
            (serde_json::json!([public]), "has no `kid`"),
            (serde_json::json!([private]), "not a usable public JWK"),
            (serde_json::json!([]), "holds no key"),
        ] {
            let path = dir.path().join("jwks.json");
            std::fs::write(&path, serde_json::json!({ "keys": keys }).to_string()).unwrap();
            let e = read_jwks(&path).unwrap_err();
            assert!(format!("{e:#}").contains(needle), "{e:#}");
        }
    }
}
