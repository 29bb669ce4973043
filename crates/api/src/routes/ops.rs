//! Operations: liveness, readiness, metrics and the OpenAPI document.

use std::time::Duration;

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::{ApiError, Problem};

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`
    status: &'static str,
}

/// The process is up and serving HTTP.
#[utoipa::path(tag = "operations", security(()), responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> web::Json<Health> {
    web::Json(Health { status: "ok" })
}

/// The database answers: the platform can serve requests.
#[utoipa::path(
    tag = "operations",
    security(()),
    responses(
        (status = 200, body = Health),
        (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> Result<web::Json<Health>, ApiError> {
    let db = state.db.clone();
    web::block(move || db.ping(Duration::from_secs(2)))
        .await
        .map_err(|e| ApiError::Internal(e.into()))??;
    Ok(web::Json(Health { status: "ok" }))
}

/// Prometheus metrics: requests by route and status, latency, pool use and mail backlog.
#[utoipa::path(
    tag = "operations",
    security(()),
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain; version=0.0.4"))
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let text = web::block(move || state.metrics.render(&state.db, &state.search_counts))
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}

/// This API's OpenAPI 3.1 document (404 when `openapi_enabled` is off).
#[utoipa::path(tag = "operations", security(()), responses((status = 200, description = "OpenAPI document", body = Object), (status = 404, body = Problem, content_type = "application/problem+json")))]
#[get("/openapi.json")]
pub async fn openapi_json(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    if !state.settings.openapi_enabled {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(state.openapi_json.clone()))
}
