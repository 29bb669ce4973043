use thiserror::Error;

use compact_db::DbError;

/// Every refusal of the identity layer. The API maps each to one HTTP status.
#[derive(Debug, Error)]
pub enum AuthError {
    /// Login failed. One answer for unknown account, wrong password, locked or deactivated
    /// account, so none can be told apart.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The password was right; a second-factor code is needed.
    #[error("a second-factor code is required")]
    MfaRequired,
    /// No valid identity: missing, forged, expired or revoked token or key.
    #[error("not authenticated")]
    Unauthenticated,
    /// Authenticated, but this is not allowed.
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// A field is invalid.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("internal: {0}")]
    Internal(String),
}

impl AuthError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AuthError::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl From<diesel::result::Error> for AuthError {
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            // A race past an existence check (e.g. two invitations of one e-mail at once).
            Error::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
                AuthError::Conflict("it already exists".into())
            }
            e => AuthError::Db(DbError::Query(e)),
        }
    }
}
