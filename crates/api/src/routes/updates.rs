//! Updates: short dated posts for the feed, under the same audience rules as documents.

use actix_web::web::Query;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use compact_registry::audience::Tlp;
use compact_registry::items::edit::ItemPatch;
use compact_registry::items::{ItemInput, ItemKind};
use compact_registry::search::text::Language;

use crate::app::AppState;
use crate::auth::{Authenticated, MaybeAuthenticated};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::routes::items::{self, ItemPage, ItemView, PageQuery, RecipientsBody};

const KIND: ItemKind = ItemKind::Update;

fn other_language() -> Language {
    Language::Other
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUpdate {
    #[schema(
        min_length = 1,
        max_length = 300,
        example = "New listing under the 1267 sanctions regime"
    )]
    title: String,
    /// Markdown.
    #[schema(min_length = 1, max_length = 200000)]
    body: String,
    /// Default `other`.
    #[serde(default = "other_language")]
    #[schema(example = "en")]
    language: Language,
    #[serde(default)]
    tags: Vec<String>,
    #[schema(example = "green")]
    tlp: Tlp,
    #[serde(default)]
    recipients: RecipientsBody,
}

/// Post an update for the caller's organization (`Idempotency-Key` as for documents).
#[utoipa::path(
    tag = "updates",
    security(("bearer" = ["updates:write"]), ("api_key" = ["updates:write"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe (kept 24 h)")),
    request_body = NewUpdate,
    responses(
        (status = 201, body = ItemView, headers(("ETag" = String), ("Location" = String))),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    body: ApiJson<NewUpdate>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let input = ItemInput {
        title: b.title,
        summary: String::new(),
        body: b.body,
        language: b.language,
        doc_type: None,
        tags: b.tags,
        tlp: b.tlp,
        recipients: b.recipients.into(),
    };
    items::create(&state, &req, caller.0, KIND, input).await
}

/// The feed: updates the caller may see, newest first. Poll with `since`; page with
/// `cursor`. Without credentials: TLP:CLEAR only.
#[utoipa::path(
    tag = "updates",
    security((), ("bearer" = ["updates:read"]), ("api_key" = ["updates:read"])),
    params(PageQuery),
    responses((status = 200, body = ItemPage), (status = 422, body = Problem, content_type = "application/problem+json"))
)]
#[get("")]
pub async fn feed(
    state: web::Data<AppState>,
    caller: MaybeAuthenticated,
    query: Query<PageQuery>,
) -> Result<web::Json<ItemPage>, ApiError> {
    Ok(web::Json(
        items::list(&state, caller.0, KIND, query.into_inner()).await?,
    ))
}

/// One update; 404 when it does not exist or is not for the caller.
#[utoipa::path(
    tag = "updates",
    security((), ("bearer" = ["updates:read"]), ("api_key" = ["updates:read"])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = ItemView, headers(("ETag" = String))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    caller: MaybeAuthenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    items::get(&state, caller.0, KIND, id.into_inner()).await
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateChanges {
    #[schema(max_length = 300)]
    title: Option<String>,
    #[schema(max_length = 200000)]
    body: Option<String>,
    language: Option<Language>,
    tags: Option<Vec<String>>,
    tlp: Option<Tlp>,
    recipients: Option<RecipientsBody>,
}

/// Edit an update of the caller's organization, with `If-Match`.
#[utoipa::path(
    tag = "updates",
    security(("bearer" = ["updates:write"]), ("api_key" = ["updates:write"])),
    params(("id" = String, Path), ("If-Match" = String, Header)),
    request_body = UpdateChanges,
    responses(
        (status = 200, body = ItemView, headers(("ETag" = String))),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 428, body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    id: web::Path<String>,
    body: ApiJson<UpdateChanges>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let patch = ItemPatch {
        title: b.title,
        body: b.body,
        language: b.language,
        tags: b.tags,
        tlp: b.tlp,
        recipients: b.recipients.map(Into::into),
        ..ItemPatch::default()
    };
    items::update(&state, &req, caller.0, KIND, id.into_inner(), patch).await
}

/// Delete an update of the caller's organization.
#[utoipa::path(
    tag = "updates",
    security(("bearer" = ["updates:write"]), ("api_key" = ["updates:write"])),
    params(("id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/{id}")]
pub async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    items::delete(&state, &req, caller.0, KIND, id.into_inner()).await
}

/// Share an update further (same rules as for documents).
#[utoipa::path(
    tag = "updates",
    security(("bearer" = ["updates:write"]), ("api_key" = ["updates:write"])),
    params(("id" = String, Path)),
    request_body = RecipientsBody,
    responses(
        (status = 200, body = ItemView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/{id}/recipients")]
pub async fn add_recipients(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    id: web::Path<String>,
    body: ApiJson<RecipientsBody>,
) -> Result<HttpResponse, ApiError> {
    items::add_recipients(&state, &req, caller.0, KIND, id.into_inner(), body.0).await
}
