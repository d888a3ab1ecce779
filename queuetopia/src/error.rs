//! The error type of the library.

use std::fmt;

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in Queuetopia.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value given to the library is not valid. Nothing was written.
    #[error("invalid {field}: {reason}")]
    Validation {
        /// The name of the offending field (`queue`, `action`, `params`, …).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// No job with this id exists in this scope.
    #[error("job {0} not found in this scope")]
    JobNotFound(i64),
    /// The job is not in a state that allows the operation.
    #[error("job {id}: {reason}")]
    JobState {
        /// The job.
        id: i64,
        /// Why the operation is refused.
        reason: &'static str,
    },
    /// The queue is not in a state that allows the operation.
    #[error("queue {queue:?}: {reason}")]
    QueueState {
        /// The queue.
        queue: String,
        /// Why the operation is refused.
        reason: &'static str,
    },
    /// The database schema is older than this library: run [`crate::Db::migrate`].
    #[error(
        "the Queuetopia schema is at version {found}, this library needs {expected}: \
         call Db::migrate() before starting"
    )]
    SchemaOutdated {
        /// The version found in the database.
        found: u32,
        /// The version this library needs.
        expected: u32,
    },
    /// The database schema is newer than this library knows.
    #[error(
        "the Queuetopia schema is at version {found}, newer than this library's {expected}: \
         upgrade the library"
    )]
    SchemaTooNew {
        /// The version found in the database.
        found: u32,
        /// The newest version this library knows.
        expected: u32,
    },
    /// A result could not be written because this node no longer holds the
    /// queue's lock: its lease ran out and another node took the queue.
    #[error("job {job_id}, attempt {attempt}: the queue's lock was lost, result refused")]
    LeaseLost {
        /// The job whose result was refused.
        job_id: i64,
        /// The attempt whose result was refused.
        attempt: u32,
    },
    /// A connection or transaction does not belong to the backend of this `Db`.
    #[error("this operation needs a {expected} connection")]
    WrongBackend {
        /// The backend the `Db` runs on.
        expected: &'static str,
    },
    /// The database answered something this library never writes nor asks
    /// for: a stored job that breaks the jobs table's rules (params not an
    /// object, a time out of range, a name not UTF-8), or a write that
    /// reports fewer rows than it was given. Trying again does the same, so
    /// it is never transient; the library's own transaction is rolled back.
    #[error("unexpected answer from the database: {0}")]
    Unexpected(String),
    /// Another node's migration held the schema longer than this one waits
    /// for it (MySQL). Migrating again once it is done is safe.
    #[error("timed out waiting for another node's migration")]
    MigrationBusy,
    /// The database failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

impl Error {
    /// Whether trying again later may succeed (a lost connection, a deadlock,
    /// a busy database, another node's migration). The library's own
    /// failures never are: a retried creation that failed on
    /// [`Error::Unexpected`] could create its jobs twice.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Backend(e) => e.is_transient(),
            Error::MigrationBusy => true,
            _ => false,
        }
    }

    pub(crate) fn unexpected(what: impl Into<String>) -> Self {
        Error::Unexpected(what.into())
    }

    pub(crate) fn validation(field: &'static str, reason: impl Into<String>) -> Self {
        Error::Validation {
            field,
            reason: reason.into(),
        }
    }
}

/// What kind of database failure a [`BackendError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BackendErrorKind {
    /// The connection was lost or could not be made.
    Connection,
    /// A deadlock, a serialization failure, a lock wait timeout or a busy
    /// database: the operation may succeed when tried again.
    Busy,
    /// A unique constraint was violated.
    UniqueViolation,
    /// Anything else.
    Other,
}

/// A database error, classified, with the original error as its `source()`.
pub struct BackendError {
    kind: BackendErrorKind,
    source: sqlx::Error,
}

impl BackendError {
    /// What kind of failure this is.
    pub fn kind(&self) -> BackendErrorKind {
        self.kind
    }

    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.kind,
            BackendErrorKind::Connection | BackendErrorKind::Busy
        )
    }
}

impl fmt::Debug for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackendError")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for BackendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "database error ({:?}): {}", self.kind, self.source)
    }
}

impl std::error::Error for BackendError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// SQLSTATE codes (PostgreSQL, and MySQL's where they match) and SQLite
/// result codes that mean "try again".
const BUSY_CODES: &[&str] = &[
    "40001", // serialization_failure
    "40P01", // deadlock_detected
    "55P03", // lock_not_available
    "57014", // query_canceled (statement timeout)
    "5",     // SQLITE_BUSY
    "6",     // SQLITE_LOCKED
    "517",   // SQLITE_BUSY_SNAPSHOT
    "261",   // SQLITE_BUSY_RECOVERY
];

/// SQLSTATE codes that mean the server went away.
const CONNECTION_CODES: &[&str] = &["57P01", "57P02", "57P03", "08000", "08003", "08006"];

impl From<sqlx::Error> for BackendError {
    fn from(source: sqlx::Error) -> Self {
        let kind = match &source {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed
            // sqlx's own: the server sent what the driver did not expect,
            // which leaves the connection unusable (the library never
            // builds this error itself: see `Error::Unexpected`).
            | sqlx::Error::Protocol(_) => BackendErrorKind::Connection,
            sqlx::Error::Database(db) => {
                let code = db.code();
                let code = code.as_deref().unwrap_or("");
                #[cfg(feature = "mysql")]
                let mysql = db
                    .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                    .map(|e| e.number());
                #[cfg(not(feature = "mysql"))]
                let mysql: Option<u16> = None;
                if let Some(kind) = mysql.and_then(mysql_kind) {
                    kind
                } else if db.is_unique_violation() {
                    BackendErrorKind::UniqueViolation
                } else if BUSY_CODES.contains(&code) {
                    BackendErrorKind::Busy
                } else if CONNECTION_CODES.contains(&code) {
                    BackendErrorKind::Connection
                } else {
                    BackendErrorKind::Other
                }
            }
            _ => BackendErrorKind::Other,
        };
        BackendError { kind, source }
    }
}

/// MySQL and MariaDB error numbers that say more than their SQLSTATE.
fn mysql_kind(number: u16) -> Option<BackendErrorKind> {
    match number {
        // deadlock, lock wait timeout, NOWAIT lock, query interrupted
        1213 | 1205 | 3572 | 1317 => Some(BackendErrorKind::Busy),
        // server gone away, lost connection, shutting down, connection killed
        2006 | 2013 | 1053 | 1927 | 4031 => Some(BackendErrorKind::Connection),
        _ => None,
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Backend(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_numbers_are_classified() {
        assert_eq!(mysql_kind(1213), Some(BackendErrorKind::Busy));
        assert_eq!(mysql_kind(1205), Some(BackendErrorKind::Busy));
        assert_eq!(mysql_kind(2013), Some(BackendErrorKind::Connection));
        assert_eq!(mysql_kind(1062), None);
    }

    #[test]
    fn lost_connections_are_transient() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let e = Error::from(sqlx::Error::Io(io));
        assert!(e.is_transient());
        assert!(!Error::from(sqlx::Error::RowNotFound).is_transient());
        assert!(!Error::validation("queue", "bad").is_transient());
        assert!(!Error::unexpected("fewer rows").is_transient());
        assert!(Error::MigrationBusy.is_transient());
    }
}
