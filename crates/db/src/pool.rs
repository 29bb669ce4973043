use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use diesel::connection::{Connection, SimpleConnection};

use crate::connection::{Backend, DatabaseUrl, DbConnection};
use crate::slow_statements::SlowStatements;
use crate::{DbError, migrations};

/// A connection is checked with a round trip when it leaves the pool, unless it answered
/// within this long: a busy pool then pays one check a second per connection instead of
/// one per request, and a connection broken by a database restart still fails for at
/// most this long before the pool replaces it.
const TRUSTED_FOR: Duration = Duration::from_secs(1);

/// A connection from the pool; dereferences to the connection itself.
pub struct PooledConnection(r2d2::PooledConnection<ConnectionManager>);

impl Deref for PooledConnection {
    type Target = DbConnection;

    fn deref(&self) -> &DbConnection {
        &self.0.conn
    }
}

impl DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.0.conn
    }
}

/// A pooled connection and when it last proved alive.
pub struct CheckedConnection {
    conn: DbConnection,
    alive_at: Instant,
}

/// Pool sizing and waiting.
#[derive(Debug, Clone)]
pub struct PoolOptions {
    pub max_size: u32,
    /// How long a request waits for a connection before the database counts as unavailable.
    pub connect_timeout: Duration,
    /// Statements taking at least this long are logged with their SQL; `None` logs none.
    pub slow_statement: Option<Duration>,
    /// SQLite only: the memory all connections of this process together may use for their
    /// page caches before they recycle their least recently used pages (`soft_heap_limit`).
    /// Each connection alone may cache up to 16 MiB, so without a budget ten connections
    /// can hold 160 MiB. `None` sets no budget.
    pub sqlite_memory_budget: Option<u64>,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 10,
            connect_timeout: Duration::from_secs(5),
            slow_statement: Some(Duration::from_secs(1)),
            sqlite_memory_budget: None,
        }
    }
}

/// Connections in use and idle, for metrics.
#[derive(Debug, Clone, Copy)]
pub struct PoolStatus {
    pub connections: u32,
    pub idle: u32,
}

/// The connection pool of one backend.
#[derive(Clone)]
pub struct Database {
    pool: r2d2::Pool<ConnectionManager>,
    backend: Backend,
}

impl Database {
    /// Builds the pool without connecting yet, so a server can start, answer `/readyz` with 503
    /// and recover by itself when the database comes up.
    pub fn new(url: &DatabaseUrl, options: &PoolOptions) -> Self {
        let manager = ConnectionManager {
            url: url.clone(),
            slow_statement: options.slow_statement,
            sqlite_memory_budget: options.sqlite_memory_budget,
        };
        let pool = r2d2::Pool::builder()
            .max_size(options.max_size)
            .min_idle(Some(0))
            .connection_timeout(options.connect_timeout)
            .test_on_check_out(true)
            .error_handler(Box::new(LogErrors))
            .build_unchecked(manager);
        Self {
            pool,
            backend: url.backend(),
        }
    }

    /// Builds the pool and applies pending migrations.
    pub fn connect_and_migrate(url: &DatabaseUrl, options: &PoolOptions) -> Result<Self, DbError> {
        if let Some(path) = url.sqlite_path()
            && let Some(dir) = std::path::Path::new(path).parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                DbError::Unavailable(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        // Connect once directly: the pool would only report a timeout, not libpq's reason.
        let mut conn = url.establish()?;
        migrations::run_pending(&mut conn)?;
        crate::refresh_statistics(&mut conn)?;
        Ok(Self::new(url, options))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn get(&self) -> Result<PooledConnection, DbError> {
        self.pool
            .get()
            .map(PooledConnection)
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }

    /// A connection, waiting at most `timeout` for one.
    pub fn get_timeout(&self, timeout: Duration) -> Result<PooledConnection, DbError> {
        self.pool
            .get_timeout(timeout)
            .map(PooledConnection)
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }

    /// Runs a trivial query: is the database answering?
    pub fn ping(&self, timeout: Duration) -> Result<(), DbError> {
        let mut conn = self.get_timeout(timeout)?;
        conn.batch_execute("SELECT 1")
            .map_err(|e| DbError::Unavailable(e.to_string()))
    }

    pub fn status(&self) -> PoolStatus {
        let state = self.pool.state();
        PoolStatus {
            connections: state.connections,
            idle: state.idle_connections,
        }
    }
}

/// Opens connections for r2d2, choosing the backend from the URL.
pub struct ConnectionManager {
    url: DatabaseUrl,
    slow_statement: Option<Duration>,
    sqlite_memory_budget: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConnectError(String);

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = CheckedConnection;
    type Error = ConnectError;

    fn connect(&self) -> Result<CheckedConnection, ConnectError> {
        let mut conn = self
            .url
            .establish()
            .map_err(|e| ConnectError(e.to_string()))?;
        if let (DbConnection::Sqlite(_), Some(bytes)) = (&conn, self.sqlite_memory_budget) {
            // Process-wide: every connection sets the same value.
            conn.batch_execute(&format!("PRAGMA soft_heap_limit = {bytes}"))
                .map_err(|e| ConnectError(e.to_string()))?;
        }
        if let Some(threshold) = self.slow_statement {
            conn.set_instrumentation(SlowStatements::new(threshold));
        }
        Ok(CheckedConnection {
            conn,
            alive_at: Instant::now(),
        })
    }

    fn is_valid(&self, checked: &mut CheckedConnection) -> Result<(), ConnectError> {
        if checked.alive_at.elapsed() < TRUSTED_FOR {
            return Ok(());
        }
        checked
            .conn
            .batch_execute("SELECT 1")
            .map_err(|e| ConnectError(e.to_string()))?;
        checked.alive_at = Instant::now();
        Ok(())
    }

    fn has_broken(&self, checked: &mut CheckedConnection) -> bool {
        let conn = &mut checked.conn;
        use diesel::connection::TransactionManager;
        std::thread::panicking()
            || matches!(
                <DbConnection as Connection>::TransactionManager::transaction_manager_status_mut(
                    conn
                ),
                diesel::connection::TransactionManagerStatus::InError
            )
    }
}

#[derive(Debug)]
struct LogErrors;

impl r2d2::HandleError<ConnectError> for LogErrors {
    fn handle_error(&self, error: ConnectError) {
        tracing::warn!(%error, "database connection failed");
    }
}
