//! What documents and updates have in common over HTTP: views, headers (`ETag`,
//! `If-Match`, `Idempotency-Key`), paging parameters, and the calls into
//! `compact_registry::items` that the thin routes in `documents.rs` and `updates.rs` make.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use compact_auth::Principal;
use compact_registry::audience::{Recipients, Viewer};
use compact_registry::items::edit::{self, ItemPatch};
use compact_registry::items::{self, Item, ItemInput, ItemKind, ListQuery, NewestCursor};
use compact_registry::search::Cursor;
use compact_registry::{RegistryError, items::Page};

use crate::app::AppState;
use crate::auth::request_context;
use crate::error::ApiError;
use crate::routes::registry::blocking;

/// Organizations, groups and (TLP:RED only) users an item is addressed to, by id.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RecipientsBody {
    pub organizations: Vec<String>,
    pub groups: Vec<String>,
    pub users: Vec<String>,
}

impl From<RecipientsBody> for Recipients {
    fn from(r: RecipientsBody) -> Self {
        let trimmed = |v: Vec<String>| v.into_iter().map(|s| s.trim().to_owned()).collect();
        Recipients {
            organizations: trimmed(r.organizations),
            groups: trimmed(r.groups),
            users: trimmed(r.users),
        }
    }
}

impl From<Recipients> for RecipientsBody {
    fn from(r: Recipients) -> Self {
        RecipientsBody {
            organizations: r.organizations.into_iter().collect(),
            groups: r.groups.into_iter().collect(),
            users: r.users.into_iter().collect(),
        }
    }
}

/// A document or an update as its reader sees it.
#[derive(Serialize, ToSchema)]
pub struct ItemView {
    id: String,
    /// `document` or `update`.
    kind: String,
    /// The document type (`report`, `assessment`, `guidance`, `meeting_record`, `plan`,
    /// `legal`, `other`); `update` for updates.
    #[serde(rename = "type")]
    doc_type: String,
    title: String,
    summary: String,
    /// Markdown.
    body: String,
    /// `ar`, `zh`, `en`, `fr`, `ru`, `es` or `other`.
    language: String,
    tags: Vec<String>,
    /// `clear`, `green`, `amber`, `amber_strict` or `red`.
    tlp: String,
    recipients: RecipientsBody,
    owner_organization_id: String,
    author_id: String,
    /// Goes up by one with every edit; the `ETag` is `"v<version>"`.
    version: i32,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::timestamp::serialize")]
    updated_at: DateTime<Utc>,
}

impl From<Item> for ItemView {
    fn from(item: Item) -> Self {
        let r = item.row;
        Self {
            id: r.id,
            kind: r.kind,
            doc_type: r.doc_type,
            title: r.title,
            summary: r.summary,
            body: r.body,
            language: r.language,
            tags: item.tags,
            tlp: r.tlp,
            recipients: item.recipients.into(),
            owner_organization_id: r.owner_org_id,
            author_id: r.author_id,
            version: r.version,
            created_at: r.created_at.and_utc(),
            updated_at: r.updated_at.and_utc(),
        }
    }
}

/// A page of items, newest first.
#[derive(Serialize, ToSchema)]
pub struct ItemPage {
    items: Vec<ItemView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// From `next_cursor` of the previous page.
    #[param(min_length = 1)]
    cursor: Option<String>,
    /// 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// Only items created after this instant (RFC 3339), for clients that poll.
    since: Option<DateTime<Utc>>,
}

pub fn checked_limit(limit: Option<i64>) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(20);
    if !(1..=items::MAX_PAGE).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            format!("must be 1 to {}", items::MAX_PAGE),
        ));
    }
    Ok(limit)
}

pub fn viewer(principal: Option<&Principal>, kind: ItemKind) -> Result<Viewer, ApiError> {
    Ok(match principal {
        None => Viewer::Anonymous,
        Some(p) => {
            p.require(kind.read_permission())?;
            Viewer::User {
                user_id: p.user_id.clone(),
                org_id: p.org_id.clone(),
            }
        }
    })
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    match req.headers().get("idempotency-key") {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map(|s| Some(s.trim().to_owned()))
            .map_err(|_| ApiError::invalid_field("Idempotency-Key", "visible ASCII only")),
    }
}

/// The `If-Match` an edit must carry: without one, the edit could overwrite a change the
/// caller never saw (428).
fn if_match(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    req.headers()
        .get(header::IF_MATCH)
        .map(|v| {
            v.to_str()
                .map(|s| s.trim().to_owned())
                .map_err(|_| ApiError::invalid_field("If-Match", "not an entity tag"))
        })
        .transpose()
}

fn audit_actor(principal: &Principal, req: &HttpRequest) -> compact_db::audit::Actor {
    let ctx = request_context(req);
    principal.audit_actor(ctx.ip, ctx.request_id)
}

fn with_etag(mut builder: actix_web::HttpResponseBuilder, item: Item) -> HttpResponse {
    builder.insert_header((header::ETAG, item.etag()));
    builder.json(ItemView::from(item))
}

pub async fn create(
    state: &AppState,
    req: &HttpRequest,
    principal: Principal,
    kind: ItemKind,
    input: ItemInput,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(req)?;
    let actor = audit_actor(&principal, req);
    let mail = state.mail.clone();
    let created = blocking(state, move |conn| {
        items::create(
            conn,
            &principal,
            kind,
            &input,
            key.as_deref(),
            &mail,
            &actor,
        )
    })
    .await?;
    let location = format!("/api/v1/{}s/{}", kind.as_str(), created.item.row.id);
    let mut builder = HttpResponse::Created();
    builder.insert_header((header::LOCATION, location));
    if created.replayed {
        builder.insert_header(("idempotent-replayed", "true"));
    }
    Ok(with_etag(builder, created.item))
}

pub async fn get(
    state: &AppState,
    principal: Option<Principal>,
    kind: ItemKind,
    id: String,
) -> Result<HttpResponse, ApiError> {
    let viewer = viewer(principal.as_ref(), kind)?;
    let item = blocking(state, move |conn| items::get(conn, &viewer, kind, &id)).await?;
    Ok(with_etag(HttpResponse::Ok(), item))
}

pub async fn list(
    state: &AppState,
    principal: Option<Principal>,
    kind: ItemKind,
    query: PageQuery,
) -> Result<ItemPage, ApiError> {
    let viewer = viewer(principal.as_ref(), kind)?;
    let after = match query.cursor.as_deref().map(Cursor::decode).transpose()? {
        None => None,
        Some(Cursor::Newest { created_at, id }) => Some(NewestCursor { created_at, id }),
        Some(Cursor::Relevance { .. }) => {
            return Err(
                RegistryError::invalid("cursor", "a search cursor, not a list cursor").into(),
            );
        }
    };
    let list_query = ListQuery {
        after,
        since: query.since.map(|t| t.naive_utc()),
        limit: checked_limit(query.limit)?,
    };
    let Page { items, next } = blocking(state, move |conn| {
        items::list(conn, &viewer, kind, &list_query)
    })
    .await?;
    Ok(ItemPage {
        items: items.into_iter().map(ItemView::from).collect(),
        next_cursor: next.map(|c| {
            Cursor::Newest {
                created_at: c.created_at,
                id: c.id,
            }
            .encode()
        }),
    })
}

pub async fn update(
    state: &AppState,
    req: &HttpRequest,
    principal: Principal,
    kind: ItemKind,
    id: String,
    patch: ItemPatch,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(req)?.ok_or(ApiError::PreconditionRequired)?;
    let actor = audit_actor(&principal, req);
    let mail = state.mail.clone();
    let item = blocking(state, move |conn| {
        compact_db::write_transaction(conn, |conn| {
            edit::update(conn, &principal, kind, &id, &expected, patch, &mail, &actor)
        })
    })
    .await?;
    Ok(with_etag(HttpResponse::Ok(), item))
}

pub async fn add_recipients(
    state: &AppState,
    req: &HttpRequest,
    principal: Principal,
    kind: ItemKind,
    id: String,
    more: RecipientsBody,
) -> Result<HttpResponse, ApiError> {
    let actor = audit_actor(&principal, req);
    let mail = state.mail.clone();
    let item = blocking(state, move |conn| {
        compact_db::write_transaction(conn, |conn| {
            edit::add_recipients(conn, &principal, kind, &id, more.into(), &mail, &actor)
        })
    })
    .await?;
    Ok(with_etag(HttpResponse::Ok(), item))
}

pub async fn delete(
    state: &AppState,
    req: &HttpRequest,
    principal: Principal,
    kind: ItemKind,
    id: String,
) -> Result<HttpResponse, ApiError> {
    let expected = if_match(req)?;
    let actor = audit_actor(&principal, req);
    blocking(state, move |conn| {
        compact_db::write_transaction(conn, |conn| {
            edit::delete(conn, &principal, kind, &id, expected.as_deref(), &actor)
        })
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
