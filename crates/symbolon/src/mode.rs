//! The roles `symbolon serve` knows (DESIGN §1), which of them this build implements, and
//! how a `--mode` list becomes mounted routers.
//!
//! Adding a role: one line in [`IMPLEMENTED`] pointing at a function that builds the
//! role's [`RoleService`] from the config (its crate's `router(state)` plus readiness).

use std::sync::Arc;

use anyhow::Context;
use service::{Mount, RoleService};

use crate::config::Config;

/// A platform role (`--mode` value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Role {
    Issuer,
    Verifier,
    Attester,
    Engine,
    Auth,
    Storage,
    Registry,
    Backend,
    Gateway,
    /// Every implemented role in one process.
    All,
}

impl Role {
    /// Every role, in the order of DESIGN §1.
    pub(crate) const EVERY: [Role; 10] = [
        Role::Issuer,
        Role::Verifier,
        Role::Attester,
        Role::Engine,
        Role::Auth,
        Role::Storage,
        Role::Registry,
        Role::Backend,
        Role::Gateway,
        Role::All,
    ];

    /// The `--mode` spelling, also the mount path under `/` when nested.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Role::Issuer => "issuer",
            Role::Verifier => "verifier",
            Role::Attester => "attester",
            Role::Engine => "engine",
            Role::Auth => "auth",
            Role::Storage => "storage",
            Role::Registry => "registry",
            Role::Backend => "backend",
            Role::Gateway => "gateway",
            Role::All => "all",
        }
    }
}

/// What a role builder returns: building may be asynchronous (opening databases, running
/// migrations, logging in to a token).
pub(crate) type RoleFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<RoleService>> + Send>>;

/// Builds a role's router and readiness from the configuration.
pub(crate) type BuildRole = fn(RoleContext) -> RoleFuture;

/// What a role builder gets: the whole configuration and where the role is reachable.
#[derive(Clone, Debug)]
#[allow(
    dead_code,
    reason = "read by the role builders in crate::roles as roles are added"
)]
pub(crate) struct RoleContext {
    /// The typed configuration.
    pub(crate) config: Arc<Config>,
    /// The role's external base URL: `server.public_url` (default `http://<listen>`, with
    /// the port actually bound when `serve` was asked for port 0), plus `/<role>` when
    /// roles are nested. No trailing slash.
    pub(crate) base_url: String,
    /// Whether `http://` loopback identifiers are allowed (explicit
    /// `server.allow_http_loopback`, else true only under `--mode=all`).
    pub(crate) allow_http_loopback: bool,
    /// Whether this process serves `--mode=all` (embedded defaults apply).
    pub(crate) all: bool,
    /// What the roles of this process hand each other ([`Plan::local`]).
    pub(crate) local: Arc<LocalRoles>,
}

impl RoleContext {
    /// The context for `role` in `plan`; fails when the public URL is not acceptable.
    pub(crate) fn new(config: &Arc<Config>, plan: &Plan, role: Role) -> anyhow::Result<Self> {
        let allow_http_loopback = config.server.allow_http_loopback.unwrap_or(plan.all);
        let public = match &config.server.public_url {
            Some(url) => url.clone(),
            None => {
                let listen = config.listen();
                let host = if listen.ip().is_unspecified() {
                    std::net::IpAddr::from([127, 0, 0, 1])
                } else {
                    listen.ip()
                };
                format!("http://{}", std::net::SocketAddr::new(host, listen.port()))
            }
        };
        let public =
            service::config::public_url("server.public_url", &public, allow_http_loopback)?;
        let base_url = match plan.mount {
            Mount::Root => public,
            Mount::Nested => format!("{public}/{}", role.name()),
        };
        Ok(RoleContext {
            config: Arc::clone(config),
            base_url,
            allow_http_loopback,
            all: plan.all,
            local: Arc::clone(&plan.local),
        })
    }
}

/// The roles this build serves, with the function that builds each. `all` serves every
/// role listed here.
pub(crate) const IMPLEMENTED: &[(Role, BuildRole)] = &[
    (Role::Verifier, |ctx| {
        Box::pin(crate::roles::verifier::build(ctx))
    }),
    // The attester comes before the issuer: under `--mode=all` it hands its public A-Key
    // to the issuer in memory (`LocalRoles`).
    (Role::Attester, |ctx| {
        Box::pin(crate::roles::attester::build(ctx))
    }),
    (Role::Issuer, |ctx| {
        Box::pin(crate::roles::issuer::build(ctx))
    }),
    // After the attester: under `--mode=all` the engine attests itself to the attester of
    // the same process (`LocalRoles::attester`).
    (Role::Engine, |ctx| {
        Box::pin(crate::roles::engine::build(ctx))
    }),
];

/// A role's start-up checks on the configuration alone (see [`check`]).
pub(crate) type CheckRole = fn(&RoleContext) -> anyhow::Result<()>;

/// The start-up checks of each role in [`IMPLEMENTED`]: the first thing its builder runs,
/// so `config check --mode` and `serve` refuse the same configurations.
pub(crate) const CHECKS: &[(Role, CheckRole)] = &[
    (Role::Verifier, |ctx| {
        crate::roles::verifier::check(ctx).map(drop)
    }),
    (Role::Attester, |ctx| {
        crate::roles::attester::check(ctx).map(drop)
    }),
    (Role::Issuer, |ctx| {
        crate::roles::issuer::check(ctx).map(drop)
    }),
    (Role::Engine, |ctx| {
        crate::roles::engine::check(ctx).map(drop)
    }),
];

/// Loads the configuration and plans the `--mode` list exactly as `serve` does (including
/// the listen address of a role served alone).
pub(crate) fn load(
    file: Option<&std::path::Path>,
    modes: &[Role],
) -> anyhow::Result<(Config, Plan)> {
    let mut config = crate::config::load(file, std::env::vars_os())?;
    let plan = plan(modes)?;
    config.default_listen_for(plan.only_role());
    Ok((config, plan))
}

/// `serve`'s verdict on the configuration for `plan`, without serving: each role's
/// context (its public URL) and its [`CHECKS`], with the same errors `serve` gives. What
/// needs the outside world is not tried: databases, Redis, PKCS#11 tokens, secret and key
/// files, and the files `--mode=all` generates.
pub(crate) fn check(config: &Arc<Config>, plan: &Plan) -> anyhow::Result<()> {
    for (role, _) in &plan.roles {
        let ctx = RoleContext::new(config, plan, *role)?;
        if let Some((_, check)) = CHECKS.iter().find(|(r, _)| r == role) {
            check(&ctx).with_context(|| format!("cannot start role `{}`", role.name()))?;
        }
    }
    Ok(())
}

type Registry = [(Role, BuildRole)];

fn builder(registry: &Registry, role: Role) -> Option<BuildRole> {
    registry
        .iter()
        .find(|(r, _)| *r == role)
        .map(|(_, build)| *build)
}

fn implemented_list(registry: &Registry) -> String {
    if registry.is_empty() {
        "none yet".to_owned()
    } else {
        registry
            .iter()
            .map(|(r, _)| r.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `--mode` value parser: accepts a known role this build implements, or `all`.
pub(crate) fn parse_role(value: &str) -> Result<Role, String> {
    parse_role_in(IMPLEMENTED, value)
}

fn parse_role_in(registry: &Registry, value: &str) -> Result<Role, String> {
    let Some(role) = Role::EVERY.into_iter().find(|r| r.name() == value) else {
        let every: Vec<&str> = Role::EVERY.iter().map(|r| r.name()).collect();
        return Err(format!(
            "unknown role `{value}`; the roles are {}; implemented in this build: {}",
            every.join(", "),
            implemented_list(registry)
        ));
    };
    if role != Role::All && builder(registry, role).is_none() {
        return Err(format!(
            "role `{value}` is not implemented yet; implemented roles: {} (`all` serves every implemented role)",
            implemented_list(registry)
        ));
    }
    Ok(role)
}

/// What to mount for a `--mode` list.
#[derive(Debug)]
pub(crate) struct Plan {
    /// At `/` for one role alone, under `/<role>` otherwise.
    pub(crate) mount: Mount,
    /// The roles, without duplicates, in the order given (`all`: the order of
    /// [`IMPLEMENTED`]).
    pub(crate) roles: Vec<(Role, BuildRole)>,
    /// `--mode=all` was asked for.
    pub(crate) all: bool,
    /// What the roles of this process hand each other in memory.
    pub(crate) local: Arc<LocalRoles>,
}

/// What roles served by one process hand each other in memory, never through files: a
/// role that publishes something sets it while it is built, and a role built after it (the
/// order of [`IMPLEMENTED`]) reads it.
#[derive(Debug, Default)]
pub(crate) struct LocalRoles {
    /// The in-process attester's public A-Key, which the issuer of `--mode=all` trusts.
    pub(crate) attester_key: std::sync::OnceLock<jose::PublicJwk>,
    /// Where the in-process attester is reached and its identifier, which the engine of
    /// `--mode=all` gets its own client attestation from.
    pub(crate) attester: std::sync::OnceLock<LocalAttester>,
}

/// The in-process attester, as the engine of `--mode=all` calls it.
#[derive(Clone, Debug)]
pub(crate) struct LocalAttester {
    /// Its external base URL (`<public_url>/attester`).
    pub(crate) url: String,
    /// Its identifier (`iss` of its attestations, `aud` of challenge responses).
    pub(crate) identifier: String,
}

impl Plan {
    /// The role, when exactly one is served (not under `--mode=all`).
    pub(crate) fn only_role(&self) -> Option<Role> {
        match self.roles.as_slice() {
            [(role, _)] if !self.all => Some(*role),
            _ => None,
        }
    }
}

/// Resolves a parsed `--mode` list. Fails only for a role [`parse_role`] would refuse.
pub(crate) fn plan(modes: &[Role]) -> anyhow::Result<Plan> {
    plan_in(IMPLEMENTED, modes)
}

/// [`plan`] over a given registry (tests register their own roles).
pub(crate) fn plan_in(registry: &Registry, modes: &[Role]) -> anyhow::Result<Plan> {
    if modes.contains(&Role::All) {
        return Ok(Plan {
            mount: Mount::Nested,
            roles: registry.to_vec(),
            all: true,
            local: Arc::default(),
        });
    }
    let mut roles: Vec<(Role, BuildRole)> = Vec::new();
    for &role in modes {
        if roles.iter().any(|(r, _)| *r == role) {
            continue;
        }
        let build = builder(registry, role)
            .ok_or_else(|| anyhow::anyhow!("role `{}` is not implemented yet", role.name()))?;
        roles.push((role, build));
    }
    let mount = if roles.len() == 1 {
        Mount::Root
    } else {
        Mount::Nested
    };
    Ok(Plan {
        mount,
        roles,
        all: false,
        local: Arc::default(),
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use axum::Router;
    use axum::routing::get;
    use service::AlwaysReady;

    use super::*;

    fn hello(role: Role) -> RoleService {
        let router = Router::new().route("/hello", get(move || async move { role.name() }));
        RoleService::new(role.name(), router, AlwaysReady)
    }

    /// A registry with two roles, standing in for the real ones.
    pub(crate) const TEST_REGISTRY: &Registry = &[
        (Role::Issuer, |_| {
            Box::pin(async { Ok(hello(Role::Issuer)) })
        }),
        (Role::Verifier, |_| {
            Box::pin(async { Ok(hello(Role::Verifier)) })
        }),
    ];

    fn ctx(vars: &[(&str, &str)], modes: &[Role], role: Role) -> anyhow::Result<RoleContext> {
        let env = vars.iter().map(|(k, v)| ((*k).into(), (*v).into()));
        let config = Arc::new(crate::config::load(None, env).unwrap());
        RoleContext::new(&config, &plan_in(TEST_REGISTRY, modes).unwrap(), role)
    }

    #[test]
    fn role_base_url_is_public_url_plus_mount() {
        let c = ctx(&[], &[Role::All], Role::Issuer).unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:8080/issuer");
        assert!(c.all && c.allow_http_loopback);
        assert_eq!(c.config.listen().port(), 8080);
        let c = ctx(
            &[("SYMBOLON_SERVER__PUBLIC_URL", "https://id.example/")],
            &[Role::Verifier],
            Role::Verifier,
        )
        .unwrap();
        assert_eq!(c.base_url, "https://id.example");
        assert!(!c.all && !c.allow_http_loopback);
        let c = ctx(
            &[
                ("SYMBOLON_SERVER__LISTEN", "0.0.0.0:9000"),
                ("SYMBOLON_SERVER__ALLOW_HTTP_LOOPBACK", "true"),
            ],
            &[Role::Issuer, Role::Verifier],
            Role::Verifier,
        )
        .unwrap();
        assert_eq!(c.base_url, "http://127.0.0.1:9000/verifier");
    }

    #[test]
    fn rejects_http_identifiers_unless_loopback_is_allowed() {
        let e = ctx(&[], &[Role::Issuer], Role::Issuer).unwrap_err();
        assert!(e.to_string().contains("server.public_url"), "{e}");
        let e = ctx(
            &[("SYMBOLON_SERVER__ALLOW_HTTP_LOOPBACK", "false")],
            &[Role::All],
            Role::Issuer,
        )
        .unwrap_err();
        assert!(e.to_string().contains("allow_http_loopback"), "{e}");
    }

    #[test]
    fn role_names_follow_the_design() {
        let names: Vec<&str> = Role::EVERY.iter().map(|r| r.name()).collect();
        assert_eq!(
            names,
            [
                "issuer", "verifier", "attester", "engine", "auth", "storage", "registry",
                "backend", "gateway", "all"
            ]
        );
    }

    #[test]
    fn registered_roles_parse_and_all_always_does() {
        assert_eq!(parse_role("all"), Ok(Role::All));
        assert_eq!(parse_role_in(TEST_REGISTRY, "verifier"), Ok(Role::Verifier));
        for (role, _) in IMPLEMENTED {
            assert_eq!(parse_role(role.name()), Ok(*role));
        }
    }

    #[test]
    fn rejects_an_unknown_role_listing_every_role() {
        let message = parse_role("wallet").unwrap_err();
        assert!(message.starts_with("unknown role `wallet`"), "{message}");
        for role in Role::EVERY {
            assert!(message.contains(role.name()), "{message}");
        }
    }

    #[test]
    fn rejects_an_unimplemented_role_naming_the_implemented_ones() {
        let message = parse_role_in(TEST_REGISTRY, "gateway").unwrap_err();
        assert_eq!(
            message,
            "role `gateway` is not implemented yet; implemented roles: issuer, verifier (`all` serves every implemented role)"
        );
        let message = parse_role_in(&[], "issuer").unwrap_err();
        assert!(message.contains("implemented roles: none yet"), "{message}");
    }

    #[test]
    fn every_role_outside_the_registry_is_refused() {
        for role in Role::EVERY {
            let registered = IMPLEMENTED.iter().any(|(r, _)| *r == role);
            assert_eq!(
                parse_role(role.name()).is_ok(),
                registered || role == Role::All,
                "{}",
                role.name()
            );
        }
    }

    #[test]
    fn all_nests_every_registered_role() {
        let plan = plan_in(TEST_REGISTRY, &[Role::All]).unwrap();
        assert_eq!(plan.mount, Mount::Nested);
        let roles: Vec<Role> = plan.roles.iter().map(|(r, _)| *r).collect();
        assert_eq!(roles, [Role::Issuer, Role::Verifier]);
    }

    #[test]
    fn one_role_alone_is_mounted_at_the_root_even_if_repeated() {
        let plan = plan_in(TEST_REGISTRY, &[Role::Verifier, Role::Verifier]).unwrap();
        assert_eq!(plan.mount, Mount::Root);
        assert_eq!(plan.roles.len(), 1);
    }

    #[test]
    fn several_roles_are_nested() {
        let plan = plan_in(TEST_REGISTRY, &[Role::Verifier, Role::Issuer]).unwrap();
        assert_eq!(plan.mount, Mount::Nested);
        let roles: Vec<Role> = plan.roles.iter().map(|(r, _)| *r).collect();
        assert_eq!(roles, [Role::Verifier, Role::Issuer]);
    }

    #[test]
    fn issue10_every_implemented_role_has_start_up_checks() {
        for (role, _) in IMPLEMENTED {
            assert!(
                CHECKS.iter().any(|(r, _)| r == role),
                "`config check --mode={}` would skip the role's checks",
                role.name()
            );
        }
        assert_eq!(CHECKS.len(), IMPLEMENTED.len());
    }

    #[test]
    fn rejects_planning_an_unregistered_role() {
        assert!(plan_in(TEST_REGISTRY, &[Role::Issuer, Role::Gateway]).is_err());
    }
}
