//! The caller's own account and second factor.

use actix_web::{HttpRequest, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use compact_auth::users::{UserProfile, UserRow};
use compact_auth::{AuthError, mfa, users};
use compact_db::audit::{self, NewAuditEvent, Outcome};
use compact_db::write_transaction;

use crate::app::AppState;
use crate::auth::{Authenticated, request_context};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;

/// A user as the API shows them.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    id: String,
    organization_id: String,
    email: String,
    name: String,
    /// `admin`, `secretariat`, `coordinator`, `focal_point` or `member`.
    role: String,
    /// `invited`, `active` or `deactivated`.
    status: String,
    mfa_enabled: bool,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    updated_at: DateTime<Utc>,
}

impl From<UserRow> for UserView {
    fn from(u: UserRow) -> Self {
        UserProfile::from(u).into()
    }
}

impl From<UserProfile> for UserView {
    fn from(u: UserProfile) -> Self {
        Self {
            id: u.id,
            organization_id: u.organization_id,
            email: u.email,
            name: u.name,
            role: u.role,
            status: u.status,
            mfa_enabled: u.totp_enabled,
            created_at: u.created_at.and_utc(),
            updated_at: u.updated_at.and_utc(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct MeView {
    #[serde(flatten)]
    user: UserView,
    /// What this caller may do: the role's permissions, or the API key's scopes.
    permissions: Vec<&'static str>,
    /// False while an admin or secretariat user has no second factor: only enrolment works.
    mfa_satisfied: bool,
}

/// The caller: their account and what they may do.
#[utoipa::path(tag = "me", security(("bearer" = ["authenticated"]), ("api_key" = ["authenticated"])), responses((status = 200, body = MeView), (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("")]
pub async fn me(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<web::Json<MeView>, ApiError> {
    let principal = caller.0;
    let account = state.auth.profile(&principal.user_id).await?;
    let permissions = match &principal.api_key {
        Some(key) => key.scopes.iter().map(|p| p.as_str()).collect(),
        None => principal
            .role
            .permissions()
            .iter()
            .map(|p| p.as_str())
            .collect(),
    };
    Ok(web::Json(MeView {
        user: account.into(),
        permissions,
        mfa_satisfied: principal.mfa_satisfied,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// Base32 secret, for apps that cannot scan the URI.
    secret: String,
    /// `otpauth://` URI to show as a QR code.
    provisioning_uri: String,
}

/// Start enrolling a TOTP second factor; confirm it with a code to turn it on.
#[utoipa::path(tag = "me", security(("bearer" = ["session"])), responses((status = 200, body = TotpEnrolment), (status = 409, description = "Already enrolled", body = Problem, content_type = "application/problem+json")))]
#[post("/mfa/totp")]
pub async fn begin_totp(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<web::Json<TotpEnrolment>, ApiError> {
    let principal = caller.0;
    principal.require_person()?;
    let id = principal.user_id.clone();
    let (secret, provisioning_uri) = state
        .auth
        .blocking(move |conn| {
            let account = users::find(conn, &id)?.ok_or(AuthError::Unauthenticated)?;
            mfa::begin_enrolment(conn, &id, &account.user.email)
        })
        .await?;
    // The stored profile changed (`updated_at`), so /me must not answer from memory.
    state.auth.forget(&principal.user_id);
    Ok(web::Json(TotpEnrolment {
        secret,
        provisioning_uri,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TotpConfirmation {
    /// The six digits the authenticator app shows.
    #[schema(pattern = "^[0-9]{6}$", example = "123456")]
    code: String,
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Single-use codes for when the device is lost; shown only now.
    recovery_codes: Vec<String>,
}

/// Confirm TOTP enrolment with a current code. Existing tokens stop working: sign in again
/// with the code.
#[utoipa::path(tag = "me", security(("bearer" = ["session"])), request_body = TotpConfirmation, responses((status = 200, body = RecoveryCodes), (status = 409, description = "No enrolment started, or already enrolled", body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json")))]
#[post("/mfa/totp/confirm")]
pub async fn confirm_totp(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    body: ApiJson<TotpConfirmation>,
) -> Result<web::Json<RecoveryCodes>, ApiError> {
    let principal = caller.0;
    principal.require_person()?;
    let code = body.0.code;
    if code.len() > 16 {
        return Err(ApiError::invalid_field(
            "code",
            "must be at most 16 characters",
        ));
    }
    let ctx = request_context(&req);
    let actor = principal.audit_actor(ctx.ip, ctx.request_id);
    let id = principal.user_id.clone();
    let codes = state
        .auth
        .blocking(move |conn| {
            write_transaction(conn, |conn| {
                let account = users::find(conn, &id)?.ok_or(AuthError::Unauthenticated)?;
                let codes = mfa::confirm_enrolment(conn, &id, &account.user.email, &code)?;
                audit::append(
                    conn,
                    NewAuditEvent::new("mfa.enrol", Outcome::Success)
                        .actor(actor)
                        .target("user", &id),
                )?;
                Ok(codes)
            })
        })
        .await?;
    state.auth.forget(&principal.user_id);
    Ok(web::Json(RecoveryCodes {
        recovery_codes: codes,
    }))
}
