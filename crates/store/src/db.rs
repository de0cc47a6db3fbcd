//! The database handle: one connection pool over SQLite (embedded default) or PostgreSQL
//! (replicas), through sqlx's `Any` driver so a role writes each query once.
//!
//! SQLite files are created on first use (with their directory), switched to WAL once (the
//! mode is stored in the file), and every pooled connection gets foreign keys, a busy
//! timeout and `synchronous = NORMAL` (durable across application crashes; a power cut may
//! lose the last transactions, acceptable for an embedded single-node setup).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{Any, AnyConnection, AnyPool, Connection, Executor, Transaction};

use crate::Error;
use crate::migrate::{self, Migration, MigrationReport};

/// Which database engine a [`Database`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// SQLite, a file under the data directory.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// The backend a database URL names.
    pub fn from_url(url: &str) -> Result<Backend, Error> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(Error::UnsupportedDatabaseUrl)
        }
    }

    /// `sqlite` or `postgres`.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// Picks the variant for this backend: for the few statements whose text must differ
    /// (`db.backend().choose("… BLOB …", "… BYTEA …")`).
    pub fn choose<T>(self, sqlite: T, postgres: T) -> T {
        match self {
            Backend::Sqlite => sqlite,
            Backend::Postgres => postgres,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Pool settings; the defaults suit both backends.
#[derive(Clone, Debug)]
pub struct DatabaseOptions {
    /// Pooled connections; `None`: 4 for SQLite (writes are serialised anyway), 10 for
    /// PostgreSQL.
    pub max_connections: Option<u32>,
    /// How long a query waits for a free connection.
    pub acquire_timeout: Duration,
    /// How long SQLite waits for another writer's lock before failing with "busy".
    pub sqlite_busy_timeout: Duration,
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        DatabaseOptions {
            max_connections: None,
            acquire_timeout: Duration::from_secs(10),
            sqlite_busy_timeout: Duration::from_secs(5),
        }
    }
}

/// A pool of connections to the role's database. Cheap to clone (the pool is shared).
///
/// Queries go through [`Database::pool`] with sqlx's runtime-checked `query` / `query_as`;
/// see the crate documentation for the portable-SQL rules.
#[derive(Clone)]
pub struct Database {
    pool: AnyPool,
    backend: Backend,
}

impl fmt::Debug for Database {
    // The URL is never kept: it may carry a password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("backend", &self.backend)
            .field("connections", &self.pool.size())
            .finish()
    }
}

impl Database {
    /// Connects with default [`DatabaseOptions`]: `sqlite:<path>` (or `sqlite://<path>`,
    /// `sqlite::memory:` for throwaway use) or `postgres://user:pass@host/db`.
    pub async fn connect(url: &str) -> Result<Database, Error> {
        Database::connect_with(url, &DatabaseOptions::default()).await
    }

    /// Connects with explicit pool settings.
    pub async fn connect_with(url: &str, options: &DatabaseOptions) -> Result<Database, Error> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let url = match backend {
            Backend::Sqlite => prepare_sqlite(url).await?,
            Backend::Postgres => url.to_owned(),
        };
        let max = options
            .max_connections
            .unwrap_or_else(|| backend.choose(4, 10))
            .max(1);
        let mut pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(options.acquire_timeout);
        if url.contains("mode=memory") {
            // An in-memory database lives as long as one connection to it: keep one open.
            pool = pool
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        if backend == Backend::Sqlite {
            // An SQLite connection lives in this process and cannot go stale; the pool's
            // default liveness ping would cost a round trip to the connection's worker
            // thread before every statement.
            pool = pool.test_before_acquire(false);
            let busy_ms = options.sqlite_busy_timeout.as_millis();
            pool = pool.after_connect(move |conn, _meta| {
                Box::pin(async move {
                    // The number is formatted from an integer: no input reaches the text.
                    let busy = format!("PRAGMA busy_timeout = {busy_ms}");
                    conn.execute(sqlx::AssertSqlSafe(busy)).await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA synchronous = NORMAL").await?;
                    Ok(())
                })
            });
        }
        let pool = pool.connect(&url).await.map_err(Error::Connect)?;
        Ok(Database { pool, backend })
    }

    /// The `sqlite:` URL of a database file, with the characters that would end or escape
    /// the path (`%`, `?`, `#`) percent-encoded: for files under a configured data
    /// directory. `None` if the path is not UTF-8.
    pub fn sqlite_url(path: &Path) -> Option<String> {
        let path = path.to_str()?;
        let mut url = String::with_capacity(path.len() + 9);
        url.push_str("sqlite://");
        for c in path.chars() {
            match c {
                '%' => url.push_str("%25"),
                '?' => url.push_str("%3F"),
                '#' => url.push_str("%23"),
                c => url.push(c),
            }
        }
        Some(url)
    }

    /// The engine behind this handle.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The connection pool, for `sqlx::query(…).fetch_*(db.pool())`.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock up front
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes can fail with
    /// "busy" without waiting when another connection wrote in between. On PostgreSQL it is
    /// a plain `BEGIN` (use `SELECT … FOR UPDATE` or conditional `UPDATE`s for row locks).
    pub async fn begin_write(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    /// Applies `component`'s pending migrations, in order, in one transaction; see
    /// [`crate::migrate`] for the rules.
    pub async fn migrate(
        &self,
        component: &str,
        migrations: &[Migration],
    ) -> Result<MigrationReport, Error> {
        migrate::run(self, component, migrations).await
    }

    /// One round trip, for readiness probes.
    pub async fn ping(&self) -> Result<(), Error> {
        self.pool
            .execute("SELECT 1")
            .await
            .map_err(Error::db("ping"))?;
        Ok(())
    }

    /// Closes every connection (waits for those in use to come back).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Numbers the in-memory databases of this process.
static MEMORY_DATABASES: AtomicU64 = AtomicU64::new(0);

/// Makes a SQLite URL open-or-create, creates the file's directory, and switches a file
/// database to WAL on one connection before the pool opens more.
async fn prepare_sqlite(url: &str) -> Result<String, Error> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or(Error::UnsupportedDatabaseUrl)?;
    let (path, params) = match rest.split_once('?') {
        Some((path, params)) => (path, Some(params)),
        None => (rest, None),
    };
    if path.is_empty() || path == ":memory:" {
        // The `Any` driver re-reads the URL for every new connection, and the driver gives
        // each `:memory:` a new database: name one database per pool so all its
        // connections share it.
        let n = MEMORY_DATABASES.fetch_add(1, Ordering::Relaxed);
        return Ok(format!(
            "sqlite:file:symbolon-memory-{}-{n}?mode=memory&cache=shared",
            std::process::id()
        ));
    }
    if params.is_some_and(|p| p.split('&').any(|kv| kv == "mode=memory")) {
        return Ok(url.to_owned());
    }
    let has_mode = params.is_some_and(|p| p.split('&').any(|kv| kv.starts_with("mode=")));
    let url = match (has_mode, params) {
        (true, _) => url.to_owned(),
        (false, Some(_)) => format!("{url}&mode=rwc"),
        (false, None) => format!("{url}?mode=rwc"),
    };
    // The driver percent-decodes the path; do the same to find the directory.
    let path = percent_decode(path).ok_or(Error::UnsupportedDatabaseUrl)?;
    if let Some(parent) = PathBuf::from(path).parent()
        && !parent.as_os_str().is_empty()
    {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|source| Error::CreateDataDir {
                path: parent.to_path_buf(),
                source,
            })?;
    }
    set_wal(&url).await?;
    Ok(url)
}

/// Decodes `%XX` escapes; `None` for a malformed escape or a result that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hi = char::from(bytes.next()?).to_digit(16)?;
            let lo = char::from(bytes.next()?).to_digit(16)?;
            out.push(u8::try_from(hi * 16 + lo).ok()?);
        } else {
            out.push(b);
        }
    }
    String::from_utf8(out).ok()
}

/// WAL is a property of the file: set it once. Changing the journal mode needs an exclusive
/// lock that the busy timeout does not wait for, so retry briefly when another process is
/// opening the same new file at the same moment.
async fn set_wal(url: &str) -> Result<(), Error> {
    let mut conn = AnyConnection::connect(url).await.map_err(Error::Connect)?;
    let mut attempt = 0u32;
    let result = loop {
        let mode: Result<(String,), sqlx::Error> = sqlx::query_as("PRAGMA journal_mode = WAL")
            .fetch_one(&mut conn)
            .await;
        match mode {
            Err(e) if attempt < 50 && is_busy(&e) => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => break other,
        }
    };
    // Closing is best effort: the mode is already stored in the file.
    let _closed = conn.close().await;
    result.map(drop).map_err(Error::Connect)
}

fn is_busy(e: &sqlx::Error) -> bool {
    // Extended result codes carry the primary code (SQLITE_BUSY 5, SQLITE_LOCKED 6) in the
    // low byte.
    e.as_database_error()
        .and_then(|d| d.code())
        .and_then(|code| code.parse::<i32>().ok())
        .is_some_and(|code| matches!(code & 0xff, 5 | 6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_url_escapes_what_the_driver_would_misread() {
        assert_eq!(
            Database::sqlite_url(Path::new("/var/lib/symbolon/issuer.db")).unwrap(),
            "sqlite:///var/lib/symbolon/issuer.db"
        );
        let odd = Path::new("/data/50%?#x/a.db");
        let url = Database::sqlite_url(odd).unwrap();
        assert_eq!(url, "sqlite:///data/50%25%3F%23x/a.db");
        let rest = url.strip_prefix("sqlite://").unwrap();
        assert_eq!(percent_decode(rest).unwrap(), "/data/50%?#x/a.db");
    }

    #[test]
    fn rejects_malformed_percent_escapes() {
        for bad in ["%", "%4", "%zz", "%ff"] {
            assert_eq!(percent_decode(bad), None, "{bad}");
        }
        assert_eq!(percent_decode("a%20b").unwrap(), "a b");
    }

    #[test]
    fn backend_from_url() {
        assert_eq!(Backend::from_url("sqlite:x.db").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::from_url("postgresql://h/db").unwrap(),
            Backend::Postgres
        );
        assert!(matches!(
            Backend::from_url("mysql://h/db"),
            Err(Error::UnsupportedDatabaseUrl)
        ));
    }
}
