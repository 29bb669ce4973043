//! Focal-point nominations, the directory and the statistics.

use actix_web::web::Query;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use compact_db::write_transaction;
use compact_registry::directory::{self, DirectoryFilter, FocalPoint};
use compact_registry::nominations::{
    self, Nomination, NominationFilter, NominationInput, NominationKind, StepContext,
};

use crate::app::AppState;
use crate::auth::{Authenticated, request_context};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, OptionalJson};
use crate::routes::registry::blocking;

#[derive(Serialize, ToSchema)]
pub struct NominationView {
    id: String,
    organization_id: String,
    nominee_name: String,
    nominee_email: String,
    position: String,
    /// `primary` or `alternate`.
    kind: String,
    mandate: String,
    replaces_user_id: Option<String>,
    #[serde(serialize_with = "crate::timestamp::optional")]
    term_end: Option<DateTime<Utc>>,
    /// `pending`, `approved` (invited, not yet signed up), `active`, `rejected`, `withdrawn`,
    /// `revoked` or `expired`.
    status: String,
    nominated_by: String,
    decided_by: Option<String>,
    #[serde(serialize_with = "crate::timestamp::optional")]
    decided_at: Option<DateTime<Utc>>,
    reason: Option<String>,
    user_id: Option<String>,
    #[serde(serialize_with = "crate::timestamp::optional")]
    activated_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::timestamp::optional")]
    ended_at: Option<DateTime<Utc>>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    updated_at: DateTime<Utc>,
}

impl From<Nomination> for NominationView {
    fn from(n: Nomination) -> Self {
        Self {
            id: n.id,
            organization_id: n.organization_id,
            nominee_name: n.nominee_name,
            nominee_email: n.nominee_email,
            position: n.position,
            kind: n.kind,
            mandate: n.mandate,
            replaces_user_id: n.replaces_user_id,
            term_end: n.term_end.map(|t| t.and_utc()),
            status: n.status,
            nominated_by: n.nominated_by,
            decided_by: n.decided_by,
            decided_at: n.decided_at.map(|t| t.and_utc()),
            reason: n.reason,
            user_id: n.user_id,
            activated_at: n.activated_at.map(|t| t.and_utc()),
            ended_at: n.ended_at.map(|t| t.and_utc()),
            created_at: n.created_at.and_utc(),
            updated_at: n.updated_at.and_utc(),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NominationQuery {
    /// Only nominations in this state.
    status: Option<String>,
    /// Deciders only: one organization's nominations.
    organization_id: Option<String>,
}

/// Nominations: all of them for deciders, one's own organization's for coordinators.
#[utoipa::path(
    tag = "nominations",
    security(("bearer" = ["nominations:create"]), ("api_key" = ["nominations:create"])),
    params(NominationQuery),
    responses((status = 200, body = [NominationView]), (status = 403, body = Problem, content_type = "application/problem+json"))
)]
#[get("")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: Query<NominationQuery>,
) -> Result<web::Json<Vec<NominationView>>, ApiError> {
    let q = query.into_inner();
    let filter = NominationFilter {
        status: q.status,
        organization_id: q.organization_id,
    };
    let rows = blocking(&state, move |conn| {
        nominations::list(conn, &caller.0, &filter)
    })
    .await?;
    Ok(web::Json(
        rows.into_iter().map(NominationView::from).collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNomination {
    /// Defaults to your organization; the secretariat may nominate on another's behalf.
    organization_id: Option<String>,
    #[schema(min_length = 1, max_length = 200)]
    nominee_name: String,
    #[schema(min_length = 1, max_length = 254)]
    nominee_email: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        example = "Counter-terrorism adviser"
    )]
    position: String,
    #[schema(example = "primary")]
    kind: NominationKind,
    #[serde(default)]
    #[schema(max_length = 4000)]
    mandate: String,
    /// The current focal point this nomination replaces (required for a new primary when
    /// the organization has one).
    replaces_user_id: Option<String>,
    /// Optional end of the term; the focal point then steps back to `member` by itself.
    term_end: Option<DateTime<Utc>>,
}

/// Nominate a focal point.
#[utoipa::path(
    tag = "nominations",
    security(("bearer" = ["nominations:create"]), ("api_key" = ["nominations:create"])),
    request_body = NewNomination,
    responses(
        (status = 201, body = NominationView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    body: ApiJson<NewNomination>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let input = NominationInput {
        organization_id: b.organization_id,
        nominee_name: b.nominee_name,
        nominee_email: b.nominee_email,
        position: b.position,
        kind: b.kind,
        mandate: b.mandate,
        replaces_user_id: b.replaces_user_id,
        term_end: b.term_end.map(|t| t.naive_utc()),
    };
    let state2 = state.clone();
    let audit = {
        let ctx = request_context(&req);
        caller.0.audit_actor(ctx.ip, ctx.request_id)
    };
    let nomination = blocking(&state, move |conn| {
        let ctx = StepContext {
            actor: &caller.0,
            audit,
            mail: &state2.mail,
            rules: &state2.nomination_rules,
        };
        write_transaction(conn, |conn| nominations::create(conn, &ctx, input))
    })
    .await?;
    Ok(HttpResponse::Created().json(NominationView::from(nomination)))
}

/// One nomination.
#[utoipa::path(
    tag = "nominations",
    security(("bearer" = ["nominations:create"]), ("api_key" = ["nominations:create"])),
    params(("id" = String, Path)),
    responses((status = 200, body = NominationView), (status = 404, body = Problem, content_type = "application/problem+json"))
)]
#[get("/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<web::Json<NominationView>, ApiError> {
    let id = id.into_inner();
    let nomination = blocking(&state, move |conn| nominations::get(conn, &caller.0, &id)).await?;
    Ok(web::Json(nomination.into()))
}

/// An approval or a withdrawal; the reason is optional and recorded only for a rejection or
/// a revocation, which take a [`Reasoned`] body.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    #[schema(max_length = 2000)]
    reason: Option<String>,
}

/// A rejection or a revocation: the nominee and nominator are told why.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reasoned {
    /// Not blank.
    #[schema(min_length = 1, max_length = 2000)]
    reason: String,
}

impl From<Reasoned> for Decision {
    fn from(body: Reasoned) -> Self {
        Decision {
            reason: Some(body.reason),
        }
    }
}

#[derive(Clone, Copy)]
enum Step {
    Approve,
    Reject,
    Withdraw,
    Revoke,
}

async fn decide(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    id: String,
    decision: Decision,
    which: Step,
) -> Result<web::Json<NominationView>, ApiError> {
    let audit = {
        let ctx = request_context(&req);
        caller.0.audit_actor(ctx.ip, ctx.request_id)
    };
    // Approvals and withdrawals record no reason, but one sent must still fit the spec.
    if decision
        .reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > 2000)
    {
        return Err(ApiError::invalid_field(
            "reason",
            "must be at most 2000 characters",
        ));
    }
    let state2 = state.clone();
    let nomination = blocking(&state, move |conn| {
        let ctx = StepContext {
            actor: &caller.0,
            audit,
            mail: &state2.mail,
            rules: &state2.nomination_rules,
        };
        let reason = decision.reason.as_deref();
        write_transaction(conn, |conn| match which {
            Step::Approve => nominations::approve(conn, &ctx, &id),
            Step::Reject => nominations::reject(conn, &ctx, &id, reason),
            Step::Withdraw => nominations::withdraw(conn, &ctx, &id),
            Step::Revoke => nominations::revoke(conn, &ctx, &id, reason),
        })
    })
    .await?;
    // A promotion or a step-down changed someone's role.
    state.auth.forget_all();
    Ok(web::Json(nomination.into()))
}

/// Approve a pending nomination (secretariat and admins; not one you filed). A new primary
/// must name the focal point it replaces when the organization has one (409 otherwise).
#[utoipa::path(
    tag = "nominations",
    security(("bearer" = ["nominations:decide"]), ("api_key" = ["nominations:decide"])),
    params(("id" = String, Path)),
    request_body(content = Decision, description = "Optional"),
    responses(
        (status = 200, body = NominationView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already decided, seat taken, or the nominee belongs to another organization", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/{id}/approve")]
pub async fn approve(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    id: web::Path<String>,
    body: OptionalJson<Decision>,
) -> Result<web::Json<NominationView>, ApiError> {
    decide(
        state,
        req,
        caller,
        id.into_inner(),
        body.0.unwrap_or_default(),
        Step::Approve,
    )
    .await
}

/// Reject a pending nomination, with a reason.
#[utoipa::path(
    tag = "nominations",
    security(("bearer" = ["nominations:decide"]), ("api_key" = ["nominations:decide"])),
    params(("id" = String, Path)),
    request_body = Reasoned,
    responses((status = 200, body = NominationView), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"))
)]
#[post("/{id}/reject")]
pub async fn reject(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    id: web::Path<String>,
    body: ApiJson<Reasoned>,
) -> Result<web::Json<NominationView>, ApiError> {
    decide(
        state,
        req,
        caller,
        id.into_inner(),
        body.0.into(),
        Step::Reject,
    )
    .await
}

/// Withdraw a pending nomination (its nominator or organization, or a decider).
#[utoipa::path(
    tag = "nominations",
    security(("bearer" = ["nominations:create"]), ("api_key" = ["nominations:create"])),
    params(("id" = String, Path)),
    request_body(content = Decision, description = "Optional"),
    responses((status = 200, body = NominationView), (status = 404, body = Problem, content_type = "application/problem+json"), (status = 409, body = Problem, content_type = "application/problem+json"))
)]
#[post("/{id}/withdraw")]
pub async fn withdraw(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    id: web::Path<String>,
    body: OptionalJson<Decision>,
) -> Result<web::Json<NominationView>, ApiError> {
    decide(
        state,
        req,
        caller,
        id.into_inner(),
        body.0.unwrap_or_default(),
        Step::Withdraw,
    )
    .await
}

/// Revoke an approved or active focal point, with a reason; they step back to `member`.
#[utoipa::path(
    tag = "nominations",
    security(("bearer" = ["nominations:decide"]), ("api_key" = ["nominations:decide"])),
    params(("id" = String, Path)),
    request_body = Reasoned,
    responses((status = 200, body = NominationView), (status = 409, body = Problem, content_type = "application/problem+json"), (status = 422, body = Problem, content_type = "application/problem+json"))
)]
#[post("/{id}/revoke")]
pub async fn revoke(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    id: web::Path<String>,
    body: ApiJson<Reasoned>,
) -> Result<web::Json<NominationView>, ApiError> {
    decide(
        state,
        req,
        caller,
        id.into_inner(),
        body.0.into(),
        Step::Revoke,
    )
    .await
}

#[derive(Serialize, ToSchema)]
pub struct FocalPointView {
    nomination_id: String,
    user_id: Option<String>,
    name: String,
    position: String,
    /// `primary` or `alternate`.
    kind: String,
    #[serde(serialize_with = "crate::timestamp::optional")]
    since: Option<DateTime<Utc>>,
    organization_id: String,
    organization_acronym: String,
    organization_name: String,
    organization_kind: String,
}

impl From<FocalPoint> for FocalPointView {
    fn from(f: FocalPoint) -> Self {
        Self {
            nomination_id: f.nomination_id,
            user_id: f.user_id,
            name: f.name,
            position: f.position,
            kind: f.kind,
            since: f.since.map(|t| t.and_utc()),
            organization_id: f.organization_id,
            organization_acronym: f.organization_acronym,
            organization_name: f.organization_name,
            organization_kind: f.organization_kind,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DirectoryQuery {
    organization_id: Option<String>,
    /// e.g. `regional_organization`.
    organization_kind: Option<String>,
}

/// The directory of active focal points.
#[utoipa::path(
    tag = "nominations",
    security(("bearer" = ["registry:read"]), ("api_key" = ["registry:read"])),
    params(DirectoryQuery),
    responses((status = 200, body = [FocalPointView]))
)]
#[get("/focal-points")]
pub async fn focal_points(
    state: web::Data<AppState>,
    caller: Authenticated,
    query: Query<DirectoryQuery>,
) -> Result<web::Json<Vec<FocalPointView>>, ApiError> {
    let q = query.into_inner();
    let filter = DirectoryFilter {
        organization_id: q.organization_id,
        organization_kind: q.organization_kind,
    };
    let rows = blocking(&state, move |conn| {
        directory::focal_points(conn, &caller.0, &filter)
    })
    .await?;
    Ok(web::Json(
        rows.into_iter().map(FocalPointView::from).collect(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct StatisticsView {
    /// Active organizations by kind.
    organizations_by_kind: std::collections::BTreeMap<String, i64>,
    /// How many regional organizations have an active focal point.
    regional_organizations_with_focal_points: i64,
    /// How many regional organizations have nominated anyone (pending, approved or active).
    regional_organizations_with_nominations: i64,
    active_focal_points: i64,
    pending_nominations: i64,
}

/// The registry in numbers.
#[utoipa::path(tag = "nominations", security(("bearer" = ["registry:read"]), ("api_key" = ["registry:read"])), responses((status = 200, body = StatisticsView)))]
#[get("/stats")]
pub async fn stats(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<web::Json<StatisticsView>, ApiError> {
    let s = blocking(&state, move |conn| directory::statistics(conn, &caller.0)).await?;
    Ok(web::Json(StatisticsView {
        organizations_by_kind: s.organizations_by_kind.into_iter().collect(),
        regional_organizations_with_focal_points: s.regional_organizations_with_focal_points,
        regional_organizations_with_nominations: s.regional_organizations_with_nominations,
        active_focal_points: s.active_focal_points,
        pending_nominations: s.pending_nominations,
    }))
}
