//! The roles `symbolon serve` knows (DESIGN §1), which of them this build implements, and
//! how a `--mode` list becomes mounted routers.
//!
//! Adding a role: one line in [`IMPLEMENTED`] pointing at a function that builds the
//! role's [`RoleService`] from the config (its crate's `router(state)` plus readiness).

use std::sync::Arc;

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
pub(crate) type BuildRole = fn(Arc<Config>) -> RoleFuture;

/// The roles this build serves, with the function that builds each. `all` serves every
/// role listed here.
pub(crate) const IMPLEMENTED: &[(Role, BuildRole)] = &[
    // (Role::Issuer, |config| Box::pin(crate::roles::issuer(config))),
];

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
    Ok(Plan { mount, roles })
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
    fn rejects_planning_an_unregistered_role() {
        assert!(plan_in(TEST_REGISTRY, &[Role::Issuer, Role::Gateway]).is_err());
    }
}
