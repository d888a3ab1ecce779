//! The backends: which database a [`crate::Db`] runs on, and what it can do
//! where the backends differ.

/// Which database a [`crate::Db`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
    /// MySQL or MariaDB.
    MySql,
}

impl Backend {
    /// Its lower-case name: `postgres`, `sqlite` or `mysql`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
            Backend::MySql => "mysql",
        }
    }
}

/// What a backend can do, where the backends differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Tables can live in a schema ([`crate::Tables::schema`]): PostgreSQL.
    pub schemas: bool,
    /// Nodes may run on several machines: every backend but SQLite, whose
    /// file is shared by processes of one machine only.
    pub many_machines: bool,
    /// Claims lock several queues in one statement (PostgreSQL); elsewhere a
    /// claim walks its queues one by one in one transaction.
    pub batch_claims: bool,
    /// Creating a job wakes the schedulers of other nodes at once (on
    /// commit): PostgreSQL's LISTEN/NOTIFY. Elsewhere other nodes find it at
    /// their next poll.
    pub notifications: bool,
    /// The database's own clock is used for leases and schedules; SQLite uses
    /// the machine's, which is the same thing for an embedded database.
    pub server_clock: bool,
    /// Writers lock single queues: a transaction that holds one queue (a
    /// job created in a caller's transaction that is still open) holds up
    /// that queue alone, while the others' results and claims go on
    /// (PostgreSQL, MySQL). SQLite has one writer at a time: a caller's open
    /// write transaction holds up every write until it ends.
    pub row_locks: bool,
}
