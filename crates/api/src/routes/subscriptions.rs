//! Subscriptions: follow an organization, a group, a tag or everything.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use compact_registry::subscriptions::{self, Delivery, Subscription, Target};

use crate::app::AppState;
use crate::auth::Authenticated;
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::routes::registry::blocking;

#[derive(Serialize, ToSchema)]
pub struct SubscriptionView {
    id: String,
    /// `organization`, `group`, `tag` or `everything`.
    target: String,
    /// The organization or group id, or the tag; empty for `everything`.
    target_id: String,
    /// `immediate` or `daily`.
    delivery: String,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    created_at: DateTime<Utc>,
}

impl From<Subscription> for SubscriptionView {
    fn from(s: Subscription) -> Self {
        Self {
            id: s.id,
            target: s.target_type,
            target_id: s.target_id,
            delivery: s.delivery,
            created_at: s.created_at.and_utc(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    #[schema(example = "tag")]
    target: Target,
    /// Required except for `everything`.
    #[schema(example = "terrorist-financing")]
    target_id: Option<String>,
    #[schema(example = "daily")]
    delivery: Delivery,
}

/// The caller's subscriptions.
///
/// Subscriptions are a signed-in person's own mail (no API-key scope covers them): every
/// subscription route takes an access token, not an API key, and — for admins and the
/// secretariat — a second factor enrolled first.
#[utoipa::path(
    tag = "subscriptions",
    security(("bearer" = ["session"])),
    responses((status = 200, body = [SubscriptionView]), (status = 401, body = Problem, content_type = "application/problem+json"))
)]
#[get("")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Authenticated,
) -> Result<web::Json<Vec<SubscriptionView>>, ApiError> {
    let rows = blocking(&state, move |conn| subscriptions::list(conn, &caller.0)).await?;
    Ok(web::Json(rows.into_iter().map(Into::into).collect()))
}

/// Follow something. New and changed items reach the caller by mail — at once or in a
/// daily digest (sent after midnight UTC) — only when the caller may see them.
#[utoipa::path(
    tag = "subscriptions",
    security(("bearer" = ["session"])),
    request_body = NewSubscription,
    responses(
        (status = 201, body = SubscriptionView),
        (status = 409, description = "Already followed", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Authenticated,
    body: ApiJson<NewSubscription>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let row = blocking(&state, move |conn| {
        compact_db::write_transaction(conn, |conn| {
            subscriptions::create(
                conn,
                &caller.0,
                b.target,
                b.target_id.as_deref(),
                b.delivery,
            )
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(SubscriptionView::from(row)))
}

/// Stop following.
#[utoipa::path(
    tag = "subscriptions",
    security(("bearer" = ["session"])),
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "Stopped"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/{id}")]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    blocking(&state, move |conn| {
        subscriptions::delete(conn, &caller.0, &id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
