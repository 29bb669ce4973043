//! Every error the API answers with, as RFC 9457 `application/problem+json`.
//!
//! 5xx answers carry no internal detail: the cause goes to the log, inside the request's span
//! (which carries the request id also sent as `X-Request-Id`).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use compact_auth::AuthError;
use compact_db::DbError;
use compact_registry::RegistryError;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem; `about:blank` when the status says it all.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    pub status: u16,
    /// What went wrong with this request, for a person to read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Field-level details of a validation failure.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One invalid field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// Path of the field in the request body, e.g. `recipients[2].id`; empty for the body as a whole.
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("bad request: {0}")]
    BadRequest(String),
    /// No valid credential; `kind` names the problem type for clients that must tell
    /// "log in again" from "send your second-factor code".
    #[error("unauthorized: {detail}")]
    Unauthorized { kind: &'static str, detail: String },
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("not found")]
    NotFound,
    #[error("conflict: {0}")]
    Conflict(String),
    /// The client took too long to send its body.
    #[error("request timeout")]
    RequestTimeout,
    /// An edit without `If-Match`.
    #[error("precondition required")]
    PreconditionRequired,
    /// A stale `If-Match`.
    #[error("precondition failed: {0}")]
    PreconditionFailed(String),
    #[error("method not allowed")]
    MethodNotAllowed { allow: Vec<String> },
    #[error("unprocessable: {detail}")]
    Unprocessable {
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("payload too large")]
    PayloadTooLarge { limit: usize },
    #[error("unsupported media type")]
    UnsupportedMediaType { expected: &'static str },
    /// An uploaded file whose bytes are not of an accepted type; `detected` is what they are.
    #[error("unsupported file type: {detected}")]
    UnsupportedFileType { detected: String },
    #[error("service unavailable: {0}")]
    Unavailable(String),
    #[error("internal error: {0:#}")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let error = FieldError {
            field: field.into(),
            message: message.into(),
        };
        ApiError::Unprocessable {
            detail: "The request contains invalid fields.".into(),
            errors: vec![error],
        }
    }

    fn problem(&self) -> Problem {
        let status = self.status_code();
        let (kind, detail, errors) = match self {
            ApiError::BadRequest(detail) => ("about:blank", Some(detail.clone()), vec![]),
            ApiError::Unauthorized { kind, detail } => (*kind, Some(detail.clone()), vec![]),
            ApiError::Forbidden(detail) => ("about:blank", Some(detail.clone()), vec![]),
            ApiError::NotFound => ("about:blank", Some("Nothing is here.".to_owned()), vec![]),
            ApiError::Conflict(detail) => ("about:blank", Some(detail.clone()), vec![]),
            ApiError::RequestTimeout => (
                "about:blank",
                Some("The request body arrived too slowly.".to_owned()),
                vec![],
            ),
            ApiError::PreconditionRequired => (
                "about:blank",
                Some("Send If-Match with the ETag of the version you are changing.".to_owned()),
                vec![],
            ),
            ApiError::PreconditionFailed(detail) => ("about:blank", Some(detail.clone()), vec![]),
            ApiError::MethodNotAllowed { allow } => (
                "about:blank",
                Some(format!("This resource allows {}.", allow.join(", "))),
                vec![],
            ),
            ApiError::Unprocessable { detail, errors } => (
                "urn:compact:problem:validation",
                Some(detail.clone()),
                errors.clone(),
            ),
            ApiError::PayloadTooLarge { limit } => (
                "about:blank",
                Some(format!("The request body is larger than {limit} bytes.")),
                vec![],
            ),
            ApiError::UnsupportedMediaType { expected } => (
                "about:blank",
                Some(format!("The request body must be {expected}.")),
                vec![],
            ),
            ApiError::UnsupportedFileType { detected } => (
                "urn:compact:problem:unsupported-file-type",
                Some(format!(
                    "The file is {detected}, which is not accepted. Accepted: {}.",
                    compact_registry::attachments::allowed_type_names()
                )),
                vec![],
            ),
            ApiError::Unavailable(_) => (
                "urn:compact:problem:unavailable",
                Some(
                    "A service the platform depends on is unavailable; try again shortly."
                        .to_owned(),
                ),
                vec![],
            ),
            ApiError::Internal(_) => ("about:blank", None, vec![]),
        };
        Problem {
            kind: kind.to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            errors,
        }
    }
}

impl From<DbError> for ApiError {
    #[track_caller]
    fn from(error: DbError) -> Self {
        if error.is_unavailable() {
            ApiError::Unavailable(error.to_string())
        } else {
            ApiError::Internal(anyhow::Error::new(error))
        }
    }
}

impl From<AuthError> for ApiError {
    #[track_caller]
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::InvalidCredentials => ApiError::Unauthorized {
                kind: "urn:compact:problem:invalid-credentials",
                detail: "The e-mail, password or code is not valid.".into(),
            },
            AuthError::MfaRequired => ApiError::Unauthorized {
                kind: "urn:compact:problem:mfa-required",
                detail: "Send the code of your authenticator app (or a recovery code) as `totp`."
                    .into(),
            },
            AuthError::Unauthenticated => ApiError::Unauthorized {
                kind: "about:blank",
                detail: "A valid access token or API key is required.".into(),
            },
            AuthError::Forbidden(detail) => ApiError::Forbidden(detail),
            AuthError::NotFound => ApiError::NotFound,
            AuthError::Conflict(detail) => ApiError::Conflict(detail),
            AuthError::Invalid { field, message } => ApiError::invalid_field(field, message),
            AuthError::Db(e) => e.into(),
            AuthError::Internal(e) => ApiError::Internal(anyhow::anyhow!(e)),
        }
    }
}

impl From<RegistryError> for ApiError {
    #[track_caller]
    fn from(error: RegistryError) -> Self {
        match error {
            RegistryError::Forbidden(detail) => ApiError::Forbidden(detail),
            RegistryError::NotFound => ApiError::NotFound,
            RegistryError::Conflict(detail) => ApiError::Conflict(detail),
            RegistryError::PreconditionFailed(detail) => ApiError::PreconditionFailed(detail),
            RegistryError::Invalid { field, message } => ApiError::invalid_field(field, message),
            RegistryError::Auth(e) => e.into(),
            RegistryError::Db(e) => e.into(),
            e @ RegistryError::CountIndexLimit(_) => ApiError::Internal(e.into()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } | ApiError::UnsupportedFileType { .. } => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ApiError::Internal(cause) => tracing::error!(error = ?cause, "internal error"),
            ApiError::Unavailable(cause) => tracing::warn!(%cause, "dependency unavailable"),
            _ => {}
        }
        let mut response = problem_response(&self.problem());
        let headers = response.headers_mut();
        if let ApiError::MethodNotAllowed { allow } = self
            && let Ok(value) = HeaderValue::from_str(&allow.join(", "))
        {
            headers.insert(header::ALLOW, value);
        }
        if let ApiError::Unauthorized { .. } = self {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::Unavailable(_) = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

pub fn problem_response(problem: &Problem) -> HttpResponse {
    let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = serde_json::to_string(problem).unwrap_or_else(|_| "{}".to_owned());
    HttpResponse::build(status)
        .content_type(PROBLEM_JSON)
        .body(body)
}

/// A problem for a bare status, used where actix produced an error of its own.
pub fn status_problem(status: StatusCode, detail: Option<String>) -> Problem {
    let detail = if status.is_server_error() {
        None
    } else {
        detail
    };
    Problem {
        kind: "about:blank".to_owned(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail,
        errors: vec![],
    }
}
