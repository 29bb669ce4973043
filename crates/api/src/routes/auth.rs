//! Sign-in, tokens, passwords and invitations.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use compact_auth::accounts;
use compact_auth::keys::PublicJwk;
use compact_auth::password::{MAX_LENGTH, check_strength};
use compact_auth::{AuthError, TokenPair, users};
use compact_db::write_transaction;

use crate::app::AppState;
use crate::auth::{Authenticated, request_context};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(min_length = 1, max_length = 254, example = "focal.point@example.org")]
    email: String,
    #[schema(min_length = 1, max_length = 1024)]
    password: String,
    /// A current TOTP code, or a recovery code, when a second factor is enrolled.
    #[schema(max_length = 64)]
    totp: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// A JWT (EdDSA) to send as `Authorization: Bearer …`.
    access_token: String,
    /// Opaque; trade it at `/api/v1/auth/refresh` for new tokens. Single use.
    refresh_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
}

impl From<TokenPair> for TokenResponse {
    fn from(pair: TokenPair) -> Self {
        Self {
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
            token_type: "Bearer",
            expires_in: pair.expires_in,
        }
    }
}

fn bounded(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().count() > max {
        return Err(ApiError::invalid_field(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(())
}

/// Sign in. Unknown e-mail, wrong password, locked or deactivated account all get the same
/// 401; repeated failures lock the account for a while (see docs/identity.md).
#[utoipa::path(
    tag = "auth",
    security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "Invalid credentials, or a second-factor code is needed (`type` tells which)", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this address", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/login")]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<LoginRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let body = body.0;
    bounded("email", &body.email, 254)?;
    bounded("password", &body.password, 1024)?;
    bounded("totp", body.totp.as_deref().unwrap_or_default(), 64)?;
    let pair = state
        .auth
        .login(
            &body.email,
            body.password,
            body.totp,
            &request_context(&req),
        )
        .await?;
    Ok(web::Json(pair.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[schema(min_length = 1, max_length = 256)]
    refresh_token: String,
}

/// Trade a refresh token for new tokens. Each refresh token works once; presenting a spent
/// one again signs out every session that descends from the same sign-in.
#[utoipa::path(
    tag = "auth",
    security(()),
    request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<RefreshRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    bounded("refresh_token", &body.0.refresh_token, 256)?;
    let pair = state
        .auth
        .refresh(&body.0.refresh_token, &request_context(&req))
        .await?;
    Ok(web::Json(pair.into()))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// The session's refresh token, revoked with every token descending from it.
    #[schema(max_length = 256)]
    refresh_token: Option<String>,
}

/// Sign out: the refresh token's family is revoked and the caller's access tokens stop
/// working at once (other devices must refresh).
#[utoipa::path(
    tag = "auth",
    security(("bearer" = ["session"])),
    request_body = LogoutRequest,
    responses((status = 204), (status = 401, body = Problem, content_type = "application/problem+json"))
)]
#[post("/logout")]
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    body: ApiJson<LogoutRequest>,
) -> Result<HttpResponse, ApiError> {
    caller.0.require_person()?;
    let token = body.0.refresh_token;
    bounded("refresh_token", token.as_deref().unwrap_or_default(), 256)?;
    state
        .auth
        .logout(&caller.0, token.as_deref(), &request_context(&req))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    #[schema(min_length = 1, max_length = 1024)]
    current_password: String,
    /// 12 to 128 characters, not easy to guess.
    #[schema(min_length = 12, max_length = 128)]
    new_password: String,
}

/// Change one's password. Every session ends; the answer carries tokens for a new one, and
/// the user is told by mail.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = ["session"])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong current password or weak new one", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    body: ApiJson<ChangePasswordRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    let principal = caller.0;
    principal.require_session()?;
    let body = body.0;
    bounded("current_password", &body.current_password, 1024)?;
    let id = principal.user_id.clone();
    let account = state
        .auth
        .blocking(move |conn| users::find(conn, &id))
        .await?
        .ok_or(AuthError::Unauthenticated)?;
    let verified = state
        .auth
        .passwords()
        .verify(body.current_password, account.user.password_hash.clone())
        .await?;
    let locked = account
        .user
        .locked_until
        .is_some_and(|until| until > compact_db::now());
    if !verified.matched || locked {
        // Guessing through this route counts towards the lockout like sign-in does.
        if !verified.matched {
            state
                .auth
                .record_password_failure(&account, &request_context(&req))
                .await?;
        }
        return Err(ApiError::invalid_field(
            "current_password",
            "is not your current password",
        ));
    }
    let hash = new_password_hash(&state, &body.new_password, &account).await?;
    let (mail, actor, id) = (
        state.mail.clone(),
        principal.audit_actor(request_context(&req).ip, request_context(&req).request_id),
        principal.user_id.clone(),
    );
    state
        .auth
        .blocking(move |conn| {
            write_transaction(conn, |conn| {
                accounts::change_password(conn, &id, hash, &mail, actor)
            })
        })
        .await?;
    state.auth.forget(&principal.user_id);
    Ok(web::Json(
        state.auth.start_session(&principal.user_id).await?.into(),
    ))
}

/// Checks a new password against the policy, with the user's own details as context, and
/// hashes it.
async fn new_password_hash(
    state: &AppState,
    password: &str,
    account: &users::UserWithOrg,
) -> Result<String, ApiError> {
    if password.chars().count() > MAX_LENGTH {
        return Err(ApiError::invalid_field(
            "password",
            format!("must be at most {MAX_LENGTH} characters"),
        ));
    }
    let context = [
        account.user.email.as_str(),
        account.user.name.as_str(),
        account.org_name.as_str(),
    ];
    check_strength(password, &context)
        .map_err(|weak| ApiError::invalid_field("password", format!("this password {}", weak.0)))?;
    Ok(state.auth.passwords().hash(password.to_owned()).await?)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    #[schema(min_length = 1, max_length = 254)]
    email: String,
}

/// Ask for a password-reset link by mail. The answer is the same whether or not the
/// e-mail belongs to an account.
#[utoipa::path(tag = "auth", security(()), request_body = ResetRequest, responses((status = 202), (status = 422, body = Problem, content_type = "application/problem+json"), (status = 429, body = Problem, content_type = "application/problem+json")))]
#[post("/password-reset")]
pub async fn request_reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<ResetRequest>,
) -> Result<HttpResponse, ApiError> {
    bounded("email", &body.0.email, 254)?;
    if body.0.email.trim().is_empty() {
        // Saying that an empty address is not one reveals nothing about accounts.
        return Err(ApiError::invalid_field(
            "email",
            "give the account's e-mail address",
        ));
    }
    let (mail, ctx, email) = (state.mail.clone(), request_context(&req), body.0.email);
    let actor = compact_db::audit::Actor {
        ip: ctx.ip,
        request_id: ctx.request_id,
        ..Default::default()
    };
    state
        .auth
        .blocking(move |conn| {
            write_transaction(conn, |conn| {
                accounts::request_password_reset(conn, &email, &mail, actor)
            })
        })
        .await?;
    Ok(HttpResponse::Accepted().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordRequest {
    /// 12 to 128 characters, not easy to guess.
    #[schema(min_length = 12, max_length = 128)]
    password: String,
}

/// Set a new password with the token from a reset mail (valid 30 minutes, once).
#[utoipa::path(
    tag = "auth",
    security(()),
    params(("token" = String, Path, description = "The token from the mail")),
    request_body = SetPasswordRequest,
    responses((status = 204), (status = 404, description = "Unknown, used or expired token", body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"))
)]
#[post("/password-reset/{token}")]
pub async fn reset_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    body: ApiJson<SetPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    redeem(
        &state,
        &req,
        token.into_inner(),
        "password_reset",
        body.0.password,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Accept an invitation: set a password with the token from the invitation mail (valid
/// 72 hours, once); the account becomes active.
#[utoipa::path(
    tag = "auth",
    security(()),
    params(("token" = String, Path, description = "The token from the invitation mail")),
    request_body = SetPasswordRequest,
    responses((status = 204), (status = 404, description = "Unknown, used or expired token", body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"))
)]
#[post("/invitations/{token}/accept")]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    req: HttpRequest,
    token: web::Path<String>,
    body: ApiJson<SetPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    redeem(
        &state,
        &req,
        token.into_inner(),
        "invitation",
        body.0.password,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn redeem(
    state: &AppState,
    req: &HttpRequest,
    token: String,
    purpose: &'static str,
    password: String,
) -> Result<(), ApiError> {
    if token.len() > 128 {
        return Err(ApiError::NotFound);
    }
    let lookup = token.clone();
    let user = state
        .auth
        .blocking(move |conn| accounts::user_for_token(conn, &lookup, purpose))
        .await?;
    let id = user.id.clone();
    let account = state
        .auth
        .blocking(move |conn| users::find(conn, &id))
        .await?
        .ok_or(ApiError::NotFound)?;
    let hash = new_password_hash(state, &password, &account).await?;
    let ctx = request_context(req);
    let actor = compact_db::audit::Actor {
        ip: ctx.ip,
        request_id: ctx.request_id,
        ..Default::default()
    };
    let mail = state.mail.clone();
    state
        .auth
        .blocking(move |conn| {
            write_transaction(conn, |conn| {
                accounts::redeem_token(conn, &token, purpose, hash, &mail, actor)
            })
        })
        .await?;
    state.auth.forget(&user.id);
    Ok(())
}

#[derive(Serialize, ToSchema)]
pub struct JwkSet {
    keys: Vec<Jwk>,
}

/// An Ed25519 public key (RFC 8037).
#[derive(Serialize, ToSchema)]
pub struct Jwk {
    kty: String,
    crv: String,
    x: String,
    kid: String,
    alg: String,
    #[serde(rename = "use")]
    key_use: String,
}

impl From<PublicJwk> for Jwk {
    fn from(k: PublicJwk) -> Self {
        Self {
            kty: k.kty,
            crv: k.crv,
            x: k.x,
            kid: k.kid,
            alg: k.alg,
            key_use: k.key_use,
        }
    }
}

/// The public keys that verify access tokens, for other Compact systems.
#[utoipa::path(tag = "auth", security(()), responses((status = 200, body = JwkSet)))]
#[get("/.well-known/jwks.json")]
pub async fn jwks(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let keys = web::block(move || state.auth.keys().jwks())
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let body = JwkSet {
        keys: keys.into_iter().map(Jwk::from).collect(),
    };
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "public, max-age=60"))
        .json(body))
}
