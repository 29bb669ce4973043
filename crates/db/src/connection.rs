use std::fmt;
use std::path::PathBuf;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};

use crate::DbError;

/// One connection to either backend; queries written once against `schema.rs` run on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Pg(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// A database URL whose scheme has been checked: `postgres://…`/`postgresql://…` or
/// `sqlite://path`. The backend is chosen here, never by trying one after the other (that
/// hides libpq's error and can silently create a SQLite file named like a conninfo string).
#[derive(Clone)]
pub struct DatabaseUrl {
    backend: Backend,
    raw: String,
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, DbError> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self {
                backend: Backend::Postgres,
                raw: raw.to_owned(),
            });
        }
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DbError::InvalidUrl("sqlite:// needs a file path".into()));
            }
            return Ok(Self {
                backend: Backend::Sqlite,
                raw: raw.to_owned(),
            });
        }
        Err(DbError::InvalidUrl(
            "expected a URL starting with postgres://, postgresql:// or sqlite://".into(),
        ))
    }

    /// The URL of a SQLite file.
    pub fn sqlite_file(path: impl Into<PathBuf>) -> Self {
        let path: PathBuf = path.into();
        Self {
            backend: Backend::Sqlite,
            raw: format!("sqlite://{}", path.display()),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The full URL, credentials included: never log this.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// For SQLite, the file path.
    pub fn sqlite_path(&self) -> Option<&str> {
        self.raw.strip_prefix("sqlite://")
    }

    pub(crate) fn establish(&self) -> Result<DbConnection, DbError> {
        match self.backend {
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.raw)
                    .map_err(|e| DbError::Unavailable(e.to_string()))?;
                // No parallel workers: starting one costs 5-10 ms, more than a rare-term
                // search takes in all, and under concurrent requests there are no idle cores
                // for them to use anyway (see bench/README.md).
                conn.batch_execute("SET max_parallel_workers_per_gather = 0")
                    .map_err(|e| DbError::Unavailable(e.to_string()))?;
                Ok(DbConnection::Pg(conn))
            }
            Backend::Sqlite => {
                let path = self.sqlite_path().unwrap_or_default();
                let mut conn = SqliteConnection::establish(path)
                    .map_err(|e| DbError::Unavailable(e.to_string()))?;
                conn.batch_execute(SQLITE_CONNECTION_PRAGMAS)
                    .map_err(|e| DbError::Unavailable(e.to_string()))?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// Every SQLite connection's settings (the benchmark's native runner uses them too).
/// Waiting for a lock first, so that switching to WAL while another connection does the
/// same waits instead of failing; WAL for concurrent readers, durable commits, enforced
/// foreign keys. A 16 MiB page cache instead of the default 2 MiB: a ranked search at a
/// million items reads a few thousand B-tree pages, and each miss is a read from the OS
/// (bench/README, 2026-11-29 night). It fills only as pages are read; the pool's few busy
/// connections are the ones that fill it.
pub const SQLITE_CONNECTION_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; \
     PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; \
     PRAGMA cache_size = -16384;";

/// Shows the backend and, for PostgreSQL, the URL without its password.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl DatabaseUrl {
    /// The URL with any password replaced, safe for logs.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.raw) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("*****"));
                u.to_string()
            }
            _ => self.raw.clone(),
        }
    }
}

impl DbConnection {
    pub fn backend(&self) -> Backend {
        match self {
            DbConnection::Pg(_) => Backend::Postgres,
            DbConnection::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Empties the caches the connection keeps in this process, after work that read much
    /// once (loading the search count index reads every item): SQLite's page cache would
    /// otherwise stay full of those pages. A PostgreSQL connection caches no pages here.
    pub fn release_memory(&mut self) -> Result<(), diesel::result::Error> {
        match self {
            DbConnection::Sqlite(conn) => conn.batch_execute("PRAGMA shrink_memory"),
            DbConnection::Pg(_) => Ok(()),
        }
    }
}

/// Runs `f` in a transaction that writes.
///
/// On SQLite this is `BEGIN IMMEDIATE`: a deferred transaction that reads and then writes
/// can fail with `SQLITE_BUSY` without waiting when another writer got there first, whereas
/// an immediate one queues on `busy_timeout`. It also waits for this process's other writers
/// of the file first (see `sqlite_writer`). On PostgreSQL it is an ordinary transaction.
/// Nested calls become savepoints.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let DbConnection::Sqlite(inner) = conn else {
        return conn.transaction(f);
    };
    let depth = AnsiTransactionManager::transaction_manager_status_mut(inner)
        .transaction_depth()
        .map_err(E::from)?;
    if depth.is_some() {
        return conn.transaction(f);
    }
    let _turn = crate::sqlite_writer::wait_turn(inner).map_err(E::from)?;
    AnsiTransactionManager::begin_transaction_sql(inner, "BEGIN IMMEDIATE").map_err(E::from)?;
    let result = f(conn);
    let DbConnection::Sqlite(inner) = conn else {
        unreachable!("the backend of a connection cannot change");
    };
    match result {
        Ok(value) => match AnsiTransactionManager::commit_transaction(inner) {
            Ok(()) => Ok(value),
            Err(commit_error) => {
                let _ = AnsiTransactionManager::rollback_transaction(inner);
                Err(E::from(commit_error))
            }
        },
        Err(error) => {
            AnsiTransactionManager::rollback_transaction(inner).map_err(E::from)?;
            Err(error)
        }
    }
}
