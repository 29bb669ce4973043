use thiserror::Error;

use compact_auth::AuthError;
use compact_db::DbError;

#[derive(Debug, Error)]
pub enum RegistryError {
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// An edit based on a version that is no longer current (a stale `If-Match`).
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The in-memory count index cannot represent the data (more than `u16::MAX` values of
    /// one facet field, an item `seq` past `u32::MAX`). Searches then count in SQL.
    #[error("count index cannot hold the data: {0}")]
    CountIndexLimit(String),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl RegistryError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        RegistryError::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl From<diesel::result::Error> for RegistryError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            // A race past an existence check (two creations of one acronym at once).
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                RegistryError::Conflict("it already exists".into())
            }
            e => RegistryError::Db(DbError::Query(e)),
        }
    }
}
