//! Helpers for tests (feature `testing`): a fresh database per test on either backend and
//! the Redis URL, taken from `TEST_POSTGRES_URL` / `TEST_REDIS_URL`.
//!
//! A missing variable is an error whose message says how to start the server; tests
//! `unwrap` it and fail. They never skip: a suite that silently skips the PostgreSQL half
//! proves nothing about replicas.

use std::fmt::Write as _;

use crate::Error;
use crate::db::{Backend, Database, DatabaseOptions};

/// The variable holding the PostgreSQL URL of the test server.
pub const POSTGRES_ENV: &str = "TEST_POSTGRES_URL";
/// The variable holding the Redis URL of the test server.
pub const REDIS_ENV: &str = "TEST_REDIS_URL";

/// Why a test environment could not be prepared. Its `Debug` is the readable message (and
/// its causes), because that is what `unwrap` prints in a failing test.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum TestEnvError {
    /// The variable is not set.
    #[error(
        "{var} is not set. Start a throwaway server and export it, from the repository root: \
         eval \"$({script} /tmp/symbolon-test-services)\" (scripts/test.sh does this for the \
         whole run)"
    )]
    Missing {
        /// The variable.
        var: &'static str,
        /// The script that starts the server.
        script: &'static str,
    },
    /// Creating the temporary directory for a SQLite file failed.
    #[error("could not create a temporary directory")]
    TempDir(#[source] std::io::Error),
    /// The random generator failed.
    #[error("the random generator failed")]
    Random,
    /// Connecting or creating the schema failed.
    #[error("could not prepare the test database")]
    Store(#[from] Error),
}

impl std::fmt::Debug for TestEnvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")?;
        let mut source = std::error::Error::source(self);
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// The PostgreSQL URL of the test server.
pub fn postgres_url() -> Result<String, TestEnvError> {
    env(POSTGRES_ENV, "scripts/pg-setup.sh")
}

/// The Redis URL of the test server.
pub fn redis_url() -> Result<String, TestEnvError> {
    env(REDIS_ENV, "scripts/redis-setup.sh")
}

fn env(var: &'static str, script: &'static str) -> Result<String, TestEnvError> {
    match std::env::var(var) {
        Ok(url) if !url.trim().is_empty() => Ok(url),
        _ => Err(TestEnvError::Missing { var, script }),
    }
}

/// A lowercase name with 64 random bits: test schemas, namespaces, Redis prefixes.
pub fn unique_name(prefix: &str) -> Result<String, TestEnvError> {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| TestEnvError::Random)?;
    let mut name = prefix.to_owned();
    for b in bytes {
        let _infallible = write!(name, "{b:02x}");
    }
    Ok(name)
}

/// A database of its own for one test. Keep it alive for the test's duration: the SQLite
/// file's directory is removed when it is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    /// Connect here (more than once to simulate replicas or a restart).
    pub url: String,
    /// Which backend.
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
}

impl TestDatabase {
    /// A fresh database on `backend`.
    pub async fn new(backend: Backend) -> Result<TestDatabase, TestEnvError> {
        match backend {
            Backend::Sqlite => TestDatabase::sqlite(),
            Backend::Postgres => TestDatabase::postgres().await,
        }
    }

    /// A new SQLite file (not yet created) in a new temporary directory.
    pub fn sqlite() -> Result<TestDatabase, TestEnvError> {
        let dir = tempfile::tempdir().map_err(TestEnvError::TempDir)?;
        let url = format!("sqlite://{}", dir.path().join("data/test.db").display());
        Ok(TestDatabase {
            url,
            backend: Backend::Sqlite,
            _dir: Some(dir),
        })
    }

    /// A new, empty schema on the PostgreSQL test server; the URL sets it as the search
    /// path, so unqualified table names land there. (Schemas are left behind: the server is
    /// disposable.)
    pub async fn postgres() -> Result<TestDatabase, TestEnvError> {
        let base = postgres_url()?;
        let schema = unique_name("test_")?;
        let admin = Database::connect_with(
            &base,
            &DatabaseOptions {
                max_connections: Some(1),
                ..DatabaseOptions::default()
            },
        )
        .await?;
        // The name is "test_" and hex digits: nothing from outside reaches the text.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(admin.pool())
            .await
            .map_err(Error::db("create test schema"))?;
        admin.close().await;
        let separator = if base.contains('?') { '&' } else { '?' };
        Ok(TestDatabase {
            url: format!("{base}{separator}options[search_path]={schema}"),
            backend: Backend::Postgres,
            _dir: None,
        })
    }

    /// Connects (again) with default options.
    pub async fn connect(&self) -> Result<Database, Error> {
        Database::connect(&self.url).await
    }
}
