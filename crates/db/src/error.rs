use thiserror::Error;

/// Everything that can go wrong in the storage layer.
#[derive(Debug, Error)]
pub enum DbError {
    /// The database URL names no supported backend or is malformed.
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    /// No connection could be had: the database is down or unreachable.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error(transparent)]
    Query(#[from] diesel::result::Error),
}

impl DbError {
    /// True when the failure is the database being away rather than a bad query, so callers
    /// can answer 503 and retry later.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        matches!(
            self,
            DbError::Unavailable(_)
                | DbError::Query(Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _))
                | DbError::Query(Error::BrokenTransactionManager)
        )
    }
}
