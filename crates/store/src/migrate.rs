//! Per-component schema migrations.
//!
//! Each component (a role crate, or this crate's own cache tables) hands over its ordered,
//! append-only list of [`Migration`]s; [`crate::Database::migrate`] applies those not yet
//! recorded in the shared `schema_migrations` table (one row per component and version,
//! with a SHA-256 of the SQL that ran).
//!
//! A run is one transaction: take a lock (PostgreSQL: a transaction-scoped advisory lock,
//! so replicas starting together queue up; SQLite: `BEGIN IMMEDIATE`, the file's write
//! lock), create the bookkeeping table if needed, read what is applied, run what is
//! pending, record it, commit. A failing migration rolls the whole run back. Running again
//! is a no-op. Versions found in the database but not in the list (a newer release ran
//! first, during a rolling upgrade) are reported and logged, not refused: migrations are
//! expected to be additive so older replicas keep working.

use aws_lc_rs::digest;

use crate::Error;
use crate::db::{Backend, Database};

/// One schema change: its SQL for each backend (usually the same text).
#[derive(Clone, Copy, Debug)]
pub struct Migration {
    /// Positive, strictly increasing within a component; never reused.
    pub version: i64,
    /// A short name for logs and the bookkeeping table.
    pub name: &'static str,
    /// The SQL run on SQLite (may hold several `;`-separated statements).
    pub sqlite: &'static str,
    /// The SQL run on PostgreSQL.
    pub postgres: &'static str,
}

impl Migration {
    /// A migration whose SQL means the same on both backends.
    pub const fn portable(version: i64, name: &'static str, sql: &'static str) -> Migration {
        Migration {
            version,
            name,
            sqlite: sql,
            postgres: sql,
        }
    }

    /// A migration with backend-specific SQL (`BLOB` vs `BYTEA`, partial features).
    pub const fn per_backend(
        version: i64,
        name: &'static str,
        sqlite: &'static str,
        postgres: &'static str,
    ) -> Migration {
        Migration {
            version,
            name,
            sqlite,
            postgres,
        }
    }

    /// The SQL for `backend`.
    pub fn sql(&self, backend: Backend) -> &'static str {
        backend.choose(self.sqlite, self.postgres)
    }
}

/// What a migration run did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationReport {
    /// Versions applied by this run, in order.
    pub applied: Vec<i64>,
    /// Versions recorded in the database that this list does not know (a newer release).
    pub unknown_in_database: Vec<i64>,
}

/// One cluster-wide advisory lock key for all migration runs ("symbolon" in ASCII).
const ADVISORY_LOCK_KEY: i64 = 0x7379_6d62_6f6c_6f6e;

/// Plain types only, so the table is the same on both backends.
const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    component TEXT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied_at BIGINT NOT NULL,
    PRIMARY KEY (component, version)
)";

pub(crate) async fn run(
    db: &Database,
    component: &str,
    migrations: &[Migration],
) -> Result<MigrationReport, Error> {
    check_component(component)?;
    check_order(component, migrations)?;
    let backend = db.backend();

    let mut tx = db
        .begin_write()
        .await
        .map_err(Error::db("begin migration transaction"))?;
    if backend == Backend::Postgres {
        // Released at commit or rollback, also if this process dies mid-run.
        sqlx::query("SELECT 1 FROM pg_advisory_xact_lock($1)")
            .bind(ADVISORY_LOCK_KEY)
            .execute(&mut *tx)
            .await
            .map_err(Error::db("take the migration lock"))?;
    }
    sqlx::query(CREATE_TABLE)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("create schema_migrations"))?;
    let applied: Vec<(i64, String)> = sqlx::query_as(
        "SELECT version, checksum FROM schema_migrations WHERE component = $1 ORDER BY version",
    )
    .bind(component)
    .fetch_all(&mut *tx)
    .await
    .map_err(Error::db("read schema_migrations"))?;

    let plan = plan(component, backend, migrations, &applied)?;
    let now = unix_now();
    for migration in &plan.pending {
        let sql = migration.sql(backend);
        sqlx::raw_sql(sql)
            .execute(&mut *tx)
            .await
            .map_err(|source| Error::MigrationFailed {
                component: component.to_owned(),
                version: migration.version,
                name: migration.name,
                source,
            })?;
        sqlx::query(
            "INSERT INTO schema_migrations (component, version, name, checksum, applied_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(component)
        .bind(migration.version)
        .bind(migration.name)
        .bind(checksum(sql))
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(Error::db("record migration"))?;
        tracing::info!(
            component,
            version = migration.version,
            name = migration.name,
            "applied migration"
        );
    }
    tx.commit().await.map_err(Error::db("commit migrations"))?;

    if !plan.unknown.is_empty() {
        tracing::warn!(
            component,
            versions = ?plan.unknown,
            "the database has migrations this release does not know (a newer release ran)"
        );
    }
    Ok(MigrationReport {
        applied: plan.pending.iter().map(|m| m.version).collect(),
        unknown_in_database: plan.unknown,
    })
}

struct Plan<'m> {
    pending: Vec<&'m Migration>,
    unknown: Vec<i64>,
}

/// Compares the list with what the database recorded. Pure, so the rules are unit-tested.
fn plan<'m>(
    component: &str,
    backend: Backend,
    migrations: &'m [Migration],
    applied: &[(i64, String)],
) -> Result<Plan<'m>, Error> {
    let max_applied = applied.iter().map(|(v, _)| *v).max();
    let mut pending = Vec::new();
    for migration in migrations {
        match applied.iter().find(|(v, _)| *v == migration.version) {
            Some((_, recorded)) => {
                if *recorded != checksum(migration.sql(backend)) {
                    return Err(Error::MigrationChanged {
                        component: component.to_owned(),
                        version: migration.version,
                    });
                }
            }
            None => match max_applied {
                Some(later) if later > migration.version => {
                    return Err(Error::MigrationGap {
                        component: component.to_owned(),
                        version: migration.version,
                        applied: later,
                    });
                }
                _ => pending.push(migration),
            },
        }
    }
    let unknown = applied
        .iter()
        .map(|(v, _)| *v)
        .filter(|v| !migrations.iter().any(|m| m.version == *v))
        .collect();
    Ok(Plan { pending, unknown })
}

fn check_component(component: &str) -> Result<(), Error> {
    let mut chars = component.chars();
    let valid = component.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(Error::InvalidComponent(component.to_owned()))
    }
}

fn check_order(component: &str, migrations: &[Migration]) -> Result<(), Error> {
    let mut previous = 0;
    for migration in migrations {
        if migration.version <= previous {
            return Err(Error::MigrationsNotIncreasing {
                component: component.to_owned(),
                version: migration.version,
            });
        }
        previous = migration.version;
    }
    Ok(())
}

/// Lowercase hex SHA-256 of the SQL as written.
fn checksum(sql: &str) -> String {
    crate::key::hex(digest::digest(&digest::SHA256, sql.as_bytes()).as_ref())
}

/// Bookkeeping only (when a migration ran), so the system clock is fine here.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const M1: Migration = Migration::portable(1, "one", "CREATE TABLE a (x BIGINT)");
    const M2: Migration = Migration::per_backend(
        2,
        "two",
        "CREATE TABLE b (x BLOB)",
        "CREATE TABLE b (x BYTEA)",
    );

    fn recorded(m: &Migration, backend: Backend) -> (i64, String) {
        (m.version, checksum(m.sql(backend)))
    }

    #[test]
    fn plans_only_pending_migrations() {
        let applied = [recorded(&M1, Backend::Sqlite)];
        let plan = plan("c", Backend::Sqlite, &[M1, M2], &applied).unwrap();
        assert_eq!(
            plan.pending.iter().map(|m| m.version).collect::<Vec<_>>(),
            [2]
        );
        assert!(plan.unknown.is_empty());
    }

    #[test]
    fn reports_versions_from_a_newer_release() {
        let applied = [
            recorded(&M1, Backend::Postgres),
            recorded(&M2, Backend::Postgres),
        ];
        let plan = plan("c", Backend::Postgres, &[M1], &applied).unwrap();
        assert!(plan.pending.is_empty());
        assert_eq!(plan.unknown, [2]);
    }

    #[test]
    fn checksums_the_backend_specific_text() {
        // Recorded on SQLite, checked on PostgreSQL: a different text, so "changed".
        let applied = [recorded(&M2, Backend::Sqlite)];
        assert!(matches!(
            plan("c", Backend::Postgres, &[M1, M2], &applied),
            Err(Error::MigrationGap {
                version: 1,
                applied: 2,
                ..
            })
        ));
        assert!(matches!(
            plan("c", Backend::Postgres, &[M2], &applied),
            Err(Error::MigrationChanged { version: 2, .. })
        ));
    }

    #[test]
    fn rejects_changed_migration() {
        let applied = [(1, checksum("CREATE TABLE a (x TEXT)"))];
        assert!(matches!(
            plan("c", Backend::Sqlite, &[M1], &applied),
            Err(Error::MigrationChanged { version: 1, .. })
        ));
    }

    #[test]
    fn rejects_migration_inserted_below_applied() {
        let applied = [recorded(&M2, Backend::Sqlite)];
        assert!(matches!(
            plan("c", Backend::Sqlite, &[M1, M2], &applied),
            Err(Error::MigrationGap {
                version: 1,
                applied: 2,
                ..
            })
        ));
    }

    #[test]
    fn rejects_unordered_versions() {
        assert!(matches!(
            check_order("c", &[M2, M1]),
            Err(Error::MigrationsNotIncreasing { version: 1, .. })
        ));
        assert!(matches!(
            check_order("c", &[M1, M1]),
            Err(Error::MigrationsNotIncreasing { version: 1, .. })
        ));
        let zero = Migration::portable(0, "zero", "SELECT 1");
        assert!(matches!(
            check_order("c", &[zero]),
            Err(Error::MigrationsNotIncreasing { version: 0, .. })
        ));
        assert!(check_order("c", &[M1, M2]).is_ok());
    }

    #[test]
    fn rejects_invalid_component_names() {
        for bad in ["", "Issuer", "1st", "a-b", "a b", &"a".repeat(64)] {
            assert!(
                matches!(check_component(bad), Err(Error::InvalidComponent(_))),
                "{bad:?}"
            );
        }
        for good in ["issuer", "store", "status_list2"] {
            assert!(check_component(good).is_ok(), "{good}");
        }
    }
}
