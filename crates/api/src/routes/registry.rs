//! Organizations and groups.

use actix_web::web::Query;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use compact_auth::Principal;
use compact_db::DbConnection;
use compact_db::write_transaction;
use compact_registry::RegistryError;
use compact_registry::groups::{self, Group, GroupInput, GroupKind, GroupPatch};
use compact_registry::organizations::{
    self, OrgKind, OrgStatus, Organization, OrganizationFilter, OrganizationInput,
    OrganizationPatch,
};

use crate::app::AppState;
use crate::auth::{Authenticated, request_context};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;

#[derive(Serialize, ToSchema)]
pub struct OrganizationView {
    id: String,
    name: String,
    acronym: String,
    /// `secretariat`, `compact_entity`, `regional_organization` or `member_state`.
    kind: String,
    un_system: bool,
    /// `active` or `suspended`.
    status: String,
    /// Users and nominees must have e-mails at one of these; empty means any.
    email_domains: Vec<String>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    updated_at: DateTime<Utc>,
}

impl From<Organization> for OrganizationView {
    fn from(o: Organization) -> Self {
        Self {
            email_domains: o.domains(),
            id: o.id,
            name: o.name,
            acronym: o.acronym,
            kind: o.kind,
            un_system: o.un_system,
            status: o.status,
            created_at: o.created_at.and_utc(),
            updated_at: o.updated_at.and_utc(),
        }
    }
}

/// Runs registry work on the blocking pool.
pub(crate) async fn blocking<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut DbConnection) -> Result<T, RegistryError> + Send + 'static,
{
    let db = state.db.clone();
    let result = web::block(move || {
        let mut conn = db.get()?;
        f(&mut conn)
    })
    .await
    .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(result?)
}

fn actor(principal: &Principal, req: &HttpRequest) -> compact_db::audit::Actor {
    let ctx = request_context(req);
    principal.audit_actor(ctx.ip, ctx.request_id)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrganizationQuery {
    #[param(example = "regional_organization")]
    kind: Option<OrgKind>,
    #[param(example = "active")]
    status: Option<OrgStatus>,
}

/// The organizations of the Compact, by acronym.
#[utoipa::path(
    tag = "registry",
    security(("bearer" = ["registry:read"]), ("api_key" = ["registry:read"])),
    params(OrganizationQuery),
    responses((status = 200, body = [OrganizationView]), (status = 401, body = Problem, content_type = "application/problem+json"))
)]
#[get("")]
pub async fn list_organizations(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: Query<OrganizationQuery>,
) -> Result<web::Json<Vec<OrganizationView>>, ApiError> {
    let filter = OrganizationFilter {
        kind: query.kind,
        status: query.status,
    };
    let rows = blocking(&state, move |conn| {
        organizations::list(conn, &caller.0, &filter)
    })
    .await?;
    Ok(web::Json(
        rows.into_iter().map(OrganizationView::from).collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganization {
    #[schema(
        min_length = 1,
        max_length = 200,
        example = "Organisation of Islamic Cooperation"
    )]
    name: String,
    #[schema(min_length = 1, max_length = 20, example = "OIC")]
    acronym: String,
    #[schema(example = "regional_organization")]
    kind: OrgKind,
    #[serde(default)]
    un_system: bool,
    #[serde(default)]
    email_domains: Vec<String>,
}

/// Add an organization.
#[utoipa::path(
    tag = "registry",
    security(("bearer" = ["registry:manage"]), ("api_key" = ["registry:manage"])),
    request_body = NewOrganization,
    responses(
        (status = 201, body = OrganizationView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Acronym taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("")]
pub async fn create_organization(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    body: ApiJson<NewOrganization>,
) -> Result<HttpResponse, ApiError> {
    let body = body.0;
    let input = OrganizationInput {
        name: body.name,
        acronym: body.acronym,
        kind: body.kind,
        un_system: body.un_system,
        email_domains: body.email_domains,
    };
    let audit_actor = actor(&caller.0, &req);
    let org = blocking(&state, move |conn| {
        write_transaction(conn, |conn| {
            organizations::create(conn, &caller.0, input, audit_actor)
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(OrganizationView::from(org)))
}

/// One organization.
#[utoipa::path(
    tag = "registry",
    security(("bearer" = ["registry:read"]), ("api_key" = ["registry:read"])),
    params(("id" = String, Path)),
    responses((status = 200, body = OrganizationView), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[get("/{id}")]
pub async fn get_organization(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<web::Json<OrganizationView>, ApiError> {
    let id = id.into_inner();
    let org = blocking(&state, move |conn| organizations::get(conn, &caller.0, &id)).await?;
    Ok(web::Json(org.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrganizationChanges {
    #[schema(max_length = 200)]
    name: Option<String>,
    #[schema(max_length = 20)]
    acronym: Option<String>,
    kind: Option<OrgKind>,
    un_system: Option<bool>,
    email_domains: Option<Vec<String>>,
    /// `suspended` cuts the organization's users off at once; `active` lets them back.
    #[schema(example = "suspended")]
    status: Option<OrgStatus>,
}

/// Change an organization, or suspend or reactivate it.
#[utoipa::path(
    tag = "registry",
    security(("bearer" = ["registry:manage"]), ("api_key" = ["registry:manage"])),
    params(("id" = String, Path)),
    request_body = OrganizationChanges,
    responses(
        (status = 200, body = OrganizationView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/{id}")]
pub async fn update_organization(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    id: web::Path<String>,
    body: ApiJson<OrganizationChanges>,
) -> Result<web::Json<OrganizationView>, ApiError> {
    let b = body.0;
    let patch = OrganizationPatch {
        name: b.name,
        acronym: b.acronym,
        kind: b.kind,
        un_system: b.un_system,
        email_domains: b.email_domains,
        status: b.status,
    };
    let audit_actor = actor(&caller.0, &req);
    let id = id.into_inner();
    let (org, status_changed) = blocking(&state, move |conn| {
        write_transaction(conn, |conn| {
            organizations::update(conn, &caller.0, &id, patch, audit_actor)
        })
    })
    .await?;
    if status_changed {
        // Every user of the organization is affected: drop all cached access decisions.
        state.auth.forget_all();
    }
    Ok(web::Json(org.into()))
}

#[derive(Serialize, ToSchema)]
pub struct GroupView {
    id: String,
    name: String,
    /// `working_group`, `regional_plan` or `sharing_circle`.
    kind: String,
    description: String,
    /// Ids of the member organizations.
    members: Vec<String>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    updated_at: DateTime<Utc>,
}

impl From<Group> for GroupView {
    fn from(g: Group) -> Self {
        Self {
            id: g.row.id,
            name: g.row.name,
            kind: g.row.kind,
            description: g.row.description,
            members: g.members,
            created_at: g.row.created_at.and_utc(),
            updated_at: g.row.updated_at.and_utc(),
        }
    }
}

/// Groups: all of them for the secretariat and admins, otherwise those the caller's
/// organization belongs to.
#[utoipa::path(
    tag = "registry",
    security(("bearer" = ["registry:read"]), ("api_key" = ["registry:read"])),
    responses((status = 200, body = [GroupView]), (status = 401, body = Problem, content_type = "application/problem+json"))
)]
#[get("")]
pub async fn list_groups(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<web::Json<Vec<GroupView>>, ApiError> {
    let rows = blocking(&state, move |conn| groups::list(conn, &caller.0)).await?;
    Ok(web::Json(rows.into_iter().map(GroupView::from).collect()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroup {
    #[schema(
        min_length = 1,
        max_length = 200,
        example = "Central Asia Joint Plan of Action"
    )]
    name: String,
    #[schema(example = "regional_plan")]
    kind: GroupKind,
    #[serde(default)]
    #[schema(max_length = 4000)]
    description: String,
    /// Ids of the member organizations.
    #[serde(default)]
    members: Vec<String>,
}

/// Create a group.
#[utoipa::path(
    tag = "registry",
    security(("bearer" = ["registry:manage"]), ("api_key" = ["registry:manage"])),
    request_body = NewGroup,
    responses(
        (status = 201, body = GroupView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("")]
pub async fn create_group(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    body: ApiJson<NewGroup>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let input = GroupInput {
        name: b.name,
        kind: b.kind,
        description: b.description,
        members: b.members,
    };
    let audit_actor = actor(&caller.0, &req);
    let group = blocking(&state, move |conn| {
        write_transaction(conn, |conn| {
            groups::create(conn, &caller.0, input, audit_actor)
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(GroupView::from(group)))
}

/// One group the caller may see.
#[utoipa::path(
    tag = "registry",
    security(("bearer" = ["registry:read"]), ("api_key" = ["registry:read"])),
    params(("id" = String, Path)),
    responses((status = 200, body = GroupView), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[get("/{id}")]
pub async fn get_group(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<web::Json<GroupView>, ApiError> {
    let id = id.into_inner();
    let group = blocking(&state, move |conn| groups::get(conn, &caller.0, &id)).await?;
    Ok(web::Json(group.into()))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupChanges {
    #[schema(max_length = 200)]
    name: Option<String>,
    kind: Option<GroupKind>,
    #[schema(max_length = 4000)]
    description: Option<String>,
    /// Replaces the whole membership.
    members: Option<Vec<String>>,
}

/// Change a group or its members.
#[utoipa::path(
    tag = "registry",
    security(("bearer" = ["registry:manage"]), ("api_key" = ["registry:manage"])),
    params(("id" = String, Path)),
    request_body = GroupChanges,
    responses(
        (status = 200, body = GroupView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Another group has that name", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/{id}")]
pub async fn update_group(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    id: web::Path<String>,
    body: ApiJson<GroupChanges>,
) -> Result<web::Json<GroupView>, ApiError> {
    let b = body.0;
    let patch = GroupPatch {
        name: b.name,
        kind: b.kind,
        description: b.description,
        members: b.members,
    };
    let audit_actor = actor(&caller.0, &req);
    let id = id.into_inner();
    let group = blocking(&state, move |conn| {
        write_transaction(conn, |conn| {
            groups::update(conn, &caller.0, &id, patch, audit_actor)
        })
    })
    .await?;
    Ok(web::Json(group.into()))
}

/// Delete a group.
#[utoipa::path(
    tag = "registry",
    security(("bearer" = ["registry:manage"]), ("api_key" = ["registry:manage"])),
    params(("id" = String, Path)),
    responses((status = 204), (status = 403, body = Problem, content_type = "application/problem+json"), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[delete("/{id}")]
pub async fn delete_group(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let audit_actor = actor(&caller.0, &req);
    let id = id.into_inner();
    blocking(&state, move |conn| {
        write_transaction(conn, |conn| {
            groups::delete(conn, &caller.0, &id, audit_actor)
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
