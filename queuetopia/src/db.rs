//! The database handle: connecting, migrating, checking the schema.

use std::sync::Arc;

use crate::backend::{Backend, Capabilities};
use crate::error::{Error, Result};
use crate::store::{SchemaMigrate, Store, StoreKind};
use crate::tables::Tables;

/// A database holding Queuetopia's tables, shared by every scope on it.
///
/// Cheap to clone. Make one with [`connect`] from a URL, or from a pool your
/// application already has ([`Db::from_pg_pool`], [`Db::from_sqlite_pool`]).
#[derive(Clone)]
pub struct Db {
    pub(crate) store: Arc<StoreKind>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("backend", &self.store.backend())
            .finish()
    }
}

/// Pools built by [`connect`] ping a connection before handing it out only
/// when it has been idle for more than [`crate::defaults::IDLE_PING`]: a
/// database restart (which takes longer) still has every dead connection
/// replaced before use, while a busy scheduler saves a round trip per
/// statement.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn ping_when_idle<DB: sqlx::Database>(
    options: sqlx::pool::PoolOptions<DB>,
) -> sqlx::pool::PoolOptions<DB> {
    options
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > crate::defaults::IDLE_PING {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// Connects to the database at `url`: `postgres://…` (or `postgresql://…`),
/// `mysql://…` (or `mariadb://…`), or `sqlite://path/to/file.db` (created if
/// missing, in WAL mode).
///
/// # Errors
///
/// [`Error::Validation`] for a URL of no known backend, or of a backend this
/// build leaves out (see the cargo features); [`Error::Backend`] when the
/// database cannot be reached.
pub async fn connect(url: &str) -> Result<Db> {
    Db::connect(url).await
}

impl Db {
    /// See [`connect`].
    ///
    /// # Errors
    ///
    /// As [`connect`].
    pub async fn connect(url: &str) -> Result<Db> {
        Db::connect_with(url, Tables::default()).await
    }

    /// Connects to the database at `url` (see [`connect`]), with the tables
    /// placed as `tables` says.
    ///
    /// # Errors
    ///
    /// As [`connect`]; [`Error::Validation`] for a bad table prefix or schema.
    pub async fn connect_with(url: &str, tables: Tables) -> Result<Db> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            #[cfg(feature = "postgres")]
            {
                let pool = ping_when_idle(sqlx::postgres::PgPoolOptions::new())
                    .max_connections(16)
                    .connect(url)
                    .await?;
                return Db::from_pg_pool_with(pool, tables);
            }
            #[cfg(not(feature = "postgres"))]
            return Err(Error::validation(
                "url",
                "PostgreSQL needs the `postgres` cargo feature of queuetopia",
            ));
        }
        if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            #[cfg(feature = "mysql")]
            {
                use std::str::FromStr;
                let url = url.replacen("mariadb://", "mysql://", 1);
                let options = sqlx::mysql::MySqlConnectOptions::from_str(&url)?;
                let pool = ping_when_idle(sqlx::mysql::MySqlPoolOptions::new())
                    .max_connections(16)
                    .after_connect(|conn, _| {
                        Box::pin(async move {
                            // Fewer gap locks than REPEATABLE READ; correctness
                            // does not depend on it (see the backend's docs).
                            sqlx::raw_sql("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                                .execute(conn)
                                .await?;
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await?;
                return Db::from_mysql_pool_with(pool, tables);
            }
            #[cfg(not(feature = "mysql"))]
            return Err(Error::validation(
                "url",
                "MySQL and MariaDB need the `mysql` cargo feature of queuetopia",
            ));
        }
        if url.starts_with("sqlite:") {
            #[cfg(feature = "sqlite")]
            {
                use std::str::FromStr;
                let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .busy_timeout(std::time::Duration::from_secs(30));
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(8)
                    .connect_with(options)
                    .await?;
                return Db::from_sqlite_pool_with(pool, tables);
            }
            #[cfg(not(feature = "sqlite"))]
            return Err(Error::validation(
                "url",
                "SQLite needs the `sqlite` cargo feature of queuetopia",
            ));
        }
        Err(Error::validation(
            "url",
            "must start with postgres://, postgresql://, mysql://, mariadb:// or sqlite:",
        ))
    }

    /// Uses a PostgreSQL pool the application already has.
    #[cfg(feature = "postgres")]
    pub fn from_pg_pool(pool: sqlx::PgPool) -> Db {
        Db {
            store: Arc::new(StoreKind::Postgres(crate::store::postgres::PgStore::new(
                pool,
                Tables::default(),
            ))),
        }
    }

    /// Uses a PostgreSQL pool the application already has, with the tables
    /// placed as `tables` says.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a bad table prefix or schema.
    #[cfg(feature = "postgres")]
    pub fn from_pg_pool_with(pool: sqlx::PgPool, tables: Tables) -> Result<Db> {
        tables.check(true)?;
        Ok(Db {
            store: Arc::new(StoreKind::Postgres(crate::store::postgres::PgStore::new(
                pool, tables,
            ))),
        })
    }

    /// Makes every statement safe behind a connection pooler in transaction
    /// mode, such as PgBouncer with `pool_mode = transaction` (PostgreSQL).
    ///
    /// Such a pooler gives the server connection to another client after
    /// each transaction, so a statement prepared and kept on it, or a
    /// statement whose parse and execution straddle two transactions, would
    /// run on the wrong connection. Behind one, every statement is unnamed
    /// (prepared anew each time) and runs inside a transaction of its own,
    /// and nothing listens for notifications: schedulers find work created on
    /// other nodes at their next poll, and creations notify nobody. It costs
    /// a `BEGIN` and a `COMMIT` around the statements that run alone.
    ///
    /// Jobs created with [`crate::Queuetopia::create_job_in`] are safe as long
    /// as the caller's connection is inside a transaction.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] on a backend other than PostgreSQL.
    pub fn transaction_pooler(self) -> Result<Db> {
        match &*self.store {
            #[cfg(feature = "postgres")]
            StoreKind::Postgres(store) => Ok(Db {
                store: Arc::new(StoreKind::Postgres(store.behind_transaction_pooler())),
            }),
            #[allow(unreachable_patterns)]
            _ => Err(Error::validation(
                "transaction_pooler",
                "only PostgreSQL runs behind a transaction pooler",
            )),
        }
    }

    /// Uses a SQLite pool the application already has. Its connections should
    /// have a busy timeout (sqlx sets 5 s by default), as several writers wait
    /// for each other.
    #[cfg(feature = "sqlite")]
    pub fn from_sqlite_pool(pool: sqlx::SqlitePool) -> Db {
        Db {
            store: Arc::new(StoreKind::Sqlite(crate::store::sqlite::SqliteStore::new(
                pool,
                Tables::default(),
            ))),
        }
    }

    /// Uses a SQLite pool the application already has, with the tables
    /// named as `tables` says (SQLite has no schemas: a prefix only).
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a bad table prefix, or any schema.
    #[cfg(feature = "sqlite")]
    pub fn from_sqlite_pool_with(pool: sqlx::SqlitePool, tables: Tables) -> Result<Db> {
        tables.check(false)?;
        Ok(Db {
            store: Arc::new(StoreKind::Sqlite(crate::store::sqlite::SqliteStore::new(
                pool, tables,
            ))),
        })
    }

    /// Uses a MySQL or MariaDB pool the application already has.
    #[cfg(feature = "mysql")]
    pub fn from_mysql_pool(pool: sqlx::MySqlPool) -> Db {
        Db {
            store: Arc::new(StoreKind::MySql(crate::store::mysql::MySqlStore::new(
                pool,
                Tables::default(),
            ))),
        }
    }

    /// Uses a MySQL or MariaDB pool the application already has, with the
    /// tables named as `tables` says (the pool's database holds them: a
    /// prefix only).
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a bad table prefix, or any schema.
    #[cfg(feature = "mysql")]
    pub fn from_mysql_pool_with(pool: sqlx::MySqlPool, tables: Tables) -> Result<Db> {
        tables.check(false)?;
        Ok(Db {
            store: Arc::new(StoreKind::MySql(crate::store::mysql::MySqlStore::new(
                pool, tables,
            ))),
        })
    }

    /// The MySQL pool, when this `Db` runs on MySQL or MariaDB.
    #[cfg(feature = "mysql")]
    pub fn mysql_pool(&self) -> Option<&sqlx::MySqlPool> {
        match &*self.store {
            StoreKind::MySql(s) => Some(s.pool()),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The PostgreSQL pool, when this `Db` runs on PostgreSQL.
    #[cfg(feature = "postgres")]
    pub fn pg_pool(&self) -> Option<&sqlx::PgPool> {
        match &*self.store {
            StoreKind::Postgres(s) => Some(s.pool()),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The SQLite pool, when this `Db` runs on SQLite.
    #[cfg(feature = "sqlite")]
    pub fn sqlite_pool(&self) -> Option<&sqlx::SqlitePool> {
        match &*self.store {
            StoreKind::Sqlite(s) => Some(s.pool()),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// What this backend can do, where backends differ.
    pub fn capabilities(&self) -> Capabilities {
        self.store.capabilities()
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// The schema version this library needs on this database: the last of
    /// its backend's migrations. Each backend counts its own versions (a
    /// change to one backend's schema leaves the others' alone), and they
    /// only ever grow: migrations are appended, never rewritten.
    pub fn latest_schema_version(&self) -> u32 {
        self.store.schema_latest()
    }

    /// Brings the schema to [`Db::latest_schema_version`]. Safe to call from
    /// many nodes at once, and a no-op when the schema is already there.
    ///
    /// # Errors
    ///
    /// [`Error::SchemaTooNew`] when the database was migrated by a newer
    /// library; [`Error::Backend`] when the database fails (the migration is
    /// then rolled back).
    pub async fn migrate(&self) -> Result<()> {
        let (found, latest) = (self.schema_version().await?, self.latest_schema_version());
        if found > latest {
            return Err(Error::SchemaTooNew {
                found,
                expected: latest,
            });
        }
        self.store
            .schema_migrate(SchemaMigrate { target: latest })
            .await
    }

    /// Migrates the schema up or down to `version` (0 removes every table).
    /// Each step runs in one transaction with its undo SQL at hand.
    ///
    /// # Errors
    ///
    /// [`Error::Validation`] for a version this library does not know;
    /// [`Error::Backend`] when the database fails.
    pub async fn migrate_to(&self, version: u32) -> Result<()> {
        let latest = self.latest_schema_version();
        if version > latest {
            return Err(Error::validation(
                "version",
                format!("this library knows versions 0 to {latest} of this backend's schema"),
            ));
        }
        self.store
            .schema_migrate(SchemaMigrate { target: version })
            .await
    }

    /// The store behind this handle, for the library's own store
    /// conformance suite. Not part of the API.
    #[cfg(feature = "store-conformance")]
    #[doc(hidden)]
    pub fn store(&self) -> &impl crate::store::Store {
        &*self.store
    }

    /// The schema version in the database (0 when never migrated).
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] when the database fails.
    pub async fn schema_version(&self) -> Result<u32> {
        self.store.schema_version().await
    }

    /// Fails unless the schema is the one this library needs.
    pub(crate) async fn check_schema(&self) -> Result<()> {
        let (found, expected) = (self.schema_version().await?, self.latest_schema_version());
        match found.cmp(&expected) {
            std::cmp::Ordering::Less => Err(Error::SchemaOutdated { found, expected }),
            std::cmp::Ordering::Greater => Err(Error::SchemaTooNew { found, expected }),
            std::cmp::Ordering::Equal => Ok(()),
        }
    }
}

#[cfg(feature = "postgres")]
impl From<sqlx::PgPool> for Db {
    fn from(pool: sqlx::PgPool) -> Self {
        Db::from_pg_pool(pool)
    }
}

#[cfg(feature = "mysql")]
impl From<sqlx::MySqlPool> for Db {
    fn from(pool: sqlx::MySqlPool) -> Self {
        Db::from_mysql_pool(pool)
    }
}

#[cfg(feature = "sqlite")]
impl From<sqlx::SqlitePool> for Db {
    fn from(pool: sqlx::SqlitePool) -> Self {
        Db::from_sqlite_pool(pool)
    }
}
