//! API keys for scripts.

use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{Array, ArrayBuilder, ObjectBuilder, Type};

use compact_auth::Permission;
use compact_auth::api_keys::{self, ApiKeyRow, NewApiKey};
use compact_db::audit::{self, NewAuditEvent, Outcome};
use compact_db::write_transaction;

use crate::app::AppState;
use crate::auth::{Authenticated, request_context};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;

#[derive(Serialize, ToSchema)]
pub struct ApiKeyView {
    id: String,
    name: String,
    /// The first characters of the key, to recognise it.
    prefix: String,
    scopes: Vec<String>,
    allowed_cidrs: Vec<String>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    expires_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::optional")]
    last_used_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::timestamp::optional")]
    revoked_at: Option<DateTime<Utc>>,
}

impl From<ApiKeyRow> for ApiKeyView {
    fn from(k: ApiKeyRow) -> Self {
        Self {
            scopes: k
                .scope_list()
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            allowed_cidrs: k.cidr_list(),
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            created_at: k.created_at.and_utc(),
            expires_at: k.expires_at.and_utc(),
            last_used_at: k.last_used_at.map(|t| t.and_utc()),
            revoked_at: k.revoked_at.map(|t| t.and_utc()),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    key: ApiKeyView,
    /// The key itself: shown only now. Send it as `Authorization: Bearer …` or `X-Api-Key`.
    secret: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKeyRequest {
    #[schema(min_length = 1, max_length = 100, example = "nightly export")]
    name: String,
    /// A subset of your permissions, e.g. `updates:write`, `documents:read`, `search`.
    #[schema(schema_with = scope_list)]
    scopes: Vec<String>,
    /// Required; at most 365 days away.
    expires_at: DateTime<Utc>,
    /// Optional allow-list of addresses or CIDR blocks.
    #[serde(default)]
    allowed_cidrs: Vec<String>,
}

/// One or more permission names (the spec lists them all; a key gets only those its owner
/// has).
fn scope_list() -> Array {
    let names = Permission::ALL.iter().map(|p| p.as_str());
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(names)),
        )
        .min_items(Some(1))
        .max_items(Some(Permission::ALL.len()))
        .build()
}

/// The caller's API keys.
#[utoipa::path(tag = "api-keys", security(("bearer" = ["session"])), responses((status = 200, body = [ApiKeyView]), (status = 401, body = Problem, content_type = "application/problem+json")))]
#[get("")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<web::Json<Vec<ApiKeyView>>, ApiError> {
    caller.0.require_session()?;
    let id = caller.0.user_id.clone();
    let keys = state
        .auth
        .blocking(move |conn| api_keys::list(conn, &id))
        .await?;
    Ok(web::Json(keys.into_iter().map(ApiKeyView::from).collect()))
}

/// Create an API key. The secret is in this answer only.
#[utoipa::path(
    tag = "api-keys",
    security(("bearer" = ["session"])),
    request_body = NewApiKeyRequest,
    responses((status = 201, body = CreatedApiKey), (status = 422, body = Problem, content_type = "application/problem+json"))
)]
#[post("")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    body: ApiJson<NewApiKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.0;
    principal.require_session()?;
    if !principal.mfa_satisfied {
        return Err(ApiError::Forbidden(
            "enrol a second factor (TOTP) first".into(),
        ));
    }
    let body = body.0;
    let new = NewApiKey {
        name: body.name,
        scopes: body.scopes,
        expires_at: body.expires_at.naive_utc(),
        allowed_cidrs: body.allowed_cidrs,
    };
    let ctx = request_context(&req);
    let actor = principal.audit_actor(ctx.ip, ctx.request_id);
    let (row, secret) = state
        .auth
        .blocking(move |conn| {
            write_transaction(conn, |conn| {
                let (row, secret) = api_keys::create(conn, &principal, new)?;
                let event = NewAuditEvent::new("api_key.create", Outcome::Success)
                    .actor(actor)
                    .target("api_key", &row.id)
                    .details(serde_json::json!({ "scopes": row.scopes, "expires_at": row.expires_at.and_utc().to_rfc3339() }));
                audit::append(conn, event)?;
                Ok((row, secret))
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(CreatedApiKey {
        key: row.into(),
        secret,
    }))
}

/// Revoke one of the caller's API keys.
#[utoipa::path(tag = "api-keys", security(("bearer" = ["session"])), params(("id" = String, Path)), responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[delete("/{id}")]
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.0;
    principal.require_session()?;
    let ctx = request_context(&req);
    let actor = principal.audit_actor(ctx.ip, ctx.request_id);
    let key_id = id.into_inner();
    state
        .auth
        .blocking(move |conn| {
            write_transaction(conn, |conn| {
                api_keys::revoke(conn, &principal.user_id, &key_id)?;
                audit::append(
                    conn,
                    NewAuditEvent::new("api_key.revoke", Outcome::Success)
                        .actor(actor)
                        .target("api_key", &key_id),
                )?;
                Ok(())
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
