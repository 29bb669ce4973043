//! Documents: long-lived, versioned, shared under a TLP marking (DESIGN §4).

use actix_web::web::Query;
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use compact_registry::audience::Tlp;
use compact_registry::items::edit::{self, ItemPatch};
use compact_registry::items::{DocType, ItemInput, ItemKind};
use compact_registry::search::text::Language;

use crate::app::AppState;
use crate::auth::{Authenticated, MaybeAuthenticated};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::routes::items::{self, ItemPage, ItemView, PageQuery, RecipientsBody};
use crate::routes::registry::blocking;

const KIND: ItemKind = ItemKind::Document;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    #[schema(
        min_length = 1,
        max_length = 300,
        example = "Regional assessment of terrorist financing risks"
    )]
    title: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    summary: String,
    /// Markdown.
    #[serde(default)]
    #[schema(max_length = 200000)]
    body: String,
    #[schema(example = "en")]
    language: Language,
    #[serde(rename = "type")]
    #[schema(example = "assessment")]
    doc_type: DocType,
    #[serde(default)]
    tags: Vec<String>,
    #[schema(example = "amber")]
    tlp: Tlp,
    #[serde(default)]
    recipients: RecipientsBody,
}

/// Share a document for the caller's organization. Send `Idempotency-Key` to make retries
/// safe: a retry returns the first document (`Idempotent-Replayed: true`), the same key with
/// another body is a 422.
#[utoipa::path(
    tag = "documents",
    security(("bearer" = ["documents:write"]), ("api_key" = ["documents:write"])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe (kept 24 h)")),
    request_body = NewDocument,
    responses(
        (status = 201, body = ItemView, headers(("ETag" = String), ("Location" = String))),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, recipients or TLP combination", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("")]
pub async fn create(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    body: ApiJson<NewDocument>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let input = ItemInput {
        title: b.title,
        summary: b.summary,
        body: b.body,
        language: b.language,
        doc_type: Some(b.doc_type),
        tags: b.tags,
        tlp: b.tlp,
        recipients: b.recipients.into(),
    };
    items::create(&state, &req, caller.0, KIND, input).await
}

/// The documents the caller may see, newest first. Without credentials: TLP:CLEAR only.
#[utoipa::path(
    tag = "documents",
    security((), ("bearer" = ["documents:read"]), ("api_key" = ["documents:read"])),
    params(PageQuery),
    responses((status = 200, body = ItemPage), (status = 422, body = Problem, content_type = "application/problem+json"))
)]
#[get("")]
pub async fn list(
    state: web::Data<AppState>,
    caller: MaybeAuthenticated,
    query: Query<PageQuery>,
) -> Result<web::Json<ItemPage>, ApiError> {
    Ok(web::Json(
        items::list(&state, caller.0, KIND, query.into_inner()).await?,
    ))
}

/// One document; 404 when it does not exist or is not for the caller.
#[utoipa::path(
    tag = "documents",
    security((), ("bearer" = ["documents:read"]), ("api_key" = ["documents:read"])),
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
pub struct DocumentChanges {
    #[schema(max_length = 300)]
    title: Option<String>,
    #[schema(max_length = 2000)]
    summary: Option<String>,
    #[schema(max_length = 200000)]
    body: Option<String>,
    language: Option<Language>,
    #[serde(rename = "type")]
    doc_type: Option<DocType>,
    tags: Option<Vec<String>>,
    /// Lowering the marking is audited.
    tlp: Option<Tlp>,
    /// Replaces the recipients; widening is audited.
    recipients: Option<RecipientsBody>,
}

/// Edit a document of the caller's organization. `If-Match` must carry the ETag of the
/// version being changed; the previous version is kept.
#[utoipa::path(
    tag = "documents",
    security(("bearer" = ["documents:write"]), ("api_key" = ["documents:write"])),
    params(("id" = String, Path), ("If-Match" = String, Header)),
    request_body = DocumentChanges,
    responses(
        (status = 200, body = ItemView, headers(("ETag" = String))),
        (status = 403, description = "Not the owner organization", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Changed since that ETag", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "No If-Match", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Authenticated,
    id: web::Path<String>,
    body: ApiJson<DocumentChanges>,
) -> Result<HttpResponse, ApiError> {
    let b = body.0;
    let patch = ItemPatch {
        title: b.title,
        summary: b.summary,
        body: b.body,
        language: b.language,
        doc_type: b.doc_type,
        tags: b.tags,
        tlp: b.tlp,
        recipients: b.recipients.map(Into::into),
    };
    items::update(&state, &req, caller.0, KIND, id.into_inner(), patch).await
}

/// Delete a document of the caller's organization (kept for the record, readable by
/// nobody). `If-Match` is optional here.
#[utoipa::path(
    tag = "documents",
    security(("bearer" = ["documents:write"]), ("api_key" = ["documents:write"])),
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

/// Share a document further: add organizations or groups. Its owner organization may on
/// any marking but TLP:RED; a recipient on TLP:GREEN and TLP:AMBER, not TLP:AMBER+STRICT.
#[utoipa::path(
    tag = "documents",
    security(("bearer" = ["documents:write"]), ("api_key" = ["documents:write"])),
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

/// One earlier version of a document.
#[derive(Serialize, ToSchema)]
pub struct VersionView {
    version: i32,
    /// Who made this version.
    edited_by: String,
    title: String,
    summary: String,
    body: String,
    language: String,
    #[serde(rename = "type")]
    doc_type: String,
    tags: Vec<String>,
    tlp: String,
    /// When this version was made.
    #[serde(serialize_with = "crate::timestamp::serialize")]
    created_at: DateTime<Utc>,
}

/// The earlier versions of a document, newest first — each only to those who were in its
/// audience when it was current.
#[utoipa::path(
    tag = "documents",
    security(("bearer" = ["documents:read"]), ("api_key" = ["documents:read"])),
    params(("id" = String, Path)),
    responses(
        (status = 200, body = [VersionView]),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/{id}/versions")]
pub async fn versions(
    state: web::Data<AppState>,
    caller: Authenticated,
    id: web::Path<String>,
) -> Result<web::Json<Vec<VersionView>>, ApiError> {
    let viewer = items::viewer(Some(&caller.0), KIND)?;
    let id = id.into_inner();
    let rows = blocking(&state, move |conn| edit::versions(conn, &viewer, KIND, &id)).await?;
    Ok(web::Json(
        rows.into_iter()
            .map(|v| VersionView {
                version: v.version,
                edited_by: v.edited_by,
                title: v.title,
                summary: v.summary,
                body: v.body,
                language: v.language,
                doc_type: v.doc_type,
                tags: serde_json::from_str(&v.tags).unwrap_or_default(),
                tlp: v.tlp,
                created_at: v.created_at.and_utc(),
            })
            .collect(),
    ))
}
