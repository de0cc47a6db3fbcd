//! `Database` and migrations on SQLite and PostgreSQL (`TEST_POSTGRES_URL`): the same cases
//! on both, plus the portable-SQL patterns the crate documentation recommends.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use store::testing::TestDatabase;
use store::{Backend, Database, DatabaseOptions, Error, Migration, MigrationReport};

const V1: Migration = Migration::portable(
    1,
    "widgets",
    "CREATE TABLE demo_widgets (id TEXT PRIMARY KEY, n BIGINT NOT NULL);
     CREATE INDEX demo_widgets_n ON demo_widgets (n);",
);
/// Not idempotent on purpose: running it twice would duplicate the row or fail.
const V2: Migration = Migration::portable(
    2,
    "seed",
    "INSERT INTO demo_widgets (id, n) VALUES ('seed', 1)",
);
const V3: Migration = Migration::per_backend(
    3,
    "blobs",
    "CREATE TABLE demo_blobs (id TEXT PRIMARY KEY, data BLOB NOT NULL)",
    "CREATE TABLE demo_blobs (id TEXT PRIMARY KEY, data BYTEA NOT NULL)",
);
const ALL: &[Migration] = &[V1, V2, V3];

async fn fresh(backend: Backend) -> (TestDatabase, Database) {
    let t = TestDatabase::new(backend).await.unwrap();
    let db = t.connect().await.unwrap();
    (t, db)
}

async fn count(db: &Database, sql: &'static str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(db.pool()).await.unwrap();
    n
}

async fn recorded_versions(db: &Database, component: &str) -> Vec<i64> {
    // A run that rolled back before anything was committed leaves no table at all.
    if !table_exists(db, "schema_migrations").await {
        return Vec::new();
    }
    sqlx::query_as::<_, (i64,)>(
        "SELECT version FROM schema_migrations WHERE component = $1 ORDER BY version",
    )
    .bind(component.to_owned())
    .fetch_all(db.pool())
    .await
    .unwrap()
    .into_iter()
    .map(|(v,)| v)
    .collect()
}

async fn table_exists(db: &Database, table: &str) -> bool {
    let sql = db.backend().choose(
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
        "SELECT COUNT(*) FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name = $1",
    );
    let (n,): (i64,) = sqlx::query_as(sql)
        .bind(table.to_owned())
        .fetch_one(db.pool())
        .await
        .unwrap();
    n == 1
}

mod cases {
    use super::*;

    pub(super) async fn migrations_apply_once_and_are_idempotent(backend: Backend) {
        let (_t, db) = fresh(backend).await;
        let first = db.migrate("demo", ALL).await.unwrap();
        assert_eq!(first.applied, [1, 2, 3]);
        let second = db.migrate("demo", ALL).await.unwrap();
        assert_eq!(
            second,
            MigrationReport {
                applied: vec![],
                unknown_in_database: vec![]
            }
        );
        assert_eq!(recorded_versions(&db, "demo").await, [1, 2, 3]);
        assert_eq!(count(&db, "SELECT COUNT(*) FROM demo_widgets").await, 1);
    }

    pub(super) async fn later_releases_apply_only_new_versions(backend: Backend) {
        let (_t, db) = fresh(backend).await;
        assert_eq!(db.migrate("demo", &[V1]).await.unwrap().applied, [1]);
        assert_eq!(db.migrate("demo", ALL).await.unwrap().applied, [2, 3]);
        assert!(table_exists(&db, "demo_blobs").await);
    }

    pub(super) async fn concurrent_migrators_apply_each_version_once(backend: Backend) {
        let (t, first) = fresh(backend).await;
        // Separate pools, as separate replicas would have.
        let mut handles = vec![first];
        for _ in 0..3 {
            handles.push(t.connect().await.unwrap());
        }
        let runs = handles
            .iter()
            .cloned()
            .map(|db| async move { db.migrate("demo", ALL).await });
        let reports = futures_join_all(runs).await;
        let mut applied: Vec<i64> = Vec::new();
        for report in reports {
            applied.extend(report.unwrap().applied);
        }
        applied.sort_unstable();
        assert_eq!(
            applied,
            [1, 2, 3],
            "every version applied by exactly one migrator"
        );
        let db = &handles[0];
        assert_eq!(recorded_versions(db, "demo").await, [1, 2, 3]);
        assert_eq!(count(db, "SELECT COUNT(*) FROM demo_widgets").await, 1);
    }

    pub(super) async fn components_are_versioned_apart(backend: Backend) {
        let (_t, db) = fresh(backend).await;
        let other = [Migration::portable(
            1,
            "other",
            "CREATE TABLE other_things (id TEXT PRIMARY KEY)",
        )];
        assert_eq!(db.migrate("demo", &[V1]).await.unwrap().applied, [1]);
        assert_eq!(db.migrate("other", &other).await.unwrap().applied, [1]);
        assert_eq!(recorded_versions(&db, "demo").await, [1]);
        assert_eq!(recorded_versions(&db, "other").await, [1]);
    }

    pub(super) async fn reports_versions_from_a_newer_release(backend: Backend) {
        let (_t, db) = fresh(backend).await;
        db.migrate("demo", ALL).await.unwrap();
        let older = db.migrate("demo", &[V1, V2]).await.unwrap();
        assert_eq!(older.applied, Vec::<i64>::new());
        assert_eq!(older.unknown_in_database, [3]);
    }

    pub(super) async fn failed_migration_rolls_back_the_whole_run(backend: Backend) {
        let (_t, db) = fresh(backend).await;
        let broken = Migration::portable(2, "broken", "CREATE TABLE demo_widgets (dup TEXT)");
        let err = db.migrate("demo", &[V1, broken]).await.unwrap_err();
        assert!(
            matches!(
                err,
                Error::MigrationFailed {
                    version: 2,
                    name: "broken",
                    ..
                }
            ),
            "{err:?}"
        );
        // Version 1 ran in the same transaction and was rolled back with it.
        assert!(!table_exists(&db, "demo_widgets").await);
        assert_eq!(recorded_versions(&db, "demo").await, Vec::<i64>::new());
        // The fixed list then applies cleanly.
        assert_eq!(db.migrate("demo", ALL).await.unwrap().applied, [1, 2, 3]);
    }

    pub(super) async fn rejects_changed_migration(backend: Backend) {
        let (_t, db) = fresh(backend).await;
        db.migrate("demo", &[V1]).await.unwrap();
        let edited = Migration::portable(1, "widgets", "CREATE TABLE demo_widgets (id TEXT)");
        assert!(matches!(
            db.migrate("demo", &[edited]).await,
            Err(Error::MigrationChanged { version: 1, .. })
        ));
    }

    pub(super) async fn rejects_migration_inserted_below_applied(backend: Backend) {
        let (_t, db) = fresh(backend).await;
        db.migrate("demo", &[V1, V3]).await.unwrap();
        assert!(matches!(
            db.migrate("demo", ALL).await,
            Err(Error::MigrationGap {
                version: 2,
                applied: 3,
                ..
            })
        ));
        assert_eq!(count(&db, "SELECT COUNT(*) FROM demo_widgets").await, 0);
    }

    pub(super) async fn rejects_unordered_migrations(backend: Backend) {
        let (_t, db) = fresh(backend).await;
        assert!(matches!(
            db.migrate("demo", &[V2, V1]).await,
            Err(Error::MigrationsNotIncreasing { version: 1, .. })
        ));
        assert!(matches!(
            db.migrate("Demo", &[V1]).await,
            Err(Error::InvalidComponent(_))
        ));
        assert!(!table_exists(&db, "demo_widgets").await);
    }

    /// The patterns from the crate documentation, on both engines.
    pub(super) async fn portable_sql_patterns_work(backend: Backend) {
        #[derive(Debug, PartialEq, sqlx::FromRow)]
        struct Widget {
            id: String,
            n: i64,
        }

        let (_t, db) = fresh(backend).await;
        db.migrate("demo", ALL).await.unwrap();
        let pool = db.pool();

        // Bytes in and out, `$N` placeholders, FromRow.
        let data = vec![0u8, 1, 2, 255];
        sqlx::query("INSERT INTO demo_blobs (id, data) VALUES ($1, $2)")
            .bind("b1")
            .bind(&data[..])
            .execute(pool)
            .await
            .unwrap();
        let (back,): (Vec<u8>,) = sqlx::query_as("SELECT data FROM demo_blobs WHERE id = $1")
            .bind("b1")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(back, data);

        // Upsert with excluded + RETURNING, a placeholder used twice.
        for expected in [5, 10] {
            let w: Widget = sqlx::query_as(
                "INSERT INTO demo_widgets (id, n) VALUES ($1, $2) \
                 ON CONFLICT (id) DO UPDATE SET n = demo_widgets.n + excluded.n \
                 RETURNING id, n",
            )
            .bind("w")
            .bind(5_i64)
            .fetch_one(pool)
            .await
            .unwrap();
            assert_eq!(
                w,
                Widget {
                    id: "w".into(),
                    n: expected
                }
            );
        }
        let twice: Option<Widget> = sqlx::query_as(
            "SELECT id, n FROM demo_widgets WHERE id = $1 AND n > $2 AND n < $2 * 3",
        )
        .bind("w")
        .bind(5_i64)
        .fetch_optional(pool)
        .await
        .unwrap();
        assert_eq!(
            twice,
            Some(Widget {
                id: "w".into(),
                n: 10
            })
        );

        // ON CONFLICT DO NOTHING: rows_affected tells who won.
        let again = sqlx::query(
            "INSERT INTO demo_widgets (id, n) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
        )
        .bind("w")
        .bind(1_i64)
        .execute(pool)
        .await
        .unwrap();
        assert_eq!(again.rows_affected(), 0);

        // A unique violation is recognisable on both engines.
        let err = sqlx::query("INSERT INTO demo_widgets (id, n) VALUES ($1, $2)")
            .bind("w")
            .bind(1_i64)
            .execute(pool)
            .await
            .unwrap_err();
        assert!(
            err.as_database_error()
                .is_some_and(|e| e.is_unique_violation())
        );

        // Conditional update: one transition, once.
        for expected in [1, 0] {
            let done = sqlx::query("UPDATE demo_widgets SET n = 0 WHERE id = $1 AND n = $2")
                .bind("w")
                .bind(10_i64)
                .execute(pool)
                .await
                .unwrap();
            assert_eq!(done.rows_affected(), expected);
        }

        // Consume with DELETE … RETURNING.
        let gone: Option<(String,)> =
            sqlx::query_as("DELETE FROM demo_widgets WHERE id = $1 RETURNING id")
                .bind("seed")
                .fetch_optional(pool)
                .await
                .unwrap();
        assert_eq!(gone, Some(("seed".to_owned(),)));

        // NULL and aggregates.
        let (none, total): (Option<String>, i64) =
            sqlx::query_as("SELECT NULL, CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM demo_widgets")
                .fetch_one(pool)
                .await
                .unwrap();
        assert_eq!((none, total), (None, 0));

        // A write transaction that rolls back leaves nothing.
        let mut tx = db.begin_write().await.unwrap();
        sqlx::query("INSERT INTO demo_widgets (id, n) VALUES ($1, $2)")
            .bind("tx")
            .bind(1_i64)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM demo_widgets WHERE id = 'tx'").await,
            0
        );
    }

    pub(super) async fn write_transactions_serialise_read_modify_write(backend: Backend) {
        let (t, db) = fresh(backend).await;
        db.migrate("demo", &[V1]).await.unwrap();
        sqlx::query("INSERT INTO demo_widgets (id, n) VALUES ('counter', 0)")
            .execute(db.pool())
            .await
            .unwrap();
        let other = t.connect().await.unwrap();
        let lock = backend.choose(
            "SELECT n FROM demo_widgets WHERE id = 'counter'",
            "SELECT n FROM demo_widgets WHERE id = 'counter' FOR UPDATE",
        );
        let increments = (0..20).map(|i| {
            let db = if i % 2 == 0 {
                db.clone()
            } else {
                other.clone()
            };
            async move {
                let mut tx = db.begin_write().await.unwrap();
                let (n,): (i64,) = sqlx::query_as(lock).fetch_one(&mut *tx).await.unwrap();
                sqlx::query("UPDATE demo_widgets SET n = $1 WHERE id = 'counter'")
                    .bind(n + 1)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
            }
        });
        futures_join_all(increments).await;
        assert_eq!(
            count(&db, "SELECT n FROM demo_widgets WHERE id = 'counter'").await,
            20,
            "no lost update"
        );
    }

    pub(super) async fn ping_answers(backend: Backend) {
        let (_t, db) = fresh(backend).await;
        db.ping().await.unwrap();
        assert_eq!(db.backend(), backend);
        assert!(!format!("{db:?}").contains("postgres://"));
    }
}

/// Runs the futures concurrently on the multi-threaded runtime and returns their outputs.
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

macro_rules! suite {
    ($name:ident, $backend:expr) => {
        mod $name {
            use super::*;
            suite!(@cases $backend;
                migrations_apply_once_and_are_idempotent,
                later_releases_apply_only_new_versions,
                concurrent_migrators_apply_each_version_once,
                components_are_versioned_apart,
                reports_versions_from_a_newer_release,
                failed_migration_rolls_back_the_whole_run,
                rejects_changed_migration,
                rejects_migration_inserted_below_applied,
                rejects_unordered_migrations,
                portable_sql_patterns_work,
                write_transactions_serialise_read_modify_write,
                ping_answers
            );
        }
    };
    (@cases $backend:expr; $($case:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                cases::$case($backend).await;
            }
        )*
    };
}

suite!(sqlite, Backend::Sqlite);
suite!(postgres, Backend::Postgres);

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode_with_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/role.db");
    let db = Database::connect(&format!("sqlite:{}", path.display()))
        .await
        .unwrap();
    assert!(path.exists());
    let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    let (fk,): (i64,) = sqlx::query_as("PRAGMA foreign_keys")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(fk, 1);
    let (busy,): (i64,) = sqlx::query_as("PRAGMA busy_timeout")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(busy, 5000);
    // Foreign keys are enforced.
    db.migrate(
        "fk",
        &[Migration::portable(
            1,
            "parent and child",
            "CREATE TABLE fk_parent (id TEXT PRIMARY KEY);
             CREATE TABLE fk_child (id TEXT PRIMARY KEY, parent TEXT NOT NULL REFERENCES fk_parent (id));",
        )],
    )
    .await
    .unwrap();
    let err = sqlx::query("INSERT INTO fk_child (id, parent) VALUES ('c', 'missing')")
        .execute(db.pool())
        .await
        .unwrap_err();
    assert!(
        err.as_database_error()
            .is_some_and(|e| e.is_foreign_key_violation())
    );
}

#[tokio::test]
async fn sqlite_url_reaches_paths_with_url_characters() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data 50%?#/role.db");
    let url = Database::sqlite_url(&path).unwrap();
    let db = Database::connect(&url).await.unwrap();
    db.migrate("demo", ALL).await.unwrap();
    db.close().await;
    assert!(path.exists(), "{}", path.display());
}

#[tokio::test]
async fn sqlite_in_memory_works_for_throwaway_use() {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    db.migrate("demo", ALL).await.unwrap();
    // Every pooled connection sees the same database.
    let counts = futures_join_all((0..8).map(|_| {
        let db = db.clone();
        async move { count(&db, "SELECT COUNT(*) FROM demo_widgets").await }
    }))
    .await;
    assert_eq!(counts, [1; 8]);
    // A second in-memory handle is a different database.
    let other = Database::connect("sqlite::memory:").await.unwrap();
    assert!(!table_exists(&other, "demo_widgets").await);
}

#[tokio::test]
async fn rejects_unsupported_database_url() {
    for url in ["mysql://u@h/db", "redis://127.0.0.1", "/var/lib/x.db", ""] {
        assert!(
            matches!(
                Database::connect(url).await,
                Err(Error::UnsupportedDatabaseUrl)
            ),
            "{url}"
        );
    }
}

#[tokio::test]
async fn unreachable_postgres_is_a_connect_error() {
    let options = DatabaseOptions {
        acquire_timeout: Duration::from_secs(1),
        ..DatabaseOptions::default()
    };
    // Port 1 on loopback: nothing listens there.
    let err = Database::connect_with("postgres://u@127.0.0.1:1/db", &options)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect(_)), "{err:?}");
    assert!(err.is_unavailable());
}

/// What a PostgreSQL restart does to a statement in flight: the server ends the session
/// with "terminating connection due to administrator command" (SQLSTATE 57P01). That is a
/// connection error (the roles answer 503 and `Retry-After`), and the pool recovers on the
/// next statement with a fresh connection.
#[tokio::test]
async fn issue10_terminated_session_is_a_connection_error_and_the_pool_recovers() {
    let t = TestDatabase::postgres().await.unwrap();
    let db = t.connect().await.unwrap();
    let err = sqlx::query("SELECT pg_terminate_backend(pg_backend_pid())")
        .execute(db.pool())
        .await
        .unwrap_err();
    assert!(store::is_connection_error(&err), "{err:?}");
    if let Some(d) = err.as_database_error() {
        assert_eq!(d.code().as_deref(), Some("57P01"), "{err:?}");
    }
    db.ping().await.unwrap();

    // A statement the server refuses is not a connection error.
    let refused = sqlx::query("SELECT * FROM no_such_table")
        .execute(db.pool())
        .await
        .unwrap_err();
    assert!(!store::is_connection_error(&refused), "{refused:?}");
    let invalid = sqlx::query("SELECT CAST('x' AS BIGINT)")
        .execute(db.pool())
        .await
        .unwrap_err();
    assert!(!store::is_connection_error(&invalid), "{invalid:?}");
}

#[tokio::test]
async fn issue10_sqlite_locked_past_the_busy_timeout_is_a_connection_error() {
    let t = TestDatabase::sqlite().unwrap();
    let options = DatabaseOptions {
        sqlite_busy_timeout: Duration::from_millis(50),
        ..DatabaseOptions::default()
    };
    let url = t.url.clone();
    let a = Database::connect_with(&url, &options).await.unwrap();
    let b = Database::connect_with(&url, &options).await.unwrap();
    sqlx::query("CREATE TABLE t (x BIGINT)")
        .execute(a.pool())
        .await
        .unwrap();
    let held = a.begin_write().await.unwrap();
    let err = b.begin_write().await.unwrap_err();
    assert!(store::is_connection_error(&err), "{err:?}");
    drop(held);
}
