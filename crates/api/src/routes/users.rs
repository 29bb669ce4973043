//! People: coordinators manage their own organization's users, admins everyone's.

use actix_web::web::Query;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use compact_auth::accounts::{self, Invitation};
use compact_auth::users::UserStatus;
use compact_auth::{AuthError, Role};
use compact_db::write_transaction;
use compact_registry::nominations;

use crate::app::AppState;
use crate::auth::{Authenticated, request_context};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::routes::me::UserView;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UserFilter {
    /// Admins only: the users of this organization.
    organization_id: Option<String>,
}

/// Users the caller manages: their organization's, or (admins) everyone's.
#[utoipa::path(
    tag = "users",
    security(("bearer" = ["users:manage"]), ("api_key" = ["users:manage"])),
    params(UserFilter),
    responses((status = 200, body = [UserView]), (status = 403, body = Problem, content_type = "application/problem+json"))
)]
#[get("")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Authenticated,
    filter: Query<UserFilter>,
) -> Result<web::Json<Vec<UserView>>, ApiError> {
    let principal = caller.0;
    let org = filter.into_inner().organization_id;
    let rows = state
        .auth
        .blocking(move |conn| accounts::list(conn, &principal, org.as_deref()))
        .await?;
    Ok(web::Json(rows.into_iter().map(UserView::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    #[schema(min_length = 1, max_length = 254)]
    email: String,
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    /// Up to `coordinator` (admins: any role).
    #[schema(example = "member")]
    role: Role,
    /// Admins only; defaults to the caller's organization.
    organization_id: Option<String>,
}

/// Invite a user: created as `invited` and mailed a single-use link, valid 72 hours, to set
/// a password.
#[utoipa::path(
    tag = "users",
    security(("bearer" = ["users:manage"]), ("api_key" = ["users:manage"])),
    request_body = InviteRequest,
    responses(
        (status = 201, body = UserView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "E-mail already registered", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("")]
pub async fn invite(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    body: ApiJson<InviteRequest>,
) -> Result<HttpResponse, ApiError> {
    let principal = caller.0;
    let body = body.0;
    let any = principal.has(compact_auth::Permission::UsersManageAny);
    if !any {
        principal.require(compact_auth::Permission::UsersManageOwnOrg)?;
    }
    let organization_id = match body.organization_id {
        Some(org) if org != principal.org_id && !any => {
            return Err(AuthError::Forbidden(
                "you can only invite to your own organization".into(),
            )
            .into());
        }
        other => other,
    };
    let ctx = request_context(&req);
    let actor = principal.audit_actor(ctx.ip, ctx.request_id);
    let mail = state.mail.clone();
    let invitation = Invitation {
        email: body.email,
        name: body.name,
        role: body.role,
        organization_id,
    };
    let user = state
        .auth
        .blocking(move |conn| {
            write_transaction(conn, |conn| {
                accounts::invite(conn, &principal, invitation, &mail, actor)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(UserView::from(user)))
}

/// One user the caller manages.
#[utoipa::path(
    tag = "users",
    security(("bearer" = ["users:manage"]), ("api_key" = ["users:manage"])),
    params(("id" = String, Path)),
    responses((status = 200, body = UserView), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[get("/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<web::Json<UserView>, ApiError> {
    let principal = caller.0;
    let id = id.into_inner();
    let user = state
        .auth
        .blocking(move |conn| accounts::get(conn, &principal, &id))
        .await?;
    Ok(web::Json(user.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// Up to `coordinator` (admins: any role).
    #[schema(example = "coordinator")]
    role: Option<Role>,
    #[schema(example = "deactivated", inline)]
    status: Option<SettableStatus>,
}

/// The statuses a user can be given (`invited` only comes from an invitation).
#[derive(Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum SettableStatus {
    Active,
    Deactivated,
}

impl From<SettableStatus> for UserStatus {
    fn from(status: SettableStatus) -> Self {
        match status {
            SettableStatus::Active => UserStatus::Active,
            SettableStatus::Deactivated => UserStatus::Deactivated,
        }
    }
}

/// Change a user's role or status. Their current tokens stop working at once.
#[utoipa::path(
    tag = "users",
    security(("bearer" = ["users:manage"]), ("api_key" = ["users:manage"])),
    params(("id" = String, Path)),
    request_body = UserUpdate,
    responses(
        (status = 200, body = UserView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    id: web::Path<String>,
    body: ApiJson<UserUpdate>,
) -> Result<web::Json<UserView>, ApiError> {
    let principal = caller.0;
    let id = id.into_inner();
    let ctx = request_context(&req);
    let actor = principal.audit_actor(ctx.ip, ctx.request_id);
    let (role, status, target) = (body.0.role, body.0.status.map(Into::into), id.clone());
    let user = crate::routes::registry::blocking(&state, move |conn| {
        write_transaction(conn, |conn| {
            let user = accounts::update(conn, &principal, &target, role, status, actor.clone())?;
            // A focal point who is deactivated or made a plain member leaves their seat.
            if user.role() == Role::Member || user.status() == UserStatus::Deactivated {
                nominations::end_seats_of(conn, &target, "role or status changed", actor)?;
            }
            Ok(user)
        })
    })
    .await?;
    state.auth.forget(&id);
    Ok(web::Json(user.into()))
}
