//! The crate's error type. Variants say which rule was broken or which call failed;
//! [`Error::is_unavailable`] separates "could not check" (a backend is down or refused a
//! statement) from a misuse of the API, so callers can fail closed with a 503 rather than
//! treat an outage as a replay or as a fresh value.

use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database URL names neither `sqlite:` nor `postgres://` / `postgresql://`.
    #[error("unsupported database URL: expected sqlite:<path> or postgres://…")]
    UnsupportedDatabaseUrl,
    /// The directory that should hold the SQLite file could not be created.
    #[error("could not create the directory {path} for the SQLite database")]
    CreateDataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Opening the database (or switching a new SQLite file to WAL) failed.
    #[error("could not connect to the database")]
    Connect(#[source] sqlx::Error),
    /// A statement failed: the database is unreachable, or refused it.
    #[error("database statement failed: {what}")]
    Database {
        /// Which statement.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A migration component name is not `[a-z][a-z0-9_]*` (at most 63 characters).
    #[error("invalid migration component name {0:?}: use [a-z][a-z0-9_]*, at most 63 characters")]
    InvalidComponent(String),
    /// A component's migrations are not listed with positive, strictly increasing versions.
    #[error(
        "migrations of {component} must have positive, strictly increasing versions (at {version})"
    )]
    MigrationsNotIncreasing {
        /// The component.
        component: String,
        /// The first version out of order.
        version: i64,
    },
    /// An applied migration's SQL differs from the one recorded: migrations are append-only.
    #[error("migration {component}/{version} was changed after it was applied")]
    MigrationChanged {
        /// The component.
        component: String,
        /// The version.
        version: i64,
    },
    /// A migration is not applied although a later one is: it was inserted into the list
    /// after a release, which would leave databases in different states.
    #[error("migration {component}/{version} is not applied but the later {applied} is")]
    MigrationGap {
        /// The component.
        component: String,
        /// The missing version.
        version: i64,
        /// The later version already applied.
        applied: i64,
    },
    /// A migration's SQL failed; nothing of this run was kept.
    #[error("migration {component}/{version} ({name}) failed")]
    MigrationFailed {
        /// The component.
        component: String,
        /// The version.
        version: i64,
        /// The migration's name.
        name: &'static str,
        /// The database's error.
        #[source]
        source: sqlx::Error,
    },
    /// A cache namespace is not `[a-z0-9_.-]`, 1 to 64 characters.
    #[error("invalid namespace {0:?}: use [a-z0-9_.-], 1 to 64 characters")]
    InvalidNamespace(String),
    /// A Redis key prefix is not `[A-Za-z0-9_.:-]`, at most 64 characters.
    #[error("invalid Redis key prefix {0:?}: use [A-Za-z0-9_.:-], at most 64 characters")]
    InvalidPrefix(String),
    /// A TTL or rate-limit window is zero or longer than the maximum.
    #[error("TTL or window must be between 1 second and {max} seconds")]
    DurationOutOfRange {
        /// The maximum in seconds.
        max: u64,
    },
    /// A single-use value is larger than [`crate::MAX_VALUE_LEN`].
    #[error("value of {len} bytes exceeds the limit of {max} bytes")]
    ValueTooLarge {
        /// The value's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The in-process store is full of live entries; new ones are refused rather than
    /// evicting live ones (which would re-open replays).
    #[error("in-process {table} is full ({entries} entries, {bytes} bytes): new entries refused")]
    CapacityExceeded {
        /// Which table: `single-use store` or `rate limiter`.
        table: &'static str,
        /// Live entries.
        entries: usize,
        /// Bytes accounted to them.
        bytes: usize,
    },
    /// Redis could not be reached or refused a command.
    #[error("Redis command failed: {what}")]
    Redis {
        /// Which command.
        what: &'static str,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },
    /// Redis answered something the protocol does not allow here.
    #[error("unexpected Redis reply to {0}")]
    RedisReply(&'static str),
    /// The database-backed cache was configured but no database was given.
    #[error("the database cache backend needs the role's database")]
    DatabaseRequired,
}

/// True when a database error says the database could not be reached or is not serving
/// right now, rather than that it refused the statement: the connection broke or could not
/// be made (I/O, TLS, a pool timeout), or the server is shutting down, restarting or full
/// (PostgreSQL SQLSTATE class 08, `57P01`–`57P03` — "terminating connection due to
/// administrator command" at a restart —, `53300`), or SQLite stayed locked past its busy
/// timeout. Roles answer these with `503 temporarily_unavailable` and `Retry-After`: the
/// same request may succeed a moment later, unlike a bug or a constraint violation.
pub fn is_connection_error(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        // The server closed the connection mid-message (it was killed or restarted).
        sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(d) => match d.code() {
            Some(code) => {
                let code: &str = &code;
                // PostgreSQL SQLSTATEs are five characters; SQLite's (extended) result
                // codes are integers: SQLITE_BUSY and SQLITE_LOCKED with their variants.
                code.starts_with("08")
                    || matches!(code, "57P01" | "57P02" | "57P03" | "53300")
                    || matches!(code, "5" | "6" | "261" | "262" | "517" | "518" | "773")
            }
            None => false,
        },
        _ => false,
    }
}

impl Error {
    /// True when the operation could not be carried out (backend unreachable, statement
    /// refused, unexpected reply): the caller cannot know whether a value was used and must
    /// fail closed (e.g. HTTP 503), never treat this as a replay or as success.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Error::Connect(_)
                | Error::Database { .. }
                | Error::Redis { .. }
                | Error::RedisReply(_)
                | Error::CapacityExceeded { .. }
        )
    }

    pub(crate) fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
        move |source| Error::Database { what, source }
    }

    pub(crate) fn redis(what: &'static str) -> impl FnOnce(redis::RedisError) -> Error {
        move |source| Error::Redis { what, source }
    }
}
